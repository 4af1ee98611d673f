"""PORTAL_SMTP_URL parsing and the MIME message the worker sends."""

from __future__ import annotations

import smtplib

import pytest

from portal.notify.smtp import (
    OutgoingMail,
    SmtpConfigError,
    SmtpTarget,
    build_message,
    is_permanent,
    parse_smtp_url,
)


@pytest.mark.parametrize(("url", "expected"), [
    ("smtp://mail.example.cn:2525", SmtpTarget("mail.example.cn", 2525, "plain")),
    ("smtp://relay.local", SmtpTarget("relay.local", 25, "plain")),
    ("smtp://u:p@mail.example.cn:587?starttls=1",
     SmtpTarget("mail.example.cn", 587, "starttls", "u", "p")),
    ("smtps://xfj%40example.cn:p%3Ass@smtp.example.cn",
     SmtpTarget("smtp.example.cn", 465, "ssl", "xfj@example.cn", "p:ss")),
    ("smtp://127.0.0.1:1025?starttls=0", SmtpTarget("127.0.0.1", 1025, "plain")),
])
def test_parse_smtp_url(url: str, expected: SmtpTarget) -> None:
    assert parse_smtp_url(url) == expected


@pytest.mark.parametrize("url", ["http://mail.example.cn", "smtp://", "smtp://host:notaport"])
def test_parse_smtp_url_rejects_nonsense(url: str) -> None:
    with pytest.raises(SmtpConfigError):
        parse_smtp_url(url)


def test_password_is_not_in_the_repr() -> None:
    assert "secret" not in repr(parse_smtp_url("smtps://user:secret@host"))


def test_message_headers_and_utf8_body() -> None:
    mail = OutgoingMail(message_id="<outbox-7@portal>", to="li@example.cn",
                        subject="调解协议已签署", body="李四：协议已签署。")
    msg = build_message(mail, "县信访局 <xfj@example.cn>")
    assert msg["Message-ID"] == "<outbox-7@portal>"
    assert msg["Subject"] == "调解协议已签署"
    assert msg["From"].addresses[0].addr_spec == "xfj@example.cn"
    assert msg.get_content_charset() == "utf-8"
    assert msg.get_content().strip() == "李四：协议已签署。"
    wire = msg.as_bytes()
    assert b"=?utf-8?" in wire.lower()  # the Chinese subject is encoded for the wire


def test_permanent_errors_are_5xx_about_the_message() -> None:
    assert is_permanent(smtplib.SMTPRecipientsRefused({"a@b": (550, b"no such user")}))
    assert not is_permanent(smtplib.SMTPRecipientsRefused({"a@b": (450, b"busy")}))
    assert is_permanent(smtplib.SMTPDataError(554, b"rejected"))
    assert not is_permanent(smtplib.SMTPDataError(451, b"later"))
    assert not is_permanent(smtplib.SMTPAuthenticationError(535, b"bad password"))
    assert not is_permanent(ConnectionRefusedError())
