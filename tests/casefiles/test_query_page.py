"""The petitioner's query page (查询码): the right code shows the steps and the notices
meant for the petitioner and nothing else; wrong codes get a plain message and are
rate-limited; a rating is taken once after the reply; another case's documents stay out
of reach. The blueprint is registered on an app of this module's own (the shared app
fixture is not changed)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import select

from portal.auth import operations as auth_ops
from portal.auth.models import User
from portal.auth.roles import Role
from portal.casefiles import operations as ops
from portal.casefiles.models import Case, CaseEvent
from portal.casefiles.public_blueprint import bp, make_token
from portal.casefiles.workflow import transition
from portal.extensions import db, limiter
from portal.orgs.models import Organisation
from tests.fixtures.core import BACKENDS, PG_URL, build_app, create_pg_database

_n = itertools.count(1)
_ips = itertools.count(1)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture(scope="module", params=BACKENDS)
def qapp(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Flask]:
    tmp = tmp_path_factory.mktemp(f"query-{request.param}")
    drop = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'q.db'}"
    else:
        url, drop = create_pg_database(PG_URL)
    app = build_app(tmp, url, WTF_CSRF_ENABLED=False)
    if "casequery" not in app.blueprints:
        app.register_blueprint(bp)
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()
    if drop:
        drop()


@pytest.fixture()
def client(qapp: Flask) -> Any:
    limiter.reset()
    # each test from an address of its own, so the rate limits do not meet
    client = qapp.test_client()
    client.environ_base["REMOTE_ADDR"] = f"10.0.{next(_ips)}.1"
    return client


class Seed:
    """A registering office, a clerk, a handling agency and its officer."""

    def __init__(self) -> None:
        i = next(_n)
        s = db.session
        self.office = Organisation(name=f"查询测试信访局{i}", kind="agency", sector="petition")
        self.agency = Organisation(name=f"查询测试公安局{i}", kind="agency", sector="police")
        s.add_all([self.office, self.agency])
        s.flush()
        self.clerk = auth_ops.create_user(
            s, username=f"qclerk{i}", display_name="查询接访员", password="x" * 12,
            roles={Role.CLERK}, organisations=[self.office], check_password=False)
        self.officer = auth_ops.create_user(
            s, username=f"qofficer{i}", display_name="查询民警", password="x" * 12,
            roles={Role.AGENCY}, organisations=[self.agency], check_password=False)
        s.commit()

    def case(self, **fields: Any) -> tuple[Any, str]:
        values: dict[str, Any] = {
            "channel": "letter", "kind": "labour", "summary": "拖欠工资三个月，共一万二千元。",
            "petitioners": [{"name": "周秀英", "id_number": "330102196001011230",
                             "phone": "13912345678", "address": "青溪镇桃源村5组"}],
            "others": [{"name": "青溪某建筑有限公司"}],
        }
        values.update(fields)
        case, code = ops.register_case(db.session, self.clerk, **values)
        db.session.commit()
        return case, code


def _text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def test_the_form_is_public_and_posts(client):
    response = client.get("/query")
    assert response.status_code == 200
    page = _text(response)
    assert 'method="post"' in page and 'name="code"' in page
    assert 'inputmode="numeric"' in page  # a keypad on a phone
    # the QR code's #code= fragment is put into the form by a static script, not inline
    assert '<script src="/static/js/query-code.js" defer></script>' in page
    assert "<script>" not in page
    assert response.headers["Cache-Control"] == "no-store"


def test_the_script_that_fills_the_form_is_served(client):
    response = client.get("/static/js/query-code.js")
    assert response.status_code == 200
    script = response.get_data(as_text=True)
    assert "location.hash" in script and "replaceState" in script


def test_the_right_code_shows_steps_and_only_the_petitioners_notices(qapp, client):
    with qapp.app_context():
        seed = Seed()
        case, code = seed.case()
        transition(db.session, case, "accept", seed.clerk)
        ops.assign(db.session, seed.clerk, case, seed.agency, letter="内部交办函：请核查企业账目")
        ops.add_document(db.session, seed.clerk, case, title="受理告知书", data=PDF,
                         original_name="notice.pdf", media_type="application/pdf",
                         kind="notice", is_for_petitioner=True)
        ops.add_document(db.session, seed.clerk, case, title="内部调查报告", data=b"secret",
                         original_name="report.txt", media_type="text/plain")
        db.session.commit()
        number, agency_name = case.number, seed.agency.name
    # the code as a petitioner might type it: dashes for spaces, stray spaces
    typed = " " + code.replace(" ", "-")[:7] + "  " + code.replace(" ", "-")[7:] + " "
    response = client.post("/query", data={"code": typed})
    assert response.status_code == 200
    page = _text(response)
    assert number in page
    assert "Your petition was registered" in page
    assert "Accepted for handling" in page
    assert "Sent to the body that handles it" in page
    assert "受理告知书" in page
    for secret in ("内部调查报告", "内部交办函", agency_name, "330102196001011230",
                   "13912345678", "青溪某建筑有限公司", "周秀英", "查询接访员", code):
        assert secret not in page, secret
    assert response.headers["Cache-Control"] == "no-store"


def test_a_wrong_code_gets_a_plain_message_that_says_nothing(qapp, client):
    with qapp.app_context():
        seed = Seed()
        case, stale = seed.case()
        ops.reissue_query_code(db.session, seed.clerk, case)  # `stale` named a case once
        db.session.commit()
        number = case.number
    pages = []
    for wrong in ["1111 2222 3333", stale, "ABCD-EFGH-IJKL-MNOP-QRST-UVWX-YZ23-4567"]:
        response = client.post("/query", data={"code": wrong})
        assert response.status_code == 200
        page = _text(response)
        assert "No case matches this query code" in page
        assert number not in page
        pages.append(re.sub(r'"X-CSRFToken": "[^"]*"', "", page))
    # the same answer whether the code was never given or named a case: nothing to learn
    assert pages[0] == pages[1] == pages[2]
    for malformed in ["1234", "' OR 1=1 --", "4821 0937 552"]:
        response = client.post("/query", data={"code": malformed})
        assert response.status_code == 200
        assert "A query code has 12 digits" in _text(response)


def test_wrong_codes_are_rate_limited_but_right_ones_are_not_counted(qapp, client):
    with qapp.app_context():
        _case, code = Seed().case()
    wrong = {"code": "0000 0000 0001" if code != "0000 0000 0001" else "0000 0000 0002"}
    for _ in range(5):  # a slip of the finger (too few digits) is not a guess
        assert client.post("/query", data={"code": "1234 5678"}).status_code == 200
    for _ in range(9):
        assert client.post("/query", data=wrong).status_code == 200
    for _ in range(5):  # a petitioner looking again is not an attacker
        assert "Your petition was registered" in _text(client.post("/query",
                                                                   data={"code": code}))
    assert client.post("/query", data=wrong).status_code == 200  # the 10th wrong one
    blocked = client.post("/query", data=wrong)
    assert blocked.status_code == 429
    assert "Too many wrong query codes" in _text(blocked)
    assert client.post("/query", data={"code": code}).status_code == 429
    assert client.get("/query").status_code == 200
    # "back" on the too-many-tries page leads to the query page, not the staff login
    assert 'href="/query"' in _text(blocked) and "/login" not in _text(blocked)


def test_wrong_codes_from_all_addresses_together_are_limited(qapp, client):
    """A guesser spread over many addresses meets the limit on all wrong codes together."""
    with qapp.app_context():
        _case, code = Seed().case()
    wrong = "0000 0000 0001" if code != "0000 0000 0001" else "0000 0000 0002"
    qapp.config["PORTAL_QUERY_GLOBAL_LIMIT"] = "5 per hour"
    try:
        for i in range(4):
            other = qapp.test_client()
            other.environ_base["REMOTE_ADDR"] = f"10.200.{i}.1"
            assert other.post("/query", data={"code": wrong}).status_code == 200
        # right codes are not counted
        assert "Your petition was registered" in _text(client.post("/query",
                                                                   data={"code": code}))
        assert client.post("/query", data={"code": wrong}).status_code == 200  # the 5th
        blocked = client.post("/query", data={"code": wrong})
        assert blocked.status_code == 429
        assert "call the petition office" in _text(blocked)
        assert 'href="/query"' in _text(blocked)
    finally:
        del qapp.config["PORTAL_QUERY_GLOBAL_LIMIT"]


def _token(page: str) -> str:
    marker = 'name="token" type="hidden" value="'
    if marker not in page:
        marker = 'name="token" value="'
    start = page.index(marker) + len(marker)
    return page[start:page.index('"', start)]


def test_a_rating_is_taken_once_after_the_reply(qapp, client):
    with qapp.app_context():
        seed = Seed()
        case, code = seed.case(is_simple=True)
        case_id, clerk_id = case.id, seed.clerk.id
        transition(db.session, case, "accept", seed.clerk)
        db.session.commit()
        token = make_token(case)
    page = _text(client.post("/query", data={"code": code}))
    assert 'name="rating"' not in page  # no reply yet
    early = _text(client.post("/query/rating", data={"token": token, "rating": "satisfied"}))
    assert "already recorded, or there is no reply" in early
    with qapp.app_context():
        case = db.session.get(Case, case_id)
        transition(db.session, case, "reply", db.session.get(User, clerk_id),
                   payload={"text": "答复意见"})
        db.session.commit()
    page = _text(client.post("/query", data={"code": code}))
    assert 'name="rating"' in page and "Written reply given" in page
    bad = _text(client.post("/query/rating", data={"token": _token(page), "rating": "great"}))
    assert "Choose one of the answers" in bad
    done = _text(client.post("/query/rating", data={"token": _token(page),
                                                    "rating": "basically_satisfied"}))
    assert "Your rating was recorded" in done
    assert "Basically satisfied" in done and 'name="rating"' not in done
    again = _text(client.post("/query/rating", data={"token": _token(page),
                                                     "rating": "unsatisfied"}))
    assert "already recorded" in again
    with qapp.app_context():
        kinds = list(db.session.scalars(select(CaseEvent.payload).where(
            CaseEvent.case_id == case_id, CaseEvent.kind == "satisfaction")))
        assert len(kinds) == 1 and "basically_satisfied" in kinds[0]


def test_documents_open_only_for_their_own_case(qapp, client):
    with qapp.app_context():
        seed = Seed()
        mine, code = seed.case()
        other, _other_code = seed.case(summary="另一件：宅基地纠纷")
        notice = ops.add_document(db.session, seed.clerk, mine, title="受理告知书", data=PDF,
                                  original_name="notice.pdf", media_type="application/pdf",
                                  is_for_petitioner=True)
        internal = ops.add_document(db.session, seed.clerk, mine, title="内部材料",
                                    data=b"internal", original_name="x.txt",
                                    media_type="text/plain")
        theirs = ops.add_document(db.session, seed.clerk, other, title="他人的告知书",
                                  data=b"%PDF-1.4 other", original_name="o.pdf",
                                  media_type="application/pdf", is_for_petitioner=True)
        db.session.commit()
        ids = notice.id, internal.id, theirs.id
        mine_id, clerk_id = mine.id, seed.clerk.id
    token = _token(_text(client.post("/query", data={"code": code})))
    got = client.post("/query/document", data={"token": token, "document_id": ids[0]})
    assert got.status_code == 200 and got.data == PDF
    assert got.mimetype == "application/pdf"
    assert got.headers["Cache-Control"] == "no-store"
    for forbidden in ids[1:]:
        response = client.post("/query/document", data={"token": token,
                                                        "document_id": forbidden})
        assert response.status_code == 404
    for bad in ("99999999999999999999999", str(2**63), "-1"):  # beyond BIGINT: not a 500
        response = client.post("/query/document", data={"token": token, "document_id": bad})
        assert response.status_code in (400, 404), bad
    forged = client.post("/query/document", data={"token": token[:-3] + "abc",
                                                  "document_id": ids[0]})
    assert "This page has expired" in _text(forged)
    assert client.get("/query/document").status_code == 405
    # a reissued code ends the old page's token
    with qapp.app_context():
        ops.reissue_query_code(db.session, db.session.get(User, clerk_id),
                               db.session.get(Case, mine_id))
        db.session.commit()
    stale = client.post("/query/document", data={"token": token, "document_id": ids[0]})
    assert "This page has expired" in _text(stale)


def test_the_page_says_when_the_answer_is_due_the_reply_the_phone_and_the_review_right(
        qapp, client):
    from portal.casefiles.clocks import clocks_for_case
    from portal.casefiles.deadlines import ClockKind

    with qapp.app_context():
        seed = Seed()
        seed.office.phone = "0571-8888 6666"
        db.session.commit()
        case, code = seed.case()
        case_id, clerk_id = case.id, seed.clerk.id
        accept_due = clocks_for_case(db.session, case)[-1].state.due
        office_name = seed.office.name
    page = _text(client.post("/query", data={"code": code}))
    assert "A decision on whether your petition is accepted" in page
    assert f'<strong class="due">{accept_due.isoformat()}</strong>' in page
    assert office_name in page
    assert 'href="tel:0571-88886666"' in page and "0571-8888 6666" in page
    assert "right to ask for a review" not in page  # no reply yet

    with qapp.app_context():
        case = db.session.get(Case, case_id)
        transition(db.session, case, "accept", db.session.get(User, clerk_id))
        db.session.commit()
        reply_clock = clocks_for_case(db.session, case)[-1].state
        assert reply_clock.kind == ClockKind.REPLY and reply_clock.stopped_on is None
    page = _text(client.post("/query", data={"code": code}))
    assert "What comes next: A written reply" in page
    assert f'<strong class="due">{reply_clock.due.isoformat()}</strong>' in page

    with qapp.app_context():
        case = db.session.get(Case, case_id)
        case.is_simple = True  # the office replies itself (简易办理)
        transition(db.session, case, "reply", db.session.get(User, clerk_id),
                   reason="经核实，已责令公司于十日内足额支付拖欠工资。")
        db.session.commit()
        window = clocks_for_case(db.session, case)[-1].state
        assert window.kind == ClockKind.REVIEW_REQUEST
    page = _text(client.post("/query", data={"code": code}))
    assert "What comes next" not in page  # no office clock runs after the reply
    assert "Written reply" in page
    assert "经核实，已责令公司于十日内足额支付拖欠工资。" in page
    assert "Your right to ask for a review (复查)" in page
    assert "within 30 days" in page
    assert f'Last day to ask: <strong class="due">{window.due.isoformat()}</strong>' in page
    assert "one level above the body that replied" in page

    with qapp.app_context():
        case = db.session.get(Case, case_id)
        transition(db.session, case, "request_review", db.session.get(User, clerk_id))
        db.session.commit()
    page = _text(client.post("/query", data={"code": code}))
    assert "Your request was recorded on" in page and "Last day to ask" not in page
    assert "What comes next: The review decision" in page



def test_a_paused_clock_is_said_so_without_its_internal_reason(qapp, client):
    from portal.casefiles import clock_ops

    with qapp.app_context():
        seed = Seed()
        case, code = seed.case()
        transition(db.session, case, "accept", seed.clerk)
        clock_ops.pause_clock(db.session, seed.clerk, case, "内部：等待司法鉴定结论",
                              "appraisal")
        db.session.commit()
    page = _text(client.post("/query", data={"code": code}))
    assert "What comes next: A written reply" in page
    assert "The time limit is paused for now" in page
    assert "Expected by (before the pause)" in page
    assert "内部：等待司法鉴定结论" not in page


def test_a_reply_the_office_took_back_is_not_shown_as_the_answer(qapp, client):
    from portal.casefiles.timeline import append_event

    with qapp.app_context():
        seed = Seed()
        case, code = seed.case(is_simple=True)
        transition(db.session, case, "accept", seed.clerk)
        transition(db.session, case, "reply", seed.clerk, payload={"text": "初稿答复：不予支持。"})
        # 退回 by the leader (recorded as the workflow does): the reply is to be redone
        case.status = "investigating"
        append_event(db.session, case, "workflow.return_reply", seed.clerk,
                     {"action": "return_reply", "from": "replied", "to": "investigating"})
        db.session.commit()
    page = _text(client.post("/query", data={"code": code}))
    assert "初稿答复：不予支持。" not in page
    assert "right to ask for a review" not in page


def test_labels_end_with_the_colon_of_the_language(qapp, client):
    """姓名：… in Chinese (full-width), "Case number: …" in English."""
    with qapp.app_context():
        seed = Seed()
        case, code = seed.case()
        number = case.number
    english = _text(client.post("/query", data={"code": code}))
    assert f"Case number: <strong>{number}" in english
    client.set_cookie("portal_lang", "zh_CN")
    chinese = _text(client.post("/query", data={"code": code}))
    assert f"案件编号：<strong>{number}" in chinese and "案件编号: " not in chinese
