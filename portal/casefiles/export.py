"""Export of a whole case file: one PDF (cover, procedure and clocks, the full hash-chained
timeline, the document list) and a ZIP of the original documents with the PDF, the
timeline as stored and a manifest of SHA-256 hashes.

The PDF is rendered with WeasyPrint from templates/casefiles/export.html, in the CJK
fonts of Debian's fonts-noto-cjk, in a child process (pdf_render.py: the memory WeasyPrint
takes goes back to the system when it exits); nothing is fetched from the network (the
URL fetcher refuses every URL but inline data: ones). Each export is logged
(AccessAction.EXPORT)."""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from flask import render_template
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.casefiles import blobs
from portal.casefiles import clocks as clk
from portal.casefiles import operations as ops
from portal.casefiles import permissions as perm
from portal.casefiles.models import AccessAction, Case, CaseEvent, Document
from portal.casefiles.presentation import LABELS, case_org_ids, describe, org_names, user_names
from portal.casefiles.timeline import GENESIS, events_of, iso_utc, payload_of
from portal.errors import NotAllowed
from portal.i18n import lazy_gettext as _l

#: characters of an event hash shown in the PDF
HASH_PREFIX = 12
#: longest original name kept in a ZIP entry's name
NAME_MAX = 80
#: PDF renderer processes at once (each takes some hundred MB while it runs)
PDF_PROCESSES = 2
#: longest a PDF may take to render
PDF_TIMEOUT_S = 300
_PDF_SLOTS = threading.BoundedSemaphore(PDF_PROCESSES)
_RENDERER = Path(__file__).with_name("pdf_render.py")


def _documents(session: Session, case: Case) -> list[Document]:
    return list(session.scalars(select(Document).where(Document.case_id == case.id)
                                .order_by(Document.id)))


def china_time(at: datetime) -> str:
    """2026-03-01 16:00:00 (Asia/Shanghai, UTC+8, no daylight saving)."""
    return at.astimezone(clk.CHINA).strftime("%Y-%m-%d %H:%M:%S")


def safe_name(name: str) -> str:
    """An original file name fit for a ZIP entry: letters (Chinese too), digits, dot,
    dash and underscore kept; no directories, no leading dot, not too long."""
    base = re.split(r"[\\/]", name or "")[-1]
    cleaned = re.sub(r"[^\w.\-]+", "_", base, flags=re.UNICODE).lstrip("._")
    if len(cleaned) > NAME_MAX:
        stem, dot, ext = cleaned.rpartition(".")
        cleaned = (stem[:NAME_MAX - len(ext) - 1] + dot + ext) if dot and len(ext) <= 10 \
            else cleaned[:NAME_MAX]
    return cleaned or "file"


def _check(user: Any, case: Case, full: bool = False) -> None:
    """May `user` export the case, and with the full numbers when `full` is asked?"""
    if not perm.can_view(user, case):
        raise NotAllowed(_l("You do not have permission to open this file."))
    if full and not perm.can_see_full_personal_data(user, case):
        raise NotAllowed(_l("You may not export the full ID and phone numbers of this "
                            "case."))


def _log(session: Session, user: Any, case: Case, what: str, full: bool,
         documents: list[Document] | None = None) -> None:
    """The export itself, the unmasked numbers it shows and the restricted documents it
    carries: each logged like the same read on the case page."""
    ops.log_access(session, user, AccessAction.EXPORT, case=case, detail=what)
    if full:
        for party in case.parties:
            if party.id_number:
                ops.log_access(session, user, AccessAction.UNMASK_ID, case=case, party=party,
                               detail=f"export {what}")
            if party.phone:
                ops.log_access(session, user, AccessAction.UNMASK_PHONE, case=case,
                               party=party, detail=f"export {what}")
    for doc in documents or []:
        if doc.is_restricted:
            ops.log_access(session, user, AccessAction.VIEW_DOCUMENT, case=case, document=doc,
                           detail=f"export {what}")


# ---------------------------------------------------------------- the PDF

def _timeline_rows(session: Session, events: list[CaseEvent]) -> list[dict[str, Any]]:
    names = user_names(session, (e.actor_id for e in events))
    rows = []
    for e in events:
        title, detail = describe(e)  # the case page's wording
        rows.append({"event": e, "at": china_time(e.at), "title": title, "detail": detail,
                     "actor": names.get(e.actor_id or 0, "—"),
                     "hash": e.hash[:HASH_PREFIX], "prev_hash": e.prev_hash[:HASH_PREFIX]})
    return rows


def _render_pdf(session: Session, user: Any, case: Case, exported_at: datetime,
                documents: list[Document], events: list[CaseEvent], full: bool) -> bytes:
    """The PDF; ID and phone numbers in clear only when `full` (asked and allowed)."""
    html = render_template(
        "casefiles/export.html", case=case, orgs=org_names(session, case_org_ids(case)),
        users=user_names(session, [case.leader_id,
                                    *(v.uploaded_by_id for d in documents for v in d.versions)]),
        clocks=clk.clocks_for_case(session, case), timeline=_timeline_rows(session, events),
        documents=documents, full_personal_data=full, exported_at=china_time(exported_at),
        exported_by=getattr(user, "display_name", ""), head=events[-1].hash if events else
        GENESIS, china_time=china_time, **LABELS)
    return html_to_pdf(html)


class PdfFailed(RuntimeError):
    """The PDF renderer failed or took too long (a 500: the export is not logged)."""


def html_to_pdf(html: str) -> bytes:
    """The PDF of `html`, made by WeasyPrint in a child process (pdf_render.py) so that
    the memory it takes goes back to the system with the child; at most PDF_PROCESSES
    at once, each for at most PDF_TIMEOUT_S seconds."""
    with _PDF_SLOTS:
        done = subprocess.run([sys.executable, "-I", str(_RENDERER)], input=html.encode(),
                              capture_output=True, timeout=PDF_TIMEOUT_S, check=False)
    if done.returncode != 0 or not done.stdout.startswith(b"%PDF"):
        raise PdfFailed(f"PDF renderer exited {done.returncode}: "
                        f"{done.stderr.decode(errors='replace')[-2000:]}")
    return done.stdout


def case_pdf(session: Session, user: Any, case: Case, full: bool = False) -> bytes:
    """The whole file as one PDF, for a user who may view the case, its numbers masked
    as on the case page unless `full` is asked by a user who may unmask them; logged
    (each unmasked number too, as an unmask on the page)."""
    _check(user, case, full)
    documents = _documents(session, case)
    events = events_of(session, case)
    pdf = _render_pdf(session, user, case, datetime.now(clk.CHINA), documents, events, full)
    _log(session, user, case, "pdf", full)
    return pdf


# ---------------------------------------------------------------- the ZIP

def timeline_json(case: Case, events: list[CaseEvent]) -> str:
    """The events as stored: each with its canonical JSON (what was hashed), prev_hash and
    hash, so that anyone can check sha256(prev_hash + canonical) == hash down the chain."""
    from portal.casefiles.timeline import _fast_event_json

    rows = []
    for e in events:
        canonical = _fast_event_json(case.number, e.seq, e.kind, e.actor_id, iso_utc(e.at),
                                     e.payload)
        rows.append({"seq": e.seq, "kind": e.kind, "actor": e.actor_id, "at": iso_utc(e.at),
                     "payload": payload_of(e), "canonical": canonical,
                     "prev_hash": e.prev_hash, "hash": e.hash})
    return json.dumps({"case": case.number, "genesis": GENESIS,
                       "head": events[-1].hash if events else GENESIS, "hash_rule":
                       "hash = sha256(prev_hash + canonical)", "events": rows},
                      ensure_ascii=False, indent=2) + "\n"


class _Writer:
    """Writes entries into the ZIP and remembers each one's SHA-256 and size."""

    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf = zf
        self.files: list[dict[str, Any]] = []

    def add(self, path: str, chunks: Iterable[bytes], **extra: Any) -> dict[str, Any]:
        digest = hashlib.sha256()
        size = 0
        info = zipfile.ZipInfo(path, date_time=datetime.now(clk.CHINA).timetuple()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED
        with self.zf.open(info, "w", force_zip64=True) as out:
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        entry = {"path": path, "sha256": digest.hexdigest(), "size": size, **extra}
        self.files.append(entry)
        return entry


def write_case_zip(session: Session, user: Any, case: Case, target: IO[bytes],
                   full: bool = False) -> None:
    """The ZIP of originals written into `target` (a file or a buffer): documents/…,
    file.pdf (numbers masked unless `full`, as case_pdf), timeline.json (which holds
    no ID or phone number: the timeline never stores them), manifest.json and
    manifest.sha256; logged."""
    _check(user, case, full)
    exported_at = datetime.now(clk.CHINA)
    documents = _documents(session, case)
    events = events_of(session, case)
    head = events[-1].hash if events else GENESIS
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        writer = _Writer(zf)
        for doc in documents:
            for v in doc.versions:
                path = f"documents/{doc.id}-{v.version}-{safe_name(v.original_name)}"
                entry = writer.add(path, blobs.iter_blob(v.sha256), document_id=doc.id,
                                   version=v.version, title=doc.title,
                                   media_type=v.media_type, stored_sha256=v.sha256)
                entry["matches_stored"] = entry["sha256"] == v.sha256
        writer.add("file.pdf", [_render_pdf(session, user, case, exported_at, documents,
                                             events, full)])
        writer.add("timeline.json", [timeline_json(case, events).encode()])
        manifest = {
            "case": case.number, "exported_at": iso_utc(exported_at),
            "exported_at_china": china_time(exported_at),
            "exported_by": {"id": getattr(user, "id", None),
                            "name": getattr(user, "display_name", None)},
            "chain_head": head, "events": len(events),
            "personal_numbers": "full" if full else "masked",
            "files": list(writer.files),
        }
        writer.add("manifest.json",
                   [(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode()])
        sums = "".join(f"{f['sha256']}  {f['path']}\n" for f in writer.files)
        zf.writestr("manifest.sha256", sums.encode(), compress_type=zipfile.ZIP_DEFLATED)
    _log(session, user, case, "zip", full, documents)


def case_zip(session: Session, user: Any, case: Case, full: bool = False) -> bytes:
    """write_case_zip into memory (the route streams through a temporary file instead)."""
    buffer = io.BytesIO()
    write_case_zip(session, user, case, buffer, full)
    return buffer.getvalue()


def case_zip_file(session: Session, user: Any, case: Case, full: bool = False
                  ) -> IO[bytes]:
    """write_case_zip into a temporary file, rewound for reading (the caller sends and
    closes it); the file is closed when the export fails."""
    spool = tempfile.TemporaryFile()  # noqa: SIM115 -- the caller (send_file) closes it
    try:
        write_case_zip(session, user, case, spool, full)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool
