"""Socket.IO in the core: what every namespace needs, and nothing of any one domain.

- deny by default: the default namespace takes logged-in users only, each joining
  `user_room(id)`; domains add namespaces of their own (video receptions, hearings,
  consultations), each checking its own rights on connect and on every event;
- `socket_event(handler, on_refused)`: the request shape for socket events (one unit of
  work per event: commit once, after-commit emits; a DomainError rolls back and acks
  `{"ok": false, "error"}`), `after_commit_reply(fn)` for an ack computed once the
  transaction has ended (a media engine at work), `emit_after_commit(...)`;
- the connection registry (`registry()`, portal.live.registry): who is connected, with
  which sid, to which room and seat, on which node — in memory for one process, in Redis
  when `PORTAL_REDIS_URL` is set, so that people on different socket nodes share a room;
- across nodes: `enter_room`, `leave_room`, `disconnect` act on a sid wherever it is
  connected (python-socketio's message-queue manager forwards them to the node owning
  the sid), and `coalesce` runs a batched job (lobby positions) at most once per interval
  per key across all nodes."""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app
from flask_login import current_user
from flask_socketio import join_room

from portal.extensions import socketio
from portal.live.handlers import (
    after_commit_reply,
    client_number,
    emit_after_commit,
    socket_event,
)
from portal.live.registry import Connection, Registry, make_registry

__all__ = [
    "client_number",
    "Connection", "Registry", "after_commit_reply", "coalesce", "disconnect",
    "disconnect_after_reply",
    "emit_after_commit", "enter_room", "init_app", "leave_room", "registry",
    "socket_event", "user_room",
]

log = logging.getLogger(__name__)

_REGISTRY = "portal.live.registry"


def user_room(user_id: int) -> str:
    """Every connection of a user joins this room, so the server can reach all their tabs."""
    return f"user:{user_id}"


def registry(app: Flask | None = None) -> Registry:
    """The app's connection registry (memory, or Redis with PORTAL_REDIS_URL)."""
    found: Registry = (app or current_app).extensions[_REGISTRY]
    return found


def enter_room(sid: str, room: str, namespace: str) -> None:
    """Put a connection into a Socket.IO room, on whichever node it is connected."""
    socketio.server.enter_room(sid, room, namespace=namespace)


def leave_room(sid: str, room: str, namespace: str) -> None:
    socketio.server.leave_room(sid, room, namespace=namespace)


def disconnect(sid: str, namespace: str) -> None:
    """Drop a connection from anywhere: a handler for another sid, a page, a thread, or
    another node (the owning node gets the request through the message queue)."""
    socketio.server.disconnect(sid, namespace=namespace)


#: seconds the close of a replying connection waits for its handler's thread (and so its
#: ack) at most
REPLY_WAIT_S = 30.0
#: when events are handled in a long-lived thread (the test client), how long it waits
AFTER_REPLY_S = 0.2


def disconnect_after_reply(sid: str, namespace: str) -> None:
    """Drop the connection whose event is being handled once its ack has gone out:
    python-socketio sends the ack when the handler returns, in the handler's thread, so a
    background task waits for that thread to end (events handled in a thread of their
    own, as the server does) or, when they share a long-lived one, a moment."""
    handler = threading.current_thread()
    own_thread = bool(socketio.server.async_handlers) and handler is not threading.main_thread()

    def later() -> None:
        if own_thread:
            handler.join(timeout=REPLY_WAIT_S)
        else:
            socketio.sleep(AFTER_REPLY_S)
        try:
            disconnect(sid, namespace)
        except Exception:
            log.exception("live: could not close %s after its reply", namespace)

    socketio.start_background_task(later)


def coalesce(key: str, delay_s: float, job: Callable[[], None]) -> None:
    """Run `job` once, `delay_s` from now, for however many calls come meanwhile on any
    node: one node runs it per interval and key. The job reads the current state when it
    runs (in a thread of its own, with an app context), so a change committed after its
    lock is released schedules the next run. With `delay_s` <= 0 it runs at once."""
    if delay_s <= 0:
        job()
        return
    reg = registry()
    lock = f"coalesce:{key}"
    # the lock outlives the wait, so a node that dies holding it delays the job, no more
    if not reg.try_lock(lock, delay_s * 3 + 5):
        return  # a run is already due (on this node or another) and will see this change
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def fire() -> None:
        with app.app_context():
            reg.release(lock)  # first: what commits from here on schedules the next run
            try:
                job()
            except Exception:
                log.exception("live: batched job %s failed", key)

    timer = threading.Timer(delay_s, fire)
    timer.daemon = True
    timer.start()


def _reconnect_everyone() -> None:
    """This node's heartbeat lapsed and other nodes may have forgotten its connections:
    close each socket of this process, so that its client connects again and is
    registered anew (the room client reconnects after a plain server disconnect)."""
    server = socketio.server
    if server is None:
        return
    for namespace in list(server.manager.rooms):
        for sid, _eio_sid in list(server.manager.get_participants(namespace, None)):
            server.disconnect(sid, namespace=namespace)


def _stop(reg: Registry) -> None:
    try:
        reg.stop()  # a clean exit: this node's connections go at once
    except Exception:
        log.warning("live registry: could not drop this node's entries at exit")


def _on_connect(auth: Any = None) -> bool:
    if not current_user.is_authenticated:
        return False  # refused: the client gets a connect_error
    join_room(user_room(current_user.id))
    return True


def init_app(app: Flask) -> None:
    from portal.app import settings_of

    settings = settings_of(app)
    reg = make_registry(settings.redis_url,
                        prefix_of=settings.database_url if settings.redis_url else "")
    app.extensions[_REGISTRY] = reg
    reg.on_lapsed(_reconnect_everyone)
    atexit.register(_stop, reg)
    try:
        reg.start()
    except Exception:  # Redis down at start: the node serves pages; the heartbeat retries
        log.exception("live registry: could not start")
    socketio.on_event("connect", _on_connect)
