"""Registries: deputies, CPPCC members, village representatives, experts, lawyers, mediators."""

from __future__ import annotations

from flask import Flask

from portal.i18n import lazy_gettext as _l
from portal.web import add_nav

from . import models  # noqa: F401  (tables known to migrations)
from .permissions import can_view_people


def init_app(app: Flask) -> None:
    from .blueprint import bp

    app.register_blueprint(bp)
    add_nav(app, _l("People registries"), "people.index", can_view_people, order=70)
