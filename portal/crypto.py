"""Personal data at rest: Fernet encryption for ID and phone numbers, a keyed
hash (HMAC-SHA256) to find equal values without decrypting, and masking for pages."""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator


@lru_cache(maxsize=8)
def _keys(data_key: str) -> tuple[Fernet, bytes]:
    def derive(info: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
            data_key.encode()
        )

    fernet = Fernet(base64.urlsafe_b64encode(derive(b"portal personal data v1")))
    return fernet, derive(b"portal lookup hash v1")


def _current_keys() -> tuple[Fernet, bytes]:
    return _keys(current_app.extensions["portal.settings"].data_key)


def encrypt(value: str) -> str:
    return _current_keys()[0].encrypt(value.encode()).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return _current_keys()[0].decrypt(token.encode("ascii")).decode()
    except InvalidToken as exc:  # a wrong key must not pass silently
        raise ValueError("personal data could not be decrypted with PORTAL_DATA_KEY") from exc


def lookup_hash(value: str) -> str:
    """Keyed hash of a normalised value, for equality search on encrypted columns."""
    normalised = "".join(value.split()).upper()
    return hmac.new(_current_keys()[1], normalised.encode(), hashlib.sha256).hexdigest()


class EncryptedText(TypeDecorator[str]):
    """A text column stored encrypted; reads give the clear text back."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None or value == "":
            return value
        return encrypt(str(value))

    def process_result_value(self, value: Any, dialect: Any) -> str | None:
        if value is None or value == "":
            return value
        return decrypt(value)


def mask_phone(phone: str | None) -> str:
    """138****5678: enough to recognise, not enough to call."""
    if not phone:
        return ""
    digits = phone.strip()
    if len(digits) <= 4:
        return "*" * len(digits)
    if len(digits) < 8:
        return "*" * (len(digits) - 2) + digits[-2:]
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_id_number(number: str | None) -> str:
    """110***********1234 for an 18-digit resident ID."""
    if not number:
        return ""
    n = number.strip()
    if len(n) <= 6:
        return "*" * len(n)
    return n[:3] + "*" * (len(n) - 7) + n[-4:]
