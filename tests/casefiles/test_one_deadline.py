"""One deadline: an assignment is due when the case's legal clock is (urgent and simple
cases included); the assign form shows that date and takes none; an extension moves both."""

from __future__ import annotations

import html as html_lib
from typing import Any

import pytest

from portal.casefiles import clocks as clk
from portal.casefiles import operations as ops
from portal.casefiles.deadlines import ClockKind
from tests.fixtures.casefiles import new_case
from tests.fixtures.core import client_for


def page(response: Any) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


@pytest.mark.parametrize(("flags", "kind"), [({}, ClockKind.REPLY),
                                             ({"is_urgent": True}, ClockKind.URGENT),
                                             ({"is_simple": True}, ClockKind.SIMPLE)])
def test_the_assignment_is_due_when_the_legal_clock_is(app, session, world, flags, kind):
    case, _ = new_case(session, world, **flags)
    ops.take_action(session, world.clerk, case, "accept")
    session.commit()
    running = clk.current_clock(clk.clocks_for_case(session, case))
    assert running is not None and running.state.kind == kind

    clerk = client_for(app, world.clerk)
    html = page(clerk.get(f"/cases/{case.number}"))
    form = html.split(f'action="/cases/{case.number}/assign"')[1].split("</form>")[0]
    assert 'name="due_on"' not in form and 'type="date"' not in form
    assert running.state.due.isoformat() in form  # shown, read-only
    # a date sent anyway changes nothing
    r = clerk.post(f"/cases/{case.number}/assign", follow_redirects=True, data={
        "lead_id": str(world.police.id), "due_on": "2099-01-01", "letter": "请办理"})
    assert "was assigned to" in page(r)
    session.refresh(case)
    (lead,) = case.assignments
    assert lead.due_on == running.state.due == case.clock_due_on
    html = page(clerk.get(f"/cases/{case.number}"))
    assert "2099" not in html


def test_an_extension_moves_the_assignment_with_the_clock(app, session, world):
    case, _ = new_case(session, world, leader_id=world.leader.id)
    ops.take_action(session, world.clerk, case, "accept")
    ops.assign(session, world.clerk, case, world.police)
    session.commit()
    before = case.assignments[0].due_on
    ops.take_action(session, world.police_officer, case, "request_extension",
                    reason="需要鉴定", days=30)
    ops.take_action(session, world.leader, case, "extend")
    session.commit()
    session.expire_all()
    running = clk.current_clock(clk.clocks_for_case(session, case))
    assert running is not None
    assert case.assignments[0].due_on == running.state.due == case.clock_due_on
    assert case.assignments[0].due_on > before
