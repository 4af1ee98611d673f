"""A frozen record as one PDF: the text as signed, its fingerprint and a QR code to the
public /verify page, then each signer's signature (the drawn image, or the typed name),
name, time and method, each refusal with its reason, and who did not sign.

The fingerprint. A PDF cannot contain its own hash, so the QR code carries the SHA-256 of
the frozen record text (RecordVersion.sha256: the UTF-8 bytes of the text the signers
read). When the record is filed, both that hash and the SHA-256 of the PDF file are
registered as issued (portal.casefiles.issued), and /verify/<hash> accepts either.

Rendered with WeasyPrint in a child process, like the case export
(portal.casefiles.export.html_to_pdf): the CJK fonts' memory goes back with the child, and
nothing is fetched from the network (images are inline data: URLs)."""

from __future__ import annotations

import base64
from dataclasses import dataclass

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
from portal.casefiles import blobs
from portal.casefiles.export import html_to_pdf
from portal.enums import labels
from portal.timeutil import beijing


@dataclass
class SignatureLine:
    participant: Participant
    signature: Signature | None
    #: the drawn signature as a data: URL (None: typed, refused or not signed)
    image: str | None


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
