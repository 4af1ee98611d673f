"""Who is on duty now, as the intake asks it: the week whose lawyer is on duty at this
moment (None outside duty hours), over the rota's own answers in `consultations.rota_ops`
(published open weeks, working days of the holiday calendar, the week's hours)."""

from __future__ import annotations

from datetime import date, datetime, time

from consultations import rota_ops
from consultations.models import DutyWeek
from portal.extensions import DbSession


def spans(week: DutyWeek) -> list[tuple[time, time]]:
    """The week's duty hours as (start, end) pairs, in order."""
    return sorted(rota_ops.week_hours(week))


def duty_week_on(session: DbSession, day: date) -> DutyWeek | None:
    """The published, open week that `day` (Beijing date) falls in, if any."""
    return rota_ops.duty_week_on(session, day)


def current_duty(session: DbSession, now: datetime) -> DutyWeek | None:
    """The week whose lawyer is on duty at `now` (within its hours on a working day)."""
    week, in_hours = rota_ops.current_duty(session, now)
    return week if in_hours else None


def next_duty_start(session: DbSession, now: datetime) -> datetime | None:
    """When duty next begins after `now` (UTC), or None when no published week is ahead."""
    return rota_ops.next_duty_start(session, now)
