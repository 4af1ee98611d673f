"""The health check's probe of the database (GET /healthz in portal/site.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text


def database_is_up(session: Any) -> bool:
    """Whether the database answers `SELECT 1`. Any failure to reach it counts as down;
    the (scoped) session is rolled back on failure and released either way."""
    try:
        session.execute(text("SELECT 1"))
    except Exception:  # any failure to reach the database is "down"
        session.rollback()
        return False
    finally:
        session.remove()
    return True
