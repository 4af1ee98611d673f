"""Deadline reminders through the outbox: once per step, in-app and by e-mail."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from portal.casefiles import clocks as clk
from portal.casefiles import holidays  # noqa: F401  (its table in the metadata)
from portal.casefiles import reminders as rem
from portal.casefiles.reminders_cli import reminders as reminders_command
from portal.notify.models import Notification, OutboxMessage
from tests.fixtures.casefiles import new_case

RECEIVED = date(2026, 3, 2)  # a Monday; the acceptance clock (15 days) is due 17 March
DUE = date(2026, 3, 17)


def at(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), clk.CHINA) + timedelta(hours=10)


@pytest.fixture()
def world(world, session):
    """The shared county (tests.fixtures.casefiles), with an e-mail address for the clerk."""
    world.clerk.email = "clerk@example.cn"
    session.commit()
    return world


def counts(session, user_id):
    notes = session.scalar(select(func.count()).select_from(Notification)
                           .where(Notification.user_id == user_id))
    mails = session.scalars(select(OutboxMessage)
                            .where(OutboxMessage.to_address == "clerk@example.cn")).all()
    return notes, mails


def test_one_reminder_the_day_before_and_none_on_a_repeat(session, world):
    case, _ = new_case(session, world, received_at=at(RECEIVED), leader_id=world.leader.id)
    assert rem.send_due_reminders(session, DUE - timedelta(days=1)) == 1
    session.commit()
    notes, mails = counts(session, world.clerk.id)
    assert notes == 1 and len(mails) == 1
    assert mails[0].dedupe_key == (f"reminder:{case.number}:accept:{DUE.isoformat()}:before1:"
                                   f"{world.clerk.id}")
    assert case.number in mails[0].subject
    assert "is due on 2026-03-17, in 1 day(s)" in mails[0].body
    leader_notes, _ = counts(session, world.leader.id)
    assert leader_notes == 1  # the leader has no e-mail: in-app only
    # again the same day: nothing more
    assert rem.send_due_reminders(session, DUE - timedelta(days=1)) == 0
    session.commit()
    assert counts(session, world.clerk.id)[0] == 1
    assert session.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.dedupe_key.like(f"reminder:{case.number}:%"))) == 1


def test_overdue_case_gets_an_overdue_reminder(session, world):
    case, _ = new_case(session, world, received_at=at(RECEIVED))
    assert rem.send_due_reminders(session, DUE + timedelta(days=1)) == 1
    session.commit()
    _, mails = counts(session, world.clerk.id)
    assert [m.dedupe_key for m in mails] == [
        f"reminder:{case.number}:accept:{DUE.isoformat()}:overdue1:{world.clerk.id}"]
    assert "overdue by 1 day(s)" in mails[0].body
    assert rem.send_due_reminders(session, DUE + timedelta(days=2)) == 0  # every 3 days
    assert rem.send_due_reminders(session, DUE + timedelta(days=4)) == 1
    session.commit()
    assert len(counts(session, world.clerk.id)[1]) == 2


def test_a_decided_case_gets_none(session, world):
    case, _ = new_case(session, world, received_at=at(RECEIVED))
    case.status = "closed"
    session.commit()
    assert rem.send_due_reminders(session, DUE) == 0


def test_reminder_tick_runs_once_a_day(app, session, world, monkeypatch):
    new_case(session, world, received_at=at(RECEIVED))
    calls = []
    real = rem.send_due_reminders

    def spy(s, today):
        calls.append(today)
        return real(s, today)

    monkeypatch.setattr(rem, "send_due_reminders", spy)
    app.extensions.pop("portal.reminders_last_day", None)
    try:
        now = at(DUE)
        assert rem.reminder_tick(app, now) == 1
        assert rem.reminder_tick(app, now + timedelta(hours=2)) is None
        assert calls == [DUE]
    finally:
        app.extensions.pop("portal.reminders_last_day", None)
    assert counts(session, world.clerk.id)[0] == 1


def test_cli_command(app, session, world):
    new_case(session, world, received_at=at(RECEIVED))
    result = app.test_cli_runner().invoke(reminders_command, ["--today", "2026-03-16"],
                                          catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "1 reminder(s) sent for 2026-03-16" in result.output


def test_each_recipient_gets_the_reminder_in_their_language(app, session, world):
    """Stored as a message key: the clerk (who chose Chinese) is mailed in Chinese, the
    clock's name too; the leader's in-app notice reads in the language of the page."""
    from portal.notify import messages

    messages.remember_locale(session, world.clerk.id, "zh_CN")
    session.commit()
    case, _ = new_case(session, world, received_at=at(RECEIVED), leader_id=world.leader.id)
    with app.test_request_context():  # an English request: the clerk still reads Chinese
        assert rem.send_due_reminders(session, DUE - timedelta(days=1)) == 1
    session.commit()
    (mail,) = counts(session, world.clerk.id)[1]
    assert "2026-03-17" in mail.body and "决定是否受理" in mail.body and "is due" not in mail.body
    note = session.scalar(select(Notification).where(Notification.user_id == world.leader.id))
    assert note.message_key == "reminder.before"
    with app.test_request_context():
        shown = messages.text_of(note)
    assert case.number in shown and "is due on 2026-03-17" in shown
