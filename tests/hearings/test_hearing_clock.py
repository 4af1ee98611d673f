"""The re-review clock a hearing pauses is resumed by that hearing only, and a started
hearing that will never be filed can be adjourned with a reason, which lets the clock run
again (review 14)."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from hearings import case_clock, live
from hearings import operations as ops
from hearings.models import HearingStatus
from portal.casefiles import clock_ops
from tests.fixtures.hearings import add_panel, new_hearing, registry
from tests.hearings.test_live_socket import _re_review_case


def _started(session: Any, world: Any, case: Any) -> Any:
    hearing, _t = new_hearing(session, world, case=case, status="published",
                              kind="re_review", panel_size=1,
                              starts_in=timedelta(minutes=30))  # inside the start window
    add_panel(session, hearing, registry(session, world, deputies=1, cppcc=0, experts=0,
                                         lawyers=0))
    live.start(session, world.clerk, hearing)
    session.flush()
    return hearing


def test_another_hearing_does_not_resume_this_hearing_s_pause(session: Any,
                                                              world: Any) -> None:
    case = _re_review_case(session, world)
    running = _started(session, world, case)
    assert clock_ops.is_paused(session, case)
    other, _t = new_hearing(session, world, case=case, status="published", kind="re_review")
    assert case_clock.resume_after_hearing(session, world.clerk, other) is None
    assert clock_ops.is_paused(session, case)
    assert case_clock.resume_after_hearing(session, world.clerk, running) is not None
    assert not clock_ops.is_paused(session, case)


def test_a_running_hearing_is_adjourned_with_a_reason_and_the_clock_runs(
        session: Any, world: Any) -> None:
    case = _re_review_case(session, world)
    hearing = _started(session, world, case)
    with pytest.raises(ops.ScheduleRefused):
        ops.cancel_hearing(session, world.clerk, hearing, "")
    ops.cancel_hearing(session, world.clerk, hearing, "信访人突发疾病，听证中止")
    assert hearing.status == HearingStatus.CANCELLED
    assert not clock_ops.is_paused(session, case)


def test_the_organiser_adjourns_a_running_hearing_from_its_page(
        client: Any, session: Any, world: Any) -> None:
    """The hearing's page offers the organiser "adjourn" while it runs (the cancel form
    with its reason); without a reason nothing changes; with one the hearing ends and the
    re-review clock runs again."""
    from tests.fixtures.core import login

    case = _re_review_case(session, world)
    hearing = _started(session, world, case)
    login(client, world.clerk)
    page = client.get(f"/hearings/{hearing.id}").get_data(as_text=True)
    assert "Adjourn the hearing" in page and "Cancel the hearing" not in page
    client.post(f"/hearings/{hearing.id}/cancel", data={"reason": "",
                                                        "version": str(hearing.version)})
    session.expire_all()
    assert hearing.status == HearingStatus.RUNNING
    r = client.post(f"/hearings/{hearing.id}/cancel",
                    data={"reason": "信访人突发疾病，听证中止", "version": str(hearing.version)})
    assert r.status_code == 303
    session.expire_all()
    assert hearing.status == HearingStatus.CANCELLED
    assert not clock_ops.is_paused(session, case)
    assert "Adjourn the hearing" not in client.get(f"/hearings/{hearing.id}").get_data(
        as_text=True)
