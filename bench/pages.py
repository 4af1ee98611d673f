"""Registry list page with 5,000 people: requests per second and p95, one process.

Two measurements per database:
- "wsgi": the app called in-process, one request after another (the app's own cost);
- "http": the real server (gunicorn, one worker with threads, as `make run`), loaded by
  4 client threads over keep-alive loopback connections from a second process.
Prints one JSON line per run. Targets (issue 01): ≥300 req/s and p95 < 30 ms on SQLite.

    .venv/bin/python bench/pages.py [--requests 2000] [--backend sqlite|postgresql|all]
"""

from __future__ import annotations

import argparse
import http.client
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from _common import ROOT, bench_app, emit, postgres_available, summary

PEOPLE = 5000


def populate(app) -> None:  # type: ignore[no-untyped-def]
    from portal.auth import operations as auth_ops
    from portal.auth.roles import Role
    from portal.extensions import db
    from portal.orgs.models import Organisation
    from portal.people.models import ExpertField, MediatorKind, Person, PersonKind

    surnames = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
    given = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"
    with app.app_context():
        county = Organisation(name="基准县", kind="county")
        township = Organisation(name="基准镇", kind="township", parent=county)
        committee = Organisation(name="基准镇人民调解委员会", kind="committee", parent=township)
        db.session.add_all([county, township, committee])
        kinds = list(PersonKind)
        fields = list(ExpertField)
        rows = []
        for i in range(PEOPLE):
            kind = kinds[i % len(kinds)]
            rows.append(Person(
                kind=kind,
                name=surnames[i % len(surnames)] + given[(i // 20) % len(given)]
                + given[i % len(given)],
                employer=f"单位{i % 300}", title="委员", phone=f"138{i:08d}",
                is_active=i % 17 != 0,
                expert_field=fields[i % len(fields)] if kind == PersonKind.EXPERT else None,
                lawyer_firm="基准律师事务所" if kind == PersonKind.LAWYER else None,
                lawyer_licence_no=f"1{i:016d}" if kind == PersonKind.LAWYER else None,
                mediator_kind=MediatorKind.ELDER if kind == PersonKind.MEDIATOR else None,
                organisation=committee if kind == PersonKind.MEDIATOR else township,
            ))
        db.session.add_all(rows)
        auth_ops.create_user(db.session, username="benchclerk", display_name="基准",
                             password="bench password", roles={Role.CLERK},
                             check_password=False)
        db.session.commit()


LIST_URLS = ["/people/", "/people/?page=7", "/people/?kind=expert",
             "/people/?kind=mediator&page=2"]
SEARCH_URLS = ["/people/?q=王", "/people/?q=单位12", "/people/?q=律师事务所&kind=lawyer"]


def run_wsgi(app, requests: int, urls: list[str]) -> dict:  # type: ignore[no-untyped-def]
    client = app.test_client()
    client.post("/login", data={"username": "benchclerk", "password": "bench password"})
    for url in urls:  # warm-up, and check the page is what we think
        response = client.get(url)
        assert response.status_code == 200, response.status_code
    latencies = []
    started = time.perf_counter()
    for i in range(requests):
        t0 = time.perf_counter()
        response = client.get(urls[i % len(urls)])
        response.get_data()
        latencies.append(time.perf_counter() - t0)
    return summary(latencies, time.perf_counter() - started)


def run_http(app, requests: int, threads: int = 4) -> dict:  # type: ignore[no-untyped-def]
    """Serve the same database with gunicorn and load it over loopback."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = app.extensions["portal.settings"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update(PORTAL_ENV="test", PORTAL_DATA_DIR=str(settings.data_dir),
               PORTAL_DATABASE_URL=settings.database_url, PORTAL_SECRET_KEY="bench",
               PORTAL_DATA_KEY="test-data-key", PORT=str(port), PORTAL_RUN_WORKER="0",
               GUNICORN_ACCESSLOG="", PORTAL_ACCESS_LOG="0")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
         "--access-logfile", "/dev/null", "wsgi:create_app()"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        cookie = _login_over_http(port)
        latencies: list[float] = []
        lock = threading.Lock()
        per_thread = requests // threads

        def worker() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            mine = []
            for i in range(per_thread):
                t0 = time.perf_counter()
                conn.request("GET", f"/people/?page={1 + i % 20}", headers={"Cookie": cookie})
                response = conn.getresponse()
                response.read()
                assert response.status == 200
                mine.append(time.perf_counter() - t0)
            with lock:
                latencies.extend(mine)

        pool = [threading.Thread(target=worker) for _ in range(threads)]
        started = time.perf_counter()
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        result = summary(latencies, time.perf_counter() - started)
        result["rss_mb_server"] = _rss_mb(server.pid)
        return result
    finally:
        server.terminate()
        server.wait(timeout=10)


def _rss_mb(pid: int) -> float:
    total = 0
    for p in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return round(total / 1024, 1)


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def _login_over_http(port: int) -> str:
    import re

    for _ in range(100):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/login")
            page = conn.getresponse()
            body = page.read().decode()
            break
        except OSError:
            time.sleep(0.2)
    else:
        raise RuntimeError("server did not start")
    cookie = page.getheader("Set-Cookie", "").split(";")[0]
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', body)
    form = "username=benchclerk&password=bench+password"
    if token:
        form += "&csrf_token=" + token.group(1)
    conn.request("POST", "/login", body=form, headers={
        "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    response = conn.getresponse()
    response.read()
    assert response.status == 302, response.status
    return response.getheader("Set-Cookie", "").split(";")[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--backend", default="all")
    parser.add_argument("--no-http", action="store_true")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "all" else [args.backend]
    for backend in backends:
        if backend == "postgresql" and not postgres_available():
            emit({"bench": "pages", "backend": backend, "skipped": "PostgreSQL not reachable"})
            continue
        with bench_app(backend, WTF_CSRF_ENABLED=False) as app:
            populate(app)
            emit({"bench": "pages", "page": "/people/ (list, paging, kind filter)",
                  "people": PEOPLE, "backend": backend, "mode": "wsgi",
                  **run_wsgi(app, args.requests, LIST_URLS)})
            emit({"bench": "pages", "page": "/people/?q= (search)", "people": PEOPLE,
                  "backend": backend, "mode": "wsgi",
                  **run_wsgi(app, args.requests // 4, SEARCH_URLS)})
            if not args.no_http:
                emit({"bench": "pages", "page": "/people/", "people": PEOPLE,
                      "backend": backend, "mode": "http", "client_threads": 4,
                      **run_http(app, args.requests)})


if __name__ == "__main__":
    main()
