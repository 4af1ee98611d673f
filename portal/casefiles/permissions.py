"""Who may see and change a case file. Deny by default.

- admin: everything;
- staff of the registering office: clerks, leaders and supervisors who belong to the
  case's office see the whole file; clerks and leaders may also contribute and manage
  (supervisors watch, remind and return replies through the workflow);
- the responsible leader (包案领导) of the case: view, contribute, manage;
- agency officers (role agency): only cases with an AccessGrant to one of their
  organisations, at the level granted (view < contribute < manage);
- anyone else, other agencies included: nothing.

`visible_cases(user)` is `can_view` as an SQL condition, for the case list."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, exists, false, or_, true

from portal.auth.permissions import holds, is_active_user, is_admin, org_ids
from portal.auth.roles import Role
from portal.casefiles.models import (
    GRANT_RANK,
    AccessGrant,
    Case,
    Document,
    DocumentKind,
    GrantLevel,
    Status,
)

__all__ = ["CASE_ROLES", "OFFICE_EDIT_ROLES", "OFFICE_VIEW_ROLES", "can_add_documents",
           "can_contribute", "can_manage", "can_manage_holidays", "can_open_cases", "can_register",
           "CONFIDENTIAL_KINDS", "can_see_full_personal_data", "can_view", "can_view_document",
           "grant_level", "has_grant", "is_admin",
           "is_office_staff", "is_responsible_leader", "may_assign", "may_set_leader",
           "org_ids", "visible_cases"]

#: office roles that see the whole file of their office's cases
OFFICE_VIEW_ROLES = frozenset({Role.CLERK, Role.LEADER, Role.SUPERVISOR})
#: office roles that may also change it
OFFICE_EDIT_ROLES = frozenset({Role.CLERK, Role.LEADER})
#: roles that work on case files (each sees only the cases can_view allows)
CASE_ROLES = (Role.ADMIN, Role.CLERK, Role.LEADER, Role.SUPERVISOR, Role.AGENCY)


def can_open_cases(user: Any) -> bool:
    """Whether the user may open case pages at all (which cases: can_view)."""
    return bool(getattr(user, "is_authenticated", False) and user.has_role(*CASE_ROLES))


def is_office_staff(user: Any, case: Case, roles: frozenset[Role] = OFFICE_VIEW_ROLES) -> bool:
    """The user holds one of `roles` and belongs to the office that registered the case."""
    return holds(user, *roles) and case.office_id in org_ids(user)


def is_responsible_leader(user: Any, case: Case) -> bool:
    return is_active_user(user) and case.leader_id is not None and case.leader_id == user.id


def grant_level(user: Any, case: Case) -> GrantLevel | None:
    """The highest level granted on the case to one of the agency officer's organisations."""
    if not holds(user, Role.AGENCY):
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


def can_view(user: Any, case: Case) -> bool:
    return (is_admin(user) or is_office_staff(user, case) or is_responsible_leader(user, case)
            or has_grant(user, case, GrantLevel.VIEW))


#: kinds of document only the registering office (and the admin) read: not a grant holder
#: (the handling agency is a party), nor a responsible leader from elsewhere
CONFIDENTIAL_KINDS = frozenset({DocumentKind.CONFIDENTIAL.value})


def can_view_document(user: Any, document: Document) -> bool:
    """See a document listed and open it: whoever views the case, except a confidential
    one, which the registering office and the admin only."""
    case = document.case
    if document.kind in CONFIDENTIAL_KINDS:
        return is_admin(user) or is_office_staff(user, case)
    return can_view(user, case)


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


def can_add_documents(user: Any, case: Case) -> bool:
    """Upload documents and new versions: a contributor, while the file is not archived
    (operations refuse to change an archived file)."""
    return case.status != Status.ARCHIVED and can_contribute(user, case)


def may_pause_clock(user: Any, case: Case, paused: bool, running_is_office_duty: bool
                    ) -> bool:
    """Offer to pause the office's running time limit (for a hearing or an appraisal), or
    to resume a paused one: whoever manages the file (clock_ops checks the same)."""
    return can_manage(user, case) and (paused or running_is_office_duty)


def may_set_leader(user: Any, case: Case) -> bool:
    """Name the responsible leader (包案领导) of the case."""
    return (is_admin(user) or is_office_staff(user, case, OFFICE_EDIT_ROLES)
            or is_responsible_leader(user, case))


def may_assign(user: Any, case: Case) -> bool:
    """Whether the assignment form is offered: the state and the user allow it (its guard,
    a lead assignment, is met by the form itself, so workflow.allowed_actions never lists
    it)."""
    from portal.casefiles.workflow import TRANSITIONS, Action, may  # workflow imports us

    rule = TRANSITIONS.get((Status(case.status), Action.ASSIGN))
    return rule is not None and not rule.reason_required and may(rule, user, case)


def can_register(user: Any) -> bool:
    return holds(user, Role.CLERK, Role.ADMIN)


def can_manage_holidays(user: Any) -> bool:
    """The holiday calendar the deadlines count with: administrators."""
    return holds(user, Role.ADMIN)


def visible_cases(user: Any) -> ColumnElement[bool]:
    """SQL condition on Case: the cases `user` may view (can_view in SQL)."""
    if is_admin(user):
        return true()
    if not is_active_user(user):
        return false()
    mine = sorted(org_ids(user))
    conds: list[ColumnElement[bool]] = [Case.leader_id == user.id]
    if mine and user.has_role(*OFFICE_VIEW_ROLES):
        conds.append(Case.office_id.in_(mine))
    if mine and user.has_role(Role.AGENCY):
        conds.append(exists().where(AccessGrant.case_id == Case.id,
                                    AccessGrant.organisation_id.in_(mine)))
    return or_(*conds)
