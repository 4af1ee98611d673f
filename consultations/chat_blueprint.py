"""Consultation routes: chat attachments and the move to video (on the one
`consultations` blueprint). The person asking comes by their personal link (public
routes under /consultations/chat/<token>), the lawyer by their login; organisers read
the chat but neither attach, download nor host."""

from __future__ import annotations

from urllib.parse import quote

from flask import Response, abort, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from consultations import chat, intake, links
from consultations import permissions as perm
from consultations import video as consult_video
from consultations.blueprint import bp
from consultations.models import Consultation, ConsultationFile, Sender
from portal import web
from portal.casefiles.blobs import read_blob
from portal.errors import DomainError
from portal.extensions import db, limiter
from portal.i18n import lazy_gettext as _l
from portal.web import public, render, require
from video import operations as video_ops


def _json_error(error: DomainError) -> ResponseReturnValue:
    """Attachments are sent by the chat's script: it shows the message it is given."""
    return jsonify(ok=False, error=str(error.message)), error.status


def _answered(consultation_id: int) -> Consultation:
    """The consultation the logged-in lawyer answers (404 for any other)."""
    found = db.session.get(Consultation, consultation_id)
    if found is None or not perm.can_chat(current_user, found):
        abort(404)
    return found


def _by_token(token: str) -> Consultation:
    found = links.consultation_by_token(db.session(), token)
    if found is None:
        abort(404)
    return found


def _upload(consultation: Consultation, side: str) -> ResponseReturnValue:
    web.on_error(_json_error)
    upload = request.files.get("file")
    if upload is None:
        raise chat.ChatRefused(_l("Choose a file to attach."))
    found = chat.add_file(db.session, consultation, side, upload.stream,
                          upload.filename or "")
    return jsonify(ok=True, file=chat.file_info(db.session, found.id)), 201


def _download(found: ConsultationFile) -> ResponseReturnValue:
    response = Response(read_blob(found.sha256), mimetype=found.media_type)
    response.headers["Content-Disposition"] = \
        f"attachment; filename*=UTF-8''{quote(found.original_name)}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- the lawyer (logged in) ----------------------------------------------------------------

@bp.post("/<int:consultation_id>/chat/files")
@require(perm.is_lawyer)
def lawyer_upload(consultation_id: int) -> ResponseReturnValue:
    return _upload(_answered(consultation_id), Sender.LAWYER)


@bp.get("/<int:consultation_id>/chat/files/<int:file_id>")
@require(perm.is_lawyer)
def lawyer_file(consultation_id: int, file_id: int) -> ResponseReturnValue:
    consultation = _answered(consultation_id)
    return _download(chat.file_of(db.session, consultation, file_id))


@bp.post("/<int:consultation_id>/video")
@require(perm.is_lawyer)
def move_to_video(consultation_id: int) -> ResponseReturnValue:
    consultation = _answered(consultation_id)
    web.on_error(web.flash_and_redirect(url_for("consultations.index")))
    consult_video.move_to_video(db.session, current_user, consultation)
    return redirect(url_for("consultations.lawyer_video", consultation_id=consultation.id),
                    code=303)


@bp.get("/<int:consultation_id>/video")
@require(perm.is_lawyer)
def lawyer_video(consultation_id: int) -> ResponseReturnValue:
    """The lawyer's video room (the reception room page of video/, as its host)."""
    consultation = _answered(consultation_id)
    room = consult_video.current_room(db.session, consultation)
    seat = video_ops.existing_staff_seat(db.session, current_user, room) if room else None
    if room is None or seat is None:
        abort(404)
    return render("consultations/video_room.html", block=None, room=room, seat=seat,
                  is_staff=True, token=None, note_url=None, consultation=consultation)


# --- the person asking (by their personal link) ---------------------------------------------

@bp.post("/chat/<token>/files")
@public
@limiter.limit("30 per minute")  # an anonymous upload: a link's holder, not a flood
def person_upload(token: str) -> ResponseReturnValue:
    return _upload(_by_token(token), Sender.ASKER)


@bp.get("/chat/<token>/files/<int:file_id>")
@public
def person_file(token: str, file_id: int) -> ResponseReturnValue:
    consultation = _by_token(token)
    return _download(chat.file_of(db.session, consultation, file_id))


@bp.post("/chat/<token>/video")
@public
@limiter.limit("30 per minute")
def person_video(token: str) -> ResponseReturnValue:
    """The person's "join the video": a fresh join link for their seat, then its page."""
    consultation = _by_token(token)
    link = consult_video.person_link(db.session, consultation)
    return redirect(url_for("join.check", token=link), code=303)


# --- what the chat partial needs (templates/consultations/_chat.html) -----------------------

def chat_view(consultation: Consultation, token: str | None = None) -> dict[str, object]:
    """The side the viewer takes and the addresses the chat's script uses: the person by
    `token`, otherwise the logged-in user (the answering lawyer writes, an organiser
    reads)."""
    from consultations.rules import rules

    video_open = consult_video.current_room(db.session, consultation) is not None
    cid = consultation.id
    if token:
        side: str = Sender.ASKER
        writes = True
        upload = url_for("consultations.person_upload", token=token)
        files = url_for("consultations.person_file", token=token, file_id=0)
        video = url_for("consultations.person_video", token=token)
    else:
        writes = perm.can_chat(current_user, consultation)
        side = Sender.LAWYER if writes else "reader"
        upload = url_for("consultations.lawyer_upload", consultation_id=cid) if writes else ""
        files = (url_for("consultations.lawyer_file", consultation_id=cid, file_id=0)
                 if writes else "")
        video = url_for("consultations.lawyer_video", consultation_id=cid) if writes else ""
    return {"side": side, "writes": writes, "upload_url": upload, "file_url": files,
            "video_url": video, "video_open": video_open, "token": token or "",
            "position": intake.position(db.session, consultation),
            "may_move": (not token and perm.can_move_to_video(current_user, consultation)),
            "move_url": url_for("consultations.move_to_video", consultation_id=cid),
            "max_message": rules().max_message,
            "max_file_mb": max(1, rules().max_file_bytes // (1024 * 1024))}
