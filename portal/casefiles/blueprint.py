"""Case-file pages: the list, registration, the case page and its forms, the print view
and document previews. Each view: load → authorize → one operation → commit → notify.

A case another organisation's user may not see answers 404, never 403: a leaked URL must
not tell anyone that the case exists."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time
from typing import Any, cast

import segno
from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    make_response,
    redirect,
    request,
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal import idempotency
from portal.auth.models import User, UserRole, user_organisations
from portal.auth.roles import Role
from portal.casefiles import (
    clock_ops,
    search,  # also keeps the search index up to date (after_flush)
)
from portal.casefiles import clocks as clk
from portal.casefiles import deadlines as dl
from portal.casefiles import operations as ops
from portal.casefiles import permissions as perm
from portal.casefiles.forms import (
    DOCUMENT_KINDS,
    INLINE_TYPES,
    KIND_LABELS,
    PLAYABLE_TYPES,
    ActionForm,
    AssignForm,
    DocumentForm,
    GrantForm,
    LeaderForm,
    RegisterForm,
    SummaryForm,
    UploadRefused,
    read_upload,
)
from portal.casefiles.integrity import check_case
from portal.casefiles.models import (
    CHANNEL_LABELS,
    GRANT_LABELS,
    STATUS_LABELS,
    AccessAction,
    Case,
    CaseEvent,
    Document,
    DocumentVersion,
    Party,
    Status,
)
from portal.casefiles.timeline import events_of, payload_of
from portal.casefiles.workflow import (
    ACTION_LABELS,
    TRANSITIONS,
    Action,
    TransitionForbidden,
    TransitionRefused,
    allowed_actions,
    transition,
)
from portal.casefiles.workflow import check as check_transition
from portal.crypto import mask_id_number, mask_phone
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.orgs.models import Organisation, OrgKind
from portal.web import DomainError, page_args, render, require

bp = Blueprint("cases", __name__, url_prefix="/cases")

#: cases a page of the list shows
PAGE_SIZE = 25
#: roles that work on case files (each sees only the cases permissions.can_view allows)
CASE_ROLES = (Role.ADMIN, Role.CLERK, Role.LEADER, Role.SUPERVISOR, Role.AGENCY)
#: actions that undo or end something: the button asks for confirmation
DESTRUCTIVE = frozenset({Action.NOT_ACCEPT, Action.CLOSE, Action.ARCHIVE, Action.RETURN_REPLY,
                         Action.DECLINE})

TIMELINE_GROUPS: dict[str, Any] = {
    "workflow": _l("Procedure"),
    "document": _l("Documents"),
    "access": _l("Sharing"),
    "case": _l("Case details"),
    "clock": _l("Clocks"),
}

EVENT_LABELS: dict[str, Any] = {
    "case.registered": _l("Case registered"),
    "case.edited": _l("Case details changed"),
    "case.leader_set": _l("Responsible leader named"),
    "case.final": _l("Final: the same facts are not accepted again (三级终结)"),
    "case.query_code_reissued": _l("New query code issued"),
    "document.added": _l("Document added"),
    "document.version_added": _l("New version of a document"),
    "access.granted": _l("File shared"),
    "access.revoked": _l("Sharing withdrawn"),
    "clock.paused": _l("Clock paused"),
    "clock.resumed": _l("Clock resumed"),
}


def can_open_cases(user: Any) -> bool:
    """Whether the user may open case pages at all (which cases: permissions.can_view)."""
    return bool(getattr(user, "is_authenticated", False) and user.has_role(*CASE_ROLES))


def _db() -> Session:
    return cast(Session, db.session)


def _load(number: str) -> Case:
    """The case, when the user may view it; 404 otherwise (even when it exists)."""
    case = _db().scalar(select(Case).where(Case.number == number))
    if case is None or not perm.can_view(current_user, case):
        abort(404)
    return case


def _load_managed(number: str) -> Case:
    """The case, when the user may manage it: 404 when they may not even see it, else 403."""
    case = _load(number)
    if not perm.can_manage(current_user, case):
        abort(403)
    return case


def _case_url(case: Case, anchor: str = "") -> str:
    return url_for("cases.show", number=case.number) + (f"#{anchor}" if anchor else "")


def _org_names(ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    rows = _db().scalars(select(Organisation).where(Organisation.id.in_(wanted)))
    return {o.id: o.name for o in rows}


def _user_names(ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    rows = _db().execute(select(User.id, User.display_name).where(User.id.in_(wanted)))
    return {uid: name for uid, name in rows}


def _agencies(exclude: int | None = None) -> list[tuple[int, str]]:
    rows = _db().scalars(select(Organisation).where(
        Organisation.kind == OrgKind.AGENCY, Organisation.is_active.is_(True))
        .order_by(Organisation.name))
    return [(o.id, o.name) for o in rows if o.id != exclude]


def _places(kind: OrgKind) -> list[tuple[int, str]]:
    rows = _db().scalars(select(Organisation).where(
        Organisation.kind == kind, Organisation.is_active.is_(True)).order_by(Organisation.name))
    return [(o.id, o.full_name) for o in rows]


def _leaders() -> list[tuple[int, str]]:
    rows = _db().execute(
        select(User.id, User.display_name).join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == Role.LEADER, User.is_active.is_(True))
        .order_by(User.display_name))
    return [(uid, name) for uid, name in rows]


def _label(labels: dict[Any, Any], key: str | None) -> str:
    if key is None:
        return "—"
    for k, v in labels.items():
        if str(k) == key:
            return str(v)
    return key


def _status_label(value: str | None) -> str:
    return _label(STATUS_LABELS, value)


def _no_store(response: Any) -> Any:
    response.headers["Cache-Control"] = "no-store"
    return response


LABELS: dict[str, Any] = {
    "status_labels": STATUS_LABELS, "channel_labels": CHANNEL_LABELS,
    "kind_labels": KIND_LABELS, "grant_labels": GRANT_LABELS,
    "document_kinds": DOCUMENT_KINDS, "label": _label, "status_label": _status_label,
    "mask_id": mask_id_number, "mask_phone": mask_phone,
}


# ---------------------------------------------------------------- the list

@bp.route("/")
@require(can_open_cases)
def index() -> ResponseReturnValue:
    filters = search.CaseFilters.from_args(request.args)
    page, per_page = page_args(default_size=PAGE_SIZE)
    result = search.search_cases(_db(), current_user, filters, page, per_page)
    items = list(result.items)
    today = clk.today_in_china()
    running = clk.current_clocks(_db(), items, today)
    places = _org_names([c.township_id for c in items] + [c.village_id for c in items])
    leaders = _user_names(c.leader_id for c in items)
    return render("casefiles/index.html", block="results", pagination=result, f=filters,
                  clocks=running, places=places, leaders=leaders,
                  filter_townships=lambda: _places(OrgKind.TOWNSHIP),
                  filter_agencies=_agencies, filter_leaders=_leaders,
                  can_register=perm.can_register(current_user), **LABELS)


# ---------------------------------------------------------------- registration

def _villages(township_id: int | None) -> list[tuple[int, str]]:
    """The active villages of a township (all of them when no township is chosen)."""
    stmt = select(Organisation).where(Organisation.kind == OrgKind.VILLAGE,
                                      Organisation.is_active.is_(True))
    if township_id:
        stmt = stmt.where(Organisation.parent_id == township_id)
    return [(o.id, o.full_name) for o in _db().scalars(stmt.order_by(Organisation.name))]


def _register_form() -> RegisterForm:
    form = RegisterForm()
    # the village list follows the township: htmx swaps the options when it changes;
    # without JavaScript every village is offered until the form comes back
    form.fill_choices(_places(OrgKind.TOWNSHIP), _villages(form.township_id.data or None))
    # (the village list is disabled while its options are on the way, so a choice made
    # meanwhile is not lost when they arrive)
    form.township_id.render_kw = {
        "hx-get": url_for("cases.villages"), "hx-trigger": "change",
        "hx-target": "#village_id", "hx-swap": "innerHTML", "hx-include": "#village_id",
        "hx-disabled-elt": "#village_id", "aria-controls": "village_id"}
    return form


def _place_errors(form: RegisterForm) -> bool:
    """Put a message on the village field when it is not a village of the chosen township
    (the same rule operations.register_case enforces); True when there is one."""
    village_id = form.village_id.data or None
    township_id = form.township_id.data or None
    if not village_id:
        return False
    village = _db().get(Organisation, village_id)
    if village is None or village.kind != OrgKind.VILLAGE:
        form.village_id.errors = [*form.village_id.errors, _("Choose a village.")]
        return True
    if township_id and village.parent_id != township_id:
        form.village_id.errors = [*form.village_id.errors,
                                  _("The village is not in the chosen township.")]
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
        for case in ops.find_duplicates(_db(), id_number=p.get("id_number"),
                                        phone=p.get("phone"), name=p.get("name"),
                                        summary=form.summary.data or None):
            found.setdefault(case.id, case)
    return sorted(found.values(), key=lambda c: (c.created_at, c.id), reverse=True)


def _duplicate_rows(cases: list[Case]) -> list[dict[str, Any]]:
    """What the clerk may see of each earlier case: all of it where they may view the
    case, else its number, date, status and office only."""
    offices = _org_names(c.office_id for c in cases)
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
    duplicates: list[Case] = []
    code = 200
    if request.method == "GET":
        form.idempotency_key.data = idempotency.new_key()
        return render("casefiles/new.html", form=form, duplicates=[], **LABELS)
    earlier = idempotency.previous_result(_db(), form.idempotency_key.data)
    if earlier:
        return redirect(earlier)
    petitioners, others = form.party_rows()
    uploads = [f for f in request.files.getlist("attachments") if f and f.filename]
    if not form.validate_on_submit():
        _place_errors(form)
        code = 422
    elif _place_errors(form):
        code = 422
    elif not petitioners:
        form.petitioners.errors.append(_("Enter at least one petitioner."))
        code = 422
    elif any(not (p.get("name") or "").strip() for p in [*petitioners, *others]):
        form.petitioners.errors.append(_("Every party needs a name."))
        code = 422
    else:
        files: list[tuple[bytes, str, str]] = []
        try:
            files = [read_upload(f) for f in uploads]
        except UploadRefused as refused:
            form.summary.errors = []
            flash(str(refused.message), "error")
            code = 422
        if code == 200 and not form.confirm_new.data:
            duplicates = _duplicates(form)
        if code == 200 and not duplicates:
            return _register(form, petitioners, others, files)
    return render("casefiles/new.html", form=form, status=code,
                  duplicates=_duplicate_rows(duplicates), dropped_files=bool(uploads),
                  **LABELS)


def _register(form: RegisterForm, petitioners: list[dict[str, Any]],
              others: list[dict[str, Any]], files: list[tuple[bytes, str, str]]
              ) -> ResponseReturnValue:
    key = form.idempotency_key.data
    try:
        case, query_code = ops.register_case(
            _db(), current_user, channel=form.channel.data or "", kind=form.kind.data or "",
            summary=form.summary.data or "", township_id=form.township_id.data or None,
            village_id=form.village_id.data or None, petitioners=petitioners,
            others=[{"name": o.get("name"), "address": o.get("address")} for o in others],
            is_urgent=bool(form.is_urgent.data), is_simple=bool(form.is_simple.data),
            received_at=_received_at(form.received_on.data))
        for data, media_type, name in files:
            ops.add_document(_db(), current_user, case, title=name, data=data,
                             original_name=name, media_type=media_type, kind="letter")
        idempotency.remember(_db(), key, "case", _case_url(case))
        _db().commit()
    except IntegrityError:
        _db().rollback()
        earlier = idempotency.previous_result(_db(), key)
        if earlier:
            return redirect(earlier)
        raise
    except DomainError as error:
        _db().rollback()
        flash(str(error.message), "error")
        return render("casefiles/new.html", form=form, status=422, duplicates=[],
                      dropped_files=bool(files), **LABELS)
    return _code_page(case, query_code, new=True)


def _code_page(case: Case, query_code: str, new: bool) -> ResponseReturnValue:
    public_url = request.host_url.rstrip("/") + "/query"
    qr = segno.make(query_code, error="m").svg_inline(
        scale=5, title=_("Query code of case %(number)s", number=case.number))
    body, code = render("casefiles/registered.html", block=None, case=case,
                        query_code=query_code, qr_svg=qr, public_url=public_url, new=new,
                        **LABELS)
    return _no_store(Response(body, status=code))


@bp.route("/new/check", methods=["POST"])
@require(perm.can_register)
def check_duplicates() -> ResponseReturnValue:
    """htmx: the earlier cases of the petitioners typed so far, shown before saving."""
    form = _register_form()
    rows = _duplicate_rows(_duplicates(form))
    return render("casefiles/_duplicates.html", block=None, duplicates=rows, form=form,
                  **LABELS)


# ---------------------------------------------------------------- the case page

def _describe(event: CaseEvent, orgs: dict[int, str]) -> tuple[str, str]:
    data = payload_of(event)
    kind = event.kind
    if kind.startswith("workflow."):
        try:
            title = str(ACTION_LABELS[Action(kind.split(".", 1)[1])])
        except ValueError:
            title = kind
        parts = []
        if data.get("from") != data.get("to"):
            parts.append(f"{_status_label(data.get('from'))} → {_status_label(data.get('to'))}")
        if kind == "workflow.assign":
            lead = (data.get("lead") or {}).get("organisation", "")
            co = "、".join(c.get("organisation", "") for c in data.get("co") or [])
            parts.append(_("Lead: %(lead)s", lead=lead) + (
                "; " + _("with: %(co)s", co=co) if co else ""))
            if data.get("due_on"):
                parts.append(_("due %(day)s", day=data["due_on"]))
        if kind == "workflow.extend" and data.get("days"):
            parts.append(_("%(n)d days", n=int(data["days"])))
        if data.get("reason"):
            parts.append(str(data["reason"]))
        return title, " · ".join(parts)
    title = str(EVENT_LABELS.get(kind, kind))
    if kind.startswith("document."):
        return title, _("%(title)s, version %(v)s (%(name)s)", title=data.get("title", ""),
                        v=data.get("version", ""), name=data.get("original_name", ""))
    if kind.startswith("access."):
        return title, f"{data.get('organisation', '')} · " + _label(GRANT_LABELS,
                                                                     data.get("level"))
    if kind == "case.edited":
        return title, "、".join(sorted((data.get("changes") or {}).keys()))
    if kind == "case.registered":
        return title, _label(CHANNEL_LABELS, data.get("channel"))
    if kind == "case.leader_set":
        return title, str(data.get("plan") or "")
    return title, str(data.get("reason") or data.get("note") or "")


def _timeline(case: Case, group: str) -> list[dict[str, Any]]:
    events = events_of(_db(), case)
    if group in TIMELINE_GROUPS:
        events = [e for e in events if e.kind.startswith(group + ".")]
    names = _user_names(e.actor_id for e in events)
    orgs: dict[int, str] = {}
    rows = []
    for e in reversed(events):
        title, detail = _describe(e, orgs)
        rows.append({"event": e, "title": title, "detail": detail,
                     "actor": names.get(e.actor_id or 0, "—"), "group": e.kind.split(".")[0]})
    return rows


def _action_rows(case: Case) -> list[dict[str, Any]]:
    rows = []
    for action in allowed_actions(case, current_user):
        if action == Action.ASSIGN:
            continue  # its own form, with the agencies and the letter
        rule = TRANSITIONS[(Status(case.status), action)]
        rows.append({"action": str(action), "label": ACTION_LABELS[action],
                     "reason_required": rule.reason_required,
                     "destructive": action in DESTRUCTIVE,
                     "days": action == Action.EXTEND,
                     # a reply is written: its text goes on the timeline like a reason
                     "text": action == Action.REPLY and not rule.reason_required})
    return rows


def _case_page(case: Case, *, block: str = "content", status_code: int = 200,
               summary_form: SummaryForm | None = None,
               revealed: dict[int, tuple[str | None, str | None]] | None = None,
               document_form: DocumentForm | None = None,
               notice: str | None = None) -> ResponseReturnValue:
    user = current_user
    group = request.args.get("kind", "")
    if summary_form is None:
        summary_form = SummaryForm(formdata=None, summary=case.summary)
        summary_form.version.data = str(case.version)
    if document_form is None:
        document_form = DocumentForm(formdata=None)
        document_form.idempotency_key.data = idempotency.new_key()
    document_form.fill_choices()
    allowed = allowed_actions(case, user)
    can_manage = perm.can_manage(user, case)
    assign_form = grant_form = leader_form = None
    if Action.ASSIGN in allowed or _may_assign(case):
        assign_form = AssignForm(formdata=None)
        assign_form.fill_choices(_agencies(exclude=case.office_id))
    if can_manage:
        grant_form = GrantForm(formdata=None)
        grant_form.fill_choices(_agencies(exclude=case.office_id))
    if _may_set_leader(case):
        leader_form = LeaderForm(formdata=None, leader_id=case.leader_id or 0,
                                 plan=case.leader_plan or "")
        leader_form.leader_id.choices = [(0, "—"), *_leaders()]
    org_ids = [case.township_id, case.village_id, case.office_id,
               *(a.organisation_id for a in case.assignments),
               *(g.organisation_id for g in case.grants)]
    documents = list(_db().scalars(select(Document).where(Document.case_id == case.id)
                                   .order_by(Document.id)))
    clocks = clk.clocks_for_case(_db(), case)
    return render(
        "casefiles/case.html", block=block, status=status_code, case=case,
        orgs=_org_names(org_ids),
        users=_user_names([case.leader_id, case.created_by_id,
                           *(d.created_by_id for d in documents)]),
        clocks=clocks, current=clk.current_clock(clocks), timeline=_timeline(case, group),
        group=group, groups=TIMELINE_GROUPS, documents=documents, actions=_action_rows(case),
        summary_form=summary_form, document_form=document_form, assign_form=assign_form,
        grant_form=grant_form, leader_form=leader_form, revealed=revealed or {},
        notice=notice,
        can_manage=can_manage, can_contribute=perm.can_contribute(user, case),
        can_unmask=perm.can_see_full_personal_data(user, case),
        integrity=check_case(_db(), case), inline_types=INLINE_TYPES, playable_types=PLAYABLE_TYPES,
        clock_paused=clock_ops.is_paused(_db(), case), pause_kinds=clock_ops.PAUSE_KINDS,
        **LABELS)


def _may_assign(case: Case) -> bool:
    """Whether the assignment form is offered: the state and the user allow it (its guard,
    a lead assignment, is met by the form itself, so allowed_actions never lists it)."""
    try:
        check_transition(case, Action.ASSIGN, current_user)
    except TransitionRefused:
        return False
    return True


def _may_set_leader(case: Case) -> bool:
    user = current_user
    return (perm.is_admin(user) or perm.is_office_staff(user, case, perm.OFFICE_EDIT_ROLES)
            or perm.is_responsible_leader(user, case))


@bp.route("/<number>")
@require(can_open_cases)
def show(number: str) -> ResponseReturnValue:
    case = _load(number)
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "timeline":
        return _case_page(case, block="timeline")
    ops.log_access(_db(), current_user, AccessAction.VIEW_CASE, case=case)
    _db().commit()
    return _case_page(case)


@bp.route("/<number>/print")
@require(can_open_cases)
def print_view(number: str) -> ResponseReturnValue:
    case = _load(number)
    ops.log_access(_db(), current_user, AccessAction.VIEW_CASE, case=case, detail="print")
    _db().commit()
    documents = list(_db().scalars(select(Document).where(Document.case_id == case.id)
                                   .order_by(Document.id)))
    org_ids = [case.township_id, case.village_id, case.office_id,
               *(a.organisation_id for a in case.assignments),
               *(g.organisation_id for g in case.grants)]
    return render("casefiles/print.html", block=None, case=case, orgs=_org_names(org_ids),
                  users=_user_names([case.leader_id]), clocks=clk.clocks_for_case(_db(), case),
                  timeline=_timeline(case, ""), documents=documents,
                  printed_at=datetime.now(clk.CHINA), **LABELS)


@bp.route("/<number>/summary", methods=["POST"])
@require(can_open_cases)
def edit_summary(number: str) -> ResponseReturnValue:
    case = _load_managed(number)
    form = SummaryForm()
    if not form.validate_on_submit():
        return _case_page(case, status_code=422, summary_form=form)
    seen = int(form.version.data) if (form.version.data or "").isdigit() else -1
    try:
        ops.edit_case(_db(), current_user, case, seen, summary=form.summary.data or "")
        _db().commit()
    except ops.StaleEdit:
        _db().rollback()
        fresh = _load(number)
        flash(_("Someone else changed this case while you were editing it. Your text is "
                "kept below; compare it with the saved summary and save again."), "error")
        form.version.data = str(fresh.version)
        return _case_page(fresh, status_code=409, summary_form=form)
    flash(_("The summary was saved."), "success")
    return redirect(_case_url(case, "summary"), code=303)


@bp.route("/<number>/parties/<int:party_id>/unmask", methods=["POST"])
@require(can_open_cases)
def unmask(number: str, party_id: int) -> ResponseReturnValue:
    case = _load(number)
    party = _db().get(Party, party_id)
    if party is None or party.case_id != case.id:
        abort(404)
    id_number, phone = ops.unmask_party(_db(), current_user, party)
    _db().commit()
    revealed = {party.id: (id_number, phone)}
    if request.headers.get("HX-Request"):
        body, code = render("casefiles/_party_numbers.html", block=None, case=case,
                            party=party, revealed=revealed, can_unmask=True, **LABELS)
        return _no_store(Response(body, status=code))
    return _no_store(make_response(_case_page(case, revealed=revealed)))


# ---------------------------------------------------------------- documents

def _document(case: Case, document_id: int) -> Document:
    doc = _db().get(Document, document_id)
    if doc is None or doc.case_id != case.id:
        abort(404)
    return doc


@bp.route("/<number>/documents", methods=["POST"])
@require(can_open_cases)
def add_document(number: str) -> ResponseReturnValue:
    case = _load(number)
    if not perm.can_contribute(current_user, case):
        abort(403)
    form = DocumentForm()
    form.fill_choices()
    key = form.idempotency_key.data
    earlier = idempotency.previous_result(_db(), key)
    if earlier:
        return redirect(earlier, code=303)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a file to upload."), "error")
        return _case_page(case, status_code=422, document_form=form)
    try:
        data, media_type, name = read_upload(upload)
        doc = ops.add_document(_db(), current_user, case, title=form.title.data or name,
                               data=data, original_name=name, media_type=media_type,
                               kind=form.kind.data or "other",
                               is_restricted=bool(form.is_restricted.data),
                               is_for_petitioner=bool(form.is_for_petitioner.data))
        url = _case_url(case, f"document-{doc.id}")
        idempotency.remember(_db(), key, "document", url)
        _db().commit()
    except UploadRefused as refused:
        _db().rollback()
        flash(str(refused.message), "error")
        return _case_page(case, status_code=refused.status, document_form=form)
    except IntegrityError:
        _db().rollback()
        earlier = idempotency.previous_result(_db(), key)
        if earlier:
            return redirect(earlier, code=303)
        raise
    flash(_("The document was added to the case file."), "success")
    return redirect(url, code=303)


@bp.route("/<number>/documents/<int:document_id>/versions", methods=["POST"])
@require(can_open_cases)
def add_version(number: str, document_id: int) -> ResponseReturnValue:
    case = _load(number)
    doc = _document(case, document_id)
    if not perm.can_contribute(current_user, case):
        abort(403)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a file to upload."), "error")
        return redirect(_case_url(case, f"document-{doc.id}"), code=303)
    try:
        data, media_type, name = read_upload(upload)
    except UploadRefused as refused:
        flash(str(refused.message), "error")
        return redirect(_case_url(case, f"document-{doc.id}"), code=303)
    version = ops.add_document_version(_db(), current_user, doc, data, name, media_type)
    _db().commit()
    flash(_("Version %(v)d of “%(title)s” was added.", v=version.version, title=doc.title),
          "success")
    return redirect(_case_url(case, f"document-{doc.id}"), code=303)


@bp.route("/<number>/documents/<int:document_id>/<int:version>")
@require(can_open_cases)
def document_file(number: str, document_id: int, version: int) -> ResponseReturnValue:
    """The stored bytes, inline for PDFs and images (the browser previews them), as a
    download otherwise; the type is the one found from the content at upload."""
    case = _load(number)
    doc = _document(case, document_id)
    found = _db().scalar(select(DocumentVersion).where(
        DocumentVersion.document_id == doc.id, DocumentVersion.version == version))
    if found is None:
        abort(404)
    inline = found.media_type in INLINE_TYPES and not request.args.get("download")
    if found.media_type in PLAYABLE_TYPES:
        return _stream(found, inline)
    data = ops.open_document(_db(), current_user, found)
    _db().commit()
    from urllib.parse import quote

    disposition = ("inline" if inline else "attachment") + \
        f"; filename*=UTF-8''{quote(found.original_name)}"
    response = Response(data, mimetype=found.media_type)
    response.headers["Content-Disposition"] = disposition
    response.headers["X-Content-Type-Options"] = "nosniff"
    if found.media_type != "application/pdf":  # the browser's PDF viewer needs scripts
        response.headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; " \
            "style-src 'unsafe-inline'"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _stream(found: DocumentVersion, inline: bool) -> ResponseReturnValue:
    """A recording: sent from its file with HTTP ranges, so the player can seek and
    nothing is held in memory."""
    first = request.range is None or request.range.ranges[0][0] == 0
    path = ops.document_blob_path(_db(), current_user, found, log=first)
    _db().commit()
    response = send_file(path, mimetype=found.media_type, conditional=True, etag=found.sha256,
                         as_attachment=not inline, download_name=found.original_name)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; media-src 'self'"
    response.headers["Cache-Control"] = "private, no-store"
    return response


# ---------------------------------------------------------------- procedure

def _refused(case: Case, error: TransitionRefused) -> ResponseReturnValue:
    _db().rollback()
    if isinstance(error, TransitionForbidden):
        raise error
    flash(str(error.message), "error")
    return redirect(_case_url(case, "actions"), code=303)


@bp.route("/<number>/actions/<action>", methods=["POST"])
@require(can_open_cases)
def act(number: str, action: str) -> ResponseReturnValue:
    case = _load(number)
    form = ActionForm()
    reason = (form.reason.data or "").strip() or None
    payload: dict[str, Any] = {}
    try:
        if action == Action.ASSIGN:
            raise TransitionRefused(_l("Use the assignment form to assign the case."))
        if action == Action.EXTEND:
            days = form.days.data or 30
            rules, _calendar = clk.rules_and_calendar()
            kind = clk.reply_kind(case)
            granted = [int(payload_of(e).get("days") or 0)
                       for e in events_of(_db(), case, ["workflow.extend"])]
            try:
                dl.check_extension(kind, rules, granted, days)
            except dl.ExtensionRefused:
                rule = rules.rule(kind)
                if not rule.max_extensions:
                    raise TransitionRefused(_l("The time limit of this case cannot be "
                                               "extended.")) from None
                raise TransitionRefused(_l(
                    "This clock allows one extension of at most %(n)d days.",
                    n=rule.max_extension_days)) from None
            payload["days"] = days
        transition(_db(), case, action, current_user, reason=reason, payload=payload)
        _db().commit()
    except TransitionRefused as error:
        return _refused(case, error)
    try:
        label = str(ACTION_LABELS[Action(action)])
    except ValueError:
        label = action
    flash(_("Done: %(action)s. The case is now “%(state)s”.", action=label,
            state=_status_label(case.status)), "success")
    return redirect(_case_url(case, "actions"), code=303)


def _notify_org_members(org_ids: list[int], text: str, link: str) -> None:
    from portal.notify.operations import notify_user

    rows = _db().execute(select(user_organisations.c.user_id).where(
        user_organisations.c.organisation_id.in_(org_ids)).distinct())
    for (uid,) in rows:
        notify_user(_db(), uid, text, link)


@bp.route("/<number>/assign", methods=["POST"])
@require(can_open_cases)
def assign(number: str) -> ResponseReturnValue:
    case = _load(number)
    form = AssignForm()
    form.fill_choices(_agencies(exclude=case.office_id))
    lead = _db().get(Organisation, form.lead_id.data or 0)
    if lead is None:
        flash(_("Choose the lead agency."), "error")
        return redirect(_case_url(case, "agencies"), code=303)
    co = [o for o in (_db().get(Organisation, i) for i in form.co_ids.data or []) if o]
    try:
        made = ops.assign(_db(), current_user, case, lead, co, due_on=form.due_on.data,
                          letter=form.letter.data)
    except TransitionRefused as error:
        return _refused(case, error)
    # in-app notices go in the same commit as the assignment: both or neither
    _notify_org_members([a.organisation_id for a in made],
                        _("Case %(number)s was assigned to your agency.", number=case.number),
                        _case_url(case))
    _db().commit()
    flash(_("Case %(number)s was assigned to %(org)s.", number=case.number, org=lead.name),
          "success")
    return redirect(_case_url(case, "agencies"), code=303)


@bp.route("/<number>/grants", methods=["POST"])
@require(can_open_cases)
def grant(number: str) -> ResponseReturnValue:
    case = _load_managed(number)
    form = GrantForm()
    form.fill_choices(_agencies(exclude=case.office_id))
    org = _db().get(Organisation, form.organisation_id.data or 0)
    if org is None or not form.validate_on_submit():
        flash(_("Choose an organisation and a level."), "error")
        return redirect(_case_url(case, "agencies"), code=303)
    ops.grant_access(_db(), current_user, case, org, form.level.data or "view")
    _db().commit()
    flash(_("The file is shared with %(org)s.", org=org.name), "success")
    return redirect(_case_url(case, "agencies"), code=303)


@bp.route("/<number>/grants/<int:organisation_id>/withdraw", methods=["POST"])
@require(can_open_cases)
def withdraw_grant(number: str, organisation_id: int) -> ResponseReturnValue:
    """Withdraw an organisation's access to the file. The button asks first: htmx's
    hx-confirm, then a POST with confirmed=1; without JavaScript the first POST answers
    with a page that asks, whose button posts confirmed=1."""
    case = _load_managed(number)
    org = _db().get(Organisation, organisation_id)
    if org is None:
        abort(404)
    grant = next((g for g in case.grants if g.organisation_id == org.id), None)
    htmx = bool(request.headers.get("HX-Request"))
    if grant is None:  # withdrawn already (a second click, another tab)
        message = _("%(org)s has no access to this file.", org=org.name)
        if htmx:
            return _case_page(case, block="sharing", notice=message)
        flash(message, "info")
        return redirect(_case_url(case, "agencies"), code=303)
    if request.form.get("confirmed") != "1":
        return render("casefiles/withdraw_grant.html", block=None, case=case, org=org,
                      grant=grant, **LABELS)
    ops.revoke_access(_db(), current_user, case, org)
    _db().commit()
    message = _("%(org)s no longer has access to this file.", org=org.name)
    if htmx:
        return _case_page(case, block="sharing", notice=message)
    flash(message, "success")
    return redirect(_case_url(case, "agencies"), code=303)


@bp.route("/<number>/leader", methods=["POST"])
@require(can_open_cases)
def set_leader(number: str) -> ResponseReturnValue:
    case = _load(number)
    if not _may_set_leader(case):
        abort(403)
    form = LeaderForm()
    leader = _db().get(User, form.leader_id.data or 0) if (form.leader_id.raw_data or [""])[0] \
        .isdigit() else None
    if leader is None:
        flash(_("Choose the responsible leader."), "error")
        return redirect(_case_url(case, "leader"), code=303)
    ops.set_leader(_db(), current_user, case, leader, form.plan.data)
    if leader.id != current_user.id:
        from portal.notify.operations import notify_user

        notify_user(_db(), leader.id, _("You are the responsible leader of case %(number)s.",
                                        number=case.number), _case_url(case))
    _db().commit()
    flash(_("%(name)s is the responsible leader.", name=leader.display_name), "success")
    return redirect(_case_url(case, "leader"), code=303)


@bp.route("/<number>/query-code", methods=["POST"])
@require(can_open_cases)
def reissue_code(number: str) -> ResponseReturnValue:
    case = _load_managed(number)
    code = ops.reissue_query_code(_db(), current_user, case)
    _db().commit()
    return _code_page(case, code, new=False)


# ---------------------------------------------------------------- pausing the clock

@bp.route("/<number>/clock/pause", methods=["POST"])
@require(can_open_cases)
def pause_clock(number: str) -> ResponseReturnValue:
    """Stop the running time limit for a hearing or an appraisal (events only)."""
    case = _load_managed(number)
    try:
        clock_ops.pause_clock(_db(), current_user, case, request.form.get("reason", ""),
                              request.form.get("kind", ""))
        _db().commit()
    except DomainError as error:
        _db().rollback()
        if error.status == 403:
            raise
        flash(str(error.message), "error")
        return redirect(_case_url(case, "clocks"), code=303)
    flash(_("The time limit is paused. It stands still until you resume it."), "success")
    return redirect(_case_url(case, "clocks"), code=303)


@bp.route("/<number>/clock/resume", methods=["POST"])
@require(can_open_cases)
def resume_clock(number: str) -> ResponseReturnValue:
    """Let the paused time limit run again from today."""
    case = _load_managed(number)
    try:
        clock_ops.resume_clock(_db(), current_user, case,
                               request.form.get("reason") or None)
        _db().commit()
    except DomainError as error:
        _db().rollback()
        if error.status == 403:
            raise
        flash(str(error.message), "error")
        return redirect(_case_url(case, "clocks"), code=303)
    flash(_("The time limit runs again."), "success")
    return redirect(_case_url(case, "clocks"), code=303)


@bp.route("/<number>/export.pdf")
@require(can_open_cases)
def export_pdf(number: str) -> ResponseReturnValue:
    """The whole file as one PDF (export.case_pdf), as a download; the export is logged."""
    from urllib.parse import quote

    from portal.casefiles import export

    case = _load(number)
    data = export.case_pdf(_db(), current_user, case)
    _db().commit()
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = \
        f"attachment; filename*=UTF-8''{quote(case.number + '.pdf')}"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/<number>/export.zip")
@require(can_open_cases)
def export_zip(number: str) -> ResponseReturnValue:
    """The originals, the PDF, the timeline and a manifest of hashes, written to a
    temporary file and streamed; the export is logged."""
    import tempfile

    from flask import send_file

    from portal.casefiles import export

    case = _load(number)
    spool = tempfile.TemporaryFile()  # noqa: SIM115 -- send_file closes it
    try:
        export.write_case_zip(_db(), current_user, case, spool)
        _db().commit()
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    response = send_file(spool, mimetype="application/zip", as_attachment=True,
                         download_name=f"{case.number}.zip", max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response
