"""/admin/holidays: the admin maintains the holiday calendar the deadlines count with."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional

from portal import web
from portal.casefiles import holidays as hol
from portal.casefiles.clocks import today_in_china
from portal.casefiles.permissions import can_manage_holidays
from portal.errors import DomainError
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.web import render, require

bp = Blueprint("holidays", __name__, url_prefix="/admin/holidays")

__all__ = ["HolidayForm", "bp", "can_manage_holidays"]


class HolidayForm(FlaskForm):
    first = DateField(_l("First day"), validators=[DataRequired()])
    last = DateField(_l("Last day"), validators=[Optional()])
    kind = SelectField(_l("Kind"), choices=[])
    name = StringField(_l("Holiday name"), validators=[DataRequired(), Length(max=40)])
    submit = SubmitField(_l("Add"))

    def fill_choices(self) -> None:
        self.kind.choices = [(str(k), str(v)) for k, v in hol.DAY_KIND_LABELS.items()]


def _year() -> int:
    raw = request.args.get("year", "")
    if raw.isdigit() and 2000 <= int(raw) <= 2100:
        return int(raw)
    return today_in_china().year


def _page(form: HolidayForm, year: int, status: int = 200) -> ResponseReturnValue:
    return render("casefiles/holidays.html", block=None, status=status, form=form, year=year,
                  days=hol.days_of_year(db.session, year), kind_labels=hol.DAY_KIND_LABELS)


@bp.route("/")
@require(can_manage_holidays)
def index() -> ResponseReturnValue:
    form = HolidayForm(formdata=None)
    form.fill_choices()
    return _page(form, _year())


@bp.route("/", methods=["POST"])
@require(can_manage_holidays)
def add() -> ResponseReturnValue:
    form = HolidayForm()
    form.fill_choices()
    year = _year()
    if not form.validate_on_submit():
        return _page(form, year, status=400)
    first: date = form.first.data
    last: date = form.last.data or first

    def refused(error: DomainError) -> ResponseReturnValue:
        """The form again, with the message on the field it concerns."""
        if not isinstance(error, hol.HolidayRefused):
            return web.default_answer(error)
        getattr(form, error.field, form.first).errors = [str(error.message)]
        return _page(form, year, status=error.status)

    web.on_error(refused)
    rows = hol.add_days(db.session, current_user, first, last, form.kind.data or "",
                        form.name.data or "")
    flash(_("%(n)d day(s) added to the calendar.", n=len(rows)), "success")
    return redirect(url_for("holidays.index", year=first.year))


@bp.route("/<int:holiday_id>/delete", methods=["POST"])
@require(can_manage_holidays)
def remove(holiday_id: int) -> ResponseReturnValue:
    web.on_error(web.flash_and_redirect(url_for("holidays.index"), code=302))
    row = hol.remove_day(db.session, current_user, holiday_id)
    flash(_("Removed from the calendar."), "success")
    return redirect(url_for("holidays.index", year=row.day.year))
