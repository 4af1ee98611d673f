"""The demo county: the counts the brief names, idempotent, logins only when asked."""

from __future__ import annotations

from sqlalchemy import func, select

from portal import demo
from portal.auth.models import User
from portal.orgs.models import Organisation
from portal.people.models import Affiliation, MediatorKind, Person


def _counts(session) -> dict[str, int]:  # type: ignore[no-untyped-def]
    rows = session.execute(select(Person.kind, func.count()).group_by(Person.kind)).all()
    found = {kind: n for kind, n in rows}
    found["organisations"] = session.scalar(select(func.count()).select_from(Organisation))
    found["users"] = session.scalar(select(func.count()).select_from(User))
    found["ties"] = session.scalar(select(func.count()).select_from(Affiliation))
    return found


def test_seed_twice_gives_the_same_registries_and_no_logins(session):
    lines: list[str] = []
    users_before = session.scalar(select(func.count()).select_from(User))
    demo.seed_core(session, lines.append, with_logins=False)
    first = _counts(session)
    demo.seed_core(session, lines.append, with_logins=False)
    assert _counts(session) == first
    assert first["expert"] == 50
    assert first["deputy"] == 15 and first["cppcc"] == 10 and first["village_rep"] == 20
    assert first["lawyer"] == 12 and first["mediator"] == 100
    assert first["users"] == users_before
    assert first["ties"] > 0
    for kind in MediatorKind:
        assert session.scalar(select(func.count()).select_from(Person).where(
            Person.mediator_kind == kind)) == 25
    inactive = session.scalar(select(func.count()).select_from(Person).where(
        Person.kind == "expert", Person.is_active.is_(False)))
    assert 1 <= inactive <= 5
    assert len({f for f in session.scalars(select(Person.expert_field).where(
        Person.kind == "expert"))}) == 10
    licences = session.scalars(select(Person.lawyer_licence_no).where(
        Person.kind == "lawyer")).all()
    assert all(n and len(n) == 17 and n.isdigit() for n in licences)
    county = session.scalar(select(Organisation).where(Organisation.name == "青溪县"))
    assert county is not None and county.kind == "county"
    assert session.scalar(select(Organisation).where(Organisation.name == "县信访局")) is not None
    # one line per part, and the second run says nothing new was made
    assert any(line.startswith("people:") and "(0 new)" in line for line in lines)
    assert any(line.startswith("organisations:") and "(0 new)" in line for line in lines)


def test_seed_with_logins_links_accounts_to_people(session):
    lines: list[str] = []
    demo.seed_core(session, lines.append, with_logins=True)
    demo.seed_core(session, lines.append, with_logins=True)
    names = {u for u, _ in demo.demo_logins()}
    assert names == {"admin", "clerk", "leader", "agency", "supervisor", "mediator", "lawyer",
                     "deputy", "expert"}
    users = {u.username: u for u in session.scalars(select(User).where(User.username.in_(names)))}
    assert set(users) == names
    assert users["clerk"].roles == {"clerk"}
    assert [o.name for o in users["clerk"].organisations] == ["县信访局"]
    assert [o.name for o in users["agency"].organisations] == ["县人力资源和社会保障局"]
    assert users["mediator"].organisations[0].kind == "committee"
    for username, kind in [("mediator", "mediator"), ("lawyer", "lawyer"),
                           ("deputy", "deputy"), ("expert", "expert")]:
        person = session.scalar(select(Person).where(Person.user_id == users[username].id))
        assert person is not None and person.kind == kind
        assert users[username].display_name == person.name
    assert any(line.startswith("logins:") and "(0 new)" in line for line in lines)
    labels = dict(demo.demo_logins())
    assert labels["clerk"] == "接访员"


def test_seeded_list_page_renders(client, login_as, session):
    demo.seed_core(session, lambda line: None, with_logins=False)
    session.commit()
    login_as(demo.Role.CLERK)
    page = client.get("/people/?kind=mediator").get_data(as_text=True)
    assert "100 people" in page
    assert "138****" in page
