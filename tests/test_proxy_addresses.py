"""Rate limits count per client, behind a proxy too: X-Forwarded-For is believed only when
PORTAL_TRUSTED_PROXIES says how many proxies the portal runs behind (0 by default)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask_migrate import upgrade

from portal.config import ConfigError, Settings
from portal.extensions import db, limiter
from tests.fixtures.core import build_app

WRONG = {"code": "000000000000"}


@pytest.fixture(params=[0, 1], ids=["no-proxy", "one-proxy"])
def proxied(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, int]]:
    app = build_app(tmp_path, f"sqlite:///{tmp_path / 'p.db'}", WTF_CSRF_ENABLED=False,
                    trusted_proxies=request.param)
    with app.app_context():
        upgrade()
    limiter.reset()
    yield app, request.param
    with app.app_context():
        db.engine.dispose()
    limiter.reset()


def _guess(client: Any, forwarded_for: str) -> int:
    response = client.post("/query", data=WRONG,
                           headers={"X-Forwarded-For": forwarded_for},
                           environ_base={"REMOTE_ADDR": "10.9.9.9"})  # the proxy
    return int(response.status_code)


def test_one_persons_wrong_codes_lock_out_only_that_person(proxied):
    app, proxies = proxied
    client = app.test_client()
    codes = [_guess(client, "203.0.113.7") for _ in range(11)]
    assert codes[:10] == [200] * 10 and codes[10] == 429  # the limit: 10 a minute
    other = _guess(client, "198.51.100.20")
    if proxies:
        assert other == 200  # another person behind the same proxy is not locked out
    else:
        assert other == 429  # the header is not believed: the proxy's address counts


def test_the_header_is_believed_only_behind_a_proxy(proxied):
    app, proxies = proxied
    client = app.test_client()
    codes = [_guess(client, f"192.0.2.{i}") for i in range(11)]  # a new address each time
    # without a proxy a forged header does not escape the limit; behind one, the
    # proxy's header is the client's address
    assert codes[10] == (200 if proxies else 429)


@pytest.mark.parametrize("raw", ["-1", "two", "11"])
def test_a_wrong_setting_stops_the_start(raw):
    with pytest.raises(ConfigError, match="PORTAL_TRUSTED_PROXIES"):
        Settings.from_env({"PORTAL_ENV": "test", "PORTAL_TRUSTED_PROXIES": raw})
