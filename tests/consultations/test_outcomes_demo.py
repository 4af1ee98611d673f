"""seed-demo's lawyer duty: a year's rota with the demo lawyer on duty this week, and
consultations in every state; run twice, nothing is duplicated."""

from __future__ import annotations

from consultations.demo import WEEKS, seed_consultations
from consultations.models import Consultation, DutyWeek, LegalAidApplication, Message
from portal.auth.roles import Role
from tests.fixtures.consultations import lawyers, this_monday


def test_seed_demo_twice(session, world, make_user):
    people = lawyers(session, world, 4)
    account = make_user(Role.LAWYER, username="lawyer")
    people[2].user_id = account.id
    make_user(Role.CLERK, username="clerk", organisations=[world.office])
    session.commit()
    said: list[str] = []
    seed_consultations(session, said.append)
    session.commit()
    seed_consultations(session, said.append)
    session.commit()
    weeks = session.query(DutyWeek).all()
    assert len(weeks) == WEEKS and all(w.status == "published" for w in weeks)
    this_week = session.query(DutyWeek).filter_by(week_start=this_monday()).one()
    assert this_week.lawyer_id == people[2].id
    per_lawyer = {p.id: sum(1 for w in weeks if w.lawyer_id == p.id) for p in people}
    assert max(per_lawyer.values()) - min(per_lawyer.values()) <= 1
    states = {(c.status, c.outcome) for c in session.query(Consultation)}
    for expected in [("held", None), ("queued", None), ("active", None),
                     ("closed", "answered"), ("closed", "court"), ("closed", "legal_aid"),
                     ("closed", "petition")]:
        assert expected in states
    assert session.query(Consultation).count() == 8
    assert session.query(Consultation).filter(Consultation.rating.is_not(None)).count() >= 3
    assert session.query(Consultation).filter(Consultation.case_id.is_not(None)).count() == 1
    decisions = sorted(a.decision for a in session.query(LegalAidApplication))
    assert decisions == ["granted", "pending"]
    assert session.query(Message).count() == 4
    assert "present" in said[-1]
