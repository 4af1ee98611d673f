"""The fair panel through the pages: draw, the explanation, the case timeline, hand picks
refused for a conflict or a booking, a substitute for a declined seat, refusals for
people who do not organise the hearing.

The pages are read in English (the portal_lang cookie), so the assertions hold whatever
the Chinese catalogue says."""

from __future__ import annotations

import html
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from hearings.models import PanelDraw, Participant, ParticipantRole
from portal.casefiles.models import CaseEvent
from portal.people.models import Affiliation
from tests.fixtures.casefiles import new_case
from tests.fixtures.core import login
from tests.fixtures.hearings import add_panel, new_hearing, registry


def _english(client: Any, user: Any) -> None:
    client.set_cookie("portal_lang", "en")
    login(client, user)


def _page(client: Any, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return html.unescape(response.get_data(as_text=True))


def _seats(session: Any, hearing: Any) -> list[Participant]:
    session.expire_all()
    return list(session.scalars(select(Participant).where(
        Participant.hearing_id == hearing.id, Participant.role == ParticipantRole.PANEL,
        Participant.is_active.is_(True)).order_by(Participant.seat_no)))


def _count(session: Any, model: Any, *where: Any) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_an_organiser_draws_the_panel_and_reads_why(client, session, world):
    people = registry(session, world)
    hearing, _tokens = new_hearing(session, world)
    _english(client, world.clerk)
    url = f"/hearings/{hearing.id}"
    assert "No panel member yet." in _page(client, url)

    response = client.post(f"{url}/panel/draw", data={"idempotency_key": "k-draw-1"})
    assert response.status_code == 303
    page = _page(client, response.headers["Location"])
    assert "The panel was drawn" in page
    seats = _seats(session, hearing)
    assert [s.seat_no for s in seats] == [1, 2, 3, 4, 5]
    kinds = sorted(s.panel_kind or "" for s in seats)
    assert kinds == ["cppcc", "deputy", "expert", "expert", "lawyer"]
    by_id = {p.id: p for p in people}
    assert all(by_id[s.person_id or 0].expert_field == "land" for s in seats
               if s.panel_kind == "expert")
    assert all(s.token_hash and s.picked_by == "draw" for s in seats)
    # the seats with how and why; the explanation with chosen and passed over
    for s in seats:
        assert s.name in page
    assert "Least recently picked of the Land experts; never sat on a panel" in page
    assert "The seats for deputies went to people picked less recently" in page
    assert "Random seed of the draw" in page
    draw = session.scalars(select(PanelDraw).where(PanelDraw.hearing_id == hearing.id)).one()
    assert draw.seat_no is None and len(draw.explanation["chosen"]) == 5
    # everyone not chosen is explained: here nobody is excluded, all were out-picked
    assert draw.explanation["passed"] == []
    assert sum(len(g["people"]) for g in draw.explanation["outpicked"]) == len(people) - 5
    # recorded on the case file's timeline
    event = session.scalars(select(CaseEvent).where(
        CaseEvent.case_id == hearing.case_id, CaseEvent.kind == "hearing_panel_drawn")).one()
    assert str(draw.id) in event.payload
    case_page = _page(client, f"/cases/{hearing.case.number}")
    assert f"Panel drawn for {hearing.title}" in case_page

    # the same form sent again draws nothing new
    again = client.post(f"{url}/panel/draw", data={"idempotency_key": "k-draw-1"})
    assert again.status_code in (302, 303)
    assert _count(session, PanelDraw, PanelDraw.hearing_id == hearing.id) == 1


def test_conflicts_and_bookings_are_passed_over_with_their_reason(client, session, world):
    people = registry(session, world, deputies=2)
    hearing, _tokens = new_hearing(session, world)
    tied, booked = people[0], people[1]  # the two deputies
    session.add(Affiliation(person_id=tied.id, name="某村村委会", relation="亲属"))
    other, _t = new_hearing(session, world, starts_in=timedelta(days=10, hours=1))
    add_panel(session, other, [booked])
    session.commit()
    _english(client, world.clerk)

    response = client.post(f"/hearings/{hearing.id}/panel/draw")
    page = _page(client, response.headers["Location"])
    # both deputies are out: the draw refuses and names the shortage
    assert ("Not enough eligible people for the panel; nothing was drawn. deputies: 1 "
            "needed, 0 eligible (short by 1)") in page
    assert _seats(session, hearing) == []
    assert _count(session, PanelDraw, PanelDraw.hearing_id == hearing.id) == 0

    # a hand pick of either is refused with the reason
    response = client.post(f"/hearings/{hearing.id}/panel/pick",
                           data={"person_id": tied.id})
    assert response.status_code == 303
    page = _page(client, response.headers["Location"])
    assert (f"{tied.name} cannot sit on this panel: Declared affiliation with 某村村委会 "
            "(a party)") in page
    response = client.post(f"/hearings/{hearing.id}/panel/pick",
                           data={"person_id": booked.id})
    page = _page(client, response.headers["Location"])
    start = other.starts_at + timedelta(hours=8)
    assert (f"{booked.name} cannot sit on this panel: Booked: {other.title} "
            f"{start:%Y-%m-%d %H:%M}–{start + timedelta(hours=3):%H:%M}") in page
    assert _seats(session, hearing) == []
    # the pick list does not offer them
    pick = _page(client, f"/hearings/{hearing.id}/panel/pick")
    assert f'value="{tied.id}"' not in pick and f'value="{booked.id}"' not in pick
    assert f'value="{people[2].id}"' in pick


def test_a_conflicted_person_is_explained_after_a_draw(client, session, world):
    people = registry(session, world, deputies=3)
    hearing, _tokens = new_hearing(session, world)
    tied = people[0]
    session.add(Affiliation(person_id=tied.id, organisation_id=world.land.id,
                            name=world.land.name))
    from portal.casefiles.models import AccessGrant

    session.add(AccessGrant(case_id=hearing.case_id, organisation_id=world.land.id,
                            level="view"))
    session.commit()
    _english(client, world.clerk)
    response = client.post(f"/hearings/{hearing.id}/panel/draw")
    page = _page(client, response.headers["Location"])
    assert f"{tied.name}</strong> (deputies): Declared affiliation with " \
           f"{world.land.name} (the handling agency)" in page
    assert tied.id not in {s.person_id for s in _seats(session, hearing)}


def test_a_hand_pick_fills_a_free_seat_and_keeps_room_for_the_mix(client, session, world):
    people = registry(session, world)
    hearing, _tokens = new_hearing(session, world)
    deputies = [p for p in people if p.kind == "deputy"]
    _english(client, world.clerk)
    page = _page(client, f"/hearings/{hearing.id}/panel/pick?q=deputy")
    assert deputies[0].name in page and "lawyer" not in page.split("Eligible people")[1]
    # htmx search answers the results only
    fragment = client.get(f"/hearings/{hearing.id}/panel/pick?q=lawyer",
                          headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in fragment and "lawyer" in fragment

    response = client.post(f"/hearings/{hearing.id}/panel/pick", data={
        "person_id": deputies[0].id, "note": "熟悉土地政策", "idempotency_key": "p1"})
    assert response.status_code == 303
    assert "now holds seat 1" in _page(client, response.headers["Location"])
    [seat] = _seats(session, hearing)
    assert (seat.seat_no, seat.picked_by, seat.pick_reason) == (1, "hand", "熟悉土地政策")
    # 5 seats, 4 still needed for the mix (cppcc, 2 land experts, lawyer): no 2nd deputy
    response = client.post(f"/hearings/{hearing.id}/panel/pick",
                           data={"person_id": deputies[1].id})
    page = _page(client, response.headers["Location"])
    assert "The remaining seats are needed for the mix" in page
    assert len(_seats(session, hearing)) == 1
    # the same person twice
    response = client.post(f"/hearings/{hearing.id}/panel/pick",
                           data={"person_id": deputies[0].id})
    assert "Already on this panel" in _page(client, response.headers["Location"])


def test_a_substitute_keeps_the_seat_and_the_kind(client, session, world):
    registry(session, world)
    hearing, _tokens = new_hearing(session, world)
    _english(client, world.clerk)
    client.post(f"/hearings/{hearing.id}/panel/draw")
    seats = _seats(session, hearing)
    expert = next(s for s in seats if s.panel_kind == "expert")
    lawyer = next(s for s in seats if s.panel_kind == "lawyer")
    lawyer.rsvp = "accepted"
    # a seat not declined is not drawn again
    response = client.post(f"/hearings/{hearing.id}/panel/{expert.id}/substitute")
    assert "Only a seat whose member declined" in _page(client, response.headers["Location"])
    expert.rsvp, expert.decline_reason = "declined", "出差"
    session.commit()
    on_panel = {s.person_id for s in seats}

    response = client.post(f"/hearings/{hearing.id}/panel/{expert.id}/substitute")
    page = _page(client, response.headers["Location"])
    assert "A substitute was drawn for the declined seat." in page
    now = _seats(session, hearing)
    new = next(s for s in now if s.seat_no == expert.seat_no)
    assert new.id != expert.id and new.panel_kind == "expert" and new.picked_by == "substitute"
    assert new.person_id not in on_panel
    assert session.get(Participant, expert.id).is_active is False
    assert "Substitute for a declined seat: least recently picked of the" in page
    draws = session.scalars(select(PanelDraw).where(PanelDraw.hearing_id == hearing.id)
                            .order_by(PanelDraw.id)).all()
    assert [d.seat_no for d in draws] == [None, expert.seat_no]
    # a member accepted: no whole redraw
    response = client.post(f"/hearings/{hearing.id}/panel/draw")
    assert "A member has already accepted" in _page(client, response.headers["Location"])
    assert len(_seats(session, hearing)) == 5


def test_a_redraw_replaces_the_undecided_seats(client, session, world):
    registry(session, world, deputies=6, cppcc=6, experts=12, lawyers=6)
    hearing, _tokens = new_hearing(session, world)
    _english(client, world.clerk)
    client.post(f"/hearings/{hearing.id}/panel/draw")
    first = {s.id for s in _seats(session, hearing)}
    page = _page(client, f"/hearings/{hearing.id}")
    assert "Draw the panel again? The 5 seats nobody has accepted are replaced." in page
    client.post(f"/hearings/{hearing.id}/panel/draw")
    second = _seats(session, hearing)
    assert len(second) == 5 and not first & {s.id for s in second}
    assert "Earlier members (5)" in _page(client, f"/hearings/{hearing.id}")


def test_removing_a_member_frees_the_seat(client, session, world):
    people = registry(session, world)
    hearing, _tokens = new_hearing(session, world)
    add_panel(session, hearing, people[:1])
    _english(client, world.clerk)
    [seat] = _seats(session, hearing)
    response = client.post(f"/hearings/{hearing.id}/panel/{seat.id}/remove")
    assert f"{seat.name} was removed from the panel." in _page(
        client, response.headers["Location"])
    assert _seats(session, hearing) == []
    assert session.get(Participant, seat.id).token_hash is None


def test_people_who_do_not_organise_are_refused(client, session, world, make_user):
    people = registry(session, world)
    hearing, _tokens = new_hearing(session, world)
    add_panel(session, hearing, people[:2])
    seat = _seats(session, hearing)[0]
    seat.rsvp = "declined"
    session.commit()
    routes = [f"/hearings/{hearing.id}/panel/draw",
              f"/hearings/{hearing.id}/panel/pick",
              f"/hearings/{hearing.id}/panel/{seat.id}/substitute",
              f"/hearings/{hearing.id}/panel/{seat.id}/remove"]
    for user, status in ((world.supervisor, 403), (world.other_clerk, 404),
                         (world.police_officer, 403)):
        client.post("/logout")
        _english(client, user)
        for url in routes:
            assert client.post(url, data={"person_id": people[5].id}).status_code == status
    assert len(_seats(session, hearing)) == 2
    assert _count(session, PanelDraw, PanelDraw.hearing_id == hearing.id) == 0


def test_a_viewer_sees_the_panel_without_the_explanation(client, session, world):
    registry(session, world)
    hearing, _tokens = new_hearing(session, world)
    _english(client, world.clerk)
    client.post(f"/hearings/{hearing.id}/panel/draw")
    client.post("/logout")
    _english(client, world.supervisor)
    page = _page(client, f"/hearings/{hearing.id}")
    seats = _seats(session, hearing)
    assert all(s.name in page for s in seats)
    assert "Passed over" not in page and "Draw the panel" not in page
    assert "Pick by hand" not in page


def test_bad_input_is_refused_without_a_change(client, session, world):
    registry(session, world)
    hearing, _tokens = new_hearing(session, world)
    _english(client, world.clerk)
    url = f"/hearings/{hearing.id}/panel/pick"
    assert client.post(url, data={"person_id": "abc"}).status_code == 400
    assert client.post(url, data={"person_id": str(2**70)}).status_code == 400
    response = client.post(url, data={"person_id": 999999})
    assert "Choose a deputy, CPPCC member, expert or lawyer" in _page(
        client, response.headers["Location"])
    assert client.get(f"{url}?q={'x' * 500}").status_code == 200
    assert client.post(f"/hearings/{hearing.id}/panel/999999/substitute").status_code == 303
    assert client.post("/hearings/999999/panel/draw").status_code == 404
    assert _seats(session, hearing) == []


def test_the_panel_is_fixed_once_the_hearing_runs(client, session, world):
    registry(session, world)
    hearing, _tokens = new_hearing(session, world, status="running")
    _english(client, world.clerk)
    response = client.post(f"/hearings/{hearing.id}/panel/draw")
    assert "The panel can no longer change" in _page(client, response.headers["Location"])
    assert _seats(session, hearing) == []


def test_a_case_of_another_kind_takes_experts_of_any_field(client, session, world):
    people = registry(session, world, experts=4)
    case, _code = new_case(session, world, kind="village_affairs")
    hearing, _tokens = new_hearing(session, world, case=case, panel_size=7)
    _english(client, world.clerk)
    client.post(f"/hearings/{hearing.id}/panel/draw")
    seats = _seats(session, hearing)
    assert len(seats) == 7
    kinds = [s.panel_kind for s in seats]
    # 7 seats: the mix (1, 1, 2, 1) and two open seats spread over the kinds
    assert max(kinds.count(k) for k in ("deputy", "cppcc", "lawyer", "expert")) <= 2
    assert {p.id for p in people} >= {s.person_id for s in seats}



def test_a_full_panel_takes_no_hand_pick(client, session, world):
    people = registry(session, world)
    hearing, _tokens = new_hearing(session, world)
    add_panel(session, hearing, people[:5])
    _english(client, world.clerk)
    page = _page(client, f"/hearings/{hearing.id}/panel/pick")
    assert "The panel is full: remove a member first." in page
    assert "Seat this person" not in page
    assert "Pick by hand" not in _page(client, f"/hearings/{hearing.id}")
    response = client.post(f"/hearings/{hearing.id}/panel/pick",
                           data={"person_id": people[6].id})
    assert "The panel is full: remove a member first." in _page(
        client, response.headers["Location"])
    assert len(_seats(session, hearing)) == 5


def test_who_worked_on_the_case_or_lives_in_its_village_is_refused(client, session, world):
    people = registry(session, world)
    hearing, _tokens = new_hearing(session, world)
    worked, villager = people[0], people[1]
    worked.user_id = world.clerk.id  # registered the case: an actor on its timeline
    villager.organisation_id = world.village.id  # the case's village
    session.commit()
    _english(client, world.leader)
    for person, why in ((worked, "Worked on this case"),
                        (villager, f"Same village as a party ({world.village.name})")):
        response = client.post(f"/hearings/{hearing.id}/panel/pick",
                               data={"person_id": person.id})
        assert f"{person.name} cannot sit on this panel: {why}" in _page(
            client, response.headers["Location"])
    assert _seats(session, hearing) == []


def test_an_even_panel_size_is_refused(client, session, world):
    registry(session, world)
    hearing, _tokens = new_hearing(session, world, panel_size=6)
    _english(client, world.clerk)
    response = client.post(f"/hearings/{hearing.id}/panel/draw")
    assert ("The panel must have an odd number of seats, at least 5; this hearing has 6."
            in _page(client, response.headers["Location"]))
    assert _seats(session, hearing) == []


def test_each_labelled_button_names_what_it_shows(client, session, world):
    """axe's label-content-name-mismatch: a button's accessible name contains its visible
    text (speech users say what they see), in Chinese and in English."""
    import re

    hearing, _tokens = new_hearing(session, world)
    add_panel(session, hearing, registry(session, world)[:2])
    session.commit()
    login(client, world.clerk)
    for lang in ("zh_CN", "en"):
        client.set_cookie("portal_lang", lang)
        page = _page(client, f"/hearings/{hearing.id}")
        buttons = re.findall(r'<button[^>]*aria-label="([^"]*)"[^>]*>\s*([^<]*?)\s*</button>',
                             page)
        assert len(buttons) >= 2, lang
        for label, text in buttons:
            assert text in label, (lang, label, text)
