"""Signed checkpoints of every case's timeline head.

The hash chain shows an edited or missing event between events that remain, and the head
on the case (``cases.event_count``, ``cases.head_hash``) shows a timeline cut off at its
end. Someone who can write the database can still cut the timeline *and* rewrite the head
on the case; a checkpoint catches that. Once a day (the worker tick) and on
``flask --app wsgi casefile checkpoint`` every case's id, number, event count and head
hash are written, with an HMAC-SHA256 signature under a key that is not in the database
(``PORTAL_CHECKPOINT_KEY``, or a key derived from ``PORTAL_SECRET_KEY``).

Checkpoints are files under the data folder (``<data dir>/checkpoints/``), not a table:
whoever can change the database — the very person the checkpoint is against — could
delete checkpoint rows and so silence the check (a signature proves what a row says, not
that the newest row is still there). The files live where the blobs live, written once,
read-only, named by their UTC time so the newest sorts last. `casefile verify` checks
the newest one: its signature first, then that every case still reaches the count and the
head it recorded."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.casefiles.models import Case
from portal.casefiles.timeline import Anchors, BrokenItem, canonical_json, iso_utc
from portal.timeutil import utcnow

log = logging.getLogger(__name__)

_LAST_RUN = "casefiles.checkpoint_last_day"
#: checkpoints kept (the newest is the one checked; older ones are for the record)
KEEP = 14


class BadCheckpoint(Exception):
    """The newest checkpoint cannot be trusted (signature, format); str() says why."""


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    created_at: str
    #: case id → (event count, head hash)
    anchors: Anchors
    numbers: dict[int, str]

    @property
    def label(self) -> str:
        return self.created_at


def checkpoint_dir(settings: Any = None) -> Path:
    settings = settings or current_app.extensions["portal.settings"]
    return Path(settings.data_dir) / "checkpoints"


def signing_key(settings: Any = None) -> bytes:
    settings = settings or current_app.extensions["portal.settings"]
    if settings.checkpoint_key:
        return str(settings.checkpoint_key).encode()
    # derived, so that the session-signing key itself never signs checkpoints
    return hmac.new(str(settings.secret_key).encode(), b"portal casefile checkpoint v1",
                    hashlib.sha256).digest()


def _sign(body: dict[str, Any], key: bytes) -> str:
    return hmac.new(key, canonical_json(body).encode(), hashlib.sha256).hexdigest()


def write_checkpoint(session: Session, now: datetime | None = None,
                     directory: Path | None = None, keep: int = KEEP) -> Path:
    """Sign the heads recorded on the cases now and write them to a new file; only the
    newest `keep` files stay."""
    now = now or utcnow()
    heads = [[case_id, number, count, head] for case_id, number, count, head in session.execute(
        select(Case.id, Case.number, Case.event_count, Case.head_hash).order_by(Case.id))]
    body = {"version": 1, "created_at": iso_utc(now), "heads": heads}
    document = {**body, "signature": _sign(body, signing_key())}
    directory = directory or checkpoint_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{now.strftime('%Y%m%dT%H%M%S%fZ')}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    tmp.chmod(0o440)
    os.replace(tmp, path)
    for old in sorted(directory.glob("*.json"))[:-keep]:
        old.unlink()
    return path


def latest_checkpoint(directory: Path | None = None) -> Checkpoint | None:
    """The newest checkpoint, its signature checked; None when there is none yet.
    Raises BadCheckpoint when it was altered or cannot be read."""
    directory = directory or checkpoint_dir()
    files = sorted(directory.glob("*.json")) if directory.is_dir() else []
    if not files:
        return None
    path = files[-1]
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        signature = document.pop("signature")
        heads = document["heads"]
        created_at = str(document["created_at"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise BadCheckpoint(f"{path.name} cannot be read ({error})") from error
    if not isinstance(signature, str) or not hmac.compare_digest(
            signature, _sign(document, signing_key())):
        raise BadCheckpoint(f"{path.name}: the signature does not match (the file was "
                            "altered, or signed with another key)")
    try:
        anchors = {int(cid): (int(count), str(head)) for cid, _n, count, head in heads}
        numbers = {int(cid): str(number) for cid, number, _c, _h in heads}
    except (ValueError, TypeError) as error:
        raise BadCheckpoint(f"{path.name} cannot be read ({error})") from error
    return Checkpoint(path, created_at, anchors, numbers)


def checkpoint_problem(directory: Path | None = None
                       ) -> tuple[Checkpoint | None, BrokenItem | None]:
    """The newest checkpoint to verify against, or the item saying it is unusable."""
    try:
        return latest_checkpoint(directory), None
    except BadCheckpoint as error:
        return None, BrokenItem("checkpoint", str(error))


def checkpoint_tick(app: Flask, now: datetime | None = None) -> Path | None:
    """Write today's checkpoint once per day (China time) per process, from the worker's
    loop; only over a store that verifies (a broken one is logged, never signed)."""
    from portal.casefiles import clocks as clk
    from portal.casefiles.integrity import check_all
    from portal.extensions import db

    now = now or utcnow()
    today = clk.china_day(now)
    if app.extensions.get(_LAST_RUN) == today:
        return None
    with app.app_context():
        session: Any = db.session
        try:
            report = check_all(session)
            if report.broken is not None:
                log.error("case file checkpoint not written: %s", report.broken)
                path = None
            else:
                path = write_checkpoint(session, now)
                log.info("case file checkpoint written: %s", path)
        except Exception:
            log.exception("case file checkpoint for %s failed; trying again later", today)
            return None
        finally:
            session.rollback()
            session.remove()
    app.extensions[_LAST_RUN] = today
    return path
