"""Short-lived TURN credentials (coturn `use-auth-secret`) and the ICE server list.

coturn's REST-API scheme: the username is `"<expiry unix time>:<identity>"` and the
password is base64(HMAC-SHA1(static-auth-secret, username)); coturn recomputes the HMAC
and refuses the credential once the expiry has passed. Nothing is stored.

Only the deployment's own servers (PORTAL_TURN_URLS) are ever handed out: there is no
default list, so with nothing configured the list is empty, never a public STUN server
(a browser or aiortc given an empty list gathers host candidates only)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Iterable
from typing import Protocol

#: seconds a credential stays valid; a call longer than this keeps working (TURN
#: allocations are refreshed with the credential they were made with), a new
#: allocation after it needs fresh credentials (the client gets them on reconnect)
DEFAULT_TTL_S = 3600

# RFC 7064 / 7065: scheme ":" host [":" port] ["?transport=" udp|tcp]
_URL = re.compile(
    r"^(?P<scheme>stuns?|turns?):(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)"
    r"(?::(?P<port>\d{1,5}))?(?:\?transport=(?P<transport>udp|tcp))?$"
)


class TurnConfigError(ValueError):
    """A configured TURN/STUN URL is malformed or names a host outside the deployment."""


class _TurnSettings(Protocol):
    turn_secret: str
    turn_urls: tuple[str, ...]


def parse_url(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a `stun:`/`turn:` URL; TurnConfigError when malformed."""
    match = _URL.match(url.strip())
    if not match:
        raise TurnConfigError(
            f"{url!r} is not a TURN/STUN URL like turn:turn.example.org:3478?transport=udp")
    port = match["port"]
    if port is not None and not 0 < int(port) < 65536:
        raise TurnConfigError(f"{url!r}: port out of range")
    return match["scheme"], match["host"].strip("[]").lower(), int(port) if port else None


def deployment_hosts(urls: Iterable[str]) -> frozenset[str]:
    """The hosts the deployment's own URLs name (lower case, IPv6 without brackets)."""
    return frozenset(parse_url(url)[1] for url in urls)


def check_deployment_only(ice_servers: Iterable[dict[str, object]],
                          configured_urls: Iterable[str]) -> None:
    """Raise TurnConfigError if any URL of `ice_servers` names a host that is not one of
    the configured URLs' hosts. Called on every list the portal hands out."""
    allowed = deployment_hosts(configured_urls)
    for server in ice_servers:
        urls = server.get("urls", [])
        for url in [urls] if isinstance(urls, str) else list(urls):  # type: ignore[call-overload]
            host = parse_url(str(url))[1]
            if host not in allowed:
                raise TurnConfigError(
                    f"{url!r} names {host!r}, which is not one of the deployment's "
                    f"TURN/STUN hosts ({', '.join(sorted(allowed)) or 'none configured'})")


def credentials(secret: str, identity: str, *, ttl_s: int = DEFAULT_TTL_S,
                now: float | None = None) -> tuple[str, str]:
    """(username, credential) for coturn `use-auth-secret`, valid for `ttl_s` seconds."""
    if not secret:
        raise TurnConfigError("no TURN secret configured")
    if ttl_s <= 0:
        raise ValueError("ttl_s must be positive")
    expiry = int(now if now is not None else time.time()) + ttl_s
    # coturn splits the username at the first ':'; keep the identity free of it
    safe_identity = identity.replace(":", "_") or "anonymous"
    username = f"{expiry}:{safe_identity}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


def ice_servers_for(settings: _TurnSettings, identity: str, now: float | None = None,
                    *, ttl_s: int = DEFAULT_TTL_S) -> list[dict[str, object]]:
    """RTCIceServer dicts (browser and aiortc shape) for `identity`: the configured STUN
    URLs as they are, the configured TURN URLs with short-lived credentials when a secret
    is set (without a secret TURN URLs are left out: coturn would refuse them). [] when
    nothing is configured. Malformed URLs raise TurnConfigError."""
    urls = [u.strip() for u in settings.turn_urls if u.strip()]
    if not urls:
        return []
    stun = [u for u in urls if parse_url(u)[0] in ("stun", "stuns")]
    turn = [u for u in urls if parse_url(u)[0] in ("turn", "turns")]
    servers: list[dict[str, object]] = []
    if stun:
        servers.append({"urls": stun})
    if turn and settings.turn_secret:
        username, credential = credentials(settings.turn_secret, identity, ttl_s=ttl_s,
                                           now=now)
        servers.append({"urls": turn, "username": username, "credential": credential})
    check_deployment_only(servers, urls)
    return servers


__all__ = ["DEFAULT_TTL_S", "TurnConfigError", "check_deployment_only", "credentials",
           "deployment_hosts", "ice_servers_for", "parse_url"]
