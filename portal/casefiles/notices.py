"""Who is told what when a case moves: supervision notices (督办), replies, returns,
sign-off requests, extensions, assignments, the responsible leader named. Each notice is
a message key with its values (portal/notify/messages.py): an in-app notice shown in the
reader's language and an e-mail through the outbox in the recipient's language.

The actor is never told of their own step."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.auth.models import User, UserRole, user_organisations
from portal.auth.roles import Role
from portal.casefiles.models import AssignmentStatus, Case
from portal.casefiles.workflow import Action
from portal.i18n import lazy_gettext as _l
from portal.notify.messages import register
from portal.notify.operations import notify

#: reasons and reply texts quoted in a notice are cut to this many characters
QUOTE = 200

NOTICES = {
    "case.assigned": (_l("Case %(number)s was assigned to your agency."),
                      _l("Case %(number)s assigned to your agency")),
    "case.leader_set": (_l("You are the responsible leader of case %(number)s."),
                        _l("You are the responsible leader of case %(number)s")),
    "case.supervised": (_l("Supervision notice (督办) on case %(number)s: %(reason)s"),
                        _l("Supervision notice on case %(number)s")),
    "case.sign_off_requested": (_l("A reply on case %(number)s waits for your sign-off."),
                                _l("Reply to sign off on case %(number)s")),
    "case.replied": (_l("Case %(number)s was replied to."),
                     _l("Case %(number)s replied")),
    "case.reply_sent_back": (_l("The reply on case %(number)s was sent back: %(reason)s"),
                             _l("Reply on case %(number)s sent back")),
    "case.reply_returned": (_l("The reply on case %(number)s was returned: %(reason)s"),
                            _l("Reply on case %(number)s returned")),
    "case.extension_requested": (
        _l("An extension of %(days)s days is asked for on case %(number)s: %(reason)s"),
        _l("Extension asked for on case %(number)s")),
    "case.extension_approved": (
        _l("The extension of case %(number)s by %(days)s days was approved."),
        _l("Extension of case %(number)s approved")),
    "case.extension_refused": (_l("The extension of case %(number)s was refused: %(reason)s"),
                               _l("Extension of case %(number)s refused")),
}
for _key, (_text, _subject) in NOTICES.items():
    register(_key, _text, _subject)


def _path(case: Case) -> str:
    return f"/cases/{case.number}"


def _users(session: Session, ids: Iterable[int]) -> list[User]:
    wanted = sorted(set(ids))
    if not wanted:
        return []
    return list(session.scalars(select(User).where(User.id.in_(wanted),
                                                   User.is_active.is_(True))))


def members(session: Session, org_ids: Iterable[int], role: Role | None = None) -> list[int]:
    """Ids of the users in these organisations (holding `role`, when given)."""
    orgs = sorted(set(org_ids))
    if not orgs:
        return []
    stmt = select(user_organisations.c.user_id).where(
        user_organisations.c.organisation_id.in_(orgs))
    if role is not None:
        stmt = stmt.join(UserRole, UserRole.user_id == user_organisations.c.user_id).where(
            UserRole.role == role)
    return list(session.scalars(stmt.distinct()))


def _lead_agency(session: Session, case: Case) -> list[int]:
    lead = case.lead_assignment
    return members(session, [lead.organisation_id], Role.AGENCY) if lead is not None else []


def _clerks(session: Session, case: Case) -> list[int]:
    return members(session, [case.office_id], Role.CLERK)


def _leader(session: Session, case: Case) -> list[int]:
    if case.leader_id is not None:
        return [case.leader_id]
    return members(session, [case.office_id], Role.LEADER)


def send(session: Session, actor: Any, case: Case, key: str, user_ids: Iterable[int],
         **values: Any) -> int:
    """Tell these users (not the actor) notice `key` about `case`; returns how many."""
    me = getattr(actor, "id", None)
    told = 0
    for user in _users(session, (i for i in user_ids if i != me)):
        notify(session, user, key, {"number": case.number, **values}, _path(case))
        told += 1
    return told


def _quote(text: str | None) -> str:
    clean = " ".join((text or "").split())
    return clean if len(clean) <= QUOTE else clean[:QUOTE - 1] + "…"


def after_step(session: Session, actor: Any, case: Case, action: str, reason: str | None,
               payload: dict[str, Any]) -> None:
    """Tell the people concerned by a step of the procedure just taken."""
    why = _quote(reason)
    if action == Action.SUPERVISE:
        send(session, actor, case, "case.supervised",
             [*_lead_agency(session, case), *_leader(session, case), *_clerks(session, case)],
             reason=why)
    elif action == Action.SUBMIT_REPLY:
        send(session, actor, case, "case.sign_off_requested", _leader(session, case))
    elif action in (Action.REPLY, Action.SIGN_OFF_REPLY):
        send(session, actor, case, "case.replied",
             [*_clerks(session, case), *_lead_agency(session, case),
              *([case.leader_id] if case.leader_id else [])])
    elif action == Action.SEND_BACK_REPLY:
        send(session, actor, case, "case.reply_sent_back",
             [*_lead_agency(session, case), *_clerks(session, case)], reason=why)
    elif action == Action.RETURN_REPLY:
        agencies = [a.organisation_id for a in case.assignments
                    if a.is_lead and a.status == AssignmentStatus.OPEN]
        send(session, actor, case, "case.reply_returned",
             [*members(session, agencies, Role.AGENCY), *_clerks(session, case),
              *([case.leader_id] if case.leader_id else [])], reason=why)
    elif action == Action.REQUEST_EXTENSION:
        send(session, actor, case, "case.extension_requested", _leader(session, case),
             days=payload.get("days"), reason=why)
    elif action == Action.EXTEND:
        send(session, actor, case, "case.extension_approved",
             [*_lead_agency(session, case), *_clerks(session, case)],
             days=payload.get("days"))
    elif action == Action.REFUSE_EXTENSION:
        send(session, actor, case, "case.extension_refused",
             [*_lead_agency(session, case), *_clerks(session, case)], reason=why)
