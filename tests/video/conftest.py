"""What applies to every test in tests/video (the fixtures themselves are in
tests/fixtures/video.py, a plugin named in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def positions_at_once(request: pytest.FixtureRequest) -> Iterator[None]:
    """Lobby positions go out at once in tests (the server batches them, once a second),
    so a test reads them right after the admission; `test_rooms` checks the batching."""
    if "app" not in request.fixturenames:
        yield
        return
    app = request.getfixturevalue("app")
    before = app.config.get("VIDEO_POSITION_DELAY_S")
    app.config["VIDEO_POSITION_DELAY_S"] = 0
    yield
    app.config["VIDEO_POSITION_DELAY_S"] = before if before is not None else 1.0
