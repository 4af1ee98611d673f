"""Forms of the case pages, and the check of uploaded files by their content."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from portal import identity
from portal.casefiles.clocks import today_in_china
from portal.casefiles.models import CaseKind, Channel, DocumentKind, GrantLevel
from portal.enums import choices, labels
from portal.errors import DomainError
from portal.i18n import lazy_gettext as _l
from portal.identity import IdKind

#: kinds of matter offered at registration (the labels live on CaseKind)
KIND_LABELS = labels(CaseKind)

#: petitioner rows in the registration form, and rows for other parties
PETITIONER_ROWS = 3
OTHER_ROWS = 2

#: the largest upload accepted for one document (the app refuses requests over 25 MB)
MAX_UPLOAD_BYTES = 20 * 1024 * 1024

#: types the browser may show inline (everything else is downloaded)
INLINE_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg", "image/gif",
                          "image/webp", "video/mp4"})
#: played in the page itself, streamed with HTTP ranges (reception recordings)
PLAYABLE_TYPES = frozenset({"video/mp4"})

#: the kinds of document (the labels live on DocumentKind)
DOCUMENT_KINDS = labels(DocumentKind)


class UploadRefused(DomainError):
    status = 422


def sniff_media_type(head: bytes) -> str | None:
    """The media type from the first bytes of a file, or None for a kind we do not take.
    The name and the browser's claim are never trusted."""
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return "audio/mp4" if brand in (b"M4A ", b"M4B ") else "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "application/msword"
    if head.startswith(b"PK\x03\x04"):
        return "application/zip"
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:  # a character cut at the end is fine
                return None
        return "text/plain"
    return None


_OFFICE_TYPES = {
    "word/": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def read_upload(storage: Any) -> tuple[bytes, str, str]:
    """The bytes, checked media type and original name of an uploaded file; raises
    UploadRefused when it is empty, too large or of a kind we do not accept."""
    name = (getattr(storage, "filename", None) or "file").replace("\\", "/").split("/")[-1]
    data = storage.stream.read(MAX_UPLOAD_BYTES + 1)
    if not data:
        raise UploadRefused(_l("The file %(name)s is empty.", name=name))
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadRefused(_l("The file %(name)s is larger than %(mb)d MB.", name=name,
                               mb=MAX_UPLOAD_BYTES // (1024 * 1024)), status=413)
    media_type = sniff_media_type(data[:4096])
    if media_type == "application/zip":
        try:
            names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        except zipfile.BadZipFile:
            names = []
        media_type = next((t for prefix, t in _OFFICE_TYPES.items()
                           if any(n.startswith(prefix) for n in names)), None)
    if media_type is None:
        raise UploadRefused(_l(
            "The file %(name)s is not of a kind the case file accepts (PDF, image, audio, "
            "video, Word, Excel or plain text).", name=name))
    return data, media_type, name


class PartyForm(Form):
    #: no Optional(): it would stop validate_name on an empty name
    name = StringField(_l("Name"), validators=[Length(max=60)])
    id_kind = SelectField(_l("Identity document"), choices=[], default=IdKind.RESIDENT_ID,
                          validators=[Optional()])
    id_number = StringField(_l("ID number"), validators=[Optional(), Length(max=30)],
                            render_kw={"autocomplete": "off"})
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=30)],
                        render_kw={"inputmode": "tel", "autocomplete": "off"})
    address = StringField(_l("Address"), validators=[Optional(), Length(max=200)])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.id_kind.choices = choices(IdKind)

    def is_filled(self) -> bool:
        return any((self[k].data or "").strip() for k in ("name", "id_number", "phone",
                                                          "address"))

    def validate_name(self, field: Any) -> None:
        # a row with a number or an address but no name: the message goes on the name
        if self.is_filled() and not (field.data or "").strip():
            raise ValidationError(_l("Enter the name of this person."))

    def validate_id_number(self, field: Any) -> None:
        if (field.data or "").strip():
            try:
                field.data = identity.document_number(self.id_kind.data or "", field.data)
            except identity.Invalid as invalid:
                raise ValidationError(str(invalid)) from None

    def validate_phone(self, field: Any) -> None:
        if (field.data or "").strip():
            try:
                field.data = identity.phone(field.data)
            except identity.Invalid as invalid:
                raise ValidationError(str(invalid)) from None


class OtherPartyForm(Form):
    name = StringField(_l("Name"), validators=[Length(max=60)])
    address = StringField(_l("Address"), validators=[Optional(), Length(max=200)])

    def is_filled(self) -> bool:
        return any((self[k].data or "").strip() for k in ("name", "address"))

    def validate_name(self, field: Any) -> None:
        if self.is_filled() and not (field.data or "").strip():
            raise ValidationError(_l("Enter the name of this party."))


class RegisterForm(FlaskForm):
    channel = SelectField(_l("How the petition came in"), choices=[],
                          validators=[DataRequired()])
    kind = SelectField(_l("Kind of matter"), choices=[], validators=[DataRequired()])
    township_id = SelectField(_l("Township"), coerce=int, choices=[], validators=[Optional()])
    #: the choices follow the township (htmx); the view checks the village belongs to it
    village_id = SelectField(_l("Village"), coerce=int, choices=[], validators=[Optional()],
                             validate_choice=False)
    summary = TextAreaField(_l("Summary of the matter"),
                            validators=[DataRequired(), Length(max=5000)])
    received_on = DateField(_l("Received on"), validators=[Optional()],
                            description=_l("Leave empty for today; a letter may have "
                                           "arrived earlier."))

    def validate_received_on(self, field: Any) -> None:
        # the legal clock counts from this day: a day still to come cannot be it
        if field.data and field.data > today_in_china():
            raise ValidationError(_l("The day it was received cannot be in the future."))
    is_urgent = BooleanField(_l("Urgent (急案)"))
    is_simple = BooleanField(_l("Simple handling (简易办理)"))
    petitioners = FieldList(FormField(PartyForm), min_entries=PETITIONER_ROWS,
                            max_entries=PETITIONER_ROWS)
    others = FieldList(FormField(OtherPartyForm), min_entries=OTHER_ROWS,
                       max_entries=OTHER_ROWS)
    confirm_new = BooleanField(_l("This is a new matter: register it anyway"))
    idempotency_key = HiddenField()

    def fill_choices(self, townships: list[tuple[int, str]],
                     villages: list[tuple[int, str]]) -> None:
        self.channel.choices = choices(Channel)
        self.kind.choices = [("", "—"), *choices(CaseKind)]
        self.township_id.choices = [(0, "—"), *townships]
        self.village_id.choices = [(0, "—"), *villages]

    def party_rows(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The filled rows: (petitioners, others)."""
        petitioners = [dict(row.data) for row in self.petitioners if row.form.is_filled()]
        others = [dict(row.data) for row in self.others if row.form.is_filled()]
        return petitioners, others


class SummaryForm(FlaskForm):
    summary = TextAreaField(_l("Summary of the matter"),
                            validators=[DataRequired(), Length(max=5000)])
    version = HiddenField()


class DocumentForm(FlaskForm):
    title = StringField(_l("Title"), validators=[Optional(), Length(max=200)])
    kind = SelectField(_l("Kind of document"), choices=[], validators=[Optional()])
    is_restricted = BooleanField(_l("Restricted: log every reading"))
    is_for_petitioner = BooleanField(_l("A written notice the petitioner sees with the "
                                        "query code"))
    idempotency_key = HiddenField()

    def fill_choices(self) -> None:
        self.kind.choices = choices(DocumentKind)


class AssignForm(FlaskForm):
    lead_id = SelectField(_l("Lead agency (主办)"), coerce=int, choices=[],
                          validators=[DataRequired()])
    co_ids = SelectMultipleField(_l("Co-operating agencies (协办)"), coerce=int, choices=[],
                                 validators=[Optional()])
    # no due date: the assignment is due when the case's legal clock is (operations.assign)
    letter = TextAreaField(_l("Assignment letter (交办函)"),
                           validators=[Optional(), Length(max=5000)])

    def fill_choices(self, agencies: list[tuple[int, str]]) -> None:
        self.lead_id.choices = [(0, "—"), *agencies]
        self.co_ids.choices = list(agencies)


class GrantForm(FlaskForm):
    organisation_id = SelectField(_l("Organisation"), coerce=int, choices=[],
                                  validators=[DataRequired()])
    level = SelectField(_l("Level"), choices=[], validators=[DataRequired()])

    def fill_choices(self, agencies: list[tuple[int, str]]) -> None:
        self.organisation_id.choices = [(0, "—"), *agencies]
        self.level.choices = choices(GrantLevel)


class LeaderForm(FlaskForm):
    leader_id = SelectField(_l("Responsible leader (包案领导)"), coerce=int, choices=[],
                            validators=[DataRequired()])
    plan = TextAreaField(_l("Plan"), validators=[Optional(), Length(max=5000)])


class ActionForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[Optional(), Length(max=5000)])
    days = IntegerField(_l("Days"), validators=[Optional(), NumberRange(min=1, max=365)])
    document_id = IntegerField(_l("Reply document"), validators=[Optional(),
                                                                 NumberRange(min=1)])
