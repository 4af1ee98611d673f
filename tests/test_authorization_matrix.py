"""Every registered route × anonymous and each role → the expected answer.

The table below is the access policy written out by hand. A route that is not in it fails
the test, so nobody can add a page without deciding who may open it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from portal.auth.roles import Role
from tests.fixtures.core import login

PUBLIC = "public"
ANY_USER = "any logged-in user"
A, C, L, G, S = Role.ADMIN, Role.CLERK, Role.LEADER, Role.AGENCY, Role.SUPERVISOR
STAFF_VIEW = {A, C, L, S}
#: roles that open case pages; which cases: permissions.can_view (others get 404)
CASE_ROLES = {A, C, L, S, G}
#: roles that open the reception schedule; which rooms: video.permissions
VIDEO_ROLES = {A, C, L, S, G}


@dataclass
class Rule:
    who: str | set[Role]
    #: builds the URL's arguments from the objects made for the test
    args: Callable[[dict[str, Any]], dict[str, Any]] = field(default=lambda objs: {})
    #: form data for POST routes (CSRF is off in the test app)
    data: dict[str, Any] = field(default_factory=dict)


EXPECTED: dict[tuple[str, str], Rule] = {
    ("site.home", "GET"): Rule(ANY_USER),
    ("site.healthz", "GET"): Rule(PUBLIC),
    ("site.set_language", "GET"): Rule(PUBLIC, lambda o: {"code": "en"}),
    ("site.set_language", "POST"): Rule(PUBLIC, lambda o: {"code": "en"}),
    ("auth.login", "GET"): Rule(PUBLIC),
    ("auth.login", "POST"): Rule(PUBLIC),
    ("auth.second_factor", "GET"): Rule(PUBLIC),
    ("auth.second_factor", "POST"): Rule(PUBLIC),
    ("auth.logout", "POST"): Rule(ANY_USER),
    ("auth.account", "GET"): Rule(ANY_USER),
    ("auth.account", "POST"): Rule(ANY_USER),
    ("auth.enrol_2fa", "GET"): Rule({A, C, L, G, S}),
    ("auth.enrol_2fa", "POST"): Rule({A, C, L, G, S}),
    ("auth.disable_2fa", "POST"): Rule({A, C, L, G, S}),
    ("auth.users", "GET"): Rule({A}),
    ("auth.new_user", "GET"): Rule({A}),
    ("auth.new_user", "POST"): Rule({A}),
    ("auth.edit_user", "GET"): Rule({A}, lambda o: {"user_id": o["target"].id}),
    ("auth.edit_user", "POST"): Rule({A}, lambda o: {"user_id": o["target"].id}),
    ("auth.reset_password", "POST"): Rule({A}, lambda o: {"user_id": o["target"].id}),
    ("auth.security", "GET"): Rule({A}),
    ("auth.security", "POST"): Rule({A}),
    ("orgs.index", "GET"): Rule({A, C, L, S, G}),
    ("orgs.new", "GET"): Rule({A}),
    ("orgs.new", "POST"): Rule({A}),
    ("orgs.edit", "GET"): Rule({A}, lambda o: {"org_id": o["org"].id}),
    ("orgs.edit", "POST"): Rule({A}, lambda o: {"org_id": o["org"].id}),
    ("people.index", "GET"): Rule(STAFF_VIEW),
    ("people.show", "GET"): Rule(STAFF_VIEW, lambda o: {"person_id": o["person"].id}),
    ("people.new", "GET"): Rule({A, C}),
    ("people.new", "POST"): Rule({A, C}),
    ("people.edit", "GET"): Rule({A, C}, lambda o: {"person_id": o["person"].id}),
    ("people.edit", "POST"): Rule({A, C}, lambda o: {"person_id": o["person"].id}),
    ("people.set_active", "POST"): Rule({A, C}, lambda o: {"person_id": o["person"].id}),
    ("people.reveal_phone", "POST"): Rule({A, C}, lambda o: {"person_id": o["person"].id}),
    ("people.add_affiliation", "POST"): Rule({A, C}, lambda o: {"person_id": o["person"].id}),
    ("people.remove_affiliation", "POST"): Rule(
        {A, C}, lambda o: {"person_id": o["person"].id, "tie_id": 1}),
    ("people.import_csv", "GET"): Rule({A, C}),
    ("people.import_csv", "POST"): Rule({A, C}),
    ("people.import_template", "GET"): Rule({A, C}),
    ("notify.inbox", "GET"): Rule(ANY_USER),
    ("cases.index", "GET"): Rule(CASE_ROLES),
    ("casequery.query", "GET"): Rule(PUBLIC),
    ("casequery.query", "POST"): Rule(PUBLIC),
    ("casequery.document", "POST"): Rule(PUBLIC),
    ("casequery.rate", "POST"): Rule(PUBLIC),
    ("cases.new", "GET"): Rule({A, C}),
    ("cases.new", "POST"): Rule({A, C}),
    ("cases.check_duplicates", "POST"): Rule({A, C}),
    ("cases.villages", "GET"): Rule({A, C}),
    ("cases.show", "GET"): Rule(CASE_ROLES, lambda o: {"number": o["case"].number}),
    ("cases.print_view", "GET"): Rule(CASE_ROLES, lambda o: {"number": o["case"].number}),
    ("cases.edit_summary", "POST"): Rule(CASE_ROLES, lambda o: {"number": o["case"].number}),
    ("cases.unmask", "POST"): Rule(CASE_ROLES, lambda o: {
        "number": o["case"].number, "party_id": o["case"].parties[0].id}),
    ("cases.add_document", "POST"): Rule(CASE_ROLES, lambda o: {"number": o["case"].number}),
    ("cases.add_version", "POST"): Rule(CASE_ROLES, lambda o: {
        "number": o["case"].number, "document_id": o["document"].id}),
    ("cases.document_file", "GET"): Rule(CASE_ROLES, lambda o: {
        "number": o["case"].number, "document_id": o["document"].id, "version": 1}),
    ("cases.act", "POST"): Rule(CASE_ROLES, lambda o: {"number": o["case"].number,
                                                       "action": "accept"}),
    ("cases.assign", "POST"): Rule(CASE_ROLES, lambda o: {"number": o["case"].number}),
    ("cases.grant", "POST"): Rule(CASE_ROLES, lambda o: {"number": o["case"].number}),
    ("cases.withdraw_grant", "POST"): Rule(CASE_ROLES, lambda o: {
        "number": o["case"].number, "organisation_id": o["org"].id}),
    ("cases.set_leader", "POST"): Rule(CASE_ROLES, lambda o: {"number": o["case"].number}),
    ("cases.reissue_code", "POST"): Rule(CASE_ROLES, lambda o: {"number": o["case"].number}),
    ("holidays.index", "GET"): Rule({A}),
    ("holidays.add", "POST"): Rule({A}, data={"first": "2030-10-01", "kind": "holiday",
                                              "name": "国庆节"}),
    ("holidays.remove", "POST"): Rule({A}, lambda o: {"holiday_id": 999999}),
    ("cases.pause_clock", "POST"): Rule(CASE_ROLES, lambda o: {"number": o["case"].number}),
    ("cases.resume_clock", "POST"): Rule(CASE_ROLES, lambda o: {"number": o["case"].number}),
    ("cases.export_pdf", "GET"): Rule(CASE_ROLES, lambda o: {"number": o["case"].number}),
    ("cases.export_zip", "GET"): Rule(CASE_ROLES, lambda o: {"number": o["case"].number}),
    # video reception: the schedule for office staff and agency hosts (rooms of other
    # offices answer 404 through video.permissions); the join link is public
    ("video.index", "GET"): Rule(VIDEO_ROLES),
    ("video.new_room", "GET"): Rule({A, C, L}),
    ("video.new_room", "POST"): Rule({A, C, L}),
    ("video.room", "GET"): Rule(VIDEO_ROLES, lambda o: {"room_id": 1}),  # 404 is fine
    ("video.book", "POST"): Rule(VIDEO_ROLES, lambda o: {"room_id": 1}),
    ("video.host", "GET"): Rule(VIDEO_ROLES, lambda o: {"room_id": 1}),
    ("video.notes", "GET"): Rule(VIDEO_ROLES, lambda o: {"room_id": 1}),
    ("video.reissue_link", "POST"): Rule(VIDEO_ROLES, lambda o: {"seat_id": 1}),
    ("video.email_link", "POST"): Rule(VIDEO_ROLES, lambda o: {"seat_id": 1}),
    ("video.add_companion", "POST"): Rule(VIDEO_ROLES, lambda o: {"seat_id": 1}),
    ("video.cancel_seat", "POST"): Rule(VIDEO_ROLES, lambda o: {"seat_id": 1}),
    ("video.save_note", "POST"): Rule(VIDEO_ROLES, lambda o: {"seat_id": 1}),
    ("video.file_note", "POST"): Rule(VIDEO_ROLES, lambda o: {"seat_id": 1}),
    ("join.check", "GET"): Rule(PUBLIC, lambda o: {"token": "x"}),
    ("join.consent", "POST"): Rule(PUBLIC, lambda o: {"token": "x"}),
    ("join.call", "GET"): Rule(PUBLIC, lambda o: {"token": "x"}),
    ("join.leave", "GET"): Rule(PUBLIC, lambda o: {"token": "x"}),
    ("join.ping", "GET"): Rule(PUBLIC),
    ("notify.read", "POST"): Rule(ANY_USER, lambda o: {"notification_id": 1}),  # 404 is fine
    ("notify.read_all", "POST"): Rule(ANY_USER),
    ("notify.outbox", "GET"): Rule({A}),
    ("notify.retry", "POST"): Rule({A}, lambda o: {"message_id": 1}),
}


def _routes(app: Any) -> list[tuple[str, str, Any]]:
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, rule))
    return found


def test_every_route_has_an_entry(app):
    missing = [(e, m) for e, m, _ in _routes(app) if (e, m) not in EXPECTED]
    assert not missing, f"routes without an access rule in this table: {missing}"
    stale = [key for key in EXPECTED if key not in {(e, m) for e, m, _ in _routes(app)}]
    assert not stale, f"entries for routes that no longer exist: {stale}"


ACTORS: list[Role | None] = [None, *Role]


@pytest.fixture()
def objects(make_user, make_org, session) -> dict[str, Any]:
    from portal.people.models import Person

    county = make_org("矩阵县", kind="county")
    person = Person(kind="expert", name="矩阵专家", expert_field="land", phone="13800001111")
    session.add(person)
    # a case of an office none of the test users belongs to: other staff get 404 on it
    from portal.casefiles import operations as case_ops

    office = make_org("矩阵信访局", parent=county, sector="petition")
    registrar = make_user(Role.CLERK, organisations=[office])
    case, _code = case_ops.register_case(
        session, registrar, channel="walk_in", kind="land", summary="矩阵案件",
        petitioners=[{"name": "矩阵信访人", "id_number": "110101195001011234",
                      "phone": "13800001111"}])
    document = case_ops.add_document(
        session, registrar, case, title="来信", data=b"%PDF-1.4\n%%EOF\n",
        original_name="letter.pdf", media_type="application/pdf")
    session.commit()
    return {"target": make_user(Role.CLERK), "org": make_org("矩阵局", parent=county),
            "person": person, "case": case, "document": document}


@pytest.mark.parametrize("actor", ACTORS, ids=lambda r: str(r) if r else "anonymous")
def test_access_matrix(app, client, make_user, objects, actor):
    if actor is not None:
        login(client, make_user(actor))
    failures = []
    for endpoint, method, _rule in _routes(app):
        spec = EXPECTED.get((endpoint, method))
        if spec is None:
            continue  # reported by test_every_route_has_an_entry
        with app.test_request_context():
            from flask import url_for

            url = url_for(endpoint, **spec.args(objects))
        response = client.open(url, method=method, data=spec.data)
        status = response.status_code
        location = response.headers.get("Location", "")
        to_login = status == 302 and "/login" in location
        if spec.who == PUBLIC:
            allowed = True
        elif actor is None:
            allowed = False
        else:
            allowed = spec.who == ANY_USER or actor in spec.who
        if endpoint == "auth.logout" and allowed:
            login(client, make_user(actor))  # stay logged in for the rest
        if allowed:
            ok = status < 500 and status not in (401, 403) and not (
                to_login and endpoint not in ("auth.logout", "auth.second_factor"))
        elif actor is None:
            ok = to_login
        else:
            ok = status == 403
        if not ok:
            failures.append(f"{method} {url} as {actor or 'anonymous'}: {status} {location}")
    assert not failures, "\n".join(failures)
