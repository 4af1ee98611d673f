"""Registry work: plain functions that take a session, check, change and flush.
They never commit; the view (or the seeder) does."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import Select, Text, func, or_, select, type_coerce
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlalchemy.orm.exc import StaleDataError

from portal import transaction
from portal.crypto import decrypt, mask_phone
from portal.errors import DomainError, StaleEdit
from portal.extensions import DbSession
from portal.i18n import lazy_gettext as _l
from portal.orgs.models import Organisation, OrgKind
from portal.paging import PageOf
from portal.people.models import (
    Affiliation,
    ExpertField,
    MediatorKind,
    Person,
    PersonKind,
)
from portal.timeutil import utcnow

GENDERS = ("male", "female")
GENDER_LABELS = {"male": _l("Male"), "female": _l("Female")}

#: the organisation a person of each kind must (or may) belong to
ORG_KINDS_FOR: dict[str, tuple[OrgKind, ...]] = {
    PersonKind.MEDIATOR: (OrgKind.COMMITTEE,),
    PersonKind.VILLAGE_REP: (OrgKind.VILLAGE,),
}
OTHER_ORG_KINDS = (OrgKind.COUNTY, OrgKind.TOWNSHIP, OrgKind.AGENCY)
#: the fields each kind may hold; every other kind-specific field is cleared
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    PersonKind.EXPERT: ("expert_field",),
    PersonKind.LAWYER: ("lawyer_firm", "lawyer_licence_no"),
    PersonKind.MEDIATOR: ("mediator_kind",),
}
SPECIFIC_FIELDS = ("expert_field", "lawyer_firm", "lawyer_licence_no", "mediator_kind")
TEXT_LIMITS = {"name": 60, "title": 100, "employer": 120, "address": 200, "email": 254,
               "lawyer_firm": 120, "availability": 2000, "notes": 4000}

_MOBILE = re.compile(r"1[3-9]\d{9}")
#: area codes: 010 and 02x have three digits, all others four
_LANDLINE = re.compile(r"(010|02\d|0[3-9]\d{2})-?(\d{7,8})(?:-(\d{1,6}))?")
_LICENCE = re.compile(r"\d{17}")


LICENCE_TAKEN = _l("Another lawyer in the registry already has this licence number.")
STALE_MESSAGE = _l("Someone else changed this record while you were editing it. Your changes "
                   "are shown below; check them and save again.")


class PersonInvalid(DomainError):
    """One or more fields are wrong; `errors` maps each field to its message."""

    status = 400

    def __init__(self, errors: dict[str, Any]) -> None:
        super().__init__(_l("Please correct the marked fields."))
        self.errors = errors


def normalise_phone(raw: str | None) -> str | None:
    """A Chinese mobile (11 digits starting with 1) or a landline with its area code.

    Returns the number in the stored form, None when empty; ValueError when it is
    neither. Spaces, dots and a +86 prefix are tolerated."""
    if raw is None:
        return None
    text = re.sub(r"[\s.()（）]", "", str(raw)).replace("－", "-").replace("—", "-")
    if not text:
        return None
    for prefix in ("+86", "0086"):
        if text.startswith(prefix):
            text = text[len(prefix):].lstrip("-")
    digits = text.replace("-", "")
    if _MOBILE.fullmatch(digits):
        return digits
    match = _LANDLINE.fullmatch(text)
    if match:
        area, number, ext = match.groups()
        return f"{area}-{number}" + (f"-{ext}" if ext else "")
    raise ValueError(text)


PHONE_MESSAGE = _l("Enter a mobile number (11 digits starting with 1) or a landline with "
                   "its area code, e.g. 0571-88001234.")


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


@dataclass
class Checked:
    """Clean values ready to be written, and the organisation they name."""

    values: dict[str, Any]
    organisation: Organisation | None = None


def check_person(session: DbSession, data: dict[str, Any], person: Person | None = None, *,
                 organisation: Organisation | None = None,
                 check_licence_in_db: bool = True) -> Checked:
    """Validate `data` for a person of data["kind"]; PersonInvalid with every problem.

    `organisation` may be passed already loaded (the CSV import does); otherwise
    data["organisation_id"] is looked up."""
    errors: dict[str, Any] = {}
    values: dict[str, Any] = {}
    kind = _clean(data.get("kind"))
    if kind not in {str(k) for k in PersonKind}:
        errors["kind"] = _l("Choose what kind of person this is.")
    values["kind"] = kind
    for name in ("name", "title", "employer", "address", "availability", "notes", "email",
                 "lawyer_firm"):
        values[name] = _clean(data.get(name))
        limit = TEXT_LIMITS[name]
        if values[name] and len(values[name]) > limit:
            errors[name] = _l("At most %(n)d characters.", n=limit)
    if not values["name"]:
        errors["name"] = _l("The name is required.")
    gender = _clean(data.get("gender"))
    if gender and gender not in GENDERS:
        errors["gender"] = _l("Unknown gender.")
    values["gender"] = gender
    try:
        values["phone"] = normalise_phone(data.get("phone"))
    except ValueError:
        errors["phone"] = PHONE_MESSAGE
    if values["email"] and "email" not in errors:
        try:
            values["email"] = validate_email(values["email"],
                                             check_deliverability=False).normalized
        except EmailNotValidError:
            errors["email"] = _l("This is not a valid e-mail address.")
    if "is_active" in data:
        values["is_active"] = bool(data["is_active"])

    # kind-specific fields: required where they belong, cleared elsewhere
    own = KIND_FIELDS.get(kind or "", ())
    values["expert_field"] = _clean(data.get("expert_field"))
    values["lawyer_licence_no"] = _clean(data.get("lawyer_licence_no"))
    values["mediator_kind"] = _clean(data.get("mediator_kind"))
    for name in SPECIFIC_FIELDS:
        if name not in own:
            values[name] = None
    if kind == PersonKind.EXPERT:
        if not values["expert_field"]:
            errors["expert_field"] = _l("Choose the expert's field.")
        elif values["expert_field"] not in {str(f) for f in ExpertField}:
            errors["expert_field"] = _l("Unknown field.")
    if kind == PersonKind.LAWYER:
        if not values["lawyer_firm"]:
            errors["lawyer_firm"] = _l("The law firm is required for a lawyer.")
        licence = values["lawyer_licence_no"]
        if licence:
            licence = re.sub(r"\s", "", licence)
            values["lawyer_licence_no"] = licence
        if not licence:
            errors["lawyer_licence_no"] = _l("The licence number is required for a lawyer.")
        elif not _LICENCE.fullmatch(licence):
            errors["lawyer_licence_no"] = _l("A lawyer's licence number has 17 digits.")
        elif check_licence_in_db:
            clash = session.scalar(select(Person.id).where(Person.lawyer_licence_no == licence))
            if clash is not None and (person is None or clash != person.id):
                errors["lawyer_licence_no"] = LICENCE_TAKEN
    if kind == PersonKind.MEDIATOR:
        if not values["mediator_kind"]:
            errors["mediator_kind"] = _l("Choose what kind of mediator this is.")
        elif values["mediator_kind"] not in {str(m) for m in MediatorKind}:
            errors["mediator_kind"] = _l("Unknown kind of mediator.")

    # the organisation: a committee for mediators, a village for village representatives
    org = organisation
    org_id = data.get("organisation_id")
    if org is None and org_id:
        org = session.get(Organisation, int(org_id))
        if org is None:
            errors["organisation_id"] = _l("Unknown organisation.")
    wanted = ORG_KINDS_FOR.get(kind or "", OTHER_ORG_KINDS)
    if org is not None and OrgKind(org.kind) not in wanted:
        errors["organisation_id"] = (
            _l("A mediator belongs to a mediation committee.") if kind == PersonKind.MEDIATOR
            else _l("A village representative belongs to a village.")
            if kind == PersonKind.VILLAGE_REP
            else _l("Choose the county, a township or an agency."))
    if org is None and "organisation_id" not in errors:
        if kind == PersonKind.MEDIATOR:
            errors["organisation_id"] = _l("Choose the mediator's committee.")
        elif kind == PersonKind.VILLAGE_REP:
            errors["organisation_id"] = _l("Choose the representative's village.")
    if errors:
        raise PersonInvalid(errors)
    return Checked(values, org)


def _apply(person: Person, checked: Checked) -> None:
    for name, value in checked.values.items():
        setattr(person, name, value)
    person.organisation = checked.organisation


def build_person(checked: Checked) -> Person:
    """A new, not yet added Person from values check_person accepted."""
    person = Person(is_active=True)
    _apply(person, checked)
    return person


def create_person(session: DbSession, data: dict[str, Any], *,
                  organisation: Organisation | None = None,
                  check_licence_in_db: bool = True) -> Person:
    checked = check_person(session, data, organisation=organisation,
                           check_licence_in_db=check_licence_in_db)
    person = build_person(checked)
    session.add(person)
    _flush_person(session)
    return person


def update_person(session: DbSession, person: Person, data: dict[str, Any],
                  seen_version: int | None) -> None:
    """Change a person; StaleEdit when someone saved since `seen_version` was read."""
    if seen_version is not None and seen_version != person.version:
        raise StaleEdit(STALE_MESSAGE)
    checked = check_person(session, data, person)
    _apply(person, checked)
    _flush_person(session)


def _flush_person(session: DbSession) -> None:
    """Flush a new or changed person: a licence number another lawyer took meanwhile (the
    unique index) is PersonInvalid, a save by someone else meanwhile (the version
    column) is StaleEdit."""
    try:
        session.flush()
    except IntegrityError:
        raise PersonInvalid({"lawyer_licence_no": LICENCE_TAKEN}) from None
    except StaleDataError:
        raise StaleEdit(STALE_MESSAGE) from None


def set_active(session: DbSession, person: Person, active: bool) -> None:
    person.is_active = active
    session.flush()


def add_affiliation(session: DbSession, person: Person, *, organisation_id: int | None,
                    name: str | None, relation: str | None) -> Affiliation:
    org = session.get(Organisation, organisation_id) if organisation_id else None
    if organisation_id and org is None:
        raise DomainError(_l("Unknown organisation."))
    label = org.full_name if org is not None else _clean(name)
    if not label:
        raise DomainError(_l("Choose an organisation from the list or type its name."))
    if len(label) > 120:
        raise DomainError(_l("At most %(n)d characters.", n=120))
    relation = _clean(relation)
    if relation and len(relation) > 60:
        raise DomainError(_l("At most %(n)d characters.", n=60))
    tie = Affiliation(person=person, organisation_id=org.id if org else None, name=label,
                      relation=relation)
    session.add(tie)
    session.flush()
    return tie


def remove_affiliation(session: DbSession, person: Person, affiliation_id: int) -> None:
    tie = session.get(Affiliation, affiliation_id)
    if tie is None or tie.person_id != person.id:
        raise DomainError(_l("This tie does not exist any more."), 404)
    session.delete(tie)
    session.flush()


def reveal_phone(session: DbSession, person: Person, user: Any) -> str:
    """The clear number. Every unmasked view is recorded in the access log (the same
    table as the case files' unmasked numbers: who, whose, when), added at the commit
    of the request; a line in the app log says it too."""
    from portal.casefiles.models import AccessAction, AccessLog

    transaction.add_at_commit(session, AccessLog(
        user_id=getattr(user, "id", None), person_id=person.id,
        action=str(AccessAction.UNMASK_PHONE), at=utcnow()))
    current_app.logger.info(
        "phone number revealed: user %s (id %s) viewed the phone of person %s (id %s)",
        getattr(user, "username", "?"), getattr(user, "id", "?"), person.name, person.id)
    return person.phone or ""


# --- the list ---------------------------------------------------------------------

STATUSES = ("active", "inactive", "all")


@dataclass
class Filters:
    q: str = ""
    kind: str = ""
    field: str = ""
    mediator_kind: str = ""
    organisation_id: int | None = None
    status: str = "active"

    @classmethod
    def from_args(cls, args: Any) -> Filters:
        kind = args.get("kind") or ""
        field_ = args.get("field") or ""
        mediator_kind = args.get("mediator_kind") or ""
        status = args.get("status") or "active"
        org = args.get("org") or ""
        return cls(
            q=(args.get("q") or "").strip()[:100],
            kind=kind if kind in {str(k) for k in PersonKind} else "",
            field=field_ if field_ in {str(f) for f in ExpertField} else "",
            mediator_kind=(mediator_kind if mediator_kind in {str(m) for m in MediatorKind}
                           else ""),
            organisation_id=int(org) if org.isdigit() else None,
            status=status if status in STATUSES else "active",
        )

    def conditions(self, with_kind: bool = True) -> list[Any]:
        found: list[Any] = []
        if self.q:
            found.append(or_(*(column.icontains(self.q, autoescape=True) for column in (
                Person.name, Person.employer, Person.title, Person.lawyer_firm,
                Person.lawyer_licence_no))))
        if with_kind and self.kind:
            found.append(Person.kind == self.kind)
        if self.field:
            found.append(Person.expert_field == self.field)
        if self.mediator_kind:
            found.append(Person.mediator_kind == self.mediator_kind)
        if self.organisation_id:
            found.append(Person.organisation_id == self.organisation_id)
        if self.status == "active":
            found.append(Person.is_active.is_(True))
        elif self.status == "inactive":
            found.append(Person.is_active.is_(False))
        return found


@dataclass(slots=True)
class PersonRow:
    """One line of the list: only the columns the list shows, no ORM objects."""

    id: int
    kind: str
    name: str
    title: str | None
    employer: str | None
    lawyer_firm: str | None
    #: the number masked (138****5678); the list never holds clear numbers
    phone_masked: str
    is_active: bool
    expert_field: str | None
    mediator_kind: str | None
    #: "township / village / committee", as Organisation.full_name gives it
    organisation_path: str | None


def _path(*levels: tuple[str | None, str | None]) -> str | None:
    """Organisation.full_name from (name, kind) of the organisation and its parents."""
    names: list[str] = []
    for position, (name, kind) in enumerate(levels):
        if name is None or (position and kind == OrgKind.COUNTY):
            break
        names.append(name)
    return " / ".join(reversed(names)) or None


@dataclass
class Page(PageOf[PersonRow]):
    """One page of the registry list, plus the count for each kind."""

    by_kind: dict[str, int] = field(default_factory=dict)


def people_query(filters: Filters) -> Select[Person]:
    return (select(Person).where(*filters.conditions())
            .order_by(Person.name, Person.id))


@lru_cache(maxsize=20_000)
def _masked_from_token(token: str) -> str:
    """The masked number for a stored (encrypted) phone. Only masked values are kept in
    the cache, and tokens never repeat, so the cache is safe across keys and apps."""
    return mask_phone(decrypt(token))


def masked_phone_of(token: str | None) -> str:
    return _masked_from_token(token) if token else ""


#: the organisation of a listed person and two levels above it (built once: aliasing is slow)
_ORG, _UP1, _UP2 = (aliased(Organisation, name=n) for n in ("org", "up1", "up2"))


def list_people(session: DbSession, filters: Filters, page: int, per_page: int) -> Page:
    """Two queries: the counts by kind (all filters but the kind) and one page of rows,
    the organisation and its parents joined in, as plain rows (no ORM objects: the
    list must stay fast)."""
    counts = session.connection().execute(
        select(Person.kind, func.count()).where(*filters.conditions(with_kind=False))
        .group_by(Person.kind)).all()
    by_kind = {str(kind): int(n) for kind, n in counts}
    total = by_kind.get(filters.kind, 0) if filters.kind else sum(by_kind.values())
    last = max(1, math.ceil(total / per_page))
    page = min(page, last)
    rows: list[PersonRow] = []
    if total:
        org, up1, up2 = _ORG, _UP1, _UP2
        stmt = (select(Person.id, Person.kind, Person.name, Person.title, Person.employer,
                       Person.lawyer_firm, type_coerce(Person.phone, Text), Person.is_active,
                       Person.expert_field,
                       Person.mediator_kind, org.name, org.kind, up1.name, up1.kind, up2.name,
                       up2.kind)
                .outerjoin(org, org.id == Person.organisation_id)
                .outerjoin(up1, up1.id == org.parent_id)
                .outerjoin(up2, up2.id == up1.parent_id)
                .where(*filters.conditions()).order_by(Person.name, Person.id)
                .limit(per_page).offset((page - 1) * per_page))
        for r in session.connection().execute(stmt):
            rows.append(PersonRow(r[0], r[1], r[2], r[3], r[4], r[5], masked_phone_of(r[6]),
                                  r[7], r[8], r[9],
                                  _path((r[10], r[11]), (r[12], r[13]), (r[14], r[15]))))
    return Page(rows, page, per_page, total, by_kind)


def organisations_for(session: DbSession, kinds: Iterable[OrgKind],
                      keep: int | None = None) -> list[Organisation]:
    """Organisations a person of some kind may belong to, active ones (and `keep`)."""
    stmt = (select(Organisation).where(
        Organisation.kind.in_([str(k) for k in kinds]),
        or_(Organisation.is_active.is_(True), Organisation.id == (keep or 0)))
        .order_by(Organisation.kind, Organisation.name))
    return list(session.scalars(stmt).unique())


def organisation_choices(session: DbSession,
                         kinds: Iterable[OrgKind] | None = None) -> list[tuple[int, str]]:
    """(id, "township / village / committee") of every organisation, in one plain query."""
    org, up1, up2 = _ORG, _UP1, _UP2
    stmt = (select(org.id, org.name, org.kind, up1.name, up1.kind, up2.name, up2.kind)
            .outerjoin(up1, up1.id == org.parent_id)
            .outerjoin(up2, up2.id == up1.parent_id))
    if kinds is not None:
        stmt = stmt.where(org.kind.in_([str(k) for k in kinds]))
    found = [(r[0], _path((r[1], r[2]), (r[3], r[4]), (r[5], r[6])) or r[1])
             for r in session.connection().execute(stmt)]
    found.sort(key=lambda choice: choice[1])
    return found
