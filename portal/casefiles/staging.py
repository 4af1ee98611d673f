"""Attachments kept across a re-displayed form: when the registration form comes back
(a field in error, earlier cases to look at), the files already chosen are stored in the
content-addressed blob store and the form carries a signed token for each, so the clerk
does not choose them again. A token names its blob, the file's name and type, and the
user it was made for; it lasts as long as a working session. A file never used stays in
the blob store (content-addressed: the same file is one blob), as any unused upload."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from portal.casefiles import blobs
from portal.casefiles.forms import UploadRefused, read_upload

SALT = "casefiles.staged-upload"
#: a kept file outlives the form by at most this long
MAX_AGE_S = 4 * 3600


@dataclass(frozen=True)
class Staged:
    sha256: str
    name: str
    media_type: str
    token: str


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key or "", salt=SALT)


def stage(uploads: list[Any], user_id: int) -> tuple[list[Staged], list[str]]:
    """Store each chosen file; returns the kept files and, for each file refused (empty,
    too large, a kind the case file does not take), its message."""
    kept: list[Staged] = []
    refused: list[str] = []
    for upload in uploads:
        try:
            data, media_type, name = read_upload(upload)
        except UploadRefused as error:
            refused.append(str(error.message))
            continue
        sha, _size = blobs.store_bytes(data)
        token = _serializer().dumps({"s": sha, "n": name, "t": media_type, "u": user_id})
        kept.append(Staged(sha, name, media_type, token))
    return kept, refused


def restore(tokens: list[str], user_id: int) -> list[Staged]:
    """The kept files the form sent back (ticked), made for this user and still fresh;
    anything else is ignored."""
    found: list[Staged] = []
    for token in tokens[:20]:
        try:
            data = _serializer().loads(token, max_age=MAX_AGE_S)
        except BadSignature:
            continue
        if not isinstance(data, dict) or data.get("u") != user_id:
            continue
        sha = str(data.get("s") or "")
        if len(sha) == 64 and blobs.blob_path(sha).exists():
            found.append(Staged(sha, str(data.get("n") or "file"), str(data.get("t") or ""),
                                token))
    return found


def contents(files: list[Staged]) -> list[tuple[bytes, str, str]]:
    """(bytes, media type, name) of kept files, as register_case takes its letters."""
    return [(blobs.read_blob(f.sha256), f.media_type, f.name) for f in files]
