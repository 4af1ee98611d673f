"""The public check of an issued document: /verify/<hash> (no account).

It says only whether the portal issued a document with that SHA-256, when (the date,
Beijing time) and what kind in general words ("a hearing record") — never the case, a
name or any content, so a guessed hash teaches nothing but "not issued". The hash is
either the SHA-256 of the file's bytes, or the one a document prints under its QR code
(a hearing record: the SHA-256 of the record's text as frozen and signed, since a PDF
cannot contain its own hash); both are registered (portal.casefiles.issued). Looked-up
hashes are limited per address: the page is cheap, but it is a public oracle."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from portal.casefiles.issued import find, kind_label, normalised_hash
from portal.extensions import db, limiter
from portal.timeutil import beijing
from portal.web import public, render

bp = Blueprint("verify", __name__, url_prefix="/verify")

#: look-ups per address
VERIFY_LIMIT = "30 per minute;300 per hour"


def _limit_message() -> str:
    return _("Too many checks from this connection. Please wait a few minutes and try "
             "again.")


def _page(status: int = 200, **context: Any) -> ResponseReturnValue:
    context.setdefault("sha256", "")
    context.setdefault("message", None)
    context.setdefault("found", None)
    body, code = render("public/verify.html", block=None, status=status, **context)
    response = current_app.make_response((body, code))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _bad_hash_message() -> str:
    return _("This is not a document fingerprint. A fingerprint (SHA-256) has 64 characters, "
             "digits 0–9 and letters a–f, e.g. as printed under the QR code.")


@bp.get("")
@public
@limiter.limit(VERIFY_LIMIT, error_message=_limit_message)
def index() -> ResponseReturnValue:
    """The form to paste a hash; sent (a GET: it changes nothing), it goes to its page."""
    typed = request.args.get("hash")
    if typed is None:
        return _page()
    digest = normalised_hash(typed)
    if digest is None:
        return _page(message=_bad_hash_message(), sha256=typed[:200], invalid=True)
    return redirect(url_for("verify.show", sha256=digest), code=303)


@bp.get("/<sha256>")
@public
@limiter.limit(VERIFY_LIMIT, error_message=_limit_message)
def show(sha256: str) -> ResponseReturnValue:
    digest = normalised_hash(sha256)
    if digest is None:
        return _page(404, message=_bad_hash_message(), sha256=sha256[:200], invalid=True)
    if digest != sha256:  # one address per hash
        return redirect(url_for("verify.show", sha256=digest), code=301)
    row = find(db.session(), digest)
    if row is None:
        return _page(sha256=digest, found=False)
    return _page(sha256=digest, found=True, kind=kind_label(row.kind),
                 issued_on=beijing(row.issued_at).strftime("%Y-%m-%d"))
