"""A petitioner's request for a hearing and the office's written decision.

A request comes from the query page (the petitioner, no account: `actor` None) or through
the clerk. It is refused, and nothing stored, while another request on the case awaits its
decision, and — without new evidence — when an earlier request was granted or a hearing
was held on the case (no second hearing on the same facts, DOMAIN.md). The office decides
by `decide_by` (hearings.rules: decide_days in calendar or working days). Both the request
and the decision are events on the case file; the decision's text is what the petitioner
reads on the query page. Flushes, never commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from hearings.models import (
    Hearing,
    HearingRequest,
    HearingStatus,
    RequestChannel,
    RequestStatus,
)
from hearings.rules import add_days, rules
from portal.casefiles import operations as case_ops
from portal.casefiles import permissions as case_perm
from portal.casefiles.clocks import today_in_china
from portal.casefiles.models import Case, Status
from portal.casefiles.timeline import append_event, lock_case
from portal.errors import DomainError, NotAllowed
from portal.i18n import lazy_gettext as _l
from portal.timeutil import utcnow

REQUESTED = "hearing_requested"
DECIDED = "hearing_request_decided"

#: longest reason / evidence / decision text kept
MAX_TEXT = 4000

#: hearings that count as "held" for the no-second-hearing rule
HELD_STATUSES = (HearingStatus.RUNNING, HearingStatus.SIGNING, HearingStatus.FILED)


class RequestRefused(DomainError):
    """The request cannot be taken (or decided) as asked."""


def decide_by_for(day: date) -> date:
    """The last day for the office's decision on a request made on `day`."""
    r = rules()
    return add_days(day, r.decide_days, r.decide_unit)


def earlier_hearing_reason(session: Session, case: Case) -> str | None:
    """Why a request on `case` needs new evidence, or None."""
    held = session.scalar(select(Hearing.id).where(
        Hearing.case_id == case.id, Hearing.status.in_([str(s) for s in HELD_STATUSES]))
        .limit(1))
    if held is not None:
        return str(_l("A hearing was already held on this case."))
    granted = session.scalar(select(HearingRequest.id).where(
        HearingRequest.case_id == case.id,
        HearingRequest.status == RequestStatus.GRANTED).limit(1))
    if granted is not None:
        return str(_l("An earlier request for a hearing on this case was granted."))
    return None


def check_may_request(session: Session, case: Case, new_evidence: str) -> None:
    """Raise RequestRefused with the reason a new request on `case` is not taken."""
    if case.status in (Status.ARCHIVED, Status.CLOSED):
        raise RequestRefused(_l("This case is closed; a hearing can no longer be asked "
                                "for on it."))
    pending = session.scalar(select(HearingRequest.id).where(
        HearingRequest.case_id == case.id,
        HearingRequest.status == RequestStatus.PENDING).limit(1))
    if pending is not None:
        raise RequestRefused(_l("A request for a hearing on this case already awaits the "
                                "office's decision."))
    earlier = earlier_hearing_reason(session, case)
    if earlier and not new_evidence.strip():
        raise RequestRefused(_l("%(why)s A second hearing on the same facts is held only "
                                "with new evidence: describe the new evidence.", why=earlier))


def request_hearing(session: Session, actor: Any, case: Case, *, reason: str,
                    new_evidence: str = "") -> HearingRequest:
    """Record a request; `actor` None is the petitioner on the query page, otherwise the
    clerk who enters it (they must be able to contribute to the case file)."""
    reason, new_evidence = (reason or "").strip(), (new_evidence or "").strip()
    if actor is not None and not case_perm.can_contribute(actor, case):
        raise NotAllowed(_l("You may not add to this case file."))
    if not reason:
        raise RequestRefused(_l("Say what you want the hearing to examine and why."))
    if len(reason) > MAX_TEXT or len(new_evidence) > MAX_TEXT:
        raise RequestRefused(_l("The text is too long (at most %(n)d characters).",
                                n=MAX_TEXT))
    lock_case(session, case)  # two requests at once: the second sees the first
    check_may_request(session, case, new_evidence)
    channel = RequestChannel.QUERY_PAGE if actor is None else RequestChannel.CLERK
    req = HearingRequest(case_id=case.id, channel=channel, reason=reason,
                         new_evidence=new_evidence, status=RequestStatus.PENDING,
                         decide_by=decide_by_for(today_in_china()),
                         created_by_id=getattr(actor, "id", None))
    session.add(req)
    session.flush()
    payload = {"request_id": req.id, "channel": str(channel), "reason": reason,
               "decide_by": req.decide_by.isoformat()}
    if new_evidence:
        payload["new_evidence"] = new_evidence
    if actor is None:
        append_event(session, case, REQUESTED, None, payload)
    else:
        case_ops.record_event(session, actor, case, REQUESTED, payload)
    return req


def decide_request(session: Session, actor: Any, req: HearingRequest, *, grant: bool,
                   text: str) -> HearingRequest:
    """The office's written decision (grant → the hearing is scheduled next; refuse →
    with its reasons). The text is what the petitioner reads."""
    text = (text or "").strip()
    if not case_perm.can_manage(actor, req.case):
        raise NotAllowed(_l("You may not decide on requests of this case."))
    if not text:
        raise RequestRefused(_l("Write the decision the petitioner will read (for a "
                                "refusal, its reasons)."))
    if len(text) > MAX_TEXT:
        raise RequestRefused(_l("The text is too long (at most %(n)d characters).",
                                n=MAX_TEXT))
    lock_case(session, req.case)
    session.refresh(req)
    if req.status != RequestStatus.PENDING:
        raise RequestRefused(_l("This request was already decided."))
    req.status = RequestStatus.GRANTED if grant else RequestStatus.REFUSED
    req.decision_text = text
    req.decided_by_id = actor.id
    req.decided_at = utcnow()
    session.flush()
    case_ops.record_event(session, actor, req.case, DECIDED, {
        "request_id": req.id, "decision": str(req.status), "text": text})
    return req


@dataclass(frozen=True)
class DecideClock:
    """The decide-by clock of a pending request, like the case clocks' badges."""

    due: date
    days_left: int
    status: str  # ok | amber | red | overdue


#: amber / red when this many calendar days or fewer are left
AMBER_DAYS, RED_DAYS = 5, 2


def decide_clock(req: HearingRequest, today: date | None = None) -> DecideClock:
    left = (req.decide_by - (today or today_in_china())).days
    status = ("overdue" if left < 0 else "red" if left <= RED_DAYS
              else "amber" if left <= AMBER_DAYS else "ok")
    return DecideClock(req.decide_by, left, status)


def pending_condition() -> ColumnElement[bool]:
    return HearingRequest.status == RequestStatus.PENDING


def requests_of_case(session: Session, case: Case) -> list[HearingRequest]:
    return list(session.scalars(select(HearingRequest).where(
        HearingRequest.case_id == case.id).order_by(HearingRequest.id)))
