"""Chat attachments and the move to video, through the pages; the chat partial as the
person and the lawyer see it."""

from __future__ import annotations

import io
from dataclasses import replace

from flask import render_template_string

from consultations.models import Consultation, ConsultationFile, Message
from portal.auth.models import User
from tests.consultations.test_chat_support import (
    answered,
    call,
    fresh_user,
    join,
    person_socket,
    received,
    say,
    stored,
    user_socket,
)
from tests.fixtures.consultations import new_consultation
from tests.fixtures.core import login

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _login_lawyer(client, session, lawyer):
    login(client, session.get(User, lawyer.user_id))


def _files(session, consultation):
    session.expire_all()
    return session.query(ConsultationFile).filter_by(consultation_id=consultation.id).all()


def _upload(client, url, data, name="证据.pdf"):
    return client.post(url, data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_the_person_attaches_a_file_and_sends_it(app, client, session, world, make_user):
    consultation, token, lawyer = answered(session, world, make_user)
    response = _upload(app.test_client(), f"/consultations/chat/{token}/files", PDF)
    assert response.status_code == 201, response.get_data(as_text=True)
    sent = response.get_json()["file"]
    assert sent["name"] == "证据.pdf" and sent["media_type"] == "application/pdf"
    person = person_socket(app)
    join(person, consultation, token)
    _login_lawyer(client, session, lawyer)
    lawyer_sock = user_socket(app, client)
    join(lawyer_sock, consultation)
    ack = say(person, consultation, "", "p-file", file_id=sent["id"])
    assert ack["ok"] and ack["message"]["file"]["name"] == "证据.pdf"
    assert received(lawyer_sock, "message")[-1]["file"]["id"] == sent["id"]
    # both sides download it
    got = app.test_client().get(f"/consultations/chat/{token}/files/{sent['id']}")
    assert got.status_code == 200 and got.data == PDF
    assert got.headers["Content-Disposition"].startswith("attachment;")
    fresh_user()
    got = client.get(f"/consultations/{consultation.id}/chat/files/{sent['id']}")
    assert got.status_code == 200 and got.data == PDF


def test_attachments_have_size_and_type_limits(app, session, world, make_user):
    consultation, token, _lawyer = answered(session, world, make_user)
    person = app.test_client()
    url = f"/consultations/chat/{token}/files"
    refused = _upload(person, url, b"MZ\x90\x00 an exe" + b"\xff" * 40, "run.exe")
    assert refused.status_code == 415
    assert "Only photos" in refused.get_json()["error"]
    small = replace(app.extensions["consultations.rules"], max_file_bytes=1024 * 1024)
    app.extensions["consultations.rules"], kept = small, app.extensions["consultations.rules"]
    try:
        refused = _upload(person, url, PNG + b"\x00" * (1024 * 1024), "大.png")
    finally:
        app.extensions["consultations.rules"] = kept
    assert refused.status_code == 413 and "too large" in refused.get_json()["error"]
    refused = person.post(url, data={})
    assert refused.status_code == 400 and "Choose a file" in refused.get_json()["error"]
    assert _files(session, consultation) == []
    # a waiting consultation takes no attachment yet
    waiting, waiting_token = new_consultation(session)
    refused = _upload(person, f"/consultations/chat/{waiting_token}/files", PDF)
    assert refused.status_code == 400 and "not taken your question" in refused.get_json()["error"]
    assert _files(session, waiting) == []


def test_only_the_two_sides_download_an_attachment(app, client, session, world, make_user):
    consultation, token, _lawyer = answered(session, world, make_user)
    sent = _upload(app.test_client(), f"/consultations/chat/{token}/files", PNG,
                   "照片.png").get_json()["file"]
    other, other_token, other_lawyer = answered(session, world, make_user)
    stranger = app.test_client()
    # another consultation's link, a made-up link: nothing
    assert stranger.get(f"/consultations/chat/{other_token}/files/{sent['id']}").status_code == 404
    assert stranger.get(f"/consultations/chat/nope/files/{sent['id']}").status_code == 404
    # another lawyer: nothing; an organiser (no lawyer): refused
    _login_lawyer(client, session, other_lawyer)
    assert client.get(f"/consultations/{consultation.id}/chat/files/{sent['id']}"
                      ).status_code == 404
    clerk = app.test_client()
    login(clerk, world.clerk)
    fresh_user()
    assert clerk.get(f"/consultations/{consultation.id}/chat/files/{sent['id']}"
                     ).status_code == 403
    # nor may the other lawyer attach it to their own chat
    fresh_user()
    lawyer_sock = user_socket(app, client)
    join(lawyer_sock, other)
    refused = say(lawyer_sock, other, "", "x", file_id=sent["id"])
    assert not refused["ok"] and "not one of yours" in refused["error"]
    assert stored(session, other) == []


def test_moving_to_video_gives_the_person_a_seat_and_both_a_link(app, client, session,
                                                                 world, make_user):
    from video.models import Room, Seat, SeatState

    consultation, token, lawyer = answered(session, world, make_user)
    person = person_socket(app)
    join(person, consultation, token)
    _login_lawyer(client, session, lawyer)
    fresh_user()
    response = client.post(f"/consultations/{consultation.id}/video")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/consultations/{consultation.id}/video")
    session.expire_all()
    found = session.get(Consultation, consultation.id)
    room = session.get(Room, found.video_room_id)
    assert room is not None and room.host_id == lawyer.user_id and room.status == "live"
    seats = session.query(Seat).filter_by(room_id=room.id).all()
    guest = [s for s in seats if s.kind == "petitioner"]
    assert len(guest) == 1 and guest[0].display_name == "李四"
    assert guest[0].state == SeatState.ADMITTED
    assert [s.user_id for s in seats if s.kind == "staff"] == [lawyer.user_id]
    # the chat tells the person, live
    notice = received(person, "message")
    assert notice and notice[-1]["sender"] == "system" and "video" in notice[-1]["body"]
    assert received(person, "status")[-1]["video"] is True
    # pressing it again opens no second room
    fresh_user()
    assert client.post(f"/consultations/{consultation.id}/video").status_code == 303
    session.expire_all()
    assert session.query(Room).count() == 1
    assert session.query(Message).filter_by(sender="system").count() == 1
    # the lawyer's room page
    fresh_user()
    page = client.get(f"/consultations/{consultation.id}/video")
    assert page.status_code == 200 and 'data-namespace="/video"' in page.get_data(as_text=True)
    # the person's button: a fresh join link, then the video's own page
    joined = app.test_client().post(f"/consultations/chat/{token}/video")
    assert joined.status_code == 303 and "/join/" in joined.headers["Location"]
    check = app.test_client().get(joined.headers["Location"])
    assert check.status_code == 200
    # the chat partial shows both their way in
    with app.test_request_context():
        shown = render_template_string('{% include "consultations/_chat.html" %}',
                                       consultation=found, token=token)
    assert "Join the video" in shown and f"/consultations/chat/{token}/video" in shown
    assert join(person_socket(app), found, token)["video"] is True
    # once the room has ended, the chat no longer offers it
    room.status = "ended"
    session.commit()
    assert join(person_socket(app), found, token)["video"] is False
    assert app.test_client().post(f"/consultations/chat/{token}/video").status_code == 400


def test_moving_to_video_is_the_answering_lawyers_alone(app, client, session, world,
                                                        make_user):
    consultation, _token, _lawyer = answered(session, world, make_user)
    _other, _t, other_lawyer = answered(session, world, make_user)
    _login_lawyer(client, session, other_lawyer)
    fresh_user()
    assert client.post(f"/consultations/{consultation.id}/video").status_code == 404
    waiting, waiting_token = new_consultation(session, lawyer_id=other_lawyer.id)
    fresh_user()
    refused = client.post(f"/consultations/{waiting.id}/video", follow_redirects=True)
    assert "not taken your question yet" in refused.get_data(as_text=True)
    # the person cannot join a video that does not exist
    assert app.test_client().post(f"/consultations/chat/{waiting_token}/video"
                                  ).status_code == 400
    session.expire_all()
    assert session.get(Consultation, waiting.id).video_room_id is None
    assert session.get(Consultation, consultation.id).video_room_id is None


def test_the_chat_partial_for_each_viewer(app, client, session, world, make_user):
    consultation, token, lawyer = answered(session, world, make_user)
    with app.test_request_context():
        shown = render_template_string('{% include "consultations/_chat.html" %}',
                                       consultation=consultation, token=token)
    assert 'data-side="asker"' in shown and 'aria-live="polite"' in shown
    assert 'maxlength="2000"' in shown and "Attach a photo or PDF" in shown
    assert "Move to video" not in shown and "Join the video" in shown  # hidden until a room
    assert 'data-chat-video hidden' in shown
    assert "<script>" not in shown and " style=" not in shown and "onclick" not in shown
    fresh_user()
    _login_lawyer(client, session, lawyer)
    with client:
        client.get("/consultations/")  # a request of the lawyer: current_user is them
        shown = render_template_string('{% include "consultations/_chat.html" %}',
                                       consultation=consultation)
    assert 'data-side="lawyer"' in shown and "Move to video" in shown
    assert "data-confirm=" in shown
    waiting, waiting_token = new_consultation(session)
    with app.test_request_context():
        fresh_user()
        shown = render_template_string('{% include "consultations/_chat.html" %}',
                                       consultation=waiting, token=waiting_token)
    assert "in the queue" in shown


def test_a_get_changes_nothing(app, session, world, make_user):
    consultation, token, _lawyer = answered(session, world, make_user)
    before = session.query(Message).count(), session.query(ConsultationFile).count()
    assert app.test_client().get(f"/consultations/chat/{token}/video").status_code == 405
    assert app.test_client().get(f"/consultations/chat/{token}/files/1").status_code == 404
    assert (session.query(Message).count(), session.query(ConsultationFile).count()) == before
    assert call(person_socket(app), "join", {"consultation_id": consultation.id,
                                             "token": token})["ok"]
    assert (session.query(Message).count(), session.query(ConsultationFile).count()) == before
