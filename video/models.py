"""Remote video reception (远程视频接访): rooms with their schedule, seats (one person in
one room: a booked or walk-in petitioner, a companion, an interpreter, an official), the
room's event log (what reconnecting clients replay), recordings and reception notes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.crypto import EncryptedText
from portal.enums import LabelledStrEnum, labels
from portal.extensions import Model
from portal.i18n import lazy_gettext as _l
from portal.timeutil import UTCDateTime, utcnow


class RoomKind(LabelledStrEnum):
    LEADER_DAY = "leader_day", _l("Leader's reception day")  # 领导接待日
    APPOINTMENT = "appointment", _l("Appointment")  # 约访
    WALK_IN = "walk_in", _l("Same-day queue")  # 当日排队
    #: several people in the room at once (a hearing, its deliberation): the host admits
    #: all who wait, seats marked `admit_on_arrival` go straight in
    MULTI_PARTY = "multi_party", _l("Multi-party meeting")
    #: a confidential one-to-one talk (a lawyer's consultation): only its named host and
    #: the guest's seat enter; never the office's staff, nor any schedule
    CONSULTATION = "consultation", _l("Confidential consultation")


ROOM_KIND_LABELS = labels(RoomKind)


class RoomStatus(LabelledStrEnum):
    SCHEDULED = "scheduled", _l("Scheduled")
    LIVE = "live", _l("In progress")
    ENDED = "ended", _l("Ended")


ROOM_STATUS_LABELS = labels(RoomStatus)


class SeatKind(LabelledStrEnum):
    PETITIONER = "petitioner", _l("Petitioner")
    COMPANION = "companion", _l("Companion")
    INTERPRETER = "interpreter", _l("Interpreter")
    STAFF = "staff", _l("Official")
    #: someone taking part in a multi-party room on a link (a panel member, a party)
    PARTICIPANT = "participant", _l("Participant")
    #: a watch-only seat: receives sound and picture, sends nothing
    OBSERVER = "observer", _l("Observer")


SEAT_KIND_LABELS = labels(SeatKind)


class SeatState(LabelledStrEnum):
    BOOKED = "booked", _l("Booked")  # has a link, not arrived
    WAITING = "waiting", _l("Waiting")  # in the lobby
    ADMITTED = "admitted", _l("In the room")  # in the room (stays so across reconnects)
    DONE = "done", _l("Seen")  # seen, or left after being seen
    DENIED = "denied", _l("Not admitted")
    REMOVED = "removed", _l("Removed")
    CANCELLED = "cancelled", _l("Cancelled")


SEAT_STATE_LABELS = labels(SeatState)

#: seats whose link still opens the room
OPEN_SEAT_STATES = frozenset({SeatState.BOOKED, SeatState.WAITING, SeatState.ADMITTED})


class Room(Model):
    """One reception session: a leader's reception day, an appointment block or the day's
    walk-in queue. The official admits people one at a time, like a doctor's waiting room."""

    __tablename__ = "video_rooms"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    #: the reception office that runs the room (its clerks and leaders host it)
    office_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    #: the leader (or official) who receives; other staff of the office may host too
    host_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: minutes per appointment slot
    slot_minutes: Mapped[int] = mapped_column(Integer, default=20)
    status: Mapped[str] = mapped_column(String(16), default=RoomStatus.SCHEDULED)
    #: the official's message to those waiting ("about 10 minutes")
    lobby_message: Mapped[str] = mapped_column(String(500), default="")
    is_recording: Mapped[bool] = mapped_column(Boolean, default=False)
    #: only the room's named seats enter (not the office's staff, not the admin); the
    #: host is `host_id` alone, and only through a seat of their own
    is_private: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    seats: Mapped[list[Seat]] = relationship(back_populates="room", order_by="Seat.id")
    office = relationship("Organisation", foreign_keys=[office_id])
    host = relationship("User", foreign_keys=[host_id])

    __table_args__ = (Index("ix_video_rooms_starts_at", "starts_at"),)

    @property
    def room_key(self) -> str:
        return f"room-{self.id}"

    @property
    def is_multi_party(self) -> bool:
        return self.kind == RoomKind.MULTI_PARTY


class Seat(Model):
    """One person's place in one room. A petitioner's seat carries the join link (only
    its HMAC is stored); an official's seat belongs to their account."""

    __tablename__ = "video_seats"

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("video_rooms.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    display_name: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: a companion or interpreter comes with this seat
    companion_of_id: Mapped[int | None] = mapped_column(ForeignKey("video_seats.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    phone: Mapped[str | None] = mapped_column(EncryptedText())
    #: the language the guest reads (their join link's SMS, their pages' default)
    locale: Mapped[str] = mapped_column(String(8), default="zh_CN", server_default="zh_CN")
    email: Mapped[str | None] = mapped_column(String(200))
    #: booked appointment time (None for walk-ins)
    slot_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: HMAC of the join token (the token itself is shown once to the clerk)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(16), default=SeatState.BOOKED)
    #: the order of the queue: set on arrival in the lobby
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    admitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: the device holding the seat now (a second device takes it over)
    device_id: Mapped[str | None] = mapped_column(String(64))
    is_audio_only: Mapped[bool] = mapped_column(Boolean, default=False)
    #: an observer's seat in a multi-party room: receives, never sends media or chat
    is_watch_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    #: a multi-party room's seat that goes straight in on arrival (no waiting for the host)
    admit_on_arrival: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    #: what the domain that owns a multi-party room calls this seat ("hearing-
    #: participant:12"): video reads nothing into it
    ref: Mapped[str | None] = mapped_column(String(64))
    #: the name watch-only seats see for this seat (None: display_name), given by the
    #: owning domain (a hearing shows its parties to observers by role)
    public_name: Mapped[str | None] = mapped_column(String(100))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    room: Mapped[Room] = relationship(back_populates="seats")
    user = relationship("User", foreign_keys=[user_id])
    case = relationship("Case", foreign_keys=[case_id])

    __table_args__ = (Index("ix_video_seats_room_state", "room_id", "state"),
                      Index("ix_video_seats_room_ref", "room_id", "ref"))

    @property
    def seat_key(self) -> str:
        return f"seat-{self.id}"

    @property
    def is_staff(self) -> bool:
        return self.kind == SeatKind.STAFF


class RoomEvent(Model):
    """What happened in a room, in order; a reconnecting client replays what it missed.
    `audience` is "all", "staff" or "seat:<id>"."""

    __tablename__ = "video_room_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("video_rooms.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    audience: Mapped[str] = mapped_column(String(32), default="all")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index("ix_video_room_events_room_id", "room_id", "id"),)


class RecordingStatus(StrEnum):
    RECORDING = "recording"
    PROCESSING = "processing"
    ACCEPTED = "accepted"
    FAILED = "failed"


class Recording(Model):
    """One stretch of recording in a room, from the official's start to stop."""

    __tablename__ = "video_recordings"

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("video_rooms.id", ondelete="CASCADE"))
    #: the petitioner being received while it was recorded: it goes into their case
    seat_id: Mapped[int | None] = mapped_column(ForeignKey("video_seats.id"))
    #: the case the recording is filed in (the petitioner's seat's case)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    status: Mapped[str] = mapped_column(String(16), default=RecordingStatus.RECORDING)
    started_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: when a process took the joining and checking on (a lease: another process may
    #: take it over when it is old, e.g. after a crash)
    processing_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: segment files written while recording, relative to the recording's directory
    segments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    sha256: Mapped[str | None] = mapped_column(String(64))
    duration_s: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))

    room: Mapped[Room] = relationship()


class NoteStatus(LabelledStrEnum):
    DRAFT = "draft", _l("Draft")
    # on the petitioner's screen, waiting for an answer
    SHOWN = "shown", _l("Shown to the petitioner")
    CONFIRMED = "confirmed", _l("Confirmed by the petitioner")
    REFUSED = "refused", _l("Refused by the petitioner")


NOTE_STATUS_LABELS = labels(NoteStatus)


class ReceptionNote(Model):
    """接谈记录: written during the call, confirmed by the petitioner on their own screen,
    filed in the case."""

    __tablename__ = "video_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    seat_id: Mapped[int] = mapped_column(ForeignKey("video_seats.id", ondelete="CASCADE"),
                                         unique=True)
    facts: Mapped[str] = mapped_column(Text, default="")
    demands: Mapped[str] = mapped_column(Text, default="")
    answer: Mapped[str] = mapped_column(Text, default="")
    next_steps: Mapped[str] = mapped_column(Text, default="")
    #: for the case the note opens when the petitioner has none: the kind of matter and
    #: the place (checked against the organisations when the case is opened)
    case_kind: Mapped[str | None] = mapped_column(String(32))
    township_id: Mapped[int | None] = mapped_column(Integer)
    village_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=NoteStatus.DRAFT)
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: set once the note is in the case file
    filed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)

    seat: Mapped[Seat] = relationship()
