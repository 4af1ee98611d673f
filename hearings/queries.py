"""The lists of the hearings pages and the home panel, each filtered by what the user may
see (hearings.permissions)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, contains_eager

from hearings import permissions as perm
from hearings.models import Hearing, HearingRequest, HearingStatus, RequestStatus
from portal.casefiles.models import Case
from portal.timeutil import utcnow

UPCOMING = (HearingStatus.SCHEDULED, HearingStatus.PUBLISHED)


def hearings_stmt(user: Any, status: str = "") -> Select[Any]:
    stmt = (select(Hearing).join(Case, Case.id == Hearing.case_id)
            .where(perm.visible_hearings(user)))
    if status in {str(s) for s in HearingStatus}:
        stmt = stmt.where(Hearing.status == status)
    return stmt.order_by(Hearing.starts_at.desc(), Hearing.id.desc())


def requests_stmt(user: Any, show: str = "pending") -> Select[Any]:
    stmt = (select(HearingRequest).join(Case, Case.id == HearingRequest.case_id)
            .where(perm.visible_requests(user))
            .options(contains_eager(HearingRequest.case)))  # each row shows its case number
    if show != "all":
        stmt = stmt.where(HearingRequest.status == RequestStatus.PENDING)
        return stmt.order_by(HearingRequest.decide_by, HearingRequest.id)
    return stmt.order_by(HearingRequest.id.desc())


def upcoming(session: Session, user: Any, limit: int = 10) -> list[Hearing]:
    return list(session.scalars(
        select(Hearing).join(Case, Case.id == Hearing.case_id)
        .where(perm.visible_hearings(user), Hearing.status.in_([str(s) for s in UPCOMING]),
               Hearing.ends_at >= utcnow())
        .order_by(Hearing.starts_at).limit(limit)))


def hearings_of_case(session: Session, case: Case) -> list[Hearing]:
    return list(session.scalars(select(Hearing).where(Hearing.case_id == case.id)
                                .order_by(Hearing.starts_at)))


def find_case(session: Session, number: str) -> Case | None:
    number = (number or "").strip().upper()
    if not number:
        return None
    return session.scalar(select(Case).where(Case.number == number))
