"""Registries of people who are not necessarily users: deputies, CPPCC members,
village representatives, the expert pool, lawyers and mediators."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.crypto import EncryptedText
from portal.enums import LabelledStrEnum, labels
from portal.extensions import Model
from portal.i18n import lazy_gettext as _l
from portal.orgs.models import Organisation
from portal.timeutil import UTCDateTime, utcnow


class PersonKind(LabelledStrEnum):
    DEPUTY = "deputy", _l("Deputy to the People's Congress")  # 人大代表
    CPPCC = "cppcc", _l("CPPCC member")  # 政协委员
    VILLAGE_REP = "village_rep", _l("Village representative")  # 村民代表
    EXPERT = "expert", _l("Expert")  # 专家库成员
    LAWYER = "lawyer", _l("Lawyer")  # 律师
    MEDIATOR = "mediator", _l("Mediator")  # 人民调解员


class ExpertField(LabelledStrEnum):
    EDUCATION = "education", _l("Education")
    JUDICIAL = "judicial", _l("Judicial")
    ENVIRONMENT = "environment", _l("Environment")
    MEDICAL = "medical", _l("Medical")
    LAND = "land", _l("Land")
    LABOUR = "labour", _l("Labour")
    CONSTRUCTION = "construction", _l("Construction")
    FINANCE = "finance", _l("Finance")
    PSYCHOLOGY = "psychology", _l("Psychology")
    AGRICULTURE = "agriculture", _l("Agriculture")


class MediatorKind(LabelledStrEnum):
    COMMITTEE_MEMBER = "committee_member", _l("Committee member")  # 调委会委员
    GRID_WORKER = "grid_worker", _l("Grid worker")  # 网格员
    ELDER = "elder", _l("Respected elder (五老)")  # 五老
    VOLUNTEER = "volunteer", _l("Volunteer")  # 志愿者


KIND_LABELS = labels(PersonKind)

FIELD_LABELS = labels(ExpertField)

MEDIATOR_KIND_LABELS = labels(MediatorKind)


class Person(Model):
    __tablename__ = "people"
    __table_args__ = (
        UniqueConstraint("lawyer_licence_no", name="uq_people_lawyer_licence_no"),
        Index("ix_people_kind_active_name", "kind", "is_active", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(60), index=True)
    gender: Mapped[str | None] = mapped_column(String(10))
    #: job title or position (职务/职称)
    title: Mapped[str | None] = mapped_column(String(100))
    #: where the person works, as free text (工作单位)
    employer: Mapped[str | None] = mapped_column(String(120))
    #: the committee of a mediator, the village of a representative, the township otherwise
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    #: mobile number, encrypted at rest; shown masked
    phone: Mapped[str | None] = mapped_column(EncryptedText)
    email: Mapped[str | None] = mapped_column(String(254))
    address: Mapped[str | None] = mapped_column(String(200))
    #: free text: days or hours when the person can usually serve
    availability: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    expert_field: Mapped[str | None] = mapped_column(String(32), index=True)
    lawyer_firm: Mapped[str | None] = mapped_column(String(120))
    lawyer_licence_no: Mapped[str | None] = mapped_column(String(40))
    mediator_kind: Mapped[str | None] = mapped_column(String(32))
    #: the login account, when the person has one
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    notes: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    organisation: Mapped[Organisation | None] = relationship(lazy="joined")
    affiliations: Mapped[list[Affiliation]] = relationship(
        back_populates="person", cascade="all, delete-orphan", order_by="Affiliation.id"
    )

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<Person {self.kind} {self.name}>"


class Affiliation(Model):
    """A tie the person declared (employer, relative, client, shareholding...),
    checked later for conflicts when panels are composed."""

    __tablename__ = "person_affiliations"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"),
                                           index=True)
    #: the organisation, when it is one the portal knows
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    #: how the person is tied to it, as they declared it
    relation: Mapped[str | None] = mapped_column(String(60))
    person: Mapped[Person] = relationship(back_populates="affiliations")
