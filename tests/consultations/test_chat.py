"""The chat on /consult through Socket.IO test clients: the person (by their link) and the
lawyer answering (by their login)."""

from __future__ import annotations

from portal import transaction
from portal.auth.roles import Role
from portal.timeutil import utcnow
from tests.consultations.test_chat_support import (
    answered,
    call,
    join,
    person_socket,
    received,
    say,
    stored,
    user_socket,
)
from tests.fixtures.consultations import new_consultation
from tests.fixtures.core import login


def _lawyer_user(session, lawyer):
    from portal.auth.models import User

    return session.get(User, lawyer.user_id)


def _both(app, client, session, world, make_user, **fields):
    consultation, token, lawyer = answered(session, world, make_user, **fields)
    login(client, _lawyer_user(session, lawyer))
    lawyer_sock = user_socket(app, client)
    person = person_socket(app)
    assert join(lawyer_sock, consultation)["side"] == "lawyer"
    assert join(person, consultation, token)["side"] == "asker"
    return consultation, token, lawyer_sock, person


def test_a_message_reaches_the_other_side_and_is_stored_once(app, client, session, world,
                                                             make_user):
    consultation, _token, lawyer, person = _both(app, client, session, world, make_user)
    ack = say(person, consultation, "老板拖欠工资，怎么办？", "p-1")
    assert ack["ok"] and ack["message"]["body"] == "老板拖欠工资，怎么办？"
    assert ack["message"]["sender"] == "asker"
    got = received(lawyer, "message")
    assert [m["body"] for m in got] == ["老板拖欠工资，怎么办？"]
    reply = say(lawyer, consultation, "可以先申请劳动仲裁。", "l-1")
    assert reply["ok"]
    assert [m["body"] for m in received(person, "message")][-1] == "可以先申请劳动仲裁。"
    assert [(m.sender, m.body) for m in stored(session, consultation)] == [
        ("asker", "老板拖欠工资，怎么办？"), ("lawyer", "可以先申请劳动仲裁。")]


def test_a_message_sent_while_the_person_is_away_arrives_on_reconnect_once(
        app, client, session, world, make_user):
    consultation, token, lawyer, person = _both(app, client, session, world, make_user)
    first = say(lawyer, consultation, "您好，请讲。", "l-1")["message"]
    assert [m["id"] for m in received(person, "message")] == [first["id"]]
    person.disconnect(namespace="/consult")
    say(lawyer, consultation, "请问拖欠了多久？", "l-2")
    say(lawyer, consultation, "有劳动合同吗？", "l-3")
    back = person_socket(app)
    ack = join(back, consultation, token, after=first["id"])
    assert [m["body"] for m in ack["messages"]] == ["请问拖欠了多久？", "有劳动合同吗？"]
    assert received(back, "message") == []  # nothing twice: the history carried them
    say(lawyer, consultation, "好的。", "l-4")
    assert [m["body"] for m in received(back, "message")] == ["好的。"]


def test_a_resend_with_the_same_client_id_stores_one(app, client, session, world, make_user):
    consultation, _token, lawyer, person = _both(app, client, session, world, make_user)
    first = say(person, consultation, "在吗？", "same-id")
    again = say(person, consultation, "在吗？", "same-id")
    assert first["ok"] and again["ok"]
    assert first["message"]["id"] == again["message"]["id"]
    assert len(stored(session, consultation)) == 1
    assert len(received(lawyer, "message")) == 1  # the resend is not broadcast again
    # the same client id from the other side is another message
    assert say(lawyer, consultation, "在。", "same-id")["ok"]
    assert len(stored(session, consultation)) == 2


def test_nobody_outside_the_consultation_receives_anything(app, client, session, world,
                                                          make_user):
    consultation, token, lawyer, person = _both(app, client, session, world, make_user)
    other, other_token, _ = answered(session, world, make_user)
    stranger = person_socket(app)
    assert join(stranger, other, other_token)["ok"]
    wrong = person_socket(app)
    refused = join(wrong, consultation, other_token)  # another consultation's link
    assert not refused["ok"] and "does not exist" in refused["error"]
    assert not join(wrong, consultation, "not-a-token")["ok"]
    silent = person_socket(app)  # connected, never joined
    say(person, consultation, "我的私事", "p-1")
    say(lawyer, consultation, "律师的答复", "l-1")
    for sock in (stranger, wrong, silent):
        assert received(sock, "message") == [] and received(sock, "marks") == []
    # a socket that did not join may not write into it either
    refused = say(silent, consultation, "插话", "x-1")
    assert not refused["ok"]
    assert refused["error"].startswith("Open this consultation first")
    # and a person who joined one consultation may not write into another by its id
    refused = say(stranger, consultation, "插话", "x-2")
    assert not refused["ok"]
    assert len(stored(session, consultation)) == 2


def test_another_lawyer_and_an_anonymous_client_cannot_join(app, client, session, world,
                                                            make_user):
    consultation, _token, _lawyer = answered(session, world, make_user)
    _c2, _t2, other_lawyer = answered(session, world, make_user)
    login(client, _lawyer_user(session, other_lawyer))
    sock = user_socket(app, client)
    assert not join(sock, consultation)["ok"]
    anonymous = person_socket(app)
    assert not join(anonymous, consultation)["ok"]


def test_an_organiser_reads_but_does_not_write(app, client, session, world, make_user):
    consultation, _token, lawyer, person = _both(app, client, session, world, make_user)
    say(person, consultation, "你好", "p-1")
    from flask_socketio import SocketIOTestClient  # noqa: F401  (a second login)

    clerk_client = app.test_client()
    login(clerk_client, world.clerk)
    clerk = user_socket(app, clerk_client)
    ack = join(clerk, consultation)
    assert ack["ok"] and ack["side"] == "reader"
    assert [m["body"] for m in ack["messages"]] == ["你好"]
    refused = say(clerk, consultation, "我来答", "k-1")
    assert not refused["ok"] and "read this consultation but not write" in refused["error"]
    assert not call(clerk, "read", {"consultation_id": consultation.id, "up_to_id": 99})["ok"]
    assert len(stored(session, consultation)) == 1
    say(lawyer, consultation, "您好", "l-1")
    assert [m["body"] for m in received(clerk, "message")] == ["您好"]


def test_a_logged_out_lawyers_socket_is_disconnected(app, client, session, world, make_user):
    consultation, _token, lawyer, person = _both(app, client, session, world, make_user)
    assert lawyer.is_connected("/consult")
    client.post("/logout")
    assert not lawyer.is_connected("/consult")
    closed = received(lawyer, "closed")
    assert closed and closed[0]["reason"] == "logged_out"
    assert person.is_connected("/consult")


def test_a_lawyer_whose_login_ended_is_refused_and_closed(app, client, session, world,
                                                          make_user):
    """The login session ended elsewhere (a password reset): the next event is refused."""
    from portal.auth import operations as auth_ops

    consultation, _token, lawyer, _person = _both(app, client, session, world, make_user)
    user = _lawyer_user(session, _person_lawyer(session, consultation))
    auth_ops.end_login_sessions(session, user)
    session.commit()
    refused = say(lawyer, consultation, "还在吗", "l-1")
    assert not refused["ok"] and "logged out" in refused["error"]
    assert stored(session, consultation) == []


def _person_lawyer(session, consultation):
    from portal.people.models import Person

    return session.get(Person, consultation.lawyer_id)


def test_bad_input_gets_a_clear_error_and_changes_nothing(app, client, session, world,
                                                          make_user):
    consultation, _token, lawyer, person = _both(app, client, session, world, make_user)
    cases = [
        ({"consultation_id": consultation.id, "body": "   ", "client_id": "a"},
         "Write a message first"),
        ({"consultation_id": consultation.id, "body": "字" * 100_000, "client_id": "b"},
         "at most 2000 characters"),
        ({"consultation_id": consultation.id, "body": "x" * 2001, "client_id": "c"},
         "at most 2000 characters"),
        ({"consultation_id": consultation.id + 999, "body": "hi", "client_id": "d"},
         "Open this consultation first"),
        ({"consultation_id": "abc", "body": "hi", "client_id": "e"},
         "Open this consultation first"),
        ({"consultation_id": [1], "body": "hi", "client_id": "f"},
         "Open this consultation first"),
        ({"consultation_id": consultation.id, "body": "hi", "client_id": ""}, "no message id"),
        ({"consultation_id": consultation.id, "body": "hi", "client_id": "z" * 65},
         "no message id"),
        ({"consultation_id": consultation.id, "body": {"x": 1}, "client_id": "g"},
         "Write a message first"),
    ]
    for data, words in cases:
        ack = call(person, "message", data)
        assert not ack["ok"], data
        assert words in ack["error"], (data, ack)
    assert not call(person, "message", "not a dict")["ok"]
    assert not join(person_socket(app), consultation, None)["ok"]
    refused = call(person_socket(app), "join", {"consultation_id": "1; drop table"})
    assert not refused["ok"]
    assert stored(session, consultation) == []
    assert received(lawyer, "message") == []
    # exactly the longest allowed message goes through
    assert say(person, consultation, "好" * 2000, "ok")["ok"]


def test_messages_wait_until_the_lawyer_takes_the_question_and_stop_at_close(
        app, client, session, world, make_user):
    waiting, token = new_consultation(session)
    person = person_socket(app)
    ack = join(person, waiting, token)
    assert ack["ok"] and ack["status"] == "queued" and ack["position"] >= 1
    refused = say(person, waiting, "在吗", "p-1")
    assert not refused["ok"] and "has not taken your question yet" in refused["error"]
    closed, closed_token, _ = answered(session, world, make_user, status="closed",
                                       closed_at=utcnow())
    other = person_socket(app)
    assert join(other, closed, closed_token)["ok"]
    refused = say(other, closed, "再问一下", "p-2")
    assert not refused["ok"] and "consultation is closed" in refused["error"]
    assert stored(session, waiting) == [] and stored(session, closed) == []


def test_delivered_and_read_marks_reach_the_sender(app, client, session, world, make_user):
    consultation, _token, lawyer, person = _both(app, client, session, world, make_user)
    sent = [say(lawyer, consultation, text, f"l-{n}")["message"]
            for n, text in enumerate(["一", "二"])]
    ack = call(person, "delivered", {"consultation_id": consultation.id,
                                     "up_to_id": sent[-1]["id"]})
    assert ack["ok"] and ack["marked"] == 2
    marks = received(lawyer, "marks")
    assert marks and marks[-1]["side"] == "lawyer" and marks[-1]["up_to_id"] == sent[-1]["id"]
    assert marks[-1]["delivered_at"] and marks[-1]["read_at"] is None
    assert received(person, "marks") == []  # marks on the lawyer's messages go to the lawyer
    call(person, "read", {"consultation_id": consultation.id, "up_to_id": sent[0]["id"]})
    assert received(lawyer, "marks")[-1]["read_at"]
    rows = stored(session, consultation)
    assert all(m.delivered_at for m in rows)
    assert [m.read_at is not None for m in rows] == [True, False]
    # a second mark changes nothing and tells nobody again
    before = len(received(lawyer, "marks"))
    assert call(person, "delivered", {"consultation_id": consultation.id,
                                      "up_to_id": sent[-1]["id"]})["marked"] == 0
    assert len(received(lawyer, "marks")) == before
    # the person's own messages are not marked by the person
    mine = say(person, consultation, "谢谢", "p-1")["message"]
    call(person, "read", {"consultation_id": consultation.id, "up_to_id": mine["id"]})
    assert stored(session, consultation)[-1].read_at is None


def test_waiting_people_hear_their_place_change(app, session, world, make_user):
    from consultations.events import announce_queue

    first, first_token = new_consultation(session)
    second, second_token = new_consultation(session)
    a, b = person_socket(app), person_socket(app)
    pos_a = join(a, first, first_token)["position"]
    pos_b = join(b, second, second_token)["position"]
    assert pos_b == pos_a + 1
    lawyer = answered(session, world, make_user)[2]
    first.status, first.lawyer_id = "active", lawyer.id
    announce_queue(session)
    transaction.commit(session)
    assert received(b, "queue")[-1]["position"] == pos_b - 1
    status = received(a, "status")
    assert status and status[-1]["status"] == "active"
    assert received(a, "queue") == []
    # nothing changed: nobody is told again
    announce_queue(session)
    transaction.commit(session)
    assert len(received(b, "queue")) == 1


def test_lawyer_role_without_registry_person_cannot_join(app, client, session, world,
                                                         make_user):
    consultation, _token, _lawyer = answered(session, world, make_user)
    stray = make_user(Role.LAWYER)
    login(client, stray)
    assert not join(user_socket(app, client), consultation)["ok"]


def test_a_held_question_hears_when_it_is_queued_and_taken(app, session, world, make_user):
    from consultations.events import announce_queue

    held, token = new_consultation(session, status="held")
    person = person_socket(app)
    ack = join(person, held, token)
    assert ack["status"] == "held" and ack["position"] is None
    held.status = "queued"
    announce_queue(session)
    transaction.commit(session)
    told = received(person, "queue")[-1]
    assert told["status"] == "queued" and told["position"] >= 1
    held.status, held.lawyer_id = "active", answered(session, world, make_user)[2].id
    announce_queue(session)
    transaction.commit(session)
    assert received(person, "status")[-1]["status"] == "active"


def test_a_resend_after_the_close_is_answered_with_the_stored_message(
        app, client, session, world, make_user):
    """The resend's lookup happens only when the unique key refuses it (nearly every
    message is new) or when the consultation no longer takes messages."""
    from consultations.models import Consultation

    consultation, _token, lawyer, person = _both(app, client, session, world, make_user)
    first = say(person, consultation, "最后一条", "last")["message"]
    found = session.get(Consultation, consultation.id)
    found.status, found.closed_at = "closed", utcnow()
    session.commit()
    again = say(person, consultation, "最后一条", "last")
    assert again["ok"] and again["message"]["id"] == first["id"]
    refused = say(person, consultation, "新的一条", "new")
    assert not refused["ok"] and "closed" in refused["error"]
    assert len(stored(session, consultation)) == 1
    assert len(received(lawyer, "message")) == 1


def test_a_window_sending_faster_than_anyone_types_is_held_back(app, client, session, world,
                                                                make_user):
    from consultations.events import FLOOD_MESSAGES

    consultation, _token, _lawyer, person = _both(app, client, session, world, make_user)
    for n in range(FLOOD_MESSAGES):
        assert say(person, consultation, f"第{n}条", f"p-{n}")["ok"]
    refused = say(person, consultation, "再来一条", "p-extra")
    assert not refused["ok"] and "too quickly" in refused["error"]
    assert len(stored(session, consultation)) == FLOOD_MESSAGES
