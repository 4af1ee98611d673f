"""Monthly counts by topic and outcome (Beijing months), on the page and as CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from tests.fixtures.consultations import new_consultation
from tests.fixtures.core import login


def _rows(session):
    made = [
        # 1 November 00:30 in Beijing: November's
        ("labour", "closed", "answered", "satisfied", datetime(2026, 10, 31, 16, 30, tzinfo=UTC)),
        ("labour", "closed", "court", None, datetime(2026, 11, 5, 2, 0, tzinfo=UTC)),
        ("labour", "queued", None, None, datetime(2026, 11, 20, 2, 0, tzinfo=UTC)),
        ("land", "closed", "legal_aid", "fairly", datetime(2026, 11, 30, 15, 59, tzinfo=UTC)),
        # 1 December 00:00 in Beijing: December's
        ("land", "closed", "answered", None, datetime(2026, 11, 30, 16, 0, tzinfo=UTC)),
        # 31 October 23:00 in Beijing: October's
        ("family", "closed", "answered", None, datetime(2026, 10, 31, 15, 0, tzinfo=UTC)),
    ]
    for topic, status, outcome, rating, at in made:
        new_consultation(session, topic=topic, status=status, outcome=outcome, rating=rating,
                         created_at=at, name="隐私姓名", phone="13912345678")


def test_counts_page_and_csv(client, session, world):
    _rows(session)
    login(client, world.clerk)
    html = client.get("/consultations/counts?month=2026-11").get_data(as_text=True)
    assert "2026-11" in html and 'type="month"' in html
    assert "隐私姓名" not in html
    response = client.get("/consultations/counts.csv?month=2026-11")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.get_data(as_text=True).lstrip("\ufeff")
    assert "隐私姓名" not in text and "13912345678" not in text
    table = list(csv.reader(io.StringIO(text)))
    header = table[0]
    assert len(header) == 2 + 7 + 1  # month, topic, six outcomes and "not closed", total
    by_topic = {row[1]: row for row in table[1:12] if row}
    labour = [int(v) for v in by_topic[list(by_topic)[0]][2:]]
    # labour: answered 1, court 1, not closed 1 -> total 3
    assert labour[0] == 1 and labour[1] == 1 and labour[6] == 1 and labour[-1] == 3
    total_row = next(row for row in table if len(row) == 10 and row[2:] and
                     row[-1] == "4")
    assert total_row[0] == "2026-11"
    ratings = table[table.index([]) + 2:]
    assert [int(r[2]) for r in ratings] == [1, 1, 0]
    # December has the one asked at midnight in Beijing
    december = client.get("/consultations/counts.csv?month=2026-12").get_data(as_text=True)
    assert list(csv.reader(io.StringIO(december.lstrip("\ufeff"))))[11][-1] == "1"


def test_bad_month_falls_back_and_others_are_refused(client, session, world):
    login(client, world.clerk)
    assert client.get("/consultations/counts?month=2026-13").status_code == 200
    assert client.get("/consultations/counts.csv?month=abc").status_code == 200
    page = client.get("/consultations/counts?month=2001-01").get_data(as_text=True)
    assert "No consultation" in page or "没有" in page
    client.post("/logout")
    login(client, world.police_officer)
    assert client.get("/consultations/counts").status_code == 403
    assert client.get("/consultations/counts.csv").status_code == 403
