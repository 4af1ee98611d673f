from __future__ import annotations

from portal.auth.permissions import has_any_role
from portal.auth.roles import Role

can_view_orgs = has_any_role(Role.ADMIN, Role.CLERK, Role.LEADER, Role.SUPERVISOR, Role.AGENCY)
can_manage_orgs = has_any_role(Role.ADMIN)
