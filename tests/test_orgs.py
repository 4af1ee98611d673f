"""Organisations: admins manage the county's townships, villages, agencies and committees."""

from __future__ import annotations

from sqlalchemy import func, select

from portal.auth.roles import Role
from portal.orgs.models import Organisation


def _form(**overrides):
    data = {"name": "县人力资源和社会保障局", "kind": "agency", "sector": "labour",
            "parent_id": "0", "code": "", "address": "", "phone": "", "is_active": "y",
            "idempotency_key": "org-key-1"}
    data.update(overrides)
    return data


def test_admin_creates_an_agency_once_on_double_submit(client, login_as, session):
    login_as(Role.ADMIN)
    assert client.post("/orgs/new", data=_form()).status_code == 302
    assert client.post("/orgs/new", data=_form()).status_code == 302
    count = session.scalar(select(func.count()).select_from(Organisation)
                           .where(Organisation.name == "县人力资源和社会保障局"))
    assert count == 1
    page = client.get("/orgs/?q=人力资源").get_data(as_text=True)
    assert "县人力资源和社会保障局" in page


def test_a_village_must_belong_to_a_township(client, login_as, make_org, session):
    login_as(Role.ADMIN)
    county = make_org("青溪县", kind="county")
    page = client.post("/orgs/new", data=_form(name="李家村", kind="village",
                                               parent_id=str(county.id), sector="",
                                               idempotency_key="k2"))
    assert page.status_code == 200
    assert "cannot belong to the one chosen" in page.get_data(as_text=True)
    township = make_org("城关镇", kind="township", parent=county)
    ok = client.post("/orgs/new", data=_form(name="李家村", kind="village",
                                             parent_id=str(township.id), sector="",
                                             idempotency_key="k3"))
    assert ok.status_code == 302
    village = session.scalar(select(Organisation).where(Organisation.name == "李家村"))
    assert village.full_name == "城关镇 / 李家村"


def test_stale_edit_gets_409_and_keeps_the_users_text(client, login_as, make_org, session):
    login_as(Role.ADMIN)
    org = make_org("县民政局")
    seen = org.version
    org.address = "changed by someone else"
    session.commit()
    response = client.post(f"/orgs/{org.id}", data=_form(
        name="县民政局（新名）", kind="agency", sector="civil_affairs",
        version=str(seen), address="my address"))
    assert response.status_code == 409
    text = response.get_data(as_text=True)
    assert "县民政局（新名）" in text and "my address" in text
    session.refresh(org)
    assert org.name == "县民政局"


def test_non_admin_sees_the_list_but_cannot_edit(client, login_as, make_org):
    org = make_org("县公安局")
    login_as(Role.AGENCY)
    page = client.get("/orgs/").get_data(as_text=True)
    assert "县公安局" in page
    assert f"/orgs/{org.id}" not in page
    assert client.get(f"/orgs/{org.id}").status_code == 403


def test_empty_search_says_so(client, login_as):
    login_as(Role.CLERK)
    page = client.get("/orgs/?q=不存在的单位").get_data(as_text=True)
    assert "No organisations match." in page
