"""Remote video reception (远程视频接访): the reception schedule and join links, the lobby
and the call (Socket.IO namespace /video), recording into the case file, the reception
note. Hearings and consultations reuse its rooms and media engines (`video.engines`).

`init_app(app)` imports the models, registers the pages, the signalling namespace, the
menu entry and the demo data."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from functools import partial

    from portal import live
    from portal.hooks import register_seeder, register_tick
    from portal.i18n import lazy_gettext as _l
    from portal.web import add_nav
    from video import events, filing, models  # noqa: F401  (tables in db.metadata)
    from video.blueprint import bp, join_bp
    from video.demo import seed_rooms
    from video.permissions import can_open_schedule

    if bp.name in app.blueprints:  # init_app may be called again on the same app
        return
    app.register_blueprint(bp)
    app.register_blueprint(join_bp)
    add_nav(app, _l("Video reception"), "video.index", can_open_schedule, order=20)
    register_seeder(app, "video", seed_rooms)
    register_tick(app, "unfinished recordings", filing.recovery_tick)
    register_tick(app, "rooms past their end", filing.end_tick)
    # a socket node died: its people show offline in their rooms
    live.registry(app).on_dropped(partial(events.nodes_lost, app))
    if not app.extensions.get("video.events"):
        events.register()
        app.extensions["video.events"] = True
