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
    objects = {"duty_lawyer": lawyer, "duty_week": week, "consultation": consultation,
               "consultation_token": token}
    # chat: an attachment the person sent (its bytes in the blob store)
    from consultations.models import ConsultationFile
    from portal.casefiles.blobs import store_bytes

    sha, size = store_bytes(b"%PDF-1.4 matrix")
    attached = ConsultationFile(consultation_id=consultation.id, sender="asker", sha256=sha,
                                size=size, media_type="application/pdf",
                                original_name="matrix.pdf")
    session.add(attached)
    session.commit()
    objects["consultation_file"] = attached
    return objects


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


    return rows
