"""A walk-in without a case, received and recorded with real WebRTC peers through the
real signalling namespace: the recording is checked, kept while the petitioner has no
case, and filed in the case the confirmed reception note opens."""

from __future__ import annotations

from datetime import timedelta

import av
import pytest
from sqlalchemy import select

from portal.auth.roles import Role
from portal.casefiles import blobs
from portal.casefiles.models import Case, Document
from portal.timeutil import utcnow
from tests.fixtures.core import login
from tests.fixtures.video import (
    book,
    events,
    guest_socket,
    hello,
    staff_socket,
)
from tests.video import test_reception_recording as reception
from video import filing
from video import operations as ops
from video.events import NAMESPACE
from video.models import Recording, RecordingStatus

pytestmark = pytest.mark.media

peer_loop = reception.peer_loop  # the peers' own asyncio loop (a fixture)


def test_walk_in_recording_goes_into_the_case_the_note_opens(
        app, client, session, make_user, make_org, loopback, peer_loop, monkeypatch):
    office = make_org("县信访局", kind="agency")
    clerk = make_user(Role.CLERK, organisations=[office])
    now = utcnow()
    room = ops.create_room(session, clerk, kind="walk_in", title="当日排队",
                           office_id=office.id, starts_at=now - timedelta(minutes=5),
                           ends_at=now + timedelta(hours=1))
    seat, token = book(session, clerk, room)  # a walk-in: no case
    assert seat.case_id is None
    monkeypatch.setattr(filing, "spawn", filing.process)

    login(client, clerk)
    staff = staff_socket(app, client, room)
    hello(staff, "official")
    guest = guest_socket(app, token)
    assert hello(guest, "phone")["seat"]["state"] == "waiting"
    assert staff.emit("admit", {"seat_id": seat.id}, namespace=NAMESPACE,
                      callback=True)["ok"]
    assert guest.emit("consent", {}, namespace=NAMESPACE, callback=True)["ok"]
    started = staff.emit("record", {"on": True}, namespace=NAMESPACE, callback=True)
    assert started["ok"], started
    stopped, _answers = reception.record_both(app, peer_loop, room, guest, staff, 3)

    recording = session.get(Recording, stopped["recording_id"])
    session.refresh(recording)
    assert recording.status == RecordingStatus.ACCEPTED, recording.error
    assert recording.document_id is None  # no case yet: kept, and the room says so
    page = client.get(f"/video/rooms/{room.id}").get_data(as_text=True)
    assert "recording-waiting" in page

    prefix = f"n{seat.id}-"
    response = client.post(f"/video/seats/{seat.id}/note", data={
        prefix + "facts": "工资被拖欠八个月", prefix + "demands": "要求支付工资",
        prefix + "answer": "转县人社局处理", prefix + "next_steps": "十五日内答复",
        prefix + "version": "", "action": "show"})
    assert response.status_code == 200, response.get_data(as_text=True)
    shown = events(guest, "note")[-1]["data"]
    assert guest.emit("note_reply", {"note_id": shown["note_id"], "confirm": True},
                      namespace=NAMESPACE, callback=True)["ok"]

    session.refresh(seat)
    case = session.get(Case, seat.case_id)
    assert case is not None
    session.refresh(recording)
    assert recording.case_id == case.id and recording.document_id is not None
    document = session.get(Document, recording.document_id)
    assert document.case_id == case.id
    version = document.versions[0]
    length = (recording.stopped_at - recording.started_at).total_seconds()
    with av.open(str(blobs.blob_path(version.sha256, blobs.blob_root()))) as container:
        assert {"audio", "video"} <= {s.type for s in container.streams}
        assert abs(float(container.duration) / 1_000_000 - length) <= 2.0
    assert session.scalars(select(Document).where(Document.case_id == case.id)).all()
    page = client.get(f"/video/rooms/{room.id}").get_data(as_text=True)
    assert "recording-waiting" not in page
