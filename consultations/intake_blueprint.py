"""Consultation routes: intake (on the one `consultations` blueprint).

Public: /ask (the question), /c/<token> (the person's own page: place in the queue, then
the chat; /status is its 10-second htmx poll, /withdraw leaves the queue). Staff: /queue
(the desk's queue, polled), /take-next, /register (the clerk for a visitor), /in-person
(the duty lawyer's log), /<id> (the lawyer's consultation page).

The personal token travels only in the URL path (redacted in the access log); it is
random, and a form sent twice finds it again only in the sender's own signed session
cookie (`session["ask:" + key]`): any other browser holding the form key gets a neutral
"already sent" page, never the link."""

from __future__ import annotations

import hashlib
from typing import Any

import segno
from flask import abort, current_app, flash, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from consultations import intake, links
from consultations import permissions as perm
from consultations.blueprint import bp
from consultations.duty_now import current_duty, duty_week_on, next_duty_start
from consultations.intake_forms import AskForm, InPersonForm, VisitorForm
from consultations.models import (
    Consultation,
    ConsultationFile,
    ConsultationStatus,
    Topic,
)
from portal import idempotency, web
from portal.app import settings_of
from portal.crypto import mask_phone
from portal.enums import labels
from portal.extensions import db, limiter
from portal.i18n import lazy_gettext as _l
from portal.timeutil import BEIJING, utcnow
from portal.web import public, render, require

#: questions sent per address (only sent ones count, not forms with errors)
ASK_LIMIT = "5 per minute;30 per day"
#: the person's own page and its poll
PAGE_LIMIT = "30 per minute"
TOPICS: dict[str, Any] = {str(k): v for k, v in labels(Topic).items()}
STATUS_LABELS: dict[str, Any] = {str(k): v for k, v in labels(ConsultationStatus).items()}
ASK_REPLAYED = _l("Your question was already sent; this is its page.")


def _asked_key(key: str) -> str:
    """Where this browser's signed session keeps the token of the question it sent with
    the form key `key` (nowhere else holds it)."""
    return "ask:" + key


def _replayed(key: str) -> ResponseReturnValue:
    """A question sent with `key` before: its page for the browser that sent it, a
    neutral page for anyone else."""
    token = session.get(_asked_key(key))
    if token:
        flash(str(ASK_REPLAYED), "info")
        return redirect(url_for("consultations.wait", token=token), 303)
    return _no_store(current_app.make_response(render("consultations/ask_sent.html")))


def _no_store(response: Any) -> Any:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _sent(response: Any) -> bool:
    return bool(response.status_code == 303)


# --- the public question --------------------------------------------------------------------

def _ask_page(form: AskForm, status: int = 200) -> ResponseReturnValue:
    now = utcnow()
    duty = current_duty(db.session, now)
    starts = None if duty else next_duty_start(db.session, now)
    return render("consultations/ask.html", status=status, form=form, on_duty=duty,
                  next_start=starts)


@bp.route("/ask", methods=["GET", "POST"])
@public
@limiter.limit(ASK_LIMIT, methods=["POST"], deduct_when=_sent)
def ask() -> ResponseReturnValue:
    form = AskForm()
    key = (form.idempotency_key.data or "").replace("\x00", "").strip()[:64]
    if request.method == "GET":
        form.idempotency_key.data = idempotency.new_key()
        return _no_store(current_app.make_response(_ask_page(form)))
    if key and idempotency.previous_result(db.session, key):  # a double click, a retry
        return _replayed(key)
    if not form.validate_on_submit():
        return _no_store(current_app.make_response(_ask_page(form, status=400)))
    idempotency.claim(db.session, key, "consultation", code=303, notice=ASK_REPLAYED)
    consultation, token = intake.ask_online(
        db.session, name=form.name.data or "", phone=form.phone.data,
        topic=form.topic.data or "", question=form.question.data or "",
        needs_assistance=bool(form.needs_assistance.data),
        attachments=getattr(form, "attachments", []),
        locale=web.select_locale())
    if key:
        session[_asked_key(key)] = token
    url = url_for("consultations.wait", token=token)
    # a request racing this one is sent to /ask?key=..., which finds the same page
    idempotency.remember(db.session, key, "consultation", url_for("consultations.ask_again",
                         key=key), code=303, notice=ASK_REPLAYED)
    texted = intake.send_link(db.session, consultation, url_for(
        "consultations.wait", token=token, _external=True))
    flash(_("Your question was received. Keep this page's link (bookmark it): it is the "
            "only way back to your answer.") + (
        " " + _("It was also sent to your phone.") if texted else ""), "success")
    return redirect(url, 303)


@bp.get("/ask/again")
@public
@limiter.limit(PAGE_LIMIT)
def ask_again() -> ResponseReturnValue:
    """Where a question sent twice at once lands: its own page for the browser that sent
    it (found in its session), the neutral "already sent" page for anyone else."""
    key = (request.args.get("key") or "").replace("\x00", "").strip()[:64]
    if not key or not idempotency.previous_result(db.session, key):
        return redirect(url_for("consultations.ask"), 303)
    return _replayed(key)


# --- the person's own page ---------------------------------------------------------------------

def _own(token: str) -> Consultation:
    consultation = links.consultation_by_token(db.session(), token)
    if consultation is None:
        abort(404)
    return consultation


def _wait_context(consultation: Consultation, token: str) -> dict[str, Any]:
    now = utcnow()
    away = intake.lawyer_away(db.session, consultation, now)
    return {
        "consultation": consultation, "token": token, "viewer": "asker",
        "position": intake.position(db.session, consultation, now),
        # out of hours, a held or still-waiting question is told when duty resumes
        "next_start": next_duty_start(db.session, now)
        if consultation.status in (ConsultationStatus.HELD, ConsultationStatus.QUEUED)
        and current_duty(db.session, now) is None else None,
        "away": away, "expected_by": intake.answer_expected_by(db.session, now) if away
        else None,
        "status_label": STATUS_LABELS.get(consultation.status, consultation.status),
        "topics": TOPICS, "history": intake.history(db.session, consultation),
        "files": _files(consultation),
    }


def _files(consultation: Consultation) -> list[ConsultationFile]:
    return list(db.session.scalars(select(ConsultationFile).where(
        ConsultationFile.consultation_id == consultation.id).order_by(ConsultationFile.id)))


@bp.get("/c/<token>")
@public
@limiter.limit(PAGE_LIMIT)
def wait(token: str) -> ResponseReturnValue:
    consultation = _own(token)
    body, status = render("consultations/wait.html", block=None,
                          **_wait_context(consultation, token))
    return _no_store(current_app.make_response((body, status)))


@bp.get("/c/<token>/status")
@public
@limiter.limit(PAGE_LIMIT)
def wait_status(token: str) -> ResponseReturnValue:
    """The status part of the person's page (the htmx poll). The URL says what the page
    shows: unchanged is 204 (htmx swaps nothing); a change of state (taken, closed)
    reloads the whole page so the chat appears."""
    consultation = _own(token)
    context = _wait_context(consultation, token)
    was = request.args.get("was", "")
    shown = (was, request.args.get("pos", ""), request.args.get("away", ""))
    now = (consultation.status, str(context["position"] or 0), "1" if context["away"] else "0")
    if shown == now:
        return _no_store(current_app.make_response(("", 204)))
    body, status = render("consultations/wait_status.html", block=None, **context)
    response = _no_store(current_app.make_response((body, status)))
    waiting = {ConsultationStatus.HELD.value, ConsultationStatus.QUEUED.value}
    if was and was != consultation.status and not {was, consultation.status} <= waiting:
        response.headers["HX-Refresh"] = "true"
    return response


@bp.post("/c/<token>/withdraw")
@public
@limiter.limit(PAGE_LIMIT)
def withdraw(token: str) -> ResponseReturnValue:
    consultation = _own(token)
    url = url_for("consultations.wait", token=token)
    web.on_error(web.flash_and_redirect(url))
    intake.withdraw(db.session, consultation)
    flash(_("Your question was withdrawn. You can ask again at any time."), "success")
    return redirect(url, 303)


# --- the desk ------------------------------------------------------------------------------------

def _may_take(user: Any) -> bool:
    """Offer "take the next": organisers, the duty lawyer, a lawyer handed some."""
    if perm.can_organise(user):
        return True
    me = perm.lawyer_person(user)
    if me is None:
        return False
    week = duty_week_on(db.session, utcnow().astimezone(BEIJING).date())
    return (week is not None and week.lawyer_id == me.id) or intake.reserved_for(
        db.session, me) > 0


def _stamp(*parts: Any) -> str:
    """What the queue shows, in a few characters (a poll of an unchanged queue is 204)."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


@bp.get("/queue")
@require(perm.can_see_queue)
def queue() -> ResponseReturnValue:
    now = utcnow()
    waiting = intake.waiting(db.session, now)
    me = perm.lawyer_person(current_user)
    mine: list[Consultation] = []
    if me is not None:
        mine = list(db.session.scalars(select(Consultation).where(
            Consultation.lawyer_id == me.id,
            Consultation.status == ConsultationStatus.ACTIVE).order_by(Consultation.taken_at)))
    held = 0 if current_duty(db.session, now) else db.session.scalar(
        select(func.count()).select_from(Consultation).where(
            Consultation.status == ConsultationStatus.HELD)) or 0
    week = duty_week_on(db.session, now.astimezone(BEIJING).date())
    away = bool(waiting) and week is not None and week.lawyer is not None \
        and intake.is_offline(db.session, week.lawyer, now)
    may_take = _may_take(current_user)
    shown = [c for c in waiting if perm.can_see_waiting(current_user, c, week)]
    # waiting minutes move the stamp every 5 minutes at most
    stamp = _stamp([(c.id, c.status) for c in waiting], [c.id for c in mine], held, away,
                   may_take, week.id if week else None, int(now.timestamp()) // 300)
    if request.args.get("seen") == stamp and getattr(request, "htmx", None):
        return "", 204
    return render("consultations/consultation_queue.html", waiting=waiting, shown=shown,
                  mine=mine,
                  held=held, now=now, topics=TOPICS, may_take=may_take, week=week,
                  perm=perm, away=away, stamp=stamp)


@bp.post("/take-next")
@require(perm.can_see_queue)
def take_next() -> ResponseReturnValue:
    web.on_error(web.flash_and_redirect(url_for("consultations.index")))
    taken = intake.take_next(db.session, current_user)
    flash(_("You took %(name)s's question.", name=taken.name), "success")
    return redirect(url_for("consultations.consultation", consultation_id=taken.id), 303)


def _link_page(consultation: Consultation, token: str, texted: bool) -> ResponseReturnValue:
    url = url_for("consultations.wait", token=token, _external=True)
    qr = segno.make(url, error="m").svg_inline(scale=4, title=_("Personal link QR code"))
    return render("consultations/ask_link.html", consultation=consultation, url=url, qr=qr,
                  texted=texted, sms_configured=bool(settings_of(current_app).sms_url))


@bp.route("/register", methods=["GET", "POST"])
@require(perm.can_register_visitor)
def register_visitor() -> ResponseReturnValue:
    form = VisitorForm()
    if request.method == "GET":
        form.idempotency_key.data = idempotency.new_key()
        return render("consultations/ask_visitor.html", form=form)
    key = form.idempotency_key.data
    idempotency.ensure_new(db.session, key, code=303)
    if not form.validate_on_submit():
        return render("consultations/ask_visitor.html", form=form, status=400)
    idempotency.claim(db.session, key, "consultation", code=303)
    consultation, token = intake.register_visitor(
        db.session, current_user, name=form.name.data or "", phone=form.phone.data,
        topic=form.topic.data or "", question=form.question.data or "",
        needs_assistance=bool(form.needs_assistance.data))
    idempotency.remember(db.session, key, "consultation", url_for(
        "consultations.consultation", consultation_id=consultation.id), code=303)
    texted = intake.send_link(db.session, consultation, url_for(
        "consultations.wait", token=token, _external=True))
    return _link_page(consultation, token, texted)


@bp.route("/in-person", methods=["GET", "POST"])
@require(perm.can_log_in_person)
def in_person() -> ResponseReturnValue:
    form = InPersonForm()
    if request.method == "GET":
        form.idempotency_key.data = idempotency.new_key()
        return render("consultations/consultation_new.html", form=form)
    key = form.idempotency_key.data
    idempotency.ensure_new(db.session, key, code=303)
    if not form.validate_on_submit():
        return render("consultations/consultation_new.html", form=form, status=400)
    web.on_error(web.flash_and_redirect(url_for("consultations.in_person")))
    idempotency.claim(db.session, key, "consultation", code=303)
    consultation = intake.log_in_person(
        db.session, current_user, name=form.name.data or "", phone=form.phone.data,
        topic=form.topic.data or "", question=form.question.data or "",
        needs_assistance=bool(form.needs_assistance.data))
    url = url_for("consultations.consultation", consultation_id=consultation.id)
    idempotency.remember(db.session, key, "consultation", url, code=303)
    flash(_("The consultation was logged."), "success")
    return redirect(url, 303)


@bp.get("/<int:consultation_id>")
@require(perm.can_open_consultations)
def consultation(consultation_id: int) -> ResponseReturnValue:
    found = db.session.get(Consultation, consultation_id)
    if found is None or not perm.can_view_consultation(current_user, found):
        abort(404)
    return render("consultations/consultation.html", consultation=found, viewer="lawyer",
                  token=None, topics=TOPICS, perm=perm, mask_phone=mask_phone,
                  status_label=STATUS_LABELS.get(found.status, found.status),
                  history=intake.history(db.session, found), files=_files(found))
