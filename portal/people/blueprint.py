"""Registry pages: list with search and filters, record, edit, CSV import."""

from __future__ import annotations

from flask import Blueprint
from flask.typing import ResponseReturnValue

from portal.people.permissions import can_view_people
from portal.web import render, require

bp = Blueprint("people", __name__, url_prefix="/people")


@bp.route("/")
@require(can_view_people)
def index() -> ResponseReturnValue:
    return render("people/index.html")
