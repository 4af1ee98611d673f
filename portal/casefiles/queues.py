"""The home page's work queues: what each role should act on now, the most urgent first.

- clerk: cases to accept, to assign or answer, overdue, due today;
- responsible leader: requests waiting for their answer, their own cases with clocks;
- agency officer: cases assigned to their agency, with days left;
- supervisor: overdue and due within 3 days, with counts per agency and per leader.

Every query goes through `permissions.visible_cases` and orders on the indexed
`cases.clock_due_on`; each queue shows `SHORT` cases and a count that stops at
`COUNT_CAP`, with a link to the full list (/cases/ with the same filters)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import render_template, url_for
from flask_babel import LazyString
from markupsafe import Markup
from sqlalchemy import ColumnElement, case, exists, func, select
from sqlalchemy.orm import Session, lazyload

from portal.auth.permissions import holds, org_ids
from portal.auth.roles import Role
from portal.casefiles import clocks as clk
from portal.casefiles.due import OVERDUE_STATES, due_within_condition, overdue_condition
from portal.casefiles.models import Assignment, AssignmentStatus, Case, Status
from portal.casefiles.permissions import visible_cases
from portal.casefiles.requests import awaiting_leader_condition
from portal.i18n import lazy_gettext as _l

#: cases a queue shows
SHORT = 10
#: a queue counts its cases up to this many ("more than 99")
COUNT_CAP = 99
#: the supervisor's "due soon": within this many days
SOON_DAYS = 3
#: rows of the supervisor's per-agency and per-leader tables
TALLY_ROWS = 20


@dataclass
class Queue:
    key: str
    title: LazyString
    cases: list[Case]
    count: int
    is_capped: bool
    url: str
    empty: LazyString


@dataclass
class Tally:
    """One row of a supervisor's table: an agency or a leader, overdue and due soon."""

    name: str
    overdue: int
    soon: int
    overdue_url: str
    soon_url: str


@dataclass
class Home:
    queues: list[Queue] = field(default_factory=list)
    by_agency: list[Tally] = field(default_factory=list)
    by_leader: list[Tally] = field(default_factory=list)
    is_supervisor: bool = False


def _open() -> ColumnElement[bool]:
    return Case.status.in_([str(s) for s in OVERDUE_STATES])


def _queue(session: Session, user: Any, key: str, title: LazyString, conds: list[Any],
           args: dict[str, Any], empty: LazyString) -> Queue:
    where = [visible_cases(user), *conds]
    ids = select(Case.id).where(*where).limit(COUNT_CAP + 1).subquery()
    count = session.scalar(select(func.count()).select_from(ids)) or 0
    cases = list(session.scalars(
        select(Case).where(*where).options(lazyload("*"))
        .order_by(Case.clock_due_on.is_(None), Case.clock_due_on, Case.id).limit(SHORT)))
    return Queue(key, title, cases, min(count, COUNT_CAP), count > COUNT_CAP,
                 url_for("cases.index", **args), empty)


def _my_open_assignment(user: Any) -> ColumnElement[bool]:
    return exists().where(Assignment.case_id == Case.id,
                          Assignment.organisation_id.in_(sorted(org_ids(user))),
                          Assignment.status == AssignmentStatus.OPEN)


def _tallies(session: Session, user: Any, today: date) -> tuple[list[Tally], list[Tally]]:
    from portal.casefiles.presentation import org_names, user_names

    overdue = overdue_condition(today)
    soon = due_within_condition(today, SOON_DAYS)
    late = func.sum(case((overdue, 1), else_=0))
    near = func.sum(case((soon, 1), else_=0))
    watched = [visible_cases(user), overdue | soon]
    agency_rows = session.execute(
        select(Assignment.organisation_id, late, near)
        .join(Case, Case.id == Assignment.case_id)
        .where(*watched, Assignment.is_lead.is_(True),
               Assignment.status == AssignmentStatus.OPEN)
        .group_by(Assignment.organisation_id)
        .order_by(late.desc(), near.desc(), Assignment.organisation_id)
        .limit(TALLY_ROWS)).all()
    leader_rows = session.execute(
        select(Case.leader_id, late, near).where(*watched, Case.leader_id.is_not(None))
        .group_by(Case.leader_id).order_by(late.desc(), near.desc(), Case.leader_id)
        .limit(TALLY_ROWS)).all()
    orgs = org_names(session, [r[0] for r in agency_rows])
    people = user_names(session, [r[0] for r in leader_rows])

    def rows(found: Any, names: dict[int, str], arg: str) -> list[Tally]:
        return [Tally(names.get(key, "—"), int(o or 0), int(s or 0),
                      url_for("cases.index", **{arg: key, "overdue": 1}),
                      url_for("cases.index", **{arg: key, "due": SOON_DAYS}))
                for key, o, s in found]

    return rows(agency_rows, orgs, "agency"), rows(leader_rows, people, "leader")


def home_for(session: Session, user: Any, today: date | None = None) -> Home:
    """The queues of every role `user` holds, in the order the roles are listed above."""
    today = today or clk.today_in_china()
    home = Home()
    nothing = _l("Nothing waits for you.")
    if holds(user, Role.CLERK):
        home.queues += [
            _queue(session, user, "to_accept", _l("To accept or refuse"),
                   [Case.status == Status.REGISTERED], {"status": Status.REGISTERED},
                   _l("No new petition waits for an acceptance decision.")),
            _queue(session, user, "to_assign", _l("To assign or answer"),
                   [Case.status == Status.ACCEPTED], {"status": Status.ACCEPTED},
                   _l("No accepted case waits to be assigned.")),
            _queue(session, user, "overdue", _l("Overdue"), [overdue_condition(today)],
                   {"overdue": 1}, _l("No case is overdue.")),
            _queue(session, user, "due_today", _l("Due today"),
                   [due_within_condition(today, 0)], {"due": 0},
                   _l("No case falls due today.")),
        ]
    if holds(user, Role.LEADER):
        mine = Case.leader_id == user.id
        home.queues += [
            _queue(session, user, "awaiting", _l("Awaiting your decision"),
                   [mine, awaiting_leader_condition()],
                   {"leader": user.id, "awaiting": 1}, nothing),
            _queue(session, user, "my_cases", _l("Your cases"), [mine, _open()],
                   {"leader": user.id}, _l("You are not the responsible leader of any open "
                                           "case.")),
        ]
    if holds(user, Role.AGENCY):
        mine_orgs = sorted(org_ids(user))
        args: dict[str, Any] = {"agency": mine_orgs[0]} if len(mine_orgs) == 1 else {}
        home.queues.append(_queue(
            session, user, "assigned", _l("Assigned to your agency"),
            [_my_open_assignment(user), _open()], args,
            _l("No case is assigned to your agency.")))
    if holds(user, Role.SUPERVISOR):
        home.is_supervisor = True
        home.queues += [
            _queue(session, user, "overdue", _l("Overdue"), [overdue_condition(today)],
                   {"overdue": 1}, _l("No case is overdue.")),
            _queue(session, user, "due_soon", _l("Due within 3 days"),
                   [due_within_condition(today, SOON_DAYS)], {"due": SOON_DAYS},
                   _l("No case falls due in the next 3 days.")),
        ]
        home.by_agency, home.by_leader = _tallies(session, user, today)
    unique: dict[str, Queue] = {}
    for q in home.queues:  # a clerk who also supervises sees "overdue" once
        unique.setdefault(q.key, q)
    home.queues = list(unique.values())
    return home


def home_panel(user: Any) -> str | None:
    """The home page's part for case work (portal.hooks.register_home_panel)."""
    from portal.casefiles.pages import session as db_session
    from portal.casefiles.permissions import can_open_cases
    from portal.casefiles.presentation import LABELS

    if not can_open_cases(user) or not holds(user, Role.CLERK, Role.LEADER, Role.AGENCY,
                                             Role.SUPERVISOR):
        return None
    session = db_session()
    home = home_for(session, user)
    shown = {c.id: c for q in home.queues for c in q.cases}
    running = clk.current_clocks(session, list(shown.values()))
    return Markup(render_template("casefiles/_home_queues.html", home=home, clocks=running,
                                  **LABELS))


__all__ = ["COUNT_CAP", "SHORT", "Home", "Queue", "Tally", "home_for", "home_panel"]
