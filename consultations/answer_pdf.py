"""The written answer (法律咨询意见书) as a PDF: number and date, the person (phone
masked), topic, question, the lawyer's answer and the route advised, the lawyer's name and
firm, the "no fee, no private engagement" statement, and a QR code to the public
/verify/<hash> page.

The fingerprint: a PDF cannot hold its own hash, so the QR code carries the SHA-256 of the
answer's text as frozen at closing (`fingerprint_text`); closing registers that hash as
issued, and each download registers the hash of the PDF's bytes too
(portal.casefiles.issued), so /verify accepts either.

Rendered with WeasyPrint in a child process (portal/casefiles/pdf_render.py, through
export.html_to_pdf, like the case export): the CJK fonts' memory goes back with the child
and nothing is fetched from the network (the QR code is an inline data: URL)."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import segno
from flask import current_app, render_template, url_for
from sqlalchemy.orm import Session

from consultations.models import Consultation, Outcome, Topic
from portal.casefiles import export, issued
from portal.crypto import mask_phone
from portal.timeutil import beijing

KIND = "consultation_answer"


def number(consultation: Consultation) -> str:
    year = beijing(consultation.closed_at or consultation.created_at).year
    return f"LC-{year}-{consultation.id:06d}"


def fingerprint_text(consultation: Consultation) -> str:
    """The frozen content of the opinion, as hashed for /verify (no phone number)."""
    lawyer = consultation.lawyer
    closed = beijing(consultation.closed_at).strftime("%Y-%m-%d %H:%M") \
        if consultation.closed_at else ""
    return "\n".join([number(consultation), closed, consultation.name, consultation.topic,
                      consultation.question, consultation.outcome or "", consultation.answer,
                      lawyer.name if lawyer else "",
                      (lawyer.lawyer_firm or "") if lawyer else ""])


def fingerprint(consultation: Consultation) -> str:
    return hashlib.sha256(fingerprint_text(consultation).encode("utf-8")).hexdigest()


def register_text(session: Session, consultation: Consultation) -> None:
    issued.issue_hash(session, fingerprint(consultation), KIND, consultation.case)


def qr_data_uri(url: str) -> str:
    return str(segno.make(url, error="m").svg_data_uri(scale=3))


def answer_html(consultation: Consultation) -> str:
    digest = fingerprint(consultation)
    verify_url = url_for("verify.show", sha256=digest, _external=True)
    outcomes = {str(o): o.label for o in Outcome}
    topics = {str(t): t.label for t in Topic}
    return render_template(
        "consultations/pdf/answer.html", c=consultation, number=number(consultation),
        phone=mask_phone(consultation.phone), lawyer=consultation.lawyer,
        outcome=outcomes.get(consultation.outcome or "", ""),
        topic=topics.get(consultation.topic, consultation.topic),
        paragraphs=consultation.answer.split("\n"), question=consultation.question.split("\n"),
        fingerprint=digest, verify_url=verify_url, qr=qr_data_uri(verify_url),
        local=beijing)


def cache_path(html: str) -> Path:
    """Where the PDF of this exact page is kept (data_dir/answer-pdf): keyed by the hash of
    the HTML, which holds the answer's fingerprint, the language and the /verify address,
    so a changed answer or template renders anew."""
    key = hashlib.sha256(html.encode("utf-8")).hexdigest()
    root = Path(current_app.extensions["portal.settings"].data_dir) / "answer-pdf"
    return root / key[:2] / f"{key}.pdf"


def answer_pdf(session: Session, consultation: Consultation) -> bytes:
    """The PDF, its bytes registered as issued (the same bytes again: the same row).
    Rendered once (a WeasyPrint child) and then served from its file: a closed answer
    never changes, and downloads do not take the PDF slots the staff's exports share."""
    html = answer_html(consultation)
    path = cache_path(html)
    try:
        pdf = path.read_bytes()
    except FileNotFoundError:
        pdf = export.html_to_pdf(html)
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.part")
        part.write_bytes(pdf)
        os.replace(part, path)  # whole or absent, whoever renders it at the same time
    issued.issue(session, pdf, KIND, consultation.case)
    return pdf
