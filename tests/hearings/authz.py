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
    made = {"hearing": hearing, "participant_token": next(iter(tokens.values())),
            "panel_token": next(iter(panel_tokens.values()))}
    # sched: a pending request for a hearing on the same case
    from hearings.models import HearingRequest

    request = HearingRequest(case_id=case.id, channel="clerk", reason="请求听证",
                             decide_by=hearing.starts_at.date())
    session.add(request)
    session.flush()
    made["hearing_request"] = request
    return made


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


    # --- invitations ------------------------------------------------------------------


    # --- public notice and observers --------------------------------------------------


    # --- live hearing and minutes -----------------------------------------------------


    # --- deliberation -----------------------------------------------------------------


    # --- signed record ----------------------------------------------------------------


    return rows
