"""The public check of an issued document (/verify): says only whether the portal issued
a document with that SHA-256, when and of what kind; never the case, names or content."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlalchemy import func, select

from portal.casefiles import issued
from portal.casefiles.models import IssuedDocument
from tests.fixtures.casefiles import new_case

PDF = b"%PDF-1.7\n% a hearing record\n%%EOF\n"


def test_a_registered_hash_is_issued_with_its_date_and_kind_only(client, session, world):
    case, _code = new_case(session, world)
    row = issued.issue(session, PDF, "hearing_record", case)
    row.issued_at = datetime(2026, 3, 1, 17, 30, tzinfo=UTC)  # 01:30 on 2 March in Beijing
    session.commit()
    digest = hashlib.sha256(PDF).hexdigest()
    assert row.sha256 == digest

    page = client.get(f"/verify/{digest}")  # nobody logged in
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Issued by this portal." in html
    assert "2026-03-02" in html and "a hearing record" in html
    for secret in (case.number, "张三", "村委会", world.office.name):
        assert secret not in html
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"


def test_an_unknown_hash_is_not_issued(client, session):
    page = client.get("/verify/" + "ab" * 32)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Not issued by this portal." in html and "Issued by this portal." not in html


def test_bad_strings_get_a_clear_message(client, session):
    for bad in ("1234", "z" * 64, "a" * 65, "%E4%B8%AD" * 8, "a" * 3000):
        page = client.get(f"/verify/{bad}")
        assert page.status_code == 404, bad
        assert "not a document fingerprint" in page.get_data(as_text=True)
    # upper case or spaces as pasted: the one address of the hash
    digest = hashlib.sha256(b"x").hexdigest()
    moved = client.get(f"/verify/{digest.upper()}")
    assert moved.status_code == 301 and moved.headers["Location"].endswith(digest)


def test_the_form_sends_a_pasted_hash_to_its_page(client, session):
    assert "Fingerprint (SHA-256)" in client.get("/verify").get_data(as_text=True)
    digest = hashlib.sha256(b"y").hexdigest()
    sent = client.get("/verify", query_string={"hash": "  " + digest.upper() + "\n"})
    assert sent.status_code == 303 and sent.headers["Location"].endswith(f"/verify/{digest}")
    wrong = client.get("/verify", query_string={"hash": "not a hash"})
    assert wrong.status_code == 200
    assert "not a document fingerprint" in wrong.get_data(as_text=True)


def test_issuing_is_idempotent_by_hash(session, world):
    case, _code = new_case(session, world)
    first = issued.issue(session, PDF, "hearing_record", case)
    again = issued.issue(session, PDF, "mediation_agreement", None)
    text_hash = issued.issue_hash(session, hashlib.sha256(b"text").hexdigest().upper(),
                                  "hearing_record", case)
    assert again.id == first.id and again.kind == "hearing_record"
    assert text_hash.sha256 == hashlib.sha256(b"text").hexdigest()
    assert session.scalar(select(func.count()).select_from(IssuedDocument)) == 2


def test_checks_are_rate_limited(client, session):
    digest = "cd" * 32
    answers = [client.get(f"/verify/{digest}").status_code for _ in range(31)]
    assert answers[:30] == [200] * 30 and answers[30] == 429
    page = client.get(f"/verify/{digest}")
    assert "Too many checks" in page.get_data(as_text=True)
