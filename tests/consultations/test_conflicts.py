"""Conflicts: a lawyer recorded as paid counsel for a party they advised is flagged, the
organisers are told; resolving records a note."""

from __future__ import annotations

from consultations.models import ConflictFlag, CounselRecord
from portal.notify.models import Notification
from tests.consultations.test_outcomes_support import taken
from tests.fixtures.casefiles import new_case
from tests.fixtures.core import login


def _counsel(client, case, lawyer, party, paid=True):
    data = {"case_number": case.number, "party_name": party, "lawyer_id": str(lawyer.id)}
    if paid:
        data["is_paid"] = "y"
    return client.post("/consultations/counsel", data=data)


def test_counsel_for_a_party_the_lawyer_advised_is_flagged(client, session, world, make_user):
    case, _code = new_case(session, world)
    t = taken(session, world, make_user, status="closed", outcome="answered", answer="答复")
    login(client, world.clerk)
    desk = client.get("/consultations/").get_data(as_text=True)
    assert "/consultations/counsel" in desk and t.lawyer.name in desk
    response = _counsel(client, case, t.lawyer, "李四")
    assert response.status_code == 303
    flag = session.query(ConflictFlag).one()
    assert (flag.consultation_id, flag.lawyer_id) == (t.consultation.id, t.lawyer.id)
    # the office's organisers are told
    told = {n.user_id for n in session.query(Notification)}
    assert {world.clerk.id, world.leader.id} <= told
    desk = client.get("/consultations/").get_data(as_text=True)
    assert case.number in desk and "tag-urgent" in desk
    page = client.get(f"/consultations/{t.consultation.id}/answer").get_data(as_text=True)
    assert case.number in page
    # resolving needs a note
    url = f"/consultations/conflicts/{flag.id}/resolve"
    assert client.post(url, data={"note": ""}).status_code == 303
    session.expire_all()
    assert session.get(ConflictFlag, flag.id).resolved_at is None
    assert client.post(url, data={"note": "已核实：律师已退出代理"}).status_code == 303
    session.expire_all()
    flag = session.get(ConflictFlag, flag.id)
    assert flag.resolved_at is not None and flag.resolved_by_id == world.clerk.id
    assert "退出代理" in flag.resolved_note
    desk = client.get("/consultations/").get_data(as_text=True)
    assert f"/consultations/conflicts/{flag.id}/resolve" not in desk


def test_no_flag_otherwise(client, session, world, make_user):
    case, _code = new_case(session, world)
    t = taken(session, world, make_user, status="closed", outcome="answered", answer="答复")
    other = taken(session, world, make_user, status="closed", outcome="answered",
                  answer="答复", name="王五")
    login(client, world.clerk)
    _counsel(client, case, t.lawyer, "赵六")  # someone else
    _counsel(client, case, other.lawyer, "李四")  # another lawyer advised 李四? no: 王五
    _counsel(client, case, t.lawyer, "李四", paid=False)  # legal aid: not a paid matter
    assert session.query(CounselRecord).count() == 3
    assert session.query(ConflictFlag).count() == 0


def test_counsel_on_the_case_linked_to_the_consultation(client, session, world, make_user):
    case, _code = new_case(session, world)
    t = taken(session, world, make_user, status="closed", outcome="petition", answer="转信访",
              case_id=case.id)
    login(client, world.clerk)
    _counsel(client, case, t.lawyer, "另一方当事人")
    assert session.query(ConflictFlag).count() == 1


def test_bad_input_and_refusals(client, session, world, make_user):
    case, _code = new_case(session, world)
    t = taken(session, world, make_user, status="closed", outcome="answered", answer="答复")
    login(client, world.clerk)
    response = client.post("/consultations/counsel",
                           data={"case_number": "nope", "party_name": "李四",
                                 "lawyer_id": str(t.lawyer.id)}, follow_redirects=True)
    assert response.status_code == 200
    assert "nope" in response.get_data(as_text=True)
    assert client.post("/consultations/counsel", data={"lawyer_id": "x"}).status_code == 303
    assert session.query(CounselRecord).count() == 0
    client.post("/logout")
    login(client, t.user)
    assert _counsel(client, case, t.lawyer, "李四").status_code == 403
    assert session.query(CounselRecord).count() == 0


def test_the_lawyer_who_advised_before_a_hand_over_is_flagged(client, session, world,
                                                              make_user):
    """After a week-end hand-over the consultation names the new lawyer; the one who took
    it and advised is kept in handed_over_from_id, and is flagged too. A consultation
    nobody took is no conflict."""
    case, _code = new_case(session, world)
    t = taken(session, world, make_user, status="closed", outcome="answered", answer="答复")
    newer = taken(session, world, make_user, status="queued", taken_at=None, name="赵六")
    t.consultation.handed_over_from_id = t.lawyer.id
    t.consultation.lawyer_id = newer.lawyer.id
    newer.consultation.lawyer_id = t.lawyer.id  # queued with them, never taken
    session.commit()
    login(client, world.clerk)
    assert _counsel(client, case, t.lawyer, "李四").status_code == 303
    assert _counsel(client, case, t.lawyer, "赵六").status_code == 303
    flag = session.query(ConflictFlag).one()
    assert (flag.consultation_id, flag.lawyer_id) == (t.consultation.id, t.lawyer.id)


def test_counsel_recorded_before_the_petition_link_is_checked_at_the_link(
        client, session, world, make_user):
    case, _code = new_case(session, world)
    t = taken(session, world, make_user, status="closed", outcome="petition", answer="转信访")
    login(client, world.clerk)
    _counsel(client, case, t.lawyer, "另一方当事人")  # not the person asking: no flag yet
    assert session.query(ConflictFlag).count() == 0
    response = client.post(f"/consultations/{t.consultation.id}/petition",
                           data={"case_number": case.number})
    assert response.status_code == 303
    flag = session.query(ConflictFlag).one()
    assert (flag.consultation_id, flag.lawyer_id) == (t.consultation.id, t.lawyer.id)


def _statements(app, client, url):
    from sqlalchemy import event

    from portal.extensions import db

    seen: list[str] = []

    def count(*args):
        seen.append(args[2])

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def test_the_desk_reads_the_flags_in_one_query(app, client, session, world, make_user):
    case, _code = new_case(session, world)
    t = taken(session, world, make_user, status="closed", outcome="answered", answer="答复")
    login(client, world.clerk)
    _counsel(client, case, t.lawyer, "李四")
    one = _statements(app, client, "/consultations/")
    for _ in range(4):
        _counsel(client, case, t.lawyer, "李四")
    assert session.query(ConflictFlag).count() == 5
    assert _statements(app, client, "/consultations/") == one
    page = client.get("/consultations/").get_data(as_text=True)
    assert case.number in page and t.lawyer.name in page
