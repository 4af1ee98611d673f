from __future__ import annotations

from portal.auth.permissions import has_any_role, is_logged_in
from portal.auth.roles import Role

can_view_outbox = has_any_role(Role.ADMIN)
can_read_notifications = is_logged_in
