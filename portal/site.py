"""Pages of the shell itself: home, health check, language switch."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, jsonify, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from portal.extensions import db
from portal.health import database_is_up
from portal.hooks import home_panels, landing_offers
from portal.notify.messages import remember_locale
from portal.web import LOCALES, public, render, safe_next

bp = Blueprint("site", __name__)


@bp.route("/")
@public
def home() -> ResponseReturnValue:
    if not current_user.is_authenticated:
        # people without an account: the public pages (the query page), staff login aside
        return render("public/landing.html",
                      offers=landing_offers(current_app))
    return work_home()


def work_home() -> ResponseReturnValue:
    """A logged-in user's home: the work queues the domains add (hooks.home_panels),
    then the menu as tiles."""
    from portal.auth.roles import ROLE_LABELS

    panels = [p for p in (panel(current_user) for panel in home_panels(current_app)) if p]
    return render("site/work_home.html", role_labels=ROLE_LABELS, panels=panels)


@bp.route("/healthz")
@public
def healthz() -> ResponseReturnValue:
    settings = current_app.extensions["portal.settings"]
    body = {"status": "ok", "db": "ok", "env": settings.env,
            "media_engine": settings.media_engine}
    if not database_is_up(db.session):
        body.update(status="degraded", db="down")
        return jsonify(body), 503
    return jsonify(body), 200


@bp.route("/lang/<code>", methods=["GET", "POST"])
@public
def set_language(code: str) -> ResponseReturnValue:
    """Remember the chosen language in the session and a year-long cookie."""
    back = safe_next(request.args.get("next") or _same_site_referrer(), url_for("site.home"))
    response = redirect(back)
    if code in LOCALES:
        session["locale"] = code
        if current_user.is_authenticated and request.method == "POST":
            # kept on the account (notices and e-mails reach them in it); a GET changes
            # only this browser's choice
            remember_locale(db.session, current_user.id, code)
        response.set_cookie("portal_lang", code, max_age=365 * 24 * 3600, samesite="Lax",
                            httponly=True)
    return response


def _same_site_referrer() -> str | None:
    """The page the switch was clicked on. After an htmx swap with hx-push-url the
    address bar (and so the Referer) holds the filtered list, which a link rendered
    earlier could not know."""
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc != request.host:
        return None
    return referrer.path + (f"?{referrer.query}" if referrer.query else "")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
