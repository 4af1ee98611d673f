"""The rota's operations: generate a year's draft, publish, edit one week by hand,
unavailability, swaps (ask, accept, decline, approve, refuse, withdraw), and the three
questions other parts ask: `duty_week_on`, `current_duty`, `next_duty_start`.

They flush, never commit, and raise portal.errors exceptions. A closed week (public
holidays) has no DutyWeek row: rota.plan_year explains why.

Who is told: the lawyers whose weeks change (in-app notice when they have an account, an
e-mail otherwise), and on a swap asked or accepted the organisers who made the weeks
(DutyWeek.created_by_id)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm.exc import StaleDataError

from consultations import links
from consultations import rota as pure
from consultations.models import (
    Consultation,
    DutyWeek,
    RotaFeed,
    RotaStatus,
    SwapRequest,
    SwapStatus,
    Unavailability,
)
from consultations.rules import rules
from portal.auth.models import User
from portal.casefiles.clocks import rules_and_calendar
from portal.errors import DomainError, NotAllowed, NotFound, StaleEdit
from portal.extensions import DbSession as Session
from portal.i18n import lazy_gettext as _l
from portal.notify.messages import register
from portal.notify.operations import notify, queue_email
from portal.people.models import Person
from portal.timeutil import BEIJING, beijing, utcnow

OPEN_SWAPS = (SwapStatus.ASKED, SwapStatus.ACCEPTED)
#: how far ahead next_duty_start looks (a long holiday, a rota not yet made)
LOOKAHEAD_DAYS = 70


#: the reason a published week changed lawyer when the year was planned again
REPLANNED = _l("the rota was planned again: the lawyer on duty left the registry")


class RotaRefused(DomainError):
    """A rota change that the rules do not allow; the message says why."""


NOTICES = {
    "rota.published": (_l("The duty rota of %(year)s is published: you are on duty %(count)s "
                          "weeks, the first from %(first)s."),
                       _l("Duty rota of %(year)s published")),
    "rota.week_changed": (_l("Duty week from %(week)s: %(lawyer)s is now on duty (%(reason)s)."),
                          _l("Duty week from %(week)s changed")),
    "rota.swap_asked": (_l("%(asker)s asks to swap their duty week from %(from_week)s for "
                           "your week from %(to_week)s."),
                        _l("Swap of duty weeks asked")),
    "rota.swap_asked_organiser": (
        _l("%(asker)s asks %(other)s to swap the duty weeks from %(from_week)s and "
           "%(to_week)s."), _l("Swap of duty weeks asked")),
    "rota.swap_accepted": (_l("%(other)s accepted to swap the duty weeks from %(from_week)s and "
                              "%(to_week)s; it awaits the organiser's approval."),
                           _l("Swap of duty weeks accepted")),
    "rota.swap_declined": (_l("%(other)s declined to swap the duty weeks from %(from_week)s "
                              "and %(to_week)s."), _l("Swap of duty weeks declined")),
    "rota.swap_approved": (_l("The swap is approved: you are now on duty the week from "
                              "%(week)s."), _l("Swap of duty weeks approved")),
    "rota.swap_refused": (_l("The swap of the duty weeks from %(from_week)s and %(to_week)s "
                             "was refused."), _l("Swap of duty weeks refused")),
    "rota.swap_withdrawn": (_l("%(asker)s withdrew the request to swap the duty weeks from "
                               "%(from_week)s and %(to_week)s."),
                            _l("Swap of duty weeks withdrawn")),
}
for _key, (_text, _subject) in NOTICES.items():
    register(_key, _text, _subject)


# --- time and hours ----------------------------------------------------------------------

def this_monday(now: datetime | None = None) -> date:
    """The Monday of the week `now` (default: the present) falls in, in Beijing."""
    return pure.monday_of(beijing(now or utcnow()).date())


def is_past(week_start: date, now: datetime | None = None) -> bool:
    """The week has begun (or ended): published weeks from here back never change."""
    return week_start <= this_monday(now)


def default_hours() -> str:
    return ",".join(rules().hours)


def parse_hours(text: str | None) -> list[tuple[time, time]]:
    """"09:00-11:30,14:30-17:30" → spans; a malformed span is left out."""
    spans = []
    for part in (text or "").split(","):
        try:
            first, last = (time.fromisoformat(x.strip()) for x in part.split("-"))
        except ValueError:
            continue
        if first < last:
            spans.append((first, last))
    return sorted(spans)


def week_hours(week: DutyWeek) -> list[tuple[time, time]]:
    return parse_hours(week.hours) or parse_hours(default_hours())


def is_working_day(day: date) -> bool:
    return rules_and_calendar()[1].is_working_day(day)


# --- the questions other parts ask --------------------------------------------------------

def duty_week_on(session: Session, day: date) -> DutyWeek | None:
    """The published, open duty week that `day` (a Beijing date) falls in."""
    return session.scalar(select(DutyWeek).where(
        DutyWeek.week_start == pure.monday_of(day), DutyWeek.status == RotaStatus.PUBLISHED,
        DutyWeek.is_closed.is_(False)))


def current_duty(session: Session, now: datetime | None = None
                 ) -> tuple[DutyWeek | None, bool]:
    """This week's duty week and whether `now` is inside its duty hours (a working day,
    within a span)."""
    here = beijing(now or utcnow())
    week = duty_week_on(session, here.date())
    if week is None or not is_working_day(here.date()):
        return week, False
    moment = here.time().replace(tzinfo=None)
    return week, any(first <= moment < last for first, last in week_hours(week))


def next_duty_start(session: Session, now: datetime | None = None) -> datetime | None:
    """When the next span of duty hours starts after `now` (UTC, aware); None when no
    published week holds one in the next LOOKAHEAD_DAYS days."""
    here = beijing(now or utcnow())
    weeks: dict[date, DutyWeek | None] = {}
    for offset in range(LOOKAHEAD_DAYS):
        day = here.date() + timedelta(days=offset)
        monday = pure.monday_of(day)
        if monday not in weeks:
            weeks[monday] = duty_week_on(session, day)
        week = weeks[monday]
        if week is None or not is_working_day(day):
            continue
        for first, _last in week_hours(week):
            start = datetime.combine(day, first, tzinfo=BEIJING)
            if start > here:
                return start.astimezone(UTC)
    return None


# --- the organiser's rota -----------------------------------------------------------------

def active_lawyers(session: Session) -> list[Person]:
    return list(session.scalars(select(Person).where(
        Person.kind == "lawyer", Person.is_active.is_(True)).order_by(Person.id)))


def weeks_of_year(session: Session, year: int) -> list[DutyWeek]:
    first, last = date(year, 1, 1), date(year, 12, 31)
    return list(session.scalars(select(DutyWeek).where(
        DutyWeek.week_start.between(first, last)).order_by(DutyWeek.week_start)))


def first_plannable(year: int, now: datetime | None = None) -> date | None:
    """The first Monday of `year` that has not begun; None when the year is over."""
    monday = this_monday(now)
    for week in pure.mondays_of(year):
        if week > monday:
            return week
    return None


def replaceable(session: Session, year: int, now: datetime | None = None) -> int:
    """How many weeks already planned a new draft of `year` would replace."""
    start = first_plannable(year, now)
    if start is None:
        return 0
    return session.scalar(select(func.count()).select_from(DutyWeek).where(
        DutyWeek.week_start.between(start, date(year, 12, 31)))) or 0


def _unavailable(session: Session, first: date, last: date) -> list[tuple[int, date]]:
    rows = session.execute(select(Unavailability.person_id, Unavailability.week_start).where(
        Unavailability.week_start.between(first, last)))
    return [(person_id, week) for person_id, week in rows]


def past_load(session: Session, before: date) -> dict[int, int]:
    """Published weeks each lawyer served before `before`."""
    rows = session.execute(select(DutyWeek.lawyer_id, func.count()).where(
        DutyWeek.week_start < before, DutyWeek.status == RotaStatus.PUBLISHED,
        DutyWeek.is_closed.is_(False)).group_by(DutyWeek.lawyer_id))
    return {lawyer_id: n for lawyer_id, n in rows}


@dataclass(frozen=True)
class Generated:
    plan: list[pure.Assignment]
    #: rows written (created or changed)
    written: int


def generate_year(session: Session, user: Any, year: int, *, replace: bool = False,
                  now: datetime | None = None) -> Generated:
    """A draft of the year's weeks that have not begun. Weeks already planned are
    replaced only with `replace` (the page asks first). Published weeks are kept as they
    are (swaps approved and changes made by hand included: rota.plan_year's fixed weeks),
    unless their lawyer left the registry: then the week gets another lawyer, stays
    published, and both lawyers are told. Draft weeks are planned again."""
    start = first_plannable(year, now)
    if start is None or not 2000 <= year <= 2200:
        raise RotaRefused(_l("The weeks of %(year)s have all begun: they cannot be planned "
                             "again.", year=year))
    lawyers = active_lawyers(session)
    if not lawyers:
        raise RotaRefused(_l("There is no active lawyer in the registry: add lawyers first."))
    if replaceable(session, year, now) and not replace:
        raise RotaRefused(_l("%(year)s already has planned weeks: confirm to replace them.",
                             year=year))
    last = date(year, 12, 31)
    existing = {w.week_start: w for w in session.scalars(select(DutyWeek).where(
        DutyWeek.week_start.between(start, last)))}
    before = session.scalar(select(DutyWeek).where(
        DutyWeek.week_start == start - pure.WEEK, DutyWeek.is_closed.is_(False)))
    active = {p.id for p in lawyers}
    kept = {w.week_start: w.lawyer_id for w in existing.values()
            if w.status == RotaStatus.PUBLISHED and not w.is_closed and w.lawyer_id in active}
    plan = pure.plan_year(
        year, [p.id for p in lawyers], is_working_day=is_working_day,
        unavailable=_unavailable(session, start, last), past_load=past_load(session, start),
        min_working_days=rules().min_working_days, fixed=kept,
        previous_lawyer=before.lawyer_id if before else None, start=start)
    written = 0
    hours = default_hours()
    moved: list[tuple[DutyWeek, Person | None]] = []
    for a in plan:
        row = existing.get(a.week_start)
        if a.lawyer_id is None:
            if row is not None:
                _close(session, row)
                written += 1
            continue
        if row is None:
            session.add(DutyWeek(week_start=a.week_start, lawyer_id=a.lawyer_id, hours=hours,
                                 status=RotaStatus.DRAFT, created_by_id=user.id))
            written += 1
        elif row.lawyer_id != a.lawyer_id or row.is_closed:
            if row.status == RotaStatus.PUBLISHED and not row.is_closed:
                moved.append((row, row.lawyer))  # stays published; both are told
            else:
                row.status, row.published_at = RotaStatus.DRAFT, None
            row.lawyer_id, row.is_closed = a.lawyer_id, False
            row.created_by_id = user.id
            written += 1
    session.flush()
    for row, earlier in moved:
        now_on = session.get(Person, row.lawyer_id)
        values = {"week": row.week_start.isoformat(), "lawyer": now_on.name if now_on else "",
                  "reason": str(REPLANNED)}
        for person in {p.id: p for p in (now_on, earlier) if p is not None}.values():
            tell_lawyer(session, person, "rota.week_changed", values,
                        link="/consultations/my-weeks")
    return Generated(plan, written)


def _close(session: Session, row: DutyWeek) -> None:
    """A week that needs no lawyer any more: gone, unless a consultation or a swap names
    it (then kept, marked closed)."""
    named = session.scalar(select(func.count()).select_from(Consultation).where(
        Consultation.duty_week_id == row.id)) or session.scalar(
        select(func.count()).select_from(SwapRequest).where(
            or_(SwapRequest.from_week_id == row.id, SwapRequest.to_week_id == row.id)))
    if named:
        row.is_closed = True
        row.status = RotaStatus.DRAFT
    else:
        session.delete(row)


def publish_year(session: Session, user: Any, year: int, now: datetime | None = None
                 ) -> list[DutyWeek]:
    """Every draft week of `year` becomes published; each lawyer is told their weeks.
    Refused, naming them, while a lawyer declared one of their draft weeks unavailable
    (declared after the draft was made)."""
    drafts = [w for w in weeks_of_year(session, year)
              if w.status == RotaStatus.DRAFT and not w.is_closed]
    if not drafts:
        raise RotaRefused(_l("%(year)s has no draft week to publish.", year=year))
    clashes = session.execute(select(Person.name, Unavailability.week_start).join(
        DutyWeek, (DutyWeek.lawyer_id == Unavailability.person_id)
        & (DutyWeek.week_start == Unavailability.week_start)).join(
        Person, Person.id == Unavailability.person_id).where(
        DutyWeek.id.in_([w.id for w in drafts])).order_by(Unavailability.week_start)).all()
    if clashes:
        raise RotaRefused(_l(
            "Some lawyers declared their draft weeks unavailable: %(clashes)s. Put another "
            "lawyer on those weeks or generate the draft again, then publish.",
            clashes=", ".join(f"{name} ({week.isoformat()})" for name, week in clashes)))
    at = now or utcnow()
    for week in drafts:
        week.status, week.published_at = RotaStatus.PUBLISHED, at
    session.flush()
    mine: dict[int, list[DutyWeek]] = {}
    for week in drafts:
        mine.setdefault(week.lawyer_id, []).append(week)
    for lawyer_id, weeks in mine.items():
        person = session.get(Person, lawyer_id)
        if person is not None:
            tell_lawyer(session, person, "rota.published", {
                "year": year, "count": len(weeks), "first": weeks[0].week_start.isoformat()},
                link="/consultations/my-weeks")
    return drafts


def edit_week(session: Session, user: Any, week_start: date, lawyer_id: int, reason: str,
              now: datetime | None = None) -> DutyWeek:
    """The organiser puts a lawyer on one future week by hand, with a reason; refused when
    that lawyer declared the week unavailable. A published week stays published and both
    lawyers are told."""
    if week_start.weekday() != 0:
        raise NotFound(_l("There is no such duty week."))
    if is_past(week_start, now):
        raise RotaRefused(_l("This week has begun: its lawyer can no longer be changed."))
    reason = reason.strip()
    if not reason:
        raise RotaRefused(_l("Give the reason for the change."))
    lawyer = session.get(Person, lawyer_id)
    if lawyer is None or lawyer.kind != "lawyer" or not lawyer.is_active:
        raise RotaRefused(_l("Choose an active lawyer of the registry."))
    if is_unavailable(session, lawyer.id, week_start):
        raise RotaRefused(_l("%(name)s declared this week unavailable: choose another lawyer.",
                             name=lawyer.name))
    week = session.scalar(select(DutyWeek).where(DutyWeek.week_start == week_start))
    before: Person | None = None
    if week is None:
        week = DutyWeek(week_start=week_start, lawyer_id=lawyer.id, hours=default_hours(),
                        status=RotaStatus.DRAFT, created_by_id=user.id)
        session.add(week)
    else:
        if week.lawyer_id == lawyer.id and not week.is_closed:
            raise RotaRefused(_l("%(name)s is already on duty that week.", name=lawyer.name))
        before = week.lawyer if not week.is_closed else None
        week.lawyer_id, week.is_closed = lawyer.id, False
    session.flush()
    if week.status == RotaStatus.PUBLISHED:
        values = {"week": week_start.isoformat(), "lawyer": lawyer.name, "reason": reason}
        for person in {p.id: p for p in (lawyer, before) if p is not None}.values():
            tell_lawyer(session, person, "rota.week_changed", values,
                        link="/consultations/my-weeks")
    return week


# --- unavailability -----------------------------------------------------------------------

def is_unavailable(session: Session, person_id: int, week_start: date) -> bool:
    return session.scalar(select(Unavailability.id).where(
        Unavailability.person_id == person_id,
        Unavailability.week_start == pure.monday_of(week_start))) is not None


def declare_unavailable(session: Session, me: Person, week_start: date, reason: str = "",
                        now: datetime | None = None) -> Unavailability:
    week_start = pure.monday_of(week_start)
    if is_past(week_start, now):
        raise RotaRefused(_l("That week has begun: declare only weeks to come."))
    if is_unavailable(session, me.id, week_start):
        raise RotaRefused(_l("You have already declared that week unavailable."))
    on_duty = session.scalar(select(DutyWeek).where(
        DutyWeek.week_start == week_start, DutyWeek.lawyer_id == me.id,
        DutyWeek.status == RotaStatus.PUBLISHED, DutyWeek.is_closed.is_(False)))
    if on_duty is not None:
        raise RotaRefused(_l("You are on duty that week in the published rota: ask another "
                             "lawyer to swap instead."))
    row = Unavailability(person_id=me.id, week_start=week_start, reason=reason.strip()[:200])
    session.add(row)
    session.flush()
    return row


def my_unavailability(session: Session, me: Person, row_id: int) -> Unavailability:
    row = session.get(Unavailability, row_id)
    if row is None or row.person_id != me.id:
        raise NotFound(_l("There is no such week."))
    return row


def withdraw_unavailable(session: Session, me: Person, row_id: int,
                         now: datetime | None = None) -> None:
    row = my_unavailability(session, me, row_id)
    if is_past(row.week_start, now):
        raise RotaRefused(_l("That week has begun."))
    session.delete(row)
    session.flush()


# --- swaps --------------------------------------------------------------------------------

def _week_text(week: DutyWeek) -> str:
    return week.week_start.isoformat()


def _swap_values(swap: SwapRequest) -> dict[str, Any]:
    asker, other = swap.from_week.lawyer, swap.to_week.lawyer
    return {"asker": asker.name if asker else "", "other": other.name if other else "",
            "from_week": _week_text(swap.from_week), "to_week": _week_text(swap.to_week)}


def _open_swap_on(session: Session, week_ids: Sequence[int]) -> SwapRequest | None:
    return session.scalar(select(SwapRequest).where(
        SwapRequest.status.in_(OPEN_SWAPS),
        or_(SwapRequest.from_week_id.in_(week_ids), SwapRequest.to_week_id.in_(week_ids))))


def _check_still_as_asked(swap: SwapRequest, now: datetime | None) -> None:
    """Refused when either week has begun or changed hands since the swap was asked."""
    if is_past(swap.from_week.week_start, now) or is_past(swap.to_week.week_start, now):
        raise RotaRefused(_l("One of the two weeks has begun: it can no longer be swapped."))
    if (swap.from_week.lawyer_id != swap.asked_by_id
            or swap.to_week.lawyer_id != swap.asked_of_id
            or swap.from_week.is_closed or swap.to_week.is_closed
            or swap.from_week.status != RotaStatus.PUBLISHED
            or swap.to_week.status != RotaStatus.PUBLISHED):
        raise RotaRefused(_l("One of the two weeks changed since the swap was asked: ask "
                             "again."))


def ask_swap(session: Session, me: Person, my_week_id: int, their_week_id: int,
             reason: str = "", now: datetime | None = None) -> SwapRequest:
    mine, theirs = session.get(DutyWeek, my_week_id), session.get(DutyWeek, their_week_id)
    if mine is None or theirs is None or mine.lawyer_id != me.id:
        raise RotaRefused(_l("Choose one of your own weeks and another lawyer's week."))
    if theirs.lawyer_id == me.id:
        raise RotaRefused(_l("Both weeks are yours: choose another lawyer's week."))
    published = (mine.status == theirs.status == RotaStatus.PUBLISHED
                 and not mine.is_closed and not theirs.is_closed)
    if not published:
        raise RotaRefused(_l("Only weeks of the published rota can be swapped."))
    if is_past(mine.week_start, now) or is_past(theirs.week_start, now):
        raise RotaRefused(_l("A week that has begun can no longer be swapped."))
    if _open_swap_on(session, [mine.id, theirs.id]) is not None:
        raise RotaRefused(_l("One of these weeks already has a swap request pending."))
    if is_unavailable(session, theirs.lawyer_id, mine.week_start):
        raise RotaRefused(_l("%(name)s declared your week unavailable.",
                             name=theirs.lawyer.name))
    if is_unavailable(session, me.id, theirs.week_start):
        raise RotaRefused(_l("You declared that week unavailable yourself."))
    swap = SwapRequest(from_week=mine, to_week=theirs, asked_by_id=me.id,
                       asked_of_id=theirs.lawyer_id, reason=reason.strip(),
                       status=SwapStatus.ASKED)
    session.add(swap)
    session.flush()
    values = _swap_values(swap)
    tell_lawyer(session, theirs.lawyer, "rota.swap_asked", values, link="/consultations/my-weeks")
    _tell_organisers(session, swap, "rota.swap_asked_organiser", values)
    return swap


def my_swap(session: Session, swap_id: int, me: Person, as_asker: bool) -> SwapRequest:
    """The swap when `me` is the lawyer asking (or asked); 404 otherwise."""
    swap = session.get(SwapRequest, swap_id)
    party = None if swap is None else (swap.asked_by_id if as_asker else swap.asked_of_id)
    if swap is None or party != me.id:
        raise NotFound(_l("There is no such swap request."))
    return swap


def answer_swap(session: Session, me: Person, swap_id: int, accept: bool,
                now: datetime | None = None) -> SwapRequest:
    """The lawyer asked accepts (then it awaits the organiser) or declines."""
    swap = my_swap(session, swap_id, me, as_asker=False)
    if swap.status != SwapStatus.ASKED:
        raise RotaRefused(_l("This swap request has already been answered."))
    if accept:
        _check_still_as_asked(swap, now)
    swap.status = SwapStatus.ACCEPTED if accept else SwapStatus.DECLINED
    swap.answered_at = now or utcnow()
    session.flush()
    values = _swap_values(swap)
    asker = swap.from_week.lawyer
    if accept:
        tell_lawyer(session, asker, "rota.swap_accepted", values, link="/consultations/my-weeks")
        _tell_organisers(session, swap, "rota.swap_accepted", values)
    else:
        tell_lawyer(session, asker, "rota.swap_declined", values, link="/consultations/my-weeks")
    return swap


def withdraw_swap(session: Session, me: Person, swap_id: int) -> SwapRequest:
    swap = my_swap(session, swap_id, me, as_asker=True)
    if swap.status not in OPEN_SWAPS:
        raise RotaRefused(_l("This swap request is no longer open."))
    swap.status = SwapStatus.WITHDRAWN
    session.flush()
    other = session.get(Person, swap.asked_of_id)
    if other is not None:
        tell_lawyer(session, other, "rota.swap_withdrawn", _swap_values(swap),
                    link="/consultations/my-weeks")
    return swap


def decide_swap(session: Session, user: Any, swap_id: int, approve: bool,
                now: datetime | None = None) -> SwapRequest:
    """The organiser approves an accepted swap (the two weeks exchange lawyers) or
    refuses it; both lawyers are told."""
    swap = session.get(SwapRequest, swap_id)
    if swap is None:
        raise NotFound(_l("There is no such swap request."))
    if swap.status != SwapStatus.ACCEPTED:
        raise RotaRefused(_l("Only a swap the other lawyer accepted can be decided."))
    a, b = _locked_weeks(session, swap)
    if approve:
        _check_still_as_asked(swap, now)
        # either lawyer may have declared the week they would take unavailable meanwhile
        if is_unavailable(session, swap.asked_of_id, a.week_start) or is_unavailable(
                session, swap.asked_by_id, b.week_start):
            raise RotaRefused(_l("One of the two lawyers declared the week they would take "
                                 "unavailable: the swap cannot be approved."))
        a.lawyer_id, b.lawyer_id = swap.asked_of_id, swap.asked_by_id
    swap.status = SwapStatus.APPROVED if approve else SwapStatus.REFUSED
    swap.decided_by_id, swap.decided_at = user.id, now or utcnow()
    try:
        session.flush()
    except StaleDataError as error:  # a week saved by someone else since it was read
        raise StaleEdit(_l("One of the two weeks changed meanwhile: look again.")) from error
    session.expire(a, ["lawyer"])
    session.expire(b, ["lawyer"])
    values = _swap_values(swap)
    for person_id, week in ((swap.asked_by_id, b), (swap.asked_of_id, a)):
        person = session.get(Person, person_id)
        if person is None:
            continue
        if approve:
            tell_lawyer(session, person, "rota.swap_approved", {"week": _week_text(week)},
                        link="/consultations/my-weeks")
        else:
            tell_lawyer(session, person, "rota.swap_refused", values,
                        link="/consultations/my-weeks")
    return swap


def _locked_weeks(session: Session, swap: SwapRequest) -> tuple[DutyWeek, DutyWeek]:
    """Both weeks, re-read under a row lock (PostgreSQL) so two approvals cannot both swap;
    the version column catches the rest."""
    rows = {w.id: w for w in session.scalars(
        select(DutyWeek).where(DutyWeek.id.in_([swap.from_week_id, swap.to_week_id]))
        .with_for_update().execution_options(populate_existing=True))}
    return rows[swap.from_week_id], rows[swap.to_week_id]


def swaps_for(session: Session, me: Person) -> list[SwapRequest]:
    return list(session.scalars(select(SwapRequest).where(
        or_(SwapRequest.asked_by_id == me.id, SwapRequest.asked_of_id == me.id))
        .order_by(SwapRequest.created_at.desc(), SwapRequest.id.desc()).limit(50)))


def swaps_to_decide(session: Session) -> list[SwapRequest]:
    return list(session.scalars(select(SwapRequest).where(
        SwapRequest.status == SwapStatus.ACCEPTED).order_by(SwapRequest.id)))


def recent_swaps(session: Session, limit: int = 30) -> list[SwapRequest]:
    return list(session.scalars(select(SwapRequest).where(
        SwapRequest.status.not_in([SwapStatus.ACCEPTED]))
        .order_by(SwapRequest.id.desc()).limit(limit)))


# --- the feed link ------------------------------------------------------------------------

def issue_feed(session: Session, me: Person) -> str:
    """A new private feed link for `me`; the old one stops working."""
    token = links.new_token()
    feed = session.scalar(select(RotaFeed).where(RotaFeed.person_id == me.id))
    if feed is None:
        feed = RotaFeed(person_id=me.id, token_hash=links.feed_token_hash(token))
        session.add(feed)
    else:
        feed.token_hash, feed.created_at = links.feed_token_hash(token), utcnow()
    session.flush()
    return token


def feed_weeks(session: Session, person_id: int, now: datetime | None = None
               ) -> list[DutyWeek]:
    """The published weeks of a lawyer from eight weeks back on."""
    since = this_monday(now) - 8 * pure.WEEK
    return list(session.scalars(select(DutyWeek).where(
        DutyWeek.lawyer_id == person_id, DutyWeek.status == RotaStatus.PUBLISHED,
        DutyWeek.is_closed.is_(False), DutyWeek.week_start >= since)
        .order_by(DutyWeek.week_start)))


# --- telling people -----------------------------------------------------------------------

def tell_lawyer(session: Session, person: Person, key: str, values: dict[str, Any],
                link: str | None = None) -> None:
    """An in-app notice (and e-mail) when the lawyer has an account, an e-mail to the
    registry's address otherwise."""
    user = session.get(User, person.user_id) if person.user_id else None
    if user is not None and user.is_active:
        notify(session, user, key, values, link=link)
        return
    from portal.notify import messages

    queue_email(session, to=person.email, subject=messages.render(key, values, "zh_CN", 1),
                body=messages.render(key, values, "zh_CN"))


def _tell_organisers(session: Session, swap: SwapRequest, key: str,
                     values: dict[str, Any]) -> None:
    ids: Iterable[int | None] = {swap.from_week.created_by_id, swap.to_week.created_by_id}
    for user_id in sorted(i for i in ids if i):
        user = session.get(User, user_id)
        if user is not None and user.is_active:
            notify(session, user, key, values, link="/consultations/rota/swaps")


def require_person(me: Person | None) -> Person:
    if me is None:
        raise NotAllowed(_l("Your account is not linked to a lawyer of the registry."))
    return me


# --- seed-demo ----------------------------------------------------------------------------

def seed_rota(session: Session, echo: Any) -> None:
    """The demo's published rota: this week (the demo lawyer login on duty, when linked),
    the rest of this year and all of the next, made by the demo clerk. Idempotent: any
    duty week present means it was seeded."""
    from portal.auth import operations as auth_ops

    if session.scalar(select(DutyWeek.id).limit(1)) is not None:
        echo("consultations: duty rota present, 0 new")
        return
    clerk = auth_ops.find_user(session, "clerk")
    lawyers = active_lawyers(session)
    if clerk is None or not lawyers:
        echo("consultations: demo clerk or lawyers missing; no rota seeded")
        return
    login = auth_ops.find_user(session, "lawyer")
    linked = session.scalar(select(Person).where(Person.user_id == login.id)) if login else None
    monday = this_monday()
    session.add(DutyWeek(week_start=monday, lawyer_id=(linked or lawyers[0]).id,
                         hours=default_hours(), status=RotaStatus.DRAFT,
                         created_by_id=clerk.id))
    session.flush()
    published = 0
    for year in (monday.year, monday.year + 1):
        if first_plannable(year) is not None:
            generate_year(session, clerk, year, replace=True)
        published += len(publish_year(session, clerk, year))
    echo(f"consultations: duty rota seeded, {published} weeks published")
