"""The petitioner's side in the browser, on a 360 px phone: the site root offers the
query page; a clerk issues a new query code for a replied demo case; the slip's QR link
(/query#code=...) opens the query page with the code filled in and the fragment gone from
the address bar; the page then shows the reply, the right to a review with its last day,
and the office to call. A code typed with spaces and dashes works the same."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

WAIT = 15_000  # ms: every wait is bounded
REPLY_TEXT = "经调查"  # how every written reply of the demo begins (portal/casefiles/demo.py)


def _no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"page is {width}px wide on a 360px screen"


def test_a_petitioner_checks_a_case_from_the_slip_s_qr_link(live_server: str, phone: Any,
                                                           browser: Any, shots: Path) -> None:
    from playwright.sync_api import expect

    base = live_server
    phone.set_default_timeout(WAIT)

    # -- the site root, without an account: the query page first, staff login aside ----
    phone.goto(base + "/")
    assert "/login" not in phone.url
    query_link = phone.locator('a[href="/query"]')
    expect(query_link).to_be_visible()
    expect(phone.locator('a[href="/login"]')).to_be_visible()
    _no_sideways_scroll(phone)
    phone.screenshot(path=str(shots / "petitioner-01-landing-phone.png"))

    # -- a clerk issues a new code for a replied case (the old one is shown only once) --
    desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    desk.set_default_timeout(WAIT)
    clerk = desk.new_page()
    clerk.goto(base + "/cases?status=replied")
    clerk.wait_for_url("**/login**")
    clerk.get_by_label("用户名").fill("clerk")
    clerk.get_by_label("密码").fill("demo")
    clerk.get_by_role("button", name="登录").click()
    clerk.wait_for_url(lambda url: "/login" not in url and "status=replied" in url)
    clerk.locator('#results tbody tr a[href^="/cases/"]').first.click()
    clerk.wait_for_url(re.compile(r"/cases/\d{4}-XF-\d{6}$"))
    clerk.once("dialog", lambda dialog: dialog.accept())
    clerk.locator('form[action$="/query-code"] button[type=submit]').click()
    slip = clerk.locator("code.query-code")
    expect(slip).to_have_text(re.compile(r"^\d{4}\s+\d{4}\s+\d{4}$"))
    digits = re.sub(r"\D", "", slip.inner_text())
    desk.close()

    # -- the QR link: the code is filled in, the fragment is dropped -------------------
    phone.goto(f"{base}/query#code={digits}")
    code_input = phone.locator("#code")
    expect(code_input).to_have_value(f"{digits[:4]} {digits[4:8]} {digits[8:]}")
    assert code_input.get_attribute("inputmode") == "numeric"
    phone.wait_for_function("() => location.hash === ''")
    _no_sideways_scroll(phone)
    phone.screenshot(path=str(shots / "petitioner-02-filled-from-qr-phone.png"))
    phone.locator('form[action="/query"] button[type=submit]').click()

    expect(phone.locator(".answer").first).to_contain_text(REPLY_TEXT)
    right = phone.locator(".right")
    expect(right).to_be_visible()
    expect(right).to_contain_text(re.compile(r"\d{4}-\d{2}-\d{2}"))
    expect(phone.locator("h2", has_text=re.compile("信访部门|petition office"))).to_be_visible()
    _no_sideways_scroll(phone)
    phone.screenshot(path=str(shots / "petitioner-03-answer-phone.png"), full_page=True)

    # -- the same code typed by hand, with dashes and spaces ---------------------------
    phone.goto(base + "/query")
    phone.locator("#code").fill(f"{digits[:4]}-{digits[4:8]} - {digits[8:]}")
    phone.locator('form[action="/query"] button[type=submit]').click()
    expect(phone.locator(".answer").first).to_contain_text(REPLY_TEXT)
