"""Every test in tests/e2e drives Chromium: marked `browser`, and skipped with the reason
when Debian's Chromium is not installed. The fixtures are in tests/fixtures/browser.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.browser import CHROMIUM, MISSING_BROWSER


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)
            if not Path(CHROMIUM).exists():
                item.add_marker(pytest.mark.skip(reason=MISSING_BROWSER))
