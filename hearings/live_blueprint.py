"""Hearing routes: live (on the one `hearings` blueprint).

- the presiding officer and clerk's control page, and the staff view (read only) for
  others who may view the hearing;
- the participant's view through their personal link, the online observer's view
  through theirs (public pages: the link is the key; watch only);
- the minutes' autosave (JSON: 200 with the new version, 409 with the saved text).

The pages only render; everything live happens on the socket namespace /hearings
(hearings.events). A GET changes nothing: check-in happens when the page's socket joins."""

from __future__ import annotations

from typing import Any, cast

from flask import jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy.orm import Session
from werkzeug.exceptions import NotFound

from hearings import live
from hearings import permissions as perm
from hearings.blueprint import bp
from hearings.links import observer_by_token, participant_by_token
from hearings.models import (
    MINUTES_STAGES,
    STAGE_ORDER,
    Hearing,
    HearingStatus,
    ObserverStatus,
    ParticipantRole,
    Stage,
)
from hearings.rules import rules
from portal.enums import labels
from portal.errors import DomainError, NotAllowed
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.web import on_error, public, render, require

#: the page's socket namespace
NAMESPACE = "/hearings"


def _viewable(hearing_id: int) -> Hearing:
    hearing = db.session.get(Hearing, hearing_id)
    if hearing is None or not perm.can_view_hearing(current_user, hearing):
        raise NotFound()
    return hearing


def _page(hearing: Hearing, mode: str, **extra: Any) -> ResponseReturnValue:
    """One template for every audience; `mode` says which parts it shows: "run"
    (controls and minutes), "staff" (minutes read only), "participant", "observer"."""
    config = {"hearing_id": hearing.id, "namespace": NAMESPACE, "mode": mode,
              "minutes_url": url_for("hearings.save_minutes", hearing_id=hearing.id)
              if mode == "run" else None,
              "max_minutes": live.MAX_MINUTES_CHARS,
              "csrf": generate_csrf() if mode == "run" else None,
              **{k: v for k, v in extra.items() if k in ("token", "observer_token")}}
    return render("hearings/live.html", hearing=hearing, mode=mode, config=config,
                  stages=STAGE_ORDER, minutes_stages=MINUTES_STAGES,
                  stage_labels=labels(Stage), role_labels=labels(ParticipantRole),
                  status_labels=labels(HearingStatus), perm=perm,
                  party_roles=live.PARTY_ROLES,
                  rules_turn_minutes=max(1, rules().default_turn_seconds // 60), **extra)


@bp.route("/<int:hearing_id>/live")
@require(perm.can_open_hearings)
def live_staff(hearing_id: int) -> ResponseReturnValue:
    """Staff who may view the hearing follow it live (the minutes too)."""
    hearing = _viewable(hearing_id)
    if perm.can_run(current_user, hearing):
        return redirect(url_for("hearings.live_control", hearing_id=hearing.id))
    return _page(hearing, "staff")


@bp.route("/<int:hearing_id>/live/control")
@require(perm.can_open_hearings)
def live_control(hearing_id: int) -> ResponseReturnValue:
    """The presiding officer and clerk run the hearing here; anyone else who may view it
    is sent to the staff view."""
    hearing = _viewable(hearing_id)
    if not perm.can_run(current_user, hearing):
        return redirect(url_for("hearings.live_staff", hearing_id=hearing.id))
    return _page(hearing, "run")


@bp.route("/p/<token>")
@public
def live_participant(token: str) -> ResponseReturnValue:
    """A participant's live view, through their personal link."""
    participant = participant_by_token(cast(Session, db.session), token)
    if participant is None or not participant.is_active or (
            participant.hearing.status == HearingStatus.CANCELLED):
        raise NotFound()
    return _page(participant.hearing, "participant", token=token, me=participant,
                 participant=participant, participant_token=token)


@bp.route("/watch/<observer_token>")
@public
def live_watch(observer_token: str) -> ResponseReturnValue:
    """An online observer's view: watch only, nothing personal of the parties."""
    observer = observer_by_token(cast(Session, db.session), observer_token)
    if observer is None or observer.status != ObserverStatus.SEATED:
        raise NotFound()
    hearing = db.session.get(Hearing, observer.hearing_id)
    if hearing is None or not perm.is_publicly_visible(hearing):
        raise NotFound()
    return _page(hearing, "observer", observer_token=observer_token)


def _json_error(error: DomainError) -> ResponseReturnValue:
    return jsonify({**getattr(error, "reply", {}), "ok": False,
                    "error": str(error.message)}), error.status


@bp.route("/<int:hearing_id>/minutes", methods=["POST"])
@require(perm.can_open_hearings)
def save_minutes(hearing_id: int) -> ResponseReturnValue:
    """Autosave of one stage's minutes: {stage, text, version} (JSON or a form) → 200
    {version} or 409 {version, text: what is saved} (the user's text stays in their box);
    only the presiding officer and the hearing clerk write."""
    hearing = db.session.get(Hearing, hearing_id)
    if hearing is None:
        raise NotFound()
    if not perm.can_write_minutes(current_user, hearing):
        raise NotAllowed(_l("Only the hearing clerk and the presiding officer write the "
                            "minutes."))
    on_error(_json_error)
    sent = request.get_json(silent=True) if request.is_json else request.form
    data: Any = sent if isinstance(sent, dict) or hasattr(sent, "get") else {}
    stage = live.minutes_stage(data.get("stage"))
    text = data.get("text")
    raw_version = str(data.get("version", 0))
    # a version is a small whole number: anything else is refused, never a 500
    if not isinstance(text, str) or not (raw_version.isascii() and raw_version.isdigit()
                                         and len(raw_version) <= 9):
        raise live.LiveRefused(_l("The minutes could not be read. Reload the page and try "
                                  "again."))
    section = live.save_minutes(db.session, current_user, hearing, stage, text,
                                int(raw_version))
    return jsonify({"ok": True, "version": section.version, "stage": stage.value,
                    "saved_at": section.updated_at.isoformat()
                    if section.updated_at else None})
