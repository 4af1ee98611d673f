"""The live hearing on the socket namespace /hearings: who may join and what each sees,
the stages reaching every screen, the speaker countdown from the server's time, check-in,
recusal, and refusals that change nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from hearings import links
from hearings.models import (
    Attendance,
    Hearing,
    Observer,
    Participant,
    ParticipantRole,
    Speaker,
    Stage,
)
from portal.casefiles.models import CaseEvent
from portal.extensions import socketio
from portal.timeutil import utcnow
from tests.fixtures.core import login
from tests.fixtures.hearings import add_panel, new_hearing, registry

#: a hearing may be started from an hour before its time
SOON = timedelta(minutes=30)

NS = "/hearings"


# --- helpers (also used by test_minutes.py) ---------------------------------------------

def sock(app: Any, client: Any = None) -> Any:
    """A socket of a browser: `client` carries a login cookie; None is anonymous."""
    return socketio.test_client(app, namespace=NS,
                                flask_test_client=client or app.test_client())


def staff_sock(app: Any, user: Any) -> Any:
    client = app.test_client()
    login(client, user)
    return sock(app, client)


def join(s: Any, hearing: Any, **extra: Any) -> dict[str, Any]:
    return emit(s, "join", {"hearing_id": hearing.id, **extra})


def emit(s: Any, event: str, data: Any = None) -> dict[str, Any]:
    """An event with its ack, handled in an app context of its own as on a server (the
    test's context would share `g`, and so the logged-in user, between sockets)."""
    with s.app.app_context():
        ack = s.emit(event, {} if data is None else data, namespace=NS, callback=True)
    assert isinstance(ack, dict), ack
    return ack


def got(s: Any, name: str) -> list[dict[str, Any]]:
    """The messages named `name` this socket received so far (kept for later reads)."""
    seen = getattr(s, "seen", [])
    seen.extend(p for p in s.get_received(NS))
    s.seen = seen
    return [p["args"][0] for p in seen if p["name"] == name]


def observer(session: Any, hearing: Any, name: str = "旁听人甲") -> tuple[Observer, str]:
    row = Observer(hearing_id=hearing.id, name=name, phone="13800001234",
                   id_number="110101199001011234", id_number_hash=f"h-{name}-{hearing.id}",
                   token_hash="", seated_at=utcnow())
    token = links.issue_observer_token(row)
    session.add(row)
    session.commit()
    return row, token


def petitioner(hearing: Any) -> Participant:
    return next(p for p in hearing.participants if p.role == ParticipantRole.PETITIONER)


@pytest.fixture()
def live_hearing(session, world):
    """A published hearing with a panel of five, an observer; (hearing, tokens, observer
    token)."""
    hearing, tokens = new_hearing(session, world, status="published", starts_in=SOON)
    panel_tokens = add_panel(session, hearing, registry(session, world, deputies=1, cppcc=1,
                                                        experts=2, lawyers=1))
    _obs, obs_token = observer(session, hearing)
    return hearing, {**tokens, **panel_tokens}, obs_token


def start(app, world, hearing) -> Any:
    clerk = staff_sock(app, world.clerk)
    join(clerk, hearing)
    assert emit(clerk, "start")["ok"]
    return clerk


# --- joining ------------------------------------------------------------------------------

def test_staff_participant_and_observer_join_with_what_each_may_see(app, session, world,
                                                                  live_hearing):
    hearing, tokens, obs_token = live_hearing
    pet = petitioner(hearing)

    clerk = join(staff_sock(app, world.clerk), hearing)
    assert clerk["ok"] and clerk["who"] == "run" and clerk["can_run"]
    assert set(clerk["minutes"]["sections"]) >= {"opening", "opinion"}
    names = {p["name"] for p in clerk["attendance"]["people"]}
    assert pet.name in names  # staff see the parties by name

    supervisor = join(staff_sock(app, world.supervisor), hearing)
    if supervisor["ok"]:  # the supervisor may view the case: a staff view, no controls
        assert supervisor["who"] == "staff" and not supervisor["can_run"]

    party = join(sock(app), hearing, token=tokens[pet.id])
    assert party["ok"] and party["who"] == "participant"
    assert "minutes" not in party
    assert party["me"]["participant_id"] == pet.id
    roles = {p["role"]: p["name"] for p in party["attendance"]["people"]}
    assert roles["petitioner"] == "信访人" or roles["petitioner"] == "Petitioner"
    assert pet.name not in {p["name"] for p in party["attendance"]["people"]}

    watcher = join(sock(app), hearing, observer_token=obs_token)
    assert watcher["ok"] and watcher["who"] == "observer"
    assert "minutes" not in watcher and watcher["recusal"]["answers"] == []
    shown = watcher["attendance"]["people"]
    assert {p["role"] for p in shown} <= {"presiding", "clerk", "panel"}
    assert all(p["checked_in_at"] is None for p in shown)
    assert pet.name not in str(watcher)
    # the observer's check-in: their first join
    session.expire_all()
    assert session.get(Observer, _observer_id(session, hearing)).attended_at is not None


def _observer_id(session, hearing) -> int:
    from sqlalchemy import select

    return session.scalar(select(Observer.id).where(Observer.hearing_id == hearing.id))


@pytest.mark.parametrize("extra", [{}, {"token": "not-a-token"}, {"observer_token": "nope"},
                                   {"token": ["x"]}])
def test_a_stranger_is_refused_and_joins_nothing(app, session, world, live_hearing, extra):
    hearing, _tokens, _obs = live_hearing
    stranger = sock(app)
    ack = join(stranger, hearing, **extra)
    assert ack["ok"] is False and ack["error"]
    clerk = start(app, world, hearing)
    assert emit(clerk, "stage", {"direction": "next"})["ok"]
    assert got(stranger, "stage") == []  # in no room
    assert emit(stranger, "stage", {"direction": "next"})["ok"] is False


def test_joining_another_hearing_leaves_the_first(app, session, world, live_hearing):
    hearing, _tokens, _obs = live_hearing
    other, _other_tokens = new_hearing(session, world, status="published", starts_in=SOON)
    admin = staff_sock(app, world.admin)
    join(admin, hearing)
    assert join(admin, other)["hearing_id"] == other.id
    start(app, world, hearing)
    assert got(admin, "stage") == []  # no longer in the first hearing's rooms


def test_another_hearings_link_or_a_wrong_id_is_refused(app, session, world, live_hearing):
    hearing, tokens, _obs = live_hearing
    other, other_tokens = new_hearing(session, world, status="published", starts_in=SOON)
    assert join(sock(app), other, token=tokens[petitioner(hearing).id])["ok"] is False
    assert emit(sock(app), "join", {"hearing_id": "DROP TABLE"})["ok"] is False
    assert emit(sock(app), "join", ["not", "a", "dict"])["ok"] is False
    # an agency officer of another office knows nothing of it
    assert join(staff_sock(app, world.outsider_officer), hearing)["ok"] is False


# --- start, stages, end --------------------------------------------------------------------

def test_start_reaches_everyone_and_checks_in_who_is_connected(app, session, world,
                                                             live_hearing):
    hearing, tokens, obs_token = live_hearing
    pet = petitioner(hearing)
    party = sock(app)
    join(party, hearing, token=tokens[pet.id])
    session.expire_all()
    assert session.get(Participant, pet.id).attendance == Attendance.ABSENT  # not started
    watcher = sock(app)
    join(watcher, hearing, observer_token=obs_token)

    clerk = start(app, world, hearing)
    session.expire_all()
    h = session.get(Hearing, hearing.id)
    assert h.status == "running" and h.stage == Stage.OPENING and h.started_at is not None
    assert session.get(Participant, pet.id).attendance == Attendance.ONLINE
    for s in (party, watcher, clerk):
        stage = got(s, "stage")[-1]
        assert stage["stage"] == "opening" and stage["server_time"]
    kinds = [e.kind for e in session.query(CaseEvent).filter_by(case_id=h.case_id)]
    assert "hearing_started" in kinds
    # a second start is refused and changes nothing
    ack = emit(clerk, "start")
    assert ack["ok"] is False and ack["error"]


def test_a_participant_joining_a_running_hearing_is_present_online(app, session, world,
                                                                 live_hearing):
    hearing, tokens, _obs = live_hearing
    clerk = start(app, world, hearing)
    pet = petitioner(hearing)
    join(sock(app), hearing, token=tokens[pet.id])
    session.expire_all()
    p = session.get(Participant, pet.id)
    assert p.attendance == Attendance.ONLINE and p.checked_in_at is not None
    people = {x["id"]: x for x in got(clerk, "attendance")[-1]["people"]}
    assert people[pet.id]["attendance"] == "online"


def test_stages_in_order_back_and_end(app, session, world, live_hearing):
    hearing, tokens, obs_token = live_hearing
    watcher = sock(app)
    join(watcher, hearing, observer_token=obs_token)
    clerk = start(app, world, hearing)
    seen = ["opening"]
    for _ in range(5):
        ack = emit(clerk, "stage", {"direction": "next", "from": seen[-1]})
        assert ack["ok"], ack
        seen.append(ack["stage"])
    assert seen == ["opening", "agency_facts", "petitioner", "questions", "closing",
                    "deliberation"]
    # a stale second click (the screen showed the stage before) moves nothing
    ack = emit(clerk, "stage", {"direction": "next", "from": "closing"})
    assert ack["ok"] is False
    assert emit(clerk, "stage", {"direction": "previous"})["stage"] == "closing"
    assert emit(clerk, "stage", {"direction": "next"})["stage"] == "deliberation"
    assert emit(clerk, "stage", {"direction": "next"})["stage"] == "opinion"
    ack = emit(clerk, "stage", {"direction": "next"})
    assert ack["ok"] is False  # ending is its own act
    assert [m["stage"] for m in got(watcher, "stage")][-3:] == ["closing", "deliberation",
                                                                "opinion"]
    # the live log keeps every change with the server's time (staff only)
    log = join(staff_sock(app, world.leader), hearing)["log"]
    assert [e["stage"] for e in log] == [*seen, "closing", "deliberation", "opinion"]
    assert all(e["at"] and e["stage_label"] for e in log)
    assert "log" not in join(sock(app), hearing, observer_token=obs_token)
    assert emit(clerk, "end")["ok"]
    session.expire_all()
    h = session.get(Hearing, hearing.id)
    assert h.stage == Stage.ENDED and h.ended_at is not None and h.status == "running"
    assert got(watcher, "stage")[-1]["stage"] == "ended"
    kinds = [e.kind for e in session.query(CaseEvent).filter_by(case_id=h.case_id)]
    assert kinds.count("hearing_started") == 1 and kinds.count("hearing_ended") == 1
    assert not any("stage" in k for k in kinds)  # stages are not case events
    assert emit(clerk, "stage", {"direction": "previous"})["ok"] is False
    assert emit(clerk, "bogus")["ok"] is False


def test_observers_and_participants_cannot_control_or_chat(app, session, world,
                                                          live_hearing):
    hearing, tokens, obs_token = live_hearing
    clerk = start(app, world, hearing)
    pet = petitioner(hearing)
    panel_id = next(p.id for p in hearing.participants if p.role == ParticipantRole.PANEL)
    others = [sock(app), sock(app), sock(app)]
    join(others[0], hearing, observer_token=obs_token)
    join(others[1], hearing, token=tokens[pet.id])
    join(others[2], hearing, token=tokens[panel_id])
    for s in others:
        for event, data in [("stage", {"direction": "next"}), ("end", {}),
                            ("speaker", {"action": "add", "participant_id": pet.id}),
                            ("check_in", {"participant_id": pet.id, "state": "absent"}),
                            ("recusal", {"participant_id": pet.id, "answer": "x"}),
                            ("chat", {"text": "hello"})]:
            ack = emit(s, event, data)
            assert ack["ok"] is False and ack["error"], (event, ack)
    session.expire_all()
    h = session.get(Hearing, hearing.id)
    assert h.stage == Stage.OPENING and h.ended_at is None
    assert session.query(Speaker).filter_by(hearing_id=hearing.id).count() == 0
    assert session.get(Participant, pet.id).recusal_answer is None
    assert session.get(Participant, pet.id).attendance == Attendance.ONLINE
    assert got(clerk, "chat") == []


def test_a_viewer_who_may_not_run_cannot_control(app, session, world, live_hearing):
    hearing, _tokens, _obs = live_hearing
    admin = staff_sock(app, world.admin)
    ack = join(admin, hearing)
    assert ack["ok"] and ack["who"] == "staff" and "minutes" in ack
    assert emit(admin, "start")["ok"] is False
    session.expire_all()
    assert session.get(Hearing, hearing.id).status == "published"


# --- recusal and check-in ---------------------------------------------------------------

def test_recusal_answers_recorded_and_broadcast(app, session, world, live_hearing):
    hearing, tokens, obs_token = live_hearing
    pet = petitioner(hearing)
    party = sock(app)
    join(party, hearing, token=tokens[pet.id])
    watcher = sock(app)
    join(watcher, hearing, observer_token=obs_token)
    clerk = start(app, world, hearing)
    answer = "申请听证员张某回避，理由：曾参与本案调查"
    assert emit(clerk, "recusal", {"participant_id": pet.id, "answer": answer})["ok"]
    session.expire_all()
    assert session.get(Participant, pet.id).recusal_answer == answer
    staff_view = got(clerk, "recusal")[-1]["answers"]
    assert staff_view == [{"id": pet.id, "name": pet.name, "role": "petitioner",
                           "role_label": staff_view[0]["role_label"], "answer": answer}]
    assert got(party, "recusal")[-1]["answers"][0]["answer"] == answer
    assert got(watcher, "recusal") == []  # observers hear it in the room, not as data
    # the panel is not asked; an empty answer or a huge one is refused
    panel_id = next(p.id for p in hearing.participants if p.role == ParticipantRole.PANEL)
    assert emit(clerk, "recusal", {"participant_id": panel_id, "answer": "不申请"})["ok"] is False
    assert emit(clerk, "recusal", {"participant_id": pet.id, "answer": "  "})["ok"] is False
    assert emit(clerk, "recusal", {"participant_id": pet.id, "answer": "x" * 3000})["ok"] is False
    session.expire_all()
    assert session.get(Participant, pet.id).recusal_answer == answer


def test_the_clerk_ticks_attendance_in_the_room(app, session, world, live_hearing):
    hearing, _tokens, _obs = live_hearing
    clerk = start(app, world, hearing)
    panel = [p for p in hearing.participants if p.role == ParticipantRole.PANEL]
    assert emit(clerk, "check_in", {"participant_id": panel[0].id, "state": "in_room"})["ok"]
    session.expire_all()
    p = session.get(Participant, panel[0].id)
    assert p.attendance == Attendance.IN_ROOM and p.checked_in_at is not None
    ack = emit(clerk, "check_in", {"participant_id": panel[0].id, "state": "everywhere"})
    assert ack["ok"] is False
    assert emit(clerk, "check_in", {"participant_id": 999999, "state": "in_room"})["ok"] is False
    latest = {x["id"]: x["attendance"] for x in got(clerk, "attendance")[-1]["people"]}
    assert latest[panel[0].id] == "in_room"


# --- the speaker queue and the countdown -------------------------------------------------

def _t(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def test_speaker_countdown_fields_from_server_time(app, session, world, live_hearing):
    hearing, tokens, obs_token = live_hearing
    pet = petitioner(hearing)
    agency_like = next(p for p in hearing.participants if p.role == ParticipantRole.PANEL)
    watcher = sock(app)
    join(watcher, hearing, observer_token=obs_token)
    clerk = start(app, world, hearing)
    first = emit(clerk, "speaker", {"action": "add", "participant_id": pet.id, "seconds": 120})
    second = emit(clerk, "speaker", {"action": "add", "participant_id": agency_like.id})
    assert first["ok"] and second["ok"]
    queue = got(clerk, "speaker")[-1]
    assert [t["participant_id"] for t in queue["queue"]] == [pet.id, agency_like.id]
    assert queue["queue"][1]["seconds"] == 300  # the rules' default turn
    # reorder: the second goes up
    assert emit(clerk, "speaker", {"action": "up", "speaker_id": second["speaker_id"]})["ok"]
    assert [t["id"] for t in got(clerk, "speaker")[-1]["queue"]] == [second["speaker_id"],
                                                                     first["speaker_id"]]
    assert emit(clerk, "speaker", {"action": "start", "speaker_id": first["speaker_id"]})["ok"]
    state = got(watcher, "speaker")[-1]
    current = state["current"]
    assert current["id"] == first["speaker_id"] and current["running"]
    assert current["seconds"] == 120 and current["used_seconds"] == 0
    # the observer sees the party by role, never by name
    assert current["name"] != pet.name
    server = _t(state["server_time"])
    assert abs((server - utcnow()).total_seconds()) < 5
    assert 0 <= (server - _t(current["started_at"])).total_seconds() < 5
    assert 115 <= current["remaining"] <= 120

    # pause keeps the time used; resume runs on from it
    session.query(Speaker).filter_by(id=first["speaker_id"]).update(
        {"started_at": utcnow() - timedelta(seconds=30)})
    session.commit()
    assert emit(clerk, "speaker", {"action": "pause"})["ok"]
    paused = got(clerk, "speaker")[-1]["current"]
    assert paused["started_at"] is None and 30 <= paused["used_seconds"] <= 32
    assert emit(clerk, "speaker", {"action": "resume"})["ok"]
    resumed = got(clerk, "speaker")[-1]["current"]
    assert resumed["started_at"] and resumed["used_seconds"] == paused["used_seconds"]

    # a reconnect gets the same state (it is in the database)
    again = join(sock(app), hearing, observer_token=obs_token)["speakers"]["current"]
    assert again["id"] == resumed["id"] and again["started_at"] == resumed["started_at"]
    assert again["used_seconds"] == resumed["used_seconds"]

    # overtime is negative
    session.query(Speaker).filter_by(id=first["speaker_id"]).update(
        {"started_at": utcnow() - timedelta(seconds=200)})
    session.commit()
    late = join(staff_sock(app, world.leader), hearing)["speakers"]["current"]
    assert late["remaining"] < 0

    # next: the turn ends, the next begins
    assert emit(clerk, "speaker", {"action": "next"})["ok"]
    after = got(clerk, "speaker")[-1]
    assert after["current"]["id"] == second["speaker_id"] and after["queue"] == []
    session.expire_all()
    assert session.get(Speaker, first["speaker_id"]).ended_at is not None
    assert emit(clerk, "speaker", {"action": "stop"})["ok"]
    assert got(clerk, "speaker")[-1]["current"] is None
    assert emit(clerk, "speaker", {"action": "stop"})["ok"] is False
    assert emit(clerk, "speaker", {"action": "add", "participant_id": pet.id,
                                   "seconds": 99999})["ok"] is False
    assert emit(clerk, "speaker", {"action": "fly"})["ok"] is False


def test_a_stage_change_pauses_the_running_turn(app, session, world, live_hearing):
    hearing, _tokens, _obs = live_hearing
    clerk = start(app, world, hearing)
    pet = petitioner(hearing)
    sid = emit(clerk, "speaker", {"action": "add", "participant_id": pet.id})["speaker_id"]
    emit(clerk, "speaker", {"action": "start"})
    emit(clerk, "stage", {"direction": "next"})
    session.expire_all()
    assert session.get(Speaker, sid).started_at is None
    assert got(clerk, "speaker")[-1]["current"] is None  # the new stage's queue is empty


# --- the re-review clock ------------------------------------------------------------------

def _re_review_case(session, world):
    from portal.casefiles import operations as case_ops
    from portal.casefiles.workflow import transition
    from tests.fixtures.casefiles import new_case

    case, _code = new_case(session, world, received_at=utcnow() - timedelta(days=9))
    transition(session, case, "accept", world.clerk)
    case_ops.assign(session, world.clerk, case, world.police, [world.land])
    transition(session, case, "start_investigation", world.police_officer)
    transition(session, case, "reply", world.police_officer, reason="已书面答复")
    transition(session, case, "request_review", world.clerk)
    transition(session, case, "decide_review", world.clerk, reason="维持")
    transition(session, case, "request_re_review", world.clerk)
    session.commit()
    return case


@pytest.mark.parametrize("re_review", [True, False])
def test_start_pauses_the_re_review_clock_only_on_a_re_review(app, session, world,
                                                              re_review):
    from portal.casefiles import clock_ops

    case = _re_review_case(session, world) if re_review else None
    hearing, _tokens = new_hearing(session, world, case=case, status="published", starts_in=SOON,
                                   kind="re_review" if re_review else "petition",
                                   panel_size=1)
    add_panel(session, hearing, registry(session, world, deputies=1, cppcc=0, experts=0,
                                         lawyers=0))
    start(app, world, hearing)
    session.expire_all()
    h = session.get(Hearing, hearing.id)
    assert clock_ops.is_paused(session, h.case) is re_review


def test_a_panel_member_with_an_account_joins_as_themselves(app, session, world, make_user):
    hearing, tokens = new_hearing(session, world, status="published", panel_size=1,
                                  starts_in=SOON)
    people = registry(session, world, deputies=1, cppcc=0, experts=0, lawyers=0,
                      make_user=make_user)
    add_panel(session, hearing, people)
    member = next(p for p in hearing.participants if p.role == ParticipantRole.PANEL)
    session.commit()
    start(app, world, hearing)
    ack = join(staff_sock(app, member.user), hearing)
    assert ack["ok"] and ack["who"] == "participant" and "minutes" not in ack
    assert ack["me"]["participant_id"] == member.id
    session.expire_all()
    assert session.get(Participant, member.id).attendance == Attendance.ONLINE
    # the presiding officer through their personal link sees the minutes too
    presiding = next(p for p in hearing.participants if p.role == ParticipantRole.PRESIDING)
    assert "minutes" in join(sock(app), hearing, token=tokens[presiding.id])


def test_a_hearing_is_not_started_long_before_its_time(app, session, world):
    """One click on the wrong day opens nothing: more than an hour before its time the
    start is refused with the scheduled time, and the hearing stays published."""
    hearing, _tokens = new_hearing(session, world, status="published",
                                   starts_in=timedelta(hours=2))
    session.commit()
    clerk = staff_sock(app, world.clerk)
    join(clerk, hearing)
    ack = emit(clerk, "start")
    assert ack["ok"] is False and "started from 60 minutes before" in ack["error"]
    session.expire_all()
    assert session.get(Hearing, hearing.id).status == "published"
    assert session.get(Hearing, hearing.id).started_at is None
