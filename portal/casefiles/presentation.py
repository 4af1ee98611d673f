"""How a case file reads on a page, in the print view and in the PDF export: the labels
the templates use, the wording of each timeline event, the names of the organisations
and people a page mentions, and the rows of the action buttons. No view, no rule: the
blueprints and export.py read from here."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.auth.models import User
from portal.casefiles.clocks import CHINA
from portal.casefiles.forms import DOCUMENT_KINDS, KIND_LABELS
from portal.casefiles.models import (
    CHANNEL_LABELS,
    GRANT_LABELS,
    STATUS_LABELS,
    Case,
    CaseEvent,
    Status,
)
from portal.casefiles.timeline import events_of, payload_of
from portal.casefiles.workflow import ACTION_LABELS, TRANSITIONS, Action, allowed_actions
from portal.crypto import mask_id_number, mask_phone
from portal.i18n import lazy_gettext as _l
from portal.identity import IdKind
from portal.orgs.models import Organisation

#: actions that undo or end something: the button asks for confirmation
DESTRUCTIVE = frozenset({Action.NOT_ACCEPT, Action.CLOSE, Action.ARCHIVE, Action.RETURN_REPLY,
                         Action.DECLINE})

TIMELINE_GROUPS: dict[str, Any] = {
    "workflow": _l("Procedure"),
    "document": _l("Documents"),
    "access": _l("Sharing"),
    "case": _l("Case details"),
    "clock": _l("Clocks"),
}

#: the title of each event kind: a past-tense statement of what happened
EVENT_LABELS: dict[str, Any] = {
    "case.registered": _l("The case was registered"),
    "case.edited": _l("The case details were changed"),
    "case.leader_set": _l("A responsible leader was named"),
    "case.final": _l("The matter was closed at the last level (三级终结)"),
    "case.query_code_reissued": _l("A new query code was issued"),
    "document.added": _l("A document was added"),
    "document.version_added": _l("A new version of a document was added"),
    "access.granted": _l("The file was shared with an agency"),
    "access.revoked": _l("Sharing with an agency was withdrawn"),
    "clock.paused": _l("The time limit was paused"),
    "clock.resumed": _l("The time limit runs again"),
    "reception.note": _l("A reception note was filed"),
    "reception.note.answered": _l("The petitioner answered the reception note"),
    "recording.filed": _l("A reception recording was filed"),
    "note": _l("A work note was added"),
    "satisfaction": _l("The petitioner rated the handling"),
    # the procedure: one per workflow action (workflow.<action>)
    "workflow.accept": _l("The case was accepted"),
    "workflow.not_accept": _l("The case was not accepted"),
    "workflow.assign": _l("The case was assigned to agencies"),
    "workflow.decline": _l("The agency declined the assignment"),
    "workflow.start_investigation": _l("The investigation began"),
    "workflow.reply": _l("A reply was given"),
    "workflow.return_reply": _l("The reply was returned for rework"),
    "workflow.request_review": _l("A request for review was recorded"),
    "workflow.decide_review": _l("The review decision was recorded"),
    "workflow.request_re_review": _l("A request for re-review was recorded"),
    "workflow.decide_re_review": _l("The re-review decision was recorded"),
    "workflow.close": _l("The case was closed"),
    "workflow.archive": _l("The case was archived"),
    "workflow.request_instructions": _l("Instructions were requested"),
    "workflow.give_instructions": _l("Instructions were given"),
    "workflow.extend": _l("The time limit was extended"),
    "workflow.supervise": _l("A supervision notice was issued"),
    "workflow.submit_reply": _l("The reply was submitted for sign-off"),
    "workflow.sign_off_reply": _l("The reply was signed off"),
    "workflow.send_back_reply": _l("The reply was sent back for rework"),
    "workflow.request_extension": _l("An extension was asked for"),
    "workflow.refuse_extension": _l("The extension was refused"),
}

#: the title of an event of a kind not listed above, by its group
GROUP_FALLBACK: dict[str, Any] = {
    "workflow": _l("A step of the procedure was recorded"),
    "case": _l("The case file was updated"),
    "document": _l("The documents were updated"),
    "access": _l("Sharing was changed"),
    "clock": _l("The time limits were updated"),
    "reception": _l("A reception was recorded"),
    "recording": _l("A reception recording was recorded"),
}

#: the names of the fields an event mentions (case.edited's changes, payload texts)
FIELD_LABELS: dict[str, Any] = {
    "summary": _l("Case summary"),
    "kind": _l("Kind of matter"),
    "township_id": _l("Township"),
    "village_id": _l("Village"),
    "is_urgent": _l("Urgent"),
    "is_simple": _l("Simple handling"),
    "leader_plan": _l("Plan"),
}

#: a reception note's answer by the petitioner
NOTE_ANSWERS: dict[str, Any] = {
    "confirmed": _l("confirmed by the petitioner"),
    "refused": _l("refused by the petitioner"),
}

RATINGS: dict[str, Any] = {
    "satisfied": _l("Satisfied"),
    "basically_satisfied": _l("Basically satisfied"),
    "unsatisfied": _l("Not satisfied"),
}

#: longest free text shown in a timeline line
DETAIL_MAX = 300


_ACTIONS = frozenset(str(a) for a in Action)


def label(labels: dict[Any, Any], key: str | None) -> str:
    """The label of `key` (a stored string) in `labels`; the key itself when unknown."""
    if key is None:
        return "—"
    for k, v in labels.items():
        if str(k) == key:
            return str(v)
    return key


def status_label(value: str | None) -> str:
    return label(STATUS_LABELS, value)


def action_label(action: str) -> str:
    try:
        return str(ACTION_LABELS[Action(action)])
    except ValueError:
        return action


#: what every case-file template gets
def id_kind_label(kind: str | None) -> str:
    """The document's name beside its number, where it is not the resident ID card."""
    if not kind or kind == IdKind.RESIDENT_ID:
        return ""
    try:
        return str(IdKind(kind).label)
    except ValueError:
        return kind


LABELS: dict[str, Any] = {
    "status_labels": STATUS_LABELS, "channel_labels": CHANNEL_LABELS,
    "kind_labels": KIND_LABELS, "grant_labels": GRANT_LABELS,
    "document_kinds": DOCUMENT_KINDS, "label": label, "status_label": status_label,
    "mask_id": mask_id_number, "mask_phone": mask_phone, "id_kind_label": id_kind_label,
}


def org_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    rows = session.scalars(select(Organisation).where(Organisation.id.in_(wanted)))
    return {o.id: o.name for o in rows}


def user_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    rows = session.execute(select(User.id, User.display_name).where(User.id.in_(wanted)))
    return {uid: name for uid, name in rows}


def case_org_ids(case: Case) -> list[int | None]:
    """The organisations a case page names: its places, its office, its agencies."""
    return [case.township_id, case.village_id, case.office_id,
            *(a.organisation_id for a in case.assignments),
            *(g.organisation_id for g in case.grants)]


def china_time(at: datetime, seconds: bool = False) -> str:
    """2026-12-02 16:00 in Beijing time (UTC+8, no daylight saving): one reading in
    every language, never 12/2/26."""
    return at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def _text(value: Any) -> str:
    """Free text of a payload, on one line and not too long."""
    text = " ".join(str(value or "").split())
    return text if len(text) <= DETAIL_MAX else text[:DETAIL_MAX - 1] + "…"


def joined(items: Iterable[str]) -> str:
    """A list in words: 甲、乙 in Chinese, "a, b" in English."""
    locale = get_locale()
    sep = "、" if locale is not None and locale.language == "zh" else ", "
    return sep.join(i for i in items if i)


def _field(key: str) -> str:
    return str(FIELD_LABELS[key]) if key in FIELD_LABELS else ""


def title_of(kind: str) -> str:
    """The past-tense title of an event kind; never the stored key itself."""
    if kind in EVENT_LABELS:
        return str(EVENT_LABELS[kind])
    group = kind.split(".", 1)[0]
    return str(GROUP_FALLBACK.get(group, _("An event was recorded")))


def _workflow_detail(kind: str, data: dict[str, Any]) -> list[str]:
    parts = []
    if data.get("from") and data.get("to") and data.get("from") != data.get("to"):
        parts.append(_("State: %(before)s → %(after)s", before=status_label(data.get("from")),
                       after=status_label(data.get("to"))))
    if kind == "workflow.assign":
        lead = (data.get("lead") or {}).get("organisation", "")
        co = joined(c.get("organisation", "") for c in data.get("co") or [])
        parts.append(_("Lead agency: %(lead)s", lead=lead))
        if co:
            parts.append(_("co-operating: %(co)s", co=co))
        if data.get("due_on"):
            parts.append(_("due %(day)s", day=data["due_on"]))
    if kind == "workflow.extend" and data.get("days"):
        parts.append(_("by %(n)d days", n=int(data["days"])))
    if data.get("text"):
        parts.append(_text(data["text"]))
    if data.get("reason"):
        parts.append(_("Reason: %(reason)s", reason=_text(data["reason"])))
    return parts


def _detail(kind: str, data: dict[str, Any]) -> list[str]:
    from portal.casefiles.clock_ops import PAUSE_KINDS

    if kind.startswith("workflow."):
        return _workflow_detail(kind, data)
    if kind in ("document.added", "document.version_added"):
        return [_("%(title)s, version %(v)s (%(name)s)", title=data.get("title", ""),
                  v=data.get("version", ""), name=data.get("original_name", ""))]
    if kind.startswith("access."):
        return [str(data.get("organisation", "")), label(GRANT_LABELS, data.get("level"))]
    if kind == "case.edited":
        names = [_field(k) for k in (data.get("changes") or {})]
        return [_("Changed: %(fields)s", fields=joined(names))] \
            if any(names) else []
    if kind == "case.registered":
        return [label(CHANNEL_LABELS, data.get("channel")),
                label(KIND_LABELS, data.get("kind")) if data.get("kind") else ""]
    if kind == "case.leader_set":
        return [_("Plan: %(plan)s", plan=_text(data["plan"]))] if data.get("plan") else []
    if kind == "case.final":
        return [_("The same facts and reasons are not accepted again.")]
    if kind in ("clock.paused", "clock.resumed"):
        why = str(PAUSE_KINDS[data["kind"]]) if data.get("kind") in PAUSE_KINDS else ""
        return [why, _("Reason: %(reason)s", reason=_text(data["reason"]))
                if data.get("reason") else ""]
    if kind == "reception.note":
        return [_text(data.get("title")), _text(data.get("demands") or data.get("facts")),
                str(NOTE_ANSWERS.get(str(data.get("status")), ""))]
    if kind == "reception.note.answered":
        return [str(NOTE_ANSWERS.get(str(data.get("status")), "")),
                _("Reason: %(reason)s", reason=_text(data["refusal_reason"]))
                if data.get("refusal_reason") else ""]
    if kind == "satisfaction":
        return [str(RATINGS.get(str(data.get("rating")), ""))]
    # any other kind: its free texts only, never its keys
    return [_text(data[k]) for k in ("title", "text", "reason", "note")
            if isinstance(data.get(k), str) and data.get(k)][:2]


def describe(event: CaseEvent) -> tuple[str, str]:
    """The title (what happened, in the past tense) and the one-line detail of a
    timeline event, with field names and values in words, never stored keys."""
    data = payload_of(event)
    return title_of(event.kind), " · ".join(p for p in _detail(event.kind, data) if p)


def timeline(session: Session, case: Case, group: str) -> list[dict[str, Any]]:
    """The case's events, newest first, of one group (all when `group` is not one)."""
    events = events_of(session, case)
    if group in TIMELINE_GROUPS:
        events = [e for e in events if e.kind.startswith(group + ".")]
    names = user_names(session, (e.actor_id for e in events))
    rows = []
    for e in reversed(events):
        title, detail = describe(e)
        rows.append({"event": e, "title": title, "detail": detail, "at": china_time(e.at),
                     "actor": names.get(e.actor_id or 0, _("the petitioner")
                                        if e.kind == "satisfaction" else "—"),
                     "group": e.kind.split(".")[0]})
    return rows


def action_rows(case: Case, user: Any) -> list[dict[str, Any]]:
    """The buttons of the procedure box: the actions `user` may take now."""
    rows = []
    for action in allowed_actions(case, user):
        if action == Action.ASSIGN:
            continue  # its own form, with the agencies and the letter
        rule = TRANSITIONS[(Status(case.status), action)]
        rows.append({"action": str(action), "label": ACTION_LABELS[action],
                     "reason_required": rule.reason_required,
                     "destructive": action in DESTRUCTIVE,
                     "days": action == Action.REQUEST_EXTENSION,
                     # a reply is written: its text goes on the timeline like a reason
                     "text": action in (Action.REPLY, Action.SUBMIT_REPLY)
                     and not rule.reason_required})
    return rows
