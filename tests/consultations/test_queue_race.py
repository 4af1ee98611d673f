"""Two takes at once never get the same consultation: the duty lawyer (two tabs) and two
clerks taking for them, on threads with real commits (SQLite, and PostgreSQL when set)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import select

from consultations import intake
from consultations.models import Consultation, DutyWeek
from portal.auth import operations as auth_ops
from portal.auth.models import User
from portal.auth.roles import Role
from portal.extensions import db
from portal.people.models import Person
from tests.consultations.test_intake_support import MONDAY, ON_DUTY
from tests.fixtures.core import BACKENDS, PG_URL, build_app, create_pg_database

WAITING = 24


@pytest.fixture(scope="module", params=BACKENDS)
def race_app(request: pytest.FixtureRequest,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """An app whose commits are real, so the threads see each other's."""
    tmp = tmp_path_factory.mktemp(f"queue-race-{request.param}")
    drop = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'portal.db'}"
    else:
        url, drop = create_pg_database(PG_URL)
    app = build_app(tmp, url)
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()
    if drop:
        drop()


def _seed(app: Flask) -> tuple[int, int, list[int]]:
    with app.app_context():
        session = db.session
        lawyer = auth_ops.create_user(session, username="race-lawyer", display_name="律师",
                                      password="x" * 12, roles={Role.LAWYER},
                                      organisations=[], check_password=False)
        clerk = auth_ops.create_user(session, username="race-clerk", display_name="书记员",
                                     password="x" * 12, roles={Role.CLERK},
                                     organisations=[], check_password=False)
        person = Person(kind="lawyer", name="值班律师", user_id=lawyer.id)
        session.add(person)
        session.flush()
        session.add(DutyWeek(week_start=MONDAY, lawyer_id=person.id, status="published",
                             hours="09:00-11:30,14:30-17:30"))
        ids = []
        for i in range(WAITING):
            consultation = Consultation(
                channel="online", status="queued", name=f"排队{i}", topic="labour",
                question="欠薪", needs_assistance=i % 5 == 0,
                created_at=ON_DUTY - timedelta(minutes=60 - i))
            session.add(consultation)
            session.flush()
            ids.append(consultation.id)
        session.commit()
        return lawyer.id, clerk.id, ids


def test_concurrent_takes_give_each_consultation_to_one_taker(race_app):
    lawyer_id, clerk_id, ids = _seed(race_app)
    takers = [lawyer_id, lawyer_id, clerk_id, clerk_id]
    barrier = threading.Barrier(len(takers))
    got: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def work(user_id: int) -> None:
        try:
            barrier.wait()
            while True:
                with race_app.app_context():
                    try:
                        user = db.session.get(User, user_id)
                        taken = intake.take_next(db.session, user, ON_DUTY)
                        db.session.commit()
                        got.append((taken.id, user_id))
                    except intake.IntakeRefused:
                        db.session.rollback()
                        return
                    finally:
                        db.session.remove()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    pool = [threading.Thread(target=work, args=(uid,)) for uid in takers]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=120)
    assert errors == []
    taken_ids = [cid for cid, _ in got]
    assert sorted(taken_ids) == sorted(ids)  # each once: none twice, none left
    assert {uid for _, uid in got} == {lawyer_id, clerk_id}
    with race_app.app_context():
        rows = db.session.scalars(select(Consultation)).all()
        assert all(c.status == "active" and c.version == 2 for c in rows)
        lawyer = db.session.scalar(select(Person).where(Person.name == "值班律师"))
        assert {c.lawyer_id for c in rows} == {lawyer.id}
