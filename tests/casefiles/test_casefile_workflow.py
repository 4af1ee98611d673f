"""The state machine: every allowed transition, every impossible one, who may take each,
the guards (simple handling, one extension, instructions), and a whole journey."""

from __future__ import annotations

import itertools
from datetime import date

import pytest
from sqlalchemy import select

from portal.auth.roles import Role
from portal.casefiles import operations as ops
from portal.casefiles.models import (
    STATUS_LABELS,
    AccessGrant,
    Assignment,
    Case,
    CaseEvent,
    Status,
)
from portal.casefiles.timeline import append_event, payload_of, verify_case
from portal.casefiles.workflow import (
    ACTION_LABELS,
    OPEN,
    TRANSITIONS,
    WORKING,
    Action,
    TransitionForbidden,
    TransitionRefused,
    allowed_actions,
    check,
    transition,
)
from tests.fixtures.casefiles import new_case

S, A = Status, Action
OFFICE_CLERK = {"clerk", "admin"}
#: who may take each step, written out by hand (the spec the table must meet)
EXPECTED: dict[tuple[Status, Action], set[str]] = {
    (S.REGISTERED, A.ACCEPT): OFFICE_CLERK,
    (S.REGISTERED, A.NOT_ACCEPT): OFFICE_CLERK,
    (S.NOT_ACCEPTED, A.CLOSE): OFFICE_CLERK,
    (S.ACCEPTED, A.ASSIGN): OFFICE_CLERK,
    (S.ACCEPTED, A.REPLY): {"clerk", "leader", "admin", "resp_leader"},
    (S.ACCEPTED, A.SUBMIT_REPLY): {"clerk", "leader", "admin"},
    (S.ASSIGNED, A.DECLINE): {"lead_officer"},
    (S.ASSIGNED, A.START_INVESTIGATION): {"lead_officer"},
    (S.INVESTIGATING, A.REPLY): {"clerk", "admin", "lead_officer", "resp_leader"},
    (S.INVESTIGATING, A.SUBMIT_REPLY): {"clerk", "admin", "lead_officer"},
    (S.REPLY_SUBMITTED, A.SIGN_OFF_REPLY): {"resp_leader"},
    (S.REPLY_SUBMITTED, A.SEND_BACK_REPLY): {"resp_leader"},
    (S.REPLIED, A.RETURN_REPLY): {"supervisor", "leader", "admin", "resp_leader"},
    (S.REPLIED, A.REQUEST_REVIEW): OFFICE_CLERK,
    (S.REPLIED, A.CLOSE): OFFICE_CLERK,
    (S.REVIEW_REQUESTED, A.DECIDE_REVIEW): {"clerk", "leader", "admin", "co_manager"},
    (S.REVIEWED, A.RETURN_REPLY): {"supervisor", "leader", "admin", "resp_leader"},
    (S.REVIEWED, A.REQUEST_RE_REVIEW): OFFICE_CLERK,
    (S.REVIEWED, A.CLOSE): OFFICE_CLERK,
    (S.RE_REVIEW_REQUESTED, A.DECIDE_RE_REVIEW): {"clerk", "leader", "admin", "co_manager"},
    (S.RE_REVIEWED, A.CLOSE): OFFICE_CLERK,
    (S.CLOSED, A.ARCHIVE): OFFICE_CLERK,
}
for _s in WORKING:
    EXPECTED[(_s, A.REQUEST_INSTRUCTIONS)] = {"clerk", "admin", "lead_officer", "co_manager"}
    EXPECTED[(_s, A.GIVE_INSTRUCTIONS)] = {"leader", "admin", "resp_leader"}
for _s in (S.ASSIGNED, S.INVESTIGATING):
    EXPECTED[(_s, A.REQUEST_EXTENSION)] = {"clerk", "admin", "lead_officer"}
    EXPECTED[(_s, A.EXTEND)] = {"leader", "admin", "resp_leader"}
    EXPECTED[(_s, A.REFUSE_EXTENSION)] = {"leader", "admin", "resp_leader"}
for _s in OPEN:
    EXPECTED[(_s, A.SUPERVISE)] = {"supervisor", "admin"}

EXPECTED_TARGET = {
    (S.REGISTERED, A.ACCEPT): S.ACCEPTED, (S.REGISTERED, A.NOT_ACCEPT): S.NOT_ACCEPTED,
    (S.NOT_ACCEPTED, A.CLOSE): S.CLOSED, (S.ACCEPTED, A.ASSIGN): S.ASSIGNED,
    (S.ACCEPTED, A.REPLY): S.REPLIED, (S.ASSIGNED, A.DECLINE): S.ACCEPTED,
    (S.ASSIGNED, A.START_INVESTIGATION): S.INVESTIGATING,
    (S.INVESTIGATING, A.REPLY): S.REPLIED, (S.REPLIED, A.RETURN_REPLY): S.INVESTIGATING,
    (S.ACCEPTED, A.SUBMIT_REPLY): S.REPLY_SUBMITTED,
    (S.INVESTIGATING, A.SUBMIT_REPLY): S.REPLY_SUBMITTED,
    (S.REPLY_SUBMITTED, A.SIGN_OFF_REPLY): S.REPLIED,
    (S.REPLY_SUBMITTED, A.SEND_BACK_REPLY): S.INVESTIGATING,
    (S.REPLIED, A.REQUEST_REVIEW): S.REVIEW_REQUESTED, (S.REPLIED, A.CLOSE): S.CLOSED,
    (S.REVIEW_REQUESTED, A.DECIDE_REVIEW): S.REVIEWED,
    (S.REVIEWED, A.RETURN_REPLY): S.REVIEW_REQUESTED,
    (S.REVIEWED, A.REQUEST_RE_REVIEW): S.RE_REVIEW_REQUESTED, (S.REVIEWED, A.CLOSE): S.CLOSED,
    (S.RE_REVIEW_REQUESTED, A.DECIDE_RE_REVIEW): S.RE_REVIEWED,
    (S.RE_REVIEWED, A.CLOSE): S.CLOSED, (S.CLOSED, A.ARCHIVE): S.ARCHIVED,
}
ROSTER = ["clerk", "leader", "supervisor", "admin", "other_clerk", "resp_leader",
          "lead_officer", "co_manager", "viewer", "stranger", "deputy"]
RULES = sorted(TRANSITIONS.values(), key=lambda r: (r.source, r.action))
IMPOSSIBLE = [(s, a) for s, a in itertools.product(Status, Action) if (s, a) not in TRANSITIONS]


def _id(rule) -> str:
    return f"{rule.source}-{rule.action}"


@pytest.fixture()
def staged(session, world, make_user, make_org):
    """A simple case with police as the lead agency (contribute), land as co-agency with
    a manage grant, labour with view, another leader as the responsible leader; and a
    roster of users by name. `put(status)` moves the case there directly."""
    case, _ = new_case(session, world, is_simple=True)
    session.add(Assignment(case=case, organisation_id=world.police.id, is_lead=True,
                           status="open", due_on=date(2026, 6, 1)))
    session.add(Assignment(case=case, organisation_id=world.land.id, is_lead=False,
                           status="open"))
    for org, level in [(world.police, "contribute"), (world.land, "manage"),
                       (world.outsider_agency, "view")]:
        session.add(AccessGrant(case=case, organisation_id=org.id, level=level))
    case.leader_id = world.other_leader.id
    session.commit()
    session.refresh(case)
    stranger_org = make_org(None, "agency", world.county)
    roster = {
        "clerk": world.clerk, "leader": world.leader, "supervisor": world.supervisor,
        "admin": world.admin, "other_clerk": world.other_clerk,
        "resp_leader": world.other_leader, "lead_officer": world.police_officer,
        "co_manager": world.land_officer, "viewer": world.outsider_officer,
        "stranger": make_user(Role.AGENCY, organisations=[stranger_org]),
        "deputy": world.deputy,
    }

    def put(status: Status) -> Case:
        case.status = status
        session.commit()
        return case

    return case, roster, put


def test_the_table_is_what_the_spec_says():
    assert {k: r.target for k, r in TRANSITIONS.items()
            if k in EXPECTED_TARGET} == EXPECTED_TARGET
    assert set(TRANSITIONS) == set(EXPECTED)
    for (source, action), rule in TRANSITIONS.items():
        if (source, action) not in EXPECTED_TARGET:  # the self-loops
            assert rule.target == source


@pytest.mark.parametrize("rule", RULES, ids=_id)
def test_who_may_take_each_step(session, staged, rule):
    case, roster, put = staged
    put(rule.source)
    allowed = set()
    for name in ROSTER:
        try:
            check(case, rule.action, roster[name], reason="because")
            allowed.add(name)
        except TransitionForbidden:
            pass
    assert allowed == EXPECTED[(rule.source, rule.action)]


@pytest.mark.parametrize("rule", RULES, ids=_id)
def test_every_allowed_transition(session, world, staged, rule):
    case, roster, put = staged
    put(rule.source)
    actor = roster[sorted(EXPECTED[(rule.source, rule.action)])[0]]
    if rule.action == A.REPLY:  # the case has a responsible leader: they sign replies
        actor = roster["resp_leader"]
    if rule.action == A.GIVE_INSTRUCTIONS:
        append_event(session, case, "workflow.request_instructions", world.clerk,
                     {"reason": "如何处理?"})
    if rule.action in (A.EXTEND, A.REFUSE_EXTENSION):
        append_event(session, case, "workflow.request_extension", world.police_officer,
                     {"reason": "需要鉴定", "days": 30})
    before = session.scalar(select(CaseEvent.seq).where(CaseEvent.case_id == case.id)
                            .order_by(CaseEvent.seq.desc()).limit(1))
    transition(session, case, rule.action, actor, reason="理由")
    session.commit()
    assert case.status == rule.target
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                     CaseEvent.seq > before)
                             .order_by(CaseEvent.seq)).all()
    assert events[0].kind == f"workflow.{rule.action}"
    assert events[0].actor_id == actor.id
    data = payload_of(events[0])
    assert (data["from"], data["to"], data["reason"]) == (rule.source, rule.target, "理由")
    assert verify_case(session, case) is None


@pytest.mark.parametrize(("state", "action"), IMPOSSIBLE, ids=[f"{s}-{a}" for s, a in IMPOSSIBLE])
def test_every_impossible_transition_is_refused_naming_state_and_action(app, state, action):
    with app.app_context():
        case = Case(number="2026-XF-000042", status=state, office_id=1)
        with pytest.raises(TransitionRefused) as refused:
            transition(None, case, action, object(), reason="x")  # type: ignore[arg-type]
        message = str(refused.value)
        assert "2026-XF-000042" in message
        assert str(STATUS_LABELS[state]) in message
        assert str(ACTION_LABELS[action]) in message
        assert not isinstance(refused.value, TransitionForbidden)
        assert case.status == state


def test_unknown_action_is_refused(app):
    with app.app_context():
        case = Case(number="2026-XF-000042", status="registered", office_id=1)
        with pytest.raises(TransitionRefused, match="fly"):
            transition(None, case, "fly", object())  # type: ignore[arg-type]


def test_forbidden_actor_changes_nothing_and_records_nothing(session, staged):
    case, roster, put = staged
    put(S.REPLIED)
    count = len(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)).all())
    for name in ("lead_officer", "viewer", "stranger", "other_clerk", "deputy"):
        with pytest.raises(TransitionForbidden) as refused:
            transition(session, case, A.CLOSE, roster[name])
        assert refused.value.status == 403
    assert case.status == S.REPLIED
    assert len(session.scalars(select(CaseEvent)
                               .where(CaseEvent.case_id == case.id)).all()) == count


def test_reasons_are_required_where_they_matter(session, staged):
    case, roster, put = staged
    with pytest.raises(TransitionRefused, match="reason"):
        transition(session, case, A.NOT_ACCEPT, roster["clerk"], reason="  ")
    put(S.REPLIED)
    with pytest.raises(TransitionRefused, match="reason"):
        transition(session, case, A.RETURN_REPLY, roster["supervisor"])


def test_simple_handling_only_for_simple_cases(session, world):
    case, _ = new_case(session, world, is_simple=False)
    transition(session, case, A.ACCEPT, world.clerk)
    with pytest.raises(TransitionRefused, match="simple"):
        transition(session, case, A.REPLY, world.clerk)
    assert A.REPLY not in allowed_actions(case, world.clerk)
    case.is_simple = True
    assert A.REPLY in allowed_actions(case, world.clerk)
    transition(session, case, A.REPLY, world.clerk, reason="当场答复")
    assert case.status == S.REPLIED


def test_assign_action_needs_the_assign_operation(session, world):
    case, _ = new_case(session, world)
    transition(session, case, A.ACCEPT, world.clerk)
    with pytest.raises(TransitionRefused, match="lead agency"):
        transition(session, case, A.ASSIGN, world.clerk)
    assert A.ASSIGN not in allowed_actions(case, world.clerk)


def test_one_extension_and_instructions_need_a_request(session, staged, world):
    case, roster, put = staged
    put(S.INVESTIGATING)
    with pytest.raises(TransitionRefused, match="asked"):
        transition(session, case, A.GIVE_INSTRUCTIONS, roster["leader"], reason="按政策办")
    transition(session, case, A.REQUEST_INSTRUCTIONS, roster["lead_officer"], reason="请示")
    transition(session, case, A.GIVE_INSTRUCTIONS, roster["resp_leader"], reason="按政策办")
    with pytest.raises(TransitionRefused, match="asked for an extension"):
        transition(session, case, A.EXTEND, roster["resp_leader"])
    transition(session, case, A.REQUEST_EXTENSION, roster["lead_officer"], reason="案情复杂",
               payload={"days": 20})
    with pytest.raises(TransitionRefused, match="already been asked"):
        transition(session, case, A.REQUEST_EXTENSION, roster["clerk"], reason="再申请")
    with pytest.raises(TransitionRefused):
        transition(session, case, A.EXTEND, roster["leader"], reason="x", payload={"days": 0})
    transition(session, case, A.EXTEND, roster["resp_leader"])
    with pytest.raises(TransitionRefused, match="once"):
        transition(session, case, A.REQUEST_EXTENSION, roster["lead_officer"], reason="再延")
    assert case.status == S.INVESTIGATING
    events = list(session.scalars(select(CaseEvent).where(
        CaseEvent.case_id == case.id).order_by(CaseEvent.seq)))[-4:]
    assert [e.kind for e in events] == [
        "workflow.request_instructions", "workflow.give_instructions",
        "workflow.request_extension", "workflow.extend"]
    assert payload_of(events[-1])["days"] == 20  # the days asked for


def test_a_whole_journey_to_the_archive_with_three_level_finality(session, world):
    case, _ = new_case(session, world)
    case.leader_id = world.leader.id
    transition(session, case, A.ACCEPT, world.clerk)
    ops.assign(session, world.clerk, case, world.police, [world.land], "交办函")
    assert allowed_actions(case, world.police_officer) == [
        A.DECLINE, A.START_INVESTIGATION, A.REQUEST_INSTRUCTIONS, A.REQUEST_EXTENSION]
    assert allowed_actions(case, world.land_officer) == [A.REQUEST_INSTRUCTIONS]
    assert allowed_actions(case, world.outsider_officer) == []
    transition(session, case, A.START_INVESTIGATION, world.police_officer)
    with pytest.raises(TransitionRefused, match="sign-off"):
        transition(session, case, A.REPLY, world.police_officer, reason="答复意见书")
    transition(session, case, A.SUBMIT_REPLY, world.police_officer, reason="答复意见书")
    assert case.status == S.REPLY_SUBMITTED
    transition(session, case, A.SIGN_OFF_REPLY, world.leader)
    assert case.status == S.REPLIED
    assert case.lead_assignment.status == "replied"
    transition(session, case, A.RETURN_REPLY, world.supervisor, reason="答复未回应补偿标准")
    assert case.status == S.INVESTIGATING and case.lead_assignment.status == "open"
    transition(session, case, A.SUBMIT_REPLY, world.police_officer, reason="补充答复")
    transition(session, case, A.SEND_BACK_REPLY, world.leader, reason="补偿标准写清楚")
    assert case.status == S.INVESTIGATING
    transition(session, case, A.SUBMIT_REPLY, world.police_officer, reason="补充答复（修改）")
    transition(session, case, A.SIGN_OFF_REPLY, world.leader)
    transition(session, case, A.REQUEST_REVIEW, world.clerk, reason="信访人不服")
    transition(session, case, A.DECIDE_REVIEW, world.leader, reason="维持")
    transition(session, case, A.REQUEST_RE_REVIEW, world.clerk, reason="仍不服")
    assert not case.is_final
    transition(session, case, A.DECIDE_RE_REVIEW, world.leader, reason="维持")
    assert case.is_final
    transition(session, case, A.CLOSE, world.clerk)
    transition(session, case, A.ARCHIVE, world.clerk)
    session.commit()
    assert case.status == S.ARCHIVED
    assert allowed_actions(case, world.clerk) == []
    kinds = [e.kind for e in session.scalars(select(CaseEvent).where(
        CaseEvent.case_id == case.id).order_by(CaseEvent.seq))]
    assert "case.final" in kinds and kinds[-1] == "workflow.archive"
    assert verify_case(session, case) is None
    with pytest.raises(Exception, match="archived"):
        ops.add_document(session, world.clerk, case, title="x", data=b"x",
                         original_name="x.txt", media_type="text/plain")
