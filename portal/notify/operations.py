"""Queueing e-mail and in-app notifications.

Every function works in the caller's transaction: it adds, flushes, never commits. An
e-mail queued here is therefore sent only if the change that caused it commits (the
transactional outbox); the worker (portal/notify/worker.py) sends it afterwards.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from portal.errors import DomainError
from portal.extensions import DbSession
from portal.i18n import lazy_gettext as _l
from portal.notify.models import Channel, Notification, OutboxMessage, OutboxStatus
from portal.timeutil import utcnow

#: a plain session, or Flask-SQLAlchemy's `db.session` (a scoped_session) as views pass it


@dataclass(frozen=True)
class Attachment:
    """A text attachment, e.g. Attachment("hearing.ics", "text/calendar; method=REQUEST", ics)."""

    name: str
    content_type: str
    text: str


def _clip(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def queue_email(
    session: DbSession,
    *,
    to: str | None,
    subject: str,
    body: str,
    dedupe_key: str | None = None,
    attachment: Attachment | tuple[str, str, str] | None = None,
) -> OutboxMessage | None:
    """Queue one e-mail in the caller's transaction (flushed, not committed).

    - `to` empty or None (a user without an address): nothing is queued, None is returned,
      so callers can pass `user.email` without checking it first.
    - `dedupe_key` given and already queued (in any status): nothing new is queued and the
      existing row is returned. Two transactions racing with the same key queue one row.
    - `attachment`: an Attachment or a (name, content_type, text) tuple; text only.
    """
    address = (to or "").strip()
    if not address:
        return None
    if isinstance(attachment, tuple):
        attachment = Attachment(*attachment)
    values: dict[str, Any] = {
        "to_address": address,
        "subject": _clip(" ".join(subject.split()), 200),  # no line breaks in a header
        "body": body,
        "dedupe_key": dedupe_key,
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": utcnow(),
        "created_at": utcnow(),
    }
    if attachment is not None:
        values.update(attachment_name=_clip(attachment.name, 100),
                      attachment_type=attachment.content_type, attachment_text=attachment.text)
    if dedupe_key is None:
        message = OutboxMessage(**values)
        session.add(message)
        session.flush()
        return message

    session.flush()
    existing = session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key))
    if existing is not None:
        return existing
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        # INSERT … ON CONFLICT DO NOTHING: a concurrent insert of the same key does not
        # break the caller's transaction with an IntegrityError.
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        session.execute(insert(OutboxMessage).values(**values)
                        .on_conflict_do_nothing(index_elements=["dedupe_key"]))
        return session.scalars(
            select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key)).one()
    message = OutboxMessage(**values)
    session.add(message)
    session.flush()
    return message


def queue_sms(session: DbSession, *, to: str | None, text: str, params: dict[str, str],
              locale: str = "zh_CN", dedupe_key: str | None = None) -> OutboxMessage | None:
    """Queue one text message in the caller's transaction (flushed, not committed): `text`
    as the recipient reads it (shown on the outbox page), `params` for the provider's
    template in `locale` (portal/notify/sms.py). No number: nothing is queued."""
    number = (to or "").strip()
    if not number:
        return None
    if dedupe_key is not None:
        existing = session.scalar(select(OutboxMessage).where(
            OutboxMessage.dedupe_key == dedupe_key))
        if existing is not None:
            return existing
    message = OutboxMessage(
        channel=Channel.SMS, to_address=number, subject=_clip(text, 200), body=text,
        payload=json.dumps({"params": params, "locale": locale}, ensure_ascii=False),
        dedupe_key=dedupe_key, status=OutboxStatus.PENDING, attempts=0,
        next_attempt_at=utcnow(), created_at=utcnow())
    session.add(message)
    session.flush()
    return message


def notify_user(session: DbSession, user_id: int, text: str, link: str | None = None
                ) -> Notification:
    """Put a message in a user's in-app inbox. `link` should be a path inside the portal
    (e.g. "/cases/12"); anything else is not followed when the user opens it."""
    notification = Notification(user_id=user_id, text=_clip(text, 500),
                                link=_clip(link, 300) if link else None, created_at=utcnow())
    session.add(notification)
    session.flush()
    return notification


def notify(session: DbSession, user: Any, key: str, values: dict[str, Any],
           link: str | None = None, *, email: bool = True,
           dedupe_key: str | None = None) -> Notification:
    """Tell `user` something: an in-app notice stored as the message `key` with its
    `values` (shown in the reader's language), and an e-mail through the outbox in the
    user's preferred language when they have an address (and `email`)."""
    from portal.notify import messages

    locale = messages.locale_of(session, user.id)
    text = messages.render(key, values, locale)
    notification = Notification(user_id=user.id, text=_clip(text, 500),
                                message_key=key, message_values=messages.values_json(values),
                                link=_clip(link, 300) if link else None, created_at=utcnow())
    session.add(notification)
    session.flush()
    if email and getattr(user, "email", None):
        body = text if not link else f"{text}\n\n{link}"
        queue_email(session, to=user.email, subject=messages.render(key, values, locale, 1),
                    body=body, dedupe_key=dedupe_key)
    return notification


def mark_read(session: DbSession, user: Any, notification_id: int) -> Notification:
    """Mark one of the user's own notifications read; 404 for anyone else's."""
    notification = session.get(Notification, notification_id)
    if notification is None or notification.user_id != user.id:
        raise DomainError(_l("This notification does not exist."), status=404)
    if notification.read_at is None:
        notification.read_at = utcnow()
        session.flush()
    return notification


def mark_all_read(session: DbSession, user: Any) -> int:
    """Mark every unread notification of the user read; returns how many were unread."""
    result = session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session="fetch"))
    return int(getattr(result, "rowcount", 0) or 0)


def can_retry(message: OutboxMessage) -> bool:
    """Only a failed message can be sent again: the others are waiting, being sent, or
    done (the outbox page offers the button by this rule too)."""
    return message.status == OutboxStatus.FAILED


def retry_message(session: DbSession, message_id: int) -> OutboxMessage:
    """Give a failed e-mail a fresh set of attempts, due now. Only failed rows can be retried:
    the others are waiting, being sent, or done."""
    message = session.get(OutboxMessage, message_id)
    if message is None:
        raise DomainError(_l("This message does not exist."), status=404)
    if not can_retry(message):
        raise DomainError(_l("Only a failed message can be sent again."), status=409)
    message.status = OutboxStatus.PENDING
    message.attempts = 0
    message.next_attempt_at = utcnow()
    message.lease_until = None
    message.claimed_by = None
    session.flush()
    return message
