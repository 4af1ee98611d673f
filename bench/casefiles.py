"""Case files: timeline appends, `casefile verify --all`, and search on 100,000 cases.

Prints one JSON line per measurement. Targets (issue 02):
- append at least 2,000 events/s with hashing, one process, SQLite;
- `casefile verify --all` on 100,000 events in under 3 s;
- search on 100,000 cases: median under 5 ms for 3+ characters, under 100 ms for 1-2
  characters, on SQLite and PostgreSQL.

The 100,000 cases are bulk-inserted (not registered one by one), each with its
`case.registered` event (real hashes, so verify has real work) and a search document of
the same shape `portal.casefiles.search` builds, and their stored due dates
(`portal.casefiles.due`); then ANALYZE (VACUUM ANALYZE on PostgreSQL). Search is timed as
the case list asks for it: `search_cases` for an admin, page 1 of 25 (the count and the
page: the figure the target is about), the whole result page over HTTP (for information),
and the bare id match of every hit (`matching_case_ids`) on its own.

    .venv/bin/python bench/casefiles.py [--cases 100000] [--appends 5000]
                                        [--backend sqlite|postgresql|all]
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from _common import bench_app, emit, postgres_available

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
GIVEN = ["建国", "秀英", "志强", "桂兰", "海燕", "德明", "丽华", "文斌", "春梅", "国庆",
         "玉珍", "振华", "晓红", "永刚", "淑芬", "明辉", "凤英", "俊杰", "红梅", "立新"]
PLACES = ["青溪镇", "东坡镇", "石门乡", "白沙镇", "柳湾乡", "桃源村", "大石村", "龙潭村"]
TEMPLATES = [
    "{p}某建筑公司拖欠农民工工资{n}个月，共计{m}元，多次讨要未果。",
    "{p}村委会调整土地承包经营权，本户{n}亩承包地被划给他人，要求恢复。",
    "{p}旧城改造拆迁补偿标准过低，与邻居补偿款相差{m}元，要求重新评估。",
    "{p}邻居建房占用公共通道{n}米，影响通行和采光，调解未果。",
    "{p}企业改制后养老保险断缴{n}年，退休后养老金无法领取。",
    "{p}在县医院手术后出现并发症，认为存在医疗过错，要求赔偿{m}元。",
    "{p}征地补偿款被村组截留{m}元，至今未足额发放到户。",
    "{p}物业公司挪用维修资金，电梯停运{n}个月，业主投诉无果。",
    "{p}宅基地确权纠纷，与兄弟对面积有争议，相差{n}平方米。",
    "{p}养殖场粪污直排河道，周边{n}户村民饮水受影响。",
]
SHORT = ["张", "医", "土地", "工资", "拖欠"]
LONG = ["拖欠农民工", "医疗过错", "征地补偿款", "宅基地确权", "张秀英", "维修资金"]


def _setup(app: Any) -> tuple[Any, Any, Any]:
    from portal.auth import operations as auth_ops
    from portal.auth.roles import Role
    from portal.extensions import db
    from portal.orgs.models import Organisation

    office = Organisation(name="基准信访局", kind="agency", sector="petition")
    db.session.add(office)
    db.session.flush()
    clerk = auth_ops.create_user(db.session, username="benchclerk", display_name="基准",
                                 password="bench password", roles={Role.CLERK},
                                 organisations=[office], check_password=False)
    admin = auth_ops.create_user(db.session, username="benchadmin", display_name="基准管理",
                                 password="bench password", roles={Role.ADMIN},
                                 check_password=False)
    db.session.commit()
    return office, clerk, admin


def bench_append(app: Any, backend: str, appends: int) -> None:
    from portal.casefiles import operations as ops
    from portal.casefiles.timeline import append_event
    from portal.extensions import db

    with app.app_context():
        _office, clerk, _admin = _setup(app)
        cases = []
        for i in range(20):
            case, _code = ops.register_case(
                db.session, clerk, channel="walk_in", kind="labour",
                summary=f"基准案件{i}：拖欠工资", petitioners=[{"name": f"基准{i}"}])
            cases.append(case)
        db.session.commit()
        for label, commit_every in (("append_batched_100", 100), ("append_commit_each", 1)):
            count = appends if commit_every > 1 else appends // 2
            started = time.perf_counter()
            for i in range(count):
                append_event(db.session, cases[i % len(cases)], "case.viewed", clerk,
                             {"seq_hint": i, "by": "bench"})
                if (i + 1) % commit_every == 0:
                    db.session.commit()
            db.session.commit()
            wall = time.perf_counter() - started
            emit({"bench": label, "backend": backend, "events": count,
                  "events_per_s": round(count / wall, 1), "target_per_s": 2000})
        # a note carries searchable text: the search document is updated in the same flush
        started = time.perf_counter()
        count = appends // 5
        for i in range(count):
            append_event(db.session, cases[i % len(cases)], "note", clerk,
                         {"text": f"第{i}次回访：信访人反映情况属实"})
            if (i + 1) % 100 == 0:
                db.session.commit()
        db.session.commit()
        wall = time.perf_counter() - started
        emit({"bench": "append_note_with_search_update", "backend": backend, "events": count,
              "events_per_s": round(count / wall, 1)})


def populate(app: Any, n: int) -> dict[str, Any]:
    """n cases with parties, one hashed event each and their search documents."""
    from sqlalchemy import insert

    from portal.casefiles.models import Case, CaseEvent, Party
    from portal.casefiles.search import CaseSearch, build_body
    from portal.casefiles.timeline import GENESIS, _fast_event_json, canonical_json, chain_hash
    from portal.casefiles.timeline import iso_utc as iso
    from portal.extensions import db

    rng = random.Random(42)
    with app.app_context():
        office, clerk, _admin = _setup(app)
        office_id, clerk_id = office.id, clerk.id
        start = datetime(2024, 1, 1, tzinfo=UTC)
        started = time.perf_counter()
        batch = 5000
        numbers = []
        names_seen = []
        for lo in range(0, n, batch):
            cases, parties, events, docs = [], [], [], []
            for cid in range(lo + 1, min(n, lo + batch) + 1):
                at = start + timedelta(minutes=7 * cid)
                number = f"{at.year}-XF-{cid:06d}"
                summary = rng.choice(TEMPLATES).format(p=rng.choice(PLACES),
                                                       n=rng.randint(1, 30),
                                                       m=rng.randint(1000, 99999))
                name = rng.choice(SURNAMES) + rng.choice(GIVEN)
                other = rng.choice(SURNAMES) + "某"
                cases.append({"id": cid, "number": number, "status": "registered",
                              "channel": "walk_in", "kind": "labour", "summary": summary,
                              "is_urgent": False, "is_simple": False, "is_final": False,
                              "office_id": office_id,
                              "query_code_hash": secrets.token_hex(32), "received_at": at,
                              "created_by_id": clerk_id, "version": 1, "created_at": at,
                              "updated_at": at})
                parties.append({"case_id": cid, "role": "petitioner", "name": name,
                                "created_at": at})
                parties.append({"case_id": cid, "role": "other", "name": other,
                                "created_at": at})
                payload = canonical_json({"number": number, "summary": summary})
                digest = chain_hash(GENESIS, _fast_event_json(
                    number, 1, "case.registered", clerk_id, iso(at), payload))
                cases[-1].update(event_count=1, head_hash=digest)  # the timeline's head
                events.append({"case_id": cid, "seq": 1, "kind": "case.registered",
                               "actor_id": clerk_id, "at": at, "payload": payload,
                               "prev_hash": GENESIS, "hash": digest})
                docs.append({"case_id": cid, "body": build_body(number, [name, other],
                                                                summary, [])})
                if cid % 997 == 0:
                    numbers.append(number)
                    names_seen.append(name)
            db.session.execute(insert(Case), cases)
            db.session.execute(insert(Party), parties)
            db.session.execute(insert(CaseEvent), events)
            db.session.execute(insert(CaseSearch.__table__), docs)
            db.session.commit()
        try:  # the stored due dates (portal/casefiles/due.py), as registration sets them
            from portal.casefiles.due import refresh_all
        except ImportError:  # an older checkout, for before/after figures
            pass
        else:
            refresh_all(db.session)
            db.session.commit()
        analyse(app)
        return {"seconds": round(time.perf_counter() - started, 1), "numbers": numbers,
                "names": names_seen}


def analyse(app: Any) -> None:
    """Statistics for the planners; on PostgreSQL also VACUUM, as autovacuum soon would
    after a bulk load (index-only scans then skip the heap): the steady state users meet."""
    from sqlalchemy import text

    from portal.extensions import db

    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            db.session.commit()
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        else:
            db.session.execute(text("ANALYZE"))
            db.session.commit()


def bench_verify(app: Any, backend: str, n: int) -> None:
    from portal.casefiles.integrity import check_all
    from portal.extensions import db

    with app.app_context():
        started = time.perf_counter()
        report = check_all(db.session)
        wall = time.perf_counter() - started
        db.session.rollback()
    runner = app.test_cli_runner()
    started = time.perf_counter()
    result = runner.invoke(args=["casefile", "verify", "--all"])
    cli_wall = time.perf_counter() - started
    emit({"bench": "verify_all", "backend": backend, "events": report.events,
          "ok": report.ok, "seconds": round(wall, 2), "cli_seconds": round(cli_wall, 2),
          "cli_exit": result.exit_code, "target_s": 3})


def _median_ms(fn: Any, repeat: int) -> float:
    fn()  # warm
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 2)


def bench_search(app: Any, backend: str, n: int, extra: dict[str, Any]) -> None:
    """Search as the case list runs it. `page` is `search_cases` for an admin, page 1 of
    25: what the result page asks of the database (the count, capped at 500 since the
    count cap came in, and the page's cases); `clerk_page` the same for the office's
    clerk (who may view all 100,000: the match is joined with the cases then). `http` is
    the clerk's whole result page (GET /cases/?q=..., rendered, days left included), for
    information. `ids` is the bare id match of every hit (`matching_case_ids`, all of
    them, not only a page's)."""
    from sqlalchemy import func, select

    from portal.auth.operations import find_user
    from portal.casefiles.search import CaseFilters, matching_case_ids, search_cases
    from portal.extensions import db

    client = app.test_client()  # the clerk: an administrator would first need a 2FA code
    response = client.post("/login", data={"username": "benchclerk",
                                           "password": "bench password"})
    assert response.status_code in (302, 303), response.status_code

    def http(q: str) -> None:
        response = client.get("/cases/", query_string={"q": q})
        assert response.status_code == 200, response.status_code
        response.get_data()

    long_q = [*LONG, extra["numbers"][3], extra["names"][5]]
    groups = (("3+", long_q, 5), ("1-2", SHORT, 100))
    # each request in an app context of its own, as in the server (not inside the one below)
    http_of = {q: _median_ms(lambda q=q: http(q), 9) for _g, queries, _t in groups
               for q in queries}
    with app.app_context():
        session = db.session()
        admin = find_user(session, "benchadmin")
        clerk = find_user(session, "benchclerk")
        for group, queries, target in groups:
            page_ms, ids_ms, http_ms, clerk_ms = [], [], [], []
            for q in queries:
                hits = session.scalar(select(func.count()).select_from(
                    matching_case_ids(session, q).subquery()))
                p = _median_ms(lambda q=q: search_cases(session, admin, CaseFilters(q=q),
                                                        1, 25), 15)
                c = _median_ms(lambda q=q: search_cases(session, clerk, CaseFilters(q=q),
                                                        1, 25), 15)
                m = _median_ms(lambda q=q: list(session.scalars(matching_case_ids(session,
                                                                                  q))), 15)
                h = http_of[q]
                page_ms.append(p)
                clerk_ms.append(c)
                ids_ms.append(m)
                http_ms.append(h)
                emit({"bench": "search_query", "backend": backend, "cases": n, "q": q,
                      "chars": len(q), "hits": hits, "page_median_ms": p,
                      "clerk_page_median_ms": c, "ids_median_ms": m,
                      "http_page_median_ms": h})
            emit({"bench": f"search_{group}_chars", "backend": backend, "cases": n,
                  "median_of_page_medians_ms": round(statistics.median(page_ms), 2),
                  "worst_page_median_ms": max(page_ms),
                  "median_of_clerk_page_medians_ms": round(statistics.median(clerk_ms), 2),
                  "median_of_id_medians_ms": round(statistics.median(ids_ms), 2),
                  "median_of_http_page_medians_ms": round(statistics.median(http_ms), 2),
                  "target_median_ms": target})
        p = _median_ms(lambda: search_cases(session, clerk, CaseFilters(q="医疗过错"), 3, 25),
                       15)
        emit({"bench": "search_clerk_page3", "backend": backend, "q": "医疗过错",
              "median_ms": p})
        session.rollback()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--appends", type=int, default=5000)
    parser.add_argument("--backend", default="all", choices=["sqlite", "postgresql", "all"])
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "all" else [args.backend]
    for backend in backends:
        if backend == "postgresql" and not postgres_available():
            emit({"bench": "casefiles", "backend": backend, "skipped": "no PostgreSQL"})
            continue
        if backend == "sqlite" or args.backend != "all":
            with bench_app(backend) as app:
                bench_append(app, backend, args.appends)
        with bench_app(backend, WTF_CSRF_ENABLED=False) as app:  # the HTTP page logs in
            extra = populate(app, args.cases)
            emit({"bench": "populate", "backend": backend, "cases": args.cases,
                  "events": args.cases, "seconds": extra["seconds"]})
            bench_verify(app, backend, args.cases)
            bench_search(app, backend, args.cases, extra)


if __name__ == "__main__":
    main()
