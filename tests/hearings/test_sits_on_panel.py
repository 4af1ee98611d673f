"""One rule for "sits on the panel" (active, a panel member, did not decline), used by
the deliberation's voters, the record's signers and the bookings alike (review 17)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from hearings import deliberation, record
from hearings import permissions as perm
from hearings.models import Participant
from tests.fixtures.hearings import add_panel, new_hearing, registry


def test_one_rule_for_who_sits_on_the_panel(session: Any, world: Any) -> None:
    hearing, _t = new_hearing(session, world, status="published")
    add_panel(session, hearing, registry(session, world, deputies=1, cppcc=1, experts=1,
                                         lawyers=0))
    a, b, c = [p for p in hearing.participants if p.role == "panel"]
    b.rsvp = "declined"
    c.is_active = False
    session.flush()
    assert [perm.sits_on_panel(p) for p in (a, b, c)] == [True, False, False]
    assert not any(perm.sits_on_panel(p) for p in hearing.participants if p.role != "panel")
    assert deliberation.voters(hearing) == [a]
    assert [p for p in record.signers(hearing, record.DELIBERATION)
            if p.role == "panel"] == [a]
    in_sql = set(session.scalars(select(Participant.id).where(
        Participant.hearing_id == hearing.id, perm.panel_seat_clause())))
    assert in_sql == {a.id}
