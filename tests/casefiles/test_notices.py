"""Notices reach people: each step of the procedure tells the people concerned (in-app
and by e-mail through the outbox), stored as a message key with its values and shown in
the reader's language."""

from __future__ import annotations

import html as html_lib
from typing import Any

from sqlalchemy import select

from portal.auth.roles import Role
from portal.casefiles import operations as ops
from portal.notify.models import Notification, OutboxMessage
from tests.fixtures.casefiles import new_case
from tests.fixtures.core import login


def client_for(app: Any, user: Any, lang: str) -> Any:
    c = app.test_client()
    login(c, user)
    c.post(f"/lang/{lang}")  # the language switch, while logged in
    return c


def page(response: Any) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def test_each_recipient_reads_the_notice_in_their_own_language(app, session, world,
                                                              make_user):
    world.police_officer.email = "en.officer@example.org"
    zh_officer = make_user(Role.AGENCY, organisations=[world.police],
                           email="zh.officer@example.org")
    session.commit()
    english = client_for(app, world.police_officer, "en")
    chinese = client_for(app, zh_officer, "zh_CN")
    case, _ = new_case(session, world)
    ops.take_action(session, world.clerk, case, "accept")
    session.commit()
    clerk = client_for(app, world.clerk, "zh_CN")
    clerk.post(f"/cases/{case.number}/assign", data={"lead_id": str(world.police.id),
                                                      "letter": "请办理"})

    assert f"Case {case.number} was assigned to your agency." in page(
        english.get("/notifications"))
    assert f"案件 {case.number} 已交由本单位办理。" in page(chinese.get("/notifications"))
    stored = session.scalars(select(Notification).where(
        Notification.user_id == zh_officer.id)).one()
    assert stored.message_key == "case.assigned" and case.number in stored.message_values
    # e-mails go out in the recipient's language, whoever sent them
    mails = {m.to_address: m.body for m in session.scalars(select(OutboxMessage))}
    assert f"Case {case.number} was assigned to your agency." in mails[
        "en.officer@example.org"]
    assert f"案件 {case.number} 已交由本单位办理。" in mails["zh.officer@example.org"]
    # the notice is stored as a key: the reader who switches language reads it anew
    english.post("/lang/zh_CN")
    assert f"案件 {case.number} 已交由本单位办理。" in page(english.get("/notifications"))


def _told(session: Any, key: str) -> set[int]:
    return set(session.scalars(select(Notification.user_id).where(
        Notification.message_key == key)))


def test_each_step_tells_the_people_concerned(app, session, world):
    case, _ = new_case(session, world)
    ops.set_leader(session, world.clerk, case, world.leader)
    assert _told(session, "case.leader_set") == {world.leader.id}
    ops.take_action(session, world.clerk, case, "accept")
    ops.assign(session, world.clerk, case, world.police)
    assert _told(session, "case.assigned") == {world.police_officer.id}
    session.commit()

    supervisor = client_for(app, world.supervisor, "en")
    supervisor.post(f"/cases/{case.number}/actions/supervise", data={"reason": "请加快办理"})
    assert _told(session, "case.supervised") == {world.police_officer.id, world.leader.id,
                                                  world.clerk.id}
    police = client_for(app, world.police_officer, "en")
    leader = client_for(app, world.leader, "en")
    police.post(f"/cases/{case.number}/actions/start_investigation")
    police.post(f"/cases/{case.number}/actions/request_extension",
                data={"reason": "需要测绘", "days": "30"})
    assert _told(session, "case.extension_requested") == {world.leader.id}
    leader.post(f"/cases/{case.number}/actions/refuse_extension", data={"reason": "不必延期"})
    assert _told(session, "case.extension_refused") == {world.police_officer.id,
                                                         world.clerk.id}
    police.post(f"/cases/{case.number}/actions/request_extension",
                data={"reason": "测绘排期已满", "days": "30"})
    leader.post(f"/cases/{case.number}/actions/extend")
    assert _told(session, "case.extension_approved") == {world.police_officer.id,
                                                          world.clerk.id}
    police.post(f"/cases/{case.number}/actions/submit_reply", data={"reason": "答复初稿"})
    assert _told(session, "case.sign_off_requested") == {world.leader.id}
    leader.post(f"/cases/{case.number}/actions/send_back_reply", data={"reason": "请补充"})
    assert _told(session, "case.reply_sent_back") == {world.police_officer.id,
                                                       world.clerk.id}
    police.post(f"/cases/{case.number}/actions/submit_reply", data={"reason": "答复定稿"})
    leader.post(f"/cases/{case.number}/actions/sign_off_reply")
    assert _told(session, "case.replied") == {world.police_officer.id, world.clerk.id}
    supervisor.post(f"/cases/{case.number}/actions/return_reply", data={"reason": "答复不具体"})
    assert _told(session, "case.reply_returned") == {world.police_officer.id,
                                                      world.clerk.id, world.leader.id}
    # nobody outside the case heard of it
    outsiders = {world.land_officer.id, world.other_clerk.id, world.other_leader.id}
    assert not outsiders & set(session.scalars(select(Notification.user_id)))
    inbox = page(leader.get("/notifications"))
    assert f"An extension of 30 days is asked for on case {case.number}: 需要测绘" in inbox



def test_a_get_of_the_language_switch_changes_nothing_on_the_account(app, session, world):
    """A link (GET) switches this browser only; the header's button (POST) also keeps the
    choice on the account, where notices and e-mails read it."""
    from portal.notify.models import UserPreference

    c = app.test_client()
    login(c, world.clerk)
    c.get("/lang/en")
    assert session.get(UserPreference, world.clerk.id) is None
    c.post("/lang/en")
    session.expire_all()
    assert session.get(UserPreference, world.clerk.id).locale == "en"
