"""Helpers of the outcome tests (no tests here): a lawyer on duty with an account and a
consultation they are answering."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portal.auth.models import User
from portal.timeutil import utcnow
from tests.fixtures.consultations import duty_week, lawyers, new_consultation


@dataclass
class Taken:
    lawyer: Any  # registry Person
    user: User  # the lawyer's account
    consultation: Any
    token: str


def taken(session: Any, world: Any, make_user: Any, **fields: Any) -> Taken:
    """An online consultation the duty lawyer has taken (ACTIVE) unless `fields` say
    otherwise; a duty week for this Monday is made once per test."""
    from consultations.models import DutyWeek
    from tests.fixtures.consultations import this_monday

    lawyer = lawyers(session, world, 1, make_user=make_user)[0]
    week = session.query(DutyWeek).filter_by(week_start=this_monday()).first() \
        or duty_week(session, lawyer)
    values: dict[str, Any] = {"status": "active", "lawyer_id": lawyer.id,
                              "lawyer_user_id": lawyer.user_id, "duty_week_id": week.id,
                              "taken_at": utcnow()}
    values.update(fields)
    consultation, token = new_consultation(session, **values)
    return Taken(lawyer, session.get(User, lawyer.user_id), consultation, token)


def close_data(**fields: Any) -> dict[str, Any]:
    data = {"outcome": "answered", "answer": "可以向劳动人事争议仲裁委员会申请仲裁。",
            "declared": "y"}
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}
