"""Accounts, roles, login, sessions and two-step verification."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from flask import Flask, current_app, g, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.orm import joinedload

from portal import transaction
from portal.extensions import db, login_manager
from portal.i18n import lazy_gettext as _l
from portal.timeutil import utcnow
from portal.web import add_nav

from .models import LOGIN_SESSION_KEY, LoginSession, User
from .permissions import can_manage_users

log = logging.getLogger(__name__)

#: what the user loader found due on the login session: written after the response
_DUE = "portal_login_session_due"

#: what a user whose password was reset may open before choosing a new one
_EXPIRED_ALLOWED = {"auth.account", "auth.logout", "static", "site.set_language", "site.healthz"}


@cache
def _load_user_statement() -> Select[User, datetime]:
    """Built once (after every model is mapped): it runs on every request."""
    return (select(User, LoginSession.last_seen_at)
            .options(joinedload(User.role_rows))
            .join(LoginSession, LoginSession.user_id == User.id)
            .where(User.id == bindparam("user_id"),
                   LoginSession.id == bindparam("login_session"),
                   LoginSession.ended_at.is_(None)))


def _load_user(user_id: str) -> User | None:
    """The user of this request's login session, or None when that session was ended
    (logout, password change or reset, deactivation) or has been idle too long: the
    cookie alone, even a valid copy of it, opens nothing on its own."""
    ident, _, version = user_id.partition(".")
    login_session = session.get(LOGIN_SESSION_KEY)
    if not ident.isdigit() or not version.isdigit() or not isinstance(login_session, str):
        return None
    # one query for the user, their roles and their login session: this runs on every request
    found = db.session.execute(_load_user_statement(),
                               {"user_id": int(ident), "login_session": login_session})
    row = found.unique().one_or_none()
    if row is None:
        return None
    user, last_seen = row
    if not user.is_active or user.session_version != int(version):
        return None
    now = utcnow()
    idle = timedelta(minutes=current_app.extensions["portal.settings"].session_idle_minutes)
    if now - last_seen > idle:
        _write_later(login_session, {"ended_at": now})
        return None
    if (now - last_seen).total_seconds() >= LoginSession.TOUCH_SECONDS:
        _write_later(login_session, {"last_seen_at": now})
    return user


def _write_later(ident: str, values: dict[str, datetime]) -> None:
    """Mark the login session seen or ended once the request's or event's own work is
    done, in a short transaction of its own, so nothing holds a write lock for it while a
    page renders. A socket event (an official hours in a video room makes no page
    requests) writes it after its commit; a page request after its response is made."""
    if getattr(request, "sid", None) is not None:  # a Socket.IO event
        transaction.after_commit(db.session, lambda: _write(ident, values))
    else:
        setattr(g, _DUE, (ident, values))


def _write(ident: str, values: dict[str, datetime]) -> None:
    try:
        db.session.execute(update(LoginSession).where(LoginSession.id == ident,
                                                      LoginSession.ended_at.is_(None))
                           .values(**values))
        db.session.commit()
    except Exception:  # the answer is made already; the next request tries again
        log.exception("could not update the login session")
        db.session.rollback()


def _write_login_session(response: Any) -> Any:
    due: tuple[str, dict[str, datetime]] | None = g.pop(_DUE, None)
    if due is not None:
        _write(*due)
    return response


def _password_expired_gate() -> ResponseReturnValue | None:
    if (
        current_user.is_authenticated
        and current_user.is_password_expired
        and request.endpoint not in _EXPIRED_ALLOWED
    ):
        return redirect(url_for("auth.account"))
    return None


def init_app(app: Flask) -> None:
    from .blueprint import bp

    login_manager.init_app(app)
    login_manager.user_loader(_load_user)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "basic"
    app.register_blueprint(bp)
    app.before_request(_password_expired_gate)
    app.after_request(_write_login_session)
    add_nav(app, _l("Users"), "auth.users", can_manage_users, order=90)
    add_nav(app, _l("Security"), "auth.security", can_manage_users, order=91)
