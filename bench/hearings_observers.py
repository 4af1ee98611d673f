"""Observer registration under load: 300 people register within a minute for 100 seats,
over HTTP against gunicorn (one worker with threads, as `make run`), from client threads.

Each person opens the notice page (session cookie, CSRF token, idempotency key) and sends
the form, from an address of their own (X-Forwarded-For through one trusted proxy, as
behind nginx, so the per-address rate limit sees 300 people, not one). Arrivals are spread
evenly over `--window` seconds and served by `--threads` client threads.

Prints one JSON line per database: none lost (every person has exactly one registration
and got 201), none seated twice, seats taken, waitlisted, waiting-list positions 1..n, and
p50/p95/p99 of the registration POST in ms (target p95 < 100 ms). Exits 1 when a check
fails.

    .venv/bin/python bench/hearings_observers.py [--people 300] [--seats 100]
        [--window 60] [--threads 32] [--backend sqlite|postgresql|all]
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import subprocess
import sys
import threading
import time
from typing import Any
from urllib.parse import urlencode

from _common import ROOT, bench_app, emit, postgres_available, summary


def make_hearing(app: Any, seats: int) -> int:
    """A published public hearing ten days ahead, on a case of its own office."""
    from portal.auth import operations as auth_ops
    from portal.auth.roles import Role
    from portal.casefiles import operations as case_ops
    from portal.extensions import db
    from portal.orgs.models import Organisation
    from tests.fixtures.casefiles import World
    from tests.fixtures.hearings import new_hearing

    with app.app_context():
        session = db.session()
        office = Organisation(name="基准信访局", kind="agency", sector="petition")
        township = Organisation(name="基准镇", kind="township")
        village = Organisation(name="基准村", kind="village", parent=township)
        session.add_all([office, township, village])
        session.flush()
        clerk, leader = (auth_ops.create_user(
            session, username=f"bench-{role}", display_name=str(role),
            password="bench password", roles={role}, organisations=[office],
            check_password=False) for role in (Role.CLERK, Role.LEADER))
        case, _code = case_ops.register_case(
            session, clerk, channel="walk_in", kind="land", summary="基准测试",
            township_id=township.id, village_id=village.id,
            petitioners=[{"name": "基准信访人"}])
        world = World(county=None, township=township, village=village, office=office,
                      other_office=None, police=None, land=None, outsider_agency=None,
                      clerk=clerk, leader=leader, supervisor=None, admin=None,
                      other_clerk=None, other_leader=None, police_officer=None,
                      land_officer=None, outsider_officer=None, deputy=None)
        hearing, _tokens = new_hearing(session, world, case=case, status="published",
                                       observer_seats=seats)
        return int(hearing.id)


def resident_id(n: int) -> str:
    from portal.identity import check_digit

    first17 = f"{110101 + n // 1000:06d}19850612{n % 1000:03d}"
    return first17 + check_digit(first17)


def _wait_for(port: int) -> None:
    for _ in range(150):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


def register(port: int, hearing_id: int, n: int) -> tuple[int, float]:
    """One person: open the notice, send the form. (status, seconds the POST took)."""
    address = f"127.{1 + n // 65025}.{(n // 255) % 255}.{1 + n % 255}"
    headers = {"X-Forwarded-For": address}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", f"/hearings/public/{hearing_id}", headers=headers)
    page = conn.getresponse()
    body = page.read().decode()
    cookie = (page.getheader("Set-Cookie") or "").split(";")[0]
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', body)
    key = re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"', body)
    if page.status != 200 or token is None or key is None:
        return page.status, 0.0
    form = urlencode({"csrf_token": token.group(1), "idempotency_key": key.group(1),
                      "name": f"旁听{n}", "phone": f"139{n:08d}", "id_kind": "resident_id",
                      "id_number": resident_id(n)})
    started = time.perf_counter()
    conn.request("POST", f"/hearings/public/{hearing_id}", body=form, headers={
        **headers, "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    response = conn.getresponse()
    answer = response.read()
    if response.status != 201 and os.environ.get("BENCH_DEBUG"):
        print(answer.decode()[-3000:], file=sys.stderr)
    took = time.perf_counter() - started
    conn.close()
    return response.status, took


def run(app: Any, people: int, seats: int, window: float, threads: int) -> dict[str, Any]:
    import socket

    hearing_id = make_hearing(app, seats)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = app.extensions["portal.settings"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update(PORTAL_ENV="test", PORTAL_DATA_DIR=str(settings.data_dir),
               PORTAL_DATABASE_URL=settings.database_url, PORTAL_SECRET_KEY="bench",
               PORTAL_DATA_KEY="test-data-key", PORT=str(port), PORTAL_RUN_WORKER="0",
               PORTAL_TRUSTED_PROXIES="1", GUNICORN_ACCESSLOG="", PORTAL_ACCESS_LOG="0")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
         "--access-logfile", "/dev/null", "wsgi:create_app()"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(port)
        statuses: dict[int, int] = {}
        latencies: list[float] = []
        lock = threading.Lock()
        queue = list(range(people))
        started = time.perf_counter()

        def worker() -> None:
            while True:
                with lock:
                    if not queue:
                        return
                    n = queue.pop(0)
                # person n arrives at their moment of the window
                delay = started + window * n / people - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                try:
                    status, took = register(port, hearing_id, n)
                except OSError:
                    status, took = 0, 0.0
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1
                    if status == 201:
                        latencies.append(took)

        pool = [threading.Thread(target=worker) for _ in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        wall = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=15)
    return {**check(app, hearing_id, people, seats, statuses),
            **summary(latencies or [0.0], wall), "wall_s": round(wall, 1)}


def check(app: Any, hearing_id: int, people: int, seats: int,
          statuses: dict[int, int]) -> dict[str, Any]:
    from sqlalchemy import select

    from hearings.models import Observer
    from hearings.observers import waitlist_position
    from portal.extensions import db

    with app.app_context():
        rows = list(db.session.scalars(select(Observer).where(
            Observer.hearing_id == hearing_id)))
        hashes = [r.id_number_hash for r in rows]
        seated = sum(r.status == "seated" for r in rows)
        waiting = [r for r in rows if r.status == "waitlisted"]
        positions = sorted(waitlist_position(db.session(), r) or 0 for r in waiting)
    result = {
        "answers": {str(k): v for k, v in sorted(statuses.items())},
        # a person without a registration row, or whose answer was not 201
        "lost": max(people - len(rows), people - statuses.get(201, 0)),
        "seated_twice": len(hashes) - len(set(hashes)),
        "seats": seats, "seats_taken": seated, "waitlisted": len(waiting),
        "waitlist_positions_ok": positions == list(range(1, len(waiting) + 1)),
    }
    result["ok"] = (result["lost"] == 0 and result["seated_twice"] == 0
                    and seated == min(seats, people)
                    and len(waiting) == max(0, people - seats)
                    and result["waitlist_positions_ok"])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=300)
    parser.add_argument("--seats", type=int, default=100)
    parser.add_argument("--window", type=float, default=60.0,
                        help="seconds over which the people arrive")
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--backend", default="all")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "all" else [args.backend]
    failed = False
    for backend in backends:
        if backend == "postgresql" and not postgres_available():
            emit({"bench": "hearings_observers", "backend": backend,
                  "skipped": "PostgreSQL not reachable"})
            continue
        with bench_app(backend) as app:
            result = run(app, args.people, args.seats, args.window, args.threads)
        emit({"bench": "hearings_observers", "backend": backend, "people": args.people,
              "window_s": args.window, "client_threads": args.threads,
              "measured": "registration POST", **result})
        failed = failed or not result["ok"]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
