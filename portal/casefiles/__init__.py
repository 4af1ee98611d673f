"""Shared case files (一事一档): the case, its hash-chained timeline, documents,
access grants, the workflow and the integrity check.

`init_app(app)` imports the models (so migrations and the metadata see them) and
registers the `flask casefile ...` commands."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from portal.casefiles import models  # noqa: F401  (tables in db.metadata)
    from portal.casefiles.cli import casefile

    if "casefile" not in app.cli.commands:
        app.cli.add_command(casefile)
