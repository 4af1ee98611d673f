"""Monthly counts of consultations by topic and outcome, computed from the rows (never
typed in), for the organisers' page and its CSV. Counts only: no name, number or text.

A consultation counts in the month (Beijing time) it was asked in."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from consultations.models import Consultation, Outcome, Rating, Topic
from portal.timeutil import BEIJING

_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
#: the column of consultations not closed (waiting, with the lawyer, withdrawn)
NOT_CLOSED = "not_closed"


def parse_month(value: str | None, today: date) -> date:
    """The first day of the month named "YYYY-MM" (this month when missing or bad)."""
    found = _MONTH_RE.match((value or "").strip())
    if found:
        year, month = int(found.group(1)), int(found.group(2))
        if 2000 <= year <= 2100 and 1 <= month <= 12:
            return date(year, month, 1)
    return today.replace(day=1)


def next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def previous_month(first: date) -> date:
    return date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)


def _utc_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=BEIJING)


@dataclass
class MonthCounts:
    month: date
    #: topic → outcome (or NOT_CLOSED) → count
    cells: dict[str, dict[str, int]] = field(default_factory=dict)
    ratings: dict[str, int] = field(default_factory=dict)

    def row_total(self, topic: str) -> int:
        return sum(self.cells.get(topic, {}).values())

    def column_total(self, column: str) -> int:
        return sum(row.get(column, 0) for row in self.cells.values())

    @property
    def total(self) -> int:
        return sum(self.row_total(t) for t in self.cells)


def columns() -> list[str]:
    return [str(o) for o in Outcome] + [NOT_CLOSED]


def month_counts(session: Session, month: date) -> MonthCounts:
    start, end = _utc_start(month), _utc_start(next_month(month))
    rows = session.execute(select(Consultation.topic, Consultation.outcome,
                                  Consultation.status, Consultation.rating)
                           .where(Consultation.created_at >= start,
                                  Consultation.created_at < end)).all()
    counts = MonthCounts(month, {str(t): {} for t in Topic})
    for topic, outcome, status, rating in rows:
        column = outcome if status == "closed" and outcome else NOT_CLOSED
        cell = counts.cells.setdefault(topic, {})
        cell[column] = cell.get(column, 0) + 1
        if rating:
            counts.ratings[rating] = counts.ratings.get(rating, 0) + 1
    return counts


def column_label(column: str) -> str:
    if column == NOT_CLOSED:
        return _("Not closed")
    return str({str(o): o.label for o in Outcome}.get(column, column))


def topic_label(topic: str) -> str:
    return str({str(t): t.label for t in Topic}.get(topic, topic))


def to_csv(counts: MonthCounts) -> str:
    """One row per topic, one column per outcome, totals; then the ratings."""
    out = io.StringIO()
    writer = csv.writer(out)
    cols = columns()
    writer.writerow([_("Month"), _("Topic"), *(column_label(c) for c in cols), _("Total")])
    month = counts.month.strftime("%Y-%m")
    for topic in counts.cells:
        writer.writerow([month, topic_label(topic),
                         *(counts.cells[topic].get(c, 0) for c in cols),
                         counts.row_total(topic)])
    writer.writerow([month, _("Total"), *(counts.column_total(c) for c in cols),
                     counts.total])
    writer.writerow([])
    writer.writerow([_("Month"), _("Rating"), _("Count")])
    for rating in Rating:
        writer.writerow([month, str(rating.label), counts.ratings.get(str(rating), 0)])
    return out.getvalue()
