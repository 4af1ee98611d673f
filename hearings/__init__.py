"""Public hearings (听证): requests and decisions, scheduling, a fair panel, invitations
with .ics and RSVP links, the public notice and observer registration, the live hearing
(Socket.IO namespace /hearings) with its minutes, private deliberation, and the record
every participant signs, filed into the case file.

`init_app(app)` imports the models, registers the pages (one blueprint `hearings`, its
routes spread over the *_blueprint.py modules by audience), the namespace, the menu
entry, the worker ticks and the demo data."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from hearings import (  # noqa: F401  (each module adds its routes to bp)
        deliberation_blueprint,
        invitations_blueprint,
        live_blueprint,
        models,  # noqa: F401  (tables in db.metadata)
        panel_blueprint,
        public_blueprint,
        record_blueprint,
        video_blueprint,
    )
    from hearings.blueprint import bp
    from hearings.permissions import can_open_hearings
    from hearings.rules import init_rules
    from portal.i18n import lazy_gettext as _l
    from portal.web import add_nav

    if bp.name in app.blueprints:  # init_app may be called again on the same app
        return
    init_rules(app)
    app.register_blueprint(bp)
    add_nav(app, _l("Hearings"), "hearings.index", can_open_hearings, order=30)
    # parts register their ticks, seeders, home panels and socket events here
    # invitations
    from hearings import invitations
    from portal.hooks import register_tick

    register_tick(app, "hearing reminders", invitations.reminder_tick)
    # /invitations
    # sched
    from hearings import query_panel
    from hearings.demo import seed_hearings
    from hearings.home import home_panel
    from hearings.presentation import register_event_labels
    from portal.hooks import register_home_panel, register_query_panel, register_seeder

    register_event_labels()
    register_query_panel(app, "hearings", query_panel.query_panel)
    register_home_panel(app, "hearings", home_panel, order=30)
    register_seeder(app, "hearings", seed_hearings)
    from portal.hooks import register_landing_offer

    register_landing_offer(app, "hearings", (
        _l("Public hearings: notices and observing"), "hearings.public_list",
        _l("Upcoming public hearings, and a seat to watch one in person or online.")),
        order=20)
    # end sched
    # deliberation
    if not app.extensions.get("hearings.deliberation_events"):
        from hearings import deliberation_events

        deliberation_events.register()
        app.extensions["hearings.deliberation_events"] = True
    # /deliberation
    # panel
    from hearings.panel_blueprint import panel_view

    app.add_template_global(panel_view, "hearing_panel")
    # end panel
    # video: hearings/video_blueprint.py is imported with the other route modules above
    # (routes cannot be added to bp once it is registered)
    # live
    from hearings import events as live_events

    if not app.extensions.get("hearings.events"):
        live_events.register()
        app.extensions["hearings.events"] = True
    # end live
