"""iCalendar files for hearings (icalendar, times in Asia/Shanghai).

One UID per hearing, for its whole life: an invitation is METHOD:REQUEST with the
hearing's SEQUENCE; a change of time raises SEQUENCE (hearings.operations does) and sends
the same UID again; a cancellation is METHOD:CANCEL with STATUS:CANCELLED. The public .ics
of a public hearing is METHOD:PUBLISH and carries no party names."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, TimezoneStandard

from hearings.models import Hearing, PlaceKind

CHINA = ZoneInfo("Asia/Shanghai")
PRODID = "-//Petition Portal//Hearings//ZH"


def _timezone() -> Timezone:
    tz = Timezone()
    tz.add("tzid", "Asia/Shanghai")
    std = TimezoneStandard()
    std.add("dtstart", datetime(1970, 1, 1))
    std.add("tzoffsetfrom", ZoneInfo("Asia/Shanghai").utcoffset(datetime(2000, 1, 1)))
    std.add("tzoffsetto", ZoneInfo("Asia/Shanghai").utcoffset(datetime(2000, 1, 1)))
    std.add("tzname", "CST")
    tz.add_component(std)
    return tz


def hearing_calendar(hearing: Hearing, *, method: str = "REQUEST", summary: str,
                     description: str = "", location: str | None = None,
                     organizer_email: str | None = None,
                     attendee_email: str | None = None,
                     sequence: int | None = None) -> bytes:
    """The hearing as a one-event calendar. `summary` and `description` are given by the
    caller in the reader's language (and, for the public file, without party names).
    `sequence`: other than the hearing's (one attendee's withdrawal goes one above)."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", method)
    cal.add_component(_timezone())
    event = Event()
    event.add("uid", hearing.ical_uid)
    event.add("sequence", hearing.ical_sequence if sequence is None else sequence)
    event.add("dtstamp", datetime.now(CHINA))
    event.add("dtstart", hearing.starts_at.astimezone(CHINA))
    event.add("dtend", hearing.ends_at.astimezone(CHINA))
    event.add("summary", summary)
    if description:
        event.add("description", description)
    if location is None:
        location = hearing.place if hearing.place_kind != PlaceKind.ONLINE else ""
    if location:
        event.add("location", location)
    if organizer_email:
        event.add("organizer", f"mailto:{organizer_email}")
    if attendee_email:
        event.add("attendee", f"mailto:{attendee_email}", parameters={"ROLE": "REQ-PARTICIPANT"})
    if method == "CANCEL":
        event.add("status", "CANCELLED")
    else:
        event.add("status", "CONFIRMED")
    cal.add_component(event)
    return cal.to_ical()
