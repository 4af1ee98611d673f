"""The numbers of hearing procedure, each a setting (DOMAIN.md "Public hearings": rules
differ by province). Defaults are sound national ones; a deployment changes them with
PORTAL_HEARING_RULES, a JSON object of the fields below, e.g.
`{"notice_days": 10, "notice_unit": "working"}` (Shandong)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields, replace
from datetime import date, timedelta
from typing import Any

from flask import Flask, current_app

from portal.casefiles import clocks


@dataclass(frozen=True)
class HearingRules:
    #: the office decides on a petitioner's request within this many days (Guangxi 15
    #: calendar days; Anhui 5 working days)
    decide_days: int = 15
    decide_unit: str = "calendar"  # "calendar" | "working"
    #: a granted hearing is held within this many days of the decision
    hold_within_days: int = 30
    #: the public notice goes out at least this many days before the hearing
    notice_days: int = 7
    notice_unit: str = "calendar"
    #: the smallest panel (always odd)
    min_panel: int = 5
    #: the mix a drawn panel asks for: at least this many of each kind
    mix_deputies: int = 1
    mix_cppcc: int = 1
    mix_experts: int = 2
    mix_lawyers: int = 1
    #: reminders to invitees, days before the hearing
    reminder_days: tuple[int, ...] = (3, 1)
    #: observer seats offered by default for a public hearing
    default_observer_seats: int = 30
    #: default speaking time per turn, seconds
    default_turn_seconds: int = 300
    #: the conclusion is served within this many days (on the spot / later)
    serve_days: int = 10
    serve_days_later: int = 20

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> HearingRules:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown hearing rules: {', '.join(sorted(unknown))}")
        values = dict(data)
        if "reminder_days" in values:
            values["reminder_days"] = tuple(int(d) for d in values["reminder_days"])
        rules = replace(cls(), **values)
        for name in ("decide_unit", "notice_unit"):
            if getattr(rules, name) not in ("calendar", "working"):
                raise ValueError(f"{name} must be 'calendar' or 'working'")
        if rules.min_panel < 3 or rules.min_panel % 2 == 0:
            raise ValueError("min_panel must be odd and at least 3")
        return rules


def init_rules(app: Flask) -> None:
    raw = os.environ.get("PORTAL_HEARING_RULES", "").strip()
    data = json.loads(raw) if raw else {}
    data.update(app.config.get("HEARING_RULES", {}))
    app.extensions["hearings.rules"] = HearingRules.from_mapping(data)


def rules(app: Flask | None = None) -> HearingRules:
    return (app or current_app).extensions["hearings.rules"]


def add_days(start: date, days: int, unit: str) -> date:
    """`days` after `start` (the start day not counted), in calendar or working days of
    the portal's holiday calendar."""
    if unit == "working":
        _rules, calendar = clocks.rules_and_calendar()
        return calendar.add_working_days(start, days)
    return start + timedelta(days=days)
