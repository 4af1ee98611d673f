"""The live pages as each person opens them: the presiding officer's and clerk's control
page, the staff view, the participant's personal link, the observer's watch link, and the
hearing page's links to them. A GET changes nothing."""

from __future__ import annotations

import json
import re

from hearings.models import Attendance, Hearing, ObserverStatus, Participant, ParticipantRole
from portal.casefiles.clocks import CHINA
from tests.fixtures.core import login
from tests.fixtures.hearings import add_panel, new_hearing, registry
from tests.hearings.test_live_socket import observer


def _config(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="hearing-live-config">(.*?)</script>',
                      html, re.S)
    assert found
    return json.loads(found.group(1))


def test_the_clerk_gets_the_controls_and_the_minutes(client, session, world):
    hearing, _tokens = new_hearing(session, world, status="published")
    hearing.agenda = "一、宣布纪律"
    session.commit()
    login(client, world.clerk)
    page = client.get(f"/hearings/{hearing.id}/live/control")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert hearing.title in html and "一、宣布纪律" in html
    assert 'data-live="start"' in html and 'data-live="end"' in html
    when = hearing.starts_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
    start_button = re.search(r'<button[^>]*data-live="start"[^>]*>', html)
    assert start_button and f"scheduled for {when}" in start_button.group(0)  # asks first
    assert 'id="minutes-opening"' in html and "<textarea" in html
    assert 'aria-live="polite"' in html
    assert "js/hearings/live.js" in html and "css/hearings.css" in html
    config = _config(html)
    assert config["mode"] == "run" and config["minutes_url"].endswith("/minutes")
    assert config["hearing_id"] == hearing.id
    # the staff view sends those who run the hearing to their page
    assert client.get(f"/hearings/{hearing.id}/live").status_code == 302
    # the hearing page links to it
    detail = client.get(f"/hearings/{hearing.id}").get_data(as_text=True)
    assert f"/hearings/{hearing.id}/live/control" in detail


def test_the_admin_follows_without_controls(client, session, world):
    hearing, _tokens = new_hearing(session, world, status="published")
    login(client, world.admin)
    control = client.get(f"/hearings/{hearing.id}/live/control")
    assert control.status_code == 302
    assert control.headers["Location"].endswith(f"/hearings/{hearing.id}/live")
    page = client.get(f"/hearings/{hearing.id}/live")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-live="start"' not in html and "<textarea" not in html
    assert 'class="minutes-read"' in html  # the minutes, read only
    assert _config(html)["mode"] == "staff" and _config(html)["minutes_url"] is None
    detail = client.get(f"/hearings/{hearing.id}").get_data(as_text=True)
    assert f"/hearings/{hearing.id}/live\"" in detail


def test_staff_who_may_not_see_the_hearing_get_404(client, session, world):
    hearing, _tokens = new_hearing(session, world, status="published")
    login(client, world.outsider_officer)
    assert client.get(f"/hearings/{hearing.id}/live").status_code == 404
    assert client.get(f"/hearings/{hearing.id}/live/control").status_code == 404
    assert client.get("/hearings/999999/live").status_code == 404


def test_a_participant_opens_their_link_and_nothing_changes(client, session, world):
    hearing, tokens = new_hearing(session, world, status="running", stage="opening")
    pet = next(p for p in hearing.participants if p.role == ParticipantRole.PETITIONER)
    page = client.get(f"/hearings/p/{tokens[pet.id]}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert hearing.title in html
    assert 'data-live="start"' not in html and "minutes-" not in html
    assert _config(html)["token"] == tokens[pet.id] and _config(html)["mode"] == "participant"
    session.expire_all()
    assert session.get(Participant, pet.id).attendance == Attendance.ABSENT  # GET: nothing
    assert client.get("/hearings/p/not-a-real-token").status_code == 404
    assert client.get("/hearings/p/" + "a" * 300).status_code == 404


def test_a_declined_panel_member_or_a_cancelled_hearing_has_no_live_link(client, session,
                                                                        world):
    hearing, tokens = new_hearing(session, world, status="published")
    panel = add_panel(session, hearing, registry(session, world, deputies=1, cppcc=0,
                                                 experts=0, lawyers=0))
    member_id, token = next(iter(panel.items()))
    assert client.get(f"/hearings/p/{token}").status_code == 200
    session.get(Participant, member_id).is_active = False
    session.commit()
    assert client.get(f"/hearings/p/{token}").status_code == 404
    session.get(Hearing, hearing.id).status = "cancelled"
    session.commit()
    assert client.get(f"/hearings/p/{next(iter(tokens.values()))}").status_code == 404


def test_an_observer_watches_only(client, session, world):
    hearing, _tokens = new_hearing(session, world, status="published")
    row, token = observer(session, hearing)
    page = client.get(f"/hearings/watch/{token}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert hearing.title in html
    assert 'data-live="' not in html and "minutes-" not in html and "recusal-form" not in html
    assert _config(html)["observer_token"] == token
    session.expire_all()
    assert session.get(type(row), row.id).attended_at is None  # checked in on joining only
    row = session.get(type(row), row.id)
    row.status = ObserverStatus.WAITLISTED
    session.commit()
    assert client.get(f"/hearings/watch/{token}").status_code == 404
    assert client.get("/hearings/watch/nope").status_code == 404


def test_a_closed_hearing_has_no_observer_view(client, session, world):
    hearing, _tokens = new_hearing(session, world, status="published", is_public=False)
    _row, token = observer(session, hearing)
    assert client.get(f"/hearings/watch/{token}").status_code == 404


def test_the_log_of_a_running_hearing_does_not_wait_for_its_start(client, session, world):
    hearing, _tokens = new_hearing(session, world, status="running", stage="opening")
    login(client, world.clerk)
    html = client.get(f"/hearings/{hearing.id}/live/control").get_data(as_text=True)
    assert "Nothing since you opened this page" in html
    assert "the log starts with the hearing" not in html
