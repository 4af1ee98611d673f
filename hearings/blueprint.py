"""Hearing pages for staff: the list, the requests awaiting a decision, scheduling,
rescheduling and cancelling, the hearing's page. The other audiences' routes are in
panel_blueprint, invitations_blueprint (RSVP links, public), public_blueprint (notices and
observers, public), live_blueprint, deliberation_blueprint and record_blueprint, all on
this one blueprint; the petitioner's request on the query page is in request_blueprint."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from hearings import case_clock, queries
from hearings import operations as ops
from hearings import permissions as perm
from hearings import requests as reqs
from hearings.forms import (
    CancelForm,
    ClerkRequestForm,
    DecisionForm,
    HearingForm,
    RescheduleForm,
    local_to_utc,
)
from hearings.models import Hearing, HearingRequest, HearingStatus, PlaceKind
from hearings.presentation import LABELS, local, when
from hearings.rules import rules
from portal import idempotency, web
from portal.casefiles import permissions as case_perm
from portal.casefiles.clocks import today_in_china
from portal.casefiles.models import Case
from portal.errors import DomainError
from portal.extensions import db
from portal.live import client_number
from portal.web import page_args, render, require

bp = Blueprint("hearings", __name__, url_prefix="/hearings")


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {**LABELS, "perm": perm, "when": when}


def _hearing(hearing_id: int, check: Any = perm.can_view_hearing) -> Hearing:
    """The hearing, when the user may see it (and pass `check`); 404 otherwise."""
    hearing = db.session.get(Hearing, hearing_id)
    if hearing is None or not perm.can_view_hearing(current_user, hearing):
        abort(404)
    if check is not perm.can_view_hearing and not check(current_user, hearing):
        abort(403)
    return hearing


def _is_number(value: str | None) -> bool:
    """A whole number in ASCII digits ("²".isdigit() is true, int("²") raises)."""
    return bool(value) and str(value).isascii() and str(value).isdigit() \
        and client_number(value) == int(str(value))


def _case_for_user(case: Case | None) -> Case:
    if case is None or not case_perm.can_view(current_user, case):
        abort(404)
    return case


# --- lists ---------------------------------------------------------------------------------

@bp.route("/")
@require(perm.can_open_hearings)
def index() -> ResponseReturnValue:
    state = request.args.get("status") or ""
    page, per_page = page_args()
    pagination = db.paginate(queries.hearings_stmt(current_user, state), page=page,
                             per_page=per_page, error_out=False)
    return render("hearings/index.html", block="results", pagination=pagination,
                  state=state)


@bp.route("/requests")
@require(perm.can_open_requests)
def requests() -> ResponseReturnValue:
    show = "all" if request.args.get("show") == "all" else "pending"
    page, per_page = page_args()
    pagination = db.paginate(queries.requests_stmt(current_user, show), page=page,
                             per_page=per_page, error_out=False)
    today = today_in_china()
    return render("hearings/requests.html", block="results", pagination=pagination,
                  show=show, clock=lambda r: reqs.decide_clock(r, today))


# --- requests ------------------------------------------------------------------------------

@bp.route("/requests/new", methods=["GET", "POST"])
@require(perm.can_open_requests)
def new_request() -> ResponseReturnValue:
    form = ClerkRequestForm()
    if request.method == "GET":
        form.idempotency_key.data = idempotency.new_key()
        form.case_number.data = request.args.get("case_number", "")[:20]
    if not form.validate_on_submit():
        return render("hearings/request_new.html", form=form,
                      status=400 if request.method == "POST" else 200)
    case = queries.find_case(db.session(), form.case_number.data or "")
    if case is None or not case_perm.can_view(current_user, case):
        form.case_number.errors = [_("No case you can see has this number.")]
        return render("hearings/request_new.html", form=form, status=400)
    if not perm.can_enter_request(current_user, case):
        abort(403)
    web.on_error(lambda error: _request_form_again(form, error))
    key = form.idempotency_key.data
    idempotency.claim(db.session, key, "hearing-request", code=303)
    req = reqs.request_hearing(db.session(), current_user, case, reason=form.reason.data or "",
                               new_evidence=form.new_evidence.data or "")
    url = url_for("hearings.request_detail", request_id=req.id)
    idempotency.remember(db.session, key, "hearing-request", url, code=303)
    flash(_("The request is recorded. Decide by %(day)s.", day=req.decide_by.isoformat()),
          "success")
    return redirect(url, code=303)


def _request_form_again(form: ClerkRequestForm, error: DomainError) -> ResponseReturnValue:
    flash(str(error.message), "error")
    return render("hearings/request_new.html", form=form, status=error.status)


def _request(request_id: int) -> HearingRequest:
    req = db.session.get(HearingRequest, request_id)
    if req is None or not case_perm.can_view(current_user, req.case):
        abort(404)
    return req


@bp.route("/requests/<int:request_id>", methods=["GET", "POST"])
@require(perm.can_open_requests)
def request_detail(request_id: int) -> ResponseReturnValue:
    req = _request(request_id)
    form = DecisionForm()
    if request.method == "POST":
        if not perm.can_decide_request(current_user, req):
            abort(403)
        if form.validate_on_submit():
            web.on_error(lambda error: _request_page(req, form, error.status,
                                                     str(error.message)))
            reqs.decide_request(db.session(), current_user, req,
                                grant=form.decision.data == "grant", text=form.text.data or "")
            if req.status == "granted":
                flash(_("Granted. Now schedule the hearing."), "success")
                return redirect(url_for("hearings.new", request_id=req.id), code=303)
            flash(_("Refused. The petitioner reads the decision on the query page."),
                  "success")
            return redirect(url_for("hearings.request_detail", request_id=req.id), code=303)
        return _request_page(req, form, 400)
    return _request_page(req, form)


def _request_page(req: HearingRequest, form: DecisionForm, status: int = 200,
                  message: str | None = None) -> ResponseReturnValue:
    if message:
        flash(message, "error")
    return render("hearings/request.html", req=req, form=form, status=status,
                  clock=reqs.decide_clock(req), hearings=queries.hearings_of_case(
                      db.session(), req.case),
                  may_decide=perm.can_decide_request(current_user, req))


# --- scheduling ----------------------------------------------------------------------------

def _schedule_case() -> tuple[Case, HearingRequest | None]:
    """The case to schedule for, from ?case_id, ?case_number or ?request_id (or the
    form's hidden fields)."""
    source = request.values
    req = None
    case: Case | None = None
    if client_number(source.get("request_id")):
        req = _request(client_number(source.get("request_id")))
        case = req.case
    elif client_number(source.get("case_id")):
        case = db.session.get(Case, client_number(source.get("case_id")))
    elif source.get("case_number"):
        case = queries.find_case(db.session(), source["case_number"][:20])
    case = _case_for_user(case)
    if not perm.can_schedule_for(current_user, case):
        abort(403)
    return case, req


@bp.route("/new", methods=["GET", "POST"])
@require(perm.can_schedule)
def new() -> ResponseReturnValue:
    typed = request.args.get("case_number")
    if request.method == "GET" and typed is not None:  # the list's "schedule a hearing"
        found = queries.find_case(db.session(), typed[:20])
        if not typed.strip() or found is None \
                or not case_perm.can_view(current_user, found):
            flash(_("Type the number of the case the hearing is for.") if not typed.strip()
                  else _("No case you can see has this number."), "error")
            return redirect(url_for("hearings.index"))
    case, req = _schedule_case()
    form = HearingForm()
    staff = ops.staff_choices(db.session(), case)
    form.fill_choices([(u.id, u.display_name) for u in staff])
    if request.method == "GET":
        form.idempotency_key.data = idempotency.new_key()
        form.case_id.data = str(case.id)
        form.request_id.data = str(req.id) if req else ""
        form.day.data = ops.notice_deadline() + timedelta(days=1)
        form.panel_size.data = rules().min_panel
        form.observer_seats.data = rules().default_observer_seats
    if not form.validate_on_submit():
        return _new_page(form, case, req, 400 if request.method == "POST" else 200)
    assert form.day.data and form.starts.data and form.ends.data
    web.on_error(lambda error: _new_page(form, case, req, error.status, str(error.message)))
    key = form.idempotency_key.data
    idempotency.claim(db.session, key, "hearing", code=303)
    is_public = form.is_public.data != "0"
    plan = ops.Plan(
        kind=form.kind.data or "", starts_at=local_to_utc(form.day.data, form.starts.data),
        ends_at=local_to_utc(form.day.data, form.ends.data),
        place_kind=form.place_kind.data or "", place=form.place.data or "",
        presiding_id=form.presiding_id.data or 0, clerk_id=form.clerk_id.data or 0,
        agenda=form.agenda.data or "", is_public=is_public,
        closed_reason=form.closed_reason.data or None, panel_size=form.panel_size.data or 0,
        observer_seats=form.observer_seats.data, is_urgent=bool(form.is_urgent.data),
        urgent_reason=form.urgent_reason.data or "", title=form.title.data or "",
        request_id=req.id if req else None)
    hearing = ops.schedule_hearing(db.session(), current_user, case, plan)
    url = url_for("hearings.detail", hearing_id=hearing.id)
    idempotency.remember(db.session, key, "hearing", url, code=303)
    flash(_("Hearing scheduled. Next: compose the panel and publish the notice."), "success")
    return redirect(url, code=303)


def _new_page(form: HearingForm, case: Case, req: HearingRequest | None, status: int = 200,
              message: str | None = None) -> ResponseReturnValue:
    return render("hearings/new.html", form=form, case=case, req=req, status=status,
                  message=message, notice_from=ops.notice_deadline(),
                  min_panel=rules().min_panel)


@bp.route("/<int:hearing_id>/edit", methods=["GET", "POST"])
@require(perm.can_schedule)
def edit(hearing_id: int) -> ResponseReturnValue:
    hearing = _hearing(hearing_id, perm.can_organise)
    if hearing.status not in (HearingStatus.SCHEDULED, HearingStatus.PUBLISHED):
        flash(_("Only a hearing that has not started can be changed or cancelled."), "error")
        return redirect(url_for("hearings.detail", hearing_id=hearing.id))
    form = RescheduleForm()
    form.fill_choices()
    if request.method == "GET":
        start, end = local(hearing.starts_at), local(hearing.ends_at)
        form.day.data, form.starts.data, form.ends.data = start.date(), start.time(), end.time()
        form.place_kind.data, form.place.data = hearing.place_kind, hearing.place
        form.version.data = str(hearing.version)
    if not form.validate_on_submit():
        return _edit_page(form, hearing, 400 if request.method == "POST" else 200)
    assert form.day.data and form.starts.data and form.ends.data
    web.on_error(lambda error: _edit_page(form, hearing, error.status, str(error.message)))
    version = client_number(form.version.data) if _is_number(form.version.data) else -1
    ops.reschedule(db.session(), current_user, hearing, version,
                   starts_at=local_to_utc(form.day.data, form.starts.data),
                   ends_at=local_to_utc(form.day.data, form.ends.data),
                   place_kind=form.place_kind.data or PlaceKind.ROOM,
                   place=form.place.data or "", is_urgent=bool(form.is_urgent.data),
                   urgent_reason=form.urgent_reason.data or "")
    flash(_("The hearing is moved; the participants get the update."), "success")
    return redirect(url_for("hearings.detail", hearing_id=hearing.id), code=303)


def _edit_page(form: RescheduleForm, hearing: Hearing, status: int = 200,
               message: str | None = None) -> ResponseReturnValue:
    if status != 200:
        db.session.refresh(hearing)  # after a rollback: show the hearing as it now is
    return render("hearings/edit.html", form=form, hearing=hearing, status=status,
                  message=message, cancel_form=CancelForm(formdata=None),
                  notice_from=ops.notice_deadline())


@bp.post("/<int:hearing_id>/cancel")
@require(perm.can_schedule)
def cancel(hearing_id: int) -> ResponseReturnValue:
    hearing = _hearing(hearing_id, perm.can_organise)
    form = CancelForm()
    back = url_for("hearings.detail", hearing_id=hearing.id)
    if not form.validate_on_submit():
        flash(_("Give the reason for cancelling; the participants are told."), "error")
        return redirect(back, code=303)
    web.on_error(web.flash_and_redirect(back))
    version = client_number(form.version.data) if _is_number(form.version.data) else None
    ops.cancel_hearing(db.session(), current_user, hearing, form.reason.data or "", version)
    flash(_("The hearing is cancelled; the participants are told."), "success")
    return redirect(back, code=303)


# --- the hearing's page --------------------------------------------------------------------

@bp.route("/<int:hearing_id>")
@require(perm.can_open_hearings)
def detail(hearing_id: int) -> ResponseReturnValue:
    hearing = _hearing(hearing_id)
    return render("hearings/detail.html", hearing=hearing,
                  summary=summary_context(hearing))


def summary_context(hearing: Hearing) -> dict[str, Any]:
    """What the summary section shows besides the hearing's own fields."""
    organiser = perm.can_organise(current_user, hearing)
    changeable = hearing.status in (HearingStatus.SCHEDULED, HearingStatus.PUBLISHED)
    cancel_form = CancelForm(formdata=None)
    cancel_form.version.data = str(hearing.version)
    return {"pauses_clock": case_clock.pauses_for_hearing(db.session(), hearing),
            "may_change": organiser and changeable, "cancel_form": cancel_form,
            # a hearing under way is adjourned (cancelled with its reason; the clock resumes)
            "may_adjourn": organiser and hearing.status == HearingStatus.RUNNING,
            "inside_notice": changeable and ops.notice_is_late(hearing),
            "may_see_case": case_perm.can_view(current_user, hearing.case)}


# the petitioner's request from the query page: its route goes on bp before registration
from hearings import query_panel  # noqa: E402,F401
