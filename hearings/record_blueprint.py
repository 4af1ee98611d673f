"""Hearing routes: the signed record (on the one `hearings` blueprint).

Staff: the record page (versions, who signed, freeze / reopen, file), the clerk's tablet
signing page for one participant. Public: the participant's own signing page by their
personal link (/hearings/sign/<token>). Each view: load → authorize
(hearings.permissions) → one operation of hearings.record."""

from __future__ import annotations

import base64
import json
from typing import Any

from flask import Response, abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, HiddenField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from hearings import links
from hearings import permissions as perm
from hearings import record as rec
from hearings.blueprint import bp
from hearings.models import (
    Hearing,
    HearingStatus,
    Participant,
    ParticipantRole,
    SignatureStatus,
    SignMethod,
)
from portal import idempotency, web
from portal.casefiles import blobs
from portal.casefiles.models import CaseEvent
from portal.enums import labels
from portal.errors import DomainError
from portal.extensions import db, limiter
from portal.i18n import lazy_gettext as _l
from portal.web import public, render, require

#: signing posts per address (each decodes a PNG)
SIGN_LIMIT = "30 per minute"
LABELS: dict[str, Any] = {
    "role_labels": labels(ParticipantRole), "status_labels": labels(HearingStatus),
    "sig_labels": labels(SignatureStatus), "method_labels": labels(SignMethod),
    "record_kind_labels": rec.KIND_LABELS}


class SignForm(FlaskForm):
    version_id = HiddenField()
    idempotency_key = HiddenField()
    has_read = BooleanField(_l("I have read the record above and its content is what I "
                               "said and saw"))
    #: the drawn signature, a PNG data: URL put here by static/js/hearings/signature-pad.js
    signature = HiddenField()
    typed_name = StringField(_l("Or sign by typing your full name"),
                             validators=[Optional(), Length(max=100)],
                             render_kw={"autocomplete": "name"})


class RefuseForm(FlaskForm):
    version_id = HiddenField()
    idempotency_key = HiddenField()
    reason = TextAreaField(_l("Why do you refuse to sign?"),
                           validators=[Length(max=rec.MAX_REASON)])


class FileForm(FlaskForm):
    confirm_unsigned = BooleanField(_l("Those who have neither signed nor refused are "
                                       "recorded as not having signed"))


@bp.context_processor
def _record_helpers() -> dict[str, Any]:
    """For the record section of the hearing page (templates/hearings/_record.html)."""
    return {"record_summary": _summary}


def _summary(hearing: Hearing) -> dict[str, Any]:
    session = db.session()
    latest = rec.latest_versions(session, hearing)
    rows = rec.signing_state(session, hearing) if latest else []
    return {"latest": latest, "done": sum(r.is_done for r in rows), "total": len(rows),
            "may_open": perm.can_view_hearing(current_user, hearing)}


def _hearing(hearing_id: int, check: Any = None) -> Hearing:
    """The hearing, 404 when the user may not know it; 403 when `check` refuses."""
    hearing = db.session.get(Hearing, hearing_id)
    if hearing is None or not perm.can_view_hearing(current_user, hearing):
        abort(404)
    if check is not None and not check(current_user, hearing):
        abort(403)
    return hearing


def _image_uri(sha256: str | None) -> str | None:
    if not sha256:
        return None
    try:
        return "data:image/png;base64," + base64.b64encode(blobs.read_blob(sha256)).decode()
    except (OSError, ValueError):
        return None


# --- the record page (staff) --------------------------------------------------------------

def _filed_pdf(hearing: Hearing) -> int | None:
    """The case document the record's PDF was filed as (from the filing event), if any."""
    if hearing.status != HearingStatus.FILED:
        return None
    for payload in db.session.scalars(select(CaseEvent.payload).where(
            CaseEvent.case_id == hearing.case_id, CaseEvent.kind == "hearing_record_filed")
            .order_by(CaseEvent.id.desc())):
        data = json.loads(payload or "{}")
        if data.get("hearing_id") == hearing.id:
            found = (data.get("documents") or {}).get("record")
            return int(found) if found else None
    return None


@bp.get("/<int:hearing_id>/record")
@require(perm.can_open_hearings)
def record(hearing_id: int) -> ResponseReturnValue:
    hearing = _hearing(hearing_id)
    session = db.session()
    rows = rec.signing_state(session, hearing)
    images = {s.id: _image_uri(s.image_sha256) for r in rows for s in r.by_kind.values()
              if s is not None and s.status == SignatureStatus.SIGNED}
    return render("hearings/record.html", hearing=hearing, rows=rows, images=images,
                  latest=rec.latest_versions(session, hearing),
                  versions=rec.versions_of(session, hearing), file_form=FileForm(),
                  missing=[r for r in rows if not r.is_done],
                  on_tablet=rec.pending_on_device(hearing, rows, current_user),
                  can_freeze=perm.can_freeze_record(current_user, hearing),
                  show_deliberation=perm.can_deliberate(current_user, hearing),
                  freeze_now=rec.can_freeze_now(hearing),
                  can_file=perm.can_file_record(current_user, hearing),
                  file_now=rec.may_file_now(session, hearing),
                  filed_pdf=_filed_pdf(hearing), **LABELS)


def _back(hearing: Hearing) -> str:
    return url_for("hearings.record", hearing_id=hearing.id)


@bp.post("/<int:hearing_id>/record/freeze")
@require(perm.can_open_hearings)
def freeze_record(hearing_id: int) -> ResponseReturnValue:
    hearing = _hearing(hearing_id, perm.can_freeze_record)
    web.on_error(web.flash_and_redirect(_back(hearing)))
    version = rec.freeze(db.session(), current_user, hearing)
    flash(_("Version %(n)d of the record is frozen. Each participant can now read and "
            "sign it.", n=version.number), "success")
    return redirect(_back(hearing), code=303)


@bp.post("/<int:hearing_id>/record/reopen")
@require(perm.can_open_hearings)
def reopen_record(hearing_id: int) -> ResponseReturnValue:
    hearing = _hearing(hearing_id, perm.can_freeze_record)
    web.on_error(web.flash_and_redirect(_back(hearing)))
    rec.unfreeze(db.session(), current_user, hearing)
    flash(_("The minutes are open again. Freeze them once corrected: the new version "
            "must be signed again."), "success")
    return redirect(_back(hearing), code=303)


@bp.post("/<int:hearing_id>/record/file")
@require(perm.can_open_hearings)
def file_record(hearing_id: int) -> ResponseReturnValue:
    hearing = _hearing(hearing_id, perm.can_file_record)
    web.on_error(web.flash_and_redirect(_back(hearing)))
    form = FileForm()
    filed = rec.file_record(db.session(), current_user, hearing,
                            confirm_unsigned=bool(form.confirm_unsigned.data))
    flash(_("The record is filed in case %(number)s.", number=hearing.case.number)
          + (" " + _("Recorded as not having signed: %(names)s.",
                     names=filed.not_signed_text) if filed.not_signed else ""),
          "success")
    return redirect(_back(hearing), code=303)


# --- signing: the clerk's tablet, and the participant's own link ---------------------------

def _sign_page(hearing: Hearing, participant: Participant, action: str, *, tablet: bool,
               message: str | None = None, status: int = 200,
               sign_form: SignForm | None = None,
               refuse_form: RefuseForm | None = None) -> ResponseReturnValue:
    session = db.session()
    witness = current_user if tablet else None
    pending = rec.pending_for(session, participant, witness)
    version = pending[0] if pending else None
    if version is not None:
        sign_form = sign_form or SignForm(formdata=None)
        refuse_form = refuse_form or RefuseForm(formdata=None)
        for form in (sign_form, refuse_form):
            form.version_id.data = str(version.id)
            form.idempotency_key.data = idempotency.new_key()
        sign_form.signature.data = ""  # a drawing is not sent back: drawn again
    done = [(v, rec.signatures_of(session, v).get(participant.id))
            for v in rec.signable_for(session, participant, witness)]
    return render("hearings/sign.html", hearing=hearing, participant=participant,
                  version=version, remaining=len(pending), done=done, action=action,
                  tablet=tablet, message=message, sign_form=sign_form,
                  refuse_form=refuse_form, status=status,
                  back_url=_back(hearing) if tablet else None, **LABELS)


def _handle_sign(hearing: Hearing, participant: Participant, action: str, *,
                 tablet: bool, done_url: str) -> ResponseReturnValue:
    """One POST of the signing page: sign, or refuse with a reason."""
    refusing = request.form.get("action") == "refuse"
    sign_form, refuse_form = SignForm(), RefuseForm()
    form: SignForm | RefuseForm = refuse_form if refusing else sign_form
    web.on_error(lambda e: _sign_page(hearing, participant, action, tablet=tablet,
                                      message=str(e.message), status=e.status,
                                      sign_form=sign_form, refuse_form=refuse_form))
    key = form.idempotency_key.data
    idempotency.ensure_new(db.session, key, code=303)
    if not form.validate():
        raise DomainError(" ".join(str(e) for errs in form.errors.values() for e in errs))
    session = db.session()
    version = rec.version_of(session, hearing, _int(form.version_id.data))
    idempotency.claim(db.session, key, "hearing-signature", code=303)
    witness = current_user if tablet else None
    if refusing:
        rec.refuse(session, participant, version, reason=refuse_form.reason.data or "",
                   witness=witness)
        flash(_("The refusal to sign and its reason are recorded."), "success")
    else:
        rec.sign(session, participant, version, has_read=bool(sign_form.has_read.data),
                 drawn=sign_form.signature.data, typed_name=sign_form.typed_name.data,
                 witness=witness)
        flash(_("Signed: %(record)s, version %(n)d.", n=version.number,
                record=rec.KIND_LABELS.get(version.kind, version.kind)), "success")
    idempotency.remember(db.session, key, "hearing-signature", done_url, code=303)
    return redirect(done_url, code=303)


def _int(value: Any) -> int | None:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return None
    return number if 0 < number < web.MAX_ID else None


@bp.route("/<int:hearing_id>/record/tablet/<int:participant_id>", methods=["GET", "POST"])
@require(perm.can_open_hearings)
def tablet_sign(hearing_id: int, participant_id: int) -> ResponseReturnValue:
    """The signing form on the clerk's tablet in the room, for one participant: the same
    form as their own link, witnessed by the clerk."""
    hearing = _hearing(hearing_id, perm.can_freeze_record)
    participant = db.session.get(Participant, participant_id)
    if participant is None or participant.hearing_id != hearing.id:
        abort(404)
    action = url_for("hearings.tablet_sign", hearing_id=hearing.id,
                     participant_id=participant.id)
    if request.method == "POST":
        return _handle_sign(hearing, participant, action, tablet=True,
                            done_url=_back(hearing))
    return _sign_page(hearing, participant, action, tablet=True)


def _by_token(token: str) -> Participant:
    participant = links.participant_by_token(db.session(), token)
    if participant is None:
        abort(404)
    return participant


@bp.route("/sign/<token>", methods=["GET", "POST"])
@public
@limiter.limit(SIGN_LIMIT, methods=["POST"])
def sign(token: str) -> ResponseReturnValue:
    """The participant's own signing page (their personal link; no account needed)."""
    participant = _by_token(token)
    action = url_for("hearings.sign", token=token)
    if request.method == "POST":
        return _handle_sign(participant.hearing, participant, action, tablet=False,
                            done_url=action)
    return _sign_page(participant.hearing, participant, action, tablet=False)


@bp.after_request
def _private_link(response: Response) -> Response:
    """The personal link is in the address: no cache keeps the page, no Referer carries
    the link away (errors re-rendered by on_error included)."""
    if request.endpoint == "hearings.sign":
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
    return response

