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
    # live: a seated online observer's watch link
    from hearings import links
    from hearings.models import Observer

    observer = Observer(hearing_id=hearing.id, name="矩阵旁听", phone="13800001111",
                        id_number="110101195001011239", id_number_hash="matrix-observer",
                        token_hash="")
    found["observer_token"] = links.issue_observer_token(observer)
    session.add(observer)
    session.commit()
    return found


def _rule(who: Any, args: Any, hidden: Any = frozenset(), data: Any = None) -> Any:
    from tests.test_authorization_matrix import Rule

    return Rule(who, args, data=data or {}, hidden=set(hidden))


def expected() -> dict[tuple[str, str], Any]:
    from tests.test_authorization_matrix import PUBLIC  # noqa: F401

    rows: dict[tuple[str, str], Any] = {}
    # --- scheduling and requests --------------------------------------------------------
    rows[("hearings.index", "GET")] = _rule(HEARING_ROLES, lambda o: {})
    rows[("hearings.detail", "GET")] = _rule(
        HEARING_ROLES, lambda o: {"hearing_id": o["hearing"].id}, HEARING_UNSEEN)


    # --- panel ------------------------------------------------------------------------


    # --- invitations ------------------------------------------------------------------


    # --- public notice and observers --------------------------------------------------


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
        PUBLIC, lambda o: {"observer_token": o["observer_token"]})
    # only the hearing's presiding officer and clerk write minutes: no actor here does
    rows[("hearings.save_minutes", "POST")] = _rule(set(), live_args,
                                                    data={"stage": "opening", "text": "x"})


    # --- deliberation -----------------------------------------------------------------


    # --- signed record ----------------------------------------------------------------


    return rows
