"""The in-app inbox and the admin's outbox page."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.notify import operations as ops
from portal.notify.models import Notification, OutboxMessage, OutboxStatus
from portal.notify.permissions import can_read_notifications, can_view_outbox
from portal.web import page_args, render, require, safe_next

bp = Blueprint("notify", __name__)

STATUS_LABELS = {
    OutboxStatus.PENDING: _l("Waiting"),
    OutboxStatus.SENDING: _l("Sending"),
    OutboxStatus.SENT: _l("Sent"),
    OutboxStatus.SHOWN: _l("Shown here (no SMTP)"),
    OutboxStatus.FAILED: _l("Failed"),
}


@bp.route("/notifications")
@require(can_read_notifications)
def inbox() -> ResponseReturnValue:
    stmt = (select(Notification).where(Notification.user_id == current_user.id)
            .order_by(Notification.created_at.desc(), Notification.id.desc()))
    page, per_page = page_args()
    pagination = db.paginate(stmt, page=page, per_page=per_page, error_out=False)
    return render("notify/inbox.html", block="results", pagination=pagination)


@bp.post("/notifications/<int:notification_id>/read")
@require(can_read_notifications)
def read(notification_id: int) -> ResponseReturnValue:
    notification = ops.mark_read(db.session, current_user, notification_id)
    return redirect(safe_next(notification.link, url_for("notify.inbox")))


@bp.post("/notifications/read-all")
@require(can_read_notifications)
def read_all() -> ResponseReturnValue:
    count = ops.mark_all_read(db.session, current_user)
    if count:
        flash(_("Marked %(n)d notifications as read.", n=count), "success")
    return redirect(url_for("notify.inbox"))


@bp.route("/dev/outbox")
@require(can_view_outbox)
def outbox() -> ResponseReturnValue:
    status = request.args.get("status") or ""
    stmt = select(OutboxMessage).order_by(OutboxMessage.created_at.desc(),
                                          OutboxMessage.id.desc())
    if status in {str(s) for s in OutboxStatus}:
        stmt = stmt.where(OutboxMessage.status == status)
    else:
        status = ""
    page, per_page = page_args()
    pagination = db.paginate(stmt, page=page, per_page=per_page, error_out=False)
    return render("notify/outbox.html", block="results", pagination=pagination,
                  status_filter=status, status_labels=STATUS_LABELS, can_retry=ops.can_retry)


@bp.post("/dev/outbox/<int:message_id>/retry")
@require(can_view_outbox)
def retry(message_id: int) -> ResponseReturnValue:
    ops.retry_message(db.session, message_id)
    flash(_("The message will be sent again."), "success")
    return redirect(safe_next(request.form.get("next"), url_for("notify.outbox")))
