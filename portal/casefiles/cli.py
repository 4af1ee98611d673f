"""`flask --app wsgi casefile verify [NUMBER | --all]`."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from portal.extensions import db


@click.group("casefile")
def casefile() -> None:
    """Case files: integrity checks."""


@casefile.command("verify")
@click.argument("number", required=False)
@click.option("--all", "check_everything", is_flag=True,
              help="Check every case (the default when no NUMBER is given).")
@with_appcontext
def verify(number: str | None, check_everything: bool) -> None:
    """Check event hash chains and stored documents; exit 1 naming the first broken item."""
    from portal.casefiles.integrity import check_all, check_case
    from portal.casefiles.models import Case

    if number and check_everything:
        raise click.UsageError("Give a case NUMBER or --all, not both.")
    session = db.session()
    if number:
        case = session.scalar(select(Case).where(Case.number == number.strip()))
        if case is None:
            click.echo(f"no case numbered {number}", err=True)
            sys.exit(2)
        report = check_case(session, case)
    else:
        report = check_all(session)
    if report.broken is not None:
        click.echo(f"BROKEN {report.broken}")
        sys.exit(1)
    click.echo(f"ok: {report.cases} case(s), {report.events} event(s), "
               f"{report.blobs} blob(s) intact")
