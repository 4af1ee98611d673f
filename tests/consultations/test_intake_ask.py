"""Asking a question online through the public page, and the person's own page."""

from __future__ import annotations

import io
import re
from datetime import timedelta

from sqlalchemy import select

from consultations import ticks
from consultations.models import Consultation, ConsultationFile
from portal.casefiles import blobs
from portal.notify.models import Channel, OutboxMessage
from tests.consultations.test_intake_support import (  # noqa: F401 (fixtures)
    EVENING,
    MONDAY,
    at,
    clock_fixture,
    count,
    duty_fixture,
)
from tests.fixtures.core import login

PNG = b"\x89PNG\r\n\x1a\n" + bytes(200)


def _form(**changes):
    data = {"name": "王五", "phone": "139 1234 5678", "topic": "labour",
            "question": "工地老板欠我两个月工资，我能去哪里要？",
            "idempotency_key": "k-" + "1" * 30}
    data.update(changes)
    return data


def _token(response) -> str:
    found = re.search(r"/consultations/c/([0-9a-z]+)", response.headers["Location"])
    assert found, response.headers.get("Location")
    return found.group(1)


def test_the_public_page_asks_and_changes_nothing_on_get(client, session, duty, clock):
    page = client.get("/consultations/ask")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Ask the duty lawyer" in text and "A duty lawyer is on duty now" in text
    assert 'name="idempotency_key"' in text and "data-counter-for" in text
    assert count(session) == 0


def test_each_mistake_is_named_and_nothing_is_stored(client, session, duty, clock):
    cases = [
        (_form(name=""), "Enter your name."),
        (_form(topic=""), "Choose the topic of the question."),
        (_form(topic="astrology"), "Not a valid choice"),
        (_form(question=""), "Write your question."),
        (_form(question="问" * 2001), "The question is at most 2000 characters."),
        (_form(phone="12345"), "This is not a phone number in mainland China"),
    ]
    for data, message in cases:
        response = client.post("/consultations/ask", data=data)
        assert response.status_code == 400, message
        assert message in response.get_data(as_text=True)
    bad_file = client.post("/consultations/ask", content_type="multipart/form-data",
                           data={**_form(), "files": [(io.BytesIO(b"MZ\x90\x00\x03"),
                                                       "setup.exe")]})
    assert bad_file.status_code == 400
    assert "The file setup.exe is not a picture or a PDF." in bad_file.get_data(as_text=True)
    too_many = client.post("/consultations/ask", content_type="multipart/form-data",
                           data={**_form(), "files": [(io.BytesIO(PNG), f"{i}.png")
                                                      for i in range(4)]})
    assert too_many.status_code == 400
    assert "At most 3 files." in too_many.get_data(as_text=True)
    assert count(session) == 0 and count(session, ConsultationFile) == 0


def test_a_question_is_queued_with_its_picture_and_the_link_is_texted(
        client, session, duty, clock):
    response = client.post("/consultations/ask", content_type="multipart/form-data",
                           data={**_form(), "files": [(io.BytesIO(PNG), "欠条.png")]})
    assert response.status_code == 303
    token = _token(response)
    consultation = session.scalar(select(Consultation))
    assert consultation.status == "queued" and consultation.channel == "online"
    assert consultation.phone == "13912345678" and consultation.duty_week_id == duty.first.id
    stored = session.scalar(select(ConsultationFile))
    assert (stored.sender, stored.media_type, stored.original_name) == (
        "asker", "image/png", "欠条.png")
    assert blobs.read_blob(stored.sha256) == PNG
    sms = session.scalar(select(OutboxMessage).where(OutboxMessage.channel == Channel.SMS))
    assert sms.to_address == "13912345678" and f"/consultations/c/{token}" in sms.body
    page = client.get(response.headers["Location"])
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "You are number 1 in the queue." in text and "Keep this page" in text
    assert "欠条.png" in text and "Asked online" in text
    assert f"/consultations/c/{token}/status" in text and 'hx-trigger="every 10s"' in text


def test_a_question_sent_twice_is_stored_once(client, session, duty, clock):
    first = client.post("/consultations/ask", data=_form())
    again = client.post("/consultations/ask", data=_form())
    assert first.status_code == again.status_code == 303
    assert first.headers["Location"] == again.headers["Location"]
    assert count(session) == 1
    assert client.get(again.headers["Location"]).status_code == 200
    # a race lost at the claim lands on /ask/again?key=..., which finds the same page
    raced = client.get("/consultations/ask/again", query_string={"key": "k-" + "1" * 30})
    assert raced.headers["Location"].endswith(first.headers["Location"])


def test_the_form_key_alone_never_leads_to_the_personal_page(app, client, session, duty,
                                                             clock):
    """Someone who learnt the form key (the database, the browser cache) in another
    browser gets a neutral page, never the person's link; the form is never cached."""
    assert "no-store" in client.get("/consultations/ask").headers["Cache-Control"]
    first = client.post("/consultations/ask", data=_form())
    token = _token(first)
    stranger = app.test_client()
    for answer in (stranger.get("/consultations/ask/again",
                                query_string={"key": "k-" + "1" * 30}),
                   stranger.post("/consultations/ask", data=_form())):
        assert answer.status_code == 200
        text = answer.get_data(as_text=True)
        assert token not in text and "/consultations/c/" not in answer.headers.get(
            "Location", "")
        assert "already sent" in text and "no-store" in answer.headers["Cache-Control"]
    assert count(session) == 1


def test_a_wrong_link_is_not_found(client, session, duty, clock):
    for url in ("/consultations/c/" + "a" * 32, "/consultations/c/x/status",
                "/consultations/c/" + "b" * 70):
        assert client.get(url).status_code == 404
    assert client.post("/consultations/c/" + "a" * 32 + "/withdraw").status_code == 404


def test_out_of_hours_the_question_is_held_then_joins_the_queue(app, client, session, duty,
                                                                clock):
    clock.set(EVENING)
    page = client.get("/consultations/ask").get_data(as_text=True)
    assert "Outside duty hours. The next duty starts on 2030-01-10 09:00" in page
    response = client.post("/consultations/ask", data=_form())
    token = _token(response)
    consultation = session.scalar(select(Consultation))
    assert consultation.status == "held"
    text = client.get(f"/consultations/c/{token}").get_data(as_text=True)
    assert "The next duty starts on 2030-01-10 09:00" in text
    assert "in the queue" not in text
    # at 09:00 the page counts it as waiting already; the tick then moves it
    thursday = at(MONDAY + timedelta(days=3), "09:01")
    clock.set(thursday)
    assert "You are number 1 in the queue." in client.get(
        f"/consultations/c/{token}/status?was=held").get_data(as_text=True)
    assert session.scalar(select(Consultation.status)) == "held"  # a GET moved nothing
    assert ticks.queue_tick(app, thursday) == 1
    session.expire_all()
    assert session.scalar(select(Consultation.status)) == "queued"


def test_a_question_left_waiting_at_closing_time_is_told_when_duty_resumes(
        client, session, duty, clock):
    token = _token(client.post("/consultations/ask", data=_form()))
    clock.set(EVENING)
    text = client.get(f"/consultations/c/{token}").get_data(as_text=True)
    assert "You are number 1 in the queue." in text
    assert "The queue resumes on 2030-01-10 09:00." in text


def test_a_file_over_the_limit_is_refused(app, client, session, duty, clock, monkeypatch):
    from dataclasses import replace

    from consultations.rules import rules

    with app.app_context():
        small = replace(rules(app), max_file_bytes=100)
    monkeypatch.setitem(app.extensions, "consultations.rules", small)
    response = client.post("/consultations/ask", content_type="multipart/form-data",
                           data={**_form(), "files": [(io.BytesIO(PNG), "big.png")]})
    assert response.status_code == 400
    assert "The file big.png is larger than 100 B." in response.get_data(as_text=True)
    assert count(session) == 0


def test_the_person_withdraws_before_being_taken(client, session, duty, clock):
    token = _token(client.post("/consultations/ask", data=_form()))
    page = client.get(f"/consultations/c/{token}").get_data(as_text=True)
    assert "data-confirm=" in page and "Withdraw my question" in page
    response = client.post(f"/consultations/c/{token}/withdraw")
    assert response.status_code == 303
    session.expire_all()
    consultation = session.scalar(select(Consultation))
    assert consultation.status == "withdrawn" and consultation.closed_at is not None
    again = client.post(f"/consultations/c/{token}/withdraw", follow_redirects=True)
    assert "can no longer be withdrawn" in again.get_data(as_text=True)
    assert "Withdrawn by the person asking" in again.get_data(as_text=True)


def test_questions_are_limited_per_address(client, session, duty, clock):
    for i in range(5):
        response = client.post("/consultations/ask",
                               data=_form(idempotency_key=f"limit-{i:02d}" + "5" * 24))
        assert response.status_code == 303
    refused = client.post("/consultations/ask", data=_form(idempotency_key="limit-" + "6" * 26))
    assert refused.status_code == 429
    assert count(session) == 5


def test_the_personal_link_never_reaches_the_access_log():
    from portal.access_log import redact_url

    line = "GET /consultations/c/abc123/status?was=queued HTTP/1.1"
    assert redact_url(line) == "GET /consultations/c/[redacted]/status?was=queued HTTP/1.1"
    assert "k-1" not in redact_url("/consultations/ask/again?key=k-1")


def test_reading_the_pages_changes_nothing(client, session, world, duty, clock):
    token = _token(client.post("/consultations/ask", data=_form()))
    consultation = session.scalar(select(Consultation))
    before = (consultation.status, consultation.version, count(session))
    for url in (f"/consultations/c/{token}", f"/consultations/c/{token}/status?was=queued",
                "/consultations/ask"):
        assert client.get(url).status_code == 200
    login(client, world.clerk)
    for url in ("/consultations/", "/consultations/queue",
                f"/consultations/{consultation.id}", "/consultations/register"):
        assert client.get(url).status_code == 200, url
    session.expire_all()
    assert (consultation.status, consultation.version, count(session)) == before


def test_a_nul_character_in_the_public_form_is_dropped(client, session, duty, clock):
    """PostgreSQL cannot store a NUL (\\x00): it is dropped, never a 500."""
    response = client.post("/consultations/ask", data=_form(
        name="王\x00五", question="工资\x00被拖欠", idempotency_key="k-\x00" + "2" * 28))
    assert response.status_code == 303
    stored = session.scalars(select(Consultation)).one()
    assert (stored.name, stored.question) == ("王五", "工资被拖欠")
    again = client.get("/consultations/ask/again", query_string={"key": "k-\x00" + "2" * 28})
    assert again.status_code == 303


def test_sql_errors_never_carry_their_values_to_the_logs(app):
    from portal.extensions import db

    with app.app_context():
        assert db.engine.hide_parameters
