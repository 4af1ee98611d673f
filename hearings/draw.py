"""The fair panel draw: a pure function over plain data (no database, no Flask), so it
is fast, testable with random registries and reproducible from its seed.

Fair means (DOMAIN.md "Public hearings"): the mix the rules ask for, balanced by kind
and field; rotation (whoever sat least recently first: never before anyone, then the
oldest, then whoever sat on fewer panels); nobody with a conflict or booked elsewhere at
the same time. Ties are broken by a random order drawn from the seed, which the
explanation keeps.

Every reason is a plain dict {"code": ..., params} so the explanation is stored as JSON
and put into words in the reader's language (hearings.panel.describe)."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

Reason = dict[str, Any]

#: the kinds of a panel in the order their mix seats are drawn (hearings.models.PanelKind)
KINDS: tuple[str, ...] = ("deputy", "cppcc", "expert", "lawyer")

#: the case's kind of matter (CaseKind) → the experts' field it needs (ExpertField)
CASE_FIELD: dict[str, str] = {
    "land": "land",
    "demolition": "land",
    "labour": "labour",
    "social_security": "labour",
    "housing": "construction",
    "environment": "environment",
    "law_litigation": "judicial",
    "health": "medical",
    "education": "education",
}


def field_for(case_kind: str | None) -> str | None:
    """The expert field a case of this kind asks for; None: experts of any field."""
    return CASE_FIELD.get(case_kind or "")


@dataclass(slots=True)
class Affil:
    """A declared affiliation: an organisation the portal knows, or a name."""

    organisation_id: int | None
    name: str


@dataclass(slots=True)
class Candidate:
    person_id: int
    name: str
    kind: str
    field: str | None = None
    is_active: bool = True
    user_id: int | None = None
    organisation_id: int | None = None
    #: the person's village's name when their organisation is a village ("" otherwise)
    village_name: str = ""
    affiliations: tuple[Affil, ...] = ()
    #: when the person last sat on a panel (None: never), and on how many panels
    last_sat: datetime | None = None
    times_sat: int = 0


@dataclass(slots=True)
class Booking:
    """An active panel seat of the person in another hearing."""

    person_id: int
    title: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class CaseFacts:
    """What a conflict is measured against."""

    #: the parties' names
    party_names: frozenset[str] = frozenset()
    #: the parties' addresses (a village named in one is a party's village)
    party_addresses: tuple[str, ...] = ()
    #: the case's village (and any party's village the portal knows)
    village_ids: frozenset[int] = frozenset()
    #: the organisations the case is assigned to or shared with, and their names
    agency_ids: frozenset[int] = frozenset()
    agency_names: frozenset[str] = frozenset()
    #: user accounts that acted on the case or belong to a handling agency
    worked_user_ids: frozenset[int] = frozenset()
    #: the expert field the case asks for (None: any)
    field: str | None = None


@dataclass(frozen=True)
class Window:
    """The hearing's time: [starts_at, ends_at)."""

    starts_at: datetime
    ends_at: datetime


@dataclass
class Seat:
    candidate: Candidate
    seat_no: int
    why: Reason


@dataclass
class Result:
    seed: int
    seats: list[Seat] = field(default_factory=list)
    #: person_id → the reasons they were passed over
    passed: dict[int, list[Reason]] = field(default_factory=dict)
    #: [{"kind", "field", "needed", "eligible"}]: what could not be filled (nothing drawn)
    shortages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.shortages


def _norm(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


@lru_cache(maxsize=64)
def _names(parties: frozenset[str], agencies: frozenset[str]
           ) -> tuple[dict[str, str], frozenset[str]]:
    """The parties' and agencies' names as compared (once per draw, not per person)."""
    return {_norm(n): n for n in parties}, frozenset(_norm(n) for n in agencies)


def overlaps(booking: Booking, window: Window) -> bool:
    return booking.starts_at < window.ends_at and window.starts_at < booking.ends_at


def exclusions(c: Candidate, facts: CaseFacts, bookings: Iterable[Booking],
               window: Window, taken: frozenset[int] = frozenset()) -> list[Reason]:
    """Why `c` may not sit on this panel (empty: eligible). `bookings` are the person's
    own (or anyone's: others are ignored)."""
    reasons: list[Reason] = []
    if not c.is_active:
        reasons.append({"code": "inactive"})
    if c.person_id in taken:
        reasons.append({"code": "taken"})
    parties, agencies = _names(facts.party_names, facts.agency_names)
    for a in c.affiliations:
        key = _norm(a.name)
        if key and key in parties:
            reasons.append({"code": "affiliation_party", "name": a.name,
                            "party": parties[key]})
        elif (a.organisation_id is not None and a.organisation_id in facts.agency_ids) \
                or (key and key in agencies):
            reasons.append({"code": "affiliation_agency", "name": a.name})
    if c.user_id is not None and c.user_id in facts.worked_user_ids:
        reasons.append({"code": "worked_on_case"})
    if (c.organisation_id is not None and c.organisation_id in facts.village_ids) or (
            c.village_name and any(c.village_name in addr for addr in facts.party_addresses)):
        reasons.append({"code": "same_village", "village": c.village_name})
    for b in bookings:
        if b.person_id == c.person_id and overlaps(b, window):
            reasons.append({"code": "booked", "title": b.title,
                            "starts": b.starts_at.isoformat(), "ends": b.ends_at.isoformat()})
    return reasons


def _tiebreak(candidates: Sequence[Candidate], seed: int) -> dict[int, float]:
    """A random order of the candidates that depends only on the seed and who they are."""
    rng = random.Random(seed)
    return {pid: rng.random() for pid in sorted({c.person_id for c in candidates})}


def _rotation_key(c: Candidate, ties: Mapping[int, float]
                  ) -> tuple[int, float, int, float]:
    """Never sat first, then the longest ago; among those who last sat on the same day,
    whoever sat on fewer panels (so that picks stay within one of each other); then the
    seeded random order."""
    if c.last_sat is None:
        return (0, 0.0, c.times_sat, ties[c.person_id])
    return (1, c.last_sat.timestamp(), c.times_sat, ties[c.person_id])


def _chosen_why(code: str, c: Candidate, pool: int, by_lot: bool = False) -> Reason:
    why: Reason = {"code": code, "kind": c.kind,
                   "field": c.field if c.kind == "expert" else None,
                   "last_sat": c.last_sat.date().isoformat() if c.last_sat else None,
                   "pool": pool}
    if by_lot:
        why["by_lot"] = True
    return why


def _by_lot(c: Candidate, others: Iterable[Candidate], ties: Mapping[int, float]) -> bool:
    """Whether the seeded random order decided: someone left out stood level with `c` on
    rotation (sat as long ago, as often)."""
    standing = _rotation_key(c, ties)[:3]
    return any(_rotation_key(o, ties)[:3] == standing for o in others)


def eligibility(candidates: Sequence[Candidate], facts: CaseFacts,
                 bookings: Sequence[Booking], window: Window, taken: frozenset[int]
                 ) -> tuple[list[Candidate], dict[int, list[Reason]]]:
    by_person: dict[int, list[Booking]] = {}
    for b in bookings:
        by_person.setdefault(b.person_id, []).append(b)
    eligible: list[Candidate] = []
    excluded: dict[int, list[Reason]] = {}
    for c in candidates:
        reasons = exclusions(c, facts, by_person.get(c.person_id, ()), window, taken)
        if reasons:
            excluded[c.person_id] = reasons
        else:
            eligible.append(c)
    return eligible, excluded


def _mix_pool(eligible: Iterable[Candidate], kind: str, facts: CaseFacts) -> list[Candidate]:
    if kind == "expert" and facts.field:
        return [c for c in eligible if c.kind == kind and c.field == facts.field]
    return [c for c in eligible if c.kind == kind]


def draw_panel(candidates: Sequence[Candidate], facts: CaseFacts,
               bookings: Sequence[Booking], window: Window, *, size: int,
               mix: Mapping[str, int], seed: int, min_size: int = 5,
               seat_numbers: Sequence[int] | None = None) -> Result:
    """A whole panel of `size` seats: the mix first (kind by kind, each by rotation), then
    the open seats to the kind (and expert field) least represented so far, by rotation.
    Draws nothing and names the shortages when the mix or the size cannot be filled."""
    if size < min_size or size % 2 == 0:
        raise ValueError("the panel size must be odd and at least the minimum")
    if sum(mix.values()) > size:
        raise ValueError("the mix asks for more seats than the panel has")
    result = Result(seed=seed)
    eligible, excluded = eligibility(candidates, facts, bookings, window, frozenset())
    ties = _tiebreak(candidates, seed)
    chosen: list[tuple[Candidate, Reason]] = []
    chosen_ids: set[int] = set()
    for kind in KINDS:
        needed = mix.get(kind, 0)
        if needed <= 0:
            continue
        pool = sorted(_mix_pool(eligible, kind, facts), key=lambda c: _rotation_key(c, ties))
        if len(pool) < needed:
            result.shortages.append({"kind": kind,
                                     "field": facts.field if kind == "expert" else None,
                                     "needed": needed, "eligible": len(pool)})
            continue
        chosen += [(c, _chosen_why("rotation", c, len(pool), _by_lot(c, pool[needed:], ties)))
                   for c in pool[:needed]]
        chosen_ids.update(c.person_id for c in pool[:needed])
    rest = [c for c in eligible if c.person_id not in chosen_ids]
    open_seats = size - sum(max(0, mix.get(k, 0)) for k in KINDS)
    if not result.shortages and len(rest) < open_seats:
        result.shortages.append({"kind": None, "field": None, "needed": open_seats,
                                 "eligible": len(rest)})
    if result.shortages:
        result.passed = {c.person_id: excluded.get(c.person_id) or [{"code": "not_drawn"}]
                         for c in candidates}
        return result
    _fill_open_seats(chosen, chosen_ids, rest, open_seats, ties)
    numbers = list(seat_numbers) if seat_numbers is not None else list(range(1, size + 1))
    result.seats = [Seat(c, numbers[i], why) for i, (c, why) in enumerate(chosen)]
    result.passed = _passed(candidates, excluded, chosen_ids, facts.field)
    return result


def _fill_open_seats(chosen: list[tuple[Candidate, Reason]], chosen_ids: set[int],
                     rest: list[Candidate], open_seats: int, ties: Mapping[int, float]
                     ) -> None:
    """Each open seat to whoever of the least represented kind (then expert field) sat
    least recently: balance first, rotation within it."""
    kind_count: dict[str, int] = {}
    field_count: dict[str | None, int] = {}
    for c, _why in chosen:
        kind_count[c.kind] = kind_count.get(c.kind, 0) + 1
        if c.kind == "expert":
            field_count[c.field] = field_count.get(c.field, 0) + 1
    for _ in range(open_seats):
        pick = min((c for c in rest if c.person_id not in chosen_ids),
                   key=lambda c: (kind_count.get(c.kind, 0),
                                  field_count.get(c.field, 0) if c.kind == "expert" else 0,
                                  _rotation_key(c, ties)))
        level = [c for c in rest if c.person_id not in chosen_ids and c is not pick
                 and c.kind == pick.kind and (c.kind != "expert" or c.field == pick.field)]
        pool = sum(1 for c in rest if c.kind == pick.kind and c.person_id not in chosen_ids)
        chosen.append((pick, _chosen_why("balance", pick, pool, _by_lot(pick, level, ties))))
        chosen_ids.add(pick.person_id)
        kind_count[pick.kind] = kind_count.get(pick.kind, 0) + 1
        if pick.kind == "expert":
            field_count[pick.field] = field_count.get(pick.field, 0) + 1


def _passed(candidates: Sequence[Candidate], excluded: Mapping[int, list[Reason]],
            chosen_ids: set[int], case_field: str | None = None) -> dict[int, list[Reason]]:
    """Why each one not chosen was passed over; an expert of another field than the case
    needs was not in the running for its expert seats (`case_field`), only for open ones."""
    passed: dict[int, list[Reason]] = {}
    for c in candidates:
        if c.person_id in chosen_ids:
            continue
        why: Reason = {"code": "outpicked", "kind": c.kind,
                       "field": c.field if c.kind == "expert" else None}
        if c.kind == "expert" and case_field and c.field != case_field:
            why["case_field"] = case_field
        passed[c.person_id] = excluded.get(c.person_id) or [why]
    return passed


def draw_substitute(candidates: Sequence[Candidate], facts: CaseFacts,
                    bookings: Sequence[Booking], window: Window, *, kind: str,
                    field: str | None, seat_no: int, taken: frozenset[int], seed: int,
                    field_required: bool = False) -> Result:
    """One seat again (a member declined): someone of the same kind — for an expert,
    of the same field when anyone is, and only of that field when `field_required` (the
    seat is needed for the mix's experts of the case's field) — by rotation, with the same
    exclusions plus everyone already on the panel (`taken`)."""
    result = Result(seed=seed)
    eligible, excluded = eligibility(candidates, facts, bookings, window, taken)
    ties = _tiebreak(candidates, seed)
    pool = [c for c in eligible if c.kind == kind
            and (not field_required or c.field == field)]
    if not pool:
        result.shortages.append({"kind": kind, "field": field if field_required else None,
                                 "needed": 1, "eligible": 0})
        result.passed = {c.person_id: excluded.get(c.person_id) or [{"code": "not_drawn"}]
                         for c in candidates}
        return result
    pick = min(pool, key=lambda c: (0 if field is None or c.field == field else 1,
                                    _rotation_key(c, ties)))
    result.seats = [Seat(pick, seat_no, _chosen_why("substitute", pick, len(pool)))]
    result.passed = _passed(candidates, excluded, {pick.person_id})
    return result


def mix_missing(mix: Mapping[str, int], seated: Iterable[tuple[str, str | None]],
                field: str | None) -> dict[str, int]:
    """How many of each kind the mix still needs, given the (kind, field) of the seats
    already filled (an expert counts for the mix only in the case's field)."""
    have: dict[str, int] = {}
    for kind, f in seated:
        if kind == "expert" and field and f != field:
            continue
        have[kind] = have.get(kind, 0) + 1
    return {k: mix.get(k, 0) - have.get(k, 0) for k in KINDS
            if mix.get(k, 0) > have.get(k, 0)}
