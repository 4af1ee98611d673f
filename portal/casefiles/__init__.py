"""Shared case files (一事一档): the case, its hash-chained timeline, documents,
access grants, the workflow and the integrity check.

`init_app(app)` imports the models (so migrations and the metadata see them),
registers the `flask casefile ...` commands, the case pages and their menu entry."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.casefiles import (
        checkpoints,  # the daily signed checkpoint of the timeline heads (a tick)
        due,  # noqa: F401  (keeps each case's running due date in step: after_flush)
        holidays,  # noqa: F401  (holidays table)
        manage_blueprint,  # noqa: F401  (its views join bp)
        models,  # noqa: F401  (tables in db.metadata)
        queues,  # the home page's work queues
        reminders,  # case_reminders table; the daily reminder tick
        search,  # noqa: F401  (case_search table + after_flush indexer)
    )
    from portal.casefiles.blueprint import bp
    from portal.casefiles.cli import casefile
    from portal.casefiles.demo import seed_cases
    from portal.casefiles.holidays_blueprint import bp as holidays_bp
    from portal.casefiles.permissions import can_manage_holidays, can_open_cases
    from portal.casefiles.public_blueprint import bp as query_bp
    from portal.casefiles.reminders_cli import reminders as reminders_command
    from portal.casefiles.verify_blueprint import bp as verify_bp
    from portal.hooks import register_home_panel, register_seeder, register_tick
    from portal.i18n import lazy_gettext as _l
    from portal.web import add_nav

    if "casefile" not in app.cli.commands:
        app.cli.add_command(casefile)
    if "reminders" not in casefile.commands:  # flask --app wsgi casefile reminders
        casefile.add_command(reminders_command)
    if bp.name not in app.blueprints:  # init_app may be called again on the same app
        app.register_blueprint(bp)
        add_nav(app, _l("Cases"), "cases.index", can_open_cases, order=10)
    if holidays_bp.name not in app.blueprints:
        app.register_blueprint(holidays_bp)
        add_nav(app, _l("Holidays"), "holidays.index", can_manage_holidays, order=92)
    if query_bp.name not in app.blueprints:
        app.register_blueprint(query_bp)  # the petitioner's 查询码 page, public
        register_seeder(app, "casefiles", seed_cases)
        register_tick(app, "deadline reminders", reminders.reminder_tick)
        register_tick(app, "case file checkpoint", checkpoints.checkpoint_tick)
        register_home_panel(app, "casefiles", queues.home_panel, order=10)
    if verify_bp.name not in app.blueprints:
        app.register_blueprint(verify_bp)  # /verify/<hash>: was it issued? public
