"""Sign-off and extensions as the rules have them, through the case page: a reply needs
its text or a document; the responsible leader signs a reply off before it goes out, or
sends it back with a reason; the agency asks for an extension with a reason and the
leader approves or refuses it; once the one extension is used the leader is told so."""

from __future__ import annotations

import html as html_lib
from typing import Any

from portal.casefiles import clocks as clk
from portal.casefiles import operations as ops
from portal.casefiles.timeline import events_of, payload_of
from tests.fixtures.casefiles import new_case
from tests.fixtures.core import client_for


def page(response: Any) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def investigating(session: Any, world: Any, **fields: Any) -> Any:
    case, _ = new_case(session, world, **fields)
    ops.take_action(session, world.clerk, case, "accept")
    ops.assign(session, world.clerk, case, world.police)
    ops.take_action(session, world.police_officer, case, "start_investigation")
    session.commit()
    return case


def test_a_reply_without_text_or_document_is_refused(app, session, world):
    case = investigating(session, world)
    police = client_for(app, world.police_officer)
    r = police.post(f"/cases/{case.number}/actions/reply", data={"reason": "  "},
                    follow_redirects=True)
    assert "A reply needs its text or a document" in page(r)
    session.refresh(case)
    assert case.status == "investigating"
    assert not events_of(session, case, ["workflow.reply"])


def test_a_reply_may_be_a_document_of_the_file(app, session, world):
    case = investigating(session, world)
    doc = ops.add_document(session, world.police_officer, case, title="答复意见书",
                           data=b"%PDF-1.4\n%%EOF\n", original_name="reply.pdf",
                           media_type="application/pdf", kind="reply")
    session.commit()
    police = client_for(app, world.police_officer)
    html = page(police.get(f"/cases/{case.number}"))
    assert 'name="document_id"' in html and "答复意见书" in html
    r = police.post(f"/cases/{case.number}/actions/reply", data={"document_id": str(doc.id)},
                    follow_redirects=True)
    assert "The case is now “Replied”" in page(r)
    (reply,) = events_of(session, case, ["workflow.reply"])
    assert payload_of(reply)["document_id"] == doc.id


def test_the_responsible_leader_signs_off_or_sends_back_a_reply(app, session, world):
    case = investigating(session, world, leader_id=world.leader.id)
    police = client_for(app, world.police_officer)
    r = police.post(f"/cases/{case.number}/actions/reply", data={"reason": "答复初稿"},
                    follow_redirects=True)
    assert "submit the reply for sign-off" in page(r)
    html = page(police.get(f"/cases/{case.number}"))
    assert "Submit the reply for sign-off" in html
    r = police.post(f"/cases/{case.number}/actions/submit_reply",
                    data={"reason": "经调查，答复如下（初稿）。"}, follow_redirects=True)
    assert "The case is now “Reply awaiting sign-off”" in page(r)
    assert not events_of(session, case, ["workflow.reply"])  # nothing went out yet

    leader = client_for(app, world.leader)
    home = page(leader.get("/"))
    assert case.number in home.split('id="queue-awaiting"')[1].split("</section>")[0]
    html = page(leader.get(f"/cases/{case.number}"))
    assert "waits for the responsible leader's sign-off" in html
    assert "经调查，答复如下（初稿）。" in html
    r = leader.post(f"/cases/{case.number}/actions/send_back_reply", data={"reason": ""},
                    follow_redirects=True)
    assert "Give a reason" in page(r)
    session.refresh(case)
    assert case.status == "reply_submitted"
    r = leader.post(f"/cases/{case.number}/actions/send_back_reply",
                    data={"reason": "补偿标准要写明。"}, follow_redirects=True)
    assert "The case is now “Under investigation”" in page(r)

    police.post(f"/cases/{case.number}/actions/submit_reply",
                data={"reason": "经调查，答复如下：按标准补偿。"})
    r = leader.post(f"/cases/{case.number}/actions/sign_off_reply", follow_redirects=True)
    assert "The case is now “Replied”" in page(r)
    (reply,) = events_of(session, case, ["workflow.reply"])
    assert payload_of(reply)["reason"] == "经调查，答复如下：按标准补偿。"
    assert payload_of(reply)["signed_off"] is True
    running = clk.current_clock(clk.clocks_for_case(session, case))
    assert running is None  # the reply clock stopped at the sign-off


def test_sign_off_is_a_setting(app, session, world):
    case = investigating(session, world, leader_id=world.leader.id)
    settings = app.extensions["portal.settings"]
    app.extensions["portal.settings"] = settings.with_overrides(reply_sign_off=False)
    try:
        police = client_for(app, world.police_officer)
        r = police.post(f"/cases/{case.number}/actions/reply", data={"reason": "直接答复"},
                        follow_redirects=True)
        assert "The case is now “Replied”" in page(r)
    finally:
        app.extensions["portal.settings"] = settings


def test_the_agency_asks_for_an_extension_and_the_leader_answers(app, session, world):
    case = investigating(session, world, leader_id=world.leader.id)
    police = client_for(app, world.police_officer)
    leader = client_for(app, world.leader)
    html = page(leader.get(f"/cases/{case.number}"))
    assert "/actions/extend" not in html  # nothing asked yet

    r = police.post(f"/cases/{case.number}/actions/request_extension",
                    data={"reason": "", "days": "20"}, follow_redirects=True)
    assert "Give a reason" in page(r)
    assert not events_of(session, case, ["workflow.request_extension"])
    police.post(f"/cases/{case.number}/actions/request_extension",
                data={"reason": "需要委托土地测绘。", "days": "20"})
    html = page(leader.get(f"/cases/{case.number}"))
    assert "An extension of 20 days was asked for" in html and "需要委托土地测绘。" in html
    assert "Approve the extension" in html and "Refuse the extension" in html

    r = leader.post(f"/cases/{case.number}/actions/refuse_extension", data={"reason": ""},
                    follow_redirects=True)
    assert "Give a reason" in page(r)
    leader.post(f"/cases/{case.number}/actions/refuse_extension",
                data={"reason": "测绘可在期限内完成。"})
    html = page(police.get(f"/cases/{case.number}"))
    assert "The extension asked for was refused" in html and "测绘可在期限内完成。" in html

    police.post(f"/cases/{case.number}/actions/request_extension",
                data={"reason": "测绘单位排期已满。", "days": "20"})
    r = leader.post(f"/cases/{case.number}/actions/extend", follow_redirects=True)
    html = page(r)
    assert "extended by 20 days" in html
    assert "The one extension the rules allow has been used: 20 days" in html
    assert "There is nothing for you to do" not in html
    assert "/actions/extend" not in html
    html = page(police.get(f"/cases/{case.number}"))
    assert "/actions/request_extension" not in html
    r = police.post(f"/cases/{case.number}/actions/request_extension",
                    data={"reason": "再延", "days": "10"}, follow_redirects=True)
    assert "already been extended once" in page(r)
    kinds = [e.kind for e in events_of(session, case, [
        "workflow.request_extension", "workflow.refuse_extension", "workflow.extend"])]
    assert kinds == ["workflow.request_extension", "workflow.refuse_extension",
                     "workflow.request_extension", "workflow.extend"]


def test_the_sign_off_setting_comes_from_the_environment():
    from portal.config import Settings

    assert Settings.from_env({"PORTAL_ENV": "test"}).reply_sign_off is True
    assert Settings.from_env({"PORTAL_ENV": "test",
                              "PORTAL_REPLY_SIGN_OFF": "0"}).reply_sign_off is False


def test_the_leader_home_lists_an_extension_request(app, session, world):
    case = investigating(session, world, leader_id=world.leader.id)
    ops.take_action(session, world.police_officer, case, "request_extension",
                    reason="需要鉴定", days=30)
    session.commit()
    leader = client_for(app, world.leader)
    home = page(leader.get("/"))
    assert case.number in home.split('id="queue-awaiting"')[1].split("</section>")[0]
    leader.post(f"/cases/{case.number}/actions/extend")
    home = page(leader.get("/"))
    assert case.number not in home.split('id="queue-awaiting"')[1].split("</section>")[0]
