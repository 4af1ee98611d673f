"""Who may do what with reception rooms. Deny by default; built on the core predicates
(`portal.auth.permissions`: an active user, a role held, membership of an office).

- admin: everything;
- clerks and leaders of the room's office: schedule, book, host, write notes;
- the room's named host (a leader, an agency officer, a judge with an account): host;
- supervisors of the office: see the room (not host);
- agency officers: open the schedule, where they see the rooms they host;
- a petitioner, companion or interpreter: only their own seat, through their join link
  (checked in `operations.seat_for_token`), never another room;
- a multi-party room's named seat with an account (a panel member, an agency officer):
  enters on that seat (`can_join_room`) without hosting;
- a private room (a hearing's deliberation): only its named seats enter — not the
  office's staff, not the admin; its host is `host_id`, and only on a seat of their own.
  Its seats are named by the domain that owns it (`can_arrange_room`); no booking,
  link or companion through the video pages.
- a confidential room (`RoomKind.CONSULTATION`: a lawyer and the person asking): its
  named host (`host_id`) and the guest's seat by its link, nobody else — not the
  office's staff, not the supervisors, not the admin; it is on no schedule. The domain
  that owns it makes its seats.

`visible_rooms(user)` is `can_view_room` as a SQL condition, for lists that page exactly.
The templates ask these functions (passed in their context), never a rule of their own."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, true

from portal.auth.permissions import holds, is_active_user, is_admin, member_of, org_ids
from portal.auth.roles import Role
from portal.orgs.models import Organisation
from video.models import (
    OPEN_SEAT_STATES,
    NoteStatus,
    ReceptionNote,
    Room,
    RoomKind,
    RoomStatus,
    Seat,
    SeatKind,
    SeatState,
)

__all__ = ["SCHEDULER_ROLES", "VIEWER_ROLES", "can_add_companion", "can_arrange_room",
           "can_book", "can_cancel_seat", "can_edit_note", "can_file_note", "can_host",
           "can_join_room", "can_manage_room", "can_open_room", "can_open_schedule",
           "can_reissue_link", "can_schedule", "can_schedule_for", "can_view_room",
           "is_admin", "is_confidential", "named_seat", "offices_to_schedule",
           "visible_rooms"]

#: roles that run reception rooms of their office
SCHEDULER_ROLES = frozenset({Role.CLERK, Role.LEADER})
#: roles that see every room of their office
VIEWER_ROLES = SCHEDULER_ROLES | {Role.SUPERVISOR}
#: roles that open the schedule page (its rows: `visible_rooms`)
SCHEDULE_ROLES = VIEWER_ROLES | {Role.ADMIN, Role.AGENCY}
#: roles a reception may name as its host (the room form's list)
HOST_ROLES = frozenset({Role.LEADER, Role.AGENCY})
#: a booking that has not started can be cancelled
CANCELLABLE_SEAT_STATES = frozenset({SeatState.BOOKED, SeatState.WAITING})
#: a note the petitioner has answered no longer changes
ANSWERED_NOTE_STATES = frozenset({NoteStatus.CONFIRMED, NoteStatus.REFUSED})


# --- the schedule --------------------------------------------------------------------------

def can_open_schedule(user: Any) -> bool:
    """The reception schedule page (its rows are `visible_rooms(user)`)."""
    return holds(user, *SCHEDULE_ROLES)


def can_schedule(user: Any) -> bool:
    """Create reception days and appointment blocks (for an office: `can_schedule_for`)."""
    return holds(user, Role.ADMIN, *SCHEDULER_ROLES)


def can_schedule_for(user: Any, office_id: int | None) -> bool:
    """Schedule a reception run by this office: an admin for any, others their own."""
    return can_schedule(user) and (is_admin(user) or member_of(user, office_id))


def offices_to_schedule(user: Any) -> ColumnElement[bool]:
    """`can_schedule_for` as a condition on Organisation (the room form's offices)."""
    if not can_schedule(user):
        return false()
    if is_admin(user):
        return true()
    return Organisation.id.in_(sorted(org_ids(user)))


# --- a room --------------------------------------------------------------------------------

def is_confidential(room: Room) -> bool:
    """Only the named host and the guest's seat: no office staff, no schedule."""
    return room.kind == RoomKind.CONSULTATION


def can_arrange_room(user: Any, room: Room) -> bool:
    """Name the room's seats (for a private room too: naming is not entering)."""
    if is_confidential(room):
        return False
    return is_admin(user) or (holds(user, *SCHEDULER_ROLES)
                              and member_of(user, room.office_id))


def can_manage_room(user: Any, room: Room) -> bool:
    """Book seats, add walk-ins, hand out links, change the room (never a private one:
    its seats are named by the domain that owns it)."""
    return not room.is_private and can_arrange_room(user, room)


def named_seat(user: Any, room: Room) -> Seat | None:
    """The user's own seat in the room, named for their account and still open."""
    if not is_active_user(user):
        return None
    for seat in room.seats:
        if seat.user_id == user.id and seat.state in OPEN_SEAT_STATES:
            return seat
    return None


def _hosts_by_name(user: Any, room: Room) -> bool:
    return is_active_user(user) and room.host_id is not None and room.host_id == user.id


def can_host(user: Any, room: Room) -> bool:
    """Join as an official: see the lobby, admit, record, end, write the note."""
    if room.is_private:
        return _hosts_by_name(user, room) and named_seat(user, room) is not None
    if is_confidential(room):
        return _hosts_by_name(user, room)
    return can_manage_room(user, room) or _hosts_by_name(user, room)


def can_join_room(user: Any, room: Room) -> bool:
    """Enter the call with an account: a host, or a seat named for this account."""
    return can_host(user, room) or named_seat(user, room) is not None


def can_view_room(user: Any, room: Room) -> bool:
    """See the room's page: who is booked, the queue, the recordings."""
    if room.is_private or is_confidential(room):
        return can_host(user, room)
    return can_host(user, room) or (holds(user, Role.SUPERVISOR)
                                    and member_of(user, room.office_id))


def visible_rooms(user: Any) -> ColumnElement[bool]:
    """`can_view_room` as a condition on Room, for `select(Room).where(...)`."""
    if not is_active_user(user):
        return false()
    # confidential rooms are on no list: their host opens them from their own domain
    listed = Room.kind != RoomKind.CONSULTATION
    public = and_(Room.is_private.is_(False), listed)
    hosted_private = and_(Room.host_id == user.id, listed, exists().where(
        Seat.room_id == Room.id, Seat.user_id == user.id,
        Seat.state.in_([str(s) for s in OPEN_SEAT_STATES])))
    if is_admin(user):
        return or_(public, hosted_private)
    condition: ColumnElement[bool] = or_(and_(public, Room.host_id == user.id),
                                         hosted_private)
    offices = org_ids(user)
    if offices and holds(user, *VIEWER_ROLES):
        condition = or_(condition, and_(public, Room.office_id.in_(sorted(offices))))
    return condition


# --- seats and notes (what the room page offers) -------------------------------------------

def _room_open(room: Room) -> bool:
    return room.status != RoomStatus.ENDED


def can_book(user: Any, room: Room) -> bool:
    """Book a petitioner or add a walk-in (the room not ended)."""
    return can_manage_room(user, room) and _room_open(room)


def can_open_room(user: Any, room: Room) -> bool:
    """Enter the call as an official (the room not ended)."""
    return can_host(user, room) and _room_open(room)


def can_reissue_link(user: Any, seat: Seat) -> bool:
    """A new join link for a guest whose seat is still in use."""
    return (can_manage_room(user, seat.room) and not seat.is_staff
            and _room_open(seat.room) and seat.state in OPEN_SEAT_STATES)


def can_cancel_seat(user: Any, seat: Seat) -> bool:
    """Cancel a guest's booking that has not started."""
    return (can_manage_room(user, seat.room) and not seat.is_staff
            and seat.state in CANCELLABLE_SEAT_STATES)


def can_add_companion(user: Any, seat: Seat) -> bool:
    """A companion or an interpreter for a petitioner whose seat is still in use."""
    return (can_manage_room(user, seat.room) and _room_open(seat.room)
            and seat.kind == SeatKind.PETITIONER and seat.state in OPEN_SEAT_STATES)


def can_edit_note(user: Any, seat: Seat, note: ReceptionNote | None) -> bool:
    """Write the petitioner's reception note, until they have answered it."""
    return (can_host(user, seat.room) and seat.kind == SeatKind.PETITIONER
            and (note is None or note.status not in ANSWERED_NOTE_STATES))


def can_file_note(user: Any, note: ReceptionNote | None) -> bool:
    """Put a note the petitioner was shown into the case file, once."""
    return (note is not None and can_host(user, note.seat.room)
            and note.status != NoteStatus.DRAFT and note.filed_at is None)
