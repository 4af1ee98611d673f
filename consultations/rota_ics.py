"""A lawyer's rota as an iCalendar feed (times in Asia/Shanghai).

One VEVENT per span of duty hours on each working day of the lawyer's published weeks
(9:00–11:30 and 14:30–17:30 on a Monday are two events). The UID names the lawyer, the
day and the span's start, so a calendar that refreshes the feed updates the same events;
SEQUENCE is the week's version (it grows when the week changes hands). A week that is
swapped away simply leaves this lawyer's feed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta

from icalendar import Calendar, Event, Timezone, TimezoneStandard

from consultations.models import DutyWeek
from portal.timeutil import BEIJING

PRODID = "-//Petition Portal//Lawyer duty rota//ZH"


def _timezone() -> Timezone:
    offset = BEIJING.utcoffset(datetime(2000, 1, 1))
    tz = Timezone()
    tz.add("tzid", "Asia/Shanghai")
    std = TimezoneStandard()
    std.add("dtstart", datetime(1970, 1, 1))
    std.add("tzoffsetfrom", offset)
    std.add("tzoffsetto", offset)
    std.add("tzname", "CST")
    tz.add_component(std)
    return tz


def rota_calendar(person_id: int, weeks: Iterable[DutyWeek], *, name: str, summary: str,
                  location: str, is_working_day: Callable[[date], bool],
                  hours_of: Callable[[DutyWeek], list[tuple[time, time]]],
                  stamp: datetime) -> bytes:
    """The feed. `summary`, `name` and `location` come in the reader's language."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", "Asia/Shanghai")
    cal.add_component(_timezone())
    for week in weeks:
        for offset in range(7):
            day = week.week_start + timedelta(days=offset)
            if not is_working_day(day):
                continue
            for first, last in hours_of(week):
                event = Event()
                event.add("uid", f"duty-{person_id}-{day:%Y%m%d}-{first:%H%M}@consultations")
                event.add("sequence", max(0, week.version - 1))
                event.add("dtstamp", stamp)
                event.add("dtstart", datetime.combine(day, first, tzinfo=BEIJING))
                event.add("dtend", datetime.combine(day, last, tzinfo=BEIJING))
                event.add("summary", summary)
                if location:
                    event.add("location", location)
                event.add("status", "CONFIRMED")
                event.add("transp", "OPAQUE")
                cal.add_component(event)
    return cal.to_ical()
