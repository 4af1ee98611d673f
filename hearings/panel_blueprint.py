"""Hearing routes: the panel (on the one `hearings` blueprint). Draw the panel, pick by
hand (a searchable list of eligible people), remove a member, draw a substitute for a
declined seat. `panel_view` builds the panel section of the hearing page (a template
global, registered by hearings.init_app)."""

from __future__ import annotations

from typing import Any, cast

from flask import abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from hearings import panel as ops
from hearings import permissions as perm
from hearings.blueprint import bp
from hearings.draw import KINDS
from hearings.models import Hearing, PanelKind, PickedBy, Rsvp
from hearings.panel_forms import DrawForm, PickForm, SearchForm
from hearings.panel_text import describe, group_label
from portal import idempotency, web
from portal.enums import labels
from portal.extensions import db
from portal.i18n import lazy_gettext as _l
from portal.people.models import FIELD_LABELS, Person
from portal.web import render, require


def _session() -> Session:
    return cast(Session, db.session)


def _hearing(hearing_id: int) -> Hearing:
    """The hearing, 404 for who may not know it, 403 for who may not compose its panel."""
    hearing = db.session.get(Hearing, hearing_id)
    if hearing is None or not perm.can_view_hearing(current_user, hearing):
        abort(404)
    if not perm.can_compose_panel(current_user, hearing):
        abort(403)
    return hearing


def _back(hearing: Hearing) -> str:
    return url_for("hearings.detail", hearing_id=hearing.id, _anchor="panel")


def panel_view(hearing: Hearing) -> dict[str, Any]:
    """What the panel section shows: the seats (everyone who sees the hearing), and for
    organisers the actions and the last draw's explanation with who was passed over."""
    session = _session()
    organiser = perm.can_compose_panel(current_user, hearing)
    seats = ops.panel_seats(hearing)
    replaced = [p for p in ops.panel_seats(hearing, active_only=False) if not p.is_active]
    ids = sorted({p.person_id for p in seats + replaced if p.person_id is not None})
    fields = {pid: f for pid, f in session.execute(
        select(Person.id, Person.expert_field).where(Person.id.in_(ids)))} if ids else {}
    view: dict[str, Any] = {
        "seats": seats, "replaced": replaced, "fields": fields, "organiser": organiser,
        "composable": organiser and hearing.status in ops.COMPOSABLE,
        "kind_labels": labels(PanelKind), "field_labels": FIELD_LABELS,
        "rsvp_labels": labels(Rsvp), "picked_labels": labels(PickedBy),
        "any_accepted": any(p.rsvp == Rsvp.ACCEPTED for p in seats),
        "free": max(0, hearing.panel_size - len(seats)), "draw": None,
    }
    if organiser:
        view["key"] = idempotency.new_key()
        last = ops.last_draw(session, hearing)
        if last is not None:
            view["draw"] = _explained(last.explanation or {})
            view["draw"]["at"] = last.drawn_at
            view["draw"]["seat_no"] = last.seat_no
    return view


def _explained(explanation: dict[str, Any]) -> dict[str, Any]:
    """The stored explanation in words: chosen with why; passed over split into the
    excluded (with their reasons) and those out-picked by rotation, grouped by kind."""
    chosen = [{"name": c.get("name", ""), "seat_no": c.get("seat_no"),
               "group": group_label(c.get("kind"), c.get("field")),
               "why": describe(c.get("why") or {})} for c in explanation.get("chosen", [])]
    excluded = [{"name": p.get("name", ""),
                 "group": group_label(p.get("kind"), p.get("field")),
                 "why": "; ".join(describe(r) for r in p.get("why") or [])}
                for p in explanation.get("passed", [])]
    groups = sorted(explanation.get("outpicked", []), key=lambda g: (
        KINDS.index(g.get("kind")) if g.get("kind") in KINDS else len(KINDS),
        str(g.get("field") or "")))
    outpicked = [(describe(g.get("why") or {}), [str(n) for _pid, n in g.get("people", [])])
                 for g in groups]
    return {"seed": explanation.get("seed"), "chosen": chosen, "excluded": excluded,
            "outpicked": outpicked}


@bp.route("/<int:hearing_id>/panel/draw", methods=["POST"])
@require(perm.can_compose_panels)
def panel_draw(hearing_id: int) -> ResponseReturnValue:
    hearing = _hearing(hearing_id)
    form = DrawForm()
    web.on_error(web.flash_and_redirect(_back(hearing)))
    key = form.idempotency_key.data
    idempotency.claim(_session(), key, "hearing-panel-draw")
    ops.draw_panel(_session(), current_user, hearing)
    idempotency.remember(_session(), key, "hearing-panel-draw", _back(hearing))
    flash(str(_l("The panel was drawn; the explanation is below.")), "success")
    return redirect(_back(hearing), code=303)


@bp.route("/<int:hearing_id>/panel/<int:participant_id>/substitute", methods=["POST"])
@require(perm.can_compose_panels)
def panel_substitute(hearing_id: int, participant_id: int) -> ResponseReturnValue:
    hearing = _hearing(hearing_id)
    form = DrawForm()
    web.on_error(web.flash_and_redirect(_back(hearing)))
    key = form.idempotency_key.data
    idempotency.claim(_session(), key, "hearing-panel-substitute")
    ops.draw_substitute(_session(), current_user, hearing, participant_id)
    idempotency.remember(_session(), key, "hearing-panel-substitute", _back(hearing))
    flash(str(_l("A substitute was drawn for the declined seat.")), "success")
    return redirect(_back(hearing), code=303)


@bp.route("/<int:hearing_id>/panel/<int:participant_id>/remove", methods=["POST"])
@require(perm.can_compose_panels)
def panel_remove(hearing_id: int, participant_id: int) -> ResponseReturnValue:
    hearing = _hearing(hearing_id)
    web.on_error(web.flash_and_redirect(_back(hearing)))
    seat = ops.remove_member(_session(), current_user, hearing, participant_id)
    flash(str(_l("%(name)s was removed from the panel.", name=seat.name)), "success")
    return redirect(_back(hearing), code=303)


@bp.route("/<int:hearing_id>/panel/pick", methods=["GET", "POST"])
@require(perm.can_compose_panels)
def panel_pick(hearing_id: int) -> ResponseReturnValue:
    hearing = _hearing(hearing_id)
    search = SearchForm(request.args)
    query = (search.q.data or "")[:60] if search.validate() else ""
    form = PickForm()

    def page(status: int = 200) -> ResponseReturnValue:
        people = ops.eligible_people(_session(), hearing, query)
        block = "results" if request.method == "GET" else "content"
        return render("hearings/panel_pick.html", block=block, status=status,
                      hearing=hearing, form=form, search=search, people=people,
                      query=query, kind_labels=labels(PanelKind),
                      field_labels=FIELD_LABELS, free=max(0, hearing.panel_size - len(
                          ops.panel_seats(hearing))))

    if request.method == "GET":
        form.idempotency_key.data = idempotency.new_key()
        return page()
    if not form.validate():
        return page(400)
    key = form.idempotency_key.data
    web.on_error(web.flash_and_redirect(url_for("hearings.panel_pick",
                                                hearing_id=hearing.id)))
    idempotency.claim(_session(), key, "hearing-panel-pick")
    seat = ops.pick_by_hand(_session(), current_user, hearing, form.person_id.data or 0,
                            form.note.data or "")
    idempotency.remember(_session(), key, "hearing-panel-pick", _back(hearing))
    flash(str(_l("%(name)s now holds seat %(n)d.", name=seat.name, n=seat.seat_no or 0)),
          "success")
    return redirect(_back(hearing), code=303)
