"""The `janus` media engine: browsers publish to and subscribe from a Janus VideoRoom.

Janus (Debian package `janus`, config in deploy/janus/) is driven through its HTTP API at
`settings.janus_url` with the standard library only:

- one Janus *session* per engine, kept alive by a keepalive every 20 s (Janus reaps a
  session after 60 s of silence), and one long-poll thread that reads the session's
  asynchronous events and hands each to the caller waiting on its transaction;
- one VideoRoom per room (id derived from `room_key`, so every portal process that talks
  to the same Janus finds the same room), created with recording off;
- one *publisher* handle per seat connection (`publish`), one *subscriber* handle per
  (seat, feed) pair (`subscribe` gets Janus's offer, `subscribe_answer` starts it).
  A feed published through another portal process is found by its display name (the
  seat key), and a second connection of a seat pushes the first out of the room, even
  when the first came through another process (no ghost left behind);
- recording is the room's, kept by Janus: each publisher joins with a file name of its
  own ("<seat>--<feed id>"); `start_recording` points the room's `rec_dir` at a new
  folder under the given directory and switches room recording on, so Janus writes one
  .mjr per stream (audio, video) per connection of every publisher, also those that
  join later or come through another portal process, and nothing while not recording.
  `stop_recording` (from any process) switches it off, waits until Janus has closed the
  files (the `.mjr.tmp` → `.mjr` rename when `recordings_tmp_ext` is set, and in any case
  until they stop growing: Janus writes no other "finished" mark), converts each stream
  with janus-pp-rec (Opus → .opus, VP8 → .webm), aligns audio and video with the
  first-packet times of the .mjr headers (`janus-pp-rec -j`) and muxes them with ffmpeg
  into one MKV segment per connection.

Every public method is blocking and thread-safe (one lock per room; the event thread
takes no room lock). Failures raise `MediaError` with a message fit for staff."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from video.engines.base import MediaError, Segment, Topology
from video.turn import TurnConfigError, ice_servers_for

log = logging.getLogger(__name__)

PLUGIN = "janus.plugin.videoroom"

#: Janus core error codes (janus/apierror.h) and VideoRoom ones (janus_videoroom.c)
_SESSION_NOT_FOUND = 458
_HANDLE_NOT_FOUND = 459
_NO_SUCH_ROOM = 426
_ROOM_EXISTS = 427
_NO_SUCH_FEED = 428

#: the room settings the portal relies on (see deploy/janus/janus.plugin.videoroom.jcfg)
ROOM_DEFAULTS: dict[str, Any] = {
    "publishers": 64,
    # listed by "list" so any portal process can read the room's recording state; only
    # the portal reaches Janus's API
    "is_private": False,
    "audiocodec": "opus",
    "videocodec": "vp8",
    # a keyframe request every 2 s: recordings and new subscribers do not stay black
    "fir_freq": 2,
    "bitrate": 1_000_000,
    "record": False,
    "notify_joining": False,
    "permanent": False,
}

#: "<base>-audio-0.mjr" → base (the publisher's file name), kind
_MJR_NAME = re.compile(r"^(?P<base>.+)-(?P<kind>audio|video|data)-\d+\.mjr$")


class _JanusError(MediaError):
    """An error reply from Janus or its VideoRoom plugin (with its numeric code)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"The video server refused the request: {reason} (code {code}).")
        self.code = code
        self.reason = reason


class _HttpStatus(MediaError):
    """Janus answered with an HTTP error status (404: unknown session or wrong path)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class _Waiter:
    """One caller waiting for the asynchronous event of its transaction."""

    __slots__ = ("done", "event")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.event: dict[str, Any] | None = None


@dataclass
class _Publisher:
    handle: int
    feed: int


@dataclass
class _Room:
    key: str
    janus_id: int
    lock: threading.RLock = field(default_factory=threading.RLock)
    created: bool = False
    #: this process's publishers: seat → its handle and feed
    publishers: dict[str, _Publisher] = field(default_factory=dict)
    #: this process's subscriptions: (subscriber seat, feed seat) → handle
    subscribers: dict[tuple[str, str], int] = field(default_factory=dict)


def room_id_for(room_key: str) -> int:
    """A stable VideoRoom id for a room key: 48 bits of its SHA-256 (safe in JSON/JS)."""
    return int.from_bytes(hashlib.sha256(room_key.encode()).digest()[:6], "big") or 1


def recording_name(seat_key: str, feed: int) -> str:
    """The file name a publisher connection records under: "<seat>--<feed id>"."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,80}", seat_key) or "--" in seat_key:
        raise MediaError(f"Seat key {seat_key!r} cannot name a recording file.")
    return f"{seat_key}--{feed}"


def seat_of(recording_base: str) -> str:
    return recording_base.rsplit("--", 1)[0]


class JanusEngine:
    name = "janus"
    topology: Topology = "sfu"

    #: seconds between keepalives (Janus's session_timeout is 60 s)
    keepalive_s = 20.0
    #: seconds to wait for an HTTP reply, and for an asynchronous event
    http_timeout_s = 10.0
    event_timeout_s = 20.0
    #: seconds to wait for Janus to close the recording files after recording stops
    close_timeout_s = 15.0

    def __init__(self, settings: Any, *, janus_pp_rec: str = "janus-pp-rec",
                 ffmpeg: str = "ffmpeg") -> None:
        self.settings = settings
        self.url = (getattr(settings, "janus_url", "") or "").rstrip("/")
        self.janus_pp_rec = janus_pp_rec
        self.ffmpeg = ffmpeg
        self._lock = threading.RLock()
        self._rooms: dict[str, _Room] = {}
        self._waiters: dict[str, _Waiter] = {}
        self._waiters_lock = threading.Lock()
        self._session: int | None = None
        self._control: int | None = None
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            if not self.url:
                raise MediaError("PORTAL_JANUS_URL is not set: the janus media engine needs "
                                 "the address of Janus's HTTP API, e.g. "
                                 "http://127.0.0.1:8088/janus.")
            self._new_session()
            if not self._threads:
                # each start has its own stop flag: threads of an earlier start that are
                # still inside a long poll end on their own flag, never run twice
                self._stopping = stopping = threading.Event()
                for target, name in ((self._event_loop, "janus-events"),
                                     (self._keepalive_loop, "janus-keepalive")):
                    thread = threading.Thread(target=target, args=(stopping,), name=name,
                                              daemon=True)
                    thread.start()
                    self._threads.append(thread)

    def stop(self) -> None:
        """Close this process's handles and end its session. Rooms stay in Janus (other
        portal processes may use them; `close_room` destroys one); a recording in
        progress goes on until `stop_recording`."""
        with self._lock:
            rooms = list(self._rooms.values())
        for room in rooms:
            with room.lock:
                self._detach_all(room)
        with self._lock:
            self._stopping.set()
            session, self._session, self._control = self._session, None, None
            self._rooms.clear()
        if session is not None:
            with contextlib.suppress(MediaError):
                self._post(f"/{session}", {"janus": "destroy"}, timeout=3)
        # the event thread may sit in a long poll (up to 30 s): it ends when that returns
        for thread in self._threads:
            thread.join(timeout=1)
        self._threads.clear()
        with self._waiters_lock:
            for waiter in self._waiters.values():
                waiter.done.set()

    def ice_servers(self, identity: str) -> list[dict[str, object]]:
        try:
            return ice_servers_for(self.settings, identity)
        except TurnConfigError as exc:
            raise MediaError(f"TURN is misconfigured (PORTAL_TURN_URLS): {exc}") from exc

    # --- rooms --------------------------------------------------------------------------

    def open_room(self, room_key: str) -> None:
        room = self._room(room_key)
        with room.lock:
            self._ensure_room(room)

    def close_room(self, room_key: str) -> list[Segment]:
        """Stop the recording (its segments are returned), close every connection of the
        room, in this process and others, and destroy the room in Janus."""
        room = self._room(room_key)
        with room.lock:
            segments: list[Segment] = []
            try:
                segments = self.stop_recording(room_key)
            finally:
                self._detach_all(room)
                try:
                    self._control_message({"request": "destroy", "room": room.janus_id})
                except _JanusError as exc:
                    if exc.code != _NO_SUCH_ROOM:
                        log.warning("janus: destroying %s: %s", room.key, exc)
                room.created = False
                with self._lock:
                    self._rooms.pop(room_key, None)
            return segments

    # --- publishing and subscribing -----------------------------------------------------

    def publish(self, room_key: str, seat_key: str, offer_sdp: str) -> str:
        if "m=" not in offer_sdp:
            raise MediaError("The browser's offer is not a valid SDP.")
        room = self._room(room_key)
        with room.lock:
            self._ensure_room(room)
            # a reconnect: the new connection replaces the old one, wherever it came from
            self._drop_publisher(room, seat_key)
            feed = secrets.randbits(48) | 1
            filename = recording_name(seat_key, feed)
            handle = self._attach(f"{room_key}/{seat_key}/pub")
            try:
                self._message(handle, {"request": "join", "ptype": "publisher",
                                       "room": room.janus_id, "id": feed,
                                       "display": seat_key})
                data, jsep = self._message(
                    handle, {"request": "publish", "filename": filename},
                    jsep={"type": "offer", "sdp": offer_sdp, "trickle": False})
                if not jsep or jsep.get("type") != "answer" or not jsep.get("sdp"):
                    raise MediaError("The video server did not answer the browser's offer "
                                     f"({data.get('error') or 'no SDP in its reply'}).")
            except MediaError:
                self._detach(handle)
                raise
            room.publishers[seat_key] = _Publisher(handle=handle, feed=feed)
            return str(jsep["sdp"])

    def unpublish(self, room_key: str, seat_key: str) -> None:
        """The seat leaves the SFU: its publisher (also one connected through another
        portal process) and this process's subscriptions from or to it are closed. Janus
        closes the connection's recorder; its files stay for `stop_recording`."""
        room = self._room(room_key)
        with room.lock:
            self._drop_publisher(room, seat_key)
            for pair in [p for p in room.subscribers if seat_key in p]:
                self._detach(room.subscribers.pop(pair))

    def subscribe(self, room_key: str, seat_key: str, feed_seat_key: str) -> str:
        room = self._room(room_key)
        with room.lock:
            self._ensure_room(room)
            old = room.subscribers.pop((seat_key, feed_seat_key), None)
            if old is not None:
                self._detach(old)
            handle = self._attach(f"{room_key}/{seat_key}/sub/{feed_seat_key}")
            try:
                # right after `publish` Janus may not list the feed for a moment
                deadline = time.monotonic() + 5
                while True:
                    feed = self._feed_of(room, feed_seat_key)
                    try:
                        if feed is None:
                            raise _JanusError(_NO_SUCH_FEED, "no such feed")
                        data, jsep = self._message(handle, {
                            "request": "join", "ptype": "subscriber", "room": room.janus_id,
                            "streams": [{"feed": feed}]})
                        break
                    except _JanusError as exc:
                        if exc.code != _NO_SUCH_FEED:
                            raise
                        if time.monotonic() > deadline:
                            raise MediaError(f"{feed_seat_key} is not sending media in this "
                                             "room.") from exc
                        time.sleep(0.25)
                if not jsep or jsep.get("type") != "offer" or not jsep.get("sdp"):
                    raise MediaError("The video server made no offer for that participant's "
                                     "media.")
            except MediaError:
                self._detach(handle)
                raise
            room.subscribers[(seat_key, feed_seat_key)] = handle
            return str(jsep["sdp"])

    def subscribe_answer(self, room_key: str, seat_key: str, feed_seat_key: str,
                         answer_sdp: str) -> None:
        room = self._room(room_key)
        with room.lock:
            handle = room.subscribers.get((seat_key, feed_seat_key))
            if handle is None:
                raise MediaError("No pending subscription for that participant: "
                                 "ask for a new offer.")
            self._message(handle, {"request": "start"},
                          jsep={"type": "answer", "sdp": answer_sdp, "trickle": False})

    def request_keyframes(self, room_key: str) -> None:
        """A keyframe request (PLI) to each publisher of this process; those connected
        through other processes get one from Janus within `fir_freq` (2 s)."""
        room = self._room(room_key)
        with room.lock:
            for publisher in list(room.publishers.values()):
                try:
                    self._message(publisher.handle, {"request": "configure", "keyframe": True})
                except MediaError as exc:
                    log.info("janus: keyframe request: %s", exc)

    def _feed_of(self, room: _Room, seat_key: str) -> int | None:
        """The seat's feed id: this process's publisher, else Janus's participant list."""
        publisher = room.publishers.get(seat_key)
        if publisher is not None:
            return publisher.feed
        feeds = [int(p["id"]) for p in self._participants(room)
                 if p.get("display") == seat_key and p.get("publisher")]
        return feeds[-1] if feeds else None

    def _participants(self, room: _Room) -> list[dict[str, Any]]:
        try:
            data = self._control_message({"request": "listparticipants",
                                          "room": room.janus_id})
        except _JanusError as exc:
            if exc.code == _NO_SUCH_ROOM:
                return []
            raise
        return list(data.get("participants") or [])

    def _drop_publisher(self, room: _Room, seat_key: str) -> None:
        """Close the seat's publisher here and push out any other connection of it."""
        publisher = room.publishers.pop(seat_key, None)
        if publisher is not None:
            self._detach(publisher.handle)
            for pair in [p for p in room.subscribers if p[1] == seat_key]:
                self._detach(room.subscribers.pop(pair))
        for participant in self._participants(room):
            if participant.get("display") == seat_key:
                with contextlib.suppress(_JanusError):  # it may have left meanwhile
                    self._control_message({"request": "kick", "room": room.janus_id,
                                           "id": int(participant["id"])})

    def _detach_all(self, room: _Room) -> None:
        for handle in list(room.subscribers.values()):
            self._detach(handle)
        room.subscribers.clear()
        for publisher in list(room.publishers.values()):
            self._detach(publisher.handle)
        room.publishers.clear()

    # --- recording ----------------------------------------------------------------------

    def start_recording(self, room_key: str, directory: Path) -> None:
        room = self._room(room_key)
        with room.lock:
            self._ensure_room(room)
            info = self._room_info(room)
            if info is None:  # closed meanwhile through another process: make it again
                room.created = False
                self._ensure_room(room)
            elif info.get("record"):
                return  # already recording (maybe started through another process)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            folder = Path(directory).resolve() / f"janus-{stamp}-{secrets.token_hex(3)}"
            try:
                folder.mkdir(parents=True)
            except OSError as exc:
                raise MediaError(f"Cannot create the recording folder {folder}: "
                                 f"{exc.strerror}.") from exc
            self._control_message({"request": "edit", "room": room.janus_id,
                                   "new_rec_dir": str(folder)})
            self._control_message({"request": "enable_recording", "room": room.janus_id,
                                   "record": True})
        self.request_keyframes(room_key)

    def stop_recording(self, room_key: str) -> list[Segment]:
        """Switch the room's recording off and turn what Janus wrote into segments, one
        per publisher connection, oldest first. The .mjr files are removed once
        converted; when conversion fails they stay in the recording folder."""
        room = self._room(room_key)
        with room.lock:
            info = self._room_info(room)
            if info is None or not info.get("record"):
                return []
            folder = Path(str(info.get("rec_dir") or ""))
            try:
                self._control_message({"request": "enable_recording", "room": room.janus_id,
                                       "record": False})
            except MediaError:
                # at least this process's publishers stop writing
                for publisher in list(room.publishers.values()):
                    with contextlib.suppress(MediaError):
                        self._message(publisher.handle, {"request": "configure",
                                                         "record": False})
                raise
            if not folder.is_absolute() or not folder.is_dir():
                raise MediaError(f"The room's recording folder {folder} is missing.")
            return self._convert_folder(folder)

    def _room_info(self, room: _Room) -> dict[str, Any] | None:
        data = self._control_message({"request": "list"})
        for info in data.get("list") or []:
            if int(info.get("room", 0)) == room.janus_id:
                return dict(info)
        return None

    def _convert_folder(self, folder: Path) -> list[Segment]:
        claim = folder / ".converting"
        try:  # two processes stopping at once: only one converts
            os.close(os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except FileExistsError:
            return []
        try:
            files = self._wait_closed(folder)
            groups: dict[str, list[Path]] = {}
            for path in files:
                match = _MJR_NAME.match(path.name)
                if match:
                    groups.setdefault(match["base"], []).append(path)
            if not groups:
                if any(folder.iterdir()):
                    return []
                raise MediaError(
                    f"Janus wrote nothing under {folder}: check that the user Janus runs as "
                    "may write there and that the folder is not in Janus's "
                    "protected_folders (deploy/README.md).")
            segments: list[Segment] = []
            failures: list[str] = []
            for base, paths in sorted(groups.items()):
                try:
                    segment = self._convert(folder, base, paths)
                except MediaError as exc:
                    log.error("janus recording %s/%s: %s", folder, base, exc)
                    failures.append(str(exc))
                    continue
                if segment is not None:
                    segments.append(segment)
            if failures and not segments:
                raise MediaError("The recording could not be converted: " + failures[0])
            return sorted(segments, key=lambda s: s.started_at)
        finally:
            with contextlib.suppress(OSError):
                claim.unlink()

    def _wait_closed(self, folder: Path) -> list[Path]:
        """The folder's .mjr files once Janus has closed them: no `.mjr.tmp` left and sizes
        unchanged for half a second."""
        deadline = time.monotonic() + self.close_timeout_s
        last: dict[Path, int] | None = None
        while True:
            sizes: dict[Path, int] = {}
            for path in folder.glob("*.mjr*"):
                with contextlib.suppress(FileNotFoundError):
                    sizes[path] = path.stat().st_size
            pending = any(p.suffix != ".mjr" for p in sizes)
            if sizes == last and not pending:
                return sorted(sizes)
            if time.monotonic() > deadline:
                log.warning("janus: recording files in %s still open after %.0f s",
                            folder, self.close_timeout_s)
                return sorted(p for p in sizes if p.suffix == ".mjr")
            last = sizes
            time.sleep(0.5)

    def _mjr_info(self, path: Path) -> dict[str, Any]:
        result = self._run([self.janus_pp_rec, "-j", str(path)], "read the header of")
        for line in result.stdout.splitlines():
            line = line.strip()
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    info = json.loads(line)
                    if isinstance(info, dict):
                        return info
        raise MediaError(f"janus-pp-rec found no header in {path.name}.")

    def _convert(self, folder: Path, base: str, files: list[Path]) -> Segment | None:
        """One connection's .mjr files → `<folder>/<base>.mkv` (audio + video), or None
        when the connection sent no media while recording."""
        streams: dict[str, tuple[Path, int]] = {}  # kind → (converted file, first packet µs)
        scratch: list[Path] = []
        try:
            for mjr in files:
                try:
                    info = self._mjr_info(mjr)
                except MediaError as exc:  # no packet at all: nothing to keep
                    log.info("janus: skipping %s: %s", mjr.name, exc)
                    continue
                kind, codec = info.get("t"), str(info.get("c", "")).lower()
                if kind == "a" and codec == "opus":
                    target = mjr.with_suffix(".opus")
                elif kind == "v" and codec in ("vp8", "vp9"):
                    target = mjr.with_suffix(".webm")
                else:
                    log.warning("janus: %s holds %s/%s, not recorded", mjr.name, kind, codec)
                    continue
                first_us = int(info.get("u") or info.get("s") or 0)
                try:
                    self._run([self.janus_pp_rec, str(mjr), str(target)], "convert")
                except MediaError as exc:
                    log.warning("janus: %s", exc)
                    continue
                if not target.exists() or target.stat().st_size == 0:
                    continue
                scratch.append(target)
                previous = streams.get(kind)
                if previous is None or target.stat().st_size > previous[0].stat().st_size:
                    streams[kind] = (target, first_us)
            if not streams:
                log.warning("janus: no media recorded for %s in %s", base, folder)
                return None
            origin_us = min(first for _path, first in streams.values())
            output = folder / f"{base}.mkv"
            cmd = [self.ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
            maps: list[str] = []
            for index, kind in enumerate(k for k in ("v", "a") if k in streams):
                path, first = streams[kind]
                # the later stream starts that much after the earlier one
                cmd += ["-itsoffset", f"{(first - origin_us) / 1e6:.6f}", "-i", str(path)]
                maps += ["-map", f"{index}:{kind}:0"]
            cmd += [*maps, "-c", "copy", str(output)]
            self._run(cmd, "mux the recording into")
            duration = _probe_duration(output)
            started = datetime.fromtimestamp(origin_us / 1e6, UTC)
            for mjr in files:
                with contextlib.suppress(OSError):
                    mjr.unlink()
            return Segment(seat_key=seat_of(base), path=output, started_at=started,
                           ended_at=started + timedelta(seconds=duration))
        finally:
            for path in scratch:
                with contextlib.suppress(OSError):
                    path.unlink()

    def _run(self, cmd: list[str], what: str) -> subprocess.CompletedProcess[str]:
        if shutil.which(cmd[0]) is None:
            raise MediaError(f"{cmd[0]} is not installed: run scripts/install-system-deps "
                             "(packages janus-tools and ffmpeg).")
        try:
            result = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                                    check=False)
        except subprocess.TimeoutExpired as exc:
            raise MediaError(f"{Path(cmd[0]).name} took too long to {what} "
                             f"{Path(cmd[-1]).name}.") from exc
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
            raise MediaError(f"{Path(cmd[0]).name} could not {what} {Path(cmd[-1]).name}: "
                             f"{tail[0][:200]}")
        return result

    # --- rooms in Janus -----------------------------------------------------------------

    def _room(self, room_key: str) -> _Room:
        self.start()
        with self._lock:
            room = self._rooms.get(room_key)
            if room is None:
                room = self._rooms[room_key] = _Room(key=room_key,
                                                     janus_id=room_id_for(room_key))
            return room

    def _ensure_room(self, room: _Room) -> None:
        if room.created:
            return
        body = {"request": "create", "room": room.janus_id, "description": room.key,
                **ROOM_DEFAULTS}
        try:
            self._control_message(body)
        except _JanusError as exc:
            if exc.code != _ROOM_EXISTS:
                raise
        room.created = True

    # --- Janus API ----------------------------------------------------------------------

    def _new_session(self) -> None:
        reply = self._post("", {"janus": "create"})
        if reply.get("janus") != "success":
            reason = (reply.get("error") or {}).get("reason", reply.get("janus"))
            raise MediaError(f"The video server (Janus at {self.url}) refused a new "
                             f"session: {reason}.")
        self._session = int(reply["data"]["id"])
        self._control = None
        log.info("janus: session %s at %s", self._session, self.url)

    def _session_lost(self, session: int | None) -> None:
        """Janus forgot our session (restart, or no keepalive for too long): every handle
        and room it held is gone; the next call starts afresh."""
        with self._lock:
            if session is None or session != self._session:
                return
            log.warning("janus: session %s lost; starting a new one", session)
            self._session = None
            self._control = None
            for room in self._rooms.values():
                room.created = False
                room.publishers.clear()
                room.subscribers.clear()
            with contextlib.suppress(MediaError):
                self._new_session()

    def _session_id(self) -> int:
        with self._lock:
            if self._session is None:
                if self._stopping.is_set():
                    raise MediaError("The video engine is stopped.")
                self._new_session()
            assert self._session is not None
            return self._session

    def _control_handle(self) -> int:
        with self._lock:
            if self._control is None:
                self._control = self._attach("control")
            return self._control

    def _attach(self, opaque: str) -> int:
        for attempt in (1, 2):
            session = self._session_id()
            try:
                reply = self._call(session, None, {"janus": "attach", "plugin": PLUGIN,
                                                   "opaque_id": opaque})
                return int(reply["data"]["id"])
            except _JanusError as exc:  # the session was lost: once more on a new one
                if exc.code != _SESSION_NOT_FOUND or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _control_message(self, body: dict[str, Any]) -> dict[str, Any]:
        """A room-level request (create, destroy, list) on the engine's control handle,
        re-attached once if Janus lost it with the session."""
        for attempt in (1, 2):
            try:
                return self._message(self._control_handle(), body)[0]
            except _JanusError as exc:
                if exc.code not in (_SESSION_NOT_FOUND, _HANDLE_NOT_FOUND) or attempt == 2:
                    raise
                with self._lock:
                    self._control = None
        raise AssertionError("unreachable")

    def _detach(self, handle: int) -> None:
        session = self._session
        if session is None:
            return
        try:
            self._call(session, handle, {"janus": "detach"}, timeout=5)
        except MediaError as exc:  # already gone: nothing left to close
            log.debug("janus: detach %s: %s", handle, exc)

    def _call(self, session: int, handle: int | None, body: dict[str, Any],
              timeout: float | None = None) -> dict[str, Any]:
        path = f"/{session}" + (f"/{handle}" if handle is not None else "")
        reply = self._post(path, body, timeout=timeout)
        if reply.get("janus") == "error":
            error = reply.get("error") or {}
            code = int(error.get("code", 0))
            if code == _SESSION_NOT_FOUND:
                self._session_lost(session)
            raise _JanusError(code, str(error.get("reason", "unknown error")))
        return reply

    def _message(self, handle: int, body: dict[str, Any], *,
                 jsep: dict[str, Any] | None = None,
                 ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Send a VideoRoom request; return (plugin data, jsep) of its reply, waiting for
        the asynchronous event when Janus only acknowledges it."""
        session = self._session_id()
        transaction = secrets.token_hex(8)
        waiter = _Waiter()
        with self._waiters_lock:
            self._waiters[transaction] = waiter
        try:
            message: dict[str, Any] = {"janus": "message", "body": body,
                                       "transaction": transaction}
            if jsep is not None:
                message["jsep"] = jsep
            reply = self._call(session, handle, message)
            if reply.get("janus") == "ack":
                if not waiter.done.wait(self.event_timeout_s) or waiter.event is None:
                    raise MediaError("The video server did not reply in time "
                                     f"({body.get('request')}).")
                reply = waiter.event
                if reply.get("janus") == "error":
                    error = reply.get("error") or {}
                    raise _JanusError(int(error.get("code", 0)), str(error.get("reason")))
        finally:
            with self._waiters_lock:
                self._waiters.pop(transaction, None)
        data = ((reply.get("plugindata") or {}).get("data")) or {}
        if "error_code" in data or "error" in data:
            raise _JanusError(int(data.get("error_code", 0)), str(data.get("error")))
        return data, reply.get("jsep")

    def _post(self, path: str, body: dict[str, Any],
              timeout: float | None = None) -> dict[str, Any]:
        body = {"transaction": secrets.token_hex(8), **body}
        request = urllib.request.Request(
            self.url + path, data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json"})
        return self._open(request, timeout or self.http_timeout_s)

    def _open(self, request: urllib.request.Request, timeout: float) -> Any:
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                return json.loads(response.read().decode())
        except urllib.error.HTTPError as exc:
            # Janus answers an unknown session or handle with 404 and a JSON error body
            with contextlib.suppress(OSError, ValueError):
                body = json.loads(exc.read().decode())
                if isinstance(body, dict) and body.get("janus") == "error":
                    return body
            raise _HttpStatus(f"The video server (Janus at {self.url}) answered HTTP "
                              f"{exc.code}: check PORTAL_JANUS_URL.", exc.code) from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise MediaError(f"The video server (Janus at {self.url}) cannot be reached: "
                             f"{reason}.") from exc

    # --- threads ------------------------------------------------------------------------

    def _keepalive_loop(self, stopping: threading.Event) -> None:
        while not stopping.wait(self.keepalive_s):
            session = self._session
            if session is None:
                continue
            try:
                self._call(session, None, {"janus": "keepalive"}, timeout=5)
            except MediaError as exc:
                log.warning("janus: keepalive: %s", exc)

    def _event_loop(self, stopping: threading.Event) -> None:
        """Long-poll the session's events and route each to its transaction's waiter."""
        failures = 0
        while not stopping.is_set():
            session = self._session
            if session is None:
                stopping.wait(1)
                continue
            request = urllib.request.Request(
                f"{self.url}/{session}?maxev=10&rid={int(time.time() * 1000)}")
            try:
                events = self._open(request, timeout=45)
                failures = 0
            except _HttpStatus as exc:
                if exc.status == 404:  # Janus no longer knows the session
                    self._session_lost(session)
                    continue
                failures += 1
                log.warning("janus: event poll: %s", exc)
                stopping.wait(min(5.0, 0.5 * failures))
                continue
            except MediaError as exc:
                if stopping.is_set():
                    return
                failures += 1
                if failures in (1, 10) or failures % 60 == 0:
                    log.warning("janus: event poll: %s", exc)
                stopping.wait(min(5.0, 0.5 * failures))
                continue
            if stopping.is_set():
                return
            for event in events if isinstance(events, list) else [events]:
                if not isinstance(event, dict):
                    continue
                if event.get("janus") == "error" and \
                        (event.get("error") or {}).get("code") == _SESSION_NOT_FOUND:
                    self._session_lost(session)
                    break
                self._route(event)

    def _route(self, event: dict[str, Any]) -> None:
        kind = event.get("janus")
        if kind == "keepalive":
            return
        transaction = event.get("transaction")
        if transaction:
            with self._waiters_lock:
                waiter = self._waiters.get(str(transaction))
            if waiter is not None and kind in ("event", "error", "success"):
                waiter.event = event
                waiter.done.set()
                return
        if kind in ("hangup", "detached"):
            log.info("janus: handle %s %s (%s)", event.get("sender"), kind,
                     event.get("reason", ""))


def _probe_duration(path: Path) -> float:
    """Seconds of media in `path` (opened with PyAV: both streams' ends, the longest)."""
    import av

    try:
        with av.open(str(path)) as container:
            if container.duration:
                return float(container.duration) / 1_000_000
            end = 0.0
            for stream in container.streams:
                if stream.duration and stream.time_base:
                    end = max(end, float(stream.duration * stream.time_base))
            return end
    except (av.FFmpegError, OSError) as exc:
        raise MediaError(f"The converted recording {path.name} cannot be opened: {exc}") \
            from exc


# --- a local Janus for development, tests and benchmarks ---------------------------------

#: the interface `loopback_namespace_command` makes for Janus: a veth that holds a second
#: 127.0.0.1 (Janus never gathers candidates on loopback-flagged interfaces such as `lo`)
NETNS_INTERFACE = "jlo"

_NETNS_SETUP = (
    "set -e; ip link set lo up; "
    f"ip link add {NETNS_INTERFACE} type veth peer name {NETNS_INTERFACE}1; "
    f"ip addr add 127.0.0.1/32 dev {NETNS_INTERFACE}; "
    f"ip link set {NETNS_INTERFACE} up; ip link set {NETNS_INTERFACE}1 up; "
    'exec "$@"'
)


def loopback_namespace_command(argv: list[str]) -> list[str]:
    """`argv` run in a private network namespace (`unshare -rn`: a user and a network
    namespace, no root needed where user namespaces are allowed) whose only address is
    127.0.0.1, on `lo` and on the veth `jlo`. Started there with
    `LocalJanus(..., loopback_interface=NETNS_INTERFACE)`, Janus and aiortc peers whose
    host addresses are ["127.0.0.1"] talk over loopback only and nothing can leave."""
    return ["unshare", "-rn", "sh", "-c", _NETNS_SETUP, "netns", *argv]


def loopback_namespace_problem() -> str | None:
    """None when `loopback_namespace_command` works here, else why not."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "unshare (util-linux) or ip (iproute2) is missing"
    try:
        result = subprocess.run(loopback_namespace_command(["true"]), capture_output=True,
                                text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if result.returncode != 0:
        return (result.stderr.strip() or f"exit {result.returncode}")[:300]
    return None


class LocalJanus:
    """A Janus process started from a copy of a config folder (deploy/janus/): the HTTP
    API on a free 127.0.0.1 port, logs in `workdir/janus.log`. With `loopback_interface`
    (inside `loopback_namespace_command`) Janus gathers candidates on that interface only
    and names 127.0.0.1 in its SDP. Stop it with `stop()` (also a context manager)."""

    def __init__(self, config_src: Path, workdir: Path, *,
                 loopback_interface: str | None = None, session_timeout: int | None = None,
                 binary: str = "janus") -> None:
        self.config_src = Path(config_src)
        self.workdir = Path(workdir)
        self.loopback_interface = loopback_interface
        self.session_timeout = session_timeout
        self.binary = binary
        self.port = 0
        self.log_path = self.workdir / "janus.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/janus"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def __enter__(self) -> LocalJanus:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _configure(self, conf: Path) -> None:
        conf.mkdir(parents=True, exist_ok=True)
        for source in self.config_src.glob("*.jcfg"):
            shutil.copy(source, conf / source.name)
        http = conf / "janus.transport.http.jcfg"
        http.write_text(re.sub(r"(?m)^(\s*)port = \d+", rf"\g<1>port = {self.port}",
                               http.read_text()))
        core = conf / "janus.jcfg"
        text = core.read_text()
        if self.loopback_interface:
            text = re.sub(r"(?m)^(\s*)#?ice_enforce_list = .*$",
                          rf'\g<1>ice_enforce_list = "{self.loopback_interface}"', text)
            text = re.sub(r"(?m)^\s*ice_ignore_list = .*\n", "", text)
            text = re.sub(r"(?m)^(general: \{)$", '\\1\n\tinterface = "127.0.0.1"', text)
        if self.session_timeout is not None:
            text = re.sub(r"(?m)^(\s*)session_timeout = \d+",
                          rf"\g<1>session_timeout = {self.session_timeout}", text)
        core.write_text(text)

    def start(self, timeout: float = 20.0) -> None:
        import socket

        if shutil.which(self.binary) is None:
            raise MediaError(f"{self.binary} is not installed: run scripts/install-system-deps.")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        conf = self.workdir / "conf"
        self._configure(conf)
        self.process = subprocess.Popen(
            [self.binary, "-F", str(conf), "-L", str(self.log_path), "-N"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + timeout
        body = json.dumps({"janus": "info", "transaction": "ready"}).encode()
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                request = urllib.request.Request(self.url, data=body, method="POST")
                with urllib.request.urlopen(request, timeout=1) as response:  # noqa: S310
                    if json.loads(response.read()).get("janus") == "server_info":
                        return
            except (OSError, ValueError):
                time.sleep(0.1)
        tail = self.log_tail()
        self.stop()
        raise MediaError(f"Janus did not start on port {self.port}: {tail}")

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

__all__ = ["NETNS_INTERFACE", "JanusEngine", "LocalJanus", "loopback_namespace_command",
           "loopback_namespace_problem", "room_id_for"]
