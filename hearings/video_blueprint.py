"""Hearing routes: the video (on the one `hearings` blueprint). Opening the hearing's
rooms (organisers, presiding officer, clerk), a participant's own seat with an account,
and a participant's personal link to the video (a fresh join link, so a POST)."""

from __future__ import annotations

from typing import Any, cast

from flask import abort, flash, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import Session

from hearings import permissions as perm
from hearings import video_rooms
from hearings.blueprint import bp
from hearings.links import observer_by_token, participant_by_token
from hearings.models import Hearing, ObserverStatus
from portal import web
from portal.auth.permissions import is_active_user
from portal.errors import NotAllowed
from portal.extensions import db
from portal.web import public, render, require
from video import permissions as video_perm

WHICH = (video_rooms.HEARING, video_rooms.DELIBERATION)


def _may_open_video(hearing: Hearing) -> bool:
    return perm.can_organise(current_user, hearing) or perm.can_run(current_user, hearing)


def _may_join_video(hearing: Hearing, which: str = video_rooms.HEARING) -> bool:
    room = video_rooms.room_of(db.session, hearing, which)
    return room is not None and video_perm.can_join_room(current_user, room)


@bp.context_processor
def _video_rules() -> dict[str, Any]:
    """What hearings/_video.html asks of the viewer (the hearings pages' templates)."""
    return {"may_open_hearing_video": _may_open_video,
            "may_join_hearing_video": _may_join_video}


def _hearing(hearing_id: int) -> Hearing:
    hearing = db.session.get(Hearing, hearing_id)
    if hearing is None or not perm.can_view_hearing(current_user, hearing):
        abort(404)
    return hearing


@bp.post("/<int:hearing_id>/video/open")
@require(perm.can_open_hearings)
def open_video(hearing_id: int) -> ResponseReturnValue:
    """The hearing's video room and its deliberation room, with everyone's seats."""
    hearing = _hearing(hearing_id)
    back = url_for("hearings.detail", hearing_id=hearing.id)
    web.on_error(web.flash_and_redirect(back))
    video_rooms.ensure_hearing_room(db.session, current_user, hearing)
    video_rooms.ensure_deliberation_room(db.session, current_user, hearing)
    flash(_("The video rooms are open; every participant has a seat."), "success")
    return redirect(back, code=303)


@bp.get("/<int:hearing_id>/video/<which>")
@require(is_active_user)
def video_room(hearing_id: int, which: str) -> ResponseReturnValue:
    """A participant's seat with their account (a panel member, the agency's officer);
    the host and the office's staff go to the host's page. Nobody else learns the room
    exists (404), the deliberation's included."""
    hearing = db.session.get(Hearing, hearing_id)
    room = (video_rooms.room_of(db.session, hearing, which)
            if hearing is not None and which in WHICH else None)
    if hearing is None or room is None or not video_perm.can_join_room(current_user, room):
        abort(404)
    if which == video_rooms.DELIBERATION and not perm.can_deliberate(current_user, hearing):
        abort(404)  # a seat left over from someone who no longer sits on the panel
    if video_perm.can_host(current_user, room):
        return redirect(url_for("video.host", room_id=room.id), code=303)
    seat = video_perm.named_seat(current_user, room)
    return render("video/room.html", block=None, room=room, seat=seat, is_staff=False,
                  token=None, note_url=None)


@bp.post("/p/<token>/video/<which>")
@public
def video_join(token: str, which: str) -> ResponseReturnValue:
    """A participant's personal link → their seat's fresh join link (device check, the
    recording notice, then the room)."""
    participant = participant_by_token(cast(Session, db.session), token)
    if participant is None or not participant.is_active or which not in WHICH:
        raise NotAllowed(_("This personal link is not valid."))
    url = video_rooms.join_link(db.session, participant.hearing, participant, which)
    return redirect(url, code=303)



@bp.post("/watch/<observer_token>/video")
@public
def video_watch(observer_token: str) -> ResponseReturnValue:
    """A seated online observer's watch link → a fresh watch-only join link (a POST: it
    makes the seat and a new token, so a second window closes the first)."""
    observer = observer_by_token(cast(Session, db.session), observer_token)
    hearing = db.session.get(Hearing, observer.hearing_id) if observer is not None else None
    if (observer is None or hearing is None or observer.status != ObserverStatus.SEATED
            or not perm.is_publicly_visible(hearing)):
        abort(404)
    web.on_error(web.flash_and_redirect(url_for("hearings.live_watch",
                                                observer_token=observer_token)))
    _seat, token = video_rooms.observer_seat(db.session, hearing, observer)
    return redirect(url_for("join.check", token=token), code=303)
