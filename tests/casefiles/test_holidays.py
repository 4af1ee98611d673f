"""The holiday calendar: the admin page, and the clocks counting with it."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from flask_babel import format_date
from sqlalchemy import select

from portal.auth.roles import Role
from portal.casefiles import clocks as clk
from portal.casefiles import deadlines as dl
from portal.casefiles import holidays as hol
from portal.casefiles import reminders  # noqa: F401  (its table in the metadata)
from portal.casefiles.holidays_blueprint import bp
from portal.web import DomainError
from tests.fixtures.casefiles import make_world, new_case


@pytest.fixture(autouse=True)
def _registered(app):
    """A stop-gap until portal.casefiles.init_app registers the page: register it here
    (a no-op once it is registered there)."""
    if bp.name not in app.blueprints:
        started = app._got_first_request
        app._got_first_request = False
        try:
            app.register_blueprint(bp)
        finally:
            app._got_first_request = started


def at(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), clk.CHINA) + timedelta(hours=10)


def add_national_day(client):
    response = client.post("/admin/holidays/?year=2026", data={
        "first": "2026-10-01", "last": "2026-10-07", "kind": "holiday", "name": "国庆节"})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    response = client.post("/admin/holidays/", data={
        "first": "2026-10-10", "kind": "workday", "name": "国庆节调休"})
    assert response.status_code == 302


def test_admin_adds_national_day_and_a_make_up_day(session, client, login_as):
    login_as(Role.ADMIN)
    add_national_day(client)
    page = client.get("/admin/holidays/?year=2026").get_data(as_text=True)
    assert "2026-10-01" in page and "2026-10-07" in page and "国庆节调休" in page
    assert "8 day(s) in 2026" in page
    calendar = hol.calendar_from_db(session)
    assert not calendar.is_working_day(date(2026, 10, 5))  # a Monday in the holiday
    assert calendar.is_working_day(date(2026, 10, 10))  # a Saturday worked
    # a 5-working-day clock started on Tuesday 29 September runs across the holiday
    state = dl.compute_clock(dl.ClockKind.OBJECTION, date(2026, 9, 29), dl.DeadlineRules(),
                             calendar, today=date(2026, 9, 29))
    assert state.due == date(2026, 10, 12)
    plain = dl.compute_clock(dl.ClockKind.OBJECTION, date(2026, 9, 29), dl.DeadlineRules(),
                             dl.Calendar(), today=date(2026, 9, 29))
    assert plain.due == date(2026, 10, 6)


def test_validation_messages(session, client, login_as):
    login_as(Role.ADMIN)
    bad = client.post("/admin/holidays/", data={
        "first": "2026-10-07", "last": "2026-10-01", "kind": "holiday", "name": "国庆节"})
    assert bad.status_code == 400
    assert "The last day must not be before the first day." in bad.get_data(as_text=True)
    missing = client.post("/admin/holidays/", data={"first": "", "kind": "holiday", "name": ""})
    assert missing.status_code == 400
    add_national_day(client)
    again = client.post("/admin/holidays/", data={
        "first": "2026-10-03", "kind": "holiday", "name": "国庆节"})
    assert again.status_code == 409
    assert "Already in the calendar: 2026-10-03" in again.get_data(as_text=True)


def test_remove_a_day(session, client, login_as):
    admin = login_as(Role.ADMIN)
    rows = hol.add_days(session, admin, date(2026, 5, 1), date(2026, 5, 5), "holiday", "劳动节")
    session.commit()
    response = client.post(f"/admin/holidays/{rows[0].id}/delete")
    assert response.status_code == 302
    days = session.scalars(select(hol.Holiday.day).where(hol.Holiday.name == "劳动节")).all()
    assert date(2026, 5, 1) not in days and len(days) == 4
    assert client.post(f"/admin/holidays/{rows[0].id}/delete").status_code == 302  # flashed
    assert client.get("/admin/holidays/9999/delete").status_code == 405


def test_non_admin_is_refused(session, client, login_as):
    login_as(Role.CLERK)
    assert client.get("/admin/holidays/").status_code == 403
    assert client.post("/admin/holidays/", data={
        "first": "2026-10-01", "kind": "holiday", "name": "国庆节"}).status_code == 403


def test_add_days_refuses_bad_input(session, make_user):
    admin = make_user(Role.ADMIN)
    with pytest.raises(DomainError):
        hol.add_days(session, admin, date(2026, 1, 1), date(2026, 3, 1), "holiday", "太长")
    with pytest.raises(DomainError):
        hol.add_days(session, admin, date(2026, 1, 1), None, "rest", "元旦")
    with pytest.raises(DomainError):
        hol.add_days(session, admin, date(2026, 1, 1), None, "holiday", "  ")


def test_case_clock_moves_off_the_holiday(session, make_user, make_org):
    world = make_world(make_user, make_org)
    case, _ = new_case(session, world, received_at=at(date(2026, 9, 16)))
    today = date(2026, 9, 20)
    before = clk.current_clocks(session, [case], today)[case.id]
    assert before is not None and before.state.due == date(2026, 10, 1)
    hol.add_days(session, world.admin, date(2026, 10, 1), date(2026, 10, 7), "holiday",
                 "国庆节")
    session.commit()
    after = clk.current_clocks(session, [case], today)[case.id]
    assert after is not None and after.state.due == date(2026, 10, 8)
    assert after.state.nominal_due == date(2026, 10, 1)


def test_case_page_shows_the_later_due_date(app, session, client, make_user, make_org):
    world = make_world(make_user, make_org)
    hol.add_days(session, world.admin, date(2026, 10, 1), date(2026, 10, 7), "holiday",
                 "国庆节")
    session.commit()
    case, _ = new_case(session, world, received_at=at(date(2026, 9, 16)))
    from tests.fixtures.core import login

    login(client, world.clerk)
    page = client.get(f"/cases/{case.number}").get_data(as_text=True)
    with app.test_request_context():
        later, earlier = format_date(date(2026, 10, 8), "short"), format_date(
            date(2026, 10, 1), "short")
    assert later in page and earlier not in page
