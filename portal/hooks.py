"""Hooks the core offers the domains: each domain adds its part of seed-demo here."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from portal.extensions import DbSession

#: a seeder gets the session and a log function; it must be idempotent
Seeder = Callable[[DbSession, Callable[[str], None]], None]


def register_seeder(app: Flask, name: str, seeder: Seeder) -> None:
    app.extensions.setdefault("portal.seeders", []).append((name, seeder))


def seeders(app: Flask) -> list[tuple[str, Seeder]]:
    found: list[tuple[str, Seeder]] = app.extensions.get("portal.seeders", [])
    return found
