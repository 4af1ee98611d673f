"""The slip printed at registration (or at a new code): the query code in groups of
four digits, and a QR code that opens the query page with the code filled in."""

from __future__ import annotations

import re
from typing import Any

import segno

from portal.casefiles import manage_blueprint
from tests.fixtures.casefiles import new_case
from tests.fixtures.core import login


def test_the_slip_s_qr_code_opens_the_query_page_with_the_code(client, session, world, monkeypatch):
    """The QR code holds /query#code=<12 digits>: a fragment, which no server log sees."""
    made: list[str] = []
    real_make = segno.make

    def make(content: str, **kw: Any) -> Any:
        made.append(content)
        return real_make(content, **kw)

    monkeypatch.setattr(manage_blueprint.segno, "make", make)
    case, _code = new_case(session, world)
    login(client, world.clerk)
    made.clear()
    response = client.post(f"/cases/{case.number}/query-code")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    shown = re.search(r'<code class="query-code">(.*?)</code>', page)
    assert shown is not None
    digits = re.sub(r"<[^>]+>|\s", "", shown.group(1))
    assert re.fullmatch(r"\d{12}", digits)
    assert made == [f"http://localhost/query#code={digits}"]
