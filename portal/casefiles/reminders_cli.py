"""`flask --app wsgi casefile reminders [--today YYYY-MM-DD]`: send the deadline
reminders that fall due (the outbox worker does this once a day by itself)."""

from __future__ import annotations

from datetime import date, datetime

import click
from flask.cli import with_appcontext

from portal.extensions import db


@click.command("reminders")
@click.option("--today", "on", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The day to send for (default: today in China).")
@with_appcontext
def reminders(on: datetime | None) -> None:
    """Send today's deadline reminders (in-app and e-mail); a repeat sends nothing twice."""
    from portal.casefiles.clocks import today_in_china
    from portal.casefiles.reminders import send_due_reminders

    day: date = on.date() if on is not None else today_in_china()
    sent = send_due_reminders(db.session, day)
    db.session.commit()
    click.echo(f"{sent} reminder(s) sent for {day.isoformat()}")
