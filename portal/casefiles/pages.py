"""What the two case-file blueprints share: loading a case the user may see (404 when
they may not, even when it exists), the case page with all its forms, and the choice
lists the forms offer."""

from __future__ import annotations

from typing import Any, cast

from flask import abort, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import idempotency
from portal.auth.models import User, UserRole
from portal.auth.roles import Role
from portal.casefiles import clock_ops
from portal.casefiles import clocks as clk
from portal.casefiles import permissions as perm
from portal.casefiles.forms import (
    INLINE_TYPES,
    PLAYABLE_TYPES,
    AssignForm,
    DocumentForm,
    GrantForm,
    LeaderForm,
    SummaryForm,
)
from portal.casefiles.integrity import check_case
from portal.casefiles.models import Case, Document
from portal.casefiles.presentation import (
    LABELS,
    TIMELINE_GROUPS,
    action_rows,
    case_org_ids,
    org_names,
    timeline,
    user_names,
)
from portal.casefiles.requests import notes_for
from portal.casefiles.workflow import Action, allowed_actions
from portal.extensions import db
from portal.orgs.models import Organisation, OrgKind
from portal.web import render


def session() -> Session:
    return cast(Session, db.session)


def load(number: str) -> Case:
    """The case, when the user may view it; 404 otherwise (even when it exists)."""
    case = session().scalar(select(Case).where(Case.number == number))
    if case is None or not perm.can_view(current_user, case):
        abort(404)
    return case


def load_managed(number: str) -> Case:
    """The case, when the user may manage it: 404 when they may not even see it, else 403."""
    case = load(number)
    if not perm.can_manage(current_user, case):
        abort(403)
    return case


def case_url(case: Case, anchor: str = "") -> str:
    return url_for("cases.show", number=case.number) + (f"#{anchor}" if anchor else "")


def no_store(response: Any) -> Any:
    response.headers["Cache-Control"] = "no-store"
    return response


def agencies(exclude: int | None = None) -> list[tuple[int, str]]:
    rows = session().scalars(select(Organisation).where(
        Organisation.kind == OrgKind.AGENCY, Organisation.is_active.is_(True))
        .order_by(Organisation.name))
    return [(o.id, o.name) for o in rows if o.id != exclude]


def places(kind: OrgKind) -> list[tuple[int, str]]:
    rows = session().scalars(select(Organisation).where(
        Organisation.kind == kind, Organisation.is_active.is_(True)).order_by(Organisation.name))
    return [(o.id, o.full_name) for o in rows]


def leaders() -> list[tuple[int, str]]:
    rows = session().execute(
        select(User.id, User.display_name).join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == Role.LEADER, User.is_active.is_(True))
        .order_by(User.display_name))
    return [(uid, name) for uid, name in rows]


def documents_of(case: Case) -> list[Document]:
    """The case's documents the user may see (a confidential one: the office only)."""
    return [d for d in session().scalars(select(Document).where(Document.case_id == case.id)
                                         .order_by(Document.id))
            if perm.can_view_document(current_user, d)]


def case_page(case: Case, *, block: str = "content", status_code: int = 200,
              summary_form: SummaryForm | None = None,
              revealed: dict[int, tuple[str | None, str | None]] | None = None,
              document_form: DocumentForm | None = None,
              notice: str | None = None) -> ResponseReturnValue:
    """The case page (or one of its blocks), with the forms the user may use."""
    user = current_user
    group = request.args.get("kind", "")
    if summary_form is None:
        summary_form = SummaryForm(formdata=None, summary=case.summary)
        summary_form.version.data = str(case.version)
    if document_form is None:
        document_form = DocumentForm(formdata=None)
        document_form.idempotency_key.data = idempotency.new_key()
    document_form.fill_choices()
    allowed = allowed_actions(case, user)
    can_manage = perm.can_manage(user, case)
    assign_form = grant_form = leader_form = None
    if Action.ASSIGN in allowed or perm.may_assign(user, case):
        assign_form = AssignForm(formdata=None)
        assign_form.fill_choices(agencies(exclude=case.office_id))
    if can_manage:
        grant_form = GrantForm(formdata=None)
        grant_form.fill_choices(agencies(exclude=case.office_id))
    if perm.may_set_leader(user, case):
        leader_form = LeaderForm(formdata=None, leader_id=case.leader_id or 0,
                                 plan=case.leader_plan or "")
        leader_form.leader_id.choices = [(0, "—"), *leaders()]
    documents = documents_of(case)
    clocks = clk.clocks_for_case(session(), case)
    current = clk.current_clock(clocks)
    paused = clock_ops.is_paused(session(), case)
    can_contribute = perm.can_contribute(user, case)
    return render(
        "casefiles/case.html", block=block, status=status_code, case=case,
        orgs=org_names(session(), case_org_ids(case)),
        users=user_names(session(), [case.leader_id, case.created_by_id,
                                     *(d.created_by_id for d in documents)]),
        clocks=clocks, current=current,
        timeline=timeline(session(), case, group), group=group, groups=TIMELINE_GROUPS,
        documents=documents, actions=action_rows(case, user),
        action_notes=notes_for(session(), case, user),
        summary_form=summary_form, document_form=document_form, assign_form=assign_form,
        grant_form=grant_form, leader_form=leader_form, revealed=revealed or {},
        notice=notice,
        can_manage=can_manage, can_contribute=can_contribute,
        can_add_documents=can_contribute and perm.can_add_documents(user, case),
        can_unmask=perm.can_see_full_personal_data(user, case),
        integrity=check_case(session(), case), inline_types=INLINE_TYPES,
        playable_types=PLAYABLE_TYPES, clock_paused=paused,
        can_pause_clock=perm.may_pause_clock(
            user, case, paused, bool(current and current.is_office_duty)),
        pause_kinds=clock_ops.PAUSE_KINDS, **LABELS)
