"""The roles a user can hold. A user may hold several."""

from __future__ import annotations

from portal.enums import LabelledStrEnum, labels
from portal.i18n import lazy_gettext as _l


class Role(LabelledStrEnum):
    ADMIN = "admin", _l("Administrator")
    CLERK = "clerk", _l("Reception clerk")  # 接访员
    LEADER = "leader", _l("Responsible leader")  # 包案领导
    AGENCY = "agency", _l("Handling-agency officer")  # 承办单位工作人员
    SUPERVISOR = "supervisor", _l("Supervisor")  # 督查
    MEDIATOR = "mediator", _l("Mediator")  # 人民调解员
    LAWYER = "lawyer", _l("Duty lawyer")  # 值班律师
    DEPUTY = "deputy", _l("Deputy / CPPCC member")  # 人大代表 / 政协委员
    EXPERT = "expert", _l("Expert")  # 专家库成员


ROLE_LABELS = labels(Role)

#: roles that work inside the offices; TOTP may be required of them
STAFF_ROLES = frozenset(
    {Role.ADMIN, Role.CLERK, Role.LEADER, Role.AGENCY, Role.SUPERVISOR}
)
