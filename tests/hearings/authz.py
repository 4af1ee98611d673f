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
    return {"hearing": hearing, "participant_token": next(iter(tokens.values())),
            "panel_token": next(iter(panel_tokens.values()))}


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


    # --- panel ------------------------------------------------------------------------


    # --- invitations ------------------------------------------------------------------


    # --- public notice and observers --------------------------------------------------


    # --- live hearing and minutes -----------------------------------------------------


    # --- deliberation -----------------------------------------------------------------


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


    return rows
