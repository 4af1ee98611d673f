"""Pausing and resuming a case's running clock for a hearing (听证) or an expert
appraisal (鉴定): events only, read back by clocks.py (``clock.paused`` and
``clock.resumed``, with the reason in the payload as demo.py writes them). The timeline
is append-only, so a pause is never edited: it is ended by a resume event.

Who may: whoever may manage the case file (permissions.can_manage: admin, the
registering office's clerks and leaders, the responsible leader, an agency granted
"manage")."""

from __future__ import annotations

from typing import Any

from flask_babel import LazyString
from sqlalchemy.orm import Session

from portal.casefiles import clocks as clk
from portal.casefiles import permissions as perm
from portal.casefiles.models import Case, CaseEvent
from portal.casefiles.timeline import append_event, events_of
from portal.errors import DomainError, NotAllowed
from portal.i18n import lazy_gettext as _l

#: why a clock may stand still, as the law allows (a hearing, an expert appraisal)
PAUSE_KINDS: dict[str, LazyString] = {
    "hearing": _l("Hearing"),
    "appraisal": _l("Appraisal"),
}
#: the longest reason kept
MAX_REASON = 500


def is_paused(session: Session, case: Case) -> bool:
    """Whether the last pause of the case has not been resumed yet (the same reading as
    clocks.py: a pause while paused and a resume while running are ignored there)."""
    paused = False
    for event in events_of(session, case, [clk.PAUSED, clk.RESUMED]):
        if event.kind == clk.PAUSED:
            paused = True
        elif event.kind == clk.RESUMED:
            paused = False
    return paused


def _check_allowed(actor: Any, case: Case) -> None:
    if not perm.can_manage(actor, case):
        raise NotAllowed(_l("You do not have permission to pause or resume the time "
                            "limits of this case."))


def pause_clock(session: Session, actor: Any, case: Case, reason: str, kind: str,
                ref: dict[str, Any] | None = None) -> CaseEvent:
    """Stop the running office clock from today until `resume_clock`; `ref` names what
    paused it (a domain's ids, e.g. {"hearing_id": 7}), kept in the event's payload."""
    _check_allowed(actor, case)
    if kind not in PAUSE_KINDS:
        raise DomainError(_l("Choose why the clock stops: a hearing or an appraisal."))
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_l("Give a reason for pausing the time limit."))
    if len(reason) > MAX_REASON:
        raise DomainError(_l("The reason is too long (at most %(n)d characters).",
                             n=MAX_REASON))
    if is_paused(session, case):
        raise DomainError(_l("The time limit is already paused. Resume it first."))
    running = clk.current_clock(clk.clocks_for_case(session, case))
    if running is None:
        raise DomainError(_l("No time limit of the office is running on this case, so "
                             "there is nothing to pause."))
    return append_event(session, case, clk.PAUSED, actor,
                        {**(ref or {}), "reason": reason, "kind": kind,
                         "clock": str(running.state.kind)})


def resume_clock(session: Session, actor: Any, case: Case, reason: str | None = None
                 ) -> CaseEvent:
    """Let the paused clock run again from today."""
    _check_allowed(actor, case)
    if not is_paused(session, case):
        raise DomainError(_l("The time limit is not paused, so it cannot be resumed."))
    reason = (reason or "").strip()[:MAX_REASON]
    return append_event(session, case, clk.RESUMED, actor, {"reason": reason} if reason else {})
