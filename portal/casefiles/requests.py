"""What waits for a responsible leader's answer (包案领导): a request for instructions
(请示) not yet answered (批示). Read from the timeline: a request is open while its
kind has more asking events than answering ones.

`awaiting_leader_condition()` is the SQL form, for the home page's queue and the case
list's `awaiting=1` filter."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, func, or_, select

from portal.casefiles.models import Case, CaseEvent

#: (asking event kinds, answering event kinds) of each kind of request to the leader
REQUESTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "instructions": (("workflow.request_instructions",), ("workflow.give_instructions",)),
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
                or_(*(open_request_condition(name) for name in REQUESTS)))
