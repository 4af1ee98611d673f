"""The holiday calendar (节假日与调休): public holidays (``holiday``) and make-up working
days (``workday``, a weekend day worked in exchange, 调休).

The State Council's days come from the maintained ``chinese-calendar`` package
(`official_days`); the ``holidays`` table holds the admin's local changes, which override
the package's day for the same date (a local ``workday`` on an official holiday makes it
a working day here), and the years the package does not know yet, entered by hand or by
importing the year's notice (`parse_notice`). `calendar_from_db` merges both into the
deadline engine's `deadlines.Calendar`; it is read once per app context (one request,
one CLI command, one worker tick) and dropped when the admin changes a day."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from flask import g, has_app_context
from sqlalchemy import Date, ForeignKey, String, select
from sqlalchemy.orm import Mapped, mapped_column

from portal.casefiles import deadlines as dl
from portal.enums import LabelledStrEnum, labels
from portal.errors import DomainError
from portal.extensions import DbSession, Model
from portal.i18n import lazy_gettext as _l
from portal.timeutil import UTCDateTime, utcnow

#: the longest range one form may add (the Spring Festival week with its eves fits)
MAX_RANGE_DAYS = 31
_CACHE = "_portal_holiday_calendar"


class DayKind(LabelledStrEnum):
    HOLIDAY = "holiday", _l("Public holiday")  # 法定节假日: not a working day, even on a weekday
    WORKDAY = "workday", _l("Make-up working day")  # 调休: a working day, even on a weekend


DAY_KIND_LABELS = labels(DayKind)


class HolidayRefused(DomainError):
    """A change to the calendar that cannot be made; ``field`` names the form field
    the message belongs to (first, last, kind, name)."""

    def __init__(self, message: Any, field: str, status: int | None = None) -> None:
        super().__init__(message, status)
        self.field = field


class Holiday(Model):
    """One day that differs from the Monday-to-Friday week."""

    __tablename__ = "holidays"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    #: DayKind
    kind: Mapped[str] = mapped_column(String(16))
    #: e.g. 国庆节, 春节
    name: Mapped[str] = mapped_column(String(40))
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"<Holiday {self.day} {self.kind} {self.name}>"


def calendar_of(days: Iterable[tuple[date, str]]) -> dl.Calendar:
    holidays: set[date] = set()
    workdays: set[date] = set()
    for day, kind in days:
        (workdays if kind == DayKind.WORKDAY else holidays).add(day)
    return dl.Calendar(holidays=frozenset(holidays), workdays=frozenset(workdays))


@lru_cache(maxsize=1)
def official_days() -> dict[date, tuple[str, str]]:
    """The State Council's days from the ``chinese-calendar`` package: day → (DayKind,
    Chinese name); a make-up working day is named after its holiday with 调休."""
    import chinese_calendar

    # the package's short names, as the notice writes them (清明 → 清明节)
    full = {"清明": "清明节", "端午": "端午节", "中秋": "中秋节"}
    names = {h.value: full.get(h.chinese, h.chinese) for h in chinese_calendar.Holiday}
    days: dict[date, tuple[str, str]] = {}
    for day, name in chinese_calendar.holidays.items():
        days[day] = (DayKind.HOLIDAY.value, names.get(name, name))
    for day, name in chinese_calendar.workdays.items():
        days[day] = (DayKind.WORKDAY.value, names.get(name, name) + "调休")
    return days


def merged_calendar(local: Iterable[Any]) -> dl.Calendar:
    """The package's days with the local (day, kind) rows over them."""
    merged = {day: kind for day, (kind, _name) in official_days().items()}
    merged.update((day, kind) for day, kind in local)
    return calendar_of(merged.items())


def calendar_from_db(session: DbSession) -> dl.Calendar:
    """The working-day calendar: the package's official days, overridden by the table's
    local ones; cached for the current app context."""
    if has_app_context():
        cached = g.get(_CACHE)
        if isinstance(cached, dl.Calendar):
            return cached
    calendar = merged_calendar(session.execute(select(Holiday.day, Holiday.kind)))
    if has_app_context():
        setattr(g, _CACHE, calendar)
    return calendar


def forget_calendar() -> None:
    """Drop the cached calendar (after a change)."""
    if has_app_context():
        g.pop(_CACHE, None)


@dataclass(frozen=True)
class CalendarDay:
    """One day of the year's calendar as the admin page lists it."""

    day: date
    kind: str
    name: str
    #: the admin's row (a local change, removable), or None for a package day
    local: Holiday | None
    #: the package's kind of this day when a local change overrides it
    overrides: str | None = None


def year_calendar(session: DbSession, year: int) -> list[CalendarDay]:
    """The package's days of ``year`` merged with the local ones (which win)."""
    days: dict[date, CalendarDay] = {
        day: CalendarDay(day, kind, name, None)
        for day, (kind, name) in official_days().items() if day.year == year}
    for row in days_of_year(session, year):
        official = days.get(row.day)
        days[row.day] = CalendarDay(row.day, row.kind, row.name, row,
                                    official.kind if official else None)
    return [days[d] for d in sorted(days)]


def days_of_year(session: DbSession, year: int) -> list[Holiday]:
    stmt = (select(Holiday).where(Holiday.day >= date(year, 1, 1),
                                  Holiday.day <= date(year, 12, 31))
            .order_by(Holiday.day))
    return list(session.scalars(stmt))


def add_days(session: DbSession, actor: Any, first: date, last: date | None, kind: str,
             name: str) -> list[Holiday]:
    """Mark every day from ``first`` to ``last`` (both included) as ``kind``; flushed,
    not committed. A day already in the calendar is refused, naming it."""
    last = last or first
    name = " ".join((name or "").split())
    if kind not in {k.value for k in DayKind}:
        raise HolidayRefused(
            _l("Choose whether the days are holidays or make-up working days."), "kind")
    if not name:
        raise HolidayRefused(_l("Give the holiday's name, e.g. 国庆节."), "name")
    if len(name) > 40:
        raise HolidayRefused(_l("The name may have at most 40 characters."), "name")
    if last < first:
        raise HolidayRefused(_l("The last day must not be before the first day."), "last")
    count = (last - first).days + 1
    if count > MAX_RANGE_DAYS:
        raise HolidayRefused(_l("At most %(n)d days can be added at once.", n=MAX_RANGE_DAYS),
                             "last")
    days = [first + timedelta(days=i) for i in range(count)]
    taken = list(session.scalars(select(Holiday.day).where(Holiday.day.in_(days))
                                 .order_by(Holiday.day)))
    if taken:
        raise HolidayRefused(_l("Already in the calendar: %(days)s. Remove them first.",
                                days=", ".join(d.isoformat() for d in taken)), "first",
                             status=409)
    rows = [Holiday(day=d, kind=kind, name=name, created_by_id=getattr(actor, "id", None),
                    created_at=utcnow()) for d in days]
    session.add_all(rows)
    session.flush()
    forget_calendar()
    return rows


def remove_day(session: DbSession, actor: Any, holiday_id: int) -> Holiday:
    """Take one day out of the calendar; flushed, not committed. 404 if it is not there."""
    row = session.get(Holiday, holiday_id)
    if row is None:
        raise DomainError(_l("This day is not in the calendar."), status=404)
    session.delete(row)
    session.flush()
    forget_calendar()
    return row


def import_year(session: DbSession, actor: Any,
                entries: Sequence[tuple[date, date, str, str]]) -> int:
    """Add several ranges at once, e.g. a year's notice: (first, last, kind, name) each.
    All or nothing within the caller's transaction; returns the number of days added."""
    added = 0
    for first, last, kind, name in entries:
        added += len(add_days(session, actor, first, last, kind, name))
    return added


# ---------------------------------------------------------------- the State Council notice

_CN_NUMBER = "一二三四五六七八九十"
_LINE = re.compile(r"^(?:[" + _CN_NUMBER + r"]+[、.．]|\d+[、.．])?\s*"
                   r"(?P<name>[^：:，,。\d]{1,20}?)\s*[：:]\s*(?P<body>.+)$")
_DATE = r"(?:(?P<{p}y>\d{{4}})年)?(?P<{p}m>\d{{1,2}})月(?P<{p}d>\d{{1,2}})日"
_OFF = re.compile(
    "^" + _DATE.format(p="a") + r"(?:至(?:(?:(?P<by>\d{4})年)?(?P<bm>\d{1,2})月)?"
    r"(?P<bd>\d{1,2})日)?放假(?P<rest>.*)$")
_REST_OK = re.compile(r"^(?:调休)?(?:[，,、]?(?:共(?P<n>\d+)天|(?P<n1>\d+)天|不调休|"
                      r"与周末连休|调休))*$")
_ONE_DATE = re.compile(_DATE.format(p=""))
_WORK = re.compile("^(?:" + _DATE.format(p="w").replace("?P<w", "?:").replace(
    "?:y>", "").replace("?:m>", "").replace("?:d>", "") + r"[、，,和及]?)+上班$")
_ANY_DATE = re.compile(r"\d{1,2}月\d{1,2}日")
_ASIDE = re.compile(r"[（(][^）)]*[）)]")


@dataclass(frozen=True)
class NoticeEntry:
    """One range of the notice: (first, last, kind, name), as `import_year` takes it."""

    first: date
    last: date
    kind: str
    name: str
    line: int

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def as_tuple(self) -> tuple[date, date, str, str]:
        return (self.first, self.last, self.kind, self.name)


def _refuse_line(number: int, line: str, why: Any) -> HolidayRefused:
    return HolidayRefused(_l("Line %(n)d cannot be read: “%(line)s”. %(why)s", n=number,
                             line=line[:80], why=why), "notice")


def _day(year: int, month: str, day: str, number: int, line: str) -> date:
    try:
        return date(year, int(month), int(day))
    except ValueError:
        raise _refuse_line(number, line, _l("There is no such day.")) from None


def parse_notice(text: str, year: int) -> list[NoticeEntry]:
    """The holidays and make-up working days of a State Council notice, e.g.
    ``二、春节：2月15日（农历腊月二十八、周日）至23日（农历正月初七、周一）放假调休，共9天。
    2月14日（周六）、2月28日（周六）上班。`` (one holiday a line; dates without a year are
    in ``year``). A line without any date (the title, the preamble) is skipped; a line
    with a date that does not read as an arrangement is refused, naming it."""
    entries: list[NoticeEntry] = []
    for number, raw in enumerate((text or "").splitlines(), start=1):
        line = " ".join(raw.replace("\u3000", " ").split())
        if not line or not _ANY_DATE.search(line):
            continue
        match = _LINE.match(line)
        if not match:
            raise _refuse_line(number, line, _l(
                "Write one holiday a line, e.g. “春节：2月15日至23日放假调休，共9天。"
                "2月14日、2月28日上班。”"))
        name = match["name"].strip()
        if len(name) > 30:
            raise _refuse_line(number, line, _l("The holiday's name is too long."))
        body = _ASIDE.sub("", match["body"]).replace(" ", "")
        found_off = False
        for sentence in filter(None, re.split(r"[。；;]", body)):
            off = _OFF.match(sentence)
            if off:
                if found_off:
                    raise _refuse_line(number, line, _l("Give one holiday a line."))
                found_off = True
                rest = _REST_OK.match(off["rest"])
                if rest is None:
                    raise _refuse_line(number, line, _l(
                        "After “放假” only “调休”, “共N天”, “不调休” or “与周末连休” can follow."))
                first_year = int(off["ay"] or year)
                first = _day(first_year, off["am"], off["ad"], number, line)
                if off["bd"]:
                    last_month = off["bm"] or off["am"]
                    last_year = int(off["by"] or (first_year + 1 if int(last_month) <
                                                  first.month else first_year))
                    last = _day(last_year, last_month, off["bd"], number, line)
                else:
                    last = first
                if last < first:
                    raise _refuse_line(number, line, _l(
                        "The last day must not be before the first day."))
                count = (last - first).days + 1
                stated = rest["n"] or rest["n1"]
                if stated and int(stated) != count:
                    raise _refuse_line(number, line, _l(
                        "The notice says %(stated)s days but the dates give %(count)d.",
                        stated=stated, count=count))
                if count > MAX_RANGE_DAYS:
                    raise _refuse_line(number, line, _l(
                        "At most %(n)d days can be added at once.", n=MAX_RANGE_DAYS))
                entries.append(NoticeEntry(first, last, DayKind.HOLIDAY.value, name, number))
            elif _WORK.match(sentence):
                for found in _ONE_DATE.finditer(sentence):
                    day = _day(int(found["y"] or year), found["m"], found["d"], number, line)
                    entries.append(NoticeEntry(day, day, DayKind.WORKDAY.value,
                                               (name + "调休")[:40], number))
            else:
                raise _refuse_line(number, line, _l(
                    "Each sentence must say which days are off (“…放假”) or worked "
                    "(“…上班”)."))
        if not found_off:
            raise _refuse_line(number, line, _l("The line gives no days off (“…放假”)."))
    if not entries:
        raise HolidayRefused(_l("No holiday arrangements were found in the notice."), "notice")
    seen: dict[date, int] = {}
    for entry in entries:
        for i in range(entry.days):
            day = entry.first + timedelta(days=i)
            if day in seen:
                raise HolidayRefused(_l("%(day)s is given twice (lines %(a)d and %(b)d).",
                                        day=day.isoformat(), a=seen[day], b=entry.line),
                                     "notice")
            seen[day] = entry.line
    return entries
