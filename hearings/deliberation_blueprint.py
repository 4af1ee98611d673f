"""Hearing routes: private deliberation (on the one `hearings` blueprint).

Two doors to the same room: `/hearings/<id>/deliberation` for account holders (the
presiding officer, a panel member with an account) and `/hearings/deliberate/<token>`, the
panel member's personal link (public route: the token is the authorization). Anyone else
gets 404 — the room's existence is not revealed, to the admin and organisers neither.

Each view: load → who is this member (404 if nobody) → one operation of
hearings.deliberation; a refusal re-renders the page with the member's text kept."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort, flash, make_response, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import RadioField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, ValidationError

from hearings import deliberation as ops
from hearings.blueprint import bp
from hearings.models import Hearing, Participant, Vote
from portal import web
from portal.enums import labels
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.web import public, render

TEMPLATE = "hearings/deliberation.html"


# --- forms ---------------------------------------------------------------------------------

class VoteRadio(RadioField):
    def pre_validate(self, form: Any) -> None:
        if self.data not in {v.value for v in Vote}:
            raise ValidationError(str(ops.BAD_VOTE))


class VoteForm(FlaskForm):
    vote = VoteRadio(_l("Your vote"), choices=[SelectChoice(v.value, v.label) for v in Vote],
                     validators=[InputRequired(message=ops.BAD_VOTE)])
    opinion = TextAreaField(
        _l("Your opinion and reasons"),
        validators=[InputRequired(message=ops.NO_OPINION),
                    Length(max=ops.OPINION_MAX, message=ops.TOO_LONG)],
        filters=[lambda s: s.strip() if isinstance(s, str) else s])

    def validate_opinion(self, field: Any) -> None:
        if not (field.data or "").strip():
            raise ValidationError(str(ops.NO_OPINION))


class PanelOpinionForm(FlaskForm):
    text = TextAreaField(
        _l("Opinion of the panel"),
        validators=[InputRequired(message=ops.NO_PANEL_OPINION),
                    Length(max=ops.PANEL_OPINION_MAX, message=ops.PANEL_TOO_LONG)],
        filters=[lambda s: s.strip() if isinstance(s, str) else s])

    def validate_text(self, field: Any) -> None:
        if not (field.data or "").strip():
            raise ValidationError(str(ops.NO_PANEL_OPINION))


# --- who is asking ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Door:
    """The room as one member entered it, and the URLs of its forms."""

    hearing: Hearing
    member: ops.Member
    token: str | None

    def url(self, action: str = "") -> str:
        if self.token is not None:
            return url_for("hearings.deliberate" + action, token=self.token)
        return url_for("hearings.deliberation" + action, hearing_id=self.hearing.id)


def _by_id(hearing_id: int) -> Door:
    hearing = db.session.get(Hearing, hearing_id)
    member = ops.member_for_user(hearing, current_user) if hearing is not None else None
    if hearing is None or member is None:
        abort(404)
    return Door(hearing, member, None)


def _by_token(token: str) -> Door:
    found = ops.member_by_token(db.session, token)
    if found is None:
        abort(404)
    hearing, member = found
    return Door(hearing, member, token)


def deliberation_link(hearing: Hearing, token: str | None = None) -> dict[str, Any] | None:
    """For `_deliberation_link.html`: where this viewer enters the room, or None when they
    may not (the personal link first, else the account)."""
    if token:
        found = ops.member_by_token(db.session, token, hearing.id)
        if found is not None:
            return {"url": url_for("hearings.deliberate", token=token),
                    "open": hearing.stage in ops.OPEN_STAGES}
    if ops.member_for_user(hearing, current_user) is not None:
        return {"url": url_for("hearings.deliberation", hearing_id=hearing.id),
                "open": hearing.stage in ops.OPEN_STAGES}
    return None


@bp.context_processor
def _link_helper() -> dict[str, Any]:
    return {"deliberation_link": deliberation_link}


# --- the page --------------------------------------------------------------------------------

def _page(door: Door, vote_form: VoteForm | None = None,
          opinion_form: PanelOpinionForm | None = None, error: Any = None,
          status: int = 200) -> ResponseReturnValue:
    st = ops.state(db.session, door.hearing)
    payload = ops.payload_for(st, door.member)
    own = payload["own"]
    if vote_form is None:
        vote_form = VoteForm(formdata=None, data=own or {})
    if opinion_form is None:
        opinion_form = PanelOpinionForm(formdata=None, data={"text": door.hearing.panel_opinion})
    participant = (db.session.get(Participant, door.member.participant_id)
                   if door.member.participant_id else None)
    client = {"hearing_id": door.hearing.id, "token": door.token,
              "strings": {"voted": str(_l("%(voted)d of %(of)d panel members have voted")),
                          "has_voted": str(_l("has voted")),
                          "waiting": str(_l("not yet")),
                          "offline": str(_l("Live updates are off; reload the page to see "
                                            "the latest.")),
                          "opinion_written": str(_l("The presiding officer has written the "
                                                    "panel's opinion: reload the page to "
                                                    "read it."))}}
    response = make_response(render(
        TEMPLATE, hearing=door.hearing, member=door.member, st=st, payload=payload,
        own=own, vote_form=vote_form, opinion_form=opinion_form, error=error,
        door=door, token=door.token, participant=participant, client=client,
        vote_labels=labels(Vote), max_opinion=ops.OPINION_MAX, status=status))
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _refused(door: Door, **forms: Any) -> None:
    """A refusal of the operation: the page again, with the member's text kept."""
    web.on_error(lambda e: _page(door, error=e.message, status=e.status, **forms))


def _vote(door: Door) -> ResponseReturnValue:
    form = VoteForm()
    if not form.validate_on_submit():
        return _page(door, vote_form=form, status=400)
    _refused(door, vote_form=form)
    ops.cast_vote(db.session, door.hearing, door.member, form.vote.data, form.opinion.data)
    flash(_l("Your vote is saved. You can change it until every panel member has voted."),
          "success")
    return redirect(door.url() + "#my-vote", code=303)


def _opinion(door: Door) -> ResponseReturnValue:
    if not door.member.is_presiding:
        abort(403)
    form = PanelOpinionForm()
    if not form.validate_on_submit():
        return _page(door, opinion_form=form, status=400)
    _refused(door, opinion_form=form)
    ops.write_panel_opinion(db.session, door.hearing, door.member, form.text.data)
    flash(_l("The panel's opinion is saved."), "success")
    return redirect(door.url() + "#panel-opinion", code=303)


def _freeze(door: Door) -> ResponseReturnValue:
    if not door.member.is_presiding:
        abort(403)
    web.on_error(web.flash_and_redirect(door.url() + "#record"))
    ops.freeze_deliberation_record(db.session, door.hearing.presiding, door.hearing)
    flash(_l("The deliberation record is frozen; the panel members sign it with the "
             "hearing record."), "success")
    return redirect(door.url() + "#record", code=303)


# --- routes: account holders -------------------------------------------------------------

@bp.get("/<int:hearing_id>/deliberation")
def deliberation(hearing_id: int) -> ResponseReturnValue:
    return _page(_by_id(hearing_id))


@bp.post("/<int:hearing_id>/deliberation/vote")
def deliberation_vote(hearing_id: int) -> ResponseReturnValue:
    return _vote(_by_id(hearing_id))


@bp.post("/<int:hearing_id>/deliberation/opinion")
def deliberation_opinion(hearing_id: int) -> ResponseReturnValue:
    return _opinion(_by_id(hearing_id))


@bp.post("/<int:hearing_id>/deliberation/freeze")
def deliberation_freeze(hearing_id: int) -> ResponseReturnValue:
    return _freeze(_by_id(hearing_id))


# --- routes: the personal link -------------------------------------------------------------

@bp.get("/deliberate/<token>")
@public
def deliberate(token: str) -> ResponseReturnValue:
    return _page(_by_token(token))


@bp.post("/deliberate/<token>/vote")
@public
def deliberate_vote(token: str) -> ResponseReturnValue:
    return _vote(_by_token(token))


@bp.post("/deliberate/<token>/opinion")
@public
def deliberate_opinion(token: str) -> ResponseReturnValue:
    return _opinion(_by_token(token))


@bp.post("/deliberate/<token>/freeze")
@public
def deliberate_freeze(token: str) -> ResponseReturnValue:
    return _freeze(_by_token(token))

