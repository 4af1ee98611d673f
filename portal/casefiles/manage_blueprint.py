"""Case-file management views, registered on the case pages' blueprint (`cases.*`):
registration, the procedure's actions, assignment to agencies, sharing, the responsible
leader, the summary, a new query code and pausing the clock. Who may do what is in
permissions.py and in the operations each view calls; a refused action comes back as a
message (`web.on_error`), a forbidden one as the 403 page. casefiles.init_app imports
this module, so its views are on `bp` before the blueprint is registered."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any

import segno
from flask import Response, abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal import idempotency, web
from portal.auth.models import User
from portal.casefiles import clock_ops, staging
from portal.casefiles import clocks as clk
from portal.casefiles import operations as ops
from portal.casefiles import permissions as perm
from portal.casefiles.blueprint import bp
from portal.casefiles.forms import (
    ActionForm,
    AssignForm,
    GrantForm,
    LeaderForm,
    RegisterForm,
    SummaryForm,
    read_upload,
)
from portal.casefiles.models import Case
from portal.casefiles.pages import (
    agencies,
    case_page,
    case_url,
    load,
    load_managed,
    no_store,
    places,
    session,
)
from portal.casefiles.permissions import can_open_cases
from portal.casefiles.presentation import LABELS, action_label, org_names, status_label
from portal.casefiles.workflow import TransitionRefused
from portal.errors import DomainError, StaleEdit
from portal.orgs.models import Organisation, OrgKind
from portal.web import render, require

# ---------------------------------------------------------------- registration


def _villages(township_id: int | None) -> list[tuple[int, str]]:
    """The active villages of a township (all of them when no township is chosen)."""
    stmt = select(Organisation).where(Organisation.kind == OrgKind.VILLAGE,
                                      Organisation.is_active.is_(True))
    if township_id:
        stmt = stmt.where(Organisation.parent_id == township_id)
    return [(o.id, o.full_name) for o in session().scalars(stmt.order_by(Organisation.name))]


def _register_form() -> RegisterForm:
    form = RegisterForm()
    # the village list follows the township: htmx swaps the options when it changes;
    # without JavaScript every village is offered until the form comes back
    form.fill_choices(places(OrgKind.TOWNSHIP), _villages(form.township_id.data or None))
    # (the village list is disabled while its options are on the way, so a choice made
    # meanwhile is not lost when they arrive)
    form.township_id.render_kw = {
        "hx-get": url_for("cases.villages"), "hx-trigger": "change",
        "hx-target": "#village_id", "hx-swap": "innerHTML", "hx-include": "#village_id",
        "hx-disabled-elt": "#village_id", "aria-controls": "village_id"}
    return form


def _form_problems(form: RegisterForm, petitioners: list[dict[str, Any]],
                   others: list[dict[str, Any]]) -> bool:
    """Validate the form and put each problem on its field; True when there is one. The
    village rule is the one operations.register_case enforces."""
    valid = form.validate_on_submit()
    problem = ops.village_problem(session(), form.township_id.data or None,
                                  form.village_id.data or None)
    if problem:
        form.village_id.errors = [*form.village_id.errors, str(problem)]
    if not valid or problem:
        return True
    if not petitioners:
        # on the first petitioner's name, where the clerk starts typing
        form.petitioners[0].form.name.errors = [_("Enter at least one petitioner.")]
        return True
    return False


@bp.route("/new/villages")
@require(perm.can_register)
def villages() -> ResponseReturnValue:
    """htmx: the village options of the chosen township (the one chosen stays chosen)."""
    township_id = request.args.get("township_id", type=int) or None
    body, code = render("casefiles/_village_options.html", block=None,
                        villages=_villages(township_id),
                        selected=request.args.get("village_id", type=int))
    return body, code


def _duplicates(form: RegisterForm) -> list[Case]:
    petitioners, _others = form.party_rows()
    found: dict[int, Case] = {}
    for p in petitioners:
        for case in ops.find_duplicates(session(), id_number=p.get("id_number"),
                                        phone=p.get("phone"), name=p.get("name"),
                                        summary=form.summary.data or None):
            found.setdefault(case.id, case)
    return sorted(found.values(), key=lambda c: (c.created_at, c.id), reverse=True)


def _duplicate_rows(cases: list[Case]) -> list[dict[str, Any]]:
    """What the clerk may see of each earlier case: all of it where they may view the
    case, else its number, date, status and office only."""
    offices = org_names(session(), (c.office_id for c in cases))
    return [{"case": c, "visible": perm.can_view(current_user, c),
             "office": offices.get(c.office_id, "")} for c in cases]


def _received_at(day: date | None) -> datetime | None:
    if day is None:
        return None
    if day >= clk.today_in_china():
        return None
    return datetime.combine(day, time(9, 0), tzinfo=clk.CHINA)


@bp.route("/new", methods=["GET", "POST"])
@require(perm.can_register)
def new() -> ResponseReturnValue:
    form = _register_form()
    if request.method == "GET":
        form.idempotency_key.data = idempotency.new_key()
        return render("casefiles/new.html", form=form, duplicates=[], **LABELS)
    key = form.idempotency_key.data
    idempotency.ensure_new(session(), key)
    petitioners, others = form.party_rows()
    uploads = [f for f in request.files.getlist("attachments") if f and f.filename]
    # files chosen before the form last came back, kept for the clerk (ticked ones)
    kept = staging.restore(request.form.getlist("kept"), current_user.id)

    def form_again(status: int, duplicates: list[Case]) -> ResponseReturnValue:
        staged, refused_files = staging.stage(uploads, current_user.id)
        for message in refused_files:
            flash(message, "error")
        return render("casefiles/new.html", form=form, status=status,
                      duplicates=_duplicate_rows(duplicates), kept=[*kept, *staged],
                      **LABELS)

    def refused(error: DomainError) -> ResponseReturnValue:  # a file or a rule refused
        form.summary.errors = []
        flash(str(error.message), "error")
        return form_again(422, [])

    if _form_problems(form, petitioners, others):
        return form_again(422, [])
    web.on_error(refused)
    files = [read_upload(f) for f in uploads] + staging.contents(kept)
    duplicates = [] if form.confirm_new.data else _duplicates(form)
    if duplicates:
        return form_again(200, duplicates)
    idempotency.claim(session(), key, "case")
    case, query_code = ops.register_case(
        session(), current_user, channel=form.channel.data or "", kind=form.kind.data or "",
        summary=form.summary.data or "", township_id=form.township_id.data or None,
        village_id=form.village_id.data or None, petitioners=petitioners,
        others=[{"name": o.get("name"), "address": o.get("address")} for o in others],
        is_urgent=bool(form.is_urgent.data), is_simple=bool(form.is_simple.data),
        received_at=_received_at(form.received_on.data), letters=files)
    idempotency.remember(session(), key, "case", case_url(case))
    return _code_page(case, query_code, new=True)


def _code_page(case: Case, query_code: str, new: bool) -> ResponseReturnValue:
    public_url = request.host_url.rstrip("/") + "/query"
    # the QR code opens the query page with the code filled in: in the fragment, which the
    # browser never sends (static/js/query-code.js reads it), so no log ever holds it
    qr_url = public_url + "#code=" + re.sub(r"[^0-9A-Za-z]", "", query_code)
    qr = segno.make(qr_url, error="m").svg_inline(
        scale=5, title=_("Query code of case %(number)s", number=case.number))
    body, code = render("casefiles/registered.html", block=None, case=case,
                        query_code=query_code, qr_svg=qr, public_url=public_url, new=new,
                        **LABELS)
    return no_store(Response(body, status=code))


@bp.route("/new/check", methods=["POST"])
@require(perm.can_register)
def check_duplicates() -> ResponseReturnValue:
    """htmx: the earlier cases of the petitioners typed so far, shown before saving."""
    form = _register_form()
    rows = _duplicate_rows(_duplicates(form))
    return render("casefiles/_duplicates.html", block=None, duplicates=rows, form=form,
                  **LABELS)


# ---------------------------------------------------------------- the summary

@bp.route("/<number>/summary", methods=["POST"])
@require(can_open_cases)
def edit_summary(number: str) -> ResponseReturnValue:
    case = load_managed(number)
    form = SummaryForm()
    if not form.validate_on_submit():
        return case_page(case, status_code=422, summary_form=form)
    seen = int(form.version.data) if (form.version.data or "").isdigit() else -1

    def stale(error: DomainError) -> ResponseReturnValue:
        """Someone saved first: the page again with the saved case and the user's text."""
        if not isinstance(error, StaleEdit):
            return web.default_answer(error)
        fresh = load(number)
        flash(_("Someone else changed this case while you were editing it. Your text is "
                "kept below; compare it with the saved summary and save again."), "error")
        form.version.data = str(fresh.version)
        return case_page(fresh, status_code=409, summary_form=form)

    web.on_error(stale)
    ops.edit_case(session(), current_user, case, seen, summary=form.summary.data or "")
    flash(_("The summary was saved."), "success")
    return redirect(case_url(case, "summary"), code=303)


# ---------------------------------------------------------------- procedure

def _refusals_to(url: str) -> Callable[[DomainError], ResponseReturnValue]:
    """A refused step of the procedure: back to the page with the message (a forbidden
    one is the 403 page; any other domain error the error page)."""

    def respond(error: DomainError) -> ResponseReturnValue:
        if not isinstance(error, TransitionRefused):
            return web.default_answer(error)
        return web.flash_and_redirect(url)(error)

    return respond


@bp.route("/<number>/actions/<action>", methods=["POST"])
@require(can_open_cases)
def act(number: str, action: str) -> ResponseReturnValue:
    case = load(number)
    form = ActionForm()
    web.on_error(_refusals_to(case_url(case, "actions")))
    ops.take_action(session(), current_user, case, action,
                    reason=(form.reason.data or "").strip() or None, days=form.days.data,
                    document_id=form.document_id.data)
    flash(_("Done: %(action)s. The case is now “%(state)s”.", action=action_label(action),
            state=status_label(case.status)), "success")
    return redirect(case_url(case, "actions"), code=303)


@bp.route("/<number>/assign", methods=["POST"])
@require(can_open_cases)
def assign(number: str) -> ResponseReturnValue:
    case = load(number)
    form = AssignForm()
    form.fill_choices(agencies(exclude=case.office_id))
    lead = session().get(Organisation, form.lead_id.data or 0)
    if lead is None:  # back to the form, in Next steps
        flash(_("Choose the lead agency."), "error")
        return redirect(case_url(case, "actions"), code=303)
    co = [o for o in (session().get(Organisation, i) for i in form.co_ids.data or []) if o]
    web.on_error(_refusals_to(case_url(case, "actions")))
    ops.assign(session(), current_user, case, lead, co, letter=form.letter.data)
    flash(_("Case %(number)s was assigned to %(org)s.", number=case.number, org=lead.name),
          "success")
    return redirect(case_url(case, "agencies"), code=303)


# ---------------------------------------------------------------- sharing

@bp.route("/<number>/grants", methods=["POST"])
@require(can_open_cases)
def grant(number: str) -> ResponseReturnValue:
    case = load_managed(number)
    form = GrantForm()
    form.fill_choices(agencies(exclude=case.office_id))
    org = session().get(Organisation, form.organisation_id.data or 0)
    if org is None or not form.validate_on_submit():
        flash(_("Choose an organisation and a level."), "error")
        return redirect(case_url(case, "agencies"), code=303)
    ops.grant_access(session(), current_user, case, org, form.level.data or "view")
    flash(_("The file is shared with %(org)s.", org=org.name), "success")
    return redirect(case_url(case, "agencies"), code=303)


@bp.route("/<number>/grants/<int:organisation_id>/withdraw", methods=["POST"])
@require(can_open_cases)
def withdraw_grant(number: str, organisation_id: int) -> ResponseReturnValue:
    """Withdraw an organisation's access to the file. The button asks first: htmx's
    hx-confirm, then a POST with confirmed=1; without JavaScript the first POST answers
    with a page that asks, whose button posts confirmed=1."""
    case = load_managed(number)
    org = session().get(Organisation, organisation_id)
    if org is None:
        abort(404)
    grant = next((g for g in case.grants if g.organisation_id == org.id), None)
    htmx = bool(request.headers.get("HX-Request"))
    if grant is None:  # withdrawn already (a second click, another tab)
        message = _("%(org)s has no access to this file.", org=org.name)
        if htmx:
            return case_page(case, block="sharing", notice=message)
        flash(message, "info")
        return redirect(case_url(case, "agencies"), code=303)
    if request.form.get("confirmed") != "1":
        return render("casefiles/withdraw_grant.html", block=None, case=case, org=org,
                      grant=grant, **LABELS)
    ops.revoke_access(session(), current_user, case, org)
    message = _("%(org)s no longer has access to this file.", org=org.name)
    if htmx:
        return case_page(case, block="sharing", notice=message)
    flash(message, "success")
    return redirect(case_url(case, "agencies"), code=303)


# ---------------------------------------------------------------- leader and query code

@bp.route("/<number>/leader", methods=["POST"])
@require(can_open_cases)
def set_leader(number: str) -> ResponseReturnValue:
    case = load(number)
    if not perm.may_set_leader(current_user, case):
        abort(403)
    form = LeaderForm()
    leader = session().get(User, form.leader_id.data or 0) \
        if (form.leader_id.raw_data or [""])[0].isdigit() else None
    if leader is None:
        flash(_("Choose the responsible leader."), "error")
        return redirect(case_url(case, "leader"), code=303)
    ops.set_leader(session(), current_user, case, leader, form.plan.data)
    flash(_("%(name)s is the responsible leader.", name=leader.display_name), "success")
    return redirect(case_url(case, "leader"), code=303)


@bp.route("/<number>/query-code", methods=["POST"])
@require(can_open_cases)
def reissue_code(number: str) -> ResponseReturnValue:
    case = load_managed(number)
    code = ops.reissue_query_code(session(), current_user, case)
    return _code_page(case, code, new=False)


# ---------------------------------------------------------------- pausing the clock

def _clock_step(number: str, step: Callable[[Case], Any], done: str) -> ResponseReturnValue:
    """Pause or resume: the step, then back to the clocks with `done` (or the refusal)."""
    case = load_managed(number)
    back = case_url(case, "clocks")
    web.on_error(web.flash_and_redirect(back))
    step(case)
    flash(done, "success")
    return redirect(back, code=303)


@bp.route("/<number>/clock/pause", methods=["POST"])
@require(can_open_cases)
def pause_clock(number: str) -> ResponseReturnValue:
    """Stop the running time limit for a hearing or an appraisal (events only)."""
    return _clock_step(number, lambda case: clock_ops.pause_clock(
        session(), current_user, case, request.form.get("reason", ""),
        request.form.get("kind", "")),
        _("The time limit is paused. It stands still until you resume it."))


@bp.route("/<number>/clock/resume", methods=["POST"])
@require(can_open_cases)
def resume_clock(number: str) -> ResponseReturnValue:
    """Let the paused time limit run again from today."""
    return _clock_step(number, lambda case: clock_ops.resume_clock(
        session(), current_user, case, request.form.get("reason") or None),
        _("The time limit runs again."))
