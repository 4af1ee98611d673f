"""Each socket event of /video is one unit of work: one commit for the event (slow
engine work and the recording's segments after it), nothing committed or sent for a
refused one; ending a call while it records stops the recording in the same commit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from tests.fixtures.video import book, events, guest_socket, hello, recorded_call
from video.events import NAMESPACE
from video.models import Recording, RecordingStatus, Room, SeatState


@pytest.fixture()
def commits() -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_session: Session) -> None:
        seen.append("commit")

    event.listen(Session, "after_commit", count)
    yield seen
    event.remove(Session, "after_commit", count)


def test_finishing_a_recorded_petitioner_commits_once_then_notes_the_segments(
        app, client, session, clerk, room, monkeypatch, commits):
    seat, staff, guest, recording_id = recorded_call(app, client, session, clerk, room,
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
    seat, staff, guest, recording_id = recorded_call(app, client, session, clerk, room,
                                                       monkeypatch)
    assert staff.emit("end", {}, namespace=NAMESPACE, callback=True) == {"ok": True}
    ended = session.get(Room, room.id)
    session.refresh(ended)
    assert ended.status == "ended" and ended.is_recording is False
    recording = session.get(Recording, recording_id)
    session.refresh(recording)
    assert recording.stopped_at is not None
    assert events(guest, "ended") and not guest.is_connected(NAMESPACE)
