"""Hearing pages for staff: the list, scheduling, the hearing's page. The other audiences'
routes are in panel_blueprint, invitations_blueprint (RSVP links, public), public_blueprint
(notices and observers, public), live_blueprint, deliberation_blueprint and
record_blueprint, all on this one blueprint."""

from __future__ import annotations

from flask import Blueprint
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from hearings import permissions as perm
from hearings.models import Hearing, HearingKind, HearingStatus
from portal.casefiles.models import Case
from portal.enums import labels
from portal.extensions import db
from portal.web import render, require

bp = Blueprint("hearings", __name__, url_prefix="/hearings")


@bp.route("/")
@require(perm.can_open_hearings)
def index() -> ResponseReturnValue:
    hearings = db.session.scalars(
        select(Hearing).join(Case, Case.id == Hearing.case_id)
        .where(perm.visible_hearings(current_user))
        .order_by(Hearing.starts_at.desc()).limit(50)).all()
    return render("hearings/index.html", hearings=hearings,
                  status_labels=labels(HearingStatus), kind_labels=labels(HearingKind),
                  perm=perm)


@bp.route("/<int:hearing_id>")
@require(perm.can_open_hearings)
def detail(hearing_id: int) -> ResponseReturnValue:
    hearing = db.session.get(Hearing, hearing_id)
    if hearing is None or not perm.can_view_hearing(current_user, hearing):
        from werkzeug.exceptions import NotFound

        raise NotFound()
    return render("hearings/detail.html", hearing=hearing, perm=perm,
                  status_labels=labels(HearingStatus), kind_labels=labels(HearingKind))
