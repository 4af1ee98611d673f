"""Scheduling a hearing through the page: the participants it sets up, each refusal with
its message and nothing stored, the urgent path, rescheduling, cancelling, a stale edit,
and whether the hearing stops the case's clock (the re-review's only)."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from hearings import case_clock
from hearings.models import Hearing, HearingStatus, Participant, ParticipantRole
from hearings.operations import notice_deadline
from portal.auth.roles import Role
from portal.casefiles import operations as case_ops
from portal.casefiles.models import CaseEvent
from portal.casefiles.workflow import transition
from tests.fixtures.casefiles import new_case
from tests.fixtures.core import login


def _text(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


def _form(case: Any, world: Any, **over: Any) -> dict[str, Any]:
    day = notice_deadline() + timedelta(days=3)
    data = {"case_id": str(case.id), "kind": "petition", "day": day.isoformat(),
            "starts": "09:00", "ends": "11:30", "place_kind": "room",
            "place": "县信访局听证室", "presiding_id": str(world.leader.id),
            "clerk_id": str(world.clerk.id), "agenda": "核实补偿标准", "is_public": "1",
            "closed_reason": "", "panel_size": "5", "observer_seats": ""}
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


def _hearings(session: Any, case: Any) -> list[Hearing]:
    session.expire_all()
    return list(session.scalars(select(Hearing).where(Hearing.case_id == case.id)))


def _events(session: Any, case: Any, kind: str) -> list[dict[str, Any]]:
    rows = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                   CaseEvent.kind == kind))
    return [json.loads(e.payload) for e in rows]


def test_a_hearing_is_scheduled_with_its_participants(client, session, world):
    case, _code = new_case(session, world)
    transition(session, case, "accept", world.clerk)
    case_ops.assign(session, world.clerk, case, world.land, [])
    session.commit()
    login(client, world.clerk)
    page = _text(client.get(f"/hearings/new?case_id={case.id}"))
    assert "Schedule a hearing" in page and case.number in page
    response = client.post("/hearings/new", data=_form(case, world))
    assert response.status_code == 303, _text(response)[:2000]
    [hearing] = _hearings(session, case)
    assert hearing.status == HearingStatus.SCHEDULED and hearing.ical_sequence == 0
    assert hearing.ical_uid.endswith("@portal") and len(hearing.ical_uid) > 36
    assert hearing.observer_seats == 30  # the rules' default for a public hearing
    # Beijing 09:00 is stored as 01:00 UTC
    assert (hearing.starts_at.hour, hearing.starts_at.minute) == (1, 0)
    roles = {p.role: p for p in session.scalars(select(Participant).where(
        Participant.hearing_id == hearing.id))}
    assert set(roles) == {ParticipantRole.PRESIDING, ParticipantRole.CLERK,
                          ParticipantRole.PETITIONER, ParticipantRole.PARTY,
                          ParticipantRole.AGENCY}
    assert roles[ParticipantRole.PETITIONER].name == "张三"
    assert roles[ParticipantRole.PETITIONER].phone == "13800138000"
    assert roles[ParticipantRole.AGENCY].organisation_id == world.land.id
    assert roles[ParticipantRole.AGENCY].name == world.land.name
    assert all(p.token_hash for p in roles.values())
    [event] = _events(session, case, "hearing_scheduled")
    assert event["public"] is True and event["place"] == "县信访局听证室"
    timeline = _text(client.get(f"/cases/{case.number}"))
    assert "<strong>A hearing was scheduled</strong>" in timeline
    summary = _text(client.get(response.headers["Location"]))
    assert "Inside the notice period" not in summary
    for seen in ("县信访局听证室", world.leader.display_name, "核实补偿标准",
                 "09:00–11:30", "Move the hearing", "Cancel the hearing",
                 "does not stop the case"):
        assert seen in summary, seen


@pytest.mark.parametrize(("over", "message"), [
    ({"panel_size": "6"}, "odd number of members, at least 5"),
    ({"panel_size": "3"}, "odd number of members, at least 5"),
    ({"is_public": "0"}, "needs its reason"),
    ({"ends": "08:00"}, "must end after it starts"),
    ({"place": ""}, "hearing room's name and address"),
])
def test_refusals_say_why_and_store_nothing(client, session, world, over, message):
    case, _code = new_case(session, world)
    login(client, world.clerk)
    response = client.post("/hearings/new", data=_form(case, world, **over))
    assert response.status_code == 400
    text = _text(response)
    assert message in text
    assert 'value="核实补偿标准"' in text or "核实补偿标准" in text  # the input is kept
    assert _hearings(session, case) == []
    assert _events(session, case, "hearing_scheduled") == []


def test_a_past_date_is_refused(client, session, world):
    case, _code = new_case(session, world)
    login(client, world.clerk)
    yesterday = (notice_deadline() - timedelta(days=30)).isoformat()
    response = client.post("/hearings/new", data=_form(
        case, world, day=yesterday, is_urgent="y", urgent_reason="急"))
    assert response.status_code == 400
    assert "must start in the future" in _text(response)
    assert _hearings(session, case) == []


def test_inside_the_notice_period_needs_urgency_and_a_reason(client, session, world):
    case, _code = new_case(session, world)
    login(client, world.clerk)
    soon = (notice_deadline() - timedelta(days=2)).isoformat()
    plain = client.post("/hearings/new", data=_form(case, world, day=soon))
    assert plain.status_code == 400
    assert "at least 7 days before the hearing" in _text(plain)
    bare = client.post("/hearings/new", data=_form(case, world, day=soon, is_urgent="y"))
    assert bare.status_code == 400 and "needs its reason" in _text(bare)
    assert _hearings(session, case) == []
    urgent = client.post("/hearings/new", data=_form(
        case, world, day=soon, is_urgent="y", urgent_reason="信访人即将出国就医"))
    assert urgent.status_code == 303
    [hearing] = _hearings(session, case)
    assert hearing.is_urgent and hearing.urgent_reason == "信访人即将出国就医"
    [event] = _events(session, case, "hearing_scheduled")
    assert event["urgent"] is True and event["reason"] == "信访人即将出国就医"
    assert "Inside the notice period" in _text(client.get(f"/hearings/{hearing.id}"))


def test_a_closed_hearing_has_its_reason_and_no_observer_seats(client, session, world):
    case, _code = new_case(session, world)
    login(client, world.clerk)
    response = client.post("/hearings/new", data=_form(
        case, world, is_public="0", closed_reason="minors", observer_seats="20"))
    assert response.status_code == 303
    [hearing] = _hearings(session, case)
    assert not hearing.is_public and hearing.closed_reason == "minors"
    assert hearing.observer_seats == 0
    assert "Concerns minors" in _text(client.get(f"/hearings/{hearing.id}"))


def test_a_presiding_officer_who_replied_on_the_case_is_refused(client, session, world):
    case, _code = new_case(session, world, is_simple=True)
    transition(session, case, "accept", world.clerk)
    transition(session, case, "reply", world.leader, reason="已当面答复")
    session.commit()
    login(client, world.clerk)
    response = client.post("/hearings/new", data=_form(case, world))
    assert response.status_code == 400
    assert "investigated or replied on this case and may not preside" in _text(response)
    assert _hearings(session, case) == []


def test_a_presiding_officer_from_the_handling_agency_is_refused(client, session, world,
                                                                 make_user):
    both = make_user(Role.LEADER, organisations=[world.office, world.police])
    case, _code = new_case(session, world)
    transition(session, case, "accept", world.clerk)
    case_ops.assign(session, world.clerk, case, world.police, [])
    session.commit()
    login(client, world.clerk)
    response = client.post("/hearings/new", data=_form(case, world,
                                                       presiding_id=str(both.id)))
    assert response.status_code == 400
    assert "works for an agency that handles this case" in _text(response)
    assert _hearings(session, case) == []


def test_a_granted_request_leads_to_its_hearing(client, session, world):
    case, _code = new_case(session, world)
    login(client, world.clerk)
    client.post("/hearings/requests/new", data={"case_number": case.number,
                                                "reason": "请求听证"})
    from hearings.models import HearingRequest

    req = session.scalar(select(HearingRequest).where(HearingRequest.case_id == case.id))
    client.post(f"/hearings/requests/{req.id}", data={"decision": "grant", "text": "同意"})
    page = _text(client.get(f"/hearings/new?request_id={req.id}"))
    assert "On the granted request of" in page
    data = _form(case, world, request_id=str(req.id))
    assert client.post("/hearings/new", data=data).status_code == 303
    [hearing] = _hearings(session, case)
    assert hearing.request_id == req.id


def test_someone_without_the_case_may_not_schedule(client, session, world):
    case, _code = new_case(session, world)
    login(client, world.other_clerk)
    assert client.get(f"/hearings/new?case_id={case.id}").status_code == 404
    assert client.post("/hearings/new", data=_form(case, world)).status_code == 404
    assert _hearings(session, case) == []


def _scheduled(client: Any, session: Any, world: Any) -> tuple[Any, Hearing]:
    case, _code = new_case(session, world)
    login(client, world.clerk)
    assert client.post("/hearings/new", data=_form(case, world)).status_code == 303
    [hearing] = _hearings(session, case)
    return case, hearing


def _edit_form(page: str) -> dict[str, str]:
    return {"version": re.search(r'name="version"[^>]*value="(\d+)"', page).group(1)}


def test_rescheduling_raises_the_sequence_and_is_on_the_file(client, session, world):
    case, hearing = _scheduled(client, session, world)
    page = _text(client.get(f"/hearings/{hearing.id}/edit"))
    assert 'value="县信访局听证室"' in page
    later = (notice_deadline() + timedelta(days=10)).isoformat()
    data = {**_edit_form(page), "day": later, "starts": "14:00", "ends": "16:00",
            "place_kind": "both", "place": "县信访局二楼会议室"}
    response = client.post(f"/hearings/{hearing.id}/edit", data=data)
    assert response.status_code == 303
    [moved] = _hearings(session, case)
    assert moved.ical_sequence == 1 and moved.place == "县信访局二楼会议室"
    [event] = _events(session, case, "hearing_rescheduled")
    assert event["before"]["place"] == "县信访局听证室"
    # the same page sent again: its version is stale → 409, the input kept
    stale = client.post(f"/hearings/{hearing.id}/edit", data={**data, "starts": "15:00"})
    assert stale.status_code == 409
    text = _text(stale)
    assert "Someone else changed this hearing meanwhile" in text
    assert 'value="15:00"' in text
    assert _hearings(session, case)[0].ical_sequence == 1


def test_cancelling_needs_a_reason_and_is_on_the_file(client, session, world):
    case, hearing = _scheduled(client, session, world)
    page = _text(client.get(f"/hearings/{hearing.id}"))
    assert "data-confirm=" in page
    empty = client.post(f"/hearings/{hearing.id}/cancel", data={"reason": ""})
    assert empty.status_code == 303
    assert _hearings(session, case)[0].status == HearingStatus.SCHEDULED
    assert "Give the reason for cancelling" in _text(client.get(f"/hearings/{hearing.id}"))
    done = client.post(f"/hearings/{hearing.id}/cancel", data={"reason": "信访人撤回请求"})
    assert done.status_code == 303
    [cancelled] = _hearings(session, case)
    assert cancelled.status == HearingStatus.CANCELLED
    assert cancelled.cancel_reason == "信访人撤回请求"
    assert _events(session, case, "hearing_cancelled")[0]["reason"] == "信访人撤回请求"
    page = _text(client.get(f"/hearings/{hearing.id}"))
    assert "信访人撤回请求" in page and "Move the hearing" not in page
    assert client.get(f"/hearings/{hearing.id}/edit").status_code == 302
    assert "Only a hearing that has not started" in _text(
        client.get(f"/hearings/{hearing.id}"))
    again = client.post(f"/hearings/{hearing.id}/cancel", data={"reason": "再次"})
    assert again.status_code == 303
    assert _hearings(session, case)[0].cancel_reason == "信访人撤回请求"


def test_a_supervisor_sees_but_may_not_change(client, session, world):
    case, hearing = _scheduled(client, session, world)
    client.post("/logout")
    login(client, world.supervisor)
    page = _text(client.get(f"/hearings/{hearing.id}"))
    assert "Move the hearing" not in page
    assert client.post(f"/hearings/{hearing.id}/cancel",
                       data={"reason": "x"}).status_code == 403
    assert _hearings(session, case)[0].status == HearingStatus.SCHEDULED


def _in_re_review(session: Any, world: Any) -> Any:
    case, _code = new_case(session, world)
    transition(session, case, "accept", world.clerk)
    case_ops.assign(session, world.clerk, case, world.police, [])
    transition(session, case, "start_investigation", world.police_officer)
    transition(session, case, "reply", world.police_officer, reason="已书面答复")
    transition(session, case, "request_review", world.clerk)
    transition(session, case, "decide_review", world.clerk, reason="维持")
    transition(session, case, "request_re_review", world.clerk)
    session.commit()
    return case


def test_a_hearing_stops_only_the_re_review_clock(client, session, world):
    case = _in_re_review(session, world)
    login(client, world.clerk)
    assert client.post("/hearings/new", data=_form(case, world,
                                                   kind="re_review")).status_code == 303
    [hearing] = _hearings(session, case)
    assert case_clock.pauses_for_hearing(session, hearing) is True
    page = _text(client.get(f"/hearings/{hearing.id}"))
    assert "The re-review period stops while the hearing runs" in page

    other, _code = new_case(session, world)
    assert client.post("/hearings/new", data=_form(other, world)).status_code == 303
    [plain] = _hearings(session, other)
    assert case_clock.pauses_for_hearing(session, plain) is False


def test_nothing_changes_on_a_get(client, session, world):
    case, hearing = _scheduled(client, session, world)
    count = session.scalar(select(func.count()).select_from(CaseEvent))
    for url in (f"/hearings/{hearing.id}", f"/hearings/{hearing.id}/edit",
                f"/hearings/new?case_id={case.id}", "/hearings/", "/hearings/requests"):
        assert client.get(url).status_code == 200, url
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(CaseEvent)) == count
    assert _hearings(session, case)[0].version == hearing.version


def test_the_form_sent_twice_schedules_once(client, session, world):
    case, _code = new_case(session, world)
    login(client, world.clerk)
    page = _text(client.get(f"/hearings/new?case_id={case.id}"))
    key = re.search(r'name="idempotency_key"[^>]*value="([^"]+)"', page).group(1)
    data = _form(case, world, idempotency_key=key)
    first = client.post("/hearings/new", data=data)
    second = client.post("/hearings/new", data=data)
    assert first.status_code == 303 and second.status_code in (302, 303)
    assert second.headers["Location"] == first.headers["Location"]
    assert len(_hearings(session, case)) == 1


def test_a_county_leader_is_offered_and_may_preside(client, session, world, make_user):
    """The office's clerks and leaders and the county's leaders are offered (the demo's
    presiding officer belongs to the county): the clerk can schedule with them."""
    county_leader = make_user(Role.LEADER, organisations=[world.county],
                              display_name="县领导甲")
    county_clerk = make_user(Role.CLERK, organisations=[world.county],
                             display_name="县书记员乙")
    other_leader = world.other_leader
    case, _code = new_case(session, world)
    transition(session, case, "accept", world.clerk)
    session.commit()
    login(client, world.clerk)
    page = _text(client.get(f"/hearings/new?case_id={case.id}"))
    assert f'value="{county_leader.id}"' in page
    assert f'value="{county_clerk.id}"' not in page
    assert f'value="{other_leader.id}"' not in page
    answer = client.post("/hearings/new", data=_form(
        case, world, presiding_id=str(county_leader.id), idempotency_key="k-county"))
    assert answer.status_code == 303, _text(answer)
    assert _hearings(session, case)[0].presiding_id == county_leader.id
