"""The chat of a consultation on the Socket.IO namespace `/consult`.

A client connects (the lawyer with their login cookie, the person asking anonymously) and
emits `join` {consultation_id, token?, after_id?}: the person by their personal link, the
answering lawyer or an organiser (read only) by their login. Socket.IO rooms:
  consultation-<id>          both sides (and organisers reading): messages, status
  consultation-<id>:asker    the person's windows: queue positions, marks on their messages
  consultation-<id>:lawyer   the lawyer's windows: marks on their messages
  user:<user>                a logged-in user's windows (closed at logout; live.user_room)

Which consultations a connection joined, and as which side, is kept per sid in this
process (every event of a sid reaches the node that holds it); the logged-in users'
connections are in the core's registry so a logout closes them on any node. Each event
is one unit of work (`portal.live.socket_event`); emits go out after the commit."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from functools import cache
from typing import Any

from flask import request
from flask_login import current_user, user_logged_out
from flask_socketio import join_room
from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import load_only

from consultations import chat, intake, links
from consultations import permissions as perm
from consultations.models import Consultation, ConsultationStatus, Sender
from portal import live, transaction
from portal.errors import DomainError
from portal.extensions import DbSession as Session
from portal.extensions import db, socketio
from portal.i18n import lazy_gettext as _l
from portal.live import client_number
from portal.timeutil import utcnow

NAMESPACE = "/consult"
#: an organiser reading a consultation: neither side of it
READER = "reader"
#: the queue positions last told, by consultation id (shared by the socket nodes)
POSITIONS_KEY = "consult:positions"

CLOSE_MESSAGES = {
    "logged_out": _l("You logged out, so this chat window was closed."),
    "link": _l("This link no longer opens the consultation."),
    "not_allowed": _l("You may no longer take part in this consultation."),
}


@dataclass(frozen=True)
class Joined:
    """A connection's place in one consultation."""

    consultation_id: int
    side: str  # Sender.ASKER, Sender.LAWYER or READER
    user_id: int | None
    token_hash: str | None
    #: the lawyer's registry person (their side only)
    person_id: int | None = None


_joined: dict[str, dict[int, Joined]] = {}
_lock = threading.Lock()


def side_room(consultation_id: int, side: str) -> str:
    return f"consultation-{consultation_id}:{side}"


class Refused(DomainError):
    """Refused; with `close`, the sender's connection is closed after the answer."""

    def __init__(self, message: Any, close: str | None = None) -> None:
        super().__init__(message)
        self.close = close


def _close_refused(error: DomainError) -> None:
    if isinstance(error, Refused) and error.close:
        sid = request.sid  # type: ignore[attr-defined]
        socketio.emit("closed", _closing(error.close), to=sid, namespace=NAMESPACE)
        _forget(sid)
        live.disconnect_after_reply(sid, NAMESPACE)


def _closing(reason: str) -> dict[str, str]:
    return {"reason": reason, "message": str(CLOSE_MESSAGES[reason])}


def _forget(sid: str) -> None:
    with _lock:
        places = _joined.pop(sid, None) or {}
        _sent_at.pop(sid, None)
    registry = live.registry()
    for joined in places.values():
        if joined.user_id is not None:
            registry.set_discard(_members_key(joined.consultation_id), _member(sid, joined))
    registry.remove(NAMESPACE, sid)


def _members_key(consultation_id: int) -> str:
    """The logged-in connections (lawyer, organisers) that joined a consultation, on any
    node: what `evict` re-checks when the consultation changes hands."""
    return f"consult:members:{consultation_id}"


def _member(sid: str, joined: Joined) -> str:
    return f"{sid} {joined.side} {joined.user_id}"


# --- connecting ------------------------------------------------------------------------------

def on_connect(auth: Any = None) -> bool:
    """Anyone may connect; nothing is sent before a `join` names a consultation."""
    sid = request.sid  # type: ignore[attr-defined]
    if current_user.is_authenticated:
        live.registry().connect(NAMESPACE, sid, "", f"u{current_user.id}", current_user.id)
        join_room(live.user_room(current_user.id))
    return True


def on_disconnect(*_args: Any) -> None:
    _forget(request.sid)  # type: ignore[attr-defined]


NOT_FOUND = _l("This consultation does not exist, or this link or login does not open it.")


def _identify(consultation: Consultation, token: Any) -> Joined:
    if token:
        found = links.consultation_by_token(db.session(), str(token))
        if found is None or found.id != consultation.id:
            raise Refused(NOT_FOUND)
        return Joined(consultation.id, Sender.ASKER, None, found.token_hash)
    if not current_user.is_authenticated:
        raise Refused(NOT_FOUND)
    if perm.answers(current_user, consultation):
        return Joined(consultation.id, Sender.LAWYER, current_user.id, None,
                      consultation.lawyer_id)
    if perm.can_view_consultation(current_user, consultation):
        return Joined(consultation.id, READER, current_user.id, None)
    raise Refused(NOT_FOUND)


def _consultation(data: dict[str, Any]) -> Consultation:
    found = db.session.get(Consultation, client_number(data.get("consultation_id")))
    if found is None:
        raise Refused(NOT_FOUND)
    return found


def _remember_position(consultation: Consultation, position: int | None) -> None:
    """What the person was told on joining, so that `announce_queue` tells them when it
    changes (a held consultation: 0, until it is queued or taken)."""
    if position is None and consultation.status == ConsultationStatus.HELD:
        position = 0
    if position is not None:
        live.registry().map_update(POSITIONS_KEY, {str(consultation.id): str(position)})


def on_join(data: dict[str, Any]) -> dict[str, Any]:
    consultation = _consultation(data)
    joined = _identify(consultation, data.get("token"))
    sid = request.sid  # type: ignore[attr-defined]
    with _lock:
        _joined.setdefault(sid, {})[consultation.id] = joined
    if joined.user_id is not None:
        live.registry().set_add(_members_key(consultation.id), _member(sid, joined))
    # in the rooms before reading the history: a message committed meanwhile comes twice
    # at worst (the client keeps one per id), never not at all
    join_room(consultation.room_key)
    if joined.side != READER:
        join_room(side_room(consultation.id, joined.side))
    position = intake.position(db.session, consultation)
    _remember_position(consultation, position)
    messages, more = chat.history(db.session, consultation,
                                  client_number(data.get("after_id")))
    return {"consultation_id": consultation.id, "side": joined.side,
            "status": _shown_status(consultation, position), "position": position,
            "video": _video_open(consultation),
            "messages": chat.message_payloads(db.session, messages),
            "has_more": more,
            "server_time": utcnow().isoformat()}


def _shown_status(consultation: Consultation, position: int | None) -> str:
    """A held question counts as waiting once duty has started (intake.position)."""
    if consultation.status == ConsultationStatus.HELD and position is not None:
        return ConsultationStatus.QUEUED
    return consultation.status


def _current(data: dict[str, Any]) -> tuple[Joined, Consultation]:
    """The sender's place in the consultation the event names, re-checked: a logged-out
    lawyer or a replaced link is closed here."""
    sid = request.sid  # type: ignore[attr-defined]
    cid = client_number(data.get("consultation_id"))
    with _lock:
        joined = _joined.get(sid, {}).get(cid)
    consultation = _chat_row(cid) if joined else None
    if joined is None or consultation is None:
        raise Refused(_l("Open this consultation first (join it), then write."))
    if joined.user_id is not None:
        if not current_user.is_authenticated or current_user.id != joined.user_id:
            raise Refused(CLOSE_MESSAGES["logged_out"], "logged_out")
        allowed = (perm.still_answers(current_user, consultation, joined.person_id)
                   if joined.side == Sender.LAWYER
                   else perm.can_view_consultation(current_user, consultation))
        if not allowed:
            raise Refused(CLOSE_MESSAGES["not_allowed"], "not_allowed")
    elif joined.token_hash != consultation.token_hash:
        raise Refused(CLOSE_MESSAGES["link"], "link")
    return joined, consultation


def _chat_row(consultation_id: int) -> Consultation | None:
    """The consultation with the columns an event reads: not its encrypted phone, nor the
    question and the answer (each event loads it; most of them are messages)."""
    return db.session.scalars(_chat_row_query(), {"id": consultation_id}).first()


@cache
def _chat_row_query() -> Select[Consultation]:
    """Built once: the loader options are costly to make again for every event."""
    return (select(Consultation)
            .options(load_only(Consultation.id, Consultation.status, Consultation.token_hash,
                               Consultation.lawyer_id, Consultation.video_room_id,
                               Consultation.version))
            .where(Consultation.id == bindparam("id")))


def _writer(joined: Joined) -> str:
    if joined.side == READER:
        raise Refused(_l("You may read this consultation but not write in it: only the "
                         "lawyer answering it writes."))
    return joined.side


#: messages one window may send within FLOOD_WINDOW_S seconds (a person types far fewer)
FLOOD_MESSAGES = 20
FLOOD_WINDOW_S = 10.0
_sent_at: dict[str, deque[float]] = {}


def _check_pace(sid: str) -> None:
    """A window sending faster than anyone types is refused for a moment (per connection:
    its events all reach this process)."""
    now = time.monotonic()
    with _lock:
        recent = _sent_at.setdefault(sid, deque())
        while recent and now - recent[0] > FLOOD_WINDOW_S:
            recent.popleft()
        if len(recent) >= FLOOD_MESSAGES:
            raise Refused(_l("You are sending messages too quickly. Wait a moment, then "
                             "send again."))
        recent.append(now)


def on_message(data: dict[str, Any]) -> dict[str, Any]:
    joined, consultation = _current(data)
    side = _writer(joined)
    _check_pace(request.sid)  # type: ignore[attr-defined]
    message, created = chat.post_message(
        db.session, consultation, side, user_id=joined.user_id, body=data.get("body"),
        client_id=data.get("client_id"), file_id=client_number(data.get("file_id")))
    payload = chat.message_payload(db.session, message)
    if created:
        # everyone in the room but this window, which reads it in its ack
        room, sid = consultation.room_key, request.sid  # type: ignore[attr-defined]
        transaction.after_commit(db.session, lambda: socketio.emit(
            "message", payload, to=room, skip_sid=sid, namespace=NAMESPACE))
    return {"message": payload}


def _on_mark(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    joined, consultation = _current(data)
    side = _writer(joined)
    marks = chat.mark(db.session, consultation, side, kind,
                      client_number(data.get("up_to_id")))
    payload = {"consultation_id": consultation.id, "side": marks.side,
               "up_to_id": marks.up_to_id,
               "delivered_at": marks.delivered_at.isoformat() if marks.delivered_at else None,
               "read_at": marks.read_at.isoformat() if marks.read_at else None}
    if marks.count:
        live.emit_after_commit("marks", payload, to=side_room(consultation.id, marks.side),
                               namespace=NAMESPACE)
    return {"marked": marks.count}


def on_delivered(data: dict[str, Any]) -> dict[str, Any]:
    return _on_mark("delivered", data)


def on_read(data: dict[str, Any]) -> dict[str, Any]:
    return _on_mark("read", data)


# --- told from other parts (after their commit) -----------------------------------------------

def announce_queue(session: Session) -> None:
    """Once this transaction commits, tell each waiting person whose place changed their
    new place, and those no longer waiting (taken, withdrawn) their status. The intake
    part calls it after take-next, withdraw, the release of held questions and the
    hand-over."""

    def send() -> None:
        registry = live.registry()
        now = {str(cid): str(n) for cid, n in _positions().items()}
        told = registry.map_get(POSITIONS_KEY)
        changed = {cid: n for cid, n in now.items() if told.get(cid) != n}
        gone = [cid for cid in told if cid not in now]
        registry.map_update(POSITIONS_KEY, changed, remove=gone)
        for cid, n in changed.items():
            held = n == "0"
            socketio.emit("queue", {"consultation_id": int(cid),
                                    "position": None if held else int(n),
                                    "status": ConsultationStatus.HELD if held
                                    else ConsultationStatus.QUEUED},
                          to=side_room(int(cid), Sender.ASKER), namespace=NAMESPACE)
        for cid in gone:
            found = db.session.get(Consultation, int(cid))
            if found is not None:
                emit_status(found)

    transaction.after_commit(session, send)


def _positions() -> dict[int, int]:
    """Every waiting consultation's place (intake's order); held ones out of duty as 0."""
    found = intake.positions(db.session)
    held = db.session.scalars(select(Consultation.id).where(
        Consultation.status == ConsultationStatus.HELD))
    return {**{cid: 0 for cid in held if cid not in found}, **found}


def _video_open(consultation: Consultation) -> bool:
    """A video room of the consultation that has not ended."""
    from consultations.video import current_room

    return current_room(db.session, consultation) is not None


def emit_status(consultation: Consultation) -> None:
    socketio.emit("status", {"consultation_id": consultation.id,
                             "status": consultation.status,
                             "video": _video_open(consultation)},
                  to=consultation.room_key, namespace=NAMESPACE)


def announce_status(session: Session, consultation: Consultation) -> None:
    """Tell both sides the consultation's status once this transaction commits (taken,
    closed, moved to video): their chat opens or closes its input."""
    cid = consultation.id

    def send() -> None:
        found = db.session.get(Consultation, cid)
        if found is not None:
            emit_status(found)

    transaction.after_commit(session, send)


def evict(session: Session, consultation_id: int) -> None:
    """Once this transaction commits, the logged-in windows of the consultation whose user
    no longer passes (the lawyer it was handed over from, an organiser whose role went)
    are told `closed` and leave its rooms, on whichever node they are: nothing more of it
    reaches them. The person's side is checked by their link on each event."""

    def send() -> None:
        from portal.auth.models import User

        registry = live.registry()
        key = _members_key(consultation_id)
        found = db.session.get(Consultation, consultation_id)
        for member in registry.set_members(key):
            sid, side, uid = member.split(" ")
            user = db.session.get(User, int(uid))
            allowed = found is not None and user is not None and (
                perm.answers(user, found) if side == Sender.LAWYER
                else perm.can_view_consultation(user, found))
            if allowed:
                continue
            registry.set_discard(key, member)
            socketio.emit("closed", {**_closing("not_allowed"),
                                     "consultation_id": consultation_id},
                          to=sid, namespace=NAMESPACE)
            live.leave_room(sid, f"consultation-{consultation_id}", NAMESPACE)  # room_key
            live.leave_room(sid, side_room(consultation_id, side), NAMESPACE)
            with _lock:
                _joined.get(sid, {}).pop(consultation_id, None)

    transaction.after_commit(session, send)


# --- logout ------------------------------------------------------------------------------------

def _on_logout(_app: Any, user: Any) -> None:
    """A logged-out lawyer's (or organiser's) chat windows close at once, on every node."""
    user_id = getattr(user, "id", None)
    if user_id is None:
        return
    registry = live.registry()
    mine = registry.connections(NAMESPACE, user_id=user_id)
    socketio.emit("closed", _closing("logged_out"), to=live.user_room(user_id),
                  namespace=NAMESPACE)
    for conn in mine:
        registry.remove(NAMESPACE, conn.sid)
        with _lock:
            _joined.pop(conn.sid, None)
        live.disconnect(conn.sid, NAMESPACE)


HANDLERS = {"join": on_join, "message": on_message, "delivered": on_delivered,
            "read": on_read}


def register() -> None:
    """The namespace's handlers, each one unit of work; call once per process
    (init_app guards it)."""
    socketio.on_event("connect", on_connect, namespace=NAMESPACE)
    socketio.on_event("disconnect", on_disconnect, namespace=NAMESPACE)
    for name, handler in HANDLERS.items():
        socketio.on_event(name, live.socket_event(handler, on_refused=_close_refused),
                          namespace=NAMESPACE)
    user_logged_out.connect(_on_logout)
