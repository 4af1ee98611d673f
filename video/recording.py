"""Joining a session's segments into one playable file, and checking the result.

Pure media work (no Flask, no database): the rooms hand over the engine's segments and
the session's start and end; `compose` writes one MP4 (H.264 + AAC, `+faststart`, so a
browser's <video> plays it while it downloads) with the seats side by side (a grid from
three seats), each seat's segments placed at their time and black/silence in the gaps,
so the file lasts exactly as long as the session. `verify` opens a file with PyAV and
refuses it unless both streams are there and the duration is right.

A segment that cannot be opened, has no stream or no decodable picture or sound is left
out with a logged reason (a crash-truncated MKV still opens and is used up to where it
stops). A segment with sound but no picture (audio-only mode on a weak phone) gives its
sound, its seat's tile stays black. With no usable picture or no usable sound anywhere,
the recording is refused (RecordingRejected)."""

from __future__ import annotations

import logging
import math
import os
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import av

from video.engines.base import Segment

log = logging.getLogger(__name__)

FFMPEG = "/usr/bin/ffmpeg"
#: frames per second of the composed file
FPS = 25
#: the most packets read from a segment while looking for its first picture and sound
_PROBE_PACKETS = 2000


class RecordingRejected(RuntimeError):
    """The recording cannot be accepted; `reason` says why (safe to show to staff)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class MediaInfo:
    duration_s: float
    width: int
    height: int
    video_codec: str
    audio_codec: str
    size_bytes: int


@dataclass(frozen=True)
class _Usable:
    segment: Segment
    #: first timestamps (seconds, in the file's own time) of its picture and sound; None
    #: when that stream is missing or nothing of it decodes
    video_start: float | None
    audio_start: float | None


def _probe(segment: Segment) -> _Usable | None:
    """What of a segment can be used; None (with the reason logged) when nothing can."""
    path = segment.path
    try:
        if not path.is_file() or path.stat().st_size == 0:
            log.warning("recording: segment %s left out: missing or empty", path)
            return None
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, OSError) as exc:
        log.warning("recording: segment %s left out: cannot be opened (%s)", path, exc)
        return None
    starts: dict[str, float | None] = {"video": None, "audio": None}
    try:
        streams = list(container.streams.video[:1]) + list(container.streams.audio[:1])
        if not streams:
            log.warning("recording: segment %s left out: no audio or video stream", path)
            return None
        pending = {s.index: s for s in streams}
        try:
            for count, packet in enumerate(container.demux(streams)):
                if count >= _PROBE_PACKETS or not pending:
                    break
                stream = pending.get(packet.stream.index)
                if stream is None:
                    continue
                try:
                    frames = packet.decode()
                except av.FFmpegError:
                    continue
                for frame in frames:
                    if not isinstance(frame, av.VideoFrame | av.AudioFrame):
                        continue
                    if frame.pts is None or frame.time_base is None:
                        seconds = float(packet.pts * packet.time_base) if (
                            packet.pts is not None and packet.time_base) else 0.0
                    else:
                        seconds = float(frame.pts * frame.time_base)
                    starts[stream.type] = max(0.0, seconds)
                    pending.pop(stream.index, None)
                    break
        except (av.FFmpegError, OSError) as exc:  # truncated: use what was found
            log.info("recording: segment %s is damaged after its start (%s)", path, exc)
    finally:
        container.close()
    if starts["video"] is None and starts["audio"] is None:
        log.warning("recording: segment %s left out: nothing decodable", path)
        return None
    if starts["video"] is None:
        log.info("recording: segment %s has sound but no picture: its tile stays black",
                 path)
    return _Usable(segment, starts["video"], starts["audio"])


def _grid(seats: int) -> tuple[int, int, int, int]:
    """(columns, rows, tile width, tile height) for this many seats."""
    if seats <= 2:
        return seats, 1, 640, 480
    if seats <= 4:
        return 2, 2, 480, 360
    columns = math.ceil(math.sqrt(seats))
    return columns, math.ceil(seats / columns), 320, 240


def _aware(moment: datetime) -> datetime:
    """A naive datetime (as SQLite may hand one back) is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _seconds(later: datetime, earlier: datetime) -> float:
    return (_aware(later) - _aware(earlier)).total_seconds()


def _filter_graph(usable: list[_Usable], seat_order: list[str], started_at: datetime,
                  total_s: float) -> str:
    columns, rows, tile_w, tile_h = _grid(len(seat_order))
    parts: list[str] = []
    tile_of: dict[str, str] = {}
    last_tile: dict[str, str] = {}
    for number, seat in enumerate(seat_order):
        label = f"base{number}"
        parts.append(f"color=c=black:s={tile_w}x{tile_h}:r={FPS}:d={total_s:.3f}[{label}]")
        last_tile[seat] = label
    audio_labels: list[str] = []
    for index, item in enumerate(usable):
        seg = item.segment
        offset = _seconds(seg.started_at, started_at)
        seg_end = min(total_s, offset + max(0.0, _seconds(seg.ended_at, seg.started_at)))
        for kind, start in (("v", item.video_start), ("a", item.audio_start)):
            if start is None:
                continue
            absolute = offset + start  # where the stream's first frame belongs
            cut_from = max(0.0, -absolute)  # the part before the session began
            keep = seg_end - max(absolute, 0.0)
            if keep <= 0.05:
                continue
            shift = max(absolute, 0.0)
            if kind == "v":
                out = f"v{index}"
                parts.append(
                    f"[{index}:v:0]setpts=PTS-STARTPTS,"
                    f"trim=start={cut_from:.3f}:duration={keep:.3f},"
                    f"setpts=PTS-STARTPTS+{shift:.3f}/TB,fps={FPS},"
                    f"scale={tile_w}:{tile_h}:force_original_aspect_ratio=decrease,"
                    f"pad={tile_w}:{tile_h}:(ow-iw)/2:(oh-ih)/2,setsar=1,format=yuv420p[{out}]")
                merged = f"t{index}"
                parts.append(f"[{last_tile[seg.seat_key]}][{out}]"
                             f"overlay=eof_action=pass:repeatlast=0[{merged}]")
                last_tile[seg.seat_key] = merged
            else:
                out = f"a{index}"
                parts.append(
                    f"[{index}:a:0]asetpts=PTS-STARTPTS,aresample=48000:async=1,"
                    f"aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=stereo,"
                    f"atrim=start={cut_from:.3f}:duration={keep:.3f},asetpts=PTS-STARTPTS,"
                    f"adelay=delays={round(shift * 1000)}:all=1[{out}]")
                audio_labels.append(out)
    for seat in seat_order:
        tile_of[seat] = last_tile[seat]
    tiles = [tile_of[seat] for seat in seat_order]
    for extra in range(columns * rows - len(tiles)):
        label = f"blank{extra}"
        parts.append(f"color=c=black:s={tile_w}x{tile_h}:r={FPS}:d={total_s:.3f}[{label}]")
        tiles.append(label)
    if len(tiles) == 1:
        parts.append(f"[{tiles[0]}]null[vout]")
    else:
        layout = "|".join(f"{(i % columns) * tile_w}_{(i // columns) * tile_h}"
                          for i in range(len(tiles)))
        parts.append("".join(f"[{t}]" for t in tiles)
                     + f"xstack=inputs={len(tiles)}:layout={layout}[vout]")
    parts.append(f"anullsrc=r=48000:cl=stereo,atrim=duration={total_s:.3f}[silence]")
    parts.append("[silence]" + "".join(f"[{a}]" for a in audio_labels)
                 + f"amix=inputs={len(audio_labels) + 1}:duration=first:dropout_transition=0"
                 + ":normalize=0[aout]")
    return ";\n".join(parts)


def compose(segments: list[Segment], started_at: datetime, ended_at: datetime,
            out_path: Path) -> Path:
    """Join the segments of a session into one MP4 at `out_path` (written to a temporary
    file beside it, then renamed) lasting `ended_at - started_at`. Raises RecordingRejected
    when nothing usable remains or ffmpeg fails."""
    total_s = _seconds(ended_at, started_at)
    if total_s <= 0:
        raise RecordingRejected("the session has no duration")
    usable = [u for u in (_probe(s) for s in sorted(segments, key=lambda s: s.started_at))
              if u is not None]
    if not any(u.video_start is not None for u in usable):
        raise RecordingRejected("no segment holds a usable picture")
    if not any(u.audio_start is not None for u in usable):
        raise RecordingRejected("no segment holds usable sound")
    seat_order: list[str] = []
    for item in usable:  # seats in the order they first appear
        if item.segment.seat_key not in seat_order:
            seat_order.append(item.segment.seat_key)
    graph = _filter_graph(usable, seat_order, started_at, total_s)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out_path.stem}-", suffix=".mp4",
                                    dir=out_path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    graph_fd, graph_name = tempfile.mkstemp(prefix=".graph-", suffix=".txt",
                                            dir=out_path.parent)
    with os.fdopen(graph_fd, "w") as handle:
        handle.write(graph)
    command = [FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    for item in usable:
        command += ["-fflags", "+genpts+discardcorrupt", "-i", str(item.segment.path)]
    command += [
        "-filter_complex_script", graph_name, "-map", "[vout]", "-map", "[aout]",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "26", "-pix_fmt", "yuv420p",
        "-r", str(FPS), "-c:a", "aac", "-b:a", "96k", "-ar", "48000",
        "-t", f"{total_s:.3f}", "-movflags", "+faststart", "-f", "mp4", str(tmp),
    ]
    try:
        result = subprocess.run(command, capture_output=True, text=True,
                                timeout=120 + 4 * total_s, check=False)
        if result.returncode != 0:
            detail = (result.stderr.strip().splitlines() or ["no message"])[-1]
            raise RecordingRejected(f"ffmpeg could not join the segments: {detail}")
        if not tmp.is_file() or tmp.stat().st_size == 0:
            raise RecordingRejected("ffmpeg wrote nothing")
        os.replace(tmp, out_path)
    except subprocess.TimeoutExpired as exc:
        raise RecordingRejected("joining the segments took too long") from exc
    finally:
        tmp.unlink(missing_ok=True)
        Path(graph_name).unlink(missing_ok=True)
    log.info("recording: %s composed from %d segment(s) of %d seat(s), %.1f s",
             out_path, len(usable), len(seat_order), total_s)
    return out_path


def verify(path: Path, expected_seconds: float, tolerance: float = 2.0) -> MediaInfo:
    """Open `path` and check it: an audio and a video stream whose first frames decode,
    and a duration within `tolerance` seconds of `expected_seconds`."""
    path = Path(path)
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, OSError) as exc:
        raise RecordingRejected(f"the file cannot be opened: {exc}") from exc
    try:
        if not container.streams.video:
            raise RecordingRejected("the file has no video stream")
        if not container.streams.audio:
            raise RecordingRejected("the file has no audio stream")
        video = container.streams.video[0]
        audio = container.streams.audio[0]
        if container.duration is not None:
            duration = container.duration / av.time_base
        else:
            lengths = [float(s.duration * s.time_base) for s in (video, audio)
                       if s.duration is not None and s.time_base is not None]
            if not lengths:
                raise RecordingRejected("the file's duration is unknown")
            duration = max(lengths)
        if abs(duration - expected_seconds) > tolerance:
            raise RecordingRejected(
                f"the file lasts {duration:.1f} s, the session {expected_seconds:.1f} s")
        decoded: set[str] = set()
        try:
            for count, packet in enumerate(container.demux(video, audio)):
                if count >= _PROBE_PACKETS or len(decoded) == 2:
                    break
                if packet.stream.type in decoded:
                    continue
                if packet.decode():
                    decoded.add(packet.stream.type)
        except av.FFmpegError as exc:
            raise RecordingRejected(f"the file is damaged: {exc}") from exc
        for kind in ("video", "audio"):
            if kind not in decoded:
                raise RecordingRejected(f"no {kind} frame of the file decodes")
        return MediaInfo(
            duration_s=round(duration, 3),
            width=video.codec_context.width,
            height=video.codec_context.height,
            video_codec=video.codec_context.name,
            audio_codec=audio.codec_context.name,
            size_bytes=path.stat().st_size,
        )
    finally:
        container.close()


__all__ = ["MediaInfo", "RecordingRejected", "compose", "verify"]
