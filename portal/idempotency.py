"""Idempotency keys: a form that creates something carries one, so a double
click or a retry after a lost response creates it once."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import String
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import DbSession, Model
from portal.timeutil import UTCDateTime, utcnow


class IdempotencyKey(Model):
    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: what kind of thing the form created, e.g. "user" or "person"
    scope: Mapped[str] = mapped_column(String(40))
    #: where the user was sent the first time
    result_url: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def new_key() -> str:
    return secrets.token_urlsafe(24)


def previous_result(session: DbSession, key: str | None) -> str | None:
    if not key:
        return None
    row = session.get(IdempotencyKey, key[:64])
    return row.result_url if row else None


def remember(session: DbSession, key: str | None, scope: str, result_url: str) -> None:
    if key:
        session.add(IdempotencyKey(key=key[:64], scope=scope, result_url=result_url))
        session.flush()


def is_duplicate_key_error(error: IntegrityError) -> bool:
    return "idempotency_keys" in str(error.orig) or "pk_idempotency_keys" in str(error.orig)
