"""The live hearing on the Socket.IO namespace `/hearings`.

A client connects (staff with their login cookie, others anonymously) and emits `join`
{hearing_id, token?, observer_token?}. The server decides who it is — staff who may view
the hearing (those who may run it get the controls), a participant (personal link, or
their own account), a seated observer (watch only) — and answers with the state
snapshot; anyone else gets an error ack and joins nothing. Socket.IO rooms:

  hearing-<id>          everyone joined (the stage)
  hearing-<id>-staff    staff and the presiding officer / clerk (full names, minutes)
  hearing-<id>-public   participants (parties by role only, no minutes)
  hearing-<id>-watch    observers (the officials and the panel only, no recusal answers)

After each commit that changed the hearing (hearings.live.announce) the new state goes to
those rooms: `stage`, `speaker`, `attendance`, `recusal`, `minutes` (staff only). Every
message carries `server_time`, so a countdown is computed from the server's clock.

Only those who may run the hearing send anything but `join`; anything else from anyone
else (a `chat` included) is refused and changes nothing: observers only watch. Their
events (each acked {ok, error?}): `start`, `end`, `stage` {direction: next | previous,
from?: the stage the screen showed}, `check_in` {participant_id, state: in_room | online
| absent}, `recusal` {participant_id, answer}, `speaker` {action: add | up | down |
remove | start | resume | pause | stop | next, participant_id?, seconds?, speaker_id?}.
The minutes are saved over HTTP (hearings.live_blueprint.save_minutes).

A countdown: remaining = seconds − used_seconds − (now − started_at) when started_at is
set (running), with `now` on the server's clock (server_time, plus the time since the
message arrived)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from flask import request
from flask_login import current_user
from sqlalchemy.orm import Session

from hearings import live
from hearings import permissions as perm
from hearings.links import observer_by_token, participant_by_token
from hearings.models import (
    MINUTES_STAGES,
    STAGE_ORDER,
    Attendance,
    Hearing,
    HearingStatus,
    ObserverStatus,
    Participant,
    ParticipantRole,
    Stage,
)
from portal import live as core_live
from portal import transaction
from portal.errors import DomainError
from portal.extensions import db, socketio
from portal.i18n import lazy_gettext as _l
from portal.live import client_number
from portal.timeutil import utcnow

NAMESPACE = "/hearings"

#: who a connection is, once joined
RUN, STAFF, PARTICIPANT, OBSERVER = "run", "staff", "participant", "observer"


def staff_room(hearing_id: int) -> str:
    return f"hearing-{hearing_id}-staff"


def public_room(hearing_id: int) -> str:
    return f"hearing-{hearing_id}-public"


def watch_room(hearing_id: int) -> str:
    return f"hearing-{hearing_id}-watch"


#: what an audience sees: everything (staff), parties by role (participants), the
#: officials and panel only (observers)
FULL, PUBLIC, WATCH = "full", "public", "watch"


def everyone_room(hearing_id: int) -> str:
    return f"hearing-{hearing_id}"


def _iso(at: Any) -> str | None:
    return at.isoformat() if at is not None else None


# --- the state, as each audience may see it ---------------------------------------------

def _label(p: Participant, full: bool, same_role: list[Participant]) -> str:
    """A participant as shown: by name to staff, and to everyone for officials and the
    panel; a party by role (numbered when there are several) otherwise."""
    if full or p.role in live.OFFICIAL_ROLES:
        return p.name
    role = str(ParticipantRole(p.role).label)
    if len(same_role) > 1:
        return f"{role} {same_role.index(p) + 1}"
    return role


def _labels(hearing: Hearing, full: bool) -> dict[int, str]:
    active = [p for p in hearing.participants if p.is_active]
    return {p.id: _label(p, full, [q for q in active if q.role == p.role]) for p in active}


def public_labels(hearing: Hearing) -> dict[int, str]:
    """Each active participant as observers see them (the video's watchers too)."""
    return _labels(hearing, full=False)


def _role(p: Participant) -> dict[str, str]:
    return {"role": p.role, "role_label": str(ParticipantRole(p.role).label)}


def stage_state(hearing: Hearing) -> dict[str, Any]:
    return {"stage": hearing.stage, "stage_label": str(Stage(hearing.stage).label),
            "stage_started_at": _iso(hearing.stage_started_at), "status": hearing.status,
            "status_label": str(HearingStatus(hearing.status).label),
            "started_at": _iso(hearing.started_at), "ended_at": _iso(hearing.ended_at),
            "server_time": utcnow().isoformat()}


def speaker_state(hearing: Hearing, audience: str) -> dict[str, Any]:
    """The current stage's queue, and the turn under way with what the countdown needs:
    started_at (None when paused), seconds and used_seconds, and the server's time."""
    now = utcnow()
    names = _labels(hearing, audience == FULL)
    turns = live.queue(db.session, hearing)
    current = live.current_turn(turns)

    def turn(s: Any) -> dict[str, Any]:
        return {"id": s.id, "participant_id": s.participant_id,
                "name": names.get(s.participant_id, ""), **_role(s.participant),
                "seconds": s.seconds, "used_seconds": s.used_seconds,
                "started_at": _iso(s.started_at),
                "remaining": s.seconds - live.used_now(s, now),
                "running": s.started_at is not None}

    return {"queue": [turn(s) for s in turns if s is not current],
            "current": turn(current) if current is not None else None,
            "stage": hearing.stage, "server_time": now.isoformat()}


def attendance_state(hearing: Hearing, audience: str) -> dict[str, Any]:
    full = audience == FULL
    names = _labels(hearing, full)
    people = [{"id": p.id, "name": names[p.id], **_role(p), "attendance": p.attendance,
               "attendance_label": str(Attendance(p.attendance).label),
               "checked_in_at": _iso(p.checked_in_at) if full else None}
              for p in hearing.participants if p.is_active
              and (audience != WATCH or p.role in live.OFFICIAL_ROLES)]
    return {"people": people, "server_time": utcnow().isoformat()}


def recusal_state(hearing: Hearing, audience: str) -> dict[str, Any]:
    if audience == WATCH:
        return {"answers": [], "server_time": utcnow().isoformat()}
    names = _labels(hearing, audience == FULL)
    return {"answers": [{"id": p.id, "name": names[p.id], **_role(p),
                         "answer": p.recusal_answer}
                        for p in hearing.participants
                        if p.is_active and p.role in live.PARTY_ROLES],
            "server_time": utcnow().isoformat()}


def minutes_state(hearing: Hearing) -> dict[str, Any]:
    saved = live.minutes_of(db.session, hearing)
    return {"sections": {str(s): {"text": saved[s].text if s in saved else "",
                                  "version": saved[s].version if s in saved else 0,
                                  "updated_at": _iso(saved[s].updated_at)
                                  if s in saved else None}
                         for s in MINUTES_STAGES},
            "server_time": utcnow().isoformat()}


def snapshot(hearing: Hearing, who: str) -> dict[str, Any]:
    """Everything a screen shows on joining (and on every reconnect)."""
    full = who in (RUN, STAFF)
    audience = FULL if full else WATCH if who == OBSERVER else PUBLIC
    state: dict[str, Any] = {
        "who": who, "can_run": who == RUN, "hearing_id": hearing.id,
        "title": hearing.title, "agenda": hearing.agenda,
        "stages": [{"key": s.value, "label": str(s.label)} for s in STAGE_ORDER],
        **stage_state(hearing),
        "speakers": speaker_state(hearing, audience),
        "attendance": attendance_state(hearing, audience),
        "recusal": recusal_state(hearing, audience),
    }
    if full:
        state["minutes"] = minutes_state(hearing)
        state["log"] = live_log(hearing.id)
    return state


# --- the live log: each stage change with the server's time -------------------------------

def _log_key(hearing_id: int) -> str:
    return f"hearings:log:{hearing_id}"


def _log_stage(hearing_id: int, state: dict[str, Any]) -> None:
    """Keep the stage change in the hearing's live log (the shared registry, so every node
    shows it). The case file gets only the start and the end; this log is for the
    officials' screen and the clerk's record of times."""
    at = state["stage_started_at"] or state["server_time"]
    core_live.registry().map_update(_log_key(hearing_id), {at: state["stage"]})


def live_log(hearing_id: int) -> list[dict[str, str]]:
    """The stage changes so far, oldest first: [{at, stage, stage_label}]."""
    entries = sorted(core_live.registry().map_get(_log_key(hearing_id)).items())
    return [{"at": at, "stage": stage,
             "stage_label": str(Stage(stage).label) if stage in _STAGES else stage}
            for at, stage in entries]


_STAGES = {s.value for s in Stage}


# --- broadcasting (after the commit) ----------------------------------------------------

def _emit(event: str, payload: Any, room: str) -> None:
    socketio.emit(event, payload, to=room, namespace=NAMESPACE)


def broadcast(hearing_id: int, kinds: set[str]) -> None:
    """Send what changed to the hearing's rooms (called once the change is committed)."""
    hearing = db.session.get(Hearing, hearing_id)
    if hearing is None:
        return
    db.session.refresh(hearing)
    rooms = {FULL: staff_room(hearing_id), PUBLIC: public_room(hearing_id),
             WATCH: watch_room(hearing_id)}
    if "stage" in kinds:
        state = stage_state(hearing)
        if "started" in kinds:  # a new log (nothing of an earlier run with this id)
            core_live.registry().delete(_log_key(hearing_id))
        _log_stage(hearing_id, state)
        _emit("stage", state, everyone_room(hearing_id))
    split: dict[str, Callable[[Hearing, str], dict[str, Any]]] = {
        "speaker": speaker_state, "attendance": attendance_state, "recusal": recusal_state}
    for kind, build in split.items():
        if kind not in kinds:
            continue
        for audience, room in rooms.items():
            if kind == "recusal" and audience == WATCH:
                continue  # observers hear the answers in the room, not as data
            _emit(kind, build(hearing, audience), room)
    if "minutes" in kinds:
        _emit("minutes", minutes_state(hearing), rooms[FULL])


# --- joining --------------------------------------------------------------------------------

class Refused(DomainError):
    """The sender may not do this."""


def _identify(hearing: Hearing | None, data: dict[str, Any]
              ) -> tuple[str, Participant | None, Any]:
    """(who, their participant row, their observer row); refused when none applies."""
    refused = Refused(_l("This link is not valid for this hearing, or you may not follow "
                         "it."))
    if hearing is None or hearing.status == HearingStatus.CANCELLED:
        raise refused
    if data.get("observer_token"):
        observer = observer_by_token(cast(Session, db.session), str(data["observer_token"]))
        if (observer is None or observer.hearing_id != hearing.id
                or observer.status != ObserverStatus.SEATED
                or not perm.is_publicly_visible(hearing)):
            raise refused
        return OBSERVER, None, observer
    if data.get("token"):
        p = participant_by_token(cast(Session, db.session), str(data["token"]))
        if p is None or p.hearing_id != hearing.id or not p.is_active:
            raise refused
        return PARTICIPANT, p, None
    if current_user.is_authenticated:
        if perm.can_run(current_user, hearing):
            return RUN, perm.participant_of(current_user, hearing), None
        if perm.can_view_hearing(current_user, hearing):
            return STAFF, None, None
        own = perm.participant_of(current_user, hearing)
        if own is not None:
            return PARTICIPANT, own, None
    raise refused


def on_join(data: dict[str, Any]) -> dict[str, Any]:
    sid = request.sid  # type: ignore[attr-defined]
    hearing = db.session.get(Hearing, client_number(data.get("hearing_id")))
    who, participant, observer = _identify(hearing, data)
    assert hearing is not None
    if participant is not None and who == PARTICIPANT:
        live.join_online(db.session, participant)
    if observer is not None:
        live.observer_joined(db.session, observer)
    # the presiding officer or clerk through their link sees what staff see
    if who == PARTICIPANT and participant is not None and participant.role in (
            ParticipantRole.PRESIDING, ParticipantRole.CLERK) or who in (RUN, STAFF):
        room = staff_room(hearing.id)
    else:
        room = watch_room(hearing.id) if who == OBSERVER else public_room(hearing.id)
    hearing_id, user_id = hearing.id, (current_user.id if current_user.is_authenticated
                                       else None)
    facts = {"who": who, "participant": str(participant.id) if participant else ""}
    seat = f"p{participant.id}" if participant else (
        f"o{observer.id}" if observer is not None else f"u{user_id}")

    def enter() -> None:
        registry = core_live.registry()
        before, _current = registry.remove(NAMESPACE, sid)  # a second join moves it
        if before is not None:
            for old in (everyone_room, staff_room, public_room, watch_room):
                core_live.leave_room(sid, old(int(before.room)), NAMESPACE)
        registry.connect(NAMESPACE, sid, str(hearing_id), seat, user_id, facts)
        core_live.enter_room(sid, everyone_room(hearing_id), NAMESPACE)
        core_live.enter_room(sid, room, NAMESPACE)

    transaction.after_commit(db.session, enter)
    state = snapshot(hearing, who)
    if room == staff_room(hearing.id) and "minutes" not in state:
        state["minutes"] = minutes_state(hearing)
    if participant is not None:
        state["me"] = {"participant_id": participant.id, **_role(participant)}
    return state


def on_connect(auth: Any = None) -> bool:
    return True  # who it is is decided at `join`


def on_disconnect(*_args: Any) -> None:
    core_live.registry().remove(NAMESPACE, request.sid)  # type: ignore[attr-defined]


# --- control events (presiding officer and clerk only) ----------------------------------

def _runner_hearing() -> Hearing:
    """The hearing this connection joined, if it may run it (checked at every event)."""
    conn = core_live.registry().get(NAMESPACE, request.sid)  # type: ignore[attr-defined]
    if conn is None:
        raise Refused(_l("Join the hearing first."))
    if conn.data.get("who") != RUN:
        raise Refused(_l("Only the presiding officer and the hearing clerk can do that; "
                         "observers and participants follow the hearing."))
    hearing = db.session.get(Hearing, int(conn.room))
    if hearing is None or not current_user.is_authenticated or not perm.can_run(
            current_user, hearing):
        raise Refused(_l("You may no longer run this hearing."))
    return hearing


def _connected_participants(hearing_id: int) -> set[int]:
    return {int(c.data["participant"]) for c in core_live.registry().connections(
        NAMESPACE, room=str(hearing_id))
        if c.data.get("who") == PARTICIPANT and c.data.get("participant")}


def on_start(data: dict[str, Any]) -> None:
    hearing = _runner_hearing()
    live.start(db.session, current_user, hearing)
    live.check_in_connected(db.session, hearing, _connected_participants(hearing.id))


def on_end(data: dict[str, Any]) -> None:
    live.end(db.session, current_user, _runner_hearing())


def on_stage(data: dict[str, Any]) -> dict[str, Any]:
    hearing = _runner_hearing()
    stage = live.move_stage(db.session, current_user, hearing, str(data.get("direction")),
                            str(data["from"]) if data.get("from") else None)
    return {"stage": stage.value}


def on_check_in(data: dict[str, Any]) -> None:
    live.check_in(db.session, current_user, _runner_hearing(),
                  client_number(data.get("participant_id")), str(data.get("state") or ""))


def on_recusal(data: dict[str, Any]) -> None:
    live.record_recusal(db.session, current_user, _runner_hearing(),
                        client_number(data.get("participant_id")),
                        str(data.get("answer") or ""))


def on_speaker(data: dict[str, Any]) -> dict[str, Any]:
    """The queue: {action: add | up | down | remove | start | pause | resume | stop |
    next, participant_id?, seconds?, speaker_id?}."""
    hearing = _runner_hearing()
    action = str(data.get("action") or "")
    speaker_id = client_number(data.get("speaker_id"))
    session, user = db.session, current_user
    if action == "add":
        s = live.add_speaker(session, user, hearing, client_number(data.get("participant_id")),
                             client_number(data.get("seconds")) or None)
        return {"speaker_id": s.id}
    if action in ("up", "down"):
        live.move_speaker(session, user, hearing, speaker_id, -1 if action == "up" else 1)
    elif action == "remove":
        live.remove_speaker(session, user, hearing, speaker_id)
    elif action in ("start", "resume"):
        live.start_speaker(session, user, hearing, speaker_id or None)
    elif action == "pause":
        live.pause_speaker(session, user, hearing)
    elif action == "stop":
        live.stop_speaker(session, user, hearing)
    elif action == "next":
        live.next_speaker(session, user, hearing)
    else:
        raise Refused(_l("Unknown action."))
    return {}


def on_other(event: str, data: Any = None) -> dict[str, Any]:
    """Any event the namespace does not know (a `chat`, say): refused for everyone."""
    return {"ok": False, "error": str(_l("This is not possible in a hearing: observers "
                                         "and participants follow it, they do not chat."))}


HANDLERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "join": on_join, "start": on_start, "end": on_end, "stage": on_stage,
    "check_in": on_check_in, "recusal": on_recusal, "speaker": on_speaker,
}


def register() -> None:
    socketio.on_event("connect", on_connect, namespace=NAMESPACE)
    socketio.on_event("disconnect", on_disconnect, namespace=NAMESPACE)
    for name, handler in HANDLERS.items():
        socketio.on_event(name, core_live.socket_event(handler), namespace=NAMESPACE)
    socketio.on_event("*", on_other, namespace=NAMESPACE)
