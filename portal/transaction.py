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


def after_commit(session: Any, callback: Callable[[], None], *, last: bool = False) -> None:
    """Run `callback` once the session's current transaction has committed (in
    `commit()`); a rollback drops it. Callbacks run in the order queued; those queued
    with `last` (slow work: a media engine, files) run after all the others, so the
    socket emits queued meanwhile go out first."""
    session.info.setdefault(_PENDING_LAST if last else _PENDING, []).append(callback)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    for pending_key, ready_key in ((_PENDING, _READY), (_PENDING_LAST, _READY_LAST)):
        pending = session.info.pop(pending_key, None)
        if pending:
            session.info.setdefault(ready_key, []).extend(pending)


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_PENDING_LAST, None)


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
    run_after_commit(session)


def rollback(session: Any) -> None:
    session.rollback()
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
