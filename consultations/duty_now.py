"""Who is on duty now, and when duty next starts: a minimal stand-in for the rota part's
`consultations.rota_ops` (same three functions, same signatures), which replaces it at
merge. Reads published DutyWeek rows; a week's own `hours` win over rules().hours; duty
runs Monday to Friday, Beijing time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select

from consultations.models import DutyWeek, RotaStatus
from consultations.rules import rules
from portal.extensions import DbSession
from portal.timeutil import BEIJING

#: how far ahead next_duty_start looks for a published week
LOOKAHEAD_DAYS = 70


def spans(week: DutyWeek) -> list[tuple[time, time]]:
    """The week's duty hours as (start, end) pairs; a malformed span is skipped."""
    raw = [s for s in (week.hours or "").split(",") if s.strip()] or list(rules().hours)
    found = []
    for span in raw:
        try:
            start, end = (time.fromisoformat(p.strip()) for p in span.split("-", 1))
        except ValueError:
            continue
        if start < end:
            found.append((start, end))
    return sorted(found)


def duty_week_on(session: DbSession, day: date) -> DutyWeek | None:
    """The published, open week that `day` (Beijing date) falls in, if any."""
    monday = day - timedelta(days=day.weekday())
    return session.scalar(select(DutyWeek).where(
        DutyWeek.week_start == monday, DutyWeek.status == RotaStatus.PUBLISHED,
        DutyWeek.is_closed.is_(False)))


def current_duty(session: DbSession, now: datetime) -> DutyWeek | None:
    """The week whose lawyer is on duty at `now` (within its hours on a working day)."""
    local = now.astimezone(BEIJING)
    if local.weekday() >= 5:
        return None
    week = duty_week_on(session, local.date())
    if week is None:
        return None
    at = local.time().replace(tzinfo=None)
    return week if any(start <= at < end for start, end in spans(week)) else None


def next_duty_start(session: DbSession, now: datetime) -> datetime | None:
    """When duty next begins after `now` (UTC), or None when no published week is ahead."""
    local = now.astimezone(BEIJING)
    for offset in range(LOOKAHEAD_DAYS):
        day = local.date() + timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        week = duty_week_on(session, day)
        if week is None:
            continue
        for start, _end in spans(week):
            begins = datetime.combine(day, start, tzinfo=BEIJING)
            if begins > local:
                return begins.astimezone(UTC)
    return None
