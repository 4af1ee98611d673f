"""Sending one e-mail over SMTP, configured by PORTAL_SMTP_URL.

Accepted forms of the URL:

- ``smtp://host:port`` — plain SMTP (port 25 when not given), e.g. a local relay;
- ``smtp://user:pass@host:587?starttls=1`` — upgrade to TLS with STARTTLS before logging in;
- ``smtps://user:pass@host:465`` — TLS from the first byte (port 465 when not given).

User name and password are URL-decoded (write ``%40`` for ``@``). Nothing here touches the
database: the worker hands over an :class:`OutgoingMail` and records the outcome.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import parse_qs, unquote, urlsplit

#: seconds each blocking SMTP operation (connect, each command, the data) may take
DEFAULT_TIMEOUT = 30.0

_TRUE = {"1", "true", "yes", "on"}


class SmtpConfigError(ValueError):
    """PORTAL_SMTP_URL cannot be understood; the message says why."""


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    #: "plain", "starttls" or "ssl"
    security: str = "plain"
    username: str | None = None
    password: str | None = None

    def __repr__(self) -> str:  # never print the password into a log
        user = f"{self.username}@" if self.username else ""
        return f"SmtpTarget({self.security}://{user}{self.host}:{self.port})"


def parse_smtp_url(url: str) -> SmtpTarget:
    """Read PORTAL_SMTP_URL into an SmtpTarget; SmtpConfigError when it is malformed."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("smtp", "smtps"):
        raise SmtpConfigError(
            f"PORTAL_SMTP_URL must start with smtp:// or smtps://, not {parts.scheme or url!r}")
    if not parts.hostname:
        raise SmtpConfigError("PORTAL_SMTP_URL has no host name.")
    try:
        port = parts.port
    except ValueError as exc:
        raise SmtpConfigError(f"PORTAL_SMTP_URL has a bad port: {exc}") from None
    query = {k.lower(): v[-1] for k, v in parse_qs(parts.query).items()}
    if scheme == "smtps":
        security = "ssl"
    elif query.get("starttls", "").strip().lower() in _TRUE:
        security = "starttls"
    else:
        security = "plain"
    return SmtpTarget(
        host=parts.hostname,
        port=port or (465 if security == "ssl" else 25),
        security=security,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


@dataclass(frozen=True)
class OutgoingMail:
    """What the worker sends: a snapshot of an outbox row, free of the database session."""

    message_id: str
    to: str
    subject: str
    body: str
    attachment_name: str | None = None
    #: a text media type with optional parameters, e.g. "text/calendar; method=REQUEST"
    attachment_type: str | None = None
    attachment_text: str | None = None
    #: "sms": a text message (notify.sms), whose template and language are in `payload`
    channel: str = "email"
    payload: str | None = None


def build_message(mail: OutgoingMail, mail_from: str) -> EmailMessage:
    """The MIME message: UTF-8 text, a stable Message-ID, and the text attachment if any."""
    msg = EmailMessage()
    msg["From"] = mail_from
    msg["To"] = mail.to
    msg["Subject"] = mail.subject
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = mail.message_id
    msg.set_content(mail.body, charset="utf-8")
    if mail.attachment_text is not None:
        subtype, params = _text_type(mail.attachment_type or "text/plain")
        msg.add_attachment(mail.attachment_text, subtype=subtype, charset="utf-8",
                           filename=mail.attachment_name or "attachment.txt", params=params)
    return msg


def _text_type(content_type: str) -> tuple[str, dict[str, str]]:
    main, *rest = [p.strip() for p in content_type.split(";")]
    maintype, _, subtype = main.partition("/")
    if maintype.lower() != "text" or not subtype:
        subtype = "plain"
    params: dict[str, str] = {}
    for item in rest:
        key, sep, value = item.partition("=")
        if sep and key.strip().lower() != "charset":
            params[key.strip()] = value.strip().strip('"')
    return subtype.lower(), params


def send(target: SmtpTarget, mail: OutgoingMail, mail_from: str,
         timeout: float = DEFAULT_TIMEOUT) -> None:
    """Hand one message to the SMTP server. Returns when the server has accepted it;
    raises smtplib.SMTPException or OSError otherwise (the caller decides on a retry)."""
    msg = build_message(mail, mail_from)
    context = ssl.create_default_context()
    client: smtplib.SMTP
    if target.security == "ssl":
        client = smtplib.SMTP_SSL(target.host, target.port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(target.host, target.port, timeout=timeout)
    with client:
        client.ehlo()
        if target.security == "starttls":
            client.starttls(context=context)
            client.ehlo()
        if target.username:
            client.login(target.username, target.password or "")
        client.send_message(msg, from_addr=mail_from, to_addrs=[mail.to])


def is_permanent(error: BaseException) -> bool:
    """A 5xx answer about this message (bad recipient, rejected content): retrying the same
    message will not help. Authentication failures are left to retry: they are fixed by the
    operator, not by the message."""
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return False
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in error.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    if isinstance(error, smtplib.SMTPResponseException):
        return 500 <= error.smtp_code < 600
    return False
