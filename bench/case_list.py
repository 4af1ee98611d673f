"""Case list page with 10,000 cases and filters: p95, one process, in-process WSGI calls.
Target (issue 02): p95 under 50 ms on SQLite. Prints one JSON line per database, with
the median of each URL.

The cases are bulk-made (bench/casefiles.py `populate`), then spread over six states with
the workflow events that lead to each (`spread_states`), so their clocks, and the overdue
filter, are what those states would have after a real procedure.

    .venv/bin/python bench/case_list.py [--requests 600] [--backend sqlite|postgresql|all]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from _common import bench_app, emit, postgres_available, summary
from casefiles import analyse, populate

CASES = 10_000
URLS = [
    "/cases/",
    "/cases/?page=12",
    "/cases/?status=investigating",
    "/cases/?status=replied&page=2",
    "/cases/?overdue=1",
    "/cases/?q=征地补偿款",
    "/cases/?q=土地&status=assigned",
]
STATES = ["registered", "accepted", "assigned", "investigating", "replied", "closed"]


#: the workflow steps that lead to each state (events appended after registration)
STEPS = {
    "registered": [],
    "accepted": ["accept"],
    "assigned": ["accept", "assign"],
    "investigating": ["accept", "assign", "start_investigation"],
    "replied": ["accept", "assign", "start_investigation", "reply"],
    "closed": ["accept", "assign", "start_investigation", "reply", "close"],
}


def spread_states(app: Any) -> None:
    """Give the bulk-made cases a mix of states, so the filters have something to filter,
    with the workflow events that lead there (hash-chained, a day apart), so each case's
    clocks are what its state says: the overdue filter then finds the registered cases
    and the accepted, assigned and investigating ones (their 60-day reply clocks ran out
    in 2024), not the replied and closed ones."""
    from datetime import timedelta

    from sqlalchemy import insert, select, text

    from portal.casefiles.models import Case, CaseEvent
    from portal.casefiles.timeline import _fast_event_json, canonical_json, chain_hash
    from portal.casefiles.timeline import iso_utc as iso
    from portal.extensions import db

    with app.app_context():
        for i, state in enumerate(STATES):
            db.session.execute(text("UPDATE cases SET status = :s WHERE id % :n = :i"),
                               {"s": state, "n": len(STATES), "i": i})
        rows = db.session.execute(
            select(Case.id, Case.number, Case.status, CaseEvent.actor_id, CaseEvent.at,
                   CaseEvent.hash)
            .join(CaseEvent, (CaseEvent.case_id == Case.id) & (CaseEvent.seq == 1))).all()
        events = []
        for case_id, number, status, actor_id, registered_at, prev in rows:
            steps = STEPS[status]
            for seq, action in enumerate(steps, start=2):
                at = registered_at + timedelta(days=seq - 1)
                before = "registered" if seq == 2 else STATES[seq - 2]
                after = STATES[seq - 1] if action != "close" else "closed"
                payload = canonical_json({"from": before, "to": after})
                digest = chain_hash(prev, _fast_event_json(number, seq, f"workflow.{action}",
                                                           actor_id, iso(at), payload))
                events.append({"case_id": case_id, "seq": seq, "kind": f"workflow.{action}",
                               "actor_id": actor_id, "at": at, "payload": payload,
                               "prev_hash": prev, "hash": digest})
                prev = digest
        for lo in range(0, len(events), 5000):
            db.session.execute(insert(CaseEvent), events[lo:lo + 5000])
        try:
            from portal.casefiles.due import refresh_all
        except ImportError:  # an older checkout, for before/after figures
            pass
        else:
            refresh_all(db.session)
        db.session.commit()
    analyse(app)


def run(app: Any, requests: int) -> dict[str, Any]:
    client = app.test_client()
    client.post("/login", data={"username": "benchclerk", "password": "bench password"})
    for url in URLS:  # warm up, and check each page is really the list
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        assert "2024-XF-" in response.get_data(as_text=True) or "overdue" in url, url
    latencies = []
    by_url: dict[str, list[float]] = {url: [] for url in URLS}
    started = time.perf_counter()
    for i in range(requests):
        url = URLS[i % len(URLS)]
        t0 = time.perf_counter()
        client.get(url).get_data()
        latencies.append(time.perf_counter() - t0)
        by_url[url].append(latencies[-1])
    return {**summary(latencies, time.perf_counter() - started),
            "p50_ms_by_url": {url: summary(times, 1)["p50_ms"]
                              for url, times in by_url.items()}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=700)
    parser.add_argument("--backend", default="all")
    args = parser.parse_args()
    for backend in (["sqlite", "postgresql"] if args.backend == "all" else [args.backend]):
        if backend == "postgresql" and not postgres_available():
            emit({"bench": "case_list", "backend": backend, "skipped": "PostgreSQL down"})
            continue
        with bench_app(backend, WTF_CSRF_ENABLED=False) as app:
            populate(app, CASES)
            spread_states(app)
            emit({"bench": "case_list", "cases": CASES, "backend": backend,
                  "urls": URLS, "target_p95_ms": 50, **run(app, args.requests)})


if __name__ == "__main__":
    main()
