"""The real server, started the way `make run` starts it (minus install and seed):
`flask --app wsgi db upgrade`, then gunicorn with gunicorn.conf.py, on a free port of
127.0.0.1 with a data folder of its own. Checks what a person or a browser gets first:
the health check, the login page, the vendored scripts and a Socket.IO handshake
(polling and WebSocket) through gunicorn's threads.

It prints the start-up time and the memory (VmRSS) of the gunicorn master and worker;
numbers are printed, never asserted."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.core import free_port

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "static" / "vendor"
START_LIMIT_SECONDS = 20


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base_url: str
    port: int
    log_path: Path
    started_in: float

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _environment(data_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update(PORTAL_ENV="dev", PORTAL_DATA_DIR=str(data_dir), PORT=str(port),
               PORTAL_THREADS="8", PYTHONUNBUFFERED="1")
    return env


def _get(url: str, timeout: float = 5) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("run-data")
    port = free_port()
    env = _environment(data_dir, port)
    migrate = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert migrate.returncode == 0, f"db upgrade failed:\n{migrate.stdout}\n{migrate.stderr}"

    log_path = data_dir / "gunicorn.log"
    log_file = log_path.open("wb")
    began = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:create_app()"],
        cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = began + START_LIMIT_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"gunicorn exited with {process.returncode}:\n"
                            f"{log_path.read_text(errors='replace')}")
            try:
                status, _, _ = _get(f"{base_url}/healthz", timeout=2)
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"no 200 from /healthz within {START_LIMIT_SECONDS} s:\n"
                            f"{log_path.read_text(errors='replace')}")
            time.sleep(0.1)
        yield Server(process, base_url, port, log_path, time.monotonic() - began)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log_file.close()


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    if path.exists():
        return [int(p) for p in path.read_text().split()]
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def test_healthz_reports_ok(server: Server) -> None:
    status, headers, body = _get(f"{server.base_url}/healthz")
    assert status == 200
    assert headers.get("Content-Type", "").startswith("application/json")
    payload = json.loads(body)
    assert payload["status"] == "ok"
    assert payload["db"] == "ok"


def test_login_page_is_served_by_gunicorn(server: Server) -> None:
    status, headers, body = _get(f"{server.base_url}/login")
    assert status == 200
    assert headers.get("Server", "").startswith("gunicorn")
    assert b"<form" in body


def test_vendored_scripts_are_served(server: Server) -> None:
    assert (VENDOR / "htmx.min.js").exists(), \
        "static/vendor/ is empty: run `make install` (npm ci + scripts/copy-vendor.sh)"
    for name in ("htmx.min.js", "socket.io.min.js"):
        status, headers, body = _get(f"{server.base_url}/static/vendor/{name}")
        assert status == 200, name
        assert "javascript" in headers.get("Content-Type", ""), name
        assert len(body) > 10_000, name


def test_socketio_handshake_through_gunicorn(server: Server) -> None:
    # Engine.IO long-polling open packet: "0{...sid...}".
    status, _, body = _get(f"{server.base_url}/socket.io/?EIO=4&transport=polling")
    assert status == 200
    assert body.startswith(b"0{") and b'"sid"' in body

    # A WebSocket upgrade must reach simple-websocket through gunicorn's gthread worker.
    key = base64.b64encode(secrets.token_bytes(16)).decode()
    request = (
        f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(request.encode())
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(4096)
            if not chunk:
                break
            received += chunk
        status_line = received.split(b"\r\n", 1)[0]
        assert b" 101 " in status_line, received[:300]
        # The first frame is the Engine.IO open packet, as a text frame.
        frame = received.split(b"\r\n\r\n", 1)[1]
        while len(frame) < 4:
            chunk = sock.recv(4096)
            if not chunk:
                break
            frame += chunk
        assert frame[0] & 0x0F == 0x1, frame[:20]  # opcode: text
        assert frame[2:4] == b"0{", frame[:20]


def test_outbox_worker_thread_started(server: Server) -> None:
    assert "outbox worker thread started" in server.log()


def test_print_startup_measurements(server: Server, capsys: Any) -> None:
    master = server.process.pid
    workers = _children(master)
    lines = [f"gunicorn: first 200 from /healthz {server.started_in:.2f} s after start "
             "(includes Python start-up and create_app)",
             f"gunicorn master pid {master}: VmRSS {_rss_kib(master)} KiB"]
    for pid in workers:
        lines.append(f"gunicorn worker pid {pid}: VmRSS {_rss_kib(pid)} KiB")
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert len(workers) == 1, f"expected one gunicorn worker, found {workers}"


def test_secrets_in_urls_never_reach_the_access_log(server: Server) -> None:
    token = "Zq3" + "x" * 24  # the shape of a join link's token (27 URL-safe characters)
    request = urllib.request.Request(
        f"{server.base_url}/join/{token}?lang=zh", headers={
            "Referer": f"{server.base_url}/join/{token}", "User-Agent": "probe"})
    with contextlib.suppress(urllib.error.HTTPError):  # an unknown link: what matters is
        urllib.request.urlopen(request, timeout=5).read()  # the log
    _get(f"{server.base_url}/query?code=123456789012&page=2")
    deadline = time.monotonic() + 10
    log = ""
    while time.monotonic() < deadline:
        log = server.log_path.read_text(errors="replace")
        if "/query?" in log and "/join/" in log:
            break
        time.sleep(0.1)
    assert "/join/[redacted]" in log and "code=[redacted]&page=2" in log, log[-2000:]
    assert token not in log and "123456789012" not in log
