"""clocks.py: which clock runs in which state, from the case's events."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

from portal.casefiles import clocks as clk
from portal.casefiles.deadlines import ClockKind, ClockStatus
from portal.casefiles.models import Case, CaseEvent

DAY0 = date(2026, 3, 2)  # a Monday


def at(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), clk.CHINA) + timedelta(hours=10)


def case(**flags: bool) -> Case:
    return Case(number="2026-XF-000001", received_at=at(DAY0),
                is_urgent=flags.get("urgent", False), is_simple=flags.get("simple", False))


def events(*steps: tuple[str, int, dict]) -> list[CaseEvent]:
    return [CaseEvent(seq=i + 1, kind=kind, at=at(DAY0 + timedelta(days=d)),
                      payload=json.dumps(payload))
            for i, (kind, d, payload) in enumerate(steps)]


def test_registered_case_runs_the_acceptance_clock_from_receipt():
    clocks = clk.clocks_from_events(case(), [], today=DAY0 + timedelta(days=5))
    assert [c.state.kind for c in clocks] == [ClockKind.ACCEPT]
    current = clk.current_clock(clocks)
    assert current is not None and current.state.days_left == 10
    assert current.state.status == ClockStatus.OK


def test_acceptance_stops_it_and_starts_the_reply_clock_with_extension():
    evs = events(("workflow.accept", 3, {}), ("workflow.assign", 4, {}),
                 ("workflow.extend", 40, {"days": 30}))
    clocks = clk.clocks_from_events(case(), evs, today=DAY0 + timedelta(days=41))
    accept, reply = clocks
    assert accept.state.stopped_on == DAY0 + timedelta(days=3) and accept.state.met
    assert reply.state.kind == ClockKind.REPLY and reply.is_running
    assert reply.state.extensions == (30,)
    assert reply.state.period == 90


def test_pause_holds_the_running_clock():
    evs = events(("workflow.accept", 1, {}), ("clock.paused", 10, {"reason": "听证"}))
    current = clk.current_clock(clk.clocks_from_events(case(), evs,
                                                       today=DAY0 + timedelta(days=20)))
    assert current is not None and current.state.status == ClockStatus.PAUSED
    resumed = events(("workflow.accept", 1, {}), ("clock.paused", 10, {}),
                     ("clock.resumed", 15, {}))
    current = clk.current_clock(clk.clocks_from_events(case(), resumed,
                                                       today=DAY0 + timedelta(days=20)))
    assert current is not None and current.state.paused_days == 5


def test_after_the_reply_only_the_petitioners_window_runs():
    evs = events(("workflow.accept", 1, {}), ("workflow.reply", 30, {}))
    clocks = clk.clocks_from_events(case(), evs, today=DAY0 + timedelta(days=35))
    assert clocks[-1].state.kind == ClockKind.REVIEW_REQUEST
    assert not clocks[-1].is_office_duty
    assert clk.current_clock(clocks) is None


def test_a_returned_reply_sets_the_reply_clock_running_again():
    evs = events(("workflow.accept", 1, {}), ("workflow.reply", 30, {}),
                 ("workflow.return_reply", 32, {"from": "replied", "to": "investigating"}))
    current = clk.current_clock(clk.clocks_from_events(case(), evs,
                                                       today=DAY0 + timedelta(days=33)))
    assert current is not None and current.state.kind == ClockKind.REPLY


def test_review_and_rereview_clocks():
    evs = events(("workflow.accept", 1, {}), ("workflow.reply", 30, {}),
                 ("workflow.request_review", 40, {}), ("workflow.decide_review", 60, {}),
                 ("workflow.request_re_review", 70, {}))
    clocks = clk.clocks_from_events(case(), evs, today=DAY0 + timedelta(days=75))
    kinds = [c.state.kind for c in clocks]
    assert kinds == [ClockKind.ACCEPT, ClockKind.REPLY, ClockKind.REVIEW_REQUEST,
                     ClockKind.REVIEW, ClockKind.REREVIEW_REQUEST, ClockKind.REREVIEW]
    assert clk.current_clock(clocks).state.kind == ClockKind.REREVIEW


def test_urgent_and_simple_cases_use_their_own_clock():
    evs = events(("workflow.accept", 0, {}), ("workflow.extend", 1, {"days": 30}))
    urgent = clk.current_clock(clk.clocks_from_events(case(urgent=True), evs,
                                                      today=DAY0 + timedelta(days=5)))
    assert urgent.state.kind == ClockKind.URGENT
    assert urgent.state.extensions == ()  # the rules allow none: ignored, not an error
    assert urgent.state.status == ClockStatus.OVERDUE
    simple = clk.current_clock(clk.clocks_from_events(case(simple=True), evs[:1],
                                                      today=DAY0 + timedelta(days=1)))
    assert simple.state.kind == ClockKind.SIMPLE


def test_clocks_for_several_cases_in_one_go(session, make_user, make_org):
    from tests.fixtures.casefiles import make_world, new_case

    world = make_world(make_user, make_org)
    first, _ = new_case(session, world)
    second, _ = new_case(session, world, is_urgent=True)
    found = clk.current_clocks(session, [first, second])
    assert set(found) == {first.id, second.id}
    assert all(c is not None and c.state.kind == ClockKind.ACCEPT for c in found.values())
