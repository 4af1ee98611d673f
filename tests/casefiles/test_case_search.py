"""Case search: 1-, 2- and 3+-character Chinese queries return what a full scan finds
(SQLite FTS5 trigram + instr fallback; PostgreSQL pg_trgm), permission scoping, filters,
literal wildcards, and the search document following edits, parties and notes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from portal.casefiles import operations as ops
from portal.casefiles.clocks import today_in_china
from portal.casefiles.models import Case, Party
from portal.casefiles.search import (
    CaseFilters,
    CaseSearch,
    matching_case_ids,
    reindex_all,
    search_cases,
    visible_cases,
)
from portal.casefiles.timeline import append_event, events_of, payload_of
from portal.casefiles.workflow import transition
from tests.fixtures.casefiles import new_case

SURNAMES = "张王李赵陈刘杨黄周吴"
GIVEN = ["建国", "秀英", "土生", "地宝", "工资", "晓红", "志强", "桂兰", "国庆", "海燕", "明"]
SUMMARIES = [
    "某建筑公司拖欠农民工工资八个月，共计三万二千元，多次讨要未果。",
    "村委会调整土地承包经营权，本人承包地被划给他人，要求恢复。",
    "旧城改造拆迁补偿标准过低，与同片区邻居补偿款相差较大。",
    "邻居张某建房占用公共通道，影响通行，村调解未果。",
    "企业改制后养老保险断缴，退休后养老金无法领取。",
    "在县医院手术后出现并发症，认为医疗过错，要求赔偿。",
    "征地补偿款被村组截留，未足额发放到户。",
    "物业公司拖欠维修资金，小区电梯长期停运。",
    "宅基地确权纠纷，与兄弟对土地面积有争议。",
    "工地受伤后老板拒付医疗费和误工工资。",
    "Factory owes back pay: 100% of June wages; see file a_b.",
    "土",
]
NOTES = ["已电话联系信访人，约定下周面谈。", "调查发现拖欠工资属实，已督促企业支付。",
         "土地现场勘查完毕", "张榜公示补偿名单", "", "当事人不同意调解方案"]
QUERIES = ["张", "土", "地", "工资", "土地", "拖欠工资", "补偿款", "养老金", "村委会调整",
           "医疗", "王秀", "秀英", "公示", "面谈", "factory", "FACTORY", "100%", "a_b", "%",
           "_", "2026", "某", "土地 补偿", "张 工资", "不存在的内容", "。", "XF"]


def _fields(session: Any, case: Case) -> list[str]:
    """What a person would read: number, party names, summary, note texts."""
    names = list(session.scalars(select(Party.name).where(Party.case_id == case.id)))
    notes = [payload_of(e).get("text") or payload_of(e).get("reason") or ""
             for e in events_of(session, case)]
    return [case.number, *names, case.summary, *notes]


def _scan(corpus: dict[int, list[str]], q: str) -> set[int]:
    terms = q.lower().split()
    return {cid for cid, fields in corpus.items()
            if all(any(t in f.lower() for f in fields) for t in terms)}


@pytest.fixture()
def corpus(session: Any, world: Any) -> dict[int, list[str]]:
    """60 cases with varied Chinese names, summaries and notes."""
    found = {}
    for i in range(60):
        name = SURNAMES[i % len(SURNAMES)] + GIVEN[(i * 7) % len(GIVEN)]
        others = [{"name": SURNAMES[(i + 3) % len(SURNAMES)] + "某公司"}] if i % 4 == 0 else []
        case, _code = new_case(session, world, summary=SUMMARIES[(i * 5) % len(SUMMARIES)],
                               petitioners=[{"name": name}], others=others)
        note = NOTES[i % len(NOTES)]
        if note:
            append_event(session, case, "note", world.clerk, {"text": note})
        if i % 9 == 0:
            transition(session, case, "not_accept", world.clerk,
                       reason="不属于信访事项，已告知通过诉讼途径解决")
        session.commit()
        found[case.id] = _fields(session, case)
    return found


def test_short_and_long_chinese_queries_match_a_full_scan(session, world, corpus):
    numbers = [fields[0] for fields in corpus.values()]
    names = [fields[1] for fields in corpus.values()]
    for q in [*QUERIES, numbers[7], numbers[7].lower(), names[11], names[11][:1]]:
        expected = _scan(corpus, q)
        found = set(session.scalars(matching_case_ids(session, q))) & set(corpus)
        assert found == expected, q
        page = search_cases(session, world.admin, CaseFilters(q=q), 1, 100)
        assert {c.id for c in page.items} & set(corpus) == expected, q
    assert _scan(corpus, "张") and _scan(corpus, "土地") and _scan(corpus, "拖欠工资")


def test_results_are_newest_first_and_paged(session, world, corpus):
    page = search_cases(session, world.clerk, CaseFilters(q="土"), 1, 5)
    expected = sorted(_scan(corpus, "土"), reverse=True)
    assert page.total == len(expected) and page.per_page == 5
    assert [c.id for c in page.items] == expected[:5]
    assert page.has_next and not page.has_prev and page.next_num == 2
    last = search_cases(session, world.clerk, CaseFilters(q="土"), page.pages, 5)
    assert last.has_prev and not last.has_next and last.prev_num == page.pages - 1
    assert [c.id for c in last.items] == expected[(page.pages - 1) * 5:]
    beyond = search_cases(session, world.clerk, CaseFilters(q="土"), page.pages + 3, 5)
    assert beyond.items == [] and beyond.total == page.total


@pytest.mark.parametrize("q", ["土", "工资", "补偿款", "拖欠 工资", "2026 土", "2026"])
def test_counts_stop_at_the_cap_and_every_page_stays_exact(session, world, corpus,
                                                           monkeypatch, q):
    """A big match says "more than N" (the cap, or a few pages past the one shown), and
    paging through it gives exactly the full scan, newest first, for an administrator
    (the match alone) and a clerk (the match joined with the cases they may view)."""
    from portal.casefiles import search

    expected = sorted(_scan(corpus, q), reverse=True)
    assert len(expected) > 7, q
    monkeypatch.setattr(search, "COUNT_CAP", 5)
    monkeypatch.setattr(search, "COUNT_LOOKAHEAD_PAGES", 1)
    for user in (world.admin, world.clerk):
        seen: list[int] = []
        number = 1
        while True:
            page = search_cases(session, user, CaseFilters(q=q), number, 2)
            cap = max(5, (number + 1) * 2)
            if len(expected) > cap:
                assert page.is_capped and page.total == cap and page.has_next, (q, number)
            else:
                assert not page.is_capped and page.total == len(expected), (q, number)
            if not page.items:
                break
            seen += [c.id for c in page.items if c.id in corpus]
            number += 1
        assert seen == expected, q


def test_the_list_says_more_than_when_the_count_is_capped(app, session, world, corpus,
                                                         monkeypatch):
    from portal.casefiles import search
    from tests.fixtures.core import login

    monkeypatch.setattr(search, "COUNT_CAP", 5)
    monkeypatch.setattr(search, "COUNT_LOOKAHEAD_PAGES", 0)
    client = app.test_client()
    login(client, world.clerk)
    assert len(_scan(corpus, "土")) > 25
    html = client.get("/cases/", query_string={"q": "土"}).get_data(as_text=True)
    assert "More than 25 cases" in html  # 25 a page: the count reads one page
    assert 'rel="next"' in html and "Page 1 of more than 1" in html
    second = client.get("/cases/", query_string={"q": "土", "page": "2"}).get_data(as_text=True)
    # page 2 counts up to two pages: all of them, an exact count again
    assert f"{len(_scan(corpus, '土'))} cases" in second and 'rel="prev"' in second


def test_wildcards_and_quotes_are_literal(session, world):
    percent, _ = new_case(session, world, summary="欠薪占比100%，另有a_b条款")
    plain, _ = new_case(session, world, summary="欠薪占比一百，另有ab条款 a-b")
    quoted, _ = new_case(session, world, summary='他说"补偿"不够')
    for q, hit in [("%", percent), ("100%", percent), ("_", percent), ("a_b", percent),
                   ("占比100%", percent), ('"补偿"', quoted), ('"', quoted)]:
        found = set(session.scalars(matching_case_ids(session, q)))
        assert hit.id in found and plain.id not in found, q
    assert not set(session.scalars(matching_case_ids(session, "%%%%")))


def test_an_agency_officer_finds_only_cases_shared_with_it(session, world):
    shared, _ = new_case(session, world, summary="拖欠工资案件甲")
    hidden, _ = new_case(session, world, summary="拖欠工资案件乙")
    ops.grant_access(session, world.clerk, shared, world.police, "view")
    session.commit()
    q = CaseFilters(q="拖欠工资")
    assert [c.id for c in search_cases(session, world.police_officer, q, 1, 50).items] \
        == [shared.id]
    assert search_cases(session, world.land_officer, q, 1, 50).items == []
    assert search_cases(session, world.other_clerk, q, 1, 50).items == []
    assert search_cases(session, world.deputy, q, 1, 50).items == []
    assert {c.id for c in search_cases(session, world.clerk, q, 1, 50).items} \
        == {shared.id, hidden.id}
    assert {c.id for c in search_cases(session, world.admin, q, 1, 50).items} \
        >= {shared.id, hidden.id}


def test_visible_cases_mirrors_can_view(session, world):
    from portal.casefiles import permissions as perm

    a, _ = new_case(session, world)
    b, _ = new_case(session, world, leader_id=world.other_leader.id)
    c, _ = new_case(session, world)
    ops.grant_access(session, world.clerk, a, world.land, "contribute")
    ops.grant_access(session, world.clerk, c, world.police, "manage")
    session.commit()
    users = [world.clerk, world.leader, world.supervisor, world.admin, world.other_clerk,
             world.other_leader, world.police_officer, world.land_officer,
             world.outsider_officer, world.deputy]
    ids = [a.id, b.id, c.id]
    for user in users:
        seen = set(session.scalars(select(Case.id).where(Case.id.in_(ids),
                                                         visible_cases(user))))
        assert seen == {x.id for x in (a, b, c) if perm.can_view(user, x)}, user.username


def test_filters(session, world, make_org, make_user):
    from portal.auth.roles import Role

    other_town = make_org("别镇", "township", world.county)
    leader2 = make_user(Role.LEADER, organisations=[world.office])
    a, _ = new_case(session, world, summary="测试筛选甲")
    b, _ = new_case(session, world, summary="测试筛选乙", township_id=other_town.id,
                    village_id=None, leader_id=leader2.id)
    c, _ = new_case(session, world, summary="测试筛选丙")
    transition(session, a, "accept", world.clerk)
    ops.assign(session, world.clerk, a, world.police, [world.land], letter="请核查")
    session.commit()

    def ids(**kw: Any) -> set[int]:
        page = search_cases(session, world.clerk, CaseFilters(q="测试筛选", **kw), 1, 50)
        return {x.id for x in page.items}

    assert ids() == {a.id, b.id, c.id}
    assert ids(status="assigned") == {a.id}
    assert ids(status="registered") == {b.id, c.id}
    assert ids(township_id=other_town.id) == {b.id}
    assert ids(township_id=world.township.id) == {a.id, c.id}
    assert ids(leader_id=leader2.id) == {b.id}
    assert ids(agency_id=world.police.id) == {a.id}
    assert ids(agency_id=world.land.id) == {a.id}
    assert ids(agency_id=world.outsider_agency.id) == set()


def test_overdue_follows_the_deadline_engine(session, world):
    now = ops.utcnow()
    late, _ = new_case(session, world, summary="超期甲", received_at=now - timedelta(days=40))
    fresh, _ = new_case(session, world, summary="超期乙", received_at=now - timedelta(days=3))
    paused, _ = new_case(session, world, summary="超期丙", received_at=now - timedelta(days=3))
    accepted, _ = new_case(session, world, summary="超期丁")
    transition(session, accepted, "accept", world.clerk)
    append_event(session, paused, "clock.paused", world.clerk, {"reason": "鉴定"})
    session.commit()
    today = today_in_china()

    def overdue(day: Any) -> set[int]:
        page = search_cases(session, world.clerk, CaseFilters(q="超期", overdue=True), 1, 50,
                            today=day)
        return {x.id for x in page.items}

    assert overdue(today) == {late.id}
    # 20 days on: the fresh case's 15 days have run out; the paused one stands still
    assert overdue(today + timedelta(days=20)) == {late.id, fresh.id}
    # 70 days on: the 60-day reply clock of the accepted case has run out too
    assert overdue(today + timedelta(days=70)) == {late.id, fresh.id, accepted.id}


def test_the_search_document_follows_edits_parties_and_notes(session, world):
    case, _ = new_case(session, world, summary="原来的摘要关于宅基地")
    assert case.id in set(session.scalars(matching_case_ids(session, "宅基地")))
    ops.edit_case(session, world.clerk, case, case.version, summary="改后的摘要关于养老金")
    session.commit()
    assert case.id not in set(session.scalars(matching_case_ids(session, "宅基地")))
    assert case.id in set(session.scalars(matching_case_ids(session, "养老金")))
    case.parties.append(Party(role="other", name="欧阳修远"))
    session.commit()
    assert case.id in set(session.scalars(matching_case_ids(session, "欧阳修远")))
    assert case.id in set(session.scalars(matching_case_ids(session, "欧")))
    append_event(session, case, "note", world.clerk, {"text": "回访时信访人表示满意"})
    session.commit()
    assert case.id in set(session.scalars(matching_case_ids(session, "回访时")))
    body = session.get(CaseSearch, case.id).body
    assert reindex_all(session) >= 1
    session.expire_all()
    assert session.get(CaseSearch, case.id).body == body


def test_filters_from_the_query_string_ignore_bad_values():
    f = CaseFilters.from_args({"q": "  张  三 ", "status": "nonsense", "agency": "x",
                               "township": "-3", "overdue": "1", "leader": "12"})
    assert f == CaseFilters(q="张 三", overdue=True, leader_id=12)
    assert CaseFilters.from_args({}) == CaseFilters()
    assert CaseFilters.from_args({"status": "replied", "agency": "7", "township": "9",
                                  "overdue": "0"}) == \
        CaseFilters(status="replied", agency_id=7, township_id=9)
    assert CaseFilters.from_args({"q": "x" * 1000}).q == "x" * 200
    assert CaseFilters(q="a", leader_id=3).to_args() == {"q": "a", "leader": "3"}
