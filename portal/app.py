"""The application factory. It builds the core and hands the app to each domain;
it never names a domain itself (wsgi.py does)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from flask import Flask
from htmx_flask import Htmx
from sqlalchemy import event
from werkzeug.middleware.proxy_fix import ProxyFix

from portal import web
from portal.config import Settings
from portal.extensions import csrf, db, limiter, migrate, socketio

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger(__name__)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets pages read while the worker writes; foreign keys are off by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _flask_config(settings: Settings) -> dict[str, Any]:
    # hide_parameters: SQL errors never carry the values (personal data) into the logs
    engine_options: dict[str, Any] = {"pool_pre_ping": True, "hide_parameters": True}
    if settings.database_url.startswith("sqlite"):
        engine_options = {"connect_args": {"check_same_thread": False, "timeout": 5},
                          "hide_parameters": True}
    return {
        "SECRET_KEY": settings.secret_key,
        "SQLALCHEMY_DATABASE_URI": settings.database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": settings.is_production,
        "SESSION_COOKIE_NAME": "portal_session",
        # Idle timeout: the cookie is re-signed on every request, so the limit
        # counts from the last request, and the signature's age is checked on the server.
        "PERMANENT_SESSION_LIFETIME": timedelta(minutes=settings.session_idle_minutes),
        "SESSION_REFRESH_EACH_REQUEST": True,
        "MAX_CONTENT_LENGTH": 25 * 1024 * 1024,
        "WTF_CSRF_TIME_LIMIT": None,  # the session's own lifetime bounds the token
        "BABEL_DEFAULT_LOCALE": settings.default_locale,
        "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
        "BABEL_TRANSLATION_DIRECTORIES": str(ROOT / "translations"),
        "RATELIMIT_STORAGE_URI": settings.redis_url or "memory://",
        "RATELIMIT_HEADERS_ENABLED": False,
        "TESTING": settings.env == "test",
    }


def create_app(
    domains: Iterable[ModuleType] = (),
    overrides: dict[str, Any] | None = None,
    settings: Settings | None = None,
) -> Flask:
    """Build the portal. `overrides` changes Settings fields (tests, benches);
    keys in upper case go straight into Flask's config."""
    overrides = dict(overrides or {})
    flask_overrides = {k: overrides.pop(k) for k in list(overrides) if k.isupper()}
    settings = (settings or Settings.from_env()).with_overrides(**overrides)
    settings.data_dir.mkdir(parents=True, exist_ok=True)

    app = Flask(
        "portal",
        root_path=str(ROOT / "portal"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.update(_flask_config(settings))
    app.config.update(flask_overrides)
    if settings.trusted_proxies:
        # the client's address (rate limits, access logs) from the proxies' headers, and
        # only as many hops as there are proxies we run: the rest is the client's to forge
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n,  # type: ignore[method-assign]
                                x_host=n)
    app.extensions["portal.settings"] = settings

    db.init_app(app)
    with app.app_context():
        if settings.database_url.startswith("sqlite"):
            event.listen(db.engine, "connect", _sqlite_pragmas)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    Htmx(app)
    # Flask-SocketIO keeps the message queue of an earlier init_app (a second app in the
    # same process: tests, benches); each app starts from its own settings
    socketio.server_options.pop("client_manager", None)
    socketio.init_app(
        app,
        async_mode="threading",
        message_queue=settings.redis_url or None,
        # one channel per deployment (its database), like the live registry's keys: two
        # portals or test runs on one Redis never hear each other's room events
        channel="portal-" + hashlib.sha256(settings.database_url.encode()).hexdigest()[:12],
        cors_allowed_origins=[],
        manage_session=False,
    )

    from portal import auth, casefiles, cli, live, notify, orgs, people, site

    web.init_app(app)
    auth.init_app(app)
    site.init_app(app)
    live.init_app(app)
    orgs.init_app(app)
    people.init_app(app)
    casefiles.init_app(app)
    notify.init_app(app)
    cli.init_app(app)

    for domain in domains:
        domain.init_app(app)
    web.wrap_views(app)  # every view, the domains' too: one unit of work per request
    return app


def settings_of(app: Flask) -> Settings:
    settings: Settings = app.extensions["portal.settings"]
    return settings

