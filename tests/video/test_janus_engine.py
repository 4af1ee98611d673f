"""The janus engine against a real Janus (Debian package `janus`) started by the test.

Janus never gathers ICE candidates on a loopback-flagged interface (`lo`), so the media
part runs in a child process inside a private network namespace whose only address is
127.0.0.1 (on `lo` and on a veth `jlo` that Janus is told to use): Janus, the engine and
the aiortc peers all talk over 127.0.0.1 and nothing can leave the machine. The child
(this file run as a script) drives one scenario against one Janus and writes what it saw
to a JSON file; the tests below assert on it. Janus is killed in a finalizer whatever
happens."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the child process
    sys.path.insert(0, str(ROOT))

from tests.fixtures.video import wait_media_sent  # noqa: E402
from video.engines.base import MediaError  # noqa: E402
from video.engines.janus_engine import (  # noqa: E402
    NETNS_INTERFACE,
    JanusEngine,
    LocalJanus,
    loopback_namespace_command,
    loopback_namespace_problem,
    room_id_for,
)

CONFIG = ROOT / "deploy" / "janus"
ROOM = "room-1"
#: seconds of recording in the main scenario
RECORD_S = 4.0
#: Janus's session_timeout in the child: the idle pause outlasts it, keepalives must hold
SESSION_TIMEOUT_S = 4
CHILD_TIMEOUT_S = 240


def _settings(url: str) -> SimpleNamespace:
    return SimpleNamespace(janus_url=url, turn_urls=(), turn_secret="")


# --- without Janus ------------------------------------------------------------------------

def test_missing_url_is_a_clear_error() -> None:
    with pytest.raises(MediaError, match="PORTAL_JANUS_URL is not set"):
        JanusEngine(_settings("")).start()


def test_unreachable_janus_is_a_clear_error() -> None:
    engine = JanusEngine(_settings("http://127.0.0.1:9/janus"))
    with pytest.raises(MediaError, match=r"Janus at http://127.0.0.1:9/janus\) cannot be "
                                         r"reached"):
        engine.publish(ROOM, "seat-1", "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n")


def test_room_ids_are_stable_small_and_distinct() -> None:
    ids = {room_id_for(f"room-{n}") for n in range(1000)}
    assert len(ids) == 1000
    assert all(0 < i < 2**53 for i in ids)
    assert room_id_for("room-7") == room_id_for("room-7")


def test_ice_servers_are_only_the_deployments_own() -> None:
    assert JanusEngine(_settings("http://127.0.0.1:1/janus")).ice_servers("seat-1") == []
    settings = SimpleNamespace(janus_url="x", turn_secret="s",
                               turn_urls=("turn:turn.example.org:3478?transport=udp",))
    servers = JanusEngine(settings).ice_servers("seat-1")
    assert [s["urls"] for s in servers] == [["turn:turn.example.org:3478?transport=udp"]]
    assert servers[0]["username"] and servers[0]["credential"]


def test_deploy_config_loads_only_what_the_portal_needs() -> None:
    core = (CONFIG / "janus.jcfg").read_text()
    http = (CONFIG / "janus.transport.http.jcfg").read_text()
    room = (CONFIG / "janus.plugin.videoroom.jcfg").read_text()
    assert re.search(r"(?m)^\s*admin_http = false", http)
    assert re.search(r'(?m)^\s*ip = "127\.0\.0\.1"', http)
    assert re.search(r"(?m)^\s*reclaim_session_timeout = \d+", core)
    assert not re.search(r"(?m)^\s*stun_server", core), "no public STUN for Janus"
    for name in ("websockets", "pfunix", "mqtt", "nanomsg", "rabbitmq"):
        assert f"libjanus_{name}.so" in core
    assert "libjanus_videoroom.so" not in core
    assert not re.search(r"(?m)^room-", room), "no demo rooms"


# --- against a real Janus, in a private loopback-only network namespace -------------------

@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Runs the child once for the module; returns what it recorded."""
    if shutil.which("janus") is None:
        pytest.skip("janus not installed: run scripts/install-system-deps")
    problem = loopback_namespace_problem()
    if problem:
        pytest.skip("cannot make a private loopback-only network namespace for Janus "
                    f"(unshare -rn with a veth): {problem}")
    work = tmp_path_factory.mktemp("janus")
    facts_path = work / "facts.json"
    cmd = loopback_namespace_command([sys.executable, str(Path(__file__).resolve()),
                                      "--child", str(work)])
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             start_new_session=True, cwd=ROOT)
    try:
        output, _ = child.communicate(timeout=CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        output, _ = child.communicate()
    finally:
        _kill_janus(work)
    text = output.decode(errors="replace")
    janus_log = (work / "janus" / "janus.log")
    log_tail = "\n".join(janus_log.read_text(errors="replace").splitlines()[-40:]) \
        if janus_log.exists() else "(no Janus log)"
    if child.returncode != 0 or not facts_path.exists():
        pytest.fail(f"the Janus scenario failed (exit {child.returncode}):\n{text[-6000:]}\n"
                    f"--- Janus log (end) ---\n{log_tail}")
    facts: dict[str, Any] = json.loads(facts_path.read_text())
    facts["work"] = str(work)
    return facts


def _kill_janus(work: Path) -> None:
    """The finalizer: kill the child's Janus if it outlived the child."""
    pid_file = work / "janus.pid"
    if not pid_file.exists():
        return
    with contextlib.suppress(ValueError, ProcessLookupError, PermissionError):
        pid = int(pid_file.read_text())
        os.kill(pid, signal.SIGKILL)


def _addresses(sdp: str) -> set[str]:
    """Every address an SDP names in candidates and connection lines."""
    found = set(re.findall(r"(?m)^a=candidate:\S+ \d+ \S+ \d+ (\S+) \d+ typ", sdp))
    found |= set(re.findall(r"(?m)^c=IN IP[46] (\S+)", sdp))
    return found


@pytest.mark.media
def test_janus_candidates_name_loopback_only(scenario: dict[str, Any]) -> None:
    sdps = scenario["sdps"]
    assert set(sdps) == {"publish_offer", "publish_answer", "subscribe_offer",
                         "subscribe_answer", "republish_answer"}
    for name, sdp in sdps.items():
        candidates = re.findall(r"(?m)^a=candidate:.*$", sdp)
        assert candidates, f"{name} has no candidate"
        addresses = _addresses(sdp)
        assert addresses <= {"127.0.0.1"}, f"{name} names {addresses - {'127.0.0.1'}}"


@pytest.mark.media
def test_subscriber_receives_the_publishers_audio_and_video(scenario: dict[str, Any]) -> None:
    assert scenario["publisher_state"] == "connected"
    assert scenario["subscriber_state"] == "connected"
    assert scenario["received"]["video"] >= 20
    assert scenario["received"]["audio"] >= 20
    assert scenario["received_size"] == [320, 240]


@pytest.mark.media
def test_another_process_subscribes_to_a_feed_it_did_not_publish(
        scenario: dict[str, Any]) -> None:
    """Socket nodes behind ip_hash: the subscriber's node is not the publisher's."""
    assert scenario["other_process_subscriber"] == {"state": "connected", "video": True}


@pytest.mark.media
def test_nothing_is_written_before_recording(scenario: dict[str, Any]) -> None:
    assert scenario["files_before_recording"] == []


@pytest.mark.media
def test_recording_is_one_playable_segment_per_connection(scenario: dict[str, Any]) -> None:
    recording = scenario["recording"]
    [segment] = recording["segments"]
    assert segment["seat_key"] == "seat-1"
    assert segment["path"].endswith(".mkv")
    assert segment["path"].startswith(str(Path(scenario["work"]) / "rec1") + "/")
    assert segment["streams"] == ["audio:opus", "video:vp8"]
    assert segment["video_frames"] > 0 and segment["audio_frames"] > 0
    assert abs(segment["duration_s"] - recording["wall_s"]) < 2, (segment, recording)
    assert abs(segment["span_s"] - segment["duration_s"]) < 0.5
    # only the segment is left: Janus's .mjr and the intermediate files are gone
    assert recording["files_after"] == [Path(segment["path"]).name]


@pytest.mark.media
def test_reconnect_while_recording_starts_a_new_segment(scenario: dict[str, Any]) -> None:
    reconnect = scenario["reconnect"]
    segments = reconnect["segments"]
    assert [s["seat_key"] for s in segments] == ["seat-1", "seat-1"]
    assert len({s["path"] for s in segments}) == 2
    first, second = segments
    assert first["started_at"] < second["started_at"]
    for segment in segments:
        assert segment["streams"] == ["audio:opus", "video:vp8"]
        assert segment["duration_s"] > 0.5
    total = sum(s["duration_s"] for s in segments)
    assert abs(total - reconnect["wall_s"]) < 2, segments
    # the new connection came through another process and pushed the old one out
    assert reconnect["seat_1_publishers"] == 1


@pytest.mark.media
def test_session_outlives_janus_session_timeout_with_keepalives(
        scenario: dict[str, Any]) -> None:
    keepalive = scenario["keepalive"]
    assert keepalive["idle_s"] > SESSION_TIMEOUT_S + 1
    assert keepalive["session_after"] == keepalive["session_before"]
    assert keepalive["subscribe_after_idle"] is True


@pytest.mark.media
def test_subscribing_to_an_absent_seat_is_a_media_error(scenario: dict[str, Any]) -> None:
    assert scenario["absent_feed_error"] == "seat-9 is not sending media in this room."


@pytest.mark.media
def test_close_room_destroys_it_in_janus(scenario: dict[str, Any]) -> None:
    assert scenario["close_room_segments"] == []
    assert scenario["rooms_after_close"] == []
    assert scenario["stop_recording_when_not_recording"] == []


# --- the child: runs inside the namespace ---------------------------------------------------

def _child(work: Path) -> None:
    import aioice.ice

    # aiortc gathers 127.0.0.1 only (and is never given a STUN server)
    aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=False: ["127.0.0.1"]
    janus = LocalJanus(CONFIG, work / "janus", loopback_interface=NETNS_INTERFACE,
                       session_timeout=SESSION_TIMEOUT_S)
    (work / "janus").mkdir(parents=True, exist_ok=True)
    janus.start()
    (work / "janus.pid").write_text(str(janus.pid))
    try:
        facts = asyncio.run(asyncio.wait_for(_scenario(janus, work), CHILD_TIMEOUT_S - 30))
    finally:
        janus.stop()
    (work / "facts.json").write_text(json.dumps(facts, indent=1, default=str))


async def _scenario(janus: LocalJanus, work: Path) -> dict[str, Any]:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.contrib.media import MediaPlayer
    from aiortc.mediastreams import MediaStreamError

    loop = asyncio.get_running_loop()
    facts: dict[str, Any] = {"sdps": {}}
    sdps = facts["sdps"]
    engine = JanusEngine(_settings(janus.url))
    engine.keepalive_s = 1.0
    # a second portal process (another socket node) talking to the same Janus
    other = JanusEngine(_settings(janus.url))
    other.keepalive_s = 1.0

    async def call(fn: Any, *args: Any) -> Any:
        return await asyncio.wait_for(loop.run_in_executor(None, fn, *args), 60)

    peers: list[Any] = []
    players: list[Any] = []

    def new_peer() -> Any:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        peers.append(pc)
        return pc

    async def publisher() -> Any:
        pc = new_peer()
        audio = MediaPlayer("sine=frequency=440:sample_rate=48000", format="lavfi")
        video = MediaPlayer("testsrc=size=320x240:rate=15,format=yuv420p", format="lavfi")
        players.extend([audio, video])
        pc.addTrack(audio.audio)
        pc.addTrack(video.video)
        await pc.setLocalDescription(await pc.createOffer())
        return pc

    async def connected(pc: Any, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while pc.connectionState not in ("connected", "failed") and \
                time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        return str(pc.connectionState)

    received: dict[str, dict[str, int]] = {}
    size: list[int] = []

    async def consume(track: Any, seat: str) -> None:
        counts = received.setdefault(seat, {"audio": 0, "video": 0})
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                counts[track.kind] += 1
                if track.kind == "video" and not size:
                    size.extend([frame.width, frame.height])

    async def subscriber(via: JanusEngine, seat: str) -> tuple[str, Any]:
        offer = await call(via.subscribe, ROOM, seat, "seat-1")
        pc = new_peer()
        pc.on("track", lambda track: asyncio.ensure_future(consume(track, seat)))
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        await call(via.subscribe_answer, ROOM, seat, "seat-1", pc.localDescription.sdp)
        return offer, pc

    async def frames(seat: str, at_least: int = 20, timeout: float = 20) -> dict[str, int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and \
                min(received.get(seat, {"audio": 0, "video": 0}).values()) < at_least:
            await asyncio.sleep(0.1)
        return dict(received.get(seat, {}))

    try:
        await call(engine.start)
        await call(other.start)
        await call(engine.open_room, ROOM)

        # 1. publish and subscribe
        pub = await publisher()
        sdps["publish_offer"] = pub.localDescription.sdp
        answer = await call(engine.publish, ROOM, "seat-1", pub.localDescription.sdp)
        sdps["publish_answer"] = answer
        await pub.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        facts["publisher_state"] = await connected(pub)
        offer, sub = await subscriber(engine, "seat-2")
        sdps["subscribe_offer"] = offer
        sdps["subscribe_answer"] = sub.localDescription.sdp
        facts["subscriber_state"] = await connected(sub)
        facts["received"] = await frames("seat-2")
        facts["received_size"] = size

        # 2. a subscriber whose socket node is another process
        _offer4, sub4 = await subscriber(other, "seat-4")
        state4 = await connected(sub4)
        facts["other_process_subscriber"] = {
            "state": state4, "video": (await frames("seat-4", 5)).get("video", 0) >= 5}

        # 3. nothing written while not recording
        facts["files_before_recording"] = sorted(
            str(p.relative_to(work)) for p in work.rglob("*")
            if p.suffix in (".mjr", ".tmp", ".mkv", ".webm", ".opus"))

        # 4. record ~4 s (started here, stopped through the other process)
        rec = work / "rec1"
        started = time.monotonic()
        await call(engine.start_recording, ROOM, rec)
        await wait_media_sent([pub], RECORD_S)
        wall_s = time.monotonic() - started
        segments = await call(other.stop_recording, ROOM)
        facts["recording"] = {
            "wall_s": wall_s, "stop_took_s": time.monotonic() - started - wall_s,
            "segments": [_describe(s) for s in segments],
            "files_after": sorted(p.name for p in rec.rglob("*") if p.is_file()),
        }

        # 5. idle longer than Janus's session_timeout: keepalives keep the session
        session_before = engine._session
        idle_started = time.monotonic()
        # the idle time itself is under test here: a sleep, not a wait on a condition
        await asyncio.sleep(SESSION_TIMEOUT_S + 2.5)
        facts["keepalive"] = {"idle_s": time.monotonic() - idle_started,
                              "session_before": session_before,
                              "session_after": engine._session}
        offer3, _sub3 = await subscriber(engine, "seat-3")
        facts["keepalive"]["subscribe_after_idle"] = "m=video" in offer3

        # 6. a reconnect while recording, through the other process: a new segment
        rec2 = work / "rec2"
        started = time.monotonic()
        await call(engine.start_recording, ROOM, rec2)
        await wait_media_sent([pub], 2.0)
        pub2 = await publisher()
        answer2 = await call(other.publish, ROOM, "seat-1", pub2.localDescription.sdp)
        sdps["republish_answer"] = answer2
        await pub2.setRemoteDescription(RTCSessionDescription(sdp=answer2, type="answer"))
        facts["republisher_state"] = await connected(pub2)
        participants = await call(_participants, engine)
        await pub.close()
        await call(other.request_keyframes, ROOM)
        await wait_media_sent([pub2], 2.5)
        wall_s = time.monotonic() - started
        segments = await call(engine.stop_recording, ROOM)
        facts["reconnect"] = {
            "wall_s": wall_s, "segments": [_describe(s) for s in segments],
            "seat_1_publishers": sum(1 for p in participants if p["display"] == "seat-1")}

        # 7. errors, and a stop when nothing records
        try:
            await call(engine.subscribe, ROOM, "seat-2", "seat-9")
            facts["absent_feed_error"] = None
        except MediaError as exc:
            facts["absent_feed_error"] = str(exc)
        facts["stop_recording_when_not_recording"] = await call(engine.stop_recording, ROOM)

        # 8. close
        facts["close_room_segments"] = [str(s) for s in await call(engine.close_room, ROOM)]
        facts["rooms_after_close"] = await call(_janus_rooms, engine)
    finally:
        for pc in peers:
            with contextlib.suppress(Exception):
                await pc.close()
        for player in players:
            for track in (player.audio, player.video):
                if track is not None:
                    track.stop()
        await call(other.stop)
        await call(engine.stop)
    return facts


def _participants(engine: JanusEngine) -> list[dict[str, Any]]:
    return engine._participants(engine._room(ROOM))


def _janus_rooms(engine: JanusEngine) -> list[int]:
    data = engine._control_message({"request": "list"})
    return [int(room["room"]) for room in data.get("list", [])]


def _describe(segment: Any) -> dict[str, Any]:
    """A segment as the tests see it: opened with PyAV and decoded to the end."""
    import av

    counts = {"audio": 0, "video": 0}
    with av.open(str(segment.path)) as container:
        streams = sorted(f"{s.type}:{s.codec_context.name}" for s in container.streams)
        duration = float(container.duration or 0) / 1_000_000
        for frame in container.decode(*container.streams):
            kind = "video" if isinstance(frame, av.VideoFrame) else "audio"
            counts[kind] += 1
    return {"seat_key": segment.seat_key, "path": str(segment.path), "streams": streams,
            "duration_s": duration, "video_frames": counts["video"],
            "audio_frames": counts["audio"],
            "started_at": segment.started_at.isoformat(),
            "span_s": (segment.ended_at - segment.started_at).total_seconds()}


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "--child":
    _child(Path(sys.argv[2]))
