"""Forms of the requests and scheduling pages (Flask-WTF: CSRF, labels, validation
messages). Times are typed in Beijing time and stored in UTC."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from hearings.models import ClosedReason, HearingKind, PlaceKind
from hearings.requests import MAX_TEXT
from portal.enums import choices
from portal.i18n import lazy_gettext as _l

LOCAL = ZoneInfo("Asia/Shanghai")


def local_to_utc(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=LOCAL).astimezone(ZoneInfo("UTC"))


class PublicRequestForm(FlaskForm):
    """On the query page: the page's token names the case (no code in any URL)."""

    token = HiddenField(validators=[DataRequired()])
    reason = TextAreaField(_l("What should the hearing examine, and why?"),
                           validators=[DataRequired(), Length(max=MAX_TEXT)])
    new_evidence = TextAreaField(_l("New evidence (if a hearing was already held or "
                                    "granted)"),
                                 validators=[Optional(), Length(max=MAX_TEXT)])


class ClerkRequestForm(FlaskForm):
    case_number = StringField(_l("Case number"), validators=[DataRequired(), Length(max=20)],
                              description=_l("For example 2026-XF-000123"))
    reason = TextAreaField(_l("What the petitioner wants heard, and why"),
                           validators=[DataRequired(), Length(max=MAX_TEXT)])
    new_evidence = TextAreaField(_l("New evidence (if a hearing was already held or "
                                    "granted)"),
                                 validators=[Optional(), Length(max=MAX_TEXT)])
    idempotency_key = HiddenField()


class DecisionForm(FlaskForm):
    decision = RadioField(_l("Decision"),
                          choices=[SelectChoice("grant", _l("Grant: hold a hearing")),
                                   SelectChoice("refuse", _l("Refuse"))],
                          validators=[InputRequired()])
    text = TextAreaField(_l("The written decision the petitioner reads (for a refusal, "
                            "its reasons)"),
                         validators=[DataRequired(), Length(max=MAX_TEXT)])


class WhenWhereMixin:
    day = DateField(_l("Date"), validators=[DataRequired()])
    starts = TimeField(_l("Starts at (Beijing time)"), validators=[DataRequired()])
    ends = TimeField(_l("Ends at (Beijing time)"), validators=[DataRequired()])
    place_kind = SelectField(_l("Where"), choices=[],
                             validators=[DataRequired()])
    place = StringField(_l("Hearing room and address"), validators=[Optional(),
                                                                   Length(max=200)])
    is_urgent = BooleanField(_l("Urgent: inside the notice period"))
    urgent_reason = TextAreaField(_l("Why it cannot wait for the notice period"),
                                  validators=[Optional(), Length(max=2000)])


class HearingForm(WhenWhereMixin, FlaskForm):
    case_id = HiddenField(validators=[DataRequired()])
    request_id = HiddenField()
    kind = SelectField(_l("Kind of hearing"), choices=[],
                       validators=[DataRequired()])
    title = StringField(_l("Title"), validators=[Optional(), Length(max=200)])
    presiding_id = SelectField(_l("Presiding officer"), coerce=int, choices=[],
                               validators=[DataRequired()],
                               description=_l("Not someone who investigated or replied "
                                              "on the case."))
    clerk_id = SelectField(_l("Hearing clerk"), coerce=int, choices=[],
                           validators=[DataRequired()])
    agenda = TextAreaField(_l("Agenda"), validators=[Optional(), Length(max=4000)])
    is_public = SelectField(_l("Public or closed"), choices=[
        ("1", _l("Public")), ("0", _l("Closed to the public"))], default="1")
    closed_reason = SelectField(_l("Why closed"), choices=[], validators=[Optional()])
    panel_size = IntegerField(_l("Panel members"), default=5,
                              validators=[InputRequired(), NumberRange(min=1, max=99)])
    observer_seats = IntegerField(_l("Observer seats"),
                                  validators=[Optional(), NumberRange(min=0, max=1000)],
                                  description=_l("Leave empty for the usual number; a "
                                                 "closed hearing has none."))
    idempotency_key = HiddenField()

    def fill_choices(self, staff: list[tuple[int, str]]) -> None:
        self.kind.choices = choices(HearingKind)
        self.place_kind.choices = choices(PlaceKind)
        self.presiding_id.choices = staff
        self.clerk_id.choices = staff
        self.closed_reason.choices = [("", "—"), *choices(ClosedReason)]


class RescheduleForm(WhenWhereMixin, FlaskForm):
    version = HiddenField(validators=[DataRequired()])

    def fill_choices(self) -> None:
        self.place_kind.choices = choices(PlaceKind)


class CancelForm(FlaskForm):
    reason = TextAreaField(_l("Reason for cancelling"),
                           validators=[DataRequired(), Length(max=2000)])
    version = HiddenField()
