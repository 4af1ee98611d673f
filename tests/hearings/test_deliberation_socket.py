"""Private deliberation over Socket.IO (/hearings): only members join the room; the room
hears who has voted, never what, until all are in; non-members get an error ack and
nothing after others vote; bad input is refused and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from hearings.deliberation import NAMESPACE
from hearings.models import Hearing
from portal.auth.models import User
from portal.extensions import socketio
from tests.fixtures.core import client_for
from tests.hearings.test_deliberation import OPINIONS, VOTES, Room, make_room, votes


@pytest.fixture()
def room(session, world, make_user) -> Room:
    return make_room(session, world, make_user)


def sock(app: Any, client: Any = None, **auth: Any) -> Any:
    return socketio.test_client(app, namespace=NAMESPACE, auth=auth or None,
                                flask_test_client=client or app.test_client())


def received(s: Any, name: str = "deliberation") -> list[dict[str, Any]]:
    """The `name` events this client got so far (kept for later checks)."""
    seen = getattr(s, "seen", [])
    seen.extend(pkt for pkt in s.get_received(NAMESPACE))
    s.seen = seen
    return [pkt["args"][0] for pkt in seen if pkt["name"] == name]


def emit(s: Any, event: str, data: dict[str, Any]) -> dict[str, Any]:
    ack = s.emit(event, data, namespace=NAMESPACE, callback=True)
    assert isinstance(ack, dict)
    return ack


def join(app: Any, room: Room, token: str | None = None, client: Any = None
         ) -> tuple[Any, dict[str, Any]]:
    s = sock(app, client)
    s.token = token
    data: dict[str, Any] = {"hearing_id": room.hearing.id}
    if token:
        data["token"] = token
    return s, emit(s, "deliberation_join", data)


def cast(s: Any, room: Room, token: str, i: int) -> dict[str, Any]:
    return emit(s, "vote", {"hearing_id": room.hearing.id, "token": token,
                            "vote": VOTES[i], "opinion": OPINIONS[i]})


def no_secret(payload: Any, upto: int = 5) -> bool:
    text = repr(payload)
    return all(o not in text for o in OPINIONS[:upto]) and not any(
        v in text for v in ("'uphold'", "'reject'", "'partly'"))


def test_non_members_get_an_error_ack_and_hear_nothing(app, session, world, room):
    outsiders = [join(app, room, token)[0:2] for token in (
        room.petitioner_token, room.observer_token, room.declined_token, "bogus")]
    for user in (world.admin, world.clerk):
        outsiders.append(join(app, room, client=client_for(app, user)))
    outsiders.append(join(app, room))  # anonymous, no token
    for _s, ack in outsiders:
        assert ack["ok"] is False and "no deliberation" in ack["error"]
        assert set(ack) == {"ok", "error"}
    member, member_ack = join(app, room, room.panel[0][1])
    assert member_ack["ok"] is True
    for i, (_p, token) in enumerate(room.panel):
        assert cast(member, room, token, i)["ok"]
    assert received(member)  # the room heard it
    for s, _ack in outsiders:
        assert received(s) == []
    # an outsider's own vote event is refused too
    s = outsiders[0][0]
    ack = emit(s, "vote", {"hearing_id": room.hearing.id, "token": room.petitioner_token,
                           "vote": "uphold", "opinion": "冒充"})
    assert ack["ok"] is False and len(votes(session, room)) == 5


def test_the_room_hears_who_voted_never_what_until_all_are_in(app, session, room):
    tokens = [t for _p, t in room.panel]
    sockets = [join(app, room, t) for t in tokens]
    presiding, p_ack = join(app, room, room.presiding_token)
    assert p_ack["ok"] and p_ack["is_presiding"] and not p_ack["is_voter"]
    for _s, ack in sockets:
        assert ack["ok"] and ack["own"] is None and ack["voted"] == 0 and ack["of"] == 5
    for i in range(4):
        ack = cast(sockets[i][0], room, tokens[i], i)
        # the voter's ack: their own vote, nobody else's
        assert ack["own"] == {"vote": VOTES[i], "opinion": OPINIONS[i]}
        assert no_secret({k: v for k, v in ack.items() if k != "own"})
        assert "results" not in ack
    for s in [s for s, _a in sockets] + [presiding]:
        events = received(s)
        assert [e["voted"] for e in events] == [1, 2, 3, 4]
        assert all(no_secret(e) and "results" not in e for e in events)
        assert [m["has_voted"] for m in events[-1]["members"]] == [True] * 4 + [False]
    # a late joiner gets the same: who, not what
    late, ack = join(app, room, tokens[4])
    assert ack["voted"] == 4 and ack["own"] is None and no_secret(ack)
    # the last vote: the room hears that all are in (still not what), and every member
    # asking again reads every vote, with names
    cast(late, room, tokens[4], 4)
    for s in [s for s, _a in sockets] + [presiding, late]:
        last = received(s)[-1]
        assert last["complete"] is True and last["voted"] == 5 and no_secret(last)
        again = emit(s, "deliberation_join", {"hearing_id": room.hearing.id,
                                              "token": s.token})
        results = again["results"]
        assert [v["opinion"] for v in results["votes"]] == OPINIONS
        assert [v["name"] for v in results["votes"]] == [p.name for p, _t in room.panel]
        assert {c["vote"]: c["count"] for c in results["counts"]} == {
            "uphold": 3, "partly": 1, "reject": 1}
        assert results["majority"] == "uphold"
        assert results["dissent"] == [room.panel[1][0].name, room.panel[2][0].name]


def test_votes_change_until_complete_then_lock(app, session, room):
    s, _ack = join(app, room, room.panel[0][1])
    token = room.panel[0][1]
    emit(s, "vote", {"hearing_id": room.hearing.id, "token": token, "vote": "reject",
                     "opinion": "先反对"})
    ack = emit(s, "vote", {"hearing_id": room.hearing.id, "token": token, "vote": "uphold",
                           "opinion": "改为支持"})
    assert ack["ok"] and ack["own"] == {"vote": "uphold", "opinion": "改为支持"}
    for i, (_p, t) in enumerate(room.panel[1:], start=1):
        assert cast(s, room, t, i)["ok"]
    ack = emit(s, "vote", {"hearing_id": room.hearing.id, "token": token, "vote": "reject",
                           "opinion": "再改"})
    assert ack["ok"] is False and "locked" in ack["error"]
    assert votes(session, room)[room.panel[0][0].id] == ("uphold", "改为支持")


@pytest.mark.parametrize("change, message", [
    ({"vote": "abstain"}, "Choose one of the votes"),
    ({"vote": None}, "Choose one of the votes"),
    ({"vote": ["uphold"]}, "Choose one of the votes"),
    ({"opinion": ""}, "Write your opinion"),
    ({"opinion": None}, "Write your opinion"),
    ({"opinion": {"x": 1}}, "Write your opinion"),
    ({"opinion": "长" * 100_000}, "too long"),
    ({"hearing_id": "abc"}, "no deliberation"),
    ({"hearing_id": -1}, "no deliberation"),
    ({"hearing_id": 2**80}, "no deliberation"),
])
def test_bad_socket_input_is_refused_and_changes_nothing(app, session, room, change,
                                                         message):
    token = room.panel[0][1]
    s, _ack = join(app, room, token)
    emit(s, "vote", {"hearing_id": room.hearing.id, "token": token, "vote": "reject",
                     "opinion": "原来的"})
    before = len(received(s))
    data = {"hearing_id": room.hearing.id, "token": token, "vote": "uphold",
            "opinion": "新的", **change}
    ack = emit(s, "vote", data)
    assert ack["ok"] is False and message in ack["error"]
    assert votes(session, room)[room.panel[0][0].id] == ("reject", "原来的")
    assert len(received(s)) == before


def test_a_token_with_another_hearings_id_is_refused(app, session, world, make_user, room):
    other = make_room(session, world, make_user)
    s = sock(app)
    ack = emit(s, "deliberation_join", {"hearing_id": other.hearing.id,
                                        "token": room.panel[0][1]})
    assert ack["ok"] is False
    ack = emit(s, "vote", {"hearing_id": other.hearing.id, "token": room.panel[0][1],
                           "vote": "uphold", "opinion": "串门"})
    assert ack["ok"] is False and votes(session, other) == {} and votes(session, room) == {}


def test_panel_opinion_by_the_presiding_officer_only_after_all_votes(app, session, world,
                                                                    room):
    leader = sock(app, client_for(app, world.leader))
    assert emit(leader, "deliberation_join", {"hearing_id": room.hearing.id})["ok"]
    ack = emit(leader, "panel_opinion", {"hearing_id": room.hearing.id, "text": "太早"})
    assert ack["ok"] is False and "Not every panel member" in ack["error"]
    member, _ack = join(app, room, room.panel[0][1])
    for i, (_p, t) in enumerate(room.panel):
        cast(member, room, t, i)
    ack = emit(member, "panel_opinion", {"hearing_id": room.hearing.id,
                                         "token": room.panel[0][1], "text": "越权"})
    assert ack["ok"] is False and "Only the presiding officer" in ack["error"]
    session.expire_all()
    assert session.get(Hearing, room.hearing.id).panel_opinion == ""
    ack = emit(leader, "panel_opinion", {"hearing_id": room.hearing.id,
                                         "text": "多数意见支持。"})
    assert ack["ok"] and ack["results"]["panel_opinion"] == "多数意见支持。"
    assert received(member)[-1]["has_panel_opinion"] is True


def test_a_panel_member_with_an_account_joins_by_login(app, session, room):
    p = next(p for p, _t in room.panel if p.user_id)
    s = sock(app, client_for(app, session.get(User, p.user_id)))
    ack = emit(s, "deliberation_join", {"hearing_id": room.hearing.id})
    assert ack["ok"] and ack["is_voter"]
    i = [q.id for q, _t in room.panel].index(p.id)
    ack = emit(s, "vote", {"hearing_id": room.hearing.id, "vote": VOTES[i],
                           "opinion": OPINIONS[i]})
    assert ack["ok"] and votes(session, room)[p.id] == (VOTES[i], OPINIONS[i])


def test_members_waiting_hear_when_the_deliberation_stage_opens(app, session, world,
                                                               make_user):
    from portal import transaction

    room = make_room(session, world, make_user, stage="closing")
    member, ack = join(app, room, room.panel[0][1])
    assert ack["ok"] and ack["begun"] is False and ack["voted"] == 0
    outsider, refused = join(app, room, room.petitioner_token)
    assert refused["ok"] is False
    ack = cast(member, room, room.panel[0][1], 0)
    assert ack["ok"] is False and "has not begun" in ack["error"]
    # the live hearing's stage control moves on (another part's operation, any commit)
    hearing = session.get(Hearing, room.hearing.id)
    hearing.stage = "deliberation"
    transaction.commit(session)
    assert received(member, "deliberation_stage") == [
        {"hearing_id": room.hearing.id, "begun": True}]
    assert received(outsider, "deliberation_stage") == []
    assert cast(member, room, room.panel[0][1], 0)["ok"]
    # a later stage inside the deliberation's span says nothing new
    hearing.stage = "opinion"
    transaction.commit(session)
    assert len(received(member, "deliberation_stage")) == 1


def test_a_member_taken_off_the_panel_reads_nothing_more(app, session, room):
    gone_participant, gone_token = room.panel[4]
    gone, ack = join(app, room, gone_token)
    assert ack["ok"]
    gone_participant = session.get(type(gone_participant), gone_participant.id)
    gone_participant.is_active = False  # replaced (the panel part seats a substitute)
    session.commit()
    member, _ack = join(app, room, room.panel[0][1])
    for i, (_p, t) in enumerate(room.panel[:4]):
        cast(member, room, t, i)  # four of four active members: all in
    # the socket still in the room hears that all are in, never what
    assert received(gone)[-1]["complete"] is True
    assert all(no_secret(e, upto=4) for e in received(gone))
    ack = emit(gone, "deliberation_join", {"hearing_id": room.hearing.id,
                                           "token": gone_token})
    assert ack["ok"] is False and set(ack) == {"ok", "error"}
    assert emit(member, "deliberation_join", {"hearing_id": room.hearing.id,
                                              "token": room.panel[0][1]})["results"]
