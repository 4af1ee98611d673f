"""What the browser journey (tests/e2e/test_consultation_journey.py) found missing: the
lawyer's video page leads back to the consultation, the person's page shows the written
answer (and, for legal aid, that the application went to the centre), and the desk's
queue says how long people have waited."""

from __future__ import annotations

from flask import render_template

from portal.auth.models import User
from tests.consultations.test_chat_support import answered, fresh_user
from tests.consultations.test_outcomes_support import taken
from tests.fixtures.consultations import new_consultation
from tests.fixtures.core import login


def test_the_lawyers_video_page_leads_back_to_the_consultation(client, session, world,
                                                                make_user):
    consultation, _token, lawyer = answered(session, world, make_user)
    login(client, session.get(User, lawyer.user_id))
    fresh_user()
    assert client.post(f"/consultations/{consultation.id}/video").status_code == 303
    fresh_user()
    html = client.get(f"/consultations/{consultation.id}/video").get_data(as_text=True)
    assert 'data-namespace="/video"' in html
    assert f'href="/consultations/{consultation.id}"' in html


def test_the_persons_page_shows_the_written_answer(app, session, world, make_user):
    t = taken(session, world, make_user, status="closed", outcome="legal_aid",
              answer="可以申请劳动仲裁。\n仲裁时效为一年。")
    with app.test_request_context("/"):
        html = render_template("consultations/_answer_link.html",
                               consultation=t.consultation, token=t.token)
    assert "可以申请劳动仲裁。<br>仲裁时效为一年。" in html
    assert "legal-aid centre" in html or "法律援助中心" in html
    t.consultation.outcome = "answered"
    with app.test_request_context("/"):
        html = render_template("consultations/_answer_link.html",
                               consultation=t.consultation, token=t.token)
    assert "可以申请劳动仲裁。" in html
    assert "legal-aid centre" not in html and "法律援助中心" not in html


def test_the_queue_says_how_long_people_waited(client, session, world, make_user):
    t = taken(session, world, make_user, status="closed", outcome="answered", answer="答")
    new_consultation(session, status="queued")
    session.commit()
    login(client, t.user)
    html = client.get("/consultations/queue").get_data(as_text=True)
    assert "Waiting time" in html or "已等待" in html


def test_a_closed_consultation_offers_no_video(app, client, session, world, make_user):
    from tests.consultations.test_outcomes_support import close_data

    consultation, token, lawyer = answered(session, world, make_user)
    login(client, session.get(User, lawyer.user_id))
    fresh_user()
    assert client.post(f"/consultations/{consultation.id}/video").status_code == 303
    fresh_user()
    closed = client.post(f"/consultations/{consultation.id}/close", data=close_data())
    assert closed.status_code == 303
    session.expire_all()
    # the person's page: the answer, no "join the video"; the join is refused
    page = app.test_client().get(f"/consultations/c/{token}").get_data(as_text=True)
    assert f"/consultations/c/{token}/answer.pdf" in page
    assert "data-chat-video hidden" in page
    assert app.test_client().post(f"/consultations/chat/{token}/video").status_code == 400
    fresh_user()
    assert client.get(f"/consultations/{consultation.id}/video").status_code == 404
