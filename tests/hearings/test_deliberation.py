"""Private deliberation through its pages: who may enter (the active panel and the presiding
officer, nobody else), secret votes until all are in, then revealed and locked, the
panel's opinion by the presiding officer, the frozen deliberation record."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from hearings import deliberation as ops
from hearings import links
from hearings.models import (
    DeliberationVote,
    Hearing,
    Observer,
    Participant,
    ParticipantRole,
    RecordVersion,
)
from portal.errors import DomainError
from portal.timeutil import beijing
from tests.fixtures.core import client_for, login
from tests.fixtures.hearings import add_panel, new_hearing, registry

OPINIONS = ["甲的意见：事实清楚", "乙的意见：证据不足", "丙的意见：部分支持",
            "丁的意见：应予支持", "戊的意见：应予支持"]
VOTES = ["uphold", "reject", "partly", "uphold", "uphold"]


@dataclass
class Room:
    hearing: Hearing
    presiding_token: str
    petitioner_token: str
    panel: list[tuple[Participant, str]]
    declined_token: str
    observer_token: str

    def url(self, token: str, action: str = "") -> str:
        return f"/hearings/deliberate/{token}{action}"


def make_room(session: Any, world: Any, make_user: Any, *, stage: str = "deliberation",
              status: str = "running") -> Room:
    hearing, tokens = new_hearing(session, world, status=status)
    hearing.stage = stage
    people = registry(session, world, deputies=2, cppcc=1, experts=2, lawyers=1,
                      make_user=make_user)
    panel_tokens = add_panel(session, hearing, people[:5])
    declined_tokens = add_panel(session, hearing, people[5:6])
    declined = session.get(Participant, next(iter(declined_tokens)))
    declined.rsvp = "declined"  # declined, not yet replaced: still is_active
    declined.seat_no = 9
    observer = Observer(hearing_id=hearing.id, name="旁听人", phone="13900000000",
                        id_number="110101199001011234", id_number_hash="x" * 64,
                        token_hash="pending")
    observer_token = links.issue_observer_token(observer)
    session.add(observer)
    session.commit()
    by_role = {session.get(Participant, pid).role: tok for pid, tok in tokens.items()}
    panel = [(session.get(Participant, pid), tok) for pid, tok in panel_tokens.items()]
    return Room(hearing, by_role[ParticipantRole.PRESIDING],
                by_role[ParticipantRole.PETITIONER], panel,
                next(iter(declined_tokens.values())), observer_token)


def vote_all(client: Any, room: Room, upto: int | None = None) -> None:
    for i, (_p, tok) in enumerate(room.panel[:upto]):
        r = client.post(room.url(tok, "/vote"), data={"vote": VOTES[i],
                                                       "opinion": OPINIONS[i]})
        assert r.status_code == 303, r.get_data(as_text=True)


def votes(session: Any, room: Room) -> dict[int, tuple[str, str]]:
    session.expire_all()
    rows = session.scalars(select(DeliberationVote).where(
        DeliberationVote.hearing_id == room.hearing.id)).all()
    return {v.participant_id: (v.vote, v.opinion) for v in rows}


@pytest.fixture()
def room(session, world, make_user) -> Room:
    return make_room(session, world, make_user)


def page(client: Any, url: str, status: int = 200) -> str:
    r = client.get(url)
    assert r.status_code == status, (url, r.status_code)
    return r.get_data(as_text=True)


# --- who may enter ---------------------------------------------------------------------------

def test_nobody_but_the_panel_and_presiding_officer_finds_the_room(app, client, session,
                                                                  world, room):
    vote_all(client, room, upto=2)  # there is something to hide
    secret = OPINIONS[0]
    for token in (room.petitioner_token, room.declined_token, room.observer_token,
                  "nosuchtoken", "x" * 65):
        body = page(client, room.url(token), 404)
        assert secret not in body and "Private deliberation" not in body
        r = client.post(room.url(token, "/vote"), data={"vote": "uphold", "opinion": "x"})
        assert r.status_code == 404
    for user in (world.admin, world.clerk, world.supervisor):
        client = client_for(app, user)
        body = page(client, f"/hearings/{room.hearing.id}/deliberation", 404)
        assert secret not in body
        for action in ("vote", "opinion", "freeze"):
            r = client.post(f"/hearings/{room.hearing.id}/deliberation/{action}",
                            data={"vote": "uphold", "opinion": "x", "text": "x"})
            assert r.status_code == 404
    assert len(votes(session, room)) == 2
    assert room.hearing.panel_opinion == ""


def test_members_enter_by_personal_link_and_by_account(app, client, session, world, room):
    for _p, token in room.panel:
        assert "Private deliberation" in page(client, room.url(token))
    assert "Private deliberation" in page(client, room.url(room.presiding_token))
    # a panel member with an account, and the presiding officer, by login
    with_account = next(p for p, _t in room.panel if p.user_id)
    from portal.auth.models import User

    own = client_for(app, session.get(User, with_account.user_id))
    assert with_account.name in page(own, f"/hearings/{room.hearing.id}/deliberation")
    body = page(client_for(app, world.leader), f"/hearings/{room.hearing.id}/deliberation")
    assert "Presiding officer" in body


def test_a_replaced_presiding_officer_no_longer_enters(app, client, session, world, room):
    hearing = session.get(Hearing, room.hearing.id)
    hearing.presiding_id = world.other_leader.id
    session.commit()
    page(client, room.url(room.presiding_token), 404)
    page(client_for(app, world.leader), f"/hearings/{hearing.id}/deliberation", 404)
    body = page(client_for(app, world.other_leader), f"/hearings/{hearing.id}/deliberation")
    assert "Presiding officer" in body


def test_the_page_sends_nothing_to_caches(client, room):
    r = client.get(room.url(room.panel[0][1]))
    assert "no-store" in r.headers["Cache-Control"]
    assert r.headers["Referrer-Policy"] == "no-referrer"


def test_before_the_deliberation_stage_the_room_says_it_has_not_begun(client, session,
                                                                     world, make_user):
    room = make_room(session, world, make_user, stage="closing")
    token = room.panel[0][1]
    body = page(client, room.url(token))
    assert "Deliberation has not begun" in body and 'name="opinion"' not in body
    r = client.post(room.url(token, "/vote"), data={"vote": "uphold", "opinion": "早"})
    assert r.status_code == 400
    assert "Deliberation has not begun yet" in r.get_data(as_text=True)
    assert votes(session, room) == {}


# --- secret votes ------------------------------------------------------------------------------

def test_a_member_sees_only_their_own_vote_until_all_are_in(client, session, room):
    vote_all(client, room, upto=3)
    first, second = room.panel[0][1], room.panel[1][1]
    mine = page(client, room.url(first))
    assert OPINIONS[0] in mine and "You voted" in mine
    assert all(o not in mine for o in OPINIONS[1:3])
    assert "3 of 5 panel members have voted" in mine
    # the others' names show with a tick, never their vote
    theirs = page(client, room.url(room.panel[4][1]))
    assert all(o not in theirs for o in OPINIONS[:3])
    assert "You voted" not in theirs and 'id="results"' not in theirs
    presiding = page(client, room.url(room.presiding_token))
    assert all(o not in presiding for o in OPINIONS[:3])
    assert 'name="opinion"' not in presiding  # the presiding officer does not vote
    # the client data block carries no vote either
    body = page(client, room.url(second))
    data = body.split('id="deliberation-data">')[1].split("</script>")[0]
    assert all(o not in data for o in OPINIONS) and "uphold" not in data


def test_a_member_changes_their_vote_until_the_last_is_in_then_it_is_locked(client,
                                                                          session, room):
    member, token = room.panel[0]
    client.post(room.url(token, "/vote"), data={"vote": "reject", "opinion": "先反对"})
    r = client.post(room.url(token, "/vote"), data={"vote": "partly", "opinion": "改为部分支持"})
    assert r.status_code == 303
    assert votes(session, room)[member.id] == ("partly", "改为部分支持")
    assert "改为部分支持" in page(client, room.url(token))
    for i, (_p, tok) in enumerate(room.panel[1:], start=1):
        client.post(room.url(tok, "/vote"), data={"vote": VOTES[i], "opinion": OPINIONS[i]})
    r = client.post(room.url(token, "/vote"), data={"vote": "uphold", "opinion": "再改"})
    assert r.status_code == 400
    assert "votes are locked" in r.get_data(as_text=True)
    assert votes(session, room)[member.id] == ("partly", "改为部分支持")
    assert 'name="opinion"' not in page(client, room.url(token))


def test_once_all_are_in_everyone_in_the_room_sees_every_vote_with_names(client, session,
                                                                         room):
    vote_all(client, room)
    for token in [t for _p, t in room.panel] + [room.presiding_token]:
        body = page(client, room.url(token))
        for (p, _t), opinion in zip(room.panel, OPINIONS, strict=True):
            assert p.name in body and opinion in body
        assert 'id="results"' in body
        # 3 uphold, 1 reject, 1 partly: the majority supports; two dissent, named
        assert "Majority view" in body and "Support the petitioner" in body
        dissent = body.split("Dissent")[1].split("</p>")[0]
        assert room.panel[1][0].name in dissent and room.panel[2][0].name in dissent
        assert room.panel[0][0].name not in dissent


# --- bad input ----------------------------------------------------------------------------------

@pytest.mark.parametrize("data, message", [
    ({"vote": "abstain", "opinion": "意见"}, "Choose one of the votes offered"),
    ({"vote": "", "opinion": "意见"}, "Choose one of the votes offered"),
    ({"opinion": "意见"}, "Choose one of the votes offered"),
    ({"vote": "uphold", "opinion": ""}, "Write your opinion"),
    ({"vote": "uphold", "opinion": "   \n "}, "Write your opinion"),
    ({"vote": "uphold", "opinion": "长" * 100_000}, "too long"),
])
def test_bad_votes_are_refused_with_a_message_and_change_nothing(client, session, room,
                                                                data, message):
    member, token = room.panel[0]
    client.post(room.url(token, "/vote"), data={"vote": "reject", "opinion": "原来的"})
    r = client.post(room.url(token, "/vote"), data=data)
    assert r.status_code == 400 and message in r.get_data(as_text=True)
    assert votes(session, room)[member.id] == ("reject", "原来的")


def test_a_long_opinion_is_kept_in_the_form_when_refused(client, room):
    token = room.panel[0][1]
    text = "长" * (ops.OPINION_MAX + 1)
    r = client.post(room.url(token, "/vote"), data={"vote": "uphold", "opinion": text})
    assert r.status_code == 400 and text in r.get_data(as_text=True)


def test_another_hearings_id_is_not_this_room(client, session, world, make_user, room):
    other = make_room(session, world, make_user)
    # the account route with another hearing's id: the leader presides both, a panel
    # member of one is nobody in the other
    from portal.auth.models import User

    member = next(p for p, _t in room.panel if p.user_id)
    login(client, session.get(User, member.user_id))
    assert client.get(f"/hearings/{other.hearing.id}/deliberation").status_code == 404
    r = client.post(f"/hearings/{other.hearing.id}/deliberation/vote",
                    data={"vote": "uphold", "opinion": "串门"})
    assert r.status_code == 404 and votes(session, other) == {}
    assert client.get("/hearings/999999999/deliberation").status_code == 404


# --- the panel's opinion and the record ------------------------------------------------------

def test_only_the_presiding_officer_writes_the_panels_opinion_after_all_votes(client,
                                                                            session, room):
    url = room.url(room.presiding_token, "/opinion")
    r = client.post(url, data={"text": "太早"})
    assert r.status_code == 400 and "Not every panel member has voted" in r.get_data(
        as_text=True)
    vote_all(client, room)
    r = client.post(room.url(room.panel[0][1], "/opinion"), data={"text": "越权"})
    assert r.status_code == 403
    session.expire_all()
    assert session.get(Hearing, room.hearing.id).panel_opinion == ""
    r = client.post(url, data={"text": ""})
    assert r.status_code == 400 and "Write the panel" in r.get_data(as_text=True)
    opinion = "经合议，多数意见支持信访人的请求。"
    r = client.post(url, data={"text": opinion})
    assert r.status_code == 303
    session.expire_all()
    assert session.get(Hearing, room.hearing.id).panel_opinion == opinion
    # every member reads it
    assert "经合议" in page(client, room.url(room.panel[2][1]))


def test_freezing_keeps_the_votes_the_dissent_with_names_and_the_hash(client, session,
                                                                      world, room):
    freeze = room.url(room.presiding_token, "/freeze")
    vote_all(client, room, upto=4)
    r = client.post(freeze, follow_redirects=True)
    assert "Not every panel member has voted" in r.get_data(as_text=True)
    vote_all(client, room)  # the first four again are refused (locked); the fifth lands
    r = client.post(freeze, follow_redirects=True)
    assert "Write the panel" in r.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(RecordVersion)) == 0
    client.post(room.url(room.presiding_token, "/opinion"), data={"text": "多数支持。"})
    r = client.post(freeze)
    assert r.status_code == 303
    session.expire_all()
    record = session.scalars(select(RecordVersion).where(
        RecordVersion.hearing_id == room.hearing.id)).one()
    assert record.kind == "deliberation" and record.number == 1
    assert record.frozen_by_id == world.leader.id
    assert record.sha256 == hashlib.sha256(record.text.encode("utf-8")).hexdigest()
    text = record.text
    assert room.hearing.title in text and "多数支持。" in text
    for (p, _t), opinion in zip(room.panel, OPINIONS, strict=True):
        assert p.name in text and opinion in text
    # the record is written in the record's language (Chinese), whatever the page's
    dissent = next(line for line in text.splitlines()
                   if line.startswith(("Dissent", "不同意见")))
    assert room.panel[1][0].name in dissent and room.panel[2][0].name in dissent
    assert room.panel[0][0].name not in dissent
    # shown in the room, with its hash; the opinion can no longer be changed
    body = page(client, room.url(room.panel[0][1]))
    assert record.sha256[:16] in body and record.sha256[48:] in body
    r = client.post(room.url(room.presiding_token, "/opinion"), data={"text": "改"})
    assert r.status_code == 400 and "closed" in r.get_data(as_text=True)
    # freezing again returns the same version
    again = ops.freeze_deliberation_record(session, world.leader,
                                           session.get(Hearing, room.hearing.id))
    assert again.id == record.id


def test_the_record_part_calls_the_freeze_and_only_for_the_hearings_runners(session,
                                                                          world, room,
                                                                          client):
    vote_all(client, room)
    client.post(room.url(room.presiding_token, "/opinion"), data={"text": "意见"})
    session.expire_all()
    hearing = session.get(Hearing, room.hearing.id)
    with pytest.raises(DomainError):
        ops.freeze_deliberation_record(session, world.supervisor, hearing)
    record = ops.freeze_deliberation_record(session, world.clerk, hearing)
    assert record.frozen_by_id == world.clerk.id


def test_the_link_partial_shows_only_to_members(app, session, world, room):
    from flask import render_template

    hearing = session.get(Hearing, room.hearing.id)
    with app.test_request_context(f"/hearings/{hearing.id}"):
        html = render_template("hearings/_deliberation_link.html", hearing=hearing,
                               token=room.panel[0][1])
        assert f"/hearings/deliberate/{room.panel[0][1]}" in html
        for token in (room.petitioner_token, room.observer_token, room.declined_token):
            assert "deliberation-link" not in render_template(
                "hearings/_deliberation_link.html", hearing=hearing, token=token)
    # the presiding officer, logged in, on the hearing's page: the account's door
    with app.test_request_context(f"/hearings/{hearing.id}"):
        from flask_login import login_user

        login_user(world.leader)
        html = render_template("hearings/_deliberation_link.html", hearing=hearing)
        assert f"/hearings/{hearing.id}/deliberation" in html


def test_the_room_holds_no_inline_code_and_asks_before_freezing(client, room):
    from tests.test_content_security_policy import _inline

    vote_all(client, room)
    client.post(room.url(room.presiding_token, "/opinion"), data={"text": "多数支持。"})
    found = _inline(page(client, room.url(room.presiding_token)))
    assert found.problems == []
    assert any("Freeze the deliberation record now" in c for c in found.confirms)


def test_the_record_dates_the_hearing_when_it_was_held(client, session, world, room):
    """A hearing held earlier than scheduled: the deliberation record says the real day."""
    hearing = session.get(Hearing, room.hearing.id)
    held = hearing.starts_at - timedelta(days=7, hours=2)
    hearing.started_at = held
    session.commit()
    vote_all(client, room)
    client.post(room.url(room.presiding_token, "/opinion"), data={"text": "多数支持。"})
    assert client.post(room.url(room.presiding_token, "/freeze")).status_code == 303
    session.expire_all()
    text = session.scalars(select(RecordVersion).where(
        RecordVersion.hearing_id == hearing.id)).one().text
    assert beijing(held).strftime("%Y-%m-%d %H:%M") in text
    assert beijing(hearing.starts_at).strftime("%Y-%m-%d") not in text


def test_the_last_voter_is_told_their_vote_locks_everyone_s(client, room):
    """The fifth member reads that theirs is the last vote (and is asked before casting
    it), not that they may change it; the others, before that, are not told so."""
    vote_all(client, room, upto=3)
    fourth = page(client, room.url(room.panel[3][1]))
    assert "Yours is the last vote" not in fourth
    vote_all(client, room, upto=4)
    last = page(client, room.url(room.panel[4][1]))
    assert "Yours is the last vote" in last and "data-confirm=" in last
    assert "You can change your vote" not in last
