"""Export of a whole case file: the PDF (Chinese text in the Noto CJK fonts, the full
timeline with hashes, masked numbers for other agencies) and the ZIP of originals with a
manifest of hashes; another agency gets 404; each export is logged."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy import select

from portal.casefiles import operations as ops
from portal.casefiles.export import safe_name
from portal.casefiles.models import AccessLog
from portal.casefiles.timeline import events_of
from tests.fixtures.casefiles import new_case
from tests.fixtures.core import client_for

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40
SUMMARY = "村委会占用承包地修路，未给补偿，要求按标准补偿。"


def a_case_with_documents(session: Any, world: Any) -> Any:
    case, _code = new_case(session, world)
    letter = ops.add_document(session, world.clerk, case, title="来信", data=PDF,
                              original_name="来信 扫描件.pdf", media_type="application/pdf",
                              kind="letter")
    ops.add_document(session, world.clerk, case, title="现场照片", data=PNG,
                     original_name="../photo.png", media_type="image/png",
                     kind="evidence", is_restricted=True)
    ops.add_document_version(session, world.clerk, letter, PDF + b"% v2\n", "来信-v2.pdf",
                             "application/pdf")
    session.commit()
    ops.grant_access(session, world.clerk, case, world.police, "view")
    session.commit()
    return case


def pdf_text(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "file.pdf"
    path.write_bytes(data)
    done = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True,
                          capture_output=True)
    return done.stdout.decode()


def exports(session: Any, case: Any) -> list[AccessLog]:
    return list(session.scalars(select(AccessLog).where(
        AccessLog.case_id == case.id, AccessLog.action == "export")))


def unmasks(session: Any, case: Any) -> list[AccessLog]:
    return list(session.scalars(select(AccessLog).where(
        AccessLog.case_id == case.id, AccessLog.action.in_(["unmask_id", "unmask_phone"]))))


def test_pdf_has_number_summary_timeline_and_chinese_renders(app, session, world, tmp_path,
                                                              output_dir):
    case = a_case_with_documents(session, world)
    clerk = client_for(app, world.clerk)
    response = clerk.get(f"/cases/{case.number}/export.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment")
    data = response.get_data()
    assert data.startswith(b"%PDF")
    text = pdf_text(data, tmp_path)
    flat = "".join(text.split())
    assert case.number in text
    assert "".join(SUMMARY.split()) in flat
    assert "张三" in text and "某村3组" in text
    # masked by default, as on the case page, even for the registering office
    assert "110101195001011239" not in flat and "13800138000" not in flat
    assert "1239" in flat
    for event in events_of(session, case):
        assert event.hash[:12] in flat
    for doc in case.documents:
        for v in doc.versions:
            assert v.sha256 in flat
    assert [e.detail for e in exports(session, case)] == ["pdf"]
    assert not unmasks(session, case)
    # page 1 as a picture, to look at: the Chinese must be glyphs, not boxes
    backend = app.extensions["sqlalchemy"].engine.dialect.name
    stem = output_dir / f"case-export-{backend}"
    stem.with_suffix(".pdf").write_bytes(data)
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1",
                    str(stem.with_suffix(".pdf")), str(stem)], check=True)
    assert list(output_dir.glob(stem.name + "*.png"))


def test_pdf_masks_numbers_for_another_agency_with_view_grant(app, session, world, tmp_path):
    case = a_case_with_documents(session, world)
    police = client_for(app, world.police_officer)
    response = police.get(f"/cases/{case.number}/export.pdf")
    assert response.status_code == 200
    flat = "".join(pdf_text(response.get_data(), tmp_path).split())
    assert "110101195001011239" not in flat and "13800138000" not in flat
    assert "1239" in flat  # the masked form 110***********1239
    assert exports(session, case)


def test_zip_manifest_matches_files_and_stored_hashes(app, session, world):
    case = a_case_with_documents(session, world)
    clerk = client_for(app, world.clerk)
    response = clerk.get(f"/cases/{case.number}/export.zip")
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert response.headers["Content-Disposition"].startswith("attachment")
    zf = zipfile.ZipFile(io.BytesIO(response.get_data()))
    names = set(zf.namelist())
    manifest = json.loads(zf.read("manifest.json"))
    assert manifest["case"] == case.number and manifest["exported_at"]
    events = events_of(session, case)
    assert manifest["chain_head"] == events[-1].hash
    listed = {f["path"]: f for f in manifest["files"]}
    assert names == set(listed) | {"manifest.json", "manifest.sha256"}
    for path, entry in listed.items():
        body = zf.read(path)
        assert hashlib.sha256(body).hexdigest() == entry["sha256"]
        assert len(body) == entry["size"]
    stored = {(v.document_id, v.version): v for d in case.documents for v in d.versions}
    docs = [f for f in manifest["files"] if f["path"].startswith("documents/")]
    assert len(docs) == len(stored) == 3
    for f in docs:
        version = stored[(f["document_id"], f["version"])]
        assert f["sha256"] == version.sha256 == f["stored_sha256"]
        assert f["path"] == (f"documents/{f['document_id']}-{f['version']}-"
                             f"{safe_name(version.original_name)}")
    assert any("来信_扫描件.pdf" in f["path"] for f in docs)
    assert not any(".." in f["path"] for f in docs)
    # manifest.sha256 in sha256sum format covers every file but itself
    sums = dict(reversed(line.split("  ", 1)) for line in
                zf.read("manifest.sha256").decode().splitlines())
    assert set(sums) == names - {"manifest.sha256"}
    for path, digest in sums.items():
        assert hashlib.sha256(zf.read(path)).hexdigest() == digest
    # the timeline as stored: the chain can be re-checked from the file alone
    timeline = json.loads(zf.read("timeline.json"))
    prev = timeline["genesis"]
    for row, event in zip(timeline["events"], events, strict=True):
        assert row["prev_hash"] == prev == event.prev_hash
        assert hashlib.sha256((prev + row["canonical"]).encode()).hexdigest() == row["hash"]
        assert row["hash"] == event.hash
        prev = row["hash"]
    assert timeline["head"] == prev
    assert zf.read("file.pdf").startswith(b"%PDF")
    logged = list(session.scalars(select(AccessLog).where(AccessLog.case_id == case.id)))
    assert [e.detail for e in logged if e.action == "export"] == ["zip"]
    # the restricted photo was carried out: logged like opening it
    assert any(e.action == "view_document" and e.detail == "export zip" for e in logged)


def test_other_agency_gets_404_on_both_exports(app, session, world):
    case = a_case_with_documents(session, world)
    for user in (world.outsider_officer, world.other_clerk):
        c = client_for(app, user)
        assert c.get(f"/cases/{case.number}/export.pdf").status_code == 404
        assert c.get(f"/cases/{case.number}/export.zip").status_code == 404
    assert client_for(app, world.deputy).get(
        f"/cases/{case.number}/export.pdf").status_code == 403
    assert exports(session, case) == []


def test_case_page_links_to_both_exports(app, session, world):
    case, _code = new_case(session, world)
    html = client_for(app, world.clerk).get(f"/cases/{case.number}").get_data(as_text=True)
    assert f"/cases/{case.number}/export.pdf" in html
    assert f"/cases/{case.number}/export.zip" in html


def test_safe_name():
    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("来信 扫描件.pdf") == "来信_扫描件.pdf"
    assert safe_name(".hidden") == "hidden"
    assert safe_name("") == "file"
    assert len(safe_name("长" * 300 + ".pdf")) <= 80


def test_pdf_reads_like_the_case_page_masked_with_readable_events(app, session, world,
                                                                   tmp_path):
    case = a_case_with_documents(session, world)
    ops.edit_case(session, world.clerk, case, case.version, summary=SUMMARY + "（补充）")
    session.commit()
    response = client_for(app, world.clerk).get(f"/cases/{case.number}/export.pdf")
    text = pdf_text(response.get_data(), tmp_path)
    flat = "".join(text.split())
    assert "110101195001011239" not in flat and "13800138000" not in flat
    assert "110***********1239" in flat and "138****8000" in flat
    assert '{"' not in text and "'changes'" not in text
    for kind in ("case.registered", "case.edited", "document.added", "access.granted"):
        assert kind not in flat
    # the case page's words: a story in the past tense, the field named in words
    assert "Thecasewasregistered" in flat or "案件已登记" in flat
    assert "Adocumentwasadded" in flat or "已添加材料" in flat
    assert "summary" not in flat.replace("Casesummary", "")
    assert not unmasks(session, case)


def test_pdf_with_full_numbers_when_asked_and_allowed_each_unmask_logged(app, session, world,
                                                                           tmp_path):
    case = a_case_with_documents(session, world)
    clerk = client_for(app, world.clerk)
    html = clerk.get(f"/cases/{case.number}").get_data(as_text=True)
    assert 'name="numbers" value="full"' in html  # the option, for who may unmask
    response = clerk.get(f"/cases/{case.number}/export.pdf?numbers=full")
    assert response.status_code == 200
    flat = "".join(pdf_text(response.get_data(), tmp_path).split())
    assert "110101195001011239" in flat and "13800138000" in flat
    logged = unmasks(session, case)
    petitioner = next(p for p in case.parties if p.id_number)
    assert {(e.action, e.party_id, e.detail) for e in logged} == {
        ("unmask_id", petitioner.id, "export pdf"), ("unmask_phone", petitioner.id,
                                                     "export pdf")}
    assert all(e.user_id == world.clerk.id for e in logged)


def test_full_numbers_refused_to_who_may_not_unmask_nothing_logged(app, session, world):
    case = a_case_with_documents(session, world)
    police = client_for(app, world.police_officer)
    html = police.get(f"/cases/{case.number}").get_data(as_text=True)
    assert 'name="numbers"' not in html
    for path in ("export.pdf", "export.zip"):
        assert police.get(f"/cases/{case.number}/{path}?numbers=full").status_code == 403
    assert exports(session, case) == [] and unmasks(session, case) == []


def test_zip_masked_unless_asked(app, session, world, tmp_path):
    case = a_case_with_documents(session, world)
    clerk = client_for(app, world.clerk)
    for query, full in (("", False), ("?numbers=full", True)):
        zf = zipfile.ZipFile(io.BytesIO(clerk.get(
            f"/cases/{case.number}/export.zip{query}").get_data()))
        manifest = json.loads(zf.read("manifest.json"))
        assert manifest["personal_numbers"] == ("full" if full else "masked")
        flat = "".join(pdf_text(zf.read("file.pdf"), tmp_path).split())
        assert ("110101195001011239" in flat) is full
        for name in ("timeline.json", "manifest.json", "manifest.sha256"):
            body = zf.read(name).decode()
            assert "110101195001011239" not in body and "13800138000" not in body
    assert {e.detail for e in unmasks(session, case)} == {"export zip"}
