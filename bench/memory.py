"""Server memory: RSS of the server started as `make run` starts it (gunicorn, one worker
with threads, the outbox worker thread), after migrations, seed-demo and a first request;
then after a round of mixed requests (the pages every demo role reaches by its links,
searches and a few PDF exports) and after a second identical round. Prints one JSON line
per measurement. Targets: idle under 200 MB (issue 01); after a round under 250 MB, and
the second round adding under 5 % (issue 11).

    .venv/bin/python bench/memory.py [--requests 10000] [--threads 4]

The server listens on 127.0.0.1 only, on a free port, with its data in a temporary
folder; it is stopped at the end.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import itertools
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from _common import ROOT, emit

#: the demo accounts (password "demo"); a role that asks for a second step is skipped
ROLES = ["admin", "clerk", "leader", "agency", "supervisor", "mediator", "lawyer", "deputy",
         "expert"]
#: distinct pages kept per role from following its links
PAGES_PER_ROLE = 400
#: one request in this many is a PDF export of a case the role may open
PDF_EVERY = 200
SEARCHES = ["/cases/?q=补偿", "/cases/?q=张", "/cases/?q=2026", "/cases/?overdue=1",
            "/people/?q=王", "/people/?q=律师", "/orgs/?q=县"]
#: links not followed: leaving, heavy downloads, links for petitioners
SKIP = re.compile(r"/logout|/export\.zip|/join/|/static/|/dev/|/files?/|/download|"
                  r"\.(?:csv|png|jpg|mp4|pdf)$")


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def _tree_kb(pid: int) -> tuple[int, int]:
    """RSS of the master and of its worker processes (their children included)."""
    workers, todo = 0, _children(pid)
    while todo:
        child = todo.pop()
        workers += _rss_kb(child)
        todo.extend(_children(child))
    return _rss_kb(pid), workers


class Session:
    """A logged-in browser of one demo account: cookies and the CSRF token."""

    def __init__(self, base: str, username: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        page = self.get("/login")[1]
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        data = {"username": username, "password": "demo"}
        if token:
            data["csrf_token"] = token.group(1)
        response = self.opener.open(base + "/login",
                                    urllib.parse.urlencode(data).encode(), timeout=30)
        self.ok = "/login" not in response.geturl()
        response.read()

    def get(self, path: str) -> tuple[int, str]:
        try:
            url = self.base + urllib.parse.quote(path, safe="/?=&%:+,;-_.~")
            with self.opener.open(url, timeout=120) as response:
                body = response.read()
                kind = response.headers.get("Content-Type", "")
                return response.status, body.decode(errors="replace") if "html" in kind else ""
        except urllib.error.HTTPError as e:
            e.read()
            return e.code, ""


def crawl(session: Session, limit: int) -> list[str]:
    """The pages reached by following links from the home page, breadth first."""
    seen: list[str] = []
    queue = ["/"]
    known = {"/"}
    while queue and len(seen) < limit:
        path = queue.pop(0)
        status, html = session.get(path)
        if status != 200:
            continue
        seen.append(path)
        for href in re.findall(r'href="(/[^"#]*)"', html):
            href = href.replace("&amp;", "&")
            if href not in known and not SKIP.search(href):
                known.add(href)
                queue.append(href)
    return seen


def plan(pages: dict[str, list[str]], requests: int) -> list[tuple[str, str]]:
    """One round: (role, path), the roles' pages in turn, a search every tenth request,
    a PDF export every PDF_EVERY (of the cases the role reached)."""
    cases = {role: sorted({m.group(1) for p in paths
                           if (m := re.fullmatch(r"/cases/([\w-]+)", p))})
             for role, paths in pages.items()}
    cycles = {role: itertools.cycle(paths) for role, paths in pages.items() if paths}
    searches = itertools.cycle(SEARCHES)
    roles = itertools.cycle(sorted(cycles))
    pdfs = itertools.count()
    out: list[tuple[str, str]] = []
    while len(out) < requests:
        role = next(roles)
        n = len(out)
        if n % PDF_EVERY == PDF_EVERY - 1 and cases.get(role):
            out.append((role, f"/cases/{cases[role][next(pdfs) % len(cases[role])]}/export.pdf"))
        elif n % 10 == 9:
            out.append((role, next(searches)))
        else:
            out.append((role, next(cycles[role])))
    return out


def run_round(sessions: dict[str, Session], work: list[tuple[str, str]], threads: int
              ) -> dict[str, Any]:
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    items = iter(work)

    def client() -> None:
        while True:
            with lock:
                item = next(items, None)
            if item is None:
                return
            status, _html = sessions[item[0]].get(item[1])
            with lock:
                statuses[status] = statuses.get(status, 0) + 1

    started = time.perf_counter()
    pool = [threading.Thread(target=client) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return {"seconds": round(time.perf_counter() - started, 1),
            "statuses": {str(k): v for k, v in sorted(statuses.items())}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
        env.update(PORTAL_ENV="dev", PORTAL_DATA_DIR=data, PORT=str(port),
                   PORTAL_BIND=f"127.0.0.1:{port}", PORTAL_LOG_LEVEL="warning")
        for cmd in (["db", "upgrade"], ["seed-demo"]):
            subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *cmd], cwd=ROOT,
                           env=env, check=True, capture_output=True)
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
             "--access-logfile", "/dev/null", "wsgi:create_app()"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"

        def measure(state: str, **extra: Any) -> float:
            master, workers = _tree_kb(server.pid)
            total = round((master + workers) / 1024, 1)
            emit({"bench": "memory", "state": state, "rss_mb_master": round(master / 1024, 1),
                  "rss_mb_workers": round(workers / 1024, 1), "rss_mb_total": total,
                  **extra})
            return total

        try:
            started = time.perf_counter()
            for _ in range(300):
                try:
                    with urllib.request.urlopen(f"{base}/healthz", timeout=1):
                        break
                except OSError:
                    time.sleep(0.1)
            ready_s = time.perf_counter() - started
            urllib.request.urlopen(f"{base}/login", timeout=5).read()
            time.sleep(3)  # idle
            measure("idle after start", ready_s=round(ready_s, 2), target_mb=200)
            sessions = {role: Session(base, role) for role in ROLES}
            sessions = {role: s for role, s in sessions.items() if s.ok}
            pages = {role: crawl(s, PAGES_PER_ROLE) for role, s in sessions.items()}
            work = plan(pages, args.requests)
            first = run_round(sessions, work, args.threads)
            after_one = measure(f"after {len(work)} mixed requests", roles=sorted(sessions),
                                pages={r: len(p) for r, p in pages.items()},
                                pdf_exports=sum(p.endswith(".pdf") for _r, p in work),
                                target_mb=250, **first)
            second = run_round(sessions, work, args.threads)
            after_two = measure(f"after a second {len(work)}", target_mb=250, **second)
            emit({"bench": "memory", "state": "second round",
                  "growth_pct": round(100 * (after_two - after_one) / after_one, 1),
                  "target_pct": 5})
        finally:
            server.terminate()
            server.wait(timeout=20)


if __name__ == "__main__":
    main()
