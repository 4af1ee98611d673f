"""The recording path with the server in a process of its own (gunicorn, as `make run`;
its recorder offers 127.0.0.1 only, PORTAL_MEDIA_HOSTS): a walk-in without a case is
admitted and recorded with real aiortc peers sending from this process, the official
shows the reception note, the petitioner confirms it, and the case the note opens holds
the recording — opened with PyAV, both streams, its length right."""

from __future__ import annotations

import asyncio
import re
import time
import urllib.parse
import urllib.request
from pathlib import Path

import av
import pytest
from aiortc import RTCSessionDescription
from sqlalchemy import select

from portal.casefiles import blobs
from portal.casefiles.models import Document
from portal.extensions import db
from tests.fixtures.core import build_app
from tests.fixtures.video import (
    SocketPeer,
    SyntheticPeer,
    login_cookie,
    run_isolated,
    seed_walk_in_room,
    served_nodes,
    synthetic_peer,
    wait_connected,
    wait_media_sent,
)
from video.models import NoteStatus, ReceptionNote, Recording, Seat

pytestmark = pytest.mark.media


async def _publish(peer: SocketPeer, media: SyntheticPeer) -> None:
    await media.pc.setLocalDescription(await media.pc.createOffer())
    ack = await peer.call("media_offer", {"sdp": media.pc.localDescription.sdp})
    hosts = {line.split()[4] for line in ack["sdp"].splitlines()
             if line.startswith("a=candidate:")}
    assert hosts == {"127.0.0.1"}, hosts  # the server apart offers loopback only
    await media.pc.setRemoteDescription(RTCSessionDescription(sdp=ack["sdp"], type="answer"))
    await wait_connected(media)


def _show_note(base: str, cookie: str, room_id: int, seat_id: int) -> None:
    """The official shows the note through the real form (CSRF and all)."""
    request = urllib.request.Request(f"{base}/video/rooms/{room_id}/notes",
                                     headers={"Cookie": cookie})
    with urllib.request.urlopen(request, timeout=10) as reply:
        page = reply.read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token, page[:500]
    prefix = f"n{seat_id}-"
    body = urllib.parse.urlencode({
        "csrf_token": token.group(1), prefix + "facts": "工资被拖欠八个月",
        prefix + "demands": "要求支付工资", prefix + "answer": "转县人社局处理",
        prefix + "next_steps": "十五日内答复", prefix + "version": "", "action": "show"}).encode()
    request = urllib.request.Request(f"{base}/video/seats/{seat_id}/note", data=body,
                                     headers={"Cookie": cookie})
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert reply.status == 200


async def _scenario(base: str, room_id: int, seat_id: int, token: str, cookie: str) -> int:
    petitioner, official = SocketPeer("petitioner"), SocketPeer("official")
    await petitioner.connect(base, {"token": token})
    assert (await petitioner.call("hello", {"device": "phone"}))["seat"]["state"] == "waiting"
    await official.connect(base, {"room": room_id}, cookie)
    await official.call("hello", {"device": "desk"})
    await petitioner.call("consent", {})
    await official.call("admit", {"seat_id": seat_id})
    started = await official.call("record", {"on": True})
    media = [await synthetic_peer(), await synthetic_peer(tone_hz=660)]
    try:
        await _publish(petitioner, media[0])
        await _publish(official, media[1])
        await wait_media_sent([m.pc for m in media], 4)
        await official.call("record", {"on": False})
    finally:
        for m in media:
            await m.close()
    await asyncio.to_thread(_show_note, base, cookie, room_id, seat_id)
    shown = await petitioner.wait("the note to confirm", lambda: [
        e for e in petitioner.room_events("note")])
    await petitioner.call("note_reply", {"note_id": shown[-1]["data"]["note_id"],
                                         "confirm": True})
    for peer in (petitioner, official):
        await peer.client.disconnect()
    return int(started["recording_id"])


def test_a_walk_in_recorded_by_a_server_apart_ends_in_the_case_its_note_opens(
        tmp_path: Path, loopback: None) -> None:
    url = f"sqlite:///{tmp_path / 'reception.db'}"
    room_id, [(seat_id, token)] = seed_walk_in_room(tmp_path, url, "recclerk", "recpass-12345",
                                                    ["陈桂兰"])
    with served_nodes(tmp_path, url, ("rec",), PORTAL_MEDIA_HOSTS="127.0.0.1") as (base,):
        cookie = login_cookie(base, "recclerk", "recpass-12345")
        try:
            recording_id = run_isolated(_scenario(base, room_id, seat_id, token, cookie))
        except BaseException:
            print((tmp_path / "node-rec.log").read_text(errors="replace")[-4000:])
            raise
        # the server joins, checks and files the recording in a thread of its own
        app = build_app(tmp_path, url)
        deadline = time.monotonic() + 120
        with app.app_context():
            while True:
                db.session.expire_all()
                recording = db.session.get(Recording, recording_id)
                if recording.document_id is not None or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert recording.document_id is not None, (recording.status, recording.error)
            seat = db.session.get(Seat, seat_id)
            note = db.session.scalar(select(ReceptionNote).where(
                ReceptionNote.seat_id == seat_id))
            # the petitioner confirmed the note, which opened the case (a walk-in had none)
            assert note.status == NoteStatus.CONFIRMED and seat.case_id is not None
            document = db.session.get(Document, recording.document_id)
            assert document.case_id == seat.case_id
            path = blobs.blob_path(document.versions[0].sha256)
            length = (recording.stopped_at - recording.started_at).total_seconds()
            db.engine.dispose()
    with av.open(str(path)) as container:
        kinds = {stream.type for stream in container.streams}
        seconds = float(container.duration or 0) / av.time_base
    assert {"audio", "video"} <= kinds
    assert abs(seconds - length) <= 2.0, (seconds, length)
