"""Importing people from CSV: all rows or none, every bad row reported by line."""

from __future__ import annotations

import codecs
import io
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from portal.auth.roles import Role
from portal.extensions import db
from portal.people import csv_import
from portal.people import operations as ops
from portal.people.models import Affiliation, Person

HEADER = ("类别,姓名,性别,职务,工作单位,所属组织,手机,邮箱,地址,可参加时间,专业领域,律师事务所,"
          "执业证号,调解员类型,关联单位,状态\n")
GOOD_ROWS = (
    "专家,王建华,男,主任医师,青溪县人民医院,,13800001111,wang@example.cn,,每周二下午,医疗,,,,"
    "县卫生健康局（曾任职）；青溪康宁药业（股东）,在册\n"
    "律师,李秀梅,女,专职律师,,,0571-88001234,,,工作日,,青溪明正律师事务所,13301201510012345,,,\n"
    "调解员,张德明,男,退休教师,,东坡镇人民调解委员会,13800002222,,,随时,,,,五老,,在册\n"
    "村民代表,赵四,男,,,桃源村,,,桃源村3组,,,,,,,\n"
    "人大代表,钱学文,男,县人大代表,,东坡镇,13800003333,,,,,,,,,停用\n"
    "expert,Chen Jing,female,,,,,,,,education,,,,,\n"
)


@pytest.fixture()
def places(make_org: Any) -> dict[str, Any]:
    town = make_org("东坡镇", "township")
    return {
        "town": town,
        "village": make_org("桃源村", "village", parent=town),
        "committee": make_org("东坡镇人民调解委员会", "committee", parent=town),
        "health": make_org("县卫生健康局", "agency"),
    }


def _upload(client: Any, content: bytes, key: str = "import-1", name: str = "people.csv"):
    return client.post("/people/import", data={
        "file": (io.BytesIO(content), name), "idempotency_key": key},
        content_type="multipart/form-data")


def _people_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Person)) or 0


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig", "utf-8"])
def test_good_file_with_chinese_headers_imports_every_row(client, login_as, places, encoding):
    login_as(Role.CLERK)
    response = _upload(client, (HEADER + GOOD_ROWS).encode(encoding))
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "6 people were imported." in page
    wang = db.session.scalar(select(Person).where(Person.name == "王建华"))
    assert wang is not None
    assert (wang.kind, wang.expert_field, wang.gender, wang.phone) == (
        "expert", "medical", "male", "13800001111")
    ties = db.session.scalars(select(Affiliation).where(Affiliation.person_id == wang.id)
                              .order_by(Affiliation.id)).all()
    assert [(t.name, t.relation, t.organisation_id) for t in ties] == [
        ("县卫生健康局", "曾任职", places["health"].id), ("青溪康宁药业", "股东", None)]
    zhang = db.session.scalar(select(Person).where(Person.name == "张德明"))
    assert zhang is not None
    assert (zhang.mediator_kind, zhang.organisation_id) == ("elder", places["committee"].id)
    li = db.session.scalar(select(Person).where(Person.name == "李秀梅"))
    assert li is not None and li.lawyer_licence_no == "13301201510012345"
    qian = db.session.scalar(select(Person).where(Person.name == "钱学文"))
    assert qian is not None and qian.is_active is False
    chen = db.session.scalar(select(Person).where(Person.name == "Chen Jing"))
    assert chen is not None and chen.expert_field == "education"


def test_english_headers_are_accepted(client, login_as, places):
    login_as(Role.CLERK)
    content = ("kind,name,phone,field\n"
               "expert,孙立新,13800004444,土地\n").encode()
    assert _upload(client, content).status_code == 302
    assert db.session.scalar(select(Person.expert_field).where(Person.name == "孙立新")) == "land"


def test_bad_rows_are_all_reported_and_nothing_is_imported(client, login_as, places):
    login_as(Role.CLERK)
    ops.create_person(db.session, {"kind": "lawyer", "name": "周正",
                                   "lawyer_firm": "青溪公信律师事务所",
                                   "lawyer_licence_no": "13301201999999999"})
    db.session.commit()
    before = _people_count()
    rows = (
        "专家,王建华,男,,,,13800001111,,,,医疗,,,,,\n"                         # 2: good
        "专家,缺领域,男,,,,,,,,,,,,,\n"                                        # 3: no field
        "律师,李秀梅,女,,,,12345,,,,,,123,,,\n"                      # 4: phone, firm, licence
        "调解员,张德明,男,,,不存在的委员会,,,,,,,,五老,,\n"                        # 5: unknown org
        "律师,甲,男,,,,,,,,,甲所,13301201510012345,,,\n"                      # 6: good
        "律师,乙,男,,,,,,,,,乙所,13301201510012345,,,\n"                      # 7: same licence
        "律师,丙,男,,,,,,,,,丙所,13301201999999999,,,\n"                      # 8: in registry
        "法官,丁,男,,,,,,,,,,,,,\n"                                          # 9: unknown kind
        "\n"                                                                 # 10: blank, skipped
        "村民代表,戊,男,,,东坡镇人民调解委员会,,,,,,,,,,maybe\n"                 # 11: org, status
    )
    response = _upload(client, (HEADER + rows).encode("gb18030"))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "7 rows have problems" in page
    assert "Nothing was imported" in page
    lines = [int(x) for x in re.findall(r'class="line">(\d+)<', page)]
    assert lines == [3, 4, 5, 7, 8, 9, 11]
    assert "专业领域: Choose the expert&#39;s field." in page
    assert "手机: Enter a mobile number" in page
    assert "律师事务所: The law firm is required for a lawyer." in page
    assert "执业证号: A lawyer&#39;s licence number has 17 digits." in page
    assert "No organisation called “不存在的委员会” in the portal." in page
    assert "the same licence number is on line 6" in page
    assert "another lawyer in the registry already has this licence number" in page
    assert "“法官” is not a known kind" in page
    assert "状态: write 在册 or 停用." in page
    assert "A village representative belongs to a village." in page
    assert _people_count() == before


def test_refused_files_explain_why(client, login_as):
    login_as(Role.CLERK)
    page = _upload(client, b"PK\x03\x04 not really a workbook").get_data(as_text=True)
    assert "This is an Excel workbook, not a CSV file." in page
    page = _upload(client, "姓名,电话号码啊\n王,1\n".encode()).get_data(as_text=True)
    assert "Unknown column “电话号码啊” in line 1." in page
    page = _upload(client, "姓名,手机\n王,13800001111\n".encode()).get_data(as_text=True)
    assert "The file needs a column “类别”." in page
    page = _upload(client, HEADER.encode()).get_data(as_text=True)
    assert "The file has a header but no rows." in page
    big = b"x" * (csv_import.MAX_BYTES + 10)
    response = _upload(client, big)
    assert response.status_code == 413
    assert "larger than 2 MB" in response.get_data(as_text=True)
    response = client.post("/people/import", data={"idempotency_key": "k"},
                           content_type="multipart/form-data")
    assert "Choose a CSV file." in response.get_data(as_text=True)


def test_too_many_rows_are_refused(session, monkeypatch):
    monkeypatch.setattr(csv_import, "MAX_ROWS", 3)
    content = ("类别,姓名\n" + "人大代表,某某\n" * 4).encode()
    with pytest.raises(csv_import.ImportRefused) as refused:
        csv_import.import_people(session, content)
    assert "more than 3 rows" in str(refused.value.message)


def test_double_submit_imports_once(client, login_as, places):
    login_as(Role.CLERK)
    before = _people_count()
    content = (HEADER + GOOD_ROWS).encode("utf-8-sig")
    first = _upload(client, content, key="twice")
    second = _upload(client, content, key="twice")
    assert first.status_code == second.status_code == 302
    assert _people_count() == before + 6


def test_template_download_reimports_cleanly(client, login_as, make_org):
    login_as(Role.CLERK)
    town = make_org("青溪镇", "township")
    make_org("青溪镇人民调解委员会", "committee", parent=town)
    make_org("县教育局", "agency")
    response = client.get("/people/import/template.csv")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    content = response.get_data()
    assert content.startswith(codecs.BOM_UTF8)
    assert "类别,姓名,性别" in content.decode("utf-8-sig")
    assert _upload(client, content, key="template").status_code == 302
    assert db.session.scalar(select(Person.mediator_kind).where(Person.name == "张德明")) == (
        "elder")


def test_only_managers_import(client, login_as):
    login_as(Role.LEADER)
    assert client.get("/people/import").status_code == 403
    assert client.get("/people/import/template.csv").status_code == 403
