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
    # rota
    found.update(rota_objects(session, _World, lawyer))
    # outcome
    found.update(_outcome_objects(session, objects, consultation, lawyer))
    # chat: an attachment the person sent (its bytes in the blob store)
    from consultations.models import ConsultationFile
    from portal.casefiles.blobs import store_bytes

    sha, size = store_bytes(b"%PDF-1.4 matrix")
    attached = ConsultationFile(consultation_id=consultation.id, sender="asker", sha256=sha,
                                size=size, media_type="application/pdf",
                                original_name="matrix.pdf")
    session.add(attached)
    session.commit()
    found["consultation_file"] = attached
    return found


def rota_objects(session: Any, world: Any, lawyer: Any) -> dict[str, Any]:
    """A swap asked between two published weeks far ahead, and the lawyer's feed token."""
    from datetime import timedelta

    from consultations import rota_ops
    from consultations.models import SwapRequest
    from tests.fixtures.consultations import duty_week, lawyers, this_monday

    other = lawyers(session, world, 1)[0]
    mine = duty_week(session, lawyer, this_monday() + timedelta(weeks=50))
    theirs = duty_week(session, other, this_monday() + timedelta(weeks=51))
    swap = SwapRequest(from_week=mine, to_week=theirs, asked_by_id=lawyer.id,
                       asked_of_id=other.id)
    session.add(swap)
    feed_token = rota_ops.issue_feed(session, lawyer)
    session.commit()
    return {"rota_swap": swap, "rota_feed_token": feed_token}


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
    far_monday = "2099-01-05"
    rows[("consultations.rota", "GET")] = _rule(ORGANISERS, lambda o: {})
    rows[("consultations.rota_generate", "POST")] = _rule(ORGANISERS, lambda o: {})
    rows[("consultations.rota_publish", "POST")] = _rule(ORGANISERS, lambda o: {})
    rows[("consultations.rota_edit_week", "GET")] = _rule(
        ORGANISERS, lambda o: {"day": far_monday})
    rows[("consultations.rota_edit_week", "POST")] = _rule(
        ORGANISERS, lambda o: {"day": far_monday})
    rows[("consultations.rota_swaps", "GET")] = _rule(ORGANISERS, lambda o: {})
    rows[("consultations.rota_decide_swap", "POST")] = _rule(
        ORGANISERS, lambda o: {"swap_id": o["rota_swap"].id}, data={"decision": "refuse"})
    # a lawyer's own pages: the matrix's lawyer actor has no registry person, so it is told
    # so on the pages and refused (403) every action
    rows[("consultations.rota_mine", "GET")] = _rule({LAWYER}, lambda o: {})
    rows[("consultations.rota_feed_link", "GET")] = _rule({LAWYER}, lambda o: {})
    rows[("consultations.rota_feed_link", "POST")] = _rule(set(), lambda o: {})
    rows[("consultations.rota_unavailable", "POST")] = _rule(set(), lambda o: {})
    rows[("consultations.rota_unavailable_remove", "POST")] = _rule(
        set(), lambda o: {"row_id": 1})
    rows[("consultations.rota_ask_swap", "POST")] = _rule(set(), lambda o: {})
    rows[("consultations.rota_answer_swap", "POST")] = _rule(
        set(), lambda o: {"swap_id": o["rota_swap"].id}, data={"answer": "accept"})
    rows[("consultations.rota_withdraw_swap", "POST")] = _rule(
        set(), lambda o: {"swap_id": o["rota_swap"].id})
    rows[("consultations.rota_feed", "GET")] = _rule(
        "public", lambda o: {"token": o["rota_feed_token"]})
    rows[("consultations.duty_public", "GET")] = _rule("public", lambda o: {})


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
    # the lawyer's side: only the lawyer answering (a registry person with this account:
    # no actor of the matrix is one), so every role is refused
    c_id = lambda o: {"consultation_id": o["consultation"].id}  # noqa: E731
    rows[("consultations.lawyer_upload", "POST")] = _rule(set(), c_id)
    rows[("consultations.lawyer_file", "GET")] = _rule(
        set(), lambda o: {**c_id(o), "file_id": o["consultation_file"].id})
    rows[("consultations.move_to_video", "POST")] = _rule(set(), c_id)
    rows[("consultations.lawyer_video", "GET")] = _rule(set(), c_id)
    # the person's side: by the personal link
    tok = lambda o: {"token": o["consultation_token"]}  # noqa: E731
    rows[("consultations.person_upload", "POST")] = _rule("public", tok)
    rows[("consultations.person_file", "GET")] = _rule(
        "public", lambda o: {**tok(o), "file_id": o["consultation_file"].id})
    rows[("consultations.person_video", "POST")] = _rule("public", tok)


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
