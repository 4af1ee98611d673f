"""The clerk's minutes: autosave with a version (200 with the new one; a stale save 409
with what is saved, overwriting nothing), the length limit, who may write, and the live
copy to staff only (never to observers or parties)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from hearings.live import MAX_MINUTES_CHARS
from hearings.models import MinutesSection, ParticipantRole
from tests.fixtures.core import login
from tests.fixtures.hearings import new_hearing
from tests.hearings.test_live_socket import (
    emit,
    got,
    join,
    observer,
    sock,
    staff_sock,
)


def _post(client: Any, hearing: Any, **data: Any) -> Any:
    return client.post(f"/hearings/{hearing.id}/minutes", json=data)


def _saved(session: Any, hearing: Any, stage: str = "opening") -> MinutesSection | None:
    session.expire_all()
    return session.scalar(select(MinutesSection).where(
        MinutesSection.hearing_id == hearing.id, MinutesSection.stage == stage))


def test_save_then_save_on_the_new_version(client, session, world):
    hearing, _tokens = new_hearing(session, world, status="published")
    login(client, world.clerk)
    first = _post(client, hearing, stage="opening", text="主持人宣布听证开始。", version=0)
    assert first.status_code == 200 and first.json["version"] == 1
    second = _post(client, hearing, stage="opening", text="主持人宣布听证开始。核对身份。",
                   version=1)
    assert second.status_code == 200 and second.json["version"] == 2
    row = _saved(session, hearing)
    assert row is not None and row.text.endswith("核对身份。") and row.version == 2
    assert row.updated_by_id == world.clerk.id
    # a form post works the same
    third = client.post(f"/hearings/{hearing.id}/minutes",
                        data={"stage": "opening", "text": "改", "version": "2"})
    assert third.status_code == 200 and third.json["version"] == 3


def test_a_stale_save_is_409_with_the_saved_text_and_overwrites_nothing(app, client,
                                                                         session, world):
    hearing, _tokens = new_hearing(session, world, status="published")
    login(client, world.clerk)
    assert _post(client, hearing, stage="questions", text="甲的记录", version=0).status_code == 200
    presiding = app.test_client()
    login(presiding, world.leader)
    assert _post(presiding, hearing, stage="questions", text="乙的记录",
                 version=1).status_code == 200
    stale = _post(client, hearing, stage="questions", text="甲的新记录", version=1)
    assert stale.status_code == 409
    assert stale.json["text"] == "乙的记录" and stale.json["version"] == 2
    assert "保存" in stale.json["error"] or "saved" in stale.json["error"]
    assert _saved(session, hearing, "questions").text == "乙的记录"
    # a first save that meets a section made meanwhile (two first saves at once): the
    # insert's unique key refuses it inside a savepoint, and it is stale, never an error
    again = _post(client, hearing, stage="questions", text="甲", version=0)
    assert again.status_code == 409 and again.json["text"] == "乙的记录"


def test_too_long_bad_stage_or_bad_version_is_refused_and_changes_nothing(client, session,
                                                                          world):
    hearing, _tokens = new_hearing(session, world, status="published")
    login(client, world.clerk)
    assert _post(client, hearing, stage="opening", text="原文", version=0).status_code == 200
    long = _post(client, hearing, stage="opening", text="字" * (MAX_MINUTES_CHARS + 1),
                 version=1)
    assert long.status_code == 400 and str(MAX_MINUTES_CHARS) in long.json["error"]
    for bad in ({"stage": "deliberation", "text": "x", "version": 1},
                {"stage": "nope", "text": "x", "version": 1},
                {"stage": "opening", "text": ["x"], "version": 1},
                {"stage": "opening", "text": "x", "version": "-1"},
                {"stage": "opening", "text": "x", "version": "1e9"},
                {"stage": "opening", "text": "x", "version": None},
                {"stage": "opening", "text": "x", "version": "9" * 30},
                {"stage": "opening", "text": "x", "version": "²"}):
        response = _post(client, hearing, **bad)
        assert response.status_code == 400, (bad, response.status_code)
        assert response.json["error"]
    assert client.post(f"/hearings/{hearing.id}/minutes", data="{{{",
                       content_type="application/json").status_code == 400
    assert client.post(f"/hearings/{hearing.id}/minutes", json=["x"]).status_code == 400
    assert _post(client, type(hearing)(id=999999), stage="opening", text="x",
                 version=0).status_code == 404
    row = _saved(session, hearing)
    assert row.text == "原文" and row.version == 1


def test_only_the_presiding_officer_and_clerk_write(client, session, world):
    hearing, _tokens = new_hearing(session, world, status="published")
    for user in (world.admin, world.supervisor, world.other_clerk):
        login(client, user)
        response = _post(client, hearing, stage="opening", text="不该保存", version=0)
        assert response.status_code == 403
    assert _saved(session, hearing) is None
    client.post("/logout")
    response = _post(client, hearing, stage="opening", text="不该保存", version=0)
    assert response.status_code in (302, 401)
    assert _saved(session, hearing) is None
    assert client.get(f"/hearings/{hearing.id}/minutes").status_code == 405


def test_staff_see_the_minutes_live_observers_and_parties_never(app, client, session,
                                                              world):
    hearing, tokens = new_hearing(session, world, status="published")
    _obs, obs_token = observer(session, hearing)
    pet = next(p for p in hearing.participants if p.role == ParticipantRole.PETITIONER)
    presiding = staff_sock(app, world.leader)
    join(presiding, hearing)
    watcher, party = sock(app), sock(app)
    join(watcher, hearing, observer_token=obs_token)
    join(party, hearing, token=tokens[pet.id])
    login(client, world.clerk)
    assert _post(client, hearing, stage="opening", text="宣布纪律", version=0).status_code == 200
    pushed = got(presiding, "minutes")
    opening = pushed[-1]["sections"]["opening"]
    assert (opening["text"], opening["version"]) == ("宣布纪律", 1) and opening["updated_at"]
    assert got(watcher, "minutes") == [] and got(party, "minutes") == []
    # and a reconnect of the presiding officer has them in the snapshot
    assert join(staff_sock(app, world.leader), hearing)["minutes"]["sections"]["opening"][
        "text"] == "宣布纪律"
    assert "minutes" not in join(sock(app), hearing, observer_token=obs_token)
    assert emit(watcher, "minutes", {"stage": "opening", "text": "x"})["ok"] is False
