"""Shared case files (一事一档): the case, its hash-chained timeline, documents,
access grants, the workflow and the integrity check.

`init_app(app)` imports the models (so migrations and the metadata see them),
registers the `flask casefile ...` commands, the case pages and their menu entry."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.casefiles import (
        models,  # noqa: F401  (tables in db.metadata)
        search,  # noqa: F401  (case_search table + after_flush indexer)
    )
    from portal.casefiles.blueprint import bp, can_open_cases
    from portal.casefiles.cli import casefile
    from portal.casefiles.demo import seed_cases
    from portal.casefiles.public_blueprint import bp as query_bp
    from portal.hooks import register_seeder
    from portal.i18n import lazy_gettext as _l
    from portal.web import add_nav

    if "casefile" not in app.cli.commands:
        app.cli.add_command(casefile)
    if bp.name not in app.blueprints:  # init_app may be called again on the same app
        app.register_blueprint(bp)
        add_nav(app, _l("Cases"), "cases.index", can_open_cases, order=10)
    if query_bp.name not in app.blueprints:
        app.register_blueprint(query_bp)  # the petitioner's 查询码 page, public
        register_seeder(app, "casefiles", seed_cases)
