"""Small things of the case forms: the village list follows the township (htmx, and the
server checks the pair), a failed registration marks only the fields in error, and a
manager withdraws an organisation's access from the case page (asked first)."""

from __future__ import annotations

import re
import secrets
from typing import Any

from sqlalchemy import func, select

from portal.casefiles import operations as ops
from portal.casefiles.models import AccessGrant, Case
from portal.casefiles.timeline import events_of, payload_of
from tests.fixtures.casefiles import new_case
from tests.fixtures.core import client_for


def text(response: Any) -> str:
    return response.get_data(as_text=True)


def options(html: str, select_id: str) -> dict[str, str]:
    """value -> label of the options of one select (or of a bare list of options)."""
    found = re.search(rf'<select[^>]*id="{select_id}"[^>]*>(.*?)</select>', html, re.S)
    body = found.group(1) if found else html
    return {v: label.strip() for v, label in
            re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', body)}


def count_cases(session: Any) -> int:
    return session.scalar(select(func.count()).select_from(Case)) or 0


# ---------------------------------------------------------------- township → villages

def test_village_list_follows_the_township(app, session, world, make_org):
    other_town = make_org("东坡镇", "township", world.county)
    other_village = make_org("大石村", "village", other_town)
    clerk = client_for(app, world.clerk)
    page = text(clerk.get("/cases/new"))
    # without a township every village is offered; the township select asks for its own
    assert {str(world.village.id), str(other_village.id)} <= set(options(page, "village_id"))
    township = re.search(r'<select[^>]*id="township_id"[^>]*>', page).group(0)
    assert 'hx-get="/cases/new/villages"' in township and 'hx-target="#village_id"' in township

    fragment = clerk.get("/cases/new/villages", headers={"HX-Request": "true"},
                         query_string={"township_id": other_town.id})
    assert fragment.status_code == 200 and "<html" not in text(fragment)
    assert set(options(text(fragment), "none")) == {"0", str(other_village.id)}
    # the village chosen stays chosen when it is in the township
    kept = text(clerk.get("/cases/new/villages", query_string={
        "township_id": world.township.id, "village_id": world.village.id}))
    assert f'value="{world.village.id}" selected' in kept
    everyone = text(clerk.get("/cases/new/villages", query_string={"township_id": ""}))
    assert {str(world.village.id), str(other_village.id)} <= set(options(everyone, "none"))
    assert client_for(app, world.police_officer).get("/cases/new/villages").status_code == 403


def test_a_village_of_another_township_is_refused_on_that_field(app, session, world,
                                                                make_org):
    other_town = make_org("白沙镇", "township", world.county)
    clerk = client_for(app, world.clerk)
    before = count_cases(session)
    response = clerk.post("/cases/new", data={
        "channel": "walk_in", "kind": "land", "summary": "占用承包地修路未补偿。",
        "township_id": str(other_town.id), "village_id": str(world.village.id),
        "petitioners-0-name": "李四", "idempotency_key": secrets.token_urlsafe(16)})
    html = text(response)
    assert response.status_code == 422
    assert "The village is not in the chosen township." in html
    assert re.search(r'<select[^>]*aria-invalid="true"[^>]*id="village_id"', html)
    # the list now offers the villages of the township chosen
    assert str(world.village.id) not in options(html, "village_id")
    assert count_cases(session) == before


# ---------------------------------------------------------------- only fields in error

def test_a_failed_registration_marks_only_the_fields_in_error(app, session, world):
    clerk = client_for(app, world.clerk)
    response = clerk.post("/cases/new", data={
        "channel": "walk_in", "kind": "", "summary": "",
        "petitioners-0-name": "李四", "idempotency_key": secrets.token_urlsafe(16)})
    html = text(response)
    assert response.status_code == 422
    marked = set(re.findall(r'<(?:input|select|textarea)[^>]*aria-invalid="([^"]*)"[^>]*'
                            r'id="([^"]+)"', html))
    assert marked == {("true", "kind"), ("true", "summary")}
    # no attribute says "None" (which browsers take for "invalid"), none points nowhere
    assert '="None"' not in html
    for target in re.findall(r'aria-describedby="([^"]+)"', html):
        for ref in target.split():
            assert f'id="{ref}"' in html, ref


# ---------------------------------------------------------------- withdrawing access

def shared_case(session: Any, world: Any) -> Case:
    case, _ = new_case(session, world)
    ops.grant_access(session, world.clerk, case, world.land, "view")
    ops.grant_access(session, world.clerk, case, world.police, "contribute")
    session.commit()
    return case


def grants(session: Any, case: Case) -> set[int]:
    return set(session.scalars(select(AccessGrant.organisation_id)
                               .where(AccessGrant.case_id == case.id)))


def test_manager_withdraws_access_with_htmx(app, session, world):
    case = shared_case(session, world)
    clerk = client_for(app, world.clerk)
    page = text(clerk.get(f"/cases/{case.number}"))
    url = f"/cases/{case.number}/grants/{world.land.id}/withdraw"
    form = re.search(rf'<form[^>]*action="{re.escape(url)}"[^>]*>', page).group(0)
    assert f'hx-post="{url}"' in form and "hx-confirm=" in form and '"confirmed": "1"' in form
    # the land officer sees the file until the access is withdrawn
    land = client_for(app, world.land_officer)
    assert land.get(f"/cases/{case.number}").status_code == 200

    response = clerk.post(url, data={"confirmed": "1"}, headers={"HX-Request": "true",
                                                                  "HX-Target": "sharing"})
    assert response.status_code == 200
    fragment = text(response)
    assert "<html" not in fragment and 'id="sharing"' in fragment
    assert "no longer has access" in fragment and world.police.name in fragment
    assert grants(session, case) == {world.police.id}
    revoked = [payload_of(e) for e in events_of(session, case) if e.kind == "access.revoked"]
    assert revoked == [{"organisation_id": world.land.id, "organisation": world.land.name,
                        "level": "view"}]
    assert land.get(f"/cases/{case.number}").status_code == 404
    # a second click (another tab) changes nothing and says so
    again = clerk.post(url, data={"confirmed": "1"}, headers={"HX-Request": "true"})
    assert again.status_code == 200 and "has no access to this file" in text(again)
    assert len([e for e in events_of(session, case) if e.kind == "access.revoked"]) == 1


def test_without_javascript_a_page_asks_first(app, session, world):
    case = shared_case(session, world)
    clerk = client_for(app, world.clerk)
    url = f"/cases/{case.number}/grants/{world.police.id}/withdraw"
    asked = clerk.post(url)
    assert asked.status_code == 200
    html = text(asked)
    assert "Withdraw access" in html and world.police.name in html
    assert 'name="confirmed" value="1"' in html and 'name="csrf_token"' in html
    assert grants(session, case) == {world.land.id, world.police.id}  # nothing yet

    done = clerk.post(url, data={"confirmed": "1"})
    assert done.status_code == 303 and done.headers["Location"].endswith("#agencies")
    assert grants(session, case) == {world.land.id}
    followed = text(clerk.get(done.headers["Location"]))
    assert "no longer has access" in followed


def test_only_managers_withdraw(app, session, world):
    case = shared_case(session, world)
    url = f"/cases/{case.number}/grants/{world.land.id}/withdraw"
    # the police can contribute to the file, not manage it: no button, and 403
    police = client_for(app, world.police_officer)
    assert f'action="{url}"' not in text(police.get(f"/cases/{case.number}"))
    assert police.post(url, data={"confirmed": "1"}).status_code == 403
    # another office does not even learn that the case exists
    other = client_for(app, world.other_clerk)
    assert other.post(url, data={"confirmed": "1"}).status_code == 404
    assert client_for(app, world.clerk).post(
        f"/cases/{case.number}/grants/999999/withdraw").status_code == 404
    assert grants(session, case) == {world.land.id, world.police.id}


# ---------------------------------------------------------------- identity and dates

def _register(clerk: Any, **rows: str) -> Any:
    data = {"channel": "walk_in", "kind": "land", "summary": "占用承包地修路未补偿。",
            "idempotency_key": secrets.token_urlsafe(16), **rows}
    return clerk.post("/cases/new", data=data)


def _field_error(html: str, field_id: str) -> str:
    found = re.search(rf'<p class="error" id="{field_id}-err">([^<]*)</p>', html)
    return found.group(1) if found else ""


def test_bad_id_and_phone_numbers_are_refused_on_their_field(app, session, world):
    clerk = client_for(app, world.clerk)
    before = count_cases(session)
    for id_number, says in [
            ("12345", "18 characters (5 entered)"),
            ("110101195001011234", "does not match"),  # the check digit is 9
            ("110101195013011239", "is not a date")]:
        response = _register(clerk, **{"petitioners-0-name": "李四",
                                       "petitioners-0-id_number": id_number})
        html = text(response)
        assert response.status_code == 422, id_number
        assert says in _field_error(html, "petitioners-0-id_number"), id_number
        assert re.search(r'<input[^>]*aria-invalid="true"[^>]*id="petitioners-0-id_number"',
                         html)
        assert f'value="{id_number}"' in html  # what was typed stays to be corrected
    response = _register(clerk, **{"petitioners-0-name": "李四",
                                   "petitioners-0-phone": "abc"})
    assert response.status_code == 422
    assert "made of digits" in _field_error(text(response), "petitioners-0-phone")
    assert count_cases(session) == before  # nothing stored


def test_a_passport_and_a_typed_phone_are_kept_normalised(app, session, world):
    clerk = client_for(app, world.clerk)
    response = _register(clerk, **{
        "petitioners-0-name": "Anna Müller", "petitioners-0-id_kind": "passport",
        "petitioners-0-id_number": "c01x00t47", "petitioners-0-phone": "+86 139-1234-5678",
        "confirm_new": "y"})
    assert response.status_code == 200, text(response)[:300]
    case = session.scalar(select(Case).order_by(Case.id.desc()))
    party = case.parties[0]
    assert (party.id_kind, party.id_number, party.phone) == ("passport", "C01X00T47",
                                                             "13912345678")
    # the duplicate check finds the same person however the phone is written
    assert case in ops.find_duplicates(session, phone="139 1234 5678")
    page = text(clerk.get(f"/cases/{case.number}"))
    assert "Passport" in page and "C01X00T47" not in page  # named, and masked


def test_a_row_without_a_name_is_marked_on_its_name_field(app, session, world):
    clerk = client_for(app, world.clerk)
    response = _register(clerk, **{"petitioners-0-name": "李四",
                                   "petitioners-1-phone": "13912345678"})
    html = text(response)
    assert response.status_code == 422
    assert "Enter the name of this person." in _field_error(html, "petitioners-1-name")
    assert not _field_error(html, "petitioners-0-name")


def test_a_received_day_in_the_future_is_refused(app, session, world):
    from datetime import timedelta

    from portal.casefiles.clocks import today_in_china

    clerk = client_for(app, world.clerk)
    before = count_cases(session)
    tomorrow = (today_in_china() + timedelta(days=1)).isoformat()
    response = _register(clerk, **{"petitioners-0-name": "李四", "received_on": tomorrow})
    assert response.status_code == 422
    assert "cannot be in the future" in _field_error(text(response), "received_on")
    assert count_cases(session) == before


def test_operations_refuse_a_bad_number_from_any_caller(session, world):
    import pytest

    from portal.errors import DomainError

    with pytest.raises(DomainError, match="does not match"):
        ops.register_case(session, world.clerk, channel="walk_in", kind="land",
                          summary="x", petitioners=[{"name": "李四",
                                                     "id_number": "110101195001011234"}])


# ---------------------------------------------------------------- attachments kept

def test_attachments_survive_a_form_that_comes_back(app, session, world):
    import io

    from portal.casefiles.models import Document

    clerk = client_for(app, world.clerk)
    letter = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    first = clerk.post("/cases/new", data={
        "channel": "walk_in", "kind": "land", "summary": "",  # an error elsewhere
        "petitioners-0-name": "李四", "idempotency_key": "keep-files",
        "attachments": (io.BytesIO(letter), "来信.pdf")}, content_type="multipart/form-data")
    html = text(first)
    assert first.status_code == 422 and "来信.pdf" in html
    tokens = re.findall(r'name="kept" value="([^"]+)" checked', html)
    assert len(tokens) == 1
    # the clerk corrects the summary and saves, choosing no file again
    second = clerk.post("/cases/new", data={
        "channel": "walk_in", "kind": "land", "summary": "占用承包地修路未补偿。",
        "petitioners-0-name": "李四", "idempotency_key": "keep-files", "kept": tokens,
        "confirm_new": "y"})
    assert second.status_code == 200, text(second)[:300]
    case = session.scalar(select(Case).order_by(Case.id.desc()))
    docs = session.scalars(select(Document).where(Document.case_id == case.id)).all()
    assert [d.title for d in docs] == ["来信.pdf"]
    assert ops.open_document(session, world.clerk, docs[0].current) == letter


def test_a_kept_file_token_of_another_user_or_forged_is_ignored(app, session, world,
                                                                make_user):
    import io

    from portal.auth.roles import Role
    from portal.casefiles.models import Document

    clerk = client_for(app, world.clerk)
    page = text(clerk.post("/cases/new", data={
        "channel": "walk_in", "kind": "land", "summary": "", "petitioners-0-name": "李四",
        "idempotency_key": "k1", "attachments": (io.BytesIO(b"secret letter"), "a.txt")},
        content_type="multipart/form-data"))
    token = re.findall(r'name="kept" value="([^"]+)"', page)[0]
    other = make_user(Role.CLERK, organisations=[world.office])
    thief = client_for(app, other)
    for sent in (token, token[:-4] + "AAAA"):
        response = thief.post("/cases/new", data={
            "channel": "walk_in", "kind": "land", "summary": "另一件事",
            "petitioners-0-name": "王五", "idempotency_key": secrets.token_urlsafe(8),
            "kept": sent, "confirm_new": "y"})
        assert response.status_code == 200
        case = session.scalar(select(Case).order_by(Case.id.desc()))
        assert session.scalars(select(Document).where(Document.case_id == case.id)).all() \
            == []


def test_a_summary_over_its_limit_is_refused_with_a_counter_not_cut(app, session, world):
    clerk = client_for(app, world.clerk)
    page = text(clerk.get("/cases/new"))
    summary = re.search(r'<textarea[^>]*id="summary"[^>]*>', page).group(0)
    assert "maxlength" not in summary.replace("data-maxlength", "")  # the browser cuts nothing
    assert 'data-maxlength="5000"' in summary and 'id="summary-count"' in page
    before = count_cases(session)
    too_long = "占" * 5001
    response = _register(clerk, **{"petitioners-0-name": "李四", "summary": too_long})
    html = text(response)
    assert response.status_code == 422
    assert "5000" in _field_error(html, "summary")
    assert too_long in html  # kept whole for the clerk to shorten
    assert "5001 of at most 5000 characters" in html
    assert count_cases(session) == before
