"""What the petitioner sees and does with a query code (查询码), without an account: the
short-lived page token (itsdangerous, bound to the case and its current code hash, so a
reissued code ends it), the steps of the case and the documents meant for them, and the
satisfaction rating. The public pages are in public_blueprint.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask import current_app
from flask_babel import LazyString
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from portal.casefiles import deadlines as dl
from portal.casefiles.clocks import CaseClock, china_day, current_clock
from portal.casefiles.models import Case, CaseEvent, Document
from portal.casefiles.timeline import append_event, lock_case, payload_of
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.orgs.models import Organisation

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


# ---------------------------------------------------------------- what the petitioner needs

#: what the petitioner waits for while an office clock runs, by clock kind
NEXT_ANSWER_LABELS: dict[dl.ClockKind, LazyString] = {
    dl.ClockKind.ACCEPT: _l("A decision on whether your petition is accepted"),
    dl.ClockKind.REPLY: _l("A written reply"),
    dl.ClockKind.URGENT: _l("A written reply"),
    dl.ClockKind.SIMPLE: _l("A written reply"),
    dl.ClockKind.REVIEW: _l("The review decision"),
    dl.ClockKind.REREVIEW: _l("The re-review decision"),
}

#: the written answers a petitioner receives, by event kind
ANSWER_LABELS: dict[str, LazyString] = {
    "workflow.reply": _l("Written reply"),
    "workflow.decide_review": _l("Review decision"),
    "workflow.decide_re_review": _l("Re-review decision"),
}
#: the state an answer leaves the case in; a reply returned from it was withdrawn
_ANSWERED_STATE = {"workflow.reply": "replied", "workflow.decide_review": "reviewed",
                   "workflow.decide_re_review": "re_reviewed"}


@dataclass(frozen=True)
class NextAnswer:
    """The answer the petitioner waits for and the day it is due by law."""

    label: LazyString
    due: date
    is_paused: bool
    is_late: bool


@dataclass(frozen=True)
class Answer:
    label: LazyString
    on: date
    text: str


@dataclass(frozen=True)
class ReviewRight:
    """The petitioner's right to ask for a review (复查) after the reply, or a re-review
    (复核) after the review: until when, and whether it was used."""

    is_rereview: bool
    due: date
    asked_on: date | None
    is_open: bool


def next_answer(case: Case, clocks: list[CaseClock]) -> NextAnswer | None:
    """From the office clock running now (clocks.current_clock): what comes next, by when.
    Paused as the case says (`is_clock_paused`), also on the day the pause began, which
    the clock itself counts only from the next day."""
    clock = current_clock(clocks)
    if clock is None or clock.state.kind not in NEXT_ANSWER_LABELS:
        return None
    state = clock.state
    paused = state.paused_since is not None or bool(case.is_clock_paused)
    return NextAnswer(NEXT_ANSWER_LABELS[state.kind], state.due, is_paused=paused,
                      is_late=not paused and state.status == dl.ClockStatus.OVERDUE)


def answers(case: Case) -> list[Answer]:
    """The written reply and the review decisions with their text, the latest of each kind,
    leaving out a reply the office withdrew (退回) after it was given."""
    events = db.session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id,
                                CaseEvent.kind.in_([*ANSWER_LABELS, "workflow.return_reply"]))
        .order_by(CaseEvent.seq))
    latest: dict[str, CaseEvent | None] = {}
    for e in events:
        if e.kind in ANSWER_LABELS:
            latest[e.kind] = e
        elif e.kind == "workflow.return_reply":
            source = payload_of(e).get("from")
            for kind, state in _ANSWERED_STATE.items():
                if state == source:
                    latest[kind] = None
    out = []
    for kind in ANSWER_LABELS:
        given = latest.get(kind)
        if given is None:
            continue
        payload = payload_of(given)
        text = payload.get("text") or payload.get("reason") or ""
        out.append(Answer(ANSWER_LABELS[kind], china_day(given.at), str(text).strip()))
    return out


def review_right(case: Case, clocks: list[CaseClock]) -> ReviewRight | None:
    """The latest of the petitioner's windows (review after the reply, re-review after the
    review); None before a reply and once the re-review is decided (then `case.is_final`)."""
    if case.is_final:
        return None
    for clock in reversed(clocks):
        kind = clock.state.kind
        if kind in (dl.ClockKind.REVIEW_REQUEST, dl.ClockKind.REREVIEW_REQUEST):
            state = clock.state
            return ReviewRight(is_rereview=kind == dl.ClockKind.REREVIEW_REQUEST,
                               due=state.due, asked_on=state.stopped_on,
                               is_open=state.stopped_on is None
                               and state.status != dl.ClockStatus.OVERDUE)
    return None


def office_of(case: Case) -> Organisation | None:
    return db.session.get(Organisation, case.office_id)
