"""Who may do what with the rota and consultations. Deny by default.

- Organisers (clerks and leaders of an office, and the admin) generate and publish the
  rota, approve swaps, see every consultation and the monthly counts, register a visitor's
  consultation.
- A lawyer (role lawyer, with a registry person linked to the account) sees their own
  weeks, asks and answers swaps, and — while on duty, or for consultations handed to them
  — takes and answers consultations; they see the consultations they answered.
- The person asking: only their own consultation, through its personal link.
- The public: the published rota of this week and the next, the page to ask a question.

Each part keeps its rules in its own section below."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from consultations.models import Consultation
from portal.auth.models import User, UserRole, user_organisations
from portal.auth.permissions import holds, is_active_user, is_admin
from portal.auth.roles import Role
from portal.extensions import db
from portal.people.models import Person

ORGANISER_ROLES = (Role.CLERK, Role.LEADER)


def can_organise(user: Any) -> bool:
    return is_admin(user) or holds(user, *ORGANISER_ROLES)


def organisers(session: Any, office_ids: Iterable[int | None] = ()) -> list[User]:
    """Who is told as the organisers (conflicts, a duty lawyer offline): the active clerks
    and leaders of `office_ids`; every organiser when no office is named or those
    offices have none."""
    stmt = (select(User).join(UserRole, UserRole.user_id == User.id)
            .where(User.is_active.is_(True),
                   UserRole.role.in_([str(r) for r in ORGANISER_ROLES])))
    ids = [i for i in office_ids if i is not None]
    if ids:
        mine = list(session.scalars(
            stmt.join(user_organisations, user_organisations.c.user_id == User.id)
            .where(user_organisations.c.organisation_id.in_(ids)).distinct()
            .order_by(User.id)))
        if mine:
            return mine
    return list(session.scalars(stmt.distinct().order_by(User.id)))


def lawyer_person(user: Any) -> Person | None:
    """The registry lawyer the account belongs to (None for anyone else)."""
    if not holds(user, Role.LAWYER):
        return None
    return db.session.scalar(select(Person).where(Person.user_id == user.id,
                                                  Person.kind == "lawyer",
                                                  Person.is_active.is_(True)))


def is_lawyer(user: Any) -> bool:
    return lawyer_person(user) is not None


def can_open_consultations(user: Any) -> bool:
    """The consultations pages at all (which ones: can_view_consultation)."""
    return can_organise(user) or is_lawyer(user)


def can_view_consultation(user: Any, consultation: Consultation) -> bool:
    if not is_active_user(user):
        return False
    return can_organise(user) or answers(user, consultation)


# --- rota -------------------------------------------------------------------------------

def can_manage_rota(user: Any) -> bool:
    """Generate, publish and edit the rota; approve swaps."""
    return can_organise(user)


def has_lawyer_role(user: Any) -> bool:
    """The lawyer's own rota pages: an account not linked to a registry lawyer is told
    so there; acting on weeks needs the link (is_lawyer)."""
    return holds(user, Role.LAWYER)


def can_act_on_own_weeks(user: Any) -> bool:
    """Declare unavailability, ask and answer swaps, issue the feed link."""
    return is_lawyer(user)



# --- intake and queue -------------------------------------------------------------------

def can_see_queue(user: Any) -> bool:
    """The queue on the desk, and "take the next" (whether this lawyer may take now:
    consultations.intake.take_next, by the rota)."""
    return can_organise(user) or is_lawyer(user)


def can_see_waiting(user: Any, consultation: Consultation, week: Any) -> bool:
    """Who waits in the queue (name, topic, time waited), row by row: the organisers, the
    lawyer on duty this `week` (a DutyWeek or None), and a lawyer for the consultations
    handed to them. Any other lawyer sees the counts only."""
    if can_organise(user):
        return True
    me = lawyer_person(user)
    if me is None:
        return False
    return (week is not None and week.lawyer_id == me.id) or consultation.lawyer_id == me.id


def can_register_visitor(user: Any) -> bool:
    return can_organise(user)


def can_log_in_person(user: Any) -> bool:
    """The form; that the lawyer is on duty this week is checked by the operation."""
    return is_lawyer(user)


# --- chat and video ---------------------------------------------------------------------


def answers(user: Any, consultation: Consultation) -> bool:
    """The lawyer answering this consultation (the one side of the chat with a login):
    "their own consultation", for the chat, the video and the outcome alike."""
    if not is_active_user(user):
        return False
    me = lawyer_person(user)
    return me is not None and consultation.lawyer_id == me.id


def still_answers(user: Any, consultation: Consultation, person_id: int | None) -> bool:
    """`answers`, re-checked on each chat event of a connection that passed it when it
    joined as registry person `person_id`: the same active lawyer account, the
    consultation still theirs (not handed over), and their registry entry still active
    and linked to this account (one query by id)."""
    if not (person_id is not None and is_active_user(user) and holds(user, Role.LAWYER)
            and consultation.lawyer_id == person_id):
        return False
    entry = db.session.get(Person, person_id)
    return (entry is not None and entry.is_active and entry.kind == "lawyer"
            and entry.user_id == user.id)


#: write in the chat, attach files, read the attachments (organisers read only)
can_chat = answers


def can_move_to_video(user: Any, consultation: Consultation) -> bool:
    """Open a video room for the consultation while it is answered."""
    from consultations.models import ConsultationStatus

    return answers(user, consultation) and consultation.status == ConsultationStatus.ACTIVE


# --- outcomes, legal aid, answer, conflicts, counts --------------------------------------


def can_close(user: Any, consultation: Consultation) -> bool:
    """Only the consultation's own lawyer closes it: one they are talking to (ACTIVE), or
    one logged in person or registered by the clerk that is still open."""
    from consultations.models import OPEN_CONSULTATION_STATUSES, Channel, ConsultationStatus

    if not answers(user, consultation):
        return False
    if consultation.status == ConsultationStatus.ACTIVE:
        return True
    return (consultation.channel in (Channel.IN_PERSON, Channel.CLERK)
            and consultation.status in OPEN_CONSULTATION_STATUSES)


def can_read_answer(user: Any, consultation: Consultation) -> bool:
    """The written answer (page and PDF): once the consultation is closed, for those who
    see the consultation."""
    from consultations.models import ConsultationStatus

    return (consultation.status == ConsultationStatus.CLOSED
            and can_view_consultation(user, consultation))


def can_handle_legal_aid(user: Any) -> bool:
    """The legal-aid list, decisions and assignments: the centre's staff (organisers)."""
    return can_organise(user)


def can_confirm_petition(user: Any) -> bool:
    """Turning a consultation into a petition case: reception clerks (who register cases)
    and the admin; they may also link an existing case they can contribute to."""
    return holds(user, Role.CLERK, Role.ADMIN)


def can_record_counsel(user: Any) -> bool:
    return can_organise(user)


def can_resolve_conflicts(user: Any) -> bool:
    return can_organise(user)


def can_see_counts(user: Any) -> bool:
    return can_organise(user)
