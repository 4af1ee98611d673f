"""Changes to a hearing committed by someone else meanwhile: publishing, starting, moving
a stage and ending lock the hearing and read it again, so the second click is refused with
a message (never a StaleDataError, a 500)."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from hearings import live, notices
from hearings.models import Hearing, Stage
from portal.errors import DomainError
from tests.fixtures.hearings import new_hearing


def _meanwhile(session: Any, hearing: Hearing, **values: Any) -> None:
    """What another request committed: the row changes under the loaded object."""
    session.execute(update(Hearing.__table__).where(Hearing.__table__.c.id == hearing.id)
                    .values(version=Hearing.__table__.c.version + 1, **values))


def test_publishing_a_hearing_cancelled_meanwhile_is_refused(session: Any,
                                                            world: Any) -> None:
    hearing, _t = new_hearing(session, world, status="scheduled")
    session.flush()
    _meanwhile(session, hearing, status="cancelled")
    with pytest.raises(notices.NoticeRefused):
        notices.publish_notice(session, world.clerk, hearing)


def test_starting_a_hearing_cancelled_meanwhile_is_refused(session: Any, world: Any) -> None:
    hearing, _t = new_hearing(session, world, status="published")
    session.flush()
    _meanwhile(session, hearing, status="cancelled")
    with pytest.raises(live.LiveRefused):
        live.start(session, world.clerk, hearing)


def test_moving_or_ending_after_a_change_meanwhile_is_refused(session: Any,
                                                              world: Any) -> None:
    hearing, _t = new_hearing(session, world, status="published")
    session.flush()
    hearing.status, hearing.stage = "running", Stage.OPENING
    session.flush()
    _meanwhile(session, hearing, stage=Stage.ENDED)
    with pytest.raises(DomainError):
        live.move_stage(session, world.clerk, hearing, "next", expected=Stage.OPENING)
    with pytest.raises(DomainError):
        live.end(session, world.clerk, hearing)


# --- the order of a hearing: no step skipped (review 4) ------------------------------------

def test_a_hearing_starts_only_published_with_its_panel_full(session: Any, world: Any) -> None:
    from tests.fixtures.hearings import add_panel, registry

    hearing, _t = new_hearing(session, world, status="scheduled", panel_size=3,
                              starts_in=timedelta(minutes=30))  # inside the start window
    add_panel(session, hearing, registry(session, world, deputies=1, cppcc=1, experts=1,
                                         lawyers=0))
    with pytest.raises(live.LiveRefused, match="notice"):
        live.start(session, world.clerk, hearing)
    hearing.status, hearing.notice_published_at = "published", hearing.created_at
    member = next(p for p in hearing.participants if p.role == "panel")
    member.rsvp = "declined"
    session.flush()
    with pytest.raises(live.LiveRefused, match="2 of 3"):
        live.start(session, world.clerk, hearing)
    member.rsvp = "accepted"
    session.flush()
    live.start(session, world.clerk, hearing)
    assert hearing.status == "running"


def test_a_hearing_ends_only_from_the_opinion(session: Any, world: Any) -> None:
    hearing, _t = new_hearing(session, world, status="running", stage=Stage.OPENING)
    with pytest.raises(live.LiveRefused, match="opinion"):
        live.end(session, world.clerk, hearing)
    hearing.stage = Stage.OPINION
    session.flush()
    live.end(session, world.clerk, hearing)
    assert hearing.stage == Stage.ENDED


# --- the speaker queue is the current stage's (review 12) -----------------------------------

def test_a_turn_of_an_earlier_stage_is_not_in_the_queue(session: Any, world: Any) -> None:
    from hearings.models import Speaker

    hearing, _t = new_hearing(session, world, status="running", stage=Stage.OPENING)
    petitioner = next(p for p in hearing.participants if p.role == "petitioner")
    old = live.add_speaker(session, world.clerk, hearing, petitioner.id)
    hearing.stage = Stage.PETITIONER
    session.flush()
    live.add_speaker(session, world.clerk, hearing, petitioner.id)
    with pytest.raises(live.LiveRefused, match="no longer in the queue"):
        live.move_speaker(session, world.clerk, hearing, old.id, -1)
    with pytest.raises(live.LiveRefused, match="no longer in the queue"):
        live.start_speaker(session, world.clerk, hearing, old.id)
    assert session.get(Speaker, old.id).started_at is None
