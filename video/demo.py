"""Demo receptions for seed-demo: today's leader's reception day at the county petition
office with two booked petitioners (one linked to a demo case) and a walk-in waiting
list, and an appointment block tomorrow. Idempotent: the first demo title is the
marker. Needs the demo clerk and leader logins (development only)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select

from portal.auth import operations as auth_ops
from portal.casefiles.models import Case
from portal.extensions import DbSession
from portal.orgs.models import Organisation
from video import operations as ops
from video.forms import LOCAL, local_to_utc
from video.models import Room, RoomKind

OFFICE = "县信访局"
TITLE = "县领导接待日（视频接访）"


def seed_rooms(session: DbSession, echo: Callable[[str], None]) -> None:
    if session.scalar(select(Room.id).where(Room.title == TITLE)) is not None:
        echo("video: demo receptions present, 0 new")
        return
    clerk = auth_ops.find_user(session, "clerk")
    leader = auth_ops.find_user(session, "leader")
    office = session.scalar(select(Organisation).where(Organisation.name == OFFICE))
    if clerk is None or leader is None or office is None:
        echo("video: demo logins or the county office missing; no receptions seeded")
        return
    now = datetime.now(LOCAL)
    today = now.date()
    # the reception day is open whenever the demo is seeded (a day from 08:30 to 17:30
    # would be over in the evening): from the last half hour, for eight hours
    opens = now.replace(minute=0 if now.minute < 30 else 30, second=0, microsecond=0)
    day = ops.create_room(session, clerk, kind=RoomKind.LEADER_DAY, title=TITLE,
                          office_id=office.id, host_id=leader.id,
                          starts_at=opens.astimezone(UTC),
                          ends_at=(opens + timedelta(hours=8)).astimezone(UTC),
                          slot_minutes=30)
    case = session.scalar(select(Case).where(Case.office_id == office.id)
                          .order_by(Case.id).limit(1))
    later = ops.free_slots(day)[1:3]  # two appointments still to come
    ops.book_seat(session, clerk, day, name="王秀英", phone="13800001111",
                  slot_at=later[0], case_id=case.id if case else None)
    ops.book_seat(session, clerk, day, name="刘建国", phone="13800002222",
                  slot_at=later[1])
    ops.book_seat(session, clerk, day, name="陈桂兰（现场排队）")
    tomorrow = today + timedelta(days=1)
    ops.create_room(session, clerk, kind=RoomKind.APPOINTMENT, title="法院约访（视频）",
                    office_id=office.id, host_id=leader.id,
                    starts_at=local_to_utc(tomorrow, time(9, 0)),
                    ends_at=local_to_utc(tomorrow, time(11, 0)), slot_minutes=20)
    ops.pending_events(session)
    echo("video: 2 demo receptions with 3 bookings (links: issue them on the room page)")
