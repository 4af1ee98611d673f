"""/admin/holidays: the holiday calendar the deadlines count with: the State Council's
days from the chinese-calendar package, the admin's local changes over them, and the
import of a year's notice (pasted or uploaded; previewed, then saved)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, IntegerField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from portal import web
from portal.casefiles import holidays as hol
from portal.casefiles.clocks import today_in_china
from portal.casefiles.permissions import can_manage_holidays
from portal.errors import DomainError
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.web import render, require

bp = Blueprint("holidays", __name__, url_prefix="/admin/holidays")

__all__ = ["HolidayForm", "NoticeForm", "bp", "can_manage_holidays"]

#: the longest notice accepted (a real one is about 1,000 characters)
MAX_NOTICE_CHARS = 10_000


class HolidayForm(FlaskForm):
    first = DateField(_l("First day"), validators=[DataRequired()])
    last = DateField(_l("Last day"), validators=[Optional()])
    kind = SelectField(_l("Kind"), choices=[])
    name = StringField(_l("Holiday name"), validators=[DataRequired(), Length(max=40)])
    submit = SubmitField(_l("Add"))

    def fill_choices(self) -> None:
        self.kind.choices = [(str(k), str(v)) for k, v in hol.DAY_KIND_LABELS.items()]


class NoticeForm(FlaskForm):
    year = IntegerField(_l("Year of the notice"),
                        validators=[DataRequired(), NumberRange(min=2000, max=2100)])
    notice = TextAreaField(_l("The notice's text"), validators=[Optional()],
                           render_kw={"rows": 12})
    upload = FileField(_l("Or upload the notice as a text file"))


def _year() -> int:
    raw = request.args.get("year", "")
    if raw.isdigit() and 2000 <= int(raw) <= 2100:
        return int(raw)
    return today_in_china().year


def _page(form: HolidayForm, year: int, status: int = 200) -> ResponseReturnValue:
    days = hol.year_calendar(db.session, year)
    return render("casefiles/holidays.html", block=None, status=status, form=form, year=year,
                  days=days, official_count=sum(1 for d in days if d.local is None),
                  local_count=sum(1 for d in days if d.local is not None),
                  kind_labels=hol.DAY_KIND_LABELS)


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


def _import_page(form: NoticeForm, entries: list[hol.NoticeEntry] | None = None,
                 status: int = 200) -> ResponseReturnValue:
    return render("casefiles/holidays_import.html", block=None, status=status, form=form,
                  entries=entries, kind_labels=hol.DAY_KIND_LABELS,
                  holiday_days=sum(e.days for e in entries or [] if e.kind == "holiday"),
                  workday_days=sum(e.days for e in entries or [] if e.kind == "workday"))


def _notice_text(form: NoticeForm) -> str:
    """The pasted text, or the uploaded file's (UTF-8, else GB 18030 as Windows saves it)."""
    upload: Any = form.upload.data
    if upload is not None and upload.filename:
        raw = upload.read(MAX_NOTICE_CHARS * 4 + 1)
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                return str(raw.decode(encoding))
            except UnicodeDecodeError:
                continue
        raise hol.HolidayRefused(_l("The file is not a text file (UTF-8 or GB 18030)."),
                                 "upload")
    return form.notice.data or ""


@bp.route("/import")
@require(can_manage_holidays)
def import_form() -> ResponseReturnValue:
    form = NoticeForm(formdata=None, year=_year())
    return _import_page(form)


@bp.route("/import", methods=["POST"])
@require(can_manage_holidays)
def import_notice() -> ResponseReturnValue:
    """``action=preview`` shows what the notice gives; ``action=save`` (from the preview,
    with the same text) adds the days, all or none."""
    form = NoticeForm()
    if not form.validate_on_submit():
        return _import_page(form, status=400)

    def refused(error: DomainError) -> ResponseReturnValue:
        if not isinstance(error, hol.HolidayRefused):
            return web.default_answer(error)
        field = getattr(form, error.field, form.notice)
        field.errors = [str(error.message)]
        return _import_page(form, status=error.status)

    web.on_error(refused)
    text = _notice_text(form)
    if not text.strip():
        raise hol.HolidayRefused(_l("Paste the notice's text or upload it."), "notice")
    if len(text) > MAX_NOTICE_CHARS:
        raise hol.HolidayRefused(_l("The notice may have at most %(n)d characters.",
                                    n=MAX_NOTICE_CHARS), "notice")
    year: int = form.year.data or _year()
    entries = hol.parse_notice(text, year)
    if request.form.get("action") != "save":
        form.notice.data = text  # the uploaded text goes on in the preview's form
        return _import_page(form, entries)
    added = hol.import_year(db.session, current_user, [e.as_tuple() for e in entries])
    flash(_("The notice was imported: %(n)d day(s) added to the calendar.", n=added),
          "success")
    return redirect(url_for("holidays.index", year=year))
