"""The consultations' rows of tests/test_authorization_matrix.py (merged into its
EXPECTED), and the objects their URLs name (merged into its `objects`). Each part keeps its
rows in its own section below."""

from __future__ import annotations

from typing import Any

from portal.auth.roles import Role

A, C, L, G, S = Role.ADMIN, Role.CLERK, Role.LEADER, Role.AGENCY, Role.SUPERVISOR
LAWYER = Role.LAWYER
#: organisers of the rota and the consultations
ORGANISERS = {A, C, L}


def consultation_objects(session: Any, make_user: Any, objects: dict[str, Any]
                         ) -> dict[str, Any]:
    """A lawyer on duty this week (an account of its own, not the actor's) and an online
    consultation waiting with its personal link."""
    from tests.fixtures.consultations import duty_week, lawyers, new_consultation

    class _World:
        township = objects["org"]

    lawyer = lawyers(session, _World, 1, make_user=make_user)[0]
    week = duty_week(session, lawyer)
    consultation, token = new_consultation(session, duty_week_id=week.id)
    return {"duty_lawyer": lawyer, "duty_week": week, "consultation": consultation,
            "consultation_token": token}


def _rule(who: Any, args: Any, hidden: Any = frozenset(), data: Any = None) -> Any:
    from tests.test_authorization_matrix import Rule

    return Rule(who, args, data=data or {}, hidden=set(hidden))


def expected() -> dict[tuple[str, str], Any]:
    rows: dict[tuple[str, str], Any] = {}
    # a lawyer actor (made by the matrix) has no registry person: the desk is refused to it
    rows[("consultations.index", "GET")] = _rule(ORGANISERS, lambda o: {})
    # --- rota ---------------------------------------------------------------------------


    # --- intake and queue ---------------------------------------------------------------
    # the public question and the person's own page (by its personal link)
    from tests.test_authorization_matrix import PUBLIC

    rows[("consultations.ask", "GET")] = _rule(PUBLIC, lambda o: {})
    rows[("consultations.ask", "POST")] = _rule(PUBLIC, lambda o: {})
    rows[("consultations.ask_again", "GET")] = _rule(PUBLIC, lambda o: {})
    token = lambda o: {"token": o["consultation_token"]}  # noqa: E731
    rows[("consultations.wait", "GET")] = _rule(PUBLIC, token)
    rows[("consultations.wait_status", "GET")] = _rule(PUBLIC, token)
    rows[("consultations.withdraw", "POST")] = _rule(PUBLIC, token)
    # the desk's queue: organisers (a matrix lawyer has no registry person: refused)
    rows[("consultations.queue", "GET")] = _rule(ORGANISERS, lambda o: {})
    rows[("consultations.take_next", "POST")] = _rule(ORGANISERS, lambda o: {})
    rows[("consultations.register_visitor", "GET")] = _rule(ORGANISERS, lambda o: {})
    rows[("consultations.register_visitor", "POST")] = _rule(ORGANISERS, lambda o: {})
    # only a registry lawyer logs in person: no matrix actor is one
    rows[("consultations.in_person", "GET")] = _rule(set(), lambda o: {})
    rows[("consultations.in_person", "POST")] = _rule(set(), lambda o: {})
    rows[("consultations.consultation", "GET")] = _rule(
        ORGANISERS, lambda o: {"consultation_id": o["consultation"].id})


    # --- chat and video -----------------------------------------------------------------


    # --- outcomes, legal aid, answer, conflicts, counts ----------------------------------


    return rows
