"""The work of reception rooms: plain functions that take a session and the acting user,
check, change, record room events, and flush — never commit. The caller commits, then
emits what `pending_events(session)` returns (see `video.events`)."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from portal import identity
from portal.auth.models import User, UserRole
from portal.casefiles import operations as case_ops
from portal.casefiles.models import Case, CaseKind, Channel
from portal.casefiles.permissions import can_contribute
from portal.crypto import lookup_hash
from portal.errors import DomainError, NotAllowed, StaleEdit
from portal.extensions import DbSession
from portal.i18n import lazy_gettext as _l
from portal.orgs.models import Organisation, OrgKind
from portal.timeutil import utcnow
from video import permissions as perm
from video.models import (
    OPEN_SEAT_STATES,
    NoteStatus,
    ReceptionNote,
    Recording,
    RecordingStatus,
    Room,
    RoomEvent,
    RoomKind,
    RoomStatus,
    Seat,
    SeatKind,
    SeatState,
)

#: a join link keeps working this long after the room's scheduled end (late starts)
LINK_GRACE = timedelta(hours=2)
MAX_CHAT = 1000
MAX_LOBBY_MESSAGE = 500


class LinkRefused(DomainError):
    """A join link that does not open (unknown, expired, the session over): 404, or 410
    when it did work once."""

    def __init__(self, message: Any, reason: str) -> None:
        super().__init__(message, 410 if reason in ("expired", "ended") else 404)
        self.reason = reason


class StaleNote(StaleEdit):
    """The note changed since the form was loaded (409); `note` is the saved one."""

    def __init__(self, note: ReceptionNote) -> None:
        super().__init__(_l("Someone else saved this note in the meantime. Your text is kept "
                            "below: check the current note and save again."))
        self.note = note


#: what a person sees who sent the booking form twice
BOOKING_REPLAYED = _l("This booking was already made. Issue a new link from the list if the "
                      "first one was lost.")


def _deny(message: Any = None) -> NotAllowed:
    return NotAllowed(message or _l("You do not have permission to do that."))


# --- room events (replayed to reconnecting clients) --------------------------------------

def add_event(session: DbSession, room: Room, kind: str, data: dict[str, Any] | None = None,
              audience: str = "room") -> RoomEvent:
    """Log an event of the room; after commit, `video.events` emits it to `audience`:
    "room" (everyone connected), "in" (admitted and staff), "staff" or "seat:<id>"."""
    event = RoomEvent(room_id=room.id, kind=kind, audience=audience, data=data or {},
                      created_at=utcnow())
    session.add(event)
    session.info.setdefault("video.events", []).append(event)
    return event


def pending_events(session: DbSession) -> list[RoomEvent]:
    """Events added since the last call (flushed, so they have their ids)."""
    session.flush()
    events: list[RoomEvent] = session.info.pop("video.events", [])
    return events


def audiences_for(seat: Seat, host: bool | None = None) -> list[str]:
    """The audiences a seat belongs to; `host` False: an account's named seat that does
    not host (a panel member) is not among the officials."""
    seen = ["room", f"seat:{seat.id}"]
    if (seat.is_staff or seat.state == SeatState.ADMITTED) and not seat.is_watch_only:
        seen.append("in")  # the chat: never a watcher's
    if seat.is_staff if host is None else host:
        seen.append("staff")
    return seen


def missed_events(session: DbSession, seat: Seat, after_id: int, limit: int = 200,
                  host: bool | None = None) -> list[RoomEvent]:
    """The seat's events after `after_id`. A petitioner gets the room's chat only from
    their own admission on (never an earlier petitioner's conversation), whatever id
    their device claims to have seen."""
    query = select(RoomEvent).where(RoomEvent.room_id == seat.room_id,
                                    RoomEvent.id > after_id,
                                    RoomEvent.audience.in_(audiences_for(seat, host)))
    if not seat.is_staff:
        admitted_id = session.scalar(select(func.max(RoomEvent.id)).where(
            RoomEvent.room_id == seat.room_id, RoomEvent.kind == "admitted",
            RoomEvent.audience == f"seat:{seat.id}"))
        query = query.where(or_(RoomEvent.audience != "in",
                                RoomEvent.id > (admitted_id or 2**62)))
    rows = session.scalars(query.order_by(RoomEvent.id.desc()).limit(limit)).all()
    return list(reversed(rows))


# --- schedule ------------------------------------------------------------------------------

def create_room(session: DbSession, actor: Any, *, kind: str, title: str, office_id: int,
                starts_at: datetime, ends_at: datetime, host_id: int | None = None,
                slot_minutes: int = 20) -> Room:
    if not perm.can_schedule(actor):
        raise _deny(_l("Only reception clerks and leaders schedule receptions."))
    try:
        kind = RoomKind(kind)
    except ValueError:
        raise DomainError(_l("Choose the kind of reception.")) from None
    title = (title or "").strip()
    if not title:
        raise DomainError(_l("Give the reception a title."))
    if ends_at <= starts_at:
        raise DomainError(_l("The reception must end after it starts."))
    if ends_at <= utcnow():
        raise DomainError(_l("This reception would already be over: choose a time still to "
                             "come."))
    if not 5 <= slot_minutes <= 240:
        raise DomainError(_l("A slot lasts between 5 and 240 minutes."))
    office = session.get(Organisation, office_id)
    if office is None:
        raise DomainError(_l("Choose the office that runs the reception."))
    if not perm.can_schedule_for(actor, office_id):
        raise _deny(_l("You can only schedule receptions for your own office."))
    room = Room(kind=kind, title=title[:200], office_id=office_id, host_id=host_id,
                starts_at=starts_at, ends_at=ends_at, slot_minutes=slot_minutes,
                status=RoomStatus.SCHEDULED, created_by_id=actor.id, created_at=utcnow())
    session.add(room)
    session.flush()
    return room


def host_choices(session: DbSession) -> list[tuple[int, str]]:
    """The accounts a reception may name as its host (`perm.HOST_ROLES`, active)."""
    rows = session.execute(
        select(User.id, User.display_name).join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role.in_([r.value for r in perm.HOST_ROLES]), User.is_active)
        .distinct().order_by(User.display_name)).all()
    return [(row.id, row.display_name) for row in rows]


@dataclass(frozen=True)
class Slot:
    starts_at: datetime
    seat: Seat | None


def slots(room: Room) -> list[Slot]:
    """The room's appointment slots, each with its booked petitioner (if any)."""
    booked = {s.slot_at: s for s in room.seats
              if s.slot_at is not None and s.state != SeatState.CANCELLED
              and s.kind == SeatKind.PETITIONER}
    found: list[Slot] = []
    at = room.starts_at
    step = timedelta(minutes=room.slot_minutes)
    while at + step <= room.ends_at and len(found) < 200:
        found.append(Slot(at, booked.get(at)))
        at += step
    return found


def free_slots(room: Room) -> list[datetime]:
    """The start of each slot still free and still to come (a past slot is not offered)."""
    now = utcnow()
    return [s.starts_at for s in slots(room) if s.seat is None and s.starts_at >= now]


def new_token() -> str:
    """160 random bits in lower-case base32: case-insensitive, safe to read out or type."""
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=").lower()


def token_hash(token: str) -> str:
    return lookup_hash("video-link:" + token.strip().lower())


def _issue_token(room: Room, seat: Seat) -> str:
    token = new_token()
    seat.token_hash = token_hash(token)
    seat.token_expires_at = room.ends_at + LINK_GRACE
    return token


def _check_open(room: Room) -> None:
    if room.status == RoomStatus.ENDED:
        raise DomainError(_l("This reception has ended."))


def _clean_name(name: str | None) -> str:
    name = (name or "").strip()
    if not name:
        raise DomainError(_l("Write the person's name."))
    return name[:100]


def _check_case(session: DbSession, actor: Any, case_id: int | None) -> Case | None:
    if case_id is None:
        return None
    case = session.get(Case, case_id)
    if case is None or not can_contribute(actor, case):
        raise DomainError(_l("That case does not exist or you cannot add to it."))
    return case


def book_seat(session: DbSession, actor: Any, room: Room, *, name: str,
              phone: str | None = None, email: str | None = None,
              slot_at: datetime | None = None, case_id: int | None = None,
              locale: str = "zh_CN") -> tuple[Seat, str]:
    """Book a petitioner into a slot (约访) or, without a slot, add a walk-in to the
    queue. Returns the seat and its join token (shown once)."""
    if not perm.can_manage_room(actor, room):
        raise _deny()
    _check_open(room)
    name = _clean_name(name)
    if slot_at is not None:
        slot = next((s for s in slots(room) if s.starts_at == slot_at), None)
        if slot is None:
            raise DomainError(_l("That time is not one of the reception's slots."))
        if slot.seat is not None:
            raise DomainError(_l("That slot is already booked."))
        if slot.starts_at < utcnow():
            raise DomainError(_l("That time has passed: choose a later slot, or add the "
                                 "person to the walk-in queue."))
    if (phone or "").strip():
        try:
            phone = identity.phone(phone or "")
        except identity.Invalid as invalid:
            raise DomainError(invalid.message) from None
    case = _check_case(session, actor, case_id)
    seat = Seat(room=room, kind=SeatKind.PETITIONER, display_name=name,
                phone=(phone or "").strip() or None, email=(email or "").strip() or None,
                slot_at=slot_at, case_id=case.id if case else None,
                locale=locale if locale in ("zh_CN", "en") else "zh_CN",
                state=SeatState.BOOKED, created_by_id=actor.id, created_at=utcnow())
    token = _issue_token(room, seat)
    session.add(seat)
    session.flush()
    add_event(session, room, "booked", {"seat_id": seat.id}, audience="staff")
    return seat, token


def add_companion(session: DbSession, actor: Any, seat: Seat, *, name: str,
                  kind: str = SeatKind.COMPANION) -> tuple[Seat, str]:
    """A companion or an interpreter joining with a petitioner, on a link of their own."""
    room = seat.room
    if not perm.can_manage_room(actor, room):
        raise _deny()
    _check_open(room)
    if kind not in (SeatKind.COMPANION, SeatKind.INTERPRETER):
        raise DomainError(_l("A companion or an interpreter only."))
    if seat.kind != SeatKind.PETITIONER:
        raise DomainError(_l("Companions come with a petitioner."))
    if not perm.can_add_companion(actor, seat):  # the petitioner's seat is no longer in use
        raise DomainError(_l("This booking is over: a companion can no longer join it."))
    other = Seat(room=room, kind=kind, display_name=_clean_name(name), companion_of_id=seat.id,
                 state=SeatState.BOOKED, created_by_id=actor.id, created_at=utcnow())
    token = _issue_token(room, other)
    session.add(other)
    session.flush()
    return other, token


# --- multi-party rooms (a hearing and its deliberation) ----------------------------------

def create_multi_party_room(session: DbSession, actor: Any, *, title: str, office_id: int,
                            starts_at: datetime, ends_at: datetime, host_id: int | None,
                            private: bool = False) -> Room:
    """A room where several people are in at once; `private`: only its named seats enter
    (the host included only through a seat of their own)."""
    room = create_room(session, actor, kind=RoomKind.MULTI_PARTY, title=title,
                       office_id=office_id, starts_at=starts_at, ends_at=ends_at,
                       host_id=host_id)
    room.is_private = private
    session.flush()
    return room


def seat_by_ref(session: DbSession, room: Room, ref: str) -> Seat | None:
    """The room's seat the owning domain calls `ref` (the latest one)."""
    return session.scalar(select(Seat).where(Seat.room_id == room.id, Seat.ref == ref)
                          .order_by(Seat.id.desc()).limit(1))


def add_seat(session: DbSession, actor: Any, room: Room, *, name: str,
             user_id: int | None = None, case_id: int | None = None,
             watch_only: bool = False, admit_on_arrival: bool = True,
             ref: str | None = None, public_name: str | None = None
             ) -> tuple[Seat, str | None]:
    """A named seat in a multi-party room: for an account (`user_id`: it enters logged in,
    no link), or a guest on a join link (returned once). `case_id` is the room's case,
    given by the domain that owns the room (a recording is filed there). `actor` None:
    the owning domain has checked who asks (an observer's own link). `public_name`: what
    watch-only seats see instead of `name`."""
    if actor is not None and not perm.can_arrange_room(actor, room):
        raise _deny()
    _check_open(room)
    if not room.is_multi_party:
        raise DomainError(_l("Named seats are for multi-party rooms."))
    if watch_only and user_id is not None:
        raise DomainError(_l("A watch-only seat is for a guest on a link."))
    kind = (SeatKind.STAFF if user_id is not None
            else SeatKind.OBSERVER if watch_only else SeatKind.PARTICIPANT)
    seat = Seat(room=room, kind=kind, display_name=_clean_name(name), user_id=user_id,
                case_id=case_id, is_watch_only=watch_only,
                admit_on_arrival=admit_on_arrival or user_id is not None, ref=ref,
                public_name=_clean_name(public_name) if public_name else None,
                state=SeatState.BOOKED, created_by_id=actor.id if actor else None,
                created_at=utcnow())
    token = None if user_id is not None else _issue_token(room, seat)
    session.add(seat)
    session.flush()
    add_event(session, room, "booked", {"seat_id": seat.id}, audience="staff")
    return seat, token


def issue_link(session: DbSession, seat: Seat) -> str:
    """A fresh join link for a guest's named seat (the old one stops working). The
    owning domain has checked who asks (a participant's own personal link)."""
    if seat.user_id is not None or not seat.room.is_multi_party:
        raise _deny()
    _check_open(seat.room)
    if seat.state not in OPEN_SEAT_STATES:
        raise DomainError(_l("This seat is no longer in use."))
    token = _issue_token(seat.room, seat)
    session.flush()
    return token


def account_seat(session: DbSession, user: Any, room: Room) -> Seat:
    """The seat a logged-in person takes: a host's own (made when missing, in a room that
    is not private), else the seat named for their account, in at once."""
    _check_open(room)
    if perm.can_host(user, room):
        return staff_seat(session, user, room)
    seat = perm.named_seat(user, room)
    if seat is None:
        raise _deny(_l("You do not have a seat in this room."))
    if seat.state != SeatState.ADMITTED:
        seat.state = SeatState.ADMITTED
        seat.arrived_at = seat.arrived_at or utcnow()
        seat.admitted_at = utcnow()
        seat.consent_at = seat.consent_at or utcnow()
        add_event(session, room, "admitted", {"seat_id": seat.id}, audience=f"seat:{seat.id}")
    if room.status == RoomStatus.SCHEDULED:
        room.status = RoomStatus.LIVE
    session.flush()
    return seat


def reissue_link(session: DbSession, actor: Any, seat: Seat) -> str:
    """A new link for the seat; the old one stops working."""
    if not perm.can_manage_room(actor, seat.room) or seat.is_staff:
        raise _deny()
    _check_open(seat.room)
    if not perm.can_reissue_link(actor, seat):  # finished, removed or cancelled
        raise DomainError(_l("This booking is over: its link can no longer be renewed."))
    token = _issue_token(seat.room, seat)
    session.flush()
    return token


def cancel_seat(session: DbSession, actor: Any, seat: Seat) -> None:
    if not perm.can_manage_room(actor, seat.room) or seat.is_staff:
        raise _deny()
    if seat.state not in perm.CANCELLABLE_SEAT_STATES:
        raise DomainError(_l("Only a booking that has not started can be cancelled."))
    seat.state = SeatState.CANCELLED
    seat.token_hash = None
    add_event(session, seat.room, "closed", {"seat_id": seat.id, "reason": "cancelled"},
              audience=f"seat:{seat.id}")
    session.flush()


# --- joining -------------------------------------------------------------------------------

def seat_for_token(session: DbSession, token: str, now: datetime | None = None) -> Seat:
    """The seat a join link opens, or LinkRefused saying plainly why not."""
    token = (token or "").strip().lower()
    if not token or len(token) > 64:
        raise LinkRefused(_l("This link is not valid. Ask the reception office for a new "
                             "one."), "unknown")
    seat = session.scalar(select(Seat).where(Seat.token_hash == token_hash(token)))
    if seat is None:
        raise LinkRefused(_l("This link is not valid. Ask the reception office for a new "
                             "one."), "unknown")
    now = now or utcnow()
    if seat.room.status == RoomStatus.ENDED:
        raise LinkRefused(_l("This reception has ended, so the link no longer works."),
                          "ended")
    if seat.token_expires_at is not None and seat.token_expires_at < now:
        raise LinkRefused(_l("This link has expired. Ask the reception office for a new "
                             "one."), "expired")
    if seat.state not in OPEN_SEAT_STATES:
        raise LinkRefused(_l("This link is no longer in use for this reception."), "closed")
    return seat


def give_consent(session: DbSession, seat: Seat) -> None:
    if seat.consent_at is None:
        seat.consent_at = utcnow()
        add_event(session, seat.room, "consent", {"seat_id": seat.id}, audience="staff")
    if seat.state == SeatState.WAITING:
        _admit_on_arrival(session, seat)  # was held only for want of this consent
    session.flush()


def existing_staff_seat(session: DbSession, user: Any, room: Room) -> Seat | None:
    """The official's seat in the room if they opened it before (reads only)."""
    return session.scalar(select(Seat).where(Seat.room_id == room.id, Seat.user_id == user.id,
                                             Seat.kind == SeatKind.STAFF))


def staff_seat(session: DbSession, user: Any, room: Room) -> Seat:
    """The official's own seat in the room (one per account), admitted from the start."""
    if not perm.can_host(user, room):
        raise _deny()
    _check_open(room)
    seat = existing_staff_seat(session, user, room)
    if seat is None:
        seat = Seat(room=room, kind=SeatKind.STAFF, display_name=user.display_name,
                    user_id=user.id, state=SeatState.ADMITTED, admitted_at=utcnow(),
                    consent_at=utcnow(), created_at=utcnow())
        session.add(seat)
    seat.state = SeatState.ADMITTED
    if room.status == RoomStatus.SCHEDULED:
        room.status = RoomStatus.LIVE
    session.flush()
    return seat


def arrive(session: DbSession, seat: Seat, device: str) -> bool:
    """A guest's connection: waiting from the moment they arrive; an admitted seat stays
    admitted (a reconnect). Returns True when another device held the seat."""
    other_device = bool(seat.device_id and device and seat.device_id != device)
    seat.device_id = (device or "")[:64] or None
    if seat.state == SeatState.BOOKED:
        seat.state = SeatState.WAITING
        seat.arrived_at = utcnow()
        add_event(session, seat.room, "arrived", {"seat_id": seat.id}, audience="staff")
    if seat.state == SeatState.WAITING:
        _admit_on_arrival(session, seat)
    session.flush()
    return other_device


def _admit_on_arrival(session: DbSession, seat: Seat) -> None:
    """A multi-party room's seat marked so goes straight in — unless the room is being
    recorded and the person has not yet agreed (they wait until they do)."""
    room = seat.room
    if not (room.is_multi_party and seat.admit_on_arrival) or room.status == RoomStatus.ENDED:
        return
    if room.is_recording and seat.consent_at is None:
        return
    _let_in(session, room, [seat])


def waiting(session: DbSession, room: Room) -> list[Seat]:
    """The lobby in order of arrival."""
    return list(session.scalars(
        select(Seat).where(Seat.room_id == room.id, Seat.state == SeatState.WAITING)
        .order_by(Seat.arrived_at, Seat.id)))


def waiting_ids(session: DbSession, room_id: int) -> list[int]:
    """The lobby's seat ids in order of arrival (no objects: the positions job runs once
    a second beside the admissions)."""
    return list(session.scalars(
        select(Seat.id).where(Seat.room_id == room_id, Seat.state == SeatState.WAITING)
        .order_by(Seat.arrived_at, Seat.id)))


def admitted(session: DbSession, room: Room) -> list[Seat]:
    return list(session.scalars(
        select(Seat).where(Seat.room_id == room.id, Seat.state == SeatState.ADMITTED)
        .order_by(Seat.id)))


def position(session: DbSession, seat: Seat) -> int | None:
    if seat.state != SeatState.WAITING or seat.arrived_at is None:
        return None
    ahead = session.scalar(select(func.count()).select_from(Seat).where(
        Seat.room_id == seat.room_id, Seat.state == SeatState.WAITING,
        (Seat.arrived_at < seat.arrived_at)
        | ((Seat.arrived_at == seat.arrived_at) & (Seat.id < seat.id))))
    return int(ahead or 0) + 1


def _host_seat(session: DbSession, actor: Any, room: Room, seat_id: int) -> Seat:
    if not perm.can_host(actor, room):
        raise _deny()
    _check_open(room)
    seat = session.get(Seat, seat_id)
    if seat is None or seat.room_id != room.id:
        raise DomainError(_l("That person is not in this room."), 404)
    return seat


def admit(session: DbSession, actor: Any, room: Room, seat_id: int) -> list[Seat]:
    """Let a waiting person in, with any companion or interpreter waiting for them.
    Returns the seats admitted."""
    seat = _host_seat(session, actor, room, seat_id)
    if seat.state == SeatState.ADMITTED:
        return []
    if seat.state != SeatState.WAITING:
        raise DomainError(_l("%(name)s is not waiting.", name=seat.display_name))
    companions = list(session.scalars(select(Seat).where(
        Seat.companion_of_id == seat.id, Seat.state == SeatState.WAITING)))
    let_in = [seat, *companions]
    if room.is_recording:
        unconsented = [s.display_name for s in let_in if s.consent_at is None]
        if unconsented:
            raise DomainError(_l("The session is being recorded and %(names)s has not yet "
                                 "agreed to it; stop recording first.",
                                 names=", ".join(unconsented)))
    done = _let_in(session, room, [seat])
    if not done:
        return []  # another official let them in meanwhile
    done += _let_in(session, room, companions)
    if (room.is_recording and not room.is_multi_party and seat.kind == SeatKind.PETITIONER):
        # recording began before anyone came in: it is this petitioner's (and their case's)
        recording = current_recording(session, room)
        if recording is not None and recording.seat_id is None:
            recording.seat_id = seat.id
            recording.case_id = seat.case_id
    if room.status == RoomStatus.SCHEDULED:
        room.status = RoomStatus.LIVE
    session.flush()
    return done


def _let_in(session: DbSession, room: Room, seats: list[Seat]) -> list[Seat]:
    """Waiting seats in; returns those this call let in."""
    now = utcnow()
    done: list[Seat] = []
    for one in seats:
        # a conditional update: two officials admitting at once let the person in once
        taken = session.execute(
            update(Seat).where(Seat.id == one.id, Seat.state == SeatState.WAITING)
            .values(state=SeatState.ADMITTED, admitted_at=now)
            .execution_options(synchronize_session=False))
        if not getattr(taken, "rowcount", 0):
            continue
        session.refresh(one)
        done.append(one)
        add_event(session, room, "admitted", {"seat_id": one.id}, audience=f"seat:{one.id}")
    if done and room.status == RoomStatus.SCHEDULED:
        room.status = RoomStatus.LIVE
    return done


def admit_all(session: DbSession, actor: Any, room: Room) -> list[Seat]:
    """A multi-party room: everyone waiting comes in at once. While recording, those who
    have not yet agreed to it stay waiting (they are named in `held`, on the error's
    reply, only when nobody could come in)."""
    if not perm.can_host(actor, room):
        raise _deny()
    _check_open(room)
    if not room.is_multi_party:
        raise DomainError(_l("In this reception people are admitted one at a time."))
    queue = waiting(session, room)
    ready = [s for s in queue if not room.is_recording or s.consent_at is not None]
    if queue and not ready:
        raise DomainError(_l("The session is being recorded and %(names)s has not yet "
                             "agreed to it; stop recording first.",
                             names=", ".join(s.display_name for s in queue)))
    done = _let_in(session, room, ready)
    session.flush()
    return done


def deny(session: DbSession, actor: Any, room: Room, seat_id: int) -> Seat:
    seat = _host_seat(session, actor, room, seat_id)
    if seat.state != SeatState.WAITING:
        raise DomainError(_l("%(name)s is not waiting.", name=seat.display_name))
    seat.state = SeatState.DENIED
    seat.finished_at = utcnow()
    add_event(session, room, "closed", {"seat_id": seat.id, "reason": "denied"},
              audience=f"seat:{seat.id}")
    session.flush()
    return seat


def remove(session: DbSession, actor: Any, room: Room, seat_id: int) -> Seat:
    """Take someone out of the call (their link stops working)."""
    seat = _host_seat(session, actor, room, seat_id)
    if seat.is_staff:
        raise DomainError(_l("Officials leave by themselves."))
    if seat.state not in (SeatState.ADMITTED, SeatState.WAITING):
        raise DomainError(_l("%(name)s is not in the room.", name=seat.display_name))
    seat.state = SeatState.REMOVED
    seat.finished_at = utcnow()
    add_event(session, room, "removed", {"seat_id": seat.id}, audience=f"seat:{seat.id}")
    session.flush()
    return seat


def finish_seat(session: DbSession, actor: Any, room: Room, seat_id: int) -> Seat:
    """The official is done with this person; the next one can be admitted."""
    seat = _host_seat(session, actor, room, seat_id)
    if seat.state != SeatState.ADMITTED or seat.is_staff:
        raise DomainError(_l("%(name)s is not in the room.", name=seat.display_name))
    seat.state = SeatState.DONE
    seat.finished_at = utcnow()
    add_event(session, room, "closed", {"seat_id": seat.id, "reason": "done"},
              audience=f"seat:{seat.id}")
    session.flush()
    return seat


def set_lobby_message(session: DbSession, actor: Any, room: Room, text: str) -> None:
    if not perm.can_host(actor, room):
        raise _deny()
    room.lobby_message = (text or "").strip()[:MAX_LOBBY_MESSAGE]
    add_event(session, room, "lobby_message", {"text": room.lobby_message})
    session.flush()


def chat(session: DbSession, seat: Seat, text: str) -> RoomEvent:
    if seat.is_watch_only:
        raise _deny(_l("Observers watch and listen; they do not write in the chat."))
    if not (seat.is_staff or seat.state == SeatState.ADMITTED):
        raise _deny(_l("You can chat once you are in the room."))
    text = (text or "").strip()
    if not text:
        raise DomainError(_l("Write a message first."))
    return add_event(session, seat.room, "chat", {
        "seat_id": seat.id, "name": seat.display_name, "text": text[:MAX_CHAT],
        "at": utcnow().isoformat()}, audience="in")


def mute(session: DbSession, actor: Any, room: Room, seat_id: int) -> Seat:
    seat = _host_seat(session, actor, room, seat_id)
    if seat.state != SeatState.ADMITTED:
        raise DomainError(_l("%(name)s is not in the room.", name=seat.display_name))
    add_event(session, room, "muted", {"seat_id": seat.id, "by": actor.display_name},
              audience=f"seat:{seat.id}")
    session.flush()
    return seat


def still_expected(room: Room) -> list[Seat]:
    """The petitioners booked or waiting, not yet seen: ending the day leaves them out."""
    return [s for s in room.seats if s.kind == SeatKind.PETITIONER
            and s.state in (SeatState.BOOKED, SeatState.WAITING)]


class PeopleStillExpected(DomainError):
    """Ending the reception day would leave people booked or waiting: confirm first."""

    def __init__(self, seats: list[Seat]) -> None:
        names = ", ".join(s.display_name for s in seats)
        super().__init__(_l("Still booked or waiting: %(names)s. End the reception day for "
                            "them too?", names=names), 409)
        #: in the refused `end`'s ack: whom the official is asked to confirm about
        self.reply = {"still_expected": [
            {"seat_id": s.id, "name": s.display_name, "state": str(s.state)}
            for s in seats]}


def end_room(session: DbSession, actor: Any, room: Room, *, confirm: bool = True) -> None:
    """End the call for everyone; every open link stops working. Without `confirm`, a
    room with people still booked or waiting is not ended (PeopleStillExpected names
    them). `actor` None: the room's time ran out (the worker's tick)."""
    if actor is not None and not perm.can_host(actor, room):
        raise _deny()
    _check_open(room)
    expected = still_expected(room)
    if expected and not confirm:
        raise PeopleStillExpected(expected)
    now = utcnow()
    room.status = RoomStatus.ENDED
    room.ended_at = now
    room.is_recording = False
    for seat in room.seats:
        if seat.state in OPEN_SEAT_STATES:
            seat.state = SeatState.DONE if seat.state == SeatState.ADMITTED else seat.state
            seat.finished_at = seat.finished_at or now
    add_event(session, room, "ended", {})
    session.flush()


# --- recording -----------------------------------------------------------------------------

def recorded_petitioner(session: DbSession, room: Room) -> Seat | None:
    """The petitioner a recording of the room belongs to (and is filed with): the one
    admitted now (one at a time, like a doctor's waiting room)."""
    for seat in admitted(session, room):
        if seat.kind == SeatKind.PETITIONER:
            return seat
    return None


def start_recording(session: DbSession, actor: Any, room: Room) -> Recording:
    if not perm.can_host(actor, room):
        raise _deny()
    _check_open(room)
    if room.is_recording:
        raise DomainError(_l("The session is already being recorded."))
    guests = [s for s in admitted(session, room) if not s.is_staff]
    missing = [s.display_name for s in guests if s.consent_at is None]
    if missing:
        raise DomainError(_l("Recording needs everyone's consent first; not yet given by "
                             "%(names)s.", names=", ".join(missing)))
    taken = session.execute(
        update(Room).where(Room.id == room.id, Room.is_recording.is_(False))
        .values(is_recording=True).execution_options(synchronize_session=False))
    if not getattr(taken, "rowcount", 0):
        raise DomainError(_l("The session is already being recorded."))
    session.refresh(room)
    if room.is_multi_party:
        # everyone is in at once: the recording belongs to the room's case (the owning
        # domain gives every seat its case), not to one person
        petitioner, case_id = None, room_case_id(room)
    else:
        petitioner = recorded_petitioner(session, room)
        case_id = petitioner.case_id if petitioner is not None else None
    recording = Recording(room=room, seat_id=petitioner.id if petitioner else None,
                          case_id=case_id,
                          status=RecordingStatus.RECORDING, started_by_id=actor.id,
                          started_at=utcnow())
    session.add(recording)
    add_event(session, room, "recording", {"on": True, "by": actor.display_name})
    session.flush()
    return recording


def room_case_id(room: Room) -> int | None:
    """A multi-party room's case: the one its seats are on."""
    return next((s.case_id for s in room.seats if s.case_id is not None), None)


def current_recording(session: DbSession, room: Room) -> Recording | None:
    return session.scalar(select(Recording).where(
        Recording.room_id == room.id, Recording.status == RecordingStatus.RECORDING)
        .order_by(Recording.id.desc()).limit(1))


def stop_recording(session: DbSession, actor: Any | None, room: Room) -> Recording | None:
    if actor is not None and not perm.can_host(actor, room):
        raise _deny()
    recording = current_recording(session, room)
    room.is_recording = False
    if recording is None:
        return None
    recording.status = RecordingStatus.PROCESSING
    recording.stopped_at = utcnow()
    add_event(session, room, "recording", {"on": False})
    session.flush()
    return recording


# --- reception note (接谈记录) --------------------------------------------------------------

NOTE_FIELDS = ("facts", "demands", "answer", "next_steps")


def note_seats(room: Room) -> list[Seat]:
    """The petitioners a note is written for: admitted now, or seen already."""
    return [s for s in room.seats if s.kind == SeatKind.PETITIONER
            and s.state in (SeatState.ADMITTED, SeatState.DONE)]


def note_for(session: DbSession, seat: Seat) -> ReceptionNote | None:
    return session.scalar(select(ReceptionNote).where(ReceptionNote.seat_id == seat.id))


def _check_case_fields(session: DbSession, case_fields: dict[str, Any]) -> None:
    """The kind and place for the case a note may open: known values, a village of the
    township (refused on save, so the filing after the petitioner's answer cannot fail)."""
    kind = case_fields.get("case_kind")
    if kind and kind not in {k.value for k in CaseKind}:
        raise DomainError(_l("Choose the kind of matter."))
    township_id, village_id = case_fields.get("township_id"), case_fields.get("village_id")
    township = session.get(Organisation, township_id) if township_id else None
    if township_id and (township is None or township.kind != OrgKind.TOWNSHIP):
        raise DomainError(_l("Choose a township."))
    problem = case_ops.village_problem(cast(Session, session), township_id, village_id)
    if problem:
        raise DomainError(problem)


def save_note(session: DbSession, actor: Any, seat: Seat, fields: dict[str, str],
              expected_version: int | None, case_fields: dict[str, Any] | None = None
              ) -> ReceptionNote:
    if not perm.can_host(actor, seat.room):
        raise _deny()
    if seat.kind != SeatKind.PETITIONER:
        raise DomainError(_l("A reception note is written for a petitioner."))
    note = note_for(session, seat)
    if note is not None and note.status in perm.ANSWERED_NOTE_STATES:
        raise DomainError(_l("The petitioner has answered this note; it can no longer "
                             "change."))
    if note is not None and note.version != expected_version:
        raise StaleNote(note)  # changed meanwhile, or created by another official
    if case_fields is not None:
        _check_case_fields(session, case_fields)
    if note is None:
        note = ReceptionNote(seat=seat, author_id=actor.id, version=0)
        session.add(note)
    for name in NOTE_FIELDS:
        setattr(note, name, (fields.get(name) or "").strip()[:10000])
    if case_fields is not None:
        note.case_kind = case_fields.get("case_kind") or None
        note.township_id = case_fields.get("township_id") or None
        note.village_id = case_fields.get("village_id") or None
    note.status = NoteStatus.DRAFT
    note.author_id = actor.id
    note.updated_at = utcnow()
    note.version = (note.version or 0) + 1
    session.flush()
    return note


def show_note(session: DbSession, actor: Any, note: ReceptionNote) -> None:
    """Put the note on the petitioner's own screen to confirm or refuse."""
    seat = note.seat
    if not perm.can_host(actor, seat.room):
        raise _deny()
    if not any(getattr(note, n) for n in NOTE_FIELDS):
        raise DomainError(_l("Write the note before showing it."))
    if note.status in perm.ANSWERED_NOTE_STATES:
        raise DomainError(_l("The petitioner has already answered this note."))
    note.status = NoteStatus.SHOWN
    add_event(session, seat.room, "note", {"note_id": note.id, "version": note.version,
                                           **{n: getattr(note, n) for n in NOTE_FIELDS}},
              audience=f"seat:{seat.id}")
    session.flush()


def answer_note(session: DbSession, seat: Seat, note_id: int, confirm: bool,
                reason: str | None, version: int | None = None) -> ReceptionNote:
    """The petitioner's answer, from their own screen, to the version they were shown."""
    note = session.get(ReceptionNote, note_id)
    if note is None or note.seat_id != seat.id:
        raise _deny()
    if note.status != NoteStatus.SHOWN:
        raise DomainError(_l("This note is not waiting for your answer."))
    if version is not None and version != note.version:
        raise DomainError(_l("The official changed the note meanwhile; please read it "
                             "again."))
    note.status = NoteStatus.CONFIRMED if confirm else NoteStatus.REFUSED
    note.refusal_reason = None if confirm else ((reason or "").strip()[:2000] or None)
    note.answered_at = utcnow()
    add_event(session, seat.room, "note_answered", {
        "note_id": note.id, "seat_id": seat.id, "status": note.status,
        "reason": note.refusal_reason}, audience="staff")
    session.flush()
    return note


def file_note(session: DbSession, actor: Any, note: ReceptionNote, *, kind: str | None = None
              ) -> tuple[Case, str | None]:
    """Put the note into the petitioner's case file; a reception without a case opens
    one (channel: video reception; the kind and place from the note's form). Returns the
    case and, when it was opened here, its query code (to hand over once; never stored)."""
    seat = note.seat
    room = seat.room
    if not perm.can_host(actor, room):
        raise _deny()
    if note.status == NoteStatus.DRAFT:
        raise DomainError(_l("Show the note to the petitioner before filing it."))
    if note.filed_at is not None:
        raise DomainError(_l("This note is already in the case file."))
    case, code = seat.case, None
    if case is None:
        summary = note.demands or note.facts
        case, code = case_ops.register_case(
            cast(Session, session), actor, channel=Channel.VIDEO,
            kind=kind or note.case_kind or "other", summary=summary,
            township_id=note.township_id, village_id=note.village_id,
            petitioners=[{"name": seat.display_name, "phone": seat.phone}],
            office_id=room.office_id)
        seat.case_id = case.id
        seat.case = case
    case_ops.record_event(cast(Session, session), actor, case, "reception.note", {
        "room_id": room.id, "seat_id": seat.id, "title": room.title,
        "facts": note.facts, "demands": note.demands, "answer": note.answer,
        "next_steps": note.next_steps, "status": note.status,
        "refusal_reason": note.refusal_reason,
        "answered_at": note.answered_at.isoformat() if note.answered_at else None,
        # searchable text of the note (portal.casefiles.search indexes "note")
        "note": "\n".join(filter(None, (note.facts, note.demands, note.answer,
                                        note.next_steps)))})
    note.filed_at = utcnow()
    session.flush()
    return case, code


def rooms_on(session: DbSession, user: Any, day: date | None, *, upcoming: bool = False,
             limit: int = 100) -> list[Room]:
    """Rooms the user may see: on `day`, or from today on when `upcoming`."""
    query = select(Room).where(perm.visible_rooms(user)).order_by(Room.starts_at, Room.id)
    if day is not None and not upcoming:
        start = datetime.combine(day, datetime.min.time()).replace(tzinfo=utcnow().tzinfo)
        query = query.where(Room.starts_at >= start - timedelta(hours=8),
                            Room.starts_at < start + timedelta(days=1))
    elif upcoming:
        query = query.where(Room.ends_at >= utcnow() - timedelta(hours=12))
    return list(session.scalars(query.limit(limit)))
