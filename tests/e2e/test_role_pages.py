"""Each role's home page and the petitioner's query page, on a 360 px phone and a desk
screen: screenshots saved, no sideways scroll on the phone, and axe-core (from npm,
node_modules/axe-core) finds no serious or critical accessibility violation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.core import ROOT

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
#: the demo accounts (README), all with the password "demo"
ROLES = ["clerk", "leader", "agency", "supervisor", "mediator", "lawyer", "deputy", "expert",
         "admin"]

AXE_RUN = """async () => {
    const result = await axe.run(document, {resultTypes: ['violations']});
    return result.violations
        .filter(v => v.impact === 'serious' || v.impact === 'critical')
        .map(v => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map(n => n.target.join(' '))
                                                         .join(' | ')}`);
}"""


def serious_violations(page: Any) -> list[str]:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `make install` (npm ci)")
    # evaluated through the DevTools protocol, so the page's CSP does not apply to it
    page.evaluate(AXE.read_text() + "\n;0")
    found: list[str] = page.evaluate(AXE_RUN)
    return found


def _log_in(page: Any, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill("demo")
    page.locator("form button[type=submit]").first.click()
    page.wait_for_load_state("networkidle")
    assert "/login" not in page.url, f"{username} could not log in: {page.url}"


@pytest.mark.parametrize("role", ROLES)
def test_each_roles_home_on_a_phone_and_a_desk(live_server: str, browser: Any, shots: Path,
                                               role: str) -> None:
    for name, size in [("phone", {"width": 360, "height": 740}),
                       ("desk", {"width": 1366, "height": 900})]:
        context = browser.new_context(viewport=size, locale="zh-CN",
                                      is_mobile=name == "phone")
        page = context.new_page()
        _log_in(page, live_server, role)
        page.goto(live_server + "/")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(shots / f"home-{role}-{name}.png"), full_page=True)
        if name == "phone":
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 360, f"{role}'s home is {width}px wide on a 360px phone"
        assert serious_violations(page) == [], f"{role}'s home on a {name}"
        context.close()


def test_the_query_page_on_a_phone(live_server: str, phone: Any, shots: Path) -> None:
    phone.goto(live_server + "/query")
    phone.wait_for_load_state("networkidle")
    phone.screenshot(path=str(shots / "query-phone.png"), full_page=True)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    assert serious_violations(phone) == []
