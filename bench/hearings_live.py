"""Live hearing benchmark: N clients follow one hearing on one server process (gunicorn,
one gthread worker, as `make run` serves) — a few participants through their personal
links, the rest online observers through theirs; the clerk moves the stage `--changes`
times (next / previous in turn). The figure is the time from the clerk's `stage` emit to
each client's receipt of the `stage` broadcast (p50 / p99 / max), and how many were lost.

All clients are python-socketio asyncio clients in this process (one clock for both
ends); the server is a separate process on 127.0.0.1 with a throw-away SQLite database.
Each change waits until every client has it (or 10 s) before the next.

    .venv/bin/python bench/hearings_live.py [--clients 300] [--changes 20]

Prints one JSON line. Target: p99 under 100 ms, none lost.
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
import urllib.parse
import urllib.request
from datetime import timedelta
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

from _common import ROOT, percentile

from tests.fixtures.core import free_port

PASSWORD = "bench-password-1"
NS = "/hearings"
#: how many of the clients come through a participant's link (the rest observe)
PARTICIPANTS = 20


def _seed(data_dir: Path, url: str, clients: int) -> tuple[int, list[dict[str, str]]]:
    """An office, its clerk (presiding officer and clerk of the hearing), a case, a
    published public hearing, and a link for each client: (hearing id, join payloads)."""
    from flask_migrate import upgrade

    from hearings import links
    from hearings.models import Hearing, Observer, Participant, ParticipantRole
    from portal.auth import operations as auth_ops
    from portal.auth.roles import Role
    from portal.casefiles import operations as case_ops
    from portal.extensions import db
    from portal.orgs.models import Organisation
    from portal.timeutil import utcnow
    from tests.fixtures.core import build_app

    app = build_app(data_dir, url)
    with app.app_context():
        upgrade()
        office = Organisation(name="县信访局", kind="agency", sector="petition")
        db.session.add(office)
        db.session.flush()
        clerk = auth_ops.create_user(db.session, username="benchclerk", password=PASSWORD,
                                     display_name="书记员", roles=[Role.CLERK],
                                     organisations=[office], check_password=False)
        db.session.flush()
        case, _code = case_ops.register_case(
            db.session(), clerk, channel="walk_in", kind="land", summary="听证压力测试",
            petitioners=[{"name": "信访人", "id_number": "110101195001011239",
                          "phone": "13800001111"}])
        now = utcnow()
        hearing = Hearing(case_id=case.id, kind="petition", status="published",
                          title="压力测试听证会", starts_at=now, ends_at=now + timedelta(hours=3),
                          office_id=office.id, presiding_id=clerk.id, clerk_id=clerk.id,
                          is_public=True, observer_seats=clients, notice_published_at=now,
                          ical_uid=f"bench-{os.getpid()}@portal", created_by_id=clerk.id,
                          # the figure is the stage broadcast: no panel to fill first
                          panel_size=0)
        db.session.add(hearing)
        db.session.flush()
        joins: list[dict[str, str]] = []
        for n in range(clients):
            if n < PARTICIPANTS:
                p = Participant(hearing=hearing, role=ParticipantRole.PARTY, name=f"当事人{n}")
                db.session.add(p)
                joins.append({"token": links.issue_participant_token(p)})
            else:
                o = Observer(hearing_id=hearing.id, name=f"旁听{n}", phone="13800001111",
                             id_number=f"1101011990010{n:05d}", id_number_hash=f"bench-{n}",
                             token_hash="", seated_at=now)
                joins.append({"observer_token": links.issue_observer_token(o)})
                db.session.add(o)
        db.session.commit()
        hearing_id = hearing.id
        db.engine.dispose()
    return hearing_id, joins


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


def _serve(data_dir: Path, url: str, port: int, threads: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update(PORT=str(port), PORTAL_ENV="test", PORTAL_DATA_DIR=str(data_dir),
               PORTAL_DATABASE_URL=url, PORTAL_SECRET_KEY="test-secret",
               PORTAL_DATA_KEY="test-data-key", PORTAL_THREADS=str(threads),
               PORTAL_RUN_WORKER="0", PORTAL_LOG_LEVEL="warning")
    return subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "-c", "gunicorn.conf.py", "--access-logfile",
         "/dev/null"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)


async def _run(base: str, hearing_id: int, joins: list[dict[str, str]], cookie: str,
               changes: int) -> dict[str, Any]:
    import socketio

    received: list[list[float]] = [[] for _ in joins]
    clients: list[Any] = []

    async def follower(n: int, link: dict[str, str]) -> Any:
        client = socketio.AsyncClient(reconnection=False)

        @client.on("stage", namespace=NS)
        async def on_stage(payload: dict[str, Any]) -> None:
            received[n].append(time.perf_counter())

        await client.connect(base, namespaces=[NS], transports=["websocket"],
                             wait_timeout=30)
        ack = await client.call("join", {"hearing_id": hearing_id, **link}, namespace=NS,
                                timeout=30)
        assert ack["ok"], ack
        return client

    started = time.perf_counter()
    for batch in range(0, len(joins), 50):
        clients += await asyncio.gather(*(follower(batch + n, link) for n, link
                                          in enumerate(joins[batch:batch + 50])))
    connect_s = time.perf_counter() - started

    clerk = socketio.AsyncClient(reconnection=False)
    await clerk.connect(base, namespaces=[NS], headers={"Cookie": cookie},
                        transports=["websocket"], wait_timeout=30)
    ack = await clerk.call("join", {"hearing_id": hearing_id}, namespace=NS, timeout=30)
    assert ack["ok"] and ack["can_run"], ack
    ack = await clerk.call("start", {}, namespace=NS, timeout=30)
    assert ack["ok"], ack
    deadline = time.perf_counter() + 10
    while any(len(r) < 1 for r in received) and time.perf_counter() < deadline:
        await asyncio.sleep(0.005)
    base_count = [len(r) for r in received]  # the start's broadcast

    latencies: list[float] = []
    first: list[float] = []  # per change, the first client's receipt: the rest is fan-out
    lost = 0
    for k in range(changes):
        direction = "next" if k % 2 == 0 else "previous"
        sent = time.perf_counter()
        ack = await clerk.call("stage", {"direction": direction}, namespace=NS, timeout=30)
        assert ack["ok"], ack
        want = [b + k + 1 for b in base_count]
        deadline = sent + 10
        while (any(len(r) < w for r, w in zip(received, want, strict=True))
               and time.perf_counter() < deadline):
            await asyncio.sleep(0.001)
        got = [r[w - 1] - sent for r, w in zip(received, want, strict=True) if len(r) >= w]
        lost += len(received) - len(got)
        latencies += got
        if got:
            first.append(min(got))
    for client in [*clients, clerk]:
        await client.disconnect()
    return {"connect_s": round(connect_s, 2), "latencies": latencies, "lost": lost,
            "first": first}


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        url = f"sqlite:///{data_dir / 'hearing.db'}"
        hearing_id, joins = _seed(data_dir, url, args.clients)
        port = free_port()
        server = _serve(data_dir, url, port, args.clients + 50)
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_up(base)
            cookie = _login_cookie(base)
            result = asyncio.run(_run(base, hearing_id, joins, cookie, args.changes))
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(15)
    ms = [v * 1000 for v in result["latencies"]]
    return {"bench": "hearings_live", "clients": args.clients, "stage_changes": args.changes,
            "deliveries": len(ms), "lost": result["lost"],
            "connect_all_s": result["connect_s"],
            "p50_ms": round(percentile(ms, 50), 2) if ms else None,
            "p99_ms": round(percentile(ms, 99), 2) if ms else None,
            "max_ms": round(max(ms), 2) if ms else None,
            "first_client_p50_ms": round(percentile([v * 1000 for v in result["first"]], 50),
                                         2) if result["first"] else None,
            "load_average_1m": round(os.getloadavg()[0], 2), "cores": os.cpu_count(),
            "target_p99_ms": 100}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=300)
    parser.add_argument("--changes", type=int, default=20)
    print(json.dumps(run(parser.parse_args()), ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
