"""The roles a user can hold. A user may hold several."""

from __future__ import annotations

from enum import StrEnum

from portal.i18n import lazy_gettext as _l


class Role(StrEnum):
    ADMIN = "admin"
    CLERK = "clerk"            # 接访员
    LEADER = "leader"          # 包案领导
    AGENCY = "agency"          # 承办单位工作人员
    SUPERVISOR = "supervisor"  # 督查
    MEDIATOR = "mediator"      # 人民调解员
    LAWYER = "lawyer"          # 值班律师
    DEPUTY = "deputy"          # 人大代表 / 政协委员
    EXPERT = "expert"          # 专家库成员


ROLE_LABELS = {
    Role.ADMIN: _l("Administrator"),
    Role.CLERK: _l("Reception clerk"),
    Role.LEADER: _l("Responsible leader"),
    Role.AGENCY: _l("Handling-agency officer"),
    Role.SUPERVISOR: _l("Supervisor"),
    Role.MEDIATOR: _l("Mediator"),
    Role.LAWYER: _l("Duty lawyer"),
    Role.DEPUTY: _l("Deputy / CPPCC member"),
    Role.EXPERT: _l("Expert"),
}

#: roles that work inside the offices; TOTP may be required of them
STAFF_ROLES = frozenset(
    {Role.ADMIN, Role.CLERK, Role.LEADER, Role.AGENCY, Role.SUPERVISOR}
)
