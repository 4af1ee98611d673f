"""Observers (旁听): registration, cancellation, promotion from the waiting list, check-in.

Seats. Every change to a hearing's observers first locks the hearing (PostgreSQL: its
row, `SELECT ... FOR UPDATE`; SQLite: the database's one write lock, taken now by a no-op
UPDATE), then counts and writes. So registrations for one hearing are serialised and the
seated count is min(seats, registrations) exactly, whatever the concurrency; the unique
constraint (hearing, ID number hash) stops a person twice, and its violation becomes the
"already registered" message.

Messages go out by SMS (the phone is required) through the outbox, in the same
transaction: the confirmation with the personal link, and the news of a seat when a
waitlisted person is promoted."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hearings import links
from hearings import permissions as perm
from hearings.locking import lock_hearing  # also observers.lock_hearing for its callers
from hearings.messages import where as where_text
from hearings.models import Hearing, HearingStatus, Observer, ObserverStatus
from portal import identity
from portal.crypto import lookup_hash
from portal.errors import DomainError, NotAllowed
from portal.i18n import in_locale
from portal.i18n import lazy_gettext as _l
from portal.notify.operations import queue_sms
from portal.timeutil import beijing, utcnow

_MOBILE = re.compile(r"1[3-9][0-9]{9}")


class RegistrationClosed(DomainError):
    """No registration now (the hearing started, ended, was cancelled, or has no seats)."""


class AlreadyRegistered(DomainError):
    """This ID number is registered for this hearing already (409)."""

    status = 409


@dataclass(frozen=True)
class Registration:
    observer: Observer
    #: the personal link's token: shown once, sent by SMS; never stored
    token: str
    #: place on the waiting list (1 = next), None when seated
    position: int | None


@dataclass(frozen=True)
class Counts:
    seats: int
    seated: int
    waitlisted: int

    @property
    def left(self) -> int:
        return max(0, self.seats - self.seated)


def _already() -> AlreadyRegistered:
    # says nothing of the earlier registration: whoever typed the number may not be its owner
    return AlreadyRegistered(_l(
        "This ID number is already registered to observe this hearing. The link to see "
        "the registration or cancel it was sent by SMS to the phone given then."))


def mobile_number(value: str) -> str:
    """A mainland mobile number, normalised; identity.Invalid otherwise (the messages go
    by SMS, so a landline will not do)."""
    number = identity.phone(value)
    if not _MOBILE.fullmatch(number):
        raise identity.Invalid(_l("Enter a mobile number: the confirmation and your link "
                                  "are sent by SMS."))
    return number


def registration_closed_reason(hearing: Hearing) -> Any:
    """Why registration is closed now (a message), or None when it is open."""
    if hearing.status == HearingStatus.CANCELLED:
        return _l("This hearing was cancelled; registration is closed.")
    if hearing.observer_seats <= 0:
        return _l("This hearing takes no registered observers.")
    if hearing.status != HearingStatus.PUBLISHED or hearing.starts_at <= utcnow():
        return _l("Registration is closed: the hearing has started or is over.")
    return None


def counts(session: Session, hearing: Hearing) -> Counts:
    rows: dict[str, int] = {status: n for status, n in session.execute(
        select(Observer.status, func.count()).where(Observer.hearing_id == hearing.id)
        .group_by(Observer.status))}
    return Counts(seats=hearing.observer_seats, seated=rows.get(ObserverStatus.SEATED, 0),
                  waitlisted=rows.get(ObserverStatus.WAITLISTED, 0))


def waitlist_position(session: Session, observer: Observer) -> int | None:
    """1 for the next to be seated; None when not waitlisted."""
    if observer.status != ObserverStatus.WAITLISTED:
        return None
    ahead = session.scalar(select(func.count()).select_from(Observer).where(
        Observer.hearing_id == observer.hearing_id,
        Observer.status == ObserverStatus.WAITLISTED,
        or_(Observer.registered_at < observer.registered_at,
            and_(Observer.registered_at == observer.registered_at,
                 Observer.id < observer.id))))
    return int(ahead or 0) + 1


def _when(hearing: Hearing) -> str:
    return beijing(hearing.starts_at).strftime("%Y-%m-%d %H:%M")


def register(session: Session, hearing: Hearing, *, name: str, phone: str, id_kind: str,
             id_number: str, locale: str = "zh_CN",
             link_for: Callable[[str], str] = lambda token: token) -> Registration:
    """Register a member of the public: seated while seats remain, waitlisted after.
    `link_for(token)` makes the personal link sent by SMS. Raises RegistrationClosed,
    AlreadyRegistered, DomainError for bad input (the form checks it first)."""
    if not perm.is_publicly_visible(hearing):
        raise RegistrationClosed(_l("This hearing is not open to the public."), status=404)
    name = " ".join(name.split())
    if not name:
        raise DomainError(_l("Enter your name."))
    try:
        number = identity.document_number(id_kind, id_number)
        mobile = mobile_number(phone)
    except identity.Invalid as error:
        raise DomainError(error.message) from None
    id_hash = lookup_hash(number)
    lock_hearing(session, hearing)
    closed = registration_closed_reason(hearing)
    if closed is not None:
        raise RegistrationClosed(closed)
    observer = _existing(session, hearing, id_hash)
    if observer is not None and observer.status != ObserverStatus.CANCELLED:
        raise _already()
    taken = counts(session, hearing)
    now = utcnow()
    if observer is None:  # a cancelled registration is reused: the unique key is the person
        observer = Observer(hearing_id=hearing.id, id_number_hash=id_hash)
        session.add(observer)
    observer.name, observer.phone, observer.id_kind = name[:60], mobile, id_kind
    observer.id_number, observer.locale = number, locale
    observer.registered_at, observer.attended_at = now, None
    if taken.seated < hearing.observer_seats:
        observer.status, observer.seated_at = ObserverStatus.SEATED, now
    else:
        observer.status, observer.seated_at = ObserverStatus.WAITLISTED, None
    token = links.issue_observer_token(observer)
    try:
        session.flush()
    except IntegrityError as error:  # the same person registering twice at one instant
        if "uq_hearing_observers_person" in str(error.orig) or "id_number_hash" in str(
                error.orig):
            raise _already() from error
        raise
    position = waitlist_position(session, observer)
    _confirm(session, hearing, observer, link_for(token), position)
    return Registration(observer, token, position)


def _params(observer: Observer, hearing: Hearing, *, url: str = "",
            position: int | None = None) -> dict[str, str]:
    """The provider template's parameters, named as video's join-link SMS names them."""
    return {"name": observer.name, "title": hearing.title, "when": _when(hearing),
            "url": url, "position": str(position or "")}


def _existing(session: Session, hearing: Hearing, id_hash: str) -> Observer | None:
    return session.scalar(select(Observer).where(Observer.hearing_id == hearing.id,
                                                 Observer.id_number_hash == id_hash))


def _confirm(session: Session, hearing: Hearing, observer: Observer, link: str,
             position: int | None) -> None:
    with in_locale(observer.locale):
        text = _confirmation(hearing, link, position)
    queue_sms(session, to=observer.phone, text=text, locale=observer.locale,
              params=_params(observer, hearing, url=link, position=position))


def _confirmation(hearing: Hearing, link: str, position: int | None) -> str:
    if position is None:
        return str(_l("You are registered to observe the hearing %(title)s on "
                      "%(when)s; your seat is confirmed. Bring your identity document. To "
                      "see or cancel your registration: %(link)s",
                      title=hearing.title, when=_when(hearing), link=link))
    return str(_l("You are on the waiting list (place %(n)d) to observe the hearing "
                  "%(title)s on %(when)s. We will send an SMS if a seat frees. To see or "
                  "cancel your registration: %(link)s", n=position,
                  title=hearing.title, when=_when(hearing), link=link))


def promote(session: Session, hearing: Hearing) -> list[Observer]:
    """Seat the first waitlisted while seats are free, telling each by SMS. Call with the
    hearing locked (lock_hearing); other parts call it after raising observer_seats."""
    taken = counts(session, hearing)
    free = hearing.observer_seats - taken.seated
    if free <= 0 or not taken.waitlisted:
        return []
    seated = list(session.scalars(
        select(Observer).where(Observer.hearing_id == hearing.id,
                               Observer.status == ObserverStatus.WAITLISTED)
        .order_by(Observer.registered_at, Observer.id).limit(free)))
    now = utcnow()
    for observer in seated:
        observer.status, observer.seated_at = ObserverStatus.SEATED, now
        with in_locale(observer.locale):
            text = str(_l("A seat is now yours to observe the hearing %(title)s on "
                          "%(when)s. Bring your identity document. To cancel, use the "
                          "link in our first message.", title=hearing.title,
                          when=_when(hearing)))
        queue_sms(session, to=observer.phone, text=text, locale=observer.locale,
                  params=_params(observer, hearing),
                  dedupe_key=f"hearing-observer-seated:{observer.id}:{now.isoformat()}")
    session.flush()
    return seated


def cancel(session: Session, observer: Observer) -> list[Observer]:
    """The observer cancels (through their link); a freed seat goes to the first
    waitlisted. Returns who was promoted."""
    hearing = session.get(Hearing, observer.hearing_id)
    assert hearing is not None
    lock_hearing(session, hearing)
    session.refresh(observer)
    if observer.status == ObserverStatus.CANCELLED:
        raise DomainError(_l("This registration was already cancelled."))
    if hearing.status not in (HearingStatus.PUBLISHED, HearingStatus.SCHEDULED):
        raise DomainError(_l("The hearing has started or is over: there is nothing to "
                             "cancel."))
    was_seated = observer.status == ObserverStatus.SEATED
    observer.status, observer.seated_at = ObserverStatus.CANCELLED, None
    session.flush()
    return promote(session, hearing) if was_seated else []


def check_in(session: Session, user: Any, hearing: Hearing, observer: Observer) -> None:
    """Mark a seated observer present at the door."""
    if not perm.can_manage_observers(user, hearing):
        raise NotAllowed(_l("Only the organisers and the hearing's clerk may check "
                            "observers in."))
    if observer.hearing_id != hearing.id or observer.status != ObserverStatus.SEATED:
        raise DomainError(_l("Only an observer with a confirmed seat can be checked in."))
    if hearing.status not in (HearingStatus.PUBLISHED, HearingStatus.RUNNING):
        raise DomainError(_l("Observers are checked in on the day, before or during the "
                             "hearing."))
    if observer.attended_at is not None:
        raise DomainError(_l("%(name)s was already checked in at %(time)s.",
                             name=observer.name,
                             time=beijing(observer.attended_at).strftime("%H:%M")))
    observer.attended_at = utcnow()
    session.flush()


def observer_list(session: Session, hearing: Hearing) -> list[Observer]:
    """Seated first, then the waiting list in its order, then the cancelled."""
    order = {ObserverStatus.SEATED: 0, ObserverStatus.WAITLISTED: 1,
             ObserverStatus.CANCELLED: 2}
    rows = session.scalars(select(Observer).where(Observer.hearing_id == hearing.id)
                           .order_by(Observer.registered_at, Observer.id)).all()
    return sorted(rows, key=lambda o: order.get(ObserverStatus(o.status), 3))


def tell_cancelled(session: Session, hearing: Hearing) -> int:
    """Tell every registered observer (seated or waitlisted) by SMS that the hearing is
    off. For the part that cancels a hearing to call in the same transaction; returns
    how many were told. Once per observer, however often it is called."""
    told = 0
    for observer in session.scalars(select(Observer).where(
            Observer.hearing_id == hearing.id,
            Observer.status.in_((ObserverStatus.SEATED, ObserverStatus.WAITLISTED)))):
        with in_locale(observer.locale):
            text = str(_l("The hearing %(title)s on %(when)s is cancelled. Your "
                          "registration to observe it ends; we are sorry for the "
                          "trouble.", title=hearing.title, when=_when(hearing)))
        queue_sms(session, to=observer.phone, text=text, locale=observer.locale,
                  params=_params(observer, hearing),
                  dedupe_key=f"hearing-observer-cancelled:{observer.id}")
        told += 1
    return told


def tell_moved(session: Session, hearing: Hearing) -> int:
    """Tell every registered observer (seated or waitlisted) by SMS the hearing's new
    time and place (the caller raised its SEQUENCE); returns how many were told. Once
    per observer and move, however often it is called."""
    told = 0
    for observer in session.scalars(select(Observer).where(
            Observer.hearing_id == hearing.id,
            Observer.status.in_((ObserverStatus.SEATED, ObserverStatus.WAITLISTED)))):
        with in_locale(observer.locale):
            text = str(_l("The hearing %(title)s has moved: it is now on %(when)s, "
                          "%(where)s. Your registration to observe it stands; to see or "
                          "cancel it, use the link in your confirmation.",
                          title=hearing.title, when=_when(hearing), where=where_text(hearing)))
        queue_sms(session, to=observer.phone, text=text, locale=observer.locale,
                  params=_params(observer, hearing),
                  dedupe_key=f"hearing-observer-moved:{observer.id}:{hearing.ical_sequence}")
        told += 1
    return told
