"""The hearing's calendar files: the invitation (METHOD:REQUEST), an update (same UID,
higher SEQUENCE, what changed said in the e-mail), a cancellation (METHOD:CANCEL, same
UID), the participant's download; and the invitation delivered over real SMTP."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import select

from hearings import invitations as inv
from hearings.models import Hearing, Participant
from portal.extensions import db
from portal.notify import worker
from portal.notify.models import OutboxMessage
from tests.fixtures.casefiles import make_world
from tests.fixtures.core import PASSWORD
from tests.fixtures.hearings import add_panel, new_hearing, registry
from tests.fixtures.notify import SmtpServer, configure

CHINA = ZoneInfo("Asia/Shanghai")
LINK = re.compile(r"(\S*)/hearings/rsvp/([a-z2-7]{20,})")


@pytest.fixture()
def world(world, session):
    world.clerk.email = "clerk@example.cn"
    world.leader.email = "leader@example.cn"
    session.commit()
    return world


def _hearing(session: Any, world: Any) -> Hearing:
    hearing, _tokens = new_hearing(session, world)
    add_panel(session, hearing, registry(session, world, deputies=1, cppcc=0, experts=0,
                                         lawyers=0))
    return hearing


def _by_role(hearing: Hearing, role: str) -> Participant:
    return next(p for p in hearing.participants if p.role == role)


def _event(text: str | bytes) -> tuple[Calendar, Any]:
    cal = Calendar.from_ical(text)
    [event] = cal.walk("VEVENT")
    return cal, event


def _mail(session: Any, key: str) -> OutboxMessage:
    row = session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == key))
    assert row is not None, key
    return row


def test_the_invitation_is_a_request_in_beijing_time(session, world):
    hearing = _hearing(session, world)
    presiding = _by_role(hearing, "presiding")
    inv.invite(session, world.clerk, hearing, presiding)
    session.commit()
    mail = _mail(session, f"hearing-invite:{presiding.id}:0:email")
    cal, event = _event(mail.attachment_text or "")
    assert str(cal["METHOD"]) == "REQUEST"
    [tz] = cal.walk("VTIMEZONE")
    assert str(tz["TZID"]) == "Asia/Shanghai"
    assert str(event["UID"]) == hearing.ical_uid and int(event["SEQUENCE"]) == 0
    assert event["DTSTART"].params["TZID"] == "Asia/Shanghai"
    start = event.decoded("DTSTART")
    assert start.utcoffset() == timedelta(hours=8)
    assert start == hearing.starts_at and event.decoded("DTEND") == hearing.ends_at
    assert str(event["SUMMARY"]) == f"Hearing: {hearing.title}"
    assert str(event["LOCATION"]) == "县信访局听证室"
    assert str(event["ATTENDEE"]) == "mailto:leader@example.cn"
    assert str(event["STATUS"]) == "CONFIRMED"


def test_a_new_time_sends_the_same_uid_with_a_higher_sequence(session, world):
    hearing = _hearing(session, world)
    for p in hearing.participants:
        inv.invite(session, world.clerk, hearing, p)
    panel = _by_role(hearing, "panel")
    panel.rsvp = "declined"  # a declined member hears no more
    panel.decline_reason = "出差"
    session.commit()
    old_start = hearing.starts_at
    # what the scheduling part does: a new time, SEQUENCE raised, then send_update
    hearing.starts_at = old_start + timedelta(days=1, hours=1)
    hearing.ends_at = hearing.starts_at + timedelta(hours=2)
    hearing.ical_sequence += 1
    inv.send_update(session, world.clerk, hearing)
    session.commit()
    presiding = _by_role(hearing, "presiding")
    mail = _mail(session, f"hearing-update:{presiding.id}:1:email")
    cal, event = _event(mail.attachment_text or "")
    assert str(cal["METHOD"]) == "REQUEST"
    assert str(event["UID"]) == hearing.ical_uid and int(event["SEQUENCE"]) == 1
    assert event.decoded("DTSTART") == hearing.starts_at
    old = old_start.astimezone(CHINA)
    new = hearing.starts_at.astimezone(CHINA)
    assert (f"The time changed from {old:%Y-%m-%d %H:%M}–" in mail.body
            and f"to {new:%Y-%m-%d %H:%M}–" in mail.body)
    assert mail.subject == f"Hearing changed: {hearing.title}"
    assert session.scalar(select(OutboxMessage).where(
        OutboxMessage.dedupe_key.like(f"hearing-update:{panel.id}:%"))) is None
    # the petitioner (a phone, no e-mail) gets the news by text
    petitioner = _by_role(hearing, "petitioner")
    sms = _mail(session, f"hearing-update:{petitioner.id}:1:sms")
    assert f"it is now on {new:%Y-%m-%d %H:%M}" in sms.body
    # sent twice by mistake: once
    count = len(session.scalars(select(OutboxMessage.id)).all())
    inv.send_update(session, world.clerk, hearing)
    assert len(session.scalars(select(OutboxMessage.id)).all()) == count


def test_an_update_after_a_flush_says_what_it_was_told(session, world):
    hearing = _hearing(session, world)
    inv.invite(session, world.clerk, hearing, _by_role(hearing, "presiding"))
    old_place = hearing.place
    hearing.place = "乡镇综治中心二楼"
    hearing.ical_sequence += 1
    session.flush()
    inv.send_update(session, world.clerk, hearing, previous={"place": old_place})
    mail = _mail(session, f"hearing-update:{_by_role(hearing, 'presiding').id}:1:email")
    assert "The place changed from 县信访局听证室 to 乡镇综治中心二楼." in mail.body
    _cal, event = _event(mail.attachment_text or "")
    assert str(event["LOCATION"]) == "乡镇综治中心二楼"


def test_a_cancellation_is_a_cancel_with_the_same_uid(session, world):
    hearing = _hearing(session, world)
    for p in hearing.participants:
        inv.invite(session, world.clerk, hearing, p)
    hearing.status = "cancelled"
    hearing.cancel_reason = "信访人撤回申请"
    inv.send_cancellation(session, world.clerk, hearing)
    session.commit()
    panel = _by_role(hearing, "panel")
    mail = _mail(session, f"hearing-cancel:{panel.id}:0:email")
    assert mail.attachment_type == "text/calendar; method=CANCEL"
    cal, event = _event(mail.attachment_text or "")
    assert str(cal["METHOD"]) == "CANCEL"
    assert str(event["UID"]) == hearing.ical_uid
    assert str(event["STATUS"]) == "CANCELLED"
    assert "is cancelled" in mail.body and "Reason: 信访人撤回申请" in mail.body


def test_the_participant_downloads_the_calendar(client, session, world):
    hearing = _hearing(session, world)
    panel = _by_role(hearing, "panel")
    inv.invite(session, world.clerk, hearing, panel)
    session.commit()
    token = LINK.search(_mail(session, f"hearing-invite:{panel.id}:0:email").body).group(2)  # type: ignore[union-attr]
    response = client.get(f"/hearings/rsvp/{token}/hearing.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="hearing-{hearing.id}.ics"')
    assert response.headers["X-Robots-Tag"] == "noindex, nofollow"
    cal, event = _event(response.get_data())
    assert str(cal["METHOD"]) == "PUBLISH"
    assert str(event["UID"]) == hearing.ical_uid
    assert event["DTSTART"].params["TZID"] == "Asia/Shanghai"
    assert "Panel member, seat 1 (Deputy)" in str(event["DESCRIPTION"])


# --- over a real SMTP server ----------------------------------------------------------------

_n = itertools.count(1)


def committed_world() -> Any:
    """make_world in the outbox app's database (its commits are real)."""
    from portal.auth import operations as auth_ops
    from portal.orgs.models import Organisation

    def make_user(*roles: Any, organisations: Any = None, **fields: Any) -> Any:
        name = f"ics{next(_n)}x{id(organisations)}"
        user = auth_ops.create_user(db.session, username=name, display_name=name,
                                    password=PASSWORD, roles=set(roles),
                                    organisations=organisations or [],
                                    check_password=False, email=fields.pop("email", None))
        db.session.commit()
        return user

    def make_org(name: str | None = None, kind: str = "agency", parent: Any = None,
                 **fields: Any) -> Any:
        org = Organisation(name=f"{name}-{next(_n)}", kind=kind, parent=parent, **fields)
        db.session.add(org)
        db.session.commit()
        return org

    return make_world(make_user, make_org)


def test_the_invitation_reaches_a_real_smtp_server_with_its_calendar(outbox,
                                                                     smtp_server: SmtpServer):
    configure(outbox, smtp_url=smtp_server.url, mail_from="县信访局 <xfj@example.cn>")
    with outbox.app_context():
        world = committed_world()
        world.leader.email = "leader@example.cn"
        db.session.commit()
        hearing, _tokens = new_hearing(db.session, world)
        presiding = _by_role(hearing, "presiding")
        with outbox.test_request_context(base_url="https://portal.example.cn"):
            inv.invite(db.session(), world.clerk, hearing, presiding)
        db.session.commit()
        uid = hearing.ical_uid
    assert worker.drain_once(outbox) == 1
    [got] = smtp_server.handler.received
    assert got.rcpt_tos == ["leader@example.cn"]
    assert got.message["Subject"].startswith("Hearing invitation: ")
    plain = got.message.get_body(("plain",))
    assert plain is not None
    body = plain.get_content()
    match = LINK.search(body)
    assert match and match.group(1) == "https://portal.example.cn"
    [part] = list(got.message.iter_attachments())
    assert part.get_content_type() == "text/calendar"
    assert part.get_param("method") == "REQUEST"
    cal, event = _event(part.get_content())
    assert str(event["UID"]) == uid and str(event["ORGANIZER"]) == "mailto:xfj@example.cn"
    assert event["DTSTART"].params["TZID"] == "Asia/Shanghai"
    # the link in the mail opens the personal page
    response = outbox.test_client().get(f"/hearings/rsvp/{match.group(2)}")
    assert response.status_code == 200
