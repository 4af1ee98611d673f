"""The timeline reads as a story: every event kind the portal writes has a past-tense
title and a readable detail in English and Chinese (field names in words, never a stored
key, a dotted kind or JSON), with unambiguous Beijing-time dates, on the case page, in
the print view and for every event of the demo seed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import select

from portal import demo as core_demo
from portal.casefiles.demo import seed_cases
from portal.casefiles.models import CaseEvent
from portal.casefiles.presentation import EVENT_LABELS, describe
from portal.casefiles.timeline import append_event
from portal.casefiles.workflow import Action
from portal.extensions import db
from tests.fixtures.casefiles import new_case
from tests.fixtures.core import build_app, login

ROOT = Path(__file__).resolve().parents[2]
#: stored keys that must never reach a reader
RAW = re.compile(r"[{}\"]|\b(?:[a-z]+_[a-z_]+|[a-z]+\.[a-z_.]+)\b|'\w+'")


def written_kinds() -> set[str]:
    """Every event kind written by portal/ and video/: the literal kinds given to
    append_event / record_event, and workflow.<action> for each action."""
    kinds = {f"workflow.{a}" for a in Action}
    call = re.compile(r"(?:append_event|record_event)\([^\"{]{0,200}?\"([a-z_.]+)\"")
    for folder in ("portal", "video"):
        for path in (ROOT / folder).rglob("*.py"):
            kinds.update(k for k in call.findall(path.read_text()) if k != "workflow")
    consts = {"clk.PAUSED": "clock.paused", "clk.RESUMED": "clock.resumed",
              "SATISFACTION": "satisfaction"}
    return kinds | set(consts.values())


def assert_readable(title: str, detail: str, kind: str) -> None:
    for text in (title, detail):
        assert "." not in kind or kind not in text, (kind, text)
        # "Case summary" is the field's name in words; no other stored key is shown
        found = RAW.findall(text.replace("Case summary", ""))
        assert not found, (kind, text, found)
    assert title and title[0].isupper() or not title.isascii(), (kind, title)


def test_every_kind_written_has_a_title():
    kinds = written_kinds()
    assert {"case.registered", "reception.note", "reception.note.answered", "note",
            "workflow.accept", "clock.paused"} <= kinds
    assert kinds <= set(EVENT_LABELS), kinds - set(EVENT_LABELS)


#: a payload like the one each kind is written with
PAYLOADS: dict[str, dict[str, Any]] = {
    "case.edited": {"changes": {"summary": {"from": "a", "to": "b"},
                                "is_urgent": {"from": False, "to": True}}},
    "case.leader_set": {"from": None, "to": 1, "plan": "每周约谈一次"},
    "case.final": {"note": "三级终结: the same facts and reasons are not accepted again"},
    "document.added": {"document_id": 1, "title": "来信", "kind": "letter", "version": 1,
                       "original_name": "letter.pdf", "sha256": "0" * 64},
    "access.granted": {"organisation_id": 1, "organisation": "公安局", "level": "view",
                       "before": None},
    "clock.paused": {"reason": "听证", "kind": "hearing", "clock": "handling"},
    "clock.resumed": {"reason": "听证结束"},
    "reception.note": {"room_id": 1, "seat_id": 1, "title": "领导接访日",
                       "facts": "占地未补偿", "demands": "按标准补偿", "answer": "依法处理",
                       "next_steps": "交办", "status": "confirmed", "refusal_reason": None,
                       "answered_at": "2026-12-02T08:00:00", "note": "占地未补偿"},
    "reception.note.answered": {"seat_id": 1, "status": "refused",
                                "refusal_reason": "记录不全"},
    "note": {"text": "已约谈被反映单位负责人。"},
    "satisfaction": {"rating": "basically_satisfied", "channel": "query_code"},
    "workflow.assign": {"action": "assign", "from": "accepted", "to": "assigned",
                        "lead": {"organisation_id": 1, "organisation": "自然资源局"},
                        "co": [{"organisation_id": 2, "organisation": "公安局"}],
                        "due_on": "2026-12-30", "reason": None},
    "workflow.extend": {"action": "extend", "from": "investigating", "to": "investigating",
                        "days": 30, "reason": "案情复杂"},
    "workflow.reply": {"action": "reply", "from": "investigating", "to": "replied",
                       "text": "经调查，反映情况基本属实。", "reason": None},
}


def payload(kind: str) -> dict[str, Any]:
    if kind in PAYLOADS:
        return PAYLOADS[kind]
    if kind.startswith("workflow."):
        return {"action": kind.split(".", 1)[1], "from": "registered", "to": "accepted",
                "reason": "理由"}
    return {}


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_case_page_and_print_view_tell_every_kind_as_a_story(app, session, world, locale):
    case, _code = new_case(session, world)
    kinds = sorted(written_kinds() - {"case.registered"})
    for kind in kinds:
        append_event(session, case, kind, world.clerk, payload(kind))
    session.commit()
    client = app.test_client()
    client.set_cookie("portal_lang", locale)
    login(client, world.clerk)
    fragment = client.get(f"/cases/{case.number}", headers={
        "HX-Request": "true", "HX-Target": "timeline"}).get_data(as_text=True)
    items = re.findall(r'<li class="event[^"]*">(.*?)</li>', fragment, re.S)
    assert len(items) == len(kinds) + 1
    for item in items:
        text = " ".join(re.sub(r"<[^>]+>", " ", item).split())
        for kind in written_kinds():
            assert "." not in kind or kind not in text, (kind, text)
        assert not re.search(r"[{}]|\b[a-z]+_[a-z_]+\b", text), text
        # 2026-12-02 15:04: year first, in Beijing time
        assert re.search(r"\b20\d\d-\d\d-\d\d \d\d:\d\d\b", text), text
    if locale == "en":
        assert "The case was accepted" in fragment and "Accept<" not in fragment
        assert ("Changed: Urgent, Case summary" in fragment
                or "Changed: Case summary, Urgent" in fragment)
        assert "A reception note was filed" in fragment and "按标准补偿" in fragment
        assert "refused by the petitioner" in fragment and "Basically satisfied" in fragment
    printed = client.get(f"/cases/{case.number}/print").get_data(as_text=True)
    for kind in kinds:
        if "." in kind:
            assert kind not in printed, kind
    assert "The case was accepted" in printed or "案件已受理" in printed


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    tmp = tmp_path_factory.mktemp("timeline-seed")
    app = build_app(tmp, f"sqlite:///{tmp / 'seed.db'}")
    with app.app_context():
        upgrade()
        core_demo.seed_core(db.session, lambda _line: None, with_logins=True)
        seed_cases(db.session, lambda _line: None)
        db.session.commit()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_every_event_of_the_demo_seed_reads_as_a_story(seeded, locale):
    with seeded.test_request_context(headers={"Cookie": f"portal_lang={locale}"}):
        events = list(db.session.scalars(select(CaseEvent)))
        assert len({e.kind for e in events}) >= 10
        for event in events:
            title, detail = describe(event)
            assert_readable(title, detail, event.kind)
            assert event.kind in EVENT_LABELS
