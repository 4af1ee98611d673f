from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional

from portal.enums import choices
from portal.i18n import lazy_gettext as _l
from portal.orgs.models import OrgKind, Sector


class OrganisationForm(FlaskForm):
    name = StringField(_l("Organisation name"), validators=[DataRequired(), Length(max=120)])
    kind = SelectField(_l("Kind"), choices=[])
    sector = SelectField(_l("Sector (agencies)"), choices=[], validators=[Optional()])
    parent_id = SelectField(_l("Belongs to"), coerce=int, choices=[], validators=[Optional()])
    code = StringField(_l("Division code"), validators=[Optional(), Length(max=20)])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=200)])
    phone = StringField(_l("Office phone"), validators=[Optional(), Length(max=40)])
    is_active = BooleanField(_l("Active"), default=True)
    version = HiddenField()
    idempotency_key = HiddenField()
    submit = SubmitField(_l("Save"))

    def fill_choices(self, parents: list[tuple[int, str]]) -> None:
        self.kind.choices = choices(OrgKind)
        self.sector.choices = [("", "—"), *choices(Sector)]
        self.parent_id.choices = [(0, "—")] + parents
