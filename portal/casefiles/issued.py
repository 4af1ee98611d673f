"""Documents the portal issued (a hearing record, a mediation agreement...), registered by
their SHA-256 so that anyone holding a copy can ask the public /verify/<hash> page whether
the portal issued it, and when — and learn nothing else (verify_blueprint.py).

A PDF cannot carry its own hash, so a document that prints a QR code to /verify carries
the hash of something else it was made from (a hearing record: the SHA-256 of the frozen
record text); the issuer registers that hash and the hash of the file's bytes, both under
the same general kind."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.casefiles.models import IssuedDocument
from portal.i18n import lazy_gettext as _l

_SHA_RE = re.compile(r"^[0-9a-f]{64}$")

#: the kinds, in the general words /verify may show (never the case or any name)
KIND_LABELS: dict[str, Any] = {
    "hearing_record": _l("a hearing record"),
    "hearing_deliberation": _l("a hearing deliberation record"),
    "mediation_agreement": _l("a mediation agreement"),
    "consultation_answer": _l("a legal consultation opinion"),  # consultations.answer_pdf
}


def kind_label(kind: str) -> str:
    return str(KIND_LABELS.get(kind, _l("a document")))


def normalised_hash(value: str | None) -> str | None:
    """The hash as stored (64 lower-case hex digits), or None when `value` is not one;
    spaces and upper case, as pasted from a printout, are forgiven."""
    cleaned = re.sub(r"\s+", "", value or "").lower()
    return cleaned if _SHA_RE.match(cleaned) else None


def issue_hash(session: Session, sha256: str, kind: str, case: Any = None) -> IssuedDocument:
    """Register one hash as issued; the same hash again is the same row (idempotent: the
    first registration's kind and time stay)."""
    digest = normalised_hash(sha256)
    if digest is None:
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
    existing = find(session, digest)
    if existing is not None:
        return existing
    row = IssuedDocument(sha256=digest, kind=kind[:32],
                         case_id=getattr(case, "id", None))
    try:
        with session.begin_nested():  # another request may register the same bytes now
            session.add(row)
    except IntegrityError:
        found = find(session, digest)
        if found is None:  # pragma: no cover - the other row is gone again
            raise
        return found
    return row


def issue(session: Session, data: bytes, kind: str, case: Any = None) -> IssuedDocument:
    """Register the exact bytes of an issued document (by their SHA-256)."""
    return issue_hash(session, hashlib.sha256(data).hexdigest(), kind, case)


def find(session: Session, sha256: str) -> IssuedDocument | None:
    digest = normalised_hash(sha256)
    if digest is None:
        return None
    return session.scalar(select(IssuedDocument).where(IssuedDocument.sha256 == digest))
