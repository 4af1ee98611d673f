"""Property tests (hypothesis) of the deadline engine."""

from __future__ import annotations

from datetime import date, timedelta
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from portal.casefiles import deadlines as dl

D = date
LO, HI = D(2025, 1, 1), D(2027, 12, 31)
FAST = settings(max_examples=60, deadline=None, database=None)

days = st.dates(LO, HI)
kinds = st.sampled_from(list(dl.ClockKind))
ON = dl.DeadlineRules()
OFF = dl.DeadlineRules(move_due_off_holidays=False)
rules_on_off = st.sampled_from([ON, OFF])


@st.composite
def calendars(draw: st.DrawFn) -> dl.Calendar:
    """Random holiday calendars, dense enough that clocks often meet a holiday."""
    holidays = draw(st.frozensets(days, max_size=80))
    workdays = draw(st.frozensets(days, max_size=20)) - holidays
    return dl.Calendar(holidays=holidays, workdays=workdays)


@st.composite
def pause_lists(draw: st.DrawFn, start: date) -> list[dl.Pause]:
    out: list[dl.Pause] = []
    for _ in range(draw(st.integers(0, 4))):
        begin = start + timedelta(days=draw(st.integers(-10, 120)))
        if draw(st.booleans()) and draw(st.booleans()):
            out.append((begin, None))
        else:
            out.append((begin, begin + timedelta(days=draw(st.integers(0, 40)))))
    return out


def brute_working_days(cal: dl.Calendar, a: date, b: date) -> int:
    lo, hi, sign = (a, b, 1) if a <= b else (b, a, -1)
    return sign * sum(cal.is_working_day(lo + timedelta(days=i))
                      for i in range(1, (hi - lo).days + 1))


# --------------------------------------------------------------------------- calendar


@FAST
@given(calendars(), days, st.integers(0, 300))
def test_add_then_count_working_days_gives_n(cal: dl.Calendar, start: date, n: int) -> None:
    end = cal.add_working_days(start, n)
    assert cal.working_days_between(start, end) == n
    if n:
        assert cal.is_working_day(end)


@FAST
@given(calendars(), days, days, days)
def test_working_days_between_matches_a_day_by_day_count_and_adds_up(
        cal: dl.Calendar, a: date, b: date, c: date) -> None:
    assert cal.working_days_between(a, b) == brute_working_days(cal, a, b)
    assert cal.working_days_between(a, b) + cal.working_days_between(b, c) \
        == cal.working_days_between(a, c)


@FAST
@given(days, st.integers(0, 40))
def test_add_months_keeps_the_day_or_clamps_to_month_end(start: date, months: int) -> None:
    end = dl.add_months(start, months)
    assert (end.year * 12 + end.month) - (start.year * 12 + start.month) == months
    assert end.day == start.day or (end.day < start.day
                                    and (end + timedelta(days=1)).day == 1)


# --------------------------------------------------------------------------- clocks


@FAST
@given(st.data(), kinds, days, calendars(), rules_on_off)
def test_a_pause_never_makes_the_due_date_earlier(
        data: st.DataObject, kind: dl.ClockKind, start: date, cal: dl.Calendar,
        rules: dl.DeadlineRules) -> None:
    pauses = data.draw(pause_lists(start))
    today = start + timedelta(days=data.draw(st.integers(0, 200)))
    plain = dl.compute_clock(kind, start, rules, cal, today=today)
    paused = dl.compute_clock(kind, start, rules, cal, today=today, pauses=pauses)
    assert paused.due >= plain.due
    assert paused.nominal_due >= plain.nominal_due
    assert paused.paused_days >= 0
    if kind in (k for k in dl.ClockKind if ON.rule(k).unit is not dl.DayCount.WORKING):
        # on a calendar clock the due date moves by exactly the days counted out
        assert paused.nominal_due == plain.nominal_due + timedelta(days=paused.paused_days)


@FAST
@given(st.data(), kinds, days, calendars(), rules_on_off)
def test_pauses_are_order_independent(
        data: st.DataObject, kind: dl.ClockKind, start: date, cal: dl.Calendar,
        rules: dl.DeadlineRules) -> None:
    pauses = data.draw(pause_lists(start))
    shuffled = data.draw(st.permutations(pauses))
    today = start + timedelta(days=data.draw(st.integers(0, 200)))
    assert dl.compute_clock(kind, start, rules, cal, today=today, pauses=pauses) \
        == dl.compute_clock(kind, start, rules, cal, today=today, pauses=shuffled)


@FAST
@given(days, calendars(), st.integers(1, 30), st.integers(0, 200))
def test_extension_moves_the_due_date_by_exactly_its_days(
        start: date, cal: dl.Calendar, extension: int, after: int) -> None:
    today = start + timedelta(days=after)
    base = dl.compute_clock("reply", start, ON, cal, today=today)
    ext = dl.compute_clock("reply", start, ON, cal, today=today, extensions=[extension])
    assert ext.nominal_due == base.nominal_due + timedelta(days=extension)
    assert ext.due == cal.next_working_day(ext.nominal_due)
    # with the move-to-working-day setting off, the shown due date moves exactly too
    base_off = dl.compute_clock("reply", start, OFF, cal, today=today)
    ext_off = dl.compute_clock("reply", start, OFF, cal, today=today, extensions=[extension])
    assert ext_off.due - base_off.due == timedelta(days=extension)
    assert ext_off.days_left - base_off.days_left == extension


@FAST
@given(st.data(), kinds, days, calendars())
def test_due_date_is_a_working_day_when_the_setting_is_on(
        data: st.DataObject, kind: dl.ClockKind, start: date, cal: dl.Calendar) -> None:
    rule = ON.rule(kind)
    extensions = [data.draw(st.integers(1, rule.max_extension_days))] \
        if rule.max_extensions and data.draw(st.booleans()) else []
    pauses = data.draw(pause_lists(start))
    today = start + timedelta(days=data.draw(st.integers(0, 200)))
    state = dl.compute_clock(kind, start, ON, cal, today=today, pauses=pauses,
                             extensions=extensions)
    assert cal.is_working_day(state.due)
    assert state.due >= state.nominal_due
    assert all(not cal.is_working_day(state.nominal_due + timedelta(days=i))
               for i in range((state.due - state.nominal_due).days))


@FAST
@given(days, calendars(), st.integers(0, 30))
def test_working_day_clock_without_pauses_is_add_working_days(
        start: date, cal: dl.Calendar, length: int) -> None:
    rules = dl.DeadlineRules.from_mapping({"objection": length})
    state = dl.compute_clock("objection", start, rules, cal, today=start)
    assert state.nominal_due == cal.add_working_days(start, length)
    assert state.working_days_left == cal.working_days_between(start, state.due)


@FAST
@given(kinds, days, calendars(), st.integers(0, 150))
def test_a_running_clock_loses_one_day_per_day(
        kind: dl.ClockKind, start: date, cal: dl.Calendar, after: int) -> None:
    today = start + timedelta(days=after)
    a = dl.compute_clock(kind, start, ON, cal, today=today)
    b = dl.compute_clock(kind, start, ON, cal, today=today + timedelta(days=1))
    assert a.due == b.due
    assert a.days_left - b.days_left == 1
    assert (b.status is dl.ClockStatus.OVERDUE) == (b.days_left < 0)
    assert b.overdue_days == max(0, -b.days_left)
    # status only gets worse with time
    order = [dl.ClockStatus.OK, dl.ClockStatus.AMBER, dl.ClockStatus.RED,
             dl.ClockStatus.OVERDUE]
    assert order.index(b.status) >= order.index(a.status)


@FAST
@given(kinds, days, calendars(), st.integers(1, 20), st.integers(0, 100))
def test_an_open_pause_freezes_days_left(
        kind: dl.ClockKind, start: date, cal: dl.Calendar, pause_after: int,
        paused_for: int) -> None:
    paused_on = start + timedelta(days=pause_after)
    eve = dl.compute_clock(kind, start, OFF, cal, today=paused_on - timedelta(days=1))
    if eve.due < paused_on:
        return  # already overdue when the pause began: it does not count
    today = paused_on + timedelta(days=paused_for)
    state = dl.compute_clock(kind, start, OFF, cal, today=today, pauses=[(paused_on, None)])
    assert state.status is dl.ClockStatus.PAUSED
    assert state.paused_since == paused_on
    if eve.unit is dl.DayCount.WORKING:
        assert state.working_days_left == eve.working_days_left
    else:
        assert state.days_left == eve.days_left


# --------------------------------------------------------------------------- reminders


@FAST
@given(kinds, days, calendars(), st.integers(0, 60))
def test_a_daily_worker_sends_each_key_once_and_at_most_one_a_day(
        kind: dl.ClockKind, start: date, cal: dl.Calendar, run_for: int) -> None:
    sent: list[str] = []
    first = dl.compute_clock(kind, start, ON, cal, today=start)
    day = start
    while day <= first.due + timedelta(days=run_for):
        state = dl.compute_clock(kind, start, ON, cal, today=day)
        new = dl.reminders_due(state, day, frozenset(sent))
        assert len(new) <= 1
        for r in new:
            assert r.key.startswith(f"{kind.value}:{state.due.isoformat()}:")
            assert r.send_on <= day
        sent.extend(r.key for r in new)
        day += timedelta(days=1)
    assert len(sent) == len(set(sent))
    assert f"{kind.value}:{first.due.isoformat()}:due" in sent
    if run_for >= 1:
        assert f"{kind.value}:{first.due.isoformat()}:overdue1" in sent


# --------------------------------------------------------------------------- settings

clock_rules = st.builds(
    lambda length, unit, ext: dl.ClockRule(length, unit, ext[0], ext[1]),
    st.integers(0, 120), st.sampled_from(list(dl.DayCount)),
    st.sampled_from([(0, 0), (1, 30), (2, 45), (0, 10)]))


@FAST
@given(st.fixed_dictionaries({k.value: clock_rules for k in dl.ClockKind}),
       st.booleans(), st.integers(0, 10), st.fractions(0, 1, max_denominator=12),
       st.integers(0, 10), st.lists(st.integers(1, 30), max_size=4), st.integers(0, 7))
def test_rules_round_trip_through_a_mapping(
        clocks: dict[str, dl.ClockRule], move: bool, amber: int, fraction: Fraction,
        red: int, before: list[int], every: int) -> None:
    rules = dl.DeadlineRules(**clocks, move_due_off_holidays=move, amber_days=amber,
                             amber_fraction=fraction, red_days=red,
                             reminders=dl.ReminderPolicy(tuple(before), True, every))
    assert dl.DeadlineRules.from_mapping(rules.to_mapping()) == rules
