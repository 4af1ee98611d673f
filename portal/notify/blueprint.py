"""The in-app inbox and the admin's outbox page."""

from __future__ import annotations

from flask import Blueprint
from flask.typing import ResponseReturnValue

from portal.web import render

bp = Blueprint("notify", __name__)


@bp.route("/notifications")
def inbox() -> ResponseReturnValue:
    return render("notify/inbox.html", notifications=[])
