"""The registry pages as a clerk, a leader and an outsider see them."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from sqlalchemy import event, select, text

from portal.auth.roles import Role
from portal.casefiles.models import AccessLog
from portal.extensions import db
from portal.people import operations as ops
from portal.people.models import Affiliation, Person


@pytest.fixture()
def make_person(session: Any):  # type: ignore[no-untyped-def]
    counter = iter(range(1, 10_000))

    def make(kind: str = "deputy", **fields: Any) -> Person:
        n = next(counter)
        data: dict[str, Any] = {"kind": kind, "name": f"测试人{n:03d}",
                                "phone": f"1390000{n:04d}"}
        data.update(fields)
        org = data.pop("organisation", None)
        person = ops.create_person(session, data, organisation=org)
        session.commit()
        return person

    return make


@pytest.fixture()
def committee(make_org: Any) -> Any:
    town = make_org("东坡镇", "township")
    return make_org("东坡镇人民调解委员会", "committee", parent=town)


def _body(response: Any) -> str:
    return response.get_data(as_text=True)


def test_list_shows_people_with_masked_phones(client, login_as, make_person):
    login_as(Role.CLERK)
    make_person("expert", name="王建华", expert_field="medical", employer="青溪县人民医院",
                phone="13800001234")
    page = _body(client.get("/people/"))
    assert "王建华" in page
    assert "138****1234" in page
    assert "13800001234" not in page
    assert 'data-label="' in page


def test_search_and_filters(client, login_as, make_person, committee):
    login_as(Role.CLERK)
    make_person("expert", name="王建华", expert_field="medical", employer="青溪县人民医院")
    make_person("expert", name="李秀梅", expert_field="education", employer="青溪县第一中学")
    make_person("lawyer", name="周正", lawyer_firm="青溪明正律师事务所",
                lawyer_licence_no="13301201510012345")
    make_person("mediator", name="张德明", mediator_kind="elder", organisation=committee)
    old = make_person("deputy", name="赵退休")
    ops.set_active(db.session, old, False)
    db.session.commit()

    page = _body(client.get("/people/?q=人民医院"))
    assert "王建华" in page and "李秀梅" not in page
    page = _body(client.get("/people/?q=明正"))
    assert "周正" in page and "王建华" not in page
    page = _body(client.get("/people/?q=1330120151"))
    assert "周正" in page
    page = _body(client.get("/people/?kind=expert&field=education"))
    assert "李秀梅" in page and "王建华" not in page and "周正" not in page
    page = _body(client.get("/people/?mediator_kind=elder"))
    assert "张德明" in page and "王建华" not in page
    page = _body(client.get(f"/people/?org={committee.id}"))
    assert "张德明" in page and "李秀梅" not in page
    assert "赵退休" not in _body(client.get("/people/"))
    page = _body(client.get("/people/?status=inactive"))
    assert "赵退休" in page and "王建华" not in page
    assert "赵退休" in _body(client.get("/people/?status=all"))
    page = _body(client.get("/people/?q=没有这个人"))
    assert "Nobody matches these filters." in page


def test_paging_25_a_page_and_htmx_swaps_results(client, login_as, make_person):
    login_as(Role.LEADER)
    for _ in range(60):
        make_person("cppcc")
    first = _body(client.get("/people/"))
    assert first.count('data-label="Phone"') == 25
    assert "60 people" in first
    assert "Page 1 of 3" in first
    last = _body(client.get("/people/?page=3"))
    assert last.count('data-label="Phone"') == 10
    fragment = _body(client.get("/people/?page=3", headers={"HX-Request": "true"}))
    assert "<html" not in fragment and "Page 3 of 3" in fragment


def test_list_query_count_does_not_grow_with_rows(app, client, login_as, make_person):
    login_as(Role.CLERK)
    statements: list[str] = []

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        if "people" in statement:
            statements.append(statement)

    make_person("deputy")
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        client.get("/people/", headers={"HX-Request": "true"})
        few = len(statements)
        for _ in range(30):
            make_person("deputy")
        statements.clear()
        client.get("/people/", headers={"HX-Request": "true"})
        many = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert few == many == 2  # the counts by kind, one page of rows


def test_outsiders_cannot_open_the_registries(client, login_as):
    login_as(Role.AGENCY)
    assert client.get("/people/").status_code == 403
    assert client.get("/people/new").status_code == 403


def test_new_person_choose_kind_then_kind_fields(client, login_as):
    login_as(Role.CLERK)
    page = _body(client.get("/people/new"))
    assert "Which registry does the person go into?" in page
    assert "/people/new?kind=lawyer" in page
    page = _body(client.get("/people/new?kind=lawyer"))
    assert 'name="lawyer_licence_no"' in page and 'name="lawyer_firm"' in page
    assert 'name="expert_field"' not in page
    page = _body(client.get("/people/new?kind=expert"))
    assert 'name="expert_field"' in page and 'name="lawyer_firm"' not in page


def test_create_shows_clear_validation_messages(client, login_as, make_person):
    login_as(Role.CLERK)
    make_person("lawyer", lawyer_firm="青溪明正律师事务所",
                lawyer_licence_no="13301201510012345")
    form = {"kind": "lawyer", "name": "", "phone": "12345", "lawyer_firm": "",
            "lawyer_licence_no": "13301201510012345", "idempotency_key": "k-invalid"}
    response = client.post("/people/new?kind=lawyer", data=form)
    page = _body(response)
    assert response.status_code == 422
    assert "The name is required." in page
    assert "Enter a mobile number (11 digits starting with 1)" in page
    assert "The law firm is required for a lawyer." in page
    assert "already has this licence number" in page
    response = client.post("/people/new?kind=lawyer", data={
        **form, "lawyer_licence_no": "123", "name": "周正"})
    assert "A lawyer&#39;s licence number has 17 digits." in _body(response)
    response = client.post("/people/new", data={"kind": "mediator", "name": "张三"})
    page = _body(response)
    assert "Choose the mediator&#39;s committee." in page
    assert "Choose what kind of mediator this is." in page
    response = client.post("/people/new", data={"kind": "expert", "name": "张三"})
    assert "Choose the expert&#39;s field." in _body(response)
    assert db.session.scalar(select(Person).where(Person.name == "张三")) is None


def test_create_then_record_page(client, login_as, committee):
    login_as(Role.CLERK)
    response = client.post("/people/new", data={
        "kind": "mediator", "name": "刘桂兰", "gender": "female", "phone": "138 0000 5678",
        "organisation_id": str(committee.id), "mediator_kind": "grid_worker",
        "availability": "工作日下午", "idempotency_key": "k-create"})
    assert response.status_code == 302
    person = db.session.scalar(select(Person).where(Person.name == "刘桂兰"))
    assert person is not None and person.phone == "13800005678"
    page = _body(client.get(response.headers["Location"]))
    assert "刘桂兰" in page and "138****5678" in page and "13800005678" not in page
    assert "东坡镇 / 东坡镇人民调解委员会" in page and "Grid worker" in page
    assert "工作日下午" in page


def test_landline_accepted(client, login_as):
    login_as(Role.CLERK)
    response = client.post("/people/new", data={
        "kind": "cppcc", "name": "钱学文", "phone": "0571 8800 1234",
        "idempotency_key": "k-landline"})
    assert response.status_code == 302
    person = db.session.scalar(select(Person).where(Person.name == "钱学文"))
    assert person is not None and person.phone == "0571-88001234"


def test_double_submit_creates_once(client, login_as):
    login_as(Role.CLERK)
    form = {"kind": "deputy", "name": "孙立新", "idempotency_key": "same-key-twice"}
    first = client.post("/people/new", data=form)
    second = client.post("/people/new", data=form)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    found = db.session.scalars(select(Person).where(Person.name == "孙立新")).all()
    assert len(found) == 1


def test_stale_edit_gets_409_and_keeps_the_users_text(client, login_as, make_person):
    login_as(Role.CLERK)
    person = make_person("deputy", name="马振华")
    page = _body(client.get(f"/people/{person.id}/edit"))
    version = re.search(r'name="version" type="hidden" value="(\d+)"', page)
    assert version is not None
    # someone else saves first
    ops.update_person(db.session, person, {"kind": "deputy", "name": "马振华",
                                           "title": "县人大常委"}, None)
    db.session.commit()
    response = client.post(f"/people/{person.id}/edit", data={
        "kind": "deputy", "name": "马振华", "title": "我的修改：镇人大主席",
        "version": version.group(1)})
    page = _body(response)
    assert response.status_code == 409
    assert "Someone else changed this record" in page
    assert "我的修改：镇人大主席" in page
    db.session.expire_all()
    assert db.session.get(Person, person.id).title == "县人大常委"


def test_edit_saves_and_changes_kind_fields(client, login_as, make_person):
    login_as(Role.CLERK)
    person = make_person("expert", name="胡明辉", expert_field="land")
    page = _body(client.get(f"/people/{person.id}/edit"))
    version = re.search(r'name="version" type="hidden" value="(\d+)"', page)
    assert version is not None
    response = client.post(f"/people/{person.id}/edit", data={
        "kind": "expert", "name": "胡明辉", "expert_field": "labour", "phone": "",
        "version": version.group(1)})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Person, person.id).expert_field == "labour"


def test_deactivate_and_reactivate(client, login_as, make_person):
    login_as(Role.CLERK)
    person = make_person("expert", name="郭春梅", expert_field="finance")
    page = _body(client.get(f"/people/{person.id}"))
    assert 'data-confirm="' in page  # asks before deactivating (static/js/portal.js)
    response = client.post(f"/people/{person.id}/active", data={"active": "0"},
                           follow_redirects=True)
    page = _body(response)
    assert "is now inactive" in page and "Reactivate" in page
    assert "郭春梅" not in _body(client.get("/people/"))
    client.post(f"/people/{person.id}/active", data={"active": "1"})
    assert "郭春梅" in _body(client.get("/people/"))


def test_reveal_phone_is_logged_and_only_for_managers(app, client, session, login_as,
                                                     make_person, caplog, monkeypatch):
    # migrations/env.py's fileConfig() disables loggers that exist when a later app migrates
    monkeypatch.setattr(app.logger, "disabled", False)
    person = make_person("deputy", name="林国庆", phone="13912345678")
    leader = login_as(Role.LEADER)
    page = _body(client.get(f"/people/{person.id}"))
    assert "139****5678" in page and "Show number" not in page
    assert client.post(f"/people/{person.id}/phone").status_code == 403
    client.post("/logout")
    assert leader.username
    clerk = login_as(Role.CLERK)
    assert "Show number" in _body(client.get(f"/people/{person.id}"))
    with caplog.at_level(logging.INFO):
        response = client.post(f"/people/{person.id}/phone", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "13912345678" in _body(response)
    assert "<html" not in _body(response)
    assert response.headers["Cache-Control"] == "no-store"
    logged = [r.getMessage() for r in caplog.records if "phone number revealed" in r.getMessage()]
    assert len(logged) == 1
    assert clerk.username in logged[0] and "林国庆" in logged[0]
    # recorded in the access log with the case files' unmasked numbers: who, whose, when
    rows = session.execute(select(AccessLog.user_id, AccessLog.person_id, AccessLog.case_id,
                                  AccessLog.action, AccessLog.at)
                           .where(AccessLog.person_id == person.id)).all()
    assert [(r.user_id, r.person_id, r.case_id, r.action) for r in rows] \
        == [(clerk.id, person.id, None, "unmask_phone")]
    assert rows[0].at is not None
    # the leader's refused attempt left no row; without JavaScript: the whole page with
    # the number, and a second row
    page = _body(client.post(f"/people/{person.id}/phone"))
    assert "13912345678" in page and "林国庆" in page
    assert len(session.scalars(select(AccessLog.id).where(AccessLog.person_id == person.id))
               .all()) == 2


def test_phone_is_encrypted_at_rest(session, make_person):
    person = make_person("deputy", phone="13800009876")
    raw = session.execute(text("SELECT phone FROM people WHERE id = :id"),
                          {"id": person.id}).scalar_one()
    assert "13800009876" not in raw and "9876" not in raw
    session.expire_all()
    assert session.get(Person, person.id).phone == "13800009876"


def test_affiliations_added_and_removed(client, login_as, make_person, make_org):
    login_as(Role.CLERK)
    person = make_person("expert", name="高天佑", expert_field="environment")
    agency = make_org("县生态环境局", "agency")
    response = client.post(f"/people/{person.id}/affiliations", data={
        "organisation_id": str(agency.id), "relation": "曾任职", "idempotency_key": "t1"},
        follow_redirects=True)
    page = _body(response)
    assert "县生态环境局" in page and "曾任职" in page
    client.post(f"/people/{person.id}/affiliations", data={
        "organisation_id": "0", "name": "青溪环保科技有限公司", "relation": "股东",
        "idempotency_key": "t2"})
    client.post(f"/people/{person.id}/affiliations", data={
        "organisation_id": "0", "name": "青溪环保科技有限公司", "relation": "股东",
        "idempotency_key": "t2"})  # the same form sent twice
    ties = db.session.scalars(select(Affiliation).where(
        Affiliation.person_id == person.id)).all()
    assert [t.name for t in ties] == ["县生态环境局", "青溪环保科技有限公司"]
    page = _body(client.get(f"/people/{person.id}"))
    assert "not in the portal" in page
    response = client.post(f"/people/{person.id}/affiliations", data={
        "organisation_id": "0", "name": "", "idempotency_key": "t3"})
    assert response.status_code == 422
    assert "Choose an organisation from the list or type its name." in _body(response)
    client.post(f"/people/{person.id}/affiliations/{ties[0].id}/delete")
    db.session.expire_all()
    left = db.session.scalars(select(Affiliation.name).where(
        Affiliation.person_id == person.id)).all()
    assert left == ["青溪环保科技有限公司"]


@pytest.mark.parametrize(("raw", "stored"), [
    ("13800001234", "13800001234"), ("138-0000-1234", "13800001234"),
    ("+86 138 0000 1234", "13800001234"), ("0571-88001234", "0571-88001234"),
    ("010 12345678", "010-12345678"), ("0571-8800123-801", "0571-8800123-801"),
    ("", None),
])
def test_phone_forms_accepted(raw, stored):
    assert ops.normalise_phone(raw) == stored


@pytest.mark.parametrize("raw", ["12345", "1380000123", "23800001234", "88001234",
                                 "138000012345", "phone"])
def test_phone_forms_refused(raw):
    with pytest.raises(ValueError):
        ops.normalise_phone(raw)
