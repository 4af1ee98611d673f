"""Once only, with requests at the same instant (real commits; SQLite in WAL, and
PostgreSQL when PORTAL_TEST_DATABASE_URL is set): the person rates once, the lawyer's
consultation closes once and files one legal-aid application."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import func, select

from consultations import links
from consultations.models import Consultation, LegalAidApplication
from portal.auth import operations as auth_ops
from portal.auth.roles import Role
from portal.extensions import db, limiter
from portal.people.models import Person
from portal.timeutil import utcnow
from tests.consultations.test_outcomes_support import close_data
from tests.fixtures.core import BACKENDS, PASSWORD, PG_URL, build_app, create_pg_database

THREADS = 6


@pytest.fixture(scope="module", params=BACKENDS)
def live_app(request: pytest.FixtureRequest,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    tmp = tmp_path_factory.mktemp(f"outcomes-{request.param}")
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


def _consultation(app: Flask, n: int) -> tuple[int, str, str]:
    """An active consultation of a new lawyer: its id, link token and the lawyer's login."""
    with app.app_context():
        session = db.session
        user = auth_ops.create_user(session, username=f"lawyer-{n}", display_name="律师",
                                    password=PASSWORD, roles={Role.LAWYER},
                                    check_password=False)
        lawyer = Person(kind="lawyer", name=f"并发律师{n}", lawyer_firm="某所",
                        lawyer_licence_no=f"C{n:09d}", user_id=user.id)
        session.add(lawyer)
        session.flush()
        consultation = Consultation(channel="online", status="active", name="并发咨询人",
                                    phone="13800138000", topic="labour", question="欠薪",
                                    lawyer_id=lawyer.id, lawyer_user_id=user.id,
                                    taken_at=utcnow())
        token = links.issue_consultation_token(consultation)
        session.add(consultation)
        session.commit()
        return consultation.id, token, user.username


def _at_once(clients: list[Any], job: Any) -> list[int]:
    barrier = threading.Barrier(len(clients))
    results: list[int] = [0] * len(clients)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = job(clients[i], i)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    pool = [threading.Thread(target=run, args=(i,)) for i in range(len(clients))]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []
    return results


def test_closing_and_rating_at_the_same_instant(live_app):
    with live_app.app_context():
        limiter.reset()
    cid, token, username = _consultation(live_app, 1)
    clients = []
    for _ in range(THREADS):
        client = live_app.test_client()
        assert client.post("/login", data={"username": username,
                                           "password": PASSWORD}).status_code == 302
        clients.append(client)
    data = close_data(outcome="legal_aid", applicant_name="并发咨询人", matter="欠薪")
    statuses = _at_once(clients, lambda c, i: c.post(f"/consultations/{cid}/close",
                                                     data={**data, "idempotency_key": f"k{i}"}
                                                     ).status_code)
    assert all(s == 303 for s in statuses), statuses
    with live_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(LegalAidApplication)
                                 .where(LegalAidApplication.consultation_id == cid)) == 1
        assert db.session.get(Consultation, cid).status == "closed"
    ratings = ["satisfied", "fairly", "unsatisfied"]
    people = [live_app.test_client() for _ in range(THREADS)]
    statuses = _at_once(people, lambda c, i: c.post(
        f"/consultations/c/{token}/rate", data={"rating": ratings[i % 3]}).status_code)
    assert all(s == 303 for s in statuses), statuses
    with live_app.app_context():
        db.session.expire_all()
        rated = db.session.get(Consultation, cid)
        assert rated.rating in ratings and rated.rated_at is not None
