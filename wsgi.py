"""The composition root: the only module that names every domain.

Domains join DOMAINS as their issues land (video, hearings, mediation, consultations);
create_app hands the app to each one's init_app. `flask --app wsgi` and gunicorn
(`wsgi:create_app()`) both build the app through create_app below."""

from __future__ import annotations

from types import ModuleType

from flask import Flask

import consultations
import hearings
import video
from portal.app import create_app as _create_portal
from portal.config import ConfigError

DOMAINS: list[ModuleType] = [video, hearings, consultations]


def create_app() -> Flask:
    try:
        return _create_portal(DOMAINS)
    except ConfigError as error:  # a clear line, not a traceback, when a setting is missing
        raise SystemExit(f"portal: cannot start: {error}") from None
