"""Accounts, the roles they hold and the 2FA policy per role."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.auth.roles import STAFF_ROLES, Role
from portal.crypto import EncryptedText
from portal.extensions import Model, db
from portal.timeutil import UTCDateTime, utcnow

if TYPE_CHECKING:
    from portal.orgs.models import Organisation

#: the key of the login session's id in the (signed) session cookie
LOGIN_SESSION_KEY = "sid"

user_organisations = Table(
    "user_organisations",
    db.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("organisation_id", ForeignKey("organisations.id", ondelete="CASCADE"),
           primary_key=True),
)


class User(Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: set by an admin reset: the user must choose a new password at next login
    is_password_expired: Mapped[bool] = mapped_column(Boolean, default=False)
    #: base32 TOTP secret, encrypted at rest; None until enrolled
    totp_secret: Mapped[str | None] = mapped_column(EncryptedText)
    #: the last TOTP time-step accepted, so a code cannot be replayed
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    #: bumped on password change or reset: every existing login session ends
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Roles come with the user (every request needs them for the navigation and the
    # permission checks); organisations only when a page asks for them.
    role_rows: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )
    organisations: Mapped[list[Organisation]] = relationship(
        secondary=user_organisations, order_by="Organisation.name"
    )

    # Flask-Login's protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        # The version makes a password change end every other session.
        return f"{self.id}.{self.session_version}"

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(Role(r.role) for r in self.role_rows)

    def has_role(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def is_staff(self) -> bool:
        return bool(self.roles & STAFF_ROLES)

    @property
    def is_totp_enabled(self) -> bool:
        return self.totp_secret is not None

    def set_roles(self, roles: set[Role]) -> None:
        keep = [r for r in self.role_rows if Role(r.role) in roles]
        have = {Role(r.role) for r in keep}
        self.role_rows = keep + [UserRole(role=str(r)) for r in sorted(roles - have)]

    def __repr__(self) -> str:
        return f"<User {self.username}>"


class UserRole(Model):
    __tablename__ = "user_roles"
    __table_args__ = (UniqueConstraint("user_id", "role", name="uq_user_roles_user_role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    user: Mapped[User] = relationship(back_populates="role_rows")


class RolePolicy(Model):
    """What an admin decided for everyone holding a role."""

    __tablename__ = "role_policies"

    role: Mapped[str] = mapped_column(String(32), primary_key=True)
    is_2fa_required: Mapped[bool] = mapped_column(Boolean, default=False)


class LoginSession(Model):
    """One login, kept on the server: the browser's session cookie carries only its
    random id. Logging out, the idle timeout, a password change or reset end it, and a
    cookie copied before then no longer opens anything."""

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: updated at most once a minute (LoginSession.TOUCH_SECONDS) to keep writes low
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    TOUCH_SECONDS = 60
