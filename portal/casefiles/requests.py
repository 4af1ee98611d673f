"""What waits for a leader's answer (包案领导): a request for instructions (请示) not yet
answered (批示), an extension asked for and not yet approved or refused, a reply waiting
for sign-off (the case in `reply_submitted`). Read from the timeline: a request is open
while its kind has more asking events than answering ones.

`awaiting_leader_condition()` is the SQL form, for the home page's queue and the case
list's `awaiting=1` filter; `notes_for()` says on the case page what waits, and that the
one extension has been used."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from portal.casefiles.models import Case, CaseEvent, Status
from portal.casefiles.timeline import payload_of
from portal.casefiles.workflow import TRANSITIONS, Action, extension_requested, may

#: (asking event kinds, answering event kinds) of each kind of request to the leader
REQUESTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "instructions": (("workflow.request_instructions",), ("workflow.give_instructions",)),
    "extension": (("workflow.request_extension",),
                  ("workflow.extend", "workflow.refuse_extension")),
}


def _count(kinds: tuple[str, ...]) -> ColumnElement[int]:
    return (select(func.count()).select_from(CaseEvent)
            .where(CaseEvent.case_id == Case.id, CaseEvent.kind.in_(kinds))
            .scalar_subquery())


def open_request_condition(name: str) -> ColumnElement[bool]:
    asked, answered = REQUESTS[name]
    return _count(asked) > _count(answered)


def awaiting_leader_condition() -> ColumnElement[bool]:
    """SQL condition on Case: it has a leader and a request waits for their answer."""
    return and_(Case.leader_id.is_not(None),
                or_(Case.status == Status.REPLY_SUBMITTED,
                    *(open_request_condition(name) for name in REQUESTS)))


@dataclass(frozen=True)
class Note:
    """A line of the case page's "next steps" box: what waits, or why a step is gone."""

    text: str
    #: the text of a submitted reply, shown for the leader to read before signing off
    quote: str | None = None


def _day(at: Any) -> str:
    from portal.casefiles.clocks import china_day

    return china_day(at).isoformat()


def notes_for(session: Session, case: Case, user: Any) -> list[Note]:
    """What the case page tells `user` about the requests on `case`."""
    from portal.casefiles.timeline import events_of

    notes: list[Note] = []
    kinds = ["workflow.submit_reply", "workflow.request_extension", "workflow.extend",
             "workflow.refuse_extension"]
    events = list(events_of(session, case, kinds))
    last = {e.kind: e for e in events}
    working = case.status in (Status.ASSIGNED, Status.INVESTIGATING)
    extend_rule = TRANSITIONS.get((Status(case.status), Action.EXTEND))
    asks_rule = TRANSITIONS.get((Status(case.status), Action.REQUEST_EXTENSION))
    decides = extend_rule is not None and may(extend_rule, user, case)
    asks = asks_rule is not None and may(asks_rule, user, case)
    granted = last.get("workflow.extend")
    if working and granted is not None and (decides or asks):
        notes.append(Note(_(
            "The one extension the rules allow has been used: %(days)s days, approved on "
            "%(day)s. The time limit cannot be extended again.",
            days=payload_of(granted).get("days"), day=_day(granted.at))))
    elif working and extension_requested(session, case):
        asked = last["workflow.request_extension"]
        data = payload_of(asked)
        notes.append(Note(_(
            "An extension of %(days)s days was asked for on %(day)s and waits for the "
            "leader's answer.", days=data.get("days"), day=_day(asked.at)),
            quote=data.get("reason")))
    elif working and "workflow.refuse_extension" in last and (decides or asks):
        refused = last["workflow.refuse_extension"]
        notes.append(Note(_("The extension asked for was refused on %(day)s.",
                            day=_day(refused.at)), quote=payload_of(refused).get("reason")))
    if case.status == Status.REPLY_SUBMITTED and "workflow.submit_reply" in last:
        submitted = last["workflow.submit_reply"]
        data = payload_of(submitted)
        text = _("A reply was submitted on %(day)s and waits for the responsible leader's "
                 "sign-off.", day=_day(submitted.at))
        if data.get("document"):
            text += " " + _("Reply document: %(title)s.", title=data["document"])
        notes.append(Note(text, quote=data.get("reason")))
    return notes
