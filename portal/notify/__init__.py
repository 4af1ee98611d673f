"""Notifications: the transactional outbox, its worker, and the in-app inbox."""

from __future__ import annotations

from functools import cache
from typing import Any

from flask import Flask
from flask_login import current_user
from sqlalchemy import Select, bindparam, func, select

from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.web import add_nav

from .models import Notification, OutboxMessage, UserPreference  # noqa: F401  (tables known to migrations)
from .permissions import can_view_outbox


@cache
def _unread_statement() -> Select[Any]:
    """Built once (after every model is mapped): it runs for every page a user opens."""
    return select(func.count()).select_from(Notification).where(
        Notification.user_id == bindparam("user_id"), Notification.read_at.is_(None))


def _unread_count() -> dict[str, Any]:
    if not current_user.is_authenticated:
        return {"unread_count": 0}
    # a Core query on the request's connection: the ORM adds nothing to a count
    connection = db.session.connection()
    count = connection.execute(_unread_statement(), {"user_id": current_user.id}).scalar()
    return {"unread_count": count or 0}


def init_app(app: Flask) -> None:
    from .blueprint import bp

    app.register_blueprint(bp)
    app.context_processor(_unread_count)
    from .messages import text_of

    app.jinja_env.globals["notice_text"] = text_of  # a notice in the reader's language
    add_nav(app, _l("Outbox (e-mail)"), "notify.outbox", can_view_outbox, order=95)
