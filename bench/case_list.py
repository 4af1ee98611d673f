"""Case list page with 10,000 cases and filters: p95, one process, in-process WSGI calls.
Target (issue 02): p95 under 50 ms on SQLite. Prints one JSON line per database.

    .venv/bin/python bench/case_list.py [--requests 600] [--backend sqlite|postgresql|all]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from _common import bench_app, emit, postgres_available, summary
from casefiles import populate

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


def spread_states(app: Any) -> None:
    """Give the bulk-made cases a mix of states, so the filters have something to filter."""
    from sqlalchemy import text

    from portal.extensions import db

    with app.app_context():
        for i, state in enumerate(STATES):
            db.session.execute(text("UPDATE cases SET status = :s WHERE id % :n = :i"),
                               {"s": state, "n": len(STATES), "i": i})
        db.session.commit()


def run(app: Any, requests: int) -> dict[str, Any]:
    client = app.test_client()
    client.post("/login", data={"username": "benchclerk", "password": "bench password"})
    for url in URLS:  # warm up, and check each page is really the list
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        assert "2024-XF-" in response.get_data(as_text=True) or "overdue" in url, url
    latencies = []
    started = time.perf_counter()
    for i in range(requests):
        t0 = time.perf_counter()
        client.get(URLS[i % len(URLS)]).get_data()
        latencies.append(time.perf_counter() - t0)
    return summary(latencies, time.perf_counter() - started)


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
