"""The stored due date of each case's running office clock, so that "overdue" is an
indexed SQL condition instead of the deadline engine run over every candidate case.

``Case.clock_due_on`` is the due date of the office clock that runs now, exactly as
``clocks.current_clock`` computes it (the one a list shows as days left); None when no
office clock runs. ``Case.is_clock_paused`` says whether that clock is paused (a
hearing, an appraisal). A running clock's due date depends only on the case (when the
petition was received, urgent, simple), its clock events (clocks.CLOCK_EVENT_KINDS) and
the holiday calendar, not on the day it is read; so with both columns

    overdue today  ==  clock_due_on < today AND NOT is_clock_paused
                       AND the case is at an open step (OVERDUE_STATES)

(a paused clock is never overdue; while it stays paused its due date moves on each day,
so the stored one is the due date as of the last change, shown nowhere. The open steps
are the ones the list's overdue filter always looked at; a consistent case has no
running office clock at any other.)

The values stored are the clock as it stands from the day after the change on: a pause
recorded on the very day its clock started holds the clock from the next day (the day a
clock starts is not counted), and that is the only way the engine's answer for a
running clock changes from one day to the next. Today such a clock cannot be overdue
yet (it is due tomorrow at the earliest), so the filter is right on every day.

Kept in step by an ``after_flush`` listener on every SQLAlchemy session (registered when
this module is imported, like the search index): a new case, a change of ``is_urgent``,
``is_simple`` or ``received_at``, a new clock event (registration, acceptance, reply,
return, extension, review requests and decisions, pause and resume) recompute that case;
a change to the holiday calendar recomputes every case with a running clock. The update
is a plain SQL UPDATE in the same transaction (a rollback undoes both), which neither
bumps the case's version (no 409 for someone editing the summary meanwhile) nor its
``updated_at``. :func:`refresh_all` recomputes every case (migration 0005, bulk loads)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, bindparam, event, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from portal.casefiles import clocks as clk
from portal.casefiles import deadlines as dl
from portal.casefiles.holidays import Holiday, merged_calendar
from portal.casefiles.models import Assignment, AssignmentStatus, Case, CaseEvent, Status

__all__ = ["OVERDUE_STATES", "due_within_condition", "overdue_condition", "refresh",
           "refresh_all", "running_due"]

#: the states in which an office clock runs (the workflow's open steps)
OVERDUE_STATES = (
    Status.REGISTERED, Status.ACCEPTED, Status.ASSIGNED, Status.INVESTIGATING,
    Status.REPLY_SUBMITTED, Status.REVIEW_REQUESTED, Status.RE_REVIEW_REQUESTED,
)
#: cases recomputed per round trip
BATCH = 500
_PENDING = "_portal_clock_due_pending"


def overdue_condition(today: date) -> ColumnElement[bool]:
    """SQL condition on Case: its running office clock is overdue on `today`."""
    return and_(Case.clock_due_on < today, Case.is_clock_paused.is_(False),
                Case.status.in_([str(s) for s in OVERDUE_STATES]))


def due_within_condition(today: date, days: int) -> ColumnElement[bool]:
    """SQL condition on Case: its running office clock falls due between `today` and
    `days` days from it (both included), not overdue yet and not paused."""
    return and_(Case.clock_due_on >= today, Case.clock_due_on <= today + timedelta(days=days),
                Case.is_clock_paused.is_(False),
                Case.status.in_([str(s) for s in OVERDUE_STATES]))


@dataclass(frozen=True)
class _CaseFacts:
    """What clocks.clocks_from_events reads of a case."""

    id: int
    received_at: datetime
    is_urgent: bool
    is_simple: bool


@dataclass(frozen=True)
class _EventFacts:
    """What clocks.clocks_from_events reads of an event."""

    seq: int
    kind: str
    at: datetime
    payload: str


def running_due(case: Any, events: Iterable[Any], today: date, rules: dl.DeadlineRules,
                calendar: dl.Calendar) -> tuple[date | None, bool]:
    """(due date, paused) of the office clock running on the case; (None, False) if none."""
    running = clk.current_clock(clk.clocks_from_events(case, events, today, rules, calendar))
    if running is None:
        return None, False
    return running.state.due, running.state.status is dl.ClockStatus.PAUSED


def _calendar(conn: Connection) -> dl.Calendar:
    # read on the flushing connection: a holiday added in this very flush counts
    # the State Council's days (the package) with the admin's over them, as the clocks
    return merged_calendar(conn.execute(select(Holiday.day, Holiday.kind)))


def refresh(conn: Connection, case_ids: Iterable[int], today: date | None = None,
            calendar: dl.Calendar | None = None) -> dict[int, tuple[date | None, bool]]:
    """Recompute the stored due date of these cases (as of the day after `today`, see
    the module's docstring); returns what each one has now."""
    ids = sorted(set(case_ids))
    out: dict[int, tuple[date | None, bool]] = {}
    if not ids:
        return out
    # as the clock stands from tomorrow on (see the module's docstring)
    day = (today or clk.today_in_china()) + timedelta(days=1)
    calendar = calendar if calendar is not None else _calendar(conn)
    rules = dl.DeadlineRules()
    cases = cast(Table, Case.__table__)
    events = cast(Table, CaseEvent.__table__)
    assignments = cast(Table, Assignment.__table__)
    for start in range(0, len(ids), BATCH):
        batch = ids[start:start + BATCH]
        rows = conn.execute(select(cases.c.id, cases.c.received_at, cases.c.is_urgent,
                                   cases.c.is_simple, cases.c.clock_due_on,
                                   cases.c.is_clock_paused)
                            .where(cases.c.id.in_(batch))).all()
        by_case: dict[int, list[_EventFacts]] = defaultdict(list)
        for case_id, seq, kind, at, payload in conn.execute(
                select(events.c.case_id, events.c.seq, events.c.kind, events.c.at,
                       events.c.payload)
                .where(events.c.case_id.in_(batch),
                       events.c.kind.in_(clk.CLOCK_EVENT_KINDS))
                .order_by(events.c.case_id, events.c.seq)):
            by_case[case_id].append(_EventFacts(seq, kind, at, payload))
        changed = []
        for case_id, received_at, is_urgent, is_simple, stored_due, stored_paused in rows:
            facts = _CaseFacts(case_id, received_at, bool(is_urgent), bool(is_simple))
            due, paused = running_due(facts, by_case.get(case_id, []), day, rules,
                                      calendar)
            out[case_id] = (due, paused)
            if (due, paused) != (stored_due, bool(stored_paused)):
                changed.append({"b_id": case_id, "b_due": due, "b_paused": paused})
        if changed:
            conn.execute(update(cases).where(cases.c.id == bindparam("b_id"))
                         .values(clock_due_on=bindparam("b_due"),
                                 is_clock_paused=bindparam("b_paused"),
                                 # keep the row's own time stamp: this is derived data
                                 updated_at=cases.c.updated_at),
                         changed)
            # an open assignment is due when the case's clock is (one deadline)
            moved = [{"b_id": c["b_id"], "b_due": c["b_due"]} for c in changed
                     if c["b_due"] is not None]
            if moved:
                conn.execute(update(assignments)
                             .where(assignments.c.case_id == bindparam("b_id"),
                                    assignments.c.status == AssignmentStatus.OPEN)
                             .values(due_on=bindparam("b_due")), moved)
    return out


def refresh_all(conn: Connection | Session, today: date | None = None) -> int:
    """Recompute every case (migration 0005, bulk loads, repairs); returns their number."""
    if isinstance(conn, Session):
        conn.flush()
        conn = conn.connection()
    cases = cast(Table, Case.__table__)
    ids = list(conn.execute(select(cases.c.id).order_by(cases.c.id)).scalars())
    refresh(conn, ids, today)
    return len(ids)


# ---------------------------------------------------------------- the listener

def _changed(obj: Any, *attrs: str) -> bool:
    state = sa_inspect(obj)
    return any(state.attrs[a].history.has_changes() for a in attrs)


def _touched(session: Session) -> tuple[set[int], bool]:
    """The cases whose clocks this flush may have changed; True when the calendar changed."""
    ids: set[int] = set()
    calendar = False
    for obj in session.new:
        if isinstance(obj, CaseEvent):
            if obj.kind in clk.CLOCK_EVENT_KINDS:
                ids.add(obj.case_id)
        elif isinstance(obj, Case):
            ids.add(obj.id)
        elif isinstance(obj, Holiday):
            calendar = True
    for obj in session.dirty:
        if isinstance(obj, Case) and _changed(obj, "is_urgent", "is_simple", "received_at"):
            ids.add(obj.id)
        elif isinstance(obj, Holiday) and _changed(obj, "day", "kind"):
            calendar = True
    for obj in session.deleted:
        if isinstance(obj, Holiday):
            calendar = True
        elif isinstance(obj, Case):
            ids.discard(obj.id)
    return ids, calendar


def _after_flush(session: Session, _context: Any) -> None:
    ids, calendar = _touched(session)
    if not ids and not calendar:
        return
    conn = session.connection()
    if calendar:
        cases = cast(Table, Case.__table__)
        ids.update(conn.execute(select(cases.c.id).where(cases.c.clock_due_on.is_not(None)))
                   .scalars())
    found = refresh(conn, ids)
    session.info.setdefault(_PENDING, {}).update(found)


def _after_flush_postexec(session: Session, _context: Any) -> None:
    """Show the new values on the Case objects this session holds (without marking them
    changed: the database has them already)."""
    found: dict[int, tuple[date | None, bool]] = session.info.pop(_PENDING, {})
    for case_id, (due, paused) in found.items():
        case = session.identity_map.get(identity_key(Case, case_id))
        if not isinstance(case, Case):
            continue
        set_committed_value(case, "clock_due_on", due)
        set_committed_value(case, "is_clock_paused", paused)
        if due is not None and "assignments" in case.__dict__:  # loaded: show the same
            for a in case.assignments:
                if a.status == AssignmentStatus.OPEN:
                    set_committed_value(a, "due_on", due)


if not event.contains(Session, "after_flush", _after_flush):
    event.listen(Session, "after_flush", _after_flush)
if not event.contains(Session, "after_flush_postexec", _after_flush_postexec):
    event.listen(Session, "after_flush_postexec", _after_flush_postexec)

