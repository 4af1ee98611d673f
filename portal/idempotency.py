"""Idempotency keys: a form that creates something carries one, so a double
click or a retry after a lost response creates it once.

A view calls `ensure_new(session, key)` when the form comes in, `claim(session, key,
scope)` just before the work and `remember(session, key, scope, url)` after it. A key
seen before (the earlier request committed) or a key another request is saving at the
same moment (the insert's unique key fails) both raise `AlreadyDone`; the request
wrapper (portal.web) rolls back and redirects to the earlier result."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from portal.errors import DomainError
from portal.extensions import DbSession, Model
from portal.i18n import lazy_gettext as _l
from portal.timeutil import UTCDateTime, utcnow


class IdempotencyKey(Model):
    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: what kind of thing the form created, e.g. "user" or "person"
    scope: Mapped[str] = mapped_column(String(40))
    #: where the user was sent the first time
    result_url: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AlreadyDone(DomainError):
    """The form was sent before: answer with a redirect to the earlier result (`url`, or
    the one saved under `key`, looked up after the rollback), with status `code`; 409
    with the message when that is gone."""

    status = 409

    def __init__(self, url: str | None, key: str | None = None, code: int = 302,
                 notice: Any = None) -> None:
        super().__init__(notice or _l("This form was already sent; this is its result."))
        self.url = url
        self.key = key
        self.code = code
        #: flashed with the redirect, when given
        self.notice = notice


#: session.info: the keys this transaction claimed, with their rows
_CLAIMED = "portal.idempotency.claimed"


def new_key() -> str:
    return secrets.token_urlsafe(24)


def previous_result(session: DbSession, key: str | None) -> str | None:
    if not key:
        return None
    row = session.get(IdempotencyKey, key[:64])
    return row.result_url if row else None


def ensure_new(session: DbSession, key: str | None, code: int = 302,
               notice: Any = None) -> None:
    """AlreadyDone when a request with this key has completed already."""
    earlier = previous_result(session, key)
    if earlier:
        raise AlreadyDone(earlier, key, code, notice)


def claim(session: DbSession, key: str | None, scope: str, code: int = 302,
          notice: Any = None) -> None:
    """Take `key` just before the work it guards (after the form is found valid): a
    second request with the same key waits for this one's transaction and then gets
    AlreadyDone, instead of racing it into the same unique names. `remember` records
    the result at the end; a domain error rolls the claim back with the work."""
    if not key:
        return
    row = IdempotencyKey(key=key[:64], scope=scope, result_url="")
    session.add(row)
    _flush(session, key, code, notice)
    session.info.setdefault(_CLAIMED, {})[key[:64]] = row


def remember(session: DbSession, key: str | None, scope: str, result_url: str,
             code: int = 302, notice: Any = None) -> None:
    """Save where the request with `key` led (on its claim, when it made one);
    AlreadyDone when another request saved the same key meanwhile (a double click racing
    itself)."""
    if not key:
        return
    row = session.info.get(_CLAIMED, {}).pop(key[:64], None)
    if row is not None and row in session:
        row.result_url = result_url
    else:
        session.add(IdempotencyKey(key=key[:64], scope=scope, result_url=result_url))
    _flush(session, key, code, notice)


def _flush(session: DbSession, key: str, code: int, notice: Any = None) -> None:
    try:
        session.flush()
    except IntegrityError as error:
        if not is_duplicate_key_error(error):
            raise
        raise AlreadyDone(None, key, code, notice) from error


def is_duplicate_key_error(error: IntegrityError) -> bool:
    return "idempotency_keys" in str(error.orig) or "pk_idempotency_keys" in str(error.orig)
