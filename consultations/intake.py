"""Intake and the queue: asking a question (online, by the clerk for a visitor, in person
with the lawyer), the queue and its positions, taking the next, withdrawing, the question
held out of hours, the week-end hand-over and the alert when the duty lawyer is away.

Operations flush, never commit. Who is on duty comes from `consultations.duty_now` (the
rota part's `rota_ops` replaces it at merge).

The queue's order: people who need assistance first (Legal Aid Law Art. 45), then by the
time they asked. Out of duty hours an online question is HELD; when duty starts it counts
as waiting (pages compute that without writing) and is moved to QUEUED by the tick or by
the next "take the next".

"Offline" is read from the lawyer's login session: `LoginSession.last_seen_at` is touched
by every page and socket event of theirs (at most once a minute; the desk's queue polls
every 10 s), so a lawyer with the desk or a chat open is seen; nobody seen for
rules().offline_alert_minutes while someone waits is offline. It is durable and shared by
every process (the worker's tick included), which an in-memory registry is not.

Alerts and hand-overs also leave a system message in the consultation (sender "system",
client_id unique per consultation): the person reads it on their page, the history lists
it, and its unique key makes each alert and hand-over happen once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, func, or_, select, update

from consultations import chat, links
from consultations.chat import ATTACHMENT_TYPES
from consultations.duty_now import current_duty, duty_week_on, next_duty_start
from consultations.models import (
    OPEN_CONSULTATION_STATUSES,
    Channel,
    Consultation,
    ConsultationFile,
    ConsultationStatus,
    DutyWeek,
    Message,
    Sender,
    Topic,
)
from consultations.permissions import can_organise, lawyer_person, organisers
from consultations.rules import rules
from portal.auth.models import LoginSession, User, user_organisations
from portal.casefiles import blobs
from portal.errors import DomainError, NotAllowed
from portal.extensions import DbSession
from portal.i18n import in_locale
from portal.i18n import lazy_gettext as _l
from portal.notify.messages import register
from portal.notify.operations import notify, queue_sms
from portal.people.models import Person
from portal.timeutil import BEIJING, utcnow

#: attachments the person may send with the question
MAX_FILES = 3
#: the longest question, characters
MAX_QUESTION = 2000
#: chat messages quoted in a hand-over summary
SUMMARY_MESSAGES = 5

HANDED_OVER = "consultations.handed_over"
LAWYER_OFFLINE = "consultations.lawyer_offline"
register(HANDED_OVER,
         _l("Consultation no. %(id)s (%(name)s) was handed over to you from %(from)s."),
         _l("Consultation no. %(id)s handed over to you"))
register(LAWYER_OFFLINE,
         _l("%(name)s has waited since %(since)s and the duty lawyer %(lawyer)s is not "
            "online."),
         _l("Duty lawyer not online: consultation no. %(id)s waits"))


class IntakeRefused(DomainError):
    """A rule of the queue refused the step; the message says why."""


@dataclass(frozen=True)
class Attachment:
    data: bytes
    media_type: str
    name: str


# --- asking ------------------------------------------------------------------------------

def _new(session: DbSession, *, channel: str, name: str, phone: str | None, topic: str,
         question: str, needs_assistance: bool, locale: str,
         created_by_id: int | None, now: datetime) -> Consultation:
    # a NUL character cannot be stored (PostgreSQL refuses it): it never means anything
    name, question = name.replace("\x00", ""), question.replace("\x00", "")
    phone = (phone or "").replace("\x00", "") or None
    if topic not in {t.value for t in Topic}:
        raise IntakeRefused(_l("Choose the topic of the question."))
    if not question.strip() or not name.strip():
        raise IntakeRefused(_l("Enter your name and your question."))
    consultation = Consultation(
        channel=channel, name=name.strip()[:60], phone=(phone or "").strip() or None,
        topic=topic, question=question.strip(), needs_assistance=needs_assistance,
        locale=locale if locale in ("zh_CN", "en") else "zh_CN",
        created_by_id=created_by_id, created_at=now)
    return consultation


def _place(session: DbSession, consultation: Consultation, now: datetime) -> None:
    """In the queue during duty hours; held for the next duty otherwise."""
    week = current_duty(session, now)
    if week is not None:
        consultation.status = ConsultationStatus.QUEUED
        consultation.duty_week_id = week.id
        return
    consultation.status = ConsultationStatus.HELD
    starts = next_duty_start(session, now)
    later = duty_week_on(session, starts.astimezone(BEIJING).date()) if starts else None
    consultation.duty_week_id = later.id if later else None


def ask_online(session: DbSession, *, name: str, phone: str | None, topic: str, question: str,
               needs_assistance: bool = False, attachments: list[Attachment] | None = None,
               locale: str = "zh_CN", now: datetime | None = None
               ) -> tuple[Consultation, str]:
    """A question from the public page; returns it and the person's personal link token."""
    now = now or utcnow()
    consultation = _new(session, channel=Channel.ONLINE, name=name, phone=phone, topic=topic,
                        question=question, needs_assistance=needs_assistance, locale=locale,
                        created_by_id=None, now=now)
    _place(session, consultation, now)
    token = links.issue_consultation_token(consultation)
    session.add(consultation)
    session.flush()
    _attach(session, consultation, attachments or [])
    return consultation, token


def register_visitor(session: DbSession, user: Any, *, name: str, phone: str | None,
                     topic: str, question: str, needs_assistance: bool = False,
                     locale: str = "zh_CN", now: datetime | None = None
                     ) -> tuple[Consultation, str]:
    """The clerk registers a visitor's question; the visitor gets a personal link."""
    if not can_organise(user):
        raise NotAllowed(_l("Only the office's clerks register a visitor's question."))
    now = now or utcnow()
    consultation = _new(session, channel=Channel.CLERK, name=name, phone=phone, topic=topic,
                        question=question, needs_assistance=needs_assistance, locale=locale,
                        created_by_id=user.id, now=now)
    _place(session, consultation, now)
    token = links.issue_consultation_token(consultation)
    session.add(consultation)
    session.flush()
    return consultation, token


def log_in_person(session: DbSession, user: Any, *, name: str, phone: str | None, topic: str,
                  question: str, needs_assistance: bool = False,
                  now: datetime | None = None) -> Consultation:
    """The duty lawyer logs a consultation given face to face: it is theirs, active."""
    now = now or utcnow()
    me = lawyer_person(user)
    week = duty_week_on(session, now.astimezone(BEIJING).date())
    if me is None or week is None or week.lawyer_id != me.id:
        raise NotAllowed(_l("Only the lawyer on duty this week logs consultations."))
    consultation = _new(session, channel=Channel.IN_PERSON, name=name, phone=phone,
                        topic=topic, question=question, needs_assistance=needs_assistance,
                        locale="zh_CN", created_by_id=user.id, now=now)
    consultation.status = ConsultationStatus.ACTIVE
    consultation.duty_week_id = week.id
    consultation.lawyer_id = me.id
    consultation.lawyer_user_id = user.id
    consultation.taken_at = now
    session.add(consultation)
    session.flush()
    return consultation


def _attach(session: DbSession, consultation: Consultation,
            attachments: list[Attachment]) -> None:
    if len(attachments) > MAX_FILES:
        raise IntakeRefused(_l("At most %(n)d files can be sent with a question.",
                               n=MAX_FILES))
    for item in attachments:
        if item.media_type not in ATTACHMENT_TYPES:
            raise IntakeRefused(_l("Only pictures and PDF files can be attached."))
        if len(item.data) > rules().max_file_bytes:
            raise IntakeRefused(_l("The file %(name)s is too large.", name=item.name),
                                status=413)
        sha, size = blobs.store_bytes(item.data)
        session.add(ConsultationFile(consultation_id=consultation.id, sender=Sender.ASKER,
                                     sha256=sha, size=size, media_type=item.media_type,
                                     original_name=item.name[:255]))
    session.flush()


def send_link(session: DbSession, consultation: Consultation, url: str) -> bool:
    """Text the personal link to the person's phone (the outbox sends it); True if queued."""
    with in_locale(consultation.locale or "zh_CN"):
        text = _("%(name)s, your question to the duty lawyer was received. Keep this link: "
                 "it shows your place in the queue and the lawyer's answer: %(url)s",
                 name=consultation.name, url=url)
    return queue_sms(session, to=consultation.phone, text=text,
                     params={"name": consultation.name, "url": url},
                     locale=consultation.locale or "zh_CN") is not None


# --- the queue ---------------------------------------------------------------------------

def _waiting_statuses(session: DbSession, now: datetime) -> list[str]:
    """Who counts as waiting: QUEUED, and HELD too once duty has started (before the tick
    or a take moves them), so a page shows it without writing."""
    if current_duty(session, now) is not None:
        return [ConsultationStatus.QUEUED, ConsultationStatus.HELD]
    return [ConsultationStatus.QUEUED]


def _order() -> tuple[Any, ...]:
    return (Consultation.needs_assistance.desc(), Consultation.created_at, Consultation.id)


def waiting(session: DbSession, now: datetime | None = None, limit: int = 200
            ) -> list[Consultation]:
    """The queue in its order (position = index + 1)."""
    now = now or utcnow()
    return list(session.scalars(select(Consultation).where(
        Consultation.status.in_(_waiting_statuses(session, now))).order_by(*_order())
        .limit(limit)))


def positions(session: DbSession, now: datetime | None = None) -> dict[int, int]:
    """Every waiting consultation's place (id -> 1, 2, ...): what a live update sends."""
    return {c.id: i for i, c in enumerate(waiting(session, now), start=1)}


def position(session: DbSession, consultation: Consultation,
             now: datetime | None = None) -> int | None:
    """1 for the next to be taken; None when not waiting."""
    now = now or utcnow()
    statuses = _waiting_statuses(session, now)
    if consultation.status not in statuses:
        return None
    earlier = or_(Consultation.created_at < consultation.created_at,
                  and_(Consultation.created_at == consultation.created_at,
                       Consultation.id < consultation.id))
    if consultation.needs_assistance:
        ahead = and_(Consultation.needs_assistance.is_(True), earlier)
    else:
        ahead = or_(Consultation.needs_assistance.is_(True), earlier)
    count = session.scalar(select(func.count()).select_from(Consultation).where(
        Consultation.status.in_(statuses), ahead))
    return int(count or 0) + 1


def release_held(session: DbSession, now: datetime | None = None) -> int:
    """Duty has started: the held questions join the queue (in their asking order)."""
    now = now or utcnow()
    week = current_duty(session, now)
    if week is None:
        return 0
    result = session.execute(
        update(Consultation).where(Consultation.status == ConsultationStatus.HELD)
        .values(status=ConsultationStatus.QUEUED, duty_week_id=week.id,
                version=Consultation.version + 1)
        .execution_options(synchronize_session=False))
    moved = int(getattr(result, "rowcount", 0) or 0)
    if moved:
        session.expire_all()
        _tell_queue(session)
    return moved


def reserved_for(session: DbSession, lawyer: Person) -> int:
    """How many waiting consultations were handed to this lawyer (theirs to take even
    off duty)."""
    return int(session.scalar(select(func.count()).select_from(Consultation).where(
        Consultation.lawyer_id == lawyer.id, Consultation.status.in_(
            [ConsultationStatus.QUEUED, ConsultationStatus.HELD]))) or 0)


def take_next(session: DbSession, user: Any, now: datetime | None = None) -> Consultation:
    """The next waiting consultation becomes the duty lawyer's (an organiser takes it for
    them). Compare-and-set on status and version: two takes at once never get the same."""
    now = now or utcnow()
    week = duty_week_on(session, now.astimezone(BEIJING).date())
    me = lawyer_person(user)
    if me is not None:
        lawyer = me
        on_duty = week is not None and week.lawyer_id == me.id
        mine = Consultation.lawyer_id == me.id
        allowed = or_(mine, Consultation.lawyer_id.is_(None)) if on_duty else mine
        if not on_duty and not reserved_for(session, me):
            raise NotAllowed(_l("Only the lawyer on duty this week takes consultations "
                                "from the queue."))
    elif can_organise(user):
        if week is None or week.lawyer is None:
            raise IntakeRefused(_l("No lawyer is on duty this week: publish the rota "
                                   "first."))
        lawyer = week.lawyer
        allowed = or_(Consultation.lawyer_id == lawyer.id, Consultation.lawyer_id.is_(None))
    else:
        raise NotAllowed(_l("Only the duty lawyer and the office take consultations."))
    release_held(session, now)
    for _attempt in range(5):
        candidates = session.execute(select(Consultation.id, Consultation.version).where(
            Consultation.status == ConsultationStatus.QUEUED, allowed)
            .order_by(*_order()).limit(5)).all()
        if not candidates:
            break
        for cid, version in candidates:
            result = session.execute(
                update(Consultation).where(
                    Consultation.id == cid, Consultation.version == version,
                    Consultation.status == ConsultationStatus.QUEUED)
                .values(status=ConsultationStatus.ACTIVE, lawyer_id=lawyer.id,
                        lawyer_user_id=lawyer.user_id, taken_at=now,
                        version=Consultation.version + 1)
                .execution_options(synchronize_session=False))
            if getattr(result, "rowcount", 0) == 1:
                taken = session.get(Consultation, cid)
                assert taken is not None
                session.refresh(taken)
                _tell_queue(session, taken)
                return taken
    raise IntakeRefused(_l("Nobody is waiting in the queue."), status=409)


def withdraw(session: DbSession, consultation: Consultation,
             now: datetime | None = None) -> None:
    """The person leaves before being taken."""
    now = now or utcnow()
    result = session.execute(
        update(Consultation).where(
            Consultation.id == consultation.id,
            Consultation.status.in_([ConsultationStatus.HELD, ConsultationStatus.QUEUED]))
        .values(status=ConsultationStatus.WITHDRAWN, closed_at=now,
                version=Consultation.version + 1)
        .execution_options(synchronize_session=False))
    if getattr(result, "rowcount", 0) != 1:
        raise IntakeRefused(_l("This question can no longer be withdrawn: a lawyer has "
                               "taken it or it is closed."), status=409)
    session.refresh(consultation)
    _tell_queue(session)


# --- system messages (history, once-only markers) ---------------------------------------

def _system_message(session: DbSession, consultation: Consultation, key: str, body: str,
                    now: datetime) -> bool:
    """Add a system message once per (consultation, key); False when it exists already."""
    return chat.post_notice(session, consultation, body, key, now)[1]


def system_messages(session: DbSession, consultation: Consultation) -> list[Message]:
    return list(session.scalars(select(Message).where(
        Message.consultation_id == consultation.id, Message.sender == Sender.SYSTEM)
        .order_by(Message.id)))


# --- the week-end hand-over ---------------------------------------------------------------

def _summary(session: DbSession, consultation: Consultation, from_name: str,
             now: datetime) -> str:
    last = list(session.scalars(select(Message).where(
        Message.consultation_id == consultation.id, Message.sender != Sender.SYSTEM)
        .order_by(Message.id.desc()).limit(SUMMARY_MESSAGES)))
    lines = [_("Handed over on %(day)s from %(lawyer)s.",
               day=now.astimezone(BEIJING).strftime("%Y-%m-%d"), lawyer=from_name),
             _("Question: %(question)s", question=consultation.question)]
    if last:
        lines.append(_("Last messages:"))
        for message in reversed(last):
            who = _("Person asking") if message.sender == Sender.ASKER else _("Lawyer")
            lines.append(f"- {who}: {message.body[:300]}")
    else:
        lines.append(_("No messages yet."))
    if consultation.answer.strip():
        lines.append(_("Lawyer's note: %(note)s", note=consultation.answer.strip()))
    if consultation.handover_summary:
        lines += ["", consultation.handover_summary]
    return "\n".join(lines)[:20000]


def hand_over(session: DbSession, now: datetime | None = None) -> int:
    """Open consultations of an earlier week pass to this week's duty lawyer: a summary,
    the new lawyer told, the person told. Returns how many passed."""
    now = now or utcnow()
    week = duty_week_on(session, now.astimezone(BEIJING).date())
    if week is None or week.lawyer is None:
        return 0  # a week without duty: they wait for the next one
    week_began = datetime.combine(week.week_start, datetime.min.time(), tzinfo=BEIJING)
    behind = list(session.scalars(
        select(Consultation).outerjoin(DutyWeek, Consultation.duty_week_id == DutyWeek.id)
        .where(Consultation.status.in_(list(OPEN_CONSULTATION_STATUSES)),
               or_(DutyWeek.week_start < week.week_start,
                   and_(Consultation.duty_week_id.is_(None),
                        Consultation.created_at < week_began)))
        .order_by(Consultation.id)))
    new = week.lawyer
    new_user = session.get(User, new.user_id) if new.user_id else None
    for consultation in behind:
        old_week = session.get(DutyWeek, consultation.duty_week_id) \
            if consultation.duty_week_id else None
        from_id = consultation.lawyer_id or (old_week.lawyer_id if old_week else None)
        old = session.get(Person, from_id) if from_id else None
        from_name = old.name if old else _("the duty lawyer")
        consultation.handover_summary = _summary(session, consultation, from_name, now)
        consultation.duty_week_id = week.id
        if from_id and from_id != new.id:
            consultation.handed_over_from_id = from_id
        consultation.lawyer_id = new.id
        consultation.lawyer_user_id = new.user_id
        session.flush()
        changed = from_id != new.id
        if changed:
            _chat_changed_hands(session, consultation)
        with in_locale(consultation.locale or "zh_CN"):
            told = _("Your consultation continues with this week's duty lawyer, "
                     "%(lawyer)s.", lawyer=new.name)
        _system_message(session, consultation, f"handover-{week.id}", told, now)
        if changed and new_user is not None:
            notify(session, new_user, HANDED_OVER,
                   {"id": consultation.id, "name": consultation.name, "from": from_name},
                   link=f"/consultations/{consultation.id}",
                   dedupe_key=f"consultation-handover:{consultation.id}:{week.id}")
        if changed and consultation.phone:
            queue_sms(session, to=consultation.phone, text=told,
                      params={"name": consultation.name, "lawyer": new.name},
                      locale=consultation.locale or "zh_CN",
                      dedupe_key=f"consultation-handover-sms:{consultation.id}:{week.id}")
    if behind:
        _tell_queue(session)
    return len(behind)


def _tell_queue(session: DbSession, taken: Consultation | None = None) -> None:
    """The waiting people's chats learn their new places once this commits (and the
    taken one's both sides its status)."""
    from consultations import events

    events.announce_queue(session)
    if taken is not None:
        events.announce_status(session, taken)


def _chat_changed_hands(session: DbSession, consultation: Consultation) -> None:
    """The lawyer it was handed over from leaves its chat (and its video room)."""
    from consultations import events
    from consultations.video import end_video

    end_video(session, consultation)
    events.evict(session, consultation.id)


# --- the duty lawyer away -----------------------------------------------------------------

def last_seen(session: DbSession, lawyer: Person) -> datetime | None:
    """When the lawyer's account last made a request (any open login session)."""
    if lawyer.user_id is None:
        return None
    found = session.scalar(select(func.max(LoginSession.last_seen_at)).where(
        LoginSession.user_id == lawyer.user_id, LoginSession.ended_at.is_(None)))
    return _aware(found) if found is not None else None


def is_offline(session: DbSession, lawyer: Person, now: datetime) -> bool:
    seen = last_seen(session, lawyer)
    limit = timedelta(minutes=rules().offline_alert_minutes)
    return seen is None or now - _aware(seen) >= limit


def _aware(at: datetime | str) -> datetime:
    # SQLite's max() loses the column's type: a naive UTC string or datetime comes back
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def answer_expected_by(session: DbSession, now: datetime) -> datetime | None:
    """When an answer can be expected while the lawyer is away: the end of today's duty
    span, or the next duty start."""
    from consultations.duty_now import spans

    week = current_duty(session, now)
    if week is not None:
        local = now.astimezone(BEIJING)
        at = local.time().replace(tzinfo=None)
        for start, end in spans(week):
            if start <= at < end:
                return datetime.combine(local.date(), end, tzinfo=BEIJING)
    return next_duty_start(session, now)


def lawyer_away(session: DbSession, consultation: Consultation, now: datetime) -> bool:
    """The person has waited past the limit and the duty lawyer is offline."""
    if consultation.status not in _waiting_statuses(session, now):
        return False
    week = current_duty(session, now)
    if week is None or week.lawyer is None:
        return False
    waited = now - consultation.created_at >= timedelta(minutes=rules().offline_alert_minutes)
    return waited and is_offline(session, week.lawyer, now)


def _rota_offices(session: DbSession, week: DutyWeek) -> list[int]:
    """The offices of the organiser who made the duty week (their organisers are told)."""
    if week.created_by_id is None:
        return []
    return list(session.scalars(select(user_organisations.c.organisation_id).where(
        user_organisations.c.user_id == week.created_by_id)))


def alert_offline(session: DbSession, now: datetime | None = None) -> int:
    """For each person waiting past the limit while the duty lawyer is offline: a message
    on their page with when to expect an answer, and the clerks alerted, once per wait.
    Returns how many waits were alerted."""
    now = now or utcnow()
    week = current_duty(session, now)
    if week is None or week.lawyer is None or not is_offline(session, week.lawyer, now):
        return 0
    cutoff = now - timedelta(minutes=rules().offline_alert_minutes)
    waiting_now = session.scalars(select(Consultation).where(
        Consultation.status.in_(_waiting_statuses(session, now)),
        Consultation.created_at <= cutoff).order_by(*_order())).all()
    by = answer_expected_by(session, now)
    alerted = 0
    for consultation in waiting_now:
        with in_locale(consultation.locale or "zh_CN"):
            body = _("The duty lawyer is not online at the moment; the office has been "
                     "told. Expect an answer by %(when)s.",
                     when=by.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") if by else "—")
        if not _system_message(session, consultation,
                               f"offline-{consultation.duty_week_id or 0}", body, now):
            continue
        alerted += 1
        since = consultation.created_at.astimezone(BEIJING).strftime("%H:%M")
        for clerk in organisers(session, _rota_offices(session, week)):
            notify(session, clerk, LAWYER_OFFLINE,
                   {"id": consultation.id, "name": consultation.name, "since": since,
                    "lawyer": week.lawyer.name},
                   link=f"/consultations/{consultation.id}", email=False)
    return alerted


# --- history --------------------------------------------------------------------------------

_CREATED: dict[str, Any] = {Channel.ONLINE: _l("Asked online"),
            Channel.CLERK: _l("Registered by the clerk for a visitor"),
            Channel.IN_PERSON: _l("Logged in person by the lawyer")}


def history(session: DbSession, consultation: Consultation) -> list[tuple[datetime, str]]:
    """Each step with its time, oldest first: from the timestamps and system messages."""
    steps: list[tuple[datetime, str]] = [
        (consultation.created_at, str(_CREATED.get(consultation.channel, _l("Asked"))))]
    if consultation.taken_at is not None:
        lawyer = consultation.lawyer.name if consultation.lawyer else "—"
        steps.append((consultation.taken_at, _("Taken by %(lawyer)s", lawyer=lawyer)))
    for message in system_messages(session, consultation):
        steps.append((message.sent_at, message.body))
    if consultation.closed_at is not None:
        label = (_("Withdrawn by the person asking")
                 if consultation.status == ConsultationStatus.WITHDRAWN else _("Finished"))
        steps.append((consultation.closed_at, label))
    return sorted(steps, key=lambda step: step[0])
