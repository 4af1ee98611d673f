"""What the access log keeps of a URL: secrets masked, the rest readable."""

from __future__ import annotations

import pytest

from portal.access_log import redact_url

TOKEN = "AbCdEfGhIjKlMnOpQrStUvWxYz0"


@pytest.mark.parametrize(("raw", "kept"), [
    (f"GET /join/{TOKEN} HTTP/1.1", "GET /join/[redacted] HTTP/1.1"),
    (f"/join/{TOKEN}/check", "/join/[redacted]/check"),
    (f"http://portal.example/join/{TOKEN}", "http://portal.example/join/[redacted]"),
    ("/query?code=123456789012&page=2", "/query?code=[redacted]&page=2"),
    ("/hearings/rsvp?token=abc&x=1", "/hearings/rsvp?token=[redacted]&x=1"),
    ("/cases/2026-XF-000043", "/cases/2026-XF-000043"),  # a case number is no secret
    ("/people/?page=3&q=王", "/people/?page=3&q=王"),
    ("/video/rooms/12/host", "/video/rooms/12/host"),
])
def test_secrets_are_masked_and_the_rest_kept(raw, kept):
    assert redact_url(raw) == kept


def test_empty_values_pass():
    assert redact_url("") == "" and redact_url(None) is None
