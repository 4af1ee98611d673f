from __future__ import annotations

from portal.auth.permissions import has_any_role
from portal.auth.roles import Role

#: the registries hold contact details: the offices that compose panels and rotas see them
can_view_people = has_any_role(Role.ADMIN, Role.CLERK, Role.LEADER, Role.SUPERVISOR)
can_manage_people = has_any_role(Role.ADMIN, Role.CLERK)
