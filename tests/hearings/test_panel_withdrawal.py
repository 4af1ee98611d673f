"""A panel member whose place is taken back (removed, replaced by a new draw or by a
substitute) is told, and their calendar drops the hearing: METHOD:CANCEL to them alone,
same UID, SEQUENCE one above the hearing's; the others hear nothing."""

from __future__ import annotations

from sqlalchemy import select

from hearings import invitations, panel
from hearings.models import ParticipantRole, Rsvp
from portal.notify.models import OutboxMessage
from tests.fixtures.hearings import new_hearing, registry


def _mails(session, to):
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == to)
                                .order_by(OutboxMessage.id)))


def _cancels(session, to):
    return [m for m in _mails(session, to)
            if m.attachment_text and "METHOD:CANCEL" in m.attachment_text]


def _members(hearing):
    return [p for p in hearing.participants
            if p.role == ParticipantRole.PANEL and p.is_active]


def test_a_removed_member_gets_a_cancel_for_their_calendar_once(session, world):
    registry(session, world)
    hearing, _tokens = new_hearing(session, world)
    panel.draw_panel(session, world.clerk, hearing, seed=3)
    session.commit()
    removed, *others = _members(hearing)
    panel.remove_member(session, world.clerk, hearing, removed.id)
    session.commit()
    [mail] = _cancels(session, removed.email)
    ics = mail.attachment_text
    assert hearing.ical_uid in ics and f"SEQUENCE:{hearing.ical_sequence + 1}" in ics
    assert "STATUS:CANCELLED" in ics and hearing.title in mail.subject
    assert all(_cancels(session, p.email) == [] for p in others)
    # sent once, whoever asks again
    invitations.withdraw(session, world.clerk, hearing, removed)
    session.commit()
    assert len(_cancels(session, removed.email)) == 1


def test_a_new_draw_and_a_substitute_withdraw_the_replaced(session, world):
    registry(session, world)
    hearing, _tokens = new_hearing(session, world)
    panel.draw_panel(session, world.clerk, hearing, seed=3)
    session.commit()
    first = _members(hearing)
    panel.draw_panel(session, world.clerk, hearing, seed=4)  # nobody had accepted
    session.commit()
    assert not any(p.is_active for p in first)
    again = {p.person_id for p in _members(hearing)}
    replaced = [p for p in first if p.person_id not in again]
    assert replaced
    assert all(len(_cancels(session, p.email)) == 1 for p in replaced)
    # drawn again: no cancel (it would outrank their new invitation)
    assert all(_cancels(session, p.email) == [] for p in first if p.person_id in again)
    decliner = _members(hearing)[0]
    invitations.respond(session, decliner, accept=False, reason="出差")
    session.commit()
    panel.draw_substitute(session, world.clerk, hearing, decliner.id, seed=5)
    session.commit()
    assert decliner.rsvp == Rsvp.DECLINED and not decliner.is_active
    assert len(_cancels(session, decliner.email)) == 1
