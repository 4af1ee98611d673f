"""The demo case files: about 40 cases in every state, some overdue, some paused, with
documents stored as blobs; idempotent; `casefile verify --all` passes afterwards; and
nothing at all when the demo logins are missing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import func, select

from portal import demo as core_demo
from portal.casefiles import blobs
from portal.casefiles.clocks import current_clocks
from portal.casefiles.demo import PLANS, demo_pdf, demo_png, seed_cases
from portal.casefiles.models import Case, CaseEvent, Document, DocumentVersion, Status
from portal.casefiles.search import CaseFilters, matching_case_ids, search_cases
from portal.extensions import db
from tests.fixtures.core import BACKENDS, PG_URL, build_app, create_pg_database


def _app(tmp: Any, backend: str) -> tuple[Flask, Any]:
    drop = None
    if backend == "sqlite":
        url = f"sqlite:///{tmp / 'seed.db'}"
    else:
        url, drop = create_pg_database(PG_URL)
    app = build_app(tmp, url)
    with app.app_context():
        upgrade()
    return app, drop


@pytest.fixture(scope="module", params=BACKENDS)
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[Flask, list[str]]]:
    app, drop = _app(tmp_path_factory.mktemp(f"seed-{request.param}"), request.param)
    said: list[str] = []
    with app.app_context():
        core_demo.seed_core(db.session, said.append, with_logins=True)
        seed_cases(db.session, said.append)
        db.session.commit()
    yield app, said
    with app.app_context():
        db.engine.dispose()
    if drop:
        drop()


def test_about_forty_cases_in_every_state(seeded):
    app, said = seeded
    with app.app_context():
        states = dict(db.session.execute(
            select(Case.status, func.count()).group_by(Case.status)).all())
    assert sum(states.values()) == len(PLANS) >= 40
    assert set(states) == {s.value for s in Status}
    assert any("40 demo cases" in line for line in said)


def test_some_are_overdue_and_some_paused(seeded):
    app, _said = seeded
    with app.app_context():
        cases = list(db.session.scalars(select(Case)))
        clocks = current_clocks(db.session, cases)
        statuses = [c.state.status.value for c in clocks.values() if c is not None]
        assert statuses.count("overdue") >= 3
        assert statuses.count("paused") >= 3
        from portal.auth.operations import find_user

        supervisor = find_user(db.session, "supervisor")
        listed = search_cases(db.session, supervisor, CaseFilters(overdue=True), 1, 100)
        assert listed.total == statuses.count("overdue")
        resumed = db.session.scalar(select(func.count()).select_from(CaseEvent)
                                    .where(CaseEvent.kind == "clock.resumed"))
        assert resumed and resumed >= 2


def test_stored_due_dates_and_the_overdue_filter_match_the_engine(seeded):
    """The demo's mix (every state, overdue, paused, resumed, urgent, simple): each case's
    stored due date is the engine's, and on many days the overdue filter lists exactly
    the cases the engine calls overdue."""
    from datetime import timedelta

    from portal.casefiles.clocks import today_in_china
    from portal.casefiles.deadlines import ClockStatus
    from portal.casefiles.search import overdue_case_ids
    from tests.fixtures.casefiles import engine_overdue_ids

    app, _said = seeded
    with app.app_context():
        cases = list(db.session.scalars(select(Case)))
        today = today_in_china()
        for case in cases:  # as the clock stands from tomorrow on (see due.py)
            running = current_clocks(db.session, [case], today + timedelta(days=1))[case.id]
            expected = ((running.state.due, running.state.status == ClockStatus.PAUSED)
                        if running is not None else (None, False))
            assert (case.clock_due_on, case.is_clock_paused) == expected, case.number
        for offset in (0, 3, 10, 16, 30, 45, 61, 90, 120, 365):
            day = today + timedelta(days=offset)
            assert set(overdue_case_ids(db.session, today=day)) \
                == engine_overdue_ids(db.session, day), offset
        db.session.rollback()


def test_documents_are_stored_blobs_with_real_pdfs_and_pngs(seeded):
    app, _said = seeded
    with app.app_context():
        rows = db.session.execute(select(DocumentVersion.sha256, DocumentVersion.media_type,
                                         Document.is_for_petitioner)
                                  .join(Document)).all()
        kinds = {media for _sha, media, _p in rows}
        assert {"application/pdf", "image/png"} <= kinds
        assert any(p for *_x, p in rows) and not all(p for *_x, p in rows)
        for sha, media, _p in rows:
            data = blobs.read_blob(sha)
            assert blobs.verify_blob(sha) is None
            assert data.startswith(b"%PDF-" if media == "application/pdf"
                                   else b"\x89PNG\r\n\x1a\n")


def test_the_seed_is_searchable(seeded):
    app, _said = seeded
    with app.app_context():
        for q in ["拖欠", "土地", "补偿款", "鉴定"]:
            assert db.session.scalars(matching_case_ids(db.session, q)).first() is not None, q


def test_running_it_again_adds_nothing_and_verify_passes(seeded):
    app, _said = seeded
    said: list[str] = []
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(CaseEvent))
        seed_cases(db.session, said.append)
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(CaseEvent)) == before
    assert said == ["case files: the demo cases exist already (nothing added)"]
    result = app.test_cli_runner().invoke(args=["casefile", "verify", "--all"])
    assert result.exit_code == 0, result.output
    assert "ok: 40 case(s)" in result.output


def test_without_the_demo_logins_nothing_is_made(tmp_path):
    app, drop = _app(tmp_path, "sqlite")
    said: list[str] = []
    with app.app_context():
        core_demo.seed_core(db.session, said.append, with_logins=False)
        seed_cases(db.session, said.append)
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(Case)) == 0
        db.engine.dispose()
    assert "does not exist" in said[-1] and "clerk" in said[-1]


def test_the_generated_files_are_well_formed():
    import struct
    import zlib

    pdf = demo_pdf("Letter", ["line (one)", "line two"])
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    xref = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    assert pdf[xref:xref + 4] == b"xref"
    png = demo_png(3, 10, 6)
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (10, 6)
    length = struct.unpack(">I", png[33:37])[0]
    assert len(zlib.decompress(png[41:41 + length])) == 6 * (1 + 10 * 3)
