"""The petitioner's query page (查询码): public, no account.

The petitioner types the query code given at registration; the page shows the steps of
the case with their dates and the written notices meant for the petitioner, and nothing
else: no agency internals (letters, reasons, names of officers or agencies), no other
parties, no ID or phone numbers. Once a reply is given, the petitioner may rate
satisfaction (满意 / 基本满意 / 不满意) once.

The code is 12 digits in groups of four, typed on a keypad (spaces and dashes are
ignored); the long codes issued before still work. It never goes into a URL the server
sees (query strings land in logs): every form posts, and the printed slip's QR code opens
``/query#code=...``, a fragment the browser keeps to itself, which static/js/query-code.js
puts into the form. After a right code the page carries a short-lived signed token
(itsdangerous, bound to the case and its current code hash, so a reissued code ends it)
in its download and rating forms, and each of those requests re-checks it.

Guessing. 12 digits are 10**12 codes; a wrong code names no case, so wrong tries cannot
be counted per case. They are limited per address (a person mistyping) and across all
addresses together (a guesser spread over many addresses). With the global limit, a year
of guessing at the limit tries about 4.4 million codes; with 100,000 live cases that finds
less than one case a year, at random. The price is that a flood of wrong codes can make
the page refuse everyone for up to an hour; the 429 page then says to call the office.
A wrong code gets the same answer whether or not some case exists, and right codes are
not counted."""

from __future__ import annotations

import io
from typing import Any

from flask import Blueprint, current_app, g, send_file
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from werkzeug.exceptions import NotFound
from wtforms import HiddenField, IntegerField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length

from portal import hooks
from portal.casefiles import blobs
from portal.casefiles.clocks import china_day, clocks_for_case
from portal.casefiles.models import Case, Document
from portal.casefiles.operations import find_case_by_query_code, normalised_query_code
from portal.casefiles.petitioner import (
    RATING_LABELS,
    SATISFACTION,
    STEP_LABELS,
    Rating,
    Step,
    answers,
    case_from_token,
    make_token,
    may_rate,
    next_answer,
    office_of,
    petitioner_documents,
    petitioner_events,
    petitioner_steps,
    record_satisfaction,
    review_right,
)
from portal.casefiles.presentation import status_label
from portal.extensions import db, limiter
from portal.i18n import lazy_gettext as _l
from portal.web import public, render

__all__ = ["RATING_LABELS", "STEP_LABELS", "Rating", "Step", "bp", "case_from_token",
           "make_token", "may_rate", "petitioner_documents", "petitioner_steps",
           "query_page", "expired_page", "record_satisfaction"]

bp = Blueprint("casequery", __name__)

#: wrong codes per address; right codes are not counted
WRONG_CODE_LIMIT = "10 per minute;50 per hour;200 per day"
#: wrong codes from all addresses together (see the module's note on guessing)
GLOBAL_WRONG_CODE_LIMIT = "500 per hour"
#: downloads and ratings (they carry a token, not a code)
TOKEN_LIMIT = "60 per minute"
#: media types a browser may show inline; anything else is downloaded
INLINE_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg", "image/webp",
                          "image/gif"})


class CodeForm(FlaskForm):
    code = StringField(_l("Query code"), validators=[DataRequired(), Length(max=120)],
                       render_kw={"autocomplete": "off", "autocapitalize": "characters",
                                  "spellcheck": "false", "inputmode": "numeric",
                                  "placeholder": "0000 0000 0000"})


class DocumentForm(FlaskForm):
    token = HiddenField(validators=[DataRequired()])
    document_id = IntegerField(validators=[InputRequired()])


class RatingForm(FlaskForm):
    token = HiddenField(validators=[DataRequired()])
    rating = RadioField(_l("How satisfied are you with the handling?"),
                        choices=[SelectChoice(value, label)
                                 for value, label in RATING_LABELS.items()],
                        validators=[InputRequired()])


def _no_store(response: Any) -> Any:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _page(form: CodeForm, case: Case | None = None, message: str | None = None,
          status: int = 200, notice: str | None = None) -> ResponseReturnValue:
    context: dict[str, Any] = {"form": form, "message": message, "notice": notice,
                               "case": None, "day": china_day}
    if case is not None:
        events = petitioner_events(case)
        rating = RatingForm()
        rating.token.data = make_token(case)
        clocks = clocks_for_case(db.session(), case)
        office = office_of(case)
        context.update(next_answer=next_answer(case, clocks), answers=answers(case),
                       review=review_right(case, clocks),
                       office_name=office.name if office else "",
                       office_phone=(office.phone or "").strip() if office else "")
        context.update(case=case, status_label=status_label(case.status),
                       received_on=china_day(case.received_at),
                       steps=petitioner_steps(events), documents=petitioner_documents(case),
                       token=rating.token.data, rating_form=rating,
                       may_rate=may_rate(events), rated=any(e.kind == SATISFACTION
                                                            for e in events),
                       doc_form=DocumentForm(),
                       panels=[html for panel in hooks.query_panels(current_app)
                               if (html := panel(case, rating.token.data)) is not None])
    body, code = render("casefiles/public/query.html", block=None, status=status, **context)
    response = current_app.make_response((body, code))
    return _no_store(response)


def query_page(case: Case, message: str | None = None, notice: str | None = None,
               status: int = 200) -> ResponseReturnValue:
    """The query page of `case`, as after a right code: for a domain's form posted from
    one of its panels (hooks.register_query_panel), which checked the page's token."""
    return _page(CodeForm(formdata=None), case, message=message, status=status,
                 notice=notice)


def expired_page() -> ResponseReturnValue:
    """The code form with "this page has expired": a panel's form whose token is stale."""
    return _expired()


def _wrong_code_message() -> str:
    return _("Too many wrong query codes from this connection. Please wait a few minutes "
             "and try again, or ask the petition office for help.")


def _busy_message() -> str:
    return _("Too many wrong query codes were tried on this page in the last hour. Please "
             "try again later, or call the petition office.")


def _everyone() -> str:
    return "all-addresses"


def _global_limit() -> str:
    return str(current_app.config.get("PORTAL_QUERY_GLOBAL_LIMIT", GLOBAL_WRONG_CODE_LIMIT))


@bp.route("/query", methods=["GET", "POST"])
@public
@limiter.limit(WRONG_CODE_LIMIT, methods=["POST"],
               deduct_when=lambda response: bool(g.get("casequery_wrong")),
               error_message=_wrong_code_message)
@limiter.limit(_global_limit, methods=["POST"], key_func=_everyone,
               deduct_when=lambda response: bool(g.get("casequery_wrong")),
               error_message=_busy_message)
def query() -> ResponseReturnValue:
    form = CodeForm()
    if not form.validate_on_submit():
        return _page(form)
    if normalised_query_code(form.code.data) is None:  # a slip of the finger: not counted
        return _page(form, message=_(
            "A query code has 12 digits, e.g. 4821 0937 5520. Check the code on your "
            "receipt and try again."))
    case = find_case_by_query_code(db.session(), form.code.data or "")
    if case is None:
        g.casequery_wrong = True
        form.code.data = ""
        return _page(form, message=_(
            "No case matches this query code. Check the code on your receipt and try "
            "again."))
    return _page(CodeForm(formdata=None), case)


def _expired() -> ResponseReturnValue:
    return _page(CodeForm(formdata=None), message=_(
        "This page has expired. Please enter your query code again."))


@bp.route("/query/document", methods=["POST"])
@public
@limiter.limit(TOKEN_LIMIT, methods=["POST"])
def document() -> ResponseReturnValue:
    form = DocumentForm()
    if not form.validate_on_submit():
        return _expired()
    case = case_from_token(form.token.data or "")
    if case is None:
        return _expired()
    doc = db.session.get(Document, form.document_id.data)
    if doc is None or doc.case_id != case.id or not doc.is_for_petitioner:
        raise NotFound()
    version = doc.current
    if version is None:
        raise NotFound()
    data = blobs.read_blob(version.sha256)
    inline = version.media_type in INLINE_TYPES
    response = send_file(io.BytesIO(data), mimetype=version.media_type,
                         as_attachment=not inline, download_name=version.original_name,
                         max_age=0)
    return _no_store(response)


@bp.route("/query/rating", methods=["POST"])
@public
@limiter.limit(TOKEN_LIMIT, methods=["POST"])
def rate() -> ResponseReturnValue:
    form = RatingForm()
    case = case_from_token(form.token.data or "")
    if case is None:
        return _expired()
    if not form.validate_on_submit():
        return _page(CodeForm(formdata=None), case,
                     message=_("Choose one of the answers, then send it."))
    if not record_satisfaction(db.session, case, form.rating.data or ""):
        return _page(CodeForm(formdata=None), case,
                     message=_("Your rating was already recorded, or there is no reply "
                               "to rate yet."))
    return _page(CodeForm(formdata=None), case, notice=_("Thank you. Your rating was "
                                                         "recorded."))


