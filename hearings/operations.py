"""Scheduling a hearing: create it with its participants, reschedule, cancel. Each checks,
changes, records an event on the case file and flushes, never commits; refusals raise
`ScheduleRefused` with the message the organiser reads, before anything is stored."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hearings import invitations, links, observers
from hearings import permissions as perm
from hearings.models import (
    ClosedReason,
    Hearing,
    HearingKind,
    HearingRequest,
    HearingStatus,
    Participant,
    ParticipantRole,
    PlaceKind,
    RequestStatus,
)
from hearings.rules import add_days, rules
from portal.auth.models import User, user_organisations
from portal.auth.permissions import is_active_user, org_ids
from portal.auth.roles import Role
from portal.casefiles import operations as case_ops
from portal.casefiles.clocks import china_day, today_in_china
from portal.casefiles.models import Case, CaseEvent, PartyRole
from portal.casefiles.timeline import lock_case
from portal.errors import DomainError, NotAllowed, StaleEdit
from portal.i18n import lazy_gettext as _l
from portal.orgs.models import Organisation, OrgKind
from portal.timeutil import utcnow

SCHEDULED = "hearing_scheduled"
RESCHEDULED = "hearing_rescheduled"
CANCELLED = "hearing_cancelled"

#: the case events whose actor investigated or handled the case (see presiding_conflict)
HANDLING_EVENTS = ("workflow.start_investigation", "workflow.submit_reply",
                   "workflow.reply", "workflow.request_extension", "workflow.decline")


class ScheduleRefused(DomainError):
    """The hearing cannot be scheduled (or changed) as asked."""


@dataclass
class Plan:
    """What the organiser asks for (times in UTC)."""

    kind: str
    starts_at: datetime
    ends_at: datetime
    place_kind: str
    place: str
    presiding_id: int
    clerk_id: int
    agenda: str = ""
    is_public: bool = True
    closed_reason: str | None = None
    panel_size: int = 5
    observer_seats: int | None = None
    is_urgent: bool = False
    urgent_reason: str = ""
    title: str = ""
    request_id: int | None = None


def presiding_conflict(session: Session, user: Any, case: Case) -> str | None:
    """Why `user` may not preside over a hearing on `case`, or None.

    "Handled or investigated the case" means: the user is the actor of a step of the
    investigation or reply in the case's timeline (HANDLING_EVENTS: starting the
    investigation, submitting or giving the reply, asking for an extension, declining the
    assignment), or belongs to an organisation the case is assigned to (lead or
    co-operating agency), whose officers investigate it. Registering, accepting or
    deciding a review is the office's procedure, not the investigation, and is no
    conflict; neither is being the case's responsible leader (包案领导), who oversees it."""
    acted = session.scalar(select(CaseEvent.id).where(
        CaseEvent.case_id == case.id, CaseEvent.actor_id == user.id,
        CaseEvent.kind.in_(HANDLING_EVENTS)).limit(1))
    if acted is not None:
        return str(_l("%(name)s investigated or replied on this case and may not preside "
                      "over its hearing. Choose another presiding officer.",
                      name=user.display_name))
    assigned = {a.organisation_id for a in case.assignments}
    if assigned & org_ids(user):
        return str(_l("%(name)s works for an agency that handles this case and may not "
                      "preside over its hearing. Choose another presiding officer.",
                      name=user.display_name))
    return None


def notice_deadline(today: Any = None) -> Any:
    """The first day a hearing may be held without being urgent (the notice period)."""
    r = rules()
    return add_days(today or today_in_china(), r.notice_days, r.notice_unit)


def notice_is_late(hearing: Hearing) -> bool:
    """Whether the notice went out (or, not out yet, would go out today) less than the
    notice period before the hearing: allowed for an urgent hearing only."""
    sent = (china_day(hearing.notice_published_at) if hearing.notice_published_at
            else today_in_china())
    return notice_deadline(sent) > china_day(hearing.starts_at)


def _user(session: Session, user_id: int | None) -> User | None:
    user = session.get(User, user_id) if user_id else None
    return user if user is not None and is_active_user(user) else None


def _office_staff(user: User, office_id: int) -> bool:
    return office_id in org_ids(user) and user.has_role(Role.CLERK, Role.LEADER)


def _check_time(plan: Plan, *, is_new: bool, urgent_ok: bool = True) -> None:
    if plan.ends_at <= plan.starts_at:
        raise ScheduleRefused(_l("The hearing must end after it starts."))
    if plan.ends_at - plan.starts_at > timedelta(hours=12):
        raise ScheduleRefused(_l("A hearing lasts at most 12 hours on one day."))
    if plan.starts_at <= utcnow():
        raise ScheduleRefused(_l("The hearing must start in the future."))
    if china_day(plan.starts_at) < notice_deadline():
        if not plan.is_urgent:
            raise ScheduleRefused(_l(
                "The notice must go out at least %(n)d days before the hearing: the "
                "earliest date is %(day)s. For an urgent hearing, tick “urgent” and give "
                "the reason.", n=rules().notice_days, day=notice_deadline().isoformat()))
        if not plan.urgent_reason.strip():
            raise ScheduleRefused(_l("An urgent hearing inside the notice period needs "
                                     "its reason."))


def _check_place(plan: Plan) -> None:
    if plan.place_kind not in {str(k) for k in PlaceKind}:
        raise ScheduleRefused(_l("Choose where the hearing is held."))
    if plan.place_kind != PlaceKind.ONLINE and not plan.place.strip():
        raise ScheduleRefused(_l("Give the hearing room's name and address."))


def _check_plan(session: Session, case: Case, office_id: int, plan: Plan) -> None:
    r = rules()
    if plan.kind not in {str(k) for k in HearingKind}:
        raise ScheduleRefused(_l("Choose the kind of hearing."))
    _check_time(plan, is_new=True)
    _check_place(plan)
    if plan.panel_size < r.min_panel or plan.panel_size % 2 == 0:
        raise ScheduleRefused(_l("The panel needs an odd number of members, at least "
                                 "%(n)d.", n=r.min_panel))
    if plan.panel_size > 31:
        raise ScheduleRefused(_l("A panel has at most 31 members."))
    if not plan.is_public and plan.closed_reason not in {str(c) for c in ClosedReason}:
        raise ScheduleRefused(_l("A hearing that is not public needs its reason (state "
                                 "secrets, business secrets, personal privacy, minors)."))
    if plan.observer_seats is not None and not 0 <= plan.observer_seats <= 1000:
        raise ScheduleRefused(_l("Observer seats: between 0 and 1000."))
    presiding = _user(session, plan.presiding_id)
    if presiding is None or not presiding.has_role(Role.LEADER, Role.CLERK, Role.ADMIN):
        raise ScheduleRefused(_l("Choose the presiding officer among the office's staff."))
    conflict = presiding_conflict(session, presiding, case)
    if conflict:
        raise ScheduleRefused(conflict)
    clerk = _user(session, plan.clerk_id)
    if clerk is None or not _office_staff(clerk, office_id):
        raise ScheduleRefused(_l("Choose the hearing clerk among the office's staff."))
    if clerk.id == presiding.id:
        raise ScheduleRefused(_l("The presiding officer and the clerk must be two people."))


def _participants(session: Session, hearing: Hearing, case: Case) -> list[Participant]:
    rows = [Participant(role=ParticipantRole.PRESIDING, name=hearing.presiding.display_name,
                        user_id=hearing.presiding_id, email=hearing.presiding.email),
            Participant(role=ParticipantRole.CLERK, name=hearing.clerk.display_name,
                        user_id=hearing.clerk_id, email=hearing.clerk.email)]
    for party in case.parties:
        role = (ParticipantRole.PETITIONER if party.role == PartyRole.PETITIONER
                else ParticipantRole.PARTY)
        rows.append(Participant(role=role, name=party.name, party_id=party.id,
                                phone=party.phone))
    lead = case.lead_assignment
    if lead is not None:
        org = session.get(Organisation, lead.organisation_id)
        rows.append(Participant(role=ParticipantRole.AGENCY, name=org.name if org else "",
                                organisation_id=lead.organisation_id))
    return rows


def _when(hearing: Hearing) -> dict[str, Any]:
    return {"starts_at": hearing.starts_at.isoformat(), "ends_at": hearing.ends_at.isoformat(),
            "place_kind": hearing.place_kind, "place": hearing.place}


def schedule_hearing(session: Session, actor: Any, case: Case, plan: Plan,
                     office_id: int | None = None) -> Hearing:
    """A hearing on `case`, held by the case's office, with its participants (each with a
    personal link, invited through hearings.invitations)."""
    if not perm.can_schedule_for(actor, case):
        raise NotAllowed(_l("You may not schedule hearings for this case."))
    office_id = office_id or case.office_id
    _check_plan(session, case, office_id, plan)
    request = None
    if plan.request_id:
        request = session.get(HearingRequest, plan.request_id)
        if request is None or request.case_id != case.id \
                or request.status != RequestStatus.GRANTED:
            raise ScheduleRefused(_l("That request is not a granted request of this case."))
    seats = plan.observer_seats
    if not plan.is_public:
        seats = 0
    elif seats is None:
        seats = rules().default_observer_seats
    hearing = Hearing(
        case_id=case.id, request_id=plan.request_id, kind=plan.kind,
        status=HearingStatus.SCHEDULED,
        title=plan.title.strip()[:200] or str(_l("Hearing on case %(number)s",
                                                   number=case.number)),
        starts_at=plan.starts_at, ends_at=plan.ends_at, place_kind=plan.place_kind,
        place="" if plan.place_kind == PlaceKind.ONLINE else plan.place.strip()[:200],
        office_id=office_id, presiding_id=plan.presiding_id, clerk_id=plan.clerk_id,
        agenda=plan.agenda.strip(), is_public=plan.is_public,
        closed_reason=None if plan.is_public else plan.closed_reason,
        is_urgent=plan.is_urgent,
        urgent_reason=plan.urgent_reason.strip() if plan.is_urgent else "",
        panel_size=plan.panel_size, observer_seats=seats,
        ical_uid=f"{uuid.uuid4()}@portal", ical_sequence=0, created_by_id=actor.id)
    session.add(hearing)
    session.flush()
    payload: dict[str, Any] = {"hearing_id": hearing.id, "title": hearing.title,
                               "kind": hearing.kind, "public": hearing.is_public,
                               **_when(hearing)}
    if not hearing.is_public:
        payload["closed_reason"] = hearing.closed_reason
    if hearing.is_urgent:
        payload["urgent"] = True
        payload["reason"] = hearing.urgent_reason
    case_ops.record_event(session, actor, case, SCHEDULED, payload)
    for participant in _participants(session, hearing, case):
        participant.hearing = hearing
        session.add(participant)
        session.flush()
        links.issue_participant_token(participant)
        invitations.invite(session, actor, hearing, participant)
    session.flush()
    return hearing


def _check_open(hearing: Hearing) -> None:
    if hearing.status not in (HearingStatus.SCHEDULED, HearingStatus.PUBLISHED):
        raise ScheduleRefused(_l("Only a hearing that has not started can be changed or "
                                 "cancelled."))


def _check_version(session: Session, hearing: Hearing, expected_version: int | None
                   ) -> None:
    """Serialise changes of the hearing (through its case's lock) and read it afresh, so
    an edit made from an older page is refused (409) instead of overwriting."""
    lock_case(session, hearing.case)
    session.refresh(hearing)
    if expected_version is not None and expected_version != hearing.version:
        raise StaleEdit(_l("Someone else changed this hearing meanwhile. Your changes are "
                           "kept below: check the hearing's page, then save again."))


def reschedule(session: Session, actor: Any, hearing: Hearing, expected_version: int | None,
               *, starts_at: datetime, ends_at: datetime, place_kind: str, place: str,
               is_urgent: bool = False, urgent_reason: str = "") -> Hearing:
    """Move the hearing (time or place): the .ics SEQUENCE goes up and every invitee gets
    the update (hearings.invitations.send_update). The notice period applies to the new
    time as to a new hearing."""
    if not perm.can_organise(actor, hearing):
        raise NotAllowed(_l("You may not change this hearing."))
    _check_version(session, hearing, expected_version)
    _check_open(hearing)
    plan = Plan(kind=hearing.kind, starts_at=starts_at, ends_at=ends_at,
                place_kind=place_kind, place=place, presiding_id=hearing.presiding_id,
                clerk_id=hearing.clerk_id, is_urgent=is_urgent, urgent_reason=urgent_reason)
    _check_time(plan, is_new=False)
    _check_place(plan)
    before = _when(hearing)
    hearing.starts_at, hearing.ends_at = starts_at, ends_at
    hearing.place_kind = place_kind
    hearing.place = "" if place_kind == PlaceKind.ONLINE else place.strip()[:200]
    if is_urgent and urgent_reason.strip():
        hearing.is_urgent, hearing.urgent_reason = True, urgent_reason.strip()
    after = _when(hearing)
    if after == before:
        raise ScheduleRefused(_l("Nothing changed: give a new time or place."))
    hearing.ical_sequence += 1
    session.flush()
    payload: dict[str, Any] = {"hearing_id": hearing.id, "title": hearing.title,
                               "before": before, **after}
    if is_urgent and urgent_reason.strip():
        payload["reason"] = urgent_reason.strip()
    case_ops.record_event(session, actor, hearing.case, RESCHEDULED, payload)
    invitations.send_update(session, actor, hearing)
    return hearing


def cancel_hearing(session: Session, actor: Any, hearing: Hearing, reason: str,
                   expected_version: int | None = None) -> Hearing:
    if not perm.can_organise(actor, hearing):
        raise NotAllowed(_l("You may not cancel this hearing."))
    _check_version(session, hearing, expected_version)
    _check_open(hearing)
    reason = (reason or "").strip()
    if not reason:
        raise ScheduleRefused(_l("Give the reason for cancelling; the participants are "
                                 "told."))
    hearing.status = HearingStatus.CANCELLED
    hearing.cancelled_at = utcnow()
    hearing.cancel_reason = reason
    hearing.ical_sequence += 1
    session.flush()
    case_ops.record_event(session, actor, hearing.case, CANCELLED, {
        "hearing_id": hearing.id, "title": hearing.title, "reason": reason})
    invitations.send_cancellation(session, actor, hearing)
    observers.tell_cancelled(session, hearing)  # registered observers hear it by SMS
    return hearing


def staff_choices(session: Session, office_id: int) -> list[User]:
    """The presiding officer and clerk choices: the office's active clerks and leaders, and
    the leaders of the organisations above it up to its county (a county leader often
    presides over the petition office's hearings)."""
    above: list[int] = []
    office = session.get(Organisation, office_id)
    node = office.parent if office is not None else None
    while node is not None:
        above.append(node.id)
        if node.kind == OrgKind.COUNTY:
            break
        node = node.parent
    rows = session.execute(select(User, user_organisations.c.organisation_id).join(
        user_organisations, user_organisations.c.user_id == User.id).where(
        user_organisations.c.organisation_id.in_([office_id, *above])).order_by(
        User.display_name, User.id))
    chosen: dict[int, User] = {}
    for user, org_id in rows:
        if not is_active_user(user):
            continue
        if user.has_role(Role.LEADER) or (org_id == office_id and user.has_role(Role.CLERK)):
            chosen.setdefault(user.id, user)
    return list(chosen.values())
