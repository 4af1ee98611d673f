"""Lobby benchmark: N petitioners wait in one room on one server process (gunicorn, one
gthread worker, as `make run` serves); an official admits them one by one; the figure is
the time from the official's "admit" to the admitted client's `admitted` event (p50, p99),
with every other waiting client getting its new position meanwhile.

All clients are python-socketio asyncio clients in this process (one clock for both ends);
the server is a separate process on 127.0.0.1 with a throw-away SQLite database.

    .venv/bin/python bench/_video_lobby.py --clients 500 --admits 100
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

from _common import ROOT, percentile  # type: ignore[import-not-found]

PASSWORD = "bench-password-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _seed(data_dir: Path, url: str, clients: int) -> tuple[int, list[tuple[int, str]]]:
    """A clerk, an office, a live room and `clients` booked seats; returns the room id and
    (seat id, join token) pairs."""
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import build_app  # type: ignore[import-not-found]
    from flask_migrate import upgrade

    from portal.auth import operations as auth_ops
    from portal.auth.roles import Role
    from portal.extensions import db
    from portal.orgs.models import Organisation
    from portal.timeutil import utcnow
    from video import operations as ops

    app = build_app(data_dir, url)
    with app.app_context():
        upgrade()
        office = Organisation(name="县信访局", kind="agency")
        db.session.add(office)
        db.session.flush()
        clerk = auth_ops.create_user(db.session, username="benchclerk", password=PASSWORD,
                                     display_name="接访员", roles=[Role.CLERK],
                                     organisations=[office])
        db.session.flush()
        now = utcnow()
        room = ops.create_room(db.session, clerk, kind="walk_in", title="排队",
                               office_id=office.id, starts_at=now - timedelta(minutes=5),
                               ends_at=now + timedelta(hours=3))
        seats = [ops.book_seat(db.session, clerk, room, name=f"来访人{i}")
                 for i in range(clients)]
        ops.pending_events(db.session)
        db.session.commit()
        result = room.id, [(seat.id, token) for seat, token in seats]
        db.engine.dispose()
    return result


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


async def _run_clients(base: str, room_id: int, seats: list[tuple[int, str]], cookie: str,
                       admits: int) -> dict[str, Any]:
    import socketio

    admitted_at: dict[int, float] = {}
    clients: list[Any] = []

    async def guest(seat_id: int, token: str) -> Any:
        client = socketio.AsyncClient(reconnection=False)

        @client.on("room_event", namespace="/video")
        async def on_event(payload: dict[str, Any]) -> None:
            if payload.get("kind") == "admitted":
                admitted_at.setdefault(seat_id, time.perf_counter())

        await client.connect(base, namespaces=["/video"], auth={"token": token},
                             transports=["websocket"], wait_timeout=30)
        ack = await client.call("hello", {"device": f"bench-{seat_id}"}, namespace="/video",
                                timeout=30)
        assert ack["ok"], ack
        return client

    started = time.perf_counter()
    for batch in range(0, len(seats), 50):
        clients += await asyncio.gather(*(guest(s, t) for s, t in seats[batch:batch + 50]))
    connect_s = time.perf_counter() - started

    staff = socketio.AsyncClient(reconnection=False)
    await staff.connect(base, namespaces=["/video"], auth={"room": room_id},
                        headers={"Cookie": cookie}, transports=["websocket"], wait_timeout=30)
    ack = await staff.call("hello", {"device": "bench-staff"}, namespace="/video", timeout=30)
    assert ack["ok"], ack

    latencies: list[float] = []
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
    for client in [*clients, staff]:
        await client.disconnect()
    return {"connect_s": round(connect_s, 2), "latencies": latencies}


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        url = f"sqlite:///{data_dir / 'lobby.db'}"
        room_id, seats = _seed(data_dir, url, args.clients)
        port = _free_port()
        env = {**os.environ, "PORT": str(port), "PORTAL_ENV": "test",
               "PORTAL_DATA_DIR": str(data_dir), "PORTAL_DATABASE_URL": url,
               "PORTAL_SECRET_KEY": "test-secret", "PORTAL_DATA_KEY": "test-data-key",
               "PORTAL_THREADS": str(args.clients + 50), "PORTAL_RUN_WORKER": "0",
               "PORTAL_LOG_LEVEL": "warning"}
        env.pop("PORTAL_REDIS_URL", None)
        server = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "-c", "gunicorn.conf.py", "--access-logfile",
             "/dev/null"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_up(base)
            cookie = _login_cookie(base)
            result = asyncio.run(_run_clients(base, room_id, seats, cookie, args.admits))
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(15)
    ms = [v * 1000 for v in result["latencies"]]
    return {"engine": "lobby", "participants": args.clients, "admits": len(ms),
            "admits_lost": args.admits - len(ms), "connect_all_s": result["connect_s"],
            "admit_p50_ms": round(percentile(ms, 50), 2) if ms else None,
            "admit_p99_ms": round(percentile(ms, 99), 2) if ms else None,
            "admit_max_ms": round(max(ms), 2) if ms else None, "target_p99_ms": 100}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--admits", type=int, default=100)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    print(json.dumps(run(parser.parse_args())))
