"""flask commands: seed-demo, create-user, worker."""

from __future__ import annotations

import getpass
import sys

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from portal.config import Settings
from portal.extensions import db
from portal.hooks import seeders


def _settings() -> Settings:
    return current_app.extensions["portal.settings"]


@click.command("seed-demo")
@with_appcontext
def seed_demo() -> None:
    """Create the demo county, people and accounts (dev only; safe to run again)."""
    settings = _settings()
    if settings.is_production:
        click.echo("seed-demo refused: PORTAL_ENV is production. Demo data and the demo logins "
                   "(password 'demo') must never exist in a real deployment. Use "
                   "`flask --app wsgi create-user` to create real accounts.", err=True)
        sys.exit(2)
    from portal import demo

    demo.seed_core(db.session, click.echo, with_logins=settings.is_dev)
    for name, seeder in seeders(current_app):
        click.echo(f"seeding {name} …")
        seeder(db.session, click.echo)
    db.session.commit()
    click.echo("seed-demo done.")


@click.command("create-user")
@with_appcontext
@click.option("--username", prompt=True)
@click.option("--name", "display_name", prompt="Display name")
@click.option("--email", default="")
@click.option("--role", "roles", multiple=True, required=True,
              help="admin, clerk, leader, agency, supervisor, mediator, lawyer, deputy, expert")
@click.option("--password", default=None, help="Prompted for when not given.")
def create_user(username: str, display_name: str, email: str, roles: tuple[str, ...],
                password: str | None) -> None:
    """Create a login account."""
    from portal.auth import operations as ops
    from portal.auth.roles import Role
    from portal.errors import DomainError

    try:
        chosen = {Role(r) for r in roles}
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--role") from exc
    if password is None:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise click.ClickException("The two passwords differ.")
    try:
        ops.create_user(db.session, username=username, display_name=display_name,
                        password=password, roles=chosen, email=email or None)
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(str(error.message)) from error
    db.session.commit()
    click.echo(f"created {username} with roles {', '.join(sorted(chosen))}")


@click.command("worker")
@with_appcontext
@click.option("--once", is_flag=True, help="Send what is due now, then stop.")
def worker(once: bool) -> None:
    """Drain the notification outbox (e-mail) until stopped."""
    from portal.notify import worker as outbox_worker

    if once:
        count = outbox_worker.drain_once(current_app._get_current_object())  # type: ignore[attr-defined]
        click.echo(f"processed {count} messages")
        return
    outbox_worker.run_forever(current_app._get_current_object())  # type: ignore[attr-defined]


def init_app(app: Flask) -> None:
    app.cli.add_command(seed_demo)
    app.cli.add_command(create_user)
    app.cli.add_command(worker)
