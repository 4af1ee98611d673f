"""The socket-event wrapper every namespace uses: the same request shape as a view (check
the sender → one operation → commit once → after-commit emits), answering the client's
ack with `{"ok": true, ...}` or `{"ok": false, "error": message}`. Handlers hold no
commit, rollback or try of their own."""

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


def emit_after_commit(event: str, payload: Any, *, to: str, namespace: str) -> None:
    """Send a socket event once the current transaction has committed (never for work
    that was rolled back)."""
    transaction.after_commit(
        db.session, lambda: socketio.emit(event, payload, to=to, namespace=namespace))


def _refusal(error: DomainError) -> dict[str, Any]:
    return {"ok": False, "error": str(error.message)}


def socket_event(handler: Callable[..., dict[str, Any] | None],
                 on_refused: Callable[[DomainError], None] | None = None
                 ) -> Callable[..., dict[str, Any]]:
    """Wrap `handler(data)`: its dict (or nothing) becomes the ack `{"ok": true, ...}`; a
    DomainError rolls back, calls `on_refused(error)` (closing connections, say) and acks
    `{"ok": false, "error": message}`; any other error rolls back, is logged and acks a
    plain message (never a stack trace to the client)."""

    @wraps(handler)
    def handle(data: Any = None) -> dict[str, Any]:
        data = data if isinstance(data, dict) else {}

        def work() -> dict[str, Any]:
            return {"ok": True, **(handler(data) or {})}

        def refused(error: DomainError) -> dict[str, Any]:
            if on_refused is not None:
                on_refused(error)
            return _refusal(error)

        try:
            return transaction.run(db.session, work, refused)
        except Exception:
            log.exception("socket event %s failed", handler.__name__)
            return {"ok": False, "error": str(_l("Something went wrong; try again."))}

    return handle
