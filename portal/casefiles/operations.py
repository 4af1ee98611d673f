"""The work on case files: plain functions that take a session and the acting user,
check, change, append an event for every change, and flush; they never commit.
Other domains write into a case file only through this module."""

from __future__ import annotations

import difflib
import io
import re
import secrets
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, BinaryIO, cast

from flask_babel import LazyString
from sqlalchemy import Table, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from portal import identity, transaction
from portal.auth.roles import Role
from portal.casefiles import blobs, notices
from portal.casefiles import clocks as clk
from portal.casefiles import deadlines as dl
from portal.casefiles import permissions as perm
from portal.casefiles.models import (
    GRANT_RANK,
    AccessAction,
    AccessGrant,
    AccessLog,
    Assignment,
    AssignmentStatus,
    Case,
    CaseNumberCounter,
    Channel,
    Document,
    DocumentVersion,
    GrantLevel,
    Party,
    PartyRole,
    Status,
)
from portal.casefiles.timeline import append_event, events_of, payload_of
from portal.casefiles.workflow import (
    Action,
    TransitionRefused,
    check,
    last_payload,
    transition,
)
from portal.crypto import lookup_hash
from portal.errors import DomainError, NotAllowed, StaleEdit
from portal.i18n import lazy_gettext as _l
from portal.identity import IdKind
from portal.orgs.models import Organisation, OrgKind
from portal.timeutil import utcnow

#: case numbers count per calendar year in China (UTC+8, no daylight saving)
CHINA = timezone(timedelta(hours=8))
#: digits of a query code (10**12 codes; typed on a keypad, read over the phone)
QUERY_CODE_DIGITS = 12
#: the long codes issued before (base32, 160 bits) still open their cases
LEGACY_CODE_MIN_CHARS = 26
#: how alike two summaries must be (0..1) for the duplicate check
SIMILAR_SUMMARY = 0.5


def _deny(message: Any = None) -> NotAllowed:
    return NotAllowed(message or _l("You do not have permission to change this case file."))


# ---------------------------------------------------------------- numbers and codes

def next_case_number(session: Session, when: datetime | None = None) -> str:
    """2026-XF-000123: a per-year counter bumped in one atomic INSERT ... ON CONFLICT
    DO UPDATE ... RETURNING (row-locked on PostgreSQL, write-locked on SQLite), so two
    registrations never get the same number and a rolled-back one leaves no gap."""
    year = (when or utcnow()).astimezone(CHINA).year
    table = cast(Table, CaseNumberCounter.__table__)
    dialect = session.connection().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table).values(year=year, last=1).on_conflict_do_update(
        index_elements=[table.c.year], set_={"last": table.c.last + 1})
    last = session.execute(stmt.returning(table.c.last)).scalar_one()
    return f"{year}-XF-{last:06d}"


def new_query_code(session: Session) -> str:
    """A 查询码: 12 random digits shown in groups of four ("4821 0937 5520"), short enough to
    read over the phone and type on a keypad; shown once, stored only as an HMAC (keyed
    hash), and unique: a draw that hits an existing case's code is drawn again (the
    unique index on the hash is the backstop for a race).

    12 digits are ~40 bits, far fewer than the 160 of the old codes: what makes them safe
    is that a guess costs a request and the query page limits wrong tries per address and
    across all addresses (see portal/casefiles/public_blueprint.py)."""
    for _attempt in range(20):
        digits = f"{secrets.randbelow(10 ** QUERY_CODE_DIGITS):0{QUERY_CODE_DIGITS}d}"
        if session.scalar(select(Case.id).where(
                Case.query_code_hash == query_code_hash(digits))) is None:
            return " ".join(digits[i:i + 4] for i in range(0, QUERY_CODE_DIGITS, 4))
    raise DomainError(_l("No free query code was found. Please try again."))  # pragma: no cover


def normalised_query_code(code: str | None) -> str | None:
    """The code as typed, reduced to what is hashed: full-width digits and letters made
    plain (NFKC, for a Chinese input method), spaces, dashes and other separators dropped,
    letters made capital. A 12-digit code (today's) or a code of at least 26 letters and
    digits (the long codes issued before, 128 bits or more) is kept; anything else can
    be no one's code and gives None."""
    cleaned = re.sub(r"[^0-9A-Za-z]", "", unicodedata.normalize("NFKC", code or "")).upper()
    if len(cleaned) == QUERY_CODE_DIGITS and cleaned.isdigit():
        return cleaned
    if len(cleaned) >= LEGACY_CODE_MIN_CHARS:
        return cleaned
    return None


def query_code_hash(code: str) -> str:
    """The keyed hash stored on the case. Short codes are hashed with a prefix of their
    own, so they live apart from other hashed numbers; the long codes issued before are
    hashed as they always were, so those cases keep working with their old codes."""
    cleaned = normalised_query_code(code) or re.sub(r"[^0-9A-Za-z]", "", code).upper()
    if len(cleaned) == QUERY_CODE_DIGITS and cleaned.isdigit():
        return lookup_hash("QC" + cleaned)
    return lookup_hash(cleaned)


def find_case_by_query_code(session: Session, code: str) -> Case | None:
    """The case of a query code in either form (12 digits, or an older long code)."""
    if normalised_query_code(code) is None:
        return None
    return session.scalar(select(Case).where(Case.query_code_hash == query_code_hash(code)))


def reissue_query_code(session: Session, actor: Any, case: Case) -> str:
    """A new code for a petitioner who lost theirs; the old one stops working."""
    if not perm.can_manage(actor, case):
        raise _deny()
    code = new_query_code(session)
    case.query_code_hash = query_code_hash(code)
    session.flush()
    append_event(session, case, "case.query_code_reissued", actor, {})
    return code


# ---------------------------------------------------------------- registration

def _clean_number(value: str | None) -> str | None:
    if value is None:
        return None
    return identity.normalised(str(value)) or None


def _lookup_phone(value: str | None) -> str | None:
    """The phone number as it is stored (identity.phone), for the duplicate check; as
    typed when it is not a valid one (it then matches nothing stored)."""
    cleaned = _clean_number(value)
    if cleaned is None:
        return None
    try:
        return identity.phone(cleaned)
    except identity.Invalid:
        return cleaned


def _party(data: dict[str, Any], role: PartyRole) -> Party:
    name = (data.get("name") or "").strip()
    if not name:
        raise DomainError(_l("Every party needs a name."))
    id_kind = str(data.get("id_kind") or IdKind.RESIDENT_ID)
    id_number = _clean_number(data.get("id_number"))
    phone = _clean_number(data.get("phone"))
    try:  # the form checked them already; a caller that is not a form is checked here
        id_number = identity.document_number(id_kind, id_number) if id_number else None
        phone = identity.phone(phone) if phone else None
    except identity.Invalid as invalid:
        raise DomainError(_l("%(name)s: %(problem)s", name=name,
                             problem=invalid.message)) from None
    return Party(role=role, name=name, id_kind=id_kind, id_number=id_number,
                 id_number_hash=lookup_hash(id_number) if id_number else None,
                 phone=phone, phone_hash=lookup_hash(phone) if phone else None,
                 address=(data.get("address") or "").strip() or None)


def _office_for(session: Session, actor: Any, office_id: int | None) -> int:
    mine = perm.org_ids(actor)
    if office_id is not None:
        if office_id not in mine and not perm.is_admin(actor):
            raise _deny(_l("You can register cases only for your own office."))
        if session.get(Organisation, office_id) is None:
            raise DomainError(_l("The registering office does not exist."))
        return office_id
    if not mine:
        raise DomainError(_l("Your account belongs to no office; ask an administrator to "
                             "add you to one before registering cases."))
    return min(mine) if len(mine) > 1 else next(iter(mine))


def village_problem(session: Session, township_id: int | None, village_id: int | None
                    ) -> LazyString | None:
    """What is wrong with the chosen village (not a village, or not one of the chosen
    township), or None. The registration form shows it on the village field."""
    if not village_id:
        return None
    village = session.get(Organisation, village_id)
    if village is None or village.kind != OrgKind.VILLAGE:
        return _l("Choose a village.")
    if township_id and village.parent_id != township_id:
        return _l("The village is not in the chosen township.")
    return None


def _check_place(session: Session, township_id: int | None, village_id: int | None) -> None:
    township = session.get(Organisation, township_id) if township_id else None
    if township_id and (township is None or township.kind != OrgKind.TOWNSHIP):
        raise DomainError(_l("Choose a township."))
    problem = village_problem(session, township_id, village_id)
    if problem:
        raise DomainError(problem)


def register_case(
    session: Session,
    actor: Any,
    *,
    channel: str,
    kind: str,
    summary: str,
    township_id: int | None = None,
    village_id: int | None = None,
    petitioners: Sequence[dict[str, Any]] = (),
    others: Sequence[dict[str, Any]] = (),
    is_urgent: bool = False,
    is_simple: bool = False,
    office_id: int | None = None,
    leader_id: int | None = None,
    received_at: datetime | None = None,
    letters: Sequence[tuple[bytes, str, str]] = (),
) -> tuple[Case, str]:
    """Open a case file, with the petition's `letters` as its first documents (bytes,
    checked media type, original name each). Returns the case and its query code (shown
    once, never stored)."""
    if not perm.can_register(actor):
        raise _deny(_l("Only reception clerks register cases."))
    try:
        channel = Channel(channel)
    except ValueError:
        raise DomainError(_l("Unknown channel: %(channel)s", channel=channel)) from None
    summary = (summary or "").strip()
    kind = (kind or "").strip()
    if not summary:
        raise DomainError(_l("Write a summary of the matter."))
    if not kind:
        raise DomainError(_l("Choose the kind of matter."))
    if not petitioners:
        raise DomainError(_l("A case needs at least one petitioner."))
    _check_place(session, township_id, village_id)
    office = _office_for(session, actor, office_id)
    if leader_id is not None:
        _check_leader(session, leader_id)

    code = new_query_code(session)
    now = utcnow()
    case = Case(number=next_case_number(session, now), status=Status.REGISTERED,
                channel=channel, kind=kind, summary=summary, township_id=township_id,
                village_id=village_id, is_urgent=bool(is_urgent), is_simple=bool(is_simple),
                office_id=office, leader_id=leader_id, query_code_hash=query_code_hash(code),
                received_at=received_at or now, created_by_id=actor.id, created_at=now,
                updated_at=now)
    case.parties = ([_party(p, PartyRole.PETITIONER) for p in petitioners]
                    + [_party(p, PartyRole.OTHER) for p in others])
    session.add(case)
    session.flush()
    append_event(session, case, "case.registered", actor, {
        "number": case.number, "channel": str(channel), "kind": kind, "summary": summary,
        "township_id": township_id, "village_id": village_id, "office_id": office,
        "is_urgent": case.is_urgent, "is_simple": case.is_simple, "leader_id": leader_id,
        "received_at": case.received_at,
        # names and roles only: ID and phone numbers never go into the immutable timeline
        "parties": [{"id": p.id, "role": p.role, "name": p.name} for p in case.parties],
    })
    for data, media_type, name in letters:
        add_document(session, actor, case, title=name, data=data, original_name=name,
                     media_type=media_type, kind="letter")
    return case, code


def _check_leader(session: Session, leader_id: int) -> Any:
    from portal.auth.models import User

    leader = session.get(User, leader_id)
    if leader is None or not leader.is_active or not leader.has_role(Role.LEADER):
        raise DomainError(_l("The responsible leader must be an active leader account."))
    return leader


def set_leader(session: Session, actor: Any, case: Case, leader: Any,
               plan: str | None = None) -> Case:
    """Name the responsible leader (包案领导) and their plan; the leader, when it is not
    the actor, gets an in-app notice (in the same transaction)."""
    if not perm.may_set_leader(actor, case):
        raise _deny()
    _check_leader(session, leader.id)
    before = case.leader_id
    case.leader_id = leader.id
    case.leader_plan = (plan or "").strip() or None
    session.flush()
    append_event(session, case, "case.leader_set", actor,
                 {"from": before, "to": leader.id, "plan": case.leader_plan})
    notices.send(session, actor, case, "case.leader_set", [leader.id])
    return case


#: fields edit_case may change
EDITABLE = ("summary", "kind", "township_id", "village_id", "is_urgent", "is_simple",
            "leader_plan")


def edit_case(session: Session, actor: Any, case: Case, expected_version: int,
              **changes: Any) -> Case:
    """Change plain fields; a stale `expected_version` (someone saved in between) gives
    StaleEdit (409) and changes nothing."""
    if not perm.can_manage(actor, case):
        raise _deny()
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    if case.version != expected_version:
        raise StaleEdit(_l("Someone else changed this case while you were editing it."))
    if "township_id" in changes or "village_id" in changes:
        _check_place(session, changes.get("township_id", case.township_id),
                     changes.get("village_id", case.village_id))
    diff = {}
    for field, value in changes.items():
        if isinstance(value, str):
            value = value.strip()
        if getattr(case, field) != value:
            diff[field] = {"from": getattr(case, field), "to": value}
            setattr(case, field, value)
    if not diff:
        return case
    try:
        session.flush()
    except StaleDataError as exc:
        raise StaleEdit(_l("Someone else changed this case while you were editing it.")) \
            from exc
    append_event(session, case, "case.edited", actor, {"changes": diff})
    return case


# ---------------------------------------------------------------- sharing and assignment

def grant_access(session: Session, actor: Any, case: Case, organisation: Organisation,
                 level: GrantLevel | str) -> AccessGrant:
    """Share the case with an organisation at `level` (or change the level it has)."""
    level = GrantLevel(level)
    if not perm.can_manage(actor, case):
        raise _deny()
    grant = next((g for g in case.grants if g.organisation_id == organisation.id), None)
    before = grant.level if grant else None
    if grant is None:
        grant = AccessGrant(case=case, organisation_id=organisation.id, level=level,
                            granted_by_id=actor.id, granted_at=utcnow())
        session.add(grant)
    elif grant.level == level:
        return grant
    else:
        grant.level = level
        grant.granted_by_id = actor.id
        grant.granted_at = utcnow()
    session.flush()
    append_event(session, case, "access.granted", actor,
                 {"organisation_id": organisation.id, "organisation": organisation.name,
                  "level": str(level), "before": before})
    return grant


def revoke_access(session: Session, actor: Any, case: Case, organisation: Organisation) -> None:
    if not perm.can_manage(actor, case):
        raise _deny()
    grant = next((g for g in case.grants if g.organisation_id == organisation.id), None)
    if grant is None:
        return
    case.grants.remove(grant)
    session.delete(grant)
    session.flush()
    append_event(session, case, "access.revoked", actor,
                 {"organisation_id": organisation.id, "organisation": organisation.name,
                  "level": grant.level})


def _at_least(session: Session, actor: Any, case: Case, organisation: Organisation,
              level: GrantLevel) -> None:
    grant = next((g for g in case.grants if g.organisation_id == organisation.id), None)
    if grant is None or GRANT_RANK[GrantLevel(grant.level)] < GRANT_RANK[level]:
        grant_access(session, actor, case, organisation, level)


def assign(session: Session, actor: Any, case: Case, lead_org: Organisation,
           co_orgs: Iterable[Organisation] = (), letter: str | None = None
           ) -> list[Assignment]:
    """交办/转办: hand the case to one lead agency (主办) and co-agencies (协办), each with
    the letter, share the file with them (contribute), move the case to `assigned` and
    tell the members of those agencies (in-app notices, in the same transaction: both or
    neither). Each assignment is due when the case's legal clock is (urgent and simple
    cases included), never on a date of its own: due.py keeps the open assignments' date
    in step when an extension or a pause moves the clock."""
    check(case, Action.ASSIGN, actor)
    running = clk.current_clock(clk.clocks_for_case(session, case))
    due_on = running.state.due if running is not None else None
    co = [o for o in dict.fromkeys(co_orgs) if o.id != lead_org.id]
    for org in [lead_org, *co]:
        if org.kind != OrgKind.AGENCY:
            raise DomainError(_l("%(name)s is not a handling agency.", name=org.name))
    for old in case.assignments:
        if old.status == AssignmentStatus.OPEN:
            old.status = AssignmentStatus.WITHDRAWN
    text = (letter or "").strip() or None
    made = []
    for org, is_lead in [(lead_org, True), *((o, False) for o in co)]:
        a = Assignment(case=case, organisation_id=org.id, is_lead=is_lead, due_on=due_on,
                       letter=text, status=AssignmentStatus.OPEN, assigned_by_id=actor.id,
                       created_at=utcnow())
        session.add(a)
        made.append(a)
    session.flush()
    for org in [lead_org, *co]:
        _at_least(session, actor, case, org, GrantLevel.CONTRIBUTE)
    transition(session, case, Action.ASSIGN, actor, reason=text, payload={
        "lead": {"organisation_id": lead_org.id, "organisation": lead_org.name},
        "co": [{"organisation_id": o.id, "organisation": o.name} for o in co],
        "due_on": due_on, "assignment_ids": [a.id for a in made]})
    notices.send(session, actor, case, "case.assigned",
                 notices.members(session, [a.organisation_id for a in made]))
    return made


# ---------------------------------------------------------------- procedure

def take_action(session: Session, actor: Any, case: Case, action: str, *,
                reason: str | None = None, days: int | None = None,
                document_id: int | None = None) -> Case:
    """One step of the procedure from the case page's buttons (workflow.transition); an
    extension asked for (`days`, 30 by default) must fit the clock's rule, and is approved
    for the days asked; a reply (or one submitted for sign-off) may name one of the case's
    documents as the reply document. Assigning has its own operation (`assign`), with the
    agencies and the letter."""
    if action == Action.ASSIGN:
        raise TransitionRefused(_l("Use the assignment form to assign the case."))
    payload: dict[str, Any] = {}
    if action in (Action.REQUEST_EXTENSION, Action.EXTEND):
        rule = check(case, action, actor, reason)  # who and what state first, then
        problem = rule.guard(session, case, actor) if rule.guard else None  # the request
        if problem:
            raise TransitionRefused(problem)
    if action == Action.REQUEST_EXTENSION:
        payload["days"] = check_extension(session, case, days or 30)
    elif action == Action.EXTEND:
        asked = days or int(last_payload(session, case, Action.REQUEST_EXTENSION)
                            .get("days") or 30)
        payload["days"] = check_extension(session, case, asked)
    if action in (Action.REPLY, Action.SUBMIT_REPLY) and document_id:
        doc = session.get(Document, document_id)
        if doc is None or doc.case_id != case.id:
            raise TransitionRefused(_l("Choose the reply document among this case's "
                                       "documents."))
        payload["document_id"] = doc.id
        payload["document"] = doc.title
    transition(session, case, action, actor, reason=reason, payload=payload)
    notices.after_step(session, actor, case, str(action), reason, payload)
    return case


def check_extension(session: Session, case: Case, days: int) -> int:
    """`days` when one more extension of that length fits the case's reply clock (the
    extensions granted so far counted); TransitionRefused otherwise."""
    rules, _calendar = clk.rules_and_calendar()
    kind = clk.reply_kind(case)
    granted = [int(payload_of(e).get("days") or 0)
               for e in events_of(session, case, ["workflow.extend"])]
    try:
        dl.check_extension(kind, rules, granted, days)
    except dl.ExtensionRefused:
        rule = rules.rule(kind)
        if not rule.max_extensions:
            raise TransitionRefused(_l("The time limit of this case cannot be "
                                       "extended.")) from None
        raise TransitionRefused(_l("This clock allows one extension of at most %(n)d days.",
                                   n=rule.max_extension_days)) from None
    return days


# ---------------------------------------------------------------- documents

def case_path(case: Case) -> str:
    """The case page's path, for links in notices (the same as url_for("cases.show"))."""
    return f"/cases/{case.number}"


def _ensure_open_file(case: Case) -> None:
    if case.status == Status.ARCHIVED:
        raise DomainError(_l("Case %(number)s is archived; its file can no longer change.",
                             number=case.number))


def add_document(session: Session, actor: Any, case: Case, *, title: str,
                 data: bytes | BinaryIO, original_name: str, media_type: str,
                 kind: str = "other", is_restricted: bool = False,
                 is_for_petitioner: bool = False) -> Document:
    """Store the bytes as a blob and file them as version 1 of a new document.
    (Type sniffing and size caps belong to the upload view.)"""
    if not perm.can_contribute(actor, case):
        raise _deny()
    _ensure_open_file(case)
    title = (title or "").strip() or original_name
    doc = Document(case=case, title=title[:200], kind=kind, is_restricted=is_restricted,
                   is_for_petitioner=is_for_petitioner, created_by_id=actor.id,
                   created_at=utcnow())
    session.add(doc)
    session.flush()
    version = _store_version(session, actor, doc, data, original_name, media_type, 1)
    append_event(session, case, "document.added", actor, {
        "document_id": doc.id, "title": doc.title, "kind": kind,
        "is_restricted": is_restricted, "is_for_petitioner": is_for_petitioner,
        **_version_payload(version)})
    return doc


def add_document_version(session: Session, actor: Any, document: Document,
                         data: bytes | BinaryIO, original_name: str,
                         media_type: str) -> DocumentVersion:
    """A new version of a document; the earlier ones stay."""
    case = document.case
    if not perm.can_contribute(actor, case):
        raise _deny()
    _ensure_open_file(case)
    number = (session.scalar(select(func.max(DocumentVersion.version))
                             .where(DocumentVersion.document_id == document.id)) or 0) + 1
    version = _store_version(session, actor, document, data, original_name, media_type,
                             number)
    append_event(session, case, "document.version_added", actor,
                 {"document_id": document.id, "title": document.title,
                  **_version_payload(version)})
    return version


def _store_version(session: Session, actor: Any, doc: Document, data: bytes | BinaryIO,
                   original_name: str, media_type: str, number: int) -> DocumentVersion:
    stream = io.BytesIO(data) if isinstance(data, bytes) else data
    sha, size = blobs.store_stream(stream)
    version = DocumentVersion(document=doc, version=number, sha256=sha, size=size,
                              media_type=media_type[:100],
                              original_name=(original_name or "file")[:255],
                              uploaded_by_id=actor.id, uploaded_at=utcnow())
    session.add(version)
    session.flush()
    return version


def _version_payload(v: DocumentVersion) -> dict[str, Any]:
    return {"version": v.version, "version_id": v.id, "sha256": v.sha256, "size": v.size,
            "media_type": v.media_type, "original_name": v.original_name}


# ---------------------------------------------------------------- duplicates and access log

def _bigrams(text: str) -> set[str]:
    s = "".join(text.split())
    return {s[i:i + 2] for i in range(len(s) - 1)} or {s}


def summary_similarity(a: str, b: str) -> float:
    """0..1: the better of difflib's ratio and character-bigram overlap (works for Chinese)."""
    if not a or not b:
        return 0.0
    ratio = difflib.SequenceMatcher(None, a, b).ratio()
    x, y = _bigrams(a), _bigrams(b)
    overlap = len(x & y) / min(len(x), len(y))
    return max(ratio, overlap)


def find_duplicates(session: Session, id_number: str | None = None, phone: str | None = None,
                    name: str | None = None, summary: str | None = None, *,
                    exclude_case_id: int | None = None, limit: int = 20) -> list[Case]:
    """Earlier cases of the same petitioner: same ID or phone number (by keyed hash), or
    the same name with a similar summary (the name alone when no summary is given).
    Newest first."""
    conditions = []
    id_clean, phone_clean = _clean_number(id_number), _lookup_phone(phone)
    if id_clean:
        conditions.append(Party.id_number_hash == lookup_hash(id_clean))
    if phone_clean:
        conditions.append(Party.phone_hash == lookup_hash(phone_clean))
    found: dict[int, Case] = {}
    if conditions:
        stmt = (select(Case).join(Party, Party.case_id == Case.id).where(or_(*conditions))
                .order_by(Case.created_at.desc(), Case.id.desc()).limit(limit))
        for case in session.scalars(stmt).unique():
            found[case.id] = case
    clean_name = (name or "").strip()
    if clean_name:
        stmt = (select(Case).join(Party, Party.case_id == Case.id)
                .where(Party.name == clean_name)
                .order_by(Case.created_at.desc(), Case.id.desc()).limit(200))
        text = (summary or "").strip()
        for case in session.scalars(stmt).unique():
            if not text or summary_similarity(text, case.summary) >= SIMILAR_SUMMARY:
                found.setdefault(case.id, case)
    found.pop(exclude_case_id or -1, None)
    ordered = sorted(found.values(), key=lambda c: (c.created_at, c.id), reverse=True)
    return ordered[:limit]


def log_access(session: Session, user: Any, action: AccessAction | str, *,
               case: Case | None = None, document: Document | None = None,
               party: Party | None = None, detail: str | None = None) -> AccessLog:
    """Record a read of restricted material or an unmasked personal number."""
    entry = AccessLog(user_id=getattr(user, "id", None), action=str(AccessAction(action)),
                      case_id=case.id if case is not None else (
                          document.case_id if document is not None else (
                              party.case_id if party is not None else None)),
                      document_id=document.id if document is not None else None,
                      party_id=party.id if party is not None else None,
                      detail=(detail or None) and detail[:200], at=utcnow())
    transaction.add_at_commit(session, entry)  # no write lock while the page renders
    return entry


def unmask_party(session: Session, user: Any, party: Party) -> tuple[str | None, str | None]:
    """The clear ID and phone numbers, for the registering office only; the view is logged."""
    case = party.case
    if not perm.can_see_full_personal_data(user, case):
        raise _deny(_l("Only the registering office may see full ID and phone numbers."))
    if party.id_number:
        log_access(session, user, AccessAction.UNMASK_ID, case=case, party=party)
    if party.phone:
        log_access(session, user, AccessAction.UNMASK_PHONE, case=case, party=party)
    return party.id_number, party.phone


def open_document(session: Session, user: Any, version: DocumentVersion) -> bytes:
    """The bytes of a version for a user who may view the case; restricted ones are logged."""
    return blobs.read_blob(_checked_blob(session, user, version, log=True))


def document_blob_path(session: Session, user: Any, version: DocumentVersion, *,
                       log: bool = True) -> Path:
    """The stored file of a version, for streaming (a recording played with seeking asks
    for many ranges: `log` only the first, so one viewing is one log entry)."""
    return blobs.blob_path(_checked_blob(session, user, version, log=log))


def _checked_blob(session: Session, user: Any, version: DocumentVersion, *, log: bool
                  ) -> str:
    doc = version.document
    if not perm.can_view_document(user, doc):
        raise _deny(_l("You do not have permission to open this file."))
    if doc.is_restricted and log:
        log_access(session, user, AccessAction.VIEW_DOCUMENT, case=doc.case, document=doc,
                   detail=f"version {version.version}")
    return version.sha256


def record_event(session: Session, actor: Any, case: Case, kind: str,
                 payload: dict[str, Any]) -> None:
    """A domain's own entry in the timeline (a reception note, a hearing's minutes, ...):
    the way other domains write into a case file. The actor must be able to contribute."""
    if not perm.can_contribute(actor, case):
        raise _deny()
    _ensure_open_file(case)
    append_event(session, case, kind, actor, payload)
