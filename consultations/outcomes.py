"""Closing a consultation with its outcome and written answer, the legal-aid application
and the centre's clocks (Legal Aid Law Arts. 43-44), turning a consultation into a
petition case, and the person's rating. Operations flush, never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from consultations import answer_pdf, conflicts
from consultations import permissions as perm
from consultations.models import (
    AidDecision,
    Consultation,
    ConsultationStatus,
    LegalAidApplication,
    Outcome,
    Rating,
    Topic,
)
from consultations.rules import rules
from portal import identity
from portal.casefiles import operations as case_ops
from portal.casefiles import permissions as case_perm
from portal.casefiles.clocks import china_day
from portal.casefiles.models import Case, CaseKind
from portal.errors import DomainError, NotAllowed
from portal.i18n import lazy_gettext as _l
from portal.timeutil import utcnow

#: the longest written answer, characters
MAX_ANSWER = 10000
#: outcomes that refer the person elsewhere: the answer must say where and how
REFERRALS = frozenset({Outcome.COURT, Outcome.ARBITRATION, Outcome.ADMINISTRATIVE})
#: a consultation topic as the kind of matter of a petition case
CASE_KIND_OF_TOPIC = {
    Topic.LABOUR: CaseKind.LABOUR, Topic.LAND: CaseKind.LAND, Topic.HOUSING: CaseKind.HOUSING,
    Topic.SOCIAL_SECURITY: CaseKind.SOCIAL_SECURITY,
    Topic.ADMINISTRATIVE: CaseKind.LAW_LITIGATION, Topic.CRIMINAL: CaseKind.PUBLIC_SECURITY,
}


class OutcomeRefused(DomainError):
    """A closing, legal-aid or rating step that cannot be done as asked."""


@dataclass
class AidDetails:
    """The legal-aid application as the lawyer fills it at closing."""

    applicant_name: str
    phone: str
    id_number: str
    matter: str
    grounds: str
    limitation_ends_on: date | None = None
    id_kind: str = "resident_id"


def _lock(session: Session, row: Any) -> None:
    """Re-read the row under a row lock (PostgreSQL), so that a second request waits and
    then sees the first one's change instead of failing on the version check."""
    session.refresh(row, with_for_update=True)


# --- clocks ---------------------------------------------------------------------------------


def decide_by(submitted_at: datetime) -> date:
    """The centre decides within aid_decide_days calendar days of the day it was
    submitted, counted in Beijing (a submission at 01:00 Beijing is that day's)."""
    return china_day(submitted_at) + timedelta(days=rules().aid_decide_days)


@dataclass(frozen=True)
class Clock:
    due: date
    days_left: int
    #: "ok", "amber" (two days or fewer left) or "red" (due today or overdue)
    level: str


def clock(due: date, today: date) -> Clock:
    left = (due - today).days
    return Clock(due, left, "red" if left <= 0 else "amber" if left <= 2 else "ok")


def is_urgent(application: LegalAidApplication, today: date) -> bool:
    """A limitation period ending within aid_urgent_days (Art. 44): first, and red."""
    ends = application.limitation_ends_on
    return ends is not None and (ends - today).days <= rules().aid_urgent_days


def aid_clock(application: LegalAidApplication, today: date) -> Clock | None:
    """The clock that runs now: deciding while pending, assigning once granted."""
    if application.decision == AidDecision.PENDING:
        return clock(application.decide_by, today)
    if (application.decision == AidDecision.GRANTED and not application.assigned_lawyer
            and application.assign_by is not None):
        return clock(application.assign_by, today)
    return None


def aid_queue(session: Session, today: date, show_all: bool = False
              ) -> list[LegalAidApplication]:
    """Pending first, urgent (limitation ending soon) first among them, then by the
    decision date; decided ones after, newest first."""
    stmt = select(LegalAidApplication)
    if not show_all:
        stmt = stmt.where((LegalAidApplication.decision == AidDecision.PENDING)
                          | ((LegalAidApplication.decision == AidDecision.GRANTED)
                             & (LegalAidApplication.assigned_lawyer == "")))
    rows = list(session.scalars(stmt.limit(500)))

    def key(a: LegalAidApplication) -> tuple[Any, ...]:
        running = aid_clock(a, today)
        if running is None:  # decided and assigned (or refused): after, newest first
            return (1, 1, date.max, -a.id)
        return (0, 0 if is_urgent(a, today) else 1, running.due, -a.id)

    return sorted(rows, key=key)


# --- closing --------------------------------------------------------------------------------


def _file_on_case(session: Session, actor: Any, consultation: Consultation, kind: str,
                  text: str) -> None:
    """An entry on the linked case file, when there is one and the actor may write to it
    (a lawyer has no case-file role: the link's own event carries the outcome then)."""
    case = consultation.case
    if case is not None and case_perm.can_contribute(actor, case):
        case_ops.record_event(session, actor, case, kind,
                              {"consultation_id": consultation.id, "text": text})


def outcome_line(consultation: Consultation) -> str:
    labels = {str(o): o.label for o in Outcome}
    label = labels.get(consultation.outcome or "", "")
    return _("Consultation %(id)d (%(name)s): %(outcome)s", id=consultation.id,
             name=consultation.name, outcome=str(label))


def close(session: Session, user: Any, consultation: Consultation, *, outcome: str,
          answer: str, route: str = "", declared: bool = False,
          aid: AidDetails | None = None) -> LegalAidApplication | None:
    """Close with an outcome and the written answer (法律咨询意见书). The lawyer declares
    they will not take the matter for a fee; a referral says where and how; a referral
    to legal aid files the application; a petition is proposed to the clerks."""
    _lock(session, consultation)  # two closings (two tabs) one after the other
    if consultation.status == ConsultationStatus.CLOSED:
        raise OutcomeRefused(_l("This consultation is closed already."))
    if not perm.can_close(user, consultation):
        raise NotAllowed(_l("Only the lawyer answering this consultation can close it, "
                            "and only while it is open."))
    try:
        chosen = Outcome(outcome)
    except ValueError:
        raise OutcomeRefused(_l("Choose an outcome.")) from None
    answer = (answer or "").strip()
    route = (route or "").strip()
    if not answer:
        raise OutcomeRefused(_l("Write the answer: it is given to the person as the written "
                                "legal opinion."))
    if len(answer) + len(route) > MAX_ANSWER:
        raise OutcomeRefused(_l("The answer is too long (at most %(n)d characters).",
                                n=MAX_ANSWER))
    if chosen in REFERRALS and not route:
        raise OutcomeRefused(_l("Say where the person should go and how (the court, "
                                "arbitration commission or office, and what to bring)."))
    if not declared:
        raise OutcomeRefused(_l("Declare that you will not take this matter as a paid "
                                "client before closing."))
    if chosen == Outcome.LEGAL_AID and aid is None:
        raise OutcomeRefused(_l("Fill in the legal-aid application."))
    now = utcnow()
    consultation.outcome = str(chosen)
    consultation.answer = answer + ("\n\n" + _("Route advised: %(route)s", route=route) if route
                                    else "")
    consultation.conflict_declared_at = now
    consultation.status = ConsultationStatus.CLOSED
    consultation.closed_at = now
    application = None
    if chosen == Outcome.LEGAL_AID and aid is not None:
        application = apply_legal_aid(session, user, consultation, aid, now)
    session.flush()
    answer_pdf.register_text(session, consultation)  # what the PDF's QR code names
    # its video ends; the person's page and the chat learn it live (the chat's `status`)
    from consultations import events
    from consultations.video import end_video

    end_video(session, consultation)
    events.announce_status(session, consultation)
    _file_on_case(session, user, consultation, "consultation.closed",
                  outcome_line(consultation))
    return application


def apply_legal_aid(session: Session, user: Any, consultation: Consultation,
                    aid: AidDetails, now: datetime | None = None) -> LegalAidApplication:
    now = now or utcnow()
    name = aid.applicant_name.strip()
    matter = aid.matter.strip()
    if not name or not matter:
        raise OutcomeRefused(_l("The legal-aid application needs the applicant's name and "
                                "the matter."))
    try:
        phone = identity.phone(aid.phone) if aid.phone.strip() else None
        id_number = (identity.document_number(aid.id_kind, aid.id_number)
                     if aid.id_number.strip() else None)
    except identity.Invalid as invalid:
        raise OutcomeRefused(invalid.message) from None
    if aid.limitation_ends_on is not None and aid.limitation_ends_on < china_day(now):
        raise OutcomeRefused(_l("The limitation period cannot end in the past."))
    application = LegalAidApplication(
        consultation_id=consultation.id, applicant_name=name[:60], phone=phone,
        id_kind=aid.id_kind, id_number=id_number, matter=matter, grounds=aid.grounds.strip(),
        limitation_ends_on=aid.limitation_ends_on, submitted_at=now,
        decide_by=decide_by(now), created_by_id=getattr(user, "id", None))
    session.add(application)
    session.flush()
    return application


def decide_aid(session: Session, user: Any, application: LegalAidApplication, *,
               grant: bool, note: str) -> None:
    if not perm.can_handle_legal_aid(user):
        raise NotAllowed(None)
    _lock(session, application)
    if application.decision != AidDecision.PENDING:
        raise OutcomeRefused(_l("This application is decided already."))
    note = (note or "").strip()
    if not grant and not note:
        raise OutcomeRefused(_l("Give the reason for refusing legal aid."))
    now = utcnow()
    application.decision = AidDecision.GRANTED if grant else AidDecision.REFUSED
    application.decision_note = note
    application.decided_at = now
    if grant:
        application.assign_by = china_day(now) + timedelta(days=rules().aid_assign_days)
    session.flush()
    _file_on_case(session, user, application.consultation, "consultation.legal_aid",
                  str(AidDecision(application.decision).label))


def assign_aid(session: Session, user: Any, application: LegalAidApplication,
               lawyer_name: str) -> None:
    if not perm.can_handle_legal_aid(user):
        raise NotAllowed(None)
    if application.decision != AidDecision.GRANTED:
        raise OutcomeRefused(_l("Only granted legal aid is assigned to a lawyer."))
    name = (lawyer_name or "").strip()
    if not name:
        raise OutcomeRefused(_l("Name the lawyer assigned."))
    application.assigned_lawyer = name[:100]
    session.flush()
    _file_on_case(session, user, application.consultation, "consultation.legal_aid",
                  _("Legal aid lawyer assigned: %(name)s", name=application.assigned_lawyer))


# --- petition cases -------------------------------------------------------------------------


def proposed_petitions(session: Session) -> list[Consultation]:
    """Closed as "turn into a petition case", not linked to a case yet."""
    return list(session.scalars(
        select(Consultation).where(Consultation.outcome == Outcome.PETITION,
                                   Consultation.case_id.is_(None))
        .order_by(Consultation.closed_at).limit(200)))


def confirm_petition(session: Session, user: Any, consultation: Consultation,
                     case_number: str = "") -> tuple[Case, str | None]:
    """Create a case from the consultation (register_case) or link an existing one by its
    number; then the file records "consultation_linked". Returns the case and, for a new
    case, its query code (shown once)."""
    if not perm.can_confirm_petition(user):
        raise NotAllowed(None)
    _lock(session, consultation)
    if consultation.case_id is not None:
        raise OutcomeRefused(_l("This consultation is linked to a case already."))
    if consultation.status != ConsultationStatus.CLOSED:
        raise OutcomeRefused(_l("The lawyer has not closed this consultation yet."))
    number = (case_number or "").strip()
    code: str | None = None
    if number:
        case = session.scalar(select(Case).where(Case.number == number[:40]))
        if case is None or not case_perm.can_contribute(user, case):
            raise OutcomeRefused(_l("No case you can add to has the number %(number)s.",
                                    number=number[:40]))
    else:
        kind = CASE_KIND_OF_TOPIC.get(Topic(consultation.topic), CaseKind.OTHER) \
            if consultation.topic in {str(t) for t in Topic} else CaseKind.OTHER
        channel = "online" if consultation.channel == "online" else "walk_in"
        case, code = case_ops.register_case(
            session, user, channel=channel, kind=str(kind),
            summary=consultation.question[:2000],
            petitioners=[{"name": consultation.name, "phone": consultation.phone}])
    consultation.case_id = case.id
    consultation.case = case
    session.flush()
    case_ops.record_event(session, user, case, "consultation_linked", {
        "consultation_id": consultation.id,
        "text": outcome_line(consultation) + " · " + consultation.answer[:250]})
    conflicts.check_case(session, case)  # paid counsel recorded before the link
    return case, code


# --- rating ---------------------------------------------------------------------------------


def rate(session: Session, consultation: Consultation, rating: str) -> None:
    """The person rates the answer once, from their own page (the link is the check).
    The row changes only while it has no rating: of two ratings sent at the same instant
    one lands, the other is told it was rated already."""
    try:
        chosen = str(Rating(rating))
    except ValueError:
        raise OutcomeRefused(_l("Choose one of the ratings.")) from None
    _lock(session, consultation)
    if consultation.status != ConsultationStatus.CLOSED:
        raise OutcomeRefused(_l("You can rate the answer once the consultation is closed."))
    done = session.execute(
        update(Consultation)
        .where(Consultation.id == consultation.id, Consultation.rating.is_(None),
               Consultation.status == ConsultationStatus.CLOSED)
        .values(rating=chosen, rated_at=utcnow(), version=Consultation.version + 1)
        .execution_options(synchronize_session=False))
    if getattr(done, "rowcount", 0) != 1:
        raise OutcomeRefused(_l("You have rated this answer already. Thank you."))
    session.expire(consultation)
