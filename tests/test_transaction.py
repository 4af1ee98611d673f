"""portal.transaction: after-commit callbacks run once after a commit and never after a
rollback, also when no statement began a transaction; rows added at the commit are
written then (no write lock before) and dropped by a rollback."""

from __future__ import annotations

from sqlalchemy import func, select

from portal import transaction
from portal.extensions import db
from portal.orgs.models import Organisation


def test_callbacks_run_once_after_a_commit_even_without_a_transaction(app, session):
    ran: list[str] = []
    transaction.after_commit(session, lambda: ran.append("a"))
    transaction.after_commit(session, lambda: ran.append("last"), last=True)
    transaction.after_commit(session, lambda: ran.append("b"))
    transaction.commit(session)
    assert ran == ["a", "b", "last"]
    transaction.commit(session)
    assert ran == ["a", "b", "last"]  # once


def test_a_rollback_drops_callbacks_and_rows_added_at_commit(app, session):
    ran: list[str] = []
    before = session.scalar(select(func.count()).select_from(Organisation))
    transaction.after_commit(session, lambda: ran.append("x"))
    transaction.add_at_commit(session, Organisation(name="回滚单位", kind="agency"))
    transaction.rollback(session)
    transaction.commit(session)
    assert ran == []
    assert session.scalar(select(func.count()).select_from(Organisation)) == before


def test_rows_added_at_commit_are_written_by_the_commit_not_before(app, session):
    transaction.add_at_commit(session, Organisation(name="提交时写入", kind="agency"))
    assert not [o for o in session.new]  # nothing pending, so nothing is flushed early
    assert session.scalar(select(Organisation).where(
        Organisation.name == "提交时写入")) is None
    transaction.commit(session)
    assert db.session.scalar(select(Organisation).where(
        Organisation.name == "提交时写入")) is not None
