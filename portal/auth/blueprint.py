"""Login, logout, password and two-step verification; user administration."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

import segno
from flask import Blueprint, abort, current_app, flash, g, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from sqlalchemy import func, or_, select

from portal import idempotency, web
from portal.auth import operations as ops
from portal.auth.forms import (
    ChangePasswordForm,
    ConfirmForm,
    LoginForm,
    RolePolicyForm,
    TotpForm,
    UserForm,
    role_choices,
)
from portal.auth.models import LOGIN_SESSION_KEY, RolePolicy, User
from portal.auth.permissions import can_manage_users, can_use_2fa
from portal.auth.roles import ROLE_LABELS, Role
from portal.errors import DomainError
from portal.extensions import db, limiter
from portal.i18n import lazy_gettext as _l
from portal.orgs.models import Organisation
from portal.web import page_args, public, render, require, safe_next

bp = Blueprint("auth", __name__)

#: seconds a password-checked login may wait for its second factor
PENDING_LOGIN_SECONDS = 300


def _settings() -> Any:
    return current_app.extensions["portal.settings"]


def _login_key() -> str:
    return "login:" + (request.form.get("username") or "").strip().lower()


def _lock_message() -> str:
    return _("Too many failed logins for this account. It is locked for %(m)d minutes; "
             "try again later or ask an administrator to reset your password.",
             m=_settings().login_lock_minutes)


def _login_limit() -> str:
    s = _settings()
    return f"{s.login_max_failures} per {s.login_lock_minutes} minutes"


def _finish_login(user: User) -> ResponseReturnValue:
    """Start a fresh session: nothing from before the login is carried over."""
    next_url = session.get("login_next")
    locale = session.get("locale")
    ops.end_login_session(db.session, session.get(LOGIN_SESSION_KEY))
    session.clear()
    if locale:
        session["locale"] = locale
    # a new session identity at every login, recorded on the server
    session[LOGIN_SESSION_KEY] = ops.start_login_session(db.session, user)
    session.permanent = True
    login_user(user)
    ops.record_login(db.session, user)
    if user.is_password_expired:
        flash(_("Your password was reset. Please choose a new one."), "warning")
        return redirect(url_for("auth.account"))
    return redirect(safe_next(next_url, url_for("site.home")))


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(_login_limit, key_func=_login_key, methods=["POST"],
               deduct_when=lambda response: bool(g.get("login_failed")),
               error_message=_lock_message)
@limiter.limit("60 per minute", methods=["POST"])
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("site.home"))
    form = LoginForm()
    if form.validate_on_submit():
        user = ops.authenticate(db.session, form.username.data or "", form.password.data or "")
        if user is None:
            g.login_failed = True
            form.password.errors = [_("The username or password is not correct.")]
            return render("auth/login.html", form=form, status=200)
        session["login_next"] = request.args.get("next")
        if ops.needs_second_factor(db.session, user, _settings()):
            session["pending_user"] = user.id
            session["pending_at"] = int(time.time())
            return redirect(url_for("auth.second_factor"))
        return _finish_login(user)
    return render("auth/login.html", form=form)


def _pending_user() -> User | None:
    user_id = session.get("pending_user")
    started = session.get("pending_at", 0)
    if not user_id or time.time() - started > PENDING_LOGIN_SECONDS:
        return None
    user = db.session.get(User, user_id)
    return user if user and user.is_active else None


@bp.route("/login/verify", methods=["GET", "POST"])
@public
@limiter.limit("10 per 5 minutes", methods=["POST"])
def second_factor() -> ResponseReturnValue:
    user = _pending_user()
    if user is None:
        flash(_("Please log in again."), "info")
        return redirect(url_for("auth.login"))
    form = TotpForm()
    enrolling = not user.is_totp_enabled
    secret = ""
    if enrolling:
        secret = session.get("enrol_secret") or ops.new_totp_secret()
        session["enrol_secret"] = secret

    def page() -> ResponseReturnValue:
        context: dict[str, Any] = {"form": form, "enrolling": enrolling, "user": user}
        if enrolling:
            context["qr_svg"] = segno.make(ops.provisioning_uri(secret, user.username)) \
                .svg_inline(scale=5, title=_("QR code for your authenticator app"))
            context["secret"] = secret
        return render("auth/second_factor.html", **context)

    if not form.validate_on_submit():
        return page()
    code = form.code.data or ""
    web.on_error(_field_error(form.code, page))
    if enrolling:
        ops.enrol_totp(db.session, user, secret, code)
        session.pop("enrol_secret", None)
    elif not ops.verify_totp(db.session, user, code):
        raise DomainError(_l("That code is not right, or was already used. "
                             "Type the six digits shown now."))
    return _finish_login(user)


def _field_error(field: Any, page: Callable[[], ResponseReturnValue]
                 ) -> Callable[[DomainError], ResponseReturnValue]:
    """A refused form: the page again, with the message on `field`."""

    def respond(error: DomainError) -> ResponseReturnValue:
        field.errors = [str(error.message)]
        return page()

    return respond


@bp.route("/logout", methods=["POST"])
def logout() -> ResponseReturnValue:
    locale = session.get("locale")
    ops.end_login_session(db.session, session.get(LOGIN_SESSION_KEY))
    logout_user()
    session.clear()
    if locale:
        session["locale"] = locale
    flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account", methods=["GET", "POST"])
def account() -> ResponseReturnValue:
    form = ChangePasswordForm()

    def page() -> ResponseReturnValue:
        return render(
            "auth/account.html",
            form=form,
            can_2fa=can_use_2fa(current_user),
            required_2fa=ops.is_2fa_required(db.session, current_user, _settings()),
            confirm=ConfirmForm(),
        )

    if not form.validate_on_submit():
        return page()
    web.on_error(_field_error(form.new, page))
    ops.change_password(db.session, current_user, form.current.data or "", form.new.data or "",
                        keep_session=session.get(LOGIN_SESSION_KEY))
    # The version changed, so log in again under it in this session only.
    login_user(current_user)
    flash(_("Your password was changed. Other sessions have been logged out."), "success")
    return redirect(url_for("auth.account"))


@bp.route("/account/2fa", methods=["GET", "POST"])
@require(can_use_2fa)
def enrol_2fa() -> ResponseReturnValue:
    form = TotpForm()
    secret = session.get("enrol_secret") or ops.new_totp_secret()
    session["enrol_secret"] = secret

    def page() -> ResponseReturnValue:
        qr = segno.make(ops.provisioning_uri(secret, current_user.username)).svg_inline(
            scale=5, title=_("QR code for your authenticator app"))
        return render("auth/enrol_2fa.html", form=form, qr_svg=qr, secret=secret)

    if not form.validate_on_submit():
        return page()
    web.on_error(_field_error(form.code, page))
    ops.enrol_totp(db.session, current_user, secret, form.code.data or "")
    session.pop("enrol_secret", None)
    flash(_("Two-step verification is on."), "success")
    return redirect(url_for("auth.account"))


@bp.route("/account/2fa/disable", methods=["POST"])
@require(can_use_2fa)
def disable_2fa() -> ResponseReturnValue:
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    ops.disable_totp(db.session, current_user, _settings())
    flash(_("Two-step verification is off."), "info")
    return redirect(url_for("auth.account"))


# --- administration -----------------------------------------------------------

def _org_choices() -> list[tuple[int, str]]:
    orgs = db.session.scalars(select(Organisation).where(Organisation.is_active.is_(True))
                              .order_by(Organisation.kind, Organisation.name))
    return [(o.id, o.full_name) for o in orgs]


@bp.route("/admin/users")
@require(can_manage_users)
def users() -> ResponseReturnValue:
    q = (request.args.get("q") or "").strip()
    role = request.args.get("role") or ""
    stmt = select(User).order_by(User.username)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(or_(User.username.ilike(like), User.display_name.ilike(like)))
    if role in {str(r) for r in Role}:
        from portal.auth.models import UserRole

        stmt = stmt.where(User.id.in_(select(UserRole.user_id).where(UserRole.role == role)))
    page, per_page = page_args()
    pagination = db.paginate(stmt, page=page, per_page=per_page, error_out=False)
    return render("auth/users.html", block="results", pagination=pagination, q=q, role=role,
                  role_labels=ROLE_LABELS)


def _fill_user_form(form: UserForm) -> None:
    form.roles.choices = role_choices()
    form.organisations.choices = _org_choices()


@bp.route("/admin/users/new", methods=["GET", "POST"])
@require(can_manage_users)
def new_user() -> ResponseReturnValue:
    form = UserForm()
    _fill_user_form(form)
    if request.method == "GET":
        form.idempotency_key.data = idempotency.new_key()
    if not form.validate_on_submit():
        return render("auth/user_form.html", form=form, user=None)
    key = form.idempotency_key.data
    idempotency.ensure_new(db.session, key)
    web.on_error(_field_error(form.username, lambda: render("auth/user_form.html", form=form,
                                                            user=None)))
    password = form.password.data or secrets.token_urlsafe(9)
    idempotency.claim(db.session, key, "user")
    user = ops.create_user(
        db.session,
        username=form.username.data or "",
        display_name=form.display_name.data or "",
        password=password,
        roles={Role(r) for r in form.roles.data or []},
        email=form.email.data,
        organisations=[o for o in (db.session.get(Organisation, i)
                                   for i in form.organisations.data or []) if o],
    )
    if not form.password.data:
        user.is_password_expired = True
    idempotency.remember(db.session, key, "user", url_for("auth.edit_user", user_id=user.id))
    if not form.password.data:
        flash(_("Account created. One-time password: %(p)s (give it to the user; "
                "they must change it at first login).", p=password), "success")
    else:
        flash(_("Account created."), "success")
    return redirect(url_for("auth.edit_user", user_id=user.id))


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@require(can_manage_users)
def edit_user(user_id: int) -> ResponseReturnValue:
    user = db.get_or_404(User, user_id)
    form = UserForm(obj=user if request.method == "GET" else None)
    _fill_user_form(form)
    del form.username  # never renamed: other records refer to it
    del form.password
    if request.method == "GET":
        form.roles.data = sorted(str(r) for r in user.roles)
        form.organisations.data = [o.id for o in user.organisations]
    def page() -> ResponseReturnValue:
        return render("auth/user_form.html", form=form, user=user, confirm=ConfirmForm())

    if not form.validate_on_submit():
        return page()

    def refused(error: DomainError) -> ResponseReturnValue:
        flash(str(error.message), "error")
        return page()

    web.on_error(refused)
    ops.update_user(
        db.session, user,
        display_name=form.display_name.data or "",
        email=form.email.data,
        roles={Role(r) for r in form.roles.data or []},
        organisations=[o for o in (db.session.get(Organisation, i)
                                   for i in form.organisations.data or []) if o],
        is_active=bool(form.is_active.data),
        acting=current_user,
    )
    flash(_("Saved."), "success")
    return redirect(url_for("auth.edit_user", user_id=user.id))


@bp.route("/admin/users/<int:user_id>/reset-password", methods=["POST"])
@require(can_manage_users)
def reset_password(user_id: int) -> ResponseReturnValue:
    user = db.get_or_404(User, user_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    temporary = ops.reset_password(db.session, current_user, user)
    flash(_("The password of %(u)s was reset. One-time password: %(p)s", u=user.username,
            p=temporary), "success")
    return redirect(url_for("auth.edit_user", user_id=user.id))


@bp.route("/admin/security", methods=["GET", "POST"])
@require(can_manage_users)
def security() -> ResponseReturnValue:
    form = RolePolicyForm()
    form.roles.choices = role_choices()
    if request.method == "GET":
        form.roles.data = [p.role for p in db.session.scalars(
            select(RolePolicy).where(RolePolicy.is_2fa_required.is_(True)))]
    if form.validate_on_submit():
        chosen = set(form.roles.data or [])
        for role in Role:
            ops.set_role_policy(db.session, role, str(role) in chosen)
        flash(_("Saved. People with these roles will be asked to set up two-step "
                "verification at their next login."), "success")
        return redirect(url_for("auth.security"))
    enrolled = db.session.scalar(select(func.count()).select_from(User)
                                 .where(User.totp_secret.is_not(None)))
    return render("auth/security.html", form=form, enrolled=enrolled,
                  always=_settings().always_2fa_roles, is_dev=_settings().is_dev)
