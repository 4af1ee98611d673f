"""The chat of a consultation: post a message (text or attachment) once per client id,
mark the other side's messages delivered or read, history since an id (a waiting
person's place is intake's: `intake.position`). Operations flush, never commit; the
socket namespace (consultations/events.py) and the attachment routes call them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from sqlalchemy import and_, select, update
from sqlalchemy.exc import IntegrityError

from consultations.models import (
    Consultation,
    ConsultationFile,
    ConsultationStatus,
    Message,
    Sender,
)
from consultations.rules import rules
from portal.errors import DomainError, NotFound
from portal.extensions import DbSession as Session
from portal.i18n import lazy_gettext as _l
from portal.timeutil import utcnow

#: the longest client id a sender may give its message (the column's width)
MAX_CLIENT_ID = 64
#: messages one history answer carries at most (with `has_more` the client asks again
#: from the last one it got)
HISTORY_LIMIT = 200
#: what a person or a lawyer may attach (with the question or in the chat): the kind is
#: read from the bytes, never the name (`attachment_type`)
ATTACHMENT_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg", "image/gif",
                              "image/webp"})
#: the bytes the kind is read from
SNIFF_BYTES = 4096
#: the two sides that write; an organiser reads only
SIDES = (Sender.ASKER, Sender.LAWYER)


class ChatRefused(DomainError):
    """A message or a mark that cannot be taken (the message says why)."""


def other_side(side: str) -> str:
    return Sender.LAWYER if side == Sender.ASKER else Sender.ASKER


def check_open(consultation: Consultation) -> None:
    """Messages and attachments only while the lawyer is answering."""
    status = consultation.status
    if status in (ConsultationStatus.HELD, ConsultationStatus.QUEUED):
        raise ChatRefused(_l("The lawyer has not taken your question yet. Please wait: "
                             "you can write as soon as it is your turn."))
    if status != ConsultationStatus.ACTIVE:
        raise ChatRefused(_l("This consultation is closed: no more messages can be sent."))


def _clean_client_id(value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_CLIENT_ID:
        raise ChatRefused(_l("The message could not be sent (no message id). Reload the "
                             "page and try again."))
    return value.strip()


def _clean_body(value: Any, with_file: bool) -> str:
    body = value if isinstance(value, str) else ""
    body = body.strip()
    limit = rules().max_message
    if len(body) > limit:
        raise ChatRefused(_l("A message holds at most %(n)s characters. Shorten it or send "
                             "it in parts.", n=limit))
    if not body and not with_file:
        raise ChatRefused(_l("Write a message first."))
    return body


def _existing(session: Session, consultation_id: int, side: str, client_id: str
              ) -> Message | None:
    return session.scalar(select(Message).where(
        Message.consultation_id == consultation_id, Message.sender == side,
        Message.client_id == client_id))


def post_message(session: Session, consultation: Consultation, side: str, *,
                 user_id: int | None, body: Any, client_id: Any, file_id: int = 0
                 ) -> tuple[Message, bool]:
    """Store a message of `side` once per client id: a resend (after a dropped
    connection) returns the first one. Returns (the message, whether it is new). A resend
    is checked as a new message would be (its text, its attachment) before the unique key
    finds it was stored already."""
    if side not in SIDES:
        raise ChatRefused(_l("You may read this consultation but not write in it."))
    client_id = _clean_client_id(client_id)
    try:
        check_open(consultation)
    except ChatRefused:
        # a resend of one stored before the close is answered with it
        found = _existing(session, consultation.id, side, client_id)
        if found is None:
            raise
        return found, False
    attached: ConsultationFile | None = None
    if file_id:
        attached = session.get(ConsultationFile, file_id)
        if (attached is None or attached.consultation_id != consultation.id
                or attached.sender != side):
            raise ChatRefused(_l("That attachment is not one of yours in this "
                                 "consultation."))
    text = _clean_body(body, attached is not None)
    message = Message(consultation_id=consultation.id, sender=side, sender_user_id=user_id,
                      body=text, file_id=attached.id if attached else None,
                      client_id=client_id, sent_at=utcnow())
    # a resend (or the same one twice at once): the unique key decides, and the message
    # stored first is the answer; no lookup before, as nearly every message is new
    try:
        with session.begin_nested():
            session.add(message)
            session.flush()
    except IntegrityError:
        found = _existing(session, consultation.id, side, client_id)
        if found is None:
            raise
        return found, False
    return message, True


def post_notice(session: Session, consultation: Consultation, body: str, key: str,
                now: datetime | None = None) -> tuple[Message, bool]:
    """A line from the portal in the chat (the move to video, a hand-over, an alert),
    once per (consultation, `key`), even from two processes at once. Returns the message
    (the first one's for a key used already) and whether it is new."""
    found = _existing(session, consultation.id, Sender.SYSTEM, key)
    if found is not None:
        return found, False
    message = Message(consultation_id=consultation.id, sender=Sender.SYSTEM, body=body,
                      client_id=key, sent_at=now or utcnow())
    try:
        with session.begin_nested():
            session.add(message)
            session.flush()
    except IntegrityError:  # another process added it meanwhile
        found = _existing(session, consultation.id, Sender.SYSTEM, key)
        if found is None:
            raise
        return found, False
    return message, True


@dataclass(frozen=True)
class Marks:
    """What a `delivered` or `read` mark changed: the other side's messages up to an id."""

    side: str  # whose messages were marked
    up_to_id: int
    delivered_at: datetime | None
    read_at: datetime | None
    count: int


def mark(session: Session, consultation: Consultation, reader: str, kind: str,
         up_to_id: int) -> Marks:
    """The reader has received (or read) the other side's messages up to `up_to_id`;
    reading implies receiving. Marks are set once (the first time counts)."""
    if reader not in SIDES:
        raise ChatRefused(_l("You may read this consultation but not write in it."))
    if kind not in ("delivered", "read"):
        raise ChatRefused(_l("Unknown mark."))
    writer = other_side(reader)
    now = utcnow()
    mine = and_(Message.consultation_id == consultation.id, Message.sender == writer,
                Message.id <= up_to_id)
    count = session.execute(update(Message).where(mine, Message.delivered_at.is_(None))
                            .values(delivered_at=now)).rowcount or 0  # type: ignore[attr-defined]
    read_at = None
    if kind == "read":
        count += session.execute(update(Message).where(mine, Message.read_at.is_(None))
                                 .values(read_at=now)).rowcount or 0  # type: ignore[attr-defined]
        read_at = now
    return Marks(writer, up_to_id, now, read_at, count)


def history(session: Session, consultation: Consultation, after_id: int = 0,
            limit: int = HISTORY_LIMIT) -> tuple[list[Message], bool]:
    """The messages after `after_id` (a reconnecting client's last seen), oldest first, at
    most `limit` of them, and whether more follow (the client asks again from the last)."""
    found = list(session.scalars(
        select(Message).where(Message.consultation_id == consultation.id,
                              Message.id > after_id)
        .order_by(Message.id).limit(limit + 1)))
    return found[:limit], len(found) > limit


def file_info(session: Session, file_id: int | None) -> dict[str, Any] | None:
    if not file_id:
        return None
    found = session.get(ConsultationFile, file_id)
    return _file_dict(found) if found is not None else None


def _file_dict(found: ConsultationFile) -> dict[str, Any]:
    return {"id": found.id, "name": found.original_name, "size": found.size,
            "media_type": found.media_type}


def message_payload(session: Session, message: Message,
                    files: dict[int, ConsultationFile] | None = None) -> dict[str, Any]:
    """A message as the clients read it (`files`: its attachment, loaded already)."""
    if files is not None:
        attached = files.get(message.file_id) if message.file_id else None
        info = _file_dict(attached) if attached is not None else None
    else:
        info = file_info(session, message.file_id)
    return {"id": message.id, "consultation_id": message.consultation_id,
            "sender": message.sender, "body": message.body,
            "file": info, "client_id": message.client_id,
            "sent_at": message.sent_at.isoformat(),
            "delivered_at": message.delivered_at.isoformat() if message.delivered_at else None,
            "read_at": message.read_at.isoformat() if message.read_at else None}


def message_payloads(session: Session, messages: list[Message]) -> list[dict[str, Any]]:
    """Messages as the clients read them, their attachments loaded in one query."""
    ids = {m.file_id for m in messages if m.file_id}
    files = ({f.id: f for f in session.scalars(
        select(ConsultationFile).where(ConsultationFile.id.in_(sorted(ids))))}
        if ids else {})
    return [message_payload(session, m, files) for m in messages]


# --- attachments ---------------------------------------------------------------------------

def attachment_type(data: bytes) -> str | None:
    """The kind of an attachment read from its first bytes, if one that may be attached
    (the question's form and the chat both ask here)."""
    from portal.casefiles.forms import sniff_media_type

    media_type = sniff_media_type(data[:SNIFF_BYTES])
    return media_type if media_type in ATTACHMENT_TYPES else None


def add_file(session: Session, consultation: Consultation, side: str, stream: IO[bytes],
             original_name: str) -> ConsultationFile:
    """Store an attachment of `side` (size and kind checked on the bytes)."""
    from portal.casefiles.blobs import store_bytes

    if side not in SIDES:
        raise ChatRefused(_l("You may read this consultation but not write in it."))
    check_open(consultation)
    limit = rules().max_file_bytes
    data = stream.read(limit + 1)
    if not data:
        raise ChatRefused(_l("Choose a file to attach."))
    if len(data) > limit:
        raise ChatRefused(_l("The file is too large: at most %(mb)s MB.",
                             mb=max(1, limit // (1024 * 1024))), status=413)
    media_type = attachment_type(data)
    if media_type is None:
        raise ChatRefused(_l("Only photos (JPEG, PNG, GIF, WebP) and PDF files can be "
                             "attached."), status=415)
    sha, size = store_bytes(data)
    name = (original_name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()[:255]
    found = ConsultationFile(consultation_id=consultation.id, sender=side, sha256=sha,
                             size=size, media_type=media_type,
                             original_name=name or "attachment", created_at=utcnow())
    session.add(found)
    session.flush()
    return found


def file_of(session: Session, consultation: Consultation, file_id: int) -> ConsultationFile:
    found = session.get(ConsultationFile, file_id)
    if found is None or found.consultation_id != consultation.id:
        raise NotFound(_l("That attachment does not exist."))
    return found
