"""The hearing record's text, assembled from the hearing when the minutes are frozen:
the facts of the hearing, who sat and who attended, the recusal answers, each stage's
minutes (MINUTES_STAGES order) with its speakers and their times, and the panel's
opinion. The text is what is signed and hashed, so it is plain text, in the portal's
default language whatever the clerk's page language, and nothing in it depends on when
it is assembled."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from hearings.models import (
    MINUTES_STAGES,
    Attendance,
    Hearing,
    HearingKind,
    MinutesSection,
    PanelKind,
    Participant,
    ParticipantRole,
    PlaceKind,
    Speaker,
    Stage,
)
from portal.enums import labels
from portal.i18n import in_locale
from portal.i18n import lazy_gettext as _l
from portal.timeutil import beijing

RULE = "—" * 20


def _when(at: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return beijing(at).strftime(fmt) if at is not None else "—"


def _label(table: Mapping[Any, Any], value: str | None) -> str:
    return str(table.get(value or "", value or "—"))


def _duration(seconds: int) -> str:
    minutes, secs = divmod(max(0, int(seconds)), 60)
    return str(_l("%(m)d min %(s)02d s", m=minutes, s=secs))


def _spoken(s: Speaker) -> int:
    """Seconds used: what was banked at pauses, plus the running stretch if it ended."""
    used = s.used_seconds or 0
    if s.started_at is not None and s.ended_at is not None:
        used += int((s.ended_at - s.started_at).total_seconds())
    return used


def assemble_text(session: Session, hearing: Hearing) -> str:
    locale = str(current_app.config.get("BABEL_DEFAULT_LOCALE", "zh_CN")) \
        if has_app_context() else "zh_CN"
    with in_locale(locale):
        return "\n".join(_lines(session, hearing)) + "\n"


def _people(hearing: Hearing) -> list[Participant]:
    return [p for p in hearing.participants if p.is_active]


def _lines(session: Session, hearing: Hearing) -> list[str]:
    roles, kinds = labels(ParticipantRole), labels(PanelKind)
    out = [str(_l("Hearing record")), hearing.title, ""]
    out += [
        str(_l("Case number: %(v)s", v=hearing.case.number)),
        str(_l("Kind: %(v)s", v=_label(labels(HearingKind), hearing.kind))),
        str(_l("Scheduled: %(start)s–%(end)s (Beijing time)",
               start=_when(hearing.starts_at), end=_when(hearing.ends_at, "%H:%M"))),
        str(_l("Held: %(start)s–%(end)s", start=_when(hearing.started_at),
               end=_when(hearing.ended_at))),
        str(_l("Place: %(kind)s %(place)s", kind=_label(labels(PlaceKind),
                                                        hearing.place_kind),
               place=hearing.place or "")).rstrip(),
        str(_l("Presiding officer: %(v)s", v=hearing.presiding.display_name)),
        str(_l("Hearing clerk: %(v)s", v=hearing.clerk.display_name)),
        "",
        str(_l("Panel members:")),
    ]
    panel = sorted((p for p in _people(hearing) if p.role == ParticipantRole.PANEL),
                   key=lambda p: (p.seat_no or 0, p.id))
    out += [f"  {p.seat_no or '-'}. {p.name}（{_label(kinds, p.panel_kind)}）"
            for p in panel] or ["  —"]
    out += ["", str(_l("Attendance:"))]
    for p in _people(hearing):
        state = _label(labels(Attendance), p.attendance)
        if p.checked_in_at is not None:
            state += " " + _when(p.checked_in_at, "%H:%M")
        out.append(f"  {p.name}（{_label(roles, p.role)}）：{state}")
    answers = [p for p in _people(hearing) if (p.recusal_answer or "").strip()]
    out += ["", str(_l("Recusal: answers of the parties:"))]
    out += [f"  {p.name}（{_label(roles, p.role)}）：{p.recusal_answer.strip()}"
            for p in answers if p.recusal_answer] or ["  " + str(_l("No answer recorded."))]
    out += _minutes(session, hearing, roles)
    if (hearing.panel_opinion or "").strip():
        out += ["", RULE, str(_l("Opinion of the panel:")), hearing.panel_opinion.strip()]
    return out


def _minutes(session: Session, hearing: Hearing, roles: Mapping[Any, Any]) -> list[str]:
    sections = {m.stage: m for m in session.scalars(
        select(MinutesSection).where(MinutesSection.hearing_id == hearing.id))}
    speakers = list(session.scalars(
        select(Speaker).where(Speaker.hearing_id == hearing.id)
        .order_by(Speaker.position, Speaker.id)))
    stage_labels = labels(Stage)
    out: list[str] = []
    for stage in MINUTES_STAGES:
        out += ["", RULE, f"【{_label(stage_labels, stage)}】"]
        turns = [s for s in speakers if s.stage == stage]
        if turns:
            out.append(str(_l("Speakers:")))
            for s in turns:
                p = s.participant
                line = str(_l("%(name)s (%(role)s): allotted %(allotted)s, spoke %(used)s",
                              name=p.name, role=_label(roles, p.role),
                              allotted=_duration(s.seconds), used=_duration(_spoken(s))))
                if s.ended_at is not None:
                    line += str(_l(", ended %(at)s", at=_when(s.ended_at, "%H:%M")))
                out.append("  " + line)
        text = (sections[stage].text if stage in sections else "").strip()
        out.append(text or str(_l("(No minutes were written for this stage.)")))
    return out
