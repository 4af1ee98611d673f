"""The public notice: publishing it from the hearing page, the public list, the notice
page and its .ics; nothing at all of a closed hearing."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from hearings.models import Hearing
from portal.casefiles.models import CaseEvent
from tests.fixtures.core import login
from tests.fixtures.hearings import new_hearing


def _reload(session, hearing) -> Hearing:
    session.expire_all()
    return session.get(Hearing, hearing.id)


def _set(session, hearing, **values) -> Hearing:
    """Fields the fixture fixes itself (place, agenda), changed after it."""
    for name, value in values.items():
        setattr(hearing, name, value)
    session.commit()
    return hearing


def _events(session, hearing) -> list[CaseEvent]:
    return list(session.scalars(select(CaseEvent).where(
        CaseEvent.case_id == hearing.case_id, CaseEvent.kind == "hearing_notice_published")))


@pytest.fixture()
def notice_rules(app):
    """Set the hearing rules for one test, then put the defaults back."""
    original = app.extensions["hearings.rules"]

    def set_rules(**changes):
        app.extensions["hearings.rules"] = replace(original, **changes)

    yield set_rules
    app.extensions["hearings.rules"] = original


# --- publishing ---------------------------------------------------------------------------

def test_an_organiser_publishes_the_notice_from_the_hearing_page(client, session, world):
    hearing, _ = new_hearing(session, world, starts_in=timedelta(days=10))
    login(client, world.clerk)
    page = client.get(f"/hearings/{hearing.id}").get_data(as_text=True)
    assert "Publish the public notice" in page and "not published yet" in page
    assert client.get("/hearings/public").get_data(as_text=True).count(hearing.title) == 0

    response = client.post(f"/hearings/{hearing.id}/notice")
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The notice is published" in page
    assert "Publish the public notice" not in page
    fresh = _reload(session, hearing)
    assert fresh.status == "published" and fresh.notice_published_at is not None
    [event] = _events(session, hearing)
    payload = json.loads(event.payload)
    assert payload["hearing_id"] == hearing.id and payload["public"] is True
    assert hearing.title in client.get("/hearings/public").get_data(as_text=True)


def test_the_notice_is_refused_inside_the_notice_period(client, session, world):
    hearing, _ = new_hearing(session, world, starts_in=timedelta(days=3))
    login(client, world.clerk)
    response = client.post(f"/hearings/{hearing.id}/notice", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "at least 7 days before the hearing" in page
    fresh = _reload(session, hearing)
    assert fresh.status == "scheduled" and fresh.notice_published_at is None
    assert _events(session, hearing) == []


def test_an_urgent_hearing_may_be_noticed_late(client, session, world):
    hearing, _ = new_hearing(session, world, starts_in=timedelta(days=2), is_urgent=True,
                             urgent_reason="群体性事件，须尽快听证")
    login(client, world.leader)
    assert client.post(f"/hearings/{hearing.id}/notice").status_code == 303
    assert _reload(session, hearing).status == "published"


def test_the_notice_period_may_be_counted_in_working_days(client, session, world,
                                                         notice_rules):
    notice_rules(notice_days=10, notice_unit="working")  # Shandong
    hearing, _ = new_hearing(session, world, starts_in=timedelta(days=11))
    login(client, world.clerk)
    page = client.post(f"/hearings/{hearing.id}/notice",
                       follow_redirects=True).get_data(as_text=True)
    assert "at least 10 working days" in page
    assert _reload(session, hearing).notice_published_at is None
    later, _ = new_hearing(session, world, starts_in=timedelta(days=20))
    assert client.post(f"/hearings/{later.id}/notice").status_code == 303


def test_publishing_twice_is_refused(client, session, world):
    hearing, _ = new_hearing(session, world, status="published")
    before = hearing.notice_published_at
    login(client, world.clerk)
    page = client.post(f"/hearings/{hearing.id}/notice",
                       follow_redirects=True).get_data(as_text=True)
    assert "already published" in page
    assert _reload(session, hearing).notice_published_at == before


def test_only_organisers_publish(client, session, world):
    hearing, _ = new_hearing(session, world)
    login(client, world.supervisor)  # sees the case, does not organise hearings
    page = client.get(f"/hearings/{hearing.id}").get_data(as_text=True)
    assert "Publish the public notice" not in page
    assert client.post(f"/hearings/{hearing.id}/notice").status_code == 403
    client.post("/logout")
    login(client, world.other_clerk)  # another office: the hearing is not theirs to know
    assert client.post(f"/hearings/{hearing.id}/notice").status_code == 404
    assert _reload(session, hearing).notice_published_at is None


# --- a closed hearing never appears -------------------------------------------------------

def test_a_closed_hearing_is_noticed_to_the_parties_only(client, session, world):
    hearing, _ = new_hearing(session, world, is_public=False)
    _set(session, hearing, place="不公开听证室")
    login(client, world.clerk)
    page = client.get(f"/hearings/{hearing.id}").get_data(as_text=True)
    assert "Publish the notice to the parties" in page
    assert client.post(f"/hearings/{hearing.id}/notice").status_code == 303
    fresh = _reload(session, hearing)
    assert fresh.notice_published_at is not None and fresh.status == "published"
    client.post("/logout")
    for url in (f"/hearings/public/{hearing.id}", f"/hearings/public/{hearing.id}.ics"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert hearing.title not in response.get_data(as_text=True)
        assert "不公开听证室" not in response.get_data(as_text=True)
    response = client.post(f"/hearings/public/{hearing.id}", data={
        "name": "李四", "phone": "13912345678", "id_kind": "resident_id",
        "id_number": "110101199003071233"})
    assert response.status_code == 404
    listing = client.get("/hearings/public").get_data(as_text=True)
    assert hearing.title not in listing and "不公开听证室" not in listing


def test_a_hearing_without_a_published_notice_is_not_public(client, session, world):
    hearing, _ = new_hearing(session, world)  # scheduled, notice not out
    assert client.get(f"/hearings/public/{hearing.id}").status_code == 404
    assert client.get(f"/hearings/public/{hearing.id}.ics").status_code == 404
    assert hearing.title not in client.get("/hearings/public").get_data(as_text=True)
    assert client.get("/hearings/public/99999999").status_code == 404


# --- the public list and notice -----------------------------------------------------------

def test_the_public_list_shows_the_notice_without_personal_data(client, session, world):
    hearing, _ = new_hearing(session, world, status="published", observer_seats=20)
    _set(session, hearing, agenda="听取各方意见，就补偿标准进行听证")
    page = client.get("/hearings/public").get_data(as_text=True)
    assert hearing.title in page and "县信访局听证室" in page
    assert "20 of 20 seats left" in page
    assert "Land and contracted land" in page and "Petition hearing" in page
    assert "听取各方意见" in page
    for private in ("张三", "13800138000", "110101195001011239", "某村村委会"):
        assert private not in page
    notice = client.get(f"/hearings/public/{hearing.id}").get_data(as_text=True)
    assert hearing.title in notice and "Register to observe" in notice
    assert f"/hearings/public/{hearing.id}.ics" in notice
    for private in ("张三", "13800138000", "110101195001011239", "某村村委会"):
        assert private not in notice


def test_an_online_hearing_says_so(client, session, world):
    hearing, _ = new_hearing(session, world, status="published")
    _set(session, hearing, place_kind="online", place="")
    notice = client.get(f"/hearings/public/{hearing.id}").get_data(as_text=True)
    assert "Online" in notice


def test_the_public_list_pages_and_has_an_empty_state(client, session, world):
    page = client.get("/hearings/public").get_data(as_text=True)
    assert "No public hearing is announced" in page
    made = [new_hearing(session, world, status="published",
                        starts_in=timedelta(days=10, hours=i))[0] for i in range(12)]
    first = client.get("/hearings/public").get_data(as_text=True)
    second = client.get("/hearings/public?page=2").get_data(as_text=True)
    assert all(h.title in first for h in made[:10])
    assert made[10].title + "<" in second and made[11].title + "<" in second
    assert made[10].title + "<" not in first
    assert "Page 1 of 2" in first
    assert client.get("/hearings/public?page=abc").status_code == 200


def test_past_and_cancelled_hearings_leave_the_list(client, session, world):
    past, _ = new_hearing(session, world, status="filed", starts_in=timedelta(days=-3))
    past.notice_published_at = past.starts_at - timedelta(days=8)
    gone, _ = new_hearing(session, world, status="published")
    gone.status = "cancelled"
    session.commit()
    page = client.get("/hearings/public").get_data(as_text=True)
    assert past.title not in page and gone.title not in page
    # whoever read the cancelled hearing's notice learns it is off
    notice = client.get(f"/hearings/public/{gone.id}").get_data(as_text=True)
    assert "This hearing was cancelled" in notice and 'name="id_number"' not in notice
    assert client.get(f"/hearings/public/{gone.id}.ics").status_code == 404


def test_the_ics_is_a_published_event_without_party_names(client, session, world):
    hearing, _ = new_hearing(session, world, status="published")
    response = client.get(f"/hearings/public/{hearing.id}.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    text = response.get_data(as_text=True)
    assert "METHOD:PUBLISH" in text and f"UID:{hearing.ical_uid}" in text
    assert hearing.title in text and "县信访局听证室" in text
    assert "张三" not in text and "某村村委会" not in text


def test_a_get_changes_nothing(client, session, world):
    hearing, _ = new_hearing(session, world, status="published")
    version = hearing.version
    for url in ("/hearings/public", f"/hearings/public/{hearing.id}",
                f"/hearings/public/{hearing.id}.ics"):
        assert client.get(url).status_code == 200
    assert _reload(session, hearing).version == version


def test_the_pager_swaps_only_the_results(client, session, world):
    made = [new_hearing(session, world, status="published",
                        starts_in=timedelta(days=10, hours=i))[0] for i in range(11)]
    page = client.get("/hearings/public?page=2", headers={"HX-Request": "true"})
    text = page.get_data(as_text=True)
    assert made[10].title in text and "<h1>" not in text and "Page 2 of 2" in text


def test_a_running_hearing_is_under_way_and_a_held_one_takes_no_registration(
        client, session, world):
    """Only a hearing still to come offers seats: a running one is listed as under way,
    and the notice of a running or held hearing shows neither seats nor the form."""
    running, _ = new_hearing(session, world, status="running", starts_in=timedelta(hours=-1))
    running.notice_published_at = running.starts_at - timedelta(days=8)
    held, _ = new_hearing(session, world, status="filed", starts_in=timedelta(days=-3))
    held.notice_published_at = held.starts_at - timedelta(days=8)
    coming, _ = new_hearing(session, world, status="published")
    session.commit()
    page = client.get("/hearings/public").get_data(as_text=True)
    row = page[page.index(running.title):].split("</tr>")[0]
    assert "Under way" in row and "seats left" not in row
    coming_row = page[page.index(coming.title):].split("</tr>")[0]
    assert "10 of 10 seats left" in coming_row
    for hearing, says in ((running, "<strong>Under way</strong>"), (held, "<strong>Held</strong>")):
        notice = client.get(f"/hearings/public/{hearing.id}").get_data(as_text=True)
        assert says in notice and "seats left" not in notice
        assert 'name="id_number"' not in notice
