"""A year's duty rota for 200 lawyers (target: under 1 s):

- pure: consultations.rota.plan_year alone (the calendar of the holidays package, with 10%
  of the lawyers declaring three weeks each unavailable and a year of earlier load);
- operation: consultations.rota_ops.generate_year on a migrated database (SQLite by
  default, `--backend postgresql` too), replacing the previous draft each round, flushed
  and committed, as the organiser's page does.

Prints one JSON line per figure with the median and p95 in milliseconds.

    .venv/bin/python bench/consultations_rota.py [--lawyers 200] [--rounds 20]
                                                 [--backend sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import date, timedelta
from typing import Any

from _common import bench_app, emit, percentile  # noqa: I001  (sys.path set by _common)


def _figures(name: str, seconds: list[float], **extra: Any) -> dict[str, Any]:
    ms = [s * 1000 for s in seconds]
    return {"bench": name, "rounds": len(ms), "median_ms": round(statistics.median(ms), 2),
            "p95_ms": round(percentile(ms, 95), 2), "max_ms": round(max(ms), 2),
            "target_ms": 1000, "ok": percentile(ms, 95) < 1000, **extra}


def _holidays(year: int) -> list[tuple[date, str]]:
    """A Spring Festival week (closed) and the National Day days, as the admin enters them."""
    spring = [date(year, 2, 8) + timedelta(days=i) for i in range(5)]
    national = [date(year, 10, 1) + timedelta(days=i) for i in range(7)]
    return [(d, "holiday") for d in spring + national]


def pure(lawyers: int, rounds: int, year: int) -> dict[str, Any]:
    from consultations import rota
    from portal.casefiles.holidays import merged_calendar

    calendar = merged_calendar(_holidays(year))
    rng = random.Random(7)
    ids = list(range(1, lawyers + 1))
    mondays = rota.mondays_of(year)
    away = [(i, w) for i in rng.sample(ids, lawyers // 10) for w in rng.sample(mondays, 3)]
    past = {i: rng.randint(0, 2) for i in ids}
    times = []
    plan: list[Any] = []
    for _ in range(rounds):
        started = time.perf_counter()
        plan = rota.plan_year(year, ids, is_working_day=calendar.is_working_day,
                              unavailable=away, past_load=past)
        times.append(time.perf_counter() - started)
    counts = rota.counts(plan)
    return _figures("rota_plan_pure", times, lawyers=lawyers, weeks=len(plan),
                    closed=sum(a.is_closed for a in plan),
                    most_weeks=max(counts.values()), fewest_weeks=min(
                        counts.get(i, 0) for i in ids))


def operation(backend: str, lawyers: int, rounds: int, year: int) -> dict[str, Any]:
    from sqlalchemy import delete

    from consultations import rota_ops
    from consultations.models import DutyWeek, Unavailability
    from portal.auth import operations as auth_ops
    from portal.auth.roles import Role
    from portal.casefiles.holidays import Holiday
    from portal.extensions import db
    from portal.people.models import Person

    with bench_app(backend) as app, app.app_context():
        session = db.session
        organiser = auth_ops.create_user(session, username="bench-organiser",
                                         display_name="组织者", password="x" * 12,
                                         roles={Role.CLERK}, organisations=[],
                                         check_password=False)
        people = [Person(kind="lawyer", name=f"律师{i}", lawyer_firm="某律师事务所",
                         email=f"bench{i}@example.org") for i in range(lawyers)]
        session.add_all(people)
        session.flush()
        rng = random.Random(7)
        from consultations.rota import mondays_of

        mondays = mondays_of(year)
        session.add_all(Unavailability(person_id=p.id, week_start=w)
                        for p in rng.sample(people, lawyers // 10)
                        for w in rng.sample(mondays, 3))
        session.add_all(Holiday(day=d, kind=k, name="假日") for d, k in _holidays(year))
        session.commit()
        times = []
        for _ in range(rounds):
            # every round writes the whole year (the previous draft is removed, untimed)
            session.execute(delete(DutyWeek))
            session.commit()
            started = time.perf_counter()
            rota_ops.generate_year(session, organiser, year)
            session.commit()
            times.append(time.perf_counter() - started)
        return _figures("rota_generate_operation", times, backend=backend, lawyers=lawyers,
                        weeks=len(rota_ops.weeks_of_year(session, year)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lawyers", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--backend", default="sqlite", choices=("sqlite", "postgresql", "both"))
    args = parser.parse_args()
    year = date.today().year + 1  # every week still to come
    emit(pure(args.lawyers, args.rounds, year))
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    ok = True
    for backend in backends:
        result = operation(backend, args.lawyers, args.rounds, year)
        ok = ok and result["ok"]
        emit(result)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
