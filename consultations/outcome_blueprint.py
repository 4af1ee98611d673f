"""Consultation routes: outcome (on the one `consultations` blueprint) — closing with the
written answer, the answer page and PDF, petition cases, legal aid, conflicts, counts, and
the person's PDF and rating through their personal link."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Response, abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from consultations import answer_pdf, conflicts, counts, links, outcomes
from consultations import permissions as perm
from consultations.blueprint import bp
from consultations.models import (
    AidDecision,
    ConflictFlag,
    Consultation,
    LegalAidApplication,
    Outcome,
    Rating,
)
from consultations.outcome_forms import (
    AssignAidForm,
    CloseForm,
    CounselForm,
    DecideAidForm,
    PetitionForm,
    RateForm,
    ResolveForm,
    close_form_for,
)
from portal import idempotency, web
from portal.casefiles.clocks import today_in_china
from portal.casefiles.models import Case
from portal.enums import labels
from portal.errors import DomainError
from portal.extensions import db, limiter
from portal.people.models import Person
from portal.web import public, render, require

#: the person's PDF, per address (rendered once, then read from its file)
PDF_LIMIT = "10 per minute;100 per day"


def _consultation(consultation_id: int) -> Consultation:
    found = db.session.get(Consultation, consultation_id)
    if found is None or not perm.can_view_consultation(current_user, found):
        abort(404)
    return found


def person_page(token: str) -> str:
    """The person's own page (the intake part's route), by its path."""
    return f"{bp.url_prefix}/c/{quote(token, safe='')}"


def _pdf_response(data: bytes, consultation: Consultation) -> Response:
    response = Response(data, mimetype="application/pdf")
    name = answer_pdf.number(consultation) + ".pdf"
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- closing (the lawyer) -------------------------------------------------------------------


@bp.route("/<int:consultation_id>/close", methods=["GET", "POST"])
@require(perm.can_open_consultations)
def close(consultation_id: int) -> ResponseReturnValue:
    consultation = _consultation(consultation_id)
    answer_url = url_for("consultations.answer", consultation_id=consultation.id)
    if consultation.status == "closed":  # a second tab, or a form sent twice
        if request.method == "POST":
            flash(_("This consultation is closed already; its answer is below."), "info")
        return redirect(answer_url, code=303)
    if not perm.can_close(current_user, consultation):
        abort(403)
    if request.method == "GET":
        return render("consultations/answer_close.html", consultation=consultation,
                      form=close_form_for(consultation))
    form = CloseForm()
    if not form.validate_on_submit():
        return render("consultations/answer_close.html", consultation=consultation,
                      form=form, status=400)
    web.on_error(lambda error: _close_again(consultation, form, error))
    key = form.idempotency_key.data
    idempotency.claim(db.session, key, "consultation-close", code=303)
    aid = None
    if form.outcome.data == Outcome.LEGAL_AID:
        aid = outcomes.AidDetails(
            applicant_name=form.applicant_name.data or "", phone=form.phone.data or "",
            id_number=form.id_number.data or "", matter=form.matter.data or "",
            grounds=form.grounds.data or "", limitation_ends_on=form.limitation_ends_on.data)
    application = outcomes.close(db.session(), current_user, consultation,
                                 outcome=form.outcome.data or "", answer=form.answer.data or "",
                                 route=form.route.data or "", declared=bool(form.declared.data),
                                 aid=aid)
    idempotency.remember(db.session, key, "consultation-close", answer_url, code=303)
    if application is not None:
        flash(_("Closed. The legal-aid application is filed: the centre decides by %(day)s.",
                day=application.decide_by.isoformat()), "success")
    elif consultation.outcome == Outcome.PETITION:
        flash(_("Closed. The reception clerks are asked to open a petition case."), "success")
    else:
        flash(_("Closed. The person can now download the written answer and rate it."),
              "success")
    return redirect(answer_url, code=303)


def _close_again(consultation: Consultation, form: CloseForm, error: DomainError
                 ) -> ResponseReturnValue:
    if consultation.status == "closed":  # closed meanwhile (another tab, a double click)
        flash(_("This consultation is closed already; its answer is below."), "info")
        return redirect(url_for("consultations.answer", consultation_id=consultation.id),
                        code=303)
    if not perm.can_close(current_user, consultation):
        return web.default_answer(error)
    flash(str(error.message), "error")
    return render("consultations/answer_close.html", consultation=consultation, form=form,
                  status=error.status)


# --- the answer page and PDF ------------------------------------------------------------------


@bp.route("/<int:consultation_id>/answer")
@require(perm.can_open_consultations)
def answer(consultation_id: int) -> ResponseReturnValue:
    """The consultation's outcome: the answer, legal aid, the case, conflicts."""
    consultation = _consultation(consultation_id)
    session = db.session()
    applications = list(session.scalars(select(LegalAidApplication).where(
        LegalAidApplication.consultation_id == consultation.id)
        .order_by(LegalAidApplication.id)))
    flags = conflicts.flags_of(session, consultation)
    petition_form = PetitionForm(formdata=None)
    petition_form.idempotency_key.data = idempotency.new_key()
    return render("consultations/answer.html", consultation=consultation,
                  applications=applications, flags=flags, petition_form=petition_form,
                  today=today_in_china(), outcomes=outcomes, perm=perm,
                  outcome_labels=labels(Outcome), rating_labels=labels(Rating),
                  decision_labels=labels(AidDecision), number=answer_pdf.number(consultation))


@bp.route("/<int:consultation_id>/answer.pdf")
@require(perm.can_open_consultations)
def answer_file(consultation_id: int) -> ResponseReturnValue:
    consultation = _consultation(consultation_id)
    if not perm.can_read_answer(current_user, consultation):
        raise outcomes.OutcomeRefused(_("The written answer is not ready: the consultation "
                                        "is not closed yet."), status=409)
    return _pdf_response(answer_pdf.answer_pdf(db.session(), consultation), consultation)


@bp.route("/c/<token>/answer.pdf")
@public
@limiter.limit(PDF_LIMIT)
def person_answer_file(token: str) -> ResponseReturnValue:
    """The person downloads their written answer through their personal link."""
    consultation = links.consultation_by_token(db.session(), token)
    if consultation is None:
        abort(404)
    if consultation.status != "closed":
        raise outcomes.OutcomeRefused(_("The written answer is not ready yet: the lawyer has "
                                        "not closed your consultation."), status=409)
    return _pdf_response(answer_pdf.answer_pdf(db.session(), consultation), consultation)


@bp.route("/c/<token>/rate", methods=["POST"])
@public
def person_rate(token: str) -> ResponseReturnValue:
    consultation = links.consultation_by_token(db.session(), token)
    if consultation is None:
        abort(404)
    back = person_page(token)
    web.on_error(web.flash_and_redirect(back))
    form = RateForm()
    if not form.validate_on_submit():
        raise outcomes.OutcomeRefused(_("Choose one of the ratings."))
    outcomes.rate(db.session(), consultation, form.rating.data or "")
    flash(_("Thank you for rating the answer."), "success")
    return redirect(back, code=303)


# --- petition cases (the clerks) ---------------------------------------------------------------


@bp.route("/<int:consultation_id>/petition", methods=["POST"])
@require(perm.can_confirm_petition)
def petition(consultation_id: int) -> ResponseReturnValue:
    consultation = _consultation(consultation_id)
    back = url_for("consultations.answer", consultation_id=consultation.id)
    web.on_error(web.flash_and_redirect(back))
    form = PetitionForm()
    if not form.validate_on_submit():
        raise outcomes.OutcomeRefused(_("Check the case number."))
    key = form.idempotency_key.data
    idempotency.claim(db.session, key, "consultation-petition", code=303)
    case, code = outcomes.confirm_petition(db.session(), current_user, consultation,
                                           form.case_number.data or "")
    url = url_for("cases.show", number=case.number)
    idempotency.remember(db.session, key, "consultation-petition", url, code=303)
    if code:
        flash(_("Case %(number)s registered. Its query code, shown only now: %(code)s",
                number=case.number, code=code), "success")
    else:
        flash(_("The consultation is linked to case %(number)s.", number=case.number),
              "success")
    return redirect(url, code=303)


# --- legal aid (the centre's staff) ------------------------------------------------------------


@bp.route("/legal-aid")
@require(perm.can_handle_legal_aid)
def legal_aid() -> ResponseReturnValue:
    show_all = request.args.get("show") == "all"
    today = today_in_china()
    return render("consultations/legal_aid.html",
                  applications=outcomes.aid_queue(db.session(), today, show_all),
                  show_all=show_all, today=today, outcomes=outcomes,
                  decision_labels=labels(AidDecision), decide_form=DecideAidForm(formdata=None),
                  assign_form=AssignAidForm(formdata=None))


def _application(application_id: int) -> LegalAidApplication:
    found = db.session.get(LegalAidApplication, application_id)
    if found is None:
        abort(404)
    return found


@bp.route("/legal-aid/<int:application_id>/decide", methods=["POST"])
@require(perm.can_handle_legal_aid)
def decide_aid(application_id: int) -> ResponseReturnValue:
    application = _application(application_id)
    web.on_error(web.flash_and_redirect(url_for("consultations.legal_aid")))
    form = DecideAidForm()
    if not form.validate_on_submit():
        raise outcomes.OutcomeRefused(_("Choose grant or refuse."))
    grant = form.decision.data == "grant"
    outcomes.decide_aid(db.session(), current_user, application, grant=grant,
                        note=form.note.data or "")
    if grant and application.assign_by is not None:
        flash(_("Legal aid granted. Assign a lawyer by %(day)s.",
                day=application.assign_by.isoformat()), "success")
    else:
        flash(_("Legal aid refused; the reason is recorded."), "success")
    return redirect(url_for("consultations.legal_aid"), code=303)


@bp.route("/legal-aid/<int:application_id>/assign", methods=["POST"])
@require(perm.can_handle_legal_aid)
def assign_aid(application_id: int) -> ResponseReturnValue:
    application = _application(application_id)
    web.on_error(web.flash_and_redirect(url_for("consultations.legal_aid")))
    form = AssignAidForm()
    if not form.validate_on_submit():
        raise outcomes.OutcomeRefused(_("Name the lawyer assigned."))
    outcomes.assign_aid(db.session(), current_user, application, form.lawyer.data or "")
    flash(_("Lawyer assigned."), "success")
    return redirect(url_for("consultations.legal_aid"), code=303)


# --- conflicts (organisers) -------------------------------------------------------------------


def lawyer_choices() -> list[SelectChoice]:
    rows = db.session.execute(select(Person.id, Person.name, Person.lawyer_firm).where(
        Person.kind == "lawyer", Person.is_active.is_(True)).order_by(Person.name)).all()
    return [SelectChoice(i, f"{name} · {firm}" if firm else name) for i, name, firm in rows]


@bp.route("/counsel", methods=["POST"])
@require(perm.can_record_counsel)
def record_counsel() -> ResponseReturnValue:
    desk = url_for("consultations.index") + "#outcomes"
    web.on_error(web.flash_and_redirect(desk))
    form = CounselForm()
    form.lawyer_id.choices = lawyer_choices()
    if not form.validate_on_submit():
        raise conflicts.ConflictRefused(_("Fill in the case number, the party and the "
                                          "lawyer."))
    case = db.session.scalar(select(Case).where(Case.number == (form.case_number.data or "")
                                                .strip()))
    if case is None:
        raise conflicts.ConflictRefused(_("No case has the number %(number)s.",
                                          number=form.case_number.data))
    lawyer = db.session.get(Person, form.lawyer_id.data)
    if lawyer is None:
        raise conflicts.ConflictRefused(_("Choose a lawyer of the registry."))
    key = form.idempotency_key.data
    idempotency.claim(db.session, key, "consultation-counsel", code=303)
    _record, flags = conflicts.record_counsel(
        db.session(), current_user, case, party_name=form.party_name.data or "",
        lawyer=lawyer, is_paid=bool(form.is_paid.data))
    idempotency.remember(db.session, key, "consultation-counsel", desk, code=303)
    if flags:
        flash(_("Recorded. %(n)d possible conflict(s) flagged: the lawyer advised this "
                "party in a consultation.", n=len(flags)), "warning")
    else:
        flash(_("Recorded. No earlier consultation of this lawyer with this party."),
              "success")
    return redirect(desk, code=303)


@bp.route("/conflicts/<int:flag_id>/resolve", methods=["POST"])
@require(perm.can_resolve_conflicts)
def resolve_conflict(flag_id: int) -> ResponseReturnValue:
    flag = db.session.get(ConflictFlag, flag_id)
    if flag is None:
        abort(404)
    desk = url_for("consultations.index") + "#outcomes"
    web.on_error(web.flash_and_redirect(desk))
    form = ResolveForm()
    if not form.validate_on_submit():
        raise conflicts.ConflictRefused(_("Write what was found and done about the "
                                          "conflict."))
    conflicts.resolve(db.session(), current_user, flag, form.note.data or "")
    flash(_("The conflict is resolved; your note is recorded."), "success")
    return redirect(desk, code=303)


# --- monthly counts (organisers) ----------------------------------------------------------------


@bp.route("/counts")
@require(perm.can_see_counts)
def month_counts() -> ResponseReturnValue:
    today = today_in_china()
    month = counts.parse_month(request.args.get("month"), today)
    return render("consultations/counts.html", counts=counts.month_counts(db.session(), month),
                  month=month, columns=counts.columns(), column_label=counts.column_label,
                  topic_label=counts.topic_label, rating_labels=labels(Rating),
                  previous=counts.previous_month(month), next=counts.next_month(month))


@bp.route("/counts.csv")
@require(perm.can_see_counts)
def month_counts_csv() -> ResponseReturnValue:
    month = counts.parse_month(request.args.get("month"), today_in_china())
    text = counts.to_csv(counts.month_counts(db.session(), month))
    response = Response("\ufeff" + text, mimetype="text/csv")  # the BOM: Excel reads UTF-8
    name = f"consultations-{month:%Y-%m}.csv"
    response.headers["Content-Disposition"] = f"attachment; filename={name}"
    return response


# --- what the partials ask for (template globals, registered in init_app) ----------------------


def close_form(consultation: Consultation) -> CloseForm | None:
    """The closing form of _outcome.html, for the consultation's lawyer while open."""
    if not perm.can_close(current_user, consultation):
        return None
    return close_form_for(consultation)


def desk_context() -> dict[str, Any]:
    """What _desk_outcomes.html shows: an organiser's work (petitions to register, legal
    aid, conflicts); a lawyer's own recent answers."""
    session = db.session()
    me = perm.lawyer_person(current_user)
    if me is not None and not perm.can_organise(current_user):
        closed = list(session.scalars(
            select(Consultation).where(Consultation.lawyer_id == me.id,
                                       Consultation.status == "closed")
            .order_by(Consultation.closed_at.desc()).limit(10)))
        return {"mine": closed, "outcome_labels": labels(Outcome),
                "rating_labels": labels(Rating)}
    if not perm.can_organise(current_user):
        return {}
    today = today_in_china()
    queue = outcomes.aid_queue(session, today)
    counsel = CounselForm(formdata=None)
    counsel.lawyer_id.choices = lawyer_choices()
    counsel.idempotency_key.data = idempotency.new_key()
    return {"petitions": outcomes.proposed_petitions(session),
            "aid_open": len(queue),
            "aid_urgent": sum(1 for a in queue if outcomes.is_urgent(a, today)),
            "flags": conflicts.open_flags(session),
            "counsel_form": counsel, "resolve_form": ResolveForm(formdata=None),
            "month": today.strftime("%Y-%m")}
