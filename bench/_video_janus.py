"""Benchmark of the janus engine: one publisher to 8 subscribers through a Janus VideoRoom,
recorded, for ~20 s.

Measures CPU seconds per second of call of Janus (from /proc/<pid>/stat) plus the portal
side (this process: the engine, its keepalive and long-poll threads), and their memory.
The synthetic aiortc peers (one 640x480 VP8 + Opus sender, eight receivers that decode
what they get) run in a separate process, so their encoding and decoding is not counted.
Converting the recording after the call (janus-pp-rec + ffmpeg) is reported apart.

Where a private network namespace can be made (`unshare -rn`), everything runs in one
whose only address is 127.0.0.1, as in tests/video/test_janus_engine.py; otherwise on the
host's interfaces (still this machine only).

    .venv/bin/python bench/_video_janus.py [--seconds 20] [--subscribers 8]

bench/video.py calls `run(args)` with `--janus`."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from video.engines.janus_engine import (  # noqa: E402
    NETNS_INTERFACE,
    JanusEngine,
    LocalJanus,
    loopback_namespace_command,
    loopback_namespace_problem,
)

CONFIG = ROOT / "deploy" / "janus"
ROOM = "room-bench"
PUBLISHER = "seat-pub"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _options(args: Any) -> dict[str, Any]:
    return {"seconds": float(getattr(args, "seconds", None) or 20),
            "subscribers": int(getattr(args, "subscribers", None) or 8),
            "size": str(getattr(args, "size", None) or "640x480"),
            "fps": int(getattr(args, "fps", None) or 15)}


def run(args: Any = None) -> dict[str, Any]:
    opts = _options(args)
    base = {"engine": "janus", "participants": opts["subscribers"] + 1}
    if shutil.which("janus") is None:
        return {**base, "skipped": "janus not installed: run scripts/install-system-deps"}
    with tempfile.TemporaryDirectory(prefix="bench-janus-") as tmp:
        problem = loopback_namespace_problem()
        if problem is not None:
            result = _measure(Path(tmp), opts, netns=False)
            result["network"] = f"host interfaces (no private namespace: {problem[:120]})"
            return {**base, **result}
        cmd = loopback_namespace_command(
            [sys.executable, str(Path(__file__).resolve()), "--inside", tmp,
             "--seconds", str(opts["seconds"]), "--subscribers", str(opts["subscribers"]),
             "--size", opts["size"], "--fps", str(opts["fps"])])
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False,
                              timeout=opts["seconds"] + 240)
        lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
        if done.returncode != 0 or not lines:
            log = Path(tmp) / "janus" / "janus.log"
            tail = log.read_text(errors="replace").splitlines()[-20:] if log.exists() else []
            raise RuntimeError(f"janus bench failed (exit {done.returncode}):\n"
                               f"{done.stderr[-4000:]}\n" + "\n".join(tail))
        return {**base, **json.loads(lines[-1]),
                "network": "private namespace, 127.0.0.1 only"}


# --- the measurement (inside the namespace when there is one) ----------------------------

def _cpu_s(pid: int | str) -> float:
    if pid == "self":  # finer than clock ticks
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def _rss_mb(pid: int | str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _measure(work: Path, opts: dict[str, Any], *, netns: bool) -> dict[str, Any]:
    janus = LocalJanus(CONFIG, work / "janus",
                       loopback_interface=NETNS_INTERFACE if netns else None)
    (work / "janus").mkdir(parents=True, exist_ok=True)
    janus.start()
    context = multiprocessing.get_context("spawn")
    here, there = context.Pipe()
    peers = context.Process(target=_peers_main, daemon=True,
                            args=(there, opts["subscribers"], opts["size"], opts["fps"],
                                  netns))
    engine = JanusEngine(SimpleNamespace(janus_url=janus.url, turn_urls=(), turn_secret=""))
    try:
        engine.start()
        engine.open_room(ROOM)
        peers.start()
        there.close()  # the peers' end: a crash there then ends our recv() with EOFError
        kind, offer = here.recv()
        assert kind == "publish", kind
        here.send(engine.publish(ROOM, PUBLISHER, offer))
        for index in range(opts["subscribers"]):
            seat = f"seat-sub{index}"
            here.send(("offer", index, engine.subscribe(ROOM, seat, PUBLISHER)))
            kind, answer = here.recv()
            engine.subscribe_answer(ROOM, seat, PUBLISHER, answer)
        if not here.poll(60):
            raise RuntimeError("the peers did not receive media within 60 s")
        ready = here.recv()
        if ready[0] != "ready":
            raise RuntimeError(f"peers: {ready}")

        engine.start_recording(ROOM, work / "rec")
        engine.request_keyframes(ROOM)
        here.send(("mark",))
        start_counts = here.recv()[1]
        t0, janus0, portal0 = time.monotonic(), _cpu_s(janus.pid), _cpu_s("self")
        time.sleep(opts["seconds"])
        t1, janus1, portal1 = time.monotonic(), _cpu_s(janus.pid), _cpu_s("self")
        janus_rss, portal_rss = _rss_mb(janus.pid), _rss_mb("self")
        here.send(("mark",))
        end_counts = here.recv()[1]

        children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        stop_started = time.monotonic()
        segments = engine.stop_recording(ROOM)
        stop_s = time.monotonic() - stop_started
        children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        here.send(("stop",))
    finally:
        engine.stop()
        if peers.is_alive():
            peers.join(timeout=10)
            if peers.is_alive():
                peers.kill()
        janus.stop()

    wall = t1 - t0
    janus_cpu = (janus1 - janus0) / wall
    portal_cpu = (portal1 - portal0) / wall
    fps = [(end - start) / wall for start, end in
           zip(start_counts["video"], end_counts["video"], strict=True)]
    duration = max(((s.ended_at - s.started_at).total_seconds() for s in segments),
                   default=0.0)
    return {
        "cpu_s_per_s": round(janus_cpu + portal_cpu, 4),
        "rss_mb": round(janus_rss + portal_rss, 1),
        "janus_cpu_s_per_s": round(janus_cpu, 4),
        "portal_cpu_s_per_s": round(portal_cpu, 4),
        "janus_rss_mb": round(janus_rss, 1),
        "portal_rss_mb": round(portal_rss, 1),
        "seconds": round(wall, 1),
        "video": f"{opts['size']}@{opts['fps']}",
        "subscriber_video_fps_min": round(min(fps), 1),
        "subscriber_video_fps_mean": round(sum(fps) / len(fps), 1),
        "segments": len(segments),
        "segment_s": round(duration, 2),
        "stop_recording_s": round(stop_s, 2),
        "convert_cpu_s": round((children1.ru_utime + children1.ru_stime)
                               - (children0.ru_utime + children0.ru_stime), 2),
    }


# --- the synthetic peers: their own process ----------------------------------------------

def _peers_main(conn: Any, subscribers: int, size: str, fps: int, loopback: bool) -> None:
    import asyncio

    if loopback:
        import aioice.ice

        aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=False: ["127.0.0.1"]
    asyncio.run(_peers(conn, subscribers, size, fps))


async def _peers(conn: Any, subscribers: int, size: str, fps: int) -> None:
    import asyncio
    import contextlib

    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.contrib.media import MediaPlayer
    from aiortc.mediastreams import MediaStreamError

    loop = asyncio.get_running_loop()

    async def recv() -> Any:
        return await loop.run_in_executor(None, conn.recv)

    counts: dict[str, list[int]] = {"video": [0] * subscribers, "audio": [0] * subscribers}
    pcs: list[Any] = []
    audio = MediaPlayer("sine=frequency=440:sample_rate=48000", format="lavfi")
    video = MediaPlayer(f"testsrc=size={size}:rate={fps},format=yuv420p", format="lavfi")
    try:
        pub = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pcs.append(pub)
        pub.addTrack(audio.audio)
        pub.addTrack(video.video)
        await pub.setLocalDescription(await pub.createOffer())
        conn.send(("publish", pub.localDescription.sdp))
        answer = await recv()
        await pub.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

        async def consume(track: Any, index: int) -> None:
            with contextlib.suppress(MediaStreamError):
                while True:
                    await track.recv()
                    counts[track.kind][index] += 1

        for _ in range(subscribers):
            _kind, index, offer = await recv()
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            pcs.append(pc)
            pc.on("track", lambda track, i=index: asyncio.ensure_future(consume(track, i)))
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            conn.send(("answer", pc.localDescription.sdp))
        deadline = time.monotonic() + 45
        while min(counts["video"]) < 10 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        if min(counts["video"]) < 10:
            conn.send(("failed", {k: list(v) for k, v in counts.items()}))
            return
        conn.send(("ready", None))
        while True:
            message = await recv()
            if message[0] == "mark":
                conn.send(("counts", {k: list(v) for k, v in counts.items()}))
            else:
                break
    finally:
        for pc in pcs:
            with contextlib.suppress(Exception):
                await pc.close()
        for track in (audio.audio, video.video):
            if track is not None:
                track.stop()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--subscribers", type=int, default=8)
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--inside", help=argparse.SUPPRESS)
    return parser


if __name__ == "__main__":
    arguments = _parser().parse_args()
    if arguments.inside:  # run() re-executed this file inside the namespace
        print(json.dumps(_measure(Path(arguments.inside), _options(arguments), netns=True)),
              flush=True)
    else:
        print(json.dumps(run(arguments)), flush=True)
