"""The access log without secrets: join links, invitation and RSVP links, query codes and
page tokens travel in URLs (and in the Referer of every request a page makes), and none of
them may reach a log. gunicorn uses `RedactingLogger` (gunicorn.conf.py)."""

from __future__ import annotations

import re
from typing import Any

from gunicorn.glogging import Logger

MASK = "[redacted]"
#: a path segment that can be a secret: 20+ URL-safe characters (a join token is 27, an
#: RSVP token longer); case numbers (2026-XF-000043) and ids are shorter
_SECRET_SEGMENT = re.compile(r"(?<=/)[A-Za-z0-9_\-.~%]{20,}(?=/|$|\?|#| )")
#: a consultation's personal link (/consultations/c/<token>), whatever its length
_CONSULTATION_TOKEN = re.compile(r"(?<=/consultations/c/)[^/?# ]+")
#: query parameters that carry a secret
_SECRET_PARAM = re.compile(r"(?i)(?<=[?&])((?:token|code|key|t|secret|password)=)[^&# ]*")


def redact_url(text: str | None) -> str | None:
    """The URL (or request line) with secret-looking path segments and parameters masked."""
    if not text:
        return text
    text = _CONSULTATION_TOKEN.sub(MASK, text)
    text = _SECRET_SEGMENT.sub(MASK, text)
    return _SECRET_PARAM.sub(lambda m: m.group(1) + MASK, text)


def _redact_query(query: str | None) -> str | None:
    return redact_url("?" + query)[1:] if query else query  # type: ignore[index]


#: atoms of gunicorn's access log that can hold a URL
_URL_ATOMS = ("r", "U", "f", "{referer}i", "{raw_uri}e", "{path_info}e", "{request_uri}e")


class RedactingLogger(Logger):
    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        for key in _URL_ATOMS:
            if key in atoms:
                atoms[key] = redact_url(atoms[key])
        for key in ("q", "{query_string}e"):
            if key in atoms:
                atoms[key] = _redact_query(atoms[key])
        return atoms
