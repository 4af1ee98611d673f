"""The hearings pages of the scheduling part as people meet them: the list with its filter
and empty state, the requests awaiting a decision with their decide-by clock, the home
panel, the petitioner's view of a scheduled hearing, bad input, and the demo data."""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import func, select

from hearings.demo import seed_hearings
from hearings.models import (
    Hearing,
    HearingRequest,
    HearingStatus,
    MinutesSection,
    RecordVersion,
    RequestStatus,
    Signature,
)
from portal import demo as core_demo
from portal.casefiles.clocks import today_in_china
from portal.casefiles.demo import seed_cases
from portal.extensions import db
from tests.fixtures.casefiles import new_case
from tests.fixtures.core import build_app, login
from tests.fixtures.hearings import new_hearing


def _text(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


def _request(session: Any, world: Any, days_left: int) -> HearingRequest:
    case, _code = new_case(session, world)
    req = HearingRequest(case_id=case.id, channel="clerk", reason="请求听证",
                         decide_by=today_in_china() + timedelta(days=days_left),
                         created_by_id=world.clerk.id)
    session.add(req)
    session.commit()
    return req


def test_the_list_filters_by_state_and_says_when_empty(client, session, world):
    login(client, world.clerk)
    empty = _text(client.get("/hearings/"))
    assert "No hearing is scheduled." in empty and "Schedule a hearing" in empty
    scheduled, _ = new_hearing(session, world)
    published, _ = new_hearing(session, world, status="published")
    page = _text(client.get("/hearings/"))
    assert scheduled.title in page and published.title in page
    only = _text(client.get("/hearings/?status=published"))
    assert published.title in only and scheduled.title not in only
    none = _text(client.get("/hearings/?status=filed"))
    assert "No hearing in this state." in none and "Clear the filters" in none
    assert client.get("/hearings/?status=nonsense&page=x").status_code == 200


def test_the_list_shows_only_what_the_user_may_see(client, session, world):
    hearing, _ = new_hearing(session, world)
    login(client, world.other_clerk)
    assert hearing.title not in _text(client.get("/hearings/"))
    assert client.get(f"/hearings/{hearing.id}").status_code == 404


def test_requests_awaiting_a_decision_show_their_clock(client, session, world):
    calm = _request(session, world, 12)
    close = _request(session, world, 4)
    late = _request(session, world, -2)
    decided = _request(session, world, 9)
    decided.status = RequestStatus.REFUSED
    session.commit()
    login(client, world.clerk)
    page = _text(client.get("/hearings/requests"))
    assert "12 days left" in page and "clock-ok" in page
    assert "4 days left" in page and "clock-amber" in page
    assert "2 days overdue" in page and "clock-overdue" in page
    assert decided.case.number not in page
    assert page.index(late.case.number) < page.index(close.case.number) \
        < page.index(calm.case.number)  # the most urgent first
    everything = _text(client.get("/hearings/requests?show=all"))
    assert decided.case.number in everything
    detail = _text(client.get(f"/hearings/requests/{close.id}"))
    assert "4 days left" in detail and "Record the decision" in detail


def test_no_request_awaits_says_so(client, session, world):
    login(client, world.leader)
    assert "No request awaits a decision." in _text(client.get("/hearings/requests"))


def test_the_home_panel_lists_requests_and_upcoming_hearings(client, session, world):
    req = _request(session, world, 3)
    hearing, _ = new_hearing(session, world)
    login(client, world.clerk)
    home = _text(client.get("/"))
    assert "Requests for a hearing awaiting decision" in home
    assert req.case.number in home and "3 days left" in home
    assert "Upcoming hearings" in home and hearing.title in home


def test_the_home_panel_is_not_for_agency_officers(client, session, world):
    login(client, world.police_officer)
    assert "Requests for a hearing awaiting decision" not in _text(client.get("/"))


def test_the_petitioner_sees_the_scheduled_hearing_on_the_query_page(client, session,
                                                                     world):
    case, code = new_case(session, world)
    hearing, _ = new_hearing(session, world, case=case)
    page = _text(client.post("/query", data={"code": code}))
    assert hearing.place in page
    assert 'id="hearing-title"' in page and "Ask for a hearing" in page


def test_bad_input_never_breaks_a_page(client, session, world):
    login(client, world.clerk)
    assert client.get("/hearings/new?case_id=abc").status_code == 404
    assert client.get("/hearings/new?request_id=999999").status_code == 404
    empty = client.get("/hearings/new?case_number=")
    assert empty.status_code == 302
    assert "Type the number of the case" in _text(client.get("/hearings/"))
    unknown = client.get("/hearings/new?case_number=2099-XF-000999")
    assert unknown.status_code == 302
    assert "No case you can see has this number" in _text(client.get("/hearings/"))
    case, _code = new_case(session, world)
    typed = client.get(f"/hearings/new?case_number={case.number.lower()}")
    assert typed.status_code == 200 and case.number in _text(typed)
    hearing, _ = new_hearing(session, world)
    odd = client.post(f"/hearings/{hearing.id}/edit", data={
        "version": "x", "day": "2099-13-40", "starts": "25:00", "ends": "", "place_kind": "?"})
    assert odd.status_code == 400
    assert client.post("/hearings/requests/999999", data={}).status_code == 404


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, list[str]]]:
    tmp = tmp_path_factory.mktemp("hearings-seed")
    app = build_app(tmp, f"sqlite:///{tmp / 'seed.db'}")
    said: list[str] = []
    with app.app_context():
        upgrade()
        core_demo.seed_core(db.session, said.append, with_logins=True)
        seed_cases(db.session, said.append)
        with app.test_request_context():
            seed_hearings(db.session, said.append)
        db.session.commit()
    yield app, said
    with app.app_context():
        db.engine.dispose()


def test_the_demo_has_a_hearing_in_every_state(seeded):
    app, said = seeded
    with app.app_context():
        states = set(db.session.scalars(select(Hearing.status)))
        assert states == {str(s) for s in HearingStatus}, said
        pending = db.session.scalar(select(func.count()).select_from(HearingRequest).where(
            HearingRequest.status == RequestStatus.PENDING))
        assert pending == 1
        running = db.session.scalar(select(Hearing).where(Hearing.status == "running"))
        assert running.stage == "petitioner"
        assert db.session.scalar(select(func.count()).select_from(MinutesSection).where(
            MinutesSection.hearing_id == running.id)) >= 2
        signing = db.session.scalar(select(Hearing).where(Hearing.status == "signing"))
        record = db.session.scalar(select(RecordVersion).where(
            RecordVersion.hearing_id == signing.id))
        signed = db.session.scalar(select(func.count()).select_from(Signature).where(
            Signature.record_version_id == record.id))
        assert 0 < signed < len(signing.participants)


def test_the_demo_is_seeded_once(seeded):
    app, said = seeded
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(Hearing))
        again: list[str] = []
        with app.test_request_context():
            seed_hearings(db.session, again.append)
        assert db.session.scalar(select(func.count()).select_from(Hearing)) == before
        assert "present, 0 new" in again[0]


def test_the_demo_panels_were_invited_and_held_hearings_noticed_before(seeded):
    """The demo's seated panels were invited (their links issued), and a hearing held
    had its notice published before it, not on the day the demo was seeded."""
    from hearings.models import Participant

    app, _said = seeded
    with app.app_context():
        panel = list(db.session.scalars(select(Participant).where(
            Participant.role == "panel")))
        assert panel and all(p.invited_at is not None and p.token_hash for p in panel)
        for hearing in db.session.scalars(select(Hearing).where(
                Hearing.started_at.is_not(None))):
            assert hearing.notice_published_at < hearing.started_at


def test_the_demo_cases_are_of_the_portals_kinds(seeded):
    """A demo case's kind is one the timeline can name ("来信 · medical" was shown raw)."""
    from portal.casefiles.models import Case, CaseKind

    app, _said = seeded
    with app.app_context():
        kinds = set(db.session.scalars(select(Case.kind)))
        assert kinds and kinds <= {str(k) for k in CaseKind}, kinds


def test_the_list_s_labels_sit_with_their_fields(client, session, world):
    """In the filter bar's grid a label alone in its cell sat lower than its field: each
    label and its field share one cell."""
    import re

    login(client, world.clerk)
    page = client.get("/hearings/").get_data(as_text=True)
    for field in ("case_number", "status"):
        assert re.search(rf'<div>\s*<label for="{field}">[^<]*</label>\s*<(input|select) '
                         rf'id="{field}"', page), field
