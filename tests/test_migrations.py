"""Alembic: from empty to head and back on both databases, and models match migrations."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from portal.casefiles.search import alembic_include_name
from portal.extensions import db
from tests.fixtures.core import PG_URL, build_app, create_pg_database

BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture(params=BACKENDS)
def fresh_app(request, tmp_path):
    drop = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'm.db'}"
    else:
        url, drop = create_pg_database(PG_URL)
    app = build_app(tmp_path, url)
    yield app
    with app.app_context():
        db.engine.dispose()
    if drop:
        drop()


def _tables(app) -> set[str]:
    with app.app_context():
        return set(inspect(db.engine).get_table_names()) - {"alembic_version"}


def test_upgrade_to_head_then_downgrade_to_empty_and_up_again(fresh_app):
    with fresh_app.app_context():
        upgrade()
    assert {"users", "organisations", "people", "outbox_messages"} <= _tables(fresh_app)
    with fresh_app.app_context():
        downgrade(revision="base")
    assert _tables(fresh_app) == set()
    with fresh_app.app_context():
        upgrade()
    assert "users" in _tables(fresh_app)


def test_models_and_migrations_agree(fresh_app):
    with fresh_app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_name": alembic_include_name})
            diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models differ from migrations; run `flask db migrate`: {diff}"
