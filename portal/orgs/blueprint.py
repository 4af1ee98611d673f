"""Organisations: list for staff, management for admins."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import or_, select

from portal import idempotency, web
from portal.errors import DomainError, StaleEdit
from portal.extensions import db
from portal.orgs import operations as ops
from portal.orgs.forms import OrganisationForm
from portal.orgs.models import ORG_KIND_LABELS, SECTOR_LABELS, Organisation, OrgKind
from portal.orgs.permissions import can_manage_orgs, can_view_orgs
from portal.web import page_args, render, require

bp = Blueprint("orgs", __name__, url_prefix="/orgs")


def _parent_choices(exclude: int | None = None) -> list[tuple[int, str]]:
    rows = db.session.scalars(select(Organisation).where(
        Organisation.kind.in_([OrgKind.COUNTY, OrgKind.TOWNSHIP, OrgKind.VILLAGE]))
        .order_by(Organisation.kind, Organisation.name))
    return [(o.id, o.full_name) for o in rows if o.id != exclude]


@bp.route("/")
@require(can_view_orgs)
def index() -> ResponseReturnValue:
    q = (request.args.get("q") or "").strip()
    kind = request.args.get("kind") or ""
    stmt = select(Organisation).order_by(Organisation.kind, Organisation.name)
    if q:
        stmt = stmt.where(or_(Organisation.name.contains(q), Organisation.code.contains(q)))
    if kind in {str(k) for k in OrgKind}:
        stmt = stmt.where(Organisation.kind == kind)
    page, per_page = page_args()
    pagination = db.paginate(stmt, page=page, per_page=per_page, error_out=False)
    return render("orgs/index.html", block="results", pagination=pagination, q=q, kind=kind,
                  kind_labels=ORG_KIND_LABELS, sector_labels=SECTOR_LABELS,
                  can_manage=can_manage_orgs)


def _form_data(form: OrganisationForm) -> dict[str, object]:
    return {
        "name": form.name.data or "", "kind": form.kind.data, "sector": form.sector.data,
        "parent_id": form.parent_id.data or None, "code": form.code.data,
        "address": form.address.data, "phone": form.phone.data,
        "is_active": bool(form.is_active.data),
    }


@bp.route("/new", methods=["GET", "POST"])
@require(can_manage_orgs)
def new() -> ResponseReturnValue:
    form = OrganisationForm()
    form.fill_choices(_parent_choices())
    if request.method == "GET":
        form.idempotency_key.data = idempotency.new_key()
        form.kind.data = request.args.get("kind", "agency")
    if form.validate_on_submit():
        key = form.idempotency_key.data
        idempotency.ensure_new(db.session, key)
        web.on_error(_form_again(form, None))
        idempotency.claim(db.session, key, "organisation")
        org = ops.create_organisation(db.session, _form_data(form))
        idempotency.remember(db.session, key, "organisation",
                             url_for("orgs.edit", org_id=org.id))
        flash(_("Saved."), "success")
        return redirect(url_for("orgs.index"))
    return render("orgs/form.html", form=form, org=None)


def _form_again(form: OrganisationForm, org: Organisation | None
                ) -> Callable[[DomainError], ResponseReturnValue]:
    """A refused save: the form again with the user's input and the message; after
    someone else's save (409) with the saved version, so the next save goes through."""

    def respond(error: DomainError) -> ResponseReturnValue:
        status = 200
        if isinstance(error, StaleEdit) and org is not None:
            flash(str(error.message), "error")
            form.version.data = str(org.version)
            status = 409
        else:
            form.name.errors = [str(error.message)]
        return render("orgs/form.html", form=form, org=org, status=status)

    return respond


@bp.route("/<int:org_id>", methods=["GET", "POST"])
@require(can_manage_orgs)
def edit(org_id: int) -> ResponseReturnValue:
    org = db.get_or_404(Organisation, org_id)
    form = OrganisationForm(obj=org if request.method == "GET" else None)
    form.fill_choices(_parent_choices(exclude=org.id))
    if request.method == "GET":
        form.version.data = str(org.version)
        form.parent_id.data = org.parent_id or 0
        form.sector.data = org.sector or ""
    if form.validate_on_submit():
        seen = int(form.version.data) if (form.version.data or "").isdigit() else None
        web.on_error(_form_again(form, org))
        ops.update_organisation(db.session, org, _form_data(form), seen)
        flash(_("Saved."), "success")
        return redirect(url_for("orgs.index"))
    return render("orgs/form.html", form=form, org=org)
