"""The reception pages in the request shape: views hold no commit, rollback or try; the
unit of work commits once and only then do room events and closed links go out; a domain
error rolls back and is answered as the view said (`web.on_error`)."""

from __future__ import annotations

import ast
import inspect

from sqlalchemy import func, select

from portal import idempotency
from tests.fixtures.core import login
from tests.fixtures.video import book, guest_socket
from video import blueprint
from video import operations as ops
from video.events import NAMESPACE
from video.models import Seat, SeatState


def test_the_views_hold_no_commit_rollback_or_try():
    tree = ast.parse(inspect.getsource(blueprint))
    tries = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Try)]
    calls = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Call)
             and isinstance(n.func, ast.Attribute) and n.func.attr in ("commit", "rollback")]
    assert not tries and not calls, (tries, calls)


def test_a_booking_sent_twice_at_once_is_made_once(client, session, clerk, room,
                                                   monkeypatch):
    """The second request did not see the first one's key (both read before either
    committed): storing the key fails, its seat is rolled back, it leads where the first
    did."""
    login(client, clerk)
    form = {"name": "李大爷", "slot": "", "idempotency_key": "race-1"}
    first = client.post(f"/video/rooms/{room.id}/book", data=form)
    assert first.status_code == 200
    monkeypatch.setattr(idempotency, "ensure_new", lambda *a, **k: None)
    second = client.post(f"/video/rooms/{room.id}/book", data=form)
    assert second.status_code == 303
    assert second.headers["Location"].endswith(f"/video/rooms/{room.id}")
    count = session.scalar(select(func.count()).select_from(Seat).where(
        Seat.room_id == room.id, Seat.display_name == "李大爷"))
    assert count == 1
    page = client.get(second.headers["Location"]).get_data(as_text=True)
    assert "This booking was already made" in page


def test_a_refused_booking_shows_the_form_again_and_books_nothing(client, session, clerk,
                                                                  room):
    login(client, clerk)
    response = client.post(f"/video/rooms/{room.id}/book", data={
        "name": "李大爷", "slot": "", "case_number": "XF-NOPE", "idempotency_key": "k"})
    text = response.get_data(as_text=True)
    assert response.status_code == 400 and "XF-NOPE" in text
    assert 'value="李大爷"' in text  # what the clerk typed is kept
    assert session.scalar(select(Seat).where(Seat.display_name == "李大爷")) is None


def test_a_refused_cancel_goes_back_to_the_room_with_the_message(client, session, clerk,
                                                                 room):
    seat, _token = book(session, clerk, room)
    ops.cancel_seat(session, clerk, seat)
    ops.pending_events(session)
    session.commit()
    login(client, clerk)
    response = client.post(f"/video/seats/{seat.id}/cancel")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/video/rooms/{room.id}")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Only a booking that has not started can be cancelled." in page


def test_a_new_link_from_the_page_closes_the_old_window_after_the_commit(app, client,
                                                                          session, clerk,
                                                                          room):
    seat, token = book(session, clerk, room)
    guest = guest_socket(app, token)
    guest.emit("hello", {"device": "p", "last_event_id": 0}, namespace=NAMESPACE,
               callback=True)
    login(client, clerk)
    response = client.post(f"/video/seats/{seat.id}/link")
    assert response.status_code == 200
    closed = [p["args"][0] for p in guest.queue
              if p["namespace"] == NAMESPACE and p["name"] == "seat_closed"]
    assert closed and closed[-1]["reason"] == "expired"
    assert not guest.is_connected(NAMESPACE)
    session.refresh(seat)
    assert seat.token_hash != ops.token_hash(token)


def test_cancelling_from_the_page_tells_the_guest_once_committed(app, client, session,
                                                                 clerk, room):
    seat, token = book(session, clerk, room)
    guest = guest_socket(app, token)
    guest.emit("hello", {"device": "p", "last_event_id": 0}, namespace=NAMESPACE,
               callback=True)
    login(client, clerk)
    assert client.post(f"/video/seats/{seat.id}/cancel").status_code == 303
    session.refresh(seat)
    assert seat.state == SeatState.CANCELLED
    closed = [p["args"][0] for p in guest.queue
              if p["namespace"] == NAMESPACE and p["name"] == "seat_closed"]
    assert closed and closed[-1]["reason"] == "cancelled"


def test_a_booking_with_a_phone_that_is_no_number_is_refused_on_the_field(client, session,
                                                                         clerk, room):
    login(client, clerk)
    response = client.post(f"/video/rooms/{room.id}/book", data={
        "name": "李大爷", "phone": "abc", "slot": "", "idempotency_key": "p1"})
    text = response.get_data(as_text=True)
    assert response.status_code == 400 and "made of digits" in text
    assert session.scalar(select(Seat).where(Seat.display_name == "李大爷")) is None
    typed = client.post(f"/video/rooms/{room.id}/book", data={
        "name": "李大爷", "phone": "139 1234 5678", "slot": "", "idempotency_key": "p2"})
    assert typed.status_code == 200
    seat = session.scalar(select(Seat).where(Seat.display_name == "李大爷"))
    assert seat.phone == "13912345678"


def test_opening_the_host_page_changes_nothing_until_the_official_opens_the_room(
        client, session, clerk, room):
    """A GET (a prefetched link, a reload) neither seats the official nor starts the
    reception; the button on the page does, by POST."""
    from video.models import RoomStatus

    login(client, clerk)
    room.status = RoomStatus.SCHEDULED
    session.commit()
    page = client.get(f"/video/rooms/{room.id}/host")
    assert page.status_code == 200 and f'action="/video/rooms/{room.id}/host"' in \
        page.get_data(as_text=True)
    session.refresh(room)
    assert room.status == RoomStatus.SCHEDULED
    assert ops.existing_staff_seat(session, clerk, room) is None
    opened = client.post(f"/video/rooms/{room.id}/host")
    assert opened.status_code == 303 and opened.headers["Location"].endswith("/host")
    session.refresh(room)
    assert room.status == RoomStatus.LIVE
    assert ops.existing_staff_seat(session, clerk, room) is not None
    call = client.get(f"/video/rooms/{room.id}/host").get_data(as_text=True)
    assert 'id="video-room"' in call


def test_a_reception_in_the_past_and_a_past_slot_are_refused(client, session, clerk, office,
                                                             room):
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    import pytest

    from portal.errors import DomainError
    from portal.timeutil import utcnow
    from video.models import Room

    login(client, clerk)
    yesterday = (utcnow() - timedelta(days=1)).astimezone(ZoneInfo("Asia/Shanghai"))
    before = session.scalar(select(func.count()).select_from(Room))
    response = client.post("/video/new", data={
        "kind": "appointment", "title": "昨天的接访", "office_id": office.id, "host_id": 0,
        "day": yesterday.date().isoformat(), "starts": "09:00", "ends": "11:00",
        "slot_minutes": 20})
    assert response.status_code in (400, 422)
    assert "already be over" in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Room)) == before
    # the room began ten minutes ago: its first slot has passed and is not offered
    first_slot = room.starts_at
    with pytest.raises(DomainError, match="That time has passed"):
        ops.book_seat(session, clerk, room, name="迟到者", slot_at=first_slot)
    assert first_slot not in ops.free_slots(room)
