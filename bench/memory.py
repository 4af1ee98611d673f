"""Idle server memory: RSS of the server started as `make run` starts it (gunicorn, one
worker with threads, the outbox worker thread), after migrations, seed-demo and a first
request. Prints one JSON line. Target (issue 01): under 200 MB.

    .venv/bin/python bench/memory.py
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _common import ROOT, emit


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


def main() -> None:
    with tempfile.TemporaryDirectory() as data:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
        env.update(PORTAL_ENV="dev", PORTAL_DATA_DIR=data, PORT=str(port))
        for args in (["db", "upgrade"], ["seed-demo"]):
            subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT,
                           env=env, check=True, capture_output=True)
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:create_app()"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            started = time.perf_counter()
            for _ in range(200):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                        break
                except OSError:
                    time.sleep(0.1)
            ready_s = time.perf_counter() - started
            urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5).read()
            time.sleep(3)  # idle
            workers = _children(server.pid)
            master_mb = _rss_kb(server.pid) / 1024
            worker_mb = sum(_rss_kb(p) for p in workers) / 1024
            emit({"bench": "memory", "state": "idle after start", "ready_s": round(ready_s, 2),
                  "rss_mb_master": round(master_mb, 1), "rss_mb_workers": round(worker_mb, 1),
                  "rss_mb_total": round(master_mb + worker_mb, 1), "target_mb": 200})
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
