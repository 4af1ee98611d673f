"""The chat's script (static/js/consultations/chat.js) in Chromium against a real server
(gunicorn): the person and the lawyer write to each other, see the delivery and read
marks, and a message written while offline goes out once when the connection is back.

The chat partial is rendered here (no page of this part shows it on its own) and served to
the browser at an address of the server under test, so its scripts and its socket are the
server's own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.consultations.test_chat_support import seed_served
from tests.fixtures.browser import CHROMIUM, MISSING_BROWSER

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=MISSING_BROWSER)]


def _page_html(app: Any, consultation_id: int, token: str | None, user_id: int | None,
               base: str) -> str:
    from flask import render_template_string
    from flask_login import login_user

    from consultations.models import Consultation
    from portal.auth.models import User
    from portal.extensions import db

    with app.test_request_context(base_url=base):
        if user_id is not None:
            login_user(db.session.get(User, user_id))
        consultation = db.session.get(Consultation, consultation_id)
        partial = render_template_string('{% include "consultations/_chat.html" %}',
                                         consultation=consultation, token=token)
        db.session.remove()
    return ("<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            "<link rel='stylesheet' href='/static/css/portal.css'></head>"
            f"<body><main>{partial}</main></body></html>")


def _open(context: Any, base: str, html: str) -> Any:
    page = context.new_page()
    page.said = []
    page.on("console", lambda message: page.said.append(message.text))
    page.on("pageerror", lambda error: page.said.append(str(error)))
    page.route(f"{base}/__chat", lambda route: route.fulfill(
        status=200, content_type="text/html; charset=utf-8", body=html))
    page.goto(f"{base}/__chat")
    return page


def _strings(page: Any) -> dict[str, str]:
    return page.evaluate(
        "JSON.parse(document.querySelector('[data-chat-strings]').textContent)")


def _bodies(page: Any) -> list[str]:
    return page.eval_on_selector_all("[data-chat-messages] li .body",
                                     "els => els.map(e => e.textContent)")


def _wait(page: Any, check: str, arg: Any = None) -> None:
    try:
        page.wait_for_function(check, arg=arg, timeout=15000)
    except Exception as error:  # say what the page showed and said
        status = page.text_content("[data-chat-status]")
        said = getattr(page, "said", [])
        raise AssertionError(f"{check!r} never held; status {status!r}; console {said}"
                             ) from error


@pytest.fixture()
def chat_browser(playwright_driver: Any) -> Any:
    """Chromium as the suite launches it, but letting a page the test serves itself (with
    no address of its own) open a WebSocket to the server on 127.0.0.1."""
    from tests.fixtures.browser import CHROMIUM_ARGS, watch_csp

    found = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=[
        *CHROMIUM_ARGS, "--disable-features=LocalNetworkAccessChecks"])
    yield watch_csp(found)
    found.close()


def test_person_and_lawyer_chat_in_the_browser(chat_browser, tmp_path):
    from tests.fixtures.video import login_cookie, served_nodes

    browser = chat_browser

    data = tmp_path
    url = f"sqlite:///{data / 'chat.db'}"
    seeded = seed_served(data, url)
    with served_nodes(data, url, names=("a",)) as bases:
        base = bases[0]
        app = seeded["app"]
        cid = seeded["consultation_id"]
        person_ctx = browser.new_context(viewport={"width": 360, "height": 740},
                                         locale="zh-CN")
        lawyer_ctx = browser.new_context(locale="zh-CN")
        cookie = login_cookie(base, "chatlawyer")
        lawyer_ctx.add_cookies([{"name": k, "value": v, "url": base} for k, v in
                                (part.split("=", 1) for part in cookie.split("; "))])
        person = _open(person_ctx, base, _page_html(app, cid, seeded["token"], None, base))
        lawyer = _open(lawyer_ctx, base, _page_html(app, cid, None, seeded["user_id"], base))
        t = _strings(person)
        # both joined: the status line says the lawyer is answering
        _wait(person, "s => document.querySelector('[data-chat-status]').textContent"
                      ".includes(s)", t["active"])
        _wait(lawyer, "s => document.querySelector('[data-chat-status]').textContent"
                      ".includes(s)", t["active_lawyer"])

        # the person writes; the counter counts characters
        person.fill("[data-chat-body]", "老板拖欠三个月工资")
        assert person.text_content("[data-chat-count]").startswith("9")
        person.click("[data-chat-form] button[type=submit]")
        _wait(lawyer, "() => document.querySelectorAll('[data-chat-messages] li').length === 1")
        assert _bodies(lawyer) == ["老板拖欠三个月工资"]
        # the lawyer's window is in view: the person's message shows read
        _wait(person, "s => [...document.querySelectorAll('li.mine .mark')]"
                      ".some(e => e.textContent === s)", t["read"])

        # the lawyer answers
        lawyer.fill("[data-chat-body]", "可以申请劳动仲裁。")
        lawyer.keyboard.press("Control+Enter")
        _wait(person, "() => document.querySelectorAll('[data-chat-messages] li').length === 2")
        assert _bodies(person) == ["老板拖欠三个月工资", "可以申请劳动仲裁。"]

        # the person goes offline: the lawyer's next message waits for them, and what the
        # person writes meanwhile goes out once they are back
        person_ctx.set_offline(True)
        _wait(person, "s => document.querySelector('[data-chat-status]').textContent"
                      ".includes(s)", t["reconnecting"])
        lawyer.fill("[data-chat-body]", "请准备劳动合同和工资条。")
        lawyer.click("[data-chat-form] button[type=submit]")
        person.fill("[data-chat-body]", "好的，谢谢")
        person.click("[data-chat-form] button[type=submit]")
        person_ctx.set_offline(False)
        _wait(person, "() => document.querySelectorAll('[data-chat-messages] li .body')"
                      ".length === 4")
        _wait(lawyer, "() => document.querySelectorAll('[data-chat-messages] li .body')"
                      ".length === 4")
        assert sorted(_bodies(person)) == sorted(_bodies(lawyer))
        assert _bodies(lawyer).count("好的，谢谢") == 1
        assert _bodies(person).count("请准备劳动合同和工资条。") == 1
        # a 360 px phone: nothing wider than the screen
        assert person.evaluate("document.documentElement.scrollWidth") <= 360
        person_ctx.close()
        lawyer_ctx.close()
