"""The record as a PDF: rendered (WeasyPrint in a child process) with the frozen text,
the signatures and refusals, the fingerprint and its QR code; looked at as an image
(pdftoppm) and as text (pdftotext); and the filed PDF is verifiable on /verify."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from hearings.models import Hearing, ParticipantRole
from hearings.record_pdf import record_html, record_pdf
from portal.casefiles.models import Document
from tests.fixtures.core import login
from tests.hearings.test_record import (
    data_url,
    drawn_png,
    ended_hearing,
    freeze,
    role,
    sign_form,
    versions,
)

POPPLER = shutil.which("pdftoppm") and shutil.which("pdftotext")


def signed_hearing(client, session, world) -> tuple[Hearing, dict[int, str]]:
    hearing, tokens = ended_hearing(session, world)
    login(client, world.clerk)
    freeze(client, hearing)
    [version] = versions(session, hearing)
    anon = client.application.test_client()
    petitioner = role(hearing, ParticipantRole.PETITIONER)
    member = role(hearing, ParticipantRole.PANEL)
    presiding = role(hearing, ParticipantRole.PRESIDING)
    anon.post(f"/hearings/sign/{tokens[petitioner.id]}",
              data=sign_form(version, signature=data_url(drawn_png())))
    anon.post(f"/hearings/sign/{tokens[member.id]}",
              data={"action": "refuse", "version_id": str(version.id),
                    "reason": "对事实部分有异议"})
    anon.post(f"/hearings/sign/{tokens[presiding.id]}",
              data=sign_form(version, typed_name=presiding.name))
    return hearing, tokens


def test_the_html_lists_signatures_refusals_and_the_fingerprint(app, client, session, world):
    hearing, _tokens = signed_hearing(client, session, world)
    [version] = versions(session, hearing)
    with app.test_request_context():
        html = record_html(session, hearing, version)
    assert version.sha256 in html and f"/verify/{version.sha256}" in html
    assert "data:image/svg+xml" in html  # the QR code, inline
    assert "data:image/png;base64," in html  # the drawn signature, inline
    assert "对事实部分有异议" in html and "Did not sign" in html
    assert "signed by typing the name" in html


@pytest.mark.skipif(not POPPLER, reason="pdftoppm/pdftotext (poppler-utils) not installed: "
                    "run scripts/install-system-deps")
def test_the_pdf_renders_with_ink_and_its_text(app, client, session, world, tmp_path: Path):
    from PIL import Image

    hearing, _tokens = signed_hearing(client, session, world)
    [version] = versions(session, hearing)
    with app.test_request_context():
        pdf = record_pdf(session, hearing, version)
    assert pdf.startswith(b"%PDF")
    path = tmp_path / "record.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", str(path),
                    str(tmp_path / "page")], check=True, timeout=60)
    [png] = sorted(tmp_path.glob("page*.png"))
    with Image.open(png) as img:
        grey = img.convert("L")
        dark = sum(grey.histogram()[:128])
    assert dark > 500, "the first page is blank"
    text = "".join(subprocess.run(  # without the line breaks of narrow table cells
        ["pdftotext", str(path), "-"], check=True, capture_output=True, timeout=60
    ).stdout.decode().split())
    assert hearing.title in text and "不申请回避" in text  # CJK text, as text
    # (pdftotext may break a table cell's last character away from the rest)
    assert version.sha256 in text and "对事实部分有异" in text


def test_the_filed_pdf_is_verifiable(client, session, world):
    hearing, _tokens = signed_hearing(client, session, world)
    [version] = versions(session, hearing)
    answer = client.post(f"/hearings/{hearing.id}/record/file", data={"confirm_unsigned": "y"})
    assert answer.status_code == 303
    doc = session.scalar(select(Document).where(Document.case_id == hearing.case_id,
                                                Document.kind == "record"))
    assert doc is not None and doc.current is not None
    anon = client.application.test_client()
    for digest in (doc.current.sha256, version.sha256):  # the file's, and the QR code's
        html = anon.get(f"/verify/{digest}").get_data(as_text=True)
        assert "Issued by this portal." in html and "a hearing record" in html
        assert hearing.title not in html and hearing.case.number not in html
    # the case page offers the PDF, which opens as a PDF
    page = client.get(f"/cases/{hearing.case.number}/documents/{doc.id}/1")
    assert page.status_code == 200 and page.data.startswith(b"%PDF")


@pytest.mark.skipif(not POPPLER, reason="pdftoppm/pdftotext (poppler-utils) not installed: "
                    "run scripts/install-system-deps")
def test_the_check_box_is_on_the_first_page_and_the_number_printed_once(
        app, client, session, world, tmp_path: Path):
    """The QR code and fingerprint come right under the heading (never alone on a last
    page); a title that already carries the case number does not get it twice."""
    hearing, _tokens = signed_hearing(client, session, world)
    hearing.title = f"{hearing.case.number} 听证会"
    session.commit()
    [version] = versions(session, hearing)
    with app.test_request_context():
        html = record_html(session, hearing, version)
        pdf = record_pdf(session, hearing, version)
    sub = html[html.index('<p class="sub">'):].split("</p>")[0]
    assert sub.count(hearing.case.number) == 1
    path = tmp_path / "record.pdf"
    path.write_bytes(pdf)
    first = "".join(subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", str(path), "-"], check=True,
        capture_output=True, timeout=60).stdout.decode().split())
    assert version.sha256 in first
