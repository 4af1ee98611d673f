"""Forms of closing a consultation, legal aid, petition cases, rating, conflicts."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from consultations.models import Consultation, Outcome, Rating
from consultations.outcomes import MAX_ANSWER
from portal import idempotency
from portal.enums import LabelledStrEnum, choices
from portal.i18n import lazy_gettext as _l


def select_choices(enum: type[LabelledStrEnum]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in choices(enum)]


class CloseForm(FlaskForm):
    outcome = RadioField(_l("Outcome"), choices=[],
                         validators=[InputRequired(_l("Choose an outcome."))])
    answer = TextAreaField(_l("Your answer (the written legal opinion the person receives)"),
                           validators=[DataRequired(_l("Write the answer.")),
                                       Length(max=MAX_ANSWER)])
    route = TextAreaField(_l("Where to go and how (for a referral to a court, arbitration "
                             "or administrative review)"),
                          validators=[Optional(), Length(max=2000)])
    declared = BooleanField(_l("I will not take this matter as a private paid client, and I "
                               "took no fee for this advice."))
    # the legal-aid application (only for a referral to legal aid)
    applicant_name = StringField(_l("Applicant's name"), validators=[Optional(),
                                                                     Length(max=60)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=20)])
    id_number = StringField(_l("Resident ID number"), validators=[Optional(), Length(max=30)])
    matter = TextAreaField(_l("Matter for which legal aid is sought"),
                           validators=[Optional(), Length(max=4000)])
    grounds = TextAreaField(_l("Grounds for legal aid (hardship, or a category of Art. 32)"),
                            validators=[Optional(), Length(max=2000)])
    limitation_ends_on = DateField(_l("A limitation period ends on (if known)"),
                                   validators=[Optional()])
    idempotency_key = HiddenField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.outcome.choices = select_choices(Outcome)  # labels in the reader's language


def close_form_for(consultation: Consultation) -> CloseForm:
    """A fresh closing form, the application prefilled from the consultation."""
    form = CloseForm(formdata=None)
    form.applicant_name.data = consultation.name
    form.phone.data = consultation.phone or ""
    form.matter.data = consultation.question
    form.idempotency_key.data = idempotency.new_key()
    return form


class DecideAidForm(FlaskForm):
    decision = RadioField(_l("Decision"), choices=[SelectChoice("grant", _l("Grant legal aid")),
                                                   SelectChoice("refuse",
                                                                _l("Refuse legal aid"))],
                          validators=[InputRequired(_l("Choose grant or refuse."))])
    note = TextAreaField(_l("Note (the reason, when refusing)"),
                         validators=[Optional(), Length(max=2000)])


class AssignAidForm(FlaskForm):
    lawyer = StringField(_l("Lawyer assigned (name and firm)"),
                         validators=[DataRequired(_l("Name the lawyer assigned.")),
                                     Length(max=100)])


class PetitionForm(FlaskForm):
    case_number = StringField(_l("Existing case number (leave empty to register a new case)"),
                              validators=[Optional(), Length(max=40)])
    idempotency_key = HiddenField()


class RateForm(FlaskForm):
    rating = RadioField(_l("How satisfied are you with the answer?"), choices=[],
                        validators=[InputRequired(_l("Choose one of the ratings."))])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rating.choices = select_choices(Rating)


class CounselForm(FlaskForm):
    case_number = StringField(_l("Case number"), validators=[DataRequired(), Length(max=40)])
    party_name = StringField(_l("Party the lawyer acts for"),
                             validators=[DataRequired(), Length(max=60)])
    lawyer_id = SelectField(_l("Lawyer"), coerce=int, validators=[InputRequired()])
    is_paid = BooleanField(_l("Paid engagement (not legal aid)"), default=True)
    idempotency_key = HiddenField()


class ResolveForm(FlaskForm):
    note = TextAreaField(_l("What was found and done"),
                         validators=[DataRequired(_l("Write a note.")), Length(max=2000)])
