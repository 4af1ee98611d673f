"""Joining segments into one playable file and checking it (real files made by ffmpeg)."""

from __future__ import annotations

from array import array
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import pytest

from tests.fixtures.video import make_media
from video.engines.base import Segment
from video.recording import RecordingRejected, compose, verify

pytestmark = pytest.mark.media  # real media files made by ffmpeg, decoded and composed

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def loudness(path: Path, start: float, end: float) -> float:
    """Peak absolute sample (0..1) of the file's sound between start and end seconds."""
    peak = 0.0
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            t = float(frame.pts * frame.time_base)
            if t < start or t + frame.samples / frame.sample_rate > end:
                continue
            for plane in frame.planes:
                samples = array("f", bytes(plane)[: frame.samples * 4])
                peak = max(peak, max((abs(s) for s in samples), default=0.0))
    return peak


def brightness(path: Path, at_s: float, x0: int, x1: int) -> float:
    """Mean luma of the picture at `at_s` between columns x0 and x1 (16 is black)."""
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if float(frame.pts * frame.time_base) >= at_s:
                luma = frame.planes[0]
                row_bytes = bytes(luma)
                total = count = 0
                for y in range(0, frame.height, 8):
                    row = row_bytes[y * luma.line_size: y * luma.line_size + frame.width]
                    total += sum(row[x0:x1:4])
                    count += len(row[x0:x1:4])
                return total / count
    raise AssertionError(f"no frame at {at_s}")


def test_two_seats_side_by_side_with_gaps_padded(tmp_path: Path) -> None:
    a1 = make_media(tmp_path / "a1.mkv", 3, tone_hz=440)
    a2 = make_media(tmp_path / "a2.mkv", 2, tone_hz=440)
    b1 = make_media(tmp_path / "b1.mkv", 4, tone_hz=660)
    segments = [
        Segment("seat-a", a1, at(0), at(3)),
        Segment("seat-a", a2, at(7), at(9)),  # a reconnect after a 4 s gap
        Segment("seat-b", b1, at(1), at(5)),
    ]
    out = compose(segments, T0, at(10), tmp_path / "out" / "session.mp4")
    info = verify(out, 10.0)
    assert abs(info.duration_s - 10.0) <= 0.5
    assert (info.width, info.height) == (1280, 480)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert info.size_bytes == out.stat().st_size > 0
    assert not list(out.parent.glob(".*"))  # the temporary files are gone
    # in the gap (5 s .. 7 s) nobody speaks and both tiles are black
    assert loudness(out, 5.3, 6.7) < 0.001
    assert brightness(out, 6.0, 0, 1280) < 20
    # someone speaks and shows while a segment runs
    assert loudness(out, 1.5, 2.5) > 0.05
    assert loudness(out, 7.5, 8.5) > 0.05
    assert brightness(out, 2.0, 0, 640) > 40  # seat a
    assert brightness(out, 2.0, 640, 1280) > 40  # seat b
    assert brightness(out, 0.4, 640, 1280) < 20  # seat b not there yet
    # the MP4 index is at the front (+faststart): a browser plays while downloading
    head = out.read_bytes()[:4096]
    assert head.find(b"moov") != -1 and head.find(b"moov") < max(head.find(b"mdat"), 4096)


def test_grid_from_three_seats(tmp_path: Path) -> None:
    segments = [Segment(f"seat-{n}", make_media(tmp_path / f"{n}.mkv", 2, tone_hz=300 + n),
                        at(0), at(2)) for n in range(3)]
    info = verify(compose(segments, T0, at(2), tmp_path / "grid.mp4"), 2.0)
    assert (info.width, info.height) == (960, 720)


def test_a_truncated_segment_is_still_used(tmp_path: Path) -> None:
    whole = make_media(tmp_path / "whole.mkv", 6)
    data = whole.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) * 6 // 10])  # as a crash would leave it
    out = compose([Segment("seat-a", cut, at(0), at(6))], T0, at(6), tmp_path / "o.mp4")
    info = verify(out, 6.0)
    assert abs(info.duration_s - 6.0) <= 0.5
    assert brightness(out, 1.0, 0, 640) > 40  # the part before the cut is there


def test_empty_and_corrupt_segments_are_skipped(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mkv"
    empty.write_bytes(b"")
    junk = tmp_path / "junk.mkv"
    junk.write_bytes(b"\x1aE\xdf\xa3 not really matroska" * 50)
    missing = tmp_path / "missing.mkv"
    good = make_media(tmp_path / "good.mkv", 3)
    segments = [Segment("seat-a", p, at(0), at(3)) for p in (empty, junk, missing)]
    segments.append(Segment("seat-b", good, at(0), at(3)))
    info = verify(compose(segments, T0, at(3), tmp_path / "o.mp4"), 3.0)
    assert (info.width, info.height) == (640, 480)  # only the usable seat gets a tile


def test_nothing_usable_is_rejected(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mkv"
    junk.write_bytes(b"\x00" * 1000)
    with pytest.raises(RecordingRejected, match="picture"):
        compose([Segment("seat-a", junk, at(0), at(3))], T0, at(3), tmp_path / "o.mp4")
    with pytest.raises(RecordingRejected):
        compose([], T0, at(3), tmp_path / "o.mp4")
    assert not (tmp_path / "o.mp4").exists()


def test_audio_only_is_rejected(tmp_path: Path) -> None:
    sound = make_media(tmp_path / "sound.mkv", 3, video=False)
    with pytest.raises(RecordingRejected, match="picture"):
        compose([Segment("seat-a", sound, at(0), at(3))], T0, at(3), tmp_path / "o.mp4")
    with pytest.raises(RecordingRejected, match="no video stream"):
        verify(sound, 3.0)


def test_video_only_everywhere_is_rejected(tmp_path: Path) -> None:
    mute = make_media(tmp_path / "mute.mkv", 3, audio=False)
    with pytest.raises(RecordingRejected, match="sound"):
        compose([Segment("seat-a", mute, at(0), at(3))], T0, at(3), tmp_path / "o.mp4")


def test_an_audio_only_seat_is_heard_beside_a_seat_with_picture(tmp_path: Path) -> None:
    phone = make_media(tmp_path / "phone.mkv", 4, video=False, tone_hz=500)
    staff = make_media(tmp_path / "staff.mkv", 4, audio=False)
    segments = [Segment("staff", staff, at(0), at(4)), Segment("phone", phone, at(0), at(4))]
    out = compose(segments, T0, at(4), tmp_path / "o.mp4")
    info = verify(out, 4.0)
    assert (info.width, info.height) == (1280, 480)
    assert loudness(out, 1.0, 3.0) > 0.05  # the phone's voice is in the mix
    assert brightness(out, 2.0, 640, 1280) < 20  # its tile is black


def test_segment_outside_the_session_window_is_cut(tmp_path: Path) -> None:
    early = make_media(tmp_path / "early.mkv", 5)
    # the segment began 2 s before the session start and ran past its end
    out = compose([Segment("seat-a", early, at(-2), at(3))], T0, at(2.5), tmp_path / "o.mp4")
    assert abs(verify(out, 2.5).duration_s - 2.5) <= 0.5


def test_verify_checks_duration_and_streams(tmp_path: Path) -> None:
    media = make_media(tmp_path / "m.mp4", 5, fmt="mp4")
    assert abs(verify(media, 5.0).duration_s - 5.0) < 0.2
    assert verify(media, 6.9).duration_s == pytest.approx(5.0, abs=0.2)
    with pytest.raises(RecordingRejected, match="lasts"):
        verify(media, 8.0)
    with pytest.raises(RecordingRejected, match="no audio stream"):
        verify(make_media(tmp_path / "v.mp4", 2, audio=False, fmt="mp4"), 2.0)
    with pytest.raises(RecordingRejected, match="cannot be opened"):
        verify(tmp_path / "nope.mp4", 1.0)


def test_naive_session_times_are_taken_as_utc(tmp_path: Path) -> None:
    media = make_media(tmp_path / "m.mkv", 2)
    naive = T0.replace(tzinfo=None)
    out = compose([Segment("a", media, at(0), at(2))], naive, naive + timedelta(seconds=2),
                  tmp_path / "o.mp4")
    assert abs(verify(out, 2.0).duration_s - 2.0) <= 0.5


def test_zero_length_session_is_rejected(tmp_path: Path) -> None:
    media = make_media(tmp_path / "m.mkv", 1)
    with pytest.raises(RecordingRejected, match="duration"):
        compose([Segment("a", media, at(0), at(1))], T0, T0, tmp_path / "o.mp4")
