"""Invitations (e-mail with an .ics, in-app, SMS), RSVP, reminders, updates and
cancellations. Other parts call `invite`, `send_update` and `send_cancellation`; the RSVP
page calls `respond`, the organiser's button `remind`, the worker `reminder_tick`.

Every function works in the caller's transaction (flush, never commit). Each message goes
out once: `Participant.reminders_sent` keeps the key of every message sent to that
participant (``invite:<seq>``, ``update:<seq>``, ``cancel:<seq>``, ``3d:<seq>``,
``1d:<seq>``, ``manual:<iso time>``; <seq> is the hearing's SEQUENCE, so a rescheduled
hearing is reminded again), and each e-mail carries an outbox dedupe key. The participant's
row is locked (PostgreSQL) before a key is checked, so two requests racing send once.

Channels: an account gets the in-app notice; an e-mail address (the participant's, the
account's, the registry person's) gets the e-mail with the .ics; a phone with no e-mail
gets a text message. A personal link is issued by `invite` and `remind` only, and goes
into the messages only (never logged): an update or a reminder keeps the link."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from functools import partial
from typing import Any

from flask import Flask, current_app, has_request_context, url_for
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from hearings import links, video_rooms
from hearings import messages as msg
from hearings.ics import hearing_calendar
from hearings.models import Hearing, HearingStatus, Participant, ParticipantRole, Rsvp
from hearings.rules import rules
from portal.app import settings_of
from portal.auth.models import User, user_organisations
from portal.auth.roles import Role
from portal.casefiles.models import Party
from portal.errors import DomainError
from portal.i18n import in_locale
from portal.i18n import lazy_gettext as _l
from portal.notify import messages as notices
from portal.notify.operations import notify, queue_email, queue_sms
from portal.timeutil import beijing, utcnow

log = logging.getLogger(__name__)

#: a hearing that has not started: invitations, answers, updates and reminders
AHEAD = (HearingStatus.SCHEDULED, HearingStatus.PUBLISHED)
#: the organiser's "remind" reaches one person at most this often
REMIND_EVERY = timedelta(hours=1)
#: the reminder tick does its look-up at most this often per process
TICK_EVERY = timedelta(minutes=5)
REASON_MAX = 500
_LAST_TICK = "hearings.reminders_last_tick"


class InvitationRefused(DomainError):
    status = 409


# --- whom and how ------------------------------------------------------------------------

@dataclass(frozen=True)
class Contact:
    user: User | None
    email: str | None
    phone: str | None
    locale: str


def contact_of(session: Session, participant: Participant) -> Contact:
    user = session.get(User, participant.user_id) if participant.user_id else None
    if user is not None and not user.is_active:
        user = None
    person = participant.person
    party = session.get(Party, participant.party_id) if participant.party_id else None
    email = (participant.email or (user.email if user else None)
             or (person.email if person is not None else None))
    phone = (participant.phone or (person.phone if person is not None else None)
             or (party.phone if party is not None else None))
    locale = (notices.locale_of(session, user.id) if user is not None
              else str(current_app.config.get("BABEL_DEFAULT_LOCALE") or "zh_CN"))
    return Contact(user, email or None, phone or None, locale)


def _link(token: str, external: bool) -> str:
    if has_request_context() or current_app.config.get("SERVER_NAME"):
        return url_for("hearings.rsvp", token=token, _external=external)
    with current_app.test_request_context():  # a worker or a command: the path only
        return url_for("hearings.rsvp", token=token)


def reachable(session: Session, participant: Participant) -> bool:
    """Whether the portal can reach them at all: an account, an address or a phone."""
    contact = contact_of(session, participant)
    return contact.user is not None or bool(contact.email or contact.phone)


def rsvp_path(token: str) -> str:
    return _link(token, external=False)


def rsvp_url(token: str) -> str:
    """The personal link as the recipient opens it: absolute when a request (or
    SERVER_NAME) says where the portal is, the path otherwise."""
    return _link(token, external=True)


def calendar(hearing: Hearing, participant: Participant, method: str = "REQUEST",
             email: str | None = None, sequence: int | None = None) -> str:
    """The participant's .ics in the current language (same UID for the hearing's life)."""
    organizer = parseaddr(settings_of(current_app).mail_from)[1] or None
    return hearing_calendar(
        hearing, method=method, summary=msg.calendar_summary(hearing),
        description=msg.calendar_description(hearing, participant),
        organizer_email=organizer, attendee_email=email, sequence=sequence).decode()


@dataclass(frozen=True)
class Message:
    """One message to one participant, on every channel they have."""

    key: str  # the in-app notice (portal.notify.messages)
    values: dict[str, Any]
    compose: Callable[[], tuple[str, str]]  # (subject, body) in the current language
    sms: Callable[[], str]
    dedupe: str
    method: str | None = "REQUEST"  # the .ics attached, if any
    link: str | None = None  # the in-app notice's link (a path)
    url: str = ""  # the personal link, for the text message's template
    sequence: int | None = None  # the .ics SEQUENCE, when not the hearing's


def _deliver(session: Session, hearing: Hearing, participant: Participant,
             message: Message) -> None:
    """Send `message` to the participant on every channel they have."""
    contact = contact_of(session, participant)
    if contact.user is not None:
        notify(session, contact.user, message.key, message.values, message.link,
               email=False)
    with in_locale(contact.locale):
        subject, body = message.compose()
        ics = calendar(hearing, participant, message.method, contact.email,
                       message.sequence) if message.method else None
        text = message.sms()
    if contact.email:
        attachment = (("hearing.ics", f"text/calendar; method={message.method}", ics)
                      if ics is not None else None)
        queue_email(session, to=contact.email, subject=subject, body=body,
                    dedupe_key=f"{message.dedupe}:email", attachment=attachment)
    elif contact.phone:
        queue_sms(session, to=contact.phone, text=text, locale=contact.locale,
                  params={"name": participant.name, "title": hearing.title,
                          "when": msg.when(hearing), "url": message.url},
                  dedupe_key=f"{message.dedupe}:sms")


def _lock(session: Session, participant: Participant) -> None:
    """Hold the participant's row (PostgreSQL; SQLite writes one at a time anyway) and
    read its keys afresh, so that two requests racing send a message once."""
    session.flush()
    session.refresh(participant, with_for_update=True)


def _mark(participant: Participant, key: str) -> None:
    participant.reminders_sent = [*(participant.reminders_sent or []), key]


def _sent(participant: Participant, key: str) -> bool:
    return key in (participant.reminders_sent or [])


def _values(hearing: Hearing, participant: Participant) -> dict[str, Any]:
    return {"title": hearing.title, "when": msg.when(hearing),
            "where": msg.where_source(hearing), "role": msg.role_source(participant)}


def invitees(hearing: Hearing) -> list[Participant]:
    """Those invited who still take part (not replaced, not declined)."""
    return [p for p in hearing.participants
            if p.is_active and p.invited_at is not None and p.rsvp != Rsvp.DECLINED]


# --- the interface other parts call ------------------------------------------------------

def invite(session: Session, actor: Any, hearing: Hearing, participant: Participant) -> None:
    """Send `participant` the invitation (a fresh personal link, the .ics); called when a
    panel seat is filled and when the hearing's participants are set at scheduling. Once
    per participant and SEQUENCE: a second call sends nothing (and keeps the link)."""
    if hearing.status not in AHEAD:
        raise InvitationRefused(_l("Invitations go out only before the hearing starts."))
    if not participant.is_active:
        raise InvitationRefused(_l("This place has been given to someone else."))
    _lock(session, participant)
    key = f"invite:{hearing.ical_sequence}"
    if _sent(participant, key):
        return
    token = links.issue_participant_token(participant)
    participant.invited_at = utcnow()
    _mark(participant, key)
    url = rsvp_url(token)
    _deliver(session, hearing, participant, Message(
        msg.INVITED, _values(hearing, participant),
        partial(msg.invitation, hearing, participant, url),
        partial(msg.invitation_sms, hearing, participant, url),
        dedupe=f"hearing-invite:{participant.id}:{hearing.ical_sequence}",
        link=rsvp_path(token), url=url))
    session.flush()


def _previous(hearing: Hearing) -> dict[str, object]:
    """The time and place before the caller's unflushed change (nothing once flushed)."""
    state = inspect(hearing)
    found: dict[str, object] = {}
    for name in ("starts_at", "ends_at", "place"):
        history = state.attrs[name].history
        if history.deleted:
            found[name] = history.deleted[0]
    if "starts_at" in found or "ends_at" in found:
        found.setdefault("starts_at", hearing.starts_at)
        found.setdefault("ends_at", hearing.ends_at)
    return found


def send_update(session: Session, actor: Any, hearing: Hearing,
                previous: dict[str, object] | None = None) -> None:
    """The time or place changed (the caller raised hearing.ical_sequence): send every
    invitee the updated .ics, same UID, saying what changed. `previous` holds the old
    starts_at / ends_at / place (by default read from the caller's unflushed change)."""
    before = previous if previous is not None else _previous(hearing)
    seq = hearing.ical_sequence
    for participant in invitees(hearing):
        _lock(session, participant)
        key = f"update:{seq}"
        if _sent(participant, key) or participant.rsvp == Rsvp.DECLINED:
            continue
        _mark(participant, key)
        _deliver(session, hearing, participant, Message(
            msg.UPDATED, _values(hearing, participant),
            partial(msg.update, hearing, participant, before),
            partial(msg.update_sms, hearing, participant),
            dedupe=f"hearing-update:{participant.id}:{seq}"))
    session.flush()


def send_cancellation(session: Session, actor: Any, hearing: Hearing) -> None:
    """The hearing is cancelled: METHOD:CANCEL (same UID) to every invitee."""
    seq = hearing.ical_sequence
    for participant in invitees(hearing):
        _lock(session, participant)
        key = f"cancel:{seq}"
        if _sent(participant, key):
            continue
        _mark(participant, key)
        _deliver(session, hearing, participant, Message(
            msg.CANCELLED, _values(hearing, participant),
            partial(msg.cancellation, hearing, participant),
            partial(msg.cancellation_sms, hearing, participant),
            dedupe=f"hearing-cancel:{participant.id}:{seq}", method="CANCEL"))
    session.flush()


def withdraw(session: Session, actor: Any, hearing: Hearing,
             participant: Participant) -> None:
    """Their place was taken back (a panel member removed, or replaced by a new draw or
    a substitute): METHOD:CANCEL to them alone (same UID, SEQUENCE one above the
    hearing's, so their calendar drops it), once. Nothing for someone never invited."""
    if participant.invited_at is None:
        return
    _lock(session, participant)
    seq = hearing.ical_sequence
    key = f"withdrawn:{seq}"
    if _sent(participant, key):
        return
    _mark(participant, key)
    _deliver(session, hearing, participant, Message(
        msg.WITHDRAWN, {"title": hearing.title, "when": msg.when(hearing)},
        partial(msg.withdrawal, hearing, participant),
        partial(msg.withdrawal_sms, hearing, participant),
        dedupe=f"hearing-withdrawn:{participant.id}:{seq}", method="CANCEL",
        sequence=seq + 1))
    session.flush()


# --- the participant's answer ------------------------------------------------------------

def has_started(hearing: Hearing, now: datetime | None = None) -> bool:
    return (hearing.status not in AHEAD or hearing.started_at is not None
            or (now or utcnow()) >= hearing.starts_at)


def may_answer(participant: Participant, now: datetime | None = None) -> bool:
    return participant.is_active and not has_started(participant.hearing, now)


def respond(session: Session, participant: Participant, *, accept: bool, reason: str = "",
            now: datetime | None = None) -> None:
    """The participant's answer (again: a new answer replaces it) until the hearing
    starts. A decline needs a reason and tells the organisers, naming the seat."""
    now = now or utcnow()
    hearing = participant.hearing
    _lock(session, participant)  # two answers at once: one notice of a decline
    if not participant.is_active:
        raise InvitationRefused(_l("Your place has been given to someone else, so your "
                                   "answer can no longer be changed."))
    if has_started(hearing, now):
        raise InvitationRefused(_l("The hearing has started (or is no longer held), so "
                                   "your answer can no longer be changed."))
    reason = (reason or "").strip()
    if not accept and not reason:
        raise DomainError(_l("Please say why you cannot attend."))
    if len(reason) > REASON_MAX:
        raise DomainError(_l("The reason is too long (at most %(n)d characters).",
                             n=REASON_MAX))
    newly_declined = not accept and participant.rsvp != Rsvp.DECLINED
    participant.rsvp = Rsvp.ACCEPTED if accept else Rsvp.DECLINED
    participant.decline_reason = "" if accept else reason
    participant.responded_at = now
    if newly_declined:
        _tell_organisers(session, hearing, participant, now)
    session.flush()
    video_rooms.sync(session, hearing)  # a declined member's video seats close at once


def organisers(session: Session, hearing: Hearing) -> list[User]:
    """The office's active clerks and leaders, and whoever scheduled the hearing."""
    found: list[User] = list(session.scalars(
        select(User).join(user_organisations, user_organisations.c.user_id == User.id)
        .where(user_organisations.c.organisation_id == hearing.office_id,
               User.is_active.is_(True)).order_by(User.id)))
    found = [u for u in found if u.has_role(Role.CLERK, Role.LEADER)]
    creator = session.get(User, hearing.created_by_id)
    if creator is not None and creator.is_active and all(u.id != creator.id for u in found):
        found.append(creator)
    return found


def _tell_organisers(session: Session, hearing: Hearing, participant: Participant,
                     now: datetime) -> None:
    values: dict[str, Any]
    if participant.role == ParticipantRole.PANEL and participant.seat_no:
        key, values = msg.DECLINED_SEAT, {"seat": participant.seat_no}
    else:
        key, values = msg.DECLINED, {"role": msg.role_source(participant)}
    values.update(name=participant.name, title=hearing.title,
                  reason=participant.decline_reason)
    for user in organisers(session, hearing):
        notify(session, user, key, values, f"/hearings/{hearing.id}",
               dedupe_key=f"hearing-declined:{participant.id}:{now.isoformat()}:{user.id}")


# --- reminders -----------------------------------------------------------------------------

def last_manual_reminder(participant: Participant) -> datetime | None:
    times = [datetime.fromisoformat(k.split(":", 1)[1])
             for k in participant.reminders_sent or [] if str(k).startswith("manual:")]
    return max(times) if times else None


def next_remind_at(participant: Participant) -> datetime | None:
    """When the organiser may remind this person again (None: now)."""
    last = last_manual_reminder(participant)
    return last + REMIND_EVERY if last is not None else None


def may_remind(participant: Participant, now: datetime | None = None) -> bool:
    """A reminder button for someone invited who has not answered, before the start."""
    return (participant.is_active and participant.invited_at is not None
            and participant.rsvp == Rsvp.PENDING
            and not has_started(participant.hearing, now))


def remind(session: Session, actor: Any, hearing: Hearing, participant: Participant,
           now: datetime | None = None) -> None:
    """The organiser reminds someone who has not answered, with a new personal link (they
    may have lost the first); at most once an hour per person, and only someone the
    portal can reach (an account, an address or a phone)."""
    now = now or utcnow()
    if participant.hearing_id != hearing.id or not may_remind(participant, now):
        raise InvitationRefused(_l("Only someone invited who has not answered can be "
                                   "reminded, before the hearing starts."))
    if not reachable(session, participant):
        raise InvitationRefused(_l("%(name)s has no account, e-mail address or phone number "
                                   "on file: please call them.", name=participant.name))
    _lock(session, participant)
    if not may_remind(participant, now):  # answered while we waited for the lock
        raise InvitationRefused(_l("Only someone invited who has not answered can be "
                                   "reminded, before the hearing starts."))
    again = next_remind_at(participant)
    if again is not None and now < again:
        raise DomainError(_l("%(name)s was reminded less than an hour ago; you can remind "
                             "again after %(time)s.", name=participant.name,
                             time=f"{beijing(again):%H:%M}"), status=429)
    token = links.issue_participant_token(participant)
    stamp = now.isoformat()
    _mark(participant, f"manual:{stamp}")
    url = rsvp_url(token)
    _deliver(session, hearing, participant, Message(
        msg.REMINDER, _values(hearing, participant),
        partial(msg.reminder, hearing, participant, url),
        partial(msg.reminder_sms, hearing, participant, url),
        dedupe=f"hearing-remind:{participant.id}:{stamp}", method=None,
        link=rsvp_path(token), url=url))
    session.flush()


def remind_all(session: Session, actor: Any, hearing: Hearing,
               now: datetime | None = None) -> tuple[int, list[str]]:
    """Remind everyone who has not answered and was not reminded within the hour.
    Returns how many were reminded, and the names of those the portal cannot reach."""
    now = now or utcnow()
    sent, unreachable = 0, []
    for participant in list(hearing.participants):
        again = next_remind_at(participant)
        if not may_remind(participant, now) or (again is not None and now < again):
            continue
        if not reachable(session, participant):
            unreachable.append(participant.name)
            continue
        try:
            remind(session, actor, hearing, participant, now)
        except DomainError:  # answered or reminded while we waited: nothing was changed
            continue
        sent += 1
    return sent, unreachable


def _due_keys(hearing: Hearing, participant: Participant, now: datetime) -> list[int]:
    return [d for d in rules().reminder_days
            if now >= hearing.starts_at - timedelta(days=d)
            and not _sent(participant, f"{d}d:{hearing.ical_sequence}")]


def send_due_reminders(session: Session, now: datetime) -> int:
    """The reminders due at `now` (rules().reminder_days before each hearing ahead), each
    once, to everyone invited who has not declined. An invitation sent after a reminder's
    moment stands for that reminder. Returns how many reminders went out."""
    days = rules().reminder_days
    if not days:
        return 0
    ahead = session.scalars(select(Hearing).where(
        Hearing.status.in_([str(s) for s in AHEAD]), Hearing.starts_at > now,
        Hearing.starts_at <= now + timedelta(days=max(days))).order_by(Hearing.id)).all()
    sent = 0
    for hearing in ahead:
        for participant in invitees(hearing):
            if not _due_keys(hearing, participant, now):
                continue
            _lock(session, participant)
            due = _due_keys(hearing, participant, now)
            if not due or participant.rsvp == Rsvp.DECLINED:
                continue
            for d in due:
                _mark(participant, f"{d}d:{hearing.ical_sequence}")
            nearest = min(due)
            assert participant.invited_at is not None
            if participant.invited_at >= hearing.starts_at - timedelta(days=nearest):
                continue  # invited after this reminder's moment: the invitation is enough
            _deliver(session, hearing, participant, Message(
                msg.REMINDER, _values(hearing, participant),
                partial(msg.reminder, hearing, participant, None),
                partial(msg.reminder_sms, hearing, participant, None),
                dedupe=f"hearing-reminder:{participant.id}:{hearing.ical_sequence}:{nearest}d",
                method=None))
            sent += 1
    session.flush()
    return sent


def reminder_tick(app: Flask, now: datetime | None = None) -> int | None:
    """Called on each pass of the outbox worker; looks at most every TICK_EVERY. Returns
    how many reminders went out, or None when it did not look. Errors are logged and
    tried again on the next look."""
    now = now or utcnow()
    last = app.extensions.get(_LAST_TICK)
    if last is not None and timedelta(0) <= now - last < TICK_EVERY:
        return None
    app.extensions[_LAST_TICK] = now
    from portal.extensions import db

    with app.app_context():
        session: Any = db.session
        try:
            sent = send_due_reminders(session, now)
            session.commit()
        except Exception:
            session.rollback()
            app.extensions.pop(_LAST_TICK, None)
            log.exception("hearing reminders at %s failed; trying again later", now)
            return None
        finally:
            session.remove()
    if sent:
        log.info("hearing reminders: %d sent", sent)
    return sent


def counts(hearing: Hearing) -> dict[str, int]:
    """Answers of those who take part (a replaced seat not counted)."""
    found = {str(r): 0 for r in Rsvp}
    for p in hearing.participants:
        if p.is_active:
            found[p.rsvp] = found.get(p.rsvp, 0) + 1
    return found
