"""Browser tests: a real server (gunicorn, as `make run` starts it) on a free loopback
port with the demo data, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
MISSING_BROWSER = (
    "Chromium is not installed at /usr/bin/chromium: run `sudo scripts/install-system-deps` "
    "(Debian packages chromium and fonts-noto-cjk) to run the browser tests"
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)
            if not Path(CHROMIUM).exists():
                item.add_marker(pytest.mark.skip(reason=MISSING_BROWSER))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _flask(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                   check=True, capture_output=True, timeout=180)


@contextmanager
def serve_demo(data: Path, app: str = "wsgi:create_app()", start_s: float = 20,
               show_log: bool = False, **env_extra: str) -> Iterator[str]:
    """The demo, migrated and seeded in `data`, served by gunicorn as `make run` does
    (`app`: gunicorn's app spec); yields the base URL. `show_log` prints what the server
    said (but the access log) when it stops, for a failing run."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update(PORTAL_ENV="dev", PORTAL_DATA_DIR=str(data), PORT=str(port),
               PORTAL_RUN_WORKER="0", **env_extra)
    _flask(env, "db", "upgrade")
    _flask(env, "seed-demo")
    log = open(data / "server.log", "wb")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", app],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(int(start_s / 0.2)):
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError("server did not start: " + (data / "server.log").read_text())
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        if show_log:
            lines = (data / "server.log").read_text(errors="replace").splitlines()
            print("\n".join(line for line in lines if not line.startswith("127.0.0.1 "))[-6000:])


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo, migrated and seeded in a folder of its own, served by gunicorn."""
    with serve_demo(tmp_path_factory.mktemp("live")) as base:
        yield base


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def phone(browser: Any) -> Iterator[Any]:
    """A 360 × 740 phone-sized page, Chinese by default like the portal."""
    context = browser.new_context(viewport={"width": 360, "height": 740},
                                  device_scale_factor=2, is_mobile=True, has_touch=True,
                                  locale="zh-CN")
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("PORTAL_TEST_OUTPUT", ROOT / "test-output")) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def have_chromium() -> bool:
    return shutil.which("chromium") is not None
