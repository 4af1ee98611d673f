"""Asking for a hearing (the query page with the query code, or the clerk), the office's
written decision shown on the query page, and the refusals of a repeat request."""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import func, select

from hearings.models import HearingRequest, HearingStatus, RequestStatus
from hearings.requests import decide_by_for
from hearings.rules import HearingRules
from portal.auth import operations as auth_ops
from portal.auth.roles import Role
from portal.casefiles import clocks
from portal.casefiles import operations as case_ops
from portal.casefiles.models import CaseEvent
from portal.casefiles.petitioner import make_token
from portal.extensions import db
from portal.orgs.models import Organisation
from tests.fixtures.casefiles import new_case
from tests.fixtures.core import BACKENDS, PG_URL, build_app, create_pg_database, login
from tests.fixtures.hearings import new_hearing


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _token(page: str) -> str:
    """The page token of the hearing request form (the query page's short-lived one)."""
    form = page[page.index('action="/hearings/ask"'):]
    return re.search(r'name="token"[^>]*value="([^"]+)"', form).group(1)


def _requests(session, case) -> list[HearingRequest]:
    session.expire_all()
    return list(session.scalars(select(HearingRequest).where(
        HearingRequest.case_id == case.id).order_by(HearingRequest.id)))


def _events(session, case, kind: str) -> int:
    return session.scalar(select(func.count()).select_from(CaseEvent).where(
        CaseEvent.case_id == case.id, CaseEvent.kind == kind))


def test_a_petitioner_asks_on_the_query_page_and_reads_the_decision(client, session, world):
    case, code = new_case(session, world)
    page = _text(client.post("/query", data={"code": code}))
    assert "Ask for a hearing" in page
    assert code not in page  # the form carries the page token, never the code
    answer = client.post("/hearings/ask", data={
        "token": _token(page), "reason": "补偿标准与邻村不一致，请求听证核实。"})
    assert answer.status_code == 200
    text = _text(answer)
    [req] = _requests(session, case)
    assert f"The office decides by {req.decide_by.isoformat()}" in text
    assert "Your request for a hearing is recorded" in text
    assert req.channel == "query_page" and req.created_by_id is None
    assert req.status == RequestStatus.PENDING
    assert req.decide_by == decide_by_for(clocks.today_in_china())
    assert _events(session, case, "hearing_requested") == 1
    assert "Ask for a hearing" not in text  # one pending request at a time

    # the office refuses in writing; the petitioner reads it on the query page
    login(client, world.clerk)
    list_page = _text(client.get("/hearings/requests"))
    assert case.number in list_page and "days left" in list_page
    done = client.post(f"/hearings/requests/{req.id}",
                       data={"decision": "refuse", "text": "该事项已有生效答复，不予听证。"})
    assert done.status_code == 303
    assert _events(session, case, "hearing_request_decided") == 1
    client.post("/logout")
    page = _text(client.post("/query", data={"code": code}))
    assert "该事项已有生效答复，不予听证。" in page
    assert f"Refused on {clocks.today_in_china().isoformat()}" in page


def test_a_second_request_while_one_is_pending_is_refused(client, session, world):
    case, code = new_case(session, world)
    page = _text(client.post("/query", data={"code": code}))
    token = _token(page)
    assert client.post("/hearings/ask", data={"token": token, "reason": "请求听证"}
                       ).status_code == 200
    again = client.post("/hearings/ask", data={"token": token, "reason": "再次请求"})
    assert again.status_code == 400
    assert "already awaits the office's decision" in _text(again)
    assert len(_requests(session, case)) == 1


def test_the_query_form_refuses_empty_or_stale_input(client, session, world):
    case, code = new_case(session, world)
    token = _token(_text(client.post("/query", data={"code": code})))
    empty = client.post("/hearings/ask", data={"token": token, "reason": "  "})
    assert empty.status_code == 400
    assert "Say what you want the hearing to examine" in _text(empty)
    stale = client.post("/hearings/ask", data={"token": "forged", "reason": "请求听证"})
    assert stale.status_code == 200 and "This page has expired" in _text(stale)
    assert _requests(session, case) == []


def test_a_clerk_records_a_request_and_grants_it(client, session, world):
    case, _code = new_case(session, world)
    login(client, world.clerk)
    form = _text(client.get(f"/hearings/requests/new?case_number={case.number}"))
    assert case.number in form
    key = re.search(r'name="idempotency_key"[^>]*value="([^"]+)"', form).group(1)
    data = {"case_number": case.number, "reason": "信访人来电请求听证。",
            "new_evidence": "", "idempotency_key": key}
    response = client.post("/hearings/requests/new", data=data)
    assert response.status_code == 303
    [req] = _requests(session, case)
    assert req.channel == "clerk" and req.created_by_id == world.clerk.id
    # sent twice: the first one's result, nothing more stored
    assert client.post("/hearings/requests/new", data=data).status_code in (302, 303)
    assert len(_requests(session, case)) == 1
    # the petitioner is told of the decision: the form asks before it is sent
    decide = _text(client.get(f"/hearings/requests/{req.id}"))
    assert re.search(r'<form method="post" novalidate data-confirm="[^"]*petitioner is told',
                     decide)

    granted = client.post(f"/hearings/requests/{req.id}",
                          data={"decision": "grant", "text": "同意举行听证。"})
    assert granted.status_code == 303
    assert granted.headers["Location"].endswith(f"/hearings/new?request_id={req.id}")
    assert _requests(session, case)[0].status == RequestStatus.GRANTED
    # decided once
    again = client.post(f"/hearings/requests/{req.id}",
                        data={"decision": "refuse", "text": "改为不予听证"})
    assert again.status_code == 400
    assert _requests(session, case)[0].status == RequestStatus.GRANTED


def test_a_decision_needs_its_text(client, session, world):
    case, _code = new_case(session, world)
    login(client, world.clerk)
    client.post("/hearings/requests/new", data={"case_number": case.number,
                                                "reason": "请求听证"})
    [req] = _requests(session, case)
    response = client.post(f"/hearings/requests/{req.id}", data={"decision": "refuse",
                                                                  "text": ""})
    assert response.status_code == 400
    assert _requests(session, case)[0].status == RequestStatus.PENDING


def test_an_unknown_case_number_is_said_so(client, session, world):
    login(client, world.clerk)
    response = client.post("/hearings/requests/new", data={"case_number": "2099-XF-999999",
                                                           "reason": "请求听证"})
    assert response.status_code == 400
    assert "No case you can see has this number" in _text(response)


def test_a_repeat_after_a_granted_request_needs_new_evidence(client, session, world):
    case, code = new_case(session, world)
    login(client, world.clerk)
    client.post("/hearings/requests/new", data={"case_number": case.number,
                                                "reason": "请求听证"})
    [req] = _requests(session, case)
    client.post(f"/hearings/requests/{req.id}", data={"decision": "grant",
                                                      "text": "同意"})
    client.post("/logout")
    page = _text(client.post("/query", data={"code": code}))
    assert "a new one needs new evidence" in page
    refused = client.post("/hearings/ask", data={"token": _token(page),
                                                 "reason": "再次请求听证"})
    assert refused.status_code == 400
    assert "An earlier request for a hearing on this case was granted." in _text(refused)
    assert "describe the new evidence" in _text(refused)
    assert len(_requests(session, case)) == 1
    taken = client.post("/hearings/ask", data={"token": _token(page), "reason": "再次请求",
                                               "new_evidence": "新的测绘报告显示面积不符。"})
    assert taken.status_code == 200
    assert len(_requests(session, case)) == 2


def test_a_repeat_after_a_held_hearing_needs_new_evidence(client, session, world):
    case, _code = new_case(session, world)
    new_hearing(session, world, case=case, status=HearingStatus.FILED)
    login(client, world.clerk)
    response = client.post("/hearings/requests/new", data={"case_number": case.number,
                                                           "reason": "请求听证"})
    assert response.status_code == 400
    assert "A hearing was already held on this case." in _text(response)
    assert _requests(session, case) == []


def test_decide_by_in_calendar_and_working_days(app, session, world):
    day = date(2026, 9, 28)  # a Monday before the National Day holiday
    saved = app.extensions["hearings.rules"]
    try:
        with app.test_request_context():
            app.extensions["hearings.rules"] = HearingRules(decide_days=15)
            assert decide_by_for(day) == day + timedelta(days=15)
            app.extensions["hearings.rules"] = HearingRules(decide_days=5,
                                                            decide_unit="working")
            working = decide_by_for(day)
            _rules, calendar = clocks.rules_and_calendar()
            counted, current = 0, day
            while counted < 5:
                current += timedelta(days=1)
                counted += calendar.is_working_day(current)
            assert working == current
            assert working > day + timedelta(days=5)  # weekends (and holidays) skipped
    finally:
        app.extensions["hearings.rules"] = saved


@pytest.fixture(params=BACKENDS)
def own_db(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Flask]:
    """A database of its own (real commits from several threads), migrated to head."""
    drop = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'requests.db'}"
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


def test_requests_sent_at_once_make_one_request(own_db):
    app = own_db
    with app.app_context():
        office = Organisation(name="信访局", kind="agency")
        db.session.add(office)
        clerk = auth_ops.create_user(db.session, username="clerk", display_name="Clerk",
                                     password="x" * 12, roles={Role.CLERK},
                                     organisations=[office], check_password=False)
        case, _code = case_ops.register_case(
            db.session, clerk, channel="walk_in", kind="land", summary="占地补偿",
            petitioners=[{"name": "张三"}], office_id=office.id)
        db.session.commit()
        case_id = case.id
        with app.test_request_context():
            token = make_token(case)
    barrier = threading.Barrier(3)
    codes: list[int] = []
    bodies: list[str] = []

    def ask() -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post("/hearings/ask", data={"token": token, "reason": "请求听证"})
        codes.append(response.status_code)
        bodies.append(_text(response))

    pool = [threading.Thread(target=ask) for _ in range(3)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert sorted(codes) == [200, 400, 400]
    assert sum("already awaits the office's decision" in b for b in bodies) == 2
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(HearingRequest).where(
            HearingRequest.case_id == case_id)) == 1
