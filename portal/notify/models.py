"""The transactional outbox and in-app notifications."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import Model
from portal.timeutil import UTCDateTime, utcnow


class OutboxStatus(StrEnum):
    PENDING = "pending"    # waiting for a worker (or for its next retry)
    SENDING = "sending"    # claimed by a worker until lease_until
    SENT = "sent"          # accepted by the SMTP server
    SHOWN = "shown"        # no SMTP configured: kept on the outbox page instead
    FAILED = "failed"      # gave up after the last attempt


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class OutboxMessage(Model):
    """An e-mail or a text message written in the same commit as the change that caused
    it. An SMS keeps its number in `to_address`, its text in `body` and, in `payload`,
    the provider's template parameters and the recipient's language (JSON)."""

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_messages_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(8), default=Channel.EMAIL,
                                         server_default=Channel.EMAIL)
    payload: Mapped[str | None] = mapped_column(Text)
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    #: a calendar file or other attachment, as text (e.g. text/calendar)
    attachment_name: Mapped[str | None] = mapped_column(String(100))
    attachment_type: Mapped[str | None] = mapped_column(String(100))
    attachment_text: Mapped[str | None] = mapped_column(Text)
    #: the same key queues the message once (e.g. "reminder:case:12:2026-11-30")
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: a worker owns a SENDING message until then; after it, another may take it over
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def message_id(self) -> str:
        """Stable per row: a receiver can drop a copy sent again after a crash."""
        return f"<outbox-{self.id}@portal>"


class Notification(Model):
    """A message in a user's in-app inbox."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_unread", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: the message as rendered for the recipient when it was made (in their language)
    text: Mapped[str] = mapped_column(String(500))
    #: the message key (portal/notify/messages.py) and its values as JSON: shown in the
    #: reader's language; None for a plain text message
    message_key: Mapped[str | None] = mapped_column(String(100))
    message_values: Mapped[str | None] = mapped_column(Text)
    #: a path inside the portal to open
    link: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UserPreference(Model):
    """What a user chose for themselves that the portal must know when they are not
    there: the language notices and e-mails reach them in."""

    __tablename__ = "user_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True, autoincrement=False)
    locale: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
