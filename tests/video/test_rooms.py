"""Reception rooms through the pages and the real signalling namespace (Socket.IO test
clients): schedule, book, the join link, the lobby, admission, one seat per person,
reconnects, removal, logout, the reception note into the case file."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from portal.auth.roles import Role
from portal.casefiles.models import Case, CaseEvent, Channel
from portal.extensions import socketio
from portal.timeutil import utcnow
from tests.fixtures.core import login, wait_until
from tests.fixtures.video import (
    book,
    events,
    guest_socket,
    hello,
    in_call,
    recorded_call,
    staff_socket,
)
from video import operations as ops
from video.events import NAMESPACE
from video.models import NoteStatus, ReceptionNote, Room, Seat, SeatState

# --- pages ---------------------------------------------------------------------------------

def test_clerk_schedules_books_and_gets_a_link(client, session, clerk, office):
    from zoneinfo import ZoneInfo

    login(client, clerk)
    tomorrow = (utcnow() + timedelta(days=1)).astimezone(ZoneInfo("Asia/Shanghai")).date()
    response = client.post("/video/new", data={
        "kind": "leader_day", "title": "县长接待日", "office_id": office.id, "host_id": 0,
        "day": tomorrow.isoformat(), "starts": "09:00", "ends": "11:00", "slot_minutes": 30})
    assert response.status_code == 303
    room = session.scalar(select(Room).where(Room.title == "县长接待日"))
    assert room is not None and len(ops.slots(room)) == 4
    page = client.get(f"/video/rooms/{room.id}")
    assert page.status_code == 200 and "09:30" in page.get_data(as_text=True)
    slot = ops.slots(room)[1].starts_at.isoformat()
    response = client.post(f"/video/rooms/{room.id}/book", data={
        "name": "李大爷", "phone": "13800001234", "slot": slot, "idempotency_key": "k1"})
    text = response.get_data(as_text=True)
    assert response.status_code == 200, text
    url = re.search(r'id="join-url" href="([^"]+)"', text)
    assert url and "/join/" in url.group(1)
    assert "<svg" in text  # the QR code to print
    assert "李大爷" in text and "13800001234" in text  # the SMS text for the clerk
    # a double submit books once
    again = client.post(f"/video/rooms/{room.id}/book", data={
        "name": "李大爷", "phone": "13800001234", "slot": slot, "idempotency_key": "k1"})
    assert again.status_code == 303
    assert len(session.scalars(select(Seat).where(Seat.room_id == room.id,
                                                  Seat.display_name == "李大爷")).all()) == 1
    # the same slot cannot be booked twice
    taken = client.post(f"/video/rooms/{room.id}/book", data={
        "name": "张三", "slot": slot, "idempotency_key": "k2"})
    assert taken.status_code == 400 and "Not a valid choice" in taken.get_data(as_text=True)
    assert session.scalar(select(Seat).where(Seat.display_name == "张三")) is None


def test_bad_booking_changes_nothing(client, session, clerk, room):
    login(client, clerk)
    response = client.post(f"/video/rooms/{room.id}/book", data={
        "name": "", "idempotency_key": "k3"})
    assert response.status_code == 400
    assert [s for s in room.seats if s.kind != "staff"] == []


def test_join_link_opens_the_device_check_without_an_account(app, session, clerk, room):
    _seat, token = book(session, clerk, room)
    guest = app.test_client()
    page = guest.get(f"/join/{token}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "recorded" in text.lower()
    # the call page needs consent first
    assert guest.get(f"/join/{token}/room").status_code == 303
    consent = guest.post(f"/join/{token}/consent")
    assert consent.status_code == 303 and consent.location.endswith(f"/join/{token}/room")
    assert guest.get(f"/join/{token}/room").status_code == 200
    assert guest.get("/join/ping").status_code == 204


def test_expired_unknown_and_ended_links_get_a_clear_page(app, session, clerk, room):
    seat, token = book(session, clerk, room)
    guest = app.test_client()
    unknown = guest.get("/join/" + "a" * 32)
    assert unknown.status_code == 404 and "not valid" in unknown.get_data(as_text=True)
    seat.token_expires_at = utcnow() - timedelta(minutes=1)
    session.commit()
    expired = guest.get(f"/join/{token}")
    assert expired.status_code == 410 and "expired" in expired.get_data(as_text=True)
    seat.token_expires_at = utcnow() + timedelta(hours=1)
    ops.end_room(session, clerk, room)
    session.commit()
    ended = guest.get(f"/join/{token}")
    assert ended.status_code == 410 and "ended" in ended.get_data(as_text=True)


def test_a_link_for_one_room_does_not_open_another(app, client, session, clerk, office, room):
    other = ops.create_room(session, clerk, kind="appointment", title="法院约访",
                            office_id=office.id, starts_at=room.starts_at,
                            ends_at=room.ends_at)
    seat, token = book(session, clerk, room)
    sock = guest_socket(app, token)
    ack = hello(sock)
    assert ack["ok"] and ack["room"]["id"] == room.id != other.id
    # a guest cannot pose as staff of the other room
    anonymous = socketio.test_client(app, namespace=NAMESPACE, auth={"room": other.id},
                                     flask_test_client=app.test_client())
    assert not anonymous.is_connected(NAMESPACE)
    # an official of another office cannot host it
    stranger_office = office.__class__(name="别的局", kind="agency")
    session.add(stranger_office)
    session.flush()
    sock.disconnect(NAMESPACE)


def test_other_office_cannot_see_or_host_a_room(app, client, session, room, make_user,
                                                make_org):
    elsewhere = make_org("乡信访办", kind="agency")
    outsider = make_user(Role.CLERK, organisations=[elsewhere])
    login(client, outsider)
    assert client.get(f"/video/rooms/{room.id}").status_code == 404
    assert client.get(f"/video/rooms/{room.id}/host").status_code == 404
    sock = staff_socket(app, client, room)
    assert not sock.is_connected(NAMESPACE)


# --- lobby and admission -----------------------------------------------------------------------

def test_lobby_admission_in_order_with_positions(app, client, session, clerk, room):
    first, t1 = book(session, clerk, room, name="王秀英")
    second, t2 = book(session, clerk, room, name="刘建国")
    login(client, clerk)
    staff = staff_socket(app, client, room)
    assert staff.is_connected(NAMESPACE)
    staff_ack = hello(staff, device="staff-1")
    assert staff_ack["seat"]["is_staff"] and staff_ack["position"] is None

    g1, g2 = guest_socket(app, t1), guest_socket(app, t2)
    a1 = hello(g1, device="p1")
    a2 = hello(g2, device="p2")
    # waiting from the moment they arrive: no button to press
    assert a1["seat"]["state"] == "waiting" and a1["position"] == 1
    assert a2["position"] == 2
    assert a1["ice_servers"] == [] and a1["peers"] == []
    lobby = events(staff, "lobby")[-1]["data"]["waiting"]
    assert [w["name"] for w in lobby] == ["王秀英", "刘建国"]
    assert all(w["online"] for w in lobby)

    # a waiting person can neither signal nor publish media
    refused = g1.emit("signal", {"to": staff_ack["seat"]["id"], "kind": "offer", "data": {}},
                      namespace=NAMESPACE, callback=True)
    assert refused["ok"] is False
    assert g1.emit("media_offer", {"sdp": "v=0\r\n"}, namespace=NAMESPACE,
                   callback=True)["ok"] is False
    # and nobody can send a media offer to a waiting seat
    staff_signal = staff.emit("signal", {"to": first.id, "kind": "offer", "data": {"sdp": "x"}},
                              namespace=NAMESPACE, callback=True)
    assert staff_signal["ok"] is False
    assert events(g1, "signal") == []

    ack = staff.emit("admit", {"seat_id": first.id}, namespace=NAMESPACE, callback=True)
    assert ack == {"ok": True, "admitted": [first.id]}
    admitted = events(g1, "admitted")
    assert admitted and admitted[-1]["data"]["peers"] == [staff_ack["seat"]["id"]]
    assert admitted[-1]["id"] > 0
    # the second one moves up
    assert events(g2, "position")[-1]["data"]["position"] == 1
    # now signalling works both ways, and only to the addressed seat
    ok = g1.emit("signal", {"to": staff_ack["seat"]["id"], "kind": "offer",
                            "data": {"sdp": "v=0"}}, namespace=NAMESPACE, callback=True)
    assert ok["ok"] is True
    got = events(staff, "signal")
    assert got == [{"from": first.id, "kind": "offer", "data": {"sdp": "v=0"}}]
    assert events(g2, "signal") == []
    for sock in (g1, g2, staff):
        sock.disconnect(NAMESPACE)


def test_admitting_a_petitioner_brings_their_waiting_companion(app, client, session, clerk,
                                                                room):
    seat, token = book(session, clerk, room)
    companion, ctoken = ops.add_companion(session, clerk, seat, name="翻译小李",
                                          kind="interpreter")
    session.commit()
    login(client, clerk)
    staff = staff_socket(app, client, room)
    hello(staff, "s")
    g, c = guest_socket(app, token), guest_socket(app, ctoken)
    hello(g, "p")
    hello(c, "c")
    ack = staff.emit("admit", {"seat_id": seat.id}, namespace=NAMESPACE, callback=True)
    assert sorted(ack["admitted"]) == sorted([seat.id, companion.id])
    assert events(c, "admitted")


def test_second_device_takes_the_seat_and_the_first_is_told_why(app, session, clerk, room):
    _seat, token = book(session, clerk, room)
    laptop = guest_socket(app, token)
    hello(laptop, device="laptop")
    phone = guest_socket(app, token)
    ack = hello(phone, device="phone")
    assert ack["ok"] and ack["position"] == 1  # the place in the queue is kept
    closed = events(laptop, "seat_closed")
    assert closed and closed[0]["reason"] == "opened_elsewhere"
    assert "another device" in closed[0]["message"]
    assert not laptop.is_connected(NAMESPACE)
    assert phone.is_connected(NAMESPACE)
    assert events(phone, "seat_closed") == []


def test_reconnect_returns_to_the_room_and_replays_missed_events(app, client, session, clerk,
                                                                  room):
    seat, token, staff, g = in_call(app, client, session, clerk, room)
    last = max(e["id"] for e in events(g) if e["id"])
    g.disconnect(NAMESPACE)
    staff.emit("chat", {"text": "您好，请稍等"}, namespace=NAMESPACE, callback=True)
    again = guest_socket(app, token)
    ack = hello(again, "p", last=last)
    assert ack["seat"]["state"] == "admitted"  # not back to the queue
    assert ack["position"] is None and ack["peers"]
    assert [e["data"]["text"] for e in ack["events"] if e["kind"] == "chat"] == ["您好，请稍等"]
    assert all(e["id"] > last for e in ack["events"])


def test_waiting_people_do_not_get_the_room_chat(app, client, session, clerk, room):
    _seat, token = book(session, clerk, room)
    login(client, clerk)
    staff = staff_socket(app, client, room)
    hello(staff, "s")
    g = guest_socket(app, token)
    hello(g, "p")
    staff.emit("chat", {"text": "内部消息"}, namespace=NAMESPACE, callback=True)
    staff.emit("lobby_message", {"text": "大约十分钟"}, namespace=NAMESPACE, callback=True)
    assert events(g, "chat") == []
    assert events(g, "lobby_message")[-1]["data"]["text"] == "大约十分钟"
    assert g.emit("chat", {"text": "hi"}, namespace=NAMESPACE, callback=True)["ok"] is False


def test_guest_cannot_use_staff_events(app, client, session, clerk, room):
    seat, token = book(session, clerk, room)
    other, _t = book(session, clerk, room, name="刘建国")
    g = guest_socket(app, token)
    hello(g, "p")
    for name in ("admit", "deny", "remove", "mute", "record", "end", "lobby_message"):
        ack = g.emit(name, {"seat_id": other.id, "on": True, "text": "x"},
                     namespace=NAMESPACE, callback=True)
        assert ack["ok"] is False, name
    session.refresh(other)
    assert other.state == SeatState.BOOKED
    assert session.get(Room, room.id).status != "ended"


def test_removed_guest_is_disconnected_and_the_link_stops(app, client, session, clerk, room):
    seat, token, staff, g = in_call(app, client, session, clerk, room)
    ack = staff.emit("remove", {"seat_id": seat.id}, namespace=NAMESPACE, callback=True)
    assert ack["ok"]
    assert events(g, "removed")
    assert not g.is_connected(NAMESPACE)
    assert app.test_client().get(f"/join/{token}").status_code == 404
    assert not guest_socket(app, token).is_connected(NAMESPACE)


def test_logged_out_official_is_disconnected(app, client, session, clerk, room):
    login(client, clerk)
    staff = staff_socket(app, client, room)
    hello(staff, "s")
    client.post("/logout")
    closed = events(staff, "seat_closed")
    assert closed and closed[-1]["reason"] == "logged_out"
    assert not staff.is_connected(NAMESPACE)


def test_end_for_all_closes_every_connection(app, client, session, clerk, room):
    seat, token, staff, g = in_call(app, client, session, clerk, room)
    assert staff.emit("end", {}, namespace=NAMESPACE, callback=True)["ok"]
    assert events(g, "ended")
    assert not g.is_connected(NAMESPACE)
    assert app.test_client().get(f"/join/{token}").status_code == 410


def test_the_official_hears_the_end_acknowledged_before_the_connection_closes(
        app, client, session, clerk, room, monkeypatch):
    from socketio import packet

    seat, token, staff, guest = in_call(app, client, session, clerk, room)
    sent: list[tuple[str, int, str]] = []
    deliver = socketio.server._send_packet

    def record(eio_sid, pkt):
        sent.append((eio_sid, pkt.packet_type, pkt.namespace))
        return deliver(eio_sid, pkt)

    monkeypatch.setattr(socketio.server, "_send_packet", record)
    assert staff.emit("end", {}, namespace=NAMESPACE, callback=True) == {"ok": True}
    # the others are told and closed at once
    assert events(guest, "ended") and not guest.is_connected(NAMESPACE)
    # the official's own connection closes too, after the ack went out
    wait_until(lambda: not staff.is_connected(NAMESPACE), what="the official's socket to close")
    mine = [kind for eio_sid, kind, ns in sent if eio_sid == staff.eio_sid and ns == NAMESPACE]
    assert packet.ACK in mine and packet.DISCONNECT in mine
    assert mine.index(packet.ACK) < mine.index(packet.DISCONNECT), mine
    assert events(staff, "ended")


def test_recording_needs_consent_first(app, client, session, clerk, room):
    seat, token, staff, g = in_call(app, client, session, clerk, room)
    ack = staff.emit("record", {"on": True}, namespace=NAMESPACE, callback=True)
    assert ack["ok"] is False and "consent" in ack["error"]
    assert session.get(Room, room.id).is_recording is False


# --- the reception note ------------------------------------------------------------------------

def test_note_confirmed_on_the_petitioners_screen_opens_a_case(app, client, session, clerk,
                                                                room):
    seat, token, staff, g = in_call(app, client, session, clerk, room, phone="13900001111")
    prefix = f"n{seat.id}-"
    response = client.post(f"/video/seats/{seat.id}/note", data={
        prefix + "facts": "工资被拖欠八个月", prefix + "demands": "要求支付工资",
        prefix + "answer": "转县人社局处理", prefix + "next_steps": "十五日内答复",
        prefix + "version": "", "action": "show"})
    assert response.status_code == 200, response.get_data(as_text=True)
    shown = events(g, "note")
    assert shown and shown[-1]["data"]["demands"] == "要求支付工资"
    ack = g.emit("note_reply", {"note_id": shown[-1]["data"]["note_id"], "confirm": True},
                 namespace=NAMESPACE, callback=True)
    assert ack["ok"], ack
    note = session.scalar(select(ReceptionNote).where(ReceptionNote.seat_id == seat.id))
    session.refresh(note)
    assert note.status == NoteStatus.CONFIRMED and note.filed_at is not None
    session.refresh(seat)
    case = session.get(Case, seat.case_id)
    assert case is not None and case.channel == Channel.VIDEO
    kinds = [e.kind for e in session.scalars(select(CaseEvent).where(
        CaseEvent.case_id == case.id))]
    assert "reception.note" in kinds


def test_note_refused_is_noted_and_stale_save_keeps_the_text(app, client, session, clerk,
                                                              room):
    seat, token, staff, g = in_call(app, client, session, clerk, room)
    prefix = f"n{seat.id}-"
    client.post(f"/video/seats/{seat.id}/note", data={prefix + "facts": "第一稿",
                                                       prefix + "version": ""})
    stale = client.post(f"/video/seats/{seat.id}/note", data={
        prefix + "facts": "我的修改", prefix + "version": "0"})
    assert stale.status_code == 409 and "我的修改" in stale.get_data(as_text=True)
    client.post(f"/video/seats/{seat.id}/note", data={
        prefix + "facts": "第二稿", prefix + "version": "1", "action": "show"})
    note_id = events(g, "note")[-1]["data"]["note_id"]
    g.emit("note_reply", {"note_id": note_id, "confirm": False, "reason": "答复不对"},
           namespace=NAMESPACE, callback=True)
    note = session.get(ReceptionNote, note_id)
    session.refresh(note)
    assert note.status == NoteStatus.REFUSED and note.refusal_reason == "答复不对"
    # the guest cannot answer a note that is not theirs or twice
    assert g.emit("note_reply", {"note_id": note_id, "confirm": True}, namespace=NAMESPACE,
                  callback=True)["ok"] is False


def test_positions_are_batched_but_admission_is_told_at_once(app, client, session, clerk,
                                                             room):
    app.config["VIDEO_POSITION_DELAY_S"] = 0.3
    seats = [book(session, clerk, room, name=f"来访人{i}") for i in range(3)]
    login(client, clerk)
    staff = staff_socket(app, client, room)
    hello(staff, "s")
    guests = [guest_socket(app, token) for _seat, token in seats]
    for n, sock in enumerate(guests):
        assert hello(sock, f"p{n}")["position"] == n + 1
    staff.emit("admit", {"seat_id": seats[0][0].id}, namespace=NAMESPACE, callback=True)
    staff.emit("deny", {"seat_id": seats[1][0].id}, namespace=NAMESPACE, callback=True)
    assert events(guests[0], "admitted")  # at once
    assert events(guests[2], "position") == []  # not yet: batched
    wait_until(lambda: events(guests[2], "position"), 5, "the batched position")
    # one message with the latest position, not one per step
    assert [e["data"]["position"] for e in events(guests[2], "position")] == [1]


def test_a_petitioner_never_gets_an_earlier_petitioners_chat(app, client, session, clerk,
                                                             room):
    first, t1 = book(session, clerk, room, name="王秀英")
    second, t2 = book(session, clerk, room, name="刘建国")
    login(client, clerk)
    staff = staff_socket(app, client, room)
    hello(staff, "s")
    g1 = guest_socket(app, t1)
    hello(g1, "p1")
    staff.emit("admit", {"seat_id": first.id}, namespace=NAMESPACE, callback=True)
    g1.emit("chat", {"text": "甲的私事"}, namespace=NAMESPACE, callback=True)
    staff.emit("finish", {"seat_id": first.id}, namespace=NAMESPACE, callback=True)
    g2 = guest_socket(app, t2)
    hello(g2, "p2")
    staff.emit("admit", {"seat_id": second.id}, namespace=NAMESPACE, callback=True)
    g2.emit("chat", {"text": "乙的事"}, namespace=NAMESPACE, callback=True)
    # the second petitioner opens the link on another device, claiming to have seen nothing
    phone = guest_socket(app, t2)
    ack = hello(phone, "p2-phone", last=0)
    chats = [e["data"]["text"] for e in ack["events"] if e["kind"] == "chat"]
    assert chats == ["乙的事"]


def test_every_connection_of_a_closed_seat_is_dropped(app, client, session, clerk, room):
    seat, token = book(session, clerk, room)
    login(client, clerk)
    staff = staff_socket(app, client, room)
    hello(staff, "s")
    g = guest_socket(app, token)
    hello(g, "p")
    silent = guest_socket(app, token)  # connected, never said hello
    staff.emit("admit", {"seat_id": seat.id}, namespace=NAMESPACE, callback=True)
    staff.emit("finish", {"seat_id": seat.id}, namespace=NAMESPACE, callback=True)
    assert not g.is_connected(NAMESPACE)
    assert not silent.is_connected(NAMESPACE)


def test_a_new_link_closes_a_window_on_the_old_one(app, client, session, clerk, room):
    seat, token = book(session, clerk, room)
    g = guest_socket(app, token)
    hello(g, "p")
    ops.reissue_link(session, clerk, seat)
    session.commit()
    ack = g.emit("chat", {"text": "x"}, namespace=NAMESPACE, callback=True)
    assert ack["ok"] is False
    assert events(g, "seat_closed")[-1]["reason"] == "expired"
    assert not g.is_connected(NAMESPACE)


def test_a_note_created_meanwhile_is_not_overwritten(app, client, session, clerk, room):
    seat, token, staff, g = in_call(app, client, session, clerk, room)
    prefix = f"n{seat.id}-"
    # two officials opened the panel before any note existed (no version)
    first = client.post(f"/video/seats/{seat.id}/note", data={
        prefix + "facts": "甲写的", prefix + "version": ""})
    assert first.status_code == 200
    second = client.post(f"/video/seats/{seat.id}/note", data={
        prefix + "facts": "乙写的", prefix + "version": ""})
    assert second.status_code == 409 and "乙写的" in second.get_data(as_text=True)
    note = session.scalar(select(ReceptionNote).where(ReceptionNote.seat_id == seat.id))
    session.refresh(note)
    assert note.facts == "甲写的"


def test_a_recording_belongs_to_its_petitioner_and_stops_when_they_leave(
        app, client, session, clerk, room, monkeypatch):
    from video.models import Recording, RecordingStatus

    seat, staff, g, recording_id = recorded_call(app, client, session, clerk, room,
                                                 monkeypatch)
    started = {"recording_id": recording_id}
    # a second start (another official, a double click) is refused
    again = staff.emit("record", {"on": True}, namespace=NAMESPACE, callback=True)
    assert again["ok"] is False
    staff.emit("finish", {"seat_id": seat.id}, namespace=NAMESPACE, callback=True)
    recording = session.get(Recording, started["recording_id"])
    session.refresh(recording)
    assert recording.seat_id == seat.id
    assert recording.status == RecordingStatus.PROCESSING and recording.stopped_at
    assert session.get(Room, room.id).is_recording is False


def test_a_walk_in_is_told_to_open_the_link_now(client, session, clerk, room):
    login(client, clerk)
    response = client.post(f"/video/rooms/{room.id}/book", data={
        "name": "陈桂兰", "phone": "13800009999", "slot": "", "language": "en",
        "idempotency_key": "walk"})
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "open this link on your phone now" in text and "queue" in text


def test_the_join_link_goes_by_sms_in_the_guests_language(client, session, clerk, room):
    """The clerk's pages are in English here; the petitioner reads Chinese: the SMS queued
    in the outbox (and the text to copy) is in Chinese, with the provider's parameters."""
    import json

    from portal.notify.models import Channel, OutboxMessage

    login(client, clerk)
    response = client.post(f"/video/rooms/{room.id}/book", data={
        "name": "陈桂兰", "phone": "138 0000 9999", "slot": "", "language": "zh_CN",
        "idempotency_key": "sms-zh"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "No SMS provider is configured" in page  # the test app has none
    sms = session.scalar(select(OutboxMessage).where(OutboxMessage.channel == Channel.SMS))
    assert sms is not None and sms.to_address == "13800009999"
    assert "请现在用手机打开此链接" in sms.body and sms.body in page
    payload = json.loads(sms.payload)
    assert payload["locale"] == "zh_CN" and payload["params"]["name"] == "陈桂兰"
    assert "/join/" in payload["params"]["url"]
    # a new link goes out again
    seat = session.scalar(select(Seat).where(Seat.display_name == "陈桂兰"))
    client.post(f"/video/seats/{seat.id}/link")
    assert session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.channel == Channel.SMS)) == 2
