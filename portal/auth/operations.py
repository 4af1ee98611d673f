"""Account work: passwords, roles, TOTP. Functions change and flush; the view commits."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app, has_app_context
from sqlalchemy import func, select, update

from portal.auth.models import LoginSession, RolePolicy, User
from portal.auth.roles import Role
from portal.config import Settings
from portal.errors import DomainError
from portal.extensions import DbSession
from portal.i18n import lazy_gettext as _l
from portal.orgs.models import Organisation
from portal.timeutil import utcnow

#: by Settings.password_hasher: argon2-cffi's argon2id defaults, or the cheapest argon2id
#: for the tests (t=1, 8 KiB, p=1; Settings.from_env refuses it outside dev and test)
_HASHERS = {
    "argon2": PasswordHasher(),
    "argon2-cheap": PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
}
#: verified against when the username is unknown, so both paths take as long
_DUMMY_HASHES = {name: hasher.hash("not a real password") for name, hasher in _HASHERS.items()}
MIN_PASSWORD_LENGTH = 8
TOTP_ISSUER = "信访协同平台"


def _hasher_name() -> str:
    """The current app's Settings.password_hasher; argon2 outside an app."""
    if not has_app_context():
        return "argon2"
    settings = current_app.extensions.get("portal.settings")
    return getattr(settings, "password_hasher", "argon2")


def _hasher() -> PasswordHasher:
    return _HASHERS[_hasher_name()]


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def find_user(session: DbSession, username: str) -> User | None:
    name = username.strip().lower()
    return session.scalar(select(User).where(func.lower(User.username) == name))


def authenticate(session: DbSession, username: str, password: str) -> User | None:
    """The user when the password is right and the account active; None otherwise."""
    user = find_user(session, username)
    if user is None:
        _safe_verify(_DUMMY_HASHES[_hasher_name()], password)
        return None
    if not _safe_verify(user.password_hash, password) or not user.is_active:
        return None
    if _hasher().check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def _safe_verify(hashed: str, password: str) -> bool:
    try:
        return _hasher().verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def check_new_password(password: str, username: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(_l("The password must have at least %(n)d characters.",
                             n=MIN_PASSWORD_LENGTH))
    if password.lower() == username.lower():
        raise DomainError(_l("The password must not be the same as the username."))


def create_user(
    session: DbSession,
    *,
    username: str,
    display_name: str,
    password: str,
    roles: Iterable[Role],
    email: str | None = None,
    organisations: Iterable[Organisation] = (),
    check_password: bool = True,
) -> User:
    username = username.strip()
    if not username:
        raise DomainError(_l("A username is required."))
    if find_user(session, username) is not None:
        raise DomainError(_l("The username %(name)s is already taken.", name=username))
    if check_password:
        check_new_password(password, username)
    user = User(
        username=username,
        display_name=display_name.strip() or username,
        email=(email or "").strip() or None,
        password_hash=hash_password(password),
        is_active=True,
        session_version=1,
        is_password_expired=False,
    )
    user.set_roles(set(roles))
    user.organisations = list(organisations)
    session.add(user)
    session.flush()
    return user


def change_password(session: DbSession, user: User, current: str, new: str,
                    keep_session: str | None = None) -> None:
    """Every login session of the user ends but `keep_session` (the one changing it)."""
    if not _safe_verify(user.password_hash, current):
        raise DomainError(_l("The current password is not correct."))
    check_new_password(new, user.username)
    user.password_hash = hash_password(new)
    user.is_password_expired = False
    user.session_version += 1
    end_login_sessions(session, user, keep=keep_session)
    session.flush()


def reset_password(session: DbSession, admin: User, user: User) -> str:
    """Give the user a one-time password; they must change it at next login."""
    temporary = secrets.token_urlsafe(9)
    user.password_hash = hash_password(temporary)
    user.is_password_expired = True
    user.session_version += 1
    end_login_sessions(session, user)
    session.flush()
    return temporary


# --- login sessions -------------------------------------------------------------------

def start_login_session(session: DbSession, user: User) -> str:
    """A new server-side login session; its random id is all the cookie carries."""
    ident = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(LoginSession(id=ident, user_id=user.id, created_at=now, last_seen_at=now))
    session.flush()
    return ident


def end_login_session(session: DbSession, ident: str | None) -> None:
    """Logout: the session's cookie opens nothing any more, even a copy of it."""
    if ident:
        session.execute(update(LoginSession)
                        .where(LoginSession.id == ident, LoginSession.ended_at.is_(None))
                        .values(ended_at=utcnow()))


def end_login_sessions(session: DbSession, user: User, keep: str | None = None) -> None:
    """End every open login session of `user` (but `keep`)."""
    stmt = (update(LoginSession)
            .where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None)))
    if keep:
        stmt = stmt.where(LoginSession.id != keep)
    session.execute(stmt.values(ended_at=utcnow()))


def record_login(session: DbSession, user: User) -> None:
    user.last_login_at = utcnow()
    session.flush()


# --- two-factor ---------------------------------------------------------------

def roles_requiring_2fa(session: DbSession, settings: Settings) -> set[Role]:
    required = {Role(p.role) for p in session.scalars(
        select(RolePolicy).where(RolePolicy.is_2fa_required.is_(True)))}
    if not settings.is_dev:
        required |= {Role(r) for r in settings.always_2fa_roles}
    return required


def is_2fa_required(session: DbSession, user: User, settings: Settings) -> bool:
    return bool(user.roles & roles_requiring_2fa(session, settings))


def needs_second_factor(session: DbSession, user: User, settings: Settings) -> bool:
    return user.is_totp_enabled or is_2fa_required(session, user, settings)


def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=TOTP_ISSUER)


def _matching_step(secret: str, code: str, last_step: int | None) -> int | None:
    code = "".join(code.split())
    if not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    now_step = int(time.time()) // totp.interval
    for step in (now_step - 1, now_step, now_step + 1):  # allow one step of clock drift
        if last_step is not None and step <= last_step:
            continue
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def verify_totp(session: DbSession, user: User, code: str) -> bool:
    if user.totp_secret is None:
        return False
    step = _matching_step(user.totp_secret, code, user.totp_last_step)
    if step is None:
        return False
    user.totp_last_step = step
    session.flush()
    return True


def enrol_totp(session: DbSession, user: User, secret: str, code: str) -> None:
    step = _matching_step(secret, code, None)
    if step is None:
        raise DomainError(_l("That code is not right. Check the time on your phone and "
                             "type the six digits shown now."))
    user.totp_secret = secret
    user.totp_last_step = step
    session.flush()


def disable_totp(session: DbSession, user: User, settings: Settings) -> None:
    if is_2fa_required(session, user, settings):
        raise DomainError(_l("Two-step verification is required for your role and cannot "
                             "be turned off."))
    user.totp_secret = None
    user.totp_last_step = None
    session.flush()


def set_role_policy(session: DbSession, role: Role, required: bool) -> None:
    policy = session.get(RolePolicy, str(role))
    if policy is None:
        policy = RolePolicy(role=str(role), is_2fa_required=required)
        session.add(policy)
    policy.is_2fa_required = required
    session.flush()


def update_user(
    session: DbSession,
    user: User,
    *,
    display_name: str,
    email: str | None,
    roles: set[Role],
    organisations: list[Organisation],
    is_active: bool,
    acting: User,
) -> None:
    if user.id == acting.id and (Role.ADMIN not in roles or not is_active):
        raise DomainError(_l("You cannot remove your own administrator role or deactivate "
                             "your own account."))
    user.display_name = display_name.strip() or user.username
    user.email = (email or "").strip() or None
    user.set_roles(roles)
    user.organisations = organisations
    if user.is_active and not is_active:
        user.session_version += 1
        end_login_sessions(session, user)
    user.is_active = is_active
    session.flush()
