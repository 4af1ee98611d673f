"""One unit of work per request or socket event: run → commit once → after the commit, the
queued callbacks (socket emits, live-registry changes) run; a domain error rolls back and
drops them. Operations never commit; they queue what must happen only once their changes
are durable with `after_commit`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.errors import DomainError

log = logging.getLogger(__name__)
T = TypeVar("T")

_PENDING = "portal.after_commit.pending"
_READY = "portal.after_commit.ready"
_PENDING_LAST = "portal.after_commit.pending_last"
_READY_LAST = "portal.after_commit.ready_last"
_AT_COMMIT = "portal.add_at_commit"


def after_commit(session: Any, callback: Callable[[], None], *, last: bool = False) -> None:
    """Run `callback` once the session's current transaction has committed (in
    `commit()`); a rollback drops it. Callbacks run in the order queued; those queued
    with `last` (slow work: a media engine, files) run after all the others, so the
    socket emits queued meanwhile go out first."""
    session.info.setdefault(_PENDING_LAST if last else _PENDING, []).append(callback)


def add_at_commit(session: Any, row: Any) -> None:
    """Add `row` (an audit row: who read what) only when the transaction commits, so a
    page that logs its own reading takes no write lock while it renders (SQLite lets one
    writer in at a time); a rollback drops it with the rest."""
    session.info.setdefault(_AT_COMMIT, []).append(row)


@event.listens_for(Session, "before_commit")
def _adding(session: Session) -> None:
    rows = session.info.pop(_AT_COMMIT, None)
    if rows:
        session.add_all(rows)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    for pending_key, ready_key in ((_PENDING, _READY), (_PENDING_LAST, _READY_LAST)):
        pending = session.info.pop(pending_key, None)
        if pending:
            session.info.setdefault(ready_key, []).extend(pending)


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    _drop_pending(session)


def _drop_pending(session: Any) -> None:
    for key in (_PENDING, _PENDING_LAST, _AT_COMMIT):
        session.info.pop(key, None)


def run_after_commit(session: Any) -> None:
    """Run the callbacks of committed transactions, each once; one failing does not stop
    the others (the data is saved by then)."""
    while True:
        ready = session.info.pop(_READY, None) or session.info.pop(_READY_LAST, None)
        if not ready:
            return
        for callback in ready:
            try:
                callback()
            except Exception:
                log.exception("after-commit callback %r failed", callback)


def commit(session: Any) -> None:
    """Commit, then run what was queued for after the commit."""
    session.commit()
    # with no transaction begun, SQLAlchemy fires no after_commit: promote here (a no-op
    # when the event did)
    _committed(session)
    run_after_commit(session)


def rollback(session: Any) -> None:
    """Roll back and drop everything queued for the commit (with no transaction begun,
    SQLAlchemy fires no after_rollback)."""
    session.rollback()
    _drop_pending(session)
    session.info.pop(_READY, None)
    session.info.pop(_READY_LAST, None)


def run(session: Any, work: Callable[[], T], on_error: Callable[[DomainError], T]) -> T:
    """The request shape: `work()`, commit once, after-commit callbacks; a DomainError
    rolls back and becomes `on_error(error)`; any other error rolls back and propagates."""
    try:
        result = work()
        commit(session)
    except DomainError as error:
        rollback(session)
        return on_error(error)
    except BaseException:
        rollback(session)
        raise
    return result
