"""Case-file pages for everyone who works on cases: the list, the case page, the print
view, documents (upload, new versions, previews) and the exports. The management views
(registration, procedure, agencies, sharing, leader, query code, clock) are in
manage_blueprint.py, on the same `bp` (casefiles.init_app imports it before registering
bp), so every endpoint is `cases.<view>`. Shared helpers: pages.py; wording and labels:
presentation.py; who may do what: permissions.py.

Each view: load → authorize → one operation; portal.web commits once (or rolls back and
answers a domain error as the view says with `web.on_error`).

A case another organisation's user may not see answers 404, never 403: a leaked URL must
not tell anyone that the case exists."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from flask import Blueprint, Response, abort, flash, make_response, redirect, request, send_file
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal import idempotency, web
from portal.casefiles import clocks as clk
from portal.casefiles import (
    export,
    search,  # also keeps the search index up to date (after_flush)
)
from portal.casefiles import operations as ops
from portal.casefiles import permissions as perm
from portal.casefiles.forms import (
    INLINE_TYPES,
    PLAYABLE_TYPES,
    DocumentForm,
    UploadRefused,
    read_upload,
)
from portal.casefiles.models import AccessAction, Case, Document, DocumentVersion, Party
from portal.casefiles.pages import (
    agencies,
    case_page,
    case_url,
    documents_of,
    leaders,
    load,
    no_store,
    places,
    session,
)
from portal.casefiles.permissions import CASE_ROLES, can_open_cases
from portal.casefiles.presentation import (
    LABELS,
    case_org_ids,
    org_names,
    timeline,
    user_names,
)
from portal.errors import DomainError
from portal.orgs.models import OrgKind
from portal.web import page_args, render, require

__all__ = ["CASE_ROLES", "LABELS", "PAGE_SIZE", "bp", "can_open_cases"]

bp = Blueprint("cases", __name__, url_prefix="/cases")

#: cases a page of the list shows
PAGE_SIZE = 25


# ---------------------------------------------------------------- the list

@bp.route("/")
@require(can_open_cases)
def index() -> ResponseReturnValue:
    filters = search.CaseFilters.from_args(request.args)
    page, per_page = page_args(default_size=PAGE_SIZE)
    result = search.search_cases(session(), current_user, filters, page, per_page)
    items = list(result.items)
    today = clk.today_in_china()
    running = clk.current_clocks(session(), items, today)
    names = org_names(session(), [c.township_id for c in items] + [c.village_id for c in items])
    leader_names = user_names(session(), (c.leader_id for c in items))
    return render("casefiles/index.html", block="results", pagination=result, f=filters,
                  clocks=running, places=names, leaders=leader_names,
                  filter_townships=lambda: places(OrgKind.TOWNSHIP),
                  filter_agencies=agencies, filter_leaders=leaders,
                  can_register=perm.can_register(current_user), **LABELS)


# ---------------------------------------------------------------- the case page

@bp.route("/<number>")
@require(can_open_cases)
def show(number: str) -> ResponseReturnValue:
    case = load(number)
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "timeline":
        return case_page(case, block="timeline")
    ops.log_access(session(), current_user, AccessAction.VIEW_CASE, case=case)
    return case_page(case)


@bp.route("/<number>/print")
@require(can_open_cases)
def print_view(number: str) -> ResponseReturnValue:
    case = load(number)
    ops.log_access(session(), current_user, AccessAction.VIEW_CASE, case=case, detail="print")
    return render("casefiles/print.html", block=None, case=case,
                  orgs=org_names(session(), case_org_ids(case)),
                  users=user_names(session(), [case.leader_id]),
                  clocks=clk.clocks_for_case(session(), case),
                  timeline=timeline(session(), case, ""), documents=documents_of(case),
                  printed_at=datetime.now(clk.CHINA), **LABELS)


@bp.route("/<number>/parties/<int:party_id>/unmask", methods=["POST"])
@require(can_open_cases)
def unmask(number: str, party_id: int) -> ResponseReturnValue:
    case = load(number)
    party = session().get(Party, party_id)
    if party is None or party.case_id != case.id:
        abort(404)
    id_number, phone = ops.unmask_party(session(), current_user, party)
    revealed = {party.id: (id_number, phone)}
    if request.headers.get("HX-Request"):
        body, code = render("casefiles/_party_numbers.html", block=None, case=case,
                            party=party, revealed=revealed, can_unmask=True, **LABELS)
        return no_store(Response(body, status=code))
    return no_store(make_response(case_page(case, revealed=revealed)))


# ---------------------------------------------------------------- documents

def _document(case: Case, document_id: int) -> Document:
    doc = session().get(Document, document_id)
    if doc is None or doc.case_id != case.id:
        abort(404)
    return doc


@bp.route("/<number>/documents", methods=["POST"])
@require(can_open_cases)
def add_document(number: str) -> ResponseReturnValue:
    case = load(number)
    if not perm.can_contribute(current_user, case):
        abort(403)
    form = DocumentForm()
    form.fill_choices()
    key = form.idempotency_key.data
    idempotency.ensure_new(session(), key, code=303)

    def refused(error: DomainError) -> ResponseReturnValue:
        if not isinstance(error, UploadRefused):
            return web.default_answer(error)
        flash(str(error.message), "error")
        return case_page(case, status_code=error.status, document_form=form)

    web.on_error(refused)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a file to upload."), "error")
        return case_page(case, status_code=422, document_form=form)
    data, media_type, name = read_upload(upload)
    idempotency.claim(session(), key, "document", code=303)
    doc = ops.add_document(session(), current_user, case, title=form.title.data or name,
                           data=data, original_name=name, media_type=media_type,
                           kind=form.kind.data or "other",
                           is_restricted=bool(form.is_restricted.data),
                           is_for_petitioner=bool(form.is_for_petitioner.data))
    url = case_url(case, f"document-{doc.id}")
    idempotency.remember(session(), key, "document", url, code=303)
    flash(_("The document was added to the case file."), "success")
    return redirect(url, code=303)


@bp.route("/<number>/documents/<int:document_id>/versions", methods=["POST"])
@require(can_open_cases)
def add_version(number: str, document_id: int) -> ResponseReturnValue:
    case = load(number)
    doc = _document(case, document_id)
    if not perm.can_contribute(current_user, case):
        abort(403)
    back = case_url(case, f"document-{doc.id}")
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a file to upload."), "error")
        return redirect(back, code=303)

    def refused(error: DomainError) -> ResponseReturnValue:
        if not isinstance(error, UploadRefused):
            return web.default_answer(error)
        return web.flash_and_redirect(back)(error)

    web.on_error(refused)
    data, media_type, name = read_upload(upload)
    version = ops.add_document_version(session(), current_user, doc, data, name, media_type)
    flash(_("Version %(v)d of “%(title)s” was added.", v=version.version, title=doc.title),
          "success")
    return redirect(back, code=303)


@bp.route("/<number>/documents/<int:document_id>/<int:version>")
@require(can_open_cases)
def document_file(number: str, document_id: int, version: int) -> ResponseReturnValue:
    """The stored bytes, inline for PDFs and images (the browser previews them), as a
    download otherwise; the type is the one found from the content at upload."""
    case = load(number)
    doc = _document(case, document_id)
    found = session().scalar(select(DocumentVersion).where(
        DocumentVersion.document_id == doc.id, DocumentVersion.version == version))
    if found is None:
        abort(404)
    inline = found.media_type in INLINE_TYPES and not request.args.get("download")
    if found.media_type in PLAYABLE_TYPES:
        return _stream(found, inline)
    data = ops.open_document(session(), current_user, found)
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
    path = ops.document_blob_path(session(), current_user, found, log=first)
    response = send_file(path, mimetype=found.media_type, conditional=True, etag=found.sha256,
                         as_attachment=not inline, download_name=found.original_name)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; media-src 'self'"
    response.headers["Cache-Control"] = "private, no-store"
    return response


# ---------------------------------------------------------------- exports

def _full_numbers() -> bool:
    """Did the user ask for the full ID and phone numbers in the export (?numbers=full)?
    Masked otherwise, as on the case page; export.py checks the permission."""
    return request.args.get("numbers") == "full"


@bp.route("/<number>/export.pdf")
@require(can_open_cases)
def export_pdf(number: str) -> ResponseReturnValue:
    """The whole file as one PDF (export.case_pdf), as a download; the export is logged."""
    case = load(number)
    data = export.case_pdf(session(), current_user, case, full=_full_numbers())
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
    case = load(number)
    spool = export.case_zip_file(session(), current_user, case, full=_full_numbers())
    response = send_file(spool, mimetype="application/zip", as_attachment=True,
                         download_name=f"{case.number}.zip", max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response

