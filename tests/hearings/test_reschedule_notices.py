"""Moving a hearing tells everyone concerned what changed: the invitees' update says the
old time and place (read before the flush forgets them), and the registered observers
get an SMS with the new time, once per move."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select

from hearings import operations
from hearings.links import observer_token_hash
from hearings.models import Observer, ParticipantRole
from hearings.operations import notice_deadline
from portal.crypto import lookup_hash
from portal.notify.models import OutboxMessage
from portal.timeutil import beijing, utcnow
from tests.fixtures.hearings import new_hearing


def _outbox(session, to, channel):
    return list(session.scalars(select(OutboxMessage).where(
        OutboxMessage.to_address == to, OutboxMessage.channel == channel)
        .order_by(OutboxMessage.id)))


def test_the_update_says_what_changed_and_observers_get_an_sms(session, world):
    hearing, _tokens = new_hearing(session, world, status="published",
                                   starts_in=timedelta(days=30))
    presiding = next(p for p in hearing.participants
                     if p.role == ParticipantRole.PRESIDING)
    presiding.invited_at, presiding.email = utcnow(), "presiding@example.org"
    seated = Observer(hearing_id=hearing.id, name="旁听人丁", phone="13800004444",
                      id_number="110101195001011239", id_number_hash=lookup_hash("o:m1"),
                      status="seated", token_hash=observer_token_hash("tm1"),
                      registered_at=utcnow())
    gone = Observer(hearing_id=hearing.id, name="旁听人戊", phone="13800005555",
                    id_number="110101195001011239", id_number_hash=lookup_hash("o:m2"),
                    status="cancelled", token_hash=observer_token_hash("tm2"),
                    registered_at=utcnow())
    session.add_all([seated, gone])
    session.commit()
    old_start = f"{beijing(hearing.starts_at):%Y-%m-%d %H:%M}"
    day = notice_deadline() + timedelta(days=20)
    new_start = datetime.combine(day, time(1, 0), tzinfo=UTC)  # 09:00 in Beijing
    operations.reschedule(session, world.clerk, hearing, hearing.version,
                          starts_at=new_start, ends_at=new_start + timedelta(hours=2),
                          place_kind="room", place="县信访局二楼会议室")
    session.commit()
    [mail] = _outbox(session, "presiding@example.org", "email")
    assert old_start in mail.body, mail.body  # "the time changed from <old> to <new>"
    assert "县信访局听证室" in mail.body  # the old place, named
    [sms] = _outbox(session, "13800004444", "sms")
    assert f"{beijing(new_start):%Y-%m-%d %H:%M}" in (sms.body + (sms.payload or ""))
    assert sms.dedupe_key == f"hearing-observer-moved:{seated.id}:{hearing.ical_sequence}"
    assert _outbox(session, "13800005555", "sms") == []  # a cancelled registration
