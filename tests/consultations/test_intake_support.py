"""What the intake and queue tests share (no tests of its own): a fixed clock inside a
duty week, and the lawyers on duty. Imported by test_intake*.py and test_queue*.py."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from consultations.models import Consultation
from portal.timeutil import BEIJING
from tests.fixtures.consultations import duty_week, lawyers

#: a Monday; duty weeks of the tests begin on it (and on the next)
MONDAY = date(2030, 1, 7)


def at(day: date, hhmm: str) -> datetime:
    """A Beijing wall-clock time as the aware UTC time the portal stores."""
    return datetime.combine(day, time.fromisoformat(hhmm), tzinfo=BEIJING).astimezone(UTC)


#: Wednesday 10:00, within duty hours
ON_DUTY = at(MONDAY + timedelta(days=2), "10:00")
#: Wednesday 20:00, after duty hours
EVENING = at(MONDAY + timedelta(days=2), "20:00")


class Clock:
    """The time the intake operations and pages read (`consultations.intake.utcnow`)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, now: datetime) -> None:
        self._monkeypatch = monkeypatch
        self.set(now)

    def set(self, now: datetime) -> None:
        self.now = now
        for module in ("consultations.intake", "consultations.intake_blueprint"):
            self._monkeypatch.setattr(f"{module}.utcnow", lambda: self.now)


@pytest.fixture(name="clock")
def clock_fixture(app: Any, monkeypatch: pytest.MonkeyPatch) -> Clock:
    # the ticks run once a minute per app: an earlier test's run must not skip this one's
    for key in [k for k in app.extensions if k.startswith("consultations.tick.")]:
        monkeypatch.delitem(app.extensions, key)
    return Clock(monkeypatch, ON_DUTY)


@pytest.fixture(name="duty")
def duty_fixture(session: Any, world: Any, make_user: Any) -> Any:
    """Lawyer A on duty the week of MONDAY, lawyer B the week after, C on none."""
    a, b, c = lawyers(session, world, 3, make_user=make_user)
    first = duty_week(session, a, MONDAY)
    second = duty_week(session, b, MONDAY + timedelta(days=7))
    session.commit()

    class Duty:
        pass

    found = Duty()
    found.a, found.b, found.c, found.first, found.second = a, b, c, first, second  # type: ignore[attr-defined]
    return found


def user_of(session: Any, person: Any) -> Any:
    from portal.auth.models import User

    return session.get(User, person.user_id)


def count(session: Any, model: Any = Consultation) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)
