"""The pure planner (consultations.rota): fairness, holidays, unavailability, carried
load, fixed weeks. No database."""

from __future__ import annotations

from datetime import date, timedelta

from consultations import rota
from consultations.rota import Reason
from portal.casefiles.deadlines import Calendar

YEAR = 2031
#: Spring Festival style: Monday to Friday off, make-up Sunday before; National Day style:
#: the first week of October off with a make-up Saturday after
SPRING = [date(2031, 1, 27) + timedelta(days=i) for i in range(5)]
NATIONAL = [date(2031, 9, 29) + timedelta(days=i) for i in range(2, 5)] + \
    [date(2031, 10, 6)]
CALENDAR = Calendar(holidays=frozenset(SPRING + [date(2031, 10, 1), date(2031, 10, 2),
                                                  date(2031, 10, 3)]),
                    workdays=frozenset({date(2031, 1, 26), date(2031, 10, 11)}))


def _plain(day: date) -> bool:
    return day.weekday() < 5


def _spread(plan: list[rota.Assignment], lawyers: list[int]) -> tuple[float, dict[int, int]]:
    counts = rota.counts(plan)
    counts = {x: counts.get(x, 0) for x in lawyers}
    return sum(counts.values()) / len(lawyers), counts


def test_thirty_lawyers_share_a_year_within_one_week_of_the_mean():
    lawyers = list(range(101, 131))
    plan = rota.plan_year(YEAR, lawyers, is_working_day=_plain)
    assert len(plan) == len(rota.mondays_of(YEAR)) == 52
    mean, counts = _spread(plan, lawyers)
    assert all(abs(n - mean) <= 1 for n in counts.values()), counts
    assert max(counts.values()) - min(counts.values()) <= 1
    # nobody on two weeks in a row
    names = [a.lawyer_id for a in plan]
    assert all(a != b for a, b in zip(names, names[1:], strict=False))
    assert all(a.reason in (Reason.LEAST_LOAD, Reason.LONGEST_AGO) for a in plan)


def test_a_few_lawyers_rotate_and_are_never_on_two_weeks_in_a_row():
    plan = rota.plan_year(YEAR, [1, 2, 3], is_working_day=_plain)
    names = [a.lawyer_id for a in plan]
    assert names[:6] == [1, 2, 3, 1, 2, 3]
    assert all(a != b for a, b in zip(names, names[1:], strict=False))


def test_holiday_weeks_are_closed_and_make_up_days_count():
    lawyers = list(range(1, 31))
    plan = {a.week_start: a for a in rota.plan_year(YEAR, lawyers,
                                                    is_working_day=CALENDAR.is_working_day)}
    spring = plan[date(2031, 1, 27)]
    assert spring.is_closed and spring.lawyer_id is None and spring.working_days == 0
    # the week of 1 October keeps two working days (Monday, Tuesday): open at the minimum
    national = plan[date(2031, 9, 29)]
    assert national.working_days == 2 and not national.is_closed
    assert rota.plan_year(YEAR, lawyers, is_working_day=CALENDAR.is_working_day,
                          min_working_days=3)[38].is_closed
    # the week before Spring Festival has its make-up Sunday: six working days
    assert plan[date(2031, 1, 20)].working_days == 6
    # the fairness holds over the open weeks
    mean, counts = _spread(list(plan.values()), lawyers)
    assert all(abs(n - mean) <= 1 for n in counts.values())


def test_declared_unavailable_weeks_are_honoured():
    lawyers = [1, 2, 3, 4]
    away = [(1, date(2031, 1, 6)), (1, date(2031, 1, 8)),  # any day names its week
            (2, date(2031, 1, 13)), (3, date(2031, 3, 3)), (4, date(2031, 3, 3))]
    plan = rota.plan_year(YEAR, lawyers, is_working_day=_plain, unavailable=away)
    by_week = {a.week_start: a for a in plan}
    assert by_week[date(2031, 1, 6)].lawyer_id != 1
    assert by_week[date(2031, 1, 6)].unavailable == frozenset({1})
    assert by_week[date(2031, 1, 13)].lawyer_id != 2
    assert by_week[date(2031, 3, 3)].lawyer_id in (1, 2)
    mean, counts = _spread(plan, lawyers)
    assert all(abs(n - mean) <= 1 for n in counts.values())


def test_nobody_available_leaves_the_week_empty_with_its_reason():
    plan = rota.plan_year(YEAR, [1, 2], is_working_day=_plain,
                          unavailable=[(1, date(2031, 2, 3)), (2, date(2031, 2, 3))])
    week = next(a for a in plan if a.week_start == date(2031, 2, 3))
    assert week.lawyer_id is None and week.reason is Reason.NOBODY
    only = rota.plan_year(YEAR, [1, 2], is_working_day=_plain,
                          unavailable=[(1, date(2031, 2, 10))])
    assert next(a for a in only if a.week_start == date(2031, 2, 10)).reason is Reason.ONLY_ONE


def test_load_carried_from_earlier_years_keeps_it_fair_across_years():
    lawyers = [1, 2, 3, 4, 5]
    # lawyer 1 served one week more than the others last year, lawyer 5 is new
    plan = rota.plan_year(YEAR, lawyers, is_working_day=_plain,
                          past_load={1: 12, 2: 11, 3: 11, 4: 11})
    counts = rota.counts(plan)
    assert counts[1] == min(counts.values())
    assert max(counts.values()) - min(counts.values()) <= 1
    # a newcomer, or a big gap, is made up by at most one week: never a run of weeks
    names = [a.lawyer_id for a in rota.plan_year(YEAR, lawyers, is_working_day=_plain,
                                                 past_load={1: 40, 2: 40, 3: 40, 4: 40})]
    assert all(a != b for a, b in zip(names, names[1:], strict=False))


def test_fixed_weeks_and_a_start_date_keep_what_has_begun():
    start = date(2031, 3, 3)
    plan = rota.plan_year(YEAR, [1, 2, 3], is_working_day=_plain, start=start,
                          fixed={date(2031, 3, 10): 3}, previous_lawyer=1)
    assert plan[0].week_start == start and plan[0].lawyer_id != 1  # not twice in a row
    fixed = plan[1]
    assert fixed.lawyer_id == 3 and fixed.reason is Reason.FIXED


def test_weeks_belong_to_the_year_of_their_monday():
    assert rota.mondays_of(2029)[0] == date(2029, 1, 1)
    assert rota.mondays_of(2026)[-1] == date(2026, 12, 28)
    assert len(rota.mondays_of(2029)) == 53
