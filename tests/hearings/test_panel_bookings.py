"""Nobody sits on two panels at once: two draws for overlapping hearings at the same
instant (real commits, SQLite and PostgreSQL) book each person once; moving a hearing onto
a time when a member sits elsewhere is refused, naming them."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from hearings import operations
from hearings import panel as ops
from hearings.models import Hearing, Participant, ParticipantRole
from hearings.operations import ScheduleRefused, notice_deadline
from portal.auth import operations as auth_ops
from portal.auth.models import User
from portal.auth.roles import Role
from portal.casefiles import operations as case_ops
from portal.errors import DomainError
from portal.extensions import db
from portal.orgs.models import Organisation
from portal.people.models import Person
from portal.timeutil import utcnow
from tests.fixtures.hearings import add_panel, new_hearing, registry
from tests.hearings.test_panel_concurrency import fresh, slow_load

__all__ = ["fresh", "slow_load"]  # the fixtures, shared


def _two_hearings_one_panel_of_people(app) -> list[int]:
    """Two hearings at the same time and a registry that fills exactly one panel."""
    with app.app_context():
        office = Organisation(name="信访局", kind="agency")
        db.session.add(office)
        clerk = auth_ops.create_user(db.session, username="clerk", display_name="Clerk",
                                     password="x" * 12, roles={Role.CLERK},
                                     organisations=[office], check_password=False)
        case, _ = case_ops.register_case(db.session, clerk, channel="walk_in", kind="land",
                                         summary="案情", petitioners=[{"name": "张三"}])
        db.session.add_all([Person(kind=kind, name=f"{kind}{i}",
                                   expert_field="land" if kind == "expert" else None)
                            for i, kind in enumerate(("deputy", "cppcc", "expert",
                                                      "expert", "lawyer"))])
        start = utcnow() + timedelta(days=10)
        hearings = [Hearing(case_id=case.id, kind="petition", title=f"听证会{n}",
                            starts_at=start, ends_at=start + timedelta(hours=3),
                            office_id=office.id, presiding_id=clerk.id, clerk_id=clerk.id,
                            ical_uid=f"{uuid.uuid4()}@portal", created_by_id=clerk.id)
                    for n in (1, 2)]
        db.session.add_all(hearings)
        db.session.commit()
        return [h.id for h in hearings]


def test_two_draws_at_once_for_overlapping_hearings_book_nobody_twice(fresh, slow_load):
    ids = _two_hearings_one_panel_of_people(fresh)
    barrier = threading.Barrier(2)
    outcome: list[Any] = []

    def work(hearing_id: int) -> None:
        with fresh.app_context():
            clerk = db.session.scalar(select(User).where(User.username == "clerk"))
            hearing = db.session.get(Hearing, hearing_id)
            barrier.wait()
            try:
                ops.draw_panel(db.session, clerk, hearing)
                db.session.commit()
                outcome.append("drawn")
            except DomainError:
                db.session.rollback()
                outcome.append("short")
            except BaseException as error:  # noqa: BLE001 - reported below
                outcome.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(map(str, outcome)) == ["drawn", "short"], outcome
    with fresh.app_context():
        seats = list(db.session.scalars(select(Participant.person_id).where(
            Participant.role == ParticipantRole.PANEL, Participant.is_active.is_(True))))
    assert len(seats) == 5 and len(set(seats)) == 5


def test_moving_a_hearing_onto_a_members_other_hearing_is_refused(session, world):
    people = registry(session, world, deputies=1, cppcc=1, experts=2, lawyers=1)
    later = datetime.combine(notice_deadline() + timedelta(days=20), time(1, 0),
                             tzinfo=UTC)
    first, _t = new_hearing(session, world, status="published",
                            starts_in=timedelta(days=30))
    other, _t = new_hearing(session, world, status="published",
                            starts_in=later - utcnow())
    later = other.starts_at
    add_panel(session, first, people)
    add_panel(session, other, people[:1])
    with pytest.raises(ScheduleRefused) as refused:
        operations.reschedule(session, world.clerk, first, first.version,
                              starts_at=later + timedelta(hours=1),
                              ends_at=later + timedelta(hours=2), place_kind="room",
                              place="县信访局听证室")
    assert people[0].name in str(refused.value) and other.title in str(refused.value)
    session.rollback()
    # a time when nobody sits elsewhere is fine
    operations.reschedule(session, world.clerk, first, first.version,
                          starts_at=later + timedelta(days=1),
                          ends_at=later + timedelta(days=1, hours=2), place_kind="room",
                          place="县信访局听证室")
