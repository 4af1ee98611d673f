"""The draw's reasons in words, in the reader's language (the explanation is stored as
codes and parameters, hearings.draw)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from portal.i18n import lazy_gettext as _l
from portal.people.models import FIELD_LABELS
from portal.timeutil import beijing

#: a group of people of one kind, as a sentence names them
GROUPS: dict[str, Any] = {
    "deputy": _l("deputies"),
    "cppcc": _l("CPPCC members"),
    "expert": _l("experts"),
    "lawyer": _l("lawyers"),
}


def group_label(kind: str | None, field: str | None = None) -> str:
    """"deputies", "land experts"; "open seats" for no kind."""
    if kind is None:
        return str(_l("open seats (any kind)"))
    if kind == "expert" and field:
        return str(_l("%(field)s experts", field=FIELD_LABELS.get(cast(Any, field), field)))
    return str(GROUPS.get(kind, kind))


def _when(iso: str | None) -> str:
    try:
        return beijing(datetime.fromisoformat(iso or "")).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return ""


def _last_sat(reason: dict[str, Any]) -> str:
    if reason.get("last_sat"):
        return str(_l("last sat %(day)s", day=reason["last_sat"]))
    return str(_l("never sat on a panel"))


def _lot(reason: dict[str, Any]) -> str:
    """How a tie was settled, when one was."""
    if reason.get("by_lot"):
        return str(_l("; others stood level with them, and the draw's random order (from "
                      "its seed) decided"))
    return ""


def describe(reason: dict[str, Any]) -> str:
    """One reason of the draw (chosen or passed over) as a sentence."""
    code = reason.get("code")
    group = group_label(reason.get("kind"), reason.get("field"))
    if code in ("rotation", "balance", "substitute") and reason.get("by_lot"):
        return _chosen(code, group, reason) + _lot(reason)
    if code == "outpicked" and reason.get("case_field") \
            and reason.get("case_field") != reason.get("field"):
        return str(_l("Another field than the case's: its expert seats are for "
                      "%(needed)s (and no open seat came to this person)",
                      needed=group_label("expert", reason.get("case_field"))))
    return _chosen(code, group, reason)


def _chosen(code: Any, group: str, reason: dict[str, Any]) -> str:
    if code == "rotation":
        return str(_l("Least recently picked of the %(group)s; %(last)s", group=group,
                      last=_last_sat(reason)))
    if code == "balance":
        return str(_l("An open seat, given to the least represented kind: least recently "
                      "picked of the %(group)s; %(last)s", group=group,
                      last=_last_sat(reason)))
    if code == "substitute":
        return str(_l("Substitute for a declined seat: least recently picked of the "
                      "%(group)s; %(last)s", group=group, last=_last_sat(reason)))
    if code == "outpicked":
        return str(_l("The seats for %(group)s went to people picked less recently",
                      group=group))
    if code == "count":
        return str(_l("%(n)d of the %(group)s", n=int(reason.get("n", 0)), group=group))
    return _exclusion(code, reason)


def _exclusion(code: Any, reason: dict[str, Any]) -> str:
    if code == "inactive":
        return str(_l("No longer active in the registry"))
    if code == "taken":
        return str(_l("Already on this panel"))
    if code == "affiliation_party":
        return str(_l("Declared affiliation with %(name)s (a party)",
                      name=reason.get("name", "")))
    if code == "affiliation_agency":
        return str(_l("Declared affiliation with %(name)s (the handling agency)",
                      name=reason.get("name", "")))
    if code == "worked_on_case":
        return str(_l("Worked on this case"))
    if code == "same_village":
        if reason.get("village"):
            return str(_l("Same village as a party (%(village)s)", village=reason["village"]))
        return str(_l("Same village as a party"))
    if code == "booked":
        ends = _when(reason.get("ends"))
        return str(_l("Booked: %(title)s %(start)s–%(end)s", title=reason.get("title", ""),
                      start=_when(reason.get("starts")), end=ends[-5:]))
    if code == "not_drawn":
        return str(_l("Nothing was drawn"))
    return str(_l("Not eligible"))


def shortage_message(shortages: list[dict[str, Any]]) -> str:
    """Which kind is short and by how many, for the organiser."""
    parts = [str(_l("%(group)s: %(needed)d needed, %(eligible)d eligible (short by "
                    "%(short)d)", group=group_label(s.get("kind"), s.get("field")),
                    needed=int(s["needed"]), eligible=int(s["eligible"]),
                    short=int(s["needed"]) - int(s["eligible"])))
             for s in shortages]
    return str(_l("Not enough eligible people for the panel; nothing was drawn. %(parts)s.",
                  parts="; ".join(parts)))
