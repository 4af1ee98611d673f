"""Each socket event of /video is one unit of work: one commit for the event (slow
engine work and the recording's segments after it), nothing committed or sent for a
refused one; ending a call while it records stops the recording in the same commit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from portal.auth.roles import Role
from portal.timeutil import utcnow
from tests.fixtures.core import login
from tests.fixtures.video import book, events, guest_socket, hello, staff_socket
from video import operations as ops
from video.events import NAMESPACE
from video.models import Recording, RecordingStatus, Room, SeatState


@pytest.fixture()
def clerk(make_user, make_org):
    return make_user(Role.CLERK, organisations=[make_org("县信访局", kind="agency")])


@pytest.fixture()
def room(session, clerk) -> Room:
    now = utcnow()
    return ops.create_room(session, clerk, kind="leader_day", title="县领导接待日",
                           office_id=clerk.organisations[0].id,
                           starts_at=now - timedelta(minutes=10),
                           ends_at=now + timedelta(hours=2), slot_minutes=20)


@pytest.fixture()
def commits() -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_session: Session) -> None:
        seen.append("commit")

    event.listen(Session, "after_commit", count)
    yield seen
    event.remove(Session, "after_commit", count)


def _recording_call(app, client, session, clerk, room, monkeypatch):
    from video import filing

    monkeypatch.setattr(filing, "spawn", lambda app, recording_id: None)
    seat, token = book(session, clerk, room)
    login(client, clerk)
    staff = staff_socket(app, client, room)
    hello(staff, "s")
    guest = guest_socket(app, token)
    hello(guest, "p")
    guest.emit("consent", {}, namespace=NAMESPACE, callback=True)
    staff.emit("admit", {"seat_id": seat.id}, namespace=NAMESPACE, callback=True)
    started = staff.emit("record", {"on": True}, namespace=NAMESPACE, callback=True)
    assert started["ok"], started
    return seat, staff, guest, started["recording_id"]


def test_finishing_a_recorded_petitioner_commits_once_then_notes_the_segments(
        app, client, session, clerk, room, monkeypatch, commits):
    seat, staff, guest, recording_id = _recording_call(app, client, session, clerk, room,
                                                       monkeypatch)
    commits.clear()
    ack = staff.emit("finish", {"seat_id": seat.id}, namespace=NAMESPACE, callback=True)
    assert ack == {"ok": True}
    # the event's own commit (seat done, recording stopped), then, once the engine has
    # handed the segments over outside any transaction, the segments' own
    assert commits == ["commit", "commit"]
    assert [e["data"]["on"] for e in events(guest, "recording")][-1] is False
    recording = session.get(Recording, recording_id)
    session.refresh(recording)
    assert recording.status == RecordingStatus.PROCESSING and recording.segments is not None


def test_a_refused_event_commits_and_sends_nothing(app, client, session, clerk,
                                                  room, commits):
    seat, token = book(session, clerk, room)
    guest = guest_socket(app, token)
    hello(guest, "p")
    received = len(events(guest))
    commits.clear()
    ack = guest.emit("admit", {"seat_id": seat.id}, namespace=NAMESPACE, callback=True)
    assert ack["ok"] is False and commits == []
    assert len(events(guest)) == received
    session.refresh(seat)
    assert seat.state == SeatState.WAITING


def test_ending_a_recorded_call_stops_the_recording_in_the_same_commit(
        app, client, session, clerk, room, monkeypatch):
    seat, staff, guest, recording_id = _recording_call(app, client, session, clerk, room,
                                                       monkeypatch)
    assert staff.emit("end", {}, namespace=NAMESPACE, callback=True) == {"ok": True}
    ended = session.get(Room, room.id)
    session.refresh(ended)
    assert ended.status == "ended" and ended.is_recording is False
    recording = session.get(Recording, recording_id)
    session.refresh(recording)
    assert recording.stopped_at is not None
    assert events(guest, "ended") and not guest.is_connected(NAMESPACE)
