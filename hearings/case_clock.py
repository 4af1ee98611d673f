"""The case's clock around a hearing: on a re-review (复核) the hearing's time is not
counted (Regulations Art. 36), so the 复核 clock pauses when the hearing starts and
resumes when its record is filed; every other clock runs on. Both are events on the file
(casefiles.clock_ops), so the timeline says when and why."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from hearings.models import Hearing
from portal.casefiles import clock_ops
from portal.casefiles import clocks as clk
from portal.casefiles.deadlines import ClockKind
from portal.casefiles.models import CaseEvent
from portal.casefiles.timeline import events_of
from portal.i18n import lazy_gettext as _l


def pauses_for_hearing(session: Session, hearing: Hearing) -> bool:
    """Whether the case's running clock is the one a hearing stops (the re-review's)."""
    running = clk.current_clock(clk.clocks_for_case(session, hearing.case))
    return running is not None and running.state.kind == ClockKind.REREVIEW


def pause_for_hearing(session: Session, actor: Any, hearing: Hearing) -> CaseEvent | None:
    """Pause the 复核 clock for the hearing; nothing for any other clock."""
    if clock_ops.is_paused(session, hearing.case) or not pauses_for_hearing(session, hearing):
        return None
    reason = str(_l("Hearing %(title)s (not counted in the re-review period, Art. 36)",
                    title=hearing.title))
    return clock_ops.pause_clock(session, actor, hearing.case, reason, kind="hearing",
                                 ref={"hearing_id": hearing.id})


def resume_after_hearing(session: Session, actor: Any, hearing: Hearing,
                         reason: str | None = None) -> CaseEvent | None:
    """Resume the clock this hearing paused: the last pause must be this hearing's (a
    pause of before the id was recorded: any hearing's)."""
    if not clock_ops.is_paused(session, hearing.case):
        return None
    pauses = events_of(session, hearing.case, [clk.PAUSED])
    last = json.loads(pauses[-1].payload) if pauses else {}
    if last.get("kind") != "hearing" or last.get("hearing_id", hearing.id) != hearing.id:
        return None
    reason = reason or str(_l("The record of hearing %(title)s is filed", title=hearing.title))
    return clock_ops.resume_clock(session, actor, hearing.case, reason)
