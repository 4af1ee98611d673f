"""Lawyer duty and consultations (律师值班, 律师接访): the weekly rota and swaps, the
consultations (in person, by chat, by video) with their chat messages and attachments,
legal-aid applications with the centre's clock, conflicts, and the written answer.

Lawyers are people of the registry (`portal.people.models.Person`, kind lawyer); a lawyer
who takes consultations online has a login (Person.user_id). The person asking has no
account: a personal link (only its HMAC stored) is how they wait, chat, read the answer
and rate it."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.crypto import EncryptedText
from portal.enums import LabelledStrEnum
from portal.extensions import Model
from portal.i18n import lazy_gettext as _l
from portal.timeutil import UTCDateTime, utcnow


class RotaStatus(LabelledStrEnum):
    DRAFT = "draft", _l("Draft")
    PUBLISHED = "published", _l("Published")


class SwapStatus(LabelledStrEnum):
    ASKED = "asked", _l("Asked, awaiting the other lawyer")
    ACCEPTED = "accepted", _l("Accepted, awaiting approval")
    APPROVED = "approved", _l("Approved")
    DECLINED = "declined", _l("Declined by the other lawyer")
    REFUSED = "refused", _l("Refused by the organiser")
    WITHDRAWN = "withdrawn", _l("Withdrawn")


class Channel(LabelledStrEnum):
    IN_PERSON = "in_person", _l("In person")  # the lawyer logs it
    CLERK = "clerk", _l("Registered by the clerk")  # for a visitor
    ONLINE = "online", _l("Asked online")  # from the public page


class Topic(LabelledStrEnum):
    LABOUR = "labour", _l("Labour and wages")
    LAND = "land", _l("Land and contracted land")
    HOUSING = "housing", _l("Housing and demolition")
    FAMILY = "family", _l("Marriage, family and inheritance")
    CONTRACT = "contract", _l("Contracts and debts")
    TORT = "tort", _l("Injury and compensation")
    ADMINISTRATIVE = "administrative", _l("Administrative matters")
    SOCIAL_SECURITY = "social_security", _l("Social security")
    CRIMINAL = "criminal", _l("Criminal matters")
    OTHER = "other", _l("Other")


class ConsultationStatus(LabelledStrEnum):
    #: online, asked outside duty hours: answered when the next duty starts
    HELD = "held", _l("Waiting for the next duty")
    QUEUED = "queued", _l("Waiting in the queue")
    ACTIVE = "active", _l("With the lawyer")
    CLOSED = "closed", _l("Finished")
    #: the person left before being taken
    WITHDRAWN = "withdrawn", _l("Withdrawn")


OPEN_CONSULTATION_STATUSES = frozenset({ConsultationStatus.HELD, ConsultationStatus.QUEUED,
                                        ConsultationStatus.ACTIVE})


class Outcome(LabelledStrEnum):
    ANSWERED = "answered", _l("Answered")
    COURT = "court", _l("Referred to a court")
    ARBITRATION = "arbitration", _l("Referred to arbitration")
    ADMINISTRATIVE = "administrative", _l("Referred to administrative review")
    LEGAL_AID = "legal_aid", _l("Referred to legal aid")
    PETITION = "petition", _l("Turned into a petition case")


class Rating(LabelledStrEnum):
    SATISFIED = "satisfied", _l("Satisfied")  # 满意
    FAIRLY = "fairly", _l("Fairly satisfied")  # 基本满意
    UNSATISFIED = "unsatisfied", _l("Not satisfied")  # 不满意


class AidDecision(LabelledStrEnum):
    PENDING = "pending", _l("Awaiting the centre's decision")
    GRANTED = "granted", _l("Legal aid granted")
    REFUSED = "refused", _l("Legal aid refused")


class Sender(LabelledStrEnum):
    ASKER = "asker", _l("The person asking")
    LAWYER = "lawyer", _l("Lawyer")
    SYSTEM = "system", _l("Portal")


class DutyWeek(Model):
    """One week of the rota: the lawyer on duty from Monday `week_start`."""

    __tablename__ = "duty_weeks"
    __table_args__ = (UniqueConstraint("week_start", name="uq_duty_weeks_week_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the Monday the week begins (Asia/Shanghai)
    week_start: Mapped[date] = mapped_column(Date)
    lawyer_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=RotaStatus.DRAFT)
    #: the duty hours, e.g. "09:00-11:30,14:30-17:30" (consultations.rules by default)
    hours: Mapped[str] = mapped_column(String(100), default="")
    #: no duty that week (a week of public holidays); the lawyer column still names nobody
    is_closed: Mapped[bool] = mapped_column(Boolean, default=False)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    lawyer = relationship("Person")

    __mapper_args__ = {"version_id_col": version}


class Unavailability(Model):
    """A week a lawyer declared they cannot serve."""

    __tablename__ = "lawyer_unavailability"
    __table_args__ = (UniqueConstraint("person_id", "week_start",
                                       name="uq_lawyer_unavailability_week"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    week_start: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SwapRequest(Model):
    """A lawyer asks to swap their week with another lawyer's; the other accepts; the
    organiser approves; then the two weeks change hands."""

    __tablename__ = "duty_swaps"

    id: Mapped[int] = mapped_column(primary_key=True)
    from_week_id: Mapped[int] = mapped_column(ForeignKey("duty_weeks.id"))
    to_week_id: Mapped[int] = mapped_column(ForeignKey("duty_weeks.id"))
    #: the lawyers as they were when asked
    asked_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    asked_of_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default=SwapStatus.ASKED)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    from_week = relationship(DutyWeek, foreign_keys=[from_week_id])
    to_week = relationship(DutyWeek, foreign_keys=[to_week_id])


class RotaFeed(Model):
    """A lawyer's private .ics feed of the rota (only the token's HMAC is stored)."""

    __tablename__ = "rota_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"),
                                           unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Consultation(Model):
    __tablename__ = "consultations"
    __table_args__ = (Index("ix_consultations_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=ConsultationStatus.QUEUED)
    name: Mapped[str] = mapped_column(String(60))
    phone: Mapped[str | None] = mapped_column(EncryptedText())
    topic: Mapped[str] = mapped_column(String(20))
    question: Mapped[str] = mapped_column(Text)
    #: asks for accessible service (elderly, disabled: Legal Aid Law Art. 45)
    needs_assistance: Mapped[bool] = mapped_column(Boolean, default=False)
    #: the language the person reads
    locale: Mapped[str] = mapped_column(String(8), default="zh_CN")
    #: HMAC of the person's personal link (online and clerk-registered consultations)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    #: the duty week it was asked in (or is held for)
    duty_week_id: Mapped[int | None] = mapped_column(ForeignKey("duty_weeks.id"), index=True)
    #: the lawyer answering (registry person) and their account
    lawyer_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    lawyer_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: handed over from last week's lawyer: their summary for the next one
    handover_summary: Mapped[str] = mapped_column(Text, default="")
    handed_over_from_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(20))
    #: the written answer (法律咨询意见书): the lawyer's opinion and the route advised
    answer: Mapped[str] = mapped_column(Text, default="")
    #: a petition case opened from it or linked to it
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    #: the video room when the chat moved to video
    video_room_id: Mapped[int | None] = mapped_column(ForeignKey("video_rooms.id"))
    #: the lawyer's declaration that they will not take the matter for a fee
    conflict_declared_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rating: Mapped[str | None] = mapped_column(String(16))
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    lawyer = relationship("Person", foreign_keys=[lawyer_id])
    case = relationship("Case")

    __mapper_args__ = {"version_id_col": version}

    @property
    def room_key(self) -> str:
        """The Socket.IO room of the person asking and the lawyer answering."""
        return f"consultation-{self.id}"


class ConsultationFile(Model):
    """An attachment, from the person asking or from the lawyer (blob store by SHA-256)."""

    __tablename__ = "consultation_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(
        ForeignKey("consultations.id", ondelete="CASCADE"), index=True)
    sender: Mapped[str] = mapped_column(String(8))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(100))
    original_name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Message(Model):
    """A chat message. `client_id` (the sender's own id for it) makes a resend after a
    dropped connection land once; delivered_at / read_at are the receiver's marks."""

    __tablename__ = "consultation_messages"
    __table_args__ = (
        UniqueConstraint("consultation_id", "sender", "client_id",
                         name="uq_consultation_messages_client_id"),
        Index("ix_consultation_messages_consultation", "consultation_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True)
    consultation_id: Mapped[int] = mapped_column(
        ForeignKey("consultations.id", ondelete="CASCADE"))
    sender: Mapped[str] = mapped_column(String(8))
    sender_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text, default="")
    file_id: Mapped[int | None] = mapped_column(ForeignKey("consultation_files.id"))
    client_id: Mapped[str] = mapped_column(String(64))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LegalAidApplication(Model):
    """An application for legal aid filled from a consultation; the centre decides within
    7 days and assigns a lawyer within 3 (Legal Aid Law Art. 43); a limitation period
    ending within 7 days puts it first (Art. 44)."""

    __tablename__ = "legal_aid_applications"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id"), index=True)
    applicant_name: Mapped[str] = mapped_column(String(60))
    phone: Mapped[str | None] = mapped_column(EncryptedText())
    id_kind: Mapped[str] = mapped_column(String(20), default="resident_id")
    id_number: Mapped[str | None] = mapped_column(EncryptedText())
    matter: Mapped[str] = mapped_column(Text)
    #: why the applicant qualifies (financial hardship, a category of Art. 32, ...)
    grounds: Mapped[str] = mapped_column(Text, default="")
    #: when a limitation period ends, if soon
    limitation_ends_on: Mapped[date | None] = mapped_column(Date)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decide_by: Mapped[date] = mapped_column(Date)
    decision: Mapped[str] = mapped_column(String(16), default=AidDecision.PENDING)
    decision_note: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    assign_by: Mapped[date | None] = mapped_column(Date)
    assigned_lawyer: Mapped[str] = mapped_column(String(100), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    consultation = relationship(Consultation)


class CounselRecord(Model):
    """A lawyer recorded as counsel for a party on a case: checked against the lawyer's
    earlier consultations with that party (Lawyers Law Arts. 38-41)."""

    __tablename__ = "case_counsel"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    party_name: Mapped[str] = mapped_column(String(60))
    lawyer_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    #: a fee-paying engagement (legal aid is not)
    is_paid: Mapped[bool] = mapped_column(Boolean, default=True)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ConflictFlag(Model):
    """A lawyer's possible conflict: counsel for a party they advised in a consultation."""

    __tablename__ = "consultation_conflicts"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id"), index=True)
    counsel_id: Mapped[int] = mapped_column(ForeignKey("case_counsel.id"))
    lawyer_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    flagged_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resolved_note: Mapped[str] = mapped_column(Text, default="")
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
