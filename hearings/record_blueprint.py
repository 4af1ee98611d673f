"""Hearing routes: record (on the one `hearings` blueprint)."""

from __future__ import annotations

from hearings.blueprint import bp  # noqa: F401
