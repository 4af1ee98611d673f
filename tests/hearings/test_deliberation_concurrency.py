"""The last vote and a change of mind racing, with real commits on a database of its own:
whatever the room was shown when the votes were revealed is what stays (nothing changes
once all are in), and a freeze sent twice at once makes one record."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import func, select

from hearings import deliberation as ops
from hearings.models import DeliberationVote, Hearing, RecordVersion
from portal import transaction
from portal.auth import operations as auth_ops
from portal.errors import DomainError
from portal.extensions import db
from portal.orgs.models import Organisation
from tests.fixtures.casefiles import make_world
from tests.fixtures.core import BACKENDS, PG_URL, build_app, create_pg_database
from tests.fixtures.hearings import add_panel, new_hearing, registry

ROUNDS = 6


@pytest.fixture(params=BACKENDS)
def racing(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    drop = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'race.db'}"
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


def _seed(app: Flask) -> tuple[int, int, list[str]]:
    """A hearing in deliberation with a panel of five: (hearing id, leader id, tokens)."""
    n = iter(range(1, 1000))

    def make_user(*roles: Any, organisations: Any = None, **_: Any) -> Any:
        k = next(n)
        user = auth_ops.create_user(db.session, username=f"u{k}", display_name=f"U{k}",
                                    password="correct horse 42", roles=set(roles),
                                    organisations=organisations or [],
                                    check_password=False)
        db.session.commit()
        return user

    def make_org(name: str, kind: str = "agency", parent: Any = None,
                 **fields: Any) -> Organisation:
        org = Organisation(name=name, kind=kind, parent=parent, **fields)
        db.session.add(org)
        db.session.commit()
        return org

    with app.app_context():
        world = make_world(make_user, make_org)
        hearing, _tokens = new_hearing(db.session, world, status="running",
                                       stage="deliberation")
        people = registry(db.session, world, deputies=2, cppcc=1, experts=1, lawyers=1)
        tokens = list(add_panel(db.session, hearing, people).values())
        return hearing.id, world.leader.id, tokens


def _run(app: Flask, token: str, work: Callable[[Any, Hearing, ops.Member], Any]) -> Any:
    """One unit of work as a request does it: load, act, commit; a refusal rolls back."""
    with app.app_context():
        try:
            hearing, member = ops.member_by_token(db.session, token) or (None, None)
            assert hearing is not None and member is not None
            result = work(db.session, hearing, member)
            transaction.commit(db.session)
            return result
        except DomainError as error:
            transaction.rollback(db.session)
            return error
        finally:
            db.session.remove()


def _voting(vote: str, opinion: str) -> Callable[[Any, Hearing, ops.Member], Any]:
    def work(session: Any, hearing: Hearing, member: ops.Member) -> Any:
        return ops.cast_vote(session, hearing, member, vote, opinion)

    return work


def _threads(jobs: list[Callable[[], None]]) -> None:
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def wrap(job: Callable[[], None]) -> Callable[[], None]:
        def go() -> None:
            try:
                barrier.wait()
                job()
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)

        return go

    pool = [threading.Thread(target=wrap(job)) for job in jobs]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []


def test_what_was_revealed_is_what_stays(racing):
    hearing_id, leader_id, tokens = _seed(racing)
    for i, token in enumerate(tokens[:4]):  # four in; the fifth and a change race
        _run(racing, token, _voting("uphold", f"初{i}"))
    revealed: list[dict[str, Any]] = []

    def last_vote() -> None:
        def vote(s: Any, h: Hearing, m: ops.Member) -> None:
            ops.cast_vote(s, h, m, "reject", "最后一票")
            revealed.append(ops.payload_for(ops.state(s, h), m)["results"])

        _run(racing, tokens[4], vote)

    def change_of_mind() -> None:
        for r in range(ROUNDS):
            _run(racing, tokens[0], _voting("partly", f"改{r}"))

    _threads([last_vote, change_of_mind])
    assert len(revealed) == 1
    with racing.app_context():
        rows = db.session.scalars(select(DeliberationVote).where(
            DeliberationVote.hearing_id == hearing_id)).all()
        final = {v.opinion for v in rows}
    assert {v["opinion"] for v in revealed[0]["votes"]} == final
    assert len(final) == 5 and "最后一票" in final


def test_a_freeze_sent_twice_at_once_makes_one_record(racing):
    hearing_id, leader_id, tokens = _seed(racing)
    for i, token in enumerate(tokens):
        _run(racing, token, _voting("uphold", f"意见{i}"))
    with racing.app_context():
        from portal.auth.models import User

        hearing = db.session.get(Hearing, hearing_id)
        assert hearing is not None
        ops.write_panel_opinion(db.session, hearing,
                                ops.Member(hearing_id, "主持人", None, True), "一致支持。")
        transaction.commit(db.session)
        db.session.remove()
    numbers: list[int] = []

    def freeze() -> None:
        with racing.app_context():
            try:
                hearing = db.session.get(Hearing, hearing_id)
                leader = db.session.get(User, leader_id)
                assert hearing is not None
                numbers.append(ops.freeze_deliberation_record(db.session, leader,
                                                              hearing).number)
                transaction.commit(db.session)
            finally:
                db.session.remove()

    _threads([freeze, freeze])
    assert numbers == [1, 1]
    with racing.app_context():
        assert db.session.scalar(select(func.count()).select_from(RecordVersion)) == 1
