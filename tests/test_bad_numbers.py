"""No input answers 500: ids beyond 64 bits, negative or not numbers in any route, and
huge numbers in query strings and form fields, as an admin and as an anonymous visitor.
(An id beyond BIGINT used to reach the database driver and raise OverflowError.)"""

from __future__ import annotations

import re
from typing import Any

import pytest

from portal.auth.roles import Role

HUGE = "99999999999999999999999"
BAD_IDS = [HUGE, str(2**63), "-1", "abc", "1e9", "０１"]
#: query-string and form fields that name a number somewhere in the portal
NUMBER_FIELDS = ["page", "per_page", "township_id", "village_id", "organisation_id",
                 "lead_id", "co_ids", "leader_id", "document_id", "version", "days",
                 "slot_minutes", "room", "seat_id", "party_id", "person_id", "office_id",
                 "host_id", "parent_id", "year", "id"]
#: routes that end the test's login or would wait for a live connection
SKIP = {"auth.logout"}
_ARG = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def _rules(app: Any) -> list[Any]:
    return sorted((r for r in app.url_map.iter_rules()
                   if r.endpoint != "static" and r.endpoint not in SKIP),
                  key=lambda r: r.rule)


def _path(rule: Any, int_value: str) -> str:
    def fill(match: re.Match[str]) -> str:
        converter = match.group(1) or "default"
        return int_value if converter == "int" else "X"

    return _ARG.sub(fill, rule.rule)


def _method(rule: Any) -> str:
    return "GET" if "GET" in rule.methods else "POST"


def _walk(client: Any, app: Any, logged_in: bool) -> list[str]:
    failures = []
    numbers = {name: HUGE for name in NUMBER_FIELDS}
    for rule in _rules(app):
        method = _method(rule)
        has_int = any(c == "int" for c, _ in _ARG.findall(rule.rule))
        for value in BAD_IDS if has_int else ["1"]:
            path = _path(rule, value)
            response = client.open(path, method=method, data=numbers if method == "POST"
                                   else None, query_string=numbers if method == "GET"
                                   else None)
            if response.status_code >= 500:
                failures.append(f"{method} {path} → {response.status_code}")
            elif (logged_in and has_int and value != "1"
                  and response.status_code not in (400, 404, 405)):
                failures.append(f"{method} {path} → {response.status_code} (expected 404)")
    return failures


def test_no_route_answers_500_to_bad_numbers_anonymous(app, client):
    assert _walk(client, app, logged_in=False) == []


def test_no_route_answers_500_to_bad_numbers_as_admin(app, client, login_as):
    login_as(Role.ADMIN)
    assert _walk(client, app, logged_in=True) == []
    assert client.get("/").status_code == 200  # still logged in: nothing above broke it


@pytest.mark.parametrize("path", [
    f"/cases/?page={HUGE}", f"/cases/?page={HUGE}&per_page={HUGE}", f"/people/{HUGE}",
    f"/people/?page={HUGE}", f"/people/{2**63}/edit"])
def test_named_probes_answer_4xx(client, login_as, path):
    login_as(Role.ADMIN)
    assert client.get(path).status_code in (200, 400, 404)


def test_query_document_with_huge_id_without_an_account(client):
    # without a page token: the "page expired" answer (with one: test_query_page.py)
    response = client.post("/query/document", data={"document_id": HUGE, "token": "x"})
    assert response.status_code < 500 and b"expired" in response.data
