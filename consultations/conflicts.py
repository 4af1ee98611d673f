"""Conflicts (Lawyers Law Arts. 38-41): a duty lawyer may not take the matter of someone
they advised as a paid client. When organisers record a lawyer as paid counsel for a party
of a case, the lawyer's consultations with that party (same name) or linked to that case
raise a ConflictFlag; the organisers are notified and resolve it with a note."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from consultations import permissions as perm
from consultations.models import ConflictFlag, Consultation, CounselRecord
from portal.casefiles.models import Case
from portal.errors import DomainError, NotAllowed
from portal.i18n import lazy_gettext as _l
from portal.notify.messages import register
from portal.notify.operations import notify
from portal.people.models import Person
from portal.timeutil import utcnow

FLAGGED = "consultations.conflict_flagged"
register(FLAGGED,
         _l("Possible conflict: lawyer %(lawyer)s is recorded as paid counsel for "
            "%(party)s on case %(number)s, whom they advised in consultation %(id)s."),
         _l("Possible lawyer conflict on case %(number)s"))


class ConflictRefused(DomainError):
    pass


def record_counsel(session: Session, user: Any, case: Case, *, party_name: str,
                   lawyer: Person, is_paid: bool = True
                   ) -> tuple[CounselRecord, list[ConflictFlag]]:
    if not perm.can_record_counsel(user):
        raise NotAllowed(None)
    party = (party_name or "").strip()
    if not party:
        raise ConflictRefused(_l("Name the party the lawyer acts for."))
    if lawyer.kind != "lawyer":
        raise ConflictRefused(_l("Choose a lawyer of the registry."))
    record = CounselRecord(case_id=case.id, party_name=party[:60], lawyer_id=lawyer.id,
                           is_paid=bool(is_paid), recorded_by_id=user.id)
    session.add(record)
    session.flush()
    flags = check(session, record, case, lawyer) if record.is_paid else []
    return record, flags


def check(session: Session, record: CounselRecord, case: Case, lawyer: Person
          ) -> list[ConflictFlag]:
    """Flag each consultation the lawyer advised (taken, and theirs or handed over from
    them at a week's end) with the same person, or linked to the case (legal aid is not
    a paid engagement: not checked). A consultation flagged for this record already is
    not flagged twice (the check runs again when a consultation is linked to the case)."""
    already = select(ConflictFlag.consultation_id).where(ConflictFlag.counsel_id == record.id)
    advised = session.scalars(select(Consultation).where(
        Consultation.taken_at.is_not(None),
        or_(Consultation.lawyer_id == lawyer.id,
            Consultation.handed_over_from_id == lawyer.id),
        or_(Consultation.name == record.party_name, Consultation.case_id == case.id),
        Consultation.id.not_in(already))
        .order_by(Consultation.id)).all()
    flags = []
    for consultation in advised:
        flag = ConflictFlag(consultation_id=consultation.id, counsel_id=record.id,
                            lawyer_id=lawyer.id)
        session.add(flag)
        flags.append(flag)
        for organiser in perm.organisers(session, [case.office_id]):
            notify(session, organiser, FLAGGED,
                   {"lawyer": lawyer.name, "party": record.party_name,
                    "number": case.number, "id": consultation.id},
                   link=f"/consultations/{consultation.id}/answer", email=False)
    session.flush()
    return flags


def check_case(session: Session, case: Case) -> list[ConflictFlag]:
    """The check again for every paid counsel recorded on `case` (a consultation was just
    linked to it)."""
    flags: list[ConflictFlag] = []
    for record in session.scalars(select(CounselRecord).where(
            CounselRecord.case_id == case.id, CounselRecord.is_paid.is_(True))
            .order_by(CounselRecord.id)).all():
        lawyer = session.get(Person, record.lawyer_id)
        if lawyer is not None:
            flags += check(session, record, case, lawyer)
    return flags


def _described(session: Session, *where: Any, limit: int = 200) -> list[dict[str, Any]]:
    """Flags with what the desk and the consultation page show of each (the lawyer, the
    party, the case), in one query."""
    rows = session.execute(
        select(ConflictFlag, Person.name, CounselRecord.party_name, Case.number, Case.id)
        .outerjoin(CounselRecord, CounselRecord.id == ConflictFlag.counsel_id)
        .outerjoin(Person, Person.id == ConflictFlag.lawyer_id)
        .outerjoin(Case, Case.id == CounselRecord.case_id)
        .where(*where).order_by(ConflictFlag.flagged_at, ConflictFlag.id).limit(limit))
    return [{"flag": flag, "lawyer": lawyer or "", "party": party or "",
             "case_number": number or "", "case_id": case_id}
            for flag, lawyer, party, number, case_id in rows]


def open_flags(session: Session) -> list[dict[str, Any]]:
    """The unresolved flags, described (the desk)."""
    return _described(session, ConflictFlag.resolved_at.is_(None))


def flags_of(session: Session, consultation: Consultation) -> list[dict[str, Any]]:
    """The consultation's flags, described (its answer page)."""
    return _described(session, ConflictFlag.consultation_id == consultation.id)


def resolve(session: Session, user: Any, flag: ConflictFlag, note: str) -> None:
    if not perm.can_resolve_conflicts(user):
        raise NotAllowed(None)
    note = (note or "").strip()
    if not note:
        raise ConflictRefused(_l("Write what was found and done about the conflict."))
    if flag.resolved_at is not None:
        raise ConflictRefused(_l("This conflict is resolved already."))
    flag.resolved_note = note[:2000]
    flag.resolved_by_id = user.id
    flag.resolved_at = utcnow()
    session.flush()
