"""The media engine interface: what the rooms ask of whatever carries the media.

Two engines implement it:
- `aiortc` (embedded default): browsers talk peer to peer (a mesh, for 1:1 and small
  rooms) with Socket.IO signalling; the engine only holds the *recorder* peers: while a
  room records, each admitted browser sends its tracks to one aiortc peer in the server,
  which writes them to a segment file;
- `janus`: browsers publish to and subscribe from a Janus VideoRoom (an SFU) through the
  portal's signalling; Janus records, the engine turns its .mjr files into segments.

Keys are strings chosen by the rooms (`room_key` = "room-<id>", `seat_key` = "seat-<id>"),
so the engines never import the models. Every method is blocking and thread-safe: the
Socket.IO handlers call them from their own threads; an engine that runs on asyncio
hands the work to its loop thread and waits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal, Protocol

from portal.errors import DomainError

Topology = Literal["mesh", "sfu"]


class MediaError(DomainError):
    """The engine could not do what was asked (bad SDP, Janus unreachable, ...); the
    message is safe to show to staff. A domain error, so a socket event that meets one
    is refused with its message like any other refusal."""

    status = 502


@dataclass(frozen=True)
class Segment:
    """One connection's recording: one seat, from `started_at` to `ended_at` (UTC).
    A seat that reconnects while recording has several segments."""

    seat_key: str
    path: Path
    started_at: datetime
    ended_at: datetime


class MediaEngine(Protocol):
    name: str
    #: mesh: browsers connect to each other and `publish` is only for the recorder;
    #: sfu: every browser publishes to the engine and subscribes to the others' feeds
    topology: Topology

    def start(self) -> None:
        """Start loop threads / connect to the server. Called once, lazily."""

    def stop(self) -> None:
        """Close every peer and recorder (a recorder's file stays playable)."""

    def ice_servers(self, identity: str) -> list[dict[str, object]]:
        """RTCIceServer dicts for a browser admitted to a room: only the deployment's own
        TURN/STUN servers (short-lived HMAC credentials for `identity`), or []. Never a
        public server."""

    def open_room(self, room_key: str) -> None: ...

    def close_room(self, room_key: str) -> list[Segment]:
        """Close every peer of the room; returns segments still open if recording."""

    def publish(self, room_key: str, seat_key: str, offer_sdp: str) -> str:
        """Take a browser's complete offer (ICE gathered) and return the complete answer.
        aiortc: the server recorder peer for that seat (recording must be on);
        janus: the seat's publisher handle. A second publish for the same seat replaces
        the first connection (a reconnect) and, when recording, starts a new segment."""

    def unpublish(self, room_key: str, seat_key: str) -> None: ...

    def subscribe(self, room_key: str, seat_key: str, feed_seat_key: str) -> str:
        """sfu only: an offer for `seat_key` to receive `feed_seat_key`'s media."""

    def subscribe_answer(self, room_key: str, seat_key: str, feed_seat_key: str,
                         answer_sdp: str) -> None:
        """sfu only: the browser's answer to `subscribe`'s offer."""

    def start_recording(self, room_key: str, directory: Path) -> None:
        """From now on, media of the room's publishers is written under `directory`,
        one segment file (MKV or fragmented MP4) per connection. Nothing is written
        before this call or after `stop_recording`."""

    def stop_recording(self, room_key: str) -> list[Segment]:
        """Stop every recorder of the room (in a `finally`), return the segments."""

    def request_keyframes(self, room_key: str) -> None:
        """Ask every publisher of the room for a keyframe (PLI)."""
