"""Consultation routes: rota (on the one `consultations` blueprint)."""

from __future__ import annotations

from consultations.blueprint import bp  # noqa: F401
