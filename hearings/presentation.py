"""How hearings are described to people: the titles of the hearing events on the case
file's timeline, the labels the pages share, "when" in Beijing time."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hearings.models import (
    ClosedReason,
    HearingKind,
    HearingStatus,
    PlaceKind,
    RequestChannel,
    RequestStatus,
)
from portal.enums import labels
from portal.i18n import lazy_gettext as _l

LOCAL = ZoneInfo("Asia/Shanghai")

#: the timeline titles of the events this part writes
EVENT_LABELS: dict[str, Any] = {
    "hearing_requested": _l("A hearing was requested"),
    "hearing_request_decided": _l("The request for a hearing was decided"),
    "hearing_scheduled": _l("A hearing was scheduled"),
    "hearing_rescheduled": _l("The hearing was moved"),
    "hearing_cancelled": _l("The hearing was cancelled"),
    "hearing_notice_published": _l("The hearing's public notice was published"),
    "hearing_panel_drawn": _l("The hearing panel was drawn"),
    "hearing_panel_picked": _l("A panel member was picked by hand"),
    "hearing_panel_removed": _l("A panel member was removed"),
    "hearing_started": _l("The hearing began"),
    "hearing_ended": _l("The hearing ended"),
    "hearing_record_filed": _l("The hearing record was filed"),
}

LABELS: dict[str, Any] = {
    "kind_labels": labels(HearingKind), "status_labels": labels(HearingStatus),
    "place_labels": labels(PlaceKind), "closed_labels": labels(ClosedReason),
    "request_labels": labels(RequestStatus), "channel_labels": labels(RequestChannel),
}


def register_event_labels() -> None:
    """Give the case timeline (portal.casefiles.presentation) our events' titles."""
    from portal.casefiles.presentation import EVENT_LABELS as CASE_EVENT_LABELS

    for kind, title in EVENT_LABELS.items():
        CASE_EVENT_LABELS.setdefault(kind, title)


def local(at: datetime) -> datetime:
    return at.astimezone(LOCAL)


def when(start: datetime, end: datetime) -> str:
    """"2026-12-20 09:00–12:00" in Beijing time."""
    a, b = local(start), local(end)
    tail = b.strftime("%H:%M") if a.date() == b.date() else b.strftime("%Y-%m-%d %H:%M")
    return f"{a.strftime('%Y-%m-%d %H:%M')}–{tail}"
