"""Who is on duty: the public page (no login) and the three functions other parts call
(duty_week_on, current_duty, next_duty_start), at fixed Beijing times of a plain week of
2031 (no official holidays that far ahead)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from consultations import rota_ops
from consultations.models import RotaStatus
from portal.casefiles import holidays as hol
from tests.consultations.test_rota_pages import page
from tests.fixtures.consultations import duty_week, lawyers

CHINA = ZoneInfo("Asia/Shanghai")
MONDAY = date(2031, 3, 3)
NEXT = date(2031, 3, 10)


def beijing(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=CHINA)


@pytest.fixture()
def rota_weeks(session, world):
    this, following = lawyers(session, world, 2)
    this.lawyer_firm = "北京某某律师事务所"
    weeks = (duty_week(session, this, MONDAY), duty_week(session, following, NEXT))
    session.commit()
    return this, following, weeks


def at(monkeypatch: Any, moment: datetime) -> None:
    """The pages' clock (the operations read it through utcnow)."""
    from consultations import rota_blueprint

    utc = moment.astimezone(ZoneInfo("UTC"))
    monkeypatch.setattr(rota_ops, "utcnow", lambda: utc)
    monkeypatch.setattr(rota_blueprint, "utcnow", lambda: utc)


def test_the_public_page_shows_this_weeks_lawyer_and_hours_without_login(
        client, monkeypatch, rota_weeks):
    this, following, _weeks = rota_weeks
    at(monkeypatch, beijing(MONDAY.replace(day=5), 10))  # Wednesday 10:00
    response = client.get("/consultations/duty")
    shown = page(response)
    assert response.status_code == 200
    assert this.name in shown and "北京某某律师事务所" in shown
    assert "09:00–11:30" in shown and "14:30–17:30" in shown
    assert "On duty now" in shown and "Next duty starts" not in shown
    assert following.name in shown  # next week's lawyer
    assert "13700137000" not in shown and this.email not in shown  # no phone, no e-mail


def test_outside_hours_it_says_when_the_next_duty_starts(client, monkeypatch, rota_weeks):
    at(monkeypatch, beijing(date(2031, 3, 5), 12))  # Wednesday lunch
    shown = page(client.get("/consultations/duty"))
    assert "Outside duty hours now." in shown
    assert "Next duty starts 2031-03-05 14:30 (Beijing time)." in shown
    at(monkeypatch, beijing(date(2031, 3, 7), 18))  # Friday evening: next week's Monday
    assert "Next duty starts 2031-03-10 09:00" in page(client.get("/consultations/duty"))
    at(monkeypatch, beijing(date(2031, 3, 8), 10))  # Saturday
    shown = page(client.get("/consultations/duty"))
    assert "Today is not a working day" in shown and "Next duty starts 2031-03-10 09:00" in shown


def test_with_no_published_rota_the_page_says_so(client, session, monkeypatch, rota_weeks):
    for week in rota_weeks[2]:
        week.status = RotaStatus.DRAFT
    session.commit()
    at(monkeypatch, beijing(date(2031, 3, 5), 10))
    shown = page(client.get("/consultations/duty"))
    assert "No lawyer is on duty this week" in shown
    assert "The next duty is not planned yet." in shown
    assert rota_weeks[0].name not in shown


def test_current_duty_and_next_start_for_other_parts(session, world, rota_weeks):
    this, following, (week, next_week) = rota_weeks
    assert rota_ops.duty_week_on(session, date(2031, 3, 9)) == week  # Sunday: same week
    assert rota_ops.duty_week_on(session, NEXT) == next_week
    assert rota_ops.duty_week_on(session, date(2031, 3, 17)) is None
    assert rota_ops.current_duty(session, beijing(MONDAY, 9)) == (week, True)
    assert rota_ops.current_duty(session, beijing(MONDAY, 11, 30)) == (week, False)
    assert rota_ops.current_duty(session, beijing(MONDAY, 8, 59)) == (week, False)
    assert rota_ops.current_duty(session, beijing(date(2031, 3, 8), 10)) == (week, False)
    assert rota_ops.current_duty(session, beijing(date(2031, 3, 17), 10)) == (None, False)
    start = rota_ops.next_duty_start(session, beijing(MONDAY, 12))
    assert start == beijing(MONDAY, 14, 30) and start.utcoffset().total_seconds() == 0
    # inside hours: the next span's start
    assert rota_ops.next_duty_start(session, beijing(MONDAY, 10)) == beijing(MONDAY, 14, 30)
    # a holiday Monday next week: the duty starts on Tuesday
    hol.add_days(session, world.admin, NEXT, NEXT, "holiday", "测试假日")
    assert rota_ops.next_duty_start(session, beijing(date(2031, 3, 7), 18)) == \
        beijing(date(2031, 3, 11), 9)
    assert rota_ops.current_duty(session, beijing(NEXT, 10)) == (next_week, False)
    # nothing published after: None
    assert rota_ops.next_duty_start(session, beijing(date(2031, 3, 14), 18)) is None


def test_a_closed_week_is_not_on_duty(session, rota_weeks):
    week = rota_weeks[2][0]
    week.is_closed = True
    session.commit()
    assert rota_ops.duty_week_on(session, MONDAY) is None
    assert rota_ops.current_duty(session, beijing(MONDAY, 10)) == (None, False)
