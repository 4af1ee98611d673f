"""`flask --app wsgi casefile verify [NUMBER | --all]` and `casefile checkpoint`."""

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
    """Check event hash chains, each case's head and the newest signed checkpoint, and
    stored documents; exit 1 naming the first broken item."""
    from portal.casefiles.checkpoints import checkpoint_problem
    from portal.casefiles.integrity import check_all, check_case
    from portal.casefiles.models import Case

    if number and check_everything:
        raise click.UsageError("Give a case NUMBER or --all, not both.")
    session = db.session()
    checkpoint, bad_checkpoint = checkpoint_problem()
    if bad_checkpoint is not None:
        click.echo(f"BROKEN {bad_checkpoint}")
        sys.exit(1)
    if number:
        case = session.scalar(select(Case).where(Case.number == number.strip()))
        if case is None:
            click.echo(f"no case numbered {number}", err=True)
            sys.exit(2)
        report = check_case(session, case, checkpoint)
    else:
        report = check_all(session, checkpoint)
    if report.broken is not None:
        click.echo(f"BROKEN {report.broken}")
        sys.exit(1)
    against = (f"; heads reach the checkpoint of {checkpoint.label}" if checkpoint
               else "; no checkpoint yet (run `casefile checkpoint`)")
    click.echo(f"ok: {report.cases} case(s), {report.events} event(s), "
               f"{report.blobs} blob(s) intact{against}")


@casefile.command("checkpoint")
@with_appcontext
def checkpoint() -> None:
    """Verify everything, then write a signed checkpoint of every case's timeline head
    (the worker writes one daily). Exit 1 without writing when something is broken."""
    from portal.casefiles.checkpoints import checkpoint_problem, write_checkpoint
    from portal.casefiles.integrity import check_all

    session = db.session()
    latest, bad_checkpoint = checkpoint_problem()
    broken = bad_checkpoint or check_all(session, latest).broken
    if broken is not None:
        click.echo(f"BROKEN {broken}: no checkpoint written")
        sys.exit(1)
    path = write_checkpoint(session)
    click.echo(f"checkpoint written: {path}")
