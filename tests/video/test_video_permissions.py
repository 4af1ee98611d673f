"""video.permissions as a matrix: role × room × action → the answer, written out by hand.

Every user below belongs to the office "own". The rooms: one run by that office, one run
by another office, and one of the other office that names the user as its host. The
schedule's list (`visible_rooms`, a SQL condition) must agree with `can_view_room` on
every cell, and it pages exactly."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask_login import AnonymousUserMixin
from sqlalchemy import select

from portal.auth.roles import Role
from portal.timeutil import utcnow
from video import operations as ops
from video.models import Room
from video.permissions import (
    can_host,
    can_manage_room,
    can_open_schedule,
    can_schedule_for,
    can_view_room,
    offices_to_schedule,
    visible_rooms,
)

ROOMS = ("own_office", "other_office", "hosts_by_name")
ACTIONS = ("open schedule", "schedule", "manage room", "host", "view room")
T, F = True, False
NOTHING = (F, F, F, F, F)

#: who → room → (open schedule, schedule for the room's office, manage, host, view)
MATRIX: dict[str, dict[str, tuple[bool, bool, bool, bool, bool]]] = {
    "admin": {"own_office": (T, T, T, T, T),
              "other_office": (T, T, T, T, T),
              "hosts_by_name": (T, T, T, T, T)},
    "clerk": {"own_office": (T, T, T, T, T),
              "other_office": (T, F, F, F, F),
              "hosts_by_name": (T, F, F, T, T)},
    "leader": {"own_office": (T, T, T, T, T),
               "other_office": (T, F, F, F, F),
               "hosts_by_name": (T, F, F, T, T)},
    # sees every room of the office, runs none
    "supervisor": {"own_office": (T, F, F, F, T),
                   "other_office": (T, F, F, F, F),
                   "hosts_by_name": (T, F, F, T, T)},
    # an agency officer opens the schedule for the rooms they host, no other
    "agency": {"own_office": (T, F, F, F, F),
               "other_office": (T, F, F, F, F),
               "hosts_by_name": (T, F, F, T, T)},
    # roles outside reception: only a room that names them as its host (a judge, say)
    "mediator": {"own_office": NOTHING, "other_office": NOTHING,
                 "hosts_by_name": (F, F, F, T, T)},
    "lawyer": {"own_office": NOTHING, "other_office": NOTHING,
               "hosts_by_name": (F, F, F, T, T)},
    "deputy": {"own_office": NOTHING, "other_office": NOTHING,
               "hosts_by_name": (F, F, F, T, T)},
    "expert": {"own_office": NOTHING, "other_office": NOTHING,
               "hosts_by_name": (F, F, F, T, T)},
    # a clerk of the office whose account is switched off: nothing, not even as host
    "deactivated_clerk": {"own_office": NOTHING, "other_office": NOTHING,
                          "hosts_by_name": NOTHING},
    "anonymous": {"own_office": NOTHING, "other_office": NOTHING,
                  "hosts_by_name": NOTHING},
}

ROLE_OF = {"admin": Role.ADMIN, "clerk": Role.CLERK, "leader": Role.LEADER,
           "supervisor": Role.SUPERVISOR, "agency": Role.AGENCY, "mediator": Role.MEDIATOR,
           "lawyer": Role.LAWYER, "deputy": Role.DEPUTY, "expert": Role.EXPERT,
           "deactivated_clerk": Role.CLERK}


def test_the_matrix_names_every_role():
    assert set(MATRIX) == {*(r.value for r in Role), "deactivated_clerk", "anonymous"}
    assert all(set(rooms) == set(ROOMS) for rooms in MATRIX.values())


def _room(session: Any, admin: Any, office: Any, title: str, host: Any = None,
          starts_in: timedelta = timedelta(hours=1)) -> Room:
    start = utcnow() + starts_in
    return ops.create_room(session, admin, kind="appointment", title=title,
                           office_id=office.id, host_id=host.id if host else None,
                           starts_at=start, ends_at=start + timedelta(hours=1))


@pytest.fixture()
def rooms_world(session, make_user, make_org):
    own, other = make_org("本局"), make_org("他局")
    admin = make_user(Role.ADMIN)
    rooms: dict[str, Room] = {"own_office": _room(session, admin, own, "本局接待"),
                              "other_office": _room(session, admin, other, "他局接待")}
    people: dict[str, Any] = {"anonymous": AnonymousUserMixin()}
    hosted: dict[str, Room] = {"anonymous": _room(session, admin, other, "无人主持")}
    for who, role in ROLE_OF.items():
        user = admin if who == "admin" else make_user(
            role, organisations=[own], is_active=who != "deactivated_clerk")
        if who == "admin":
            admin.organisations.append(own)
        people[who] = user
        hosted[who] = _room(session, admin, other, f"{who} 主持", host=user)
    session.commit()
    return people, rooms, hosted


def _answers(user: Any, room: Room) -> tuple[bool, bool, bool, bool, bool]:
    return (can_open_schedule(user), can_schedule_for(user, room.office_id),
            can_manage_room(user, room), can_host(user, room), can_view_room(user, room))


@pytest.mark.parametrize("who", sorted(MATRIX))
def test_permission_matrix(rooms_world, who):
    people, rooms, hosted = rooms_world
    user = people[who]
    got = {name: _answers(user, hosted[who] if name == "hosts_by_name" else rooms[name])
           for name in ROOMS}
    wrong = {name: dict(zip(ACTIONS, got[name], strict=True))
             for name in ROOMS if got[name] != MATRIX[who][name]}
    assert got == MATRIX[who], f"{who}: {wrong}"


@pytest.mark.parametrize("who", sorted(MATRIX))
def test_the_schedule_lists_exactly_the_rooms_the_user_may_view(session, rooms_world, who):
    people, rooms, hosted = rooms_world
    user = people[who]
    every_room = session.scalars(select(Room)).all()
    listed = set(session.scalars(select(Room.id).where(visible_rooms(user))))
    assert listed == {r.id for r in every_room if can_view_room(user, r)}
    assert (hosted[who].id in listed) == MATRIX[who]["hosts_by_name"][4]
    assert (rooms["own_office"].id in listed) == MATRIX[who]["own_office"][4]


@pytest.mark.parametrize("who", sorted(MATRIX))
def test_the_room_form_offers_exactly_the_offices_the_user_may_schedule_for(session, rooms_world,
                                                                            who):
    from portal.orgs.models import Organisation

    people, rooms, _hosted = rooms_world
    user = people[who]
    offered = set(session.scalars(select(Organisation.id).where(offices_to_schedule(user))))
    offices = {rooms[name].office_id for name in ("own_office", "other_office")}
    assert offered & offices == {o for o in offices if can_schedule_for(user, o)}


def test_the_schedule_pages_exactly(session, make_user, make_org):
    """Many rooms the clerk may not see come first; a page still holds `limit` of theirs."""
    own, other = make_org("本局"), make_org("他局")
    admin, clerk = make_user(Role.ADMIN), make_user(Role.CLERK, organisations=[own])
    for i in range(12):
        _room(session, admin, other, f"他局 {i}", starts_in=timedelta(minutes=10 + i))
    mine = [_room(session, admin, own, f"本局 {i}", starts_in=timedelta(hours=2 + i))
            for i in range(3)]
    session.commit()
    page = ops.rooms_on(session, clerk, None, upcoming=True, limit=2)
    assert [r.id for r in page] == [r.id for r in mine[:2]]
