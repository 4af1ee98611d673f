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
    # the package's 2026 days are listed too; these 8 are local changes over them
    assert "8 local change(s) in 2026" in page
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
    """A year the package does not know (2030): the admin's days move the clock."""
    world = make_world(make_user, make_org)
    case, _ = new_case(session, world, received_at=at(date(2030, 9, 16)))
    today = date(2030, 9, 20)
    before = clk.current_clocks(session, [case], today)[case.id]
    assert before is not None and before.state.due == date(2030, 10, 1)
    hol.add_days(session, world.admin, date(2030, 10, 1), date(2030, 10, 7), "holiday",
                 "国庆节")
    session.commit()
    after = clk.current_clocks(session, [case], today)[case.id]
    assert after is not None and after.state.due == date(2030, 10, 8)
    assert after.state.nominal_due == date(2030, 10, 1)


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


# ---------------------------------------------------------------- the State Council's days

NOTICE_2027 = """国务院办公厅关于2027年部分节假日安排的通知
各省、自治区、直辖市人民政府，国务院各部委、各直属机构：
经国务院批准，现将2027年元旦、春节、清明节、劳动节、端午节、中秋节和国庆节放假调休日期的具体安排通知如下。
一、元旦：1月1日（周五）至3日（周日）放假，共3天。
二、春节：2月6日（农历除夕、周六）至14日（农历正月初八、周日）放假调休，共9天。2月20日（周六）上班。
三、清明节：4月3日（周六）至5日（周一）放假，共3天。
四、劳动节：5月1日（周六）至5日（周三）放假调休，共5天。4月25日（周日）、5月8日（周六）上班。
节假日期间，各地区、各部门要妥善安排好值班和安全、保卫等工作。
"""


def test_a_deadline_across_spring_festival_2026_counts_working_days(session):
    """The package's 2026 days, with nothing entered by hand: 春节 15–23 February off,
    Saturday 14 February worked."""
    calendar = hol.calendar_from_db(session)
    assert not calendar.is_working_day(date(2026, 2, 16))  # a Monday of Spring Festival
    assert calendar.is_working_day(date(2026, 2, 14))  # a Saturday worked (调休)
    assert calendar.is_working_day(date(2026, 2, 28))
    # 5 working days from Thursday 12 February: 13, 14 (Sat, worked), 24, 25, 26
    state = dl.compute_clock(dl.ClockKind.OBJECTION, date(2026, 2, 12), dl.DeadlineRules(),
                             calendar, today=date(2026, 2, 12))
    assert state.due == date(2026, 2, 26)
    plain = dl.compute_clock(dl.ClockKind.OBJECTION, date(2026, 2, 12), dl.DeadlineRules(),
                             dl.Calendar(), today=date(2026, 2, 12))
    assert plain.due == date(2026, 2, 19)


def test_the_admin_page_lists_the_official_days(session, client, login_as):
    login_as(Role.ADMIN)
    page = client.get("/admin/holidays/?year=2026").get_data(as_text=True)
    assert "2026-02-16" in page and "春节" in page and "春节调休" in page
    assert "State Council" in page and "0 local change(s) in 2026" in page


def test_a_local_change_overrides_the_package(session, client, login_as):
    login_as(Role.ADMIN)
    response = client.post("/admin/holidays/?year=2026", data={
        "first": "2026-02-23", "kind": "workday", "name": "本地值班"})
    assert response.status_code == 302
    hol.forget_calendar()
    calendar = hol.calendar_from_db(session)
    assert calendar.is_working_day(date(2026, 2, 23))  # an official holiday, worked here
    state = dl.compute_clock(dl.ClockKind.OBJECTION, date(2026, 2, 12), dl.DeadlineRules(),
                             calendar, today=date(2026, 2, 12))
    assert state.due == date(2026, 2, 25)
    page = client.get("/admin/holidays/?year=2026").get_data(as_text=True)
    assert "本地值班" in page and "Local change (instead of: Public holiday)" in page
    row = session.scalar(select(hol.Holiday).where(hol.Holiday.day == date(2026, 2, 23)))
    assert client.post(f"/admin/holidays/{row.id}/delete").status_code == 302
    hol.forget_calendar()  # the test's own app context read it before the request
    assert not hol.calendar_from_db(session).is_working_day(date(2026, 2, 23))


def _holiday_rows(session) -> int:
    session.expire_all()
    return len(session.scalars(select(hol.Holiday)).all())


def test_a_notice_is_previewed_then_saved(session, client, login_as):
    login_as(Role.ADMIN)
    form = client.get("/admin/holidays/import?year=2027").get_data(as_text=True)
    assert 'name="notice"' in form and 'value="2027"' in form
    preview = client.post("/admin/holidays/import", data={
        "year": "2027", "notice": NOTICE_2027, "action": "preview"})
    assert preview.status_code == 200
    page = preview.get_data(as_text=True)
    assert "Preview" in page and "2027-02-06 – 2027-02-14" in page and "2027-04-25" in page
    assert "20 holiday(s) and 3 make-up working day(s) will be added" in page
    assert _holiday_rows(session) == 0  # a preview saves nothing
    saved = client.post("/admin/holidays/import", data={
        "year": "2027", "notice": NOTICE_2027, "action": "save"})
    assert saved.status_code == 302, saved.get_data(as_text=True)[:2000]
    assert _holiday_rows(session) == 23
    hol.forget_calendar()
    calendar = hol.calendar_from_db(session)
    assert not calendar.is_working_day(date(2027, 2, 8)) and calendar.is_working_day(
        date(2027, 2, 20))
    page = client.get(saved.headers["Location"]).get_data(as_text=True)
    assert "23 day(s) added" in page and "2027-02-20" in page and "春节调休" in page
    # the same notice again: refused, naming a day, nothing doubled
    again = client.post("/admin/holidays/import", data={
        "year": "2027", "notice": NOTICE_2027, "action": "save"})
    assert again.status_code == 409 and "Already in the calendar" in again.get_data(as_text=True)
    assert _holiday_rows(session) == 23


def test_a_notice_can_be_uploaded(session, client, login_as):
    import io

    login_as(Role.ADMIN)
    preview = client.post("/admin/holidays/import", data={
        "year": "2027", "action": "preview",
        "upload": (io.BytesIO(NOTICE_2027.encode("gb18030")), "通知.txt")},
        content_type="multipart/form-data")
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "2027-05-08" in page
    assert "二、春节：2月6日" in page  # the text goes on in the save form
    assert _holiday_rows(session) == 0


@pytest.mark.parametrize("action", ["preview", "save"])
def test_a_garbled_line_is_refused_and_nothing_saved(session, client, login_as, action):
    login_as(Role.ADMIN)
    garbled = NOTICE_2027.replace("四、劳动节：5月1日（周六）至5日（周三）放假调休，共5天。",
                                  "四、劳动节：5月1日至5日放假调休，共6天。")
    response = client.post("/admin/holidays/import", data={
        "year": "2027", "notice": garbled, "action": action})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Line 7 cannot be read" in page and "四、劳动节：5月1日至5日放假调休，共6天。" in page
    assert "says 6 days but the dates give 5" in page
    unreadable = client.post("/admin/holidays/import", data={
        "year": "2027", "notice": "春节：2月6日至14日休息", "action": action})
    assert unreadable.status_code == 400
    assert "Line 1 cannot be read" in unreadable.get_data(as_text=True)
    assert _holiday_rows(session) == 0


def test_the_notice_parser_reads_the_common_forms():
    entries = hol.parse_notice(
        "一、元旦：2018年12月30日至2019年1月1日放假调休，共3天。2018年12月29日（星期六）上班。\n"
        "中秋节：9月13日放假，与周末连休。\n"
        "清明节：4月5日（周五）放假1天，不调休。", 2019)
    assert [(e.first, e.last, e.kind, e.name) for e in entries] == [
        (date(2018, 12, 30), date(2019, 1, 1), "holiday", "元旦"),
        (date(2018, 12, 29), date(2018, 12, 29), "workday", "元旦调休"),
        (date(2019, 9, 13), date(2019, 9, 13), "holiday", "中秋节"),
        (date(2019, 4, 5), date(2019, 4, 5), "holiday", "清明节")]
    with pytest.raises(hol.HolidayRefused, match="given twice"):
        hol.parse_notice("元旦：1月1日放假。\n元旦：1月1日放假。", 2030)
    with pytest.raises(hol.HolidayRefused, match="no such day"):
        hol.parse_notice("春节：2月30日放假。", 2030)


def test_the_stored_due_date_counts_the_package_days(session, make_user, make_org):
    """The overdue filter's stored due date uses the same calendar as the clocks: 15 days
    from 5 February 2026 end on Friday 20 February, in Spring Festival, so the 24th."""
    world = make_world(make_user, make_org)
    case, _ = new_case(session, world, received_at=at(date(2026, 2, 5)))
    session.commit()
    session.refresh(case)
    shown = clk.current_clocks(session, [case], date(2026, 2, 6))[case.id]
    assert shown is not None
    assert (shown.state.nominal_due, shown.state.due) == (date(2026, 2, 20), date(2026, 2, 24))
    assert case.clock_due_on == date(2026, 2, 24)
