"""Pausing a case's time limit for a hearing or an appraisal, and resuming it: events
only, shown on the case page, refused when it makes no sense or the user may not."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from portal.casefiles import clock_ops
from portal.casefiles import clocks as clk
from portal.casefiles import operations as ops
from portal.casefiles.deadlines import ClockStatus, DayCount
from portal.casefiles.timeline import events_of, payload_of
from portal.casefiles.workflow import transition
from portal.timeutil import utcnow
from portal.web import DomainError, NotAllowed
from tests.fixtures.casefiles import new_case
from tests.fixtures.core import client_for


def text(response: Any) -> str:
    return response.get_data(as_text=True)


def left(state: Any) -> int:
    """Calendar days from today to the nominal due date (before the due date is moved
    off a weekend or a holiday, which would make the count jump)."""
    assert state.unit is DayCount.CALENDAR
    return int((state.nominal_due - state.today).days)


def received_days_ago(session: Any, world: Any, days: int = 5) -> Any:
    # a pause counts from the day after the clock started: receive the case earlier
    case, _code = new_case(session, world, received_at=utcnow() - timedelta(days=days))
    return case


def test_pause_shows_paused_and_stops_the_days_counting(app, session, world):
    case = received_days_ago(session, world)
    today = clk.today_in_china()
    before = clk.current_clock(clk.clocks_for_case(session, case, today))
    assert before is not None and before.state.status != ClockStatus.PAUSED
    clerk = client_for(app, world.clerk)
    assert "Pause the time limit" in text(clerk.get(f"/cases/{case.number}"))

    r = clerk.post(f"/cases/{case.number}/clock/pause",
                   data={"kind": "hearing", "reason": "召开听证会"})
    assert r.status_code == 303 and r.headers["Location"].endswith("#clocks")
    page = text(clerk.get(f"/cases/{case.number}"))
    assert 'class="clock clock-paused">Paused<' in page
    assert "Resume the time limit" in page
    assert "The time limit was paused" in page and "召开听证会" in page  # on the timeline

    (event,) = events_of(session, case, [clk.PAUSED])
    assert payload_of(event)["reason"] == "召开听证会"
    assert payload_of(event)["kind"] == "hearing"
    # the days left stand still while it stays paused
    now = clk.current_clock(clk.clocks_for_case(session, case, today))
    later = clk.current_clock(clk.clocks_for_case(session, case, today + timedelta(days=9)))
    assert now is not None and later is not None
    assert now.state.status == later.state.status == ClockStatus.PAUSED
    assert left(later.state) == left(now.state)
    assert later.state.due > before.state.due


def test_resume_lets_the_clock_run_again(app, session, world):
    case = received_days_ago(session, world)
    leader = client_for(app, world.leader)
    leader.post(f"/cases/{case.number}/clock/pause",
                data={"kind": "appraisal", "reason": "委托司法鉴定"})
    assert clock_ops.is_paused(session, case)
    r = leader.post(f"/cases/{case.number}/clock/resume", data={"reason": "鉴定结束"},
                    follow_redirects=True)
    assert r.status_code == 200
    page = text(r)
    assert "The time limit runs again." in page
    assert "The time limit runs again" in page and "鉴定结束" in page
    assert 'class="clock clock-paused"' not in page
    assert not clock_ops.is_paused(session, case)
    kinds = [e.kind for e in events_of(session, case, [clk.PAUSED, clk.RESUMED])]
    assert kinds == [clk.PAUSED, clk.RESUMED]
    later = clk.current_clock(clk.clocks_for_case(session, case,
                                                  clk.today_in_china() + timedelta(days=3)))
    assert later is not None and later.state.status != ClockStatus.PAUSED


def test_double_pause_and_resuming_a_running_clock_are_refused(app, session, world):
    case = received_days_ago(session, world)
    clerk = client_for(app, world.clerk)
    clerk.post(f"/cases/{case.number}/clock/pause", data={"kind": "hearing", "reason": "听证"})
    r = clerk.post(f"/cases/{case.number}/clock/pause", follow_redirects=True,
                   data={"kind": "hearing", "reason": "又一次"})
    assert r.status_code == 200
    assert "The time limit is already paused. Resume it first." in text(r)
    assert len(events_of(session, case, [clk.PAUSED])) == 1

    clerk.post(f"/cases/{case.number}/clock/resume")
    r = clerk.post(f"/cases/{case.number}/clock/resume", follow_redirects=True)
    assert "The time limit is not paused, so it cannot be resumed." in text(r)
    assert len(events_of(session, case, [clk.RESUMED])) == 1

    with pytest.raises(DomainError):
        clock_ops.resume_clock(session, world.clerk, case)
    with pytest.raises(DomainError):  # a pause needs a reason and a known kind
        clock_ops.pause_clock(session, world.clerk, case, "  ", "hearing")
    with pytest.raises(DomainError):
        clock_ops.pause_clock(session, world.clerk, case, "听证", "holiday")


def test_pause_form_asks_for_kind_reason_and_confirmation(app, session, world):
    case = received_days_ago(session, world)
    page = text(client_for(app, world.clerk).get(f"/cases/{case.number}"))
    assert 'id="clock-pause-form"' in page and 'data-confirm="' in page
    assert 'name="kind"' in page and 'value="appraisal"' in page
    assert 'id="clock-pause-reason" name="reason"' in page


def test_agency_without_manage_rights_gets_403_and_others_404(app, session, world):
    case = received_days_ago(session, world)
    ops.grant_access(session, world.clerk, case, world.police, "contribute")
    session.commit()
    police = client_for(app, world.police_officer)
    assert "clock-pause-form" not in text(police.get(f"/cases/{case.number}"))
    assert police.post(f"/cases/{case.number}/clock/pause",
                       data={"kind": "hearing", "reason": "听证"}).status_code == 403
    supervisor = client_for(app, world.supervisor)
    assert supervisor.post(f"/cases/{case.number}/clock/pause",
                           data={"kind": "hearing", "reason": "听证"}).status_code == 403
    outsider = client_for(app, world.land_officer)
    assert outsider.post(f"/cases/{case.number}/clock/resume").status_code == 404
    assert not events_of(session, case, [clk.PAUSED])
    with pytest.raises(NotAllowed):
        clock_ops.pause_clock(session, world.police_officer, case, "听证", "hearing")

    # a manage grant is enough
    ops.grant_access(session, world.clerk, case, world.police, "manage")
    session.commit()
    assert police.post(f"/cases/{case.number}/clock/pause",
                       data={"kind": "hearing", "reason": "听证"}).status_code == 303


def test_nothing_to_pause_on_a_closed_clock(app, session, world):
    case = received_days_ago(session, world)
    transition(session, case, "not_accept", world.clerk, reason="不属于信访事项")
    session.commit()
    with pytest.raises(DomainError, match="nothing to pause"):
        clock_ops.pause_clock(session, world.clerk, case, "听证", "hearing")
