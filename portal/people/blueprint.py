"""Registry pages: list with search and filters, record, edit, CSV import."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, cast

from flask import Blueprint, Response, current_app, flash, make_response, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import Session

from portal import idempotency, web
from portal.crypto import mask_phone
from portal.errors import DomainError, StaleEdit
from portal.extensions import db
from portal.people import csv_import
from portal.people import operations as ops
from portal.people.forms import AffiliationForm, ImportForm, PersonForm
from portal.people.models import (
    FIELD_LABELS,
    KIND_LABELS,
    MEDIATOR_KIND_LABELS,
    Person,
    PersonKind,
)
from portal.people.permissions import can_manage_people, can_view_people
from portal.web import page_args, render, require

bp = Blueprint("people", __name__, url_prefix="/people")

#: rows per page: 25 stacked cards is about as far as anyone scrolls on a phone
PAGE_SIZE = 25


def _db() -> Session:
    """The request's session, typed as the plain Session the operations take."""
    return cast(Session, db.session)

def _text_labels(labels: dict[Any, Any]) -> dict[str, str]:
    """Lazy labels turned into text once per page, not once per row."""
    return {str(k): str(v) for k, v in labels.items()}


LABELS: dict[str, Any] = {
    "text_labels": _text_labels,
    "kind_labels": KIND_LABELS, "field_labels": FIELD_LABELS,
    "mediator_kind_labels": MEDIATOR_KIND_LABELS, "gender_labels": ops.GENDER_LABELS,
    "mask_phone": mask_phone, "can_manage": can_manage_people,
}


#: seconds the filter's organisation list is reused; a new organisation shows up after it
ORG_CHOICES_TTL = 30.0


def _filter_organisations() -> list[tuple[int, str]]:
    """The organisations for the list's filter, kept for a few seconds per process: every
    full page draws them, and they change a few times a year."""
    cache = current_app.extensions.setdefault("people.org_choices", {})
    now = time.monotonic()
    if cache.get("until", 0.0) < now:
        cache["choices"] = ops.organisation_choices(_db())
        cache["until"] = now + ORG_CHOICES_TTL
    choices: list[tuple[int, str]] = cache["choices"]
    return choices


@bp.route("/")
@require(can_view_people)
def index() -> ResponseReturnValue:
    filters = ops.Filters.from_args(request.args)
    page, per_page = page_args(default_size=PAGE_SIZE)
    result = ops.list_people(_db(), filters, page, per_page)
    # the filter's organisation list is only read when the whole page is drawn
    return render("people/index.html", block="results", pagination=result, f=filters,
                  filter_organisations=_filter_organisations, **LABELS)


def _person_form(kind: str | None, keep_org: int | None = None,
                 obj: Person | None = None) -> PersonForm:
    form = PersonForm(obj=obj)
    if kind:
        form.kind.data = kind
    wanted = ops.ORG_KINDS_FOR.get(form.kind.data or "", ops.OTHER_ORG_KINDS)
    form.fill_choices(ops.organisations_for(_db(), wanted, keep=keep_org))
    return form


@bp.route("/new", methods=["GET", "POST"])
@require(can_manage_people)
def new() -> ResponseReturnValue:
    kind = request.form.get("kind") or request.args.get("kind") or ""
    if kind not in {str(k) for k in PersonKind}:
        return render("people/choose_kind.html", **LABELS)
    form = _person_form(kind)
    if request.method == "GET":
        form.idempotency_key.data = idempotency.new_key()
        return render("people/form.html", form=form, person=None, **LABELS)
    if not form.validate_on_submit():
        return render("people/form.html", form=form, person=None, status=422, **LABELS)
    key = form.idempotency_key.data
    idempotency.ensure_new(_db(), key)
    web.on_error(_form_again(form, None))
    idempotency.claim(_db(), key, "person")
    person = ops.create_person(_db(), form.data_for_operations())
    url = url_for("people.show", person_id=person.id)
    idempotency.remember(_db(), key, "person", url)
    flash(_("Saved."), "success")
    return redirect(url)


def _form_again(form: PersonForm, person: Person | None
                ) -> Callable[[DomainError], ResponseReturnValue]:
    """The answer to a refused save: the form again with the user's input, each problem
    on its field (422), or with the saved version after someone else's save (409)."""

    def respond(error: DomainError) -> ResponseReturnValue:
        if isinstance(error, ops.PersonInvalid):
            form.show_errors(error.errors)
            status = 422
        elif isinstance(error, StaleEdit) and person is not None:
            flash(str(error.message), "error")
            fresh = db.session.get(Person, person.id)
            form.version.data = str(fresh.version if fresh else "")
            status = 409
        else:
            return web.default_answer(error)
        return render("people/form.html", form=form, person=person, status=status, **LABELS)

    return respond


@bp.route("/<int:person_id>")
@require(can_view_people)
def show(person_id: int) -> ResponseReturnValue:
    person = db.get_or_404(Person, person_id)
    return _record_page(person)


def _record_page(person: Person, revealed: str | None = None,
                 tie_form: AffiliationForm | None = None, status: int = 200,
                 block: str = "content") -> ResponseReturnValue:
    if tie_form is None:
        tie_form = AffiliationForm()
        tie_form.idempotency_key.data = idempotency.new_key()
    tie_form.organisation_id.choices = [(0, "—")] + _filter_organisations()
    return render("people/person.html", block=block, person=person, revealed=revealed,
                  tie_form=tie_form, status=status, **LABELS)


@bp.route("/<int:person_id>/edit", methods=["GET", "POST"])
@require(can_manage_people)
def edit(person_id: int) -> ResponseReturnValue:
    person = db.get_or_404(Person, person_id)
    kind = request.form.get("kind") or request.args.get("kind") or person.kind
    if kind not in {str(k) for k in PersonKind}:
        kind = person.kind
    form = _person_form(kind, keep_org=person.organisation_id,
                        obj=person if request.method == "GET" else None)
    if request.method == "GET":
        form.version.data = str(person.version)
        form.organisation_id.data = person.organisation_id or 0
        form.gender.data = person.gender or ""
        form.expert_field.data = person.expert_field or ""
        form.mediator_kind.data = person.mediator_kind or ""
        return render("people/form.html", form=form, person=person, **LABELS)
    if not form.validate_on_submit():
        return render("people/form.html", form=form, person=person, status=422, **LABELS)
    seen = int(form.version.data) if (form.version.data or "").isdigit() else None
    web.on_error(_form_again(form, person))
    ops.update_person(_db(), person, form.data_for_operations(), seen)
    flash(_("Saved."), "success")
    return redirect(url_for("people.show", person_id=person.id))


@bp.route("/<int:person_id>/active", methods=["POST"])
@require(can_manage_people)
def set_active(person_id: int) -> ResponseReturnValue:
    person = db.get_or_404(Person, person_id)
    active = request.form.get("active") == "1"
    ops.set_active(_db(), person, active)
    flash(_("%(name)s is active again.", name=person.name) if active
          else _("%(name)s is now inactive and will not be proposed for panels or rotas.",
                 name=person.name), "success")
    return redirect(url_for("people.show", person_id=person.id))


@bp.route("/<int:person_id>/phone", methods=["POST"])
@require(can_manage_people)
def reveal_phone(person_id: int) -> ResponseReturnValue:
    person = db.get_or_404(Person, person_id)
    number = ops.reveal_phone(_db(), person, current_user)
    page = _record_page(person, revealed=number, block="phone")
    response = make_response(page)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/<int:person_id>/affiliations", methods=["POST"])
@require(can_manage_people)
def add_affiliation(person_id: int) -> ResponseReturnValue:
    person = db.get_or_404(Person, person_id)
    form = AffiliationForm()
    url = url_for("people.show", person_id=person.id) + "#ties"
    key = form.idempotency_key.data
    idempotency.ensure_new(_db(), key)

    def refused(error: DomainError) -> ResponseReturnValue:
        form.name.errors = [str(error.message)]
        return _record_page(person, tie_form=form, status=422)

    web.on_error(refused)
    idempotency.claim(_db(), key, "affiliation")
    ops.add_affiliation(_db(), person, organisation_id=form.organisation_id.data or None,
                        name=form.name.data, relation=form.relation.data)
    idempotency.remember(_db(), key, "affiliation", url)
    flash(_("The tie was added."), "success")
    return redirect(url)


@bp.route("/<int:person_id>/affiliations/<int:tie_id>/delete", methods=["POST"])
@require(can_manage_people)
def remove_affiliation(person_id: int, tie_id: int) -> ResponseReturnValue:
    person = db.get_or_404(Person, person_id)
    ops.remove_affiliation(_db(), person, tie_id)
    flash(_("The tie was removed."), "success")
    return redirect(url_for("people.show", person_id=person.id) + "#ties")


@bp.route("/import", methods=["GET", "POST"])
@require(can_manage_people)
def import_csv() -> ResponseReturnValue:
    form = ImportForm()
    if request.method == "GET":
        form.idempotency_key.data = idempotency.new_key()
        return _import_page(form)
    key = form.idempotency_key.data
    idempotency.ensure_new(_db(), key, notice=_("This file was already imported."))
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        form.file.errors = [_("Choose a CSV file.")]
        return _import_page(form, status=422)

    def refused(error: DomainError) -> ResponseReturnValue:
        if isinstance(error, csv_import.ImportRejected):
            flash(str(error.message), "error")
            return _import_page(form, errors=error.errors, status=422)
        if isinstance(error, csv_import.ImportRefused):
            form.file.errors = [str(error.message)]
            return _import_page(form, status=error.status if error.status != 400 else 422)
        return web.default_answer(error)

    web.on_error(refused)
    raw = upload.stream.read(csv_import.MAX_BYTES + 1)
    idempotency.claim(_db(), key, "people-import")
    count = csv_import.import_people(_db(), raw)
    url = url_for("people.index", status="all")
    idempotency.remember(_db(), key, "people-import", url)
    flash(_("%(n)d people were imported.", n=count), "success")
    return redirect(url)


def _import_page(form: ImportForm, errors: list[csv_import.RowError] | None = None,
                 status: int = 200) -> ResponseReturnValue:
    return render("people/import.html", form=form, errors=errors or [], status=status,
                  max_rows=csv_import.MAX_ROWS,
                  max_mb=csv_import.MAX_BYTES // (1024 * 1024), **LABELS)


@bp.route("/import/template.csv")
@require(can_manage_people)
def import_template() -> ResponseReturnValue:
    return Response(csv_import.template_csv(), mimetype="text/csv",
                    headers={"Content-Disposition":
                             "attachment; filename=people-import-template.csv"})
