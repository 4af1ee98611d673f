"""The numbers of lawyer duty, each a setting (DOMAIN.md "Lawyer duty"): a deployment
changes them with PORTAL_CONSULTATION_RULES, a JSON object of the fields below."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields, replace
from typing import Any

from flask import Flask, current_app


@dataclass(frozen=True)
class ConsultationRules:
    #: duty hours each working day, Beijing time ("HH:MM-HH:MM" spans)
    hours: tuple[str, ...] = ("09:00-11:30", "14:30-17:30")
    #: the legal-aid centre decides within this many days (Legal Aid Law Art. 43) ...
    aid_decide_days: int = 7
    #: ... and assigns a lawyer within this many days of granting
    aid_assign_days: int = 3
    #: a limitation period ending within this many days puts an application first (Art. 44)
    aid_urgent_days: int = 7
    #: a week with fewer working days than this has no duty (a holiday week)
    min_working_days: int = 2
    #: the longest chat message, characters
    max_message: int = 2000
    #: the largest attachment, bytes
    max_file_bytes: int = 10 * 1024 * 1024
    #: minutes without the duty lawyer online before the person is told when to expect an
    #: answer and the clerk is alerted
    offline_alert_minutes: int = 10

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> ConsultationRules:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown consultation rules: {', '.join(sorted(unknown))}")
        values = dict(data)
        if "hours" in values:
            values["hours"] = tuple(values["hours"])
        return replace(cls(), **values)


def init_rules(app: Flask) -> None:
    raw = os.environ.get("PORTAL_CONSULTATION_RULES", "").strip()
    data = json.loads(raw) if raw else {}
    data.update(app.config.get("CONSULTATION_RULES", {}))
    app.extensions["consultations.rules"] = ConsultationRules.from_mapping(data)


def rules(app: Flask | None = None) -> ConsultationRules:
    found: ConsultationRules = (app or current_app).extensions["consultations.rules"]
    return found
