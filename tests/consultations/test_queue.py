"""The queue on the desk: positions, taking the next, who may take, the clerk's visitor,
the lawyer's in-person log, the week-end hand-over and the offline alert."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from sqlalchemy import select

from consultations import ticks
from consultations.models import Consultation, Message
from portal.auth.models import LoginSession
from portal.notify.models import Channel, Notification, OutboxMessage
from portal.timeutil import utcnow
from tests.consultations.test_intake_support import (  # noqa: F401 (fixtures)
    MONDAY,
    ON_DUTY,
    at,
    clock_fixture,
    count,
    duty_fixture,
    user_of,
)
from tests.fixtures.consultations import new_consultation
from tests.fixtures.core import login


def _waiting(session, week_of, minutes_ago: int, **fields):
    consultation, token = new_consultation(
        session, duty_week_id=week_of.first.id,
        created_at=ON_DUTY - timedelta(minutes=minutes_ago), **fields)
    return consultation, token


def test_positions_put_those_who_need_assistance_first(client, session, duty, clock):
    early, early_token = _waiting(session, duty, 30, name="早到")
    later, later_token = _waiting(session, duty, 20, name="后到")
    helped, helped_token = _waiting(session, duty, 5, name="老人", needs_assistance=True)
    positions = {}
    for name, token in (("早到", early_token), ("后到", later_token), ("老人", helped_token)):
        text = client.get(f"/consultations/c/{token}").get_data(as_text=True)
        positions[name] = int(re.search(r'data-position="(\d+)"', text).group(1))
    assert positions == {"老人": 1, "早到": 2, "后到": 3}
    login(client, user_of(session, duty.a))
    desk = client.get("/consultations/").get_data(as_text=True)
    assert 'hx-get="/consultations/queue"' in desk and "Log a consultation in person" in desk
    queue = client.get("/consultations/queue", headers={"HX-Request": "true"})
    text = queue.get_data(as_text=True)
    assert text.index("老人") < text.index("早到") < text.index("后到")
    assert "Needs assistance: first" in text and "3 waiting." in text
    assert "Take the next" in text and "30 min" in text
    # the list polls itself; an unchanged queue answers 204, a changed one the new list
    seen = re.search(r'/consultations/queue\?seen=([0-9a-f]+)', text).group(1)
    poll = client.get(f"/consultations/queue?seen={seen}", headers={"HX-Request": "true"})
    assert poll.status_code == 204
    _waiting(session, duty, 1, name="新来")
    poll = client.get(f"/consultations/queue?seen={seen}", headers={"HX-Request": "true"})
    assert poll.status_code == 200 and "4 waiting." in poll.get_data(as_text=True)
    # the person's poll (the lawyer has not been seen in 2030: away): unchanged is 204,
    # a new place is the new text
    unchanged = client.get(f"/consultations/c/{later_token}/status?was=queued&pos=3&away=1")
    assert unchanged.status_code == 204
    moved = client.get(f"/consultations/c/{later_token}/status?was=queued&pos=4&away=1")
    assert "You are number 3 in the queue." in moved.get_data(as_text=True)
    assert "HX-Refresh" not in moved.headers
    assert [c.status for c in session.scalars(select(Consultation))] == ["queued"] * 4


def test_the_duty_lawyer_takes_the_next(client, session, duty, clock):
    first, _ = _waiting(session, duty, 30)
    helped, token = _waiting(session, duty, 5, name="老人", needs_assistance=True)
    lawyer = user_of(session, duty.a)
    login(client, lawyer)
    response = client.post("/consultations/take-next")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/consultations/{helped.id}")
    session.expire_all()
    assert (helped.status, helped.lawyer_id, helped.lawyer_user_id) == (
        "active", duty.a.id, lawyer.id)
    assert helped.taken_at is not None and first.status == "queued"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "You took 老人" in page and "Taken by " + duty.a.name in page
    # the person's poll sees the change and reloads the page for the chat
    poll = client.get(f"/consultations/c/{token}/status?was=queued")
    assert poll.headers.get("HX-Refresh") == "true"
    assert f"Lawyer {duty.a.name} is answering your question." in client.get(
        f"/consultations/c/{token}").get_data(as_text=True)
    client.post("/consultations/take-next")
    empty = client.post("/consultations/take-next", follow_redirects=True)
    assert "Nobody is waiting in the queue." in empty.get_data(as_text=True)


def test_a_lawyer_not_on_duty_is_refused(client, session, duty, clock):
    waiting, _ = _waiting(session, duty, 10)
    login(client, user_of(session, duty.c))
    response = client.post("/consultations/take-next")
    assert response.status_code == 403
    assert "Only the lawyer on duty this week" in response.get_data(as_text=True)
    assert "Take the next" not in client.get("/consultations/queue").get_data(as_text=True)
    refused = client.post("/consultations/in-person", data={
        "name": "赵六", "topic": "family", "question": "离婚财产怎么分？"})
    assert refused.status_code == 403
    session.expire_all()
    assert waiting.status == "queued" and waiting.lawyer_id is None
    assert count(session) == 1


def test_a_lawyer_takes_what_was_handed_to_them_even_off_duty(client, session, duty, clock):
    general, _ = _waiting(session, duty, 30, name="大家的")
    handed, _ = _waiting(session, duty, 10, name="移交的", lawyer_id=duty.c.id,
                         handed_over_from_id=duty.a.id)
    login(client, user_of(session, duty.c))
    assert "Take the next" in client.get("/consultations/queue").get_data(as_text=True)
    response = client.post("/consultations/take-next")
    assert response.headers["Location"].endswith(f"/consultations/{handed.id}")
    assert client.post("/consultations/take-next").status_code == 403  # none left for them
    session.expire_all()
    assert (handed.status, general.status, general.lawyer_id) == ("active", "queued", None)


def test_the_clerk_takes_for_the_duty_lawyer_and_registers_a_visitor(
        client, session, world, duty, clock):
    waiting, _ = _waiting(session, duty, 10)
    login(client, world.clerk)
    assert client.post("/consultations/take-next").status_code == 303
    session.expire_all()
    assert waiting.lawyer_id == duty.a.id and waiting.status == "active"
    form = {"name": "孙七", "phone": "13700001234", "topic": "land",
            "question": "承包地被占怎么办？", "needs_assistance": "y",
            "idempotency_key": "visitor-" + "2" * 30}
    response = client.post("/consultations/register", data=form)
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "Personal link for 孙七" in text
    url = re.search(r'id="consultation-url" href="([^"]+)"', text).group(1)
    visitor = session.scalar(select(Consultation).where(Consultation.name == "孙七"))
    assert visitor.channel == "clerk" and visitor.status == "queued" and visitor.needs_assistance
    sms = session.scalar(select(OutboxMessage).where(OutboxMessage.channel == Channel.SMS))
    assert sms.to_address == "13700001234" and url in sms.body
    assert "You are number 1 in the queue." in client.get(url).get_data(as_text=True)
    again = client.post("/consultations/register", data=form)
    assert again.status_code == 303 and count(session) == 2


def test_the_duty_lawyer_logs_a_consultation_in_person(client, session, duty, clock):
    login(client, user_of(session, duty.a))
    bad = client.post("/consultations/in-person", data={"name": "", "topic": "family",
                                                         "question": "x"})
    assert bad.status_code == 400 and "Enter the visitor" in bad.get_data(as_text=True)
    response = client.post("/consultations/in-person", data={
        "name": "赵六", "topic": "family", "question": "离婚财产怎么分？",
        "idempotency_key": "inperson-" + "3" * 30})
    assert response.status_code == 303
    logged = session.scalar(select(Consultation))
    assert (logged.channel, logged.status, logged.lawyer_id) == ("in_person", "active",
                                                                 duty.a.id)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Logged in person by the lawyer" in page and "离婚财产怎么分" in page


def test_the_week_end_hand_over_leaves_nothing_behind(app, client, session, duty, clock):
    active, active_token = _waiting(session, duty, 60, name="进行中")
    active.status, active.lawyer_id, active.taken_at = "active", duty.a.id, ON_DUTY
    active.answer = "建议先申请劳动仲裁。"
    active.locale = "en"  # the person reads English: the page's words below are English
    session.add(Message(consultation_id=active.id, sender="asker", client_id="m1",
                        body="公司不给签合同"))
    session.add(Message(consultation_id=active.id, sender="lawyer", client_id="m2",
                        body="请保留工资条"))
    queued, _ = _waiting(session, duty, 10, name="排队中")
    held, _ = _waiting(session, duty, 5, name="等待中", status="held")
    done, _ = _waiting(session, duty, 90, name="已结束", status="closed")
    session.commit()
    next_monday = at(MONDAY + timedelta(days=7), "00:05")
    assert ticks.handover_tick(app, next_monday) == 3
    session.expire_all()
    for consultation in (active, queued, held):
        assert consultation.duty_week_id == duty.second.id
        assert consultation.lawyer_id == duty.b.id
        assert consultation.lawyer_user_id == duty.b.user_id
        assert consultation.handed_over_from_id == duty.a.id
    assert (active.status, queued.status, held.status) == ("active", "queued", "held")
    assert done.duty_week_id == duty.first.id and done.lawyer_id is None
    summary = active.handover_summary
    assert duty.a.name in summary and active.question in summary
    assert "公司不给签合同" in summary and "请保留工资条" in summary
    assert "建议先申请劳动仲裁" in summary
    told = session.scalars(select(Notification).where(
        Notification.user_id == duty.b.user_id)).all()
    assert len(told) == 3 and all("handed over to you" in n.text for n in told)
    texts = session.scalars(select(OutboxMessage).where(
        OutboxMessage.channel == Channel.SMS)).all()
    assert len(texts) == 3 and all(duty.b.name in t.body for t in texts)
    assert f"continues with this week's duty lawyer, {duty.b.name}" in html.unescape(
        client.get(f"/consultations/c/{active_token}").get_data(as_text=True))
    # again (another pass, another process): nothing more
    assert ticks.handover_tick(app, next_monday + timedelta(minutes=5)) == 0
    assert count(session, Notification) == 3
    # the new lawyer reads the summary on the consultation page, and may take the queued
    login(client, user_of(session, duty.b))
    clock.set(at(MONDAY + timedelta(days=7), "09:30"))
    page = client.get(f"/consultations/{active.id}").get_data(as_text=True)
    assert "Hand-over summary" in page and "请保留工资条" in page


def test_the_clerk_is_alerted_once_when_the_duty_lawyer_is_offline(
        app, client, session, world, duty, clock):
    waiting, token = _waiting(session, duty, 15, name="久等")
    fresh, _ = _waiting(session, duty, 2, name="刚到")
    lawyer = user_of(session, duty.a)
    seen = LoginSession(id="s-" + "4" * 30, user_id=lawyer.id, created_at=utcnow(),
                        last_seen_at=ON_DUTY - timedelta(minutes=1))
    session.add(seen)
    session.commit()
    assert ticks.offline_tick(app, ON_DUTY) == 0  # seen a minute ago: online
    seen.last_seen_at = ON_DUTY - timedelta(minutes=30)
    session.commit()
    later = ON_DUTY + timedelta(minutes=2)
    assert ticks.offline_tick(app, later) == 1
    assert ticks.offline_tick(app, later + timedelta(minutes=5)) == 0  # once per wait
    alerts = session.scalars(select(Notification).where(
        Notification.user_id == world.clerk.id)).all()
    assert len(alerts) == 1 and "久等" in alerts[0].text and "not online" in alerts[0].text
    assert alerts[0].link == f"/consultations/{waiting.id}"
    page = client.get(f"/consultations/c/{token}").get_data(as_text=True)
    assert "The duty lawyer is not online at the moment" in page
    assert "Expect an answer by 2030-01-09 11:30" in page


def test_a_lawyer_sees_only_the_consultations_they_answer(app, client, session, duty, clock):
    theirs, _ = _waiting(session, duty, 10, status="active", lawyer_id=duty.a.id)
    login(client, user_of(session, duty.c))
    assert client.get(f"/consultations/{theirs.id}").status_code == 404
    assert client.get("/consultations/99999999999999999999").status_code == 404
    answering = app.test_client()
    login(answering, user_of(session, duty.a))
    assert answering.get(f"/consultations/{theirs.id}").status_code == 200


def test_a_lawyer_off_duty_sees_only_the_counts_and_what_was_handed_to_them(
        client, session, duty, clock):
    _waiting(session, duty, 30, name="大家的")
    _waiting(session, duty, 10, name="移交的", lawyer_id=duty.c.id,
             handed_over_from_id=duty.a.id)
    login(client, user_of(session, duty.b))  # on duty next week, nothing handed to them
    text = client.get("/consultations/queue").get_data(as_text=True)
    assert "2 waiting." in text and "Only the lawyer on duty sees who is waiting." in text
    assert "大家的" not in text and "移交的" not in text and "30 min" not in text
    client.post("/logout")
    login(client, user_of(session, duty.c))
    text = client.get("/consultations/queue").get_data(as_text=True)
    assert "2 waiting." in text and "移交的" in text and "大家的" not in text
    client.post("/logout")
    login(client, user_of(session, duty.a))  # on duty: everyone, in order
    text = client.get("/consultations/queue").get_data(as_text=True)
    assert "大家的" in text and "移交的" in text
    assert "Only the lawyer on duty sees" not in text


def test_the_offline_alert_goes_to_the_organisers_of_the_rotas_office(
        app, session, world, duty, clock):
    """One rule for "the organisers" (consultations.permissions.organisers): the clerks
    and leaders of the office that made the rota, not every clerk of every office."""
    _waiting(session, duty, 15, name="久等")
    duty.first.created_by_id = world.clerk.id
    session.add(LoginSession(id="s-" + "5" * 30, user_id=user_of(session, duty.a).id,
                             created_at=utcnow(), last_seen_at=ON_DUTY - timedelta(minutes=30)))
    session.commit()
    assert ticks.offline_tick(app, ON_DUTY + timedelta(minutes=2)) == 1
    told = set(session.scalars(select(Notification.user_id)))
    assert {world.clerk.id, world.leader.id} <= told
    assert world.other_clerk.id not in told and world.other_leader.id not in told


def test_the_lawyer_sees_the_phone_masked_like_everywhere_else(client, session, duty, clock):
    short, _ = _waiting(session, duty, 10, status="active", lawyer_id=duty.a.id,
                        phone="5551234")
    login(client, user_of(session, duty.a))
    text = client.get(f"/consultations/{short.id}").get_data(as_text=True)
    assert "<dd>*****34</dd>" in text  # was shown in clear when 7 characters or fewer
