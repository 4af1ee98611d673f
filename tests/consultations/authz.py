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
    found = {"duty_lawyer": lawyer, "duty_week": week, "consultation": consultation,
             "consultation_token": token}
    found.update(_outcome_objects(session, objects, consultation, lawyer))
    return found


def _outcome_objects(session: Any, objects: dict[str, Any], consultation: Any,
                     lawyer: Any) -> dict[str, Any]:
    """outcome: a legal-aid application of the consultation and a conflict flag on it."""
    from datetime import date

    from consultations.models import ConflictFlag, CounselRecord, LegalAidApplication

    application = LegalAidApplication(consultation_id=consultation.id, applicant_name="李四",
                                      matter="矩阵援助", decide_by=date.today())
    counsel = CounselRecord(case_id=objects["case"].id, party_name="李四",
                            lawyer_id=lawyer.id)
    session.add_all([application, counsel])
    session.flush()
    flag = ConflictFlag(consultation_id=consultation.id, counsel_id=counsel.id,
                        lawyer_id=counsel.lawyer_id)
    session.add(flag)
    session.commit()
    return {"aid_application": application, "conflict_flag": flag}


def _rule(who: Any, args: Any, hidden: Any = frozenset(), data: Any = None) -> Any:
    from tests.test_authorization_matrix import Rule

    return Rule(who, args, data=data or {}, hidden=set(hidden))


def expected() -> dict[tuple[str, str], Any]:
    rows: dict[tuple[str, str], Any] = {}
    # a lawyer actor (made by the matrix) has no registry person: the desk is refused to it
    rows[("consultations.index", "GET")] = _rule(ORGANISERS, lambda o: {})
    # --- rota ---------------------------------------------------------------------------


    # --- intake and queue ---------------------------------------------------------------


    # --- chat and video -----------------------------------------------------------------


    # --- outcomes, legal aid, answer, conflicts, counts ----------------------------------
    from tests.test_authorization_matrix import PUBLIC

    def of_consultation(o: Any) -> dict[str, Any]:
        return {"consultation_id": o["consultation"].id}

    # only the consultation's own lawyer closes it: organisers pass the route check, then 403
    rows[("consultations.close", "GET")] = _rule(set(), of_consultation)
    rows[("consultations.close", "POST")] = _rule(set(), of_consultation)
    rows[("consultations.answer", "GET")] = _rule(ORGANISERS, of_consultation)
    # not closed yet: 409 with the message
    rows[("consultations.answer_file", "GET")] = _rule(ORGANISERS, of_consultation)
    rows[("consultations.person_answer_file", "GET")] = _rule(
        PUBLIC, lambda o: {"token": o["consultation_token"]})
    rows[("consultations.person_rate", "POST")] = _rule(
        PUBLIC, lambda o: {"token": o["consultation_token"]}, data={"rating": "satisfied"})
    rows[("consultations.petition", "POST")] = _rule({A, C}, of_consultation)
    rows[("consultations.legal_aid", "GET")] = _rule(ORGANISERS, lambda o: {})
    rows[("consultations.decide_aid", "POST")] = _rule(
        ORGANISERS, lambda o: {"application_id": o["aid_application"].id},
        data={"decision": "grant"})
    rows[("consultations.assign_aid", "POST")] = _rule(
        ORGANISERS, lambda o: {"application_id": o["aid_application"].id},
        data={"lawyer": "矩阵律师"})
    rows[("consultations.record_counsel", "POST")] = _rule(ORGANISERS, lambda o: {})
    rows[("consultations.resolve_conflict", "POST")] = _rule(
        ORGANISERS, lambda o: {"flag_id": o["conflict_flag"].id}, data={"note": "已核实"})
    rows[("consultations.month_counts", "GET")] = _rule(ORGANISERS, lambda o: {})
    rows[("consultations.month_counts_csv", "GET")] = _rule(ORGANISERS, lambda o: {})


    return rows
