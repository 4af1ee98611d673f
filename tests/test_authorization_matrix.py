"""Every registered route × anonymous and each role → the expected answer.

The table below is the access policy written out by hand. A route that is not in it fails
the test, so nobody can add a page without deciding who may open it.

Every URL names an object that exists (made by the `objects` fixture and, for what belongs
to the acting user, by the test): a route passes for a role allowed in only by answering
something other than 401, 403 and 404. Where a role gets past the route's check but may
not know the object (a case file of another office, a room of its office it does not run),
the 404 is written out in the rule's `hidden`."""

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
#: the test's case belongs to an office none of the actors belongs to: only the admin
#: knows it
OTHER_OFFICE_CASE = CASE_ROLES - {A}
#: roles that open the reception schedule; which rooms: video.permissions
VIDEO_ROLES = {A, C, L, S, G}
#: the test's room is run by the actor's office: its supervisor sees it, an agency
#: officer who does not host it does not know it
ROOM_UNSEEN = {G}
#: ... and only its clerks and leaders (and the admin) manage and host it
ROOM_UNMANAGED = {S, G}


@dataclass
class Rule:
    who: str | set[Role]
    #: builds the URL's arguments from the objects made for the test
    args: Callable[[dict[str, Any]], dict[str, Any]] = field(default=lambda objs: {})
    #: form data for POST routes (CSRF is off in the test app)
    data: dict[str, Any] = field(default_factory=dict)
    #: roles let in by the route's check that answer 404 all the same: the object exists,
    #: but they may not know it
    hidden: set[Role] = field(default_factory=set)


def case_rule(args: Callable[[dict[str, Any]], dict[str, Any]]) -> Rule:
    """A page of the test's case: case roles pass the route's check, only the admin may
    know the case."""
    return Rule(CASE_ROLES, args, hidden=OTHER_OFFICE_CASE)


def room_rule(args: Callable[[dict[str, Any]], dict[str, Any]],
              hidden: set[Role] = ROOM_UNMANAGED) -> Rule:
    """A page of the test's room (or of a seat in it): the schedule's roles pass the
    route's check; who may know the room: video.permissions."""
    return Rule(VIDEO_ROLES, args, hidden=hidden)


EXPECTED: dict[tuple[str, str], Rule] = {
    ("site.home", "GET"): Rule(PUBLIC),  # the public landing; staff see their home
    ("site.healthz", "GET"): Rule(PUBLIC),
    ("verify.index", "GET"): Rule(PUBLIC),  # was this document issued by the portal?
    ("verify.show", "GET"): Rule(PUBLIC, lambda o: {"sha256": "0" * 64}),
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
        {A, C}, lambda o: {"person_id": o["person"].id, "tie_id": o["tie"].id}),
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
    ("cases.show", "GET"): case_rule(lambda o: {"number": o["case"].number}),
    ("cases.print_view", "GET"): case_rule(lambda o: {"number": o["case"].number}),
    ("cases.edit_summary", "POST"): case_rule(lambda o: {"number": o["case"].number}),
    ("cases.unmask", "POST"): case_rule(lambda o: {
        "number": o["case"].number, "party_id": o["case"].parties[0].id}),
    ("cases.add_document", "POST"): case_rule(lambda o: {"number": o["case"].number}),
    ("cases.add_version", "POST"): case_rule(lambda o: {
        "number": o["case"].number, "document_id": o["document"].id}),
    ("cases.document_file", "GET"): case_rule(lambda o: {
        "number": o["case"].number, "document_id": o["document"].id, "version": 1}),
    ("cases.act", "POST"): case_rule(lambda o: {"number": o["case"].number,
                                                       "action": "accept"}),
    ("cases.assign", "POST"): case_rule(lambda o: {"number": o["case"].number}),
    ("cases.grant", "POST"): case_rule(lambda o: {"number": o["case"].number}),
    ("cases.withdraw_grant", "POST"): case_rule(lambda o: {
        "number": o["case"].number, "organisation_id": o["org"].id}),
    ("cases.set_leader", "POST"): case_rule(lambda o: {"number": o["case"].number}),
    ("cases.reissue_code", "POST"): case_rule(lambda o: {"number": o["case"].number}),
    ("holidays.index", "GET"): Rule({A}),
    ("holidays.add", "POST"): Rule({A}, data={"first": "2030-10-01", "kind": "holiday",
                                              "name": "国庆节"}),
    ("holidays.remove", "POST"): Rule({A}, lambda o: {"holiday_id": o["holiday"].id}),
    ("holidays.import_form", "GET"): Rule({A}),
    ("holidays.import_notice", "POST"): Rule({A}, data={
        "year": "2031", "notice": "元旦：1月1日放假，共1天。", "action": "preview"}),
    ("cases.pause_clock", "POST"): case_rule(lambda o: {"number": o["case"].number}),
    ("cases.resume_clock", "POST"): case_rule(lambda o: {"number": o["case"].number}),
    ("cases.export_pdf", "GET"): case_rule(lambda o: {"number": o["case"].number}),
    ("cases.export_zip", "GET"): case_rule(lambda o: {"number": o["case"].number}),
    # video reception: the schedule for office staff and agency hosts (a room they may not
    # know answers 404 through video.permissions); the join link is public
    ("video.index", "GET"): Rule(VIDEO_ROLES),
    ("video.new_room", "GET"): Rule({A, C, L}),
    ("video.new_room", "POST"): Rule({A, C, L}),
    ("video.room", "GET"): room_rule(lambda o: {"room_id": o["room"].id}, ROOM_UNSEEN),
    ("video.book", "POST"): room_rule(lambda o: {"room_id": o["room"].id}),
    ("video.host", "GET"): room_rule(lambda o: {"room_id": o["room"].id}),
    ("video.open_room", "POST"): room_rule(lambda o: {"room_id": o["room"].id}),
    ("video.notes", "GET"): room_rule(lambda o: {"room_id": o["room"].id}),
    ("video.reissue_link", "POST"): room_rule(lambda o: {"seat_id": o["seat"].id}),
    ("video.email_link", "POST"): room_rule(lambda o: {"seat_id": o["seat"].id}),
    ("video.add_companion", "POST"): room_rule(lambda o: {"seat_id": o["seat"].id}),
    ("video.cancel_seat", "POST"): room_rule(lambda o: {"seat_id": o["seat_to_cancel"].id}),
    ("video.save_note", "POST"): room_rule(lambda o: {"seat_id": o["seat"].id}),
    ("video.file_note", "POST"): room_rule(lambda o: {"seat_id": o["seat"].id}),
    ("video.attach_recording", "POST"): room_rule(
        lambda o: {"recording_id": o["recording"].id}),
    ("join.check", "GET"): Rule(PUBLIC, lambda o: {"token": o["guest_token"]}),
    ("join.consent", "POST"): Rule(PUBLIC, lambda o: {"token": o["guest_token"]}),
    ("join.call", "GET"): Rule(PUBLIC, lambda o: {"token": o["guest_token"]}),
    ("join.leave", "GET"): Rule(PUBLIC, lambda o: {"token": o["guest_token"]}),
    ("join.ping", "GET"): Rule(PUBLIC),
    ("notify.read", "POST"): Rule(ANY_USER, lambda o: {"notification_id": o["notification"].id}),
    ("notify.read_all", "POST"): Rule(ANY_USER),
    ("notify.outbox", "GET"): Rule({A}),
    ("notify.retry", "POST"): Rule({A}, lambda o: {"message_id": o["failed_email"].id}),
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


def test_every_hidden_object_is_known_to_someone():
    """A rule whose every role gets 404 would pass with a missing object: at least one
    role must open it."""
    blind = [key for key, spec in EXPECTED.items()
             if spec.hidden and isinstance(spec.who, set) and not spec.who - spec.hidden]
    assert not blind, f"rules whose object no role may open: {blind}"


def _domain_rows() -> None:
    from tests.consultations import authz as consultation_authz
    from tests.hearings import authz as hearing_authz

    EXPECTED.update(hearing_authz.expected())
    EXPECTED.update(consultation_authz.expected())


_domain_rows()

ACTORS: list[Role | None] = [None, *Role]


@pytest.fixture()
def objects(make_user, make_org, session) -> dict[str, Any]:
    """What the URLs name, all of it real: the acting user (made by the test) belongs to
    `home`; the case belongs to an office no actor belongs to."""
    from datetime import date, timedelta

    from portal.casefiles import holidays
    from portal.casefiles import operations as case_ops
    from portal.notify.models import OutboxStatus
    from portal.notify.operations import queue_email
    from portal.people import operations as people_ops
    from portal.people.models import Person
    from portal.timeutil import utcnow
    from video import operations as video_ops

    county = make_org("矩阵县", kind="county")
    admin = make_user(Role.ADMIN)
    person = Person(kind="expert", name="矩阵专家", expert_field="land", phone="13800001111")
    session.add(person)
    session.flush()
    tie = people_ops.add_affiliation(session, person, organisation_id=None, name="矩阵学会",
                                     relation="会员")
    # a case of an office none of the test users belongs to: other staff get 404 on it
    office = make_org("矩阵信访局", parent=county, sector="petition")
    registrar = make_user(Role.CLERK, organisations=[office])
    case, _code = case_ops.register_case(
        session, registrar, channel="walk_in", kind="land", summary="矩阵案件",
        petitioners=[{"name": "矩阵信访人", "id_number": "110101195001011239",
                      "phone": "13800001111"}])
    document = case_ops.add_document(
        session, registrar, case, title="来信", data=b"%PDF-1.4\n%%EOF\n",
        original_name="letter.pdf", media_type="application/pdf")
    org = make_org("矩阵局", parent=county)
    case_ops.grant_access(session, registrar, case, org, "view")
    holiday = holidays.add_days(session, admin, date(2031, 1, 1), None, "holiday", "元旦")[0]
    email = queue_email(session, to="someone@example.org", subject="矩阵", body="矩阵")
    assert email is not None
    email.status = OutboxStatus.FAILED
    # a reception run by the actor's office, with booked petitioners
    home = make_org("矩阵接待中心", parent=county, sector="petition")
    start = utcnow() - timedelta(minutes=10)
    room = video_ops.create_room(session, admin, kind="leader_day", title="矩阵接待日",
                                 office_id=home.id, starts_at=start,
                                 ends_at=start + timedelta(hours=2))
    seat, _token = video_ops.book_seat(session, admin, room, name="矩阵访客")
    seat_to_cancel, _token = video_ops.book_seat(session, admin, room, name="矩阵取消")
    _guest, guest_token = video_ops.book_seat(session, admin, room, name="矩阵来宾")
    video_ops.pending_events(session)
    from video.models import Recording, RecordingStatus
    recording = Recording(room=room, seat_id=seat.id, status=RecordingStatus.ACCEPTED,
                          started_by_id=admin.id, started_at=start, stopped_at=start)
    session.add(recording)
    target = make_user(Role.CLERK)
    session.commit()
    from tests.hearings.authz import hearing_objects

    made = {"target": target, "case": case, "org": org}
    hearing_things = hearing_objects(session, make_user, made)
    from tests.consultations.authz import consultation_objects

    hearing_things.update(consultation_objects(session, make_user, made))
    return {**hearing_things, "target": target, "org": org, "person": person, "tie": tie,
            "case": case,
            "document": document, "holiday": holiday, "failed_email": email, "home": home,
            "room": room, "seat": seat, "seat_to_cancel": seat_to_cancel,
            "guest_token": guest_token, "recording": recording,
            # someone else's: the actor's own replaces it (anonymous is sent to log in)
            "notification": _notification(session, target)}


def _notification(session: Any, user: Any) -> Any:
    from portal.notify.operations import notify_user

    notification = notify_user(session, user.id, "矩阵通知", link="/")
    session.commit()
    return notification


def _log_in(client: Any, session: Any, make_user: Any, objects: dict[str, Any],
            actor: Role | None) -> dict[str, Any]:
    """A new user of the role, in the home office, with a notification of their own;
    logged in (anonymous: nobody)."""
    if actor is None:
        return objects
    me = make_user(actor, organisations=[objects["home"]])
    login(client, me)
    return {**objects, "notification": _notification(session, me)}


@pytest.mark.parametrize("actor", ACTORS, ids=lambda r: str(r) if r else "anonymous")
def test_access_matrix(app, client, session, make_user, objects, actor):
    objects = _log_in(client, session, make_user, objects, actor)
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
            objects = _log_in(client, session, make_user, objects, actor)  # for the rest
        if allowed and actor in spec.hidden:
            ok = status == 404  # the object exists; this role may not know it
        elif allowed:
            # 404 would mean a missing object: every URL here names one that exists
            ok = status < 500 and status not in (401, 403, 404) and not (
                to_login and endpoint not in ("auth.logout", "auth.second_factor"))
        elif actor is None:
            ok = to_login
        else:
            ok = status == 403
        if not ok:
            failures.append(f"{method} {url} as {actor or 'anonymous'}: {status} {location}")
    assert not failures, "\n".join(failures)
