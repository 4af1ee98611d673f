"""Small things of the pages in Chromium: on registration the village list follows the
township (htmx swaps the options), a manager withdraws an agency's access to a file after
the browser asks to confirm (hx-confirm), and a plain form asks the same way through
data-confirm (static/js/portal.js)."""

from __future__ import annotations

import re
from typing import Any

WAIT = 15_000  # ms: every wait is bounded


def _log_in(page: Any, base: str, username: str, then: str) -> None:
    page.goto(base + then)
    page.wait_for_url("**/login**", timeout=WAIT)
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill("demo")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(lambda url: "/login" not in url and then.split("?")[0] in url,
                      timeout=WAIT)


def _village_labels(page: Any) -> list[str]:
    return [t.strip() for t in page.locator("#village_id option").all_inner_texts()
            if t.strip() != "—"]


def test_the_village_list_follows_the_township(live_server: str, phone: Any) -> None:
    from playwright.sync_api import expect

    page = phone
    page.set_default_timeout(WAIT)
    _log_in(page, live_server, "clerk", "/cases/new")
    everyone = _village_labels(page)
    assert any(v.startswith("青溪镇 / ") for v in everyone)
    assert any(v.startswith("东坡镇 / ") for v in everyone)

    page.locator("#township_id").select_option(label="东坡镇")
    expect(page.locator("#village_id option", has_text="青溪镇")).to_have_count(0)
    east = _village_labels(page)
    assert east and all(v.startswith("东坡镇 / ") for v in east)
    # a village chosen right after the township stays chosen (the list waits for its
    # options: it is disabled while they are on the way)
    page.locator("#township_id").select_option(label="青溪镇")
    page.locator("#village_id").select_option(label="青溪镇 / 桃源村")
    expect(page.locator("#village_id option", has_text="东坡镇")).to_have_count(0)
    assert page.locator("#village_id option:checked").inner_text().strip() == "青溪镇 / 桃源村"


def test_withdrawing_access_asks_first(live_server: str, phone: Any) -> None:
    from playwright.sync_api import expect

    page = phone
    page.set_default_timeout(WAIT)
    _log_in(page, live_server, "clerk", "/cases/?status=assigned")
    page.locator("table.cases tbody a").first.click()
    page.wait_for_url(re.compile(r"/cases/\d{4}-XF-\d{6}$"))
    buttons = page.locator('#sharing form[action$="/withdraw"] button')
    before = buttons.count()
    assert before >= 1, "an assigned demo case is shared with its agencies"
    names = page.locator("#sharing ul.grants li").all_inner_texts()

    asked: list[str] = []

    def dismiss(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    buttons.first.click()
    expect(buttons).to_have_count(before)  # dismissed: nothing changes
    assert asked and names[0].split(":")[0].split("：")[0].strip() in asked[0]

    page.once("dialog", lambda dialog: dialog.accept())
    buttons.first.click()
    expect(page.locator("#sharing ul.grants li")).to_have_count(before - 1)
    expect(page.locator("#sharing [role=status]")).to_be_visible()
    page.reload()
    expect(page.locator('#sharing form[action$="/withdraw"] button')).to_have_count(before - 1)


def test_a_plain_form_asks_first_through_the_portal_script(live_server: str,
                                                           phone: Any) -> None:
    """data-confirm (static/js/portal.js, no inline handler under the CSP): dismissed,
    nothing is sent; accepted, the form goes."""
    from playwright.sync_api import expect

    page = phone
    page.set_default_timeout(WAIT)
    _log_in(page, live_server, "clerk", "/people/")
    page.locator("table tbody a").first.click()
    page.wait_for_url(re.compile(r"/people/\d+$"))
    name = page.locator("h1").inner_text().strip()
    deactivate = page.locator('form[data-confirm] input[name=active][value="0"]')
    expect(deactivate).to_have_count(1)
    asked: list[str] = []

    def dismiss(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.locator("form[data-confirm] button").click()
    expect(page.locator("h1 .tag")).to_have_count(0)  # dismissed: still active
    assert asked and name in asked[0]

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("form[data-confirm] button").click()
    expect(page.locator("h1 .tag")).to_have_count(1)  # accepted: now inactive
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("form[data-confirm] button").click()  # and active again, as the demo was
    expect(page.locator("h1 .tag")).to_have_count(0)


def test_a_long_summary_shows_its_count_and_is_not_cut(live_server: str, phone: Any) -> None:
    """The browser cuts nothing: the counter under the field counts as the clerk types and
    turns red past the limit (the server then refuses the text with the count)."""
    from playwright.sync_api import expect

    _log_in(phone, live_server, "clerk", "/cases/new")
    phone.locator("#summary").fill("占" * 5003)
    assert len(phone.locator("#summary").input_value()) == 5003  # nothing cut
    counter = phone.locator("#summary-count")
    expect(counter).to_contain_text("5003")
    expect(counter).to_have_class(re.compile(r"\bover\b"))
