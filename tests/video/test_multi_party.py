"""Multi-party rooms through the real signalling namespace (Socket.IO test clients) and the
pages: several people in at once, watch-only seats that only receive, private rooms that
only their named seats enter, recordings filed to the room's case."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from sqlalchemy import func, select

from portal.auth.roles import Role
from portal.casefiles.models import Document
from portal.timeutil import utcnow
from tests.fixtures.browser import CHROMIUM, MISSING_BROWSER
from tests.fixtures.casefiles import new_case
from tests.fixtures.core import PASSWORD, client_for, login, wait_until, wait_until_async
from tests.fixtures.video import (
    SyntheticPeer,
    events,
    frames_written,
    guest_socket,
    hello,
    recorded,
    served_nodes,
    sound_packets_sent,
    synthetic_peer,
)
from tests.fixtures.video import staff_socket as _staff_socket
from video import operations as ops
from video.engines import get_engine
from video.events import NAMESPACE, sends_media
from video.models import Recording, Room, RoomEvent, Seat, SeatKind, SeatState

#: what a browser offers that sends and receives, and what a watcher offers
SENDING_SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
               "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=sendrecv\r\n"
               "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=recvonly\r\n")
RECEIVING_SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
                 "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=recvonly\r\n"
                 "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=recvonly\r\n")


def _fresh(app, make):
    """A socket whose connect and events each run in an app context of their own, as on a
    server: in the test's own context `g` would keep the first official's login for
    every other account's socket."""
    with app.app_context():
        sock = make()
    for name in ("emit", "disconnect"):
        method = getattr(sock, name)

        def fresh(*args, _method=method, **kwargs):
            with app.app_context():
                return _method(*args, **kwargs)

        setattr(sock, name, fresh)
    return sock


def staff_socket(app, client, room):
    return _fresh(app, lambda: _staff_socket(app, client, room))


@pytest.fixture()
def host(make_user, office):
    """The leader who hosts (a hearing's presiding officer)."""
    return make_user(Role.LEADER, organisations=[office])


def _room(session, clerk, office, host, private: bool = False) -> Room:
    now = utcnow()
    room = ops.create_multi_party_room(
        session, clerk, title="听证会（视频）", office_id=office.id,
        starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(hours=3),
        host_id=host.id, private=private)
    session.commit()
    return room


def _seat(session, clerk, room, name, **kw) -> tuple[Seat, Any]:
    seat, token = ops.add_seat(session, clerk, room, name=name, **kw)
    ops.pending_events(session)
    session.commit()
    return seat, token


def _names(sock) -> set[str]:
    return {s["name"] for s in events(sock, "participants")[-1]["data"]["seats"]}


def _emit(sock, name, data):
    return sock.emit(name, data, namespace=NAMESPACE, callback=True)


def test_several_are_admitted_at_once_and_all_see_each_other(app, session, clerk, office,
                                                             host, make_user):
    room = _room(session, clerk, office, host)
    deputy = make_user(Role.DEPUTY, display_name="人大代表甲")
    _seat(session, clerk, room, "人大代表甲", user_id=deputy.id)
    guests = [_seat(session, clerk, room, name) for name in ("听证员乙", "信访人丙")]
    late, late_token = _seat(session, clerk, room, "承办单位丁", admit_on_arrival=False)
    host_sock = staff_socket(app, client_for(app, host), room)
    host_ack = hello(host_sock, "h")
    assert host_ack["seat"]["is_staff"] and host_ack["room"]["multi_party"]

    # seats marked "admit on arrival" go straight in: nobody holds them one at a time
    socks = []
    for seat, token in guests:
        sock = guest_socket(app, token)
        ack = hello(sock, f"g{seat.id}")
        assert ack["seat"]["state"] == "admitted" and ack["position"] is None
        assert host_ack["seat"]["id"] in ack["peers"]
        socks.append(sock)
    # the panel member with an account is in on their own seat, without hosting
    deputy_sock = staff_socket(app, client_for(app, deputy), room)
    deputy_ack = hello(deputy_sock, "d")
    assert deputy_ack["seat"]["name"] == "人大代表甲" and deputy_ack["seat"]["state"] == "admitted"
    refused = _emit(deputy_sock, "admit_all", {})
    assert refused["ok"] is False and "official" in refused["error"]
    assert events(deputy_sock, "lobby") == []  # the waiting list is the host's

    late_sock = guest_socket(app, late_token)
    assert hello(late_sock, "late")["seat"]["state"] == "waiting"
    assert [w["name"] for w in events(host_sock, "lobby")[-1]["data"]["waiting"]] == ["承办单位丁"]
    ack = _emit(host_sock, "admit_all", {})
    assert ack == {"ok": True, "admitted": [late.id]}
    assert events(late_sock, "admitted")[-1]["data"]["peers"]

    everyone = {host.display_name, "人大代表甲", "听证员乙", "信访人丙", "承办单位丁"}
    for sock in (host_sock, deputy_sock, late_sock, *socks):
        assert _names(sock) == everyone
    # chat reaches everyone in the room
    assert _emit(socks[0], "chat", {"text": "各位好"})["ok"] is True
    for sock in (host_sock, deputy_sock, late_sock):
        assert events(sock, "chat")[-1]["data"]["text"] == "各位好"
    for sock in (host_sock, deputy_sock, late_sock, *socks):
        sock.disconnect(NAMESPACE)


def test_admit_all_is_refused_in_a_reception_day(app, client, session, clerk, room):
    seat, token = ops.book_seat(session, clerk, room, name="王秀英")
    session.commit()
    login(client, clerk)
    staff = staff_socket(app, client, room)
    hello(staff, "s")
    g = guest_socket(app, token)
    hello(g, "p")
    ack = _emit(staff, "admit_all", {})
    assert ack["ok"] is False and "one at a time" in ack["error"]
    session.refresh(seat)
    assert seat.state == SeatState.WAITING


def test_a_watch_only_seat_receives_and_never_sends(app, session, clerk, office, host):
    room = _room(session, clerk, office, host)
    speaker, speaker_token = _seat(session, clerk, room, "信访人丙")
    watcher, watcher_token = _seat(session, clerk, room, "旁听甲", watch_only=True)
    other, other_token = _seat(session, clerk, room, "旁听乙", watch_only=True)
    assert watcher.kind == SeatKind.OBSERVER
    host_sock = staff_socket(app, client_for(app, host), room)
    hello(host_sock, "h")
    s = guest_socket(app, speaker_token)
    hello(s, "s")
    o2 = guest_socket(app, other_token)
    hello(o2, "o2")
    w = guest_socket(app, watcher_token)
    ack = hello(w, "w")
    assert ack["seat"]["watch_only"] and ack["seat"]["state"] == "admitted"
    # it connects to those who send, never to another watcher
    assert set(ack["peers"]) == {host_sock_seat(session, room, host), speaker.id}
    seats = events(host_sock, "participants")[-1]["data"]["seats"]
    assert {x["name"]: x["watch_only"] for x in seats}["旁听甲"] is True
    # a watcher sees who speaks and how many watch, not the other watchers' names
    seen = events(w, "participants")[-1]["data"]
    assert {x["name"] for x in seen["seats"]} == {host.display_name, "信访人丙"}
    assert seen["watchers"] == 2
    # nor the room's chat, live or replayed (the watcher's window reloaded)
    assert _emit(s, "chat", {"text": "请主持人注意"})["ok"] is True
    assert events(host_sock, "chat") and events(w, "chat") == []
    w = guest_socket(app, watcher_token)
    assert all(e["kind"] != "chat" for e in hello(w, "w")["events"])

    chats_before = _count_chat(session, room)
    refused = _emit(w, "chat", {"text": "我有话说"})
    assert refused["ok"] is False and "Observers" in refused["error"]
    assert _count_chat(session, room) == chats_before
    # an offer that would send sound is refused; one that only receives goes through
    refused = _emit(w, "signal", {"to": speaker.id, "kind": "offer",
                                  "data": {"pcid": "a", "sdp": SENDING_SDP}})
    assert refused["ok"] is False and "receives" in refused["error"]
    assert _emit(w, "signal", {"to": speaker.id, "kind": "offer",
                               "data": {"pcid": "b", "sdp": 42}})["ok"] is False
    assert events(s, "signal") == []
    ok = _emit(w, "signal", {"to": speaker.id, "kind": "offer",
                             "data": {"pcid": "c", "sdp": RECEIVING_SDP}})
    assert ok["ok"] is True
    assert [m["data"]["pcid"] for m in events(s, "signal")] == ["c"]
    # a sender's offer to the watcher is answered, receiving only
    assert _emit(s, "signal", {"to": watcher.id, "kind": "offer",
                               "data": {"pcid": "d", "sdp": SENDING_SDP}})["ok"] is True
    assert _emit(w, "signal", {"to": speaker.id, "kind": "answer",
                               "data": {"pcid": "d", "sdp": SENDING_SDP}})["ok"] is False
    assert _emit(w, "signal", {"to": speaker.id, "kind": "answer",
                               "data": {"pcid": "d", "sdp": RECEIVING_SDP}})["ok"] is True
    # candidates to a sender pass; nothing at all to another watcher
    assert _emit(w, "signal", {"to": speaker.id, "kind": "candidate",
                               "data": {"pcid": "c", "candidate": {}}})["ok"] is True
    assert _emit(w, "signal", {"to": other.id, "kind": "offer",
                               "data": {"pcid": "e", "sdp": RECEIVING_SDP}})["ok"] is False
    assert events(o2, "signal") == []
    # publishing or sending to the recorder is sending
    refused = _emit(w, "media_offer", {"sdp": RECEIVING_SDP})
    assert refused["ok"] is False and "receives" in refused["error"]
    # still in the room: a refusal closes nothing
    session.expire_all()
    assert session.get(Seat, watcher.id).state == SeatState.ADMITTED
    assert w.is_connected(NAMESPACE)
    for sock in (host_sock, s, o2, w):
        sock.disconnect(NAMESPACE)


def host_sock_seat(session, room, host) -> int:
    seat = ops.existing_staff_seat(session, host, room)
    assert seat is not None
    return seat.id


def _count_chat(session, room) -> int:
    return session.scalar(select(func.count()).select_from(RoomEvent).where(
        RoomEvent.room_id == room.id, RoomEvent.kind == "chat"))


def test_sends_media_reads_each_section():
    assert sends_media(SENDING_SDP)
    assert not sends_media(RECEIVING_SDP)
    # no direction line means sendrecv; a rejected section (port 0) sends nothing
    assert sends_media("v=0\r\nm=audio 9 RTP/AVP 0\r\na=mid:0\r\n")
    assert not sends_media("v=0\r\nm=video 0 RTP/AVP 96\r\na=sendrecv\r\n")
    assert not sends_media("v=0\r\nm=application 9 DTLS/SCTP 5000\r\n")


def test_a_private_room_lets_in_only_its_named_seats(app, session, clerk, office, host,
                                                     make_user):
    room = _room(session, clerk, office, host, private=True)
    _seat(session, clerk, room, host.display_name, user_id=host.id)
    member, member_token = _seat(session, clerk, room, "听证员乙")
    admin = make_user(Role.ADMIN)
    supervisor = make_user(Role.SUPERVISOR, organisations=[office])
    other_leader = make_user(Role.LEADER, organisations=[office])
    seats_before = session.scalar(select(func.count()).select_from(Seat))

    for outsider in (admin, clerk, supervisor, other_leader):
        c = client_for(app, outsider)
        for url in (f"/video/rooms/{room.id}", f"/video/rooms/{room.id}/host",
                    f"/video/rooms/{room.id}/notes"):
            assert c.get(url).status_code in (403, 404), (outsider, url)
        assert c.post(f"/video/rooms/{room.id}/host").status_code in (403, 404)
        assert c.post(f"/video/rooms/{room.id}/book", data={"name": "x"}).status_code \
            in (403, 404)
        sock = staff_socket(app, c, room)
        assert not sock.is_connected(NAMESPACE), outsider
        assert room.id not in [r.id for r in ops.rooms_on(session, outsider, None,
                                                            upcoming=True)]
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Seat)) == seats_before
    assert session.get(Room, room.id).status == "scheduled"

    # the presiding officer hosts on their own seat (and finds the room in the schedule);
    # the panel member comes on the link
    assert room.id in [r.id for r in ops.rooms_on(session, host, None, upcoming=True)]
    host_client = client_for(app, host)
    page = host_client.get(f"/video/rooms/{room.id}/host")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "End the video for everyone" in text
    assert 'id="btn-admit-all"' in text and "note-panel" not in text
    h = staff_socket(app, host_client, room)
    assert hello(h, "h")["seat"]["is_staff"]
    m = guest_socket(app, member_token)
    assert hello(m, "m")["seat"]["state"] == "admitted"
    assert _emit(h, "admit_all", {}) == {"ok": True, "admitted": []}
    assert _names(h) == {host.display_name, "听证员乙"}
    for sock in (h, m):
        sock.disconnect(NAMESPACE)


def test_a_seat_cancelled_in_a_private_room_is_refused_at_once(app, session, clerk, office,
                                                               host, make_user):
    room = _room(session, clerk, office, host, private=True)
    expert = make_user(Role.EXPERT)
    seat, _t = _seat(session, clerk, room, "专家甲", user_id=expert.id)
    c = client_for(app, expert)
    sock = staff_socket(app, c, room)
    assert hello(sock, "e")["seat"]["id"] == seat.id
    seat.state = SeatState.CANCELLED  # the owning domain took the seat back
    session.commit()
    ack = _emit(sock, "chat", {"text": "还在吗"})
    assert ack["ok"] is False
    assert not staff_socket(app, c, room).is_connected(NAMESPACE)


def test_recording_a_multi_party_room_is_filed_to_its_case(app, session, clerk, office, host,
                                                          world, monkeypatch):
    from video import filing

    monkeypatch.setattr(filing, "spawn", lambda app, recording_id: None)
    case, _code = new_case(session, world)
    room = _room(session, clerk, office, host)
    a, a_token = _seat(session, clerk, room, "信访人丙", case_id=case.id)
    b, b_token = _seat(session, clerk, room, "旁听甲", case_id=case.id, watch_only=True)
    h = staff_socket(app, client_for(app, host), room)
    hello(h, "h")
    ga, gb = guest_socket(app, a_token), guest_socket(app, b_token)
    hello(ga, "a")
    hello(gb, "b")
    # consent is asked of everyone in, the watcher included
    refused = _emit(h, "record", {"on": True})
    assert refused["ok"] is False and "旁听甲" in refused["error"]
    for sock in (ga, gb):
        assert _emit(sock, "consent", {})["ok"] is True
    started = _emit(h, "record", {"on": True})
    assert started["ok"] is True
    recording = session.get(Recording, started["recording_id"])
    assert recording.case_id == case.id and recording.seat_id is None
    for sock in (ga, gb):
        assert events(sock, "recording")[-1]["data"]["on"] is True
    # someone arriving while it records waits until they have agreed, then is in
    c, c_token = _seat(session, clerk, room, "承办单位丁", case_id=case.id)
    gc = guest_socket(app, c_token)
    assert hello(gc, "c")["seat"]["state"] == "waiting"
    assert _emit(gc, "consent", {})["ok"] is True
    assert events(gc, "admitted")
    session.expire_all()
    assert session.get(Seat, c.id).state == SeatState.ADMITTED
    for sock in (h, ga, gb, gc):
        sock.disconnect(NAMESPACE)


def test_the_room_form_does_not_offer_the_multi_party_kind(client, session, clerk):
    login(client, clerk)
    page = client.get("/video/new").get_data(as_text=True)
    assert 'value="leader_day"' in page and 'value="multi_party"' not in page


def test_a_named_seat_needs_a_multi_party_room(session, clerk, room):
    with pytest.raises(Exception, match="multi-party"):
        ops.add_seat(session, clerk, room, name="某人")




# --- real media (aiortc peers signalled through the namespace) ------------------------------

@pytest.fixture()
def peer_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """The peers' own asyncio loop in a thread; the test's thread drives the (blocking)
    Socket.IO test clients."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def _run(loop: asyncio.AbstractEventLoop, coro: Any, timeout: float = 30) -> Any:
    return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)


async def _watcher_offer(pc: RTCPeerConnection) -> str:
    """What the room client does for a watch-only seat: receive-only transceivers."""
    pc.addTransceiver("audio", direction="recvonly")
    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    return str(pc.localDescription.sdp)


async def _sender_answer(peer: SyntheticPeer, offer: str) -> str:
    """A sender answers with its tracks on the transceivers the offer made."""
    await peer.pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
    for player in peer.players:
        for track in (player.audio, player.video):
            if track is not None:
                peer.pc.addTrack(track)
    await peer.pc.setLocalDescription(await peer.pc.createAnswer())
    return str(peer.pc.localDescription.sdp)


async def _received(pc: RTCPeerConnection, kind: str, frames: int) -> int:
    track = next(r.track for r in pc.getReceivers() if r.track and r.track.kind == kind)
    for _ in range(frames):
        await asyncio.wait_for(track.recv(), 10)
    return frames


@pytest.mark.media
def test_a_watcher_receives_a_senders_sound_and_picture_and_sends_none(
        app, session, clerk, office, host, loopback, peer_loop):
    room = _room(session, clerk, office, host)
    speaker, speaker_token = _seat(session, clerk, room, "信访人丙")
    watcher, watcher_token = _seat(session, clerk, room, "旁听甲", watch_only=True)
    s = guest_socket(app, speaker_token)
    hello(s, "s")
    w = guest_socket(app, watcher_token)
    assert hello(w, "w")["peers"] == [speaker.id]
    sender = _run(peer_loop, synthetic_peer(audio=True, video=True))
    # the sender's tracks go on the transceivers of the watcher's offer, not new ones
    _run(peer_loop, sender.pc.close())
    sender.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    receiver = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        offer = _run(peer_loop, _watcher_offer(receiver))
        assert not sends_media(offer)
        assert _emit(w, "signal", {"to": speaker.id, "kind": "offer",
                                   "data": {"pcid": "m1", "sdp": offer}})["ok"] is True
        relayed = events(s, "signal")[-1]
        assert relayed["from"] == watcher.id and relayed["data"]["sdp"] == offer
        answer = _run(peer_loop, _sender_answer(sender, relayed["data"]["sdp"]))
        assert _emit(s, "signal", {"to": watcher.id, "kind": "answer",
                                   "data": {"pcid": "m1", "sdp": answer}})["ok"] is True
        got = events(w, "signal")[-1]["data"]["sdp"]
        _run(peer_loop, receiver.setRemoteDescription(
            RTCSessionDescription(sdp=got, type="answer")))
        _run(peer_loop, wait_until_async(lambda: receiver.connectionState == "connected",
                                         20, "the watcher to connect"))
        # a second of sound and some pictures arrive; the watcher sends nothing back
        assert _run(peer_loop, _received(receiver, "audio", 50), 60) == 50
        assert _run(peer_loop, _received(receiver, "video", 10), 60) == 10
        assert all(sender_.track is None for sender_ in receiver.getSenders())
        assert _run(peer_loop, sound_packets_sent(receiver)) == 0
    finally:
        _run(peer_loop, receiver.close())
        _run(peer_loop, sender.close())
    for sock in (s, w):
        sock.disconnect(NAMESPACE)


class _FakeSfu:
    """An SFU that remembers what it was asked (Janus itself: test_janus_engine)."""

    topology = "sfu"

    def __init__(self) -> None:
        self.published: list[str] = []
        self.subscribed: list[tuple[str, str]] = []

    def ice_servers(self, identity: str) -> list[dict[str, object]]:
        return []

    def publish(self, room_key: str, seat_key: str, offer_sdp: str) -> str:
        self.published.append(seat_key)
        return "v=0\r\n(answer)"

    def subscribe(self, room_key: str, seat_key: str, feed_seat_key: str) -> str:
        self.subscribed.append((seat_key, feed_seat_key))
        return f"v=0\r\n(offer of {feed_seat_key})"

    def subscribe_answer(self, room_key: str, seat_key: str, feed_seat_key: str,
                         answer_sdp: str) -> None:
        self.subscribed.append((seat_key, f"answered {feed_seat_key}"))


def test_with_an_sfu_watchers_subscribe_and_never_publish(app, session, clerk, office, host,
                                                          monkeypatch):
    from video.engines import EXTENSION_KEY

    sfu = _FakeSfu()
    monkeypatch.setitem(app.extensions, EXTENSION_KEY, sfu)
    room = _room(session, clerk, office, host)
    speaker, speaker_token = _seat(session, clerk, room, "信访人丙")
    early, early_token = _seat(session, clerk, room, "旁听甲", watch_only=True)
    late, late_token = _seat(session, clerk, room, "旁听乙", watch_only=True)
    e = guest_socket(app, early_token)
    assert hello(e, "e")["topology"] == "sfu"
    s = guest_socket(app, speaker_token)
    hello(s, "s")
    # the speaker publishes: the watcher already there is offered the feed
    assert _emit(s, "media_offer", {"sdp": RECEIVING_SDP})["ok"] is True
    assert sfu.published == [speaker.seat_key]
    assert events(e, "subscribe_offer") == [
        {"feed": speaker.id, "sdp": f"v=0\r\n(offer of {speaker.seat_key})"}]
    # a watcher coming later asks for the feeds published so far
    w = guest_socket(app, late_token)
    hello(w, "w")
    assert _emit(w, "watch", {})["ok"] is True
    assert [m["feed"] for m in events(w, "subscribe_offer")] == [speaker.id]
    assert _emit(w, "subscribe_answer", {"feed": speaker.id, "sdp": "v=0"})["ok"] is True
    # a watcher never publishes, not even an offer that would only receive
    refused = _emit(w, "media_offer", {"sdp": RECEIVING_SDP})
    assert refused["ok"] is False and "receives" in refused["error"]
    assert sfu.published == [speaker.seat_key]
    assert (late.seat_key, speaker.seat_key) in sfu.subscribed
    assert all(feed != late.seat_key for _seat_key, feed in sfu.subscribed)
    for sock in (e, s, w):
        sock.disconnect(NAMESPACE)


# --- the room client in Chromium ----------------------------------------------------------

def _seed_watcher(data: Path, url: str) -> dict[str, Any]:
    """A migrated database with a multi-party room open now, a speaker's seat and an
    observer's watch-only seat (the recording notice already agreed to)."""
    from flask_migrate import upgrade

    from portal.auth import operations as auth_ops
    from portal.extensions import db
    from portal.orgs.models import Organisation
    from tests.fixtures.core import build_app

    app = build_app(data, url)
    with app.app_context():
        upgrade()
        office = Organisation(name="县信访局", kind="agency")
        db.session.add(office)
        db.session.flush()
        leader = auth_ops.create_user(db.session, username="mpleader", password=PASSWORD,
                                      display_name="主持人", roles=[Role.LEADER],
                                      organisations=[office], check_password=False)
        db.session.flush()
        room = ops.create_multi_party_room(
            db.session, leader, title="听证会（视频）", office_id=office.id,
            starts_at=utcnow() - timedelta(minutes=5), ends_at=utcnow() + timedelta(hours=2),
            host_id=leader.id)
        ops.add_seat(db.session, leader, room, name="信访人丙")
        watcher, token = ops.add_seat(db.session, leader, room, name="旁听甲", watch_only=True)
        watcher.consent_at = utcnow()
        ops.pending_events(db.session)
        db.session.commit()
        seeded = {"token": token, "seat": watcher.id}
        db.engine.dispose()
    return seeded


#: counts the page's requests for a camera or microphone (a watcher makes none)
COUNT_MEDIA_REQUESTS = """
window.__mediaRequests = 0;
if (navigator.mediaDevices) {
  const real = navigator.mediaDevices.getUserMedia?.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = (c) => { window.__mediaRequests += 1; return real(c); };
}
"""


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=MISSING_BROWSER)
def test_a_watcher_in_chromium_asks_for_no_camera_and_has_no_chat(tmp_path, browser):
    seeded = _seed_watcher(tmp_path, f"sqlite:///{tmp_path / 'portal.db'}")
    with served_nodes(tmp_path, f"sqlite:///{tmp_path / 'portal.db'}", names=("a",)) as [base]:
        context = browser.new_context(viewport={"width": 360, "height": 740},
                                      locale="zh-CN")
        try:
            context.add_init_script(COUNT_MEDIA_REQUESTS)
            page = context.new_page()
            check = page.goto(f"{base}/join/{seeded['token']}")
            assert check is not None and check.status == 200
            # the device check of a watcher: no camera or microphone to check
            assert page.locator("#check-camera").count() == 0
            page.goto(f"{base}/join/{seeded['token']}/room")
            page.wait_for_function(
                "() => window.videoRoom && videoRoom.state().seatState === 'admitted'",
                timeout=20000)
            # sound only (no incoming picture) and back: still no camera asked for
            toggle = page.locator("#btn-audio-only")
            toggle.click()
            page.wait_for_function("() => videoRoom.state().audioOnly === true")
            toggle.click()
            page.wait_for_function("() => videoRoom.state().audioOnly === false")
            assert page.evaluate("() => window.__mediaRequests") == 0
            assert page.locator("#chat-box").count() == 0
            assert page.locator("#btn-mute").count() == 0
            assert page.locator("#tile-self").is_hidden()
            assert page.locator(".watch-only-note").is_visible()
            # the participants list: how many watch (the watcher itself), no watcher's name
            page.wait_for_function(
                "() => document.querySelectorAll('#participants li').length >= 1",
                timeout=10000)
            listed = page.locator("#participants").inner_text()
            assert "旁听甲" not in listed and "1" in listed
        finally:
            context.close()


async def _offer(peer: SyntheticPeer) -> str:
    await peer.pc.setLocalDescription(await peer.pc.createOffer())
    return str(peer.pc.localDescription.sdp)


async def _answer(peer: SyntheticPeer, sdp: str) -> None:
    await peer.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))


@pytest.mark.media
def test_a_recorded_hearing_room_is_filed_in_the_case_without_the_watchers(
        app, session, world, loopback, peer_loop, monkeypatch):
    from video import filing

    # processed in this thread (the test's database connection is not shared)
    monkeypatch.setattr(filing, "spawn", filing.process)
    case, _code = new_case(session, world)
    # the hearing's office holds the room; its presiding leader records
    clerk, host = world.clerk, world.leader
    room = _room(session, clerk, world.office, host)
    speakers = [_seat(session, clerk, room, name, case_id=case.id)
                for name in ("信访人丙", "承办单位丁")]
    watcher, watcher_token = _seat(session, clerk, room, "旁听甲", case_id=case.id,
                                   watch_only=True)
    h = staff_socket(app, client_for(app, host), room)
    hello(h, "h")
    socks = [guest_socket(app, token) for _seat_, token in speakers]
    w = guest_socket(app, watcher_token)
    for n, sock in enumerate([*socks, w]):
        hello(sock, f"g{n}")
        assert _emit(sock, "consent", {})["ok"] is True
    assert _emit(h, "record", {"on": True})["ok"] is True
    engine = get_engine(app)
    peers = [_run(peer_loop, synthetic_peer(tone_hz=hz)) for hz in (440, 660)]
    try:
        for sock, peer in zip(socks, peers, strict=True):
            ack = _emit(sock, "media_offer", {"sdp": _run(peer_loop, _offer(peer))})
            assert ack["ok"], ack
            _run(peer_loop, _answer(peer, ack["sdp"]))
        # the watcher cannot send to the recorder, whatever it offers
        assert _emit(w, "media_offer", {"sdp": SENDING_SDP})["ok"] is False
        wait_until(recorded(engine, room.room_key, [s.seat_key for s, _t in speakers], 3),
                   60, "3 s of both speakers recorded")
        assert watcher.seat_key not in frames_written(engine, room.room_key)
        stopped = _emit(h, "record", {"on": False})
        assert stopped["ok"], stopped
    finally:
        for peer in peers:
            _run(peer_loop, peer.close())
    recording = session.get(Recording, stopped["recording_id"])
    session.refresh(recording)
    assert recording.status == "accepted", recording.error
    document = session.get(Document, recording.document_id)
    assert document is not None and document.case_id == case.id
    for sock in (h, w, *socks):
        sock.disconnect(NAMESPACE)
