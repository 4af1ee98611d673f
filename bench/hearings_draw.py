"""The panel draw with 2,000 registry people and 500 booked panel seats elsewhere.

Prints one JSON line per database: the median and p95 over 50 draws of
- `pure`: hearings.draw.draw_panel over the loaded plain data;
- `load`: loading that data (candidates with affiliations and history, bookings, the
  case's facts: a handful of queries);
- `full`: the whole operation hearings.panel.draw_panel (load, draw, seat the five
  members with their links, the PanelDraw row and the case event), each rolled back.
Target: under 50 ms.

    .venv/bin/python bench/hearings_draw.py [--draws 50] [--backend sqlite|postgresql|all]
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from _common import bench_app, emit, percentile, postgres_available
from casefiles import _setup

PEOPLE = 2_000
BOOKED = 500
HISTORY_HEARINGS = 300
FIELDS = ("land", "labour", "judicial", "medical", "education", "environment")
T = datetime(2026, 9, 1, 1, 0, tzinfo=UTC)


def populate(app: Any) -> dict[str, Any]:
    """The registry, a case and its hearing, other hearings around it holding 500 panel
    seats (half of them at overlapping times), and past hearings for the rotation."""
    from sqlalchemy import insert

    from hearings.models import Hearing, Participant
    from portal.casefiles import operations as case_ops
    from portal.extensions import db
    from portal.orgs.models import Organisation
    from portal.people.models import Affiliation, Person

    rng = random.Random(7)
    with app.app_context():
        office, clerk, _admin = _setup(app)
        village = Organisation(name="基准村", kind="village")
        db.session.add(village)
        db.session.flush()
        case, _code = case_ops.register_case(
            db.session, clerk, channel="walk_in", kind="land",
            summary="村委会占用承包地修路，未给补偿。", village_id=village.id,
            petitioners=[{"name": "张三", "id_number": "110101195001011239",
                          "phone": "13800138000", "address": "基准村3组"}],
            others=[{"name": "基准村村委会"}])
        kinds = ["deputy"] * 400 + ["cppcc"] * 300 + ["expert"] * 900 + ["lawyer"] * 400
        db.session.execute(insert(Person), [
            {"kind": k, "name": f"{k}{i}", "email": f"p{i}@example.org",
             "expert_field": FIELDS[i % len(FIELDS)] if k == "expert" else None,
             "lawyer_licence_no": f"L{i:08d}" if k == "lawyer" else None,
             "organisation_id": village.id if i % 97 == 0 else None, "is_active": i % 50 != 0,
             "version": 1, "created_at": T, "updated_at": T}
            for i, k in enumerate(kinds)])
        ids = list(db.session.scalars(db.select(Person.id).order_by(Person.id)))
        db.session.execute(insert(Affiliation), [
            {"person_id": rng.choice(ids), "name": rng.choice(["基准村村委会", "某公司", "张三"])}
            for _ in range(200)])

        def hearing(start: datetime, status: str = "published") -> dict[str, Any]:
            return {"case_id": case.id, "kind": "petition", "status": status,
                    "title": f"听证会{uuid.uuid4().hex[:6]}", "starts_at": start,
                    "ends_at": start + timedelta(hours=3), "office_id": office.id,
                    "presiding_id": clerk.id, "clerk_id": clerk.id,
                    "ical_uid": f"{uuid.uuid4()}@bench", "created_by_id": clerk.id,
                    "created_at": T, "version": 1, "place_kind": "room", "place": "",
                    "agenda": "", "is_public": True, "is_urgent": False,
                    "urgent_reason": "", "panel_size": 5, "observer_seats": 0,
                    "ical_sequence": 0, "stage": "not_started", "panel_opinion": "",
                    "cancel_reason": ""}

        target = Hearing(**hearing(T, "scheduled"))
        db.session.add(target)
        booked = [hearing(T + timedelta(hours=rng.randint(-2, 2) if i % 2 else
                                        rng.randint(5, 200))) for i in range(BOOKED // 5)]
        past = [hearing(T - timedelta(days=rng.randint(10, 700)), "filed")
                for _ in range(HISTORY_HEARINGS)]
        db.session.execute(insert(Hearing), booked + past)
        db.session.flush()
        others = list(db.session.scalars(db.select(Hearing.id).where(Hearing.id != target.id)))
        seats = []
        for hid in others:
            for seat_no, pid in enumerate(rng.sample(ids, 5), start=1):
                seats.append({"hearing_id": hid, "role": "panel", "name": f"p{pid}",
                              "person_id": pid, "panel_kind": "deputy", "seat_no": seat_no,
                              "picked_by": "draw", "pick_reason": "", "rsvp": "accepted",
                              "decline_reason": "", "reminders_sent": [],
                              "is_active": True, "attendance": "absent", "created_at": T})
        db.session.execute(insert(Participant), seats)
        db.session.commit()
        return {"hearing_id": target.id, "clerk_id": clerk.id, "booked": len(booked) * 5,
                "past_seats": len(past) * 5}


def _stats(values: list[float]) -> dict[str, float]:
    ms = sorted(v * 1000 for v in values)
    return {"median_ms": round(ms[len(ms) // 2], 2), "p95_ms": round(percentile(ms, 95), 2)}


def run(app: Any, backend: str, draws: int) -> None:
    from hearings import draw
    from hearings import panel as ops
    from hearings.models import Hearing
    from hearings.rules import rules
    from portal.auth.models import User
    from portal.extensions import db

    made = populate(app)
    with app.app_context():
        session = db.session()
        hearing = session.get(Hearing, made["hearing_id"])
        assert hearing is not None
        mix = {"deputy": rules().mix_deputies, "cppcc": rules().mix_cppcc,
               "expert": rules().mix_experts, "lawyer": rules().mix_lawyers}
        loads, pure = [], []
        for i in range(draws):
            t0 = time.perf_counter()
            inputs = ops.load_inputs(session, hearing)
            t1 = time.perf_counter()
            result = draw.draw_panel(inputs.candidates, inputs.facts, inputs.bookings,
                                     inputs.window, size=5, mix=mix, seed=i)
            t2 = time.perf_counter()
            assert result.ok, result.shortages
            loads.append(t1 - t0)
            pure.append(t2 - t1)
        full = []
        for i in range(draws):
            hearing = session.get(Hearing, made["hearing_id"])
            clerk = session.get(User, made["clerk_id"])
            t0 = time.perf_counter()
            row = ops.draw_panel(session, clerk, hearing, seed=i)
            session.flush()
            full.append(time.perf_counter() - t0)
            assert len(row.explanation["chosen"]) == 5
            session.rollback()
        emit({"bench": "hearings_draw", "backend": backend, "people": PEOPLE,
              "candidates": len(inputs.candidates), "booked_seats": made["booked"],
              "past_seats": made["past_seats"],
              "overlapping_bookings": len(inputs.bookings), "draws": draws,
              "pure": _stats(pure), "load": _stats(loads), "full": _stats(full),
              "target_ms": 50})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--draws", type=int, default=50)
    parser.add_argument("--backend", default="all", choices=["sqlite", "postgresql", "all"])
    args = parser.parse_args()
    for backend in (["sqlite", "postgresql"] if args.backend == "all" else [args.backend]):
        if backend == "postgresql" and not postgres_available():
            emit({"bench": "hearings_draw", "backend": backend, "skipped": "no PostgreSQL"})
            continue
        with bench_app(backend) as app:
            run(app, backend, args.draws)


if __name__ == "__main__":
    main()
