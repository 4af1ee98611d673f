"""Signalling and room state on the Socket.IO namespace `/video` (see video/PROTOCOL.md).

Every connection is bound to one seat at connect time (a guest's join link, or a logged-in
official allowed to host the room); every event re-checks that seat's right to act. Room
state lives in the database (the queue, who is admitted, the event log); which socket
holds which seat is kept here, per process. Socket.IO rooms:
  v<room>          everyone connected to the room (waiting people included)
  v<room>:in       admitted people and officials
  v<room>:staff    officials
  vs<seat>         every connection of one seat (the takeover notice goes here)
  vu<user>         an official's connections (closed at logout)"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from flask import current_app, request
from flask_login import current_user, user_logged_out
from flask_socketio import join_room

from portal.extensions import db, socketio
from portal.i18n import lazy_gettext as _l
from portal.timeutil import utcnow
from portal.web import DomainError
from video import operations as ops
from video import permissions as perm
from video.engines import current_engine
from video.models import Room, RoomEvent, RoomStatus, Seat, SeatState

log = logging.getLogger(__name__)

NAMESPACE = "/video"

CLOSE_MESSAGES = {
    "opened_elsewhere": _l("This link was opened on another device, so this window was "
                           "closed. Carry on there."),
    "removed": _l("The official has removed you from this reception."),
    "denied": _l("The official could not admit you this time. The reception office will "
                 "contact you."),
    "done": _l("Your reception is over. Thank you. You can close this window."),
    "cancelled": _l("This appointment was cancelled."),
    "ended": _l("The reception has ended."),
    "expired": _l("This link has expired."),
    "logged_out": _l("You logged out, so this window left the reception."),
    "not_allowed": _l("You may no longer take part in this reception."),
}


@dataclass
class Binding:
    sid: str
    room_id: int
    seat_id: int
    user_id: int | None
    device: str = ""
    #: a guest's link at connect time: a link made anew since closes this connection
    token_hash: str | None = None


_lock = threading.Lock()
_by_sid: dict[str, Binding] = {}
_by_seat: dict[int, str] = {}
#: SFU rooms: the seats that publish (room id → seat ids)
_published: dict[int, set[int]] = {}
#: the last position each waiting seat was told (or is about to be)
_positions: dict[int, int] = {}
_pending_positions: dict[int, dict[int, int]] = {}
_position_timers: dict[int, threading.Timer] = {}


def room_all(room_id: int) -> str:
    return f"v{room_id}"


def room_in(room_id: int) -> str:
    return f"v{room_id}:in"


def room_staff(room_id: int) -> str:
    return f"v{room_id}:staff"


def seat_room(seat_id: int) -> str:
    return f"vs{seat_id}"


def connected_seat_ids() -> set[int]:
    with _lock:
        return set(_by_seat)


def _target(event: RoomEvent) -> str:
    audience = event.audience
    if audience == "room":
        return room_all(event.room_id)
    if audience == "in":
        return room_in(event.room_id)
    if audience == "staff":
        return room_staff(event.room_id)
    return seat_room(int(audience.split(":", 1)[1]))


def event_payload(event: RoomEvent) -> dict[str, Any]:
    return {"id": event.id, "kind": event.kind, "data": event.data}


# --- emitting (after commit) -----------------------------------------------------------------

def emit_events(events: list[RoomEvent]) -> None:
    """Send committed room events to their audiences, and act on the ones that change
    who is connected where."""
    rooms_touched: set[int] = set()
    for event in events:
        payload = event_payload(event)
        seat_id = event.data.get("seat_id")
        if event.kind == "admitted" and seat_id:
            _move_in(event.room_id, int(seat_id))
            payload = {**payload, "data": {**event.data, **_media_state(int(seat_id))}}
        socketio.emit("room_event", payload, to=_target(event), namespace=NAMESPACE)
        if event.kind in ("removed", "closed") and seat_id:
            reason = "removed" if event.kind == "removed" else event.data.get("reason", "done")
            close_seat(int(seat_id), reason)
        if event.kind in ("admitted", "arrived", "removed", "closed", "booked"):
            rooms_touched.add(event.room_id)
        if event.kind == "ended":
            _close_room(event.room_id)
    for room_id in rooms_touched:
        emit_lobby(room_id)
        emit_participants(room_id)


def emit_lobby(room_id: int) -> None:
    """The waiting list to the officials, and each waiting person's position."""
    room = db.session.get(Room, room_id)
    if room is None:
        return
    online = connected_seat_ids()
    queue = ops.waiting(db.session, room)
    waiting = [{"seat_id": s.id, "name": s.display_name, "kind": s.kind,
                "companion_of": s.companion_of_id, "online": s.id in online,
                "arrived_at": s.arrived_at.isoformat() if s.arrived_at else None,
                "position": n} for n, s in enumerate(queue, start=1)]
    socketio.emit("room_event", {"id": None, "kind": "lobby", "data": {"waiting": waiting}},
                  to=room_staff(room_id), namespace=NAMESPACE)
    with _lock:
        # only to those whose place changed: an arrival moves nobody, an admission moves
        # everyone behind
        changed = {seat.id: n for n, seat in enumerate(queue, start=1)
                   if seat.id in online and _positions.get(seat.id) != n}
        _positions.update(changed)
    if not changed:
        return
    delay = float(current_app.config.get("VIDEO_POSITION_DELAY_S", 1.0))
    if delay <= 0:
        _send_positions(changed)
        return
    # a busy official admits every few seconds; hundreds waiting need not hear about each
    # step at once: positions go out at most once per `delay`, the latest ones, off the
    # path of the admission itself (which the admitted person must hear about at once)
    with _lock:
        _pending_positions.setdefault(room_id, {}).update(changed)
        if room_id in _position_timers:
            return
        timer = threading.Timer(delay, _flush_positions, args=(room_id,))
        timer.daemon = True
        _position_timers[room_id] = timer
    timer.start()


def _flush_positions(room_id: int) -> None:
    with _lock:
        pending = _pending_positions.pop(room_id, {})
        _position_timers.pop(room_id, None)
        pending = {seat: n for seat, n in pending.items() if _positions.get(seat) == n}
    _send_positions(pending)


def _send_positions(positions: dict[int, int]) -> None:
    for seat_id, n in positions.items():
        socketio.emit("room_event", {"id": None, "kind": "position", "data": {"position": n}},
                      to=seat_room(seat_id), namespace=NAMESPACE)


def _participants(room: Room) -> list[dict[str, Any]]:
    online = connected_seat_ids()
    return [{"seat_id": s.id, "name": s.display_name, "kind": s.kind,
             "is_staff": s.is_staff, "audio_only": s.is_audio_only}
            for s in ops.admitted(db.session, room) if s.id in online]


def emit_participants(room_id: int) -> None:
    room = db.session.get(Room, room_id)
    if room is None:
        return
    socketio.emit("room_event", {"id": None, "kind": "participants",
                                 "data": {"seats": _participants(room)}},
                  to=room_in(room_id), namespace=NAMESPACE)


def _media_state(seat_id: int) -> dict[str, Any]:
    seat = db.session.get(Seat, seat_id)
    if seat is None:
        return {}
    online = connected_seat_ids()
    peers = [s.id for s in ops.admitted(db.session, seat.room)
             if s.id != seat.id and s.id in online]
    engine = current_engine()
    return {"ice_servers": engine.ice_servers(seat.seat_key), "peers": peers,
            "topology": engine.topology}


def _move_in(room_id: int, seat_id: int) -> None:
    with _lock:
        sid = _by_seat.get(seat_id)
    if sid is not None:
        socketio.server.enter_room(sid, room_in(room_id), namespace=NAMESPACE)


def close_seat(seat_id: int, reason: str) -> None:
    """Tell every connection of the seat why it closes, then drop the local ones."""
    socketio.emit("seat_closed", {"reason": reason,
                                  "message": str(CLOSE_MESSAGES.get(reason, ""))},
                  to=seat_room(seat_id), namespace=NAMESPACE)
    with _lock:
        sids = [b.sid for b in _by_sid.values() if b.seat_id == seat_id]
        for sid in sids:
            _by_sid.pop(sid, None)
        _by_seat.pop(seat_id, None)
    for sid in sids:  # every connection of the seat, not only the one that said hello
        disconnect(sid)


def close_connection(sid: str, reason: str) -> None:
    """Close one connection (a window whose seat went to another device)."""
    socketio.emit("seat_closed", {"reason": reason,
                                  "message": str(CLOSE_MESSAGES.get(reason, ""))},
                  to=sid, namespace=NAMESPACE)
    with _lock:
        binding = _by_sid.pop(sid, None)
        if binding is not None and _by_seat.get(binding.seat_id) == sid:
            _by_seat.pop(binding.seat_id, None)
    disconnect(sid)


def disconnect(sid: str) -> None:
    """Drop a connection from anywhere (a handler for another sid, a page, a thread)."""
    socketio.server.disconnect(sid, namespace=NAMESPACE)


def _close_room(room_id: int) -> None:
    with _lock:
        sids = [b.sid for b in _by_sid.values() if b.room_id == room_id]
        for sid in sids:
            binding = _by_sid.pop(sid)
            _by_seat.pop(binding.seat_id, None)
    for sid in sids:
        disconnect(sid)


def commit_and_emit() -> None:
    events = ops.pending_events(db.session)
    db.session.commit()
    emit_events(events)


# --- connecting ------------------------------------------------------------------------------

def _refuse(message: Any) -> None:
    from flask_socketio import ConnectionRefusedError

    raise ConnectionRefusedError(str(message))


def on_connect(auth: Any = None) -> bool:
    auth = auth if isinstance(auth, dict) else {}
    sid = request.sid  # type: ignore[attr-defined]
    if auth.get("token"):
        try:
            seat = ops.seat_for_token(db.session, str(auth["token"]))
        except ops.LinkRefused as refused:
            _refuse(refused.message)
        if seat.is_staff:
            _refuse(_l("This link is not valid."))
        binding = Binding(sid, seat.room_id, seat.id, None, token_hash=seat.token_hash)
    else:
        if not current_user.is_authenticated:
            _refuse(_l("Log in, or open the link you were sent."))
        try:
            room = db.session.get(Room, int(auth.get("room") or 0))
        except (TypeError, ValueError):
            room = None
        if room is None or not perm.can_host(current_user, room):
            _refuse(_l("You may not host this reception."))
        assert room is not None
        try:
            seat = ops.staff_seat(db.session, current_user, room)
        except DomainError as error:
            _refuse(error.message)
        db.session.commit()
        binding = Binding(sid, room.id, seat.id, current_user.id)
        join_room(room_staff(room.id))
        join_room(room_in(room.id))
        join_room(f"vu{current_user.id}")
    with _lock:
        _by_sid[sid] = binding
    join_room(room_all(binding.room_id))
    join_room(seat_room(binding.seat_id))
    return True  # a guest joins the room's inner circle in `hello`, once it is checked


def on_disconnect(*_args: Any) -> None:
    sid = request.sid  # type: ignore[attr-defined]
    with _lock:
        binding = _by_sid.pop(sid, None)
        if binding is not None and _by_seat.get(binding.seat_id) == sid:
            _by_seat.pop(binding.seat_id, None)
        else:
            binding = None  # replaced by a newer connection: nothing changed for the others
    if binding is not None:
        emit_lobby(binding.room_id)
        emit_participants(binding.room_id)
        db.session.rollback()


class Refused(Exception):
    """The sender may not do this; with `close`, its connection (or, unless `only_this`,
    every connection of its seat) is closed with that reason."""

    def __init__(self, message: Any, close: str | None = None, only_this: bool = False
                 ) -> None:
        super().__init__(str(message))
        self.message = message
        self.close = close
        self.only_this = only_this


def _current() -> tuple[Binding, Seat]:
    """The sender's binding and seat, re-checked: a removed guest or a logged-out official
    is closed here."""
    sid = request.sid  # type: ignore[attr-defined]
    with _lock:
        binding = _by_sid.get(sid)
    if binding is None:
        raise Refused(_l("This window is no longer in the reception."))
    seat = db.session.get(Seat, binding.seat_id)
    if seat is None:
        raise Refused(_l("This window is no longer in the reception."), "not_allowed")
    if seat.room.status == RoomStatus.ENDED:
        raise Refused(CLOSE_MESSAGES["ended"], "ended")
    if binding.user_id is not None:
        if not current_user.is_authenticated or current_user.id != binding.user_id:
            raise Refused(CLOSE_MESSAGES["logged_out"], "logged_out")
        if not perm.can_host(current_user, seat.room):
            raise Refused(CLOSE_MESSAGES["not_allowed"], "not_allowed")
    elif seat.state not in ops.OPEN_SEAT_STATES:
        raise Refused(CLOSE_MESSAGES.get(seat.state, CLOSE_MESSAGES["not_allowed"]),
                      "removed" if seat.state == SeatState.REMOVED else "not_allowed")
    elif seat.token_hash != binding.token_hash or (
            seat.token_expires_at is not None and seat.token_expires_at < utcnow()):
        raise Refused(CLOSE_MESSAGES["expired"], "expired", only_this=True)
    elif binding.device and seat.device_id and binding.device != seat.device_id:
        # the seat went to another device (perhaps through another server node)
        raise Refused(CLOSE_MESSAGES["opened_elsewhere"], "opened_elsewhere", only_this=True)
    return binding, seat


def _handler(staff_only: bool = False) -> Any:
    """Wrap an event handler: check the sender, turn refusals into `{ok: false, error}`
    acks, roll back on any error."""

    def wrap(fn: Any) -> Any:
        def handle(data: Any = None) -> dict[str, Any]:
            data = data if isinstance(data, dict) else {}
            try:
                binding, seat = _current()
                if staff_only and not seat.is_staff:
                    raise Refused(_l("Only the official can do that."))
                result = fn(binding, seat, data) or {}
                return {"ok": True, **result}
            except Refused as refused:
                db.session.rollback()
                if refused.close and refused.only_this:
                    close_connection(request.sid, refused.close)  # type: ignore[attr-defined]
                elif refused.close:
                    seat_id = _binding_seat()
                    if seat_id > 0:
                        close_seat(seat_id, refused.close)
                    close_connection(request.sid, refused.close)  # type: ignore[attr-defined]
                return {"ok": False, "error": str(refused.message)}
            except DomainError as error:
                db.session.rollback()
                return {"ok": False, "error": str(error.message)}
            except Exception:
                db.session.rollback()
                log.exception("video event %s failed", fn.__name__)
                return {"ok": False, "error": str(_l("Something went wrong; try again."))}

        handle.__name__ = fn.__name__
        return handle

    return wrap


def _binding_seat() -> int:
    sid = request.sid  # type: ignore[attr-defined]
    with _lock:
        binding = _by_sid.get(sid)
    return binding.seat_id if binding else -1


def _seat_info(seat: Seat) -> dict[str, Any]:
    return {"id": seat.id, "kind": seat.kind, "name": seat.display_name, "state": seat.state,
            "is_staff": seat.is_staff, "consent": seat.consent_at is not None}


def _room_info(room: Room) -> dict[str, Any]:
    return {"id": room.id, "title": room.title, "status": room.status,
            "is_recording": room.is_recording, "lobby_message": room.lobby_message}


@_handler()
def on_hello(binding: Binding, seat: Seat, data: dict[str, Any]) -> dict[str, Any]:
    device = str(data.get("device") or "")[:64]
    try:
        last_id = max(0, int(data.get("last_event_id") or 0))
    except (TypeError, ValueError):
        last_id = 0
    other_device = (seat.device_id is not None and seat.device_id != device) if device else False
    if not seat.is_staff:
        ops.arrive(db.session, seat, device)
    else:
        seat.device_id = device or None
    with _lock:
        old_sid = _by_seat.get(seat.id)
        _by_seat[seat.id] = binding.sid
        binding.device = device
        if old_sid is not None and old_sid != binding.sid:
            _by_sid.pop(old_sid, None)
    hello_events = ops.pending_events(db.session)
    db.session.commit()
    if other_device:
        # one person, one seat: the other device is told why and closed
        reason = "opened_elsewhere"
        socketio.emit("seat_closed", {"reason": reason,
                                      "message": str(CLOSE_MESSAGES[reason])},
                      to=seat_room(seat.id), skip_sid=binding.sid, namespace=NAMESPACE)
    if old_sid is not None and old_sid != binding.sid:
        disconnect(old_sid)  # the same device's earlier connection goes silently
    emit_events(hello_events)
    room = seat.room
    admitted = seat.is_staff or seat.state == SeatState.ADMITTED
    position = ops.position(db.session, seat)
    with _lock:
        if position is not None:
            _positions[seat.id] = position  # the ack tells it
        else:
            _positions.pop(seat.id, None)
    if admitted:
        join_room(room_in(room.id))
        emit_participants(room.id)
    if not any(e.kind == "arrived" for e in hello_events):
        emit_lobby(room.id)  # a reconnect: the officials see them online again
    media = _media_state(seat.id) if admitted else {"ice_servers": [], "peers": [],
                                                    "topology": current_engine().topology}
    return {"seat": _seat_info(seat), "room": _room_info(room),
            "position": position, **media,
            "events": [event_payload(e) for e in ops.missed_events(db.session, seat, last_id)]}


def _admitted_only(seat: Seat) -> None:
    if not (seat.is_staff or seat.state == SeatState.ADMITTED):
        raise Refused(_l("You are not in the room yet."))


@_handler()
def on_signal(binding: Binding, seat: Seat, data: dict[str, Any]) -> None:
    _admitted_only(seat)
    try:
        to = int(data.get("to") or 0)
    except (TypeError, ValueError):
        to = 0
    kind = data.get("kind")
    if kind not in ("offer", "answer", "candidate"):
        raise Refused(_l("Unknown signal."))
    other = db.session.get(Seat, to)
    if (other is None or other.room_id != seat.room_id or other.id == seat.id
            or not (other.is_staff or other.state == SeatState.ADMITTED)):
        raise Refused(_l("That person is not in the room."))
    socketio.emit("signal", {"from": seat.id, "kind": kind, "data": data.get("data")},
                  to=seat_room(other.id), namespace=NAMESPACE)


@_handler()
def on_media_offer(binding: Binding, seat: Seat, data: dict[str, Any]) -> dict[str, Any]:
    _admitted_only(seat)
    sdp = data.get("sdp")
    if not isinstance(sdp, str) or not sdp.startswith("v=0") or len(sdp) > 100_000:
        raise Refused(_l("The media offer is not valid."))
    engine = current_engine()
    room = seat.room
    if engine.topology == "mesh" and not room.is_recording:
        raise Refused(_l("The session is not being recorded."))
    room_key, seat_key, room_id = room.room_key, seat.seat_key, room.id
    others = [(s.id, s.seat_key) for s in ops.admitted(db.session, room) if s.id != seat.id]
    db.session.rollback()  # no transaction held while the engine works
    from video.engines.base import MediaError

    try:
        answer = engine.publish(room_key, seat_key, sdp)
    except MediaError as error:
        raise Refused(str(error)) from None
    if engine.topology == "sfu":
        _offer_feeds(engine, room_key, room_id, seat.id, seat_key, others)
    return {"sdp": answer}


def _offer_feeds(engine: Any, room_key: str, room_id: int, seat_id: int, seat_key: str,
                 others: list[tuple[int, str]]) -> None:
    """SFU: everyone connected receives the new publisher's feed, and the newcomer the
    feeds already published."""
    from video.engines.base import MediaError

    online = connected_seat_ids()
    with _lock:
        published = _published.setdefault(room_id, set())
        earlier = set(published)
        published.add(seat_id)
    for other_id, other_key in others:
        if other_id not in online:
            continue
        pairs = [(other_id, other_key, seat_id, seat_key)]
        if other_id in earlier:
            pairs.append((seat_id, seat_key, other_id, other_key))
        for to_id, to_key, feed_id, feed_key in pairs:
            try:
                offer = engine.subscribe(room_key, to_key, feed_key)
            except MediaError as error:
                log.warning("subscribe %s to %s failed: %s", to_key, feed_key, error)
                continue
            socketio.emit("subscribe_offer", {"feed": feed_id, "sdp": offer},
                          to=seat_room(to_id), namespace=NAMESPACE)


@_handler()
def on_subscribe_answer(binding: Binding, seat: Seat, data: dict[str, Any]) -> None:
    _admitted_only(seat)
    sdp = data.get("sdp")
    try:
        feed = db.session.get(Seat, int(data.get("feed") or 0))
    except (TypeError, ValueError):
        feed = None
    if feed is None or feed.room_id != seat.room_id or not isinstance(sdp, str):
        raise Refused(_l("That person is not in the room."))
    current_engine().subscribe_answer(seat.room.room_key, seat.seat_key, feed.seat_key, sdp)


@_handler()
def on_chat(binding: Binding, seat: Seat, data: dict[str, Any]) -> None:
    ops.chat(db.session, seat, str(data.get("text") or ""))
    commit_and_emit()


@_handler()
def on_audio_only(binding: Binding, seat: Seat, data: dict[str, Any]) -> None:
    _admitted_only(seat)
    seat.is_audio_only = bool(data.get("on"))
    db.session.commit()
    emit_participants(seat.room_id)


@_handler()
def on_consent(binding: Binding, seat: Seat, data: dict[str, Any]) -> None:
    ops.give_consent(db.session, seat)
    commit_and_emit()


@_handler()
def on_note_reply(binding: Binding, seat: Seat, data: dict[str, Any]) -> None:
    try:
        note_id = int(data.get("note_id") or 0)
    except (TypeError, ValueError):
        note_id = 0
    version = data.get("version")
    note = ops.answer_note(db.session, seat, note_id, bool(data.get("confirm")),
                           str(data.get("reason") or ""),
                           version if isinstance(version, int) else None)
    commit_and_emit()
    from video.filing import file_note_as_author

    file_note_as_author(note.id)


def _reload(binding: Binding) -> Seat:
    """The sender's seat again, after a step that committed (and maybe ended the
    session's objects)."""
    seat = db.session.get(Seat, binding.seat_id)
    assert seat is not None
    return seat


def _seat_id(data: dict[str, Any]) -> int:
    try:
        return int(data.get("seat_id") or 0)
    except (TypeError, ValueError):
        return 0


def _unpublish(room_id: int, room_key: str, seat_key: str) -> None:
    with _lock:
        _published.get(room_id, set()).discard(int(seat_key.split("-")[1]))
    current_engine().unpublish(room_key, seat_key)


@_handler(staff_only=True)
def on_admit(binding: Binding, seat: Seat, data: dict[str, Any]) -> dict[str, Any]:
    let_in = ops.admit(db.session, current_user, seat.room, _seat_id(data))
    commit_and_emit()
    return {"admitted": [s.id for s in let_in]}


@_handler(staff_only=True)
def on_deny(binding: Binding, seat: Seat, data: dict[str, Any]) -> None:
    ops.deny(db.session, current_user, seat.room, _seat_id(data))
    commit_and_emit()


def _stop_recording_of(seat_id: int, room: Room) -> None:
    """A recording belongs to one petitioner: it stops when they leave the room."""
    from video import filing

    recording = ops.current_recording(db.session, room)
    if recording is not None and recording.seat_id == seat_id:
        filing.stop(current_user, room)


@_handler(staff_only=True)
def on_remove(binding: Binding, seat: Seat, data: dict[str, Any]) -> None:
    _stop_recording_of(_seat_id(data), seat.room)
    seat = _reload(binding)
    removed = ops.remove(db.session, current_user, seat.room, _seat_id(data))
    room_key, seat_key = seat.room.room_key, removed.seat_key
    commit_and_emit()
    _unpublish(seat.room_id, room_key, seat_key)


@_handler(staff_only=True)
def on_finish(binding: Binding, seat: Seat, data: dict[str, Any]) -> None:
    _stop_recording_of(_seat_id(data), seat.room)
    seat = _reload(binding)
    done = ops.finish_seat(db.session, current_user, seat.room, _seat_id(data))
    room_key, seat_key = seat.room.room_key, done.seat_key
    commit_and_emit()
    _unpublish(seat.room_id, room_key, seat_key)


@_handler(staff_only=True)
def on_mute(binding: Binding, seat: Seat, data: dict[str, Any]) -> None:
    ops.mute(db.session, current_user, seat.room, _seat_id(data))
    commit_and_emit()


@_handler(staff_only=True)
def on_lobby_message(binding: Binding, seat: Seat, data: dict[str, Any]) -> None:
    ops.set_lobby_message(db.session, current_user, seat.room, str(data.get("text") or ""))
    commit_and_emit()


@_handler(staff_only=True)
def on_record(binding: Binding, seat: Seat, data: dict[str, Any]) -> dict[str, Any]:
    from video import filing

    room = seat.room
    if data.get("on"):
        recording = filing.start(current_user, room)
        return {"recording_id": recording}
    stopped = filing.stop(current_user, room)
    return {"recording_id": stopped}


@_handler(staff_only=True)
def on_end(binding: Binding, seat: Seat, data: dict[str, Any]) -> None:
    from video import filing

    room = seat.room
    if room.is_recording:
        filing.stop(current_user, room)
        reloaded = db.session.get(Room, binding.room_id)
        assert reloaded is not None
        room = reloaded
    ops.end_room(db.session, current_user, room)
    room_key = room.room_key
    commit_and_emit()
    current_engine().close_room(room_key)


HANDLERS = {
    "hello": on_hello, "signal": on_signal, "media_offer": on_media_offer,
    "subscribe_answer": on_subscribe_answer, "chat": on_chat, "audio_only": on_audio_only,
    "consent": on_consent, "note_reply": on_note_reply, "admit": on_admit, "deny": on_deny,
    "remove": on_remove, "finish": on_finish, "mute": on_mute,
    "lobby_message": on_lobby_message, "record": on_record, "end": on_end,
}


def _on_logout(_app: Any, user: Any) -> None:
    """A logged-out official's room windows close at once."""
    user_id = getattr(user, "id", None)
    if user_id is None:
        return
    with _lock:
        mine = [b for b in _by_sid.values() if b.user_id == user_id]
        for b in mine:
            _by_sid.pop(b.sid, None)
            if _by_seat.get(b.seat_id) == b.sid:
                _by_seat.pop(b.seat_id, None)
    socketio.emit("seat_closed", {"reason": "logged_out",
                                  "message": str(CLOSE_MESSAGES["logged_out"])},
                  to=f"vu{user_id}", namespace=NAMESPACE)
    for b in mine:
        disconnect(b.sid)


def register() -> None:
    socketio.on_event("connect", on_connect, namespace=NAMESPACE)
    socketio.on_event("disconnect", on_disconnect, namespace=NAMESPACE)
    for name, handler in HANDLERS.items():
        socketio.on_event(name, handler, namespace=NAMESPACE)
    user_logged_out.connect(_on_logout)
