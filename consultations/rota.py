"""The fair weekly rota, as a pure function: no database, no Flask.

Given the lawyers (in a stable order), the weeks they declared unavailable, the working-day
calendar, the year and the load they carried before it, `plan_year` gives each Monday of
the year a lawyer and the reason for the choice:

- a week with fewer than `min_working_days` working days (Spring Festival, National Day)
  is closed: no lawyer. The operations store no row for it (DutyWeek.lawyer_id is not
  null), so "no row" means "no duty that week".
- otherwise the available lawyer with the least load is taken (this year's weeks plus
  the load carried over); ties go to the lawyer who was not on duty the week before, then
  to the one who served longest ago, then to the registry order. Least-load-first keeps
  every lawyer's count within one week of the others' when nobody is unavailable.
- the load carried over is each lawyer's earlier published weeks less the mean of those
  who have any, clipped to one week either way: it settles last year's odd week without
  putting a newcomer (or someone back from a long absence) on several weeks in a row.
- fixed weeks (already started, or kept by the organiser) count as load and are not
  changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

WEEK = timedelta(days=7)
#: the most a year's rota makes up for earlier years, in weeks, either way
CARRY_LIMIT = 1


class Reason(StrEnum):
    CLOSED = "closed"  # too few working days
    NOBODY = "nobody"  # every lawyer unavailable
    FIXED = "fixed"  # started already, or kept as it is
    ONLY_ONE = "only_one"  # a single lawyer available
    LEAST_LOAD = "least_load"  # fewest weeks so far
    NOT_TWICE = "not_twice"  # as few as others, not on duty the week before
    LONGEST_AGO = "longest_ago"  # as few as others, served longest ago


@dataclass(frozen=True)
class Assignment:
    week_start: date
    #: None: closed, or nobody available
    lawyer_id: int | None
    reason: Reason
    working_days: int
    #: the lawyers who declared this week unavailable
    unavailable: frozenset[int] = frozenset()

    @property
    def is_closed(self) -> bool:
        return self.reason is Reason.CLOSED


def mondays_of(year: int) -> list[date]:
    """The Mondays that fall in `year`: a week belongs to the year of its Monday."""
    day = date(year, 1, 1)
    day += timedelta(days=(7 - day.weekday()) % 7)
    weeks = []
    while day.year == year:
        weeks.append(day)
        day += WEEK
    return weeks


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def working_days(week_start: date, is_working_day: Callable[[date], bool]) -> int:
    """Working days of the week, make-up Saturdays and Sundays (调休) included."""
    return sum(1 for i in range(7) if is_working_day(week_start + timedelta(days=i)))


def carried_load(past_load: Mapping[int, int], lawyers: Iterable[int]) -> dict[int, int]:
    """Each lawyer's earlier weeks relative to the mean of those who served, clipped."""
    ids = list(lawyers)
    served = [past_load[i] for i in ids if past_load.get(i, 0) > 0]
    if not served:
        return dict.fromkeys(ids, 0)
    mean = sum(served) / len(served)
    carried = {}
    for i in ids:
        if past_load.get(i, 0) <= 0:
            carried[i] = 0
        else:
            carried[i] = max(-CARRY_LIMIT, min(CARRY_LIMIT, round(past_load[i] - mean)))
    return carried


def plan_year(year: int, lawyers: Sequence[int], *,
              is_working_day: Callable[[date], bool],
              unavailable: Iterable[tuple[int, date]] = (),
              past_load: Mapping[int, int] | None = None,
              min_working_days: int = 2,
              fixed: Mapping[date, int] | None = None,
              previous_lawyer: int | None = None,
              start: date | None = None) -> list[Assignment]:
    """The assignments of every Monday of `year` from `start` on (all of them by
    default), in order. `fixed` weeks keep their lawyer; `previous_lawyer` was on duty
    the week before the first one planned."""
    away: dict[date, set[int]] = {}
    for person_id, week in unavailable:
        away.setdefault(monday_of(week), set()).add(person_id)
    fixed = dict(fixed or {})
    order = {lawyer: i for i, lawyer in enumerate(lawyers)}
    load = carried_load(past_load or {}, lawyers)
    last_served: dict[int, int] = dict.fromkeys(lawyers, -1)
    plan: list[Assignment] = []
    last = previous_lawyer
    for n, week in enumerate(mondays_of(year)):
        if start is not None and week < start:
            continue
        days = working_days(week, is_working_day)
        out = frozenset(away.get(week, ()))
        if week in fixed:
            chosen: int | None = fixed[week]
            reason = Reason.FIXED
        elif days < min_working_days:
            chosen, reason = None, Reason.CLOSED
        else:
            chosen, reason = _choose([x for x in lawyers if x not in out], load,
                                     last, last_served, order)
        plan.append(Assignment(week, chosen, reason, days, out))
        if chosen is not None:
            load[chosen] = load.get(chosen, 0) + 1
            last_served[chosen] = n
        # a closed week breaks the run: duty on both sides of it is not "in a row"
        last = chosen
    return plan


def _choose(candidates: list[int], load: Mapping[int, int], last: int | None,
            last_served: Mapping[int, int], order: Mapping[int, int]
            ) -> tuple[int | None, Reason]:
    if not candidates:
        return None, Reason.NOBODY
    if len(candidates) == 1:
        return candidates[0], Reason.ONLY_ONE

    def key(x: int) -> tuple[int, int, int, int]:
        return (load.get(x, 0), int(x == last), last_served.get(x, -1), order[x])

    ranked = sorted(candidates, key=key)
    best, runner = key(ranked[0]), key(ranked[1])
    if best[0] < runner[0]:
        return ranked[0], Reason.LEAST_LOAD
    if best[1] < runner[1]:
        return ranked[0], Reason.NOT_TWICE
    return ranked[0], Reason.LONGEST_AGO


def counts(plan: Iterable[Assignment]) -> dict[int, int]:
    """Weeks per lawyer in a plan."""
    found: dict[int, int] = {}
    for a in plan:
        if a.lawyer_id is not None:
            found[a.lawyer_id] = found.get(a.lawyer_id, 0) + 1
    return found
