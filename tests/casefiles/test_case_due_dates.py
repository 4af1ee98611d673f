"""The due date of each case's running office clock, stored on the case (due.py) so the
overdue filter is one indexed condition: after every kind of event that moves the clocks
it equals what the deadline engine computes (clocks.current_clocks), and the overdue
filter finds exactly the cases the engine calls overdue."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from portal.casefiles import clock_ops, due
from portal.casefiles import clocks as clk
from portal.casefiles import holidays as hol
from portal.casefiles import operations as ops
from portal.casefiles.deadlines import ClockKind, ClockStatus
from portal.casefiles.models import Case
from portal.casefiles.search import CaseFilters, overdue_case_ids, search_cases
from portal.casefiles.workflow import transition
from portal.timeutil import utcnow
from tests.fixtures.casefiles import engine_overdue_ids, new_case


def engine(session: Any, case: Case, day: date) -> tuple[date | None, bool]:
    """What the deadline engine says on `day`: the running office clock's due date, and
    whether it is paused."""
    running = clk.current_clocks(session, [case], day)[case.id]
    if running is None:
        return None, False
    return running.state.due, running.state.status == ClockStatus.PAUSED


def stored(session: Any, case: Case) -> tuple[date | None, bool]:
    row = session.execute(select(Case.clock_due_on, Case.is_clock_paused)
                          .where(Case.id == case.id)).one()
    return row[0], bool(row[1])


def in_step(session: Any, case: Case) -> tuple[date | None, bool]:
    """The stored values equal the engine's, in the database and on the loaded object:
    as the clock stands from tomorrow on, and today too unless a pause only begins to
    hold the clock tomorrow (one recorded on the day the clock started)."""
    session.commit()
    today = clk.today_in_china()
    expected = engine(session, case, today + timedelta(days=1))
    assert stored(session, case) == expected
    assert (case.clock_due_on, case.is_clock_paused) == expected
    now = engine(session, case, today)
    if now[1] or not expected[1]:
        assert now == expected
    else:  # paused from tomorrow on: not late today either way
        assert now[0] is not None and now[0] > today
    return expected


def test_every_clock_event_keeps_the_stored_due_date_in_step(session, world):
    case, _ = new_case(session, world, received_at=utcnow() - timedelta(days=9))
    accept_due, paused = in_step(session, case)  # registration: the acceptance clock
    assert accept_due is not None and not paused

    transition(session, case, "accept", world.clerk)
    reply_due, _ = in_step(session, case)  # the 60-day reply clock
    assert reply_due is not None and reply_due > accept_due

    ops.assign(session, world.clerk, case, world.police, [world.land])
    assert in_step(session, case) == (reply_due, False)  # assignment moves no clock

    transition(session, case, "request_extension", world.police_officer, reason="需要补充鉴定",
               payload={"days": 30})
    assert in_step(session, case) == (reply_due, False)  # asking moves no clock
    transition(session, case, "extend", world.leader)
    extended, _ = in_step(session, case)
    assert extended is not None and extended > reply_due

    # a pause from the day the clock started holds it from the next day on
    clock_ops.pause_clock(session, world.clerk, case, "召开听证会", "hearing")
    assert in_step(session, case)[1] is True
    clock_ops.resume_clock(session, world.clerk, case)
    assert in_step(session, case) == (extended, False)

    transition(session, case, "start_investigation", world.police_officer)
    in_step(session, case)
    transition(session, case, "reply", world.police_officer, reason="已书面答复")
    assert in_step(session, case) == (None, False)  # replied: no office clock runs

    transition(session, case, "return_reply", world.leader, reason="答复不具体")
    assert in_step(session, case)[0] is not None  # the reply clock runs again
    transition(session, case, "reply", world.clerk, reason="补充答复")
    assert in_step(session, case) == (None, False)

    transition(session, case, "request_review", world.clerk)
    review_due, _ = in_step(session, case)
    assert review_due is not None
    transition(session, case, "decide_review", world.clerk, reason="维持")
    assert in_step(session, case) == (None, False)
    transition(session, case, "return_reply", world.leader, reason="复查意见不完整")
    assert in_step(session, case)[0] is not None  # the review clock runs again
    transition(session, case, "decide_review", world.clerk, reason="维持原答复")
    in_step(session, case)

    transition(session, case, "request_re_review", world.clerk)
    assert in_step(session, case)[0] is not None
    transition(session, case, "decide_re_review", world.clerk, reason="维持")
    assert in_step(session, case) == (None, False)
    transition(session, case, "close", world.clerk)
    assert in_step(session, case) == (None, False)


def test_not_accepted_stops_the_clock(session, world):
    case, _ = new_case(session, world)
    assert in_step(session, case)[0] is not None
    transition(session, case, "not_accept", world.clerk, reason="不属于信访事项")
    assert in_step(session, case) == (None, False)


def test_urgent_and_simple_flags_change_the_clock(session, world):
    case, _ = new_case(session, world, received_at=utcnow() - timedelta(days=3))
    transition(session, case, "accept", world.clerk)
    normal, _ = in_step(session, case)
    ops.edit_case(session, world.clerk, case, case.version, is_urgent=True)
    urgent, _ = in_step(session, case)
    assert urgent is not None and normal is not None and urgent < normal
    ops.edit_case(session, world.clerk, case, case.version, is_urgent=False, is_simple=True)
    simple, _ = in_step(session, case)
    assert simple is not None and simple < normal
    # a flag set on the object directly, as a repair script might, is seen at the flush
    case.is_simple = False
    assert in_step(session, case)[0] == normal


def test_simple_and_urgent_registration(session, world):
    for flags in ({"is_urgent": True}, {"is_simple": True}):
        case, _ = new_case(session, world, **flags)
        in_step(session, case)
        transition(session, case, "accept", world.clerk)
        in_step(session, case)
        running = clk.current_clocks(session, [case])[case.id]
        assert running is not None
        assert running.state.kind in (ClockKind.URGENT, ClockKind.SIMPLE)


def test_pause_and_resume(session, world):
    case, _ = new_case(session, world, received_at=utcnow() - timedelta(days=5))
    running, _ = in_step(session, case)
    clock_ops.pause_clock(session, world.clerk, case, "专家鉴定", "appraisal")
    assert in_step(session, case)[1] is True
    assert case.id not in overdue_case_ids(session, today=clk.today_in_china()
                                           + timedelta(days=100))
    clock_ops.resume_clock(session, world.clerk, case, "鉴定完成")
    # paused today and resumed today: no day stood still
    assert in_step(session, case) == (running, False)


def test_a_pause_after_the_due_date_does_not_forgive_it(session, world):
    late, _ = new_case(session, world, received_at=utcnow() - timedelta(days=40))
    clock_ops.pause_clock(session, world.clerk, late, "鉴定", "appraisal")
    due_on, paused = in_step(session, late)
    assert due_on is not None and due_on < clk.today_in_china() and paused is False
    assert late.id in overdue_case_ids(session)


def test_holiday_calendar_changes_move_the_stored_due_dates(session, world):
    case, _ = new_case(session, world, received_at=utcnow() - timedelta(days=2))
    before, _ = in_step(session, case)
    assert before is not None
    # the due day becomes a holiday: the clock ends on the next working day
    added = hol.add_days(session, world.admin, before, before, "holiday", "测试假日")
    later, _ = in_step(session, case)
    assert later is not None and later > before
    hol.remove_day(session, world.admin, added[0].id)
    assert in_step(session, case)[0] == before


def test_refresh_all_repairs_what_a_bulk_load_left_out(session, world):
    case, _ = new_case(session, world, received_at=utcnow() - timedelta(days=30))
    expected = in_step(session, case)
    session.execute(Case.__table__.update().where(Case.__table__.c.id == case.id)
                    .values(clock_due_on=None, is_clock_paused=True))
    assert stored(session, case) == (None, True)
    assert due.refresh_all(session) >= 1
    assert stored(session, case) == expected


def test_the_version_and_time_stamp_stay_when_only_the_due_date_moves(session, world):
    case, _ = new_case(session, world, received_at=utcnow() - timedelta(days=5))
    version, updated = case.version, case.updated_at
    clock_ops.pause_clock(session, world.clerk, case, "听证", "hearing")
    session.commit()
    session.expire_all()
    fresh = session.get(Case, case.id)
    assert fresh.is_clock_paused is True
    assert fresh.version == version and fresh.updated_at == updated


def test_overdue_filter_equals_the_engine_on_a_mix(session, world):
    """Cases in many states, urgent, simple, paused before and after their due dates,
    extended, returned: on several days, the filter finds what the engine says."""
    now = utcnow()
    made: list[Case] = []

    def case(days_ago: int, **flags: Any) -> Case:
        c, _ = new_case(session, world, received_at=now - timedelta(days=days_ago),
                        summary=f"混合{len(made)}", **flags)
        made.append(c)
        return c

    case(1)
    case(20)
    case(40, is_urgent=True)
    paused = case(5)
    clock_ops.pause_clock(session, world.clerk, paused, "鉴定", "appraisal")
    late_pause = case(30)
    clock_ops.pause_clock(session, world.clerk, late_pause, "听证", "hearing")
    resumed = case(8)
    clock_ops.pause_clock(session, world.clerk, resumed, "听证", "hearing")
    clock_ops.resume_clock(session, world.clerk, resumed)
    for flags in ({}, {"is_urgent": True}, {"is_simple": True}):
        accepted = case(3, **flags)
        transition(session, accepted, "accept", world.clerk)
    extended = case(2)
    transition(session, extended, "accept", world.clerk)
    ops.assign(session, world.clerk, extended, world.police)
    transition(session, extended, "request_extension", world.police_officer, reason="延期",
               payload={"days": 30})
    transition(session, extended, "extend", world.leader)
    replied = case(2, is_simple=True)
    transition(session, replied, "accept", world.clerk)
    transition(session, replied, "reply", world.clerk, reason="答复")
    review = case(2, is_simple=True)
    transition(session, review, "accept", world.clerk)
    transition(session, review, "reply", world.clerk, reason="答复")
    transition(session, review, "request_review", world.clerk)
    refused = case(50)
    transition(session, refused, "not_accept", world.clerk, reason="不予受理")
    session.commit()

    ids = {c.id for c in made}
    today = clk.today_in_china()
    seen = set()
    for offset in (0, 1, 10, 20, 25, 40, 70, 100, 400):
        day = today + timedelta(days=offset)
        expected = engine_overdue_ids(session, day) & ids
        assert set(overdue_case_ids(session, today=day)) & ids == expected, offset
        page = search_cases(session, world.clerk, CaseFilters(q="混合", overdue=True), 1, 100,
                            today=day)
        assert {c.id for c in page.items} == expected, offset
        seen |= expected
    assert paused.id not in seen  # paused before it fell due: never overdue
    assert late_pause.id in seen and refused.id not in seen and replied.id not in seen
    assert ids - {paused.id, refused.id, replied.id} <= seen
