"""Hearing routes: invitations (on the one `hearings` blueprint).

- /hearings/rsvp/<token>: the participant's personal page, no login: the hearing's title,
  time, place and the role asked of them; accept, or decline with a reason; a new answer
  replaces the last until the hearing starts. Public, noindex, never cached. A wrong or
  replaced link is a 404 that says whom to call, and changes nothing.
- /hearings/rsvp/<token>/hearing.ics: their calendar file.
- /hearings/<id>/participants/<pid>/remind: the organiser reminds someone who has not
  answered (at most once an hour per person).

The token travels in the path: the access log masks it (portal.access_log)."""

from __future__ import annotations

from typing import Any, cast

from flask import Response, flash, make_response, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from werkzeug.exceptions import NotFound
from wtforms import RadioField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, ValidationError

from hearings import invitations as inv
from hearings import links
from hearings import messages as msg
from hearings import permissions as perm
from hearings.blueprint import bp
from hearings.models import Hearing, HearingStatus, Participant, Rsvp
from portal.enums import labels
from portal.errors import DomainError, NotAllowed
from portal.extensions import db, limiter
from portal.i18n import lazy_gettext as _l
from portal.timeutil import utcnow
from portal.web import flash_and_redirect, on_error, public, render, require

#: answers from one address; a link is 160 random bits, this only bounds a flood
RSVP_LIMIT = "30 per minute"


class RsvpForm(FlaskForm):
    answer = RadioField(_l("Will you attend?"),
                        choices=[SelectChoice("accept", _l("Yes, I will attend")),
                                 SelectChoice("decline", _l("No, I cannot attend"))],
                        validators=[InputRequired(_l("Please choose an answer."))])
    reason = TextAreaField(_l("If you cannot attend, why?"),
                           validators=[Length(max=inv.REASON_MAX)])

    def validate_reason(self, field: Any) -> None:
        if self.answer.data == "decline" and not (field.data or "").strip():
            raise ValidationError(_l("Please say why you cannot attend."))


def _db() -> Session:
    return cast(Session, db.session)


def _private(response: Any) -> Response:
    """A personal page: not for search engines, not kept by any cache."""
    response = make_response(response)
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["Cache-Control"] = "no-store"
    return response


def _page(participant: Participant, token: str, form: RsvpForm | None = None,
          status: int = 200) -> Response:
    hearing = participant.hearing
    return _private(render(
        "hearings/rsvp.html", block=None, status=status, hearing=hearing,
        participant=participant, token=token, form=form or _answered(participant),
        role=msg.role(participant), when=msg.when(hearing), where=msg.where(hearing),
        rsvp_labels=labels(Rsvp), may_answer=inv.may_answer(participant),
        cancelled=hearing.status == HearingStatus.CANCELLED))


def _answered(participant: Participant) -> RsvpForm:
    """The form showing the answer given so far."""
    answer = {Rsvp.ACCEPTED: "accept", Rsvp.DECLINED: "decline"}.get(
        Rsvp(participant.rsvp)) if participant.rsvp in set(Rsvp) else None
    return RsvpForm(formdata=None, answer=answer, reason=participant.decline_reason)


def _missing() -> Response:
    return _private(render("hearings/rsvp_missing.html", block=None, status=404))


@bp.route("/rsvp/<token>", methods=["GET", "POST"])
@public
@limiter.limit(RSVP_LIMIT, methods=["POST"])
def rsvp(token: str) -> ResponseReturnValue:
    participant = links.participant_by_token(_db(), token)
    if participant is None:
        return _missing()
    if request.method == "GET":
        return _page(participant, token)
    form = RsvpForm()
    if not form.validate_on_submit():
        return _page(participant, token, form, status=400)
    on_error(lambda e: _refused(participant, token, form, e))
    accept = form.answer.data == "accept"
    inv.respond(_db(), participant, accept=accept, reason=form.reason.data or "")
    flash(_("Thank you: your answer is saved. You can change it here until the hearing "
            "starts.") if accept else
          _("Thank you: your answer is saved and the organisers are told, so they can "
            "find someone else. You can change it here until the hearing starts."),
          "success")
    return redirect(url_for("hearings.rsvp", token=token), code=303)


def _refused(participant: Participant, token: str, form: RsvpForm, error: DomainError
             ) -> Response:
    """After the rollback: the page as it now is, the message on top, the input kept."""
    db.session.refresh(participant)
    flash(str(error.message), "error")
    return _page(participant, token, form, status=error.status)


@bp.get("/rsvp/<token>/hearing.ics")
@public
def rsvp_calendar(token: str) -> ResponseReturnValue:
    participant = links.participant_by_token(_db(), token)
    if participant is None:
        return _missing()
    hearing = participant.hearing
    method = "CANCEL" if hearing.status == HearingStatus.CANCELLED else "PUBLISH"
    response = Response(inv.calendar(hearing, participant, method),
                        mimetype="text/calendar")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="hearing-{hearing.id}.ics"')
    return _private(response)


def _organised(hearing_id: int) -> Hearing:
    """The hearing, when the user may manage its invitations: 404 if they may not know
    it, 403 if they may see it but not organise it."""
    hearing = db.session.get(Hearing, hearing_id)
    if hearing is None or not perm.can_view_hearing(current_user, hearing):
        raise NotFound()
    if not perm.can_manage_invitations(current_user, hearing):
        raise NotAllowed(_l("Only the hearing's organisers can send reminders."))
    return hearing


@bp.post("/<int:hearing_id>/remind")
@require(perm.can_open_hearings)
def remind_all(hearing_id: int) -> ResponseReturnValue:
    hearing = _organised(hearing_id)
    back = url_for("hearings.detail", hearing_id=hearing.id) + "#invitations"
    on_error(flash_and_redirect(back))
    sent, unreachable = inv.remind_all(_db(), current_user, hearing)
    if sent:
        flash(_("Reminders with new personal links were sent to %(n)d people.", n=sent),
              "success")
    elif not unreachable:
        flash(_("Nobody is waiting for a reminder: everyone has answered or was reminded "
                "within the hour."), "info")
    if unreachable:
        flash(_("These people have no account, e-mail address or phone number on file: "
                "please call them: %(names)s.", names="、".join(unreachable)), "warning")
    return redirect(back, code=303)


@bp.post("/<int:hearing_id>/participants/<int:participant_id>/remind")
@require(perm.can_open_hearings)
def remind(hearing_id: int, participant_id: int) -> ResponseReturnValue:
    hearing = _organised(hearing_id)
    participant = db.session.get(Participant, participant_id)
    if participant is None or participant.hearing_id != hearing.id:
        raise NotFound()
    back = url_for("hearings.detail", hearing_id=hearing.id) + "#invitations"
    on_error(flash_and_redirect(back))
    inv.remind(_db(), current_user, hearing, participant)
    flash(_("A reminder with a new personal link was sent to %(name)s.",
            name=participant.name), "success")
    return redirect(back, code=303)


class InvitationsView:
    """What the hearing page's invitations section shows (templates/hearings/
    _invitations.html), for those who may manage invitations."""

    rsvp_labels = labels(Rsvp)

    @staticmethod
    def counts(hearing: Hearing) -> dict[str, int]:
        return inv.counts(hearing)

    @staticmethod
    def rows(hearing: Hearing) -> list[Participant]:
        return [p for p in hearing.participants if p.is_active]

    @staticmethod
    def role(participant: Participant) -> str:
        return msg.role(participant)

    may_remind = staticmethod(inv.may_remind)

    @staticmethod
    def waiting(hearing: Hearing) -> int:
        """How many have not answered and may be reminded now."""
        return sum(1 for p in hearing.participants
                   if inv.may_remind(p) and InvitationsView.remind_blocked_until(p) is None)

    @staticmethod
    def remind_blocked_until(participant: Participant) -> Any:
        """When the organiser may remind again, if that is still ahead."""
        again = inv.next_remind_at(participant)
        return again if again is not None and again > utcnow() else None


@bp.context_processor
def _invitations_view() -> dict[str, Any]:
    return {"hearing_invitations": InvitationsView}
