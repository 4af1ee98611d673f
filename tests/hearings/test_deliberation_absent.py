"""One panel member absent from the hearing does not block the deliberation: once the
panel's attendance is taken, those never checked in do not vote, and the record names
them (review 6)."""
from __future__ import annotations

from typing import Any

from hearings import deliberation as ops
from hearings.models import Attendance
from tests.hearings.test_deliberation import make_room, vote_all


def test_an_absent_member_neither_votes_nor_blocks(client: Any, session: Any, world: Any,
                                                   make_user: Any) -> None:
    room = make_room(session, world, make_user)
    away, _tok = room.panel[-1]
    for member, _t in room.panel[:-1]:
        member.attendance = Attendance.IN_ROOM
    session.commit()

    st = ops.state(session, room.hearing)
    assert away not in st.voters and len(st.voters) == 4
    vote_all(client, room, upto=4)
    session.expire_all()
    st = ops.state(session, room.hearing)
    assert st.complete
    room.hearing.panel_opinion = "多数意见：支持。"
    session.flush()
    record = ops.freeze_deliberation_record(session, world.leader, room.hearing)
    assert f"Panel members absent：{away.name}" in record.text \
        or f"缺席的听证员：{away.name}" in record.text


def test_before_attendance_is_taken_everyone_seated_votes(session: Any, world: Any,
                                                          make_user: Any) -> None:
    room = make_room(session, world, make_user)
    assert len(ops.voters(room.hearing)) == 5 and ops.absent(room.hearing) == []
