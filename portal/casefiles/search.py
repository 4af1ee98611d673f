"""Search across case files: number, party names, summary and the text of notes.

The search document
-------------------
Each case has one row in ``case_search`` (the model below): its number, the names of
its parties, its summary and the free text its timeline events carry (the ``text``,
``note``, ``reason``, ``reply``, ``opinion``, ``plan``, ``comment`` and ``content``
string values of an event's payload: notes, replies, reasons for transitions, ...),
one per line, lower-cased. The row is kept up to date by an ``after_flush`` listener on
every SQLAlchemy session (registered when this module is imported): a new or renamed
case, a party added, renamed or removed rebuilds the row from the database; a new event
that carries text appends that text. So no operation has to remember to call anything,
and the document changes in the same transaction as the case (a rollback undoes both).
:func:`reindex_case` and :func:`reindex_all` rebuild by hand (bulk loads, repairs).

Indexes (created by migration 0003 only, outside the SQLAlchemy metadata)
-------------------------------------------------------------------------
- SQLite: ``case_search_fts``, an FTS5 *external content* table over ``case_search``
  with ``tokenize='trigram'``, kept in sync by triggers. A search term of 3 or more
  characters is an FTS5 phrase query (a trigram index finds exact substrings); a term of
  1 or 2 characters cannot be served by a trigram index, so it is ``instr()`` over the
  stored text (a scan of one narrow table, fine for 10^5 cases).
- PostgreSQL: ``pg_trgm`` and a GIN ``gin_trgm_ops`` index on ``case_search.body``;
  terms of 3+ characters use ``LIKE '%term%'`` (wildcards escaped), which the index
  serves; 1-2 character terms use ``strpos()`` (the index cannot help; a sequential
  scan is the fastest plan). pg_trgm needs a UTF-8 LC_CTYPE to see Chinese characters
  as word characters.

Alembic must not see the FTS5 table (and its shadow tables) or the trigram index as
"removed": pass :func:`alembic_include_name` as ``include_name`` to autogenerate (env.py)
and to ``compare_metadata`` (tests/test_migrations.py).

Query semantics: the text is split on white space; every term must occur (AND), as a
substring, case-insensitively. ``%`` and ``_`` are literal.

Overdue
-------
The ``overdue`` filter is one indexed condition on the due date of the running office
clock that portal/casefiles/due.py stores on each case (``clock_due_on < today``, not
paused, an open state), kept up to date whenever the clocks change; it equals what the
deadline engine (``clocks.current_clocks``) says, which the case page shows.

Pages
-----
A search joins the match (the FTS5 table, or ``case_search`` on PostgreSQL) to ``cases``
and orders by the match's id, newest first, so a page reads only its rows; the count
stops at ``COUNT_CAP`` (the page says "more than 500"): on 100,000 cases a common term
matches 10,000 of them, and counting them all is most of the time a search takes.
Checking a match costs about a microsecond a row on PostgreSQL (the trigram index only
narrows the rows down; LIKE rechecks each), so the cap is what the count costs."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    ForeignKey,
    FromClause,
    Select,
    Table,
    Text,
    column,
    event,
    exists,
    func,
    or_,
    select,
    table,
    update,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Session, lazyload, mapped_column
from sqlalchemy.sql.elements import True_

from portal.casefiles.due import due_within_condition, overdue_condition
from portal.casefiles.models import (
    AccessGrant,
    Assignment,
    AssignmentStatus,
    Case,
    CaseEvent,
    Party,
    Status,
)
from portal.casefiles.permissions import visible_cases
from portal.extensions import Model
from portal.paging import PageOf

__all__ = [
    "CaseFilters",
    "CasePage",
    "CaseSearch",
    "alembic_include_name",
    "event_text",
    "matching_case_ids",
    "overdue_case_ids",
    "reindex_all",
    "reindex_case",
    "search_cases",
    "search_terms",
    "visible_cases",
]

#: payload keys whose string values are searchable text (notes, replies, reasons, ...)
TEXT_KEYS = ("text", "note", "reason", "reply", "opinion", "plan", "comment", "content")
#: the FTS5 table and the pg_trgm index migration 0003 makes (not in the metadata)
FTS_TABLE = "case_search_fts"
TRGM_INDEX = "ix_case_search_body_trgm"
#: at most this many terms and characters per term are used from a query
MAX_TERMS = 8
MAX_TERM_CHARS = 100
#: a trigram index serves terms of at least this many characters
TRIGRAM = 3
#: a case list counts its matches up to this many ("more than 500" beyond: 20 pages)
COUNT_CAP = 500
#: ... or up to this many pages past the page shown, when that is more
COUNT_LOOKAHEAD_PAGES = 10


class CaseSearch(Model):
    """The search document of one case (see the module's docstring)."""

    __tablename__ = "case_search"

    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True, autoincrement=False)
    #: lower-cased number, party names, summary and note texts, one per line
    body: Mapped[str] = mapped_column(Text, default="")


_fts = table(FTS_TABLE, column("rowid"), column("body"))


def alembic_include_name(name: str | None, type_: str, parent_names: Mapping[str, Any]
                         ) -> bool:
    """Alembic ``include_name`` hook: leave the search indexes made by raw SQL alone."""
    if type_ == "table" and name is not None and name.startswith(FTS_TABLE):
        return False
    return not (type_ == "index" and name == TRGM_INDEX)


# ---------------------------------------------------------------- the search document

def normalise(text: str) -> str:
    return " ".join((text or "").split()).lower()


def event_text(payload: str | Mapping[str, Any]) -> str:
    """The searchable text an event carries (its payload's note-like values)."""
    data: Any = payload
    if isinstance(payload, str):
        if not any(f'"{key}"' in payload for key in TEXT_KEYS):
            return ""  # most events carry none: skip the JSON parse
        try:
            data = json.loads(payload)
        except ValueError:
            return ""
    if not isinstance(data, Mapping):
        return ""
    parts = [normalise(v) for k in TEXT_KEYS if isinstance(v := data.get(k), str)]
    return "\n".join(p for p in parts if p)


def build_body(number: str, names: Iterable[str], summary: str, texts: Iterable[str]) -> str:
    """The stored search text: one field per line, lower-cased, white space collapsed."""
    lines = [normalise(number), *(normalise(n) for n in names), normalise(summary),
             *(t for t in texts if t)]
    return "\n".join(line for line in lines if line)


def _upsert(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    tbl = cast(Table, CaseSearch.__table__)
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(tbl)
    conn.execute(stmt.on_conflict_do_update(index_elements=[tbl.c.case_id],
                                            set_={"body": stmt.excluded.body}), list(rows))


def _bodies(conn: Connection, case_ids: Sequence[int]) -> list[dict[str, Any]]:
    ids = list(case_ids)
    if not ids:
        return []
    cases = {cid: (number, summary) for cid, number, summary in conn.execute(
        select(Case.id, Case.number, Case.summary).where(Case.id.in_(ids)))}
    names: dict[int, list[str]] = defaultdict(list)
    for cid, name in conn.execute(select(Party.case_id, Party.name)
                                  .where(Party.case_id.in_(ids)).order_by(Party.id)):
        names[cid].append(name)
    texts: dict[int, list[str]] = defaultdict(list)
    for cid, payload in conn.execute(select(CaseEvent.case_id, CaseEvent.payload)
                                     .where(CaseEvent.case_id.in_(ids))
                                     .order_by(CaseEvent.case_id, CaseEvent.seq)):
        found = event_text(payload)
        if found:
            texts[cid].append(found)
    return [{"case_id": cid, "body": build_body(number, names[cid], summary, texts[cid])}
            for cid, (number, summary) in cases.items()]


def reindex_case(session: Session, case: Case | int) -> None:
    """Rebuild one case's search document from the database (flushes pending changes)."""
    case_id = case if isinstance(case, int) else _identity(session, case)
    session.flush()
    _upsert(session.connection(), _bodies(session.connection(), [case_id]))


def reindex_all(session: Session, batch: int = 500) -> int:
    """Rebuild every case's search document; returns the number of cases."""
    session.flush()
    conn = session.connection()
    ids = list(conn.execute(select(Case.id).order_by(Case.id)).scalars())
    for start in range(0, len(ids), batch):
        _upsert(conn, _bodies(conn, ids[start:start + batch]))
    return len(ids)


def _identity(session: Session, case: Case) -> int:
    identity = sa_inspect(case).identity
    if identity is None:
        session.flush()
        identity = sa_inspect(case).identity
    assert identity is not None
    return int(identity[0])


def _changed(obj: Any, *attrs: str) -> bool:
    state = sa_inspect(obj)
    return any(state.attrs[a].history.has_changes() for a in attrs)


def _after_flush(session: Session, _context: Any) -> None:
    """Keep case_search in step with what this flush wrote."""
    rebuild: set[int] = set()
    appends: dict[int, list[str]] = defaultdict(list)
    gone: set[int] = set()
    for obj in session.new:
        if isinstance(obj, Case):
            rebuild.add(obj.id)
        elif isinstance(obj, Party) and obj.case_id is not None:
            rebuild.add(obj.case_id)
        elif isinstance(obj, CaseEvent):
            found = event_text(obj.payload)
            if found:
                appends[obj.case_id].append(found)
    for obj in session.dirty:
        if isinstance(obj, Case) and _changed(obj, "summary", "number"):
            rebuild.add(obj.id)
        elif isinstance(obj, Party) and _changed(obj, "name", "case_id"):
            history = sa_inspect(obj).attrs.case_id.history
            rebuild.update(i for i in [*history.deleted, obj.case_id] if i is not None)
    for obj in session.deleted:
        if isinstance(obj, Case):
            gone.add(obj.id)
        elif isinstance(obj, Party) and obj.case_id is not None:
            rebuild.add(obj.case_id)
    rebuild -= gone
    if not rebuild and not appends:
        return
    conn = session.connection()
    if rebuild:
        _upsert(conn, _bodies(conn, sorted(rebuild)))
    tbl = cast(Table, CaseSearch.__table__)
    missing = []
    for case_id, texts in appends.items():
        if case_id in rebuild or case_id in gone:
            continue
        result = conn.execute(update(tbl).where(tbl.c.case_id == case_id)
                              .values(body=tbl.c.body + "\n" + "\n".join(texts)))
        if not result.rowcount:
            missing.append(case_id)
    if missing:  # a case indexed before this module existed: build it whole
        _upsert(conn, _bodies(conn, missing))


if not event.contains(Session, "after_flush", _after_flush):
    event.listen(Session, "after_flush", _after_flush)


# ---------------------------------------------------------------- matching

def search_terms(q: str) -> list[str]:
    """The distinct terms of a query, lower-cased, in order (at most MAX_TERMS)."""
    terms: dict[str, None] = {}
    for term in normalise(q).split():
        terms.setdefault(term[:MAX_TERM_CHARS], None)
    return list(terms)[:MAX_TERMS]


def _like_escape(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _fts_phrase(terms: Sequence[str]) -> str:
    return " AND ".join('"' + t.replace('"', '""') + '"' for t in terms)


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def matching_case_ids(session: Session, q: str) -> Select[Any]:
    """SELECT of the ids of cases whose number, party names, summary or note texts
    contain every term of `q` (a query without terms matches every case)."""
    terms = search_terms(q)
    body = CaseSearch.body
    if _dialect(session) == "postgresql":
        conds = [body.like(f"%{_like_escape(t)}%", escape="\\") if len(t) >= TRIGRAM
                 else func.strpos(body, t) > 0 for t in terms]
        return select(CaseSearch.case_id).where(*conds)
    long = [t for t in terms if len(t) >= TRIGRAM]
    short = [func.instr(body, t) > 0 for t in terms if len(t) < TRIGRAM]
    if long:
        fts_ids = select(_fts.c.rowid).where(_fts.c.body.op("MATCH")(_fts_phrase(long)))
        if not short:
            return cast(Select[Any], fts_ids)
        return select(CaseSearch.case_id).where(CaseSearch.case_id.in_(fts_ids), *short)
    return select(CaseSearch.case_id).where(*short)


# ---------------------------------------------------------------- filters and pages

def _int(value: Any) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**63 else None


#: the longest "due within" a list filters on
MAX_DUE_DAYS = 366


def _days(value: Any) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if 0 <= number <= MAX_DUE_DAYS else None


@dataclass(frozen=True)
class CaseFilters:
    """What the case list filters on; from the query string with :meth:`from_args`."""

    q: str = ""
    status: str = ""
    agency_id: int | None = None
    township_id: int | None = None
    overdue: bool = False
    leader_id: int | None = None
    #: due within this many days from today (0: due today), not yet overdue
    due_within: int | None = None
    #: a request waits for the responsible leader's answer (请示, extension, sign-off)
    awaiting: bool = False

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> CaseFilters:
        """Bad values are ignored (the filter is off), never an error."""
        status = (args.get("status") or "").strip()
        if status not in {s.value for s in Status}:
            status = ""
        return cls(q=" ".join((args.get("q") or "").split())[:200], status=status,
                   agency_id=_int(args.get("agency")), township_id=_int(args.get("township")),
                   overdue=(args.get("overdue") or "").strip().lower() in
                   ("1", "true", "on", "yes"),
                   leader_id=_int(args.get("leader")),
                   due_within=_days(args.get("due")),
                   awaiting=(args.get("awaiting") or "").strip().lower() in
                   ("1", "true", "on", "yes"))

    @property
    def is_empty(self) -> bool:
        return self == CaseFilters()

    def to_args(self) -> dict[str, str]:
        """The query-string form (for links that keep the filters)."""
        out = {"q": self.q, "status": self.status,
               "agency": str(self.agency_id or ""), "township": str(self.township_id or ""),
               "overdue": "1" if self.overdue else "", "leader": str(self.leader_id or ""),
               "due": "" if self.due_within is None else str(self.due_within),
               "awaiting": "1" if self.awaiting else ""}
        return {k: v for k, v in out.items() if v}


@dataclass
class CasePage(PageOf[Case]):
    """One page of cases, with the filters that chose them."""

    filters: CaseFilters = field(default_factory=CaseFilters)
    #: the count stopped early: there are more than `total` matches
    is_capped: bool = False

    def iter_pages(self, left_edge: int = 2, left_current: int = 2, right_current: int = 4,
                   right_edge: int = 2) -> Iterator[int | None]:
        last = 0
        for num in range(1, self.pages + 1):
            if (num <= left_edge or self.page - left_current - 1 < num < self.page
                    + right_current or num > self.pages - right_edge):
                if last + 1 != num:
                    yield None
                yield num
                last = num


def overdue_case_ids(session: Session, conditions: Sequence[ColumnElement[bool]] = (),
                     today: date | None = None) -> list[int]:
    """Ids of the cases (among those meeting `conditions`) whose running office clock is
    overdue today, as the deadline engine computes it (through the due dates due.py
    keeps on each case: one indexed condition)."""
    from portal.casefiles.clocks import today_in_china

    today = today or today_in_china()
    return list(session.scalars(select(Case.id).where(*conditions, overdue_condition(today))
                                .order_by(Case.id)))


def filter_conditions(session: Session, user: Any, filters: CaseFilters,
                      today: date | None = None, *, search: bool = True
                      ) -> list[ColumnElement[bool]]:
    """The WHERE conditions on Case of a case list for `user` with `filters` (without the
    search text when `search` is False: search_cases joins the match instead)."""
    from portal.casefiles.clocks import today_in_china

    conds: list[ColumnElement[bool]] = [visible_cases(user)]
    if filters.status:
        conds.append(Case.status == filters.status)
    if filters.township_id is not None:
        conds.append(Case.township_id == filters.township_id)
    if filters.leader_id is not None:
        conds.append(Case.leader_id == filters.leader_id)
    if filters.agency_id is not None:
        conds.append(or_(
            exists().where(Assignment.case_id == Case.id,
                           Assignment.organisation_id == filters.agency_id,
                           Assignment.status.in_([AssignmentStatus.OPEN,
                                                  AssignmentStatus.REPLIED])),
            exists().where(AccessGrant.case_id == Case.id,
                           AccessGrant.organisation_id == filters.agency_id)))
    if search and search_terms(filters.q):
        conds.append(Case.id.in_(matching_case_ids(session, filters.q)))
    if filters.overdue:
        conds.append(overdue_condition(today or today_in_china()))
    if filters.due_within is not None:
        conds.append(due_within_condition(today or today_in_china(), filters.due_within))
    if filters.awaiting:
        from portal.casefiles.requests import awaiting_leader_condition

        conds.append(awaiting_leader_condition())
    return conds


def _matched(session: Session, q: str, *, ordered: bool, join: bool = True
             ) -> tuple[FromClause, Any, list[ColumnElement[bool]]]:
    """The cases matching `q` as a join: (FROM clause with `cases` joined, the case id
    column of the match, conditions).

    For reading a page newest first (`ordered`), order by the match's own id: SQLite then
    reads the FTS5 index backwards and stops at the page (FTS5 consumes ORDER BY rowid
    DESC), PostgreSQL walks case_search's primary key backwards while the matches are
    many; ``id IN (all matches)`` would find every match first. For reading matches in
    any order (the capped count), PostgreSQL gets the trigram match as a subquery it
    cannot flatten (OFFSET 0): it then reads the GIN index first and stops at the cap,
    instead of filtering case_search row by row in key order as it is tempted to when
    the estimate says the term is common. Without `join`, `cases` is left out (no
    condition on it: every search document belongs to a case)."""
    terms = search_terms(q)
    cs = cast(Table, CaseSearch.__table__)
    body = cs.c.body
    if _dialect(session) == "postgresql":
        conds = [body.like(f"%{_like_escape(t)}%", escape="\\") if len(t) >= TRIGRAM
                 else func.strpos(body, t) > 0 for t in terms]
        if ordered:
            return (cs.join(Case, Case.id == cs.c.case_id) if join else cs), cs.c.case_id, \
                conds
        # joined with cases even when nothing asks it of them: the join is what makes
        # PostgreSQL plan the subquery for all its rows (the GIN index), not for the first
        found = select(cs.c.case_id).where(*conds).offset(0).subquery("matched")
        return found.join(Case, Case.id == found.c.case_id), found.c.case_id, []
    long = [t for t in terms if len(t) >= TRIGRAM]
    short: list[ColumnElement[bool]] = [func.instr(body, t) > 0 for t in terms
                                        if len(t) < TRIGRAM]
    if long:
        source: FromClause = _fts.join(Case, Case.id == _fts.c.rowid) if join else _fts
        if short:
            source = source.join(cs, cs.c.case_id == _fts.c.rowid)
        return source, _fts.c.rowid, [_fts.c.body.op("MATCH")(_fts_phrase(long)), *short]
    return (cs.join(Case, Case.id == cs.c.case_id) if join else cs), cs.c.case_id, short


def search_cases(session: Session, user: Any, filters: CaseFilters, page: int = 1,
                 per_page: int = 25, today: date | None = None) -> CasePage:
    """The cases `user` may view that match `filters`, newest first, one page of them.

    The count stops at :data:`COUNT_CAP` matches (or ten pages past the page asked for,
    when that is further): a search that matches half the county says "more than 500"
    (``CasePage.is_capped``) instead of counting every match on every keystroke."""
    page = max(1, int(page))
    per_page = max(1, min(int(per_page), 500))
    # an administrator's "may view" is TRUE: then the match needs no join with cases
    conds = [c for c in filter_conditions(session, user, filters, today, search=False)
             if not isinstance(c, True_)]
    if search_terms(filters.q):
        source, key, matched = _matched(session, filters.q, ordered=False, join=bool(conds))
        found_ids = select(key).select_from(source).where(*matched, *conds)
        source, key, matched = _matched(session, filters.q, ordered=True, join=bool(conds))
        page_ids = select(key).select_from(source).where(*matched, *conds)
    else:
        key = Case.id
        found_ids = page_ids = select(Case.id).where(*conds)
    cap = max(COUNT_CAP, (page + COUNT_LOOKAHEAD_PAGES) * per_page)
    # the matches up to the cap, in whatever order the database finds them fastest ...
    found = list(session.execute(found_ids.limit(cap + 1)).scalars())
    capped = len(found) > cap
    total = min(len(found), cap)
    offset = (page - 1) * per_page
    if capped:  # ... then the page, newest first: with many matches, found early
        wanted: Any = page_ids.order_by(key.desc()).limit(per_page).offset(offset)
    else:  # ... which are all of them: the page is among them
        wanted = sorted(found, reverse=True)[offset:offset + per_page]
    items: list[Case] = []
    if capped or wanted:
        # the list shows plain columns only: no parties, grants or assignments loaded
        items = sorted(session.scalars(select(Case).where(Case.id.in_(wanted))
                                       .options(lazyload("*"))),
                       key=lambda c: c.id, reverse=True)
    return CasePage(items=items, page=page, per_page=per_page, total=total, filters=filters,
                    is_capped=capped)
