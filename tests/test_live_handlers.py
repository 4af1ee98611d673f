"""portal.live.socket_event: one unit of work per socket event — commit once, after-commit
work in order (emits before slow work), an ack computed after the commit, refusals roll
back and call on_refused."""

from __future__ import annotations

from typing import Any

import pytest

from portal import live, transaction
from portal.errors import DomainError
from portal.extensions import db


def test_commit_once_then_emits_then_the_reply_computed_after(app) -> None:
    calls: list[str] = []

    def handler(data: dict[str, Any]) -> Any:
        transaction.after_commit(db.session, lambda: calls.append("engine stops"), last=True)
        transaction.after_commit(db.session, lambda: calls.append("emitted"))
        return live.after_commit_reply(lambda: calls.append("answer") or {"sdp": data["x"]})

    with app.app_context():
        assert live.socket_event(handler)({"x": "v=0"}) == {"ok": True, "sdp": "v=0"}
    assert calls == ["emitted", "engine stops", "answer"]


def test_a_refusal_rolls_back_drops_the_emits_and_calls_on_refused(app) -> None:
    calls: list[str] = []
    refused: list[DomainError] = []

    def handler(data: dict[str, Any]) -> None:
        transaction.after_commit(db.session, lambda: calls.append("never"))
        raise DomainError("不行")

    with app.app_context():
        assert live.socket_event(handler, refused.append)({}) == {"ok": False,
                                                                  "error": "不行"}
    assert calls == [] and [str(e.message) for e in refused] == ["不行"]


def test_a_refusal_after_the_commit_is_an_ack_too(app) -> None:
    refused: list[DomainError] = []

    def fail() -> None:
        raise DomainError("engine said no")

    with app.app_context():
        ack = live.socket_event(lambda data: live.after_commit_reply(fail),
                                refused.append)(None)
    assert ack == {"ok": False, "error": "engine said no"} and len(refused) == 1


def test_an_unexpected_error_acks_a_plain_message(app) -> None:
    def handler(data: dict[str, Any]) -> None:
        raise RuntimeError("secret detail")

    with app.app_context():
        ack = live.socket_event(handler)({})
    assert ack["ok"] is False and "secret" not in ack["error"]


@pytest.mark.parametrize(("sent", "taken"), [
    (7, 7), ("7", 7), (" 12 ", 12), (0, 0), (None, 0), ("", 0), ("abc", 0), (-3, 0),
    ("-3", 0), (True, 0), (3.5, 0), ("１２", 0), (2**63, 0), ("99999999999999999999999", 0),
    ([1], 0), ({"id": 1}, 0)])
def test_client_numbers_are_whole_ids_or_zero(sent, taken):
    from portal.live import client_number

    assert client_number(sent) == taken


def test_a_refusal_says_to_the_sender_what_message_for_allows(app) -> None:
    def handler(data: dict[str, Any]) -> None:
        raise DomainError("janus at http://10.0.0.5:8088/janus did not answer")

    with app.app_context():
        ack = live.socket_event(handler, message_for=lambda e: "请重试")({})
    assert ack == {"ok": False, "error": "请重试"}
