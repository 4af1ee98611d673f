"""The shared case file in the browser: a clerk registers a case with an attachment on a
phone, accepts and assigns it and names the responsible leader; the agency officer starts
the investigation; the leader approves an extension; the agency officer replies; the
timeline shows each step; the supervisor lists the overdue cases. Screenshots of each
step go to the screenshot folder (viewport only, as the user sees it)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

#: a tiny but well-formed PDF (the upload is checked by its content, not its name)
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
       b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
       b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
       b"trailer<</Root 1 0 R>>\n%%EOF\n")
DESK = {"width": 1280, "height": 900}
WAIT = 15_000  # ms: every wait is bounded
AGENCY = "县人力资源和社会保障局"  # the organisation of the demo `agency` account
LEADER = "张建国"  # the demo `leader` (of the county, not of the office: named per case)
SUMMARY = "公司拖欠十二名农民工工资共计八万余元，多次讨要未果，请求督促支付。"
REPLY = "经调查核实，已责令公司于十日内足额支付拖欠工资，并将跟踪落实。"
EXTENSION = "需调取公司工资台账并约谈负责人，申请延期。"


def _no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"page is {width}px wide on a 360px screen"


def _shot(page: Any, shots: Path, name: str) -> None:
    page.screenshot(path=str(shots / f"case-journey-{name}.png"))


def _log_in(page: Any, base: str, username: str, then: str) -> None:
    """Open `then`, get sent to the login page, log in and land back on `then`."""
    page.goto(base + then)
    page.wait_for_url("**/login**", timeout=WAIT)
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill("demo")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(lambda url: "/login" not in url and then.split("?")[0] in url,
                      timeout=WAIT)


def _act(page: Any, action: str) -> None:
    """Press the button of one of the case's next steps."""
    page.locator(f'form[action$="/actions/{action}"] button[type=submit]').click()


def _success(page: Any, text: str) -> None:
    from playwright.sync_api import expect

    expect(page.locator(".flash-success")).to_contain_text(text, timeout=WAIT)


@pytest.fixture()
def desk(browser: Any) -> Iterator[Any]:
    """A factory of desk-sized pages, each in a context (a login) of its own."""
    contexts: list[Any] = []

    def open_page() -> Any:
        context = browser.new_context(viewport=DESK, locale="zh-CN")
        context.set_default_timeout(WAIT)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def test_case_journey(live_server: str, phone: Any, desk: Any, shots: Path,
                      tmp_path: Path) -> None:
    from playwright.sync_api import expect

    base = live_server
    letter = tmp_path / "来信.pdf"
    letter.write_bytes(PDF)

    # -- the clerk registers the case on a phone ----------------------------------------
    clerk = phone
    clerk.set_default_timeout(WAIT)
    _log_in(clerk, base, "clerk", "/cases/new")
    expect(clerk.get_by_role("heading", level=1)).to_have_text("登记案件")
    _no_sideways_scroll(clerk)
    clerk.locator("#channel").select_option("walk_in")
    clerk.locator("#kind").select_option(label="劳动和工资")
    clerk.locator("#township_id").select_option(label="青溪镇")
    clerk.locator("#village_id").select_option(label="青溪镇 / 桃源村")
    clerk.locator("#summary").fill(SUMMARY)
    clerk.locator("#petitioners-0-name").fill("王春花")
    clerk.locator("#petitioners-0-phone").fill("13700001234")
    clerk.locator("#petitioners-0-address").fill("青溪镇桃源村2组")
    clerk.locator("#others-0-name").fill("某建筑劳务有限公司")
    clerk.locator("#attachments").set_input_files(str(letter))
    _shot(clerk, shots, "01-register-phone")
    clerk.get_by_role("button", name="登记案件").click()

    # the slip with the case number and the query code, shown once
    number_cell = clerk.locator("dd.case-number")
    expect(number_cell).to_have_text(re.compile(r"^\d{4}-XF-\d{6}$"), timeout=WAIT)
    number = number_cell.inner_text().strip()
    expect(clerk.get_by_role("heading", level=1)).to_contain_text(f"案件 {number} 已登记")
    # 12 digits in groups of four, read over the phone and typed on a keypad
    assert re.fullmatch(r"\d{4}\s+\d{4}\s+\d{4}",
                        clerk.locator("code.query-code").inner_text().strip())
    assert clerk.locator(".qr svg").count() == 1
    _no_sideways_scroll(clerk)
    _shot(clerk, shots, "02-registered-query-code-phone")

    # the case page: the attachment is there; accept, assign, name the leader
    clerk.get_by_role("link", name="打开案卷").click()
    clerk.wait_for_url(f"**/cases/{number}", timeout=WAIT)
    expect(clerk.locator("#documents")).to_contain_text("来信.pdf")
    expect(clerk.locator("h1 .state")).to_have_text("已登记")
    _no_sideways_scroll(clerk)
    _act(clerk, "accept")
    _success(clerk, "已受理")
    expect(clerk.locator("h1 .state")).to_have_text("已受理")

    clerk.locator("#lead_id").select_option(label=AGENCY)
    clerk.locator("#letter").fill("请依法调查处理，并于期限内书面答复信访人。")
    clerk.locator('form[action$="/assign"] button[type=submit]').click()
    _success(clerk, f"已交办给 {AGENCY}")
    expect(clerk.locator("h1 .state")).to_have_text("已交办")
    expect(clerk.locator("#agencies")).to_contain_text(AGENCY)

    clerk.locator("#leader_id").select_option(label=LEADER)
    clerk.locator("#plan").fill("包案领导督促人社局限期解决。")
    clerk.locator('form[action$="/leader"] button[type=submit]').click()
    _success(clerk, f"已确定 {LEADER} 为包案领导")
    _no_sideways_scroll(clerk)
    clerk.locator("#agencies").scroll_into_view_if_needed()
    _shot(clerk, shots, "03-assigned-phone")

    # -- the agency officer starts the investigation ------------------------------------
    agency = desk()
    _log_in(agency, base, "agency", f"/cases/{number}")
    expect(agency.locator("h1")).to_contain_text(number)
    _act(agency, "start_investigation")
    _success(agency, "调查中")
    expect(agency.locator("h1 .state")).to_have_text("调查中")
    _shot(agency, shots, "04-agency-investigating")

    # -- the agency asks for an extension, the responsible leader approves it ----------
    agency.locator("#reason-request_extension").fill(EXTENSION)
    expect(agency.locator("#days-request_extension")).to_have_value("30")
    _act(agency, "request_extension")
    _success(agency, "申请延期")
    leader = desk()
    _log_in(leader, base, "leader", f"/cases/{number}")
    expect(leader.locator("#actions")).to_contain_text(EXTENSION)
    _act(leader, "extend")
    _success(leader, "批准延期")
    expect(leader.locator("#clocks")).to_contain_text("已延长 30 天")
    # once only: the button is gone, and the leader is told why
    expect(leader.locator('form[action$="/actions/extend"]')).to_have_count(0)
    expect(leader.locator("#actions .action-note")).to_be_visible()
    leader.locator("#clocks").scroll_into_view_if_needed()
    _shot(leader, shots, "05-leader-extended")

    # -- the agency officer replies in writing, the leader signs the reply off ----------
    agency.reload()
    agency.locator("#reason-submit_reply").fill(REPLY)
    _act(agency, "submit_reply")
    _success(agency, "答复待审签")
    leader.reload()
    expect(leader.locator("#actions")).to_contain_text(REPLY)
    _act(leader, "sign_off_reply")
    _success(leader, "已答复")
    agency.reload()
    expect(agency.locator("h1 .state")).to_have_text("已答复")

    # -- the timeline shows each step, who and why --------------------------------------
    timeline = agency.locator("#timeline")
    # past-tense titles (zh_CN from /tmp/zh-i11-export.json once the lead merges it)
    for step in ("案件已登记", "案件已受理", "案件已交办承办单位", "已开始调查核实",
                 "办理期限已延长", "已作出答复"):
        expect(timeline.locator("strong", has_text=step).first).to_be_visible()
    expect(timeline).to_contain_text(EXTENSION)
    expect(timeline).to_contain_text(REPLY)
    agency.locator("#timeline-section").scroll_into_view_if_needed()
    _shot(agency, shots, "06-agency-replied-timeline")

    # the clerk sees the same on the phone, without sideways scrolling
    clerk.reload()
    expect(clerk.locator("h1 .state")).to_have_text("已答复")
    expect(clerk.locator("#timeline")).to_contain_text(REPLY)
    _no_sideways_scroll(clerk)
    clerk.locator("#timeline-section").scroll_into_view_if_needed()
    _shot(clerk, shots, "07-timeline-phone")

    # -- the supervisor lists the overdue cases -----------------------------------------
    supervisor = desk()
    _log_in(supervisor, base, "supervisor", "/cases")
    expect(supervisor.get_by_role("heading", level=1)).to_have_text("案件")
    supervisor.get_by_text("更多筛选").click()
    supervisor.locator("#overdue").check()
    supervisor.wait_for_url("**overdue=1**", timeout=WAIT)
    # htmx swaps the list: wait until every row shown carries an overdue badge
    supervisor.wait_for_function(
        """() => {
            const rows = [...document.querySelectorAll('#results tbody tr')];
            return rows.length > 0 && rows.every(r => r.querySelector('.clock-overdue'));
        }""", timeout=WAIT)
    rows = supervisor.locator("#results tbody tr")
    assert rows.count() >= 1
    for i in range(rows.count()):
        expect(rows.nth(i).locator(".clock-overdue")).to_contain_text("超期")
    expect(supervisor.locator("#results")).not_to_contain_text(number)
    _shot(supervisor, shots, "08-supervisor-overdue")
