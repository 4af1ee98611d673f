"""The outbox worker: sends the e-mail queued by portal.notify.operations.queue_email.

How a message moves::

    pending ──claim──▶ sending ──SMTP accepted──▶ sent
       ▲                 │ └──no SMTP configured──▶ shown   (read on /dev/outbox)
       └──error, backoff─┘ └──last attempt failed / permanent 5xx──▶ failed

Claiming. A worker picks a due row — ``pending`` with ``next_attempt_at <= now``, or
``sending`` whose ``lease_until < now`` (the claim of a worker that died) — and takes it with a
conditional ``UPDATE … WHERE id = ? AND <still due>``. Only the worker whose UPDATE changed a
row (rowcount 1) owns it, so two workers never take the same row, on SQLite as on PostgreSQL
(where candidates are also selected ``FOR UPDATE SKIP LOCKED``, so workers do not queue
behind each other's locks). The claim — status ``sending``, ``lease_until = now + lease``,
``claimed_by``, ``attempts + 1`` — is committed BEFORE the SMTP conversation starts, and no
transaction is held open while talking to the SMTP server.

Delivery guarantee, honestly:

- Never lost: a row leaves ``pending``/``sending`` only by a commit that records the outcome
  (sent, shown, failed). A worker that dies at any point leaves the row ``pending`` or
  ``sending``; a ``sending`` row is taken over by another worker once its lease has passed.
- At least once, not exactly once, across a crash: if a worker dies (or the database is
  unreachable) after the SMTP server accepted the message but before "sent" is committed,
  the message is sent again after the lease. Every copy carries the same ``Message-ID``
  (``OutboxMessage.message_id``), so receiving systems can drop the duplicate.
- Never twice in normal operation: a row is owned by one worker at a time, and a sent row is
  never due again. This assumes a send finishes within the lease (PORTAL_OUTBOX_LEASE_SECONDS,
  default 120 s, against an SMTP timeout of 30 s per operation); should a send outlive its
  lease, another worker may send it too (again with the same Message-ID), and the late
  worker's result is then not recorded over the new owner's.

Retries: a failed send goes back to ``pending`` with ``next_attempt_at = now + backoff``
(30 s, 1 min, 2 min, … capped at 1 h) and ``last_error``; after ``outbox_max_attempts``
attempts, or at once on a permanent 5xx answer about the message, it becomes ``failed``
(an admin may retry it from /dev/outbox).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import smtplib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from portal.config import Settings
from portal.extensions import db
from portal.hooks import ticks
from portal.notify import sms, smtp
from portal.notify.models import OutboxMessage, OutboxStatus
from portal.timeutil import utcnow

log = logging.getLogger(__name__)

BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 30 s · 2^(attempts-1), at most 1 h."""
    exponent = max(0, attempts - 1)
    if exponent >= 20:
        return BACKOFF_CAP
    return min(BACKOFF_BASE * (2 ** exponent), BACKOFF_CAP)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:100]


def _due(now: datetime) -> Any:
    return or_(
        and_(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.lease_until < now),
    )


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


@contextmanager
def _session(app: Flask) -> Iterator[Session]:
    """A session of the worker's own, in an app context of its own; rolled back on error."""
    with app.app_context():
        session = db.session()
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        finally:
            db.session.remove()


def _claim(session: Session, worker_id: str, now: datetime, lease: timedelta,
           skip: set[int]) -> tuple[int, smtp.OutgoingMail] | None:
    """Take one due message and commit the claim; None when nothing is due."""
    is_postgres = session.get_bind().dialect.name == "postgresql"
    while True:
        stmt = (select(OutboxMessage.id).where(_due(now))
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(1))
        if skip:
            stmt = stmt.where(OutboxMessage.id.not_in(skip))
        if is_postgres:
            stmt = stmt.with_for_update(skip_locked=True)
        candidate = session.scalar(stmt)
        if candidate is None:
            session.rollback()
            return None
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == candidate, _due(now))
            .values(status=OutboxStatus.SENDING, lease_until=now + lease, claimed_by=worker_id,
                    attempts=OutboxMessage.attempts + 1)
            .execution_options(synchronize_session=False))
        if _rowcount(result) != 1:  # another worker took it between our SELECT and UPDATE
            session.rollback()
            skip.add(candidate)
            continue
        row = session.execute(
            select(OutboxMessage.to_address, OutboxMessage.subject, OutboxMessage.body,
                   OutboxMessage.attachment_name, OutboxMessage.attachment_type,
                   OutboxMessage.attachment_text, OutboxMessage.channel,
                   OutboxMessage.payload)
            .where(OutboxMessage.id == candidate)).one()
        session.commit()
        skip.add(candidate)
        return candidate, smtp.OutgoingMail(
            message_id=OutboxMessage(id=candidate).message_id, to=row.to_address,
            subject=row.subject, body=row.body, attachment_name=row.attachment_name,
            attachment_type=row.attachment_type, attachment_text=row.attachment_text,
            channel=row.channel or "email", payload=row.payload)


def _text_message(mail: smtp.OutgoingMail) -> sms.OutgoingSms:
    payload = json.loads(mail.payload or "{}")
    return sms.OutgoingSms(to=mail.to, locale=str(payload.get("locale") or "zh_CN"),
                           params={str(k): str(v) for k, v in
                                   (payload.get("params") or {}).items()},
                           text=mail.body)


def _mine(message_id: int, worker_id: str) -> Any:
    """Still ours: a worker whose lease was taken over records nothing over the new owner."""
    return and_(OutboxMessage.id == message_id, OutboxMessage.status == OutboxStatus.SENDING,
                OutboxMessage.claimed_by == worker_id)


def _finish(session: Session, message_id: int, worker_id: str, status: OutboxStatus,
            now: datetime) -> None:
    values: dict[str, Any] = {"status": status, "lease_until": None}
    if status == OutboxStatus.SENT:
        values["sent_at"] = now
    result = session.execute(update(OutboxMessage).where(_mine(message_id, worker_id))
                             .values(**values).execution_options(synchronize_session=False))
    session.commit()
    if _rowcount(result) != 1:
        log.warning("outbox message %s: lease lost before it was marked %s "
                    "(another worker took it over)", message_id, status)


def _record_failure(session: Session, message_id: int, worker_id: str, error: BaseException,
                    now: datetime, max_attempts: int) -> None:
    attempts = session.scalar(select(OutboxMessage.attempts).where(OutboxMessage.id == message_id))
    attempts = attempts or 1
    text = f"{type(error).__name__}: {error}"[:2000]
    give_up = (attempts >= max_attempts or smtp.is_permanent(error)
               or bool(getattr(error, "permanent", False)))
    values: dict[str, Any] = {"lease_until": None, "claimed_by": None, "last_error": text}
    if give_up:
        values["status"] = OutboxStatus.FAILED
    else:
        values.update(status=OutboxStatus.PENDING, next_attempt_at=now + backoff(attempts))
    result = session.execute(update(OutboxMessage).where(_mine(message_id, worker_id))
                             .values(**values).execution_options(synchronize_session=False))
    session.commit()
    if _rowcount(result) != 1:
        log.warning("outbox message %s: lease lost before its failure was recorded", message_id)
    elif give_up:
        log.error("outbox message %s failed for good after %s attempts: %s",
                  message_id, attempts, text)
    else:
        log.warning("outbox message %s: attempt %s failed, retrying in %s: %s",
                    message_id, attempts, backoff(attempts), text)


def drain_once(app: Flask, worker_id: str | None = None, now: datetime | None = None, *,
               stop_event: threading.Event | None = None) -> int:
    """Send every message due now, one at a time; returns how many were processed
    (sent, shown, or attempted and failed). `now` fixes the clock (tests); by default the
    current time is read before each claim. `stop_event`, when set, ends the round after the
    message in hand. Safe to run in several threads or processes at once. Raises on database
    errors other than a busy SQLite database (which ends the round early); the rows involved
    stay claimable, nothing is lost."""
    worker_id = worker_id or default_worker_id()
    settings: Settings = app.extensions["portal.settings"]
    lease = timedelta(seconds=settings.outbox_lease_seconds)
    target = smtp.parse_smtp_url(settings.smtp_url) if settings.smtp_url else None
    texter = sms.parse_sms_url(settings.sms_url) if settings.sms_url else None
    processed = 0
    skip: set[int] = set()  # each row at most once per round, even if it falls due again
    with _session(app) as session:
        while not (stop_event and stop_event.is_set()):
            clock = now or utcnow()
            try:
                claimed = _claim(session, worker_id, clock, lease, skip)
            except OperationalError as error:
                if "locked" not in str(error).lower():
                    raise
                session.rollback()
                log.info("outbox: database busy, ending this round early")
                break
            if claimed is None:
                break
            row_id, mail = claimed
            processed += 1
            if (texter if mail.channel == "sms" else target) is None:
                _finish(session, row_id, worker_id, OutboxStatus.SHOWN, now or utcnow())
                continue
            try:
                if mail.channel == "sms":
                    assert texter is not None
                    texter.send(_text_message(mail))
                else:
                    assert target is not None
                    smtp.send(target, mail, settings.mail_from)
            except (OSError, smtplib.SMTPException, sms.SmsError) as error:
                _record_failure(session, row_id, worker_id, error, now or utcnow(),
                                settings.outbox_max_attempts)
                continue
            _finish(session, row_id, worker_id, OutboxStatus.SENT, now or utcnow())
            log.info("outbox message %s sent", row_id)
    return processed


def run_forever(app: Flask, stop_event: threading.Event | None = None,
                poll_seconds: float = 2.0, worker_id: str | None = None) -> None:
    """Drain the outbox every `poll_seconds` until `stop_event` is set. In the main thread,
    SIGTERM and SIGINT set it, so the message in hand is finished before the process exits.
    Errors (database down, bad SMTP settings) are logged and the loop carries on."""
    stop = stop_event or threading.Event()
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        def _stop(signum: int, _frame: Any) -> None:
            log.info("outbox worker: signal %s, stopping after the current message", signum)
            stop.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, _stop)
    worker_id = worker_id or default_worker_id()
    log.info("outbox worker %s started", worker_id)
    try:
        while not stop.is_set():
            for name, tick in ticks(app):  # periodic work the domains registered
                try:
                    tick(app, utcnow())
                except Exception:
                    log.exception("outbox worker: tick %s failed; trying again next pass", name)
            try:
                drain_once(app, worker_id=worker_id, stop_event=stop)
            except Exception:
                log.exception("outbox worker: error while draining; trying again shortly")
            stop.wait(poll_seconds)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        log.info("outbox worker %s stopped", worker_id)


class WorkerThread(threading.Thread):
    """The embedded worker of `make run`; stop() asks it to finish after the current message."""

    def __init__(self, app: Flask, poll_seconds: float = 2.0) -> None:
        super().__init__(name="outbox-worker", daemon=True)
        self.app = app
        self.poll_seconds = poll_seconds
        self.stop_event = threading.Event()

    def run(self) -> None:
        run_forever(self.app, self.stop_event, self.poll_seconds)

    def stop(self, timeout: float | None = None) -> None:
        self.stop_event.set()
        self.join(timeout)


def start_worker_thread(app: Flask, poll_seconds: float = 2.0) -> WorkerThread:
    """Start the outbox worker as a daemon thread of this process and return it."""
    thread = WorkerThread(app, poll_seconds)
    thread.start()
    return thread
