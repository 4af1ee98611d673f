"""Deadline reminders: before a clock falls due, on the day, and while it is overdue.

`send_due_reminders(session, today)` looks at every open case's running office clock
(clocks.current_clocks), asks `deadlines.reminders_due` whether a reminder falls due
today, and sends it: an in-app notification and, to those with an address, an e-mail
through the outbox. Whom: the responsible leader (包案领导), the lead agency's members
when the case is assigned, and the clerk who registered it (or, if that account is gone,
the registering office's clerks).

Each reminder is sent once: its deterministic key (``<case number>:<clock>:<due>:<step>``)
is recorded in ``case_reminders`` in the same transaction (a unique key, so two workers
racing send it once), and every e-mail carries the outbox dedupe key
``reminder:<key>:<user id>``. `reminder_tick(app, now)` is called from the outbox
worker's loop and runs the whole thing at most once per day per process; running it
more often would only repeat the look-up, never a reminder."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, cast

from flask import Flask
from sqlalchemy import Date, ForeignKey, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal.auth.models import User, user_organisations
from portal.auth.roles import Role
from portal.casefiles import clocks as clk
from portal.casefiles import deadlines as dl
from portal.casefiles.models import Case, Status
from portal.extensions import DbSession, Model
from portal.i18n import in_locale
from portal.i18n import lazy_gettext as _l
from portal.notify.messages import register, render
from portal.notify.operations import notify
from portal.timeutil import UTCDateTime, utcnow

log = logging.getLogger(__name__)

#: a case in these states runs no office clock any more
FINISHED = (Status.CLOSED, Status.ARCHIVED, Status.NOT_ACCEPTED, Status.RE_REVIEWED)
_LAST_RUN = "portal.reminders_last_day"
BATCH = 200


class SentReminder(Model):
    """A reminder that went out; its key is never sent again."""

    __tablename__ = "case_reminders"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: e.g. 2026-XF-000123:accept:2026-10-08:before1
    key: Mapped[str] = mapped_column(String(160), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"),
                                         index=True)
    clock: Mapped[str] = mapped_column(String(32))
    #: ReminderStage
    stage: Mapped[str] = mapped_column(String(16))
    due: Mapped[date] = mapped_column(Date)
    sent_on: Mapped[date] = mapped_column(Date)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def _members(session: DbSession, org_id: int, role: Role | None = None) -> list[User]:
    stmt = (select(User).join(user_organisations,
                              user_organisations.c.user_id == User.id)
            .where(user_organisations.c.organisation_id == org_id,
                   User.is_active.is_(True))
            .order_by(User.id))
    users = list(session.scalars(stmt))
    return [u for u in users if role is None or u.has_role(role)]


def recipients(session: DbSession, case: Case) -> list[User]:
    """The leader, the lead agency's members, the registering clerk; active, no repeats."""
    found: list[User] = []

    def add(users: Iterable[User | None]) -> None:
        for u in users:
            if u is not None and u.is_active and all(u.id != f.id for f in found):
                found.append(u)

    if case.leader_id:
        add([session.get(User, case.leader_id)])
    lead = case.lead_assignment
    if lead is not None:
        add(_members(session, lead.organisation_id))
    clerk = session.get(User, case.created_by_id) if case.created_by_id else None
    if clerk is not None and clerk.is_active:
        add([clerk])
    else:
        add(_members(session, case.office_id, Role.CLERK))
    return found


REMINDERS = {
    dl.ReminderStage.OVERDUE: (
        _l("Case %(number)s: “%(clock)s” is overdue by %(days)d day(s); it was due on "
           "%(due)s."),
        _l("Overdue: case %(number)s")),
    dl.ReminderStage.DUE: (
        _l("Case %(number)s: “%(clock)s” is due today (%(due)s)."),
        _l("Due today: case %(number)s")),
    dl.ReminderStage.BEFORE: (
        _l("Case %(number)s: “%(clock)s” is due on %(due)s, in %(days)d day(s)."),
        _l("Deadline reminder: case %(number)s")),
}
for _stage, (_text, _subject) in REMINDERS.items():
    # the clock's name is a value stored in English and shown in the reader's language
    register(f"reminder.{_stage.value}", _text, _subject, translated=("clock",))


def reminder_key(reminder: dl.Reminder) -> str:
    return f"reminder.{reminder.stage.value}"


def reminder_values(case: Case, clock: clk.CaseClock, reminder: dl.Reminder
                    ) -> dict[str, Any]:
    with in_locale("en"):  # the source text: each reader sees it in their language
        clock_name = str(clock.label)
    return {"number": case.number, "clock": clock_name, "due": reminder.due.isoformat(),
            "days": reminder.days}


def reminder_text(case: Case, clock: clk.CaseClock, reminder: dl.Reminder) -> tuple[str, str]:
    """(subject, text) in the current locale (the default one outside a request)."""
    key, values = reminder_key(reminder), reminder_values(case, clock, reminder)
    return render(key, values, part=1), render(key, values)


def _record(session: DbSession, case: Case, reminder: dl.Reminder, today: date) -> bool:
    """Record the key first; False if another run recorded it already."""
    try:
        with session.begin_nested():
            session.add(SentReminder(key=reminder.key, case_id=case.id,
                                     clock=reminder.kind.value, stage=reminder.stage.value,
                                     due=reminder.due, sent_on=today, sent_at=utcnow()))
    except IntegrityError:
        return False
    return True


def _send(session: DbSession, case: Case, clock: clk.CaseClock, reminder: dl.Reminder
          ) -> None:
    """In-app and by e-mail, each recipient in their own language (a message key and its
    values, portal.notify.messages)."""
    key, values = reminder_key(reminder), reminder_values(case, clock, reminder)
    for user in recipients(session, case):
        notify(session, user, key, values, f"/cases/{case.number}",
               dedupe_key=f"reminder:{reminder.key}:{user.id}")


def send_due_reminders(session: DbSession, today: date) -> int:
    """Send the reminders that fall due on ``today`` (a day in China); flushed, not
    committed. Returns how many reminders (not messages) went out."""
    sent = 0
    ids = list(session.scalars(select(Case.id).where(Case.status.not_in(FINISHED))
                               .order_by(Case.id)))
    for start in range(0, len(ids), BATCH):
        cases: Sequence[Case] = list(session.scalars(
            select(Case).where(Case.id.in_(ids[start:start + BATCH])).order_by(Case.id)))
        running = clk.current_clocks(cast(Session, session), cases, today)
        keys = set(session.scalars(select(SentReminder.key).where(
            SentReminder.case_id.in_([c.id for c in cases]))))
        for case in cases:
            clock = running.get(case.id)
            if clock is None:
                continue
            for reminder in dl.reminders_due(clock.state, today, keys, scope=case.number):
                if _record(session, case, reminder, today):
                    _send(session, case, clock, reminder)
                    sent += 1
    session.flush()
    return sent


def reminder_tick(app: Flask, now: datetime | None = None) -> int | None:
    """Run `send_due_reminders` once per day (China time) per process; call it from the
    outbox worker's loop. Returns the number sent, or None when today's run is done.
    Errors are logged and the day is tried again on the next tick."""
    today = clk.china_day(now or utcnow())
    if app.extensions.get(_LAST_RUN) == today:
        return None
    from portal.extensions import db

    with app.app_context():
        session: Any = db.session
        try:
            sent = send_due_reminders(session, today)
            session.commit()
        except Exception:
            session.rollback()
            log.exception("deadline reminders for %s failed; trying again later", today)
            return None
        finally:
            session.remove()
    app.extensions[_LAST_RUN] = today
    log.info("deadline reminders for %s: %d sent", today, sent)
    return sent
