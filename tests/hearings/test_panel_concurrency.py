"""Two organisers at once, with real commits on a database of its own (SQLite, and
PostgreSQL when PORTAL_TEST_DATABASE_URL is set): draws and hand picks are serialised per
hearing, so the panel never holds more seats than it has, nor one seat twice."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import select

from hearings import panel as ops
from hearings.models import Hearing, Participant, ParticipantRole
from portal.auth import operations as auth_ops
from portal.auth.models import User
from portal.auth.roles import Role
from portal.casefiles import operations as case_ops
from portal.errors import DomainError
from portal.extensions import db
from portal.orgs.models import Organisation
from portal.people.models import Person
from portal.timeutil import utcnow
from tests.fixtures.core import BACKENDS, PG_URL, build_app, create_pg_database


@pytest.fixture()
def slow_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """Widen the window between reading the panel and writing it, so that two organisers
    who were not serialised would both read it before either writes."""
    real = ops.load_inputs

    def slow(*args: Any, **kwargs: Any) -> Any:
        inputs = real(*args, **kwargs)
        time.sleep(0.3)
        return inputs

    monkeypatch.setattr(ops, "load_inputs", slow)


@pytest.fixture(params=BACKENDS)
def fresh(request: Any, tmp_path: Any) -> Iterator[Flask]:
    drop = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'panel.db'}"
    else:
        url, drop = create_pg_database(PG_URL)
    app = build_app(tmp_path, url)
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if drop:
        drop()


def _seed(app: Flask) -> tuple[int, list[int]]:
    with app.app_context():
        office = Organisation(name="信访局", kind="agency")
        db.session.add(office)
        clerk = auth_ops.create_user(db.session, username="clerk", display_name="Clerk",
                                     password="x" * 12, roles={Role.CLERK},
                                     organisations=[office], check_password=False)
        case, _ = case_ops.register_case(db.session, clerk, channel="walk_in", kind="land",
                                         summary="案情", petitioners=[{"name": "张三"}])
        people = [Person(kind=kind, name=f"{kind}{i}",
                         expert_field="land" if kind == "expert" else None)
                  for kind in ("deputy", "cppcc", "expert", "expert", "lawyer")
                  for i in range(3)]
        db.session.add_all(people)
        start = utcnow() + timedelta(days=10)
        hearing = Hearing(case_id=case.id, kind="petition", title="听证会", starts_at=start,
                          ends_at=start + timedelta(hours=3), office_id=office.id,
                          presiding_id=clerk.id, clerk_id=clerk.id,
                          ical_uid=f"{uuid.uuid4()}@portal", created_by_id=clerk.id)
        db.session.add(hearing)
        db.session.commit()
        return hearing.id, [p.id for p in people]


def _race(app: Flask, hearing_id: int, jobs: list[Callable[[Any, Any, Hearing], Any]]
          ) -> tuple[int, list[BaseException]]:
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []
    done = [0]

    def work(job: Callable[[Any, Any, Hearing], Any]) -> None:
        try:
            with app.app_context():
                clerk = db.session.scalar(select(User).where(User.username == "clerk"))
                hearing = db.session.get(Hearing, hearing_id)
                barrier.wait()
                try:
                    job(db.session, clerk, hearing)
                    db.session.commit()
                    done[0] += 1
                except DomainError:
                    db.session.rollback()
                finally:
                    db.session.remove()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return done[0], errors


def _active_seats(app: Flask, hearing_id: int) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(select(Participant.seat_no).where(
            Participant.hearing_id == hearing_id, Participant.role == ParticipantRole.PANEL,
            Participant.is_active.is_(True)).order_by(Participant.seat_no)))


def test_two_draws_at_once_leave_one_panel(fresh, slow_load):
    hearing_id, _people = _seed(fresh)
    done, errors = _race(fresh, hearing_id, [
        lambda s, u, h: ops.draw_panel(s, u, h) for _ in range(2)])
    assert errors == [] and done == 2  # the second replaced the first's undecided seats
    assert _active_seats(fresh, hearing_id) == [1, 2, 3, 4, 5]


def test_hand_picks_at_once_take_distinct_seats(fresh, slow_load):
    hearing_id, people = _seed(fresh)
    # a deputy, a CPPCC member and a land expert: each fits the mix
    picks = [people[0], people[3], people[6]]
    done, errors = _race(fresh, hearing_id, [
        (lambda s, u, h, pid=pid: ops.pick_by_hand(s, u, h, pid)) for pid in picks])
    assert errors == [] and done == 3
    assert _active_seats(fresh, hearing_id) == [1, 2, 3]
