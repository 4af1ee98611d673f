"""Hearing routes of the public notice and observers, on the one `hearings` blueprint.

Public (no login): the list of upcoming public hearings, each one's notice page with the
registration form and its .ics, and an observer's own page (status, place on the waiting
list, cancel) behind their personal link. Nothing of a closed hearing exists publicly:
every public URL answers 404 for it. Staff: publishing the notice and checking observers
in, from the hearing page's observers section (`_observers.html`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Response, abort, current_app, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.exceptions import NotFound

from hearings import notices, observers
from hearings import permissions as perm
from hearings.blueprint import bp
from hearings.ics import hearing_calendar
from hearings.links import observer_by_token
from hearings.models import (
    Hearing,
    HearingKind,
    HearingStatus,
    Observer,
    ObserverStatus,
    PlaceKind,
)
from hearings.public_forms import ButtonForm, ObserverForm
from portal import idempotency, web
from portal.casefiles.models import Case, CaseKind
from portal.crypto import mask_id_number, mask_phone
from portal.enums import labels
from portal.extensions import db, limiter
from portal.i18n import lazy_gettext as _l
from portal.paging import PageOf
from portal.timeutil import utcnow
from portal.web import public, render, require, select_locale

#: registrations per address (a family registering together fits; a script does not)
REGISTER_LIMIT = "10 per minute;30 per hour"
#: the public pages of one address (reading is cheap, but not free)
READ_LIMIT = "120 per minute"


def _register_limit() -> str:
    return str(current_app.config.get("PORTAL_OBSERVER_REGISTER_LIMIT", REGISTER_LIMIT))


def _too_many() -> str:
    return _("Too many registrations from this connection. Please wait a few minutes and "
             "try again, or call the petition office.")


def _db() -> Any:
    return db.session


def _no_store(response: Any) -> Any:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


# --- what the public reads ---------------------------------------------------------------

@dataclass(frozen=True)
class PublicItem:
    hearing: Hearing
    case_kind: Any
    counts: observers.Counts


def case_kind_label(kind: str | None) -> Any:
    """The case's kind as the public may read it: one of the portal's kinds, never the
    free text a clerk may have typed."""
    try:
        return CaseKind(kind or "").label
    except ValueError:
        return CaseKind.OTHER.label


def _counts_for(ids: list[int]) -> dict[int, dict[str, int]]:
    found: dict[int, dict[str, int]] = {i: {} for i in ids}
    if ids:
        for hearing_id, status, n in _db().execute(
                select(Observer.hearing_id, Observer.status, func.count())
                .where(Observer.hearing_id.in_(ids))
                .group_by(Observer.hearing_id, Observer.status)):
            found[hearing_id][status] = n
    return found


def _public_hearing(hearing_id: int, *, cancelled_too: bool = False) -> Hearing:
    hearing = _db().get(Hearing, hearing_id)
    if hearing is None:
        raise NotFound()
    visible = perm.can_see_notice(hearing) if cancelled_too else perm.is_publicly_visible(
        hearing)
    if not visible:
        raise NotFound()
    return hearing


def _item(hearing: Hearing) -> PublicItem:
    kind = _db().scalar(select(Case.kind).where(Case.id == hearing.case_id))
    return PublicItem(hearing, case_kind_label(kind),
                      observers.counts(_db(), hearing))


def _context() -> dict[str, Any]:
    return {"kind_labels": labels(HearingKind), "status_labels": labels(HearingStatus)}


@bp.route("/public")
@public
@limiter.limit(READ_LIMIT)
def public_list() -> ResponseReturnValue:
    page, per_page = web.page_args(default_size=10, max_size=50)
    where = (Hearing.is_public.is_(True), Hearing.notice_published_at.is_not(None),
             Hearing.status.in_((HearingStatus.PUBLISHED, HearingStatus.RUNNING)),
             Hearing.ends_at > utcnow())
    total = _db().scalar(select(func.count()).select_from(Hearing).where(*where)) or 0
    rows = _db().execute(
        select(Hearing, Case.kind).join(Case, Case.id == Hearing.case_id).where(*where)
        .order_by(Hearing.starts_at, Hearing.id)
        .limit(per_page).offset((page - 1) * per_page)).all()
    seats = _counts_for([h.id for h, _kind in rows])
    items = [PublicItem(h, case_kind_label(kind), observers.Counts(
        seats=h.observer_seats, seated=seats[h.id].get(ObserverStatus.SEATED, 0),
        waitlisted=seats[h.id].get(ObserverStatus.WAITLISTED, 0))) for h, kind in rows]
    return render("hearings/public_list.html", block="results",
                  pagination=PageOf(items, page, per_page, total), **_context())


def _notice_page(hearing: Hearing, form: ObserverForm, *, message: Any = None,
                 status: int = 200) -> ResponseReturnValue:
    body, code = render("hearings/public_notice.html", block=None, status=status,
                        item=_item(hearing), form=form, message=message,
                        closed=observers.registration_closed_reason(hearing), **_context())
    return _no_store(current_app.make_response((body, code)))


@bp.route("/public/<int:hearing_id>", methods=["GET", "POST"])
@public
@limiter.limit(READ_LIMIT, methods=["GET"])
@limiter.limit(_register_limit, methods=["POST"], error_message=_too_many)
def public_notice(hearing_id: int) -> ResponseReturnValue:
    hearing = _public_hearing(hearing_id, cancelled_too=True)
    form = ObserverForm()
    if request.method == "GET":
        form.idempotency_key.data = idempotency.new_key()
        return _notice_page(hearing, form)
    closed = observers.registration_closed_reason(hearing)
    if closed is not None:
        return _notice_page(hearing, form, message=closed, status=409)
    if not form.validate_on_submit():
        return _notice_page(hearing, form, status=400)
    key = form.idempotency_key.data
    done = _l("Your registration was already sent and is recorded; your link was sent "
              "by SMS.")
    idempotency.ensure_new(_db(), key, code=303, notice=done)
    web.on_error(lambda error: _notice_page(hearing, form, message=error.message,
                                            status=error.status))
    idempotency.claim(_db(), key, "hearing_observer", code=303, notice=done)
    registration = observers.register(
        _db(), hearing, name=form.name.data or "", phone=form.phone.data or "",
        id_kind=form.id_kind.data or "", id_number=form.id_number.data or "",
        locale=select_locale(),
        link_for=lambda token: url_for("hearings.observer_page", token=token,
                                       _external=True))
    idempotency.remember(_db(), key, "hearing_observer",
                         url_for("hearings.public_notice", hearing_id=hearing.id),
                         code=303, notice=done)
    link = url_for("hearings.observer_page", token=registration.token, _external=True)
    body, code = render("hearings/public_registered.html", block=None, status=201,
                        item=_item(hearing), observer=registration.observer,
                        position=registration.position, link=link, **_context())
    return _no_store(current_app.make_response((body, code)))


@bp.route("/public/<int:hearing_id>.ics")
@public
@limiter.limit(READ_LIMIT)
def public_ics(hearing_id: int) -> ResponseReturnValue:
    hearing = _public_hearing(hearing_id)
    kind = HearingKind(hearing.kind).label if hearing.kind in set(HearingKind) else ""
    description = "\n".join(str(p) for p in (
        _("%(kind)s, on a matter of: %(case_kind)s", kind=kind,
          case_kind=_item(hearing).case_kind),
        hearing.agenda.strip(),
        _("Notice and observer registration: %(url)s",
          url=url_for("hearings.public_notice", hearing_id=hearing.id, _external=True)),
    ) if p)
    location = hearing.place if hearing.place_kind != PlaceKind.ONLINE else str(
        _("Online only"))
    data = hearing_calendar(hearing, method="PUBLISH", summary=hearing.title,
                            description=description, location=location)
    return Response(data, mimetype="text/calendar", headers={
        "Content-Disposition": f'attachment; filename="hearing-{hearing.id}.ics"'})


# --- an observer's own page ----------------------------------------------------------------

def _own_observer(token: str) -> tuple[Observer, Hearing]:
    observer = observer_by_token(_db(), token)
    hearing = _db().get(Hearing, observer.hearing_id) if observer else None
    if observer is None or hearing is None or not hearing.is_public:
        raise NotFound()
    return observer, hearing


def _observer_page(observer: Observer, hearing: Hearing, token: str, *,
                   notice: Any = None, message: Any = None,
                   status: int = 200) -> ResponseReturnValue:
    body, code = render(
        "hearings/public_observer.html", block=None, status=status, observer=observer,
        hearing=hearing, token=token, notice=notice, message=message,
        position=observers.waitlist_position(_db(), observer),
        may_cancel=(observer.status != ObserverStatus.CANCELLED
                    and hearing.status in (HearingStatus.PUBLISHED,
                                           HearingStatus.SCHEDULED)),
        may_watch=perm.observer_may_watch_online(observer, hearing),
        observer_labels=labels(ObserverStatus), **_context())
    return _no_store(current_app.make_response((body, code)))


@bp.route("/observe/<token>")
@public
@limiter.limit(READ_LIMIT)
def observer_page(token: str) -> ResponseReturnValue:
    observer, hearing = _own_observer(token)
    return _observer_page(observer, hearing, token)


@bp.route("/observe/<token>/cancel", methods=["POST"])
@public
@limiter.limit(READ_LIMIT)
def observer_cancel(token: str) -> ResponseReturnValue:
    observer, hearing = _own_observer(token)
    ButtonForm()  # the CSRF token is checked by CSRFProtect itself
    web.on_error(lambda error: _observer_page(observer, hearing, token,
                                              message=error.message, status=error.status))
    observers.cancel(_db(), observer)
    return _observer_page(observer, hearing, token,
                          notice=_l("Your registration is cancelled. Thank you for "
                                    "letting us know."))


# --- staff: the notice and the door ------------------------------------------------------

def _staff_hearing(hearing_id: int) -> Hearing:
    hearing = _db().get(Hearing, hearing_id)
    if hearing is None or not perm.can_view_hearing(current_user, hearing):
        raise NotFound()
    return hearing


def _section_url(hearing: Hearing) -> str:
    return url_for("hearings.detail", hearing_id=hearing.id) + "#observers"


@bp.route("/<int:hearing_id>/notice", methods=["POST"])
@require(perm.can_open_hearings)
def publish_notice(hearing_id: int) -> ResponseReturnValue:
    hearing = _staff_hearing(hearing_id)
    web.on_error(web.flash_and_redirect(_section_url(hearing)))
    notices.publish_notice(_db(), current_user, hearing)
    if hearing.is_public:
        flash(_("The notice is published: the hearing is on the public hearings page."),
              "success")
    else:
        flash(_("The notice is published to the parties only: a closed hearing never "
                "appears publicly."), "success")
    return redirect(_section_url(hearing), code=303)


@bp.route("/<int:hearing_id>/observers/<int:observer_id>/check-in", methods=["POST"])
@require(perm.can_open_hearings)
def check_in_observer(hearing_id: int, observer_id: int) -> ResponseReturnValue:
    hearing = _staff_hearing(hearing_id)
    if not perm.can_manage_observers(current_user, hearing):
        abort(403)
    observer = _db().get(Observer, observer_id)
    if observer is None or observer.hearing_id != hearing.id:
        raise NotFound()
    web.on_error(web.flash_and_redirect(_section_url(hearing)))
    observers.check_in(_db(), current_user, hearing, observer)
    flash(_("%(name)s is checked in.", name=observer.name), "success")
    return redirect(_section_url(hearing), code=303)


# --- the hearing page's observers section --------------------------------------------------

@dataclass(frozen=True)
class ObserverRow:
    observer: Observer
    phone: str
    id_number: str
    position: int | None


@dataclass(frozen=True)
class ObserverSection:
    counts: observers.Counts
    rows: list[ObserverRow]
    earliest_day: Any


def observer_section(hearing: Hearing) -> ObserverSection | None:
    """What `_observers.html` shows organisers: counts and the list, numbers masked."""
    if not perm.can_manage_observers(current_user, hearing):
        return None
    rows: list[ObserverRow] = []
    position = 0
    for o in observers.observer_list(_db(), hearing):
        if o.status == ObserverStatus.WAITLISTED:
            position += 1
        rows.append(ObserverRow(o, mask_phone(o.phone), mask_id_number(o.id_number),
                                position if o.status == ObserverStatus.WAITLISTED else None))
    return ObserverSection(observers.counts(_db(), hearing), rows,
                           notices.earliest_hearing_day())


@bp.context_processor
def _observers_context() -> dict[str, Any]:
    return {"observer_section": observer_section,
            "observer_labels": labels(ObserverStatus)}
