"""The live hearing on two socket nodes sharing Redis (the message queue and the live
registry): the observer and the petitioner on node A, the clerk on node B. The start on
B checks in the petitioner connected to A and reaches everyone on A; the speaker's turn
and the live log (kept in the shared registry) are the same on both nodes."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.core import REDIS_URL
from tests.fixtures.video import login_cookie, run_isolated, served_nodes
from tests.hearings.test_live_browser import PASSWORD, seed_hearing

pytestmark = pytest.mark.skipif(not REDIS_URL, reason="PORTAL_TEST_REDIS_URL is not set")

NS = "/hearings"


class Peer:
    """One asyncio Socket.IO client of /hearings on a served node, keeping what it gets."""

    def __init__(self, name: str) -> None:
        import socketio

        self.name = name
        self.client = socketio.AsyncClient(reconnection=False)
        self.got: list[tuple[str, Any]] = []
        self.client.on("*", self._record, namespace=NS)

    async def _record(self, event: str, *args: Any) -> None:
        self.got.append((event, args[0] if args else None))

    async def join(self, base: str, data: dict[str, Any], cookie: str = "") -> dict[str, Any]:
        await self.client.connect(base, namespaces=[NS], transports=["websocket"],
                                  headers={"Cookie": cookie} if cookie else {},
                                  wait_timeout=20)
        return await self.call("join", data)

    async def call(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        ack = await self.client.call(event, data, namespace=NS, timeout=20)
        assert isinstance(ack, dict) and ack.get("ok"), f"{self.name} {event}: {ack}"
        return ack

    def messages(self, name: str) -> list[Any]:
        return [p for e, p in self.got if e == name]

    async def wait(self, what: str, check: Any, timeout: float = 10) -> Any:
        deadline = time.monotonic() + timeout
        while not (found := check()):
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: no {what}; got {self.got[-8:]}")
            await asyncio.sleep(0.02)
        return found


async def _scenario(a: str, b: str, seeded: dict[str, Any], cookie: str) -> dict[str, Any]:
    hearing_id = seeded["hearing_id"]
    watcher, party, clerk = Peer("observer@A"), Peer("petitioner@A"), Peer("clerk@B")
    await watcher.join(a, {"hearing_id": hearing_id, "observer_token": seeded["watch"]})
    await party.join(a, {"hearing_id": hearing_id, "token": seeded["petitioner_token"]})
    ack = await clerk.join(b, {"hearing_id": hearing_id}, cookie)
    assert ack["can_run"]
    await clerk.call("start", {})
    for peer in (watcher, party):
        await peer.wait("the start", lambda p=peer: [s for s in p.messages("stage")
                                                      if s["stage"] == "opening"])
    # the petitioner, connected to A, was checked in online by the start on B
    people = await clerk.wait("the check-in", lambda: [
        m for m in clerk.messages("attendance")
        if any(p["id"] == seeded["petitioner_id"] and p["attendance"] == "online"
               for p in m["people"])])
    assert people
    added = await clerk.call("speaker", {"action": "add",
                                         "participant_id": seeded["petitioner_id"],
                                         "seconds": 60})
    await clerk.call("speaker", {"action": "start", "speaker_id": added["speaker_id"]})
    turn = await watcher.wait("the turn", lambda: [m["current"] for m in
                                                    watcher.messages("speaker")
                                                    if m["current"]])
    await clerk.call("stage", {"direction": "next"})
    await watcher.wait("the next stage", lambda: [s for s in watcher.messages("stage")
                                                  if s["stage"] == "agency_facts"])
    # a staff view joining on A reads the live log B wrote
    leader = Peer("clerk-again@A")
    again = await leader.join(a, {"hearing_id": hearing_id}, cookie)
    for peer in (watcher, party, clerk, leader):
        await peer.client.disconnect()
    return {"turn": turn[-1], "log": [e["stage"] for e in again["log"]]}


def test_the_clerk_on_one_node_the_room_on_the_other(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'portal.db'}"
    seeded = seed_hearing(tmp_path, url)
    with served_nodes(tmp_path, url) as (a, b):
        cookie = login_cookie(b, "hclerk", PASSWORD)
        outcome = run_isolated(_scenario(a, b, seeded, cookie), timeout=120)
    assert outcome["turn"]["seconds"] == 60 and outcome["turn"]["running"]
    assert outcome["turn"]["name"] != "李信访"  # an observer sees the party by role
    assert outcome["log"] == ["opening", "agency_facts"]
