"""The chat follows who may take part: a hand-over takes the former lawyer out of it, the
person sees one queue number, history pages past its cap (the review's findings)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from consultations import intake
from portal import transaction
from portal.timeutil import BEIJING
from tests.consultations.test_chat_support import (
    answered,
    join,
    person_socket,
    received,
    say,
    user_socket,
)
from tests.fixtures.consultations import duty_week, lawyers, this_monday
from tests.fixtures.core import login


def _user(session, person):
    from portal.auth.models import User

    return session.get(User, person.user_id)


def test_a_hand_over_takes_the_former_lawyer_out_of_the_chat(app, client, session, world,
                                                             make_user):
    consultation, token, old = answered(session, world, make_user)
    login(client, _user(session, old))
    former = user_socket(app, client)
    assert join(former, consultation)["side"] == "lawyer"
    person = person_socket(app)
    assert join(person, consultation, token)["ok"]
    new = lawyers(session, world, 1, make_user=make_user)[0]
    later = this_monday() + timedelta(weeks=400)
    duty_week(session, new, later)
    now = datetime.combine(later + timedelta(days=2), time(10), tzinfo=BEIJING)
    assert intake.hand_over(session, now) == 1
    transaction.commit(session)
    closed = received(former, "closed")
    assert closed and closed[-1]["reason"] == "not_allowed"
    assert say(person, consultation, "还在吗？", "p-1")["ok"]
    assert received(former, "message") == []
