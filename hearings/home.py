"""The hearings' part of an organiser's home page (portal.hooks.register_home_panel):
requests awaiting a decision with their days left, and the hearings coming up."""

from __future__ import annotations

from typing import Any

from flask import render_template
from markupsafe import Markup

from hearings import permissions as perm
from hearings import queries
from hearings import requests as reqs
from hearings.presentation import LABELS, when
from portal.casefiles.clocks import today_in_china
from portal.extensions import db

#: how many of each the panel lists
SHOWN = 8


def home_panel(user: Any) -> str | None:
    if not perm.can_schedule(user):
        return None
    session = db.session()
    pending = list(session.scalars(
        queries.requests_stmt(user, "pending").limit(SHOWN)))
    hearings = queries.upcoming(session, user, SHOWN)
    today = today_in_china()
    return Markup(render_template("hearings/_home.html", requests=pending,
                                  hearings=hearings, when=when,
                                  clock=lambda r: reqs.decide_clock(r, today), **LABELS))


