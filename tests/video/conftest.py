"""Fixtures for the media tests: loopback-only ICE, synthetic aiortc peers, media files
made by ffmpeg, and a throw-away coturn."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aioice.ice
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer

# tests/video has no __init__.py (a package there would shadow the `video` domain), so
# pytest imports this file as the module `conftest`, as it does tests/conftest.py: test
# modules elsewhere that `from conftest import login` must still find the root helpers.
from tests.conftest import (  # noqa: E402,F401
    BACKENDS,
    PASSWORD,
    PG_URL,
    REDIS_URL,
    ROOT,
    build_app,
    create_pg_database,
    login,
    totp_now,
)

FFMPEG = "/usr/bin/ffmpeg"
TURN_SECRET = "test-turn-secret"


@pytest.fixture
def loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """ICE gathers 127.0.0.1 only: the tests never touch another interface or host."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses",
                        lambda use_ipv4=True, use_ipv6=False: ["127.0.0.1"])


def run_isolated(coro: Any, timeout: float = 120) -> Any:
    """`asyncio.run` in a thread of its own. The browser tests' Playwright (sync API)
    keeps an event loop running in the main thread for the whole session, where
    `asyncio.run` would refuse to start."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(coro)
        except BaseException as error:  # handed to the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=target, name="test-asyncio", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise AssertionError(f"the coroutine did not finish within {timeout} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


@dataclass
class SyntheticPeer:
    """An aiortc peer that sends what a browser would: 640x480 video and a tone."""

    pc: RTCPeerConnection
    players: list[MediaPlayer] = field(default_factory=list)

    async def close(self) -> None:
        await self.pc.close()
        for player in self.players:
            for track in (player.audio, player.video):
                if track is not None:
                    track.stop()


async def synthetic_peer(*, size: str = "640x480", rate: int = 30, tone_hz: int = 440,
                         audio: bool = True, video: bool = True) -> SyntheticPeer:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    peer = SyntheticPeer(pc)
    if audio:
        player = MediaPlayer(f"sine=frequency={tone_hz}:sample_rate=48000", format="lavfi")
        peer.players.append(player)
        pc.addTrack(player.audio)
    if video:
        player = MediaPlayer(f"testsrc=size={size}:rate={rate},format=yuv420p", format="lavfi")
        peer.players.append(player)
        pc.addTrack(player.video)
    return peer


async def publish(engine: Any, room_key: str, seat_key: str,
                  peer: SyntheticPeer) -> str:
    """Offer (ICE gathered), hand the offer to the engine from a worker thread as a
    Socket.IO handler would, apply the answer; returns the answer SDP."""
    await peer.pc.setLocalDescription(await peer.pc.createOffer())
    answer = await asyncio.wait_for(
        asyncio.get_running_loop().run_in_executor(
            None, engine.publish, room_key, seat_key, peer.pc.localDescription.sdp),
        timeout=30)
    await peer.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    return answer


async def wait_connected(peer: SyntheticPeer, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while peer.pc.connectionState != "connected":
        if time.monotonic() > deadline:
            raise AssertionError(f"peer state stayed {peer.pc.connectionState}")
        await asyncio.sleep(0.05)


def make_media(path: Path, seconds: float, *, video: bool = True, audio: bool = True,
               tone_hz: int = 440, size: str = "640x480", fmt: str = "matroska") -> Path:
    """A media file made by ffmpeg: testsrc picture and/or a sine tone."""
    command = [FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    if video:
        command += ["-f", "lavfi", "-i", f"testsrc=size={size}:rate=30:duration={seconds}"]
    if audio:
        command += ["-f", "lavfi", "-i",
                    f"sine=frequency={tone_hz}:sample_rate=48000:duration={seconds}"]
    if video:
        command += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if audio:
        command += ["-c:a", "aac"]
    command += ["-f", fmt, str(path)]
    subprocess.run(command, check=True, timeout=60)
    return path


@dataclass(frozen=True)
class Turn:
    url: str
    secret: str
    port: int


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _stun_answers(port: int) -> bool:
    """A STUN Binding request to 127.0.0.1:port gets an answer."""
    request = b"\x00\x01\x00\x00\x21\x12\xa4\x42" + os.urandom(12)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.2)
        sock.sendto(request, ("127.0.0.1", port))
        try:
            return sock.recv(1024)[8:20] == request[8:20]
        except OSError:
            return False


@pytest.fixture(scope="session")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Turn]:
    """A coturn on 127.0.0.1 with `use-auth-secret`, for the length of the session."""
    binary = shutil.which("turnserver")
    if binary is None:
        pytest.skip("coturn is not installed (scripts/install-system-deps installs it)")
    tmp = tmp_path_factory.mktemp("coturn")
    port = _free_udp_port()
    process = subprocess.Popen(
        [binary, "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1",
         f"--listening-port={port}", "--min-port=49160", "--max-port=49460",
         "--use-auth-secret", f"--static-auth-secret={TURN_SECRET}", "--realm=portal.test",
         "--no-tls", "--no-dtls", "--no-cli", "--allow-loopback-peers",
         f"--userdb={tmp / 'turndb.sqlite'}", f"--pidfile={tmp / 'turn.pid'}",
         "--log-file=stdout", "--simple-log"],
        stdout=(tmp / "turn.log").open("w"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while not _stun_answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.skip(f"coturn did not start: {(tmp / 'turn.log').read_text()[-500:]}")
            time.sleep(0.05)
        yield Turn(f"turn:127.0.0.1:{port}?transport=udp", TURN_SECRET, port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(autouse=True)
def positions_at_once(request: pytest.FixtureRequest) -> Iterator[None]:
    """Lobby positions go out at once in tests (the server batches them, once a second),
    so a test reads them right after the admission; `test_rooms` checks the batching."""
    if "app" not in request.fixturenames:
        yield
        return
    app = request.getfixturevalue("app")
    before = app.config.get("VIDEO_POSITION_DELAY_S")
    app.config["VIDEO_POSITION_DELAY_S"] = 0
    yield
    app.config["VIDEO_POSITION_DELAY_S"] = before if before is not None else 1.0
