"""Forms of the reception pages (Flask-WTF: CSRF, labels, validation messages)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from portal import identity
from portal.casefiles.models import CaseKind
from portal.enums import choices
from portal.i18n import lazy_gettext as _l
from video.models import RoomKind, SeatKind

#: the portal's offices keep Beijing time; storage is UTC
LOCAL = ZoneInfo("Asia/Shanghai")


def local_to_utc(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=LOCAL).astimezone(ZoneInfo("UTC"))


def utc_to_local(at: datetime) -> datetime:
    return at.astimezone(LOCAL)


class RoomForm(FlaskForm):
    kind = SelectField(_l("Kind of reception"), choices=[], validators=[DataRequired()])
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)],
                        description=_l("For example: County leader's reception day"))
    office_id = SelectField(_l("Office"), coerce=int, choices=[], validators=[DataRequired()])
    host_id = SelectField(_l("Receiving official"), coerce=int, choices=[],
                          validators=[Optional()])
    day = DateField(_l("Date"), validators=[DataRequired()])
    starts = TimeField(_l("Starts at"), validators=[DataRequired()])
    ends = TimeField(_l("Ends at"), validators=[DataRequired()])
    slot_minutes = IntegerField(_l("Minutes per appointment"), default=20,
                                validators=[DataRequired(), NumberRange(min=5, max=240)])

    def fill_choices(self, offices: list[tuple[int, str]], hosts: list[tuple[int, str]]
                     ) -> None:
        # a multi-party room is made by the domain that needs one (a hearing), not here
        self.kind.choices = [c for c in choices(RoomKind)
                             if c[0] not in (RoomKind.MULTI_PARTY, RoomKind.CONSULTATION)]
        self.office_id.choices = offices
        self.host_id.choices = [(0, "—"), *hosts]


class BookForm(FlaskForm):
    name = StringField(_l("Petitioner's name"), validators=[DataRequired(), Length(max=100)])
    phone = StringField(_l("Mobile phone"), validators=[Optional(), Length(max=30)],
                        description=_l("The link is sent to this number by SMS."))
    email = StringField(_l("E-mail"), validators=[Optional(), Email(), Length(max=200)])
    slot = SelectField(_l("Time"), choices=[], validators=[Optional()],
                       description=_l("Leave on “walk-in” to add the person to today's "
                                      "queue."))
    language = SelectField(_l("Language of the text message"), choices=[
        ("zh_CN", "中文"), ("en", "English")], default="zh_CN", validators=[Optional()])
    case_number = StringField(_l("Case number"), validators=[Optional(), Length(max=20)],
                              description=_l("Leave empty if the matter has no case yet: "
                                             "the reception note opens one."))
    idempotency_key = HiddenField()

    def validate_phone(self, field: Any) -> None:
        if (field.data or "").strip():
            try:
                field.data = identity.phone(field.data)
            except identity.Invalid as invalid:
                raise ValidationError(str(invalid)) from None


class CompanionForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    kind = SelectField(_l("Comes as"), choices=[
        (SeatKind.COMPANION.value, _l("Companion")),
        (SeatKind.INTERPRETER.value, _l("Interpreter"))], validators=[DataRequired()])


class NoteForm(FlaskForm):
    facts = TextAreaField(_l("Facts"), validators=[Optional(), Length(max=10000)])
    demands = TextAreaField(_l("Demands"), validators=[Optional(), Length(max=10000)])
    answer = TextAreaField(_l("Answer given"), validators=[Optional(), Length(max=10000)])
    next_steps = TextAreaField(_l("Next steps"), validators=[Optional(), Length(max=10000)])
    kind = SelectField(_l("Kind of matter (if a case is opened)"), choices=[],
                       validators=[Optional()])
    township_id = SelectField(_l("Township (if a case is opened)"), coerce=int, choices=[],
                              validators=[Optional()])
    village_id = SelectField(_l("Village (if a case is opened)"), coerce=int, choices=[],
                             validators=[Optional()])
    version = HiddenField()

    def fill_choices(self, townships: list[tuple[int, str]] | None = None,
                     villages: list[tuple[int, str]] | None = None) -> None:
        self.kind.choices = [("", "—"), *choices(CaseKind)]
        self.township_id.choices = [(0, "—"), *(townships or [])]
        self.village_id.choices = [(0, "—"), *(villages or [])]


class EmailLinkForm(FlaskForm):
    token = HiddenField(validators=[DataRequired()])
    email = StringField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=200)])


def slot_choices(slots: list[datetime]) -> list[tuple[str, str]]:
    return [("", str(_l("Walk-in (today's queue)")))] + [
        (s.isoformat(), utc_to_local(s).strftime("%H:%M")) for s in slots]


def parse_slot(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def parse_day(value: str | None) -> date:
    """The day a schedule shows: the one asked for, today (Beijing time) otherwise."""
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        return utc_to_local(datetime.now().astimezone()).date()
