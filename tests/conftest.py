"""Shared test set-up: the app on each database, a rolled-back transaction per test,
factories, and a logged-in client.

SQLite always; PostgreSQL too when PORTAL_TEST_DATABASE_URL is set. Each PostgreSQL run
makes a database of its own (UTF-8, C.UTF-8 collation for pg_trgm on Chinese) and drops it."""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

import wsgi
from portal.app import create_app
from portal.auth import operations as auth_ops
from portal.auth.models import User
from portal.auth.roles import Role
from portal.extensions import db, limiter
from portal.orgs.models import Organisation

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = Path(os.environ.get("PORTAL_TEST_OUTPUT", ROOT / "test-output"))
PG_URL = os.environ.get("PORTAL_TEST_DATABASE_URL", "").strip()
REDIS_URL = os.environ.get("PORTAL_TEST_REDIS_URL", "").strip()
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
#: the password every factory-made user has
PASSWORD = "correct horse 42"


def pytest_report_header(config: Any) -> list[str]:
    lines = [f"portal databases: {', '.join(BACKENDS)}"]
    if not PG_URL:
        lines.append("PostgreSQL tests skipped: PORTAL_TEST_DATABASE_URL is not set")
    return lines


def _sqlalchemy_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def output_dir() -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT


def create_pg_database(base_url: str) -> tuple[str, Any]:
    """A fresh UTF-8 database on the server of base_url; returns its URL and a dropper."""
    admin_url = make_url(_sqlalchemy_url(base_url))
    name = f"portal_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(
            f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' "
            "LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'"))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()

    return admin_url.set(database=name).render_as_string(hide_password=False), drop


def _savepoints_on_sqlite(app: Flask) -> None:
    # pysqlite starts transactions lazily, which breaks SAVEPOINT; let SQLAlchemy emit BEGIN
    # so a test's commits become savepoints inside the outer transaction rolled back after it.
    engine = db.engine

    @event.listens_for(engine, "connect")
    def _no_autobegin(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")

    engine.dispose()


def build_app(tmp: Path, database_url: str, **overrides: Any) -> Flask:
    app = create_app(
        wsgi.DOMAINS,
        overrides={"env": "test", "data_dir": tmp, "database_url": database_url,
                   "secret_key": "test-secret", "data_key": "test-data-key",
                   # assertions read the English text; the browser tests see Chinese
                   "default_locale": "en", **overrides},
    )
    return app


@pytest.fixture(scope="session", params=BACKENDS)
def app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    tmp = tmp_path_factory.mktemp(f"data-{request.param}")
    drop = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'portal.db'}"
    else:
        url, drop = create_pg_database(PG_URL)
    app = build_app(tmp, url, WTF_CSRF_ENABLED=False)
    app.test_client_class = FreshContextClient
    with app.app_context():
        upgrade()
        if request.param == "sqlite":
            _savepoints_on_sqlite(app)
    yield app
    with app.app_context():
        db.engine.dispose()
    if drop:
        drop()


class _BoundSession(FlaskSession):
    """Flask-SQLAlchemy's session picks the app's engine; in tests it must use the
    connection whose outer transaction is rolled back after each test."""

    def get_bind(self, *args: Any, **kwargs: Any) -> Any:
        return self.bind if self.bind is not None else super().get_bind(*args, **kwargs)


@pytest.fixture()
def session(app: Flask) -> Iterator[Any]:
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        original = db.session
        db.session = db._make_scoped_session(  # type: ignore[method-assign]
            {"bind": connection, "join_transaction_mode": "create_savepoint",
             "class_": _BoundSession})
        limiter.reset()
        try:
            yield db.session
        finally:
            db.session.remove()
            outer.rollback()
            connection.close()
            db.session = original  # type: ignore[method-assign]


class FreshContextClient(FlaskClient):
    """Each request in its own app context, as in a server: the test's own context
    (held open by the `session` fixture) would otherwise share `g` and the ORM session
    with every request, hiding bugs such as a user cached on `g` after logout."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture()
def client(app: Flask, session: Any) -> FlaskClient:
    return app.test_client()


_counter = itertools.count(1)


@pytest.fixture()
def make_user(session: Any):  # type: ignore[no-untyped-def]
    def make(*roles: Role, username: str | None = None, password: str = PASSWORD,
             organisations: list[Organisation] | None = None, **fields: Any) -> User:
        name = username or f"user{next(_counter)}"
        user = auth_ops.create_user(
            session, username=name, display_name=fields.pop("display_name", name.title()),
            password=password, roles=set(roles), organisations=organisations or [],
            check_password=False, email=fields.pop("email", None))
        for key, value in fields.items():
            setattr(user, key, value)
        session.commit()
        return user

    return make


@pytest.fixture()
def make_org(session: Any):  # type: ignore[no-untyped-def]
    def make(name: str | None = None, kind: str = "agency", parent: Organisation | None = None,
             **fields: Any) -> Organisation:
        org = Organisation(name=name or f"单位{next(_counter)}", kind=kind, parent=parent,
                           **fields)
        session.add(org)
        session.commit()
        return org

    return make


def totp_now(secret: str) -> str:
    return pyotp.TOTP(secret).now()


def login(client: FlaskClient, user: User, password: str = PASSWORD) -> None:
    """Log in through the real forms (CSRF is off in the test app), with the second
    step when the user's role needs it: enrolling with the offered secret if need be."""
    response = client.post("/login", data={"username": user.username, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    if response.headers["Location"].endswith("/login/verify"):
        client.get("/login/verify")
        with client.session_transaction() as sess:
            secret = sess.get("enrol_secret") or user.totp_secret
        response = client.post("/login/verify", data={"code": totp_now(secret)})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        assert "/login" not in response.headers["Location"]


@pytest.fixture()
def login_as(client: FlaskClient, make_user: Any):  # type: ignore[no-untyped-def]
    def do(*roles: Role, **fields: Any) -> User:
        user = make_user(*roles, **fields)
        login(client, user)
        return user

    return do
