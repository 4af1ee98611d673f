"""Invitations: sent once per participant and SEQUENCE by e-mail (with the .ics), in-app and
by text message; answered on the personal page without logging in; reminders at 3 and 1
days; the organiser's list and reminder button; tokens kept out of the logs."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hearings import invitations as inv
from hearings import links
from hearings.models import Hearing, Participant
from portal.access_log import redact_url
from portal.auth.roles import Role
from portal.notify.models import Notification, OutboxMessage
from portal.timeutil import utcnow
from tests.fixtures.core import login
from tests.fixtures.hearings import add_panel, new_hearing, registry

LINK = re.compile(r"/hearings/rsvp/([a-z2-7]{20,})")


@pytest.fixture()
def world(world, session):
    """The shared county with e-mail addresses for the office's clerk and leader."""
    world.clerk.email = "clerk@example.cn"
    world.leader.email = "leader@example.cn"
    world.office.phone = "0771-1234567"
    session.commit()
    return world


def _hearing(session, world, **fields):
    hearing, _tokens = new_hearing(session, world, **fields)
    people = registry(session, world, deputies=1, cppcc=0, experts=0, lawyers=0)
    add_panel(session, hearing, people)
    panel = _by_role(hearing, "panel")
    panel.rsvp = "pending"  # add_panel seats members as accepted
    session.commit()
    return hearing


def _by_role(hearing: Hearing, role: str) -> Participant:
    return next(p for p in hearing.participants if p.role == role)


def _mails(session, to: str | None) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.to_address == to)
                                .order_by(OutboxMessage.id)))


def _notices(session, user_id: int, key: str | None = None) -> list[Notification]:
    stmt = select(Notification).where(Notification.user_id == user_id)
    if key:
        stmt = stmt.where(Notification.message_key == key)
    return list(session.scalars(stmt.order_by(Notification.id)))


def _invite_all(session, world, hearing: Hearing) -> dict[str, str]:
    """Invite everyone; the personal link each one got, by role (from their message)."""
    tokens = {}
    for p in hearing.participants:
        inv.invite(session, world.clerk, hearing, p)
        session.commit()
        row = session.scalar(select(OutboxMessage).where(
            OutboxMessage.dedupe_key.like(f"hearing-invite:{p.id}:%")))
        assert row is not None, p.role
        match = LINK.search(row.body)
        assert match, row.body
        tokens[p.role] = match.group(1)
    return tokens


# --- sending -------------------------------------------------------------------------------

def test_an_account_gets_the_notice_and_the_email_with_the_calendar_once(session, world):
    hearing = _hearing(session, world)
    presiding = _by_role(hearing, "presiding")
    inv.invite(session, world.clerk, hearing, presiding)
    session.commit()
    [mail] = _mails(session, "leader@example.cn")
    assert mail.subject == f"Hearing invitation: {hearing.title}"
    assert "Your role: Presiding officer" in mail.body
    assert "(Beijing time)" in mail.body and "县信访局听证室" in mail.body
    assert "Questions: call" in mail.body and "0771-1234567" in mail.body
    assert mail.attachment_name == "hearing.ics"
    assert mail.attachment_type == "text/calendar; method=REQUEST"
    assert "METHOD:REQUEST" in (mail.attachment_text or "")
    [notice] = _notices(session, world.leader.id, "hearings.invited")
    token = LINK.search(mail.body).group(1)  # type: ignore[union-attr]
    assert notice.link == f"/hearings/rsvp/{token}"
    assert presiding.invited_at is not None
    # again (a double click, a retry): nothing more, and the link sent still works
    inv.invite(session, world.clerk, hearing, presiding)
    session.commit()
    assert len(_mails(session, "leader@example.cn")) == 1
    assert len(_notices(session, world.leader.id, "hearings.invited")) == 1
    assert links.participant_by_token(session, token) is presiding


def test_a_petitioner_with_a_phone_and_no_email_gets_a_text(session, world):
    hearing = _hearing(session, world)
    petitioner = _by_role(hearing, "petitioner")
    inv.invite(session, world.clerk, hearing, petitioner)
    session.commit()
    [sms] = session.scalars(select(OutboxMessage).where(
        OutboxMessage.dedupe_key == f"hearing-invite:{petitioner.id}:0:sms")).all()
    assert sms.channel == "sms" and sms.to_address == "13800138000"
    assert "as Petitioner" in sms.body and LINK.search(sms.body)
    assert LINK.search(sms.payload or "")  # the provider's template gets the link too


def test_a_panel_member_without_account_gets_the_email(session, world):
    hearing = _hearing(session, world)
    panel = _by_role(hearing, "panel")
    inv.invite(session, world.clerk, hearing, panel)
    session.commit()
    [mail] = _mails(session, panel.email)
    assert "Your role: Panel member, seat 1 (Deputy)" in mail.body


def test_no_invitation_once_the_hearing_is_cancelled(session, world):
    hearing = _hearing(session, world, status="cancelled")
    with pytest.raises(inv.InvitationRefused):
        inv.invite(session, world.clerk, hearing, _by_role(hearing, "presiding"))


def test_the_token_is_never_logged(session, world, caplog):
    hearing = _hearing(session, world)
    with caplog.at_level(logging.DEBUG):
        tokens = _invite_all(session, world, hearing)
    for token in tokens.values():
        assert token not in caplog.text
        # the access log masks the personal page and its calendar file
        assert token not in (redact_url(f"GET /hearings/rsvp/{token} HTTP/1.1") or "")
        assert token not in (redact_url(f"/hearings/rsvp/{token}/hearing.ics") or "")


# --- the personal page ---------------------------------------------------------------------

def test_the_page_shows_the_hearing_without_login_and_is_private(client, session, world):
    hearing = _hearing(session, world)
    token = _invite_all(session, world, hearing)["panel"]
    response = client.get(f"/hearings/rsvp/{token}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert hearing.title in page and "县信访局听证室" in page
    assert "Panel member, seat 1 (Deputy)" in page
    assert "(Beijing time)" in page and "No answer yet" in page
    assert '<meta name="robots" content="noindex, nofollow">' in page
    assert response.headers["X-Robots-Tag"] == "noindex, nofollow"
    assert response.headers["Cache-Control"] == "no-store"
    assert f"/hearings/rsvp/{token}/hearing.ics" in page
    assert "Yes, I will attend" in page and "No, I cannot attend" in page


def test_accept_then_change_to_decline_with_a_reason(client, session, world):
    hearing = _hearing(session, world)
    token = _invite_all(session, world, hearing)["panel"]
    panel = _by_role(hearing, "panel")
    response = client.post(f"/hearings/rsvp/{token}", data={"answer": "accept"})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "your answer is saved" in page and "Accepted" in page
    session.refresh(panel)
    assert panel.rsvp == "accepted" and panel.responded_at is not None
    assert _notices(session, world.clerk.id, "hearings.declined_seat") == []

    response = client.post(f"/hearings/rsvp/{token}",
                           data={"answer": "decline", "reason": "那天在外地出差"})
    assert response.status_code == 303
    session.refresh(panel)
    assert (panel.rsvp, panel.decline_reason) == ("declined", "那天在外地出差")
    # the organisers are told, naming the seat: the office's clerk and leader (the creator)
    for user in (world.clerk, world.leader):
        [notice] = _notices(session, user.id, "hearings.declined_seat")
        assert f"{panel.name} (panel seat 1) declined" in notice.text
        assert "那天在外地出差" in notice.text and "substitute for seat 1" in notice.text
        assert notice.link == f"/hearings/{hearing.id}"
    assert _notices(session, world.other_clerk.id) == []
    assert _notices(session, world.supervisor.id) == []
    page = client.get(f"/hearings/rsvp/{token}").get_data(as_text=True)
    assert "Declined" in page and "那天在外地出差" in page

    # back to yes: the reason goes, no new notice
    client.post(f"/hearings/rsvp/{token}", data={"answer": "accept"})
    session.refresh(panel)
    assert (panel.rsvp, panel.decline_reason) == ("accepted", "")
    assert len(_notices(session, world.clerk.id, "hearings.declined_seat")) == 1


def test_a_petitioner_declining_names_the_role(client, session, world):
    hearing = _hearing(session, world)
    token = _invite_all(session, world, hearing)["petitioner"]
    client.post(f"/hearings/rsvp/{token}", data={"answer": "decline", "reason": "住院"})
    [notice] = _notices(session, world.clerk.id, "hearings.declined")
    assert "(Petitioner) declined" in notice.text and "住院" in notice.text


def test_decline_without_a_reason_is_refused(client, session, world):
    hearing = _hearing(session, world)
    token = _invite_all(session, world, hearing)["panel"]
    response = client.post(f"/hearings/rsvp/{token}", data={"answer": "decline",
                                                            "reason": "   "})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Please say why you cannot attend." in page
    assert 'aria-invalid="true"' in page
    panel = _by_role(hearing, "panel")
    session.refresh(panel)
    assert panel.rsvp == "pending" and panel.responded_at is None
    # no answer at all, or one that is not offered: refused the same way
    assert client.post(f"/hearings/rsvp/{token}", data={}).status_code == 400
    assert client.post(f"/hearings/rsvp/{token}",
                       data={"answer": "maybe"}).status_code == 400
    too_long = client.post(f"/hearings/rsvp/{token}",
                           data={"answer": "decline", "reason": "长" * 501})
    assert too_long.status_code == 400
    session.refresh(panel)
    assert panel.rsvp == "pending"


@pytest.mark.parametrize("token", ["a" * 32, "nope", "x" * 200, "%00%01", "ａ" * 30])
def test_a_wrong_link_is_a_clear_404_and_changes_nothing(client, session, world, token):
    hearing = _hearing(session, world)
    _invite_all(session, world, hearing)
    before = [(p.rsvp, p.responded_at) for p in hearing.participants]
    for response in (client.get(f"/hearings/rsvp/{token}"),
                     client.post(f"/hearings/rsvp/{token}",
                                 data={"answer": "decline", "reason": "x"}),
                     client.get(f"/hearings/rsvp/{token}/hearing.ics")):
        assert response.status_code == 404
        page = response.get_data(as_text=True)
        assert "This link does not work" in page
        assert "call the petition office that invited you" in page
        assert response.headers["X-Robots-Tag"] == "noindex, nofollow"
    session.expire_all()
    assert [(p.rsvp, p.responded_at) for p in hearing.participants] == before
    assert _notices(session, world.clerk.id, "hearings.declined") == []


def test_a_flood_of_answers_from_one_address_is_limited(client, session, world):
    hearing = _hearing(session, world)
    token = _invite_all(session, world, hearing)["panel"]
    for _ in range(30):
        assert client.post(f"/hearings/rsvp/{token}", data={}).status_code == 400
    response = client.post(f"/hearings/rsvp/{token}", data={"answer": "accept"})
    assert response.status_code == 429
    session.refresh(_by_role(hearing, "panel"))
    assert _by_role(hearing, "panel").rsvp == "pending"
    assert client.get(f"/hearings/rsvp/{token}").status_code == 200  # reading is not limited


def test_a_get_changes_nothing(client, session, world):
    hearing = _hearing(session, world)
    token = _invite_all(session, world, hearing)["panel"]
    panel = _by_role(hearing, "panel")
    state = (panel.rsvp, panel.responded_at, panel.token_hash, list(panel.reminders_sent))
    outbox = session.scalar(select(func.count()).select_from(OutboxMessage))
    client.get(f"/hearings/rsvp/{token}")
    client.get(f"/hearings/rsvp/{token}/hearing.ics")
    client.get(f"/hearings/rsvp/{token}?answer=decline&reason=x")
    session.refresh(panel)
    assert (panel.rsvp, panel.responded_at, panel.token_hash,
            list(panel.reminders_sent)) == state
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == outbox


def test_no_change_once_the_hearing_has_started(client, session, world):
    hearing = _hearing(session, world)
    token = _invite_all(session, world, hearing)["panel"]
    client.post(f"/hearings/rsvp/{token}", data={"answer": "accept"})
    hearing.status = "running"
    hearing.started_at = utcnow()
    session.commit()
    page = client.get(f"/hearings/rsvp/{token}").get_data(as_text=True)
    assert "The hearing has started, so your answer can no longer be changed." in page
    assert 'name="answer"' not in page
    response = client.post(f"/hearings/rsvp/{token}", data={"answer": "decline",
                                                            "reason": "临时有事"})
    assert response.status_code == 409
    assert "can no longer be changed" in response.get_data(as_text=True)
    panel = _by_role(hearing, "panel")
    session.refresh(panel)
    assert panel.rsvp == "accepted"
    assert _notices(session, world.clerk.id, "hearings.declined_seat") == []


def test_past_the_start_time_the_answer_is_closed_too(client, session, world):
    hearing = _hearing(session, world, starts_in=timedelta(minutes=-5))
    token = _invite_all(session, world, hearing)["panel"]
    response = client.post(f"/hearings/rsvp/{token}", data={"answer": "accept"})
    assert response.status_code == 409
    session.refresh(_by_role(hearing, "panel"))
    assert _by_role(hearing, "panel").rsvp == "pending"


def test_a_replaced_member_sees_it_and_cannot_answer(client, session, world):
    hearing = _hearing(session, world)
    token = _invite_all(session, world, hearing)["panel"]
    client.post(f"/hearings/rsvp/{token}", data={"answer": "decline", "reason": "出差"})
    panel = _by_role(hearing, "panel")
    panel.is_active = False  # the panel part seated a substitute
    session.commit()
    page = client.get(f"/hearings/rsvp/{token}").get_data(as_text=True)
    assert "Your place has been given to someone else." in page
    assert 'name="answer"' not in page
    response = client.post(f"/hearings/rsvp/{token}", data={"answer": "accept"})
    assert response.status_code == 409
    session.refresh(panel)
    assert panel.rsvp == "declined"
    with pytest.raises(inv.InvitationRefused):
        inv.invite(session, world.clerk, hearing, panel)


def test_a_cancelled_hearing_says_so(client, session, world):
    hearing = _hearing(session, world)
    token = _invite_all(session, world, hearing)["panel"]
    hearing.status = "cancelled"
    hearing.cancel_reason = "信访人撤回申请"
    session.commit()
    page = client.get(f"/hearings/rsvp/{token}").get_data(as_text=True)
    assert "This hearing is cancelled." in page and "信访人撤回申请" in page
    assert 'name="answer"' not in page


# --- reminders -------------------------------------------------------------------------------

def _reminders(session, hearing: Hearing) -> list[str]:
    keys = session.scalars(select(OutboxMessage.dedupe_key).where(
        OutboxMessage.dedupe_key.like("hearing-reminder:%")).order_by(OutboxMessage.id))
    ids = {p.id: p.role for p in hearing.participants}
    found = []
    for key in keys:
        _, pid, _seq, rest = key.split(":", 3)
        if int(pid) in ids:
            found.append(f"{ids[int(pid)]}:{rest}")
    return found


def test_reminders_go_once_at_3_and_1_days_not_to_those_who_declined(app, client, session,
                                                                     world):
    hearing = _hearing(session, world)
    tokens = _invite_all(session, world, hearing)
    client.post(f"/hearings/rsvp/{tokens['petitioner']}",
                data={"answer": "decline", "reason": "住院"})
    client.post(f"/hearings/rsvp/{tokens['panel']}", data={"answer": "accept"})
    start = hearing.starts_at
    app.extensions.pop(inv._LAST_TICK, None)
    try:
        assert inv.reminder_tick(app, start - timedelta(days=4)) == 0
        assert inv.reminder_tick(app, start - timedelta(days=3, minutes=2)) == 0
        # the tick looks at most every 5 minutes: one minute past the moment, not yet
        assert inv.reminder_tick(app, start - timedelta(days=3, minutes=-1)) is None
        app.extensions.pop(inv._LAST_TICK, None)
        assert inv.reminder_tick(app, start - timedelta(days=3, minutes=-1)) == 3
        assert sorted(_reminders(session, hearing)) == [
            "clerk:3d:email", "panel:3d:email", "presiding:3d:email"]
        # the next look the same day: nothing again
        assert inv.reminder_tick(app, start - timedelta(days=2)) == 0
        assert inv.reminder_tick(app, start - timedelta(hours=23)) == 3
        assert inv.reminder_tick(app, start - timedelta(hours=22)) == 0
        assert inv.reminder_tick(app, start + timedelta(hours=1)) == 0  # started
    finally:
        app.extensions.pop(inv._LAST_TICK, None)
    assert sorted(_reminders(session, hearing)) == [
        "clerk:1d:email", "clerk:3d:email", "panel:1d:email", "panel:3d:email",
        "presiding:1d:email", "presiding:3d:email"]
    [notice, _second] = _notices(session, world.leader.id, "hearings.reminder")
    assert f"Reminder: the hearing “{hearing.title}”" in notice.text
    panel = _by_role(hearing, "panel")
    [mail] = [m for m in _mails(session, panel.email)
              if (m.dedupe_key or "").startswith("hearing-reminder:")
              and (m.dedupe_key or "").endswith(":1d:email")]
    assert "You said you will attend." in mail.body
    assert "Use the personal link in your invitation." in mail.body
    assert not LINK.search(mail.body)  # a reminder does not replace the link
    assert links.participant_by_token(session, tokens["panel"]) is not None


def test_invited_after_a_reminders_moment_gets_no_late_reminder(session, world):
    hearing = _hearing(session, world, starts_in=timedelta(days=2))
    _invite_all(session, world, hearing)
    now = utcnow()
    assert inv.send_due_reminders(session, now) == 0  # the invitation stands for the 3-day
    assert inv.send_due_reminders(session, hearing.starts_at - timedelta(hours=20)) == 4
    assert inv.send_due_reminders(session, hearing.starts_at - timedelta(hours=19)) == 0


def test_a_rescheduled_hearing_is_reminded_again(session, world):
    hearing = _hearing(session, world)
    _invite_all(session, world, hearing)
    assert inv.send_due_reminders(session, hearing.starts_at - timedelta(hours=23)) == 4
    hearing.starts_at += timedelta(days=2)
    hearing.ends_at += timedelta(days=2)
    hearing.ical_sequence += 1
    session.commit()
    assert inv.send_due_reminders(session, hearing.starts_at - timedelta(hours=23)) == 4


def test_the_tick_is_registered(app):
    from portal.hooks import ticks

    assert "hearing reminders" in [name for name, _ in ticks(app)]


# --- the organiser's section ---------------------------------------------------------------

def test_the_organiser_sees_the_answers_and_reminds_once_an_hour(app, client, session,
                                                                world):
    hearing = _hearing(session, world)
    tokens = _invite_all(session, world, hearing)
    client.post(f"/hearings/rsvp/{tokens['petitioner']}",
                data={"answer": "decline", "reason": "住院"})
    client.post(f"/hearings/rsvp/{tokens['presiding']}", data={"answer": "accept"})
    login(client, world.clerk)
    page = client.get(f"/hearings/{hearing.id}").get_data(as_text=True)
    assert 'id="invitations"' in page
    assert ("Accepted to take part: 1" in page and "Declined to take part: 1" in page
            and "No answer yet: 2" in page)
    # the column of the invited ("Who" reads 操作人, the one who acted, in Chinese)
    assert 'data-label="Participant"' in page
    assert "Reason: 住院" in page
    panel = _by_role(hearing, "panel")
    remind_url = f"/hearings/{hearing.id}/participants/{panel.id}/remind"
    assert f'action="{remind_url}"' in page
    assert "data-confirm=" in page and "the earlier one stops working" in page
    presiding = _by_role(hearing, "presiding")
    assert f"/participants/{presiding.id}/remind" not in page  # answered: no button

    response = client.post(remind_url)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/hearings/{hearing.id}#invitations")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"A reminder with a new personal link was sent to {panel.name}." in page
    assert "Reminded; again after" in page
    [mail] = [m for m in _mails(session, panel.email)
              if (m.dedupe_key or "").startswith("hearing-remind:")]
    new_token = LINK.search(mail.body).group(1)  # type: ignore[union-attr]
    assert "You have not answered yet." in mail.body
    assert client.get(f"/hearings/rsvp/{tokens['panel']}").status_code == 404  # replaced
    assert client.get(f"/hearings/rsvp/{new_token}").status_code == 200

    # again within the hour: refused, nothing sent, the link unchanged
    response = client.post(remind_url)
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "was reminded less than an hour ago" in page
    assert len([m for m in _mails(session, panel.email)
                if (m.dedupe_key or "").startswith("hearing-remind:")]) == 1
    assert client.get(f"/hearings/rsvp/{new_token}").status_code == 200

    # an hour later it may go again
    session.refresh(panel)
    earlier = "manual:" + (utcnow() - timedelta(minutes=61)).isoformat()
    panel.reminders_sent = [earlier if k.startswith("manual:") else k
                            for k in panel.reminders_sent]
    session.commit()
    assert client.post(remind_url).status_code == 303
    assert len([m for m in _mails(session, panel.email)
                if (m.dedupe_key or "").startswith("hearing-remind:")]) == 2

    # someone who answered cannot be reminded
    response = client.post(f"/hearings/{hearing.id}/participants/{presiding.id}/remind")
    assert response.status_code == 303
    assert "Only someone invited who has not answered" in client.get(
        response.headers["Location"]).get_data(as_text=True)


def test_reminding_someone_who_cannot_be_reached_says_to_call(client, session, world):
    hearing = _hearing(session, world)
    _invite_all(session, world, hearing)
    panel = _by_role(hearing, "panel")
    panel.email = None
    panel.person.email = None
    panel.person.phone = None
    session.commit()
    hash_before = panel.token_hash
    login(client, world.clerk)
    response = client.post(f"/hearings/{hearing.id}/participants/{panel.id}/remind")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "no account, e-mail address or phone number on file: please call them" in page
    session.refresh(panel)
    assert panel.token_hash == hash_before  # the link they have still works


def test_who_may_remind(client, session, world, make_user):
    hearing = _hearing(session, world)
    _invite_all(session, world, hearing)
    panel = _by_role(hearing, "panel")
    url = f"/hearings/{hearing.id}/participants/{panel.id}/remind"
    # the office's supervisor sees the hearing but does not organise it
    login(client, world.supervisor)
    page = client.get(f"/hearings/{hearing.id}").get_data(as_text=True)
    assert 'id="invitations"' not in page
    assert client.post(url).status_code == 403
    client.post("/logout")
    login(client, world.other_clerk)
    assert client.post(url).status_code == 404
    client.post("/logout")
    # a participant of another hearing named with this hearing's id: 404
    other = _hearing(session, world)
    login(client, world.clerk)
    assert client.post(f"/hearings/{hearing.id}/participants/"
                       f"{_by_role(other, 'panel').id}/remind").status_code == 404
    session.refresh(panel)
    assert not any(str(k).startswith("manual:") for k in panel.reminders_sent)
    deputy = make_user(Role.DEPUTY)
    client.post("/logout")
    login(client, deputy)
    assert client.post(url).status_code == 403


def test_remind_all_who_have_not_answered(client, session, world):
    hearing = _hearing(session, world)
    tokens = _invite_all(session, world, hearing)
    client.post(f"/hearings/rsvp/{tokens['clerk']}", data={"answer": "accept"})
    panel = _by_role(hearing, "panel")
    panel.email = None
    panel.person.email = None
    panel.person.phone = None  # nobody to reach: the organiser is told to call
    session.commit()
    login(client, world.clerk)
    page = client.get(f"/hearings/{hearing.id}").get_data(as_text=True)
    assert "Remind all who have not answered (3)" in page
    response = client.post(f"/hearings/{hearing.id}/remind")
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Reminders with new personal links were sent to 2 people." in page
    assert f"please call them: {panel.name}." in page
    sent = session.scalars(select(OutboxMessage.dedupe_key).where(
        OutboxMessage.dedupe_key.like("hearing-remind:%"))).all()
    petitioner, presiding = _by_role(hearing, "petitioner"), _by_role(hearing, "presiding")
    assert sorted(k.split(":")[1] + k[-4:] for k in sent) == sorted(
        [f"{presiding.id}mail", f"{petitioner.id}:sms"])
    assert len(_notices(session, world.leader.id, "hearings.reminder")) == 1
    # again within the hour: only the one who cannot be reached is left
    response = client.post(f"/hearings/{hearing.id}/remind")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Reminders with new personal links" not in page
    assert f"please call them: {panel.name}." in page
    assert len(session.scalars(select(OutboxMessage.dedupe_key).where(
        OutboxMessage.dedupe_key.like("hearing-remind:%"))).all()) == 2
    # once everyone has answered, nothing is waiting
    client.post(f"/hearings/rsvp/{tokens['panel']}", data={"answer": "accept"})
    response = client.post(f"/hearings/{hearing.id}/remind")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Nobody is waiting for a reminder" in page


# --- two requests racing ---------------------------------------------------------------------

def test_two_invitations_racing_send_one_link_that_works(outbox):
    """Two invitations of one participant at once (a double click, the panel part and the
    scheduling part together): the second waits for the first's row lock, then finds it
    sent; the one e-mail's link is the one that works."""
    import threading

    from sqlalchemy import text

    from portal.extensions import db
    from tests.fixtures.core import wait_until
    from tests.hearings.test_ics import committed_world

    with outbox.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("row locks are PostgreSQL's: SQLite lets one writer in at a time")
        world = committed_world()
        world.leader.email = "racing@example.cn"
        db.session.commit()
        hearing, _tokens = new_hearing(db.session, world)
        hearing_id, participant_id = hearing.id, _by_role(hearing, "presiding").id
        db.session.remove()
    holding, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def invite(first: bool) -> None:
        if not first:
            holding.wait(10)
        try:
            with outbox.app_context():
                h = db.session.get(Hearing, hearing_id)
                p = db.session.get(Participant, participant_id)
                inv.invite(db.session(), None, h, p)
                if first:
                    holding.set()
                    release.wait(10)
                db.session.commit()
                db.session.remove()
        except BaseException as error:  # reported by the test below
            errors.append(error)
            holding.set()

    threads = [threading.Thread(target=invite, args=(first,)) for first in (True, False)]
    for t in threads:
        t.start()

    def second_waits() -> bool:
        with outbox.app_context():
            try:
                return bool(db.session.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()")).scalar())
            finally:
                db.session.remove()

    wait_until(second_waits, what="the second invitation waiting for the row lock")
    release.set()
    for t in threads:
        t.join(10)
    assert not errors
    with outbox.app_context():
        [mail] = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.dedupe_key.like(f"hearing-invite:{participant_id}:%"))).all()
        token = LINK.search(mail.body).group(1)  # type: ignore[union-attr]
        found = links.participant_by_token(db.session(), token)
        assert found is not None and found.id == participant_id
        db.session.remove()
