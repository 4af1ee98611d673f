"""An online observer opening the video in two windows at the same instant gets one
watch-only seat: requests through the app in threads of their own, with real commits
(SQLite in WAL, and PostgreSQL when PORTAL_TEST_DATABASE_URL is set)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from hearings import video_rooms
from hearings.links import issue_observer_token
from hearings.models import Hearing, Observer
from portal.auth.models import User
from portal.crypto import lookup_hash
from portal.extensions import db
from portal.timeutil import utcnow
from tests.hearings.test_observer_concurrency import _all_at_once, _hearing, live_app
from video.models import Seat

__all__ = ["live_app"]  # the fixture, shared


def test_two_windows_at_once_make_one_watch_only_seat(live_app):
    hearing_id = _hearing(live_app, 5)
    with live_app.app_context():
        session = db.session
        hearing = session.get(Hearing, hearing_id)
        clerk = session.get(User, hearing.clerk_id)
        video_rooms.ensure_hearing_room(session, clerk, hearing)
        hearing.status, hearing.stage = "running", "opening"
        observer = Observer(hearing_id=hearing_id, name="旁听人丙", phone="13800003333",
                            id_number="110101195001011239",
                            id_number_hash=lookup_hash(f"obs:{hearing_id}"),
                            status="seated", registered_at=utcnow() - timedelta(days=1))
        token = issue_observer_token(observer)
        session.add(observer)
        session.flush()
        ref = video_rooms.observer_ref(observer)
        room_id = hearing.video_room_id
        session.commit()

    def watch(client):
        return client.post(f"/hearings/watch/{token}/video")

    answers = _all_at_once(live_app, [watch] * 4)
    assert [a.status_code for a in answers] == [303] * 4
    assert all("/join/" in a.headers["Location"] for a in answers)
    with live_app.app_context():
        seats = list(db.session.scalars(select(Seat).where(Seat.room_id == room_id,
                                                           Seat.ref == ref)))
    assert len(seats) == 1
