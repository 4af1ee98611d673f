"""The shared predicates every domain's permissions.py builds on (an active user, an
admin, a role held, membership of an organisation), and who may do what with accounts.
Each function takes the acting user; deny by default."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from portal.auth.roles import Role


def is_logged_in(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False))


def is_active_user(user: Any) -> bool:
    """Logged in with an account that is not switched off."""
    return (user is not None and is_logged_in(user)
            and bool(getattr(user, "is_active", False)))


def holds(user: Any, *roles: Role) -> bool:
    """An active user holding at least one of `roles`."""
    return is_active_user(user) and bool(user.has_role(*roles))


def is_admin(user: Any) -> bool:
    return holds(user, Role.ADMIN)


def org_ids(user: Any) -> set[int]:
    """The organisations the user belongs to."""
    return {o.id for o in getattr(user, "organisations", None) or []}


def member_of(user: Any, organisation_id: int | None) -> bool:
    """An active user who belongs to the organisation."""
    return (organisation_id is not None and is_active_user(user)
            and organisation_id in org_ids(user))


def has_any_role(*roles: Role) -> Callable[[Any], bool]:
    """A check for `require`: the user holds at least one of the roles."""

    def check(user: Any) -> bool:
        return is_logged_in(user) and user.has_role(*roles)

    check.__name__ = "has_any_role_" + "_".join(roles)
    return check


can_manage_users = has_any_role(Role.ADMIN)


def can_use_2fa(user: Any) -> bool:
    return is_logged_in(user) and user.is_staff
