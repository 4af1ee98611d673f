"""Signalling and room state on the Socket.IO namespace `/video` (see video/PROTOCOL.md).

Every connection is bound to one seat at connect time (a guest's join link, or a logged-in
official allowed to host the room); every event re-checks that seat's right to act. Room
state lives in the database (the queue, who is admitted, the event log); which socket
holds which seat, on which node, is in the core's connection registry (`portal.live`:
memory, or Redis shared by every socket node). Socket.IO rooms:
  v<room>          everyone connected to the room (waiting people included)
  v<room>:in       admitted people and officials
  v<room>:staff    officials
  v<room>:watch    admitted watch-only seats (observers: no chat, no other watcher's name)
  vs<seat>         every connection of one seat (the takeover notice goes here)
  vu<user>         an official's connections (closed at logout)

Each event is one unit of work (`portal.live.socket_event`): the handlers change the
database through `video.operations` and commit nothing themselves. The room events the
operations log are queued at every commit of a session (`_queue_room_events`) and sent
once it has committed, by `portal.transaction.commit` (the request and socket-event
wrappers, background threads); a rollback drops them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, NoReturn

from flask import current_app, has_request_context, request
from flask_login import current_user, user_logged_out
from flask_socketio import join_room
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from portal import live, transaction
from portal.errors import DomainError
from portal.extensions import db, socketio
from portal.i18n import lazy_gettext as _l
from portal.live import client_number
from portal.live.registry import Connection
from portal.timeutil import utcnow
from video import operations as ops
from video import permissions as perm
from video.engines import current_engine
from video.engines.base import MediaError
from video.models import Room, RoomStatus, Seat, SeatState

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


@dataclass(frozen=True)
class Binding:
    """A connection of this namespace as the registry holds it (on any node)."""

    sid: str
    room_id: int
    seat_id: int
    user_id: int | None
    device: str = ""
    #: a guest's link at connect time: a link made anew since closes this connection
    token_hash: str | None = None

    @classmethod
    def of(cls, conn: Connection) -> Binding:
        return cls(conn.sid, int(conn.room), int(conn.seat), conn.user_id,
                   conn.data.get("device", ""), conn.data.get("token_hash"))


@dataclass(frozen=True)
class LoggedEvent:
    """A committed room event, as sent (read before the commit expired the row)."""

    id: int
    room_id: int
    kind: str
    audience: str
    data: dict[str, Any]


def _binding(sid: str) -> Binding | None:
    conn = live.registry().get(NAMESPACE, sid)
    return Binding.of(conn) if conn is not None else None


def room_all(room_id: int) -> str:
    return f"v{room_id}"


def room_in(room_id: int) -> str:
    return f"v{room_id}:in"


def room_staff(room_id: int) -> str:
    return f"v{room_id}:staff"


def room_watch(room_id: int) -> str:
    """Admitted watch-only seats: they get the room's state, not its chat."""
    return f"v{room_id}:watch"


def inner_room(room_id: int, watch_only: bool) -> str:
    return room_watch(room_id) if watch_only else room_in(room_id)


def seat_room(seat_id: int) -> str:
    return f"vs{seat_id}"


def _published_key(room_id: int) -> str:
    """SFU rooms: the seats that publish a feed."""
    return f"video:published:{room_id}"


def _positions_key(room_id: int) -> str:
    """The last position each waiting seat of the room was told."""
    return f"video:positions:{room_id}"


def connected_seat_ids(room_id: int) -> set[int]:
    """The room's seats online now, on any node."""
    return {int(seat) for seat in live.registry().current_seats(NAMESPACE, str(room_id))}


def _target(event: LoggedEvent) -> str:
    audience = event.audience
    if audience == "room":
        return room_all(event.room_id)
    if audience == "in":
        return room_in(event.room_id)
    if audience == "staff":
        return room_staff(event.room_id)
    return seat_room(int(audience.split(":", 1)[1]))


def event_payload(event: Any) -> dict[str, Any]:
    return {"id": event.id, "kind": event.kind, "data": event.data}


# --- emitting (after commit) -----------------------------------------------------------------

@sa_event.listens_for(Session, "before_commit")
def _queue_room_events(session: Session) -> None:
    """The room events logged in this transaction go out once it has committed."""
    if not session.info.get("video.events"):
        return
    logged = [LoggedEvent(e.id, e.room_id, e.kind, e.audience, dict(e.data or {}))
              for e in ops.pending_events(session)]
    transaction.after_commit(session, lambda: emit_events(logged))


def _logging(kind: str) -> bool:
    """An event of `kind` is logged in the current transaction (not yet sent)."""
    return any(e.kind == kind for e in db.session.info.get("video.events", []))


def emit_events(events: list[LoggedEvent]) -> None:
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
    online = connected_seat_ids(room_id)
    queue = ops.waiting(db.session, room)
    waiting = [{"seat_id": s.id, "name": s.display_name, "kind": s.kind,
                "companion_of": s.companion_of_id, "online": s.id in online,
                "arrived_at": s.arrived_at.isoformat() if s.arrived_at else None,
                "position": n} for n, s in enumerate(queue, start=1)]
    socketio.emit("room_event", {"id": None, "kind": "lobby", "data": {"waiting": waiting}},
                  to=room_staff(room_id), namespace=NAMESPACE)
    # only to those whose place changed: an arrival moves nobody, an admission moves
    # everyone behind
    told = live.registry().map_get(_positions_key(room_id))
    if not any(told.get(str(s.id)) != str(n)
               for n, s in enumerate(queue, start=1) if s.id in online):
        return
    # a busy official admits every few seconds; hundreds waiting need not hear about each
    # step at once: positions go out at most once per `delay` per room (from one node,
    # whichever node the admissions came through), the latest ones, off the path of the
    # admission itself (which the admitted person must hear about at once)
    delay = float(current_app.config.get("VIDEO_POSITION_DELAY_S", 1.0))
    live.coalesce(_positions_key(room_id), delay, lambda: send_positions(room_id))


def send_positions(room_id: int) -> None:
    """Tell each waiting seat online its place, where it changed since it was told."""
    registry = live.registry()
    online = connected_seat_ids(room_id)
    now = {str(seat_id): str(n)
           for n, seat_id in enumerate(ops.waiting_ids(db.session, room_id), start=1)
           if seat_id in online}
    told = registry.map_get(_positions_key(room_id))
    changed = {seat: n for seat, n in now.items() if told.get(seat) != n}
    registry.map_update(_positions_key(room_id), changed,
                        remove=[seat for seat in told if seat not in now])
    for seat, n in changed.items():
        socketio.emit("room_event", {"id": None, "kind": "position",
                                     "data": {"position": int(n)}},
                      to=seat_room(int(seat)), namespace=NAMESPACE)


def _participants(room: Room) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Who is in now: as the room's senders see them, and as its watchers see those who
    send (each seat by its public name when the owning domain gave one)."""
    online = connected_seat_ids(room.id)
    seats = [s for s in ops.admitted(db.session, room) if s.id in online]

    def row(s: Seat, name: str) -> dict[str, Any]:
        return {"seat_id": s.id, "name": name, "kind": s.kind, "is_staff": s.is_staff,
                "audio_only": s.is_audio_only, "watch_only": s.is_watch_only}

    return ([row(s, s.display_name) for s in seats],
            [row(s, s.public_name or s.display_name) for s in seats
             if not s.is_watch_only])


def emit_participants(room_id: int) -> None:
    room = db.session.get(Room, room_id)
    if room is None:
        return
    seats, senders = _participants(room)
    socketio.emit("room_event", {"id": None, "kind": "participants",
                                 "data": {"seats": seats}},
                  to=room_in(room_id), namespace=NAMESPACE)
    if room.is_multi_party:
        # watchers see who speaks (by public name) and how many watch, not one another
        socketio.emit("room_event", {"id": None, "kind": "participants", "data": {
            "seats": senders, "watchers": len(seats) - len(senders)}},
            to=room_watch(room_id), namespace=NAMESPACE)


def _media_state(seat_id: int) -> dict[str, Any]:
    seat = db.session.get(Seat, seat_id)
    if seat is None:
        return {}
    online = connected_seat_ids(seat.room_id)
    # a watcher connects to those who send, never to another watcher
    peers = [s.id for s in ops.admitted(db.session, seat.room)
             if s.id != seat.id and s.id in online
             and not (seat.is_watch_only and s.is_watch_only)]
    engine = current_engine()
    return {"ice_servers": engine.ice_servers(seat.seat_key), "peers": peers,
            "topology": engine.topology}


def _move_in(room_id: int, seat_id: int) -> None:
    """The seat's connection joins the inner room (a watcher's own), on whichever node it
    is."""
    sid = live.registry().current_sid(NAMESPACE, str(seat_id))
    seat = db.session.get(Seat, seat_id)
    if sid is not None and seat is not None:
        live.enter_room(sid, inner_room(room_id, seat.is_watch_only), NAMESPACE)


def _message(reason: str) -> dict[str, str]:
    return {"reason": reason, "message": str(CLOSE_MESSAGES.get(reason, ""))}


def close_seat(seat_id: int, reason: str) -> None:
    """Tell every connection of the seat why it closes, then drop them all (any node)."""
    socketio.emit("seat_closed", _message(reason), to=seat_room(seat_id),
                  namespace=NAMESPACE)
    registry = live.registry()
    # every connection of the seat, not only the one that said hello
    for conn in registry.connections(NAMESPACE, seat=str(seat_id)):
        registry.remove(NAMESPACE, conn.sid)
        disconnect(conn.sid)


def close_connection(sid: str, reason: str) -> None:
    """Close one connection (a window whose seat went to another device)."""
    socketio.emit("seat_closed", _message(reason), to=sid, namespace=NAMESPACE)
    live.registry().remove(NAMESPACE, sid)
    disconnect(sid)


def disconnect(sid: str) -> None:
    """Drop a connection from anywhere (a handler for another sid, a page, a thread,
    another node)."""
    live.disconnect(sid, NAMESPACE)


def _replying_sid() -> str | None:
    """The connection whose event of this namespace is being handled, if any."""
    if not has_request_context() or getattr(request, "namespace", None) != NAMESPACE:
        return None
    sid: str | None = getattr(request, "sid", None)
    return sid


def _close_room(room_id: int) -> None:
    """Every connection of the room closes; the one that ended it (the official's) once
    its `end` has been acknowledged, or the ack would never reach it."""
    registry = live.registry()
    replying = _replying_sid()
    for conn in registry.connections(NAMESPACE, room=str(room_id)):
        registry.remove(NAMESPACE, conn.sid)
        if conn.sid == replying:
            live.disconnect_after_reply(conn.sid, NAMESPACE)
        else:
            disconnect(conn.sid)
    registry.delete(_published_key(room_id), _positions_key(room_id))


def nodes_lost(app: Any, conns: list[Connection]) -> None:
    """A socket node died: the rooms its people were in see them offline."""
    rooms = {int(c.room) for c in conns if c.namespace == NAMESPACE}
    if not rooms:
        return
    with app.app_context():
        for room_id in rooms:
            emit_lobby(room_id)
            emit_participants(room_id)


# --- connecting ------------------------------------------------------------------------------

def _refuse(error: DomainError) -> NoReturn:
    """A refused connection: the client gets a connect_error with the message."""
    from flask_socketio import ConnectionRefusedError

    raise ConnectionRefusedError(str(error.message))


def _bind(auth: dict[str, Any]) -> tuple[Seat, int | None, str | None, bool]:
    """The seat a new connection takes: (seat, the account's user id, the link's hash,
    whether it hosts); a DomainError refuses the connection."""
    if auth.get("token"):
        seat = ops.seat_for_token(db.session, str(auth["token"]))
        if seat.is_staff:
            raise DomainError(_l("This link is not valid."))
        return seat, None, seat.token_hash, False
    if not current_user.is_authenticated:
        raise DomainError(_l("Log in, or open the link you were sent."))
    room = db.session.get(Room, client_number(auth.get("room")))
    # a private room: its named seats only (an admin or the office's staff are refused)
    if room is None or not perm.can_join_room(current_user, room):
        raise DomainError(_l("You may not host this reception."))
    hosting = perm.can_host(current_user, room)
    return ops.account_seat(db.session, current_user, room), current_user.id, None, hosting


def on_connect(auth: Any = None) -> bool:
    auth = auth if isinstance(auth, dict) else {}
    sid = request.sid  # type: ignore[attr-defined]

    def bind() -> tuple[int, int, int | None, str | None, bool]:
        seat, user_id, token_hash, hosting = _bind(auth)
        return seat.room_id, seat.id, user_id, token_hash, hosting

    # one unit of work (an official's seat may be made); then the registry knows it
    room_id, seat_id, user_id, token_hash, hosting = transaction.run(db.session, bind,
                                                                     _refuse)
    live.registry().connect(NAMESPACE, sid, str(room_id), str(seat_id), user_id,
                            {"token_hash": token_hash} if token_hash else {})
    if user_id is not None:
        if hosting:  # a named seat with an account (a panel member) is not an official
            join_room(room_staff(room_id))
        join_room(room_in(room_id))
        join_room(f"vu{user_id}")
    join_room(room_all(room_id))
    join_room(seat_room(seat_id))
    return True  # a guest joins the room's inner circle in `hello`, once it is checked


def on_disconnect(*_args: Any) -> None:
    sid = request.sid  # type: ignore[attr-defined]
    conn, was_current = live.registry().remove(NAMESPACE, sid)
    # replaced by a newer connection (or closed by the server): nothing changed for others
    if conn is not None and was_current:
        emit_lobby(int(conn.room))
        emit_participants(int(conn.room))


class Refused(DomainError):
    """The sender may not do this; with `close`, its connection (or, unless `only_this`,
    every connection of its seat) is closed with that reason."""

    def __init__(self, message: Any, close: str | None = None, only_this: bool = False
                 ) -> None:
        super().__init__(message)
        self.close = close
        self.only_this = only_this


def _current() -> tuple[Binding, Seat]:
    """The sender's binding and seat, re-checked: a removed guest or a logged-out official
    is closed here."""
    binding = _binding(request.sid)  # type: ignore[attr-defined]
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
        if not perm.can_join_room(current_user, seat.room):
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


def _close_refused(error: DomainError) -> None:
    """A refusal with `close`: the sender's window (or every window of its seat) closes."""
    if not isinstance(error, Refused) or not error.close:
        return
    sid = request.sid  # type: ignore[attr-defined]
    if not error.only_this:
        binding = _binding(sid)
        if binding is not None:
            close_seat(binding.seat_id, error.close)
    close_connection(sid, error.close)


def _handler(staff_only: bool = False) -> Any:
    """An event handler `fn(binding, seat, data)` of the namespace: the sender is checked
    first, then `fn` runs as one unit of work (`live.socket_event`); a refusal with
    `close` closes connections."""

    def wrap(fn: Any) -> Any:
        def handler(data: dict[str, Any]) -> Any:
            binding, seat = _current()
            if staff_only and not (seat.is_staff and binding.user_id is not None
                                   and perm.can_host(current_user, seat.room)):
                raise Refused(_l("Only the official can do that."))
            return fn(binding, seat, data)

        handler.__name__ = fn.__name__
        return live.socket_event(handler, on_refused=_close_refused,
                                 message_for=_message_for)

    return wrap


def _message_for(error: DomainError) -> Any:
    """What the sender reads of a refusal: a media engine's own words (its URL, paths) go
    to officials only; a petitioner is told plainly."""
    if isinstance(error, MediaError):
        binding = _binding(request.sid)  # type: ignore[attr-defined]
        if binding is None or binding.user_id is None:
            return _l("The video connection could not be set up. Please try again.")
    return error.message


def _seat_info(seat: Seat) -> dict[str, Any]:
    return {"id": seat.id, "kind": seat.kind, "name": seat.display_name, "state": seat.state,
            "is_staff": seat.is_staff, "consent": seat.consent_at is not None,
            "watch_only": seat.is_watch_only}


def _room_info(room: Room) -> dict[str, Any]:
    return {"id": room.id, "title": room.title, "status": room.status,
            "is_recording": room.is_recording, "lobby_message": room.lobby_message,
            "multi_party": room.is_multi_party, "private": room.is_private}


@_handler()
def on_hello(binding: Binding, seat: Seat, data: dict[str, Any]) -> dict[str, Any]:
    device = str(data.get("device") or "")[:64]
    last_id = client_number(data.get("last_event_id"))
    other_device = (seat.device_id is not None and seat.device_id != device) if device else False
    if not seat.is_staff:
        ops.arrive(db.session, seat, device)
    else:
        seat.device_id = device or None
    arrived = _logging("arrived")
    room = seat.room
    room_id, seat_id, sid = room.id, seat.id, binding.sid
    admitted = seat.is_staff or seat.state == SeatState.ADMITTED
    inner = inner_room(room_id, seat.is_watch_only)
    position = ops.position(db.session, seat)

    def take_seat() -> None:
        registry = live.registry()
        conn, old_sid = registry.claim(NAMESPACE, sid, {"device": device})
        if conn is None:
            return  # closed meanwhile (the seat was removed, the room ended)
        if other_device:
            # one person, one seat: the other device is told why and closed
            socketio.emit("seat_closed", _message("opened_elsewhere"), to=seat_room(seat_id),
                          skip_sid=sid, namespace=NAMESPACE)
        if old_sid is not None:
            # the earlier connection (the same device's: silently), on whichever node
            registry.remove(NAMESPACE, old_sid)
            disconnect(old_sid)
        if position is not None:  # the ack tells it
            registry.map_update(_positions_key(room_id), {str(seat_id): str(position)})
        else:
            registry.map_update(_positions_key(room_id), {}, remove=[str(seat_id)])
        if admitted:
            live.enter_room(sid, inner, NAMESPACE)
            emit_participants(room_id)
        if not arrived:
            emit_lobby(room_id)  # a reconnect: the officials see them online again

    # after the commit, before the room events of this transaction go out
    transaction.after_commit(db.session, take_seat)
    media = _media_state(seat.id) if admitted else {"ice_servers": [], "peers": [],
                                                    "topology": current_engine().topology}
    return {"seat": _seat_info(seat), "room": _room_info(room),
            "position": position, **media,
            "events": [event_payload(e) for e in ops.missed_events(
                db.session, seat, last_id,
                host=binding.user_id is not None and perm.can_host(current_user, room))]}


def _admitted_only(seat: Seat) -> None:
    if not (seat.is_staff or seat.state == SeatState.ADMITTED):
        raise Refused(_l("You are not in the room yet."))


@_handler()
def on_signal(binding: Binding, seat: Seat, data: dict[str, Any]) -> None:
    _admitted_only(seat)
    to = client_number(data.get("to"))
    kind = data.get("kind")
    if kind not in ("offer", "answer", "candidate"):
        raise Refused(_l("Unknown signal."))
    other = db.session.get(Seat, to)
    if (other is None or other.room_id != seat.room_id or other.id == seat.id
            or not (other.is_staff or other.state == SeatState.ADMITTED)):
        raise Refused(_l("That person is not in the room."))
    if seat.is_watch_only:
        _check_watching(other, kind, data.get("data"))
    live.emit_after_commit("signal", {"from": seat.id, "kind": kind, "data": data.get("data")},
                           to=seat_room(other.id), namespace=NAMESPACE)


def sends_media(sdp: str) -> bool:
    """Whether an SDP offers or accepts to send sound or picture: an audio or video
    section that is not rejected (port 0) and not recvonly / inactive."""
    sending = False
    for section in sdp.replace("\r\n", "\n").split("\nm=")[1:]:
        lines = section.split("\n")
        head = lines[0].split()
        if len(head) < 2 or head[0] not in ("audio", "video") or head[1] == "0":
            continue
        direction = "sendrecv"
        for line in lines[1:]:
            line = line.strip()
            if line in ("a=sendrecv", "a=sendonly", "a=recvonly", "a=inactive"):
                direction = line[2:]
        sending = sending or direction in ("sendrecv", "sendonly")
    return sending


def _check_watching(other: Seat, kind: Any, payload: Any) -> None:
    """A watch-only seat signals only to those who send, and only to receive."""
    if other.is_watch_only:
        raise Refused(_l("Observers do not connect to each other."))
    if kind in ("offer", "answer"):
        sdp = payload.get("sdp") if isinstance(payload, dict) else None
        if not isinstance(sdp, str) or sends_media(sdp):
            raise Refused(_l("An observer's seat receives sound and picture only."))


@_handler()
def on_media_offer(binding: Binding, seat: Seat, data: dict[str, Any]) -> Any:
    _admitted_only(seat)
    if seat.is_watch_only:  # publishing (SFU) or sending to the recorder (mesh) is sending
        raise Refused(_l("An observer's seat receives sound and picture only."))
    sdp = data.get("sdp")
    if not isinstance(sdp, str) or not sdp.startswith("v=0") or len(sdp) > 100_000:
        raise Refused(_l("The media offer is not valid."))
    engine = current_engine()
    room = seat.room
    if engine.topology == "mesh" and not room.is_recording:
        raise Refused(_l("The session is not being recorded."))
    room_key, seat_key, room_id, seat_id = room.room_key, seat.seat_key, room.id, seat.id
    others = [(s.id, s.seat_key) for s in ops.admitted(db.session, room) if s.id != seat.id]

    def publish() -> dict[str, Any]:
        """No transaction is held while the engine works."""
        answer = engine.publish(room_key, seat_key, sdp)  # MediaError: a refusal
        if engine.topology == "sfu":
            _offer_feeds(engine, room_key, room_id, seat_id, seat_key, others)
        return {"sdp": answer}

    return live.after_commit_reply(publish)


def _offer_feeds(engine: Any, room_key: str, room_id: int, seat_id: int, seat_key: str,
                 others: list[tuple[int, str]]) -> None:
    """SFU: everyone connected (on any node) receives the new publisher's feed, and the
    newcomer the feeds already published."""
    from video.engines.base import MediaError

    online = connected_seat_ids(room_id)
    earlier = {int(s) for s in live.registry().set_add(_published_key(room_id), str(seat_id))}
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
def on_subscribe_answer(binding: Binding, seat: Seat, data: dict[str, Any]) -> Any:
    _admitted_only(seat)
    sdp = data.get("sdp")
    feed = db.session.get(Seat, client_number(data.get("feed")))
    if feed is None or feed.room_id != seat.room_id or not isinstance(sdp, str):
        raise Refused(_l("That person is not in the room."))
    room_key, seat_key, feed_key = seat.room.room_key, seat.seat_key, feed.seat_key

    def answer() -> None:
        current_engine().subscribe_answer(room_key, seat_key, feed_key, sdp)

    return live.after_commit_reply(answer)


@_handler()
def on_chat(binding: Binding, seat: Seat, data: dict[str, Any]) -> None:
    ops.chat(db.session, seat, str(data.get("text") or ""))


@_handler()
def on_audio_only(binding: Binding, seat: Seat, data: dict[str, Any]) -> None:
    _admitted_only(seat)
    seat.is_audio_only = bool(data.get("on"))
    room_id = seat.room_id
    transaction.after_commit(db.session, lambda: emit_participants(room_id))


@_handler()
def on_consent(binding: Binding, seat: Seat, data: dict[str, Any]) -> None:
    ops.give_consent(db.session, seat)


@_handler()
def on_note_reply(binding: Binding, seat: Seat, data: dict[str, Any]) -> None:
    from video import filing

    note_id = client_number(data.get("note_id"))
    version = data.get("version")
    note = ops.answer_note(db.session, seat, note_id, bool(data.get("confirm")),
                           str(data.get("reason") or ""),
                           version if isinstance(version, int) else None)
    filing.file_answer_after_commit(note.id)  # the answer stands even if filing fails


def _seat_id(data: dict[str, Any]) -> int:
    return client_number(data.get("seat_id"))


def _unpublish(room_id: int, room_key: str, seat_id: int, seat_key: str) -> None:
    live.registry().set_discard(_published_key(room_id), str(seat_id))
    current_engine().unpublish(room_key, seat_key)


@_handler(staff_only=True)
def on_admit(binding: Binding, seat: Seat, data: dict[str, Any]) -> dict[str, Any]:
    let_in = ops.admit(db.session, current_user, seat.room, _seat_id(data))
    return {"admitted": [s.id for s in let_in]}


@_handler(staff_only=True)
def on_admit_all(binding: Binding, seat: Seat, data: dict[str, Any]) -> dict[str, Any]:
    let_in = ops.admit_all(db.session, current_user, seat.room)
    return {"admitted": [s.id for s in let_in]}


@_handler()
def on_watch(binding: Binding, seat: Seat, data: dict[str, Any]) -> Any:
    """SFU: a seat that does not publish (a watcher) asks for the feeds published so far;
    later publishers' feeds are offered to it as they come."""
    _admitted_only(seat)
    engine = current_engine()
    if engine.topology != "sfu":
        return None  # mesh: the senders' offers come through `signal`
    room = seat.room
    room_key, room_id, seat_id, seat_key = room.room_key, room.id, seat.id, seat.seat_key
    keys = {s.id: s.seat_key for s in ops.admitted(db.session, room)}

    def offer() -> None:
        published = live.registry().set_members(_published_key(room_id))
        for feed_id in sorted(int(f) for f in published):
            if feed_id == seat_id or feed_id not in keys:
                continue
            try:
                sdp = engine.subscribe(room_key, seat_key, keys[feed_id])
            except MediaError as error:
                log.warning("subscribe %s to %s failed: %s", seat_key, keys[feed_id], error)
                continue
            socketio.emit("subscribe_offer", {"feed": feed_id, "sdp": sdp},
                          to=seat_room(seat_id), namespace=NAMESPACE)

    transaction.after_commit(db.session, offer)
    return None


@_handler(staff_only=True)
def on_deny(binding: Binding, seat: Seat, data: dict[str, Any]) -> None:
    ops.deny(db.session, current_user, seat.room, _seat_id(data))


def _take_out(room: Room, seat_id: int, operation: Any) -> None:
    """Remove or finish a seat: a recording of that petitioner stops (a recording belongs
    to one petitioner), and once committed, their media leaves the engine."""
    from video import filing

    recording = ops.current_recording(db.session, room)
    if recording is not None and recording.seat_id == seat_id:
        filing.stop(current_user, room)
    out = operation(db.session, current_user, room, seat_id)
    room_id, room_key, out_id, out_key = room.id, room.room_key, out.id, out.seat_key
    transaction.after_commit(db.session, lambda: _unpublish(room_id, room_key, out_id, out_key),
                             last=True)


@_handler(staff_only=True)
def on_remove(binding: Binding, seat: Seat, data: dict[str, Any]) -> None:
    _take_out(seat.room, _seat_id(data), ops.remove)


@_handler(staff_only=True)
def on_finish(binding: Binding, seat: Seat, data: dict[str, Any]) -> None:
    _take_out(seat.room, _seat_id(data), ops.finish_seat)


@_handler(staff_only=True)
def on_mute(binding: Binding, seat: Seat, data: dict[str, Any]) -> None:
    ops.mute(db.session, current_user, seat.room, _seat_id(data))


@_handler(staff_only=True)
def on_lobby_message(binding: Binding, seat: Seat, data: dict[str, Any]) -> None:
    ops.set_lobby_message(db.session, current_user, seat.room, str(data.get("text") or ""))


@_handler(staff_only=True)
def on_record(binding: Binding, seat: Seat, data: dict[str, Any]) -> dict[str, Any]:
    from video import filing

    room = seat.room
    if data.get("on"):
        return {"recording_id": filing.start(current_user, room)}
    return {"recording_id": filing.stop(current_user, room)}


@_handler(staff_only=True)
def on_end(binding: Binding, seat: Seat, data: dict[str, Any]) -> None:
    from video import filing

    room = seat.room
    filing.stop(current_user, room)  # a recording running stops and is processed
    # people still booked or waiting: refused (naming them, nothing changed) unless the
    # official confirms
    ops.end_room(db.session, current_user, room, confirm=data.get("confirm") is True)
    room_key = room.room_key

    def close_media() -> None:
        current_engine().close_room(room_key)

    transaction.after_commit(db.session, close_media, last=True)


HANDLERS = {
    "hello": on_hello, "signal": on_signal, "media_offer": on_media_offer,
    "subscribe_answer": on_subscribe_answer, "chat": on_chat, "audio_only": on_audio_only,
    "consent": on_consent, "note_reply": on_note_reply, "admit": on_admit,
    "admit_all": on_admit_all, "watch": on_watch, "deny": on_deny,
    "remove": on_remove, "finish": on_finish, "mute": on_mute,
    "lobby_message": on_lobby_message, "record": on_record, "end": on_end,
}


def _on_logout(_app: Any, user: Any) -> None:
    """A logged-out official's room windows close at once (on every node)."""
    user_id = getattr(user, "id", None)
    if user_id is None:
        return
    registry = live.registry()
    mine = registry.connections(NAMESPACE, user_id=user_id)
    for conn in mine:
        registry.remove(NAMESPACE, conn.sid)
    socketio.emit("seat_closed", _message("logged_out"), to=f"vu{user_id}",
                  namespace=NAMESPACE)
    for conn in mine:
        disconnect(conn.sid)


def register() -> None:
    socketio.on_event("connect", on_connect, namespace=NAMESPACE)
    socketio.on_event("disconnect", on_disconnect, namespace=NAMESPACE)
    for name, handler in HANDLERS.items():
        socketio.on_event(name, handler, namespace=NAMESPACE)
    user_logged_out.connect(_on_logout)
