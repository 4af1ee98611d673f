"""Rota pages on the one `consultations` blueprint. Organisers: the year's rota (generate,
publish, edit one week), swap approvals. Lawyers: their weeks, unavailability, swaps asked
and received, their private .ics feed link. Public: who is on duty (`/consultations/duty`)
and the feed itself (the token is the authorization; the access log masks it)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from flask import Response, abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import DateField, HiddenField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from consultations import links
from consultations import permissions as perm
from consultations import rota as pure
from consultations import rota_ops as ops
from consultations.blueprint import bp
from consultations.models import (
    DutyWeek,
    RotaFeed,
    RotaStatus,
    SwapRequest,
    SwapStatus,
    Unavailability,
)
from consultations.rota_ics import rota_calendar
from consultations.rules import rules
from portal import idempotency, web
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.people.models import Person
from portal.timeutil import beijing, utcnow
from portal.web import public, render, require

STATUS_LABELS = {RotaStatus.DRAFT.value: RotaStatus.DRAFT.label,
                 RotaStatus.PUBLISHED.value: RotaStatus.PUBLISHED.label}
SWAP_LABELS = {s.value: s.label for s in SwapStatus}


class GenerateForm(FlaskForm):
    year = IntegerField(_l("Year"), validators=[DataRequired(), NumberRange(min=2000, max=2200)])
    replace = HiddenField()


class EditWeekForm(FlaskForm):
    lawyer_id = SelectField(_l("Lawyer on duty"), coerce=int, choices=[],
                            validators=[DataRequired()])
    reason = StringField(_l("Reason for the change"),
                         validators=[DataRequired(), Length(max=200)])


class UnavailableForm(FlaskForm):
    week = DateField(_l("A day of the week"), validators=[DataRequired()])
    reason = StringField(_l("Reason (optional)"), validators=[Optional(), Length(max=200)])
    idempotency_key = HiddenField()


class SwapForm(FlaskForm):
    # the operation checks the weeks (any id may be sent): no choice validation here
    my_week = SelectField(_l("My week"), coerce=int, choices=[], validate_choice=False,
                          validators=[DataRequired()])
    their_week = SelectField(_l("The other lawyer's week"), coerce=int, choices=[],
                             validate_choice=False, validators=[DataRequired()])
    reason = StringField(_l("Reason (optional)"), validators=[Optional(), Length(max=200)])
    idempotency_key = HiddenField()


def _week_label(week: DutyWeek) -> str:
    end = week.week_start + timedelta(days=6)
    name = week.lawyer.name if week.lawyer else ""
    return f"{week.week_start:%Y-%m-%d} – {end:%m-%d} · {name}"


def _year_arg() -> int:
    try:
        year = int(request.args.get("year") or beijing(utcnow()).year)
    except ValueError:
        abort(404)
    if not 2000 <= year <= 2200:
        abort(404)
    return year


def _me() -> Person:
    return ops.require_person(perm.lawyer_person(current_user))


# --- the organiser's rota -----------------------------------------------------------------

@bp.get("/rota")
@require(perm.can_manage_rota)
def rota() -> ResponseReturnValue:
    year = _year_arg()
    weeks = {w.week_start: w for w in ops.weeks_of_year(db.session, year)}
    minimum = rules().min_working_days
    away: dict[date, dict[int, str]] = {}
    for monday, person_id, name in db.session.execute(
            select(Unavailability.week_start, Person.id, Person.name)
            .join(Person, Person.id == Unavailability.person_id)
            .where(Unavailability.week_start.between(date(year, 1, 1), date(year, 12, 31)))):
        away.setdefault(monday, {})[person_id] = name
    rows = []
    for monday in pure.mondays_of(year):
        days = pure.working_days(monday, ops.is_working_day)
        week = weeks.get(monday)
        closed = (week is None and days < minimum) or (week is not None and week.is_closed)
        open_week = week if week is not None and not week.is_closed else None
        out = away.get(monday, {})
        rows.append({"monday": monday, "end": monday + timedelta(days=6), "days": days,
                     "week": open_week, "closed": closed, "editable": not ops.is_past(monday),
                     "away": sorted(out.values()),
                     # declared after the week was planned: the organiser should change it
                     "clash": open_week is not None and open_week.lawyer_id in out})
    loads: dict[int, int] = {}
    for w in weeks.values():
        if not w.is_closed:
            loads[w.lawyer_id] = loads.get(w.lawyer_id, 0) + 1
    lawyers = ops.active_lawyers(db.session)
    drafts = sum(1 for w in weeks.values() if w.status == RotaStatus.DRAFT and not w.is_closed)
    form = GenerateForm(year=year)
    return render("consultations/rota.html", year=year, rows=rows, lawyers=lawyers,
                  loads=loads, drafts=drafts, form=form, min_days=minimum,
                  replaceable=ops.replaceable(db.session, year),
                  plannable=ops.first_plannable(year) is not None,
                  pending_swaps=len(ops.swaps_to_decide(db.session)),
                  status_labels=STATUS_LABELS)


@bp.post("/rota/generate")
@require(perm.can_manage_rota)
def rota_generate() -> ResponseReturnValue:
    form = GenerateForm()
    if not form.validate_on_submit() or form.year.data is None:
        flash(_("Give a year between 2000 and 2200."), "error")
        return redirect(url_for("consultations.rota"), code=303)
    year = form.year.data
    back = url_for("consultations.rota", year=year)
    web.on_error(web.flash_and_redirect(back))
    result = ops.generate_year(db.session, current_user, year,
                               replace=form.replace.data == "1")
    planned = sum(1 for a in result.plan if a.lawyer_id is not None)
    closed = sum(1 for a in result.plan if a.is_closed)
    nobody = sum(1 for a in result.plan if a.reason is pure.Reason.NOBODY)
    flash(_("Draft of %(year)s: %(planned)d weeks planned, %(closed)d holiday weeks closed, "
            "%(nobody)d weeks with no lawyer available. Check it, then publish it.",
            year=year, planned=planned, closed=closed, nobody=nobody),
          "warning" if nobody else "success")
    return redirect(back, code=303)


@bp.post("/rota/publish")
@require(perm.can_manage_rota)
def rota_publish() -> ResponseReturnValue:
    form = GenerateForm()
    year = form.year.data if form.validate_on_submit() and form.year.data else None
    if year is None:
        flash(_("Give a year between 2000 and 2200."), "error")
        return redirect(url_for("consultations.rota"), code=303)
    back = url_for("consultations.rota", year=year)
    web.on_error(web.flash_and_redirect(back))
    published = ops.publish_year(db.session, current_user, year)
    flash(_("%(n)d weeks published; the lawyers are told.", n=len(published)), "success")
    return redirect(back, code=303)


def _monday(day: str) -> date:
    try:
        monday = date.fromisoformat(day)
    except ValueError:
        abort(404)
    if monday.weekday() != 0 or not 2000 <= monday.year <= 2200:
        abort(404)
    return monday


@bp.route("/rota/weeks/<day>", methods=["GET", "POST"])
@require(perm.can_manage_rota)
def rota_edit_week(day: str) -> ResponseReturnValue:
    monday = _monday(day)
    week = db.session.scalar(select(DutyWeek).where(DutyWeek.week_start == monday))
    form = EditWeekForm()
    lawyers = ops.active_lawyers(db.session)
    away = set(db.session.scalars(select(Unavailability.person_id).where(
        Unavailability.week_start == monday)))
    form.lawyer_id.choices = [
        (p.id, p.name + (f" · {p.lawyer_firm}" if p.lawyer_firm else "")
         + (" · " + _("unavailable") if p.id in away else "")) for p in lawyers]
    if request.method == "GET" and week is not None:
        form.lawyer_id.data = week.lawyer_id
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            web.on_error(lambda error: _edit_again(monday, week, form, error))
            ops.edit_week(db.session, current_user, monday, form.lawyer_id.data or 0,
                          form.reason.data or "")
            flash(_("The week from %(week)s is changed.", week=monday.isoformat()), "success")
            return redirect(url_for("consultations.rota", year=monday.year), code=303)
    return _edit_page(monday, week, form, status)


def _edit_page(monday: date, week: DutyWeek | None, form: EditWeekForm, status: int
               ) -> ResponseReturnValue:
    return render("consultations/rota_week.html", monday=monday,
                  end=monday + timedelta(days=6), week=week, form=form,
                  past=ops.is_past(monday), status_labels=STATUS_LABELS, status=status)


def _edit_again(monday: date, week: DutyWeek | None, form: EditWeekForm,
                error: web.DomainError) -> ResponseReturnValue:
    flash(str(error.message), "error")
    return _edit_page(monday, week, form, error.status)


@bp.get("/rota/swaps")
@require(perm.can_manage_rota)
def rota_swaps() -> ResponseReturnValue:
    return render("consultations/rota_swaps.html", waiting=ops.swaps_to_decide(db.session),
                  recent=ops.recent_swaps(db.session), swap_labels=SWAP_LABELS)


@bp.post("/rota/swaps/<int:swap_id>/decide")
@require(perm.can_manage_rota)
def rota_decide_swap(swap_id: int) -> ResponseReturnValue:
    if db.session.get(SwapRequest, swap_id) is None:
        abort(404)
    decision = request.form.get("decision")
    back = url_for("consultations.rota_swaps")
    if decision not in ("approve", "refuse"):
        flash(_("Choose to approve or to refuse."), "error")
        return redirect(back, code=303)
    web.on_error(web.flash_and_redirect(back))
    ops.decide_swap(db.session, current_user, swap_id, approve=decision == "approve")
    flash(_("Swap approved: the two weeks changed hands.") if decision == "approve"
          else _("Swap refused."), "success")
    return redirect(back, code=303)


# --- the lawyer's weeks -------------------------------------------------------------------

def _swap_form(me: Person) -> SwapForm:
    form = SwapForm()
    since = ops.this_monday() + pure.WEEK
    future = list(db.session.scalars(select(DutyWeek).where(
        DutyWeek.week_start >= since, DutyWeek.status == RotaStatus.PUBLISHED,
        DutyWeek.is_closed.is_(False)).order_by(DutyWeek.week_start).limit(120)))
    form.my_week.choices = [(w.id, _week_label(w)) for w in future if w.lawyer_id == me.id]
    form.their_week.choices = [(w.id, _week_label(w)) for w in future if w.lawyer_id != me.id]
    return form


@bp.get("/my-weeks")
@require(perm.has_lawyer_role)
def rota_mine() -> ResponseReturnValue:
    me = perm.lawyer_person(current_user)
    context: dict[str, Any] = {"me": me, "swap_labels": SWAP_LABELS,
                               "status_labels": STATUS_LABELS}
    if me is not None:
        since = ops.this_monday() - 4 * pure.WEEK
        context["weeks"] = list(db.session.scalars(select(DutyWeek).where(
            DutyWeek.lawyer_id == me.id, DutyWeek.status == RotaStatus.PUBLISHED,
            DutyWeek.is_closed.is_(False), DutyWeek.week_start >= since)
            .order_by(DutyWeek.week_start)))
        context["this_monday"] = ops.this_monday()
        context["six_days"] = timedelta(days=6)
        context["away"] = list(db.session.scalars(select(Unavailability).where(
            Unavailability.person_id == me.id,
            Unavailability.week_start > ops.this_monday()).order_by(Unavailability.week_start)))
        context["swaps"] = swaps = ops.swaps_for(db.session, me)
        ids = {s.asked_by_id for s in swaps} | {s.asked_of_id for s in swaps}
        context["names"] = dict(db.session.execute(
            select(Person.id, Person.name).where(Person.id.in_(ids))).all())
        unavailable = UnavailableForm()
        unavailable.idempotency_key.data = idempotency.new_key()
        swap = _swap_form(me)
        swap.idempotency_key.data = idempotency.new_key()
        context.update(unavailable_form=unavailable, swap_form=swap)
    return render("consultations/rota_mine.html", **context)


@bp.post("/my-weeks/unavailable")
@require(perm.can_act_on_own_weeks)
def rota_unavailable() -> ResponseReturnValue:
    me = _me()
    back = url_for("consultations.rota_mine")
    form = UnavailableForm()
    if not form.validate_on_submit() or form.week.data is None:
        flash(_("Give a day of the week you cannot serve."), "error")
        return redirect(back, code=303)
    key = form.idempotency_key.data
    idempotency.ensure_new(db.session, key, code=303)
    web.on_error(web.flash_and_redirect(back))
    idempotency.claim(db.session, key, "rota-unavailable", code=303)
    row = ops.declare_unavailable(db.session, me, form.week.data, form.reason.data or "")
    idempotency.remember(db.session, key, "rota-unavailable", back, code=303)
    flash(_("The week from %(week)s is marked unavailable; the next rota leaves you out of it.",
            week=row.week_start.isoformat()), "success")
    return redirect(back, code=303)


@bp.post("/my-weeks/unavailable/<int:row_id>/remove")
@require(perm.can_act_on_own_weeks)
def rota_unavailable_remove(row_id: int) -> ResponseReturnValue:
    me = _me()
    back = url_for("consultations.rota_mine")
    ops.my_unavailability(db.session, me, row_id)  # 404 for anyone else's
    web.on_error(web.flash_and_redirect(back))
    ops.withdraw_unavailable(db.session, me, row_id)
    flash(_("The week is available again."), "success")
    return redirect(back, code=303)


@bp.post("/my-weeks/swaps")
@require(perm.can_act_on_own_weeks)
def rota_ask_swap() -> ResponseReturnValue:
    me = _me()
    back = url_for("consultations.rota_mine")
    form = SwapForm()
    if not form.validate_on_submit():
        flash(_("Choose one of your weeks and another lawyer's week."), "error")
        return redirect(back, code=303)
    key = form.idempotency_key.data
    idempotency.ensure_new(db.session, key, code=303)
    web.on_error(web.flash_and_redirect(back))
    idempotency.claim(db.session, key, "rota-swap", code=303)
    ops.ask_swap(db.session, me, form.my_week.data or 0, form.their_week.data or 0,
                 form.reason.data or "")
    idempotency.remember(db.session, key, "rota-swap", back, code=303)
    flash(_("Swap asked: the other lawyer is told, then the organiser approves it."),
          "success")
    return redirect(back, code=303)


@bp.post("/swaps/<int:swap_id>/answer")
@require(perm.can_act_on_own_weeks)
def rota_answer_swap(swap_id: int) -> ResponseReturnValue:
    me = _me()
    ops.my_swap(db.session, swap_id, me, as_asker=False)  # 404 unless asked of me
    back = url_for("consultations.rota_mine")
    answer = request.form.get("answer")
    if answer not in ("accept", "decline"):
        flash(_("Choose to accept or to decline."), "error")
        return redirect(back, code=303)
    web.on_error(web.flash_and_redirect(back))
    ops.answer_swap(db.session, me, swap_id, accept=answer == "accept")
    flash(_("Swap accepted: it now awaits the organiser's approval.") if answer == "accept"
          else _("Swap declined."), "success")
    return redirect(back, code=303)


@bp.post("/swaps/<int:swap_id>/withdraw")
@require(perm.can_act_on_own_weeks)
def rota_withdraw_swap(swap_id: int) -> ResponseReturnValue:
    me = _me()
    ops.my_swap(db.session, swap_id, me, as_asker=True)  # 404 unless asked by me
    back = url_for("consultations.rota_mine")
    web.on_error(web.flash_and_redirect(back))
    ops.withdraw_swap(db.session, me, swap_id)
    flash(_("Swap request withdrawn."), "success")
    return redirect(back, code=303)


@bp.route("/my-weeks/feed", methods=["GET", "POST"])
@require(perm.has_lawyer_role)
def rota_feed_link() -> ResponseReturnValue:
    """The page to (re)issue the feed link; the link is shown once, when issued."""
    me = perm.lawyer_person(current_user)
    token = None
    if request.method == "POST":
        me = _me()
        token = ops.issue_feed(db.session, me)
    has_feed = me is not None and db.session.scalar(select(RotaFeed.id).where(
        RotaFeed.person_id == me.id)) is not None
    url = url_for("consultations.rota_feed", token=token, _external=True) if token else None
    return render("consultations/rota_feed.html", me=me, url=url, has_feed=has_feed)


@bp.get("/feed/<token>.ics")
@public
def rota_feed(token: str) -> ResponseReturnValue:
    feed = links.feed_by_token(db.session(), token)
    person = db.session.get(Person, feed.person_id) if feed else None
    if feed is None or person is None or not person.is_active:
        abort(404)
    body = rota_calendar(
        person.id, ops.feed_weeks(db.session, person.id), name=_("Lawyer duty rota"),
        summary=_("Duty lawyer at the reception centre"), location=_("Reception centre"),
        is_working_day=ops.is_working_day, hours_of=ops.week_hours, stamp=utcnow())
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = 'inline; filename="duty.ics"'
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


# --- the public page ----------------------------------------------------------------------

@bp.get("/duty")
@public
def duty_public() -> ResponseReturnValue:
    now = utcnow()
    week, in_hours = ops.current_duty(db.session, now)
    today = beijing(now or utcnow()).date()
    next_week = ops.duty_week_on(db.session, pure.monday_of(today) + pure.WEEK)
    starts: datetime | None = None if in_hours else ops.next_duty_start(db.session, now)
    closed_today = not ops.is_working_day(today)
    return render("consultations/duty_public.html", week=week, in_hours=in_hours,
                  next_week=next_week, starts=starts, closed_today=closed_today,
                  hours=ops.week_hours(week) if week else [], today=today)


@bp.context_processor
def _rota_desk() -> dict[str, Any]:
    """`rota_desk()` for the desk's rota section: computed only when it is called."""

    def rota_desk() -> dict[str, Any]:
        now = utcnow()
        week, in_hours = ops.current_duty(db.session, now)
        monday = ops.this_monday(now)
        return {"week": week, "in_hours": in_hours,
                "next_week": ops.duty_week_on(db.session, monday + pure.WEEK),
                "pending_swaps": (len(ops.swaps_to_decide(db.session))
                                  if perm.can_manage_rota(current_user) else 0),
                "asked_of_me": _asked_of_me()}

    return {"rota_desk": rota_desk}


def _asked_of_me() -> int:
    me = perm.lawyer_person(current_user)
    if me is None:
        return 0
    return db.session.scalar(select(func.count()).select_from(SwapRequest).where(
        SwapRequest.asked_of_id == me.id, SwapRequest.status == SwapStatus.ASKED)) or 0
