"""Who may do what with reception rooms. Deny by default.

- admin: everything;
- clerks and leaders of the room's office: schedule, book, host, write notes;
- the room's named host (a leader, an agency officer, a judge with an account): host;
- supervisors of the office: see the schedule (not host);
- a petitioner, companion or interpreter: only their own seat, through their join link
  (checked in `operations.seat_for_token`), never another room."""

from __future__ import annotations

from typing import Any

from portal.auth.roles import Role
from video.models import Room

#: roles that run reception rooms
SCHEDULER_ROLES = frozenset({Role.CLERK, Role.LEADER})
VIEWER_ROLES = SCHEDULER_ROLES | {Role.SUPERVISOR}


def _user_ok(user: Any) -> bool:
    return (user is not None and getattr(user, "is_authenticated", False)
            and getattr(user, "is_active", False))


def _in_office(user: Any, room: Room) -> bool:
    return room.office_id in {o.id for o in getattr(user, "organisations", [])}


def is_admin(user: Any) -> bool:
    return _user_ok(user) and user.has_role(Role.ADMIN)


def can_open_schedule(user: Any) -> bool:
    """The reception schedule page (its rows are then filtered by `can_view_room`)."""
    return _user_ok(user) and (user.has_role(Role.ADMIN, *VIEWER_ROLES)
                               or user.has_role(Role.AGENCY))


def can_schedule(user: Any) -> bool:
    """Create reception days and appointment blocks."""
    return _user_ok(user) and user.has_role(Role.ADMIN, *SCHEDULER_ROLES)


def can_manage_room(user: Any, room: Room) -> bool:
    """Book seats, add walk-ins, hand out links, change the room."""
    return is_admin(user) or (_user_ok(user) and user.has_role(*SCHEDULER_ROLES)
                              and _in_office(user, room))


def can_host(user: Any, room: Room) -> bool:
    """Join as an official: see the lobby, admit, record, end, write the note."""
    return can_manage_room(user, room) or (_user_ok(user) and room.host_id == user.id)


def can_view_room(user: Any, room: Room) -> bool:
    return can_host(user, room) or (_user_ok(user) and user.has_role(Role.SUPERVISOR)
                                    and _in_office(user, room))
