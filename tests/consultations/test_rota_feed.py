"""The lawyer's private .ics feed: issued from a page, parsed with icalendar in
Asia/Shanghai, stable UIDs, a wrong token 404, a re-issued link invalidates the old one,
and the token never reaches the access log."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

from icalendar import Calendar

from consultations import rota
from portal.access_log import redact_url
from portal.auth.models import User
from portal.auth.roles import Role
from portal.casefiles import holidays as hol
from tests.consultations.test_rota_pages import page
from tests.fixtures.consultations import duty_week, lawyers, this_monday
from tests.fixtures.core import login


def issue(client: Any) -> str:
    shown = page(client.post("/consultations/my-weeks/feed"))
    found = re.search(r'value="(http://[^"]+/consultations/feed/[a-z0-9]+\.ics)"', shown)
    assert found, shown[:3000]
    return found.group(1).replace("http://localhost", "")


def events(body: bytes) -> list[Any]:
    return [c for c in Calendar.from_ical(body).walk("VEVENT")]


def test_a_lawyer_subscribes_to_their_weeks(app, client, session, world, make_user):
    me, other = lawyers(session, world, 2, make_user=make_user)
    start = this_monday() + 2 * rota.WEEK
    mine = duty_week(session, me, start)
    duty_week(session, other, start + rota.WEEK)
    duty_week(session, me, start + 2 * rota.WEEK, status="draft")  # not published: not shown
    wednesday = start + timedelta(days=2)
    hol.add_days(session, world.admin, wednesday, wednesday, "holiday", "测试假日")
    session.commit()
    login(client, session.get(User, me.user_id))
    assert "Issue my link" in page(client.get("/consultations/my-weeks/feed"))
    url = issue(client)

    anonymous = app.test_client()
    response = anonymous.get(url)
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    assert response.headers["Cache-Control"] == "private, no-store"
    found = events(response.data)
    days = [start + timedelta(days=i) for i in range(7)]
    working = [d for d in days if d.weekday() < 5 and d != wednesday and
               d not in hol.official_days()]
    assert len(found) == 2 * len(working)
    starts = sorted(e.decoded("dtstart") for e in found)
    assert starts[0].tzinfo is not None and str(starts[0].tzinfo) == "Asia/Shanghai"
    assert (starts[0].date(), starts[0].time()) == (working[0], time(9, 0))
    assert {(e.decoded("dtstart").time(), e.decoded("dtend").time()) for e in found} == {
        (time(9, 0), time(11, 30)), (time(14, 30), time(17, 30))}
    assert wednesday not in {s.date() for s in starts}
    assert all(s.date() in days for s in starts)  # only my published week
    raw = Calendar.from_ical(response.data)
    assert raw.walk("VTIMEZONE")[0]["TZID"] == "Asia/Shanghai"
    # stable UIDs: the same events on the next refresh
    uids = sorted(str(e["UID"]) for e in found)
    assert len(set(uids)) == len(uids)
    assert sorted(str(e["UID"]) for e in events(anonymous.get(url).data)) == uids
    assert all(str(e["SEQUENCE"]) == str(mine.version - 1) for e in found)
    # the access log masks the token
    assert "[redacted]" in redact_url(f"GET {url} HTTP/1.1")
    assert url.split("/")[-1].removesuffix(".ics") not in redact_url(f"GET {url} HTTP/1.1")


def test_a_wrong_or_reissued_token_is_404(app, client, session, world, make_user):
    me = lawyers(session, world, 1, make_user=make_user)[0]
    duty_week(session, me, this_monday() + rota.WEEK)
    session.commit()
    login(client, session.get(User, me.user_id))
    old = issue(client)
    anonymous = app.test_client()
    assert anonymous.get(old).status_code == 200
    assert anonymous.get("/consultations/feed/notatoken.ics").status_code == 404
    assert anonymous.get("/consultations/feed/" + "a" * 200 + ".ics").status_code == 404
    shown = page(client.get("/consultations/my-weeks/feed"))
    assert "Issue a new link" in shown and "data-confirm" in shown
    new = issue(client)
    assert new != old
    assert anonymous.get(old).status_code == 404
    assert anonymous.get(new).status_code == 200
    # a lawyer taken off the registry: the feed stops
    me.is_active = False
    session.commit()
    assert anonymous.get(new).status_code == 404


def test_an_account_without_a_registry_lawyer_is_told_and_cannot_issue(client, make_user):
    login(client, make_user(Role.LAWYER))
    assert "not linked to a lawyer" in page(client.get("/consultations/my-weeks/feed"))
    assert client.post("/consultations/my-weeks/feed").status_code == 403


def test_the_feed_follows_hours_set_on_the_week(app, client, session, world, make_user):
    me = lawyers(session, world, 1, make_user=make_user)[0]
    monday = date(2031, 3, 3)  # a plain week: no official holidays that far ahead
    week = duty_week(session, me, monday)
    week.hours = "08:30-12:00"
    session.commit()
    login(client, session.get(User, me.user_id))
    found = events(app.test_client().get(issue(client)).data)
    assert len(found) == 5
    assert {e.decoded("dtstart").time() for e in found} == {time(8, 30)}
    assert all(e.decoded("dtstart").tzinfo is not None for e in found)
    assert isinstance(found[0].decoded("dtstamp"), datetime)
