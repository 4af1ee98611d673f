"""Swaps through the pages: only with the other lawyer's consent and the organiser's
approval. Every refusal: its message, its status, nothing changed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from consultations import rota
from consultations.models import DutyWeek, SwapRequest, SwapStatus, Unavailability
from portal.auth.models import User
from portal.auth.roles import Role
from portal.notify.models import Notification
from tests.consultations.test_rota_pages import page
from tests.fixtures.consultations import duty_week, lawyers, this_monday
from tests.fixtures.core import login


class Team:
    def __init__(self, session: Any, world: Any, make_user: Any) -> None:
        self.a, self.b, self.c = lawyers(session, world, 3, make_user=make_user)
        start = this_monday()
        self.current = duty_week(session, self.a, start)
        self.a_week = duty_week(session, self.a, start + 2 * rota.WEEK)
        self.b_week = duty_week(session, self.b, start + 3 * rota.WEEK)
        self.c_week = duty_week(session, self.c, start + 4 * rota.WEEK)
        for week in (self.current, self.a_week, self.b_week, self.c_week):
            week.created_by_id = world.clerk.id
        session.commit()
        self.session = session

    def user(self, person: Any) -> User:
        return self.session.get(User, person.user_id)

    def notices(self, user: Any) -> list[str]:
        return list(self.session.scalars(select(Notification.text).where(
            Notification.user_id == user.id)))

    def state(self) -> list[tuple[int, int, int]]:
        self.session.expire_all()
        return [(w.id, w.lawyer_id, w.version) for w in self.session.scalars(
            select(DutyWeek).order_by(DutyWeek.id))]


@pytest.fixture()
def team(session, world, make_user):
    return Team(session, world, make_user)


def ask(client: Any, mine: Any, theirs: Any, reason: str = "家中有事") -> Any:
    return client.post("/consultations/my-weeks/swaps", data={
        "my_week": mine.id, "their_week": theirs.id, "reason": reason,
        "idempotency_key": f"k-{mine.id}-{theirs.id}-{reason}"}, follow_redirects=True)


def test_a_swap_with_consent_and_approval_exchanges_the_weeks(app, session, world, team):
    a_client, b_client, organiser = app.test_client(), app.test_client(), app.test_client()
    login(a_client, team.user(team.a))
    login(b_client, team.user(team.b))
    login(organiser, world.clerk)

    mine = page(a_client.get("/consultations/my-weeks"))
    assert team.a_week.week_start.isoformat() in mine and "Ask for the swap" in mine
    shown = page(ask(a_client, team.a_week, team.b_week))
    assert "Swap asked: the other lawyer is told" in shown
    swap = session.scalars(select(SwapRequest)).one()
    assert swap.status == SwapStatus.ASKED and swap.asked_of_id == team.b.id
    assert any(team.a.name in t for t in team.notices(team.user(team.b)))
    assert any("asks" in t for t in team.notices(world.clerk))
    # sent twice (a double click): one request
    ask(a_client, team.a_week, team.b_week)
    assert session.scalar(select(func.count()).select_from(SwapRequest)) == 1

    inbox = page(b_client.get("/consultations/my-weeks"))
    assert f"{team.a.name} asks to swap" in inbox and "Accept" in inbox
    desk = page(b_client.get("/consultations/"))
    assert "1 swap(s) to answer" in desk
    response = b_client.post(f"/consultations/swaps/{swap.id}/answer",
                             data={"answer": "accept"}, follow_redirects=True)
    assert "Swap accepted: it now awaits the organiser&#39;s approval." in page(response)
    session.refresh(swap)
    assert swap.status == SwapStatus.ACCEPTED and swap.answered_at
    assert any("accepted" in t for t in team.notices(team.user(team.a)))
    assert sum("accepted" in t for t in team.notices(world.clerk)) == 1

    approvals = page(organiser.get("/consultations/rota/swaps"))
    assert "agree to swap" in approvals and team.b.name in approvals
    versions = (team.a_week.version, team.b_week.version)
    response = organiser.post(f"/consultations/rota/swaps/{swap.id}/decide",
                              data={"decision": "approve"}, follow_redirects=True)
    assert "Swap approved: the two weeks changed hands." in page(response)
    session.expire_all()
    assert team.a_week.lawyer_id == team.b.id and team.b_week.lawyer_id == team.a.id
    assert (team.a_week.version, team.b_week.version) == (versions[0] + 1, versions[1] + 1)
    assert swap.status == SwapStatus.APPROVED and swap.decided_by_id == world.clerk.id
    assert any(f"week from {team.b_week.week_start}" in t
               for t in team.notices(team.user(team.a)))
    assert any(f"week from {team.a_week.week_start}" in t
               for t in team.notices(team.user(team.b)))


def test_no_one_can_force_a_swap(app, session, world, team):
    a_client, b_client, c_client = app.test_client(), app.test_client(), app.test_client()
    login(a_client, team.user(team.a))
    login(b_client, team.user(team.b))
    login(c_client, team.user(team.c))
    organiser = app.test_client()
    login(organiser, world.clerk)
    ask(a_client, team.a_week, team.b_week)
    swap = session.scalars(select(SwapRequest)).one()
    before = team.state()

    # the organiser cannot approve what the other lawyer did not accept
    response = organiser.post(f"/consultations/rota/swaps/{swap.id}/decide",
                              data={"decision": "approve"}, follow_redirects=True)
    assert "Only a swap the other lawyer accepted can be decided." in page(response)
    # a third lawyer, or the one asking, cannot answer for the other: 404
    assert c_client.post(f"/consultations/swaps/{swap.id}/answer",
                         data={"answer": "accept"}).status_code == 404
    assert a_client.post(f"/consultations/swaps/{swap.id}/answer",
                         data={"answer": "accept"}).status_code == 404
    # the one asked cannot withdraw it, nobody else can either
    assert b_client.post(f"/consultations/swaps/{swap.id}/withdraw").status_code == 404
    # lawyers cannot approve, organisers cannot answer for a lawyer
    assert b_client.post(f"/consultations/rota/swaps/{swap.id}/decide",
                         data={"decision": "approve"}).status_code == 403
    assert organiser.post(f"/consultations/swaps/{swap.id}/answer",
                          data={"answer": "accept"}).status_code == 403
    assert b_client.post(f"/consultations/swaps/{swap.id}/answer",
                         data={"answer": "maybe"}, follow_redirects=True).status_code == 200
    session.refresh(swap)
    assert swap.status == SwapStatus.ASKED and team.state() == before


def test_asking_is_refused_with_a_clear_message(app, session, world, team, make_user):
    client = app.test_client()
    login(client, team.user(team.a))
    session.add(Unavailability(person_id=team.c.id, week_start=team.a_week.week_start))
    session.commit()
    cases = [
        (team.current, team.b_week, "A week that has begun can no longer be swapped."),
        (team.b_week, team.c_week, "Choose one of your own weeks and another lawyer&#39;s week."),
        (team.a_week, team.current, "Both weeks are yours"),
        (team.a_week, team.c_week, f"{team.c.name} declared your week unavailable."),
    ]
    for mine, theirs, message in cases:
        response = ask(client, mine, theirs)
        assert message in page(response), message
    ask(client, team.a_week, team.b_week)
    response = ask(client, team.a_week, team.b_week, reason="again")
    assert "already has a swap request pending" in page(response)
    assert session.scalar(select(func.count()).select_from(SwapRequest)) == 1
    # an account without a registry lawyer, and an organiser, cannot ask
    unlinked = app.test_client()
    login(unlinked, make_user(Role.LAWYER))
    assert "not linked to a lawyer" in page(unlinked.get("/consultations/my-weeks"))
    assert unlinked.post("/consultations/my-weeks/swaps", data={
        "my_week": team.a_week.id, "their_week": team.b_week.id}).status_code == 403
    organiser = app.test_client()
    login(organiser, world.clerk)
    assert organiser.post("/consultations/my-weeks/swaps", data={
        "my_week": team.a_week.id, "their_week": team.b_week.id}).status_code == 403


def test_a_week_changed_since_asking_is_refused(app, session, world, team):
    a_client, b_client, organiser = app.test_client(), app.test_client(), app.test_client()
    login(a_client, team.user(team.a))
    login(b_client, team.user(team.b))
    login(organiser, world.clerk)
    ask(a_client, team.a_week, team.b_week)
    swap = session.scalars(select(SwapRequest)).one()
    # the organiser moves B's week to C meanwhile
    response = organiser.post(f"/consultations/rota/weeks/{team.b_week.week_start}",
                              data={"lawyer_id": team.c.id, "reason": "临时调整"})
    assert response.status_code == 303
    before = team.state()
    response = b_client.post(f"/consultations/swaps/{swap.id}/answer",
                             data={"answer": "accept"}, follow_redirects=True)
    assert "One of the two weeks changed since the swap was asked: ask again." in page(response)
    session.refresh(swap)
    assert swap.status == SwapStatus.ASKED and team.state() == before


def test_a_week_begun_before_approval_is_refused(app, session, world, team, monkeypatch):
    a_client, b_client, organiser = app.test_client(), app.test_client(), app.test_client()
    login(a_client, team.user(team.a))
    login(b_client, team.user(team.b))
    login(organiser, world.clerk)
    ask(a_client, team.a_week, team.b_week)
    swap = session.scalars(select(SwapRequest)).one()
    b_client.post(f"/consultations/swaps/{swap.id}/answer", data={"answer": "accept"})
    before = team.state()
    from consultations import rota_ops
    from portal.timeutil import utcnow

    later = utcnow() + timedelta(weeks=3)
    monkeypatch.setattr(rota_ops, "utcnow", lambda: later)
    response = organiser.post(f"/consultations/rota/swaps/{swap.id}/decide",
                              data={"decision": "approve"}, follow_redirects=True)
    assert "One of the two weeks has begun: it can no longer be swapped." in page(response)
    session.refresh(swap)
    assert swap.status == SwapStatus.ACCEPTED and team.state() == before


def test_decline_refuse_and_withdraw_leave_the_weeks_alone(app, session, world, team):
    a_client, b_client, c_client = app.test_client(), app.test_client(), app.test_client()
    organiser = app.test_client()
    for client, person in ((a_client, team.a), (b_client, team.b), (c_client, team.c)):
        login(client, team.user(person))
    login(organiser, world.clerk)
    before = team.state()

    ask(a_client, team.a_week, team.b_week)
    declined = session.scalars(select(SwapRequest)).one()
    response = b_client.post(f"/consultations/swaps/{declined.id}/answer",
                             data={"answer": "decline"}, follow_redirects=True)
    assert "Swap declined." in page(response)
    assert any("declined" in t for t in team.notices(team.user(team.a)))
    again = b_client.post(f"/consultations/swaps/{declined.id}/answer",
                          data={"answer": "accept"}, follow_redirects=True)
    assert "already been answered" in page(again)

    ask(a_client, team.a_week, team.c_week)
    refused = session.scalars(select(SwapRequest).where(
        SwapRequest.id != declined.id)).one()
    c_client.post(f"/consultations/swaps/{refused.id}/answer", data={"answer": "accept"})
    response = organiser.post(f"/consultations/rota/swaps/{refused.id}/decide",
                              data={"decision": "refuse"}, follow_redirects=True)
    assert "Swap refused." in page(response)
    assert any("was refused" in t for t in team.notices(team.user(team.c)))

    ask(a_client, team.a_week, team.b_week, reason="第二次")
    withdrawn = session.scalars(select(SwapRequest).where(
        SwapRequest.status == SwapStatus.ASKED)).one()
    response = a_client.post(f"/consultations/swaps/{withdrawn.id}/withdraw",
                             follow_redirects=True)
    assert "Swap request withdrawn." in page(response)
    assert any("withdrew" in t for t in team.notices(team.user(team.b)))
    session.expire_all()
    assert [s.status for s in session.scalars(select(SwapRequest).order_by(SwapRequest.id))] \
        == [SwapStatus.DECLINED, SwapStatus.REFUSED, SwapStatus.WITHDRAWN]
    assert team.state() == before


def test_unavailability_declared_and_withdrawn(app, session, world, team):
    client = app.test_client()
    login(client, team.user(team.b))
    wednesday = this_monday() + 6 * rota.WEEK + timedelta(days=2)
    response = client.post("/consultations/my-weeks/unavailable", data={
        "week": wednesday.isoformat(), "reason": "出差", "idempotency_key": "u1"},
        follow_redirects=True)
    monday = wednesday - timedelta(days=2)
    assert f"The week from {monday} is marked unavailable" in page(response)
    row = session.scalars(select(Unavailability)).one()
    assert row.week_start == monday and row.person_id == team.b.id
    refusals = [
        (monday, "already declared that week unavailable"),
        (team.b_week.week_start, "You are on duty that week in the published rota"),
        (this_monday(), "That week has begun"),
    ]
    for day, message in refusals:
        response = client.post("/consultations/my-weeks/unavailable", data={
            "week": day.isoformat(), "idempotency_key": f"u-{day}"}, follow_redirects=True)
        assert message in page(response), message
    assert "Give a day of the week" in page(client.post(
        "/consultations/my-weeks/unavailable", data={"week": "soon"}, follow_redirects=True))
    assert session.scalar(select(func.count()).select_from(Unavailability)) == 1
    # someone else's row is not theirs to remove
    other = app.test_client()
    login(other, team.user(team.c))
    assert other.post(f"/consultations/my-weeks/unavailable/{row.id}/remove").status_code \
        == 404
    response = client.post(f"/consultations/my-weeks/unavailable/{row.id}/remove",
                           follow_redirects=True)
    assert "The week is available again." in page(response)
    assert not session.scalar(select(func.count()).select_from(Unavailability))


def test_an_approval_after_someone_declared_the_week_unavailable_is_refused(
        app, session, world, team):
    a_client, b_client, organiser = app.test_client(), app.test_client(), app.test_client()
    login(a_client, team.user(team.a))
    login(b_client, team.user(team.b))
    login(organiser, world.clerk)
    ask(a_client, team.a_week, team.b_week)
    swap = session.scalars(select(SwapRequest)).one()
    b_client.post(f"/consultations/swaps/{swap.id}/answer", data={"answer": "accept"})
    # B is not on duty in A's week yet: B may still declare it unavailable
    b_client.post("/consultations/my-weeks/unavailable", data={
        "week": team.a_week.week_start.isoformat(), "idempotency_key": "late"})
    before = team.state()
    response = organiser.post(f"/consultations/rota/swaps/{swap.id}/decide",
                              data={"decision": "approve"}, follow_redirects=True)
    assert "declared the week they would take unavailable" in page(response)
    session.refresh(swap)
    assert swap.status == SwapStatus.ACCEPTED and team.state() == before
