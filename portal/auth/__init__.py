"""Accounts, roles, login, sessions and two-step verification."""

from __future__ import annotations

from functools import cache
from typing import Any

from flask import Flask, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import joinedload

from portal.extensions import db, login_manager
from portal.i18n import lazy_gettext as _l
from portal.web import add_nav

from .models import User
from .permissions import can_manage_users

#: what a user whose password was reset may open before choosing a new one
_EXPIRED_ALLOWED = {"auth.account", "auth.logout", "static", "site.set_language", "site.healthz"}


@cache
def _load_user_statement() -> Select[Any]:
    """Built once (after every model is mapped): it runs on every request."""
    return select(User).options(joinedload(User.role_rows)).where(
        User.id == bindparam("user_id"))


def _load_user(user_id: str) -> User | None:
    ident, _, version = user_id.partition(".")
    if not ident.isdigit() or not version.isdigit():
        return None
    # one query for the user and their roles: this runs on every request
    found = db.session.execute(_load_user_statement(), {"user_id": int(ident)})
    user = found.unique().scalar_one_or_none()
    if user is None or not user.is_active or user.session_version != int(version):
        return None
    return user


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
    add_nav(app, _l("Users"), "auth.users", can_manage_users, order=90)
    add_nav(app, _l("Security"), "auth.security", can_manage_users, order=91)
