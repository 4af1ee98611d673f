"""Unit tests of the deadline engine (portal/casefiles/deadlines.py): pure functions,
no app and no database."""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction

import pytest

from portal.casefiles import deadlines as dl
from portal.casefiles.deadlines import ClockStatus as S

D = date

#: Test data for 2026, in the shape of the State Council's holiday notice: the National
#: Day week 1-7 October off, Sunday 20 September and Saturday 10 October worked (调休).
NATIONAL_DAY_2026 = frozenset(D(2026, 10, d) for d in range(1, 8))
MAKEUP_2026 = frozenset({D(2026, 9, 20), D(2026, 10, 10)})
CAL = dl.Calendar(holidays=NATIONAL_DAY_2026, workdays=MAKEUP_2026)
PLAIN = dl.Calendar()  # weekends only
RULES = dl.DeadlineRules()
NO_MOVE = dl.DeadlineRules(move_due_off_holidays=False)


def clock(kind: str, start: date, today: date | None = None, *, rules: dl.DeadlineRules = RULES,
          cal: dl.Calendar = CAL, **kw: object) -> dl.ClockState:
    return dl.compute_clock(kind, start, rules, cal, today=today or start, **kw)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- defaults


def test_defaults_match_the_regulations_and_local_practice() -> None:
    r = dl.DeadlineRules()
    cal, wd, mo = dl.DayCount.CALENDAR, dl.DayCount.WORKING, dl.DayCount.MONTHS
    assert (r.route.length, r.route.unit) == (15, cal)
    assert (r.accept.length, r.accept.unit) == (15, cal)
    assert (r.objection.length, r.objection.unit) == (5, wd)
    assert (r.reply.length, r.reply.unit, r.reply.max_extensions,
            r.reply.max_extension_days) == (60, cal, 1, 30)
    for kind in ("review_request", "review", "rereview_request", "rereview"):
        assert (r.rule(kind).length, r.rule(kind).unit, r.rule(kind).max_extensions) \
            == (30, cal, 0)
    assert (r.major.length, r.major.unit) == (2, mo)
    assert (r.ordinary.length, r.ordinary.unit) == (1, mo)
    assert (r.urgent.length, r.urgent.unit) == (1, wd)
    assert (r.simple.length, r.simple.unit) == (10, wd)
    assert r.move_due_off_holidays is True
    assert (r.amber_days, r.amber_fraction, r.red_days) == (5, Fraction(1, 3), 2)
    assert r.reminders == dl.ReminderPolicy(before=(5, 1), on_due=True, overdue_every=3)
    # every clock kind has a rule
    assert {k.value for k in dl.ClockKind} <= set(r.to_mapping())


def test_unknown_clock_kind_is_refused() -> None:
    with pytest.raises(dl.DeadlineError, match="unknown clock 'weekly'"):
        clock("weekly", D(2026, 3, 2))


# --------------------------------------------------------------------------- calendar


def test_calendar_working_days() -> None:
    assert CAL.is_working_day(D(2026, 9, 30))  # Wednesday
    assert not CAL.is_working_day(D(2026, 10, 1))  # National Day, Thursday
    assert not CAL.is_working_day(D(2026, 10, 5))  # holiday on a Monday
    assert CAL.is_working_day(D(2026, 10, 10))  # make-up Saturday
    assert CAL.is_working_day(D(2026, 9, 20))  # make-up Sunday
    assert not CAL.is_working_day(D(2026, 10, 11))  # an ordinary Sunday
    assert not PLAIN.is_working_day(D(2026, 10, 10))  # without the make-up day: Saturday


def test_add_working_days_across_the_national_day_week() -> None:
    start = D(2026, 9, 28)  # Monday
    steps = [CAL.add_working_days(start, n) for n in range(0, 7)]
    assert steps == [D(2026, 9, 28), D(2026, 9, 29), D(2026, 9, 30), D(2026, 10, 8),
                     D(2026, 10, 9), D(2026, 10, 10), D(2026, 10, 12)]
    # 1 October itself never counts
    assert CAL.add_working_days(D(2026, 9, 30), 1) == D(2026, 10, 8)
    with pytest.raises(dl.DeadlineError, match="negative"):
        CAL.add_working_days(start, -1)


def test_working_days_between_counts_holidays_and_makeup_days() -> None:
    # (18 Sep, 11 Oct]: Sun 20 Sep (make-up), 21-25, 28-30 Sep, 8, 9 Oct, Sat 10 Oct
    assert CAL.working_days_between(D(2026, 9, 18), D(2026, 10, 11)) == 12
    # the same span with weekends only: 15 weekdays (5 of them are holidays above)
    assert PLAIN.working_days_between(D(2026, 9, 18), D(2026, 10, 11)) == 15
    assert CAL.working_days_between(D(2026, 9, 30), D(2026, 10, 9)) == 2
    assert CAL.working_days_between(D(2026, 9, 30), D(2026, 10, 7)) == 0
    assert CAL.working_days_between(D(2026, 10, 9), D(2026, 10, 9)) == 0
    assert CAL.working_days_between(D(2026, 10, 9), D(2026, 9, 30)) == -2


def test_calendar_from_mapping_and_validation() -> None:
    cal = dl.Calendar.from_mapping({"holidays": ["2026-10-01", D(2026, 10, 2)],
                                    "workdays": ["2026-10-10"]})
    assert cal.holidays == {D(2026, 10, 1), D(2026, 10, 2)}
    assert cal.workdays == {D(2026, 10, 10)}
    with pytest.raises(dl.DeadlineError, match="both a holiday and a working day: 2026-10-01"):
        dl.Calendar(holidays=frozenset({D(2026, 10, 1)}), workdays=frozenset({D(2026, 10, 1)}))
    with pytest.raises(dl.DeadlineError, match="expected a date.*'2026-13-01'"):
        dl.Calendar.from_mapping({"holidays": ["2026-13-01"]})
    with pytest.raises(dl.RulesError, match="unknown setting 'holiday'"):
        dl.Calendar.from_mapping({"holiday": []})


# --------------------------------------------------------------------------- each clock


def test_route_clock_15_calendar_days_from_receipt() -> None:
    st = clock("route", D(2026, 3, 2))  # Monday
    assert st.due == D(2026, 3, 17)  # the start day is not counted
    assert st.days_left == 15
    assert st.status is S.OK
    assert st.period == 15


def test_accept_clock_due_on_national_day_moves_to_next_working_day() -> None:
    st = clock("accept", D(2026, 9, 16))
    assert st.nominal_due == D(2026, 10, 1)
    assert st.due == D(2026, 10, 8)  # first working day after the holiday week
    st_off = clock("accept", D(2026, 9, 16), rules=NO_MOVE)
    assert st_off.due == st_off.nominal_due == D(2026, 10, 1)


def test_due_on_a_weekend_moves_to_monday_but_not_past_a_makeup_saturday() -> None:
    # 15 days from 18 Sep 2026 is Saturday 3 Oct (in the holiday week) -> 8 Oct
    assert clock("accept", D(2026, 9, 18)).due == D(2026, 10, 8)
    # 15 days from 25 Sep is Saturday 10 Oct, a make-up working day: it stays
    assert clock("accept", D(2026, 9, 25)).due == D(2026, 10, 10)
    # 15 days from 26 Sep is Sunday 11 Oct -> Monday 12 Oct
    assert clock("accept", D(2026, 9, 26)).due == D(2026, 10, 12)
    # an ordinary weekend: 60 days from 4 Feb 2026 is Sunday 5 April -> Monday 6 April
    assert clock("reply", D(2026, 2, 4), cal=PLAIN).due == D(2026, 4, 6)


def test_objection_clock_counts_working_days_across_the_holiday_week() -> None:
    st = clock("objection", D(2026, 9, 28))  # Monday
    # 29, 30 Sep, then 8, 9 Oct and the make-up Saturday 10 Oct
    assert st.due == D(2026, 10, 10)
    assert st.unit is dl.DayCount.WORKING
    assert st.working_days_left == 5
    # without the make-up day it is Monday 12 Oct
    assert clock("objection", D(2026, 9, 28), cal=dl.Calendar(holidays=NATIONAL_DAY_2026)).due \
        == D(2026, 10, 12)


def test_reply_clock_60_days_and_leap_years() -> None:
    assert clock("reply", D(2026, 1, 5)).due == D(2026, 3, 6)
    # 2024 is a leap year: 1 Jan + 60 days is 1 March (29 Feb counts)
    assert clock("reply", D(2024, 1, 1), cal=PLAIN).due == D(2024, 3, 1)
    # 2025 is not: 2 March, a Sunday, moves to Monday 3 March
    st = clock("reply", D(2025, 1, 1), cal=PLAIN)
    assert (st.nominal_due, st.due) == (D(2025, 3, 2), D(2025, 3, 3))
    # across the year end
    assert clock("reply", D(2025, 12, 1), cal=PLAIN).due == D(2026, 1, 30)


@pytest.mark.parametrize("kind", ["review_request", "review", "rereview_request", "rereview"])
def test_review_and_rereview_clocks_30_days(kind: str) -> None:
    # month ends: 31 Jan + 30 days is 2 March in 2026, 1 March in 2024 (a Friday)
    assert clock(kind, D(2026, 1, 31), cal=PLAIN).due == D(2026, 3, 2)
    assert clock(kind, D(2024, 1, 31), cal=PLAIN).due == D(2024, 3, 1)
    assert clock(kind, D(2026, 4, 1), cal=PLAIN).due == D(2026, 5, 1)


def test_month_clocks_clamp_to_month_end_and_handle_leap_years() -> None:
    assert clock("ordinary", D(2026, 1, 31), rules=NO_MOVE).due == D(2026, 2, 28)
    assert clock("ordinary", D(2024, 1, 31), rules=NO_MOVE).due == D(2024, 2, 29)
    assert clock("ordinary", D(2026, 3, 15), rules=NO_MOVE).due == D(2026, 4, 15)
    assert clock("major", D(2025, 12, 31), rules=NO_MOVE).due == D(2026, 2, 28)
    assert clock("major", D(2023, 12, 31), rules=NO_MOVE).due == D(2024, 2, 29)
    assert clock("major", D(2026, 11, 30), rules=NO_MOVE).due == D(2027, 1, 30)
    # 28 Feb 2026 is a Saturday: with the default the due date moves to Monday 2 March
    st = clock("ordinary", D(2026, 1, 31))
    assert (st.nominal_due, st.due) == (D(2026, 2, 28), D(2026, 3, 2))
    assert st.period == 28  # one month from 31 Jan 2026 is 28 days
    assert dl.add_months(D(2026, 8, 31), 1) == D(2026, 9, 30)
    assert dl.add_months(D(2026, 12, 15), 14) == D(2028, 2, 15)


def test_urgent_and_simple_clocks() -> None:
    # urgent: the next working day; received on the eve of National Day -> 8 Oct
    st = clock("urgent", D(2026, 9, 30))
    assert st.due == D(2026, 10, 8)
    assert st.status is S.RED  # 1 day left: red from the start
    assert clock("urgent", D(2026, 3, 6), cal=PLAIN).due == D(2026, 3, 9)  # Fri -> Mon
    # a province wanting "the same day" sets 0
    same_day = dl.DeadlineRules.from_mapping({"urgent": 0})
    assert clock("urgent", D(2026, 3, 4), rules=same_day).due == D(2026, 3, 4)
    # ... received on a holiday, due on the first working day
    assert clock("urgent", D(2026, 10, 3), rules=same_day).due == D(2026, 10, 8)
    # simple: 10 working days; 28 Sep -> 29, 30 Sep, 8, 9, 10, 12-16 Oct
    assert clock("simple", D(2026, 9, 28)).due == D(2026, 10, 16)


# --------------------------------------------------------------------------- pauses


def test_closed_pause_moves_the_due_date_by_its_length() -> None:
    st = clock("reply", D(2026, 1, 5), D(2026, 2, 20), pauses=[(D(2026, 2, 1), D(2026, 2, 11))])
    assert st.paused_days == 10
    assert st.due == D(2026, 3, 16)  # 6 March + 10 days
    assert st.status is S.OK
    assert st.paused_since is None


def test_open_pause_holds_the_clock_and_its_days_left() -> None:
    before = clock("reply", D(2026, 1, 5), D(2026, 1, 31))
    assert before.days_left == 34
    for today in (D(2026, 2, 1), D(2026, 2, 10), D(2026, 5, 1)):
        st = clock("reply", D(2026, 1, 5), today, pauses=[(D(2026, 2, 1), None)],
                   rules=NO_MOVE)
        assert st.status is S.PAUSED
        assert st.paused_since == D(2026, 2, 1)
        assert st.days_left == 34  # frozen while paused
        assert st.paused_days == (today - D(2026, 2, 1)).days + 1
        assert st.due == today + timedelta(days=34)
        # with the default rules the same, then moved off a weekend
        moved = clock("reply", D(2026, 1, 5), today, pauses=[(D(2026, 2, 1), None)])
        assert moved.nominal_due == st.due
        assert moved.due == CAL.next_working_day(st.due)
    # paused on 1 Feb: 7 March is a Saturday, so the shown due date is Monday 9 March
    assert clock("reply", D(2026, 1, 5), D(2026, 2, 1), pauses=[(D(2026, 2, 1), None)]).due \
        == D(2026, 3, 9)
    # a pause beginning tomorrow does not hold the clock today
    st = clock("reply", D(2026, 1, 5), D(2026, 1, 31), pauses=[(D(2026, 2, 1), None)])
    assert st.status is S.OK and st.paused_days == 0 and st.due == D(2026, 3, 6)


def test_resumed_pause_then_the_clock_runs_again() -> None:
    # paused on 1 Feb, resumed on 11 Feb: on 11 Feb one running day is used again
    st = clock("reply", D(2026, 1, 5), D(2026, 2, 11), pauses=[(D(2026, 2, 1), D(2026, 2, 11))])
    assert st.days_left == 33
    assert st.status is S.OK


def test_overlapping_and_adjacent_pauses_are_merged() -> None:
    start, today = D(2026, 1, 5), D(2026, 2, 20)
    overlapping = clock("reply", start, today,
                        pauses=[(D(2026, 2, 5), D(2026, 2, 15)), (D(2026, 2, 1), D(2026, 2, 11))])
    assert overlapping.paused_days == 14  # 1-14 Feb, not 10 + 10
    assert overlapping.due == D(2026, 3, 20)
    adjacent = clock("reply", start, today,
                     pauses=[(D(2026, 2, 1), D(2026, 2, 5)), (D(2026, 2, 5), D(2026, 2, 10))])
    assert adjacent.paused_days == 9
    contained = clock("reply", start, today,
                      pauses=[(D(2026, 2, 1), D(2026, 2, 20)), (D(2026, 2, 3), D(2026, 2, 4))])
    assert contained.paused_days == 19
    # a closed pause inside an open one: still paused now
    mixed = clock("reply", start, today,
                  pauses=[(D(2026, 2, 1), None), (D(2026, 2, 3), D(2026, 2, 8))])
    assert mixed.status is S.PAUSED and mixed.paused_days == 20


def test_pause_after_the_due_date_does_not_forgive_an_overdue_clock() -> None:
    st = clock("reply", D(2026, 1, 5), D(2026, 3, 25), pauses=[(D(2026, 3, 10), D(2026, 3, 20))])
    assert st.due == D(2026, 3, 6)
    assert st.paused_days == 0
    assert st.status is S.OVERDUE and st.overdue_days == 19
    # open pause begun after the due date: still overdue, not "paused"
    st = clock("reply", D(2026, 1, 5), D(2026, 3, 25), pauses=[(D(2026, 3, 10), None)])
    assert st.status is S.OVERDUE and st.paused_since is None


def test_pause_on_the_due_day_itself_counts() -> None:
    st = clock("reply", D(2026, 1, 5), D(2026, 3, 6), pauses=[(D(2026, 3, 6), D(2026, 3, 9))])
    assert st.paused_days == 3 and st.due == D(2026, 3, 9)


def test_pause_beginning_before_the_clock_is_clipped_to_its_start() -> None:
    st = clock("reply", D(2026, 1, 5), D(2026, 1, 20), pauses=[(D(2025, 12, 20), D(2026, 1, 10))])
    assert st.paused_days == 4  # 6-9 January
    assert st.due == D(2026, 3, 10)


def test_pause_on_a_working_day_clock_counts_only_working_days() -> None:
    # objection from Monday 2 March 2026: 3, 4, 5, 6, 9 March
    assert clock("objection", D(2026, 3, 2), cal=PLAIN).due == D(2026, 3, 9)
    # a weekend pause does not move it
    st = clock("objection", D(2026, 3, 2), cal=PLAIN, pauses=[(D(2026, 3, 7), D(2026, 3, 9))])
    assert st.due == D(2026, 3, 9)
    # a Tuesday pause moves it one working day: across National Day to Monday 12 Oct
    st = clock("objection", D(2026, 9, 28), pauses=[(D(2026, 9, 29), D(2026, 9, 30))])
    assert st.paused_days == 1
    assert st.due == D(2026, 10, 12)


def test_rereview_hearing_time_is_not_counted() -> None:
    # re-review requested 2 March 2026; a hearing 10-12 March (resumes 13 March)
    st = clock("rereview", D(2026, 3, 2), D(2026, 3, 20), cal=PLAIN,
               pauses=[(D(2026, 3, 10), D(2026, 3, 13))])
    assert st.nominal_due == D(2026, 4, 4)  # 1 April + 3 days
    assert st.due == D(2026, 4, 6)  # Saturday -> Monday


def test_pause_that_resumes_before_it_began_is_refused() -> None:
    with pytest.raises(dl.PauseError, match="cannot resume"):
        clock("reply", D(2026, 1, 5), pauses=[(D(2026, 2, 10), D(2026, 2, 1))])
    with pytest.raises(dl.PauseError, match="a pause is"):
        clock("reply", D(2026, 1, 5), pauses=[(D(2026, 2, 10),)])


# --------------------------------------------------------------------------- extensions


def test_one_extension_of_up_to_30_days_on_the_reply_clock() -> None:
    base = clock("reply", D(2026, 1, 5), D(2026, 3, 1))
    ext = clock("reply", D(2026, 1, 5), D(2026, 3, 1), extensions=[30])
    assert ext.nominal_due == base.nominal_due + timedelta(days=30) == D(2026, 4, 5)
    assert ext.due == D(2026, 4, 6)  # Sunday -> Monday
    assert ext.extension_days == 30 and ext.extensions == (30,)
    assert ext.period == 90
    assert base.status is S.AMBER and ext.status is S.OK
    assert clock("reply", D(2026, 1, 5), extensions=[10]).due == D(2026, 3, 16)


def test_second_extension_is_refused() -> None:
    with pytest.raises(dl.ExtensionRefused, match="only one extension.*number 2"):
        clock("reply", D(2026, 1, 5), extensions=[10, 10])


@pytest.mark.parametrize("days", [31, 45, 0, -5])
def test_extension_out_of_range_is_refused(days: int) -> None:
    with pytest.raises(dl.ExtensionRefused):
        clock("reply", D(2026, 1, 5), extensions=[days])


def test_extension_over_30_days_message() -> None:
    with pytest.raises(dl.ExtensionRefused, match="30 days at most; 31 days were asked for"):
        clock("reply", D(2026, 1, 5), extensions=[31])


def test_other_clocks_cannot_be_extended() -> None:
    with pytest.raises(dl.ExtensionRefused, match="the accept clock cannot be extended"):
        clock("accept", D(2026, 1, 5), extensions=[5])
    assert issubclass(dl.ExtensionRefused, dl.DeadlineError)
    assert issubclass(dl.DeadlineError, ValueError)


def test_check_extension_before_recording_one() -> None:
    dl.check_extension("reply", RULES, [], 30)  # fine
    with pytest.raises(dl.ExtensionRefused, match="only one extension"):
        dl.check_extension("reply", RULES, [15], 15)
    with pytest.raises(dl.ExtensionRefused, match="cannot be extended"):
        dl.check_extension(dl.ClockKind.REVIEW, RULES, [], 5)


def test_province_allowing_two_extensions_caps_the_total() -> None:
    rules = dl.DeadlineRules.from_mapping({"reply": {"max_extensions": 2}})
    # 6 March + 25 days
    assert clock("reply", D(2026, 1, 5), rules=rules, extensions=[10, 15]).due == D(2026, 3, 31)
    with pytest.raises(dl.ExtensionRefused, match="35 days were asked for"):
        clock("reply", D(2026, 1, 5), rules=rules, extensions=[20, 15])
    with pytest.raises(dl.ExtensionRefused, match="at most 2 extensions"):
        clock("reply", D(2026, 1, 5), rules=rules, extensions=[5, 5, 5])


def test_extension_on_a_working_day_clock_counts_working_days() -> None:
    rules = dl.DeadlineRules.from_mapping(
        {"objection": {"max_extensions": 1, "max_extension_days": 5}})
    # 5 working days from 28 Sep is 10 Oct; 2 more working days: 12, 13 Oct
    assert clock("objection", D(2026, 9, 28), rules=rules, extensions=[2]).due == D(2026, 10, 13)


# --------------------------------------------------------------------------- status


@pytest.mark.parametrize(("today", "left", "status"), [
    (D(2026, 1, 5), 60, S.OK),
    (D(2026, 2, 13), 21, S.OK),
    (D(2026, 2, 14), 20, S.AMBER),  # a third of 60 days
    (D(2026, 3, 3), 3, S.AMBER),
    (D(2026, 3, 4), 2, S.RED),
    (D(2026, 3, 6), 0, S.RED),  # due today
    (D(2026, 3, 7), -1, S.OVERDUE),
    (D(2026, 4, 5), -30, S.OVERDUE),
])
def test_reply_clock_thresholds(today: date, left: int, status: S) -> None:
    st = clock("reply", D(2026, 1, 5), today)
    assert st.days_left == left
    assert st.status is status
    assert st.overdue_days == max(0, -left)
    assert st.is_overdue is (left < 0)


def test_amber_days_apply_to_short_clocks() -> None:
    start = D(2026, 3, 2)  # accept clock due 17 March (15 days)
    assert clock("accept", start, D(2026, 3, 11)).status is S.OK  # 6 left
    assert clock("accept", start, D(2026, 3, 12)).status is S.AMBER  # 5 left
    # with the fraction off, only the 5-day rule applies to the 60-day clock
    rules = dl.DeadlineRules.from_mapping({"amber_fraction": 0})
    assert clock("reply", D(2026, 1, 5), D(2026, 2, 14), rules=rules).status is S.OK
    assert clock("reply", D(2026, 1, 5), D(2026, 3, 1), rules=rules).status is S.AMBER
    rules = dl.DeadlineRules.from_mapping({"red_days": 0, "amber_days": 1, "amber_fraction": 0})
    assert clock("reply", D(2026, 1, 5), D(2026, 3, 4), rules=rules).status is S.OK
    assert clock("reply", D(2026, 1, 5), D(2026, 3, 5), rules=rules).status is S.AMBER
    assert clock("reply", D(2026, 1, 5), D(2026, 3, 6), rules=rules).status is S.RED


def test_working_day_clock_thresholds_count_working_days() -> None:
    # objection due Sat 10 Oct (make-up). On 30 Sep: 3 working days left, 10 calendar days
    st = clock("objection", D(2026, 9, 28), D(2026, 9, 30))
    assert (st.days_left, st.working_days_left) == (10, 3)
    assert st.status is S.AMBER
    st = clock("objection", D(2026, 9, 28), D(2026, 10, 8))
    assert st.working_days_left == 2 and st.status is S.RED


def test_stopped_clock_on_time_and_late() -> None:
    on_time = clock("reply", D(2026, 1, 5), D(2026, 5, 1), stopped_on=D(2026, 3, 1))
    assert on_time.status is S.STOPPED and on_time.met is True
    assert on_time.days_left == 5 and on_time.overdue_days == 0
    late = clock("reply", D(2026, 1, 5), D(2026, 5, 1), stopped_on=D(2026, 3, 10))
    assert late.status is S.STOPPED and late.met is False and late.overdue_days == 4
    # an open pause is closed by the stop: days up to the stop day are counted out
    paused = clock("reply", D(2026, 1, 5), D(2026, 5, 1), stopped_on=D(2026, 3, 10),
                   pauses=[(D(2026, 3, 1), None)])
    assert paused.paused_days == 10 and paused.met is True and paused.paused_since is None
    assert clock("reply", D(2026, 1, 5)).met is None


# --------------------------------------------------------------------------- reminders


def reply_on(today: date, **kw: object) -> dl.ClockState:
    return clock("reply", D(2026, 1, 5), today, **kw)  # type: ignore[arg-type]  # due 6 March


def keys(today: date, sent: frozenset[str] = frozenset(), **kw: object) -> list[str]:
    return [r.key for r in dl.reminders_due(reply_on(today, **kw), today, sent)]


def test_reminder_schedule_before_on_and_after_the_due_date() -> None:
    assert keys(D(2026, 2, 28)) == []  # 6 days before: nothing yet
    assert keys(D(2026, 3, 1)) == ["reply:2026-03-06:before5"]
    assert keys(D(2026, 3, 3)) == ["reply:2026-03-06:before5"]  # missed: still sent
    assert keys(D(2026, 3, 3), frozenset({"reply:2026-03-06:before5"})) == []
    assert keys(D(2026, 3, 5)) == ["reply:2026-03-06:before1"]
    assert keys(D(2026, 3, 6)) == ["reply:2026-03-06:due"]
    assert keys(D(2026, 3, 7)) == ["reply:2026-03-06:overdue1"]
    assert keys(D(2026, 3, 9)) == ["reply:2026-03-06:overdue1"]
    assert keys(D(2026, 3, 9), frozenset({"reply:2026-03-06:overdue1"})) == []
    assert keys(D(2026, 3, 10)) == ["reply:2026-03-06:overdue4"]
    assert keys(D(2026, 3, 13)) == ["reply:2026-03-06:overdue7"]


def test_missed_earlier_reminder_is_superseded_not_flooded() -> None:
    # the worker was down from 1 to 5 March: on 5 March only "before1" goes out
    assert keys(D(2026, 3, 5)) == ["reply:2026-03-06:before1"]
    # and once before1 went out, the missed before5 is not sent afterwards
    assert keys(D(2026, 3, 5), frozenset({"reply:2026-03-06:before1"})) == []


def test_reminder_fields_and_scope() -> None:
    [r] = dl.reminders_due(reply_on(D(2026, 3, 10)), D(2026, 3, 10), scope="2026-XF-000123")
    assert r.key == "2026-XF-000123:reply:2026-03-06:overdue4"
    assert r.stage is dl.ReminderStage.OVERDUE
    assert (r.due, r.send_on, r.days, r.kind) == (
        D(2026, 3, 6), D(2026, 3, 10), 4, dl.ClockKind.REPLY)
    [b] = dl.reminders_due(reply_on(D(2026, 3, 2)), D(2026, 3, 2))
    assert (b.stage, b.days, b.send_on) == (dl.ReminderStage.BEFORE, 5, D(2026, 3, 1))


def test_no_reminders_for_paused_or_stopped_clocks() -> None:
    assert keys(D(2026, 3, 6), pauses=[(D(2026, 3, 1), None)]) == []
    assert keys(D(2026, 3, 10), stopped_on=D(2026, 3, 2)) == []


def test_an_extension_gives_the_new_due_date_its_own_reminders() -> None:
    # extended by 10 days: due Monday 16 March, so 11 March has a before5 keyed on 16 March
    assert keys(D(2026, 3, 11), extensions=[10]) == ["reply:2026-03-16:before5"]


def test_reminder_policy_settings() -> None:
    rules = dl.DeadlineRules.from_mapping(
        {"reminders": {"before": [1, 7], "on_due": False, "overdue_every": 0}})
    assert rules.reminders.before == (7, 1)

    def k(today: date) -> list[str]:
        st = clock("reply", D(2026, 1, 5), today, rules=rules)
        return [r.key for r in dl.reminders_due(st, today)]

    assert k(D(2026, 2, 27)) == ["reply:2026-03-06:before7"]
    assert k(D(2026, 3, 6)) == ["reply:2026-03-06:before1"]  # no separate "due" step
    assert k(D(2026, 3, 20)) == []  # overdue reminders off


def test_daily_worker_sends_each_step_once() -> None:
    sent: list[str] = []
    day = D(2026, 2, 1)
    while day <= D(2026, 3, 20):
        for r in dl.reminders_due(reply_on(day), day, frozenset(sent)):
            sent.append(r.key)
        day += timedelta(days=1)
    assert sent == ["reply:2026-03-06:before5", "reply:2026-03-06:before1",
                    "reply:2026-03-06:due", "reply:2026-03-06:overdue1",
                    "reply:2026-03-06:overdue4", "reply:2026-03-06:overdue7",
                    "reply:2026-03-06:overdue10", "reply:2026-03-06:overdue13"]


# --------------------------------------------------------------------------- settings


def test_from_mapping_overrides_and_keeps_the_rest() -> None:
    rules = dl.DeadlineRules.from_mapping({
        "accept": 10,
        "reply": {"length": 45, "unit": "working"},
        "move_due_off_holidays": False,
        "amber_fraction": "1/4",
        "red_days": 1,
    })
    assert rules.accept == dl.ClockRule(10)
    assert rules.reply == dl.ClockRule(45, dl.DayCount.WORKING, max_extensions=1,
                                       max_extension_days=30)
    assert rules.move_due_off_holidays is False
    assert rules.amber_fraction == Fraction(1, 4)
    assert rules.red_days == 1
    assert rules.route == RULES.route and rules.amber_days == 5
    assert dl.DeadlineRules.from_mapping({"amber_fraction": 0.25}).amber_fraction == Fraction(1, 4)
    # a province's rules over another base
    stricter = dl.DeadlineRules.from_mapping({"red_days": 3}, base=rules)
    assert stricter.accept.length == 10 and stricter.red_days == 3


def test_to_mapping_round_trips() -> None:
    rules = dl.DeadlineRules.from_mapping({"review": {"length": 20, "unit": "working"}})
    data = rules.to_mapping()
    assert data["review"] == {"length": 20, "unit": "working", "max_extensions": 0,
                              "max_extension_days": 0}
    assert data["amber_fraction"] == "1/3"
    assert dl.DeadlineRules.from_mapping(data) == rules


@pytest.mark.parametrize(("data", "message"), [
    ({"reply": {"unit": "weeks"}},
     "deadlines.reply.unit: unknown unit 'weeks'; use one of calendar, working, months"),
    ({"reply": {"length": "60"}}, "deadlines.reply.length: expected a whole number >= 0"),
    ({"reply": {"length": -1}}, "deadlines.reply.length: expected a whole number >= 0, got -1"),
    ({"reply": True}, "deadlines.reply: expected a number of days or a mapping"),
    ({"reply": {"lenght": 60}}, "deadlines.reply: unknown setting 'lenght'"),
    ({"accept": {"max_extensions": 1}},
     "deadlines.accept.max_extension_days: must be >= 1 when extensions are allowed"),
    ({"amber_fraction": 1.5}, "deadlines.amber_fraction: expected a fraction between 0 and 1"),
    ({"amber_fraction": "a third"}, "deadlines.amber_fraction: expected a fraction"),
    ({"red_days": 2.5}, "deadlines.red_days: expected a whole number"),
    ({"move_due_off_holidays": "yes"}, "deadlines.move_due_off_holidays: expected true or false"),
    ({"reminders": {"before": [5, 0]}}, "deadlines.reminders.before: expected a whole number >= 1"),
    ({"reminders": {"before": "5"}}, "deadlines.reminders.before: expected a list of days"),
    ({"reminders": {"every": 3}}, "deadlines.reminders: unknown setting 'every'"),
    ({"holidays": []}, "deadlines: unknown setting 'holidays'; known: accept,"),
])
def test_from_mapping_rejects_bad_values_with_clear_messages(data: dict[str, object],
                                                            message: str) -> None:
    with pytest.raises(dl.RulesError) as info:
        dl.DeadlineRules.from_mapping(data)
    assert str(info.value).startswith(message)


def test_rules_validate_when_built_directly() -> None:
    with pytest.raises(dl.RulesError, match="length"):
        dl.ClockRule(-3)
    with pytest.raises(dl.RulesError, match="amber_fraction"):
        dl.DeadlineRules(amber_fraction=Fraction(3, 2))
    with pytest.raises(dl.RulesError, match="red_days"):
        dl.DeadlineRules(red_days=-1)
    with pytest.raises(dl.RulesError, match="expected a mapping"):
        dl.DeadlineRules.from_mapping([("accept", 10)])  # type: ignore[arg-type]
