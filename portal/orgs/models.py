"""Organisations: the county, townships and villages, agencies, mediation committees."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.enums import LabelledStrEnum, labels
from portal.extensions import Model
from portal.i18n import lazy_gettext as _l
from portal.timeutil import UTCDateTime, utcnow


class OrgKind(LabelledStrEnum):
    COUNTY = "county", _l("County")
    TOWNSHIP = "township", _l("Township")
    VILLAGE = "village", _l("Village")
    AGENCY = "agency", _l("Agency")
    COMMITTEE = "committee", _l("Mediation committee")  # 人民调解委员会


class Sector(LabelledStrEnum):
    """What an agency does; used to route cases and to pick experts' fields."""

    PETITION = "petition", _l("Petition bureau")  # 信访局
    POLICE = "police", _l("Police")  # 公安
    PROCURATORATE = "procuratorate", _l("Procuratorate")
    COURT = "court", _l("Court")
    JUSTICE = "justice", _l("Justice bureau")  # 司法局
    LAND = "land", _l("Land and resources")  # 自然资源
    LABOUR = "labour", _l("Human resources and social security")  # 人社
    HOUSING = "housing", _l("Housing and construction")
    CIVIL_AFFAIRS = "civil_affairs", _l("Civil affairs")
    ENVIRONMENT = "environment", _l("Ecology and environment")
    HEALTH = "health", _l("Health")
    EDUCATION = "education", _l("Education")
    OTHER = "other", _l("Other")


ORG_KIND_LABELS = labels(OrgKind)

SECTOR_LABELS = labels(Sector)

#: which kinds may sit under which parent kind
ALLOWED_PARENTS = {
    OrgKind.COUNTY: set(),
    OrgKind.TOWNSHIP: {OrgKind.COUNTY},
    OrgKind.VILLAGE: {OrgKind.TOWNSHIP},
    OrgKind.AGENCY: {OrgKind.COUNTY, OrgKind.TOWNSHIP},
    OrgKind.COMMITTEE: {OrgKind.TOWNSHIP, OrgKind.VILLAGE, OrgKind.COUNTY},
}


class Organisation(Model):
    __tablename__ = "organisations"
    __table_args__ = (UniqueConstraint("parent_id", "name", name="uq_organisations_parent_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), index=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    #: for agencies: what they handle (Sector)
    sector: Mapped[str | None] = mapped_column(String(32))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT"), index=True
    )
    #: the administrative division code, where one exists
    code: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    parent: Mapped[Organisation | None] = relationship(remote_side=[id], lazy="joined",
                                                       join_depth=2)

    __mapper_args__ = {"version_id_col": version}

    @property
    def full_name(self) -> str:
        names = [self.name]
        node = self.parent
        while node is not None and node.kind != OrgKind.COUNTY:
            names.append(node.name)
            node = node.parent
        return " / ".join(reversed(names))

    def __repr__(self) -> str:
        return f"<Organisation {self.kind} {self.name}>"
