"""Recordings and notes into the case file.

start/stop drive the media engine around the room's state; when a recording stops, a
background thread joins its segments into one file (`video.recording.compose`), opens
and checks it (`verify`: audio and video present, duration within 2 s), stores it as a
blob and files it in the case as a document (an event carrying its hash). A recording
that fails the check is kept as FAILED with the reason, never attached."""

from __future__ import annotations

import logging
import shutil
import threading
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, cast

from flask import Flask, current_app
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from portal import transaction
from portal.app import settings_of
from portal.auth.models import User
from portal.casefiles import operations as case_ops
from portal.casefiles.models import Case
from portal.casefiles.permissions import can_contribute
from portal.errors import DomainError
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.timeutil import utcnow
from video import operations as ops
from video import permissions as perm
from video.engines import current_engine
from video.engines.base import MediaError, Segment
from video.models import (
    NoteStatus,
    ReceptionNote,
    Recording,
    RecordingStatus,
    Room,
    RoomStatus,
    Seat,
)

log = logging.getLogger(__name__)

#: background work per recording, so tests (and shutdown) can wait for it
_jobs: dict[int, threading.Thread] = {}


def recording_dir(app: Flask, room_id: int, recording_id: int) -> Path:
    return Path(settings_of(app).data_dir) / "recordings" / f"room-{room_id}-rec-{recording_id}"


def kept_path(app: Flask, room_id: int, recording_id: int) -> Path:
    """Where an accepted recording waits for its petitioner's case (segments gone)."""
    return recording_dir(app, room_id, recording_id).with_suffix(".mp4")


def start(actor: Any, room: Room) -> int:
    """Start recording (consent checked) in the caller's unit of work; everyone is told
    once it commits. Returns the recording's id."""
    recording = ops.start_recording(db.session, actor, room)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    directory = recording_dir(app, room.id, recording.id)
    directory.mkdir(parents=True, exist_ok=True)
    try:
        current_engine().start_recording(room.room_key, directory)
    except MediaError as error:  # the caller's unit of work rolls back
        raise DomainError(_l("Recording could not start: %(error)s", error=str(error))
                          ) from None
    return recording.id


def stop(actor: Any, room: Room) -> int | None:
    """Stop recording in the caller's unit of work; once it commits, everyone is told,
    then (no transaction held) the engine stops and the file is processed in the
    background."""
    recording = ops.stop_recording(db.session, actor, room)
    if recording is None:
        return None
    recording_id, room_key = recording.id, room.room_key
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    transaction.after_commit(db.session, lambda: _collect(app, recording_id, room_key),
                             last=True)
    return recording_id


def _collect(app: Flask, recording_id: int, room_key: str) -> None:
    """After the stop is committed: the engine hands over the segments (outside any
    transaction), they are noted on the recording, and the processing starts."""
    error = None
    try:
        segments = current_engine().stop_recording(room_key)
    except MediaError as failure:
        segments, error = [], str(failure)

    def note_segments() -> None:
        recording = db.session.get(Recording, recording_id)
        assert recording is not None
        recording.error = error
        recording.segments = [{"seat_key": s.seat_key, "path": str(s.path),
                               "started_at": s.started_at.isoformat(),
                               "ended_at": s.ended_at.isoformat()} for s in segments]

    transaction.run(db.session, note_segments, _log_refusal(f"recording {recording_id}"))
    spawn(app, recording_id)


def _log_refusal(what: str) -> Any:
    def log_it(error: DomainError) -> None:
        log.warning("%s: %s", what, error.message)
    return log_it


def spawn(app: Flask, recording_id: int) -> None:
    """Process the recording in a thread of its own: joining and checking take seconds,
    and the official's window goes on meanwhile (the room page shows the progress)."""
    job = threading.Thread(target=process, args=(app, recording_id), daemon=True,
                           name=f"recording-{recording_id}")
    _jobs[recording_id] = job
    job.start()


def wait_for(recording_id: int, timeout: float = 120.0) -> None:
    job = _jobs.get(recording_id)
    if job is not None:
        job.join(timeout)


def _segments(recording: Recording) -> list[Segment]:
    return [Segment(seat_key=s["seat_key"], path=Path(s["path"]),
                    started_at=datetime.fromisoformat(s["started_at"]),
                    ended_at=datetime.fromisoformat(s["ended_at"]))
            for s in recording.segments or []]


#: a process holding a recording's processing longer than this has died
PROCESSING_LEASE = timedelta(minutes=45)
#: a stopped recording nobody took on after this is picked up by the worker's tick
PROCESSING_PICKUP = timedelta(minutes=2)


def _claim(recording_id: int) -> bool:
    """Take the processing of a recording, unless another process holds a fresh lease."""
    now = utcnow()
    taken = db.session.execute(
        update(Recording)
        .where(Recording.id == recording_id, Recording.status == RecordingStatus.PROCESSING,
               or_(Recording.processing_started_at.is_(None),
                   Recording.processing_started_at < now - PROCESSING_LEASE))
        .values(processing_started_at=now)
        .execution_options(synchronize_session=False))
    db.session.commit()
    return bool(getattr(taken, "rowcount", 0))


def process(app: Flask, recording_id: int) -> None:
    """Join, check, store and file one recording (runs in its own thread)."""
    with app.app_context():
        if not _claim(recording_id):
            return
        try:
            _process(app, recording_id)
        except Exception as error:  # never leave it PROCESSING without a word
            log.exception("recording %s: processing failed", recording_id)
            db.session.rollback()
            failed = db.session.get(Recording, recording_id)
            if failed is not None:
                failed.status = RecordingStatus.FAILED
                failed.error = f"processing failed: {error}"[:2000]
                db.session.commit()
                _notify(failed)
        finally:
            db.session.remove()


def _process(app: Flask, recording_id: int) -> None:
    from video import recording as media

    recording = db.session.get(Recording, recording_id)
    if recording is None or recording.stopped_at is None:
        return
    directory = recording_dir(app, recording.room_id, recording.id)
    out = directory / "recording.mp4"
    try:
        media.compose(_segments(recording), recording.started_at, recording.stopped_at,
                      out)
        expected = (recording.stopped_at - recording.started_at).total_seconds()
        info = media.verify(out, expected)
    except Exception as error:  # RecordingRejected, ffmpeg failures: keep the reason
        log.warning("recording %s rejected: %s", recording_id, error)
        recording.status = RecordingStatus.FAILED
        recording.error = str(error)[:2000]
        db.session.commit()
        _notify(recording)
        return
    recording.duration_s = info.duration_s
    recording.status = RecordingStatus.ACCEPTED
    case = _case_for(recording)
    if case is not None:
        attach(recording, case, out)
    else:
        # kept until the reception's note opens a case (see `attach_pending`)
        shutil.move(str(out), kept_path(app, recording.room_id, recording.id))
    db.session.commit()
    if case is not None:
        shutil.rmtree(directory, ignore_errors=True)  # segments: the blob is the record
    _notify(recording)


def _case_for(recording: Recording) -> Case | None:
    """The case a recording goes into: its own, or its petitioner's (a note filed while
    the recording was being checked may have opened one)."""
    case_id = recording.case_id
    if case_id is None and recording.seat_id is not None:
        seat = db.session.get(Seat, recording.seat_id)
        case_id = seat.case_id if seat is not None else None
    return db.session.get(Case, case_id) if case_id else None


def waiting(room: Room) -> list[Recording]:
    """Recordings of the room checked and kept, but in no case file yet: staff see them on
    the room page with what to do."""
    return list(db.session.scalars(select(Recording).where(
        Recording.room_id == room.id, Recording.status == RecordingStatus.ACCEPTED,
        Recording.document_id.is_(None)).order_by(Recording.id)))


def attach_waiting(actor: Any, recording: Recording, case: Case) -> None:
    """File a recording left waiting into the case the official names (in the caller's
    unit of work). A petitioner without a case gets that one, so their note follows."""
    room = recording.room
    if not perm.can_host(actor, room) or not can_contribute(actor, case):
        raise ops.NotAllowed(_l("You do not have permission to do that."))
    if recording.status != RecordingStatus.ACCEPTED or recording.document_id is not None:
        raise DomainError(_l("This recording is not waiting for a case."))
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    kept = kept_path(app, recording.room_id, recording.id)
    if not kept.exists():
        raise DomainError(_l("The recording's file is missing; it cannot be filed."))
    seat = db.session.get(Seat, recording.seat_id) if recording.seat_id else None
    if seat is not None and seat.case_id is None:
        seat.case_id = case.id
    attach(recording, case, kept, actor=actor)
    transaction.after_commit(db.session, partial(kept.unlink, missing_ok=True), last=True)


#: a room still open this long after its end time is ended by the worker's tick
ROOM_OVERRUN = timedelta(minutes=30)


def end_tick(app: Flask, now: datetime | None = None) -> int:
    """Called on each pass of the outbox worker: a room whose end time has passed (by
    ROOM_OVERRUN) is ended, and a recording still running in an ended room is stopped;
    both recordings are processed and filed. Returns how many rooms or recordings were
    closed."""
    now = now or utcnow()
    last = app.extensions.get("video.end_tick_at")
    if last is not None and now - last < timedelta(minutes=1):
        return 0
    app.extensions["video.end_tick_at"] = now
    closed = 0
    with app.app_context():
        try:
            overdue = db.session.scalars(select(Room.id).where(
                Room.status != RoomStatus.ENDED, Room.ends_at < now - ROOM_OVERRUN)).all()
            orphans = db.session.scalars(select(Recording.room_id).join(Room).where(
                Recording.status == RecordingStatus.RECORDING,
                Room.status == RoomStatus.ENDED).distinct()).all()
        finally:
            db.session.remove()
        for room_id in {*overdue, *orphans}:
            def close(room_id: int = room_id) -> None:
                room = db.session.get(Room, room_id)
                if room is None:
                    return
                stop(None, room)
                if room.status != RoomStatus.ENDED:
                    ops.end_room(db.session, None, room)
                    room_key = room.room_key
                    transaction.after_commit(
                        db.session, lambda: _close_media(room_key), last=True)

            with app.test_request_context():  # url building and gettext in the events
                transaction.run(db.session, close, _log_refusal(f"room {room_id} not ended"))
                db.session.remove()
            closed += 1
    return closed


def _close_media(room_key: str) -> None:
    try:
        current_engine().close_room(room_key)
    except MediaError as error:
        log.warning("room %s: media not closed: %s", room_key, error)


def recovery_tick(app: Flask, now: datetime | None = None) -> int:
    """Called on each pass of the outbox worker: recordings stopped but never processed
    (the server stopped meanwhile), or whose processing died, are processed again.
    Returns how many were started."""
    now = now or utcnow()
    last = app.extensions.get("video.recovery_at")
    if last is not None and now - last < timedelta(minutes=1):
        return 0
    app.extensions["video.recovery_at"] = now
    with app.app_context():
        try:
            stale = db.session.scalars(select(Recording.id).where(
                Recording.status == RecordingStatus.PROCESSING,
                or_(and_(Recording.processing_started_at.is_(None),
                         Recording.stopped_at < now - PROCESSING_PICKUP),
                    Recording.processing_started_at < now - PROCESSING_LEASE))).all()
        finally:
            db.session.remove()
    started = 0
    for recording_id in stale:
        job = _jobs.get(recording_id)
        if job is None or not job.is_alive():
            log.warning("recording %s: processing again (left unfinished)", recording_id)
            spawn(app, recording_id)
            started += 1
    return started


def attach(recording: Recording, case: Case, path: Path, actor: Any = None) -> None:
    """File an accepted recording in the case, as `actor` (by default the official who
    recorded it)."""
    actor = actor or db.session.get(User, recording.started_by_id)
    with path.open("rb") as stream:
        document = case_ops.add_document(
            cast(Session, db.session), actor, case, title=str(_l("Reception recording, %(when)s",
                                                  when=recording.started_at.strftime(
                                                      "%Y-%m-%d %H:%M"))),
            data=stream, original_name=f"reception-{recording.room_id}-{recording.id}.mp4",
            media_type="video/mp4", kind="recording", is_restricted=True)
    recording.document_id = document.id
    recording.case_id = case.id
    recording.sha256 = document.versions[0].sha256


def attach_pending(app: Flask, seat_id: int, case: Case) -> None:
    """The petitioner's recordings accepted before they had a case go into it now; those
    still running or being checked are marked for it (the processing files them)."""
    db.session.execute(update(Recording).where(
        Recording.seat_id == seat_id, Recording.case_id.is_(None),
        Recording.status.in_((RecordingStatus.RECORDING, RecordingStatus.PROCESSING)))
        .values(case_id=case.id).execution_options(synchronize_session=False))
    pending = db.session.scalars(select(Recording).where(
        Recording.seat_id == seat_id, Recording.status == RecordingStatus.ACCEPTED,
        Recording.document_id.is_(None))).all()
    for recording in pending:
        kept = kept_path(app, recording.room_id, recording.id)
        if kept.exists():
            attach(recording, case, kept)
            transaction.after_commit(db.session, partial(kept.unlink, missing_ok=True),
                                     last=True)


def _notify(recording: Recording) -> None:
    """The officials are told (the room event goes out once committed)."""
    room = db.session.get(Room, recording.room_id)
    if room is None:
        return
    ops.add_event(db.session, room, "recording_filed", {
        "recording_id": recording.id, "status": recording.status,
        "error": recording.error, "duration_s": recording.duration_s}, audience="staff")
    transaction.commit(db.session)


def file_note(actor: Any, note: ReceptionNote, kind: str | None = None
              ) -> tuple[Case, str | None]:
    """File the note (opening a case if the reception had none) and any recording of
    the room waiting for that case. Returns the case and, if opened here, its query
    code (to hand over once)."""
    case, code = ops.file_note(db.session, actor, note, kind=kind)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    attach_pending(app, note.seat_id, case)
    return case, code


def tell_case_opened(room_id: int, seat_id: int, name: str, number: str, code: str) -> None:
    """The officials in the room see the new case's number and query code on the note
    panel, once (a snapshot: not logged, so the code is stored nowhere)."""
    from portal.extensions import socketio
    from video.events import NAMESPACE, room_staff

    socketio.emit("room_event", {"id": None, "kind": "case_opened", "data": {
        "seat_id": seat_id, "name": name, "case_number": number, "query_code": code}},
        to=room_staff(room_id), namespace=NAMESPACE)


def file_note_as_author(note_id: int) -> None:
    """After the petitioner answers, the note goes into the case as its author (in the
    caller's unit of work)."""
    note = db.session.get(ReceptionNote, note_id)
    if note is None or note.status not in (NoteStatus.CONFIRMED, NoteStatus.REFUSED):
        return
    author = db.session.get(User, note.author_id)
    if note.filed_at is None:
        case, code = file_note(author, note)
        if code is not None:
            seat = note.seat
            room_id, seat_id, name, number = seat.room_id, seat.id, seat.display_name, \
                case.number
            transaction.after_commit(db.session, lambda: tell_case_opened(
                room_id, seat_id, name, number, code))
    elif note.seat.case is not None:  # filed before the answer: the answer follows
        case_ops.record_event(cast(Session, db.session), author, note.seat.case,
                              "reception.note.answered", {
                                  "seat_id": note.seat_id, "status": note.status,
                                  "refusal_reason": note.refusal_reason})


def file_answer_after_commit(note_id: int) -> None:
    """Once the petitioner's answer is committed, file the note as its author in a unit
    of work of its own: a refusal there (the author may no longer add to the case) is
    logged and leaves the answer standing."""
    def file_it() -> None:
        transaction.run(db.session, lambda: file_note_as_author(note_id),
                        _log_refusal(f"note {note_id} not filed"))

    transaction.after_commit(db.session, file_it, last=True)
