"""Who may do what with accounts. Each function takes the acting user."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from portal.auth.roles import Role


def is_logged_in(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False))


def has_any_role(*roles: Role) -> Callable[[Any], bool]:
    """A check for `require`: the user holds at least one of the roles."""

    def check(user: Any) -> bool:
        return is_logged_in(user) and user.has_role(*roles)

    check.__name__ = "has_any_role_" + "_".join(roles)
    return check


can_manage_users = has_any_role(Role.ADMIN)
can_view_outbox = has_any_role(Role.ADMIN)


def can_use_2fa(user: Any) -> bool:
    return is_logged_in(user) and user.is_staff
