"""The shared case file (一事一档): the case, its parties, the hash-chained timeline,
documents with content-addressed versions, access grants to agencies, assignments
(交办/转办) and the log of every read of restricted material."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

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
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.crypto import EncryptedText
from portal.enums import LabelledStrEnum, labels
from portal.extensions import Model
from portal.i18n import lazy_gettext as _l
from portal.timeutil import UTCDateTime, utcnow


class Status(LabelledStrEnum):
    REGISTERED = "registered", _l("Registered")  # 登记
    ACCEPTED = "accepted", _l("Accepted")  # 受理
    NOT_ACCEPTED = "not_accepted", _l("Not accepted")  # 不予受理
    ASSIGNED = "assigned", _l("Assigned")  # 交办/转办
    INVESTIGATING = "investigating", _l("Under investigation")  # 调查
    #: a reply written by the agency or the office, waiting for the responsible leader
    REPLY_SUBMITTED = "reply_submitted", _l("Reply awaiting sign-off")  # 答复待审签
    REPLIED = "replied", _l("Replied")  # 答复
    REVIEW_REQUESTED = "review_requested", _l("Review requested")  # 申请复查
    REVIEWED = "reviewed", _l("Reviewed")  # 复查
    RE_REVIEW_REQUESTED = "re_review_requested", _l("Re-review requested")  # 申请复核
    RE_REVIEWED = "re_reviewed", _l("Re-reviewed")  # 复核 (三级终结)
    CLOSED = "closed", _l("Closed")  # 终结/结案
    ARCHIVED = "archived", _l("Archived")  # 归档


STATUS_LABELS = labels(Status)


class Channel(LabelledStrEnum):
    WALK_IN = "walk_in", _l("Walk-in visit")  # 来访
    LETTER = "letter", _l("Letter")  # 来信
    PHONE = "phone", _l("Phone call")  # 来电
    ONLINE = "online", _l("Online")  # 网上信访
    VIDEO = "video", _l("Video reception")  # 视频接访


CHANNEL_LABELS = labels(Channel)


class CaseKind(LabelledStrEnum):
    """Kinds of matter offered at registration (stored as the value; free text is allowed,
    so `Case.kind` is not always one of these)."""

    LAND = "land", _l("Land and contracted land")
    DEMOLITION = "demolition", _l("Requisition and demolition")
    LABOUR = "labour", _l("Labour and wages")
    SOCIAL_SECURITY = "social_security", _l("Social security")
    HOUSING = "housing", _l("Housing and property")
    ENVIRONMENT = "environment", _l("Environment")
    LAW_LITIGATION = "law_litigation", _l("Law and litigation")
    PUBLIC_SECURITY = "public_security", _l("Public security")
    VILLAGE_AFFAIRS = "village_affairs", _l("Village affairs")
    CIVIL_AFFAIRS = "civil_affairs", _l("Civil affairs")  # 民政: 低保, 救助
    HEALTH = "health", _l("Health")
    EDUCATION = "education", _l("Education")
    OTHER = "other", _l("Other")


class DocumentKind(LabelledStrEnum):
    LETTER = "letter", _l("Letter or petition")
    EVIDENCE = "evidence", _l("Evidence")
    REPLY = "reply", _l("Reply")
    NOTICE = "notice", _l("Written notice")
    RECORD = "record", _l("Record")
    RECORDING = "recording", _l("Recording")
    #: read by the registering office only, never by a grant holder (a deliberation record)
    CONFIDENTIAL = "confidential", _l("Confidential (office only)")
    OTHER = "other", _l("Other")


class PartyRole(StrEnum):
    PETITIONER = "petitioner"  # 信访人
    OTHER = "other"            # 其他当事人


class GrantLevel(LabelledStrEnum):
    VIEW = "view", _l("View")
    CONTRIBUTE = "contribute", _l("Contribute")
    MANAGE = "manage", _l("Manage")  #: grant levels in increasing order of power
GRANT_RANK = {GrantLevel.VIEW: 1, GrantLevel.CONTRIBUTE: 2, GrantLevel.MANAGE: 3}

GRANT_LABELS = labels(GrantLevel)


class AssignmentStatus(StrEnum):
    OPEN = "open"          # with the agency
    REPLIED = "replied"    # the lead agency replied
    DECLINED = "declined"  # the agency objected: not its matter
    WITHDRAWN = "withdrawn"


class AccessAction(StrEnum):
    VIEW_CASE = "view_case"
    VIEW_DOCUMENT = "view_document"
    UNMASK_ID = "unmask_id"
    UNMASK_PHONE = "unmask_phone"
    EXPORT = "export"


class CaseNumberCounter(Model):
    """The last case number handed out in a year; bumped in one atomic statement."""

    __tablename__ = "case_number_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Case(Model):
    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: readable and unique, e.g. 2026-XF-000123
    number: Mapped[str] = mapped_column(String(20), unique=True)
    status: Mapped[str] = mapped_column(String(32), default=Status.REGISTERED, index=True)
    channel: Mapped[str] = mapped_column(String(16))
    #: kind of matter (land, labour, housing, ...): free text chosen from a list in the form
    kind: Mapped[str] = mapped_column(String(40), index=True)
    summary: Mapped[str] = mapped_column(Text)
    township_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT"), index=True)
    village_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT"), index=True)
    #: 急案: shortens the clocks (see deadlines.py); it does not change the states
    is_urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    #: 简易办理: the office may reply directly after acceptance
    is_simple: Mapped[bool] = mapped_column(Boolean, default=False)
    #: 三级终结: set when the re-review is decided; the same facts are not accepted again
    is_final: Mapped[bool] = mapped_column(Boolean, default=False)
    #: 包案领导: the one leader responsible for the case, and their plan
    leader_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    leader_plan: Mapped[str | None] = mapped_column(Text)
    #: the petition office that registered the case; its staff see the whole file
    office_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT"), index=True)
    #: HMAC of the 查询码; the code itself is shown once and never stored
    query_code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: when the petition reached the office (a letter may arrive before it is registered)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"))
    #: the due date of the office clock running now (clocks.current_clock), kept up to date
    #: by portal/casefiles/due.py whenever the clocks change; None when no office clock
    #: runs. While the clock is paused it is the due date as of the last change.
    clock_due_on: Mapped[date | None] = mapped_column(Date, index=True)
    #: whether that clock is paused now (a hearing, an appraisal): then it is not overdue
    is_clock_paused: Mapped[bool] = mapped_column(Boolean, default=False,
                                                  server_default=false())
    #: the timeline's head: how many events the case has and the newest one's hash, written
    #: by timeline.append_event in the same flush as the event (never through the ORM, so
    #: `version` is not bumped); `casefile verify` finds a cut-off timeline by them
    event_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    head_hash: Mapped[str] = mapped_column(String(64), default="0" * 64,
                                           server_default="0" * 64)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    parties: Mapped[list[Party]] = relationship(
        back_populates="case", order_by="Party.id", lazy="selectin")
    grants: Mapped[list[AccessGrant]] = relationship(
        back_populates="case", order_by="AccessGrant.id", lazy="selectin")
    assignments: Mapped[list[Assignment]] = relationship(
        back_populates="case", order_by="Assignment.id", lazy="selectin")
    documents: Mapped[list[Document]] = relationship(
        back_populates="case", order_by="Document.id")

    __mapper_args__ = {"version_id_col": version}

    @property
    def petitioners(self) -> list[Party]:
        return [p for p in self.parties if p.role == PartyRole.PETITIONER]

    @property
    def lead_assignment(self) -> Assignment | None:
        for a in self.assignments:
            if a.is_lead and a.status in (AssignmentStatus.OPEN, AssignmentStatus.REPLIED):
                return a
        return None

    def __repr__(self) -> str:
        return f"<Case {self.number} {self.status}>"


class Party(Model):
    __tablename__ = "case_parties"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16), default=PartyRole.PETITIONER)
    name: Mapped[str] = mapped_column(String(60), index=True)
    #: the kind of identity document (portal.identity.IdKind): resident ID by default
    id_kind: Mapped[str] = mapped_column(String(20), default="resident_id",
                                         server_default="resident_id")
    #: the document's number (checked for its kind), encrypted at rest; shown masked,
    #: every unmasked view logged
    id_number: Mapped[str | None] = mapped_column(EncryptedText)
    #: keyed hash of the ID number, for the duplicate check
    id_number_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    phone: Mapped[str | None] = mapped_column(EncryptedText)
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    address: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship(back_populates="parties")


class CaseEvent(Model):
    """One step on the timeline. Append-only (database triggers refuse UPDATE and
    DELETE); hash = sha256(prev_hash + canonical JSON), see timeline.py."""

    __tablename__ = "case_events"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_case_events_case_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"))
    #: 1, 2, 3, ... within the case
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: canonical JSON of the event's data; never personal numbers in clear
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Document(Model):
    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    #: letter, reply, evidence, recording, record, notice, ...
    kind: Mapped[str] = mapped_column(String(32), default="other")
    #: every read of a restricted document is logged
    is_restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    #: a written notice the petitioner sees with the query code
    is_for_petitioner: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship(back_populates="documents")
    versions: Mapped[list[DocumentVersion]] = relationship(
        back_populates="document", order_by="DocumentVersion.version", lazy="selectin")

    @property
    def current(self) -> DocumentVersion | None:
        return self.versions[-1] if self.versions else None


class DocumentVersion(Model):
    """One stored content of a document; a new upload is a new version, never a replacement."""

    __tablename__ = "document_versions"
    __table_args__ = (
        UniqueConstraint("document_id", "version", name="uq_document_versions_document_version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="RESTRICT"))
    version: Mapped[int] = mapped_column(Integer)
    #: the blob's name under PORTAL_DATA_DIR/blobs (content-addressed)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(100))
    original_name: Mapped[str] = mapped_column(String(255))
    uploaded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="RESTRICT"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    document: Mapped[Document] = relationship(back_populates="versions")


class AccessGrant(Model):
    """An organisation's access to one case file, at one level."""

    __tablename__ = "access_grants"
    __table_args__ = (
        UniqueConstraint("case_id", "organisation_id", name="uq_access_grants_case_org"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    level: Mapped[str] = mapped_column(String(16))
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship(back_populates="grants")


class Assignment(Model):
    """交办/转办: the case handed to an agency, with a letter and a due date."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT"), index=True)
    #: the lead agency (主办) investigates and replies; the others co-operate (协办)
    is_lead: Mapped[bool] = mapped_column(Boolean, default=False)
    due_on: Mapped[date | None] = mapped_column(Date)
    #: the assignment letter (交办函)
    letter: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=AssignmentStatus.OPEN)
    assigned_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship(back_populates="assignments")


class AccessLog(Model):
    """Who read a restricted file or unmasked a personal number, and when: in a case file
    (case_id, with document_id or party_id) or in the people registries (person_id)."""

    __tablename__ = "access_logs"
    __table_args__ = (Index("ix_access_logs_case_at", "case_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id",
                                                               ondelete="CASCADE"))
    party_id: Mapped[int | None] = mapped_column(ForeignKey("case_parties.id",
                                                            ondelete="CASCADE"))
    #: a person of the registries (portal/people) whose number was unmasked; no case then
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"),
                                                  index=True)
    #: AccessAction
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IssuedDocument(Model):
    """A document the portal issued (a hearing record, a mediation agreement...), known by
    the SHA-256 of its exact bytes: the public /verify/<hash> page says whether the portal
    issued it and when, and nothing else."""

    __tablename__ = "issued_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    #: what it is, in general words safe to show publicly ("hearing record")
    kind: Mapped[str] = mapped_column(String(32))
    #: the case it belongs to (never shown publicly)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="RESTRICT"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
