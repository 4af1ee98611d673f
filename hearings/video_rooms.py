"""A hearing's video: its multi-party room (presiding officer as host, a seat per active
participant, watch-only seats for online observers) and the private deliberation room
(the presiding officer and the active panel members only). Built on `video.operations`;
video knows nothing of hearings: a seat's `ref` is how the hearing finds its seats again.

Operations flush, never commit. Join tokens are returned to the caller once and never
logged."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from flask import url_for
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from hearings import events as hearing_events
from hearings import observers
from hearings import permissions as hperm
from hearings.models import (
    Hearing,
    HearingStatus,
    Observer,
    ObserverStatus,
    Participant,
    ParticipantRole,
    Rsvp,
    Stage,
)
from portal.errors import DomainError, NotAllowed, StaleEdit
from portal.extensions import DbSession
from portal.i18n import lazy_gettext as _l
from video import operations as vops
from video.models import OPEN_SEAT_STATES, Room, RoomStatus, Seat, SeatState

#: the participants who take part on video (everyone but a declined panel member)
VIDEO_ROLES = frozenset({ParticipantRole.PRESIDING, ParticipantRole.CLERK,
                         ParticipantRole.PANEL, ParticipantRole.PETITIONER,
                         ParticipantRole.PARTY, ParticipantRole.AGENCY})
HEARING, DELIBERATION = "hearing", "deliberation"
#: a hearing often runs over its planned end: its rooms stay open this much longer (video
#: ends rooms whose time is long past; the hearing's own end closes them before)
OVERRUN = timedelta(hours=2)


def participant_ref(participant: Participant) -> str:
    return f"hearing-participant:{participant.id}"


def observer_ref(observer: Observer) -> str:
    return f"hearing-observer:{observer.id}"


def _takes_part(p: Participant) -> bool:
    return (p.is_active and p.role in VIDEO_ROLES
            and not (p.role == ParticipantRole.PANEL and p.rsvp == Rsvp.DECLINED))


def _deliberates(hearing: Hearing, p: Participant) -> bool:
    if not _takes_part(p):
        return False
    return p.role == ParticipantRole.PANEL or (p.role == ParticipantRole.PRESIDING
                                               and p.user_id == hearing.presiding_id)


def _check_open(hearing: Hearing) -> None:
    if hearing.status not in (HearingStatus.SCHEDULED, HearingStatus.PUBLISHED,
                              HearingStatus.RUNNING):
        raise DomainError(_l("This hearing is over or cancelled: its video room cannot be "
                             "opened."))


def _check_actor(actor: Any, hearing: Hearing) -> None:
    if not (hperm.can_organise(actor, hearing) or hperm.can_run(actor, hearing)):
        raise NotAllowed(_l("Only the organisers, the presiding officer and the hearing "
                            "clerk open a hearing's video room."))


def _locked_room(session: DbSession, hearing: Hearing, column: Any) -> Room | None:
    """The hearing's room as committed now, its row locked (PostgreSQL): two organisers
    opening the video at once make one room — the second waits, then finds it."""
    room_id = session.scalar(select(column).where(Hearing.id == hearing.id)
                             .with_for_update())
    return _room(session, room_id)


def _store(session: DbSession, hearing: Hearing, column: str, room: Room) -> None:
    setattr(hearing, column, room.id)
    try:
        session.flush()
    except StaleDataError:  # changed meanwhile (SQLite takes no row lock)
        raise StaleEdit(_l("The hearing changed meanwhile; open its video again.")) from None


def _room(session: DbSession, room_id: int | None) -> Room | None:
    room = session.get(Room, room_id) if room_id else None
    return room if room is not None and room.status != RoomStatus.ENDED else None


def _sync_seats(session: DbSession, actor: Any, hearing: Hearing, room: Room,
                people: list[Participant]) -> None:
    """A seat for each of `people` (accounts enter logged in, others on a link, all
    straight in); the seats of people no longer taking part are cancelled (anyone on
    them is put out). A hearing moved since: the room's time and its links' expiry
    follow. `actor` None: the hearing's own change (a decline, a new panel) asks."""
    if room.status == RoomStatus.SCHEDULED and (room.starts_at, room.ends_at) != (
            hearing.starts_at, hearing.ends_at + OVERRUN):
        room.starts_at, room.ends_at = hearing.starts_at, hearing.ends_at + OVERRUN
        for seat in room.seats:
            if seat.token_expires_at is not None:
                seat.token_expires_at = room.ends_at + vops.LINK_GRACE
    wanted = {participant_ref(p): p for p in people}
    labels = hearing_events.public_labels(hearing)  # observers see parties by role
    for seat in room.seats:
        p = wanted.get(seat.ref or "")
        if p is not None and seat.public_name != labels.get(p.id):
            seat.public_name = labels.get(p.id)
        if (seat.ref or "").startswith("hearing-participant:") and seat.ref not in wanted \
                and seat.state in OPEN_SEAT_STATES and seat.user_id != room.host_id:
            seat.state = SeatState.CANCELLED
            seat.token_hash = None
            vops.add_event(session, room, "closed", {"seat_id": seat.id,
                                                     "reason": "cancelled"},
                           audience=f"seat:{seat.id}")
    for ref, p in wanted.items():
        if vops.seat_by_ref(session, room, ref) is not None:
            continue
        vops.add_seat(session, actor, room, name=p.name, user_id=p.user_id,
                      case_id=hearing.case_id, admit_on_arrival=True, ref=ref,
                      public_name=labels.get(p.id))
    session.flush()


def ensure_hearing_room(session: DbSession, actor: Any, hearing: Hearing) -> Room:
    """The hearing's multi-party room (made when missing), with a seat per participant
    taking part, each on the hearing's case (a recording is filed there)."""
    _check_actor(actor, hearing)
    _check_open(hearing)
    room = _locked_room(session, hearing, Hearing.video_room_id)
    if room is None:
        room = vops.create_multi_party_room(
            session, actor, title=str(_l("Hearing: %(title)s", title=hearing.title)),
            office_id=hearing.office_id, starts_at=hearing.starts_at,
            ends_at=hearing.ends_at + OVERRUN, host_id=hearing.presiding_id)
        _store(session, hearing, "video_room_id", room)
    _sync_seats(session, actor, hearing, room,
                [p for p in hearing.participants if _takes_part(p)])
    return room


def ensure_deliberation_room(session: DbSession, actor: Any, hearing: Hearing) -> Room:
    """The private deliberation room: seats for the presiding officer (its host) and the
    active panel members, nobody else — the organisers and the admin included."""
    _check_actor(actor, hearing)
    _check_open(hearing)
    room = _locked_room(session, hearing, Hearing.deliberation_room_id)
    if room is None:
        room = vops.create_multi_party_room(
            session, actor, title=str(_l("Deliberation: %(title)s", title=hearing.title)),
            office_id=hearing.office_id, starts_at=hearing.starts_at,
            ends_at=hearing.ends_at + OVERRUN, host_id=hearing.presiding_id, private=True)
        _store(session, hearing, "deliberation_room_id", room)
    people = [p for p in hearing.participants if _deliberates(hearing, p)]
    # the host enters only through a seat of their own
    if (not any(p.user_id == hearing.presiding_id for p in people)
            and vops.seat_by_ref(session, room, "hearing-presiding") is None):
        vops.add_seat(session, actor, room, name=hearing.presiding.display_name,
                      user_id=hearing.presiding_id, case_id=hearing.case_id,
                      ref="hearing-presiding")
    _sync_seats(session, actor, hearing, room, people)
    return room


def sync(session: DbSession, hearing: Hearing) -> None:
    """The open rooms' seats follow the hearing's participants now (called by the
    hearing's own changes: a decline, a member removed, a panel or a substitute drawn):
    whoever no longer takes part loses their seat at once, a new member gets one. No
    actor check: the caller's operation has made its own."""
    room = _room(session, hearing.video_room_id)
    if room is not None:
        _sync_seats(session, None, hearing, room,
                    [p for p in hearing.participants if _takes_part(p)])
    room = _room(session, hearing.deliberation_room_id)
    if room is not None:
        _sync_seats(session, None, hearing, room,
                    [p for p in hearing.participants if _deliberates(hearing, p)])


def end_rooms(session: DbSession, hearing: Hearing) -> None:
    """End the hearing's rooms (it was cancelled): every seat's link stops working."""
    for which in (HEARING, DELIBERATION):
        room = room_of(session, hearing, which)
        if room is not None:
            vops.end_room(session, None, room)


def room_of(session: DbSession, hearing: Hearing, which: str = HEARING) -> Room | None:
    """The hearing's room (`HEARING`) or its deliberation room, if open."""
    return _room(session, hearing.deliberation_room_id if which == DELIBERATION
                 else hearing.video_room_id)


def participant_seat(session: DbSession, hearing: Hearing, participant: Participant,
                     which: str = HEARING) -> Seat | None:
    room = room_of(session, hearing, which)
    if room is None:
        return None
    seat = vops.seat_by_ref(session, room, participant_ref(participant))
    return seat if seat is not None and seat.state in OPEN_SEAT_STATES else None


def join_link(session: DbSession, hearing: Hearing, participant: Participant,
              which: str = HEARING) -> str:
    """Where the participant joins the video: with an account, the room page for their
    seat; on a link, a fresh join link (the previous one stops working) — called from a
    POST, since it changes the seat. Never logged."""
    if participant.hearing_id != hearing.id:
        raise NotAllowed(_l("You do not have a seat in this room."))
    if hearing.status not in (HearingStatus.SCHEDULED, HearingStatus.PUBLISHED,
                              HearingStatus.RUNNING):
        raise DomainError(_l("This hearing is over or cancelled: its video room cannot be "
                             "opened."), 409)
    if hearing.status == HearingStatus.SCHEDULED or (
            which == DELIBERATION and not hperm.is_deliberating_member(participant)):
        raise DomainError(_l("The video room is not open yet, or you have no seat in it."),
                          409)
    seat = participant_seat(session, hearing, participant, which)
    if seat is None:
        raise DomainError(_l("The video room is not open yet, or you have no seat in it."),
                          409)
    if seat.user_id is not None:
        return url_for("hearings.video_room", hearing_id=hearing.id, which=which)
    token = vops.issue_link(session, seat)
    return url_for("join.check", token=token)


def observer_seat(session: DbSession, hearing: Hearing, observer: Observer
                  ) -> tuple[Seat, str]:
    """A seated online observer's watch-only seat in the hearing's room (made the first
    time) and a fresh join token for it (the earlier window's link stops working). The
    hearing's row is held first: two windows opening at once make one seat."""
    observers.lock_hearing(cast(Session, session), hearing)
    if observer.hearing_id != hearing.id or observer.status != ObserverStatus.SEATED:
        raise NotAllowed(_l("Only an observer with a confirmed seat may watch."))
    if not hperm.is_publicly_visible(hearing):
        raise NotAllowed(_l("This hearing is not public."))
    if hearing.status in (HearingStatus.SCHEDULED, HearingStatus.PUBLISHED):
        raise DomainError(_l("The video of this hearing has not started yet."), 404)
    if hearing.status != HearingStatus.RUNNING or hearing.stage == Stage.ENDED:
        raise DomainError(_l("This hearing is over or cancelled: its video room cannot be "
                             "opened."), 409)
    room = room_of(session, hearing)
    if room is None:
        raise DomainError(_l("The video of this hearing has not started yet."), 404)
    seat = vops.seat_by_ref(session, room, observer_ref(observer))
    if seat is None or seat.state not in OPEN_SEAT_STATES:
        seat, _unused = vops.add_seat(session, None, room, name=observer.name,
                                      case_id=hearing.case_id, watch_only=True,
                                      admit_on_arrival=True, ref=observer_ref(observer))
    return seat, vops.issue_link(session, seat)
