"""The deliberation room in Chromium on a 360 px phone, against the real server (gunicorn):
each member on their own device, the count of votes kept current live, nobody's vote
shown to another until all are in, then every vote on the page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.browser import MISSING_BROWSER, have_chromium, serve_demo
from tests.hearings.test_deliberation_concurrency import _seed

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not have_chromium(), reason=MISSING_BROWSER)]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    """The demo served by gunicorn, with a hearing in deliberation (a panel of five)
    written into its database: (base URL, the members' personal tokens)."""
    import wsgi
    from portal.app import create_app

    data = tmp_path_factory.mktemp("deliberation")
    with serve_demo(data) as base, pytest.MonkeyPatch.context() as env:
        env.setenv("PORTAL_ENV", "dev")
        env.setenv("PORTAL_DATA_DIR", str(data))
        _hearing_id, _leader_id, tokens = _seed(create_app(wsgi.DOMAINS))
        yield base, tokens


def _open(browser: Any, url: str) -> Any:
    context = browser.new_context(viewport={"width": 360, "height": 740},
                                  device_scale_factor=2, is_mobile=True, has_touch=True,
                                  locale="zh-CN")
    page = context.new_page()
    page.goto(url)
    return page


def _vote(page: Any, vote: str, opinion: str) -> None:
    page.check(f"input[value={vote}]")
    page.fill("textarea[name=opinion]", opinion)
    page.click("#my-vote button[type=submit]")
    page.wait_for_load_state()


def test_members_vote_on_their_phones_and_see_each_other_only_when_all_are_in(
        browser: Any, served: tuple[str, list[str]], tmp_path: Path) -> None:
    base, tokens = served
    pages = [_open(browser, f"{base}/hearings/deliberate/{t}") for t in tokens]
    for page in pages:
        page.wait_for_function("document.getElementById('live-state').hidden")
    _vote(pages[0], "uphold", "第1位的意见")
    # the second member's page counts it without a reload, and shows nothing of it
    pages[1].wait_for_function(
        "document.querySelector('#progress-members li').dataset.voted === 'true'")
    counted = pages[1].inner_text("#progress-count")  # "1 of 5 ..." / "5 名听证员中已有 1 名..."
    assert re.search(r"(^1 of 5)|(已有 1 名)", counted), counted
    assert "第1位的意见" not in pages[1].content()
    for i, page in enumerate(pages[1:], start=1):
        _vote(page, "reject" if i % 2 else "uphold", f"第{i + 1}位的意见")
    # the first page, drawn before the last vote, learns that all are in
    notice = pages[0].locator("#progress-complete")
    notice.wait_for(state="visible")
    notice.get_by_role("link").click()
    pages[0].wait_for_load_state()
    body = pages[0].inner_text("#results")
    assert all(f"第{i}位的意见" in body for i in range(1, 6))
    assert pages[0].evaluate("document.documentElement.scrollWidth") <= 360
    pages[0].screenshot(path=str(tmp_path / "deliberation-results.png"), full_page=True)
    for page in pages:
        page.context.close()
