"""Content-addressed storage for uploads: PORTAL_DATA_DIR/blobs/ab/cdef... by SHA-256.

Bytes are written to a temporary file in the same folder, flushed to disk and renamed
into place, so a reader never sees half a file; identical content is stored once."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from flask import current_app

CHUNK = 1024 * 1024
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


def blob_root() -> Path:
    return Path(current_app.extensions["portal.settings"].data_dir) / "blobs"


def blob_path(sha256: str, root: Path | None = None) -> Path:
    if not _SHA_RE.match(sha256):
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
    return (root or blob_root()) / sha256[:2] / sha256[2:]


def store_stream(stream: BinaryIO, root: Path | None = None) -> tuple[str, int]:
    """Store what `stream` yields; returns (sha256, size)."""
    base = root or blob_root()
    base.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd, tmp_name = tempfile.mkstemp(prefix=".incoming-", dir=base)
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        sha = digest.hexdigest()
        target = blob_path(sha, base)
        if target.exists():
            os.unlink(tmp_name)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(tmp_name, 0o440)
            os.replace(tmp_name, target)
            _fsync_dir(target.parent)
        return sha, size
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise


def store_bytes(data: bytes, root: Path | None = None) -> tuple[str, int]:
    import io

    return store_stream(io.BytesIO(data), root)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def read_blob(sha256: str, root: Path | None = None) -> bytes:
    return blob_path(sha256, root).read_bytes()


def iter_blob(sha256: str, root: Path | None = None) -> Iterator[bytes]:
    with blob_path(sha256, root).open("rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk


def verify_blob(sha256: str, root: Path | None = None) -> str | None:
    """None when the stored file hashes to its name; otherwise why not ("missing", "changed")."""
    path = blob_path(sha256, root)
    if not path.is_file():
        return "missing"
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return None if digest.hexdigest() == sha256 else "changed"
