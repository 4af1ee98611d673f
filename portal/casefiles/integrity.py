"""The integrity check behind `flask casefile verify` and the case page's badge:
every event chain and its head on the case, every blob a document version points at, and
(given one) the newest signed checkpoint of the heads (checkpoints.py)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.casefiles import blobs
from portal.casefiles.checkpoints import Checkpoint
from portal.casefiles.models import Case, Document, DocumentVersion
from portal.casefiles.timeline import BrokenItem, verify_all_counted, verify_case


@dataclass(frozen=True)
class Report:
    cases: int
    events: int
    blobs: int
    broken: BrokenItem | None

    @property
    def ok(self) -> bool:
        return self.broken is None


def verify_blobs(session: Session, case: Case | None = None) -> tuple[BrokenItem | None, int]:
    """Re-hash each stored blob referenced by a document version (each sha once)."""
    stmt = (select(DocumentVersion.sha256, Document.id, Document.title, Case.number)
            .join(Document, Document.id == DocumentVersion.document_id)
            .join(Case, Case.id == Document.case_id)
            .order_by(DocumentVersion.id))
    if case is not None:
        stmt = stmt.where(Document.case_id == case.id)
    seen: set[str] = set()
    for sha, doc_id, title, number in session.execute(stmt):
        if sha in seen:
            continue
        seen.add(sha)
        problem = blobs.verify_blob(sha)
        if problem:
            reason = ("the stored file is missing" if problem == "missing"
                      else "the stored file's content does not match its hash")
            return BrokenItem("blob", reason, case_number=number, sha256=sha,
                              document_id=doc_id, document_title=title), len(seen)
    return None, len(seen)


def check_case(session: Session, case: Case, checkpoint: Checkpoint | None = None) -> Report:
    anchors = checkpoint.anchors if checkpoint else None
    label = checkpoint.label if checkpoint else ""
    broken = verify_case(session, case, anchors, label)
    events = 0
    if broken is None:
        from portal.casefiles.models import CaseEvent

        events = session.scalar(select(func.count()).select_from(CaseEvent)
                                .where(CaseEvent.case_id == case.id)) or 0
    blob_broken, blob_count = verify_blobs(session, case)
    return Report(1, events, blob_count, broken or blob_broken)


def check_all(session: Session, checkpoint: Checkpoint | None = None) -> Report:
    anchors = checkpoint.anchors if checkpoint else None
    label = checkpoint.label if checkpoint else ""
    broken, events = verify_all_counted(session, anchors, label)
    if broken is None and checkpoint is not None:
        present = set(session.scalars(select(Case.id)))
        gone = sorted(checkpoint.anchors.keys() - present)
        if gone:
            broken = BrokenItem("case", f"it is in the checkpoint of {label} but no longer "
                                "in the database", checkpoint.numbers.get(gone[0]))
    cases = session.scalar(select(func.count()).select_from(Case)) or 0
    blob_broken, blob_count = verify_blobs(session) if broken is None else (None, 0)
    return Report(cases, events, blob_count, broken or blob_broken)
