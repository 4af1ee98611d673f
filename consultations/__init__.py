"""Lawyer duty and consultations (律师值班, 律师接访): a fair weekly rota with swaps and a
private .ics feed, consultations in person, by chat (Socket.IO namespace /consult) and by
video, the queue and hand-over, outcomes with referrals and legal aid, the written answer
(PDF) and its rating, conflicts, monthly counts.

`init_app(app)` imports the models, registers the pages (one blueprint `consultations`,
its routes spread over *_blueprint.py modules by audience), the namespace, the menu entry,
the worker ticks and the demo data."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from consultations import (  # noqa: F401  (each module adds its routes to bp)
        chat_blueprint,
        intake_blueprint,
        models,  # noqa: F401  (tables in db.metadata)
        outcome_blueprint,
        rota_blueprint,
    )
    from consultations.blueprint import bp
    from consultations.permissions import can_open_consultations
    from consultations.rules import init_rules
    from portal.i18n import lazy_gettext as _l
    from portal.web import add_nav

    if bp.name in app.blueprints:  # init_app may be called again on the same app
        return
    init_rules(app)
    app.register_blueprint(bp)
    add_nav(app, _l("Lawyer duty"), "consultations.index", can_open_consultations, order=40)
    # parts register their ticks, seeders, home panels and socket events here
    # chat
    from consultations import events as chat_events
    from consultations.chat_blueprint import chat_view

    app.add_template_global(chat_view, "consultation_chat")

    if not app.extensions.get("consultations.events"):  # once per app, like /video
        chat_events.register()
        app.extensions["consultations.events"] = True
    # end chat
