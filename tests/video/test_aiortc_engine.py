"""The aiortc engine with real aiortc peers on loopback: recorder peers, segments,
reconnects, nothing written while not recording, ICE limited to the deployment."""

from __future__ import annotations

import asyncio
import re
import shutil
import time
from array import array
from collections.abc import Iterator
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest
from aiortc import RTCConfiguration, RTCRtpSender

from portal.config import Settings
from tests.fixtures.core import wait_until, wait_until_async
from tests.fixtures.video import (
    SyntheticPeer,
    publish,
    run_isolated,
    synthetic_peer,
    wait_connected,
    wait_media_sent,
    wait_recorded,
)
from video.engines import aiortc_engine
from video.engines.aiortc_engine import AiortcEngine
from video.engines.base import MediaError, Segment
from video.recording import compose, verify

ROOM = "room-1"


@pytest.fixture
def engine(loopback: None) -> Iterator[AiortcEngine]:
    engine = AiortcEngine(Settings(env="test"), call_timeout_s=30)
    engine.start()
    try:
        yield engine
    finally:
        engine.stop()


def run(coro: Any, timeout: float = 90) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(coro, timeout)

    return run_isolated(bounded(), timeout + 30)


async def in_thread(function: Any, *args: Any) -> Any:
    """Call a blocking engine method from a worker thread (as Socket.IO handlers do)."""
    return await asyncio.wait_for(
        asyncio.get_running_loop().run_in_executor(None, function, *args), timeout=60)


def streams_of(path: Path) -> dict[str, int]:
    """Decoded frames per kind (bounded)."""
    counts = {"audio": 0, "video": 0}
    with av.open(str(path)) as container:
        assert container.streams.video and container.streams.audio
        for count, frame in enumerate(container.decode(video=0, audio=0)):
            counts["video" if isinstance(frame, av.VideoFrame) else "audio"] += 1
            if count > 2000:
                break
    return counts


def candidate_hosts(sdp: str) -> set[str]:
    return {m.group(1) for m in re.finditer(r"^a=candidate:\S+ \d+ \w+ \d+ (\S+) \d+ typ",
                                            sdp, re.M)}


async def close_all(peers: list[SyntheticPeer]) -> None:
    for peer in peers:
        await peer.close()


@pytest.mark.media
def test_records_each_seat_and_the_result_composes(engine: AiortcEngine,
                                                   tmp_path: Path) -> None:
    directory = tmp_path / "rec"
    snapshots = tmp_path / "crash"
    snapshots.mkdir()

    async def scenario() -> tuple[list[Segment], datetime, datetime]:
        peers = [await synthetic_peer(tone_hz=440), await synthetic_peer(tone_hz=660)]
        try:
            for number, peer in enumerate(peers, 1):
                answer = await publish(engine, ROOM, f"seat-{number}", peer)
                assert candidate_hosts(answer) == {"127.0.0.1"}
            for peer in peers:
                await wait_connected(peer)
            await wait_media_sent([p.pc for p in peers], 1.5)  # the room does not record
            assert not directory.exists()  # nothing written while not recording
            started = datetime.now(UTC)
            await in_thread(engine.start_recording, ROOM, directory)
            assert engine.is_recording(ROOM)
            await wait_recorded(engine, ROOM, ["seat-1", "seat-2"], 3)
            for path in directory.iterdir():  # what a crash now would leave behind
                shutil.copyfile(path, snapshots / path.name)
            await wait_recorded(engine, ROOM, ["seat-1", "seat-2"], 4)
            await in_thread(engine.request_keyframes, ROOM)
            segments = await in_thread(engine.stop_recording, ROOM)
            ended = datetime.now(UTC)
            size_after_stop = {s.path: s.path.stat().st_size for s in segments}
            # peers still connected, sending: nothing more is written
            await wait_media_sent([p.pc for p in peers], 1)
            assert {s.path: s.path.stat().st_size for s in segments} == size_after_stop
            return segments, started, ended
        finally:
            await close_all(peers)

    segments, started, ended = run(scenario())
    assert sorted(s.seat_key for s in segments) == ["seat-1", "seat-2"]
    assert sorted(directory.iterdir()) == sorted(s.path for s in segments)
    for segment in segments:
        assert segment.path.suffix == ".mkv"
        assert started <= segment.started_at < segment.ended_at <= ended
        counts = streams_of(segment.path)
        assert counts["video"] >= 60 and counts["audio"] >= 100, counts
    # a segment cut short by a crash is still a playable Matroska file
    assert len(list(snapshots.iterdir())) == 2
    for snapshot in snapshots.iterdir():
        counts = streams_of(snapshot)
        assert counts["video"] >= 30 and counts["audio"] >= 50, counts
    session_s = (ended - started).total_seconds()
    out = compose(segments, started, ended, tmp_path / "session.mp4")
    info = verify(out, session_s, tolerance=2.0)
    assert abs(info.duration_s - session_s) <= 2.0
    assert (info.width, info.height) == (1280, 480)


@pytest.mark.media
def test_a_reconnect_makes_a_second_segment(engine: AiortcEngine, tmp_path: Path) -> None:
    directory = tmp_path / "rec"

    async def scenario() -> list[Segment]:
        first, second = await synthetic_peer(), await synthetic_peer()
        try:
            await in_thread(engine.start_recording, ROOM, directory)
            await publish(engine, ROOM, "seat-1", first)
            await wait_connected(first)
            await wait_recorded(engine, ROOM, ["seat-1"], 2.5)
            await publish(engine, ROOM, "seat-1", second)  # the same seat, a new device
            await wait_connected(second)
            await wait_recorded(engine, ROOM, ["seat-1"], 2.5)  # the new segment
            return await in_thread(engine.stop_recording, ROOM)  # type: ignore[no-any-return]
        finally:
            await close_all([first, second])

    segments = run(scenario())
    assert [s.seat_key for s in segments] == ["seat-1", "seat-1"]
    assert segments[0].ended_at <= segments[1].started_at
    assert segments[0].path != segments[1].path
    for segment in segments:
        counts = streams_of(segment.path)
        assert counts["video"] > 20 and counts["audio"] > 40, counts
    info = verify(compose(segments, segments[0].started_at, segments[1].ended_at,
                          tmp_path / "joined.mp4"),
                  (segments[1].ended_at - segments[0].started_at).total_seconds())
    assert (info.width, info.height) == (640, 480)


@pytest.mark.media
def test_a_closed_connection_ends_its_segment(engine: AiortcEngine, tmp_path: Path) -> None:
    async def scenario() -> list[Segment]:
        peer = await synthetic_peer()
        await in_thread(engine.start_recording, ROOM, tmp_path)
        await publish(engine, ROOM, "seat-1", peer)
        await wait_connected(peer)
        await wait_recorded(engine, ROOM, ["seat-1"], 2)
        await peer.close()  # the browser goes away: DTLS close → the engine's peer closes
        await wait_until_async(lambda: not engine.seats(ROOM), 20,
                               "the engine to drop the closed peer")
        return await in_thread(engine.stop_recording, ROOM)  # type: ignore[no-any-return]

    segments = run(scenario())
    assert len(segments) == 1 and streams_of(segments[0].path)["video"] > 20


@pytest.mark.media
def test_unpublish_and_close_room(engine: AiortcEngine, tmp_path: Path) -> None:
    async def scenario() -> tuple[list[Segment], list[Segment]]:
        peers = [await synthetic_peer(), await synthetic_peer()]
        try:
            await in_thread(engine.start_recording, ROOM, tmp_path)
            await publish(engine, ROOM, "seat-1", peers[0])
            await publish(engine, ROOM, "seat-2", peers[1])
            for peer in peers:
                await wait_connected(peer)
            await wait_recorded(engine, ROOM, ["seat-1", "seat-2"], 1.5)
            await in_thread(engine.unpublish, ROOM, "seat-1")
            assert engine.seats(ROOM) == ["seat-2"]
            await wait_recorded(engine, ROOM, ["seat-2"], 2.5)
            closed = await in_thread(engine.close_room, ROOM)
            again = await in_thread(engine.stop_recording, ROOM)
            return closed, again
        finally:
            await close_all(peers)

    closed, again = run(scenario())
    assert sorted(s.seat_key for s in closed) == ["seat-1", "seat-2"]
    assert again == [] and engine.seats(ROOM) == []
    assert not engine.is_recording(ROOM)


@pytest.mark.media
def test_publish_before_recording_starts_a_segment_when_it_starts(
        engine: AiortcEngine, tmp_path: Path) -> None:
    async def scenario() -> tuple[list[Segment], list[Segment]]:
        peer = await synthetic_peer()
        try:
            await publish(engine, ROOM, "seat-1", peer)
            await wait_connected(peer)
            await wait_media_sent([peer.pc], 1)
            nothing = await in_thread(engine.stop_recording, ROOM)
            await in_thread(engine.start_recording, ROOM, tmp_path / "a")
            await wait_recorded(engine, ROOM, ["seat-1"], 2)
            first = await in_thread(engine.stop_recording, ROOM)
            await wait_media_sent([peer.pc], 1)
            await in_thread(engine.start_recording, ROOM, tmp_path / "b")
            await wait_recorded(engine, ROOM, ["seat-1"], 2)
            second = await in_thread(engine.stop_recording, ROOM)
            assert nothing == []
            return first, second
        finally:
            await peer.close()

    first, second = run(scenario())
    assert len(first) == 1 and first[0].path.parent == tmp_path / "a"
    assert len(second) == 1 and second[0].path.parent == tmp_path / "b"
    for segment in first + second:
        assert streams_of(segment.path)["video"] > 20


@pytest.mark.media
def test_keyframes_are_requested_while_recording(loopback: None, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """PLI on a timer while recording (the browser's sender gets them and sends a
    keyframe), none while not recording."""
    received: list[float] = []
    original = RTCRtpSender._send_keyframe

    def counting(self: RTCRtpSender) -> None:
        received.append(time.monotonic())
        original(self)

    monkeypatch.setattr(RTCRtpSender, "_send_keyframe", counting)
    engine = AiortcEngine(Settings(env="test"), pli_interval_s=0.5)

    async def scenario() -> tuple[int, int, int]:
        peer = await synthetic_peer()
        try:
            await publish(engine, ROOM, "seat-1", peer)
            await wait_connected(peer)
            await wait_media_sent([peer.pc], 1.5)
            before = len(received)
            await in_thread(engine.start_recording, ROOM, tmp_path)
            await wait_recorded(engine, ROOM, ["seat-1"], 2.6)
            await in_thread(engine.stop_recording, ROOM)
            during = len(received) - before
            await wait_media_sent([peer.pc], 1.5)
            return before, during, len(received) - before - during
        finally:
            await peer.close()

    try:
        before, during, after = run(scenario())
    finally:
        engine.stop()
    # aiortc's receiver asks by itself only after a loss (none on loopback, but allow one)
    assert before <= 1 and after <= 1
    assert during >= 4  # one when the segment opens, then every 0.5 s


def _tone(pts: int, samples: int = 960) -> av.AudioFrame:
    """20 ms of a loud square wave, s16 stereo 48 kHz, as aiortc's Opus decoder gives."""
    frame = av.AudioFrame(format="s16", layout="stereo", samples=samples, align=1)
    wave = array("h", [8000 if (i // 2 // 24) % 2 else -8000 for i in range(samples * 2)])
    frame.planes[0].update(wave.tobytes())
    frame.sample_rate = 48000
    frame.pts, frame.time_base = pts, Fraction(1, 48000)
    return frame


@pytest.mark.media
def test_segment_writer_fills_lost_sound_and_keeps_the_picture_size(tmp_path: Path) -> None:
    path = tmp_path / "seg.mkv"
    writer = aiortc_engine.SegmentWriter("seat-1", path, {"audio", "video"})
    source = av.open("testsrc=size=640x480:rate=30", format="lavfi")
    rtp_video0, rtp_audio0 = 123456, 98765  # RTP clocks start anywhere
    pictures = source.decode(video=0)
    for n in range(90):  # 3 s of pictures; the sender drops to 320x240 half way
        picture = next(pictures)
        picture = picture.reformat(width=320, height=240, format="yuv420p") if n >= 45 \
            else picture.reformat(format="yuv420p")
        picture.pts, picture.time_base = rtp_video0 + n * 3000, Fraction(1, 90000)
        writer.put("video", picture, arrival=0.3 + n / 30)
        for m in range(n * 50 // 30, (n + 1) * 50 // 30):  # 20 ms sound frames alongside
            if not 50 <= m < 75:  # 1.0 s .. 1.5 s lost on the way
                writer.put("audio", _tone(rtp_audio0 + m * 960), arrival=0.3 + m / 50)
        # a real-time sender never runs far ahead
        wait_until(lambda: writer.backlog <= 10, 10, "the encoder to catch up", 0.005)
    source.close()
    segment = writer.close()
    assert segment is not None and segment.path == path
    assert writer.error is None and writer.frames_dropped == 0
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        assert (video.codec_context.width, video.codec_context.height) == (640, 480)
        samples_at: list[tuple[float, int]] = []
        for frame in container.decode(audio=0):
            peak = max(abs(v) for v in array("f", bytes(frame.planes[0])[:frame.samples * 4]))
            samples_at.append((float(frame.pts * frame.time_base), int(peak > 0.05)))
    # the sound is continuous from 0 to 3.3 s: silence before the first frame and where
    # it was lost, the tone elsewhere
    assert 3.1 < samples_at[-1][0] < 3.5
    assert all(not loud for t, loud in samples_at if t < 0.25 or 1.36 < t < 1.75)
    assert all(loud for t, loud in samples_at if 0.4 < t < 1.25 or 1.9 < t < 3.2)


def test_bad_offers_and_sfu_calls_are_refused(engine: AiortcEngine) -> None:
    with pytest.raises(MediaError):
        engine.publish(ROOM, "seat-1", "v=0\r\nthis is not sdp\r\n")
    assert engine.seats(ROOM) == []
    with pytest.raises(MediaError):
        engine.subscribe(ROOM, "seat-1", "seat-2")
    with pytest.raises(MediaError):
        engine.subscribe_answer(ROOM, "seat-1", "seat-2", "")
    assert engine.stop_recording("room-unknown") == []
    assert engine.close_room("room-unknown") == []


@pytest.mark.media
def test_ice_stays_inside_the_deployment(loopback: None, coturn: Any, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Every server peer gets an explicit list naming only the configured TURN host; the
    answer's candidates name only loopback (host and relay); with nothing configured the
    list is empty, never aiortc's public default."""
    configurations: list[RTCConfiguration | None] = []
    original = aiortc_engine.RTCPeerConnection

    class Recording(original):  # type: ignore[misc, valid-type]
        def __init__(self, configuration: RTCConfiguration | None = None) -> None:
            configurations.append(configuration)
            super().__init__(configuration)

    monkeypatch.setattr(aiortc_engine, "RTCPeerConnection", Recording)
    with_turn = AiortcEngine(Settings(env="test", turn_urls=(coturn.url,),
                                      turn_secret=coturn.secret))
    without = AiortcEngine(Settings(env="test"))
    try:
        assert with_turn.ice_servers("seat-9")[0]["urls"] == [coturn.url]
        assert without.ice_servers("seat-9") == []

        async def scenario() -> list[str]:
            answers = []
            for engine in (with_turn, without):
                peer = await synthetic_peer()
                try:
                    answers.append(await publish(engine, ROOM, "seat-1", peer))
                    await wait_connected(peer)
                finally:
                    await peer.close()
            return answers

        answers = run(scenario())
    finally:
        with_turn.stop()
        without.stop()
    assert len(configurations) == 2
    turn_config, bare_config = configurations
    assert turn_config is not None and bare_config is not None
    assert bare_config.iceServers == []  # explicit: aiortc's default would be public STUN
    assert turn_config.iceServers is not None and len(turn_config.iceServers) == 1
    server = turn_config.iceServers[0]
    urls = [server.urls] if isinstance(server.urls, str) else server.urls
    assert all(re.match(r"^turns?:127\.0\.0\.1:\d+", u) for u in urls)
    assert server.username and server.credential
    assert "typ relay" in answers[0]  # coturn on loopback gave a relay candidate
    for answer in answers:
        assert candidate_hosts(answer) == {"127.0.0.1"}
        assert "google" not in answer and "stun:" not in answer


def test_get_engine_builds_once_from_the_settings(tmp_path: Path) -> None:
    from portal.app import create_app
    from video.engines import EXTENSION_KEY, get_engine

    app = create_app([], overrides={"env": "test", "data_dir": tmp_path,
                                    "database_url": f"sqlite:///{tmp_path / 'db'}",
                                    "media_engine": "aiortc"})
    engine = get_engine(app)
    assert isinstance(engine, AiortcEngine) and engine.topology == "mesh"
    assert get_engine(app) is engine and app.extensions[EXTENSION_KEY] is engine
    assert engine.ice_servers("seat-1") == []


def test_get_engine_janus(tmp_path: Path) -> None:
    from portal.app import create_app
    from video.engines import get_engine

    app = create_app([], overrides={"env": "test", "data_dir": tmp_path,
                                    "database_url": f"sqlite:///{tmp_path / 'db'}",
                                    "media_engine": "janus",
                                    "janus_url": "http://127.0.0.1:1/janus"})
    engine = get_engine(app)
    assert type(engine).__name__ == "JanusEngine" and engine.name == "janus"
