"""Socket.IO events of the private deliberation, on the hearings' namespace `/hearings`
(the namespace and its `join` are hearings/events.py's).

Every event names the hearing and, for someone without an account, their personal link
(`token`); each is checked again, so a connection proves nothing by itself. Only members
(hearings.deliberation.member_by_token / member_for_user) get anything: anyone else gets
an error ack and joins nothing.

  deliberation_join {hearing_id, token?}           → joins hearing.deliberation_key
  vote {hearing_id, token?, vote, opinion}          → a panel member's vote
  panel_opinion {hearing_id, token?, text}          → the presiding officer's text

Each ack carries what that member may read (their own vote, who has voted, and every vote
once all are in); the room gets `deliberation` (hearings.deliberation.broadcast_payload)
after each change has committed, and `deliberation_stage` {hearing_id, begun} when a
commit (whoever's: the live hearing's stage control) opens or closes the deliberation
stage, so members waiting on the room's page are let in at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_login import current_user
from flask_socketio import join_room
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, object_session

from hearings import deliberation as ops
from hearings.models import Hearing
from portal import transaction
from portal.errors import NotFound
from portal.extensions import db, socketio
from portal.i18n import lazy_gettext as _l
from portal.live import client_number, socket_event

NAMESPACE = ops.NAMESPACE
#: the same words for a missing hearing, a wrong link and a non-member: nothing revealed
NO_ROOM = _l("There is no deliberation for you here.")


def _member(data: dict[str, Any]) -> tuple[Hearing, ops.Member]:
    hearing_id = client_number(data.get("hearing_id"))
    token = data.get("token")
    if isinstance(token, str) and token:
        found = ops.member_by_token(db.session, token, hearing_id)
        if found is None:
            raise NotFound(NO_ROOM)
        return found
    hearing = db.session.get(Hearing, hearing_id) if hearing_id else None
    member = ops.member_for_user(hearing, current_user) if hearing is not None else None
    if hearing is None or member is None:
        raise NotFound(NO_ROOM)
    return hearing, member


def _reply(hearing: Hearing, member: ops.Member) -> dict[str, Any]:
    return ops.payload_for(ops.state(db.session, hearing), member)


def on_join(data: dict[str, Any]) -> dict[str, Any]:
    hearing, member = _member(data)
    join_room(hearing.deliberation_key)
    return _reply(hearing, member)


def on_vote(data: dict[str, Any]) -> dict[str, Any]:
    hearing, member = _member(data)
    ops.cast_vote(db.session, hearing, member, data.get("vote"), data.get("opinion"))
    return _reply(hearing, member)


def on_panel_opinion(data: dict[str, Any]) -> dict[str, Any]:
    hearing, member = _member(data)
    ops.write_panel_opinion(db.session, hearing, member, data.get("text"))
    return _reply(hearing, member)


HANDLERS: dict[str, Callable[..., Any]] = {
    "deliberation_join": socket_event(on_join),
    "vote": socket_event(on_vote),
    "panel_opinion": socket_event(on_panel_opinion),
}


#: hearings whose deliberation opened or closed in the session's transaction
_STAGED = "hearings.deliberation.staged"


def _stage_set(target: Hearing, value: Any, old: Any, _initiator: Any) -> None:
    if (value in ops.OPEN_STAGES) == (old in ops.OPEN_STAGES):
        return
    session = object_session(target)
    if session is not None and target.id is not None:
        session.info.setdefault(_STAGED, {})[target.id] = value in ops.OPEN_STAGES


def _queue_stage_events(session: Session) -> None:
    """Before a commit: what opened or closed goes out once it has committed."""
    for hearing_id, begun in session.info.pop(_STAGED, {}).items():
        transaction.after_commit(session, _stage_emitter(hearing_id, begun))


def _stage_emitter(hearing_id: int, begun: bool) -> Callable[[], None]:
    def emit() -> None:
        socketio.emit("deliberation_stage", {"hearing_id": hearing_id, "begun": begun},
                      to=f"hearing-{hearing_id}-deliberation",  # Hearing.deliberation_key
                      namespace=NAMESPACE)

    return emit


def _drop_stage_events(session: Session) -> None:
    session.info.pop(_STAGED, None)


def register() -> None:
    for name, handler in HANDLERS.items():
        socketio.on_event(name, handler, namespace=NAMESPACE)
    if not sa_event.contains(Hearing.stage, "set", _stage_set):
        sa_event.listen(Hearing.stage, "set", _stage_set, active_history=True)
        sa_event.listen(Session, "before_commit", _queue_stage_events)
        sa_event.listen(Session, "after_rollback", _drop_stage_events)
