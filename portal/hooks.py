"""Hooks the core offers the domains: each domain adds its part of seed-demo here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Flask

from portal.extensions import DbSession

#: a seeder gets the session and a log function; it must be idempotent
Seeder = Callable[[DbSession, Callable[[str], None]], None]


def register_seeder(app: Flask, name: str, seeder: Seeder) -> None:
    app.extensions.setdefault("portal.seeders", []).append((name, seeder))


def seeders(app: Flask) -> list[tuple[str, Seeder]]:
    found: list[tuple[str, Seeder]] = app.extensions.get("portal.seeders", [])
    return found


#: a tick gets the app and the time; the outbox worker calls every tick on each pass, so it
#: must be cheap when it has nothing to do (e.g. run its real work once a day)
Tick = Callable[[Flask, datetime], object]


def register_tick(app: Flask, name: str, tick: Tick) -> None:
    app.extensions.setdefault("portal.ticks", []).append((name, tick))


def ticks(app: Flask) -> list[tuple[str, Tick]]:
    found: list[tuple[str, Tick]] = app.extensions.get("portal.ticks", [])
    return found


#: a home panel gets the logged-in user and returns the HTML of its part of the home page
#: (a work queue), or None when it has nothing for that user
HomePanel = Callable[[Any], "str | None"]


def register_home_panel(app: Flask, name: str, panel: HomePanel, order: int = 50) -> None:
    panels = app.extensions.setdefault("portal.home_panels", [])
    if all(n != name for _o, n, _p in panels):
        panels.append((order, name, panel))
        panels.sort(key=lambda item: (item[0], item[1]))


def home_panels(app: Flask) -> list[HomePanel]:
    return [panel for _order, _name, panel in app.extensions.get("portal.home_panels", [])]


#: a query-page panel gets the case the petitioner opened with their query code and the
#: page's short-lived token (for its own forms), and returns the HTML of its part of the
#: petitioner's query page, or None when it has nothing to show for that case
QueryPanel = Callable[[Any, str], "str | None"]


def register_query_panel(app: Flask, name: str, panel: QueryPanel, order: int = 50) -> None:
    panels = app.extensions.setdefault("portal.query_panels", [])
    if all(n != name for _o, n, _p in panels):
        panels.append((order, name, panel))
        panels.sort(key=lambda item: (item[0], item[1]))


def query_panels(app: Flask) -> list[QueryPanel]:
    return [panel for _order, _name, panel in app.extensions.get("portal.query_panels", [])]


#: what the public landing page offers besides the petitioner's query: (label, endpoint,
#: hint), each a lazy string or an endpoint name; a domain adds its public pages here
LandingOffer = tuple[Any, str, Any]


def register_landing_offer(app: Flask, name: str, offer: LandingOffer, order: int = 50
                           ) -> None:
    offers = app.extensions.setdefault("portal.landing_offers", [])
    if all(n != name for _o, n, _x in offers):
        offers.append((order, name, offer))
        offers.sort(key=lambda item: (item[0], item[1]))


def landing_offers(app: Flask) -> list[LandingOffer]:
    return [offer for _o, _n, offer in app.extensions.get("portal.landing_offers", [])]
