"""The holiday calendar the admin maintains (节假日与调休), from the State Council's
notice each year: public holidays (``holiday``) and make-up working days (``workday``,
a weekend day worked in exchange, 调休). `calendar_from_db` turns the table into the
deadline engine's `deadlines.Calendar`; it is read once per app context (one request,
one CLI command, one worker tick) and dropped when the admin changes a day."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
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


def calendar_from_db(session: DbSession) -> dl.Calendar:
    """The working-day calendar from the table, cached for the current app context."""
    if has_app_context():
        cached = g.get(_CACHE)
        if isinstance(cached, dl.Calendar):
            return cached
    calendar = calendar_of(session.execute(select(Holiday.day, Holiday.kind)).all())
    if has_app_context():
        setattr(g, _CACHE, calendar)
    return calendar


def forget_calendar() -> None:
    """Drop the cached calendar (after a change)."""
    if has_app_context():
        g.pop(_CACHE, None)


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
