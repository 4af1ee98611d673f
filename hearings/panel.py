"""Panel operations: load the candidates from the people registry and the bookings (a few
queries, no N+1), run the pure draw (hearings.draw), record it (a PanelDraw row and a
case event), pick by hand, remove a member, draw a substitute for a declined seat.

Operations flush, never commit; they raise portal.errors exceptions with the message
the organiser reads."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hearings import draw, invitations, links, video_rooms
from hearings import permissions as perm
from hearings.locking import lock_hearing
from hearings.models import (
    Hearing,
    HearingStatus,
    PanelDraw,
    Participant,
    ParticipantRole,
    PickedBy,
    Rsvp,
)
from hearings.panel_text import describe, shortage_message
from hearings.rules import rules
from portal.auth.models import user_organisations
from portal.casefiles import operations as case_ops
from portal.casefiles.models import AccessGrant, Assignment, AssignmentStatus, Case, CaseEvent
from portal.errors import DomainError, NotFound
from portal.i18n import lazy_gettext as _l
from portal.orgs.models import Organisation, OrgKind
from portal.people.models import Affiliation, Person

#: the hearing states in which the panel may still change
COMPOSABLE = frozenset({HearingStatus.SCHEDULED, HearingStatus.PUBLISHED})


@dataclass
class Inputs:
    """Everything the draw works on, as plain data."""

    candidates: list[draw.Candidate]
    facts: draw.CaseFacts
    bookings: list[draw.Booking]
    window: draw.Window


# --- reading -------------------------------------------------------------------------------


def panel_seats(hearing: Hearing, active_only: bool = True) -> list[Participant]:
    """The panel seats in seat order (the active ones, or all with the replaced ones)."""
    rows = [p for p in hearing.participants if p.role == ParticipantRole.PANEL
            and (p.is_active or not active_only)]
    return sorted(rows, key=lambda p: (p.seat_no or 0, p.id))


def last_draw(session: Session, hearing: Hearing) -> PanelDraw | None:
    return session.scalar(select(PanelDraw).where(PanelDraw.hearing_id == hearing.id)
                          .order_by(PanelDraw.id.desc()).limit(1))


def case_facts(session: Session, case: Case) -> draw.CaseFacts:
    """What conflicts are measured against: parties, villages, handling agencies, and the
    accounts that worked on the case."""
    assigned = set(session.scalars(select(Assignment.organisation_id).where(
        Assignment.case_id == case.id, Assignment.status != AssignmentStatus.WITHDRAWN)))
    granted = set(session.scalars(select(AccessGrant.organisation_id).where(
        AccessGrant.case_id == case.id)))
    agencies = assigned | granted
    names = set(session.scalars(select(Organisation.name).where(
        Organisation.id.in_(sorted(agencies))))) if agencies else set()
    worked = {u for u in session.scalars(select(CaseEvent.actor_id).distinct().where(
        CaseEvent.case_id == case.id)) if u is not None}
    if assigned:
        worked |= set(session.scalars(select(user_organisations.c.user_id).where(
            user_organisations.c.organisation_id.in_(sorted(assigned)))))
    return draw.CaseFacts(
        party_names=frozenset(p.name for p in case.parties if p.name),
        party_addresses=tuple(p.address for p in case.parties if p.address),
        village_ids=frozenset({case.village_id} if case.village_id else set()),
        agency_ids=frozenset(agencies), agency_names=frozenset(names),
        worked_user_ids=frozenset(worked), field=draw.field_for(case.kind))


def load_candidates(session: Session, hearing: Hearing,
                    person_ids: list[int] | None = None) -> list[draw.Candidate]:
    """The registry's panel pool (the active people of the panel kinds), or the people
    named, with their affiliations and when each last sat on a panel (and how often):
three queries."""
    q = (select(Person.id, Person.name, Person.kind, Person.expert_field, Person.is_active,
                Person.user_id, Person.organisation_id, Organisation.name, Organisation.kind)
         .outerjoin(Organisation, Organisation.id == Person.organisation_id)
         .where(Person.kind.in_(draw.KINDS)))
    aq = select(Affiliation.person_id, Affiliation.organisation_id, Affiliation.name)
    if person_ids is None:
        q = q.where(Person.is_active.is_(True))
        aq = aq.join(Person, Person.id == Affiliation.person_id).where(
            Person.kind.in_(draw.KINDS), Person.is_active.is_(True))
    else:
        q = q.where(Person.id.in_(person_ids))
        aq = aq.where(Affiliation.person_id.in_(person_ids))
    affiliations: dict[int, list[draw.Affil]] = {}
    for pid, org_id, name in session.execute(aq):
        affiliations.setdefault(pid, []).append(draw.Affil(org_id, name))
    history = select(Participant.person_id, Hearing.starts_at).join(
        Hearing, Hearing.id == Participant.hearing_id).where(
        perm.panel_seat_clause(), Participant.person_id.is_not(None),
        Hearing.id != hearing.id, Hearing.status != HearingStatus.CANCELLED,
        Hearing.starts_at < hearing.starts_at)
    if person_ids is not None:
        history = history.where(Participant.person_id.in_(person_ids))
    last_sat: dict[int, datetime] = {}
    times: dict[int, int] = {}
    for hid, at in session.execute(history):
        if hid is not None:
            times[hid] = times.get(hid, 0) + 1
            if hid not in last_sat or at > last_sat[hid]:
                last_sat[hid] = at
    return [draw.Candidate(
        person_id=pid, name=name, kind=kind, field=field, is_active=active, user_id=uid,
        organisation_id=org_id,
        village_name=(org_name or "") if org_kind == OrgKind.VILLAGE else "",
        affiliations=tuple(affiliations.get(pid, ())), last_sat=last_sat.get(pid),
        times_sat=times.get(pid, 0))
        for pid, name, kind, field, active, uid, org_id, org_name, org_kind
        in session.execute(q.order_by(Person.id))]


def load_bookings(session: Session, hearing: Hearing, window: draw.Window | None = None
                  ) -> list[draw.Booking]:
    """Active panel seats in other live hearings overlapping this one (or `window`): one
    query."""
    starts_at, ends_at = ((window.starts_at, window.ends_at) if window is not None
                          else (hearing.starts_at, hearing.ends_at))
    rows = session.execute(
        select(Participant.person_id, Hearing.title, Hearing.starts_at, Hearing.ends_at)
        .join(Hearing, Hearing.id == Participant.hearing_id)
        .where(perm.panel_seat_clause(), Participant.person_id.is_not(None),
               Hearing.id != hearing.id, Hearing.status != HearingStatus.CANCELLED,
               Hearing.starts_at < ends_at, Hearing.ends_at > starts_at))
    return [draw.Booking(pid, title, starts, ends) for pid, title, starts, ends in rows
            if pid is not None]


def load_inputs(session: Session, hearing: Hearing,
                person_ids: list[int] | None = None) -> Inputs:
    return Inputs(load_candidates(session, hearing, person_ids),
                  case_facts(session, hearing.case), load_bookings(session, hearing),
                  draw.Window(hearing.starts_at, hearing.ends_at))


def booked_elsewhere(session: Session, hearing: Hearing, window: draw.Window
                     ) -> list[tuple[Participant, draw.Booking]]:
    """This panel's members (not declined) who sit on another live hearing's panel
    overlapping `window`: a move there would book them twice."""
    seats = {p.person_id: p for p in panel_seats(hearing)
             if p.person_id is not None and p.rsvp != Rsvp.DECLINED}
    if not seats:
        return []
    return [(seats[b.person_id], b) for b in load_bookings(session, hearing, window)
            if b.person_id in seats]


# --- checks ----------------------------------------------------------------------------

#: the PostgreSQL advisory lock that serialises every change of panel bookings (a draw, a
#: pick, a substitute, a hearing moved): a person's bookings span hearings, so one
#: hearing's row lock is not enough
BOOKINGS_LOCK = 0x48454152  # "HEAR"


def lock_bookings(session: Session) -> None:
    """Hold the panel bookings until the transaction ends (PostgreSQL; on SQLite a
    writer holds the whole database anyway). Taken before any hearing row lock."""
    if session.connection().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(BOOKINGS_LOCK)))



def _lock(session: Session, hearing: Hearing) -> None:
    """Serialise the panel's writers (two organisers drawing, or picking for the same free
    seat, at once), then read the seats as committed."""
    lock_hearing(session, hearing)


def _ensure_composable(hearing: Hearing) -> None:
    if hearing.status not in COMPOSABLE:
        raise DomainError(_l("The panel can no longer change: the hearing is no longer "
                             "being prepared."))


def _mix() -> dict[str, int]:
    r = rules()
    return {"deputy": r.mix_deputies, "cppcc": r.mix_cppcc, "expert": r.mix_experts,
            "lawyer": r.mix_lawyers}


def _ensure_size(hearing: Hearing) -> None:
    r = rules()
    size = hearing.panel_size
    if size < r.min_panel or size % 2 == 0:
        raise DomainError(_l("The panel must have an odd number of seats, at least "
                             "%(min)d; this hearing has %(n)d.", min=r.min_panel, n=size))
    if sum(_mix().values()) > size:
        raise DomainError(_l("The mix of kinds asks for more seats (%(mix)d) than the "
                             "panel has (%(n)d).", mix=sum(_mix().values()), n=size))


# --- writing ---------------------------------------------------------------------------


def _seat(session: Session, hearing: Hearing, person: Person, seat_no: int,
          picked_by: str, reason: str) -> Participant:
    p = Participant(hearing=hearing, role=ParticipantRole.PANEL, person_id=person.id,
                    user_id=person.user_id, name=person.name, email=person.email,
                    phone=person.phone, panel_kind=person.kind, seat_no=seat_no,
                    picked_by=picked_by, pick_reason=reason)
    session.add(p)
    links.issue_participant_token(p)
    return p


def _invite(session: Session, actor: Any, hearing: Hearing, seats: list[Participant]
            ) -> None:
    """The new members' invitations, once their rows have ids (one flush for all)."""
    session.flush()
    for p in seats:
        invitations.invite(session, actor, hearing, p)


def _explanation(result: draw.Result, inputs: Inputs, size: int,
                 mix: dict[str, int]) -> dict[str, Any]:
    """The draw as stored: who was chosen and why; who was excluded and why; and, grouped
    by their one shared reason, the eligible people out-picked by rotation (compact: a
    registry of thousands is mostly that)."""
    by_id = {c.person_id: c for c in inputs.candidates}
    passed: list[dict[str, Any]] = []
    outpicked: dict[tuple[str, str | None], dict[str, Any]] = {}
    for pid, why in result.passed.items():
        c = by_id[pid]
        if len(why) == 1 and why[0].get("code") == "outpicked":
            outpicked.setdefault((c.kind, why[0].get("field")), {
                "kind": c.kind, "field": why[0].get("field"), "why": why[0], "people": []
            })["people"].append([pid, c.name])
        else:
            passed.append({"person_id": pid, "name": c.name, "kind": c.kind,
                           "field": c.field, "why": why})
    return {
        "seed": result.seed, "size": size, "mix": mix, "field": inputs.facts.field,
        "chosen": [{"person_id": s.candidate.person_id, "name": s.candidate.name,
                    "kind": s.candidate.kind, "field": s.candidate.field,
                    "seat_no": s.seat_no, "why": s.why} for s in result.seats],
        "passed": passed, "outpicked": list(outpicked.values()),
    }


def _record(session: Session, actor: Any, hearing: Hearing, result: draw.Result,
            explanation: dict[str, Any], seat_no: int | None) -> PanelDraw:
    row = PanelDraw(hearing_id=hearing.id, seat_no=seat_no, explanation=explanation,
                    drawn_by_id=actor.id)
    session.add(row)
    session.flush()
    names = "、".join(s.candidate.name for s in result.seats)
    title = (_l("Substitute drawn for seat %(n)d of the panel of %(title)s", n=seat_no,
                title=hearing.title) if seat_no else
             _l("Panel drawn for %(title)s", title=hearing.title))
    case_ops.record_event(session, actor, hearing.case, "hearing_panel_drawn", {
        "hearing_id": hearing.id, "draw_id": row.id, "seat_no": seat_no,
        "seed": result.seed, "title": str(title), "text": names})
    return row


def draw_panel(session: Session, actor: Any, hearing: Hearing,
               seed: int | None = None) -> PanelDraw:
    """Draw the whole panel. Replaces the seats nobody accepted (kept, inactive); refused
    once anyone has accepted, or when the mix cannot be filled (nothing drawn then)."""
    lock_bookings(session)
    _lock(session, hearing)
    _ensure_composable(hearing)
    _ensure_size(hearing)
    current = panel_seats(hearing)
    if any(p.rsvp == Rsvp.ACCEPTED for p in current):
        raise DomainError(_l("A member has already accepted: the panel can no longer be "
                             "drawn again. Draw a substitute for a declined seat, or "
                             "remove a member and pick by hand."))
    inputs = load_inputs(session, hearing)
    mix = _mix()
    seed = secrets.randbelow(2**31) if seed is None else seed
    result = draw.draw_panel(inputs.candidates, inputs.facts, inputs.bookings,
                             inputs.window, size=hearing.panel_size, mix=mix, seed=seed,
                             min_size=rules().min_panel)
    if not result.ok:
        raise DomainError(shortage_message(result.shortages))
    for p in current:
        p.is_active = False
    session.flush()
    again = {s.candidate.person_id for s in result.seats}
    for p in current:  # their calendars drop the hearing (unless drawn again)
        if p.person_id not in again:
            invitations.withdraw(session, actor, hearing, p)
    people = {p.id: p for p in session.scalars(select(Person).where(
        Person.id.in_([s.candidate.person_id for s in result.seats])))}
    _invite(session, actor, hearing, [
        _seat(session, hearing, people[s.candidate.person_id], s.seat_no, PickedBy.DRAW,
              describe(s.why)) for s in result.seats])
    video_rooms.sync(session, hearing)
    return _record(session, actor, hearing, result,
                   _explanation(result, inputs, hearing.panel_size, mix), None)


def _free_seat(hearing: Hearing, seats: list[Participant]) -> int | None:
    used = {p.seat_no for p in seats}
    return next((n for n in range(1, hearing.panel_size + 1) if n not in used), None)


def pick_by_hand(session: Session, actor: Any, hearing: Hearing, person_id: int,
                 note: str = "") -> Participant:
    """Seat one person chosen by the organiser on the next free seat, checked against the
    same conflict and booking rules as the draw, and against the mix still to fill."""
    lock_bookings(session)
    _lock(session, hearing)
    _ensure_composable(hearing)
    _ensure_size(hearing)
    person = session.get(Person, person_id)
    if person is None or person.kind not in draw.KINDS:
        raise DomainError(_l("Choose a deputy, CPPCC member, expert or lawyer from the "
                             "registry."))
    seats = panel_seats(hearing)
    seat_no = _free_seat(hearing, seats)
    if seat_no is None:
        raise DomainError(_l("The panel is full: remove a member first."))
    inputs = load_inputs(session, hearing, [person.id])
    cand = inputs.candidates[0]
    taken = frozenset(p.person_id for p in seats if p.person_id is not None)
    reasons = draw.exclusions(cand, inputs.facts, inputs.bookings, inputs.window, taken)
    if reasons:
        raise DomainError(_l("%(name)s cannot sit on this panel: %(why)s", name=person.name,
                             why="; ".join(describe(r) for r in reasons)))
    fields = {pid: f for pid, f in session.execute(select(Person.id, Person.expert_field)
                                                   .where(Person.id.in_(sorted(taken))))}
    seated = [(p.panel_kind or "", fields.get(p.person_id or 0)) for p in seats]
    missing = draw.mix_missing(_mix(), [*seated, (person.kind, person.expert_field)],
                               inputs.facts.field)
    free_after = hearing.panel_size - len(seats) - 1
    if sum(missing.values()) > free_after:
        raise DomainError(_l("The remaining seats are needed for the mix: %(missing)s still "
                             "missing.", missing="、".join(
                                 describe({"code": "count", "kind": k, "n": n,
                                           "field": inputs.facts.field})
                                 for k, n in missing.items())))
    reason = note.strip() or str(_l("Picked by the organiser"))
    p = _seat(session, hearing, person, seat_no, PickedBy.HAND, reason)
    _invite(session, actor, hearing, [p])
    video_rooms.sync(session, hearing)
    case_ops.record_event(session, actor, hearing.case, "hearing_panel_picked", {
        "hearing_id": hearing.id, "seat_no": seat_no, "title": str(_l(
            "Panel member picked by hand for %(title)s", title=hearing.title)),
        "text": person.name})
    return p


def _seat_of(hearing: Hearing, participant_id: int) -> Participant:
    for p in hearing.participants:
        if p.id == participant_id and p.role == ParticipantRole.PANEL and p.is_active:
            return p
    raise NotFound(_l("No such seat on this panel."))


def remove_member(session: Session, actor: Any, hearing: Hearing,
                  participant_id: int) -> Participant:
    """Take a member off the panel (the row stays, inactive, and the link stops working);
    the seat is free for a hand pick."""
    _lock(session, hearing)
    _ensure_composable(hearing)
    seat = _seat_of(hearing, participant_id)
    seat.is_active = False
    seat.token_hash = None
    session.flush()
    invitations.withdraw(session, actor, hearing, seat)
    video_rooms.sync(session, hearing)
    case_ops.record_event(session, actor, hearing.case, "hearing_panel_removed", {
        "hearing_id": hearing.id, "seat_no": seat.seat_no, "title": str(_l(
            "Panel member removed from %(title)s", title=hearing.title)),
        "text": seat.name})
    return seat


def draw_substitute(session: Session, actor: Any, hearing: Hearing, participant_id: int,
                    seed: int | None = None) -> PanelDraw:
    """Draw the seat of a member who declined again: same seat number, same kind, the same
    exclusions plus everyone on the panel (and whoever declined it)."""
    lock_bookings(session)
    _lock(session, hearing)
    _ensure_composable(hearing)
    declined = _seat_of(hearing, participant_id)
    if declined.rsvp != Rsvp.DECLINED:
        raise DomainError(_l("Only a seat whose member declined can be drawn again."))
    all_seats = panel_seats(hearing, active_only=False)
    taken = frozenset(p.person_id for p in all_seats if p.person_id is not None
                      and (p.is_active or p.rsvp == Rsvp.DECLINED))
    inputs = load_inputs(session, hearing)
    kind = declined.panel_kind or ""
    was = declined.person
    # without this seat, does the mix still have its experts of the case's field?
    others = [(p.panel_kind or "", p.person.expert_field if p.person else None)
              for p in all_seats if p.is_active and p.rsvp != Rsvp.DECLINED]
    required = (kind == "expert" and inputs.facts.field is not None
                and draw.mix_missing(_mix(), others, inputs.facts.field).get("expert", 0) > 0)
    seed = secrets.randbelow(2**31) if seed is None else seed
    result = draw.draw_substitute(
        inputs.candidates, inputs.facts, inputs.bookings, inputs.window, kind=kind,
        field=inputs.facts.field if required else (was.expert_field if was else None),
        seat_no=declined.seat_no or 0, taken=taken, seed=seed, field_required=required)
    if not result.ok:
        raise DomainError(shortage_message(result.shortages))
    declined.is_active = False
    session.flush()
    invitations.withdraw(session, actor, hearing, declined)
    chosen = result.seats[0]
    person = session.get(Person, chosen.candidate.person_id)
    assert person is not None
    _invite(session, actor, hearing, [_seat(session, hearing, person, chosen.seat_no,
                                            PickedBy.SUBSTITUTE, describe(chosen.why))])
    video_rooms.sync(session, hearing)
    return _record(session, actor, hearing, result,
                   _explanation(result, inputs, hearing.panel_size, _mix()), chosen.seat_no)


def eligible_people(session: Session, hearing: Hearing, query: str = "",
                    limit: int = 50) -> list[draw.Candidate]:
    """The people a hand pick may choose now (no conflict, not booked, not on the panel),
    least recently seated first, filtered by name, kind or field."""
    inputs = load_inputs(session, hearing)
    taken = frozenset(p.person_id for p in panel_seats(hearing) if p.person_id is not None)
    eligible, _excluded = draw.eligibility(inputs.candidates, inputs.facts,
                                            inputs.bookings, inputs.window, taken)
    q = query.strip().casefold()
    if q:
        from hearings.panel_text import group_label

        eligible = [c for c in eligible if q in c.name.casefold()
                    or q in group_label(c.kind, c.field).casefold()]
    eligible.sort(key=lambda c: (c.last_sat is not None,
                                 c.last_sat.timestamp() if c.last_sat else 0.0, c.person_id))
    return eligible[:limit]
