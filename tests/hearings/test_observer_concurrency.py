"""Nobody is seated twice: many people registering for one hearing at the same instant,
each request through the app in its own thread, app context and database connection,
with real commits (SQLite in WAL, and PostgreSQL when PORTAL_TEST_DATABASE_URL is set)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import select

from hearings.models import Observer
from portal.auth import operations as auth_ops
from portal.auth.roles import Role
from portal.casefiles import operations as case_ops
from portal.extensions import db, limiter
from portal.notify.models import OutboxMessage
from portal.orgs.models import Organisation
from tests.fixtures.casefiles import World
from tests.fixtures.core import BACKENDS, PG_URL, build_app, create_pg_database
from tests.fixtures.hearings import new_hearing
from tests.hearings.test_observers import person

THREADS, SEATS = 40, 15


@pytest.fixture(scope="module", params=BACKENDS)
def live_app(request: pytest.FixtureRequest,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """An app whose commits are real, so that concurrent requests see each other."""
    tmp = tmp_path_factory.mktemp(f"observers-{request.param}")
    drop = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'portal.db'}"
    else:
        url, drop = create_pg_database(PG_URL)
    app = build_app(tmp, url, WTF_CSRF_ENABLED=False)
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if drop:
        drop()


def _hearing(app: Flask, seats: int) -> int:
    with app.app_context():
        session = db.session
        office = Organisation(name="并发信访局", kind="agency", sector="petition")
        township = Organisation(name="并发镇", kind="township")
        village = Organisation(name="并发村", kind="village", parent=township)
        session.add_all([office, township, village])
        session.flush()
        staff = [auth_ops.create_user(session, username=f"{role}-{office.id}",
                                      display_name=str(role), password="x" * 12,
                                      roles={role}, organisations=[office],
                                      check_password=False)
                 for role in (Role.CLERK, Role.LEADER)]
        case, _code = case_ops.register_case(
            session, staff[0], channel="walk_in", kind="land", summary="并发测试",
            township_id=township.id, village_id=village.id,
            petitioners=[{"name": "并发信访人"}])
        world = World(county=None, township=township, village=village, office=office,
                      other_office=None, police=None, land=None, outsider_agency=None,
                      clerk=staff[0], leader=staff[1], supervisor=None, admin=None,
                      other_clerk=None, other_leader=None, police_officer=None,
                      land_officer=None, outsider_officer=None, deputy=None)
        hearing, _tokens = new_hearing(session, world, case=case, status="published",
                                       observer_seats=seats)
        return int(hearing.id)


def _all_at_once(app: Flask, jobs: list[Any]) -> list[Any]:
    """Run each job(client) in its own thread, all released together; their results."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            client = app.test_client()
            barrier.wait()
            results[i] = jobs[i](client)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    pool = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []
    return results


def _register(hearing_id: int, n: int, address: str) -> Any:
    def job(client: Any) -> int:
        response = client.post(f"/hearings/public/{hearing_id}", data=person(n),
                               environ_base={"REMOTE_ADDR": address})
        return int(response.status_code)

    return job


def _rows(app: Flask, hearing_id: int) -> list[Observer]:
    with app.app_context():
        rows = list(db.session.scalars(select(Observer).where(
            Observer.hearing_id == hearing_id).order_by(Observer.registered_at,
                                                        Observer.id)))
        db.session.expunge_all()
        return rows


def test_concurrent_registrations_seat_exactly_the_cap(live_app):
    with live_app.app_context():
        limiter.reset()
    hearing_id = _hearing(live_app, SEATS)
    # 40 people, and 5 of them sending their form twice at the same instant
    jobs = [_register(hearing_id, n, f"127.0.1.{n + 1}") for n in range(THREADS)]
    jobs += [_register(hearing_id, n, f"127.0.2.{n + 1}") for n in range(5)]
    statuses = _all_at_once(live_app, jobs)
    assert sorted(statuses) == [201] * THREADS + [409] * 5, statuses
    rows = _rows(live_app, hearing_id)
    assert len(rows) == THREADS
    assert len({r.id_number_hash for r in rows}) == THREADS  # nobody twice
    seated = [r for r in rows if r.status == "seated"]
    waiting = [r for r in rows if r.status == "waitlisted"]
    assert len(seated) == min(SEATS, THREADS)
    assert len(waiting) == THREADS - SEATS
    # the first to register got the seats; the waiting list is in registration order
    assert max(r.registered_at for r in seated) <= min(r.registered_at for r in waiting)
    with live_app.app_context():
        from hearings.observers import waitlist_position

        positions = sorted(waitlist_position(db.session, r) for r in waiting)
        sms = db.session.scalar(select(db.func.count()).select_from(OutboxMessage)
                                .where(OutboxMessage.channel == "sms"))
    assert positions == list(range(1, THREADS - SEATS + 1))
    assert sms == THREADS  # one confirmation each, none for the refused duplicates


def test_concurrent_cancellations_promote_each_waitlisted_once(live_app):
    with live_app.app_context():
        limiter.reset()
    hearing_id = _hearing(live_app, 5)
    statuses = _all_at_once(live_app, [_register(hearing_id, 100 + n, f"127.0.3.{n + 1}")
                                       for n in range(12)])
    assert statuses == [201] * 12
    rows = _rows(live_app, hearing_id)
    seated = [r for r in rows if r.status == "seated"]
    # the seated cancel all at once, through their own links (tokens re-issued here, as
    # the SMS that carried them is not read back)
    from hearings.links import issue_observer_token

    tokens = []
    with live_app.app_context():
        for r in seated:
            row = db.session.get(Observer, r.id)
            tokens.append(issue_observer_token(row))
        db.session.commit()

    def cancel(token: str) -> Any:
        return lambda client: client.post(f"/hearings/observe/{token}/cancel").status_code

    assert _all_at_once(live_app, [cancel(t) for t in tokens]) == [200] * 5
    rows = _rows(live_app, hearing_id)
    assert [r.status for r in rows].count("cancelled") == 5
    assert [r.status for r in rows].count("seated") == 5
    assert [r.status for r in rows].count("waitlisted") == 2
    promoted = [r.id for r in rows if r.status == "seated"]
    waiting = [r.id for r in rows if r.status == "waitlisted"]
    assert max(promoted) < min(waiting)  # promoted in the order of the waiting list
