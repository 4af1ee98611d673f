"""Numbers people type or send (ids, versions, a stage) are read without a 500: "²" is a
digit to str.isdigit() but not to int()."""
from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.core import login
from tests.fixtures.hearings import new_hearing


@pytest.mark.parametrize("query", ["request_id=%C2%B2", "case_id=%C2%B2",
                                   "case_id=99999999999999999999999"])
def test_new_hearing_with_a_superscript_id_is_not_found(client: Any, session: Any,
                                                        world: Any, query: str) -> None:
    login(client, world.clerk)
    assert client.get(f"/hearings/new?{query}").status_code == 404


def test_edit_and_cancel_with_a_superscript_version_refuse(client: Any, session: Any,
                                                           world: Any) -> None:
    hearing, _t = new_hearing(session, world, status="published")
    login(client, world.clerk)
    r = client.post(f"/hearings/{hearing.id}/edit", data={
        "version": "²", "day": "2030-01-10", "starts": "09:00", "ends": "11:00",
        "place_kind": "room", "place": "x"})
    assert r.status_code < 500
    r = client.post(f"/hearings/{hearing.id}/cancel", data={"version": "²", "reason": "x"})
    assert r.status_code < 500


def test_minutes_with_a_list_for_a_stage_is_refused(client: Any, session: Any,
                                                    world: Any) -> None:
    hearing, _t = new_hearing(session, world, status="published")
    login(client, world.clerk)
    r = client.post(f"/hearings/{hearing.id}/minutes",
                    json={"stage": ["x"], "text": "a", "version": 0})
    assert r.status_code == 400
