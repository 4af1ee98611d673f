"""Text messages through the outbox: sent by the worker to Alibaba Cloud's SendSms API
(here a local server that checks the request as the real API does: the parameters, the
HMAC-SHA1 signature over them, the template of the recipient's language), shown on the
outbox page when no provider is configured, failed at once on a refusal retrying cannot
cure, retried on a passing one."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from portal.extensions import db
from portal.notify import worker
from portal.notify.models import Channel, OutboxStatus
from portal.notify.operations import queue_sms
from portal.notify.sms import SmsConfigError, parse_sms_url
from tests.fixtures.core import free_port
from tests.fixtures.notify import configure, rows

KEY_ID, SECRET = "LTAI-test-id", "test secret/+="


def _expected_signature(query: dict[str, str]) -> str:
    """Alibaba Cloud's RPC signature (v1.0), written from its documentation, not from the
    portal's code."""
    def enc(v: str) -> str:
        return urllib.parse.quote(v, safe="~")

    canonical = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(query.items())
                         if k != "Signature")
    digest = hmac.new((SECRET + "&").encode(), ("GET&%2F&" + enc(canonical)).encode(),
                      hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class FakeAliyun(BaseHTTPRequestHandler):
    received: list[dict[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query,
                                            keep_blank_values=True))
        self.received.append(query)
        if query.get("Signature") != _expected_signature(query):
            code = "SignatureDoesNotMatch"
        elif query.get("PhoneNumbers") == "13000000000":
            code = "isv.MOBILE_NUMBER_ILLEGAL"
        elif query.get("PhoneNumbers") == "13000000001":
            code = "isp.SYSTEM_ERROR"
        else:
            code = "OK"
        body = json.dumps({"Code": code, "Message": code, "RequestId": "r1"}).encode()
        self.send_response(200 if code == "OK" else 400)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def aliyun() -> Iterator[str]:
    FakeAliyun.received = []
    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), FakeAliyun)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        sign = urllib.parse.quote("县信访局")
        yield (f"aliyun+http://{KEY_ID}:{urllib.parse.quote(SECRET, safe='')}@127.0.0.1:"
               f"{port}?sign={sign}&template_zh_CN=SMS_100&template_en=SMS_200")
    finally:
        server.shutdown()
        server.server_close()


def _queue(app: Any, to: str, locale: str = "zh_CN") -> None:
    with app.app_context():
        queue_sms(db.session, to=to, text="王秀英：请打开链接 …", locale=locale,
                  params={"name": "王秀英", "url": "https://portal.example/join/x"})
        db.session.commit()


def test_a_text_goes_to_the_provider_signed_with_the_recipients_template(outbox, aliyun):
    configure(outbox, sms_url=aliyun)
    _queue(outbox, "13912345678")
    _queue(outbox, "13912345679", locale="en")
    assert worker.drain_once(outbox) == 2
    assert [r.status for r in rows(outbox)] == [OutboxStatus.SENT, OutboxStatus.SENT]
    first, second = FakeAliyun.received
    assert first["Action"] == "SendSms" and first["SignName"] == "县信访局"
    assert first["PhoneNumbers"] == "13912345678" and first["TemplateCode"] == "SMS_100"
    assert json.loads(first["TemplateParam"])["name"] == "王秀英"
    assert second["TemplateCode"] == "SMS_200"  # the recipient reads English
    assert first["AccessKeyId"] == KEY_ID and first["SignatureNonce"] != \
        second["SignatureNonce"]


def test_a_refusal_that_retrying_cannot_cure_fails_at_once_another_is_retried(outbox,
                                                                              aliyun):
    configure(outbox, sms_url=aliyun)
    _queue(outbox, "13000000000")  # the provider says the number is not valid
    _queue(outbox, "13000000001")  # the provider is busy
    worker.drain_once(outbox)
    failed, waiting = rows(outbox)
    assert failed.status == OutboxStatus.FAILED and "MOBILE_NUMBER_ILLEGAL" in failed.last_error
    assert waiting.status == OutboxStatus.PENDING and waiting.attempts == 1


def test_without_a_provider_texts_wait_on_the_outbox_page(outbox):
    configure(outbox, sms_url="")
    _queue(outbox, "13912345678")
    worker.drain_once(outbox)
    (row,) = rows(outbox)
    assert row.channel == Channel.SMS and row.status == OutboxStatus.SHOWN


def test_a_wrong_provider_url_says_what_is_missing():
    for url, says in [("twilio://a:b@h?sign=s&template_zh_CN=t", "unknown provider"),
                      ("aliyun://h?sign=s&template_zh_CN=t", "access key"),
                      ("aliyun://a:b@h?template_zh_CN=t", "sign="),
                      ("aliyun://a:b@h?sign=s", "template_")]:
        with pytest.raises(SmsConfigError, match=says):
            parse_sms_url(url)
