"""A clerk logs in on a phone, switches the language and browses a registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def test_clerk_logs_in_switches_language_and_browses_registry(
        live_server: str, phone: Any, shots: Path) -> None:
    page = phone
    page.goto(live_server + "/people/")
    # deny by default: the registry sends an anonymous visitor to the login page, in Chinese
    assert "/login" in page.url
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    page.screenshot(path=str(shots / "01-login-zh.png"), full_page=True)

    page.get_by_label("用户名").fill("clerk")
    page.get_by_label("密码").fill("demo")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/people/")
    assert page.get_by_role("heading", level=1).inner_text().strip() == "人员名册"
    rows = page.locator("#results tbody tr")
    assert rows.count() > 10
    page.screenshot(path=str(shots / "02-registry-zh-360.png"), full_page=True)

    # nothing overflows the 360 px screen sideways
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"page is {width}px wide on a 360px screen"

    # filter to experts in one field with the keyboard-usable form
    page.get_by_label("类别").select_option("expert")
    page.wait_for_load_state("networkidle")
    page.locator("#results").get_by_text("专家").first.wait_for()
    experts_zh = page.locator("#results tbody tr").count()
    assert experts_zh > 0

    # switch to English: the same page, now in English
    page.get_by_role("link", name="English").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", level=1).inner_text().strip() == "People registries"
    page.screenshot(path=str(shots / "03-registry-en-360.png"), full_page=True)

    # search by a name shown in the list, opened record shows a masked phone
    first_name = page.locator("#results tbody tr td").first.inner_text().strip()
    page.get_by_label("Search").fill(first_name)
    page.get_by_label("Search").press("Enter")
    page.wait_for_load_state("networkidle")
    assert page.locator("#results tbody tr").count() >= 1
    page.locator("#results tbody tr a").first.click()
    page.wait_for_load_state("networkidle")
    assert first_name in page.content()
    assert "****" in page.content()
    page.screenshot(path=str(shots / "04-person-en-360.png"), full_page=True)
