"""The chat follows who may take part: a hand-over takes the former lawyer out of it, the
person sees one queue number, history pages past its cap (the review's findings)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from types import SimpleNamespace

from consultations import intake
from portal import transaction
from portal.timeutil import BEIJING
from tests.consultations.test_chat_support import (
    answered,
    fresh_user,
    join,
    person_socket,
    received,
    say,
    user_socket,
)
from tests.consultations.test_intake_support import (  # noqa: F401 (fixtures)
    ON_DUTY,
    clock_fixture,
    duty_fixture,
    user_of,
)
from tests.fixtures.consultations import duty_week, lawyers, new_consultation, this_monday
from tests.fixtures.core import client_for, login


def _user(session, person):
    from portal.auth.models import User

    return session.get(User, person.user_id)


def test_a_hand_over_takes_the_former_lawyer_out_of_the_chat(app, client, session, world,
                                                             make_user):
    consultation, token, old = answered(session, world, make_user)
    login(client, _user(session, old))
    former = user_socket(app, client)
    assert join(former, consultation)["side"] == "lawyer"
    person = person_socket(app)
    assert join(person, consultation, token)["ok"]
    new = lawyers(session, world, 1, make_user=make_user)[0]
    later = this_monday() + timedelta(weeks=400)
    duty_week(session, new, later)
    now = datetime.combine(later + timedelta(days=2), time(10), tzinfo=BEIJING)
    assert intake.hand_over(session, now) == 1
    transaction.commit(session)
    closed = received(former, "closed")
    assert closed and closed[-1]["reason"] == "not_allowed"
    assert say(person, consultation, "还在吗？", "p-1")["ok"]
    assert received(former, "message") == []


def test_the_chat_tells_the_queue_number_of_the_page_and_hears_a_take(
        app, client, session, duty, clock):
    """One order (assistance first), and taking the next tells the others their place
    and the one taken its status."""
    early, early_token = new_consultation(session, duty_week_id=duty.first.id,
                                          created_at=ON_DUTY - timedelta(minutes=30))
    helped, helped_token = new_consultation(session, duty_week_id=duty.first.id,
                                            needs_assistance=True,
                                            created_at=ON_DUTY - timedelta(minutes=5))
    a, b = person_socket(app), person_socket(app)
    assert join(b, helped, helped_token)["position"] == 1
    assert join(a, early, early_token)["position"] == 2
    login(client, user_of(session, duty.a))
    assert client.post("/consultations/take-next").status_code == 303
    assert received(a, "queue")[-1]["position"] == 1
    assert received(b, "status")[-1]["status"] == "active"


def test_withdrawing_tells_those_behind(app, client, session, duty, clock):
    first, first_token = new_consultation(session, duty_week_id=duty.first.id,
                                          created_at=ON_DUTY - timedelta(minutes=30))
    second, second_token = new_consultation(session, duty_week_id=duty.first.id,
                                            created_at=ON_DUTY - timedelta(minutes=20))
    behind = person_socket(app)
    assert join(behind, second, second_token)["position"] == 2
    intake.withdraw(session, first)
    transaction.commit(session)
    assert received(behind, "queue")[-1]["position"] == 1


def test_closing_tells_the_chat_its_status(app, client, session, world, make_user):
    from consultations import outcomes

    consultation, token, lawyer = answered(session, world, make_user)
    person = person_socket(app)
    assert join(person, consultation, token)["ok"]
    outcomes.close(session, _user(session, lawyer), consultation, outcome="answered",
                   answer="可以申请劳动仲裁。", declared=True)
    transaction.commit(session)
    assert received(person, "status")[-1]["status"] == "closed"


def _video_room(app, client, session, world, make_user):
    from consultations.models import Consultation
    from video.models import Room

    consultation, token, lawyer = answered(session, world, make_user)
    mine = client_for(app, _user(session, lawyer))
    fresh_user()
    assert mine.post(f"/consultations/{consultation.id}/video").status_code == 303
    session.expire_all()
    found = session.get(Consultation, consultation.id)
    return found, token, lawyer, session.get(Room, found.video_room_id)


def test_the_office_does_not_see_host_or_join_a_consultations_video(
        app, client, session, world, make_user):
    from portal.auth.roles import Role
    from tests.fixtures.video import NAMESPACE as VIDEO
    from tests.fixtures.video import staff_socket

    consultation, _token, _lawyer, room = _video_room(app, client, session, world, make_user)
    assert room.kind == "consultation" and room.office_id == world.township.id
    office = [make_user(role, organisations=[world.township])
              for role in (Role.CLERK, Role.LEADER, Role.SUPERVISOR)]
    for user in [*office, make_user(Role.ADMIN)]:
        client = client_for(app, user)
        for url in (f"/video/rooms/{room.id}", f"/video/rooms/{room.id}/host",
                    f"/video/rooms/{room.id}/notes"):
            assert client.get(url).status_code in (403, 404), (user.roles, url)
        assert client.post(f"/video/rooms/{room.id}/host").status_code in (403, 404)
        schedule = client.get("/video/")
        assert consultation.name not in schedule.get_data(as_text=True)
        assert f"/video/rooms/{room.id}" not in schedule.get_data(as_text=True)
        fresh_user()
        sock = staff_socket(app, client, room)
        assert not sock.is_connected(VIDEO), user.roles


def test_a_handed_over_consultation_gets_a_video_room_of_its_new_lawyer(
        app, client, session, world, make_user):
    consultation, _token, _old, room = _video_room(app, client, session, world, make_user)
    new = lawyers(session, world, 1, make_user=make_user)[0]
    consultation.lawyer_id, consultation.lawyer_user_id = new.id, new.user_id
    session.commit()
    mine = client_for(app, _user(session, new))
    fresh_user()
    assert mine.post(f"/consultations/{consultation.id}/video").status_code == 303
    fresh_user()
    assert mine.get(f"/consultations/{consultation.id}/video").status_code == 200
    session.expire_all()
    assert room.status == "ended"
    assert consultation.video_room_id != room.id


def test_the_hand_over_and_the_close_end_the_video(app, client, session, world, make_user):
    from consultations import outcomes

    consultation, token, old, room = _video_room(app, client, session, world, make_user)
    outcomes.close(session, _user(session, old), consultation, outcome="answered",
                   answer="可以申请劳动仲裁。", declared=True)
    transaction.commit(session)
    assert room.status == "ended"
    assert app.test_client().post(f"/consultations/chat/{token}/video").status_code == 400
    other, _t, lawyer, other_room = _video_room(app, client, session, world, make_user)
    new = lawyers(session, world, 1, make_user=make_user)[0]
    later = this_monday() + timedelta(weeks=401)
    duty_week(session, new, later)
    now = datetime.combine(later + timedelta(days=2), time(10), tzinfo=BEIJING)
    assert intake.hand_over(session, now) == 1
    transaction.commit(session)
    assert other_room.status == "ended"


def _many(session, consultation, n):
    from consultations.models import Message
    from portal.timeutil import utcnow

    session.add_all([Message(consultation_id=consultation.id, sender="asker", body=f"m{i}",
                             client_id=f"m{i}", sent_at=utcnow()) for i in range(n)])
    session.commit()


def test_a_long_history_comes_in_pages_to_the_newest(app, session, world, make_user):
    consultation, token, _lawyer = answered(session, world, make_user)
    _many(session, consultation, 205)
    person = person_socket(app)
    first = join(person, consultation, token)
    assert len(first["messages"]) == 200 and first["has_more"] is True
    rest = join(person, consultation, token, after=first["messages"][-1]["id"])
    assert [m["body"] for m in rest["messages"]] == [f"m{i}" for i in range(200, 205)]
    assert rest["has_more"] is False


def test_the_video_notice_is_what_the_chat_hears(app, client, session, world, make_user):
    consultation, token, lawyer = answered(session, world, make_user)
    _many(session, consultation, 205)
    person = person_socket(app)
    join(person, consultation, token)
    join(person, consultation, token, after=10**9)
    mine = client_for(app, _user(session, lawyer))
    fresh_user()
    assert mine.post(f"/consultations/{consultation.id}/video").status_code == 303
    heard = received(person, "message")
    assert heard and heard[-1]["sender"] == "system" and "video" in heard[-1]["body"]


def test_a_struck_off_lawyer_can_no_longer_write(app, client, session, world, make_user):
    consultation, token, lawyer = answered(session, world, make_user)
    login(client, _user(session, lawyer))
    sock = user_socket(app, client)
    assert join(sock, consultation)["side"] == "lawyer"
    assert say(sock, consultation, "您好", "l-1")["ok"]
    lawyer.is_active = False
    session.commit()
    refused = say(sock, consultation, "还在", "l-2")
    assert not refused["ok"] and "no longer take part" in refused["error"]
    assert received(sock, "closed")[-1]["reason"] == "not_allowed"


def test_the_history_loads_its_attachments_at_once(app, session, world, make_user):
    from sqlalchemy import event

    from consultations.models import ConsultationFile, Message
    from portal.timeutil import utcnow

    consultation, token, _lawyer = answered(session, world, make_user)
    for i in range(5):
        found = ConsultationFile(consultation_id=consultation.id, sender="asker",
                                 sha256=f"{i:064x}", size=10, media_type="application/pdf",
                                 original_name=f"证据{i}.pdf", created_at=utcnow())
        session.add(found)
        session.flush()
        session.add(Message(consultation_id=consultation.id, sender="asker", body="",
                            file_id=found.id, client_id=f"f{i}", sent_at=utcnow()))
    session.commit()
    cid = consultation.id
    session.expunge_all()  # nothing loaded already
    selects: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        if "consultation_files" in statement and statement.lstrip().upper().startswith(
                "SELECT"):
            selects.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        ack = join(person_socket(app), SimpleNamespace(id=cid), token)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert [m["file"]["name"] for m in ack["messages"]] == [f"证据{i}.pdf" for i in range(5)]
    assert len(selects) == 1


def test_one_rule_for_attachments_notices_and_the_lawyers_own_consultation(
        session, world, make_user):
    from consultations import chat, intake_forms
    from consultations import permissions as perm
    from portal.timeutil import utcnow

    assert intake.ATTACHMENT_TYPES is chat.ATTACHMENT_TYPES
    assert intake_forms.attachment_type is chat.attachment_type
    assert chat.attachment_type(b"%PDF-1.4\n") == "application/pdf"
    assert chat.attachment_type(b"MZ\x90\x00") is None
    assert perm.can_chat is perm.answers
    consultation, _token, lawyer = answered(session, world, make_user)
    user = _user(session, lawyer)
    assert perm.answers(user, consultation) and perm.can_view_consultation(user, consultation)
    assert perm.can_close(user, consultation)
    assert intake._system_message(session, consultation, "k-1", "一", utcnow())
    message, new = chat.post_notice(session, consultation, "二", "k-1")
    assert not new and message.body == "一"
    assert not intake._system_message(session, consultation, "k-1", "三", utcnow())
