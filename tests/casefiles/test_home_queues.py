"""The home page as each role meets it: the work queues list exactly the cases that role
should act on, the most urgent first, with links to the full filtered list."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Any

import pytest

from portal.casefiles import clocks as clk
from portal.casefiles import deadlines as dl
from portal.casefiles import operations as ops
from tests.fixtures.casefiles import new_case
from tests.fixtures.core import login


def _received_due_on(target: Any) -> datetime:
    """A receipt time whose acceptance clock falls due on `target` (a day in China)."""
    rules, calendar = clk.rules_and_calendar()
    today = clk.today_in_china()
    for back in range(0, 60):
        start = today - timedelta(days=back)
        if dl.compute_clock(dl.ClockKind.ACCEPT, start, rules, calendar,
                            today=today).due == target:
            return datetime.combine(start, time(12), clk.CHINA)
    raise AssertionError(f"no receipt day gives a due date of {target}")


def _section(html: str, key: str) -> str:
    found = re.search(rf'<section class="queue" id="queue-{key}".*?</section>', html, re.S)
    assert found, f"no queue {key} on the page"
    return found.group(0)


def _numbers(section: str) -> set[str]:
    return set(re.findall(r"\d{4}-XF-\d{6}", section))


@pytest.fixture()
def desk(session: Any, world: Any, app: Any) -> dict[str, Any]:
    today = clk.today_in_china()
    with app.test_request_context():
        new, _ = new_case(session, world, summary="新来的信访事项")
        late, _ = new_case(session, world, summary="逾期未受理的事项",
                           received_at=datetime.now(clk.CHINA) - timedelta(days=60),
                           leader_id=world.leader.id)
        due_today, _ = new_case(session, world, summary="今天到期的事项",
                                received_at=_received_due_on(today))
        soon, _ = new_case(session, world, summary="两天后到期的事项",
                           received_at=_received_due_on(today + timedelta(days=2)))
        accepted, _ = new_case(session, world, summary="已受理待交办")
        ops.take_action(session, world.clerk, accepted, "accept")
        assigned, _ = new_case(session, world, summary="交办公安的急案", is_urgent=True,
                               leader_id=world.leader.id)
        ops.take_action(session, world.clerk, assigned, "accept")
        ops.assign(session, world.clerk, assigned, world.police)
        ops.take_action(session, world.police_officer, assigned, "request_instructions",
                        reason="是否需要联合调查？")
        other, _ = new_case(session, world, summary="邻县的逾期事项")
        other.office_id = world.other_office.id
        other.received_at = datetime.now(clk.CHINA) - timedelta(days=90)
        session.commit()
    return {"new": new, "late": late, "today": due_today, "soon": soon,
            "accepted": accepted, "assigned": assigned, "other": other}


def _home(client: Any, user: Any) -> str:
    login(client, user)
    response = client.get("/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_clerk_sees_what_to_accept_assign_and_what_is_late(client, world, desk):
    html = _home(client, world.clerk)
    n = {k: c.number for k, c in desk.items()}
    assert _numbers(_section(html, "to_accept")) == {n["new"], n["late"], n["today"], n["soon"]}
    assert _numbers(_section(html, "to_assign")) == {n["accepted"]}
    assert _numbers(_section(html, "overdue")) == {n["late"]}
    assert _numbers(_section(html, "due_today")) == {n["today"]}
    # the most urgent first: the overdue one heads the acceptance queue
    assert _section(html, "to_accept").index(n["late"]) < _section(html, "to_accept").index(
        n["new"])
    assert n["other"] not in html
    assert 'href="/cases/?overdue=1"' in _section(html, "overdue")


def test_the_leader_sees_requests_waiting_and_their_cases(client, world, desk):
    html = _home(client, world.leader)
    n = {k: c.number for k, c in desk.items()}
    assert _numbers(_section(html, "awaiting")) == {n["assigned"]}
    assert _numbers(_section(html, "my_cases")) == {n["assigned"], n["late"]}
    assert "to_accept" not in html


def test_another_leader_is_told_nothing_waits(client, world, desk):
    html = _home(client, world.other_leader)
    assert "Nothing waits for you." in _section(html, "awaiting")
    assert not _numbers(html)


def test_the_agency_sees_its_assigned_cases_with_days_left(client, world, desk):
    html = _home(client, world.police_officer)
    section = _section(html, "assigned")
    assert _numbers(section) == {desk["assigned"].number}
    assert re.search(r"clock-(ok|amber|red|warn|due|overdue)|day left|days left", section)
    assert f'href="/cases/?agency={world.police.id}"' in section


def test_an_agency_without_assignments_is_told_so(client, world, desk):
    html = _home(client, world.land_officer)
    assert "No case is assigned to your agency." in _section(html, "assigned")
    assert not _numbers(html)


def test_the_supervisor_sees_late_and_soon_per_agency_and_leader(client, world, desk):
    html = _home(client, world.supervisor)
    n = {k: c.number for k, c in desk.items()}
    assert _numbers(_section(html, "overdue")) == {n["late"]}
    soon = _numbers(_section(html, "due_soon"))
    assert {n["today"], n["soon"]} <= soon and n["late"] not in soon and n["new"] not in soon
    assert n["other"] not in html
    # per agency: the police have the urgent case due soon; per leader: one overdue case
    police = re.search(rf"<th scope=\"row\">{re.escape(world.police.name)}</th>"
                       r"<td><a href=\"([^\"]+)\">(\d+)</a></td><td><a href=\"([^\"]+)\">(\d+)",
                       html)
    assert police and police.group(2) == "0" and police.group(4) == "1"
    assert f"agency={world.police.id}" in police.group(3) and "due=3" in police.group(3)
    leader = re.search(rf"<th scope=\"row\">{re.escape(world.leader.display_name)}</th>"
                       r"<td><a href=\"([^\"]+)\">(\d+)</a>", html)
    assert leader and leader.group(2) == "1"


def test_the_queue_links_open_the_same_cases_in_the_list(client, world, desk):
    login(client, world.supervisor)
    listed = client.get("/cases/?due=3").get_data(as_text=True)
    assert {desk["today"].number, desk["soon"].number} <= _numbers(listed)
    assert desk["late"].number not in listed and desk["new"].number not in listed


def test_the_leader_queue_link_lists_the_cases_awaiting_them(client, world, desk):
    login(client, world.leader)
    waiting = client.get(f"/cases/?leader={world.leader.id}&awaiting=1").get_data(as_text=True)
    assert _numbers(waiting) == {desk["assigned"].number}
