"""What the petitioner sees and does with a query code (查询码), without an account: the
short-lived page token (itsdangerous, bound to the case and its current code hash, so a
reissued code ends it), the steps of the case and the documents meant for them, and the
satisfaction rating. The public pages are in public_blueprint.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from flask_babel import LazyString
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from portal.casefiles.clocks import china_day
from portal.casefiles.models import Case, CaseEvent, Document
from portal.casefiles.timeline import append_event, lock_case, payload_of
from portal.extensions import db
from portal.i18n import lazy_gettext as _l

#: how long the page's token for downloads and rating stays valid
TOKEN_SECONDS = 30 * 60
TOKEN_SALT = "portal.casefiles.query"
SATISFACTION = "satisfaction"


class Rating:
    SATISFIED = "satisfied"                      # 满意
    BASICALLY_SATISFIED = "basically_satisfied"  # 基本满意
    UNSATISFIED = "unsatisfied"                  # 不满意


RATING_LABELS: dict[str, LazyString] = {
    Rating.SATISFIED: _l("Satisfied"),
    Rating.BASICALLY_SATISFIED: _l("Basically satisfied"),
    Rating.UNSATISFIED: _l("Not satisfied"),
}

#: the steps a petitioner sees, by event kind; every other event stays inside the office
STEP_LABELS: dict[str, LazyString] = {
    "case.registered": _l("Your petition was registered"),
    "workflow.accept": _l("Accepted for handling"),
    "workflow.not_accept": _l("Not accepted (see the written notice)"),
    "workflow.assign": _l("Sent to the body that handles it"),
    "workflow.start_investigation": _l("Investigation started"),
    "workflow.extend": _l("Time limit extended"),
    "clock.paused": _l("Time limit paused (for example for a hearing or an appraisal)"),
    "clock.resumed": _l("Time limit running again"),
    "workflow.reply": _l("Written reply given"),
    "workflow.request_review": _l("Your request for review was recorded"),
    "workflow.decide_review": _l("Review decided"),
    "workflow.request_re_review": _l("Your request for re-review was recorded"),
    "workflow.decide_re_review": _l("Re-review decided (final)"),
    "workflow.close": _l("Case closed"),
    SATISFACTION: _l("You rated the handling"),
}


@dataclass(frozen=True)
class Step:
    label: LazyString | str
    on: Any
    detail: str = ""


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key or "", salt=TOKEN_SALT)


def make_token(case: Case) -> str:
    return _serializer().dumps({"c": case.id, "h": case.query_code_hash[:16]})


def case_from_token(token: str) -> Case | None:
    """The case a page token was made for, while it is fresh and the code unchanged."""
    try:
        data = _serializer().loads(token or "", max_age=TOKEN_SECONDS)
    except BadSignature:  # also SignatureExpired
        return None
    if not isinstance(data, dict) or not isinstance(data.get("c"), int):
        return None
    case = db.session.get(Case, data["c"])
    if case is None or case.query_code_hash[:16] != data.get("h"):
        return None
    return case


def petitioner_events(case: Case) -> list[CaseEvent]:
    return list(db.session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id,
                                CaseEvent.kind.in_(list(STEP_LABELS)))
        .order_by(CaseEvent.seq)))


def petitioner_steps(events: list[CaseEvent]) -> list[Step]:
    """The steps with their dates (China time), and only harmless details."""
    steps = []
    for e in events:
        detail = ""
        if e.kind == "workflow.extend":
            days = payload_of(e).get("days")
            if isinstance(days, int):
                detail = _("by %(n)d days", n=days)
        elif e.kind == SATISFACTION:
            label = RATING_LABELS.get(str(payload_of(e).get("rating")))
            detail = str(label) if label else ""
        steps.append(Step(STEP_LABELS[e.kind], china_day(e.at), detail))
    return steps


def petitioner_documents(case: Case) -> list[Document]:
    return list(db.session.scalars(
        select(Document).where(Document.case_id == case.id,
                               Document.is_for_petitioner.is_(True))
        .order_by(Document.created_at, Document.id)))


def may_rate(events: list[CaseEvent]) -> bool:
    kinds = {e.kind for e in events}
    return "workflow.reply" in kinds and SATISFACTION not in kinds


def record_satisfaction(session: Any, case: Case, rating: str,
                        at: datetime | None = None) -> bool:
    """Append the petitioner's rating once a reply is given, once; False otherwise.
    Flushes, never commits."""
    if rating not in RATING_LABELS:
        return False
    lock_case(session, case)  # two posts at once: the second sees the first's event
    kinds = set(session.scalars(select(CaseEvent.kind).where(
        CaseEvent.case_id == case.id,
        CaseEvent.kind.in_(["workflow.reply", SATISFACTION]))))
    if "workflow.reply" not in kinds or SATISFACTION in kinds:
        return False
    append_event(session, case, SATISFACTION, None,
                 {"rating": rating, "channel": "query_code"})
    return True
