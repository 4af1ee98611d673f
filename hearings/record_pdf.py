"""A frozen record as one PDF: the text as signed, its fingerprint and a QR code to the
public /verify page, then each signer's signature (the drawn image, or the typed name),
name, time and method, each refusal with its reason, and who did not sign.

The fingerprint. A PDF cannot contain its own hash, so the QR code carries the SHA-256 of
the frozen record text (RecordVersion.sha256: the UTF-8 bytes of the text the signers
read). When the record is filed, both that hash and the SHA-256 of the PDF file are
registered as issued (portal.casefiles.issued), and /verify/<hash> accepts either.

Rendered with WeasyPrint in a child process running portal/casefiles/pdf_render.py, like
the case export: the CJK fonts' memory goes back with the child, and nothing is fetched
from the network (images are inline data: URLs). Importing WeasyPrint takes the child
some 0.4 s, so one spare child is kept waiting with WeasyPrint already imported: a render
takes it, and a new spare is started right after, warming up while the page answers
(filing renders two records; the next hearing's filing finds it ready). A spare lives
at most SPARE_MAX_AGE_S; one made before a fork is never used by the forked process."""

from __future__ import annotations

import atexit
import base64
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import segno
from flask import render_template, url_for
from sqlalchemy.orm import Session

from hearings.models import (
    Hearing,
    Participant,
    ParticipantRole,
    RecordVersion,
    Signature,
    SignatureStatus,
    SignMethod,
)
from hearings.record import KIND_LABELS, signatures_of, signers
from portal.casefiles import blobs, export
from portal.enums import labels
from portal.timeutil import beijing


@dataclass
class SignatureLine:
    participant: Participant
    signature: Signature | None
    #: the drawn signature as a data: URL (None: typed, refused or not signed)
    image: str | None


#: a spare renderer older than this is not used (it exits by itself a while later)
SPARE_MAX_AGE_S = 600
_RENDERER = Path(export.__file__).with_name("pdf_render.py")
#: the child: WeasyPrint imported first, then pdf_render.py's main (HTML on stdin → PDF);
#: the alarm ends a spare nobody took (its age limit, plus the longest render)
_CHILD = ("import signal, runpy; signal.alarm({alarm}); import weasyprint; "
          "runpy.run_path({path!r}, run_name='__main__')")
_SLOTS = threading.BoundedSemaphore(export.PDF_PROCESSES)
_LOCK = threading.Lock()


@dataclass
class _Spare:
    proc: subprocess.Popen[bytes]
    started: float
    pid: int  # of the process that started it


_spare: _Spare | None = None


def _spawn() -> subprocess.Popen[bytes]:
    code = _CHILD.format(alarm=SPARE_MAX_AGE_S + export.PDF_TIMEOUT_S + 60,
                         path=str(_RENDERER))
    return subprocess.Popen([sys.executable, "-I", "-c", code], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _take_spare() -> subprocess.Popen[bytes] | None:
    global _spare
    with _LOCK:
        spare, _spare = _spare, None
    if spare is None or spare.pid != os.getpid():
        return None  # none yet, or inherited through a fork: the parent's to use
    if time.monotonic() - spare.started > SPARE_MAX_AGE_S or spare.proc.poll() is not None:
        _discard(spare.proc)
        return None
    return spare.proc


def _start_spare() -> None:
    global _spare
    proc = _spawn()
    with _LOCK:
        old, _spare = _spare, _Spare(proc, time.monotonic(), os.getpid())
    if old is not None and old.pid == os.getpid():
        _discard(old.proc)


def _discard(proc: subprocess.Popen[bytes]) -> None:
    proc.kill()
    proc.communicate()


@atexit.register
def _end_spare() -> None:
    global _spare
    spare, _spare = _spare, None
    if spare is not None and spare.pid == os.getpid():
        _discard(spare.proc)


def html_to_pdf(html: str) -> bytes:
    """The PDF of `html`: pdf_render.py in a child (the spare one when it is ready), at
    most export.PDF_PROCESSES at once, each for at most export.PDF_TIMEOUT_S."""
    with _SLOTS:
        proc = _take_spare() or _spawn()
        try:
            out, err = proc.communicate(html.encode(), timeout=export.PDF_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            _discard(proc)
            raise export.PdfFailed("PDF renderer took too long") from None
        finally:
            _start_spare()
    if proc.returncode != 0 or not out.startswith(b"%PDF"):
        raise export.PdfFailed(f"PDF renderer exited {proc.returncode}: "
                               f"{err.decode(errors='replace')[-2000:]}")
    return out


def verify_url(sha256: str) -> str:
    """The public page the QR code opens (needs a request context, or SERVER_NAME)."""
    return url_for("verify.show", sha256=sha256, _external=True)


def qr_data_uri(url: str) -> str:
    return str(segno.make(url, error="m").svg_data_uri(scale=3))


def _image(sha256: str | None) -> str | None:
    if not sha256:
        return None
    try:
        data = blobs.read_blob(sha256)
    except (OSError, ValueError):
        return None  # shown as "image missing"; the blob check reports it
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def signature_lines(session: Session, hearing: Hearing, version: RecordVersion
                    ) -> list[SignatureLine]:
    sigs = signatures_of(session, version)
    return [SignatureLine(p, sigs.get(p.id), _image(getattr(sigs.get(p.id), "image_sha256",
                                                            None)))
            for p in signers(hearing, version.kind)]


def record_html(session: Session, hearing: Hearing, version: RecordVersion) -> str:
    url = verify_url(version.sha256)
    return render_template(
        "hearings/pdf/record.html", hearing=hearing, version=version,
        title=KIND_LABELS.get(version.kind, version.kind),
        lines=signature_lines(session, hearing, version), verify_url=url,
        qr=qr_data_uri(url), local=beijing, role_labels=labels(ParticipantRole),
        status_labels=labels(SignatureStatus), method_labels=labels(SignMethod))


def record_pdf(session: Session, hearing: Hearing, version: RecordVersion) -> bytes:
    """The PDF of one record version with its signatures as they stand now."""
    return html_to_pdf(record_html(session, hearing, version))
