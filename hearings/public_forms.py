"""Forms of the public notice and observers: registration (public), publishing the
notice and checking an observer in (staff, buttons only)."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, ValidationError

from hearings.observers import mobile_number
from portal import identity
from portal.enums import choices
from portal.i18n import lazy_gettext as _l


class ObserverForm(FlaskForm):
    name = StringField(_l("Name"), validators=[
        DataRequired(_l("Enter your name.")), Length(max=60)],
        render_kw={"autocomplete": "name"})
    phone = StringField(_l("Mobile phone"), validators=[
        DataRequired(_l("Enter your mobile number.")), Length(max=30)],
        render_kw={"autocomplete": "tel", "inputmode": "tel"})
    id_kind = SelectField(_l("Identity document"), validators=[DataRequired()])
    id_number = StringField(_l("Document number"), validators=[
        DataRequired(_l("Enter the number of your identity document.")), Length(max=40)],
        render_kw={"autocomplete": "off", "spellcheck": "false",
                   "autocapitalize": "characters"})
    idempotency_key = HiddenField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.id_kind.choices = [SelectChoice(value, label)  # translated per request
                                for value, label in choices(identity.IdKind)]

    def validate_phone(self, field: Any) -> None:
        try:
            field.data = mobile_number(field.data or "")
        except identity.Invalid as error:
            raise ValidationError(str(error.message)) from None

    def validate_id_number(self, field: Any) -> None:
        try:
            field.data = identity.document_number(self.id_kind.data or "", field.data or "")
        except identity.Invalid as error:
            raise ValidationError(str(error.message)) from None


class ButtonForm(FlaskForm):
    """A staff button (publish, check in): the CSRF token only."""
