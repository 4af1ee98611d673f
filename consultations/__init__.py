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
    # rota
    from consultations.rota_ops import seed_rota
    from portal.hooks import register_seeder

    register_seeder(app, "consultations-rota", seed_rota)
    # end rota
    # intake
    from consultations import ticks as intake_ticks
    from portal.hooks import register_tick

    register_tick(app, "consultations: held questions join the queue", intake_ticks.queue_tick)
    register_tick(app, "consultations: week-end hand-over", intake_ticks.handover_tick)
    register_tick(app, "consultations: duty lawyer offline", intake_ticks.offline_tick)
    # end intake
    from portal.hooks import register_landing_offer

    register_landing_offer(app, "consultations", (
        _l("Ask the duty lawyer"), "consultations.ask",
        _l("Free legal advice from the lawyer on duty this week: online, by chat or video, "
           "or at the reception centre.")), order=30)
    register_landing_offer(app, "duty", (
        _l("Who is the duty lawyer this week"), "consultations.duty_public",
        _l("The lawyer on duty and the hours.")), order=31)
    # outcome
    from consultations import outcome_blueprint as outcome_views
    from consultations.demo import seed_consultations
    from consultations.models import Rating, Topic
    from consultations.rules import rules
    from portal.enums import choices

    app.add_template_global(outcome_views.close_form, "consultation_close_form")
    app.add_template_global(outcome_views.desk_context, "consultation_outcome_desk")
    app.add_template_global(rules, "consultation_rules")
    app.add_template_global(lambda value: str({str(r): r.label for r in Rating}.get(value, "")),
                            "consultation_rating_label")
    app.add_template_global(lambda: choices(Rating), "consultation_rating_choices")
    app.add_template_global(lambda value: str({str(t): t.label for t in Topic}.get(value, value)),
                            "consultation_topic_label")
    register_seeder(app, "consultations", seed_consultations)
    # /outcome
    # chat
    from consultations import events as chat_events
    from consultations.chat_blueprint import chat_view

    app.add_template_global(chat_view, "consultation_chat")

    if not app.extensions.get("consultations.events"):  # once per app, like /video
        chat_events.register()
        app.extensions["consultations.events"] = True
    # end chat
