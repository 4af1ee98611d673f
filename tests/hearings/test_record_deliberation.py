"""The panel's votes reach the file: freezing the record freezes the deliberation record
(refused while votes are missing), and a filed or cancelled hearing's deliberation record
no longer changes (review 5)."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete

from hearings import deliberation, record
from hearings.models import DeliberationVote, HearingStatus, ParticipantRole
from tests.fixtures.core import login
from tests.hearings.test_record import ended_hearing, freeze, role, versions


def test_freezing_the_record_freezes_the_deliberation_record(client: Any, session: Any,
                                                             world: Any) -> None:
    hearing, _t = ended_hearing(session, world)
    login(client, world.clerk)
    assert freeze(client, hearing).status_code == 303
    [frozen] = versions(session, hearing, "deliberation")
    assert "听证员乙：部分支持（保留意见）" in frozen.text
    assert [v.number for v in versions(session, hearing)] == [1]


def test_the_record_is_not_frozen_while_a_vote_is_missing(client: Any, session: Any,
                                                          world: Any) -> None:
    hearing, _t = ended_hearing(session, world)
    member = role(hearing, ParticipantRole.PANEL)
    session.execute(delete(DeliberationVote).where(
        DeliberationVote.participant_id == member.id))
    session.commit()
    login(client, world.clerk)
    answer = freeze(client, hearing)
    page = client.get(answer.headers["Location"]).get_data(as_text=True) \
        if answer.status_code in (302, 303) else answer.get_data(as_text=True)
    assert "vote" in page.lower()
    assert versions(session, hearing) == []
    assert versions(session, hearing, "deliberation") == []


@pytest.mark.parametrize("status", [HearingStatus.FILED, HearingStatus.CANCELLED])
def test_a_closed_hearing_s_deliberation_record_does_not_change(session: Any, world: Any,
                                                                status: str) -> None:
    hearing, _t = ended_hearing(session, world)
    hearing.status = status
    session.flush()
    with pytest.raises(deliberation.DeliberationRefused):
        deliberation.freeze_deliberation_record(session, world.leader, hearing)
    assert record.DELIBERATION == deliberation.RECORD_KIND
