"""Who may see and change a case file. Deny by default.

- admin: everything;
- staff of the registering office: clerks, leaders and supervisors who belong to the
  case's office see the whole file; clerks and leaders may also contribute and manage
  (supervisors watch, remind and return replies through the workflow);
- the responsible leader (包案领导) of the case: view, contribute, manage;
- agency officers (role agency): only cases with an AccessGrant to one of their
  organisations, at the level granted (view < contribute < manage);
- anyone else, other agencies included: nothing."""

from __future__ import annotations

from typing import Any

from portal.auth.roles import Role
from portal.casefiles.models import GRANT_RANK, Case, GrantLevel

#: office roles that see the whole file of their office's cases
OFFICE_VIEW_ROLES = frozenset({Role.CLERK, Role.LEADER, Role.SUPERVISOR})
#: office roles that may also change it
OFFICE_EDIT_ROLES = frozenset({Role.CLERK, Role.LEADER})


def _user_ok(user: Any) -> bool:
    return (user is not None and getattr(user, "is_authenticated", False)
            and getattr(user, "is_active", False))


def org_ids(user: Any) -> set[int]:
    return {o.id for o in getattr(user, "organisations", [])}


def is_office_staff(user: Any, case: Case, roles: frozenset[Role] = OFFICE_VIEW_ROLES) -> bool:
    """The user holds one of `roles` and belongs to the office that registered the case."""
    return _user_ok(user) and user.has_role(*roles) and case.office_id in org_ids(user)


def is_responsible_leader(user: Any, case: Case) -> bool:
    return _user_ok(user) and case.leader_id is not None and case.leader_id == user.id


def grant_level(user: Any, case: Case) -> GrantLevel | None:
    """The highest level granted on the case to one of the agency officer's organisations."""
    if not _user_ok(user) or not user.has_role(Role.AGENCY):
        return None
    mine = org_ids(user)
    best: GrantLevel | None = None
    for grant in case.grants:
        if grant.organisation_id in mine:
            level = GrantLevel(grant.level)
            if best is None or GRANT_RANK[level] > GRANT_RANK[best]:
                best = level
    return best


def has_grant(user: Any, case: Case, at_least: GrantLevel) -> bool:
    level = grant_level(user, case)
    return level is not None and GRANT_RANK[level] >= GRANT_RANK[at_least]


def is_admin(user: Any) -> bool:
    return _user_ok(user) and user.has_role(Role.ADMIN)


def can_view(user: Any, case: Case) -> bool:
    return (is_admin(user) or is_office_staff(user, case) or is_responsible_leader(user, case)
            or has_grant(user, case, GrantLevel.VIEW))


def can_contribute(user: Any, case: Case) -> bool:
    return (is_admin(user) or is_office_staff(user, case, OFFICE_EDIT_ROLES)
            or is_responsible_leader(user, case) or has_grant(user, case, GrantLevel.CONTRIBUTE))


def can_manage(user: Any, case: Case) -> bool:
    return (is_admin(user) or is_office_staff(user, case, OFFICE_EDIT_ROLES)
            or is_responsible_leader(user, case) or has_grant(user, case, GrantLevel.MANAGE))


def can_see_full_personal_data(user: Any, case: Case) -> bool:
    """Unmasked ID and phone numbers: the registering office (and admin) only; each such
    view is logged with operations.log_access."""
    return is_admin(user) or is_office_staff(user, case)


def can_register(user: Any) -> bool:
    return _user_ok(user) and user.has_role(Role.CLERK, Role.ADMIN)
