"""The move from chat to video: a video room (video/) hosted by the answering lawyer, with
a seat for the person asking, and a line in the chat telling both sides.

The room is of the confidential kind (`RoomKind.CONSULTATION`): only its host and the
person's seat enter, not the office's staff, and it is on no schedule. The lawyer is no
scheduler of reception rooms, so the room is made here rather than by
`video.operations.create_room` (which asks for a clerk); the lawyer is its named host
(`Room.host_id`), which is what `video.permissions.can_host` and the /video namespace
check. The person's join link is issued anew each time they press "join" (only its hash is
kept, like every link), so no link is ever stored in the chat."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from consultations import chat
from consultations import permissions as perm
from consultations.models import Consultation, ConsultationStatus, Message
from portal.errors import DomainError, NotAllowed
from portal.extensions import DbSession as Session
from portal.i18n import lazy_gettext as _l
from portal.timeutil import utcnow
from video import operations as video_ops
from video.models import Room, RoomKind, RoomStatus, Seat, SeatKind, SeatState

#: how long a consultation's video room stays open
ROOM_HOURS = 3


def current_room(session: Session, consultation: Consultation) -> Room | None:
    """The consultation's video room, unless it has ended or the consultation is over
    (a closed consultation offers no video: nobody joins it afterwards)."""
    if consultation.video_room_id is None or consultation.status != ConsultationStatus.ACTIVE:
        return None
    room = session.get(Room, consultation.video_room_id)
    return room if room is not None and room.status != RoomStatus.ENDED else None


def person_seat(room: Room) -> Seat | None:
    return next((s for s in room.seats if s.kind == SeatKind.PETITIONER), None)


def _office_id(user: Any) -> int:
    """The office the room belongs to: the lawyer's in the registry, else their account's."""
    me = perm.lawyer_person(user)
    if me is not None and me.organisation_id is not None:
        return me.organisation_id
    offices = list(getattr(user, "organisations", []) or [])
    if offices:
        return int(offices[0].id)
    raise DomainError(_l("Your registry entry names no office, so a video room cannot be "
                         "opened. Ask the clerk to complete it."))


def move_to_video(session: Session, user: Any, consultation: Consultation) -> Room:
    """Open (or return the open) video room of the consultation: the lawyer hosts it and
    the person has a seat, admitted at once (the lawyer invited them). Both sides are told
    in the chat once the transaction commits."""
    if not perm.answers(user, consultation):
        raise NotAllowed(_l("Only the lawyer answering this consultation can move it to "
                            "video."))
    if consultation.status != ConsultationStatus.ACTIVE:
        chat.check_open(consultation)
    room = current_room(session, consultation)
    if room is not None and room.host_id == user.id:
        return room
    if room is not None:  # hosted by the lawyer it was handed over from
        video_ops.end_room(session, None, room)
    now = utcnow()
    room = Room(kind=RoomKind.CONSULTATION,
                title=str(_l("Legal consultation no. %(n)s", n=consultation.id)),
                office_id=_office_id(user), host_id=user.id, starts_at=now,
                ends_at=now + timedelta(hours=ROOM_HOURS), slot_minutes=60,
                status=RoomStatus.SCHEDULED, created_by_id=user.id, created_at=now)
    session.add(room)
    session.flush()
    seat = Seat(room=room, kind=SeatKind.PETITIONER, display_name=consultation.name[:100],
                locale=consultation.locale if consultation.locale in ("zh_CN", "en")
                else "zh_CN", state=SeatState.ADMITTED, admitted_at=now,
                created_by_id=user.id, created_at=now)
    session.add(seat)
    video_ops.staff_seat(session, user, room)  # the lawyer's seat; the room goes live
    consultation.video_room_id = room.id
    notice, _new = chat.post_notice(session, consultation,
                              str(_l("The lawyer moved this consultation to video. Press "
                                     "“Join the video” to take part.")),
                              key=f"video-{room.id}")
    session.flush()
    _tell(session, consultation, notice)
    return room


def _tell(session: Session, consultation: Consultation, notice: Message) -> None:
    from consultations.events import NAMESPACE, announce_status
    from portal import live

    live.emit_after_commit("message", chat.message_payload(session, notice),
                           to=consultation.room_key, namespace=NAMESPACE)
    announce_status(session, consultation)


def end_video(session: Session, consultation: Consultation) -> None:
    """The consultation left its lawyer's hands (closed, handed over): its video room
    ends for everyone, and every link to it stops working."""
    # not current_room(): the consultation may already be closed, and its room still live
    room = (session.get(Room, consultation.video_room_id)
            if consultation.video_room_id is not None else None)
    if room is not None and room.status != RoomStatus.ENDED:
        video_ops.end_room(session, None, room)


def person_link(session: Session, consultation: Consultation) -> str:
    """A fresh join token for the person's seat (the last one stops working), while the
    lawyer is answering."""
    room = current_room(session, consultation)
    if consultation.status != ConsultationStatus.ACTIVE:
        room = None
    seat = person_seat(room) if room is not None else None
    if room is None or seat is None or seat.state not in (SeatState.BOOKED,
                                                         SeatState.WAITING,
                                                         SeatState.ADMITTED):
        raise DomainError(_l("There is no video for this consultation now."))
    token = video_ops.new_token()
    seat.token_hash = video_ops.token_hash(token)
    seat.token_expires_at = room.ends_at + video_ops.LINK_GRACE
    session.flush()
    return token
