"""Video: what the media layer costs the portal.

Prints JSON lines with keys engine, participants, cpu_s_per_s, rss_mb (and more).

1. aiortc (the embedded engine): a 1:1 call recorded by the server. Two aiortc peers,
   in a separate process, send what browsers would (640x480 at 30 fps VP8 + Opus,
   `--source` picture) to the engine, which runs in this process exactly as in the
   portal (its loop thread, one recorder peer per seat, one encoder thread per segment).
   The figure is this process's CPU only (time.process_time: every thread of it), over
   `--seconds` of recording; the same for the seconds connected before recording, so the
   cost of receiving and the cost of writing can be told apart. Then the segments are
   joined (`video.recording.compose`, an ffmpeg subprocess) and checked (`verify`).
   Target (issue 03): under 1.0 CPU-s/s for recording both sides.
2. janus: `bench/_video_janus.py` `run(args) -> dict` (one publisher to 8 subscribers
   with recording; target under 0.1 CPU-s/s for Janus and the portal together).
3. lobby: `bench/_video_lobby.py` `run(args) -> dict` (500 waiting clients; admit →
   event p99 under 100 ms). With `--nodes 2`: the 500 spread over two gunicorn
   processes sharing Redis (`--redis-url`, or PORTAL_REDIS_URL / PORTAL_TEST_REDIS_URL),
   the official on one of them; JSON engine "lobby-2nodes".

With no option every part runs (a part whose module is missing prints a note);
`--aiortc`, `--janus`, `--lobby` pick parts.

    .venv/bin/python bench/video.py [--aiortc] [--janus] [--lobby [--nodes 2]] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import multiprocessing
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import emit

#: what the synthetic browsers film: a moving test card with a little sensor noise, so
#: the encoders have about as much work as with a real camera
SOURCE = "testsrc2=size=640x480:rate=30,noise=alls=6:allf=t,format=yuv420p"


def _loopback_only() -> None:
    import aioice.ice

    aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=False: ["127.0.0.1"]


def _video_fps(path: Path, seconds: float) -> float:
    """Pictures per second written to a segment (packets counted, nothing decoded)."""
    import av

    with av.open(str(path)) as container:
        count = sum(1 for packet in container.demux(video=0) if packet.size)
    return count / seconds if seconds else 0.0


def _rss_mb(field: str = "VmRSS") -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


# -- the synthetic browsers (a process of their own) ---------------------------------
def _browsers(conn: Any, count: int, source: str) -> None:
    _loopback_only()
    asyncio.run(_browsers_async(conn, count, source))


async def _browsers_async(conn: Any, count: int, source: str) -> None:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.contrib.media import MediaPlayer

    loop = asyncio.get_running_loop()
    peers: list[Any] = []
    for number in range(count):
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        tone = MediaPlayer(f"sine=frequency={440 + 110 * number}:sample_rate=48000",
                           format="lavfi")
        camera = MediaPlayer(source, format="lavfi")
        pc.addTrack(tone.audio)
        pc.addTrack(camera.video)
        await pc.setLocalDescription(await pc.createOffer())
        peers.append(pc)
    conn.send([pc.localDescription.sdp for pc in peers])
    answers = await loop.run_in_executor(None, conn.recv)
    for pc, answer in zip(peers, answers, strict=True):
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    deadline = time.monotonic() + 30
    while any(pc.connectionState != "connected" for pc in peers):
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    conn.send([pc.connectionState for pc in peers])
    cpu0, wall0 = time.process_time(), time.monotonic()
    await loop.run_in_executor(None, conn.recv)  # "stop"
    conn.send({"cpu_s_per_s": (time.process_time() - cpu0) / (time.monotonic() - wall0)})
    for pc in peers:
        await pc.close()


# -- 1. aiortc -------------------------------------------------------------------------
def bench_aiortc(args: argparse.Namespace) -> dict[str, Any]:
    from portal.config import Settings
    from video.engines.aiortc_engine import AiortcEngine
    from video.recording import compose, verify

    _loopback_only()
    participants = 2
    room = "room-bench"
    context = multiprocessing.get_context("spawn")
    here, there = context.Pipe()
    browsers = context.Process(target=_browsers, args=(there, participants, args.source),
                               daemon=True)
    browsers.start()
    engine = AiortcEngine(Settings(env="test"))
    engine.start()
    try:
        if not here.poll(60):
            raise RuntimeError("the synthetic browsers did not make their offers")
        offers = here.recv()
        here.send([engine.publish(room, f"seat-{n}", sdp) for n, sdp in enumerate(offers, 1)])
        if not here.poll(60):
            raise RuntimeError("the synthetic browsers did not connect")
        states = here.recv()
        if states != ["connected"] * participants:
            raise RuntimeError(f"connection states: {states}")
        time.sleep(1)  # let the first frames through
        cpu0, wall0 = time.process_time(), time.monotonic()
        time.sleep(args.connected_seconds)
        receive_cost = (time.process_time() - cpu0) / (time.monotonic() - wall0)

        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp) / "segments"
            started = datetime.now(UTC)
            cpu0, wall0 = time.process_time(), time.monotonic()
            engine.start_recording(room, directory)
            peak_rss = 0.0
            while time.monotonic() - wall0 < args.seconds:
                time.sleep(0.5)
                peak_rss = max(peak_rss, _rss_mb())
            cpu1, wall1 = time.process_time(), time.monotonic()
            segments = engine.stop_recording(room)
            ended = datetime.now(UTC)
            record_cost = (cpu1 - cpu0) / (wall1 - wall0)
            rss = _rss_mb()
            here.send("stop")
            browsers_cost = here.recv()["cpu_s_per_s"] if here.poll(30) else None

            session_s = (ended - started).total_seconds()
            children0 = os.times()
            compose_started = time.monotonic()
            out = compose(segments, started, ended, Path(tmp) / "session.mp4")
            compose_s = time.monotonic() - compose_started
            children1 = os.times()
            info = verify(out, session_s)
            return {
                "bench": "video", "engine": "aiortc", "participants": participants,
                "cpu_s_per_s": round(record_cost, 3), "rss_mb": round(rss, 1),
                "rss_mb_peak": round(max(peak_rss, _rss_mb("VmHWM")), 1),
                "cpu_s_per_s_connected_not_recording": round(receive_cost, 3),
                "cpu_s_per_s_browsers_process": (round(browsers_cost, 3)
                                                 if browsers_cost is not None else None),
                "recorded_s": round(wall1 - wall0, 1), "segments": len(segments),
                "video_fps_written": [
                    round(_video_fps(s.path, (s.ended_at - s.started_at).total_seconds()), 1)
                    for s in segments],
                "segments_mb": round(sum(s.path.stat().st_size for s in segments) / 2**20,
                                     2),
                "compose_s": round(compose_s, 2),
                "compose_cpu_s": round((children1.children_user + children1.children_system)
                                       - (children0.children_user
                                          + children0.children_system), 2),
                "composed": f"{info.width}x{info.height} {info.video_codec}+"
                            f"{info.audio_codec} {info.duration_s:.1f} s "
                            f"{info.size_bytes / 2**20:.2f} MB",
                "session_s": round(session_s, 1), "cores": os.cpu_count(),
                "target_cpu_s_per_s": 1.0,
            }
    finally:
        engine.stop()
        browsers.join(10)
        if browsers.is_alive():
            browsers.terminate()
            browsers.join(5)


# -- 2., 3. parts written elsewhere ---------------------------------------------------
PARTS = {"janus": "_video_janus", "lobby": "_video_lobby"}


def _load(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     conflict_handler="resolve")
    parser.add_argument("--aiortc", action="store_true", help="the embedded engine")
    parser.add_argument("--janus", action="store_true", help="bench/_video_janus.py")
    parser.add_argument("--lobby", action="store_true", help="bench/_video_lobby.py")
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="seconds of media measured (aiortc, janus)")
    parser.add_argument("--connected-seconds", type=float, default=5.0,
                        help="seconds measured connected before recording (aiortc)")
    parser.add_argument("--source", default=SOURCE,
                        help="ffmpeg lavfi source the synthetic browsers send (aiortc)")
    parser.add_argument("--subscribers", type=int, default=8, help="janus")
    modules = {engine: _load(module) for engine, module in PARTS.items()}
    for module in modules.values():  # a part may add its own options (--clients, ...)
        if module is not None and hasattr(module, "add_arguments"):
            module.add_arguments(parser)
    args = parser.parse_args()
    everything = not (args.aiortc or args.janus or args.lobby)
    if everything or args.aiortc:
        emit(bench_aiortc(args))
    for engine, module in modules.items():
        if not (everything or getattr(args, engine)):
            continue
        if module is None:
            emit({"bench": "video", "engine": engine,
                  "skipped": f"bench/{PARTS[engine]}.py is not there yet"})
            continue
        result: dict[str, Any] = module.run(args)
        emit({"bench": "video", **result})


if __name__ == "__main__":
    main()
