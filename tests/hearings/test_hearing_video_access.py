"""Who may still enter a hearing's video (hearings/video_rooms.py, video_blueprint.py):
the rooms' seats follow the panel as it changes (a decline, a removal, a substitute), a
cancelled hearing's rooms are ended, and online observers see the parties by role."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hearings import invitations, operations, panel, video_rooms
from hearings.models import ParticipantRole, Rsvp
from portal.auth.models import User
from portal.extensions import socketio
from tests.fixtures.core import client_for
from tests.fixtures.hearings import add_panel, new_hearing, registry
from video.events import NAMESPACE
from video.models import OPEN_SEAT_STATES, RoomStatus, Seat


@pytest.fixture()
def heard(session, world, make_user):
    hearing, tokens = new_hearing(session, world, status="published")
    people = registry(session, world, deputies=3, cppcc=2, experts=4, lawyers=2,
                      make_user=make_user)
    tokens.update(add_panel(session, hearing, people[:1] + people[3:4] + people[5:6]
                            + people[9:10] + people[6:7]))
    video_rooms.ensure_hearing_room(session, world.clerk, hearing)
    video_rooms.ensure_deliberation_room(session, world.clerk, hearing)
    session.commit()
    return hearing, tokens


def _member(hearing, with_account=True):
    return next(p for p in hearing.participants if p.role == ParticipantRole.PANEL
                and p.is_active and (p.user_id is not None) == with_account)


def _open_refs(session, room_id):
    return {s.ref for s in session.scalars(select(Seat).where(Seat.room_id == room_id))
            if s.state in OPEN_SEAT_STATES}


def test_a_member_who_declines_is_out_of_both_rooms_at_once(app, session, world, heard):
    hearing, tokens = heard
    member = _member(hearing)
    user = session.get(User, member.user_id)
    ref = video_rooms.participant_ref(member)
    assert ref in _open_refs(session, hearing.deliberation_room_id)
    invitations.respond(session, member, accept=False, reason="出差")
    session.commit()
    assert ref not in _open_refs(session, hearing.deliberation_room_id)
    assert ref not in _open_refs(session, hearing.video_room_id)
    c = client_for(app, user)
    assert c.get(f"/hearings/{hearing.id}/video/deliberation").status_code == 404
    assert c.get(f"/hearings/{hearing.id}/video/hearing").status_code == 404
    sock = socketio.test_client(app, namespace=NAMESPACE, flask_test_client=c,
                                auth={"room": hearing.deliberation_room_id})
    assert not sock.is_connected(NAMESPACE)
    # a declined member on a personal link gets no deliberation link either
    on_link = _member(hearing, with_account=False)
    invitations.respond(session, on_link, accept=False, reason="生病")
    session.commit()
    r = app.test_client().post(f"/hearings/p/{tokens[on_link.id]}/video/deliberation")
    assert r.status_code == 409 and "no seat" in r.get_data(as_text=True)


def test_a_left_over_seat_does_not_open_the_deliberation(app, session, world, heard):
    """Even a seat the sync missed (made before this fix) lets no one in who no longer
    deliberates: the page asks the hearing's own rule."""
    hearing, _tokens = heard
    member = _member(hearing)
    member.rsvp = Rsvp.DECLINED  # declined behind the operations' back: the seat stays
    session.commit()
    c = client_for(app, session.get(User, member.user_id))
    assert c.get(f"/hearings/{hearing.id}/video/deliberation").status_code == 404


def test_a_removed_member_loses_the_seat_and_a_substitute_gets_one(session, world, heard):
    hearing, _tokens = heard
    removed = _member(hearing, with_account=False)
    panel.remove_member(session, world.clerk, hearing, removed.id)
    session.commit()
    gone = video_rooms.participant_ref(removed)
    assert gone not in _open_refs(session, hearing.deliberation_room_id)
    assert gone not in _open_refs(session, hearing.video_room_id)

    decliner = next(p for p in hearing.participants if p.role == ParticipantRole.PANEL
                    and p.is_active and p.panel_kind == "expert")
    invitations.respond(session, decliner, accept=False, reason="出差")
    session.commit()
    panel.draw_substitute(session, world.clerk, hearing, decliner.id, seed=7)
    session.commit()
    new = next(p for p in hearing.participants if p.role == ParticipantRole.PANEL
               and p.is_active and p.seat_no == decliner.seat_no)
    assert new.id != decliner.id
    assert video_rooms.participant_ref(new) in _open_refs(session,
                                                          hearing.deliberation_room_id)
    assert video_rooms.participant_ref(new) in _open_refs(session, hearing.video_room_id)
    assert video_rooms.participant_ref(decliner) not in _open_refs(
        session, hearing.deliberation_room_id)


def test_cancelling_the_hearing_ends_its_rooms(app, session, world, heard):
    hearing, tokens = heard
    petitioner = next(p for p in hearing.participants
                      if p.role == ParticipantRole.PETITIONER)
    web = app.test_client()
    assert web.post(f"/hearings/p/{tokens[petitioner.id]}/video/hearing"
                    ).status_code == 303
    operations.cancel_hearing(session, world.clerk, hearing, "当事人撤回申请")
    session.commit()
    from video.models import Room
    assert session.get(Room, hearing.video_room_id).status == RoomStatus.ENDED
    assert session.get(Room, hearing.deliberation_room_id).status == RoomStatus.ENDED
    r = web.post(f"/hearings/p/{tokens[petitioner.id]}/video/hearing")
    assert r.status_code in (403, 409) and "/join/" not in r.headers.get("Location", "")


def _observer(session, hearing):
    from datetime import timedelta

    from hearings.links import observer_token_hash
    from hearings.models import Observer
    from portal.crypto import lookup_hash
    from portal.timeutil import utcnow

    observer = Observer(hearing_id=hearing.id, name="旁听人乙", phone="13800002222",
                        id_number="110101195001011239", id_number_hash=lookup_hash("obs:2"),
                        status="seated", token_hash=observer_token_hash("twatch"),
                        registered_at=utcnow() - timedelta(days=1))
    session.add(observer)
    session.commit()
    return observer


def test_watchers_see_the_parties_by_role_and_only_while_it_runs(app, session, world,
                                                                  heard):
    from hearings.models import Stage
    from tests.fixtures.video import events, guest_socket, hello

    hearing, tokens = heard
    observer = _observer(session, hearing)
    # published but not started: no watch-only seat yet
    with pytest.raises(Exception, match="not started"):
        video_rooms.observer_seat(session, hearing, observer)
    hearing.status, hearing.stage = "running", Stage.OPENING
    session.commit()
    _seat, watch_token = video_rooms.observer_seat(session, hearing, observer)
    session.commit()
    petitioner = next(p for p in hearing.participants
                      if p.role == ParticipantRole.PETITIONER)
    answer = app.test_client().post(f"/hearings/p/{tokens[petitioner.id]}/video/hearing")
    party_token = answer.headers["Location"].split("/join/")[1]
    watcher = guest_socket(app, watch_token)
    hello(watcher, "w")
    party = guest_socket(app, party_token)
    hello(party, "p")
    seen = [s for e in events(watcher, "participants") for s in e["data"]["seats"]]
    names = {s["name"] for s in seen}
    assert "Petitioner" in names or "信访人" in names, names
    assert petitioner.name not in names
    # those who take part still see the petitioner's name
    told = [s for e in events(party, "participants") for s in e["data"]["seats"]]
    assert petitioner.name in {s["name"] for s in told}
    for sock in (watcher, party):
        sock.disconnect(NAMESPACE)
    # once the hearing has ended, no new watch link
    hearing.stage = Stage.ENDED
    session.commit()
    with pytest.raises(Exception, match="over"):
        video_rooms.observer_seat(session, hearing, observer)
