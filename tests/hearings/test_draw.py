"""Properties of the pure panel draw (hearings.draw) over random registries, bookings and
conflicts: the panel is odd and at least the minimum, the mix holds or the draw refuses
naming the shortage, nobody conflicted or double-booked is chosen, everyone has a
reason, the same seed gives the same panel, and rotation spreads the picks evenly."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hearings import draw

T0 = datetime(2026, 6, 1, 1, 0, tzinfo=UTC)
WINDOW = draw.Window(T0, T0 + timedelta(hours=3))
FIELDS = ("land", "labour", "medical")
NAMES = ("某村村委会", "张三", "县国土局", "某公司", "某律所")
PARTIES = frozenset({"某村村委会", "张三"})

settings.register_profile("panel", deadline=None, max_examples=150,
                          suppress_health_check=[HealthCheck.too_slow])
PROFILE = settings.get_profile("panel")


@st.composite
def candidates(draw_: Any) -> list[draw.Candidate]:
    n = draw_(st.integers(0, 45))
    people = []
    for pid in range(1, n + 1):
        kind = draw_(st.sampled_from(draw.KINDS))
        affs = draw_(st.lists(st.tuples(st.sampled_from((None, 10, 11, 12)),
                                        st.sampled_from(NAMES)), max_size=2))
        last = draw_(st.one_of(st.none(), st.integers(1, 400)))
        people.append(draw.Candidate(
            person_id=pid, name=f"p{pid}", kind=kind,
            field=draw_(st.sampled_from(FIELDS)) if kind == "expert" else None,
            is_active=draw_(st.sampled_from((True, True, True, False))),
            user_id=draw_(st.one_of(st.none(), st.integers(100, 110))),
            organisation_id=draw_(st.sampled_from((None, 20, 21, 22))),
            village_name=draw_(st.sampled_from(("", "红星村", "光明村"))),
            affiliations=tuple(draw.Affil(o, name) for o, name in affs),
            last_sat=None if last is None else T0 - timedelta(days=last)))
    return people


@st.composite
def facts(draw_: Any) -> draw.CaseFacts:
    return draw.CaseFacts(
        party_names=PARTIES, party_addresses=("红星村3组",),
        village_ids=frozenset(draw_(st.sets(st.sampled_from((20, 21)), max_size=1))),
        agency_ids=frozenset(draw_(st.sets(st.sampled_from((10, 11)), max_size=2))),
        agency_names=frozenset({"县国土局"}),
        worked_user_ids=frozenset(draw_(st.sets(st.integers(100, 110), max_size=3))),
        field=draw_(st.sampled_from((None, *FIELDS))))


@st.composite
def bookings(draw_: Any) -> list[draw.Booking]:
    rows = []
    for pid in draw_(st.lists(st.integers(1, 45), max_size=15)):
        start = T0 + timedelta(minutes=draw_(st.integers(-600, 600)))
        rows.append(draw.Booking(pid, f"听证会{pid}", start,
                                 start + timedelta(minutes=draw_(st.integers(30, 300)))))
    return rows


@st.composite
def shape(draw_: Any) -> tuple[int, dict[str, int]]:
    size = draw_(st.sampled_from((5, 7, 9)))
    mix: dict[str, int] = {}
    left = size
    for kind in draw.KINDS:
        mix[kind] = draw_(st.integers(0, min(3, left)))
        left -= mix[kind]
    return size, mix


def conflicted(c: draw.Candidate, f: draw.CaseFacts, books: list[draw.Booking]) -> bool:
    """The rules written out again, independently of draw.exclusions."""
    return (not c.is_active
            or any(a.name in f.party_names or a.name in f.agency_names
                   or a.organisation_id in f.agency_ids for a in c.affiliations)
            or (c.user_id is not None and c.user_id in f.worked_user_ids)
            or (c.organisation_id is not None and c.organisation_id in f.village_ids)
            or (bool(c.village_name) and any(c.village_name in a for a in f.party_addresses))
            or any(b.person_id == c.person_id and b.starts_at < WINDOW.ends_at
                   and WINDOW.starts_at < b.ends_at for b in books))


def counts_for_mix(c: draw.Candidate, kind: str, f: draw.CaseFacts) -> bool:
    return c.kind == kind and (kind != "expert" or not f.field or c.field == f.field)


@PROFILE
@given(candidates(), facts(), bookings(), shape(), st.integers(0, 2**31))
def test_a_draw_is_a_lawful_panel_or_names_the_shortage(people, f, books, size_mix, seed):
    size, mix = size_mix
    result = draw.draw_panel(people, f, books, WINDOW, size=size, mix=mix, seed=seed)
    eligible = [c for c in people if not conflicted(c, f, books)]
    feasible = all(sum(counts_for_mix(c, k, f) for c in eligible) >= n
                   for k, n in mix.items()) and len(eligible) >= size
    assert result.ok == feasible
    if not result.ok:
        assert result.seats == []
        for s in result.shortages:  # each named shortage is real, and says by how many
            if s["kind"] is None:
                assert s["eligible"] < s["needed"]
            else:
                pool = sum(counts_for_mix(c, s["kind"], f) for c in eligible)
                assert s["eligible"] == pool < s["needed"] == mix[s["kind"]]
        return
    chosen = [s.candidate for s in result.seats]
    assert len(chosen) == size and size % 2 == 1 and size >= 5
    assert sorted(s.seat_no for s in result.seats) == list(range(1, size + 1))
    assert len({c.person_id for c in chosen}) == size
    for kind, n in mix.items():
        assert sum(counts_for_mix(c, kind, f) for c in chosen) >= n
    assert not any(conflicted(c, f, books) for c in chosen)
    assert all(s.why.get("code") in ("rotation", "balance") for s in result.seats)
    chosen_ids = {c.person_id for c in chosen}
    assert set(result.passed) == {c.person_id for c in people} - chosen_ids
    assert all(result.passed[pid] for pid in result.passed)
    for c in people:  # the conflicted are passed over with a conflict, never "out-picked"
        if c.person_id in result.passed and conflicted(c, f, books):
            assert all(r["code"] != "outpicked" for r in result.passed[c.person_id])
    # the same seed, the same panel
    again = draw.draw_panel(people, f, books, WINDOW, size=size, mix=mix, seed=seed)
    assert [(s.candidate.person_id, s.seat_no) for s in again.seats] == \
        [(s.candidate.person_id, s.seat_no) for s in result.seats]


@PROFILE
@given(candidates(), facts(), bookings(), st.integers(0, 2**31))
def test_a_substitute_is_of_the_same_kind_and_not_on_the_panel(people, f, books, seed):
    kind = "expert"
    taken = frozenset(c.person_id for c in people[:5])
    result = draw.draw_substitute(people, f, books, WINDOW, kind=kind, field="land",
                                  seat_no=3, taken=taken, seed=seed)
    pool = [c for c in people if c.kind == kind and c.person_id not in taken
            and not conflicted(c, f, books)]
    assert result.ok == bool(pool)
    if not pool:
        assert result.shortages == [{"kind": kind, "field": None, "needed": 1,
                                     "eligible": 0}]
        return
    [seat] = result.seats
    assert seat.seat_no == 3 and seat.candidate in pool
    if any(c.field == "land" for c in pool):
        assert seat.candidate.field == "land"
    assert all(result.passed[c.person_id] for c in people if c is not seat.candidate)


@settings(deadline=None, max_examples=60)
@given(st.lists(st.integers(1, 7), min_size=4, max_size=4), st.sampled_from((5, 7, 9)),
       st.integers(0, 2**31), st.integers(5, 25))
def test_rotation_spreads_the_picks_evenly(pools, size, seed, rounds):
    """Draw after draw, each fed back as history: among equally eligible people of a
    kind (and, for experts, a field), nobody is picked twice more than another."""
    mix = {"deputy": 1, "cppcc": 1, "expert": 2, "lawyer": 1}
    pools = [max(p, mix[k]) for p, k in zip(pools, draw.KINDS, strict=True)]
    people: list[draw.Candidate] = []
    for kind, n in zip(draw.KINDS, pools, strict=True):
        for _ in range(n):
            pid = len(people) + 1
            people.append(draw.Candidate(pid, f"p{pid}", kind,
                                         "land" if kind == "expert" else None))
    if len(people) < size:
        return
    f = draw.CaseFacts(field="land")
    picks: Counter[int] = Counter()
    for r in range(rounds):
        when = T0 - timedelta(days=1000 - r)
        result = draw.draw_panel(people, f, [], WINDOW, size=size, mix=mix, seed=seed + r)
        assert result.ok
        chosen = {s.candidate.person_id for s in result.seats}
        picks.update(chosen)
        people = [c if c.person_id not in chosen else
                  draw.Candidate(c.person_id, c.name, c.kind, c.field, last_sat=when,
                                 times_sat=c.times_sat + 1)
                  for c in people]
    for kind in draw.KINDS:
        counts = [picks[c.person_id] for c in people if c.kind == kind]
        assert max(counts) - min(counts) <= 1, (kind, counts)


def test_the_explanation_names_a_conflict_and_a_booking():
    deputy = draw.Candidate(1, "甲", "deputy", affiliations=(draw.Affil(None, "某村村委会"),))
    busy = draw.Candidate(2, "乙", "deputy")
    free = draw.Candidate(3, "丙", "deputy", last_sat=T0 - timedelta(days=30))
    never = draw.Candidate(4, "丁", "deputy")
    books = [draw.Booking(2, "听证会X", T0 - timedelta(hours=1), T0 + timedelta(hours=1))]
    result = draw.draw_panel([deputy, busy, free, never], draw.CaseFacts(PARTIES), books,
                             WINDOW, size=5, mix={"deputy": 2}, seed=1, min_size=5)
    assert not result.ok and result.shortages == [
        {"kind": None, "field": None, "needed": 3, "eligible": 0}]
    result = draw.draw_panel([deputy, busy, free, never], draw.CaseFacts(PARTIES), books,
                             WINDOW, size=5, mix={"deputy": 3}, seed=1)
    assert result.shortages == [{"kind": "deputy", "field": None, "needed": 3,
                                 "eligible": 2}]
    assert result.passed[1] == [{"code": "affiliation_party", "name": "某村村委会",
                                 "party": "某村村委会"}]
    assert result.passed[2][0]["code"] == "booked"
    assert result.passed[2][0]["title"] == "听证会X"
    # never sat comes before sat 30 days ago
    ok = draw.draw_panel([never, free, *[draw.Candidate(i, f"p{i}", "lawyer")
                                         for i in range(10, 14)]],
                         draw.CaseFacts(), [], WINDOW, size=5, mix={"deputy": 1, "lawyer": 4},
                         seed=2)
    assert ok.seats[0].candidate is never and ok.seats[0].why["last_sat"] is None
    assert ok.passed[3] == [{"code": "outpicked", "kind": "deputy", "field": None}]


def test_a_substitute_for_a_required_expert_is_of_the_case_s_field_or_none():
    """Review 15: when the declined seat was needed for the experts of the case's field,
    another field's expert does not take it; the draw reports the shortage."""
    f = draw.CaseFacts(field="land")
    people = [draw.Candidate(person_id=1, name="p1", kind="expert", field="medical",
                             is_active=True, user_id=None, organisation_id=None,
                             village_name="", affiliations=(), last_sat=None)]
    loose = draw.draw_substitute(people, f, [], WINDOW, kind="expert", field="land",
                                 seat_no=3, taken=frozenset(), seed=1)
    assert loose.ok and loose.seats[0].candidate.field == "medical"
    strict = draw.draw_substitute(people, f, [], WINDOW, kind="expert", field="land",
                                  seat_no=3, taken=frozenset(), seed=1, field_required=True)
    assert not strict.ok
    assert strict.shortages == [{"kind": "expert", "field": "land", "needed": 1,
                                 "eligible": 0}]


def test_the_explanation_says_when_the_lot_decided_and_why_other_fields_wait():
    """Everyone new (never sat): each pick says the seeded order settled the tie; an
    expert of another field than the case's is passed over for the field, not because
    the seat went to someone picked less recently."""
    from hearings.panel_text import describe

    people = [draw.Candidate(person_id=i, name=f"p{i}", kind=kind, field=fld)
              for i, (kind, fld) in enumerate(
                  [("deputy", None), ("deputy", None), ("cppcc", None), ("cppcc", None),
                   ("expert", "land"), ("expert", "land"), ("expert", "land"),
                   ("expert", "medical"), ("lawyer", None), ("lawyer", None)], start=1)]
    result = draw.draw_panel(people, draw.CaseFacts(field="land"), [], WINDOW, size=5,
                             mix={"deputy": 1, "cppcc": 1, "expert": 2, "lawyer": 1},
                             seed=7)
    assert result.ok
    for seat in result.seats:
        text = describe(seat.why)
        assert "never sat" in text and "random order" in text, text
    [medical] = result.passed[8]
    text = describe(medical)
    assert text.startswith("Another field than the case's") and "Land experts" in text
    # no tie: a sole candidate's pick does not mention the lot
    alone = draw.draw_panel(people[:1] + people[2:3] + people[4:6] + people[8:9],
                            draw.CaseFacts(field="land"), [], WINDOW, size=5,
                            mix={"deputy": 1, "cppcc": 1, "expert": 2, "lawyer": 1}, seed=7)
    assert all("random order" not in describe(s.why) for s in alone.seats)
