"""Text messages through a provider, as a channel of the outbox: the worker sends each
queued SMS once, with retries, like e-mail. One provider is built in: Alibaba Cloud's
Short Message Service (阿里云短信服务, the `SendSms` action of its RPC HTTP API, signature
version 1.0, HMAC-SHA1), configured by a URL:

    PORTAL_SMS_URL=aliyun://ACCESS_KEY_ID:ACCESS_KEY_SECRET@dysmsapi.aliyuncs.com
                   ?sign=县信访局&template_zh_CN=SMS_123&template_en=SMS_456

Mainland providers send only pre-approved templates, so a message is a template (one per
language: the recipient's) and its parameters; the outbox row also keeps the whole text
as it reads, for the outbox page. Without PORTAL_SMS_URL nothing is sent: messages are
shown at /dev/outbox, as e-mail is without SMTP. Another provider implements `Provider`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol


class SmsConfigError(ValueError):
    """PORTAL_SMS_URL cannot be used; the message says why."""


class SmsError(Exception):
    """The provider did not take the message; `permanent` when trying again cannot help
    (a number it refuses, a template it does not know)."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class OutgoingSms:
    to: str
    #: the recipient's language: which template is used
    locale: str
    params: dict[str, str]
    text: str


class Provider(Protocol):
    def send(self, sms: OutgoingSms) -> None: ...


#: Alibaba Cloud's error codes that another try will not cure
_PERMANENT = ("isv.MOBILE_NUMBER_ILLEGAL", "isv.SMS_TEMPLATE_ILLEGAL",
              "isv.SMS_SIGNATURE_ILLEGAL", "isv.TEMPLATE_MISSING_PARAMETERS",
              "isv.INVALID_PARAMETERS", "isv.PARAM_LENGTH_LIMIT", "isv.BLACK_KEY_CONTROL_LIMIT",
              "isv.MOBILE_COUNT_OVER_LIMIT", "isv.INVALID_JSON_PARAM")


def _percent(value: str) -> str:
    # the API's own encoding: RFC 3986, with ~ kept and space as %20
    return urllib.parse.quote(value, safe="~")


@dataclass(frozen=True)
class AliyunSms:
    access_key_id: str
    access_key_secret: str
    sign_name: str
    templates: dict[str, str]
    endpoint: str = "https://dysmsapi.aliyuncs.com/"
    timeout: float = 10.0

    def signed_query(self, params: dict[str, str]) -> str:
        """The query string with its Signature (StringToSign = GET&%2F&encoded query)."""
        canonical = "&".join(f"{_percent(k)}={_percent(v)}" for k, v in sorted(params.items()))
        to_sign = "GET&%2F&" + _percent(canonical)
        digest = hmac.new((self.access_key_secret + "&").encode(), to_sign.encode(),
                          hashlib.sha1).digest()
        return f"Signature={_percent(base64.b64encode(digest).decode())}&{canonical}"

    def send(self, sms: OutgoingSms) -> None:
        template = self.templates.get(sms.locale) or self.templates.get("zh_CN")
        if not template:
            raise SmsError(f"no SMS template for {sms.locale}", permanent=True)
        params = {
            "AccessKeyId": self.access_key_id, "Action": "SendSms", "Format": "JSON",
            "PhoneNumbers": sms.to, "SignName": self.sign_name,
            "SignatureMethod": "HMAC-SHA1", "SignatureNonce": secrets.token_hex(16),
            "SignatureVersion": "1.0", "TemplateCode": template,
            "TemplateParam": json.dumps(sms.params, ensure_ascii=False),
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25"}
        url = self.endpoint + "?" + self.signed_query(params)
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:
                answer = json.loads(response.read().decode() or "{}")
        except urllib.error.HTTPError as error:
            body = error.read().decode(errors="replace")
            answer = json.loads(body) if body.startswith("{") else {"Code": str(error.code)}
        except (OSError, ValueError) as error:
            raise SmsError(f"SMS provider unreachable: {error}") from error
        code = str(answer.get("Code", ""))
        if code != "OK":
            raise SmsError(f"SMS provider refused: {code} {answer.get('Message', '')}",
                           permanent=code in _PERMANENT)


def parse_sms_url(url: str) -> AliyunSms:
    """The provider of PORTAL_SMS_URL (aliyun://id:secret@host?sign=..&template_<locale>=..)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("aliyun", "aliyun+http"):
        raise SmsConfigError(f"PORTAL_SMS_URL: unknown provider {parts.scheme!r} (aliyun)")
    if not parts.username or not parts.password or not parts.hostname:
        raise SmsConfigError("PORTAL_SMS_URL needs the access key id, its secret and the host")
    query = dict(urllib.parse.parse_qsl(parts.query))
    sign = query.pop("sign", "")
    templates = {k.removeprefix("template_"): v for k, v in query.items()
                 if k.startswith("template_")}
    if not sign or not templates:
        raise SmsConfigError("PORTAL_SMS_URL needs sign=<signature name> and at least one "
                             "template_<locale>=<template code>")
    scheme = "http" if parts.scheme == "aliyun+http" else "https"
    port = f":{parts.port}" if parts.port else ""
    return AliyunSms(urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password),
                     sign, templates, endpoint=f"{scheme}://{parts.hostname}{port}/")
