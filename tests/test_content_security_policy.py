"""Every page carries the Content-Security-Policy and holds nothing it would block: no
inline script (JSON data blocks aside), no inline event handler, no inline style. What the
inline handlers did (ask before a form is sent, print) static/js/portal.js does from data-
attributes, whose texts are escaped exactly once."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest
from flask import url_for

from portal.auth.roles import Role
from portal.people.models import Person
from portal.web import CONTENT_SECURITY_POLICY
from tests.fixtures.casefiles import new_case
from tests.fixtures.core import login
from tests.test_authorization_matrix import (
    EXPECTED,
    _log_in,
    _routes,
    objects,  # noqa: F401  (the fixture)
)


class _Inline(HTMLParser):
    """What a page holds that the policy would refuse, and its data-confirm texts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.confirms: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        for name, _value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…>")
            if name == "style":
                self.problems.append(f"<{tag} style=…>")
            if name.startswith("hx-on"):
                self.problems.append(f"<{tag} {name}=…> (evaluated code)")
        if tag == "script" and not named.get("src") and named.get("type") != "application/json":
            self.problems.append("<script> without src")
        if tag == "style":
            self.problems.append("<style> element")
        if "data-confirm" in named:
            self.confirms.append(named["data-confirm"] or "")


def _inline(html: str) -> _Inline:
    parser = _Inline()
    parser.feed(html)
    return parser


def _crawl(app: Any, client: Any, named: dict[str, Any]) -> tuple[int, list[str]]:
    pages, failures = 0, []
    for endpoint, method, _rule in _routes(app):
        spec = EXPECTED.get((endpoint, method))
        if method != "GET" or spec is None:
            continue
        with app.test_request_context():
            url = url_for(endpoint, **spec.args(named))
        response = client.get(url)
        csp = response.headers.get("Content-Security-Policy")
        if response.mimetype == "application/pdf":
            continue  # the browser's PDF viewer needs its own scripts
        if not csp:
            failures.append(f"{url}: no Content-Security-Policy")
        if response.mimetype != "text/html":
            continue
        pages += 1
        if csp != CONTENT_SECURITY_POLICY:
            failures.append(f"{url}: {csp}")
        failures += [f"{url}: {p}" for p in _inline(response.get_data(as_text=True)).problems]
    return pages, failures


@pytest.mark.parametrize("actor", [None, Role.ADMIN, Role.CLERK],
                         ids=lambda r: str(r) if r else "anonymous")
def test_every_page_carries_the_policy_and_no_inline_code(app, client, session, make_user,
                                                           objects, actor):  # noqa: F811
    objects = _log_in(client, session, make_user, objects, actor)
    pages, failures = _crawl(app, client, objects)
    assert pages > 10
    assert not failures, "\n".join(failures)


def test_the_policy_forbids_inline_code_and_framing(client):
    policy = client.get("/login").headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy


def test_error_pages_carry_the_policy_too(client, login_as):
    login_as(Role.CLERK)
    response = client.get("/cases/NO-SUCH-CASE")
    assert response.status_code == 404
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def test_the_portal_script_is_loaded_on_every_page(client):
    html = client.get("/login").get_data(as_text=True)
    assert 'src="/static/js/portal.js"' in html
    assert '"includeIndicatorStyles":false' in html
    assert client.get("/static/js/portal.js").status_code == 200


def test_a_name_with_quotes_shows_as_typed_in_the_confirmation(client, session, login_as):
    name = 'O\'Brien "老王" <&>'
    person = Person(kind="expert", name=name, expert_field="land", phone="13800001111")
    session.add(person)
    session.commit()
    login_as(Role.CLERK)
    html = client.get(f"/people/{person.id}").get_data(as_text=True)
    confirms = _inline(html).confirms
    assert any(name in text for text in confirms), confirms  # decoded once: as typed
    assert not any("&#34;" in t or "&amp;" in t or "&#39;" in t for t in confirms)
    assert "<&>" not in html.replace("&lt;&amp;&gt;", "")  # still escaped in the markup


def test_the_case_page_asks_through_data_confirm(client, session, world):
    case, _code = new_case(session, world)
    login(client, world.clerk)
    html = client.get(f"/cases/{case.number}").get_data(as_text=True)
    assert "data-confirm=" in html and "onsubmit" not in html
    assert not _inline(html).problems
