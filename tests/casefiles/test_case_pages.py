"""The case pages as users see them: registration with attachments and the duplicate
check, the case page and its forms, the procedure from acceptance to an extension,
documents and their previews, and what another agency gets from a leaked URL."""

from __future__ import annotations

import io
import re
import secrets
from typing import Any

from sqlalchemy import func, select

from portal.casefiles import operations as ops
from portal.casefiles.models import AccessLog, Case, Document
from portal.casefiles.timeline import events_of
from tests.fixtures.casefiles import new_case
from tests.fixtures.core import client_for

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40


def text(response: Any) -> str:
    return response.get_data(as_text=True)


def registration(world: Any, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "channel": "walk_in", "kind": "land",
        "township_id": str(world.township.id), "village_id": str(world.village.id),
        "summary": "邻居占用宅基地建房，村委会调解未果，要求依法处理。",
        "petitioners-0-name": "李四", "petitioners-0-id_number": "110101196001015672",
        "petitioners-0-phone": "13912345678", "petitioners-0-address": "桃源村5组",
        "others-0-name": "王五",
        "idempotency_key": secrets.token_urlsafe(16),
    }
    data.update(extra)
    return data


def count_cases(session: Any) -> int:
    return session.scalar(select(func.count()).select_from(Case)) or 0


def case_number(html: str) -> str:
    found = re.search(r"\d{4}-XF-\d{6}", html)
    assert found, html[:2000]
    return found.group(0)


# ---------------------------------------------------------------- registration

def test_register_with_attachment_then_case_page_shows_it(app, session, world):
    clerk = client_for(app, world.clerk)
    page = clerk.get("/cases/new")
    assert page.status_code == 200
    assert "Register a case" in text(page)
    data = registration(world, attachments=[(io.BytesIO(PDF), "来信.pdf"),
                                            (io.BytesIO(PNG), "photo.png")])
    response = clerk.post("/cases/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 200, text(response)[:3000]
    html = text(response)
    number = case_number(html)
    assert "is registered" in html
    assert "Query code" in html and "<svg" in html
    assert response.headers["Cache-Control"] == "no-store"
    shown = re.search(r'<code class="query-code">(.*?)</code>', html).group(1)
    code = re.sub(r"<[^>]+>", "", shown)  # the groups are wrapped so they never break inside
    assert ops.find_case_by_query_code(session, code).number == number

    case_page = clerk.get(f"/cases/{number}")
    assert case_page.status_code == 200
    html = text(case_page)
    assert "来信.pdf" in html and "photo.png" in html
    assert "李四" in html
    assert "110101196001015672" not in html and "13912345678" not in html  # masked
    assert "139****5678" in html
    assert "File intact" in html

    case = session.scalar(select(Case).where(Case.number == number))
    doc = session.scalar(select(Document).where(Document.case_id == case.id,
                                                Document.title == "来信.pdf"))
    preview = clerk.get(f"/cases/{number}/documents/{doc.id}/1")
    assert preview.status_code == 200
    assert preview.headers["Content-Type"] == "application/pdf"
    assert preview.headers["Content-Disposition"].startswith("inline")
    assert preview.headers["X-Content-Type-Options"] == "nosniff"
    assert preview.data == PDF


def test_double_submit_creates_one_case(app, session, world):
    clerk = client_for(app, world.clerk)
    before = count_cases(session)
    data = registration(world)
    first = clerk.post("/cases/new", data=dict(data))
    assert first.status_code == 200
    number = case_number(text(first))
    second = clerk.post("/cases/new", data=dict(data))
    assert second.status_code == 302
    assert second.headers["Location"].endswith(f"/cases/{number}")
    assert count_cases(session) == before + 1


def test_duplicate_warning_shows_the_earlier_case_and_keeps_the_text(app, session, world):
    earlier, _code = new_case(session, world)  # 张三, ID 110101195001011239
    clerk = client_for(app, world.clerk)
    data = registration(world, **{
        "petitioners-0-name": "张三", "petitioners-0-id_number": "110101195001011239",
        "petitioners-0-phone": "", "summary": "又来反映承包地被占用修路的补偿问题。"})
    before = count_cases(session)
    response = clerk.post("/cases/new", data=data)
    html = text(response)
    assert response.status_code == 200
    assert "Earlier cases of this petitioner" in html
    assert earlier.number in html
    assert "register it anyway" in html
    assert "又来反映承包地被占用修路的补偿问题。" in html  # what the clerk typed is kept
    assert count_cases(session) == before

    confirmed = clerk.post("/cases/new", data={**data, "confirm_new": "y"})
    assert confirmed.status_code == 200
    assert "is registered" in text(confirmed)
    assert count_cases(session) == before + 1


def test_duplicate_check_with_htmx_before_saving(app, session, world):
    earlier, _code = new_case(session, world)
    clerk = client_for(app, world.clerk)
    response = clerk.post("/cases/new/check", headers={"HX-Request": "true"}, data={
        "petitioners-0-name": "", "petitioners-0-phone": "138 0013 8000"})
    assert response.status_code == 200
    assert earlier.number in text(response)
    nothing = clerk.post("/cases/new/check", headers={"HX-Request": "true"},
                         data={"petitioners-0-name": "从未来过"})
    assert earlier.number not in text(nothing)


def test_registration_refuses_a_file_of_unknown_kind(app, session, world):
    clerk = client_for(app, world.clerk)
    before = count_cases(session)
    data = registration(world, attachments=[(io.BytesIO(b"MZ\x90\x00\x03" + b"\x00" * 60),
                                             "letter.pdf")])
    response = clerk.post("/cases/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "not of a kind the case file accepts" in text(response)
    assert count_cases(session) == before


def test_only_clerks_register(app, session, world):
    officer = client_for(app, world.police_officer)
    assert officer.get("/cases/new").status_code == 403
    assert officer.post("/cases/new", data=registration(world)).status_code == 403


# ---------------------------------------------------------------- leaked URLs

def test_other_agency_gets_404_on_the_case_and_its_documents(app, session, world):
    case, _code = new_case(session, world)
    doc = ops.add_document(session, world.clerk, case, title="信", data=PDF,
                           original_name="letter.pdf", media_type="application/pdf")
    session.commit()
    ops.grant_access(session, world.clerk, case, world.police, "view")
    session.commit()
    outsider = client_for(app, world.outsider_officer)
    other_office = client_for(app, world.other_clerk)
    for c in (outsider, other_office):
        assert c.get(f"/cases/{case.number}").status_code == 404
        assert c.get(f"/cases/{case.number}/documents/{doc.id}/1").status_code == 404
        assert c.get(f"/cases/{case.number}/print").status_code == 404
        assert c.post(f"/cases/{case.number}/actions/accept").status_code == 404
        assert c.get("/cases/2099-XF-999999").status_code == 404  # same answer as none
        assert case.number not in text(c.get("/cases/"))
    police = client_for(app, world.police_officer)
    assert police.get(f"/cases/{case.number}").status_code == 200
    assert police.get(f"/cases/{case.number}/documents/{doc.id}/1").status_code == 200
    assert case.number in text(police.get("/cases/"))


def test_people_without_a_case_role_get_403(app, session, world):
    deputy = client_for(app, world.deputy)
    assert deputy.get("/cases/").status_code == 403


# ---------------------------------------------------------------- the procedure

def test_procedure_each_step_on_the_timeline(app, session, world):
    case, _code = new_case(session, world)
    ops.set_leader(session, world.clerk, case, world.leader, "包案化解")
    session.commit()
    number = case.number
    clerk = client_for(app, world.clerk)

    r = clerk.post(f"/cases/{number}/actions/accept", data={}, follow_redirects=True)
    assert "The case is now “Accepted”" in text(r)
    r = clerk.post(f"/cases/{number}/assign", follow_redirects=True, data={
        "lead_id": str(world.police.id), "co_ids": [str(world.land.id)],
        "letter": "请依法调查处理并按期答复。"})
    html = text(r)
    assert "was assigned to" in html and world.police.name in html and world.land.name in html

    police = client_for(app, world.police_officer)
    page = text(police.get(f"/cases/{number}"))
    assert "Start investigating" in page
    assert police.post(f"/cases/{number}/actions/start_investigation").status_code == 303
    r = police.post(f"/cases/{number}/actions/submit_reply", follow_redirects=True,
                    data={"reason": "已调查核实，答复如下。"})
    assert "The case is now “Reply awaiting sign-off”" in text(r)
    leader = client_for(app, world.leader)
    page = text(leader.get(f"/cases/{number}"))
    assert "waits for the responsible leader" in page and "已调查核实，答复如下。" in page
    r = leader.post(f"/cases/{number}/actions/sign_off_reply", follow_redirects=True)
    assert "The case is now “Replied”" in text(r)

    supervisor = client_for(app, world.supervisor)
    r = supervisor.post(f"/cases/{number}/actions/return_reply", follow_redirects=True,
                        data={"reason": "答复未回应补偿标准。"})
    assert "The case is now “Under investigation”" in text(r)

    r = police.post(f"/cases/{number}/actions/request_extension", follow_redirects=True,
                    data={"reason": "需要测量土地面积。", "days": "30"})
    assert "Ask for an extension" in text(r)
    r = leader.post(f"/cases/{number}/actions/extend", follow_redirects=True)
    html = text(r)
    assert "Approve the extension" in html
    assert "extended by 30 days" in html

    timeline = text(clerk.get(f"/cases/{number}?kind=workflow",
                              headers={"HX-Request": "true", "HX-Target": "timeline"}))
    for label in ("The case was accepted", "The case was assigned to agencies",
                  "The investigation began", "The reply was submitted for sign-off",
                  "The reply was signed off", "The reply was returned for rework",
                  "An extension was asked for", "The time limit was extended"):
        assert f"<strong>{label}</strong>" in timeline, label
    assert "答复未回应补偿标准。" in timeline and "需要测量土地面积。" in timeline
    assert "<html" not in timeline  # only the block
    assert "A document was added" not in timeline


def test_refused_transition_gives_a_clear_message(app, session, world):
    case, _code = new_case(session, world)
    clerk = client_for(app, world.clerk)
    r = clerk.post(f"/cases/{case.number}/actions/archive", follow_redirects=True)
    assert r.status_code == 200
    assert "is not possible in that state" in text(r)
    r = clerk.post(f"/cases/{case.number}/actions/not_accept", follow_redirects=True,
                   data={"reason": ""})
    assert "Give a reason" in text(r)
    session.refresh(case)
    assert case.status == "registered"
    police = client_for(app, world.police_officer)
    ops.grant_access(session, world.clerk, case, world.police, "view")
    session.commit()
    assert police.post(f"/cases/{case.number}/actions/accept").status_code == 403


def test_extension_longer_than_the_rules_allow_is_refused(app, session, world):
    case, _code = new_case(session, world, leader_id=world.leader.id)
    ops.transition(session, case, "accept", world.clerk)
    ops.assign(session, world.clerk, case, world.police)
    session.commit()
    police = client_for(app, world.police_officer)
    r = police.post(f"/cases/{case.number}/actions/request_extension", follow_redirects=True,
                    data={"reason": "太复杂", "days": "60"})
    assert "at most 30 days" in text(r)
    session.refresh(case)
    assert not events_of(session, case, ["workflow.request_extension", "workflow.extend"])


# ---------------------------------------------------------------- editing and personal data

def test_stale_summary_edit_gets_409_and_keeps_the_text(app, session, world):
    case, _code = new_case(session, world)
    seen = case.version
    clerk = client_for(app, world.clerk)
    ok = clerk.post(f"/cases/{case.number}/summary",
                    data={"summary": "第一次修改的摘要。", "version": str(seen)})
    assert ok.status_code == 303
    stale = clerk.post(f"/cases/{case.number}/summary",
                       data={"summary": "我写的另一个版本。", "version": str(seen)})
    assert stale.status_code == 409
    html = text(stale)
    assert "Someone else changed this case" in html
    assert "我写的另一个版本。" in html  # the user's text is kept
    assert "第一次修改的摘要。" in html  # and the saved one is shown
    session.refresh(case)
    assert case.summary == "第一次修改的摘要。"


def test_unmask_is_logged_and_only_for_the_office(app, session, world):
    case, _code = new_case(session, world)
    party = case.petitioners[0]
    ops.grant_access(session, world.clerk, case, world.police, "manage")
    session.commit()
    clerk = client_for(app, world.clerk)
    r = clerk.post(f"/cases/{case.number}/parties/{party.id}/unmask",
                   headers={"HX-Request": "true"})
    assert r.status_code == 200
    assert "110101195001011239" in text(r) and "13800138000" in text(r)
    assert "has been logged" in text(r)
    assert r.headers["Cache-Control"] == "no-store"
    logged = session.scalars(select(AccessLog).where(
        AccessLog.party_id == party.id, AccessLog.user_id == world.clerk.id)).all()
    assert {entry.action for entry in logged} == {"unmask_id", "unmask_phone"}

    police = client_for(app, world.police_officer)
    page = text(police.get(f"/cases/{case.number}"))
    assert "Show full numbers" not in page
    assert police.post(f"/cases/{case.number}/parties/{party.id}/unmask").status_code == 403


def test_each_view_of_the_file_is_logged(app, session, world):
    case, _code = new_case(session, world)
    clerk = client_for(app, world.clerk)
    clerk.get(f"/cases/{case.number}")
    views = session.scalar(select(func.count()).select_from(AccessLog).where(
        AccessLog.case_id == case.id, AccessLog.action == "view_case"))
    assert views == 1


# ---------------------------------------------------------------- documents

def test_upload_document_and_new_version(app, session, world):
    case, _code = new_case(session, world)
    clerk = client_for(app, world.clerk)
    r = clerk.post(f"/cases/{case.number}/documents", content_type="multipart/form-data",
                   data={"file": (io.BytesIO(PNG), "现场照片.png"), "title": "现场照片",
                         "kind": "evidence", "idempotency_key": "doc-key-1"},
                   follow_redirects=True)
    assert r.status_code == 200
    assert "The document was added" in text(r) and "现场照片" in text(r)
    doc = session.scalar(select(Document).where(Document.case_id == case.id))
    r = clerk.post(f"/cases/{case.number}/documents/{doc.id}/versions",
                   content_type="multipart/form-data",
                   data={"file": (io.BytesIO(PDF), "scan.pdf")}, follow_redirects=True)
    assert "Version 2" in text(r)
    v1 = clerk.get(f"/cases/{case.number}/documents/{doc.id}/1")
    assert v1.headers["Content-Type"] == "image/png" and v1.data == PNG
    v2 = clerk.get(f"/cases/{case.number}/documents/{doc.id}/2?download=1")
    assert v2.headers["Content-Type"] == "application/pdf"
    assert v2.headers["Content-Disposition"].startswith("attachment")


def test_text_file_is_never_shown_inline(app, session, world):
    case, _code = new_case(session, world)
    clerk = client_for(app, world.clerk)
    clerk.post(f"/cases/{case.number}/documents", content_type="multipart/form-data",
               data={"file": (io.BytesIO(b"<script>alert(1)</script>"), "x.html"),
                     "idempotency_key": "doc-key-2"})
    doc = session.scalar(select(Document).where(Document.case_id == case.id))
    r = clerk.get(f"/cases/{case.number}/documents/{doc.id}/1")
    assert r.headers["Content-Type"].startswith("text/plain")
    assert r.headers["Content-Disposition"].startswith("attachment")


# ---------------------------------------------------------------- list and print

def test_list_shows_days_left_and_filters(app, session, world):
    case, _code = new_case(session, world)
    clerk = client_for(app, world.clerk)
    html = text(clerk.get("/cases/"))
    assert case.number in html
    assert "days left" in html and "clock-" in html
    assert "Register a case" in html
    found = clerk.get("/cases/?q=承包地", headers={"HX-Request": "true"})
    assert case.number in text(found) and "<html" not in text(found)
    none = text(clerk.get("/cases/?q=从来没有的词"))
    assert case.number not in none and "No case matches" in none


def test_print_view(app, session, world):
    case, _code = new_case(session, world)
    clerk = client_for(app, world.clerk)
    r = clerk.get(f"/cases/{case.number}/print")
    assert r.status_code == 200
    html = text(r)
    assert f"Case file {case.number}" in html and "The case was registered" in html
    assert "110101195001011239" not in html


# ---------------------------------------------------------------- sharing, leader, query code

def test_manager_shares_names_the_leader_and_reissues_the_code(app, session, world):
    case, old_code = new_case(session, world)
    clerk = client_for(app, world.clerk)
    r = clerk.post(f"/cases/{case.number}/grants", follow_redirects=True,
                   data={"organisation_id": str(world.land.id), "level": "view"})
    assert f"The file is shared with {world.land.name}" in text(r)
    r = clerk.post(f"/cases/{case.number}/leader", follow_redirects=True,
                   data={"leader_id": str(world.leader.id), "plan": "每周约访一次"})
    html = text(r)
    assert "is the responsible leader" in html and "每周约访一次" in html
    r = clerk.post(f"/cases/{case.number}/query-code")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    new_code = re.sub(r"<[^>]+>", "", re.search(
        r'<code class="query-code">(.*?)</code>', text(r)).group(1))
    assert ops.find_case_by_query_code(session, old_code) is None
    assert ops.find_case_by_query_code(session, new_code).id == case.id
    land = client_for(app, world.land_officer)
    assert land.get(f"/cases/{case.number}").status_code == 200


def test_view_grant_cannot_change_the_file(app, session, world):
    case, _code = new_case(session, world)
    ops.grant_access(session, world.clerk, case, world.police, "view")
    session.commit()
    police = client_for(app, world.police_officer)
    page = text(police.get(f"/cases/{case.number}"))
    assert "Add a document" not in page and "Save summary" not in page
    assert police.post(f"/cases/{case.number}/documents", content_type="multipart/form-data",
                       data={"file": (io.BytesIO(PDF), "x.pdf")}).status_code == 403
    assert police.post(f"/cases/{case.number}/summary",
                       data={"summary": "x", "version": "1"}).status_code == 403
    assert police.post(f"/cases/{case.number}/grants",
                       data={"organisation_id": str(world.land.id),
                             "level": "manage"}).status_code == 403
    assert police.post(f"/cases/{case.number}/query-code").status_code == 403
