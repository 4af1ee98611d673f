"""Closing a consultation with its outcome and written answer, through the pages."""

from __future__ import annotations

from consultations.models import Consultation
from portal.auth.roles import Role
from portal.casefiles.models import IssuedDocument
from tests.consultations.test_outcomes_support import close_data, taken
from tests.fixtures.core import login


def _reload(session, consultation):
    session.expire_all()
    return session.get(Consultation, consultation.id)


def test_the_lawyer_closes_with_an_answer(client, session, world, make_user):
    t = taken(session, world, make_user)
    login(client, t.user)
    page = client.get(f"/consultations/{t.consultation.id}/close")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "老板拖欠三个月工资" in html and 'name="declared"' in html
    response = client.post(f"/consultations/{t.consultation.id}/close", data=close_data())
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/consultations/{t.consultation.id}/answer")
    c = _reload(session, t.consultation)
    assert (c.status, c.outcome) == ("closed", "answered")
    assert c.closed_at is not None and c.conflict_declared_at is not None
    assert "劳动人事争议仲裁委员会" in c.answer
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "劳动人事争议仲裁委员会" in page and "answer.pdf" in page
    # the fingerprint the PDF's QR code names is registered as issued
    from consultations.answer_pdf import fingerprint
    assert session.query(IssuedDocument).filter_by(sha256=fingerprint(c)).one()
    # the closing page of a closed consultation leads to its answer
    again = client.get(f"/consultations/{c.id}/close")
    assert again.status_code == 303


def test_an_answer_and_the_declaration_are_required(client, session, world, make_user):
    t = taken(session, world, make_user)
    login(client, t.user)
    url = f"/consultations/{t.consultation.id}/close"
    response = client.post(url, data=close_data(answer=""))
    assert response.status_code == 400
    assert "Write the answer" in response.get_data(as_text=True) or \
        "答复" in response.get_data(as_text=True)
    response = client.post(url, data=close_data(declared=None))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "paid client" in html or "收费" in html
    # what the lawyer typed is kept
    assert "劳动人事争议仲裁委员会" in html
    assert _reload(session, t.consultation).status == "active"


def test_a_referral_says_where_and_how(client, session, world, make_user):
    t = taken(session, world, make_user)
    login(client, t.user)
    url = f"/consultations/{t.consultation.id}/close"
    for outcome in ("court", "arbitration", "administrative"):
        response = client.post(url, data=close_data(outcome=outcome))
        assert response.status_code == 400, outcome
    assert _reload(session, t.consultation).status == "active"
    response = client.post(url, data=close_data(outcome="court",
                                                route="向县人民法院立案庭起诉，携带劳动合同。"))
    assert response.status_code == 303
    c = _reload(session, t.consultation)
    assert c.outcome == "court" and "县人民法院立案庭" in c.answer


def test_bad_outcome_is_refused_without_error(client, session, world, make_user):
    t = taken(session, world, make_user)
    login(client, t.user)
    response = client.post(f"/consultations/{t.consultation.id}/close",
                           data=close_data(outcome="bogus"))
    assert response.status_code == 400
    response = client.post(f"/consultations/{t.consultation.id}/close",
                           data=close_data(limitation_ends_on="not a date",
                                           outcome="legal_aid"))
    assert response.status_code == 400
    assert _reload(session, t.consultation).status == "active"


def test_only_the_consultations_lawyer_closes_it(client, session, world, make_user):
    t = taken(session, world, make_user)
    other = taken(session, world, make_user)
    url = f"/consultations/{t.consultation.id}/close"
    login(client, other.user)
    assert client.post(url, data=close_data()).status_code == 404  # not theirs to see
    client.post("/logout")
    login(client, world.clerk)
    assert client.get(url).status_code == 403
    assert client.post(url, data=close_data()).status_code == 403
    assert _reload(session, t.consultation).status == "active"


def test_waiting_online_consultation_cannot_be_closed(client, session, world, make_user):
    t = taken(session, world, make_user, status="queued")
    login(client, t.user)
    response = client.post(f"/consultations/{t.consultation.id}/close", data=close_data())
    assert response.status_code == 403
    assert _reload(session, t.consultation).status == "queued"
    # one logged in person may be closed while open
    walk_in = taken(session, world, make_user, status="queued", channel="in_person")
    client.post("/logout")
    login(client, walk_in.user)
    response = client.post(f"/consultations/{walk_in.consultation.id}/close",
                           data=close_data())
    assert response.status_code == 303
    assert _reload(session, walk_in.consultation).status == "closed"


def test_closing_twice_is_refused(client, session, world, make_user):
    t = taken(session, world, make_user)
    login(client, t.user)
    url = f"/consultations/{t.consultation.id}/close"
    assert client.post(url, data=close_data()).status_code == 303
    response = client.post(url, data=close_data(answer="另一个答复"), follow_redirects=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "closed already" in html or "已结束" in html
    assert "另一个答复" not in _reload(session, t.consultation).answer


def test_the_person_rates_once(client, session, world, make_user):
    t = taken(session, world, make_user)
    url = f"/consultations/c/{t.token}/rate"
    # not before the answer
    response = client.post(url, data={"rating": "satisfied"})
    assert response.status_code == 303
    assert _reload(session, t.consultation).rating is None
    login(client, t.user)
    client.post(f"/consultations/{t.consultation.id}/close", data=close_data())
    client.post("/logout")
    response = client.post(url, data={"rating": "nonsense"})
    assert response.status_code == 303 and _reload(session, t.consultation).rating is None
    response = client.post(url, data={"rating": "fairly"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/consultations/c/{t.token}")
    c = _reload(session, t.consultation)
    assert c.rating == "fairly" and c.rated_at is not None
    response = client.post(url, data={"rating": "unsatisfied"})
    assert response.status_code == 303
    with client.session_transaction() as flask_session:
        flashes = flask_session.get("_flashes", [])
    assert any("rated this answer already" in m or "已经评价" in m for _c, m in flashes)
    assert _reload(session, t.consultation).rating == "fairly"
    assert client.post("/consultations/c/nosuchtoken/rate",
                       data={"rating": "fairly"}).status_code == 404


def test_the_persons_page_partial(app, session, world, make_user):
    from flask import render_template

    t = taken(session, world, make_user, status="closed", outcome="answered", answer="答复")
    with app.test_request_context("/"):
        html = render_template("consultations/_answer_link.html", consultation=t.consultation,
                               token=t.token)
    assert f"/consultations/c/{t.token}/answer.pdf" in html
    assert f"/consultations/c/{t.token}/rate" in html and 'value="satisfied"' in html
    t.consultation.rating = "satisfied"
    with app.test_request_context("/"):
        html = render_template("consultations/_answer_link.html", consultation=t.consultation,
                               token=t.token)
    assert "/rate" not in html


def test_petition_proposed_by_the_lawyer_registered_by_the_clerk(client, session, world,
                                                                  make_user):
    from portal.casefiles.models import Case, CaseEvent

    t = taken(session, world, make_user)
    login(client, t.user)
    client.post(f"/consultations/{t.consultation.id}/close",
                data=close_data(outcome="petition"))
    client.post("/logout")
    login(client, world.clerk)
    desk = client.get("/consultations/").get_data(as_text=True)
    assert f"/consultations/{t.consultation.id}/answer" in desk and "李四" in desk
    page = client.get(f"/consultations/{t.consultation.id}/answer").get_data(as_text=True)
    assert f"/consultations/{t.consultation.id}/petition" in page
    response = client.post(f"/consultations/{t.consultation.id}/petition",
                           data={"case_number": "", "idempotency_key": "k-petition-1"})
    assert response.status_code == 303
    c = _reload(session, t.consultation)
    case = session.get(Case, c.case_id)
    assert case is not None and response.headers["Location"].endswith(f"/cases/{case.number}")
    assert case.parties[0].name == "李四" and case.kind == "labour"
    kinds = [e.kind for e in session.query(CaseEvent).filter_by(case_id=case.id)]
    assert "consultation_linked" in kinds
    # the same form again: back to the case, nothing new
    again = client.post(f"/consultations/{c.id}/petition",
                        data={"case_number": "", "idempotency_key": "k-petition-1"})
    assert again.status_code == 303
    assert session.query(Case).count() == 1
    desk = client.get("/consultations/").get_data(as_text=True)
    assert f"/consultations/{c.id}/answer" not in desk


def test_petition_linked_to_an_existing_case(client, session, world, make_user):
    from portal.casefiles.models import Case, CaseEvent
    from tests.fixtures.casefiles import new_case

    case, _code = new_case(session, world)
    t = taken(session, world, make_user, status="closed", outcome="petition", answer="转信访")
    login(client, world.leader)  # leaders do not register cases
    url = f"/consultations/{t.consultation.id}/petition"
    assert client.post(url, data={"case_number": case.number}).status_code == 403
    client.post("/logout")
    login(client, world.clerk)
    response = client.post(url, data={"case_number": "2099-XF-999999"})
    assert response.status_code == 303 and _reload(session, t.consultation).case_id is None
    response = client.post(url, data={"case_number": case.number})
    assert response.status_code == 303
    assert _reload(session, t.consultation).case_id == case.id
    assert session.query(Case).count() == 1
    events = session.query(CaseEvent).filter_by(case_id=case.id,
                                                kind="consultation_linked").all()
    assert len(events) == 1
    # the case page's timeline shows it
    page = client.get(f"/cases/{case.number}").get_data(as_text=True)
    assert "转信访" in page or "李四" in page


def test_agency_officer_has_no_consultation_pages(client, session, world, make_user):
    t = taken(session, world, make_user)
    login(client, world.police_officer)
    assert client.get(f"/consultations/{t.consultation.id}/answer").status_code == 403
    assert make_user(Role.AGENCY) is not None


def test_the_lawyers_desk_lists_their_answers(client, session, world, make_user):
    t = taken(session, world, make_user)
    login(client, t.user)
    desk = client.get("/consultations/")
    assert desk.status_code == 200
    html = desk.get_data(as_text=True)
    assert "/consultations/counsel" not in html  # the organisers' tools are not shown
    client.post(f"/consultations/{t.consultation.id}/close", data=close_data())
    html = client.get("/consultations/").get_data(as_text=True)
    assert f"/consultations/{t.consultation.id}/answer" in html
