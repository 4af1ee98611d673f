"""The organiser's rota through the pages: generate a fair draft of next year (holidays
closed, unavailability honoured), confirm before replacing it, publish it (lawyers told),
change one future week by hand; every refusal with its message, status and nothing
changed."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select

from consultations import rota
from consultations.models import DutyWeek, RotaStatus, Unavailability
from portal.auth.models import User
from portal.casefiles import holidays as hol
from portal.notify.models import Notification, OutboxMessage
from tests.fixtures.consultations import duty_week, lawyers, this_monday
from tests.fixtures.core import login


def next_year() -> int:
    return this_monday().year + 1


def weeks(session: Any, year: int) -> dict[date, DutyWeek]:
    session.expire_all()
    return {w.week_start: w for w in session.scalars(select(DutyWeek).where(
        DutyWeek.week_start.between(date(year, 1, 1), date(year, 12, 31))))}


def page(response: Any) -> str:
    return str(response.get_data(as_text=True))


def spring_festival(session: Any, admin: Any, year: int) -> date:
    """A Spring-Festival-style week of next year: Monday to Friday are holidays (the
    calendar rows the holidays page stores)."""
    monday = rota.mondays_of(year)[5]
    hol.add_days(session, admin, monday, monday + timedelta(days=4), "holiday", "春节")
    session.commit()
    return monday


def test_the_organiser_generates_a_fair_draft_and_publishes_it(client, session, world):
    year = next_year()
    team = lawyers(session, world, 30)
    closed = spring_festival(session, world.admin, year)
    first = rota.mondays_of(year)[0]
    away = [first, first + rota.WEEK, first + 2 * rota.WEEK]
    session.add_all(Unavailability(person_id=team[0].id, week_start=w) for w in away)
    session.commit()
    login(client, world.clerk)

    empty = page(client.get(f"/consultations/rota?year={year}"))
    assert f"Generate the draft of {year}" in empty and "Not planned" in empty
    response = client.post("/consultations/rota/generate", data={"year": year},
                           follow_redirects=True)
    shown = page(response)
    assert response.status_code == 200
    mondays = rota.mondays_of(year)
    assert f"{len(mondays) - 1} weeks planned, 1 holiday weeks closed" in shown
    assert "Closed: public holidays" in shown
    assert f"Publish {len(mondays) - 1} draft weeks" in shown

    planned = weeks(session, year)
    assert closed not in planned  # a closed week has no row
    assert set(planned) == set(mondays) - {closed}
    assert all(w.status == RotaStatus.DRAFT and w.created_by_id == world.clerk.id
               for w in planned.values())
    counts: dict[int, int] = {}
    for w in planned.values():
        counts[w.lawyer_id] = counts.get(w.lawyer_id, 0) + 1
    mean = len(planned) / 30
    assert len(counts) == 30 and all(abs(n - mean) <= 1 for n in counts.values()), counts
    assert all(planned[w].lawyer_id != team[0].id for w in away)
    ordered = [planned[m].lawyer_id for m in sorted(planned)]
    assert all(a != b for a, b in zip(ordered, ordered[1:], strict=False))

    # a draft is nobody's duty yet
    assert team[0].name not in page(client.get("/consultations/duty"))
    emails = session.scalar(select(func.count()).select_from(OutboxMessage))
    response = client.post("/consultations/rota/publish", data={"year": year},
                           follow_redirects=True)
    assert f"{len(planned)} weeks published; the lawyers are told." in page(response)
    published = weeks(session, year)
    assert all(w.status == RotaStatus.PUBLISHED and w.published_at for w in published.values())
    # the 30 lawyers (no accounts) each get one e-mail at their registry address
    told = session.scalars(select(OutboxMessage.to_address).where(
        OutboxMessage.id > (emails or 0))).all()
    assert sorted(told) == sorted(p.email for p in team)
    # nothing left to publish
    response = client.post("/consultations/rota/publish", data={"year": year},
                           follow_redirects=True)
    assert f"{year} has no draft week to publish." in page(response)


def test_generating_again_asks_first_and_replaces_only_with_consent(client, session, world):
    year = next_year()
    lawyers(session, world, 4)
    session.commit()
    login(client, world.clerk)
    client.post("/consultations/rota/generate", data={"year": year})
    before = {m: (w.lawyer_id, w.version) for m, w in weeks(session, year).items()}
    shown = page(client.get(f"/consultations/rota?year={year}"))
    assert "data-confirm=\"This replaces the" in shown and "Generate again (replaces" in shown

    response = client.post("/consultations/rota/generate", data={"year": year},
                           follow_redirects=True)
    assert f"{year} already has planned weeks: confirm to replace them." in page(response)
    assert {m: (w.lawyer_id, w.version) for m, w in weeks(session, year).items()} == before

    # a new lawyer joins: the confirmed replacement spreads the year over five
    newcomer = lawyers(session, world, 1)[0]
    session.commit()
    response = client.post("/consultations/rota/generate", data={"year": year, "replace": "1"},
                           follow_redirects=True)
    assert response.status_code == 200 and "weeks planned" in page(response)
    assert newcomer.id in {w.lawyer_id for w in weeks(session, year).values()}


def test_published_weeks_that_have_begun_never_change(client, session, world):
    year = this_monday().year
    team = lawyers(session, world, 3)
    current = duty_week(session, team[0])
    session.commit()
    login(client, world.clerk)
    client.post("/consultations/rota/generate", data={"year": year, "replace": "1"})
    session.refresh(current)
    assert current.lawyer_id == team[0].id and current.status == RotaStatus.PUBLISHED
    past_year = page(client.post("/consultations/rota/generate", data={"year": year - 1},
                                 follow_redirects=True))
    assert f"The weeks of {year - 1} have all begun" in past_year
    assert not weeks(session, year - 1)
    # and by hand
    response = client.post(f"/consultations/rota/weeks/{current.week_start}",
                           data={"lawyer_id": team[1].id, "reason": "病假"})
    assert response.status_code == 400
    assert "This week has begun: its lawyer can no longer be changed." in page(response)
    session.refresh(current)
    assert current.lawyer_id == team[0].id


def test_the_organiser_changes_one_future_week_by_hand(client, session, world, make_user):
    team = lawyers(session, world, 3, make_user=make_user)
    monday = this_monday() + 3 * rota.WEEK
    week = duty_week(session, team[0], monday)
    session.add(Unavailability(person_id=team[1].id, week_start=monday, reason="出差"))
    session.commit()
    login(client, world.clerk)
    form = page(client.get(f"/consultations/rota/weeks/{monday}"))
    assert team[1].name in form and "unavailable" in form

    # refused: the chosen lawyer declared the week unavailable
    response = client.post(f"/consultations/rota/weeks/{monday}",
                           data={"lawyer_id": team[1].id, "reason": "调整"})
    assert response.status_code == 400
    assert f"{team[1].name} declared this week unavailable" in page(response)
    # refused: no reason
    response = client.post(f"/consultations/rota/weeks/{monday}",
                           data={"lawyer_id": team[2].id, "reason": ""})
    assert response.status_code == 400
    session.refresh(week)
    assert week.lawyer_id == team[0].id and week.version == 1

    response = client.post(f"/consultations/rota/weeks/{monday}",
                           data={"lawyer_id": team[2].id, "reason": "原律师生病"})
    assert response.status_code == 303
    session.refresh(week)
    assert week.lawyer_id == team[2].id and week.version == 2
    # both lawyers are told, with the reason
    for person in (team[0], team[2]):
        user = session.get(User, person.user_id)
        texts = session.scalars(select(Notification.text).where(
            Notification.user_id == user.id)).all()
        assert any("原律师生病" in t for t in texts), texts


def test_bad_input_is_a_clear_answer_never_a_crash(client, session, world):
    login(client, world.clerk)
    assert client.get("/consultations/rota?year=abc").status_code == 404
    assert client.get("/consultations/rota?year=99999").status_code == 404
    assert client.get("/consultations/rota/weeks/2031-13-01").status_code == 404
    tuesday = this_monday() + timedelta(days=8)
    assert client.get(f"/consultations/rota/weeks/{tuesday}").status_code == 404
    response = client.post("/consultations/rota/generate", data={"year": "x"},
                           follow_redirects=True)
    assert "Give a year between 2000 and 2200." in page(response)
    response = client.post("/consultations/rota/weeks/2099-01-05",
                           data={"lawyer_id": "abc", "reason": "x"})
    assert response.status_code == 400
    assert not session.scalar(select(func.count()).select_from(DutyWeek))
    response = client.post("/consultations/rota/generate", data={"year": next_year()},
                           follow_redirects=True)
    assert "There is no active lawyer in the registry" in page(response)


def test_a_get_changes_nothing(client, session, world):
    lawyers(session, world, 2)
    session.commit()
    login(client, world.clerk)
    for url in ("/consultations/rota", f"/consultations/rota?year={next_year()}",
                "/consultations/rota/weeks/2099-01-05", "/consultations/rota/swaps",
                "/consultations/", "/consultations/duty"):
        assert client.get(url).status_code == 200, url
    assert not session.scalar(select(func.count()).select_from(DutyWeek))


def test_the_desk_shows_the_rota_section(client, session, world):
    team = lawyers(session, world, 2)
    duty_week(session, team[0])
    duty_week(session, team[1], this_monday() + rota.WEEK)
    session.commit()
    login(client, world.clerk)
    shown = page(client.get("/consultations/"))
    assert "Duty rota" in shown and team[0].name in shown and team[1].name in shown
    assert "/consultations/rota/swaps" in shown


def test_the_demo_seeds_a_published_rota_once(client, session, world, make_user):
    from consultations.rota_ops import seed_rota
    from portal.auth.roles import Role

    clerk = make_user(Role.CLERK, username="clerk")
    team = lawyers(session, world, 4)
    team[2].user_id = make_user(Role.LAWYER, username="lawyer").id
    session.commit()
    said: list[str] = []
    seed_rota(session, said.append)
    session.commit()
    now = weeks(session, this_monday().year)[this_monday()]
    assert now.lawyer_id == team[2].id and now.status == RotaStatus.PUBLISHED
    following = weeks(session, next_year())
    assert len(following) >= 45 and all(w.status == RotaStatus.PUBLISHED
                                        and w.created_by_id == clerk.id
                                        for w in following.values())
    assert team[2].name in page(client.get("/consultations/duty"))
    seed_rota(session, said.append)
    assert said[-1] == "consultations: duty rota present, 0 new"


def test_the_rota_page_shows_who_declared_a_week_unavailable(client, session, world):
    team = lawyers(session, world, 2)
    monday = this_monday() + 2 * rota.WEEK
    duty_week(session, team[0], monday)
    session.add_all([Unavailability(person_id=team[0].id, week_start=monday),
                     Unavailability(person_id=team[1].id, week_start=monday)])
    session.commit()
    login(client, world.clerk)
    shown = page(client.get(f"/consultations/rota?year={monday.year}"))
    assert f"{team[0].name}、{team[1].name}" in shown or f"{team[1].name}、{team[0].name}" in shown
    assert "The lawyer declared this week unavailable: change it." in shown


def test_the_public_duty_page_leads_to_asking_a_question(client):
    """Who is on duty, then where to ask: the page is not a dead end (anonymous too)."""
    body = client.get("/consultations/duty").get_data(as_text=True)
    assert 'href="/consultations/ask"' in body
    assert client.get("/consultations/ask").status_code == 200
