"""The hearings' rows of tests/test_authorization_matrix.py (merged into its EXPECTED),
and the objects their URLs name (merged into its `objects`). Each part of the domain keeps
its rows in its own section below."""

from __future__ import annotations

from typing import Any

from portal.auth.roles import Role

A, C, L, G, S = Role.ADMIN, Role.CLERK, Role.LEADER, Role.AGENCY, Role.SUPERVISOR
#: roles that open the hearings pages (which hearings: hearings.permissions)
HEARING_ROLES = {A, C, L, S, G}
#: the test's hearing is held by an office no actor belongs to, on a case of that office:
#: only the admin knows it
HEARING_UNSEEN = HEARING_ROLES - {A}


def hearing_objects(session: Any, make_user: Any, objects: dict[str, Any]) -> dict[str, Any]:
    """A hearing on the matrix's case (an office no actor belongs to), with a panel and
    personal links; public and with its notice published, so public URLs answer."""
    from tests.fixtures.casefiles import World
    from tests.fixtures.hearings import add_panel, new_hearing, registry

    case = objects["case"]
    registrar = session.get(type(objects["target"]), case.created_by_id)
    world = World(county=None, township=objects["org"], village=None, office=None,
                  other_office=None, police=None, land=None, outsider_agency=None,
                  clerk=registrar, leader=registrar, supervisor=None, admin=None,
                  other_clerk=None, other_leader=None, police_officer=None,
                  land_officer=None, outsider_officer=None, deputy=None)
    hearing, tokens = new_hearing(session, world, case=case, status="published")
    people = registry(session, world, deputies=1, cppcc=1, experts=2, lawyers=1)
    panel_tokens = add_panel(session, hearing, people)
    found = {"hearing": hearing, "participant_token": next(iter(tokens.values())),
             "panel_token": next(iter(panel_tokens.values()))}
    # public notice and observers: a seated observer and their personal link
    from hearings.links import issue_observer_token
    from hearings.models import HearingRequest, Observer

    observer = Observer(hearing_id=hearing.id, name="旁听人", phone="13912345678",
                        id_number="110101199003071234", id_number_hash="matrix-observer",
                        status="seated", token_hash="")
    found["observer_token"] = issue_observer_token(observer)
    session.add(observer)
    # sched: a pending request for a hearing on the same case
    request = HearingRequest(case_id=case.id, channel="clerk", reason="请求听证",
                             decide_by=hearing.starts_at.date())
    session.add(request)
    session.commit()
    found["observer"] = observer
    found["hearing_request"] = request
    # video: a second seated observer, whom no other row cancels
    watcher = Observer(hearing_id=hearing.id, name="线上旁听", phone="13912345679",
                       id_number="110101199003071250", id_number_hash="matrix-watcher",
                       status="seated", token_hash="")
    found["watcher_token"] = issue_observer_token(watcher)
    session.add(watcher)
    session.commit()
    return found


def _rule(who: Any, args: Any, hidden: Any = frozenset(), data: Any = None) -> Any:
    from tests.test_authorization_matrix import Rule

    return Rule(who, args, data=data or {}, hidden=set(hidden))


def expected() -> dict[tuple[str, str], Any]:
    from tests.test_authorization_matrix import PUBLIC

    rows: dict[tuple[str, str], Any] = {}
    # --- scheduling and requests --------------------------------------------------------
    rows[("hearings.index", "GET")] = _rule(HEARING_ROLES, lambda o: {})
    rows[("hearings.detail", "GET")] = _rule(
        HEARING_ROLES, lambda o: {"hearing_id": o["hearing"].id}, HEARING_UNSEEN)
    organisers = {A, C, L}
    hid = lambda o: {"hearing_id": o["hearing"].id}  # noqa: E731
    rows[("hearings.requests", "GET")] = _rule(organisers, lambda o: {})
    rows[("hearings.new_request", "GET")] = _rule(organisers, lambda o: {})
    rows[("hearings.new_request", "POST")] = _rule(organisers, lambda o: {})
    # the request is on the matrix's case: only the admin knows it
    rid = lambda o: {"request_id": o["hearing_request"].id}  # noqa: E731
    rows[("hearings.request_detail", "GET")] = _rule(organisers, rid, {C, L})
    rows[("hearings.request_detail", "POST")] = _rule(organisers, rid, {C, L})
    cid = lambda o: {"case_id": o["case"].id}  # noqa: E731
    rows[("hearings.new", "GET")] = _rule(organisers, cid, {C, L})
    rows[("hearings.new", "POST")] = _rule(organisers, cid, {C, L})
    rows[("hearings.edit", "GET")] = _rule(organisers, hid, {C, L})
    rows[("hearings.edit", "POST")] = _rule(organisers, hid, {C, L})
    rows[("hearings.cancel", "POST")] = _rule(organisers, hid, {C, L})
    rows[("hearings.ask", "POST")] = _rule(PUBLIC, lambda o: {})


    # --- panel ------------------------------------------------------------------------
    # organisers only (admin, clerks and leaders of the holding office); the test's
    # hearing is of an office no clerk or leader here belongs to
    def panel_seat_args(o: Any) -> dict[str, Any]:
        panel = [p for p in o["hearing"].participants if p.role == "panel"]
        return {"hearing_id": o["hearing"].id, "participant_id": panel[0].id}

    def panel_hearing_args(o: Any) -> dict[str, Any]:
        return {"hearing_id": o["hearing"].id}

    rows[("hearings.panel_draw", "POST")] = _rule({A, C, L}, panel_hearing_args, {C, L})
    rows[("hearings.panel_pick", "GET")] = _rule({A, C, L}, panel_hearing_args, {C, L})
    rows[("hearings.panel_pick", "POST")] = _rule({A, C, L}, panel_hearing_args, {C, L})
    rows[("hearings.panel_substitute", "POST")] = _rule({A, C, L}, panel_seat_args, {C, L})
    rows[("hearings.panel_remove", "POST")] = _rule({A, C, L}, panel_seat_args, {C, L})


    # --- invitations ------------------------------------------------------------------
    # the personal page answers anyone with the link (an empty answer is refused, 400)
    rows[("hearings.rsvp", "GET")] = _rule(PUBLIC, lambda o: {"token": o["participant_token"]})
    rows[("hearings.rsvp", "POST")] = _rule(PUBLIC, lambda o: {"token": o["participant_token"]})
    rows[("hearings.rsvp_calendar", "GET")] = _rule(
        PUBLIC, lambda o: {"token": o["participant_token"]})
    rows[("hearings.remind_all", "POST")] = _rule(
        HEARING_ROLES, lambda o: {"hearing_id": o["hearing"].id}, HEARING_UNSEEN)
    rows[("hearings.remind", "POST")] = _rule(
        HEARING_ROLES, lambda o: {"hearing_id": o["hearing"].id,
                                  "participant_id": o["hearing"].participants[0].id},
        HEARING_UNSEEN)


    # --- public notice and observers --------------------------------------------------
    hearing_id = lambda o: {"hearing_id": o["hearing"].id}  # noqa: E731
    rows[("hearings.public_list", "GET")] = _rule(PUBLIC, lambda o: {})
    rows[("hearings.public_notice", "GET")] = _rule(PUBLIC, hearing_id)
    rows[("hearings.public_notice", "POST")] = _rule(PUBLIC, hearing_id)
    rows[("hearings.public_ics", "GET")] = _rule(PUBLIC, hearing_id)
    rows[("hearings.observer_page", "GET")] = _rule(
        PUBLIC, lambda o: {"token": o["observer_token"]})
    rows[("hearings.observer_cancel", "POST")] = _rule(
        PUBLIC, lambda o: {"token": o["observer_token"]})
    rows[("hearings.publish_notice", "POST")] = _rule(HEARING_ROLES, hearing_id,
                                                      HEARING_UNSEEN)
    rows[("hearings.check_in_observer", "POST")] = _rule(
        HEARING_ROLES, lambda o: {"hearing_id": o["hearing"].id,
                                  "observer_id": o["observer"].id}, HEARING_UNSEEN)


    # --- live hearing and minutes -----------------------------------------------------
    live_args = lambda o: {"hearing_id": o["hearing"].id}  # noqa: E731
    # the staff view; the control page sends those who may view but not run it (the
    # admin here) to the staff view
    rows[("hearings.live_staff", "GET")] = _rule(HEARING_ROLES, live_args, HEARING_UNSEEN)
    rows[("hearings.live_control", "GET")] = _rule(HEARING_ROLES, live_args,
                                                   HEARING_UNSEEN)
    rows[("hearings.live_participant", "GET")] = _rule(
        PUBLIC, lambda o: {"token": o["participant_token"]})
    rows[("hearings.live_watch", "GET")] = _rule(
        PUBLIC, lambda o: {"observer_token": o["watcher_token"]})
    # only the hearing's presiding officer and clerk write minutes: no actor here does
    rows[("hearings.save_minutes", "POST")] = _rule(set(), live_args,
                                                    data={"stage": "opening", "text": "x"})


    # --- deliberation -----------------------------------------------------------------
    # the room is the active panel's and the presiding officer's only: no actor of the
    # matrix is either, so every one of them gets 404 (the admin included); the personal
    # links are public routes (the panel member's, and the presiding officer's =
    # participant_token, for the presiding officer's forms)
    from tests.test_authorization_matrix import ANY_USER

    def delib_by_id(o: Any) -> dict[str, Any]:
        return {"hearing_id": o["hearing"].id}

    def delib_panel(o: Any) -> dict[str, Any]:
        return {"token": o["panel_token"]}

    def delib_presiding(o: Any) -> dict[str, Any]:
        return {"token": o["participant_token"]}

    delib_vote = {"vote": "uphold", "opinion": "矩阵意见"}
    for delib_action in ("", "_vote", "_opinion", "_freeze"):
        delib_method = "GET" if not delib_action else "POST"
        rows[("hearings.deliberation" + delib_action, delib_method)] = _rule(
            ANY_USER, delib_by_id, set(Role), data=delib_vote)
    rows[("hearings.deliberate", "GET")] = _rule(PUBLIC, delib_panel)
    rows[("hearings.deliberate_vote", "POST")] = _rule(PUBLIC, delib_panel, data=delib_vote)
    rows[("hearings.deliberate_opinion", "POST")] = _rule(PUBLIC, delib_presiding,
                                                          data={"text": "矩阵"})
    rows[("hearings.deliberate_freeze", "POST")] = _rule(PUBLIC, delib_presiding)


    # --- signed record ----------------------------------------------------------------
    def hearing_page(o: Any) -> dict[str, Any]:
        return {"hearing_id": o["hearing"].id}

    for endpoint, method in (("hearings.record", "GET"), ("hearings.freeze_record", "POST"),
                             ("hearings.reopen_record", "POST"),
                             ("hearings.file_record", "POST")):
        rows[(endpoint, method)] = _rule(HEARING_ROLES, hearing_page, HEARING_UNSEEN)
    for method in ("GET", "POST"):
        # the clerk's tablet (the admin may hold it too); a participant's own link: public
        rows[("hearings.tablet_sign", method)] = _rule(
            HEARING_ROLES, lambda o: {"hearing_id": o["hearing"].id,
                                      "participant_id": o["hearing"].participants[0].id},
            HEARING_UNSEEN)
        rows[("hearings.sign", method)] = _rule(
            PUBLIC, lambda o: {"token": o["participant_token"]})


    # --- video --------------------------------------------------------------------------
    from tests.test_authorization_matrix import ANY_USER

    rows[("hearings.open_video", "POST")] = _rule(
        HEARING_ROLES, lambda o: {"hearing_id": o["hearing"].id}, HEARING_UNSEEN)
    # no actor has a seat in the hearing's room: 404, but for the admin, who opened it
    # just before (open_video is registered, so visited, first) and may host it
    rows[("hearings.video_room", "GET")] = _rule(
        ANY_USER, lambda o: {"hearing_id": o["hearing"].id, "which": "hearing"},
        set(Role) - {A})
    # a participant's personal link: the room not open yet is said plainly (409)
    rows[("hearings.video_join", "POST")] = _rule(
        PUBLIC, lambda o: {"token": o["participant_token"], "which": "hearing"})
    # a seated online observer's personal link: a watch-only seat once the room is open
    rows[("hearings.video_watch", "POST")] = _rule(
        PUBLIC, lambda o: {"observer_token": o["watcher_token"]})
    return rows
