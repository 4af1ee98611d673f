"""A clerk logs in on a phone, switches the language and browses a registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"page is {width}px wide on a 360px screen"


UNLABELLED_FIELDS = """() => [...document.querySelectorAll('input, select, textarea')]
    .filter(el => el.type !== 'hidden' && el.offsetParent !== null)
    .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
    .map(el => el.name || el.id)"""


def _every_field_labelled(page: Any) -> None:
    missing = page.evaluate(UNLABELLED_FIELDS)
    assert not missing, f"fields without a label: {missing}"


def test_clerk_logs_in_switches_language_and_browses_registry(
        live_server: str, phone: Any, shots: Path) -> None:
    page = phone
    page.goto(live_server + "/people/")
    # deny by default: the registry sends an anonymous visitor to the login page, in Chinese
    assert "/login" in page.url
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    _every_field_labelled(page)
    page.screenshot(path=str(shots / "01-login-zh.png"))

    page.get_by_label("用户名").fill("clerk")
    page.get_by_label("密码").fill("demo")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/people/")
    assert page.get_by_role("heading", level=1).inner_text().strip() == "人员名册"
    rows = page.locator("#results tbody tr")
    assert rows.count() >= 20
    _no_sideways_scroll(page)
    _every_field_labelled(page)
    page.screenshot(path=str(shots / "02-registry-zh-360.png"))

    # filter by kind: htmx swaps the list and the address keeps the filter
    page.locator("#kind").select_option("expert")
    page.wait_for_function(
        """() => {
            const cells = [...document.querySelectorAll('#results tbody tr td:nth-child(2)')];
            return cells.length > 0 && cells.every(c => c.textContent.trim().startsWith('专家'));
        }""", timeout=10_000)
    page.wait_for_url("**kind=expert**")

    # switch to English: the same page and filter, now in English
    page.get_by_role("button", name="English").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", level=1).inner_text().strip() == "People registries"
    assert "kind=expert" in page.url
    _no_sideways_scroll(page)
    page.screenshot(path=str(shots / "03-registry-en-360.png"))

    # search for a name from the list, open the record: the phone is masked
    first_name = page.locator("#results tbody tr td a").first.inner_text().strip()
    page.locator("#q").fill(first_name)
    page.locator("#q").press("Enter")
    # htmx swaps the results in place: wait until every row shown matches the search
    page.wait_for_function(
        """name => {
            const links = [...document.querySelectorAll('#results tbody tr td a')];
            return links.length > 0 && links.every(a => a.textContent.includes(name));
        }""", arg=first_name, timeout=10_000)
    assert "q=" in page.url
    page.locator("#results tbody tr td a").first.click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_role("heading", level=1).inner_text().strip().startswith(first_name)
    assert "****" in page.locator("main").inner_text()
    _no_sideways_scroll(page)
    page.screenshot(path=str(shots / "04-person-en-360.png"))

    # keyboard: the skip link is the first thing Tab reaches
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
