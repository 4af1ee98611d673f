"""The embedded media engine: browsers talk peer to peer (a mesh), the server only holds
*recorder* peers.

While a room records, every admitted browser sends its tracks to one aiortc peer here
(`publish`), which writes them to one segment file per connection (Matroska: a crash
leaves it playable up to the last cluster, at most about a second lost).

- Every aiortc object lives on ONE asyncio loop running in a daemon thread started by
  `start()`; the public methods are blocking and thread-safe: they hand their work to the
  loop with `asyncio.run_coroutine_threadsafe(...).result(timeout)`.
- Encoding runs in one writer thread per segment (PyAV releases the GIL while it
  encodes), so a slow encoder never stalls ICE, DTLS or RTP on the loop; frames are
  handed over through a bounded queue (video frames are dropped, never the loop blocked,
  when an encoder falls behind).
- Timestamps: each track's RTP clock is anchored to the wall clock at its first frame
  in the segment, so picture and sound start where they arrived and stay in step;
  lost sound is filled with silence (an AAC track must be continuous), a jump of more
  than a second re-anchors the track.
- A publish while the room does *not* record is accepted: the peer connects and its
  frames are read and thrown away (nothing is written), so that `start_recording`
  starts a segment for it at once and a late or early `media_offer` never fails on a
  race with the record button. `stop_recording` closes the segments and leaves the
  peers connected; a later `start_recording` opens new segments for them.
- The peer connection always gets `RTCConfiguration(iceServers=[...])` with the
  deployment's own list (possibly empty), never None: aiortc would then ask a public
  STUN server.
- A keyframe is requested (RTCP PLI) when a segment opens and every `pli_interval_s`
  while recording: aiortc's receiver does not ask by itself, and a damaged picture
  would otherwise persist in the recording."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import re
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

import av
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

from video import turn
from video.engines.base import MediaError, Segment, Topology

log = logging.getLogger(__name__)

T = TypeVar("T")

#: identity the server's own recorder peers use for TURN credentials
RECORDER_IDENTITY = "portal-recorder"
#: seconds a segment waits for its first picture before it starts with sound only
#: (the picture size must be known before the file's header is written)
VIDEO_WAIT_S = 2.0
#: a track whose RTP clock and the wall clock disagree by more than this is re-anchored
RESYNC_S = 1.0
#: frames (audio and video together) that may wait for a segment's encoder
QUEUE_FRAMES = 500
#: pictures that may wait (about 1.5 s, 20 MB at 640x480): later ones are dropped
VIDEO_BACKLOG = 45
#: sound arriving more than this behind its place is dropped instead of written late
AUDIO_LATE_S = 0.2
DEFAULT_SIZE = (640, 480)
AUDIO_RATE = 48000
_MS = Fraction(1, 1000)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _safe_name(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", key) or "seat"


class SegmentWriter:
    """One segment file, encoded and written by a thread of its own.

    The loop calls `put` for each frame received; `close` (blocking: run it off the loop)
    flushes the encoders and closes the file. The file is created only when the first
    frame arrives: a connection that never delivers media leaves nothing on disk."""

    def __init__(self, seat_key: str, path: Path, kinds: set[str], *,
                 video_options: dict[str, str] | None = None) -> None:
        self.seat_key = seat_key
        self.path = path
        self.kinds = set(kinds)
        self.started_at = _utcnow()
        self.ended_at: datetime | None = None
        self.frames_written = {"audio": 0, "video": 0}
        self.frames_dropped = 0
        self.error: str | None = None
        self._t0 = time.monotonic()
        self._video_options = dict(video_options or {})
        self._queue: queue.Queue[tuple[str, Any, float] | None] = queue.Queue(QUEUE_FRAMES)
        self._closing = threading.Event()
        self._container: Any = None
        self._video: Any = None
        self._audio: Any = None
        self._size = DEFAULT_SIZE
        #: per kind: (wall seconds, media seconds) of the anchor frame
        self._anchor: dict[str, tuple[float, float]] = {}
        self._last_video_ms = -1
        self._audio_next = 0  # next sample to write
        self._thread = threading.Thread(target=self._run, name=f"rec-{path.name}",
                                        daemon=True)
        self._thread.start()

    # -- called on the loop -------------------------------------------------------
    def put(self, kind: str, frame: Any, arrival: float | None = None) -> None:
        """Queue a received frame; `arrival` (seconds since the segment began) is now
        unless given (tests)."""
        if self._closing.is_set() or not self._thread.is_alive():
            return
        if kind == "video" and self._queue.qsize() > VIDEO_BACKLOG:
            self.frames_dropped += 1
            return
        if arrival is None:
            arrival = time.monotonic() - self._t0
        try:
            self._queue.put_nowait((kind, frame, arrival))
        except queue.Full:
            self.frames_dropped += 1

    @property
    def backlog(self) -> int:
        """Frames waiting for the encoder."""
        return self._queue.qsize()

    def request_close(self) -> None:
        """Mark the end of the segment (its `ended_at`); frames after it are ignored."""
        if not self._closing.is_set():
            self.ended_at = _utcnow()
            self._closing.set()

    # -- blocking -----------------------------------------------------------------
    def close(self, timeout: float = 30.0) -> Segment | None:
        """Flush and close the file; the Segment, or None when nothing was written."""
        self.request_close()
        deadline = time.monotonic() + timeout
        while self._thread.is_alive():  # the sentinel must get in even if the queue is full
            try:
                self._queue.put(None, timeout=0.2)
                break
            except queue.Full:
                if time.monotonic() > deadline:
                    break
        self._thread.join(max(0.1, deadline - time.monotonic()))
        if self._thread.is_alive():
            log.error("recorder: %s did not finish within %.0f s", self.path, timeout)
        log.info("recorder: %s closed: %d video, %d audio frames, %d dropped%s", self.path,
                 self.frames_written["video"], self.frames_written["audio"],
                 self.frames_dropped, f", error: {self.error}" if self.error else "")
        if not self.path.exists() or self.path.stat().st_size == 0:
            self.path.unlink(missing_ok=True)
            return None
        assert self.ended_at is not None
        return Segment(self.seat_key, self.path, self.started_at, self.ended_at)

    # -- the writer thread --------------------------------------------------------
    def _run(self) -> None:
        pending: list[tuple[str, Any, float]] = []
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    break
                if self._container is not None:
                    self._write(*item)
                    continue
                pending.append(item)
                kind, frame, arrival = item
                if (kind == "video" or "video" not in self.kinds
                        or arrival - pending[0][2] > VIDEO_WAIT_S):
                    self._open(frame if kind == "video" else None)
                    for queued in pending:
                        self._write(*queued)
                    pending = []
            if pending:  # closed before any picture: keep the sound that came
                self._open(None)
                for queued in pending:
                    self._write(*queued)
        except Exception as exc:  # the file stays playable up to here
            self.error = f"{type(exc).__name__}: {exc}"
            log.exception("recorder: writing %s failed", self.path)
        finally:
            self._finish()

    def _open(self, first_video: Any) -> None:
        if first_video is not None:
            self._size = (first_video.width - first_video.width % 2,
                          first_video.height - first_video.height % 2)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # every packet goes to the file at once (no 256 KB buffer a crash would lose),
        # in clusters of at most a second
        container = av.open(str(self.path), mode="w", format="matroska",
                            options={"flush_packets": "1", "cluster_time_limit": "1000"})
        self._container = container
        if "video" in self.kinds:
            video = container.add_stream("libx264", rate=30, options=self._video_options)
            video.width, video.height = self._size
            video.pix_fmt = "yuv420p"
            video.codec_context.time_base = _MS
            video.codec_context.gop_size = 60  # a keyframe at least every 2 s: seekable
            self._video = video
        if "audio" in self.kinds:
            audio = container.add_stream("aac", rate=AUDIO_RATE)
            audio.codec_context.layout = "stereo"
            audio.codec_context.time_base = Fraction(1, AUDIO_RATE)
            self._audio = audio

    def _media_time(self, kind: str, frame: Any, arrival: float) -> float:
        media = (float(frame.pts * frame.time_base)
                 if frame.pts is not None and frame.time_base else None)
        anchor = self._anchor.get(kind)
        if media is None:
            return arrival
        if anchor is not None:
            at = anchor[0] + (media - anchor[1])
            if abs(at - arrival) <= RESYNC_S:
                return at
        self._anchor[kind] = (arrival, media)
        return arrival

    def _write(self, kind: str, frame: Any, arrival: float) -> None:
        at = self._media_time(kind, frame, arrival)
        if kind == "video" and self._video is not None:
            pts = round(at * 1000)
            if pts <= self._last_video_ms:
                self.frames_dropped += 1
                return
            width, height = self._size
            if (frame.width, frame.height) != (width, height) or frame.format.name != "yuv420p":
                frame = frame.reformat(width=width, height=height, format="yuv420p")
            frame.pts, frame.time_base = pts, _MS
            for packet in self._video.encode(frame):
                self._container.mux(packet)
            self._last_video_ms = pts
            self.frames_written["video"] += 1
        elif kind == "audio" and self._audio is not None:
            rate = frame.sample_rate or AUDIO_RATE
            target = round(at * rate)
            gap = target - self._audio_next
            if gap < -AUDIO_LATE_S * rate:
                self.frames_dropped += 1
                return
            if gap > frame.samples:  # lost or late sound: silence keeps the track continuous
                self._silence(frame, gap, rate)
            frame.pts, frame.time_base = self._audio_next, Fraction(1, rate)
            self._encode_audio(frame)
            self._audio_next += frame.samples
            self.frames_written["audio"] += 1

    def _silence(self, like: Any, samples: int, rate: int) -> None:
        while samples > 0:
            chunk = min(samples, rate // 10)
            silent = av.AudioFrame(format=like.format.name, layout=like.layout.name,
                                   samples=chunk, align=1)
            for plane in silent.planes:
                plane.update(bytes(plane.buffer_size))
            silent.sample_rate = rate
            silent.pts, silent.time_base = self._audio_next, Fraction(1, rate)
            self._encode_audio(silent)
            self._audio_next += chunk
            samples -= chunk

    def _encode_audio(self, frame: Any) -> None:
        for packet in self._audio.encode(frame):
            self._container.mux(packet)

    def _finish(self) -> None:
        container, self._container = self._container, None
        if container is None:
            return
        try:
            for stream in (self._video, self._audio):
                if stream is None:
                    continue
                try:
                    for packet in stream.encode(None):
                        container.mux(packet)
                except Exception as exc:  # keep closing the file
                    self.error = self.error or f"flush: {exc}"
        finally:
            try:
                container.close()
            except Exception as exc:
                self.error = self.error or f"close: {exc}"
                log.warning("recorder: closing %s: %s", self.path, exc)


@dataclass(eq=False)
class _Publisher:
    room_key: str
    seat_key: str
    pc: RTCPeerConnection
    kinds: set[str] = field(default_factory=set)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    writer: SegmentWriter | None = None
    closed: bool = False


@dataclass(eq=False)
class _Room:
    key: str
    directory: Path | None = None
    publishers: dict[str, _Publisher] = field(default_factory=dict)
    #: segments closed since recording started, not yet handed back
    segments: list[Segment] = field(default_factory=list)
    #: writers being closed (stop_recording waits for them)
    closing: set[asyncio.Future[None]] = field(default_factory=set)
    pli_task: asyncio.Task[None] | None = None


class AiortcEngine:
    name = "aiortc"
    topology: Topology = "mesh"

    def __init__(self, settings: Any, *, call_timeout_s: float = 30.0,
                 pli_interval_s: float = 2.0,
                 video_options: dict[str, str] | None = None) -> None:
        self._settings = settings
        self._call_timeout_s = call_timeout_s
        self._pli_interval_s = pli_interval_s
        #: libx264 options of the segments: fast enough for a 1:1 call on one core
        self._video_options = video_options or {
            "preset": "veryfast", "tune": "zerolatency", "crf": "23"}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._rooms: dict[str, _Room] = {}
        # the list is checked now, so a bad PORTAL_TURN_URLS stops the start, not a call
        self.ice_servers(RECORDER_IDENTITY)
        hosts = list(getattr(settings, "media_hosts", ()) or ())
        if hosts:
            # the recorder peers offer only these addresses (aioice asks the interfaces
            # itself, and aiortc has no option for it; this process's peers are all ours)
            import aioice.ice

            def offered(use_ipv4: bool = True, use_ipv6: bool = False) -> list[str]:
                return list(hosts)

            aioice.ice.get_host_addresses = offered

    # -- life cycle -----------------------------------------------------------------
    def start(self) -> None:
        with self._start_lock:
            if self._thread is not None and self._thread.is_alive():
                return
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()
                with contextlib.suppress(Exception):
                    loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

            thread = threading.Thread(target=run, name="aiortc-engine", daemon=True)
            thread.start()
            if not ready.wait(10):
                raise MediaError("the media loop did not start")
            self._loop, self._thread = loop, thread

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        try:
            self._call(self._close_all(), timeout=self._call_timeout_s)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            self._loop = self._thread = None

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        if self._thread is None or not self._thread.is_alive():
            self.start()
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("AiortcEngine's blocking methods cannot run on its own loop")
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout or self._call_timeout_s)
        except TimeoutError as exc:
            future.cancel()
            raise MediaError("the media engine did not answer in time") from exc

    # -- the interface ----------------------------------------------------------------
    def ice_servers(self, identity: str) -> list[dict[str, object]]:
        return turn.ice_servers_for(self._settings, identity)

    def configuration(self) -> RTCConfiguration:
        """The configuration of every server peer: the deployment's own servers only,
        always an explicit list (possibly empty)."""
        servers = []
        for server in self.ice_servers(RECORDER_IDENTITY):
            urls = server["urls"]
            # aiortc knows stun:, turn: and turns: (one of each is used)
            usable = [u for u in ([urls] if isinstance(urls, str) else list(urls))  # type: ignore[call-overload]
                      if turn.parse_url(u)[0] in ("stun", "turn", "turns")]
            if usable:
                servers.append(RTCIceServer(urls=usable,
                                            username=server.get("username"),  # type: ignore[arg-type]
                                            credential=server.get("credential")))  # type: ignore[arg-type]
        return RTCConfiguration(iceServers=servers)

    def open_room(self, room_key: str) -> None:
        self._call(self._open_room(room_key))

    def close_room(self, room_key: str) -> list[Segment]:
        return self._call(self._close_room(room_key))

    def publish(self, room_key: str, seat_key: str, offer_sdp: str) -> str:
        return self._call(self._publish(room_key, seat_key, offer_sdp))

    def unpublish(self, room_key: str, seat_key: str) -> None:
        self._call(self._unpublish(room_key, seat_key))

    def subscribe(self, room_key: str, seat_key: str, feed_seat_key: str) -> str:
        raise MediaError("the aiortc engine is peer to peer: browsers receive each "
                         "other's media directly, there is nothing to subscribe to")

    def subscribe_answer(self, room_key: str, seat_key: str, feed_seat_key: str,
                         answer_sdp: str) -> None:
        raise MediaError("the aiortc engine is peer to peer: nothing to subscribe to")

    def start_recording(self, room_key: str, directory: Path) -> None:
        Path(directory).mkdir(parents=True, exist_ok=True)
        self._call(self._start_recording(room_key, Path(directory)))

    def stop_recording(self, room_key: str) -> list[Segment]:
        return self._call(self._stop_recording(room_key))

    def request_keyframes(self, room_key: str) -> None:
        self._call(self._request_keyframes(room_key))

    def is_recording(self, room_key: str) -> bool:
        room = self._rooms.get(room_key)
        return room is not None and room.directory is not None

    def seats(self, room_key: str) -> list[str]:
        """The seats that have a live recorder peer in the room (diagnostics, tests)."""
        return self._call(self._seats(room_key))

    # -- on the loop ------------------------------------------------------------------
    async def _open_room(self, room_key: str) -> _Room:
        room = self._rooms.get(room_key)
        if room is None:
            room = self._rooms[room_key] = _Room(room_key)
        return room

    async def _seats(self, room_key: str) -> list[str]:
        room = self._rooms.get(room_key)
        return sorted(room.publishers) if room else []

    async def _publish(self, room_key: str, seat_key: str, offer_sdp: str) -> str:
        room = await self._open_room(room_key)
        old = room.publishers.get(seat_key)
        if old is not None:  # a reconnect: the old connection's segment ends here
            await self._retire(room, old)
        pc = RTCPeerConnection(self.configuration())
        pub = _Publisher(room_key, seat_key, pc)
        room.publishers[seat_key] = pub
        loop = asyncio.get_running_loop()

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            pub.kinds.add(track.kind)
            pub.tasks.append(loop.create_task(self._consume(pub, track)))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                await self._retire(room, pub)

        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            if not pub.kinds:
                raise MediaError("the offer sends neither audio nor video")
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:
            await self._retire(room, pub)
            if isinstance(exc, MediaError):
                raise
            raise MediaError(f"the offer could not be answered: {exc}") from exc
        if room.directory is not None:
            self._start_writer(room, pub)
        log.info("engine: %s/%s published (%s), recording=%s", room_key, seat_key,
                 "+".join(sorted(pub.kinds)), room.directory is not None)
        return pc.localDescription.sdp

    async def _consume(self, pub: _Publisher, track: MediaStreamTrack) -> None:
        """Read every frame of a track; hand it to the segment writer while recording,
        throw it away otherwise (the receiver's queue must not grow)."""
        try:
            while True:
                frame = await track.recv()
                writer = pub.writer
                if writer is not None:
                    writer.put(track.kind, frame)
        except MediaStreamError:
            pass

    def _start_writer(self, room: _Room, pub: _Publisher) -> None:
        assert room.directory is not None
        if pub.writer is not None or pub.closed:
            return
        stamp = _utcnow().strftime("%Y%m%dT%H%M%S")
        base = f"{_safe_name(pub.seat_key)}-{stamp}"
        path = room.directory / f"{base}.mkv"
        number = 1
        while path.exists():
            number += 1
            path = room.directory / f"{base}-{number}.mkv"
        path.touch(exist_ok=False)  # reserve the name; an unused one is removed on close
        pub.writer = SegmentWriter(pub.seat_key, path, pub.kinds,
                                   video_options=self._video_options)
        asyncio.get_running_loop().create_task(self._send_pli(pub))

    async def _end_segment(self, room: _Room, pub: _Publisher) -> None:
        writer, pub.writer = pub.writer, None
        if writer is None:
            return
        writer.request_close()
        loop = asyncio.get_running_loop()

        async def finish() -> None:
            try:
                segment = await loop.run_in_executor(None, writer.close)
            except Exception:
                log.exception("recorder: closing %s failed", writer.path)
                segment = None
            if segment is not None:
                room.segments.append(segment)

        task = loop.create_task(finish())
        room.closing.add(task)
        task.add_done_callback(room.closing.discard)
        await asyncio.shield(task)

    async def _retire(self, room: _Room, pub: _Publisher) -> None:
        """Close a publisher's connection and its segment (once, whatever calls it)."""
        if pub.closed:
            return
        pub.closed = True
        if room.publishers.get(pub.seat_key) is pub:
            del room.publishers[pub.seat_key]
        try:
            await pub.pc.close()
        except Exception:
            log.exception("engine: closing %s/%s", pub.room_key, pub.seat_key)
        finally:
            try:
                await self._end_segment(room, pub)
            finally:
                for task in pub.tasks:
                    task.cancel()

    async def _unpublish(self, room_key: str, seat_key: str) -> None:
        room = self._rooms.get(room_key)
        pub = room.publishers.get(seat_key) if room else None
        if room is not None and pub is not None:
            await self._retire(room, pub)

    async def _start_recording(self, room_key: str, directory: Path) -> None:
        room = await self._open_room(room_key)
        room.directory = directory
        for pub in list(room.publishers.values()):
            self._start_writer(room, pub)
        if room.pli_task is None or room.pli_task.done():
            room.pli_task = asyncio.get_running_loop().create_task(self._pli_timer(room))
        log.info("engine: %s records into %s", room_key, directory)

    async def _stop_recording(self, room_key: str) -> list[Segment]:
        room = self._rooms.get(room_key)
        if room is None:
            return []
        room.directory = None
        if room.pli_task is not None:
            room.pli_task.cancel()
            room.pli_task = None
        try:
            for pub in list(room.publishers.values()):
                await self._end_segment(room, pub)
        finally:
            if room.closing:
                await asyncio.gather(*list(room.closing), return_exceptions=True)
        segments = sorted(room.segments, key=lambda s: (s.started_at, s.seat_key))
        room.segments = []
        log.info("engine: %s stopped recording, %d segment(s)", room_key, len(segments))
        return segments

    async def _close_room(self, room_key: str) -> list[Segment]:
        room = self._rooms.get(room_key)
        if room is None:
            return []
        try:
            for pub in list(room.publishers.values()):
                await self._retire(room, pub)
        finally:
            segments = await self._stop_recording(room_key)
            self._rooms.pop(room_key, None)
        return segments

    async def _close_all(self) -> None:
        for room_key in list(self._rooms):
            try:
                await self._close_room(room_key)
            except Exception:
                log.exception("engine: closing room %s", room_key)

    async def _send_pli(self, pub: _Publisher) -> None:
        for transceiver in pub.pc.getTransceivers():
            if transceiver.kind != "video":
                continue
            receiver = transceiver.receiver
            for source in receiver.getSynchronizationSources():
                try:
                    await receiver._send_rtcp_pli(source.source)
                except Exception:  # a closing transport: the next tick tries again
                    log.debug("engine: PLI to %s failed", pub.seat_key, exc_info=True)

    async def _request_keyframes(self, room_key: str) -> None:
        room = self._rooms.get(room_key)
        for pub in list(room.publishers.values()) if room else []:
            await self._send_pli(pub)

    async def _pli_timer(self, room: _Room) -> None:
        while room.directory is not None:
            await asyncio.sleep(self._pli_interval_s)
            for pub in list(room.publishers.values()):
                if pub.writer is not None:
                    await self._send_pli(pub)
