"""The procedure as an explicit state machine.

    registered ──accept──▶ accepted ──assign──▶ assigned ──start_investigation──▶ investigating
        │                     │  ▲                  │                                   │
        │ not_accept          │  └────decline───────┘ (the agency objects: not its matter)
        ▼                     │ reply (简易办理: simple cases only)                    reply
    not_accepted ─close─▶     ▼                                                         ▼
                           replied ◀───────────────────────────────────────────────────┘
                              │ request_review                ▲ return_reply → investigating
                              ▼                                (退回: an unsatisfactory reply)
                       review_requested ─decide_review─▶ reviewed ─request_re_review─▶
                       re_review_requested ─decide_re_review─▶ re_reviewed (三级终结)
    replied / reviewed / re_reviewed / not_accepted ──close──▶ closed ──archive──▶ archived

Self-loops that record an event without changing the state: request_instructions (请示)
and give_instructions (批示) at the working steps, extend (延期, once, by the leader)
while the agency works, supervise (督办) at any open step. A return (退回) sends a
replied case back to investigating, or a reviewed case back to review_requested.

Sign-off (审签): on a case with a responsible leader (and the `reply_sign_off` setting
on, the default), a reply the agency or the office writes is submitted (submit_reply →
reply_submitted); the responsible leader signs it off (sign_off_reply → replied: the
`workflow.reply` event, which stops the reply clock, is appended with the submitted text)
or sends it back with a reason (send_back_reply → the step it was submitted from). The
responsible leader's own reply needs no sign-off. A reply needs its text or a document.

Extensions: the lead agency (or the office) asks for one with a reason and the days
(request_extension); a leader approves (extend, with the days asked for) or refuses
(refuse_extension, with a reason). One extension per case; one open request at a time.

Urgent cases (急案) follow the same states: the flag shortens the clocks in
deadlines.py. Simple cases (简易办理) may be replied to by the office straight after
acceptance. Admin may do whatever the registering office's staff may do.

`TRANSITIONS` maps (state, action) to a Rule: the next state and who may take it.
`transition()` refuses anything else with TransitionRefused (TransitionForbidden when
the state allows it but the user may not), and appends a `workflow.<action>` event
recording who, when and why."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app, has_app_context
from flask_babel import LazyString
from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session

from portal.auth.roles import Role
from portal.casefiles import permissions as perm
from portal.casefiles.models import (
    STATUS_LABELS,
    AssignmentStatus,
    Case,
    CaseEvent,
    GrantLevel,
    Status,
)
from portal.casefiles.timeline import append_event, payload_of
from portal.enums import LabelledStrEnum, labels
from portal.errors import DomainError
from portal.i18n import lazy_gettext as _l
from portal.timeutil import utcnow


class Action(LabelledStrEnum):
    ACCEPT = "accept", _l("Accept")  # 受理
    NOT_ACCEPT = "not_accept", _l("Do not accept")  # 不予受理
    ASSIGN = "assign", _l("Assign to agencies")  # 交办/转办 (through operations.assign)
    DECLINE = "decline", _l("Decline the assignment")  # 承办单位异议: not our matter
    START_INVESTIGATION = "start_investigation", _l("Start investigating")  # 调查
    REPLY = "reply", _l("Reply")  # 答复
    RETURN_REPLY = "return_reply", _l("Return the reply")  # 退回
    REQUEST_REVIEW = "request_review", _l("Record a request for review")  # 申请复查
    DECIDE_REVIEW = "decide_review", _l("Record the review decision")  # 复查意见
    REQUEST_RE_REVIEW = "request_re_review", _l("Record a request for re-review")  # 申请复核
    DECIDE_RE_REVIEW = "decide_re_review", _l("Record the re-review decision")  # 复核意见
    CLOSE = "close", _l("Close")  # 终结/结案
    ARCHIVE = "archive", _l("Archive")  # 归档
    REQUEST_INSTRUCTIONS = "request_instructions", _l("Ask for instructions")  # 请示
    GIVE_INSTRUCTIONS = "give_instructions", _l("Give instructions")  # 批示
    EXTEND = "extend", _l("Approve the extension")  # 延期 (approved by the leader)
    SUPERVISE = "supervise", _l("Issue a supervision notice")  # 督办
    SUBMIT_REPLY = "submit_reply", _l("Submit the reply for sign-off")  # 答复报审
    SIGN_OFF_REPLY = "sign_off_reply", _l("Sign off the reply")  # 审签同意
    SEND_BACK_REPLY = "send_back_reply", _l("Send the reply back")  # 审签退回
    REQUEST_EXTENSION = "request_extension", _l("Ask for an extension")  # 申请延期
    REFUSE_EXTENSION = "refuse_extension", _l("Refuse the extension")  # 不同意延期


ACTION_LABELS: dict[Action, LazyString] = labels(Action)


class TransitionRefused(DomainError):
    """The action is not possible in the case's current state (or its conditions fail)."""

    status = 409


class TransitionForbidden(TransitionRefused):
    """The action is possible, but not for this user."""

    status = 403


#: a further condition on (session, case, the acting user): why not, or None
Guard = Callable[[Session, Case, Any], "LazyString | str | None"]


@dataclass(frozen=True)
class Rule:
    source: Status
    action: Action
    target: Status
    #: staff of the registering office holding one of these roles (and admin)
    office_roles: frozenset[Role] = frozenset()
    #: the case's responsible leader (包案领导)
    leader: bool = False
    #: agency officers whose organisation holds at least this grant
    grant: GrantLevel | None = None
    #: ... and only the lead agency's officers
    lead_only: bool = False
    reason_required: bool = False
    #: a further condition; returns why not, or None
    guard: Guard | None = None


CLERK = frozenset({Role.CLERK})
CLERK_OR_LEADER = frozenset({Role.CLERK, Role.LEADER})
LEADER = frozenset({Role.LEADER})
SUPERVISOR_OR_LEADER = frozenset({Role.SUPERVISOR, Role.LEADER})
SUPERVISOR = frozenset({Role.SUPERVISOR})


def _simple_only(session: Session, case: Case, actor: Any = None) -> LazyString | None:
    if not case.is_simple:
        return _l("Only a case marked for simple handling may be replied to without "
                  "assignment.")
    return None


def _needs_lead_assignment(session: Session, case: Case, actor: Any = None
                           ) -> LazyString | None:
    if case.lead_assignment is None or case.lead_assignment.status != AssignmentStatus.OPEN:
        return _l("Assign the case to a lead agency first.")
    return None


def _count(session: Session, case: Case, action: Action) -> int:
    return session.scalar(select(func.count()).select_from(CaseEvent).where(
        CaseEvent.case_id == case.id, CaseEvent.kind == f"workflow.{action}")) or 0


def _once(session: Session, case: Case, actor: Any = None) -> LazyString | None:
    if _count(session, case, Action.EXTEND):
        return _l("The time limit has already been extended once.")
    return None


def extension_requested(session: Session, case: Case) -> bool:
    """An extension was asked for and not yet approved or refused."""
    return _count(session, case, Action.REQUEST_EXTENSION) > (
        _count(session, case, Action.EXTEND) + _count(session, case, Action.REFUSE_EXTENSION))


def _may_request_extension(session: Session, case: Case, actor: Any = None
                           ) -> LazyString | None:
    if extension_requested(session, case):
        return _l("An extension has already been asked for: the leader has not answered yet.")
    return _once(session, case)


def _extension_asked(session: Session, case: Case, actor: Any = None) -> LazyString | None:
    if not extension_requested(session, case):
        return _l("Nobody has asked for an extension of this case.")
    return None


def sign_off_required(case: Case) -> bool:
    """Whether a reply on `case` goes to its responsible leader for sign-off first: the
    case has a leader and the `reply_sign_off` setting is on (the default)."""
    if case.leader_id is None:
        return False
    if has_app_context():
        settings = current_app.extensions.get("portal.settings")
        return bool(getattr(settings, "reply_sign_off", True))
    return True


def _reply_without_sign_off(session: Session, case: Case, actor: Any = None
                            ) -> LazyString | None:
    if sign_off_required(case) and not perm.is_responsible_leader(actor, case):
        return _l("The responsible leader signs off replies on this case: submit the reply "
                  "for sign-off.")
    return None


def _simple_reply(session: Session, case: Case, actor: Any = None) -> LazyString | None:
    return _simple_only(session, case) or _reply_without_sign_off(session, case, actor)


def _submit_needed(session: Session, case: Case, actor: Any = None) -> LazyString | None:
    if not sign_off_required(case):
        return _l("Replies on this case need no sign-off: give the reply.")
    if perm.is_responsible_leader(actor, case):
        return _l("You are the responsible leader: give the reply yourself.")
    return None


def _simple_submit(session: Session, case: Case, actor: Any = None) -> LazyString | None:
    return _simple_only(session, case) or _submit_needed(session, case, actor)


def _open_request(session: Session, case: Case, actor: Any = None) -> LazyString | None:
    asked = _count(session, case, Action.REQUEST_INSTRUCTIONS)
    if asked <= _count(session, case, Action.GIVE_INSTRUCTIONS):
        return _l("Nobody has asked for instructions on this case.")
    return None


S, A = Status, Action
_RULES = [
    Rule(S.REGISTERED, A.ACCEPT, S.ACCEPTED, office_roles=CLERK),
    Rule(S.REGISTERED, A.NOT_ACCEPT, S.NOT_ACCEPTED, office_roles=CLERK, reason_required=True),
    Rule(S.NOT_ACCEPTED, A.CLOSE, S.CLOSED, office_roles=CLERK),
    Rule(S.ACCEPTED, A.ASSIGN, S.ASSIGNED, office_roles=CLERK, guard=_needs_lead_assignment),
    Rule(S.ACCEPTED, A.REPLY, S.REPLIED, office_roles=CLERK_OR_LEADER, leader=True,
         guard=_simple_reply),
    Rule(S.ACCEPTED, A.SUBMIT_REPLY, S.REPLY_SUBMITTED, office_roles=CLERK_OR_LEADER,
         guard=_simple_submit),
    Rule(S.ASSIGNED, A.DECLINE, S.ACCEPTED, grant=GrantLevel.CONTRIBUTE, lead_only=True,
         reason_required=True),
    Rule(S.ASSIGNED, A.START_INVESTIGATION, S.INVESTIGATING, grant=GrantLevel.CONTRIBUTE,
         lead_only=True),
    # the office may also record a reply the agency sent on paper
    Rule(S.INVESTIGATING, A.REPLY, S.REPLIED, office_roles=CLERK, leader=True,
         grant=GrantLevel.CONTRIBUTE, lead_only=True, guard=_reply_without_sign_off),
    Rule(S.INVESTIGATING, A.SUBMIT_REPLY, S.REPLY_SUBMITTED, office_roles=CLERK,
         grant=GrantLevel.CONTRIBUTE, lead_only=True, guard=_submit_needed),
    # the responsible leader signs off (the reply goes out) or sends it back to the step
    # it was submitted from (transition() reads it from the submission)
    Rule(S.REPLY_SUBMITTED, A.SIGN_OFF_REPLY, S.REPLIED, leader=True),
    Rule(S.REPLY_SUBMITTED, A.SEND_BACK_REPLY, S.INVESTIGATING, leader=True,
         reason_required=True),
    Rule(S.REPLIED, A.RETURN_REPLY, S.INVESTIGATING, office_roles=SUPERVISOR_OR_LEADER,
         leader=True, reason_required=True),
    Rule(S.REPLIED, A.REQUEST_REVIEW, S.REVIEW_REQUESTED, office_roles=CLERK),
    Rule(S.REPLIED, A.CLOSE, S.CLOSED, office_roles=CLERK),
    Rule(S.REVIEW_REQUESTED, A.DECIDE_REVIEW, S.REVIEWED, office_roles=CLERK_OR_LEADER,
         grant=GrantLevel.MANAGE),
    Rule(S.REVIEWED, A.RETURN_REPLY, S.REVIEW_REQUESTED, office_roles=SUPERVISOR_OR_LEADER,
         leader=True, reason_required=True),
    Rule(S.REVIEWED, A.REQUEST_RE_REVIEW, S.RE_REVIEW_REQUESTED, office_roles=CLERK),
    Rule(S.REVIEWED, A.CLOSE, S.CLOSED, office_roles=CLERK),
    Rule(S.RE_REVIEW_REQUESTED, A.DECIDE_RE_REVIEW, S.RE_REVIEWED,
         office_roles=CLERK_OR_LEADER, grant=GrantLevel.MANAGE),
    Rule(S.RE_REVIEWED, A.CLOSE, S.CLOSED, office_roles=CLERK),
    Rule(S.CLOSED, A.ARCHIVE, S.ARCHIVED, office_roles=CLERK),
]
#: the steps where work is under way: instructions may be asked for and given there
WORKING = (S.ACCEPTED, S.ASSIGNED, S.INVESTIGATING, S.REVIEW_REQUESTED, S.RE_REVIEW_REQUESTED)
#: every step before closure
OPEN = (S.REGISTERED, S.ACCEPTED, S.ASSIGNED, S.INVESTIGATING, S.REPLY_SUBMITTED,
        S.REPLIED, S.REVIEW_REQUESTED, S.REVIEWED, S.RE_REVIEW_REQUESTED)
for _state in WORKING:
    _RULES.append(Rule(_state, A.REQUEST_INSTRUCTIONS, _state, office_roles=CLERK,
                       grant=GrantLevel.CONTRIBUTE, reason_required=True))
    _RULES.append(Rule(_state, A.GIVE_INSTRUCTIONS, _state, office_roles=LEADER, leader=True,
                       reason_required=True, guard=_open_request))
for _state in (S.ASSIGNED, S.INVESTIGATING):
    _RULES.append(Rule(_state, A.REQUEST_EXTENSION, _state, office_roles=CLERK,
                       grant=GrantLevel.CONTRIBUTE, lead_only=True, reason_required=True,
                       guard=_may_request_extension))
    _RULES.append(Rule(_state, A.EXTEND, _state, office_roles=LEADER, leader=True,
                       guard=_extension_asked))
    _RULES.append(Rule(_state, A.REFUSE_EXTENSION, _state, office_roles=LEADER, leader=True,
                       reason_required=True, guard=_extension_asked))
for _state in OPEN:
    _RULES.append(Rule(_state, A.SUPERVISE, _state, office_roles=SUPERVISOR,
                       reason_required=True))

TRANSITIONS: dict[tuple[Status, Action], Rule] = {(r.source, r.action): r for r in _RULES}
assert len(TRANSITIONS) == len(_RULES), "two rules for the same (state, action)"


def may(rule: Rule, user: Any, case: Case) -> bool:
    """Whether `user` is one of the people `rule` lets act on `case` (not the guard)."""
    if rule.office_roles and (perm.is_admin(user)
                              or perm.is_office_staff(user, case, rule.office_roles)):
        return True
    if rule.leader and perm.is_responsible_leader(user, case):
        return True
    if rule.grant is not None and perm.has_grant(user, case, rule.grant):
        if not rule.lead_only:
            return True
        lead = case.lead_assignment
        return lead is not None and lead.organisation_id in perm.org_ids(user)
    return False


def allowed_actions(case: Case, user: Any) -> list[Action]:
    """The actions `user` may take on `case` now, in table order (for the case page)."""
    session = object_session(case)
    state = Status(case.status)
    found = []
    for (source, action), rule in TRANSITIONS.items():
        if source != state or not may(rule, user, case):
            continue
        if rule.guard is not None and session is not None and rule.guard(session, case,
                                                                          user):
            continue
        found.append(action)
    return found


def _state_label(status: str) -> str:
    try:
        return str(STATUS_LABELS[Status(status)])
    except ValueError:
        return status


def transition(session: Session, case: Case, action: Action | str, actor: Any,
               reason: str | None = None, payload: dict[str, Any] | None = None) -> Case:
    """Take `action` on `case`: check the state, the user and the conditions, change the
    state, apply the step's effects and append a `workflow.<action>` event. Flushes."""
    try:
        act = Action(action)
    except ValueError:
        raise TransitionRefused(_l("“%(action)s” is not an action on a case file.",
                                   action=str(action))) from None
    rule = check(case, act, actor, reason)
    source = case.status
    why = (reason or "").strip()
    if rule.guard is not None:
        problem = rule.guard(session, case, actor)
        if problem:
            raise TransitionRefused(problem)
    extra = dict(payload or {})
    if act in (A.EXTEND, A.REQUEST_EXTENSION):
        if act == A.EXTEND and "days" not in extra:
            asked = last_payload(session, case, A.REQUEST_EXTENSION)
            extra["days"] = asked.get("days") or 30
        days = extra.setdefault("days", 30)
        if not isinstance(days, int) or not 1 <= days <= 365:
            raise TransitionRefused(_l("An extension is a whole number of days."))
    if act in (A.REPLY, A.SUBMIT_REPLY) and not why and not (
            str(extra.get("text") or "").strip() or extra.get("document_id")):
        raise TransitionRefused(_l("A reply needs its text or a document: write the reply "
                                   "or choose the reply document."))
    submitted: dict[str, Any] = {}
    target = rule.target
    if act in (A.SIGN_OFF_REPLY, A.SEND_BACK_REPLY):
        submitted = last_payload(session, case, A.SUBMIT_REPLY)
        if act == A.SEND_BACK_REPLY and submitted.get("from") in (S.ACCEPTED, S.INVESTIGATING):
            target = Status(submitted["from"])

    _apply_effects(case, act, rule)
    case.status = target
    case.updated_at = utcnow()
    session.flush()
    append_event(session, case, f"workflow.{act}", actor,
                 {**extra, "action": str(act), "from": source, "to": str(target),
                  "reason": why or None})
    if act == A.SIGN_OFF_REPLY:
        # the reply goes to the petitioner now: the event the clocks, the petitioner's
        # page and the statistics read, with the text and document that were signed off
        append_event(session, case, "workflow.reply", actor, {
            "action": str(A.REPLY), "from": source, "to": str(target),
            "reason": submitted.get("reason"), "text": submitted.get("text"),
            "document_id": submitted.get("document_id"),
            "submitted_by": submitted.get("by"), "signed_off": True})
    if act == A.DECIDE_RE_REVIEW:
        append_event(session, case, "case.final", actor,
                     {"note": "三级终结: the same facts and reasons are not accepted again"})
    return case


def last_payload(session: Session, case: Case, action: Action) -> dict[str, Any]:
    """The payload of the newest `workflow.<action>` event of `case`, with "by": its actor."""
    event = session.scalar(select(CaseEvent).where(
        CaseEvent.case_id == case.id, CaseEvent.kind == f"workflow.{action}")
        .order_by(CaseEvent.seq.desc()).limit(1))
    if event is None:
        return {}
    return {**payload_of(event), "by": event.actor_id}


def check(case: Case, action: Action | str, actor: Any, reason: str | None = None) -> Rule:
    """The rule for `action` on `case` now, when the state and the user allow it (the
    guard is not run); raises TransitionRefused / TransitionForbidden otherwise."""
    try:
        act = Action(action)
    except ValueError:
        raise TransitionRefused(_l("“%(action)s” is not an action on a case file.",
                                   action=str(action))) from None
    source = case.status
    rule = TRANSITIONS.get((Status(source), act))
    if rule is None:
        raise TransitionRefused(_l(
            "Case %(number)s is “%(state)s”: the action “%(action)s” is not possible "
            "in that state.", number=case.number, state=_state_label(source),
            action=str(ACTION_LABELS[act])))
    if not may(rule, actor, case):
        raise TransitionForbidden(_l(
            "You may not take the action “%(action)s” on case %(number)s.",
            action=str(ACTION_LABELS[act]), number=case.number))
    if rule.reason_required and not (reason or "").strip():
        raise TransitionRefused(_l("Give a reason for “%(action)s”.",
                                   action=str(ACTION_LABELS[act])))
    return rule


def _apply_effects(case: Case, action: Action, rule: Rule) -> None:
    lead = case.lead_assignment
    if (action in (A.REPLY, A.SIGN_OFF_REPLY) and lead is not None
            and lead.status == AssignmentStatus.OPEN):
        lead.status = AssignmentStatus.REPLIED
    elif (action == A.RETURN_REPLY and rule.source == S.REPLIED and lead is not None
          and lead.status == AssignmentStatus.REPLIED):
        lead.status = AssignmentStatus.OPEN
    elif action == A.DECLINE:
        for a in case.assignments:
            if a.status == AssignmentStatus.OPEN:
                a.status = AssignmentStatus.DECLINED
    elif action == A.DECIDE_RE_REVIEW:
        case.is_final = True
