"""The adapter between a case file and the pure deadline engine (deadlines.py).

It reads a case's events and works out which clocks run, from which day, with which
pauses and extensions, then asks `deadlines.compute_clock` where each stands today:

- ``accept``: from the day the petition was received (``case.received_at``) to the
  acceptance decision (``workflow.accept`` / ``workflow.not_accept``);
- the reply clock: from acceptance to the reply (``workflow.reply``); ``urgent`` for an
  urgent case (急案), ``simple`` for simple handling (简易办理), ``reply`` otherwise;
  extensions are the ``days`` of each ``workflow.extend`` event; a returned reply
  (``workflow.return_reply`` from replied) sets the clock running again from acceptance;
- ``review`` and ``rereview``: from the petitioner's request to the decision;
- ``review_request`` and ``rereview_request``: the petitioner's own windows after the
  written reply and the review; they are shown but are not the office's duty.

Pauses come from ``clock.paused`` and ``clock.resumed`` events (a hearing, an expert
appraisal) and apply to whichever clock was running. The rules are the national
defaults (`DeadlineRules()`); the calendar is the admin's holiday calendar
(portal/casefiles/holidays.py), read through `rules_and_calendar()`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from flask import has_app_context
from flask_babel import LazyString
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.casefiles import deadlines as dl
from portal.casefiles.holidays import calendar_from_db
from portal.casefiles.models import Case, CaseEvent
from portal.casefiles.timeline import payload_of
from portal.i18n import lazy_gettext as _l

#: China keeps one time zone and no daylight saving: the day a step happened there
CHINA = timezone(timedelta(hours=8))

PAUSED = "clock.paused"
RESUMED = "clock.resumed"

#: the event kinds the clocks are built from (loaded in one query for a list page)
CLOCK_EVENT_KINDS = (
    "workflow.accept", "workflow.not_accept", "workflow.reply", "workflow.return_reply",
    "workflow.extend", "workflow.request_review", "workflow.decide_review",
    "workflow.request_re_review", "workflow.decide_re_review", PAUSED, RESUMED,
)

CLOCK_LABELS: dict[dl.ClockKind, LazyString] = {
    dl.ClockKind.ACCEPT: _l("Decide on acceptance"),
    dl.ClockKind.REPLY: _l("Handle and reply"),
    dl.ClockKind.URGENT: _l("Urgent reply"),
    dl.ClockKind.SIMPLE: _l("Simple handling"),
    dl.ClockKind.REVIEW_REQUEST: _l("Petitioner may ask for review"),
    dl.ClockKind.REVIEW: _l("Decide the review"),
    dl.ClockKind.REREVIEW_REQUEST: _l("Petitioner may ask for re-review"),
    dl.ClockKind.REREVIEW: _l("Decide the re-review"),
}


@dataclass(frozen=True)
class CaseClock:
    """One clock of a case as it stands today."""

    state: dl.ClockState
    label: LazyString
    #: False for the petitioner's windows: they never make the office overdue
    is_office_duty: bool = True

    @property
    def is_running(self) -> bool:
        return self.state.stopped_on is None


def rules_and_calendar() -> tuple[dl.DeadlineRules, dl.Calendar]:
    """The settings in force: national defaults, and the admin's holiday calendar when
    there is an app context (an empty calendar otherwise)."""
    if has_app_context():
        from portal.extensions import db

        return dl.DeadlineRules(), calendar_from_db(db.session)
    return dl.DeadlineRules(), dl.Calendar()


def china_day(at: datetime) -> date:
    return at.astimezone(CHINA).date()


def today_in_china() -> date:
    return datetime.now(CHINA).date()


def reply_kind(case: Case) -> dl.ClockKind:
    if case.is_urgent:
        return dl.ClockKind.URGENT
    if case.is_simple:
        return dl.ClockKind.SIMPLE
    return dl.ClockKind.REPLY


def _pauses(events: Sequence[CaseEvent]) -> list[dl.Pause]:
    pauses: list[dl.Pause] = []
    open_since: date | None = None
    for e in events:
        if e.kind == PAUSED and open_since is None:
            open_since = china_day(e.at)
        elif e.kind == RESUMED and open_since is not None:
            pauses.append((open_since, max(open_since, china_day(e.at))))
            open_since = None
    if open_since is not None:
        pauses.append((open_since, None))
    return pauses


def _stopped_on(evs: Sequence[CaseEvent], kind: str, returned_from: str) -> date | None:
    """The day the last `kind` event stopped a clock, unless a reply returned from the
    `returned_from` state since then set the clock running again."""
    stopped: date | None = None
    for e in evs:
        if e.kind == kind:
            stopped = china_day(e.at)
        elif e.kind == "workflow.return_reply" and payload_of(e).get("from") == returned_from:
            stopped = None
    return stopped


def _last(events: Sequence[CaseEvent], kind: str) -> CaseEvent | None:
    found = None
    for e in events:
        if e.kind == kind:
            found = e
    return found


def clocks_from_events(case: Case, events: Iterable[CaseEvent], today: date | None = None,
                       rules: dl.DeadlineRules | None = None,
                       calendar: dl.Calendar | None = None) -> list[CaseClock]:
    """Every clock the case has run so far, oldest first; the running one is last."""
    default_rules, default_calendar = rules_and_calendar()
    rules = rules or default_rules
    calendar = calendar or default_calendar
    today = today or today_in_china()
    evs = sorted((e for e in events if e.kind in CLOCK_EVENT_KINDS), key=lambda e: e.seq)
    pauses = _pauses(evs)

    def clock(kind: dl.ClockKind, start: date, stopped: date | None,
              extensions: Sequence[int] = (), office: bool = True) -> CaseClock:
        rule = rules.rule(kind)
        allowed = list(extensions)[:rule.max_extensions]
        total = 0
        kept = []
        for days in allowed:  # what the rules do not allow is left out, not an error
            if total + days <= rule.max_extension_days:
                kept.append(days)
                total += days
        state = dl.compute_clock(kind, start, rules, calendar, today=today,
                                 pauses=pauses if office else (), extensions=kept,
                                 stopped_on=stopped if stopped is None or stopped >= start
                                 else start)
        return CaseClock(state, CLOCK_LABELS[kind], office)

    out: list[CaseClock] = []
    received = china_day(case.received_at)
    decided = next((e for e in evs if e.kind in ("workflow.accept", "workflow.not_accept")),
                   None)
    out.append(clock(dl.ClockKind.ACCEPT, received, china_day(decided.at) if decided else None))
    accept = next((e for e in evs if e.kind == "workflow.accept"), None)
    if accept is None:
        return out

    reply_stop = _stopped_on(evs, "workflow.reply", returned_from="replied")
    extensions = [int(payload_of(e).get("days") or 0) for e in evs
                  if e.kind == "workflow.extend"]
    out.append(clock(reply_kind(case), china_day(accept.at), reply_stop,
                     [d for d in extensions if d > 0]))
    reply = _last(evs, "workflow.reply")
    if reply is None or reply_stop is None:
        return out

    asked = _last(evs, "workflow.request_review")
    out.append(clock(dl.ClockKind.REVIEW_REQUEST, china_day(reply.at),
                     china_day(asked.at) if asked else None, office=False))
    if asked is None:
        return out
    decided_review = _stopped_on(evs, "workflow.decide_review", returned_from="reviewed")
    out.append(clock(dl.ClockKind.REVIEW, china_day(asked.at), decided_review))
    review = _last(evs, "workflow.decide_review")
    if review is None or decided_review is None:
        return out

    asked_again = _last(evs, "workflow.request_re_review")
    out.append(clock(dl.ClockKind.REREVIEW_REQUEST, china_day(review.at),
                     china_day(asked_again.at) if asked_again else None, office=False))
    if asked_again is None:
        return out
    rereview = _last(evs, "workflow.decide_re_review")
    out.append(clock(dl.ClockKind.REREVIEW, china_day(asked_again.at),
                     china_day(rereview.at) if rereview else None))
    return out


def current_clock(clocks: Sequence[CaseClock]) -> CaseClock | None:
    """The office's running clock, if any (the one a list shows as days left)."""
    for c in reversed(clocks):
        if c.is_running and c.is_office_duty:
            return c
    return None


def _events(session: Session, case_ids: Sequence[int]) -> dict[int, list[CaseEvent]]:
    found: dict[int, list[CaseEvent]] = defaultdict(list)
    if not case_ids:
        return found
    stmt = (select(CaseEvent).where(CaseEvent.case_id.in_(list(case_ids)),
                                    CaseEvent.kind.in_(CLOCK_EVENT_KINDS))
            .order_by(CaseEvent.case_id, CaseEvent.seq))
    for e in session.scalars(stmt):
        found[e.case_id].append(e)
    return found


def clocks_for_case(session: Session, case: Case, today: date | None = None
                    ) -> list[CaseClock]:
    return clocks_from_events(case, _events(session, [case.id])[case.id], today)


def current_clocks(session: Session, cases: Sequence[Case], today: date | None = None
                   ) -> dict[int, CaseClock | None]:
    """The running office clock of each case, with one query for all of them."""
    today = today or today_in_china()
    by_case = _events(session, [c.id for c in cases])
    return {c.id: current_clock(clocks_from_events(c, by_case.get(c.id, []), today))
            for c in cases}
