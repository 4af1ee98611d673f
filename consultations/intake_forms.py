"""Forms of intake: the public question, the clerk's visitor, the lawyer's in-person log."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    MultipleFileField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from consultations.chat import attachment_type
from consultations.intake import MAX_FILES, MAX_QUESTION, Attachment
from consultations.models import Topic
from consultations.rules import rules
from portal import identity
from portal.enums import choices
from portal.i18n import lazy_gettext as _l


def _size(n: int) -> str:
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if n >= scale:
            return f"{n // scale} {unit}"
    return f"{n} B"


class _QuestionForm(FlaskForm):
    name = StringField(_l("Your name"), validators=[
        DataRequired(_l("Enter your name.")), Length(max=60)],
        render_kw={"autocomplete": "name"})
    phone = StringField(_l("Mobile phone"), validators=[Optional(), Length(max=30)],
                        render_kw={"inputmode": "tel", "autocomplete": "tel"})
    topic = SelectField(_l("Topic"), choices=[], validators=[
        DataRequired(_l("Choose the topic of the question."))])
    question = TextAreaField(_l("Your question"), validators=[
        DataRequired(_l("Write your question.")),
        Length(max=MAX_QUESTION, message=_l("The question is at most %(max)d characters.",
                                            max=MAX_QUESTION))],
        render_kw={"rows": 8})
    needs_assistance = BooleanField(_l("I need assistance (elderly or disabled): my "
                                       "question goes first"))
    idempotency_key = HiddenField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.topic.choices = [SelectChoice("", "—"),
                             *(SelectChoice(v, label) for v, label in choices(Topic))]

    def validate_phone(self, field: Any) -> None:
        if (field.data or "").strip():
            try:
                field.data = identity.phone(field.data)
            except identity.Invalid as invalid:
                raise ValidationError(str(invalid)) from None


class AskForm(_QuestionForm):
    """The public page: the link is texted to the phone, so it is asked for."""

    files = MultipleFileField(_l("Pictures or PDF files (optional)"),
                              render_kw={"accept": "image/*,application/pdf"})

    def validate_files(self, field: Any) -> None:
        self.attachments: list[Attachment] = []
        sent = [f for f in field.data or [] if getattr(f, "filename", "")]
        if len(sent) > MAX_FILES:
            raise ValidationError(_l("At most %(n)d files.", n=MAX_FILES))
        limit = rules().max_file_bytes
        for storage in sent:
            name = storage.filename.replace("\\", "/").split("/")[-1][:255] or "file"
            data = storage.stream.read(limit + 1)
            if not data:
                raise ValidationError(_l("The file %(name)s is empty.", name=name))
            if len(data) > limit:
                raise ValidationError(_l("The file %(name)s is larger than %(size)s.",
                                         name=name, size=_size(limit)))
            media_type = attachment_type(data)
            if media_type is None:
                raise ValidationError(_l("The file %(name)s is not a picture or a PDF.",
                                         name=name))
            self.attachments.append(Attachment(data, media_type or "", name))


class VisitorForm(_QuestionForm):
    """The clerk for a visitor; labels speak of the visitor."""

    name = StringField(_l("Visitor's name"), validators=[
        DataRequired(_l("Enter the visitor's name.")), Length(max=60)])
    phone = StringField(_l("Visitor's mobile phone"), validators=[Optional(), Length(max=30)],
                        description=_l("The personal link is sent to this number by SMS."),
                        render_kw={"inputmode": "tel"})
    question = TextAreaField(_l("Question"), validators=[
        DataRequired(_l("Write the question.")),
        Length(max=MAX_QUESTION, message=_l("The question is at most %(max)d characters.",
                                            max=MAX_QUESTION))],
        render_kw={"rows": 6})
    needs_assistance = BooleanField(_l("Needs assistance (elderly or disabled): goes first"))


class InPersonForm(VisitorForm):
    """The duty lawyer logs a face-to-face consultation (no link to send)."""

    phone = StringField(_l("Visitor's phone (optional)"),
                        validators=[Optional(), Length(max=30)],
                        render_kw={"inputmode": "tel"})
