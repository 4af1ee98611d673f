"""Forms of the panel (Flask-WTF: CSRF, labels, validation messages)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, StringField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from portal.i18n import lazy_gettext as _l
from portal.web import MAX_ID


class DrawForm(FlaskForm):
    """Draw the whole panel, or a substitute for one seat."""

    idempotency_key = HiddenField()


class PickForm(FlaskForm):
    person_id = IntegerField(_l("Person"), validators=[
        InputRequired(_l("Choose a person from the list.")),
        NumberRange(min=1, max=MAX_ID, message=_l("Choose a person from the list."))])
    note = StringField(_l("Why this person (optional)"), validators=[
        Optional(), Length(max=200, message=_l("At most %(max)d characters."))])
    idempotency_key = HiddenField()


class SearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Search by name, kind or field"), validators=[Optional(),
                                                                     Length(max=60)])
