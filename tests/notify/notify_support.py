"""Helpers for the notify tests: an outbox database that really commits (file SQLite, or a
PostgreSQL database of its own), and a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import email
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from conftest import BACKENDS, PG_URL, build_app, create_pg_database
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import delete, select

from portal.extensions import db
from portal.notify.models import OutboxMessage


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Collector:
    """An aiosmtpd handler that keeps what it accepts, and can refuse or stall on demand."""

    received: list[Received] = field(default_factory=list)
    #: answer the next n DATA commands with this reply instead of accepting
    refuse: int = 0
    refuse_reply: str = "451 4.3.0 Try again later"
    #: stall the next n DATA commands until `release` is set (a send in flight)
    block: int = 0
    data_seen: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.block > 0:
            self.block -= 1
            self.data_seen.set()
            while not self.release.is_set():
                await asyncio.sleep(0.01)
            return "451 4.3.0 Aborted"
        if self.refuse > 0:
            self.refuse -= 1
            return self.refuse_reply
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 2.0.0 OK"


@dataclass
class SmtpServer:
    handler: Collector
    port: int

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


@pytest.fixture()
def smtp_server() -> Iterator[SmtpServer]:
    handler = Collector()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer(handler, port)
    finally:
        handler.release.set()
        controller.stop()


@pytest.fixture(scope="module", params=BACKENDS)
def outbox_app(request: pytest.FixtureRequest,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """An app on a database of its own whose commits are real, so that other threads and
    processes see them (the `session` fixture's rolled-back transaction would hide them)."""
    tmp = tmp_path_factory.mktemp(f"outbox-{request.param}")
    drop = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'portal.db'}"
    else:
        url, drop = create_pg_database(PG_URL)
    app = build_app(tmp, url, smtp_url="", outbox_lease_seconds=2)
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()
    if drop:
        drop()


@pytest.fixture()
def outbox(outbox_app: Flask) -> Iterator[Flask]:
    """outbox_app with an empty outbox and its original settings after the test."""
    settings = outbox_app.extensions["portal.settings"]
    with outbox_app.app_context():
        db.session.execute(delete(OutboxMessage))
        db.session.commit()
    try:
        yield outbox_app
    finally:
        outbox_app.extensions["portal.settings"] = settings


def configure(app: Flask, **changes: Any) -> None:
    app.extensions["portal.settings"] = app.extensions["portal.settings"].with_overrides(
        **changes)


def rows(app: Flask) -> list[OutboxMessage]:
    """The outbox as another connection sees it now."""
    with app.app_context():
        result = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        db.session.expunge_all()
        return result
