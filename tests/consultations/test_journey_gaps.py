"""What the browser journey (tests/e2e/test_consultation_journey.py) found missing: the
lawyer's video page leads back to the consultation, the person's page shows the written
answer (and, for legal aid, that the application went to the centre), and the desk's
queue says how long people have waited."""

from __future__ import annotations

from tests.consultations.test_outcomes_support import taken
from tests.fixtures.consultations import new_consultation
from tests.fixtures.core import login


def test_the_queue_says_how_long_people_waited(client, session, world, make_user):
    t = taken(session, world, make_user, status="closed", outcome="answered", answer="答")
    new_consultation(session, status="queued")
    session.commit()
    login(client, t.user)
    html = client.get("/consultations/queue").get_data(as_text=True)
    assert "Waiting time" in html or "已等待" in html
