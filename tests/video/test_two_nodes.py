"""Two socket nodes sharing Redis (TESTING.md "Several processes"): two gunicorn processes
on free ports, one SQLite file, the same PORTAL_REDIS_URL (Socket.IO message queue and
the live connection registry). The petitioner is on node A, the official on node B:
the lobby shows the petitioner online, the admission moves them into the inner room on
their node, signals and chat flow both ways, and a reconnect to node B replays what was
missed (by event id) and carries on live; a second device on node A takes the seat over
from node B."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.core import PASSWORD, REDIS_URL, ROOT, free_port
from tests.fixtures.video import run_isolated, seed_walk_in_room

pytestmark = pytest.mark.skipif(not REDIS_URL, reason="PORTAL_TEST_REDIS_URL is not set")

NS = "/video"


def _seed(data: Path, url: str) -> dict[str, Any]:
    room, [(seat, token)] = seed_walk_in_room(data, url, "nodeclerk", PASSWORD, ["王秀英"])
    return {"room": room, "seat": seat, "token": token}


@contextmanager
def two_nodes(data: Path, url: str) -> Iterator[list[str]]:
    """Two gunicorn processes (one gthread worker each, as `make run`) on the same
    database and Redis; yields their base URLs; ended by process group."""
    run = uuid.uuid4().hex[:8]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update(PORTAL_ENV="test", PORTAL_DATA_DIR=str(data), PORTAL_DATABASE_URL=url,
               PORTAL_SECRET_KEY="test-secret", PORTAL_DATA_KEY="test-data-key",
               PORTAL_REDIS_URL=REDIS_URL, PORTAL_RUN_WORKER="0", PORTAL_THREADS="40",
               PORTAL_LOG_LEVEL="warning")
    servers: list[subprocess.Popen[bytes]] = []
    bases = []
    try:
        for name in ("a", "b"):
            port = free_port()
            log = (data / f"node-{name}.log").open("wb")
            servers.append(subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
                 "--access-logfile", "/dev/null"],
                cwd=ROOT, env={**env, "PORT": str(port),
                               "PORTAL_NODE_ID": f"test-{run}-{name}"},
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
            log.close()
            bases.append(f"http://127.0.0.1:{port}")
        for base, server in zip(bases, servers, strict=True):
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(base + "/healthz", timeout=1) as reply:
                        if reply.status == 200:
                            break
                except OSError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    logs = "\n".join(p.read_text(errors="replace")[-3000:]
                                     for p in sorted(data.glob("node-*.log")))
                    raise AssertionError(f"a node did not start:\n{logs}")
                time.sleep(0.1)
        yield bases
    finally:
        for server in servers:
            try:
                os.killpg(server.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for server in servers:
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=5)


def _login_cookie(base: str, username: str) -> str:
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/login").read().decode()
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page)
    assert match, "no CSRF token on the login page"
    body = urllib.parse.urlencode({"csrf_token": match.group(1), "username": username,
                                   "password": PASSWORD}).encode()
    opener.open(f"{base}/login", data=body).read()
    return "; ".join(f"{c.name}={c.value}" for c in jar)


class Peer:
    """One Socket.IO client of the /video namespace, keeping everything it is sent."""

    def __init__(self, name: str) -> None:
        import socketio

        self.name = name
        self.client = socketio.AsyncClient(reconnection=False)
        self.got: list[tuple[str, Any]] = []
        self.client.on("*", self._record, namespace=NS)

    async def _record(self, event: str, *args: Any) -> None:
        self.got.append((event, args[0] if args else None))

    async def connect(self, base: str, auth: dict[str, Any], cookie: str = "") -> None:
        await self.client.connect(base, namespaces=[NS], auth=auth,
                                  headers={"Cookie": cookie} if cookie else {},
                                  transports=["websocket"], wait_timeout=20)

    async def call(self, event: str, data: dict[str, Any]) -> dict[str, Any]:
        ack = await self.client.call(event, data, namespace=NS, timeout=20)
        assert isinstance(ack, dict) and ack.get("ok"), f"{self.name} {event}: {ack}"
        return ack

    def room_events(self, kind: str) -> list[dict[str, Any]]:
        return [p for e, p in self.got if e == "room_event" and p["kind"] == kind]

    def messages(self, name: str) -> list[Any]:
        return [p for e, p in self.got if e == name]

    async def wait(self, what: str, check: Callable[[], Any], timeout: float = 10) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            found = check()
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: no {what} within {timeout} s; got "
                                     f"{[(e, p) for e, p in self.got][-12:]}")
            await asyncio.sleep(0.02)


async def _scenario(a: str, b: str, seeded: dict[str, Any], cookie: str) -> None:
    seat_id, room_id = seeded["seat"], seeded["room"]
    petitioner, official = Peer("petitioner@A"), Peer("official@B")
    await petitioner.connect(a, {"token": seeded["token"]})
    hello = await petitioner.call("hello", {"device": "p", "last_event_id": 0})
    assert hello["seat"]["state"] == "waiting" and hello["position"] == 1

    await official.connect(b, {"room": room_id}, cookie)
    staff = await official.call("hello", {"device": "s", "last_event_id": 0})
    staff_id = staff["seat"]["id"]
    # node B sees the petitioner on node A online in the lobby
    lobby = await official.wait("lobby", lambda: [
        e for e in official.room_events("lobby")
        if [(w["seat_id"], w["online"]) for w in e["data"]["waiting"]] == [(seat_id, True)]])
    assert lobby

    # admitted from node B: node A's connection is moved into the inner room
    assert (await official.call("admit", {"seat_id": seat_id}))["admitted"] == [seat_id]
    admitted = await petitioner.wait("admitted", lambda: petitioner.room_events("admitted"))
    assert admitted[-1]["data"]["peers"] == [staff_id]  # the official on B is online
    await petitioner.wait("participants with both", lambda: [
        e for e in petitioner.room_events("participants")
        if {s["seat_id"] for s in e["data"]["seats"]} == {seat_id, staff_id}])

    # signalling both ways, only to the addressed seat
    await petitioner.call("signal", {"to": staff_id, "kind": "offer", "data": {"sdp": "o"}})
    await official.wait("signal", lambda: official.messages("signal"))
    assert official.messages("signal") == [{"from": seat_id, "kind": "offer",
                                            "data": {"sdp": "o"}}]
    await official.call("signal", {"to": seat_id, "kind": "answer", "data": {"sdp": "a"}})
    await petitioner.wait("signal", lambda: petitioner.messages("signal"))
    assert petitioner.messages("signal") == [{"from": staff_id, "kind": "answer",
                                              "data": {"sdp": "a"}}]

    # chat both ways (the inner room spans both nodes)
    def chats(peer: Peer) -> list[str]:
        return [e["data"]["text"] for e in peer.room_events("chat")]

    await petitioner.call("chat", {"text": "您好"})
    await official.call("chat", {"text": "请讲"})
    await official.wait("both chats", lambda: chats(official) == ["您好", "请讲"])
    await petitioner.wait("both chats", lambda: chats(petitioner) == ["您好", "请讲"])

    # the petitioner's connection drops; the official goes on talking
    last = max(p["id"] for e, p in petitioner.got if e == "room_event" and p["id"])
    await petitioner.client.disconnect()
    await official.wait("the petitioner offline", lambda: [
        e for e in official.room_events("participants")
        if {s["seat_id"] for s in e["data"]["seats"]} == {staff_id}])
    await official.call("chat", {"text": "您还在吗"})
    await official.call("chat", {"text": "材料请带上"})

    # it comes back through node B: admitted still, the missed events replayed by id
    back = Peer("petitioner@B")
    await back.connect(b, {"token": seeded["token"]})
    again = await back.call("hello", {"device": "p", "last_event_id": last})
    assert again["seat"]["state"] == "admitted" and again["position"] is None
    assert again["peers"] == [staff_id]
    replayed = [e for e in again["events"]]
    assert all(e["id"] > last for e in replayed)
    assert [e["data"]["text"] for e in replayed if e["kind"] == "chat"] == [
        "您还在吗", "材料请带上"]
    # and live again, both ways, on its new node
    await official.call("chat", {"text": "好的"})
    await back.wait("live chat", lambda: chats(back) == ["好的"])
    await back.call("chat", {"text": "谢谢"})
    await official.wait("chat from B", lambda: chats(official)[-1:] == ["谢谢"])
    await back.call("signal", {"to": staff_id, "kind": "candidate", "data": {"c": 1}})
    await official.wait("signal from B", lambda: len(official.messages("signal")) == 2)

    # a second device opens the link through node A: the window on node B is told and
    # closed, whichever node it is on
    phone = Peer("phone@A")
    await phone.connect(a, {"token": seeded["token"]})
    taken = await phone.call("hello", {"device": "phone", "last_event_id": 0})
    assert taken["seat"]["state"] == "admitted"
    closed = await back.wait("seat_closed", lambda: back.messages("seat_closed"))
    assert closed[0]["reason"] == "opened_elsewhere"
    await back.wait("disconnect", lambda: not back.client.connected)
    for peer in (phone, official):
        await peer.client.disconnect()


def test_petitioner_and_official_on_two_nodes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    seeded = _seed(tmp_path, url)
    with two_nodes(tmp_path, url) as (a, b):
        cookie = _login_cookie(b, "nodeclerk")
        try:
            run_isolated(_scenario(a, b, seeded, cookie), timeout=120)
        except BaseException:
            for log in sorted(tmp_path.glob("node-*.log")):
                print(log.name, log.read_text(errors="replace")[-4000:])
            raise
