"""TURN credentials (coturn use-auth-secret) and the ICE server list."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

import pytest
from aioice.stun import TransactionFailed
from aioice.turn import create_turn_endpoint

from tests.fixtures.video import run_isolated
from video import turn
from video.turn import TurnConfigError, check_deployment_only, credentials, ice_servers_for


@dataclass(frozen=True)
class FakeSettings:
    turn_secret: str = ""
    turn_urls: tuple[str, ...] = ()


def test_credentials_follow_coturn_rest_scheme() -> None:
    username, credential = credentials("s3cret", "seat-12", now=1_700_000_000)
    assert username == "1700003600:seat-12"  # expiry = now + 1 h
    expected = base64.b64encode(
        hmac.new(b"s3cret", username.encode(), hashlib.sha1).digest()).decode()
    assert credential == expected


def test_credentials_ttl_and_identity_without_colon() -> None:
    username, _ = credentials("k", "a:b", ttl_s=60, now=100)
    assert username == "160:a_b"
    with pytest.raises(TurnConfigError):
        credentials("", "seat-1")
    with pytest.raises(ValueError):
        credentials("k", "seat-1", ttl_s=0)


def test_no_urls_no_servers_never_a_default() -> None:
    assert ice_servers_for(FakeSettings(), "seat-1") == []
    assert ice_servers_for(FakeSettings(turn_secret="k"), "seat-1") == []


def test_turn_urls_get_short_lived_credentials() -> None:
    settings = FakeSettings("k", ("turn:turn.portal.example:3478?transport=udp",
                                  "turns:turn.portal.example:5349?transport=tcp",
                                  "stun:turn.portal.example:3478"))
    servers = ice_servers_for(settings, "seat-7", now=1000)
    assert servers[0] == {"urls": ["stun:turn.portal.example:3478"]}
    assert servers[1]["urls"] == ["turn:turn.portal.example:3478?transport=udp",
                                  "turns:turn.portal.example:5349?transport=tcp"]
    assert servers[1]["username"] == "4600:seat-7"
    assert servers[1]["credential"] == credentials("k", "seat-7", now=1000)[1]


def test_turn_urls_without_secret_are_left_out() -> None:
    settings = FakeSettings("", ("turn:10.0.0.5:3478", "stun:10.0.0.5:3478"))
    assert ice_servers_for(settings, "x") == [{"urls": ["stun:10.0.0.5:3478"]}]


@pytest.mark.parametrize("url", ["http://turn.example.org", "turn:", "turn:host:99999",
                                 "turn:host:3478?transport=sctp", "stun.public.example:3478"])
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(TurnConfigError):
        ice_servers_for(FakeSettings("k", (url,)), "x")


def test_a_host_outside_the_deployment_is_refused() -> None:
    configured = ("turn:turn.portal.example:3478",)
    check_deployment_only([{"urls": ["turn:turn.portal.example:3478?transport=tcp"]}],
                          configured)
    for foreign in ("stun:stun.public.example:3478", "turn:evil.example:3478"):
        with pytest.raises(TurnConfigError, match="not one of the deployment"):
            check_deployment_only([{"urls": [foreign]}], configured)
    with pytest.raises(TurnConfigError):
        check_deployment_only([{"urls": "stun:stun.public.example:3478"}], ())
    assert turn.parse_url("turn:[::1]:3478") == ("turn", "::1", 3478)


def _allocate(port: int, username: str, password: str) -> bool:
    async def attempt() -> bool:
        try:
            transport, _ = await asyncio.wait_for(
                create_turn_endpoint(asyncio.DatagramProtocol, ("127.0.0.1", port),
                                     username, password), timeout=10)
        except TransactionFailed:
            return False
        transport.close()
        return True

    return run_isolated(attempt())


@pytest.mark.media
def test_coturn_accepts_fresh_credentials_and_refuses_expired_ones(coturn) -> None:  # type: ignore[no-untyped-def]
    settings = FakeSettings(coturn.secret, (coturn.url,))
    server = ice_servers_for(settings, "seat-1")[0]
    assert _allocate(coturn.port, str(server["username"]), str(server["credential"]))
    expired = ice_servers_for(settings, "seat-1", now=time.time() - 2 * 3600)[0]
    assert not _allocate(coturn.port, str(expired["username"]), str(expired["credential"]))
    forged = credentials("wrong-secret", "seat-1")
    assert not _allocate(coturn.port, *forged)
