"""A whole reception with real WebRTC peers: two aiortc peers (the petitioner and the
official) join through the real signalling namespace, the petitioner is admitted from
the lobby, both consent, the official records; each peer sends synthetic audio and video
to the server's recorder; when recording stops the file is joined, opened and checked,
and filed in the petitioner's case as a document carrying its hash. Loopback only."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import av
import pytest
from aiortc import RTCSessionDescription
from sqlalchemy import select

from portal.auth.roles import Role
from portal.casefiles import blobs
from portal.casefiles import operations as case_ops
from portal.casefiles.models import CaseEvent, Document
from portal.timeutil import utcnow
from tests.fixtures.core import login, wait_until
from tests.fixtures.video import (
    SyntheticPeer,
    book,
    events,
    guest_socket,
    hello,
    make_media,
    recorded,
    staff_socket,
    synthetic_peer,
    wait_connected,
)
from video import filing
from video import operations as ops
from video.engines import get_engine
from video.events import NAMESPACE
from video.models import Recording, RecordingStatus

pytestmark = pytest.mark.media  # aiortc peers send real media to the engine, which records it


@pytest.fixture()
def peer_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """The peers' own asyncio loop in a thread: the test's thread drives the (blocking)
    Socket.IO test clients, as browsers and server would be apart."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def run(loop: asyncio.AbstractEventLoop, coro: Any, timeout: float = 30) -> Any:
    return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout)


async def _offer(peer: SyntheticPeer) -> str:
    await peer.pc.setLocalDescription(await peer.pc.createOffer())
    return str(peer.pc.localDescription.sdp)


async def _answer(peer: SyntheticPeer, sdp: str) -> None:
    await peer.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))


def _publish(loop, sock, peer: SyntheticPeer) -> str:
    offer = run(loop, _offer(peer))
    ack = sock.emit("media_offer", {"sdp": offer}, namespace=NAMESPACE, callback=True)
    assert ack["ok"], ack
    run(loop, _answer(peer, ack["sdp"]))
    run(loop, wait_connected(peer))
    return str(ack["sdp"])


def record_both(app: Any, loop: asyncio.AbstractEventLoop, room: Any, guest: Any,
                staff: Any, seconds: float) -> tuple[dict[str, Any], list[str]]:
    """Recording is on: the guest's and the official's synthetic peers publish, the
    engine records `seconds` of both, the official stops. Returns the stop's ack and the
    server's SDP answers."""
    peers = [run(loop, synthetic_peer()), run(loop, synthetic_peer(tone_hz=660))]
    try:
        answers = [_publish(loop, guest, peers[0]), _publish(loop, staff, peers[1])]
        wait_until(recorded(get_engine(app), room.room_key, 2, seconds), 60,
                   f"{seconds} s of both seats recorded")
        stopped = staff.emit("record", {"on": False}, namespace=NAMESPACE, callback=True)
        assert stopped["ok"], stopped
    finally:
        for peer in peers:
            run(loop, peer.close())
    return stopped, answers


def test_recorded_reception_is_checked_and_filed_in_the_case(
        app, client, session, make_user, make_org, loopback, peer_loop, monkeypatch):
    office = make_org("县信访局", kind="agency")
    clerk = make_user(Role.CLERK, organisations=[office])
    case, _code = case_ops.register_case(
        session, clerk, channel="video", kind="labour", summary="拖欠工资",
        petitioners=[{"name": "王秀英"}])
    now = utcnow()
    room = ops.create_room(session, clerk, kind="leader_day", title="接待日",
                           office_id=office.id, starts_at=now - timedelta(minutes=5),
                           ends_at=now + timedelta(hours=1))
    seat, token = book(session, clerk, room, case_id=case.id)
    # process the recording in this thread (the test's database connection is not shared
    # with other threads); the server does it in a thread of its own
    monkeypatch.setattr(filing, "spawn", filing.process)

    login(client, clerk)
    staff = staff_socket(app, client, room)
    staff_seat = hello(staff, "official")["seat"]["id"]
    guest = guest_socket(app, token)
    waiting = hello(guest, "phone")
    assert waiting["seat"]["state"] == "waiting"
    assert staff.emit("admit", {"seat_id": seat.id}, namespace=NAMESPACE,
                      callback=True)["ok"]
    admitted = events(guest, "admitted")[-1]["data"]
    assert admitted["peers"] == [staff_seat] and admitted["topology"] == "mesh"
    assert admitted["ice_servers"] == []  # no TURN configured, and never a public server

    # not recording yet: nothing may be published to the recorder
    early = guest.emit("media_offer", {"sdp": "v=0\r\n"}, namespace=NAMESPACE, callback=True)
    assert early["ok"] is False

    assert guest.emit("consent", {}, namespace=NAMESPACE, callback=True)["ok"]
    started = staff.emit("record", {"on": True}, namespace=NAMESPACE, callback=True)
    assert started["ok"], started
    assert events(guest, "recording")[-1]["data"]["on"] is True  # everyone told again

    stopped, answers = record_both(app, peer_loop, room, guest, staff, 4)
    for sdp in answers:  # the server's candidates stay on loopback
        hosts = {line.split()[4] for line in sdp.splitlines()
                 if line.startswith("a=candidate:")}
        assert hosts and hosts <= {"127.0.0.1"}, hosts

    recording = session.get(Recording, stopped["recording_id"])
    session.refresh(recording)
    assert recording.status == RecordingStatus.ACCEPTED, recording.error
    length = (recording.stopped_at - recording.started_at).total_seconds()
    assert abs(recording.duration_s - length) <= 2.0
    document = session.get(Document, recording.document_id)
    assert document is not None and document.case_id == case.id
    version = document.versions[0]
    assert version.media_type == "video/mp4" and version.sha256 == recording.sha256
    with av.open(str(blobs.blob_path(version.sha256, blobs.blob_root()))) as container:
        kinds = {s.type for s in container.streams}
        assert {"audio", "video"} <= kinds
        assert abs(float(container.duration) / 1_000_000 - length) <= 2.0
    filed = session.scalars(select(CaseEvent).where(
        CaseEvent.case_id == case.id, CaseEvent.kind == "document.added")).all()
    assert any(version.sha256 in str(e.payload) for e in filed)
    staff_done = events(staff, "recording_filed")
    assert staff_done and staff_done[-1]["data"]["status"] == "accepted"
    # played back on the case page, streamed with ranges (seeking), for those who may see it
    page = client.get(f"/cases/{case.number}").get_data(as_text=True)
    src = f"/cases/{case.number}/documents/{document.id}/1"
    assert "<video" in page and src in page
    part = client.get(src, headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.data) == 100
    assert part.headers["Content-Type"] == "video/mp4"
    outsider = make_user(Role.CLERK, organisations=[make_org("别的乡", kind="agency")])
    other = app.test_client()
    login(other, outsider)
    assert other.get(src).status_code == 404
    assert staff.emit("end", {}, namespace=NAMESPACE, callback=True)["ok"]


def test_a_recording_left_unprocessed_is_taken_up_by_the_worker_tick(
        app, session, make_user, make_org, monkeypatch, tmp_path):
    office = make_org("县信访局", kind="agency")
    clerk = make_user(Role.CLERK, organisations=[office])
    case, _code = case_ops.register_case(
        session, clerk, channel="video", kind="labour", summary="拖欠工资",
        petitioners=[{"name": "王秀英"}])
    started = utcnow() - timedelta(minutes=10)
    room = ops.create_room(session, clerk, kind="leader_day", title="接待日",
                           office_id=office.id, starts_at=started,
                           ends_at=started + timedelta(hours=1))
    segment = make_media(tmp_path / "seat-1.mkv", 4)
    # stopped, its segments listed, but the server went down before joining them
    recording = Recording(room=room, case_id=case.id, status=RecordingStatus.PROCESSING,
                          started_by_id=clerk.id, started_at=started,
                          stopped_at=started + timedelta(seconds=4),
                          segments=[{"seat_key": "seat-1", "path": str(segment),
                                     "started_at": started.isoformat(),
                                     "ended_at": (started + timedelta(seconds=4)).isoformat()}])
    session.add(recording)
    session.commit()
    monkeypatch.setattr(filing, "spawn", filing.process)
    assert filing.recovery_tick(app, now=utcnow()) == 1
    session.refresh(recording)
    assert recording.status == RecordingStatus.ACCEPTED, recording.error
    assert recording.document_id is not None
    # once a minute at most, and an accepted one is not taken up again
    assert filing.recovery_tick(app, now=utcnow()) == 0
    app.extensions.pop("video.recovery_at", None)
    assert filing.recovery_tick(app, now=utcnow() + timedelta(minutes=5)) == 0
