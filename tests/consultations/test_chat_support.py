"""Helpers of the chat tests (no tests here): a consultation the lawyer is answering,
clients of /consult for the person (by their link) and the lawyer (by their login)."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path
from typing import Any

from consultations.events import NAMESPACE
from consultations.models import Message
from portal.extensions import socketio
from portal.timeutil import utcnow
from tests.fixtures.consultations import duty_week, lawyers, new_consultation, this_monday
from tests.fixtures.core import PASSWORD

_weeks = itertools.count(0)


def answered(session: Any, world: Any, make_user: Any, **fields: Any
             ) -> tuple[Any, str, Any]:
    """An online consultation the duty lawyer has taken: (consultation, token, lawyer)."""
    lawyer = lawyers(session, world, 1, make_user=make_user)[0]
    # one duty week per Monday: each lawyer made here gets a week of their own
    week = duty_week(session, lawyer, this_monday() + timedelta(weeks=next(_weeks)))
    values = {"status": "active", "lawyer_id": lawyer.id, "lawyer_user_id": lawyer.user_id,
              "taken_at": utcnow(), "duty_week_id": week.id}
    values.update(fields)
    consultation, token = new_consultation(session, **values)
    return consultation, token, lawyer


def fresh_user() -> None:
    """The tests hold one app context, so flask-login's user cached in `g` would carry
    from one client's request to another's event; a server gives each its own."""
    from flask import g, has_app_context

    if has_app_context():
        g.pop("_login_user", None)


def person_socket(app: Any) -> Any:
    fresh_user()
    return socketio.test_client(app, namespace=NAMESPACE, flask_test_client=app.test_client())


def user_socket(app: Any, client: Any) -> Any:
    fresh_user()
    return socketio.test_client(app, namespace=NAMESPACE, flask_test_client=client)


def call(sock: Any, event: str, data: Any) -> dict[str, Any]:
    fresh_user()
    ack = sock.emit(event, data, namespace=NAMESPACE, callback=True)
    assert isinstance(ack, dict), ack
    return ack


def join(sock: Any, consultation: Any, token: str | None = None, after: int = 0
         ) -> dict[str, Any]:
    data: dict[str, Any] = {"consultation_id": consultation.id, "after_id": after}
    if token:
        data["token"] = token
    return call(sock, "join", data)


def say(sock: Any, consultation: Any, body: str, client_id: str = "c1", **more: Any
        ) -> dict[str, Any]:
    return call(sock, "message", {"consultation_id": consultation.id, "body": body,
                                  "client_id": client_id, **more})


def received(sock: Any, name: str) -> list[Any]:
    """The payloads of `name` the server sent this client so far (kept for later reads)."""
    seen = getattr(sock, "seen", [])
    seen.extend(p for p in sock.queue if p["namespace"] == NAMESPACE)
    sock.queue = [p for p in sock.queue if p["namespace"] != NAMESPACE]
    sock.seen = seen
    # Flask-SocketIO's test client keeps a "message" event's payload unwrapped
    return [p["args"] if name == "message" else p["args"][0]
            for p in seen if p["name"] == name]


def stored(session: Any, consultation: Any) -> list[Message]:
    session.expire_all()
    return list(session.query(Message).filter_by(consultation_id=consultation.id)
                .order_by(Message.id))


def seed_served(data: Path, url: str) -> dict[str, Any]:
    """For servers started apart (a browser test, two nodes): a migrated database with a
    lawyer (account chatlawyer) answering an online consultation; returns its id, the
    person's token, the lawyer's user id and the app (to render pages with)."""
    from flask_migrate import upgrade

    from tests.fixtures.core import build_app

    app = build_app(data, url)
    from consultations import links
    from consultations.models import Consultation
    from portal.auth import operations as auth_ops
    from portal.auth.roles import Role
    from portal.extensions import db
    from portal.orgs.models import Organisation
    from portal.people.models import Person
    from portal.timeutil import utcnow

    with app.app_context():
        upgrade()
        office = Organisation(name="县司法局", kind="agency")
        db.session.add(office)
        db.session.flush()
        user = auth_ops.create_user(db.session, username="chatlawyer", password=PASSWORD,
                                    display_name="张律师", roles=[Role.LAWYER],
                                    organisations=[office], check_password=False)
        person = Person(kind="lawyer", name="张律师", organisation_id=office.id,
                        user_id=user.id)
        db.session.add(person)
        db.session.flush()
        consultation = Consultation(channel="online", status="active", name="李四",
                                    topic="labour", question="工资被拖欠怎么办？",
                                    lawyer_id=person.id, lawyer_user_id=user.id,
                                    taken_at=utcnow())
        token = links.issue_consultation_token(consultation)
        db.session.add(consultation)
        db.session.commit()
        found = {"consultation_id": consultation.id, "token": token, "user_id": user.id}
    return {**found, "app": app}
