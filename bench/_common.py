"""Helpers for the benchmarks: a throw-away app on SQLite or PostgreSQL, and timing."""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


@contextmanager
def bench_app(backend: str, **overrides: Any) -> Iterator[Any]:
    """A migrated app in a temporary folder; on PostgreSQL a database of its own."""
    from flask_migrate import upgrade

    from portal.extensions import db
    from tests.fixtures.core import build_app, create_pg_database

    with tempfile.TemporaryDirectory() as tmp:
        drop = None
        if backend == "sqlite":
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        else:
            base = os.environ.get("PORTAL_TEST_DATABASE_URL") or os.environ.get(
                "PORTAL_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
            url, drop = create_pg_database(base)
        app = build_app(Path(tmp), url, **overrides)
        with app.app_context():
            upgrade()
        try:
            yield app
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
            if drop:
                drop()


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def summary(latencies_s: list[float], wall_s: float) -> dict[str, float]:
    ms = [v * 1000 for v in latencies_s]
    return {
        "requests": len(ms),
        "req_per_s": round(len(ms) / wall_s, 1),
        "p50_ms": round(statistics.median(ms), 2),
        "p95_ms": round(percentile(ms, 95), 2),
        "p99_ms": round(percentile(ms, 99), 2),
    }


def emit(result: dict[str, Any]) -> None:
    print(json.dumps(result, ensure_ascii=False), flush=True)


def postgres_available() -> bool:
    import psycopg

    url = os.environ.get("PORTAL_TEST_DATABASE_URL",
                         "postgresql://postgres@127.0.0.1:5432/test")
    try:
        psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), connect_timeout=2).close()
        return True
    except Exception:
        return False
