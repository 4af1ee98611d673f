"""Legal aid from a consultation: the application filled at closing, the centre's 7-day
decision clock counted in Beijing (across a month end), urgent limitation periods first
(Art. 44), deciding and assigning through the list page."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from consultations import outcomes
from consultations.models import LegalAidApplication
from portal.casefiles.clocks import today_in_china
from tests.consultations.test_outcomes_support import close_data, taken
from tests.fixtures.core import login


def _aid(**fields):
    values = {"outcome": "legal_aid", "applicant_name": "李四", "phone": "13800138000",
              "id_number": "110101195001011239", "matter": "追索三个月工资",
              "grounds": "经济困难"}
    values.update(fields)
    return close_data(**values)


def test_decide_by_counts_beijing_days_across_a_month_end(app):
    with app.app_context():
        # 31 January 17:30 UTC is 1 February 01:30 in Beijing: seven days from 1 February
        assert outcomes.decide_by(datetime(2026, 1, 31, 17, 30, tzinfo=UTC)) == date(2026, 2, 8)
        # 31 January 15:00 UTC is still 31 January 23:00 in Beijing
        assert outcomes.decide_by(datetime(2026, 1, 31, 15, 0, tzinfo=UTC)) == date(2026, 2, 7)
        clock = outcomes.clock(date(2026, 2, 7), date(2026, 1, 31))
        assert (clock.days_left, clock.level) == (7, "ok")
        assert outcomes.clock(date(2026, 2, 7), date(2026, 2, 5)).level == "amber"
        assert outcomes.clock(date(2026, 2, 7), date(2026, 2, 7)).level == "red"
        assert outcomes.clock(date(2026, 2, 7), date(2026, 2, 9)).days_left == -2


def test_closing_with_legal_aid_files_the_application(client, session, world, make_user):
    t = taken(session, world, make_user)
    login(client, t.user)
    page = client.get(f"/consultations/{t.consultation.id}/close").get_data(as_text=True)
    assert 'value="李四"' in page and 'value="13800138000"' in page  # prefilled
    url = f"/consultations/{t.consultation.id}/close"
    bad = client.post(url, data=_aid(id_number="123"))
    assert bad.status_code == 400
    assert session.query(LegalAidApplication).count() == 0
    past = client.post(url, data=_aid(limitation_ends_on="2020-01-01"))
    assert past.status_code == 400 and session.query(LegalAidApplication).count() == 0
    soon = today_in_china() + timedelta(days=3)
    response = client.post(url, data=_aid(limitation_ends_on=soon.isoformat()))
    assert response.status_code == 303
    application = session.query(LegalAidApplication).one()
    assert application.id_number == "110101195001011239"  # decrypted on read
    raw = session.execute(__import__("sqlalchemy").text(
        "select id_number from legal_aid_applications")).scalar()
    assert "110101195001011239" not in str(raw)  # stored encrypted
    assert application.decide_by == today_in_china() + timedelta(days=7)
    assert application.limitation_ends_on == soon
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "clock-ok" in page or "clock-amber" in page


def _application(session, consultation, name, **fields):
    now = datetime.now(UTC)
    values = {"consultation_id": consultation.id, "applicant_name": name, "matter": "欠薪",
              "submitted_at": now, "decide_by": outcomes.china_day(now) + timedelta(days=7)}
    values.update(fields)
    a = LegalAidApplication(**values)
    session.add(a)
    session.commit()
    return a


def test_the_list_puts_urgent_first_and_shows_the_clocks(client, session, world, make_user):
    t = taken(session, world, make_user, status="closed", outcome="legal_aid", answer="援助")
    today = today_in_china()
    _application(session, t.consultation, "早提交", decide_by=today + timedelta(days=1))
    _application(session, t.consultation, "时效将届满",
                 limitation_ends_on=today + timedelta(days=2))
    _application(session, t.consultation, "已决定", decision="refused", decision_note="不符合")
    login(client, world.clerk)
    html = client.get("/consultations/legal-aid").get_data(as_text=True)
    assert html.index("时效将届满") < html.index("早提交")
    assert "已决定" not in html
    assert "tag-urgent" in html and "clock-amber" in html
    every = client.get("/consultations/legal-aid?show=all").get_data(as_text=True)
    assert "已决定" in every
    client.post("/logout")
    login(client, world.police_officer)
    assert client.get("/consultations/legal-aid").status_code == 403


def test_decide_and_assign(client, session, world, make_user):
    t = taken(session, world, make_user, status="closed", outcome="legal_aid", answer="援助")
    a = _application(session, t.consultation, "王五")
    login(client, world.clerk)
    url = f"/consultations/legal-aid/{a.id}"
    # refusing needs a reason
    response = client.post(url + "/decide", data={"decision": "refuse", "note": ""})
    assert response.status_code == 303
    session.expire_all()
    assert session.get(LegalAidApplication, a.id).decision == "pending"
    # assigning before granting is refused
    client.post(url + "/assign", data={"lawyer": "张律师"})
    session.expire_all()
    assert session.get(LegalAidApplication, a.id).assigned_lawyer == ""
    response = client.post(url + "/decide", data={"decision": "grant", "note": "符合条件"},
                           follow_redirects=True)
    assert response.status_code == 200
    session.expire_all()
    a = session.get(LegalAidApplication, a.id)
    assert a.decision == "granted" and a.assign_by == today_in_china() + timedelta(days=3)
    assert a.assign_by.isoformat() in response.get_data(as_text=True)
    # decided once
    client.post(url + "/decide", data={"decision": "refuse", "note": "改变主意"})
    session.expire_all()
    assert session.get(LegalAidApplication, a.id).decision == "granted"
    client.post(url + "/assign", data={"lawyer": "张律师（青溪明正律师事务所）"})
    session.expire_all()
    assert session.get(LegalAidApplication, a.id).assigned_lawyer.startswith("张律师")
    assert client.post("/consultations/legal-aid/999999/decide",
                       data={"decision": "grant"}).status_code == 404
    client.post("/logout")
    login(client, t.user)  # a lawyer does not decide for the centre
    assert client.post(url + "/decide", data={"decision": "refuse"}).status_code == 403
