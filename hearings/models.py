"""Public hearings (听证): the request, the hearing, its panel and participants, the
observers, the live state (stage, speakers), the minutes, the deliberation and the signed
record.

A hearing belongs to one case file. People on the panel come from the people registry
(`portal.people.models.Person`); everyone who takes part — presiding officer, clerk, panel,
parties, agency — is a `Participant` with a personal link (only its HMAC is stored), which
is how a person without an account answers the invitation, joins the live view, votes in
deliberation and signs the record."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
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


class HearingKind(LabelledStrEnum):
    RE_REVIEW = "re_review", _l("Re-review hearing")  # 复核听证
    PETITION = "petition", _l("Petition hearing")  # 信访事项听证
    MEDIATION = "mediation", _l("Mediation hearing")  # 调解听证


class HearingStatus(LabelledStrEnum):
    SCHEDULED = "scheduled", _l("Scheduled")  # 已排期, notice not yet out
    PUBLISHED = "published", _l("Notice published")  # 已公告
    RUNNING = "running", _l("In progress")  # 听证中
    SIGNING = "signing", _l("Awaiting signatures")  # 待签名
    FILED = "filed", _l("Filed")  # 已归档
    CANCELLED = "cancelled", _l("Cancelled")


#: a hearing still ahead or under way
OPEN_STATUSES = frozenset({HearingStatus.SCHEDULED, HearingStatus.PUBLISHED,
                           HearingStatus.RUNNING, HearingStatus.SIGNING})


class PlaceKind(LabelledStrEnum):
    ROOM = "room", _l("In a hearing room")
    ONLINE = "online", _l("Online only")
    BOTH = "both", _l("In a hearing room and online")


class ClosedReason(LabelledStrEnum):
    """Why a hearing is not public (then nothing of it is shown publicly)."""

    STATE_SECRET = "state_secret", _l("State secrets")
    BUSINESS_SECRET = "business_secret", _l("Business secrets")
    PRIVACY = "privacy", _l("Personal privacy")
    MINORS = "minors", _l("Concerns minors")


class RequestStatus(LabelledStrEnum):
    PENDING = "pending", _l("Awaiting decision")
    GRANTED = "granted", _l("Granted")
    REFUSED = "refused", _l("Refused")


class RequestChannel(LabelledStrEnum):
    QUERY_PAGE = "query_page", _l("On the query page")
    CLERK = "clerk", _l("Through the clerk")


class Stage(LabelledStrEnum):
    """The order of a hearing (DOMAIN.md)."""

    NOT_STARTED = "not_started", _l("Not started")
    OPENING = "opening", _l("Opening and recusal")  # 宣布开始、回避
    AGENCY_FACTS = "agency_facts", _l("Facts by the handling agency")
    PETITIONER = "petitioner", _l("Petitioner's statement")
    QUESTIONS = "questions", _l("Questions")
    CLOSING = "closing", _l("Closing statements")
    DELIBERATION = "deliberation", _l("Private deliberation")
    OPINION = "opinion", _l("Opinion")
    ENDED = "ended", _l("Ended")


#: stages in the order they are held
STAGE_ORDER: tuple[Stage, ...] = tuple(Stage)
#: stages for which the clerk writes minutes
MINUTES_STAGES: tuple[Stage, ...] = (Stage.OPENING, Stage.AGENCY_FACTS, Stage.PETITIONER,
                                     Stage.QUESTIONS, Stage.CLOSING, Stage.OPINION)


class ParticipantRole(LabelledStrEnum):
    PRESIDING = "presiding", _l("Presiding officer")  # 主持人
    CLERK = "clerk", _l("Hearing clerk")  # 书记员
    PANEL = "panel", _l("Panel member")  # 听证员
    PETITIONER = "petitioner", _l("Petitioner")  # 信访人
    PARTY = "party", _l("Other party")  # 其他当事人
    AGENCY = "agency", _l("Handling agency")  # 承办单位


class PanelKind(LabelledStrEnum):
    """The kinds of people a panel mixes (the people registry's kinds)."""

    DEPUTY = "deputy", _l("Deputy")
    CPPCC = "cppcc", _l("CPPCC member")
    EXPERT = "expert", _l("Expert")
    LAWYER = "lawyer", _l("Lawyer")


class PickedBy(LabelledStrEnum):
    DRAW = "draw", _l("Drawn")
    HAND = "hand", _l("Picked by the organiser")
    SUBSTITUTE = "substitute", _l("Substitute drawn")


class Rsvp(LabelledStrEnum):
    PENDING = "pending", _l("No answer yet")
    ACCEPTED = "accepted", _l("Accepted to take part")
    DECLINED = "declined", _l("Declined to take part")


class Attendance(LabelledStrEnum):
    ABSENT = "absent", _l("Not checked in")
    IN_ROOM = "in_room", _l("Present in the room")
    ONLINE = "online", _l("Present online")


class ObserverStatus(LabelledStrEnum):
    SEATED = "seated", _l("Seat confirmed")
    WAITLISTED = "waitlisted", _l("On the waiting list")
    CANCELLED = "cancelled", _l("Cancelled")


class Vote(LabelledStrEnum):
    UPHOLD = "uphold", _l("Support the petitioner's request")  # 支持
    PARTLY = "partly", _l("Support it in part")  # 部分支持
    REJECT = "reject", _l("Do not support it")  # 不支持


class SignatureStatus(LabelledStrEnum):
    SIGNED = "signed", _l("Signed")
    REFUSED = "refused", _l("Refused to sign")


class SignMethod(LabelledStrEnum):
    OWN_DEVICE = "own_device", _l("On their own device")
    TABLET = "tablet", _l("On the clerk's tablet")


class HearingRequest(Model):
    """A petitioner's request for a hearing (on the query page or through the clerk), and
    the office's written decision."""

    __tablename__ = "hearing_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"),
                                         index=True)
    channel: Mapped[str] = mapped_column(String(16))
    #: what the petitioner wants heard and why
    reason: Mapped[str] = mapped_column(Text)
    #: new evidence since an earlier hearing on the same facts (required for a second one)
    new_evidence: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default=RequestStatus.PENDING)
    #: the last day for the office's decision (hearings.rules: decide_days)
    decide_by: Mapped[date] = mapped_column(Date)
    #: the written decision the petitioner reads on the query page
    decision_text: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: the clerk who entered it (None: the petitioner on the query page)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    case = relationship("Case")


class Hearing(Model):
    __tablename__ = "hearings"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"),
                                         index=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("hearing_requests.id"))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=HearingStatus.SCHEDULED,
                                        index=True)
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    place_kind: Mapped[str] = mapped_column(String(8), default=PlaceKind.ROOM)
    #: the hearing room's name and address (empty when online only)
    place: Mapped[str] = mapped_column(String(200), default="")
    #: the office that holds the hearing (its clerks and leaders organise it)
    office_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    presiding_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    clerk_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    agenda: Mapped[str] = mapped_column(Text, default="")
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    #: ClosedReason when not public
    closed_reason: Mapped[str | None] = mapped_column(String(20))
    #: scheduled inside the notice period: allowed only with a reason (on the file)
    is_urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    urgent_reason: Mapped[str] = mapped_column(Text, default="")
    #: how many panel seats (odd, at least the rules' minimum)
    panel_size: Mapped[int] = mapped_column(Integer, default=5)
    #: observer seats (0: no registration)
    observer_seats: Mapped[int] = mapped_column(Integer, default=0)
    notice_published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: iCalendar UID (stable across updates) and SEQUENCE (raised at each change)
    ical_uid: Mapped[str] = mapped_column(String(100), unique=True)
    ical_sequence: Mapped[int] = mapped_column(Integer, default=0)
    #: the multi-party video room, when the hearing is (also) online
    video_room_id: Mapped[int | None] = mapped_column(ForeignKey("video_rooms.id"))
    #: the private deliberation's video room (panel and presiding officer only)
    deliberation_room_id: Mapped[int | None] = mapped_column(ForeignKey("video_rooms.id"))
    # live state -----------------------------------------------------------------
    stage: Mapped[str] = mapped_column(String(16), default=Stage.NOT_STARTED)
    stage_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: the panel's opinion, written by the presiding officer after the votes
    panel_opinion: Mapped[str] = mapped_column(Text, default="")
    filed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_reason: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    case = relationship("Case")
    office = relationship("Organisation", foreign_keys=[office_id])
    presiding = relationship("User", foreign_keys=[presiding_id])
    clerk = relationship("User", foreign_keys=[clerk_id])
    request = relationship(HearingRequest)
    participants: Mapped[list[Participant]] = relationship(
        back_populates="hearing", order_by="Participant.id", cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version}

    @property
    def room_key(self) -> str:
        """The Socket.IO room of everyone following this hearing live."""
        return f"hearing-{self.id}"

    @property
    def deliberation_key(self) -> str:
        """The Socket.IO room of the panel and presiding officer only."""
        return f"hearing-{self.id}-deliberation"


class Participant(Model):
    """Someone who takes part: presiding officer, clerk, a panel seat, a party, the agency.
    A panel seat that a member declined stays (is_active False) with the substitute after it."""

    __tablename__ = "hearing_participants"
    __table_args__ = (Index("ix_hearing_participants_hearing_role", "hearing_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hearing_id: Mapped[int] = mapped_column(ForeignKey("hearings.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    #: the case party a petitioner / party participant stands for
    party_id: Mapped[int | None] = mapped_column(ForeignKey("case_parties.id"))
    #: the agency an agency participant speaks for
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(EncryptedText())
    # panel seats ------------------------------------------------------------------
    #: PanelKind of a panel seat
    panel_kind: Mapped[str | None] = mapped_column(String(16))
    #: the seat number on the panel (1..panel_size); a substitute takes the same number
    seat_no: Mapped[int | None] = mapped_column(Integer)
    picked_by: Mapped[str | None] = mapped_column(String(16))
    #: why this person was picked (the draw's explanation, or the organiser's note)
    pick_reason: Mapped[str] = mapped_column(Text, default="")
    rsvp: Mapped[str] = mapped_column(String(16), default=Rsvp.PENDING)
    decline_reason: Mapped[str] = mapped_column(Text, default="")
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    invited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: reminders already sent, as a list of "3d" / "1d" / "manual:<iso>" keys
    reminders_sent: Mapped[list[Any]] = mapped_column(JSON, default=list)
    #: False once declined and replaced (kept for the record)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # the hearing itself -----------------------------------------------------------
    #: HMAC of the personal link (the token is sent once, by the invitation)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    attendance: Mapped[str] = mapped_column(String(16), default=Attendance.ABSENT)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: the party's answer to the recusal question at the opening
    recusal_answer: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    hearing: Mapped[Hearing] = relationship(back_populates="participants")
    person = relationship("Person")
    user = relationship("User")


class PanelDraw(Model):
    """One run of the draw (or of a substitute draw), with its explanation: who was
    chosen and why, who was passed over and why. Also recorded as a case event."""

    __tablename__ = "hearing_panel_draws"

    id: Mapped[int] = mapped_column(primary_key=True)
    hearing_id: Mapped[int] = mapped_column(ForeignKey("hearings.id", ondelete="CASCADE"),
                                            index=True)
    #: the seat re-drawn (substitute), or None for a whole panel
    seat_no: Mapped[int | None] = mapped_column(Integer)
    #: {"chosen": [{"person_id", "name", "kind", "field", "why"}],
    #:  "passed": [{"person_id", "name", "why"}], "mix": {...}}
    explanation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    drawn_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    drawn_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Observer(Model):
    """A member of the public registered to observe (旁听). Seated up to the hearing's
    observer_seats; after that waitlisted, promoted in order when a seat frees."""

    __tablename__ = "hearing_observers"
    __table_args__ = (
        # nobody registered twice for one hearing (a cancelled row is reused)
        UniqueConstraint("hearing_id", "id_number_hash", name="uq_hearing_observers_person"),
        Index("ix_hearing_observers_hearing_status", "hearing_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    hearing_id: Mapped[int] = mapped_column(ForeignKey("hearings.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(60))
    phone: Mapped[str] = mapped_column(EncryptedText())
    id_kind: Mapped[str] = mapped_column(String(20), default="resident_id")
    id_number: Mapped[str] = mapped_column(EncryptedText())
    id_number_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=ObserverStatus.SEATED)
    #: the order of the waiting list (and of registration)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    seated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: HMAC of the personal cancel link
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    locale: Mapped[str] = mapped_column(String(8), default="zh_CN")
    #: checked in at the door / joined the online view
    attended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Speaker(Model):
    """The speaker queue: one turn each, with its allotted time. The countdown is computed
    from started_at and seconds (server time), so every screen shows the same."""

    __tablename__ = "hearing_speakers"
    __table_args__ = (Index("ix_hearing_speakers_hearing", "hearing_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hearing_id: Mapped[int] = mapped_column(ForeignKey("hearings.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(ForeignKey("hearing_participants.id"))
    stage: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: seconds already used when paused (a paused turn has started_at None)
    used_seconds: Mapped[int] = mapped_column(Integer, default=0)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    participant = relationship(Participant)


class MinutesSection(Model):
    """The clerk's minutes of one stage; `version` guards concurrent saves (409)."""

    __tablename__ = "hearing_minutes"
    __table_args__ = (UniqueConstraint("hearing_id", "stage", name="uq_hearing_minutes_stage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hearing_id: Mapped[int] = mapped_column(ForeignKey("hearings.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DeliberationVote(Model):
    """A panel member's opinion and vote; nobody sees another's until all are in."""

    __tablename__ = "hearing_votes"
    __table_args__ = (UniqueConstraint("hearing_id", "participant_id",
                                       name="uq_hearing_votes_member"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hearing_id: Mapped[int] = mapped_column(ForeignKey("hearings.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(ForeignKey("hearing_participants.id"))
    vote: Mapped[str] = mapped_column(String(16))
    opinion: Mapped[str] = mapped_column(Text)
    cast_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    participant = relationship(Participant)


class RecordVersion(Model):
    """The minutes frozen for signing: the text as shown, and its SHA-256. `kind` is
    "record" (the hearing record) or "deliberation" (the deliberation record)."""

    __tablename__ = "hearing_record_versions"
    __table_args__ = (UniqueConstraint("hearing_id", "kind", "number",
                                       name="uq_hearing_record_versions_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    hearing_id: Mapped[int] = mapped_column(ForeignKey("hearings.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16), default="record")
    number: Mapped[int] = mapped_column(Integer, default=1)
    text: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    frozen_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    frozen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Signature(Model):
    """A participant's signature on a frozen record version, or their refusal with its
    reason (a refusal never blocks filing)."""

    __tablename__ = "hearing_signatures"
    __table_args__ = (UniqueConstraint("record_version_id", "participant_id",
                                       name="uq_hearing_signatures_signer"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_version_id: Mapped[int] = mapped_column(
        ForeignKey("hearing_record_versions.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(ForeignKey("hearing_participants.id"))
    status: Mapped[str] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(16))
    #: the drawn signature as PNG bytes' SHA-256 in the blob store (None for a refusal)
    image_sha256: Mapped[str | None] = mapped_column(String(64))
    refusal_reason: Mapped[str] = mapped_column(Text, default="")
    #: the name the signer confirmed, and who held the tablet
    signer_name: Mapped[str] = mapped_column(String(100))
    witnessed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    participant = relationship(Participant)
