"""The hearings' part of the petitioner's query page (portal.hooks.register_query_panel):
their requests with the office's written decision, the hearings scheduled on their case,
and the form to ask for a hearing. The form posts the page's short-lived token, never the
query code, and its answer is the query page again."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from markupsafe import Markup

from hearings import queries
from hearings import requests as reqs
from hearings.blueprint import bp
from hearings.forms import PublicRequestForm
from hearings.models import HearingStatus
from hearings.presentation import LABELS, when
from portal import web
from portal.casefiles.clocks import china_day
from portal.casefiles.models import Case
from portal.casefiles.public_blueprint import (
    TOKEN_LIMIT,
    case_from_token,
    expired_page,
    query_page,
)
from portal.errors import DomainError
from portal.extensions import db, limiter
from portal.web import public


def query_panel(case: Case, token: str) -> str | None:
    session = db.session()
    form = PublicRequestForm()
    form.token.data = token
    requests = reqs.requests_of_case(session, case)
    hearings = [h for h in queries.hearings_of_case(session, case)
                if h.status != HearingStatus.CANCELLED]
    try:
        reqs.check_may_request(session, case, "x")  # anything but a pending one / closed
        may_ask = True
    except DomainError:
        may_ask = False
    needs_evidence = reqs.earlier_hearing_reason(session, case) is not None
    return Markup(render_template("hearings/_query_panel.html", form=form,
                                  requests=requests, hearings=hearings, may_ask=may_ask,
                                  needs_evidence=needs_evidence, day=china_day,
                                  when=when, **LABELS))


@bp.post("/ask")
@public
@limiter.limit(TOKEN_LIMIT, methods=["POST"])
def ask() -> ResponseReturnValue:
    """The petitioner's request from the query page."""
    form = PublicRequestForm()
    case = case_from_token(form.token.data or "")
    if case is None:
        return expired_page()
    if not form.validate_on_submit():
        return query_page(case, message=_("Say what you want the hearing to examine and "
                                          "why (at most %(n)d characters).",
                                          n=reqs.MAX_TEXT), status=400)
    # a refusal: rolled back (nothing stored), the page again with the reason
    web.on_error(lambda error: query_page(case, message=str(error.message),
                                          status=error.status))
    req = reqs.request_hearing(db.session(), None, case, reason=form.reason.data or "",
                               new_evidence=form.new_evidence.data or "")
    return query_page(case, notice=_(
        "Your request for a hearing is recorded. The office decides by %(day)s; the "
        "decision will be shown on this page.", day=req.decide_by.isoformat()))
