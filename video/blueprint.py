"""Reception pages. Staff: the schedule, a room's bookings and queue, join links, the
host's room and the reception note. Public (no account): the petitioner's join link —
device check and consent, then the lobby and the call. Each view: load → authorize
(video.permissions) → one operation; `web.unit_of_work` commits once, then the room events
go out (video.events queues them when the session commits). A domain error rolls back and
is answered as the view said with `web.on_error` (the message over the page it came from,
or the form again)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import segno
from flask import Blueprint, Response, abort, current_app, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal import idempotency, transaction, web
from portal.app import settings_of
from portal.casefiles.models import Case
from portal.casefiles.pages import places
from portal.casefiles.permissions import can_contribute as can_add_to_case
from portal.extensions import db
from portal.notify.operations import queue_email, queue_sms
from portal.orgs.models import Organisation, OrgKind
from portal.web import DomainError, public, render, require
from video import filing
from video import operations as ops
from video import permissions as perm
from video.events import close_seat
from video.forms import (
    BookForm,
    CompanionForm,
    EmailLinkForm,
    NoteForm,
    RoomForm,
    local_to_utc,
    parse_day,
    parse_slot,
    slot_choices,
    utc_to_local,
)
from video.models import (
    NOTE_STATUS_LABELS,
    ROOM_KIND_LABELS,
    ROOM_STATUS_LABELS,
    SEAT_KIND_LABELS,
    SEAT_STATE_LABELS,
    ReceptionNote,
    Recording,
    Room,
    RoomStatus,
    Seat,
    SeatKind,
)

bp = Blueprint("video", __name__, url_prefix="/video")
join_bp = Blueprint("join", __name__, url_prefix="/join")

LABELS: dict[str, Any] = {"kind_labels": ROOM_KIND_LABELS, "status_labels": ROOM_STATUS_LABELS,
          "seat_kind_labels": SEAT_KIND_LABELS, "seat_state_labels": SEAT_STATE_LABELS,
          "note_status_labels": NOTE_STATUS_LABELS, "local": utc_to_local}
#: the rules the pages ask (`can_cancel_seat(current_user, seat)` in a template)
RULES: dict[str, Any] = {name: getattr(perm, name) for name in (
    "can_schedule", "can_book", "can_open_room", "can_manage_room", "can_host",
    "can_reissue_link", "can_cancel_seat", "can_add_companion", "can_edit_note",
    "can_file_note")}


@bp.context_processor
def _rules() -> dict[str, Any]:
    return RULES


def _room(room_id: int, check: Any = perm.can_view_room) -> Room:
    """The room, when the user may see it; 404 otherwise (a leaked id tells nothing)."""
    room = db.session.get(Room, room_id)
    if room is None or not check(current_user, room):
        abort(404)
    return room


def _seat(seat_id: int, check: Any = perm.can_manage_room) -> Seat:
    seat = db.session.get(Seat, seat_id)
    if seat is None or not check(current_user, seat.room):
        abort(404)
    return seat


# --- schedule --------------------------------------------------------------------------------

@bp.get("/")
@require(perm.can_open_schedule)
def index() -> ResponseReturnValue:
    show = request.args.get("show", "upcoming")
    day = parse_day(request.args.get("day")) if show == "day" else None
    rooms = ops.rooms_on(db.session, current_user, day, upcoming=day is None)
    return render("video/index.html", rooms=rooms, day=day, **LABELS)


def _room_form() -> RoomForm:
    form = RoomForm()
    offices = db.session.scalars(select(Organisation).where(
        perm.offices_to_schedule(current_user)).order_by(Organisation.name))
    form.fill_choices([(o.id, o.name) for o in offices], ops.host_choices(db.session))
    return form


@bp.route("/new", methods=["GET", "POST"])
@require(perm.can_schedule)
def new_room() -> ResponseReturnValue:
    form = _room_form()
    if request.method == "GET":
        form.day.data = form.day.data or utc_to_local(datetime.now().astimezone()).date()
    if form.validate_on_submit():
        assert form.day.data and form.starts.data and form.ends.data
        web.on_error(lambda error: _form_again(form, error))
        room = ops.create_room(
            db.session, current_user, kind=form.kind.data or "",
            title=form.title.data or "", office_id=form.office_id.data,
            host_id=form.host_id.data or None,
            starts_at=local_to_utc(form.day.data, form.starts.data),
            ends_at=local_to_utc(form.day.data, form.ends.data),
            slot_minutes=form.slot_minutes.data or 20)
        flash(_("Reception scheduled."), "success")
        return redirect(url_for("video.room", room_id=room.id), code=303)
    return render("video/new.html", form=form,
                  status=400 if request.method == "POST" else 200)


def _form_again(form: RoomForm, error: DomainError) -> ResponseReturnValue:
    flash(str(error.message), "error")
    return render("video/new.html", form=form, status=400)


@bp.get("/rooms/<int:room_id>")
@require(perm.can_open_schedule)
def room(room_id: int) -> ResponseReturnValue:
    room = _room(room_id)
    form = BookForm()
    form.idempotency_key.data = idempotency.new_key()
    free = ops.free_slots(room)
    form.slot.choices = slot_choices(free)
    return _room_page(room, form)


def _room_page(room: Room, form: BookForm, status: int = 200) -> ResponseReturnValue:
    recordings = db.session.scalars(select(Recording).where(Recording.room_id == room.id)
                                    .order_by(Recording.id)).all()
    queue = ops.waiting(db.session, room)
    notes = {s.id: ops.note_for(db.session, s) for s in room.seats
             if s.kind == SeatKind.PETITIONER}
    return render("video/manage.html", room=room, slots=ops.slots(room), queue=queue,
                  form=form, companion_form=CompanionForm(), recordings=recordings,
                  waiting_recordings=filing.waiting(room), notes=notes, status=status,
                  **LABELS)


@bp.post("/recordings/<int:recording_id>/attach")
@require(perm.can_open_schedule)
def attach_recording(recording_id: int) -> ResponseReturnValue:
    """A recording waiting for a case goes into the case the official names."""
    recording = db.session.get(Recording, recording_id)
    if recording is None:
        abort(404)
    room = _room(recording.room_id, perm.can_host)
    web.on_error(web.flash_and_redirect(url_for("video.room", room_id=room.id)))
    number = (request.form.get("case_number") or "").strip()
    case = db.session.scalar(select(Case).where(Case.number == number)) if number else None
    if case is None or not can_add_to_case(current_user, case):
        raise DomainError(_("No case %(number)s that you can add to.", number=number))
    filing.attach_waiting(current_user, recording, case)
    flash(_("The recording is in case %(number)s.", number=case.number), "success")
    return redirect(url_for("video.room", room_id=room.id), code=303)


def _case_id(number: str | None) -> int | None:
    number = (number or "").strip()
    if not number:
        return None
    case = db.session.scalar(select(Case).where(Case.number == number))
    if case is None or not can_add_to_case(current_user, case):
        raise DomainError(_("No case %(number)s that you can add to.", number=number))
    return case.id


@bp.post("/rooms/<int:room_id>/book")
@require(perm.can_open_schedule)
def book(room_id: int) -> ResponseReturnValue:
    room = _room(room_id, perm.can_manage_room)
    form = BookForm()
    free = ops.free_slots(room)
    form.slot.choices = slot_choices(free)
    web.on_error(lambda error: _booking_refused(room, form, error))
    key = form.idempotency_key.data
    # a form sent again (double click, retry, two requests racing) goes where the first
    # booking led; the wrapper redirects on idempotency.AlreadyDone
    idempotency.ensure_new(db.session, key, code=303, notice=ops.BOOKING_REPLAYED)
    if not form.validate_on_submit():
        return _room_page(room, form, status=400)
    idempotency.claim(db.session, key, "video-seat", code=303, notice=ops.BOOKING_REPLAYED)
    seat, token = ops.book_seat(
        db.session, current_user, room, name=form.name.data or "",
        phone=form.phone.data, email=form.email.data,
        slot_at=parse_slot(form.slot.data), case_id=_case_id(form.case_number.data),
        locale=form.language.data or "zh_CN")
    idempotency.remember(db.session, key, "video-seat", url_for("video.room", room_id=room.id),
                         code=303, notice=ops.BOOKING_REPLAYED)
    if seat.email:
        _email_link(seat, token, seat.email)
    return _link_page(seat, token, emailed=bool(seat.email), texted=_text_link(seat, token))


def _booking_refused(room: Room, form: BookForm, error: DomainError) -> ResponseReturnValue:
    """A refusal shows the room page again with the form as it was sent."""
    flash(str(error.message), "error")
    return _room_page(room, form, status=error.status)


def join_url(token: str) -> str:
    return url_for("join.check", token=token, _external=True)


def sms_text(seat: Seat, token: str) -> str:
    if seat.slot_at is None:  # a walk-in: the queue is open now, not at the room's start
        return _("%(name)s: please open this link on your phone now for your video "
                 "reception “%(title)s”; you will wait your turn in the queue: %(url)s "
                 "(recorded with your consent).", name=seat.display_name,
                 title=seat.room.title, url=join_url(token))
    when = utc_to_local(seat.slot_at)
    return _("%(name)s: your video reception “%(title)s” is on %(when)s. Open this link on "
             "your phone a few minutes before: %(url)s (recorded with your consent).",
             name=seat.display_name, title=seat.room.title,
             when=when.strftime("%Y-%m-%d %H:%M"), url=join_url(token))


def _email_link(seat: Seat, token: str, address: str) -> None:
    queue_email(db.session, to=address,
                subject=_("Your video reception: %(title)s", title=seat.room.title),
                body=sms_text(seat, token) + "\n\n"
                + _("If you cannot come, call the reception office."))


def _guest_text(seat: Seat, token: str) -> str:
    """The join link's message in the language the guest reads, not the clerk's."""
    with force_locale(seat.locale or "zh_CN"):
        return sms_text(seat, token)


def _text_link(seat: Seat, token: str) -> bool:
    """Queue the join link as an SMS to the guest's phone (sent by the outbox worker when
    an SMS provider is configured, shown at /dev/outbox otherwise); True when queued."""
    when = utc_to_local(seat.slot_at).strftime("%Y-%m-%d %H:%M") if seat.slot_at else ""
    return queue_sms(db.session, to=seat.phone, text=_guest_text(seat, token),
                     params={"name": seat.display_name, "title": seat.room.title,
                             "when": when, "url": join_url(token)},
                     locale=seat.locale or "zh_CN") is not None


def _link_page(seat: Seat, token: str, emailed: bool = False, texted: bool = False
               ) -> ResponseReturnValue:
    url = join_url(token)
    qr = segno.make(url, error="m").svg_inline(scale=5, title=_("Join link QR code"))
    form = EmailLinkForm(token=token, email=seat.email or "")
    return render("video/link.html", seat=seat, room=seat.room, url=url, token=token,
                  sms=_guest_text(seat, token), qr=qr, email_form=form, emailed=emailed,
                  texted=texted, sms_configured=bool(settings_of(current_app).sms_url),
                  **LABELS)


@bp.post("/seats/<int:seat_id>/link")
@require(perm.can_open_schedule)
def reissue_link(seat_id: int) -> ResponseReturnValue:
    seat = _seat(seat_id)
    token = ops.reissue_link(db.session, current_user, seat)
    seat_id = seat.id
    # a window still open on the old link closes
    transaction.after_commit(db.session, lambda: close_seat(seat_id, "expired"))
    flash(_("A new link was made; the old one no longer works."), "success")
    return _link_page(seat, token, texted=_text_link(seat, token))


@bp.post("/seats/<int:seat_id>/email")
@require(perm.can_open_schedule)
def email_link(seat_id: int) -> ResponseReturnValue:
    seat = _seat(seat_id)
    form = EmailLinkForm()
    token = form.token.data or ""
    if seat.token_hash != ops.token_hash(token):
        raise DomainError(_("That link is no longer valid; issue a new one."), 409)
    if not form.validate_on_submit():
        flash(_("Enter a valid e-mail address."), "error")
        return _link_page(seat, token)
    _email_link(seat, token, form.email.data or "")
    flash(_("The link was queued for e-mail to %(to)s.", to=form.email.data), "success")
    return _link_page(seat, token, emailed=True)


@bp.post("/seats/<int:seat_id>/companion")
@require(perm.can_open_schedule)
def add_companion(seat_id: int) -> ResponseReturnValue:
    seat = _seat(seat_id)
    form = CompanionForm()
    if not form.validate_on_submit():
        flash(_("Write the companion's name."), "error")
        return redirect(url_for("video.room", room_id=seat.room_id), code=303)
    web.on_error(web.flash_and_redirect(url_for("video.room", room_id=seat.room_id)))
    other, token = ops.add_companion(db.session, current_user, seat, name=form.name.data or "",
                                     kind=form.kind.data or SeatKind.COMPANION)
    return _link_page(other, token)


@bp.post("/seats/<int:seat_id>/cancel")
@require(perm.can_open_schedule)
def cancel_seat(seat_id: int) -> ResponseReturnValue:
    seat = _seat(seat_id)
    web.on_error(web.flash_and_redirect(url_for("video.room", room_id=seat.room_id)))
    ops.cancel_seat(db.session, current_user, seat)
    flash(_("Booking for %(name)s cancelled.", name=seat.display_name), "success")
    return redirect(url_for("video.room", room_id=seat.room_id), code=303)


# --- hosting -----------------------------------------------------------------------------------

@bp.get("/rooms/<int:room_id>/host")
@require(perm.can_open_schedule)
def host(room_id: int) -> ResponseReturnValue:
    """The official's room. A GET changes nothing (a prefetched link must not start the
    reception): an official who has not opened the room yet gets the button that does."""
    room = _room(room_id, perm.can_host)
    seat = ops.existing_staff_seat(db.session, current_user, room)
    if seat is None or room.status == RoomStatus.ENDED:
        return render("video/open_room.html", room=room)
    # a multi-party room (a hearing) has no reception notes: the hearing keeps minutes
    note_url = None if room.is_multi_party else url_for("video.notes", room_id=room.id)
    return render("video/room.html", block=None, room=room, seat=seat, is_staff=True,
                  token=None, note_url=note_url)


@bp.post("/rooms/<int:room_id>/host")
@require(perm.can_open_schedule)
def open_room(room_id: int) -> ResponseReturnValue:
    """Open the room: the official's seat, and the reception is live."""
    room = _room(room_id, perm.can_host)
    web.on_error(web.flash_and_redirect(url_for("video.room", room_id=room.id)))
    ops.staff_seat(db.session, current_user, room)  # refused once the room ended
    return redirect(url_for("video.host", room_id=room.id), code=303)


@bp.get("/rooms/<int:room_id>/notes")
@require(perm.can_open_schedule)
def notes(room_id: int) -> ResponseReturnValue:
    """The note panel beside the call: one note per petitioner admitted or seen."""
    room = _room(room_id, perm.can_host)
    seats = ops.note_seats(room)
    forms = {}
    for seat in seats:
        note = ops.note_for(db.session, seat)
        form = NoteForm(prefix=f"n{seat.id}", obj=note)
        _note_choices(form)
        if note is not None:
            form.kind.data = note.case_kind or ""
            form.township_id.data = note.township_id or 0
            form.village_id.data = note.village_id or 0
        form.version.data = str(note.version) if note else ""
        forms[seat.id] = (form, note)
    return render("video/notes.html", block="content", room=room, seats=seats, forms=forms,
                  **LABELS)


@bp.post("/seats/<int:seat_id>/note")
@require(perm.can_open_schedule)
def save_note(seat_id: int) -> ResponseReturnValue:
    seat = _seat(seat_id, perm.can_host)
    form = NoteForm(prefix=f"n{seat.id}")
    _note_choices(form)
    action = request.form.get("action", "save")
    web.on_error(lambda error: _note_again(seat, form, error))
    if not form.validate():
        raise DomainError(_("Check the note: a field is too long."))
    expected = int(form.version.data) if (form.version.data or "").isdigit() else None
    note = ops.save_note(db.session, current_user, seat, {
        "facts": form.facts.data or "", "demands": form.demands.data or "",
        "answer": form.answer.data or "", "next_steps": form.next_steps.data or ""},
        expected, case_fields=None if seat.case_id else {
            "case_kind": form.kind.data or None, "township_id": form.township_id.data or None,
            "village_id": form.village_id.data or None})
    if action == "show":
        ops.show_note(db.session, current_user, note)
    flash(_("Note shown to %(name)s to confirm.", name=seat.display_name)
          if action == "show" else _("Note saved."), "success")
    return _note_form(seat, form, note)


def _note_choices(form: NoteForm) -> None:
    """The kind and place of the case a note opens: every township, every village (by its
    full name, under its township); the operation checks they belong together."""
    villages = db.session.scalars(select(Organisation).where(
        Organisation.kind == OrgKind.VILLAGE, Organisation.is_active.is_(True))
        .order_by(Organisation.name))
    form.fill_choices(places(OrgKind.TOWNSHIP), [(v.id, v.full_name) for v in villages])


def _note_form(seat: Seat, form: NoteForm, note: ReceptionNote | None,
               status: int = 200) -> ResponseReturnValue:
    form.version.data = str(note.version) if note else ""
    return render("video/_note.html", block=None, seat=seat, form=form, note=note,
                  status=status, **LABELS)


def _note_again(seat: Seat, form: NoteForm, error: DomainError) -> ResponseReturnValue:
    """The form again with the official's text kept, over the note as it is saved now
    (a stale save: 409, the version of the other official's save)."""
    flash(str(error.message), "error")
    note = error.note if isinstance(error, ops.StaleNote) else ops.note_for(db.session, seat)
    return _note_form(seat, form, note, status=error.status)


@bp.post("/seats/<int:seat_id>/note/file")
@require(perm.can_open_schedule)
def file_note(seat_id: int) -> ResponseReturnValue:
    seat = _seat(seat_id, perm.can_host)
    note = ops.note_for(db.session, seat)
    if note is None:
        raise DomainError(_("Write the note first."))
    web.on_error(web.flash_and_redirect(url_for("video.room", room_id=seat.room_id)))
    case, code = filing.file_note(current_user, note, kind=request.form.get("kind") or None)
    if code is not None:  # shown this once: the petitioner's query code is stored nowhere
        flash(_("The note opened case %(number)s. Give the petitioner its query code: "
                "%(code)s (shown only now).", number=case.number, code=code), "success")
    else:
        flash(_("The note is in case %(number)s.", number=case.number), "success")
    return redirect(url_for("video.room", room_id=seat.room_id), code=303)


# --- the petitioner's link (public) -------------------------------------------------------------

def _guest(token: str) -> Seat:
    return ops.seat_for_token(db.session, token)


@join_bp.get("/<token>")
@public
def check(token: str) -> ResponseReturnValue:
    seat = _guest(token)
    return render("video/device_check.html", block=None, room=seat.room, seat=seat,
                  token=token, ping_url=url_for("join.ping"),
                  consent_url=url_for("join.consent", token=token),
                  leave_url=url_for("join.leave", token=token), is_recorded_notice=True)


@join_bp.post("/<token>/consent")
@public
def consent(token: str) -> ResponseReturnValue:
    seat = _guest(token)
    ops.give_consent(db.session, seat)
    return redirect(url_for("join.call", token=token), code=303)


@join_bp.get("/<token>/room")
@public
def call(token: str) -> ResponseReturnValue:
    seat = _guest(token)
    if seat.consent_at is None:
        return redirect(url_for("join.check", token=token), code=303)
    return render("video/room.html", block=None, room=seat.room, seat=seat,
                  is_staff=False, token=token, note_url=None)


@join_bp.get("/<token>/leave")
@public
def leave(token: str) -> ResponseReturnValue:
    return render("video/left.html", block=None)


@join_bp.get("/ping")
@public
def ping() -> Response:
    """The device check's network test: an empty answer, never cached."""
    response = Response(status=204)
    response.headers["Cache-Control"] = "no-store"
    return response
