"""The deadline engine: statutory and local clocks on a case file, as pure functions.

Nothing here touches the database, the request or the wall clock: callers pass the
dates in (``today`` included), so every result is reproducible and testable.

Sources of the defaults
-----------------------
The periods come from the 2022 Regulations on Petition Work (信访工作条例), as
summarised in ``shared/DOMAIN.md``; local practice (大案两个月、一般一个月、急案速结、
简易办理) comes from the seeds. Article numbers for Art. 22 and Art. 23 are those
given in DOMAIN.md; the others (Art. 32, 35, 36) are our reading of the 2022 text
and should be checked against the official text before they are shown to users.

How days are counted (the general rules on periods in the Civil Code, Arts. 201-203,
applied by analogy, as offices do):

* the day the clock starts is not counted: a 15-day clock started on 1 March is due
  on 16 March (Art. 201);
* a period in months ends on the same day-of-month, or on the month's last day when
  that month is shorter: one month from 31 January is 28 (or 29) February (Art. 202);
* when the last day falls on a rest day (a weekend that is not a make-up working day,
  or a public holiday), the period ends on the first working day after it (Art. 203).
  This is the setting ``DeadlineRules.move_due_off_holidays`` (default on).

Each clock counts either calendar days, working days or calendar months
(``ClockRule.unit``); the Regulations say "日" (calendar days) except for the 5
*working* days in which a body objects that a matter is not its own.

Pauses
------
A pause is ``(paused_on, resumed_on)``, half-open: the clock does not run on
``paused_on`` nor on any day up to ``resumed_on``, and runs again on ``resumed_on``.
So a hearing held on 10 March only is recorded as ``(10 March, 11 March)``.
``resumed_on=None`` is an open pause: the clock is paused now, and stays paused through
``today``; its days left do not change while it stays paused (the due date shown may
still step over a weekend, as it is moved off rest days). Overlapping or adjacent
pauses are merged. A pause only counts if it begins on or before the day the clock
would otherwise fall due: pausing an overdue clock does not forgive it. For a
working-day clock only the working days inside a pause move the due date.

Statuses
--------
``stopped`` (the step was done), ``paused`` (an open pause holds the clock now),
``overdue`` (past the due date), ``red`` (≤ ``red_days`` left, the due day included),
``amber`` (≤ ``amber_days`` left, or ≤ ``amber_fraction`` of the period left), ``ok``.
"Left" is counted in the clock's own unit: working days for a working-day clock,
calendar days otherwise. With the defaults a 60-day reply clock turns amber with 20
days left and red with 2; a 15-day clock amber with 5; a clock of 5 days or fewer is
amber from the start, and the 1-working-day urgent clock is red from the start.
"""

from __future__ import annotations

import bisect
from calendar import monthrange
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from enum import StrEnum
from fractions import Fraction
from typing import Any, TypeVar

__all__ = [
    "Calendar",
    "ClockKind",
    "ClockRule",
    "ClockState",
    "ClockStatus",
    "DayCount",
    "DeadlineError",
    "DeadlineRules",
    "ExtensionRefused",
    "Pause",
    "PauseError",
    "Reminder",
    "ReminderPolicy",
    "ReminderStage",
    "RulesError",
    "add_months",
    "check_extension",
    "compute_clock",
    "reminders_due",
]

ONE_DAY = timedelta(days=1)

#: A pause: (paused_on, resumed_on) half-open; resumed_on None means paused now.
Pause = tuple[date, date | None]


# --------------------------------------------------------------------------- errors


class DeadlineError(ValueError):
    """Base of every error the deadline engine raises."""


class RulesError(DeadlineError):
    """A deadline setting is missing, unknown or out of range; the message names it."""


class ExtensionRefused(DeadlineError):
    """An extension the rules do not allow (wrong clock, too many, too long)."""


class PauseError(DeadlineError):
    """A pause that cannot be: it resumes before it began."""


# --------------------------------------------------------------------------- enums


class DayCount(StrEnum):
    """How a clock's length is counted."""

    CALENDAR = "calendar"  # 日: every day counts
    WORKING = "working"  # 工作日: only working days count (see Calendar)
    MONTHS = "months"  # 月: calendar months, clamped to the month's end (Civil Code Art. 202)


class ClockKind(StrEnum):
    """The clocks a case file can run. The value is also the settings key."""

    ROUTE = "route"  # register and route the matter (登记、转送交办), Art. 22
    ACCEPT = "accept"  # decide on acceptance, tell the petitioner in writing, Art. 23
    OBJECTION = "objection"  # object that the matter is not ours (提出异议), Art. 23
    REPLY = "reply"  # handle and reply (办理答复), Art. 32
    REVIEW_REQUEST = "review_request"  # petitioner's window to ask for review (复查), Art. 35
    REVIEW = "review"  # the review is decided, Art. 35
    REREVIEW_REQUEST = "rereview_request"  # window to ask for re-review (复核), Art. 36
    REREVIEW = "rereview"  # the re-review is decided (a hearing is not counted), Art. 36
    MAJOR = "major"  # local practice: big cases (重大复杂) two months
    ORDINARY = "ordinary"  # local practice: ordinary cases one month
    URGENT = "urgent"  # local practice: urgent cases at once (急案速结)
    SIMPLE = "simple"  # local practice: simple handling (简易办理)


class ClockStatus(StrEnum):
    OK = "ok"
    AMBER = "amber"
    RED = "red"
    OVERDUE = "overdue"
    PAUSED = "paused"
    STOPPED = "stopped"


class ReminderStage(StrEnum):
    BEFORE = "before"
    DUE = "due"
    OVERDUE = "overdue"


# --------------------------------------------------------------------------- validation


def _whole(value: object, name: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RulesError(
            f"{name}: expected a whole number >= {minimum}, got {value!r} "
            f"({type(value).__name__})")
    if value < minimum:
        raise RulesError(f"{name}: expected a whole number >= {minimum}, got {value}")
    return value


def _flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise RulesError(f"{name}: expected true or false, got {value!r}")
    return value


def _fraction(value: object, name: str) -> Fraction:
    try:
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, Fraction | int):
            frac = Fraction(value)
        elif isinstance(value, float):
            frac = Fraction(str(value))
        elif isinstance(value, str):
            frac = Fraction(value.strip())
        else:
            raise TypeError
    except (TypeError, ValueError, ZeroDivisionError):
        raise RulesError(
            f"{name}: expected a fraction between 0 and 1 such as 0.25 or '1/3', "
            f"got {value!r}") from None
    if not 0 <= frac <= 1:
        raise RulesError(f"{name}: expected a fraction between 0 and 1, got {value!r}")
    return frac


def _unit(value: object, name: str) -> DayCount:
    if isinstance(value, str) and value in {u.value for u in DayCount}:
        return DayCount(value)
    known = ", ".join(u.value for u in DayCount)
    raise RulesError(f"{name}: unknown unit {value!r}; use one of {known}")


def _mapping(value: object, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise RulesError(f"{name}: expected a mapping of settings, got {value!r}")
    return value


def _unknown(name: str, key: object, known: Iterable[str]) -> RulesError:
    return RulesError(f"{name}: unknown setting {key!r}; known: {', '.join(sorted(known))}")


_R = TypeVar("_R", "ClockRule", "ReminderPolicy", "DeadlineRules")


def _replaced(base: _R, name: str, changes: dict[str, Any]) -> _R:
    """``replace`` whose validation errors name the setting's full path."""
    try:
        return replace(base, **changes)
    except RulesError as exc:
        raise RulesError(f"{name}.{exc}") from None


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class ClockRule:
    """One clock's settings.

    ``length`` is counted in ``unit``; ``max_extensions`` extensions may be granted, of
    ``max_extension_days`` at most *in total* (days in the clock's unit: calendar days
    for calendar and month clocks, working days for working-day clocks)."""

    length: int
    unit: DayCount = DayCount.CALENDAR
    max_extensions: int = 0
    max_extension_days: int = 0

    def __post_init__(self) -> None:
        _whole(self.length, "length")
        if not isinstance(self.unit, DayCount):
            raise RulesError(f"unit: expected a DayCount, got {self.unit!r}")
        _whole(self.max_extensions, "max_extensions")
        _whole(self.max_extension_days, "max_extension_days")
        if self.max_extensions and not self.max_extension_days:
            raise RulesError("max_extension_days: must be >= 1 when extensions are allowed")

    @classmethod
    def from_value(cls, value: object, base: ClockRule, name: str = "clock") -> ClockRule:
        """A whole number (just the length) or a mapping over ``base``; ``name`` is the
        setting's path, used in error messages."""
        if isinstance(value, int) and not isinstance(value, bool):
            return _replaced(base, name, {"length": _whole(value, f"{name}.length")})
        if not isinstance(value, Mapping):
            raise RulesError(f"{name}: expected a number of days or a mapping, got {value!r}")
        changes: dict[str, Any] = {}
        for key, item in value.items():
            if key == "unit":
                changes["unit"] = _unit(item, f"{name}.unit")
            elif key in ("length", "max_extensions", "max_extension_days"):
                changes[key] = _whole(item, f"{name}.{key}")
            else:
                raise _unknown(name, key, ("length", "unit", "max_extensions",
                                           "max_extension_days"))
        return _replaced(base, name, changes)

    def to_mapping(self) -> dict[str, Any]:
        return {"length": self.length, "unit": self.unit.value,
                "max_extensions": self.max_extensions,
                "max_extension_days": self.max_extension_days}


@dataclass(frozen=True)
class ReminderPolicy:
    """When reminders go out through the outbox.

    ``before``: days before the due date (default 5 and 1); ``on_due``: one on the due
    date (default on); ``overdue_every``: the first day overdue and then every N days
    (default 3; 0 turns overdue reminders off). Days are calendar days."""

    before: tuple[int, ...] = (5, 1)
    on_due: bool = True
    overdue_every: int = 3

    def __post_init__(self) -> None:
        if not isinstance(self.before, tuple):
            raise RulesError(f"before: expected a list of days, got {self.before!r}")
        for n in self.before:
            _whole(n, "before", minimum=1)
        # normalised: unique, largest first
        object.__setattr__(self, "before", tuple(sorted(set(self.before), reverse=True)))
        _flag(self.on_due, "on_due")
        _whole(self.overdue_every, "overdue_every")

    @classmethod
    def from_value(cls, value: object, base: ReminderPolicy,
                   name: str = "reminders") -> ReminderPolicy:
        data = _mapping(value, name)
        changes: dict[str, Any] = {}
        for key, item in data.items():
            path = f"{name}.{key}"
            if key == "before":
                if isinstance(item, str) or not isinstance(item, Sequence):
                    raise RulesError(f"{path}: expected a list of days, got {item!r}")
                changes["before"] = tuple(_whole(n, path, minimum=1) for n in item)
            elif key == "on_due":
                changes["on_due"] = _flag(item, path)
            elif key == "overdue_every":
                changes["overdue_every"] = _whole(item, path)
            else:
                raise _unknown(name, key, ("before", "on_due", "overdue_every"))
        return _replaced(base, name, changes)

    def to_mapping(self) -> dict[str, Any]:
        return {"before": list(self.before), "on_due": self.on_due,
                "overdue_every": self.overdue_every}


_CLOCK_KEYS = frozenset(k.value for k in ClockKind)
_SCALAR_KEYS = ("move_due_off_holidays", "amber_days", "amber_fraction", "red_days")


@dataclass(frozen=True)
class DeadlineRules:
    """Every deadline setting, with the national defaults; provinces override them with
    :meth:`from_mapping`. One field per :class:`ClockKind` (named by its value)."""

    #: 15 days from receipt to register and route the matter (Art. 22)
    route: ClockRule = ClockRule(15)
    #: 15 days from receiving the matter to decide on acceptance and tell the petitioner
    #: in writing (Art. 23)
    accept: ClockRule = ClockRule(15)
    #: 5 *working* days from receiving it to object that the matter is not ours (Art. 23)
    objection: ClockRule = ClockRule(5, DayCount.WORKING)
    #: 60 days from acceptance to reply; one extension of up to 30 days, approved by the
    #: responsible leader, the petitioner told why (Art. 32)
    reply: ClockRule = ClockRule(60, max_extensions=1, max_extension_days=30)
    #: 30 days from the written reply for the petitioner to ask for review (Art. 35)
    review_request: ClockRule = ClockRule(30)
    #: 30 days from the request to decide the review (Art. 35)
    review: ClockRule = ClockRule(30)
    #: 30 days from the review opinion to ask for re-review (Art. 36)
    rereview_request: ClockRule = ClockRule(30)
    #: 30 days from the request to decide the re-review; a hearing is a pause (Art. 36)
    rereview: ClockRule = ClockRule(30)
    #: local practice (seeds): big cases two months
    major: ClockRule = ClockRule(2, DayCount.MONTHS)
    #: local practice (seeds): ordinary cases one month
    ordinary: ClockRule = ClockRule(1, DayCount.MONTHS)
    #: local practice (seeds): urgent cases at once, here by the next working day;
    #: set the length to 0 for "the same day"
    urgent: ClockRule = ClockRule(1, DayCount.WORKING)
    #: local practice (seeds): simple handling (简易办理) in short form; 10 working days
    #: is our default (no national article fixes it)
    simple: ClockRule = ClockRule(10, DayCount.WORKING)
    #: a due date on a weekend or holiday moves to the next working day (Civil Code
    #: Art. 203 by analogy)
    move_due_off_holidays: bool = True
    #: amber when this many days (in the clock's unit) or fewer are left ...
    amber_days: int = 5
    #: ... or when this share of the clock's period or less is left
    amber_fraction: Fraction = Fraction(1, 3)
    #: red when this many days or fewer are left (the due day itself has 0 left)
    red_days: int = 2
    reminders: ReminderPolicy = field(default_factory=ReminderPolicy)

    def __post_init__(self) -> None:
        for kind in ClockKind:
            if not isinstance(getattr(self, kind.value), ClockRule):
                raise RulesError(f"{kind.value}: expected a ClockRule")
        _flag(self.move_due_off_holidays, "move_due_off_holidays")
        _whole(self.amber_days, "amber_days")
        _whole(self.red_days, "red_days")
        object.__setattr__(self, "amber_fraction",
                           _fraction(self.amber_fraction, "amber_fraction"))
        if not isinstance(self.reminders, ReminderPolicy):
            raise RulesError("reminders: expected a ReminderPolicy")

    def rule(self, kind: ClockKind | str) -> ClockRule:
        """The settings of one clock."""
        rule: ClockRule = getattr(self, _kind(kind).value)
        return rule

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any],
                     base: DeadlineRules | None = None) -> DeadlineRules:
        """Rules from configuration, e.g. a province's settings::

            {"reply": {"length": 60, "unit": "calendar", "max_extensions": 1,
                       "max_extension_days": 30},
             "accept": 10,                        # shorthand: just the length
             "move_due_off_holidays": true,
             "amber_days": 5, "amber_fraction": "1/3", "red_days": 2,
             "reminders": {"before": [5, 1], "on_due": true, "overdue_every": 3}}

        Keys left out keep the value of ``base`` (the national defaults when None).
        Anything unknown or out of range raises :class:`RulesError` naming the setting.
        """
        result = base if base is not None else cls()
        data = _mapping(data, "deadlines")
        changes: dict[str, Any] = {}
        for key, value in data.items():
            path = f"deadlines.{key}"
            if key in _CLOCK_KEYS:
                changes[key] = ClockRule.from_value(value, getattr(result, key), path)
            elif key == "move_due_off_holidays":
                changes[key] = _flag(value, path)
            elif key in ("amber_days", "red_days"):
                changes[key] = _whole(value, path)
            elif key == "amber_fraction":
                changes[key] = _fraction(value, path)
            elif key == "reminders":
                changes[key] = ReminderPolicy.from_value(value, result.reminders, path)
            else:
                raise _unknown("deadlines", key, [*_CLOCK_KEYS, *_SCALAR_KEYS, "reminders"])
        return _replaced(result, "deadlines", changes)

    def to_mapping(self) -> dict[str, Any]:
        """The inverse of :meth:`from_mapping` (plain JSON-friendly values)."""
        out: dict[str, Any] = {k.value: self.rule(k).to_mapping() for k in ClockKind}
        out["move_due_off_holidays"] = self.move_due_off_holidays
        out["amber_days"] = self.amber_days
        out["amber_fraction"] = str(self.amber_fraction)
        out["red_days"] = self.red_days
        out["reminders"] = self.reminders.to_mapping()
        return out


def _kind(kind: ClockKind | str) -> ClockKind:
    try:
        return ClockKind(kind)
    except ValueError:
        raise DeadlineError(f"unknown clock {kind!r}") from None


# --------------------------------------------------------------------------- calendar


def _as_date(value: object, name: str) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise DeadlineError(f"{name}: expected a date such as 2026-10-01, got {value!r}")


@dataclass(frozen=True)
class Calendar:
    """Working days: Monday to Friday, less the public ``holidays``, plus the make-up
    working days (调休, e.g. a Saturday worked before the National Day week) in
    ``workdays``. The admin maintains both sets each year from the State Council notice.
    A date may not be in both."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    #: weekday numbers of the weekend (Monday is 0)
    weekend: frozenset[int] = frozenset({5, 6})
    # derived, for counting with bisect: holidays that fall on weekdays, make-up days
    # that fall on weekend days, both sorted
    _lost: tuple[date, ...] = field(default=(), init=False, repr=False, compare=False)
    _gained: tuple[date, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "workdays", frozenset(self.workdays))
        object.__setattr__(self, "weekend", frozenset(self.weekend))
        both = self.holidays & self.workdays
        if both:
            days = ", ".join(d.isoformat() for d in sorted(both))
            raise DeadlineError(f"a day cannot be both a holiday and a working day: {days}")
        if not self.weekend <= set(range(7)) or len(self.weekend) == 7:
            raise DeadlineError(f"weekend: expected some weekday numbers 0-6, got "
                                f"{sorted(self.weekend)}")
        object.__setattr__(self, "_lost", tuple(sorted(
            d for d in self.holidays if d.weekday() not in self.weekend)))
        object.__setattr__(self, "_gained", tuple(sorted(
            d for d in self.workdays if d.weekday() in self.weekend)))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Calendar:
        """From configuration: ``{"holidays": ["2026-10-01", ...], "workdays": [...]}``;
        ISO strings or dates."""
        data = _mapping(data, "calendar")
        unknown = set(data) - {"holidays", "workdays"}
        if unknown:
            raise _unknown("calendar", sorted(unknown)[0], ("holidays", "workdays"))
        return cls(
            holidays=frozenset(_as_date(v, "holidays") for v in data.get("holidays", ())),
            workdays=frozenset(_as_date(v, "workdays") for v in data.get("workdays", ())))

    def is_working_day(self, d: date) -> bool:
        if d in self.workdays:
            return True
        if d in self.holidays:
            return False
        return d.weekday() not in self.weekend

    def next_working_day(self, d: date) -> date:
        """``d`` itself when it is a working day, else the first working day after it."""
        while not self.is_working_day(d):
            d += ONE_DAY
        return d

    def add_working_days(self, start: date, n: int) -> date:
        """The ``n``-th working day after ``start`` (``start`` itself not counted);
        ``start`` when ``n`` is 0."""
        if n < 0:
            raise DeadlineError(f"cannot add a negative number of working days ({n})")
        d = start
        while n:
            d += ONE_DAY
            if self.is_working_day(d):
                n -= 1
        return d

    def working_days_between(self, a: date, b: date) -> int:
        """The number of working days after ``a`` up to and including ``b``; negative
        when ``b`` is before ``a``. ``working_days_between(a, add_working_days(a, n))``
        is ``n``."""
        if b < a:
            return -self.working_days_between(b, a)
        weeks, rest = divmod((b - a).days, 7)
        count = weeks * (7 - len(self.weekend))
        wd = a.weekday()
        count += sum(1 for i in range(1, rest + 1) if (wd + i) % 7 not in self.weekend)
        count -= bisect.bisect_right(self._lost, b) - bisect.bisect_right(self._lost, a)
        count += bisect.bisect_right(self._gained, b) - bisect.bisect_right(self._gained, a)
        return count


# --------------------------------------------------------------------------- clocks


def add_months(d: date, months: int) -> date:
    """Civil Code Art. 202: the same day of the month ``months`` later, or that month's
    last day when it has no such day (31 January + 1 month = 28/29 February)."""
    years, month0 = divmod(d.month - 1 + months, 12)
    year = d.year + years
    return date(year, month0 + 1, min(d.day, monthrange(year, month0 + 1)[1]))


def check_extension(kind: ClockKind | str, rules: DeadlineRules,
                    granted: Sequence[int], requested: int) -> None:
    """Raise :class:`ExtensionRefused` unless ``requested`` days may be added to a clock
    that already has the ``granted`` extensions. Call it before recording one."""
    _check_extensions(_kind(kind), rules.rule(kind), [*granted, requested])


def _check_extensions(kind: ClockKind, rule: ClockRule, extensions: Sequence[int]) -> None:
    if not extensions:
        return
    if rule.max_extensions == 0:
        raise ExtensionRefused(f"the {kind.value} clock cannot be extended")
    if len(extensions) > rule.max_extensions:
        allowed = ("only one extension" if rule.max_extensions == 1
                   else f"at most {rule.max_extensions} extensions")
        raise ExtensionRefused(
            f"the {kind.value} clock allows {allowed}; this would be extension "
            f"number {len(extensions)}")
    for days in extensions:
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise ExtensionRefused(f"an extension must be a whole number of days >= 1, "
                                   f"got {days!r}")
    total = sum(extensions)
    if total > rule.max_extension_days:
        raise ExtensionRefused(
            f"the {kind.value} clock may be extended by {rule.max_extension_days} days at "
            f"most; {total} days were asked for")


@dataclass(frozen=True)
class ClockState:
    """A clock as it stands on ``today`` (or as it stood when it was stopped).

    ``days_left`` and ``overdue_days`` are calendar days between the reference day
    (``stopped_on`` if stopped, else ``today``) and ``due``; ``working_days_left`` the
    working days. ``nominal_due`` is the due date before it was moved off a rest day.
    ``paused_days`` are the calendar days the clock stood still (for a working-day
    clock, only the working days among them moved the due date)."""

    kind: ClockKind
    unit: DayCount
    started_on: date
    today: date
    #: the clock's length plus extensions, in ``unit`` (months converted to days)
    period: int
    nominal_due: date
    due: date
    days_left: int
    working_days_left: int
    overdue_days: int
    status: ClockStatus
    paused_days: int
    #: the day the open pause that holds the clock now began, if any
    paused_since: date | None
    extensions: tuple[int, ...]
    stopped_on: date | None
    reminder_policy: ReminderPolicy

    @property
    def extension_days(self) -> int:
        return sum(self.extensions)

    @property
    def is_paused(self) -> bool:
        return self.status is ClockStatus.PAUSED

    @property
    def is_overdue(self) -> bool:
        """Past due now, or stopped late."""
        return self.overdue_days > 0

    @property
    def met(self) -> bool | None:
        """For a stopped clock: whether the step was done on time; else None."""
        if self.stopped_on is None:
            return None
        return self.stopped_on <= self.due


@dataclass(frozen=True)
class _Interval:
    start: date
    end: date  # exclusive
    open: bool


def _merge_pauses(pauses: Iterable[Pause], earliest: date, open_end: date) -> list[_Interval]:
    spans: list[_Interval] = []
    for item in pauses:
        try:
            start, end = item
        except (TypeError, ValueError):
            raise PauseError(f"a pause is (paused_on, resumed_on or None), got {item!r}") from None
        start = _as_date(start, "paused_on")
        if end is not None:
            end = _as_date(end, "resumed_on")
            if end < start:
                raise PauseError(
                    f"a pause cannot resume ({end}) before it began ({start})")
        is_open = end is None
        stop = open_end if end is None else end
        start = max(start, earliest)
        if stop > start:
            spans.append(_Interval(start, stop, is_open))
    spans.sort(key=lambda s: (s.start, s.end))
    merged: list[_Interval] = []
    for span in spans:
        if merged and span.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = _Interval(last.start, max(last.end, span.end), last.open or span.open)
        else:
            merged.append(span)
    return merged


def compute_clock(
    kind: ClockKind | str,
    started_on: date,
    rules: DeadlineRules,
    calendar: Calendar,
    *,
    today: date,
    pauses: Iterable[Pause] = (),
    extensions: Sequence[int] = (),
    stopped_on: date | None = None,
) -> ClockState:
    """Where a clock stands on ``today``.

    ``started_on`` is the day the clock's event happened (receipt, acceptance, written
    reply, request); it is not counted. ``pauses`` are (paused_on, resumed_on | None),
    see the module docstring. ``extensions`` are the granted extensions in days (raises
    :class:`ExtensionRefused` if the rules do not allow them). ``stopped_on`` is the day
    the step was done, which stops the clock."""
    kind = _kind(kind)
    rule = rules.rule(kind)
    extensions = tuple(extensions)
    _check_extensions(kind, rule, extensions)
    extra = sum(extensions)
    ref = stopped_on if stopped_on is not None else today
    spans = _merge_pauses(pauses, started_on + ONE_DAY, ref + ONE_DAY)

    paused_days = 0
    applied: list[_Interval] = []
    if rule.unit is DayCount.WORKING:
        period = rule.length + extra
        nominal = started_on
        remaining = period
        i = 0
        while remaining:
            nominal += ONE_DAY
            while i < len(spans) and spans[i].end <= nominal:
                i += 1
            if i < len(spans) and spans[i].start <= nominal:
                # merged spans are disjoint and begin after started_on, so we always
                # arrive on a span's first day: skip the whole span
                applied.append(spans[i])
                paused_days += (spans[i].end - spans[i].start).days
                nominal = spans[i].end - ONE_DAY
                continue
            if calendar.is_working_day(nominal):
                remaining -= 1
    else:
        if rule.unit is DayCount.MONTHS:
            period = (add_months(started_on, rule.length) - started_on).days + extra
        else:
            period = rule.length + extra
        nominal = started_on + timedelta(days=period)
        for span in spans:
            if span.start > nominal:
                break
            applied.append(span)
            length = (span.end - span.start).days
            paused_days += length
            nominal += timedelta(days=length)

    due = calendar.next_working_day(nominal) if rules.move_due_off_holidays else nominal
    days_left = (due - ref).days
    working_left = calendar.working_days_between(ref, due)
    left = working_left if rule.unit is DayCount.WORKING else days_left
    paused_since = next((s.start for s in applied if s.open), None) \
        if stopped_on is None else None

    if stopped_on is not None:
        status = ClockStatus.STOPPED
    elif paused_since is not None:
        status = ClockStatus.PAUSED
    elif days_left < 0:
        status = ClockStatus.OVERDUE
    elif left <= rules.red_days:
        status = ClockStatus.RED
    elif left <= rules.amber_days or left <= rules.amber_fraction * period:
        status = ClockStatus.AMBER
    else:
        status = ClockStatus.OK

    return ClockState(
        kind=kind, unit=rule.unit, started_on=started_on, today=today, period=period,
        nominal_due=nominal, due=due, days_left=days_left, working_days_left=working_left,
        overdue_days=max(0, -days_left), status=status, paused_days=paused_days,
        paused_since=paused_since, extensions=extensions, stopped_on=stopped_on,
        reminder_policy=rules.reminders)


# --------------------------------------------------------------------------- reminders


@dataclass(frozen=True)
class Reminder:
    """One reminder to put in the outbox. ``key`` is deterministic, e.g.
    ``reply:2026-12-01:before5``, ``reply:2026-12-01:due``, ``reply:2026-12-01:overdue4``
    (prefixed with the scope when one is given), so the outbox can dedupe on it. The due
    date is part of the key: after an extension or a pause the new due date gets its own
    reminders."""

    key: str
    kind: ClockKind
    stage: ReminderStage
    due: date
    #: the day this reminder was scheduled for
    send_on: date
    #: days before due (BEFORE), 0 (DUE), days overdue (OVERDUE)
    days: int


def _reminder(state: ClockState, scope: str, stage: ReminderStage, days: int) -> Reminder:
    if stage is ReminderStage.BEFORE:
        suffix, send_on = f"before{days}", state.due - timedelta(days=days)
    elif stage is ReminderStage.DUE:
        suffix, send_on = "due", state.due
    else:
        suffix, send_on = f"overdue{days}", state.due + timedelta(days=days)
    key = f"{state.kind.value}:{state.due.isoformat()}:{suffix}"
    if scope:
        key = f"{scope}:{key}"
    return Reminder(key=key, kind=state.kind, stage=stage, due=state.due,
                    send_on=send_on, days=days)


def reminders_due(state: ClockState, today: date,
                  already_sent: Collection[str] = frozenset(), *,
                  scope: str = "") -> list[Reminder]:
    """The reminders to send on ``today`` for a clock (pass the ``today`` the state was
    computed for), leaving out keys in ``already_sent``.

    At most one is returned: the latest step of the schedule that has fallen due (a
    missed earlier step is superseded, so a worker that was down does not flood the
    outbox). Before the due date: ``before`` days ahead; on it: the due reminder; after
    it: the first day overdue, then every ``overdue_every`` days. A stopped or paused
    clock sends none. ``scope`` (e.g. the case number) prefixes the keys."""
    if state.status in (ClockStatus.STOPPED, ClockStatus.PAUSED):
        return []
    policy = state.reminder_policy
    delta = (state.due - today).days
    candidate: Reminder | None = None
    if delta >= 0:
        if delta == 0 and policy.on_due:
            candidate = _reminder(state, scope, ReminderStage.DUE, 0)
        else:
            reached = [n for n in policy.before if n >= delta]
            if reached:
                candidate = _reminder(state, scope, ReminderStage.BEFORE, min(reached))
    elif policy.overdue_every:
        overdue = -delta
        step = 1 + (overdue - 1) // policy.overdue_every * policy.overdue_every
        candidate = _reminder(state, scope, ReminderStage.OVERDUE, step)
    if candidate is None or candidate.key in already_sent:
        return []
    return [candidate]
