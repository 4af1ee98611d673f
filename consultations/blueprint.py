"""Consultation pages. The one blueprint `consultations`; routes by audience live in
rota_blueprint (rota, swaps, feed, the public duty page), intake_blueprint (asking a
question, the queue, the lawyer's desk), chat_blueprint (the chat and video pages) and
outcome_blueprint (closing, legal aid, the answer PDF, rating, conflicts, counts)."""

from __future__ import annotations

from flask import Blueprint
from flask.typing import ResponseReturnValue

from consultations import permissions as perm
from portal.web import render, require

bp = Blueprint("consultations", __name__, url_prefix="/consultations")


@bp.route("/")
@require(perm.can_open_consultations)
def index() -> ResponseReturnValue:
    """The desk: the parts add their sections to templates/consultations/index.html."""
    return render("consultations/index.html", perm=perm)
