"""The chat across two socket nodes sharing Redis: the person on node A, the lawyer on
node B (two gunicorn processes, one SQLite file). Messages and marks cross; the lawyer
logs out through node A and their socket on node B closes."""

from __future__ import annotations

import asyncio
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.consultations.test_chat_support import seed_served
from tests.fixtures.core import REDIS_URL
from tests.fixtures.video import login_cookie, run_isolated, served_nodes

pytestmark = pytest.mark.skipif(not REDIS_URL, reason="PORTAL_TEST_REDIS_URL is not set")

NS = "/consult"


class Peer:
    """A python-socketio client of /consult keeping everything it is sent."""

    def __init__(self, name: str) -> None:
        import socketio

        self.name = name
        self.client = socketio.AsyncClient(reconnection=False)
        self.got: list[tuple[str, Any]] = []
        self.client.on("*", self._record, namespace=NS)

    async def _record(self, event: str, *args: Any) -> None:
        self.got.append((event, args[0] if args else None))

    async def connect(self, base: str, cookie: str = "") -> None:
        await self.client.connect(base, namespaces=[NS], transports=["websocket"],
                                  headers={"Cookie": cookie} if cookie else {},
                                  wait_timeout=20)

    async def call(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        ack = await self.client.call(event, data, namespace=NS, timeout=20)
        assert isinstance(ack, dict) and ack.get("ok"), f"{self.name} {event}: {ack}"
        return ack

    def named(self, event: str) -> list[Any]:
        return [p for e, p in self.got if e == event]

    async def wait(self, what: str, check: Callable[[], Any], timeout: float = 10) -> Any:
        deadline = time.monotonic() + timeout
        while not (found := check()):
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: no {what}; got {self.got[-8:]}")
            await asyncio.sleep(0.02)
        return found


def _logout(base: str, cookie: str) -> None:
    """The lawyer's logout form, through node `base` (the CSRF token from a page)."""
    page = urllib.request.urlopen(urllib.request.Request(
        f"{base}/consultations/", headers={"Cookie": cookie})).read().decode()
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page)
    assert token, "no CSRF token on the desk page"
    body = urllib.parse.urlencode({"csrf_token": token.group(1)}).encode()
    request = urllib.request.Request(f"{base}/logout", data=body, headers={"Cookie": cookie})
    urllib.request.urlopen(request).read()


async def _scenario(a: str, b: str, seeded: dict[str, Any], cookie: str) -> None:
    cid = seeded["consultation_id"]
    person, lawyer = Peer("person@A"), Peer("lawyer@B")
    await person.connect(a)
    await person.call("join", {"consultation_id": cid, "token": seeded["token"]})
    await lawyer.connect(b, cookie)
    assert (await lawyer.call("join", {"consultation_id": cid}))["side"] == "lawyer"

    sent = (await person.call("message", {"consultation_id": cid, "body": "在吗？",
                                          "client_id": "p-1"}))["message"]
    got = await lawyer.wait("the person's message", lambda: lawyer.named("message"))
    assert [m["id"] for m in got] == [sent["id"]]
    reply = (await lawyer.call("message", {"consultation_id": cid, "body": "在的，请讲。",
                                           "client_id": "l-1"}))["message"]
    await person.wait("the lawyer's reply", lambda: [
        m for m in person.named("message") if m["id"] == reply["id"]])
    await person.call("read", {"consultation_id": cid, "up_to_id": reply["id"]})
    marks = await lawyer.wait("the read mark", lambda: lawyer.named("marks"))
    assert marks[-1]["read_at"] and marks[-1]["up_to_id"] == reply["id"]

    # logged out through node A: the lawyer's window on node B closes, the person's stays
    await asyncio.to_thread(_logout, a, cookie)
    await lawyer.wait("the close", lambda: not lawyer.client.connected, timeout=15)
    assert lawyer.named("closed")[-1]["reason"] == "logged_out"
    assert person.client.connected
    await person.client.disconnect()


def test_chat_across_two_nodes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nodes.db'}"
    seeded = seed_served(tmp_path, url)
    with served_nodes(tmp_path, url) as (a, b):
        cookie = login_cookie(b, "chatlawyer")
        run_isolated(_scenario(a, b, seeded, cookie), timeout=120)
