"""Lobby benchmark: N petitioners wait in one room on one server process (gunicorn, one
gthread worker, as `make run` serves); an official admits them one by one; the figure is
the time from the official's "admit" to the admitted client's `admitted` event (p50, p99),
with every other waiting client getting its new position meanwhile.

All clients are python-socketio asyncio clients in this process (one clock for both ends);
the server is a separate process on 127.0.0.1 with a throw-away SQLite database.

With `--nodes 2` the waiting clients are spread over two gunicorn processes sharing the
database and Redis (`--redis-url`, default PORTAL_REDIS_URL or PORTAL_TEST_REDIS_URL: the
Socket.IO message queue and the live connection registry); the official admits from node
0, so half the admissions cross to the other node. It also counts the `position` messages
the waiting clients get: batched per room across nodes (one node sends a room's positions
at most once a second), none is sent twice.

    .venv/bin/python bench/_video_lobby.py --clients 500 --admits 100 [--nodes 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

from _common import ROOT, percentile  # type: ignore[import-not-found]

from tests.fixtures.core import free_port

PASSWORD = "bench-password-1"


def _seed(data_dir: Path, url: str, clients: int) -> tuple[int, list[tuple[int, str]]]:
    """A clerk, an office, a live room and `clients` booked seats; returns the room id and
    (seat id, join token) pairs."""
    from tests.fixtures.video import seed_walk_in_room

    return seed_walk_in_room(data_dir, url, "benchclerk", PASSWORD,
                             [f"来访人{i}" for i in range(clients)])


def _login_cookie(base: str) -> str:
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/login").read().decode()
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page)
    assert match, "no CSRF token on the login page"
    body = urllib.parse.urlencode({"csrf_token": match.group(1), "username": "benchclerk",
                                   "password": PASSWORD}).encode()
    opener.open(f"{base}/login", data=body).read()
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def _wait_up(base: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=1).read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start")


async def _run_clients(bases: list[str], room_id: int, seats: list[tuple[int, str]],
                       cookie: str, admits: int) -> dict[str, Any]:
    import socketio

    admitted_at: dict[int, float] = {}
    positions: dict[int, list[int]] = {}
    initial: dict[int, int] = {}
    clients: list[Any] = []

    async def guest(number: int, seat_id: int, token: str) -> Any:
        client = socketio.AsyncClient(reconnection=False)

        @client.on("room_event", namespace="/video")
        async def on_event(payload: dict[str, Any]) -> None:
            if payload.get("kind") == "admitted":
                admitted_at.setdefault(seat_id, time.perf_counter())
            elif payload.get("kind") == "position":
                positions.setdefault(seat_id, []).append(payload["data"]["position"])

        await client.connect(bases[number % len(bases)], namespaces=["/video"],
                             auth={"token": token}, transports=["websocket"],
                             wait_timeout=30)
        ack = await client.call("hello", {"device": f"bench-{seat_id}"}, namespace="/video",
                                timeout=30)
        assert ack["ok"], ack
        initial[seat_id] = ack["position"]
        return client

    started = time.perf_counter()
    for batch in range(0, len(seats), 50):
        clients += await asyncio.gather(*(guest(batch + n, s, t) for n, (s, t)
                                          in enumerate(seats[batch:batch + 50])))
    connect_s = time.perf_counter() - started

    staff = socketio.AsyncClient(reconnection=False)
    lobby: list[dict[str, Any]] = []

    @staff.on("room_event", namespace="/video")
    async def on_staff_event(payload: dict[str, Any]) -> None:
        if payload.get("kind") == "lobby":
            lobby[:] = payload["data"]["waiting"]

    await staff.connect(bases[0], namespaces=["/video"], auth={"room": room_id},
                        headers={"Cookie": cookie}, transports=["websocket"], wait_timeout=30)
    ack = await staff.call("hello", {"device": "bench-staff"}, namespace="/video", timeout=30)
    assert ack["ok"], ack

    latencies: list[float] = []
    admits_started = time.perf_counter()
    for seat_id, _token in seats[:admits]:
        sent = time.perf_counter()
        reply = await staff.call("admit", {"seat_id": seat_id}, namespace="/video", timeout=30)
        assert reply["ok"], reply
        deadline = sent + 10
        while seat_id not in admitted_at and time.perf_counter() < deadline:
            await asyncio.sleep(0.001)
        if seat_id in admitted_at:
            latencies.append(admitted_at[seat_id] - sent)
        # done with this one, as the official would be before the next
        await staff.call("finish", {"seat_id": seat_id}, namespace="/video", timeout=30)
    admitting_s = time.perf_counter() - admits_started
    await asyncio.sleep(1.5)  # the last batch of positions
    for client in [*clients, staff]:
        await client.disconnect()
    told = [p for seat_id, _ in seats[admits:] for p in positions.get(seat_id, [])]
    repeated = sum(1 for seat_id, _ in seats for a, b in zip(
        positions.get(seat_id, []), positions.get(seat_id, [])[1:], strict=False) if a == b)
    # still waiting: each must last have been told its place in the official's list
    wrong = sum(1 for w in lobby
                if (positions.get(w["seat_id"]) or [initial[w["seat_id"]]])[-1] != w["position"])
    return {"connect_s": round(connect_s, 2), "latencies": latencies,
            "admitting_s": round(admitting_s, 2), "position_messages": len(told),
            "position_repeated": repeated, "positions_wrong": wrong}


def _serve(data_dir: Path, url: str, port: int, threads: int, redis_url: str,
           node: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PORT": str(port), "PORTAL_ENV": "test",
           "PORTAL_DATA_DIR": str(data_dir), "PORTAL_DATABASE_URL": url,
           "PORTAL_SECRET_KEY": "test-secret", "PORTAL_DATA_KEY": "test-data-key",
           "PORTAL_THREADS": str(threads), "PORTAL_RUN_WORKER": "0",
           "PORTAL_LOG_LEVEL": "warning", "PORTAL_NODE_ID": node}
    env.pop("PORTAL_REDIS_URL", None)
    if redis_url:
        env["PORTAL_REDIS_URL"] = redis_url
    return subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "-c", "gunicorn.conf.py", "--access-logfile",
         "/dev/null"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)


def run(args: argparse.Namespace) -> dict[str, Any]:
    nodes = max(1, int(getattr(args, "nodes", 1)))
    redis_url = getattr(args, "redis_url", "") if nodes > 1 else ""
    engine = "lobby" if nodes == 1 else f"lobby-{nodes}nodes"
    if nodes > 1 and not redis_url:
        return {"engine": engine, "skipped": "two nodes need Redis: --redis-url or "
                "PORTAL_REDIS_URL / PORTAL_TEST_REDIS_URL"}
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        url = f"sqlite:///{data_dir / 'lobby.db'}"
        room_id, seats = _seed(data_dir, url, args.clients)
        threads = args.clients // nodes + 50
        run_id = f"bench-{os.getpid()}"
        ports = [free_port() for _ in range(nodes)]
        servers = [_serve(data_dir, url, port, threads, redis_url, f"{run_id}-{n}")
                   for n, port in enumerate(ports)]
        try:
            bases = [f"http://127.0.0.1:{port}" for port in ports]
            for base in bases:
                _wait_up(base)
            cookie = _login_cookie(bases[0])
            result = asyncio.run(_run_clients(bases, room_id, seats, cookie, args.admits))
        finally:
            for server in servers:
                os.killpg(server.pid, signal.SIGTERM)
            for server in servers:
                server.wait(15)
    ms = [v * 1000 for v in result["latencies"]]
    figures = {"engine": engine, "nodes": nodes, "participants": args.clients,
               "admits": len(ms), "admits_lost": args.admits - len(ms),
               "connect_all_s": result["connect_s"],
               "admit_p50_ms": round(percentile(ms, 50), 2) if ms else None,
               "admit_p99_ms": round(percentile(ms, 99), 2) if ms else None,
               "admit_max_ms": round(max(ms), 2) if ms else None, "target_p99_ms": 100}
    if nodes > 1:
        figures.update(admitting_s=result["admitting_s"],
                       position_messages=result["position_messages"],
                       position_repeated=result["position_repeated"],
                       positions_wrong_at_end=result["positions_wrong"])
    return figures


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--admits", type=int, default=100)
    parser.add_argument("--nodes", type=int, default=1,
                        help="lobby: gunicorn processes sharing Redis (1 or 2)")
    parser.add_argument("--redis-url", default=os.environ.get("PORTAL_REDIS_URL") or
                        os.environ.get("PORTAL_TEST_REDIS_URL", ""),
                        help="lobby with --nodes 2: the Redis they share")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    print(json.dumps(run(parser.parse_args())))
