from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectMultipleField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from portal.auth.roles import Role
from portal.enums import choices
from portal.i18n import lazy_gettext as _l


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)],
                           render_kw={"autocomplete": "username", "autocapitalize": "none"})
    password = PasswordField(_l("Password"), validators=[DataRequired()],
                             render_kw={"autocomplete": "current-password"})
    submit = SubmitField(_l("Log in"))


class TotpForm(FlaskForm):
    code = StringField(
        _l("Six-digit code"),
        validators=[DataRequired(), Regexp(r"^\s*\d{3}\s?\d{3}\s*$",
                                           message=_l("Type the six digits."))],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric",
                   "pattern": "[0-9 ]*", "maxlength": 7},
    )
    submit = SubmitField(_l("Verify"))


class ChangePasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired()],
                            render_kw={"autocomplete": "current-password"})
    new = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=8)],
                        render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(
        _l("New password again"),
        validators=[DataRequired(), EqualTo("new", message=_l("The two passwords differ."))],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField(_l("Change password"))


def role_choices() -> list[tuple[str, str]]:
    return choices(Role)


class UserForm(FlaskForm):
    username = StringField(_l("Username"), validators=[
        DataRequired(), Length(max=64),
        Regexp(r"^[A-Za-z0-9_.-]+$", message=_l("Letters, digits, dot, dash and underscore."))])
    display_name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    email = EmailField(_l("E-mail"), validators=[Optional(), Email(), Length(max=254)])
    roles = MultiCheckboxField(_l("Roles"), choices=[])
    organisations = SelectMultipleField(_l("Organisations"), coerce=int, choices=[])
    is_active = BooleanField(_l("Active"), default=True)
    password = PasswordField(_l("Initial password"), validators=[Optional(), Length(min=8)],
                             render_kw={"autocomplete": "new-password"})
    idempotency_key = StringField(render_kw={"hidden": True})
    submit = SubmitField(_l("Save"))


class RolePolicyForm(FlaskForm):
    roles = MultiCheckboxField(_l("Roles that must use two-step verification"), choices=[])
    submit = SubmitField(_l("Save"))


class ConfirmForm(FlaskForm):
    """A bare POST button with CSRF."""

    submit = SubmitField(_l("Confirm"))
