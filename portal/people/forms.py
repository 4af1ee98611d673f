from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import Length, Optional

from portal.enums import choices
from portal.i18n import lazy_gettext as _l
from portal.orgs.models import Organisation
from portal.people.models import ExpertField, MediatorKind, PersonKind
from portal.people.operations import GENDER_LABELS, KIND_FIELDS

#: the label of the organisation field, by kind
ORG_LABELS: dict[str, Any] = {
    PersonKind.MEDIATOR: _l("Mediation committee"),
    PersonKind.VILLAGE_REP: _l("Village"),
}


class PersonForm(FlaskForm):
    """Length and choice checks only; the rules of the registry live in operations."""

    kind = SelectField(_l("Kind"), choices=[])
    name = StringField(_l("Name"), validators=[Length(max=60)])
    gender = SelectField(_l("Gender"), choices=[], validators=[Optional()])
    title = StringField(_l("Title or position"), validators=[Optional(), Length(max=100)])
    employer = StringField(_l("Employer"), validators=[Optional(), Length(max=120)])
    organisation_id = SelectField(_l("Organisation"), coerce=int, choices=[],
                                  validators=[Optional()])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)],
                        render_kw={"inputmode": "tel", "autocomplete": "off"})
    email = StringField(_l("E-mail"), validators=[Optional(), Length(max=254)],
                        render_kw={"inputmode": "email"})
    address = StringField(_l("Address"), validators=[Optional(), Length(max=200)])
    availability = TextAreaField(_l("When available"),
                                 validators=[Optional(), Length(max=2000)])
    expert_field = SelectField(_l("Field of expertise"), choices=[], validators=[Optional()])
    lawyer_firm = StringField(_l("Law firm"), validators=[Optional(), Length(max=120)])
    lawyer_licence_no = StringField(_l("Licence number"), validators=[Optional(),
                                                                       Length(max=40)],
                                    render_kw={"inputmode": "numeric"})
    mediator_kind = SelectField(_l("Kind of mediator"), choices=[], validators=[Optional()])
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=4000)])
    version = HiddenField()
    idempotency_key = HiddenField()
    submit = SubmitField(_l("Save"))

    def fill_choices(self, organisations: list[Organisation]) -> None:
        self.kind.choices = choices(PersonKind)
        self.gender.choices = [("", "—")] + [(k, str(v)) for k, v in GENDER_LABELS.items()]
        self.expert_field.choices = [("", "—"), *choices(ExpertField)]
        self.mediator_kind.choices = [("", "—"), *choices(MediatorKind)]
        self.organisation_id.choices = [(0, "—")] + [(o.id, o.full_name) for o in organisations]
        self.organisation_id.label.text = str(ORG_LABELS.get(self.kind.data or "",
                                                             _l("Organisation")))

    def specific_fields(self) -> list[Any]:
        """The kind-specific fields of the chosen kind, in order."""
        return [getattr(self, name) for name in KIND_FIELDS.get(self.kind.data or "", ())]

    def data_for_operations(self) -> dict[str, Any]:
        return {
            "kind": self.kind.data, "name": self.name.data, "gender": self.gender.data,
            "title": self.title.data, "employer": self.employer.data,
            "organisation_id": self.organisation_id.data or None, "phone": self.phone.data,
            "email": self.email.data, "address": self.address.data,
            "availability": self.availability.data, "expert_field": self.expert_field.data,
            "lawyer_firm": self.lawyer_firm.data,
            "lawyer_licence_no": self.lawyer_licence_no.data,
            "mediator_kind": self.mediator_kind.data, "notes": self.notes.data,
        }

    def show_errors(self, errors: dict[str, Any]) -> None:
        for name, message in errors.items():
            target = getattr(self, name, None)
            if target is not None:
                target.errors = [str(message)]


class AffiliationForm(FlaskForm):
    organisation_id = SelectField(_l("Organisation in the portal"), coerce=int, choices=[],
                                  validators=[Optional()])
    name = StringField(_l("Or its name"), validators=[Optional(), Length(max=120)])
    relation = StringField(_l("Relation"), validators=[Optional(), Length(max=60)],
                           description=_l("e.g. former employee, legal adviser, relative "
                                          "works there"))
    idempotency_key = HiddenField()


class ImportForm(FlaskForm):
    file = FileField(_l("CSV file"))
    idempotency_key = HiddenField()
