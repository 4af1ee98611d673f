"""Worker ticks of intake (called on each pass of the outbox worker, cheap when idle):
held questions join the queue when duty starts, the week-end hand-over, the alert when
the duty lawyer is offline while people wait. Each runs at most once a minute per
process, in a transaction of its own."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import Flask

from consultations import intake
from portal import transaction
from portal.errors import DomainError
from portal.extensions import db
from portal.timeutil import utcnow

log = logging.getLogger(__name__)
EVERY = timedelta(minutes=1)


def _due(app: Flask, name: str, now: datetime) -> bool:
    key = f"consultations.tick.{name}"
    last = app.extensions.get(key)
    if last is not None and timedelta(0) <= now - last < EVERY:
        return False
    app.extensions[key] = now
    return True


def _run(app: Flask, what: str, work: Callable[[], int]) -> int:
    def refused(error: DomainError) -> int:
        log.warning("consultations %s refused: %s", what, error.message)
        return 0

    # an app context of its own (a request context alone would reuse the caller's), and a
    # request context for url building and gettext
    with app.app_context(), app.test_request_context():
        try:
            return transaction.run(db.session, work, refused)
        finally:
            db.session.remove()


def queue_tick(app: Flask, now: datetime | None = None) -> int:
    """Duty has started: held questions join the queue. Returns how many moved."""
    now = now or utcnow()
    if not _due(app, "queue", now):
        return 0
    return _run(app, "release", lambda: intake.release_held(db.session, now))


def handover_tick(app: Flask, now: datetime | None = None) -> int:
    """A new week: last week's open consultations pass to this week's lawyer."""
    now = now or utcnow()
    if not _due(app, "handover", now):
        return 0
    return _run(app, "hand-over", lambda: intake.hand_over(db.session, now))


def offline_tick(app: Flask, now: datetime | None = None) -> int:
    """People wait and the duty lawyer is offline: told, and the clerks alerted, once."""
    now = now or utcnow()
    if not _due(app, "offline", now):
        return 0
    return _run(app, "offline alert", lambda: intake.alert_offline(db.session, now))
