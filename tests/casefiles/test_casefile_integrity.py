"""The tamper-evident timeline and blobs: the hash chain, the append-only triggers,
concurrent appends, `flask casefile verify`, and the migration on both databases."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import exc, inspect, select, text

import portal.casefiles
from portal.auth import operations as auth_ops
from portal.auth.roles import Role
from portal.casefiles import blobs
from portal.casefiles import operations as ops
from portal.casefiles.models import Case, CaseEvent
from portal.casefiles.timeline import (
    GENESIS,
    _fast_event_json,
    append_event,
    canonical_json,
    chain_hash,
    event_json,
    iso_utc,
    payload_of,
    verify_all,
    verify_case,
)
from portal.extensions import db
from portal.orgs.models import Organisation
from tests.fixtures.core import BACKENDS, PG_URL, build_app, create_pg_database

CASEFILE_TABLES = {"case_number_counters", "cases", "case_parties", "case_events", "documents",
                   "document_versions", "access_grants", "assignments", "access_logs"}


# ---------------------------------------------------------------- on the shared test database

@pytest.fixture()
def clerk_and_case(session, make_user, make_org):
    office = make_org(None, "agency")
    clerk = make_user(Role.CLERK, organisations=[office])
    case, _ = ops.register_case(session, clerk, channel="letter", kind="land",
                                summary="土地纠纷", petitioners=[{"name": "张三"}])
    session.commit()
    return clerk, case


def test_three_events_chain_and_verify(session, clerk_and_case):
    clerk, case = clerk_and_case
    for i in range(3):
        append_event(session, case, "note.added", clerk, {"text": f"第{i}条", "n": i})
    session.commit()
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)
                             .order_by(CaseEvent.seq)).all()
    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert events[0].prev_hash == GENESIS
    for before, after in zip(events, events[1:], strict=False):
        assert after.prev_hash == before.hash
    for e in events:
        # the definition, spelt out: sha256(prev_hash + canonical JSON of the event)
        reference = json.dumps({"case": case.number, "seq": e.seq, "kind": e.kind,
                                "actor": e.actor_id, "at": iso_utc(e.at),
                                "payload": payload_of(e)},
                               sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert e.hash == chain_hash(e.prev_hash, reference)
        assert iso_utc(e.at).endswith("+00:00") and "." in iso_utc(e.at)
    assert verify_case(session, case) is None
    assert verify_all(session) is None


def test_appends_in_one_transaction_continue_the_chain_through_a_rolled_back_savepoint(
        session, clerk_and_case):
    """Later appends in a transaction reuse the head they wrote; a savepoint rolled back
    forgets it, so the next append reads the chain again."""
    clerk, case = clerk_and_case
    append_event(session, case, "note.added", clerk, {"text": "一"})
    nested = session.begin_nested()
    append_event(session, case, "note.added", clerk, {"text": "撤回"})
    nested.rollback()
    append_event(session, case, "note.added", clerk, {"text": "二"})
    append_event(session, case, "note.added", clerk, {"text": "三"})
    session.commit()
    events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)
                             .order_by(CaseEvent.seq)).all()
    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert [payload_of(e).get("text") for e in events[1:]] == ["一", "二", "三"]
    assert verify_case(session, case) is None


@pytest.mark.parametrize("payload", [{}, {"a": [1, 2.5, None, True]}, {"引号": "\"\\\n\t\u2028"},
                                     {"z": 1, "a": {"y": "x", "b": []}}])
def test_fast_event_json_equals_the_canonical_form(payload):
    from datetime import UTC, datetime

    at = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    for actor in (None, 7):
        assert _fast_event_json("2026-XF-000001", 3, "k.\"x", actor, iso_utc(at),
                                canonical_json(payload)) == \
            event_json("2026-XF-000001", 3, "k.\"x", actor, at, payload)


@pytest.mark.parametrize("statement", [
    "UPDATE case_events SET payload = '{}' WHERE case_id = :c",
    "UPDATE case_events SET hash = prev_hash WHERE case_id = :c",
    "DELETE FROM case_events WHERE case_id = :c",
])
def test_the_database_refuses_to_change_events(session, clerk_and_case, statement):
    _clerk, case = clerk_and_case
    with pytest.raises(exc.DBAPIError, match="append-only"), session.begin_nested():
        session.execute(text(statement), {"c": case.id})
    assert verify_case(session, case) is None


def test_truncate_is_refused_on_postgresql(session, clerk_and_case):
    if session.connection().dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    with pytest.raises(exc.DBAPIError, match="append-only"), session.begin_nested():
        session.execute(text("TRUNCATE case_events CASCADE"))


def test_blobs_are_content_addressed_and_verified(app, session, tmp_path):
    sha, size = blobs.store_bytes(b"hello", tmp_path)
    assert (sha, size) == (
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", 5)
    assert blobs.store_bytes(b"hello", tmp_path) == (sha, size)
    stored = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert stored == [tmp_path / "2c" / sha[2:]]
    assert blobs.verify_blob(sha, tmp_path) is None
    path = stored[0]
    path.chmod(0o640)
    path.write_bytes(b"hellO")
    assert blobs.verify_blob(sha, tmp_path) == "changed"
    path.unlink()
    assert blobs.verify_blob(sha, tmp_path) == "missing"
    with pytest.raises(ValueError):
        blobs.blob_path("../../etc/passwd", tmp_path)


# ---------------------------------------------------------------- throw-away databases

@pytest.fixture(params=BACKENDS)
def fresh(request, tmp_path):
    """A database of its own, migrated to head, with the casefile CLI registered."""
    drop = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'tamper.db'}"
    else:
        url, drop = create_pg_database(PG_URL)
    app = build_app(tmp_path, url)
    portal.casefiles.init_app(app)
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if drop:
        drop()


def _seed(app, cases: int = 2) -> tuple[int, list[str]]:
    with app.app_context():
        office = Organisation(name="信访局", kind="agency")
        db.session.add(office)
        clerk = auth_ops.create_user(db.session, username="clerk", display_name="Clerk",
                                     password="x" * 12, roles={Role.CLERK},
                                     organisations=[office], check_password=False)
        numbers = []
        for i in range(cases):
            case, _ = ops.register_case(db.session, clerk, channel="walk_in", kind="land",
                                        summary=f"案情{i}", petitioners=[{"name": f"人{i}"}])
            for n in range(3):
                append_event(db.session, case, "note.added", clerk, {"n": n})
            ops.add_document(db.session, clerk, case, title=f"来信{i}",
                             data=f"letter {i}".encode(), original_name="l.pdf",
                             media_type="application/pdf")
            numbers.append(case.number)
        db.session.commit()
        return clerk.id, numbers


def _drop_triggers(app) -> None:
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            statements = ["DROP TRIGGER case_events_no_update_delete ON case_events"]
        else:
            statements = ["DROP TRIGGER case_events_no_update",
                          "DROP TRIGGER case_events_no_delete"]
        with db.engine.begin() as conn:
            for s in statements:
                conn.execute(text(s))


def _verify_cli(app, *args: str):
    return app.test_cli_runner().invoke(args=["casefile", "verify", *args])


def test_cli_passes_an_intact_store(fresh):
    _clerk, numbers = _seed(fresh)
    result = _verify_cli(fresh, "--all")
    assert result.exit_code == 0, result.output
    assert "ok: 2 case(s), 10 event(s), 2 blob(s)" in result.output
    result = _verify_cli(fresh, numbers[1])
    assert result.exit_code == 0 and "5 event(s), 1 blob(s)" in result.output
    assert _verify_cli(fresh).exit_code == 0
    assert _verify_cli(fresh, "2000-XF-999999").exit_code == 2


def test_an_edited_event_is_named_by_verify_and_the_cli(fresh):
    _clerk, numbers = _seed(fresh)
    _drop_triggers(fresh)
    with fresh.app_context():
        case_id = db.session.scalar(select(Case.id).where(Case.number == numbers[1]))
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE case_events SET payload = :p "
                              "WHERE case_id = :c AND seq = 3"), {"c": case_id, "p": '{"n":99}'})
        broken = verify_all(db.session)
        assert (broken.what, broken.case_number, broken.seq) == ("event", numbers[1], 3)
        assert verify_case(db.session, db.session.get(Case, case_id)).seq == 3
        first = db.session.scalar(select(Case).where(Case.number == numbers[0]))
        assert verify_case(db.session, first) is None
    result = _verify_cli(fresh, "--all")
    assert result.exit_code == 1
    assert f"{numbers[1]} #3" in result.output and "does not match its hash" in result.output
    assert _verify_cli(fresh, numbers[0]).exit_code == 0
    assert _verify_cli(fresh, numbers[1]).exit_code == 1


def test_a_deleted_or_rehashed_event_breaks_the_chain(fresh):
    _clerk, numbers = _seed(fresh, cases=1)
    _drop_triggers(fresh)
    with fresh.app_context():
        event = db.session.scalar(select(CaseEvent).where(CaseEvent.seq == 2))
        # a careful forger recomputes the edited event's own hash ...
        forged = chain_hash(event.prev_hash, event_json(numbers[0], 2, event.kind,
                                                        event.actor_id, event.at, {"n": 5}))
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE case_events SET payload = :p, hash = :h WHERE id = :i"),
                         {"p": '{"n":5}', "h": forged, "i": event.id})
        db.session.expire_all()
        # ... and the next event's prev_hash gives it away
        broken = verify_all(db.session)
        assert (broken.case_number, broken.seq) == (numbers[0], 3)
        assert "prev_hash" in broken.reason
        with db.engine.begin() as conn:
            conn.execute(text("DELETE FROM case_events WHERE seq = 3"))
        broken = verify_all(db.session)
        assert (broken.case_number, broken.seq) == (numbers[0], 4)
        assert "missing" in broken.reason


def test_a_changed_blob_is_named_by_the_cli(fresh):
    _clerk, numbers = _seed(fresh)
    with fresh.app_context():
        case = db.session.scalar(select(Case).where(Case.number == numbers[0]))
        version = case.documents[0].current
        sha, doc_id = version.sha256, version.document_id
        path = blobs.blob_path(sha)
    path.chmod(0o640)
    data = bytearray(path.read_bytes())
    data[0] ^= 0x01
    path.write_bytes(bytes(data))
    result = _verify_cli(fresh, "--all")
    assert result.exit_code == 1
    assert sha in result.output and f"document {doc_id}" in result.output
    assert _verify_cli(fresh, numbers[1]).exit_code == 0
    path.unlink()
    result = _verify_cli(fresh, numbers[0])
    assert result.exit_code == 1 and "missing" in result.output


def test_concurrent_appends_never_share_a_seq(fresh):
    clerk_id, numbers = _seed(fresh, cases=1)
    per_thread, threads = 25, 3
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                with fresh.app_context():
                    case = db.session.scalar(select(Case).where(Case.number == numbers[0]))
                    append_event(db.session, case, "note.added", clerk_id,
                                 {"thread": threading.get_ident(), "i": i})
                    db.session.commit()
                    db.session.remove()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []
    with fresh.app_context():
        seqs = db.session.scalars(select(CaseEvent.seq).join(Case)
                                  .where(Case.number == numbers[0])
                                  .order_by(CaseEvent.seq)).all()
        assert seqs == list(range(1, 5 + per_thread * threads + 1))
        assert verify_all(db.session) is None


def test_concurrent_registrations_get_distinct_numbers(fresh):
    _seed(fresh, cases=0)
    barrier = threading.Barrier(3)
    got: list[str] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            for _ in range(5):
                with fresh.app_context():
                    from portal.auth.models import User

                    clerk = db.session.scalar(select(User).where(User.username == "clerk"))
                    case, _ = ops.register_case(db.session, clerk, channel="phone",
                                                kind="labour", summary="欠薪",
                                                petitioners=[{"name": "钱七"}])
                    db.session.commit()
                    got.append(case.number)
                    db.session.remove()
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    pool = [threading.Thread(target=work) for _ in range(3)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []
    assert len(got) == 15 and len(set(got)) == 15
    assert sorted(int(n[-6:]) for n in got) == list(range(1, 16))


# ---------------------------------------------------------------- the migration

@pytest.fixture(params=BACKENDS)
def bare(request, tmp_path):
    drop = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'migrate.db'}"
    else:
        url, drop = create_pg_database(PG_URL)
    app = build_app(tmp_path, url)
    portal.casefiles.init_app(app)
    yield app
    with app.app_context():
        db.engine.dispose()
    if drop:
        drop()


def _only_casefiles(obj, name, type_, reflected, compare_to) -> bool:
    return type_ != "table" or name in CASEFILE_TABLES


def _triggers(conn) -> set[str]:
    if conn.dialect.name == "postgresql":
        rows = conn.execute(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"))
    else:
        rows = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
    return {r[0] for r in rows if r[0].startswith("case_events")}


def test_migration_matches_the_models_and_downgrades_cleanly(bare):
    with bare.app_context():
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_object": _only_casefiles})
            diff = compare_metadata(context, db.metadata)
            assert diff == [], diff
            assert set(inspect(conn).get_table_names()) >= CASEFILE_TABLES
            assert len(_triggers(conn)) >= 2
        downgrade(revision="0001_foundation")
        with db.engine.connect() as conn:
            assert not CASEFILE_TABLES & set(inspect(conn).get_table_names())
            assert _triggers(conn) == set()
            if conn.dialect.name == "postgresql":
                assert conn.scalar(text("SELECT count(*) FROM pg_proc "
                                        "WHERE proname = 'case_events_append_only'")) == 0
        upgrade()
        with db.engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) >= CASEFILE_TABLES


def test_blob_files_live_under_the_data_dir(fresh):
    _seed(fresh, cases=1)
    root = Path(fresh.extensions["portal.settings"].data_dir) / "blobs"
    files = [p for p in root.rglob("*") if p.is_file()]
    assert len(files) == 1 and len(files[0].parent.name) == 2
    assert not any(p.name.startswith(".incoming") for p in root.rglob("*"))
    assert oct(os.stat(files[0]).st_mode & 0o777) == "0o440"


# ---------------------------------------------------------------- the head and checkpoints

def _checkpoint_cli(app):
    return app.test_cli_runner().invoke(args=["casefile", "checkpoint"])


def _delete_newest(app, number: str) -> None:
    with app.app_context(), db.engine.begin() as conn:
        case_id = conn.scalar(text("SELECT id FROM cases WHERE number = :n"), {"n": number})
        conn.execute(text("DELETE FROM case_events WHERE case_id = :c AND seq = "
                          "(SELECT MAX(seq) FROM case_events WHERE case_id = :c)"),
                     {"c": case_id})


def test_appends_keep_the_head_on_the_case(fresh):
    _clerk, numbers = _seed(fresh, cases=1)
    with fresh.app_context():
        case = db.session.scalar(select(Case).where(Case.number == numbers[0]))
        version, updated = case.version, case.updated_at
        newest = db.session.scalar(select(CaseEvent).where(CaseEvent.case_id == case.id)
                                   .order_by(CaseEvent.seq.desc()).limit(1))
        assert (case.event_count, case.head_hash) == (newest.seq, newest.hash)
        event = append_event(db.session, case, "note.added", None, {"n": 9})
        assert (case.event_count, case.head_hash) == (event.seq, event.hash)
        db.session.commit()
        db.session.expire_all()
        assert (case.event_count, case.head_hash) == (event.seq, event.hash)
        assert case.version == version  # an event does not make an open form stale
        assert case.updated_at == updated


def test_a_cut_off_timeline_is_named_by_verify(fresh):
    """The chain alone checks only the events that remain: the head on the case does."""
    _clerk, numbers = _seed(fresh)
    _drop_triggers(fresh)
    _delete_newest(fresh, numbers[1])
    result = _verify_cli(fresh, "--all")
    assert result.exit_code == 1, result.output
    assert f"case {numbers[1]}" in result.output and "were removed" in result.output
    assert _verify_cli(fresh, numbers[1]).exit_code == 1
    assert _verify_cli(fresh, numbers[0]).exit_code == 0


def test_the_signed_checkpoint_catches_a_cut_with_the_head_rewritten(fresh):
    _clerk, numbers = _seed(fresh)
    result = _checkpoint_cli(fresh)
    assert result.exit_code == 0 and "checkpoint written" in result.output, result.output
    written = list((Path(fresh.extensions["portal.settings"].data_dir) / "checkpoints")
                   .glob("*.json"))
    assert len(written) == 1 and oct(os.stat(written[0]).st_mode & 0o777) == "0o440"
    assert "secret" not in written[0].read_text()
    result = _verify_cli(fresh, "--all")
    assert result.exit_code == 0 and "heads reach the checkpoint" in result.output
    _drop_triggers(fresh)
    _delete_newest(fresh, numbers[0])
    with fresh.app_context(), db.engine.begin() as conn:  # the forger fixes the head too
        conn.execute(text(
            "UPDATE cases SET event_count = event_count - 1, head_hash = (SELECT hash FROM "
            "case_events e WHERE e.case_id = cases.id AND e.seq = cases.event_count - 1) "
            "WHERE number = :n"), {"n": numbers[0]})
    result = _verify_cli(fresh, "--all")
    assert result.exit_code == 1, result.output
    assert f"case {numbers[0]}" in result.output and "checkpoint of" in result.output
    assert "recorded 5 event(s) but only 4 remain" in result.output
    assert _verify_cli(fresh, numbers[0]).exit_code == 1
    assert _verify_cli(fresh, numbers[1]).exit_code == 0
    # nothing is signed over a broken store
    result = _checkpoint_cli(fresh)
    assert result.exit_code == 1 and "no checkpoint written" in result.output
    assert len(list(written[0].parent.glob("*.json"))) == 1


def test_a_tampered_checkpoint_is_reported(fresh):
    _seed(fresh, cases=1)
    assert _checkpoint_cli(fresh).exit_code == 0
    path = next((Path(fresh.extensions["portal.settings"].data_dir) / "checkpoints")
                .glob("*.json"))
    document = json.loads(path.read_text())
    document["heads"][0][2] += 7  # claims more events than there are
    path.chmod(0o640)
    path.write_text(json.dumps(document))
    result = _verify_cli(fresh, "--all")
    assert result.exit_code == 1
    assert "checkpoint" in result.output and "signature does not match" in result.output


def test_the_worker_tick_writes_one_checkpoint_a_day(fresh):
    from datetime import UTC, datetime

    from portal.casefiles.checkpoints import checkpoint_tick, latest_checkpoint
    from portal.hooks import ticks

    _seed(fresh, cases=1)
    assert "case file checkpoint" in [name for name, _tick in ticks(fresh)]
    first = checkpoint_tick(fresh, datetime(2026, 3, 2, 1, 0, tzinfo=UTC))
    assert first is not None and first.exists()
    assert checkpoint_tick(fresh, datetime(2026, 3, 2, 9, 0, tzinfo=UTC)) is None
    with fresh.app_context():
        latest = latest_checkpoint()
        assert latest is not None and list(latest.anchors.values())[0][0] == 5
        from portal.casefiles.checkpoints import write_checkpoint

        for hour in (2, 3, 4):
            newest = write_checkpoint(db.session, datetime(2026, 3, 3, hour, tzinfo=UTC),
                                      keep=2)
        assert sorted(newest.parent.glob("*.json"))[-1] == newest
        assert len(list(newest.parent.glob("*.json"))) == 2


def test_the_migration_backfills_the_heads(bare):
    """Cases made before 0009 get their head from their newest event."""
    _seed_app = bare
    with bare.app_context():
        upgrade()
    _clerk, numbers = _seed(_seed_app)
    with bare.app_context():
        with db.engine.connect() as conn:
            heads = conn.execute(text("SELECT number, event_count, head_hash FROM cases "
                                      "ORDER BY id")).all()
        assert [count for _n, count, _h in heads] == [5, 5]
        downgrade(revision="0007_party_id_kind")
        with db.engine.connect() as conn:
            assert "event_count" not in {c["name"] for c in inspect(conn).get_columns("cases")}
        upgrade()
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT number, event_count, head_hash FROM cases "
                                     "ORDER BY id")).all() == heads
        db.session.remove()
    assert _verify_cli(bare, "--all").exit_code == 0
