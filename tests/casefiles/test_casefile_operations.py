"""Registration, case numbers, query codes, personal data at rest, duplicates,
sharing, assignment, edits with a version check, documents and the access log."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, text

from portal.casefiles import operations as ops
from portal.casefiles import permissions as perm
from portal.casefiles.models import (
    AccessLog,
    Assignment,
    AssignmentStatus,
    Case,
    CaseEvent,
    DocumentVersion,
    GrantLevel,
    Status,
)
from portal.casefiles.timeline import payload_of, verify_case
from portal.crypto import lookup_hash
from portal.web import DomainError, NotAllowed
from tests.fixtures.casefiles import new_case

NUMBER = re.compile(r"^\d{4}-XF-\d{6}$")


def test_registration_opens_a_file_with_a_readable_number_and_an_event(session, world):
    case, code = new_case(session, world)
    assert NUMBER.match(case.number)
    assert case.status == Status.REGISTERED
    assert case.office_id == world.office.id
    assert [p.role for p in case.parties] == ["petitioner", "other"]
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)).all()
    assert [(e.seq, e.kind) for e in events] == [(1, "case.registered")]
    payload = payload_of(events[0])
    assert payload["number"] == case.number
    assert "110101195001011239" not in events[0].payload
    assert "13800138000" not in events[0].payload
    assert verify_case(session, case) is None


def test_case_numbers_are_unique_and_consecutive(session, world):
    numbers = [new_case(session, world)[0].number for _ in range(5)]
    assert len(set(numbers)) == 5
    assert all(NUMBER.match(n) for n in numbers)
    counters = [int(n[-6:]) for n in numbers]
    assert counters == list(range(counters[0], counters[0] + 5))


def test_query_code_is_12_digits_in_groups_stored_hashed_and_finds_its_case(session, world):
    case, code = new_case(session, world)
    assert re.fullmatch(r"\d{4} \d{4} \d{4}", code)
    digits = code.replace(" ", "")
    assert digits not in case.query_code_hash and len(case.query_code_hash) == 64
    assert ops.find_case_by_query_code(session, code) is case
    assert ops.find_case_by_query_code(session, digits) is case
    assert ops.find_case_by_query_code(session, f"{digits[:4]}-{digits[4:8]}-{digits[8:]}") is case
    # full-width digits from a Chinese input method
    assert ops.find_case_by_query_code(session, "".join(chr(0xFF10 + int(d)) for d in digits)) \
        is case
    other = "0" if digits[-1] != "0" else "1"
    assert ops.find_case_by_query_code(session, digits[:-1] + other) is None
    assert ops.find_case_by_query_code(session, digits[:-1]) is None
    assert ops.find_case_by_query_code(session, "short") is None
    new_code = ops.reissue_query_code(session, world.clerk, case)
    assert re.fullmatch(r"\d{4} \d{4} \d{4}", new_code)
    assert ops.find_case_by_query_code(session, code) is None
    assert ops.find_case_by_query_code(session, new_code) is case


def test_query_codes_are_unique(session, world, monkeypatch):
    _case, code = new_case(session, world)
    taken = int(code.replace(" ", ""))
    draws = iter([taken, taken, 123456789012])
    monkeypatch.setattr(ops.secrets, "randbelow", lambda n: next(draws))
    assert ops.new_query_code(session) == "1234 5678 9012"


def test_a_case_keeps_its_older_long_code(session, world):
    """Cases registered before the short codes keep the 32-letter code they were given."""
    case, _code = new_case(session, world)
    legacy = "ABCD-EFGH-IJKL-MNOP-QRST-UVWX-YZ23-4567"
    case.query_code_hash = lookup_hash(legacy.replace("-", ""))  # as it was stored then
    session.flush()
    assert ops.find_case_by_query_code(session, legacy) is case
    assert ops.find_case_by_query_code(session, legacy.lower().replace("-", " ")) is case
    assert ops.find_case_by_query_code(session, "AAAA-" + legacy[5:]) is None


def test_id_and_phone_numbers_are_encrypted_at_rest(session, world):
    case, _ = new_case(session, world)
    rows = session.execute(text(
        "SELECT id_number, phone, id_number_hash FROM case_parties WHERE case_id = :c "
        "AND role = 'petitioner'"), {"c": case.id}).all()
    raw_id, raw_phone, id_hash = rows[0]
    assert "110101195001011239" not in raw_id and "13800138000" not in raw_phone
    assert not re.search(r"\d{6}", raw_id)
    assert len(id_hash) == 64
    party = case.petitioners[0]
    session.expire(party)
    assert party.id_number == "110101195001011239"


def test_duplicate_check_finds_the_earlier_case(session, world):
    first, _ = new_case(session, world)
    other, _ = new_case(session, world, summary="邻居噪音扰民",
                        petitioners=[{"name": "李四", "id_number": "110101196002022348"}])
    found = ops.find_duplicates(session, id_number="110101 195001011239")
    assert first in found and other not in found
    assert first in ops.find_duplicates(session, phone="138 0013 8000")
    assert first in ops.find_duplicates(session, name="张三",
                                        summary="村委会占用我家承包地修路没有补偿")
    assert first not in ops.find_duplicates(session, name="张三", summary="孩子上学难")
    assert ops.find_duplicates(session, id_number="999999199901019999") == []
    second, _ = new_case(session, world)
    assert ops.find_duplicates(session, id_number="110101195001011239",
                               exclude_case_id=second.id)[0] == first


def test_registration_needs_a_clerk_a_petitioner_and_a_summary(session, world):
    with pytest.raises(NotAllowed):
        ops.register_case(session, world.police_officer, channel="letter", kind="land",
                          summary="x", petitioners=[{"name": "王五"}])
    with pytest.raises(DomainError):
        new_case(session, world, petitioners=[])
    with pytest.raises(DomainError):
        new_case(session, world, summary="  ")
    with pytest.raises(DomainError):
        new_case(session, world, channel="carrier pigeon")
    with pytest.raises(DomainError):
        new_case(session, world, village_id=world.township.id)


def test_assign_shares_the_file_and_records_the_letter(session, world):
    case, _ = new_case(session, world)
    from portal.casefiles.workflow import transition

    transition(session, case, "accept", world.clerk)
    assert not perm.can_view(world.police_officer, case)
    made = ops.assign(session, world.clerk, case, world.police, [world.land, world.police],
                      letter="请于期限内调查答复")
    session.commit()
    assert case.status == Status.ASSIGNED
    assert [(a.organisation_id, a.is_lead) for a in made] == [(world.police.id, True),
                                                             (world.land.id, False)]
    assert case.lead_assignment.organisation_id == world.police.id
    assert perm.can_contribute(world.police_officer, case)
    assert perm.can_contribute(world.land_officer, case)
    assert not perm.can_view(world.outsider_officer, case)
    kinds = [e.kind for e in session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq))]
    assert kinds == ["case.registered", "workflow.accept", "access.granted", "access.granted",
                     "workflow.assign"]
    assert verify_case(session, case) is None


def test_decline_then_reassign(session, world):
    from portal.casefiles.workflow import transition

    case, _ = new_case(session, world)
    transition(session, case, "accept", world.clerk)
    ops.assign(session, world.clerk, case, world.police, [], "交办")
    transition(session, case, "decline", world.police_officer, reason="不属于本单位职责")
    assert case.status == Status.ACCEPTED
    assert case.lead_assignment is None
    ops.assign(session, world.clerk, case, world.land, [], "转办")
    statuses = {a.organisation_id: a.status for a in session.scalars(
        select(Assignment).where(Assignment.case_id == case.id))}
    assert statuses == {world.police.id: AssignmentStatus.DECLINED,
                        world.land.id: AssignmentStatus.OPEN}


def test_grant_and_revoke(session, world):
    case, _ = new_case(session, world)
    with pytest.raises(NotAllowed):
        ops.grant_access(session, world.police_officer, case, world.police, "manage")
    ops.grant_access(session, world.clerk, case, world.police, GrantLevel.VIEW)
    assert perm.can_view(world.police_officer, case)
    assert not perm.can_contribute(world.police_officer, case)
    ops.grant_access(session, world.clerk, case, world.police, GrantLevel.MANAGE)
    assert len(case.grants) == 1 and perm.can_manage(world.police_officer, case)
    ops.revoke_access(session, world.clerk, case, world.police)
    session.commit()
    session.expire(case)
    assert not perm.can_view(world.police_officer, case)


def test_stale_edit_is_refused_with_409(session, world):
    case, _ = new_case(session, world)
    version = case.version
    ops.edit_case(session, world.clerk, case, version, summary="补充：涉及三户")
    session.commit()
    assert case.version == version + 1
    with pytest.raises(ops.StaleEdit) as refused:
        ops.edit_case(session, world.leader, case, version, summary="另一人的修改")
    assert refused.value.status == 409
    assert case.summary == "补充：涉及三户"
    edited = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                     CaseEvent.kind == "case.edited")).all()
    assert len(edited) == 1


def test_documents_keep_every_version_and_identical_content_is_stored_once(session, world,
                                                                           app):
    case, _ = new_case(session, world)
    doc = ops.add_document(session, world.clerk, case, title="来信", data=b"%PDF-1.4 letter",
                           original_name="letter.pdf", media_type="application/pdf",
                           is_restricted=True)
    v2 = ops.add_document_version(session, world.clerk, doc, b"%PDF-1.4 letter v2",
                                  "letter.pdf", "application/pdf")
    again = ops.add_document(session, world.clerk, case, title="副本",
                             data=b"%PDF-1.4 letter", original_name="copy.pdf",
                             media_type="application/pdf")
    session.commit()
    versions = session.scalars(select(DocumentVersion).where(
        DocumentVersion.document_id == doc.id).order_by(DocumentVersion.version)).all()
    assert [v.version for v in versions] == [1, 2] and versions[1] is v2
    assert again.current.sha256 == versions[0].sha256
    from portal.casefiles import blobs

    path = blobs.blob_path(versions[0].sha256)
    assert path.read_bytes() == b"%PDF-1.4 letter"
    assert path.parent.name == versions[0].sha256[:2]
    # a restricted document read by an agency with a grant is logged; without one, refused
    with pytest.raises(NotAllowed):
        ops.open_document(session, world.police_officer, versions[0])
    ops.grant_access(session, world.clerk, case, world.police, "view")
    assert ops.open_document(session, world.police_officer, versions[0]) == b"%PDF-1.4 letter"
    session.commit()  # the access log rows are written with the request's commit
    logs = session.scalars(select(AccessLog).where(AccessLog.case_id == case.id)).all()
    assert [(entry.user_id, entry.action, entry.document_id) for entry in logs] == [
        (world.police_officer.id, "view_document", doc.id)]


def test_unmasking_is_for_the_office_and_is_logged(session, world):
    case, _ = new_case(session, world)
    party = case.petitioners[0]
    ops.grant_access(session, world.clerk, case, world.police, "manage")
    with pytest.raises(NotAllowed):
        ops.unmask_party(session, world.police_officer, party)
    assert ops.unmask_party(session, world.clerk, party) == ("110101195001011239",
                                                              "13800138000")
    session.commit()  # the access log rows are written with the request's commit
    actions = sorted(e.action for e in session.scalars(
        select(AccessLog).where(AccessLog.party_id == party.id)))
    assert actions == ["unmask_id", "unmask_phone"]


def test_set_leader_lets_the_leader_see_the_case(session, world, make_user, make_org):
    from portal.auth.roles import Role

    case, _ = new_case(session, world)
    elsewhere = make_org(None, "agency", world.county)
    county_leader = make_user(Role.LEADER, organisations=[elsewhere])
    assert not perm.can_view(county_leader, case)
    with pytest.raises(DomainError):
        ops.set_leader(session, world.clerk, case, world.police_officer, "x")
    ops.set_leader(session, world.clerk, case, county_leader, "包案化解方案")
    assert perm.can_manage(county_leader, case)
    assert session.get(Case, case.id).leader_plan == "包案化解方案"
