"""The socket-event wrapper every namespace uses: the same request shape as a view (check
the sender → one operation → commit once → after-commit emits), answering the client's
ack with `{"ok": true, ...}` or `{"ok": false, "error": message}`. Handlers hold no
commit, rollback or try of their own: each event is one unit of work.

A handler whose answer needs slow work outside any transaction (a media engine answering
an SDP offer) returns `after_commit_reply(fn)`: the event's transaction commits (or ends,
if there was nothing to write), then `fn()` runs and its dict becomes the ack; a
DomainError from `fn` is refused like one from the handler."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from portal import transaction
from portal.errors import DomainError
from portal.extensions import db, socketio
from portal.i18n import lazy_gettext as _l

log = logging.getLogger(__name__)

#: the largest id a database column holds (BIGINT)
MAX_ID = 2**63 - 1


def client_number(value: Any) -> int:
    """A whole number a client sent (an id, a last-seen event id): 0 for anything that is
    not one in 0..BIGINT, so the lookup that follows finds nothing and refuses."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    return value if isinstance(value, int) and 0 <= value <= MAX_ID else 0


def emit_after_commit(event: str, payload: Any, *, to: str, namespace: str) -> None:
    """Send a socket event once the current transaction has committed (never for work
    that was rolled back)."""
    transaction.after_commit(
        db.session, lambda: socketio.emit(event, payload, to=to, namespace=namespace))


class after_commit_reply:  # noqa: N801 (read as a function by handlers)
    """Returned by a handler: the ack is `work()`'s dict, computed after the commit."""

    def __init__(self, work: Callable[[], dict[str, Any] | None]) -> None:
        self.work = work


Reply = dict[str, Any] | after_commit_reply | None


def _refusal(error: DomainError,
             message_for: Callable[[DomainError], Any] | None = None) -> dict[str, Any]:
    # a refusal may carry what the client needs to act on it (`reply`: plain data)
    return {**getattr(error, "reply", {}), "ok": False,
            "error": str(message_for(error) if message_for else error.message)}


def socket_event(handler: Callable[..., Reply],
                 on_refused: Callable[[DomainError], None] | None = None,
                 message_for: Callable[[DomainError], Any] | None = None
                 ) -> Callable[..., dict[str, Any]]:
    """Wrap `handler(data)`: its dict (or nothing, or an `after_commit_reply`) becomes
    the ack `{"ok": true, ...}`; a
    DomainError rolls back, calls `on_refused(error)` (closing connections, say) and acks
    `{"ok": false, "error": message}` (`message_for(error)` when given: what this sender
    may read of it); any other error rolls back, is logged and acks a
    plain message (never a stack trace to the client)."""

    @wraps(handler)
    def handle(data: Any = None) -> dict[str, Any]:
        data = data if isinstance(data, dict) else {}

        def work() -> Reply:
            return handler(data)

        refusals: list[dict[str, Any]] = []

        def refused(error: DomainError) -> None:
            if on_refused is not None:
                on_refused(error)
            refusals.append(_refusal(error, message_for))

        try:
            reply = transaction.run(db.session, work, refused)
            if isinstance(reply, after_commit_reply):
                # the event's own transaction has ended: the slow part runs outside it
                reply = transaction.run(db.session, reply.work, refused)
            if refusals:
                return refusals[0]
            assert not isinstance(reply, after_commit_reply)
            return {"ok": True, **(reply or {})}
        except Exception:
            log.exception("socket event %s failed", handler.__name__)
            return {"ok": False, "error": str(_l("Something went wrong; try again."))}

    return handle
