"""Two requests at the same moment, with real commits (a database of its own, SQLite and
PostgreSQL): a double signature, two clerks freezing, two filings. Each time exactly one
wins and the other gets the rule's message, never a 500 or a duplicate."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import func, select

from hearings.models import Hearing, ParticipantRole, RecordVersion, Signature
from portal.auth import operations as auth_ops
from portal.auth.roles import Role
from portal.casefiles import operations as case_ops
from portal.casefiles.models import Document
from portal.extensions import db
from portal.orgs.models import Organisation
from tests.fixtures.casefiles import World
from tests.fixtures.core import BACKENDS, PG_URL, build_app, create_pg_database, login
from tests.hearings.test_record import data_url, drawn_png, ended_hearing, role, sign_form

PASSWORD = "concurrency password"


@pytest.fixture(params=BACKENDS)
def real(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Flask]:
    drop = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'record.db'}"
    else:
        url, drop = create_pg_database(PG_URL)
    app = build_app(tmp_path, url, WTF_CSRF_ENABLED=False)
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if drop:
        drop()


def _world_and_hearing(app: Flask) -> tuple[int, dict[str, int], dict[int, str], Any]:
    with app.app_context():
        s = db.session
        township = Organisation(name="并发镇", kind="township")
        office = Organisation(name="并发信访局", kind="agency", sector="petition")
        s.add_all([township, office])
        s.flush()
        users = {r: auth_ops.create_user(s, username=f"u-{r}", display_name=f"用户{r}",
                                         password=PASSWORD, roles={r},
                                         organisations=[office], check_password=False)
                 for r in (Role.CLERK, Role.LEADER)}
        case, _code = case_ops.register_case(s, users[Role.CLERK], channel="walk_in",
                                             kind="land", summary="并发测试",
                                             petitioners=[{"name": "张三"}])
        s.commit()
        world = World(county=None, township=township, village=None, office=office,
                      other_office=None, police=None, land=None, outsider_agency=None,
                      clerk=users[Role.CLERK], leader=users[Role.LEADER], supervisor=None,
                      admin=None, other_clerk=None, other_leader=None, police_officer=None,
                      land_officer=None, outsider_officer=None, deputy=None)
        hearing, tokens = ended_hearing(s, world, case=case)
        ids = {"petitioner": role(hearing, ParticipantRole.PETITIONER).id,
               "clerk": users[Role.CLERK].id, "leader": users[Role.LEADER].id}
        return hearing.id, ids, tokens, users


def _at_once(*calls: Callable[[], Any]) -> list[Any]:
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[i] = call()
        except BaseException as error:  # noqa: BLE001 - reported by the assertion
            results[i] = error

    pool = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=120)
    return results


def _client(app: Flask, user: Any) -> Any:
    client = app.test_client()
    login(client, user, PASSWORD)
    return client


def test_two_clerks_freeze_and_a_signature_sent_twice_at_once(real):
    hearing_id, ids, tokens, users = _world_and_hearing(real)
    clerk, leader = _client(real, users[Role.CLERK]), _client(real, users[Role.LEADER])
    url = f"/hearings/{hearing_id}/record/freeze"
    answers = _at_once(lambda: clerk.post(url), lambda: leader.post(url))
    assert [a.status_code for a in answers] == [303, 303]
    with real.app_context():
        versions = db.session.scalars(select(RecordVersion).where(
            RecordVersion.hearing_id == hearing_id)
            .order_by(RecordVersion.kind.desc())).all()
        # the record, and the deliberation record frozen with it, once each
        assert [(v.kind, v.number) for v in versions] == [("record", 1), ("deliberation", 1)]
        version = versions[0]
        db.session.remove()

    # the petitioner's phone sends the form twice (two keys: not the same form)
    link = f"/hearings/sign/{tokens[ids['petitioner']]}"
    phone_a, phone_b = real.test_client(), real.test_client()
    form_a = sign_form(version, signature=data_url(drawn_png()), idempotency_key="k-a")
    form_b = sign_form(version, signature=data_url(drawn_png()), idempotency_key="k-b")
    answers = _at_once(lambda: phone_a.post(link, data=form_a),
                       lambda: phone_b.post(link, data=form_b))
    codes = sorted(a.status_code for a in answers)
    assert codes == [303, 400], codes
    refused = next(a for a in answers if a.status_code == 400)
    assert "already signed" in refused.get_data(as_text=True)
    with real.app_context():
        assert db.session.scalar(select(func.count()).select_from(Signature)) == 1
        db.session.remove()

    # two filings at once: one files, the other is told it is filed
    file_url = f"/hearings/{hearing_id}/record/file"
    answers = _at_once(lambda: clerk.post(file_url, data={"confirm_unsigned": "y"}),
                       lambda: leader.post(file_url, data={"confirm_unsigned": "y"}))
    assert [a.status_code for a in answers] == [303, 303]
    with real.app_context():
        hearing = db.session.get(Hearing, hearing_id)
        assert hearing is not None and hearing.status == "filed"
        docs = db.session.scalars(select(Document).where(
            Document.case_id == hearing.case_id)).all()
        # the record and the deliberation record, each filed once
        assert len(docs) == 2 and len({d.title for d in docs}) == 2
        db.session.remove()
