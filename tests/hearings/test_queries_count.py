"""The record page and the requests list read in a fixed number of queries, however many
signers or requests (review 16)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from portal.extensions import db
from tests.fixtures.core import login
from tests.hearings.test_record import ended_hearing, freeze


@contextmanager
def counted(app: Any) -> Iterator[list[str]]:
    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_a: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def test_the_record_page_does_not_query_per_signer(app: Any, client: Any, session: Any,
                                                   world: Any) -> None:
    hearing, _t = ended_hearing(session, world)
    login(client, world.clerk)
    freeze(client, hearing)
    signers = sum(1 for p in hearing.participants if p.is_active)
    assert signers >= 8
    url = f"/hearings/{hearing.id}/record"
    client.get(url)
    with counted(app) as seen:
        assert client.get(url).status_code == 200
    on_signatures = [s for s in seen if "hearing_signatures" in s]
    assert len(on_signatures) < signers, len(on_signatures)


def test_the_requests_list_does_not_load_each_case_alone(app: Any, client: Any,
                                                         session: Any, world: Any) -> None:
    from datetime import date, timedelta

    from hearings.models import HearingRequest
    from tests.fixtures.casefiles import new_case

    for _ in range(4):
        case, _code = new_case(session, world)
        session.add(HearingRequest(case_id=case.id, channel="counter", reason="请求听证",
                                   decide_by=date.today() + timedelta(days=5)))
    session.commit()
    login(client, world.clerk)
    client.get("/hearings/requests")
    with counted(app) as seen:
        page = client.get("/hearings/requests")
    assert page.status_code == 200
    by_case_id = [s for s in seen if s.lstrip().startswith("SELECT cases.")
                  and "WHERE cases.id =" in s]
    assert len(by_case_id) <= 1, len(by_case_id)
