"""How a case file reads on a page, in the print view and in the PDF export: the labels
the templates use, the wording of each timeline event, the names of the organisations
and people a page mentions, and the rows of the action buttons. No view, no rule: the
blueprints and export.py read from here."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.auth.models import User
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

EVENT_LABELS: dict[str, Any] = {
    "case.registered": _l("Case registered"),
    "case.edited": _l("Case details changed"),
    "case.leader_set": _l("Responsible leader named"),
    "case.final": _l("Final: the same facts are not accepted again (三级终结)"),
    "case.query_code_reissued": _l("New query code issued"),
    "document.added": _l("Document added"),
    "document.version_added": _l("New version of a document"),
    "access.granted": _l("File shared"),
    "access.revoked": _l("Sharing withdrawn"),
    "clock.paused": _l("Clock paused"),
    "clock.resumed": _l("Clock resumed"),
}


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


def describe(event: CaseEvent) -> tuple[str, str]:
    """The title and the one-line detail of a timeline event."""
    data = payload_of(event)
    kind = event.kind
    if kind.startswith("workflow."):
        name = kind.split(".", 1)[1]
        title = action_label(name) if name in _ACTIONS else kind
        parts = []
        if data.get("from") != data.get("to"):
            parts.append(f"{status_label(data.get('from'))} → {status_label(data.get('to'))}")
        if kind == "workflow.assign":
            lead = (data.get("lead") or {}).get("organisation", "")
            co = "、".join(c.get("organisation", "") for c in data.get("co") or [])
            parts.append(_("Lead: %(lead)s", lead=lead) + (
                "; " + _("with: %(co)s", co=co) if co else ""))
            if data.get("due_on"):
                parts.append(_("due %(day)s", day=data["due_on"]))
        if kind == "workflow.extend" and data.get("days"):
            parts.append(_("%(n)d days", n=int(data["days"])))
        if data.get("reason"):
            parts.append(str(data["reason"]))
        return title, " · ".join(parts)
    title = str(EVENT_LABELS.get(kind, kind))
    if kind.startswith("document."):
        return title, _("%(title)s, version %(v)s (%(name)s)", title=data.get("title", ""),
                        v=data.get("version", ""), name=data.get("original_name", ""))
    if kind.startswith("access."):
        return title, f"{data.get('organisation', '')} · " + label(GRANT_LABELS,
                                                                    data.get("level"))
    if kind == "case.edited":
        return title, "、".join(sorted((data.get("changes") or {}).keys()))
    if kind == "case.registered":
        return title, label(CHANNEL_LABELS, data.get("channel"))
    if kind == "case.leader_set":
        return title, str(data.get("plan") or "")
    return title, str(data.get("reason") or data.get("note") or "")


def timeline(session: Session, case: Case, group: str) -> list[dict[str, Any]]:
    """The case's events, newest first, of one group (all when `group` is not one)."""
    events = events_of(session, case)
    if group in TIMELINE_GROUPS:
        events = [e for e in events if e.kind.startswith(group + ".")]
    names = user_names(session, (e.actor_id for e in events))
    rows = []
    for e in reversed(events):
        title, detail = describe(e)
        rows.append({"event": e, "title": title, "detail": detail,
                     "actor": names.get(e.actor_id or 0, "—"), "group": e.kind.split(".")[0]})
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
