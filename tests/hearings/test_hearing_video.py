"""A hearing's video (hearings/video_rooms.py, hearings/video_blueprint.py): its
multi-party room with a seat per participant on the hearing's case, the private
deliberation room (presiding officer and panel only), a participant's join link, an
online observer's watch-only seat, and the partial the live pages include."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from flask import render_template
from flask_migrate import upgrade
from sqlalchemy import func, select

from hearings import video_rooms
from hearings.links import observer_token_hash
from hearings.models import Hearing, Observer, Participant, ParticipantRole
from portal.auth.models import User
from portal.auth.roles import Role
from portal.crypto import lookup_hash
from portal.errors import NotAllowed
from portal.extensions import db, socketio
from portal.timeutil import utcnow
from tests.fixtures.casefiles import World
from tests.fixtures.core import PG_URL, build_app, client_for, create_pg_database
from tests.fixtures.hearings import add_panel, new_hearing, registry
from tests.fixtures.video import events, guest_socket, hello
from video import operations as vops
from video.events import NAMESPACE
from video.models import Room, RoomKind, Seat, SeatKind, SeatState


@pytest.fixture()
def heard(session, world, make_user):
    """A published hearing with a five-member panel (some members with accounts):
    (hearing, personal tokens by participant id)."""
    hearing, tokens = new_hearing(session, world, status="published")
    people = registry(session, world, deputies=2, cppcc=1, experts=1, lawyers=1,
                      make_user=make_user)
    tokens.update(add_panel(session, hearing, people))
    return hearing, tokens


def _seats(session, room_id) -> list[Seat]:
    return list(session.scalars(select(Seat).where(Seat.room_id == room_id)
                                .order_by(Seat.id)))


def _participant(hearing, role, with_account=None) -> Participant:
    for p in hearing.participants:
        if p.role == role and (with_account is None or (p.user_id is not None) == with_account):
            return p
    raise AssertionError(f"no {role}")


def _fresh(app, make):
    """A socket whose events run each in an app context of their own (as on a server)."""
    with app.app_context():
        sock = make()
    emit = sock.emit

    def fresh(*args, **kwargs):
        with app.app_context():
            return emit(*args, **kwargs)

    sock.emit = fresh
    return sock


def _account_socket(app, client, room):
    return _fresh(app, lambda: socketio.test_client(
        app, namespace=NAMESPACE, auth={"room": room.id}, flask_test_client=client))


def test_the_hearing_room_has_a_seat_for_each_participant_on_its_case(session, world, heard):
    hearing, _tokens = heard
    room = video_rooms.ensure_hearing_room(session, world.clerk, hearing)
    session.commit()
    assert hearing.video_room_id == room.id
    assert room.kind == RoomKind.MULTI_PARTY and not room.is_private
    assert room.office_id == hearing.office_id and room.host_id == hearing.presiding_id
    seats = _seats(session, room.id)
    people = [p for p in hearing.participants if p.is_active]
    assert sorted(s.display_name for s in seats) == sorted(p.name for p in people)
    assert all(s.case_id == hearing.case_id and s.admit_on_arrival for s in seats)
    for p in people:
        seat = next(s for s in seats if s.ref == f"hearing-participant:{p.id}")
        if p.user_id is not None:  # with an account: enters logged in, no link
            assert seat.kind == SeatKind.STAFF and seat.user_id == p.user_id
            assert seat.token_hash is None
        else:
            assert seat.kind == SeatKind.PARTICIPANT and seat.token_hash
        assert not seat.is_watch_only

    # again: the same room, no new seats; a member who declined loses theirs; the
    # hearing moved a day later: the room and its links follow
    member = _participant(hearing, ParticipantRole.PANEL, with_account=False)
    member.rsvp = "declined"
    hearing.starts_at += timedelta(days=1)
    hearing.ends_at += timedelta(days=1)
    again = video_rooms.ensure_hearing_room(session, world.clerk, hearing)
    session.commit()
    assert again.id == room.id
    assert (room.starts_at, room.ends_at) == (hearing.starts_at,
                                              hearing.ends_at + video_rooms.OVERRUN)
    assert all(s.token_expires_at == room.ends_at + vops.LINK_GRACE
               for s in _seats(session, room.id) if s.token_expires_at is not None)
    assert len(_seats(session, room.id)) == len(seats)
    gone = next(s for s in _seats(session, room.id)
                if s.ref == f"hearing-participant:{member.id}")
    assert gone.state == SeatState.CANCELLED and gone.token_hash is None


def test_only_organisers_and_those_who_run_it_open_the_room(session, world, heard):
    hearing, _tokens = heard
    with pytest.raises(NotAllowed):
        video_rooms.ensure_hearing_room(session, world.supervisor, hearing)
    with pytest.raises(NotAllowed):
        video_rooms.ensure_deliberation_room(session, world.other_clerk, hearing)
    assert hearing.video_room_id is None and hearing.deliberation_room_id is None
    assert session.scalar(select(func.count()).select_from(Room)) == 0


def test_the_deliberation_room_is_the_panel_and_the_presiding_officer_only(
        app, session, world, heard):
    hearing, tokens = heard
    room = video_rooms.ensure_deliberation_room(session, world.leader, hearing)
    session.commit()
    assert hearing.deliberation_room_id == room.id and room.is_private
    names = sorted(s.display_name for s in _seats(session, room.id))
    panel = [p for p in hearing.participants if p.role == ParticipantRole.PANEL]
    assert names == sorted([world.leader.display_name, *(p.name for p in panel)])
    assert world.clerk.display_name not in names

    # the admin, the organising clerk and the office's supervisor: refused, nothing made
    before = session.scalar(select(func.count()).select_from(Seat))
    for outsider in (world.admin, world.clerk, world.supervisor):
        c = client_for(app, outsider)
        sock = _account_socket(app, c, room)
        assert not sock.is_connected(NAMESPACE), outsider
        assert c.get(f"/hearings/{hearing.id}/video/deliberation").status_code == 404
        assert c.get(f"/video/rooms/{room.id}/host").status_code in (403, 404)
    assert session.scalar(select(func.count()).select_from(Seat)) == before

    # the presiding officer hosts; a member with an account is in on their seat; a member
    # on their personal link gets a join link for this room
    presiding = _account_socket(app, client_for(app, world.leader), room)
    assert hello(presiding, "p")["seat"]["is_staff"]
    member = _participant(hearing, ParticipantRole.PANEL, with_account=True)
    member_user = session.get(type(world.leader), member.user_id)
    c = client_for(app, member_user)
    page = c.get(f"/hearings/{hearing.id}/video/deliberation")
    assert page.status_code == 200 and "video-room" in page.get_data(as_text=True)
    sock = _account_socket(app, c, room)
    assert hello(sock, "m")["seat"]["state"] == "admitted"
    on_link = _participant(hearing, ParticipantRole.PANEL, with_account=False)
    answer = app.test_client().post(
        f"/hearings/p/{tokens[on_link.id]}/video/deliberation")
    assert answer.status_code == 303 and answer.headers["Location"].startswith("/join/")
    # the petitioner's personal link opens no seat in the deliberation
    petitioner = _participant(hearing, ParticipantRole.PETITIONER)
    refused = app.test_client().post(
        f"/hearings/p/{tokens[petitioner.id]}/video/deliberation")
    assert refused.status_code == 409
    assert "no seat" in refused.get_data(as_text=True)
    for s in (presiding, sock):
        s.disconnect(NAMESPACE)


def test_a_participant_joins_on_a_fresh_link_and_the_old_one_stops(app, session, world,
                                                                   heard):
    hearing, tokens = heard
    petitioner = _participant(hearing, ParticipantRole.PETITIONER)
    web = app.test_client()
    # not open yet: said plainly, nothing made
    early = web.post(f"/hearings/p/{tokens[petitioner.id]}/video/hearing")
    assert early.status_code == 409 and "not open yet" in early.get_data(as_text=True)
    # a bad personal link
    assert web.post("/hearings/p/nonsense/video/hearing").status_code == 403
    assert web.get(f"/hearings/p/{tokens[petitioner.id]}/video/hearing").status_code == 405

    login_as_clerk = client_for(app, world.clerk)
    opened = login_as_clerk.post(f"/hearings/{hearing.id}/video/open")
    assert opened.status_code == 303
    session.expire_all()
    assert hearing.video_room_id and hearing.deliberation_room_id

    first = web.post(f"/hearings/p/{tokens[petitioner.id]}/video/hearing")
    first_token = first.headers["Location"].split("/join/")[1]
    check = web.get(first.headers["Location"])
    assert check.status_code == 200 and petitioner.name in check.get_data(as_text=True)
    second = web.post(f"/hearings/p/{tokens[petitioner.id]}/video/hearing")
    token = second.headers["Location"].split("/join/")[1]
    assert token != first_token
    assert web.get(f"/join/{first_token}").status_code == 404
    # the join link works on the namespace: straight in, no waiting for the host
    sock = guest_socket(app, token)
    ack = hello(sock, "p")
    assert ack["seat"]["name"] == petitioner.name and ack["seat"]["state"] == "admitted"
    sock.disconnect(NAMESPACE)


def _observer(session, hearing, status="seated") -> Observer:
    observer = Observer(hearing_id=hearing.id, name="旁听人甲", phone="13800001111",
                        id_number="110101195001011239",
                        id_number_hash=lookup_hash(f"obs:{status}"),
                        status=status, token_hash=observer_token_hash(f"t{status}"),
                        registered_at=utcnow() - timedelta(days=1))
    session.add(observer)
    session.commit()
    return observer


def test_an_online_observer_gets_a_watch_only_seat(app, session, world, heard):
    hearing, _tokens = heard
    observer = _observer(session, hearing)
    with pytest.raises(Exception, match="not started"):
        video_rooms.observer_seat(session, hearing, observer)
    video_rooms.ensure_hearing_room(session, world.clerk, hearing)
    hearing.status, hearing.stage = "running", "opening"  # observers watch while it runs
    seat, token = video_rooms.observer_seat(session, hearing, observer)
    session.commit()
    assert seat.is_watch_only and seat.kind == SeatKind.OBSERVER
    assert seat.case_id == hearing.case_id
    # the same seat when the page is opened again, on a new link
    again, token2 = video_rooms.observer_seat(session, hearing, observer)
    session.commit()
    assert again.id == seat.id and token2 != token
    sock = guest_socket(app, token2)
    ack = hello(sock, "o")
    assert ack["seat"]["watch_only"] and ack["seat"]["state"] == "admitted"
    refused = sock.emit("chat", {"text": "你好"}, namespace=NAMESPACE, callback=True)
    assert refused["ok"] is False
    assert events(sock, "chat") == []
    page = app.test_client().get(f"/join/{token2}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "device_check.js" not in text
    assert 'name="audio_only"' not in text
    sock.disconnect(NAMESPACE)

    waitlisted = _observer(session, hearing, status="waitlisted")
    with pytest.raises(NotAllowed):
        video_rooms.observer_seat(session, hearing, waitlisted)


def _as(app, hearing, user, **context) -> str:
    """The partial as a hearings page shows it to `user` (None: nobody logged in)."""
    from flask_login import login_user

    with app.test_request_context(f"/hearings/{hearing.id}"):
        if user is not None:
            login_user(user)
        return render_template("hearings/_video.html", hearing=hearing, **context)


def test_the_partial_offers_the_viewers_own_way_in(app, session, world, heard):
    hearing, tokens = heard
    petitioner = _participant(hearing, ParticipantRole.PETITIONER)
    with app.test_request_context("/"):
        closed = render_template("hearings/_video.html", hearing=hearing,
                                 participant=petitioner,
                                 participant_token=tokens[petitioner.id])
    assert "not open yet" in closed and "<form" not in closed
    # the hearing's clerk may open the rooms; the office's supervisor may not
    assert f"/hearings/{hearing.id}/video/open" in _as(app, hearing, world.clerk)
    assert "/video/open" not in _as(app, hearing, world.supervisor)
    video_rooms.ensure_hearing_room(session, world.clerk, hearing)
    video_rooms.ensure_deliberation_room(session, world.clerk, hearing)
    session.commit()
    assert f"/hearings/{hearing.id}/video/hearing" in _as(app, hearing, world.clerk)
    # the deliberation: not the clerk's, the presiding officer's
    assert "no seat" in _as(app, hearing, world.clerk, which="deliberation")
    assert f"/hearings/{hearing.id}/video/deliberation" in _as(
        app, hearing, world.leader, which="deliberation")
    with app.test_request_context("/"):
        mine = render_template("hearings/_video.html", hearing=hearing,
                               participant=petitioner,
                               participant_token=tokens[petitioner.id])
        watch = render_template("hearings/_video.html", hearing=hearing,
                                observer_token="abc")
    assert f'/hearings/p/{tokens[petitioner.id]}/video/hearing' in mine
    assert 'method="post"' in mine
    # an observer gets a button (a POST: it makes the watch-only seat and a fresh link)
    assert '/hearings/watch/abc/video' in watch and 'method="post"' in watch
    assert "watch and listen" in watch


@pytest.mark.skipif(not PG_URL, reason="PORTAL_TEST_DATABASE_URL is not set (row locks)")
def test_two_organisers_opening_the_video_at_once_make_one_room(tmp_path):
    """Real commits on a PostgreSQL database of its own: the second waits on the
    hearing's row, then finds the first's room and seats."""
    url, drop = create_pg_database(PG_URL)
    app = build_app(tmp_path, url)
    try:
        with app.app_context():
            upgrade()
            hearing_id, clerk_ids = _seed_hearing()
        barrier = threading.Barrier(2)
        got: list[int] = []
        errors: list[BaseException] = []

        def work(clerk_id: int) -> None:
            try:
                with app.app_context():
                    hearing = db.session.get(Hearing, hearing_id)
                    clerk = db.session.get(User, clerk_id)
                    barrier.wait()
                    got.append(video_rooms.ensure_hearing_room(db.session, clerk, hearing).id)
                    db.session.commit()
                    db.session.remove()
            except BaseException as error:  # noqa: BLE001  (handed to the test's thread)
                errors.append(error)

        pool = [threading.Thread(target=work, args=(c,)) for c in clerk_ids]
        for t in pool:
            t.start()
        for t in pool:
            t.join(60)
        assert errors == []
        with app.app_context():
            rooms = db.session.scalars(select(Room.id)).all()
            assert got == [rooms[0], rooms[0]] and len(rooms) == 1
            hearing = db.session.get(Hearing, hearing_id)
            assert hearing.video_room_id == rooms[0]
            refs = db.session.scalars(select(Seat.ref)).all()
            assert len(refs) == len(set(refs)) == len(
                [p for p in hearing.participants if p.is_active])
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        drop()


def _seed_hearing() -> tuple[int, list[int]]:
    from portal.auth import operations as auth_ops
    from portal.casefiles import operations as case_ops
    from portal.orgs.models import Organisation

    office = Organisation(name="信访局", kind="agency", sector="petition")
    db.session.add(office)
    db.session.flush()

    def user(name: str, role: Role) -> User:
        return auth_ops.create_user(db.session, username=name, display_name=name,
                                    password="x" * 12, roles={role}, organisations=[office],
                                    check_password=False)

    leader, clerk, other = user("leader", Role.LEADER), user("clerk", Role.CLERK), \
        user("clerk2", Role.CLERK)
    case, _code = case_ops.register_case(db.session, clerk, channel="walk_in", kind="land",
                                         summary="征地补偿", petitioners=[{"name": "王秀英"}])
    world = World(county=None, township=office, village=None, office=office,
                  other_office=None, police=None, land=None, outsider_agency=None,
                  clerk=clerk, leader=leader, supervisor=None, admin=None, other_clerk=None,
                  other_leader=None, police_officer=None, land_officer=None,
                  outsider_officer=None, deputy=None)
    hearing, _tokens = new_hearing(db.session, world, case=case, status="published")
    add_panel(db.session, hearing, registry(db.session, world, deputies=1, cppcc=1,
                                            experts=1, lawyers=0))
    db.session.commit()
    return hearing.id, [clerk.id, other.id]


def test_the_watch_page_button_gives_the_observer_a_watch_only_link(app, session, world,
                                                                     heard, client):
    """From the observer's own page: before the room opens, a message and nothing made;
    then a fresh watch-only join link; a cancelled observer's link answers 404."""
    hearing, _tokens = heard
    observer = _observer(session, hearing)  # its personal token is "tseated"
    page = client.get("/hearings/watch/tseated").get_data(as_text=True)
    assert "/hearings/watch/tseated/video" not in page  # the room is not open: no button
    early = client.post("/hearings/watch/tseated/video")
    assert early.status_code == 303 and early.headers["Location"].endswith(
        "/hearings/watch/tseated")
    assert session.scalar(select(func.count()).select_from(Seat).where(
        Seat.is_watch_only.is_(True))) == 0
    assert "not started" in client.get(early.headers["Location"]).get_data(as_text=True)
    video_rooms.ensure_hearing_room(session, world.clerk, hearing)
    hearing.status, hearing.stage = "running", "opening"  # observers watch while it runs
    session.commit()
    assert "/hearings/watch/tseated/video" in client.get("/hearings/watch/tseated").get_data(
        as_text=True)
    r = client.post("/hearings/watch/tseated/video")
    assert r.status_code == 303 and "/join/" in r.headers["Location"]
    seat = session.scalars(select(Seat).where(Seat.is_watch_only.is_(True))).one()
    assert seat.kind == SeatKind.OBSERVER and seat.case_id == hearing.case_id
    observer.status = "cancelled"
    session.commit()
    assert client.post("/hearings/watch/tseated/video").status_code == 404


def test_a_running_hearing_without_a_room_does_not_promise_one(app, session, world, heard):
    """Under way and no video room: no "opens shortly" — a room-only hearing has no video,
    an online one sends the viewer to the clerk."""
    hearing, tokens = heard
    petitioner = _participant(hearing, ParticipantRole.PETITIONER)
    hearing.status = "running"
    for place_kind, says in (("room", "hearing room only"), ("both", "Ask the hearing clerk")):
        hearing.place_kind = place_kind
        with app.test_request_context("/"):
            page = render_template("hearings/_video.html", hearing=hearing,
                                   participant=petitioner,
                                   participant_token=tokens[petitioner.id])
        assert says in page and "not open yet" not in page
