"""The written answer (法律咨询意见书) as a PDF: rendered with CJK fonts in a child
process, downloaded by the person (their link) and the lawyer, registered for /verify."""

from __future__ import annotations

import hashlib
import shutil
import subprocess

import pytest

from consultations.models import Consultation
from portal.casefiles.models import IssuedDocument
from tests.consultations.test_outcomes_support import close_data, taken
from tests.fixtures.core import login


def _png_not_blank(pdf: bytes, tmp_path) -> None:
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    (tmp_path / "a.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1",
                    str(tmp_path / "a.pdf"), str(tmp_path / "page")], check=True)
    from PIL import Image

    page = Image.open(next(tmp_path.glob("page*.png"))).convert("L")
    lo, hi = page.getextrema()
    assert hi - lo > 100, "the page is blank"
    dark = sum(page.histogram()[:128])
    assert dark > 500, "almost nothing is printed on the page"


def _text(pdf: bytes, tmp_path) -> str:
    if shutil.which("pdftotext") is None:
        return ""
    (tmp_path / "t.pdf").write_bytes(pdf)
    return subprocess.run(["pdftotext", str(tmp_path / "t.pdf"), "-"], check=True,
                          capture_output=True, text=True).stdout


def test_the_answer_pdf_for_the_person_and_the_lawyer(client, session, world, make_user,
                                                      tmp_path):
    t = taken(session, world, make_user)
    # not ready before closing
    response = client.get(f"/consultations/c/{t.token}/answer.pdf")
    assert response.status_code == 409
    login(client, t.user)
    client.post(f"/consultations/{t.consultation.id}/close",
                data=close_data(outcome="court", route="向青溪县人民法院起诉"))
    client.post("/logout")
    response = client.get(f"/consultations/c/{t.token}/answer.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"]
    pdf = response.data
    assert pdf.startswith(b"%PDF")
    _png_not_blank(pdf, tmp_path)
    text = _text(pdf, tmp_path)
    if text:
        squeezed = "".join(text.split())
        for expected in ("李四", "138****8000", "老板拖欠三个月工资", "劳动人事争议仲裁委员会",
                         "青溪县人民法院", t.lawyer.name, "某律师事务所"):
            assert expected in squeezed, expected
        assert "13800138000" not in squeezed  # the phone is masked
    # the PDF's bytes are registered: /verify knows it
    digest = hashlib.sha256(pdf).hexdigest()
    assert session.query(IssuedDocument).filter_by(sha256=digest).one()
    verified = client.get(f"/verify/{digest}")
    assert verified.status_code == 200
    html = verified.get_data(as_text=True)
    assert "a legal consultation opinion" in html or "法律咨询意见书" in html
    # the lawyer downloads it from the consultation page
    login(client, t.user)
    mine = client.get(f"/consultations/{t.consultation.id}/answer.pdf")
    assert mine.status_code == 200 and mine.data.startswith(b"%PDF")
    assert client.get("/consultations/c/nosuchtoken/answer.pdf").status_code == 404
    session.expire_all()
    c = session.get(Consultation, t.consultation.id)
    assert c.status == "closed"


def test_the_persons_pdf_is_rendered_once_and_rate_limited(client, session, world,
                                                          make_user, monkeypatch):
    from portal.casefiles import export

    t = taken(session, world, make_user, status="closed", outcome="answered", answer="答复")
    rendered: list[str] = []

    def fake_pdf(html: str) -> bytes:
        rendered.append(html)
        return b"%PDF-1.7 fake " + str(len(rendered)).encode()

    monkeypatch.setattr(export, "html_to_pdf", fake_pdf)
    url = f"/consultations/c/{t.token}/answer.pdf"
    first, again = client.get(url), client.get(url)
    assert first.status_code == again.status_code == 200
    assert first.data == again.data and len(rendered) == 1  # one WeasyPrint child
    login(client, t.user)  # the lawyer's copy is the same file
    assert client.get(f"/consultations/{t.consultation.id}/answer.pdf").data == first.data
    client.post("/logout")
    answers = [client.get(url).status_code for _ in range(10)]
    assert answers[-1] == 429 and len(rendered) == 1
