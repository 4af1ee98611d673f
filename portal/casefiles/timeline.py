"""The case timeline: append-only, hash-chained events.

Each event's hash is ``sha256(prev_hash + canonical_json(event))`` where the event is
``{"actor": actor id or null, "at": ISO-8601 UTC with microseconds, "case": case number,
"kind": kind, "payload": payload, "seq": seq}`` and canonical JSON is
``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``.
The first event of a case has 64 zeros as prev_hash. The database refuses UPDATE
and DELETE on case_events (triggers in migration 0002); corrections are new events.

Appends are serialised per case: the case row is locked (SELECT ... FOR UPDATE on
PostgreSQL; on SQLite a no-op UPDATE takes the write lock before the last event is
read), and the unique (case_id, seq) constraint is the last guard.

The case row holds the chain's head (``cases.event_count``, ``cases.head_hash``), written
with each append in the same flush, so that a timeline cut off at its end is noticed: the
chain alone checks only the events that remain. A signed checkpoint of every head
(portal/casefiles/checkpoints.py) catches a cut whose head on the case was altered too."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from json.encoder import encode_basestring  # what json.dumps uses with ensure_ascii=False
from typing import Any, cast

from sqlalchemy import Table, event, exists, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from portal.casefiles.models import Case, CaseEvent
from portal.timeutil import utcnow

GENESIS = "0" * 64
#: rows fetched per round trip while verifying
VERIFY_BATCH = 5000


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not allowed in an event payload")


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=_json_default)


def iso_utc(at: datetime) -> str:
    """2026-03-01T08:00:00.000000+00:00: always UTC, always microseconds."""
    if at.tzinfo is None:
        raise ValueError("naive datetime in the timeline")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def event_json(case_number: str, seq: int, kind: str, actor_id: int | None, at: datetime,
               payload: Any) -> str:
    """The canonical JSON of an event, built the plain way (reference for the fast path)."""
    return canonical_json({"case": case_number, "seq": seq, "kind": kind, "actor": actor_id,
                           "at": iso_utc(at), "payload": payload})


def _fast_event_json(case_number: str, seq: int, kind: str, actor_id: int | None,
                     at_iso: str, payload_json: str) -> str:
    # Keys in sorted order; payload_json is already canonical. Equal to event_json(...)
    # for every stored event (tests check), and several times quicker.
    actor = "null" if actor_id is None else str(int(actor_id))
    return (f'{{"actor":{actor},"at":{encode_basestring(at_iso)},'
            f'"case":{encode_basestring(case_number)},"kind":{encode_basestring(kind)},'
            f'"payload":{payload_json},"seq":{int(seq)}}}')


def chain_hash(prev_hash: str, event_canonical_json: str) -> str:
    return hashlib.sha256((prev_hash + event_canonical_json).encode()).hexdigest()


def _case_id(session: Session, case: Case) -> int:
    # the identity survives a commit's expiry, so no reload of the case is needed
    identity = sa_inspect(case).identity
    if identity is None:
        session.flush()
        identity = sa_inspect(case).identity
    assert identity is not None
    return int(identity[0])


def lock_case(session: Session, case: Case) -> str:
    """Serialise writers of one case until the transaction ends; returns its number."""
    case_id = _case_id(session, case)
    if session.connection().dialect.name == "postgresql":
        return str(session.execute(select(Case.number).where(Case.id == case_id)
                                   .with_for_update()).scalar_one())
    # SQLite: a write takes the database's write lock now (waiting on busy_timeout), so
    # the last event read next is the latest committed one.
    table = cast(Table, Case.__table__)
    return str(session.execute(
        update(table).where(table.c.id == case_id)
        .values(id=table.c.id, updated_at=table.c.updated_at).returning(table.c.number)
    ).scalar_one())


#: the head's UPDATE in the driver's parameter style (sqlite3: qmark; psycopg: %s)
_HEAD_SQL = "UPDATE cases SET event_count = {0}, head_hash = {0} WHERE id = {0}"

#: session.info key: case id → (number, last seq, last hash) for the cases this
#: transaction has locked; valid until the transaction (or savepoint) ends
_HEADS = "timeline.heads"


@event.listens_for(Session, "after_transaction_end")
def _forget_heads(session: Session, transaction: Any) -> None:
    if transaction.parent is not None and not transaction.nested:
        return  # a flush's inner subtransaction: the real one goes on
    session.info.pop(_HEADS, None)


def append_event(session: Session, case: Case, kind: str, actor: Any,
                 payload: dict[str, Any] | None = None) -> CaseEvent:
    """Add the next event of `case` to the chain and flush it. The first append of a case
    in a transaction locks it and reads the chain's head; later ones in the same
    transaction (still holding the lock) continue from the head they wrote."""
    case_id = _case_id(session, case)
    heads: dict[int, tuple[str, int, str]] = session.info.setdefault(_HEADS, {})
    if case_id in heads:
        number, last_seq, prev_hash = heads[case_id]
        seq = last_seq + 1
    else:
        number = lock_case(session, case)
        last = session.execute(
            select(CaseEvent.seq, CaseEvent.hash).where(CaseEvent.case_id == case_id)
            .order_by(CaseEvent.seq.desc()).limit(1)
        ).first()
        seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS)
    at = utcnow()
    actor_id = _actor_id(actor)
    payload_json = canonical_json(payload or {})
    digest = chain_hash(prev_hash, _fast_event_json(number, seq, kind, actor_id,
                                                    iso_utc(at), payload_json))
    event = CaseEvent(case_id=case_id, seq=seq, kind=kind, actor_id=actor_id, at=at,
                      payload=payload_json, prev_hash=prev_hash, hash=digest)
    session.add(event)
    session.flush()
    # the head on the case, in the same flush: a plain statement on the flush's connection
    # (not the ORM: the case's version and updated_at stay, so a form open on the case
    # does not become stale because of an event; and a third of the cost of a Core update)
    connection = session.connection()
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    connection.exec_driver_sql(_HEAD_SQL.format(mark), (seq, digest, case_id))
    if sa_inspect(case).persistent:
        set_committed_value(case, "event_count", seq)
        set_committed_value(case, "head_hash", digest)
    session.info.setdefault(_HEADS, {})[case_id] = (number, seq, digest)
    return event


def _actor_id(actor: Any) -> int | None:
    if actor is None or isinstance(actor, int):
        return actor
    state = sa_inspect(actor, raiseerr=False)
    identity = state.identity if state is not None else None
    return int(identity[0]) if identity else actor.id


def payload_of(event: CaseEvent) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(event.payload)
    return data


def events_of(session: Session, case: Case, kinds: Iterable[str] | None = None
              ) -> list[CaseEvent]:
    stmt = select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)
    if kinds is not None:
        stmt = stmt.where(CaseEvent.kind.in_(list(kinds)))
    return list(session.scalars(stmt))


@dataclass(frozen=True)
class BrokenItem:
    """The first thing that failed the integrity check."""

    #: "event", "case" (a case without its events, or cut off at its end), "checkpoint"
    #: (the signed checkpoint itself) or "blob"
    what: str
    reason: str
    case_number: str | None = None
    seq: int | None = None
    sha256: str | None = None
    document_id: int | None = None
    document_title: str | None = None

    def __str__(self) -> str:
        if self.what == "blob":
            return (f"blob {self.sha256} (document {self.document_id} "
                    f"{self.document_title!r} of case {self.case_number}): {self.reason}")
        if self.what == "case":
            return f"case {self.case_number}: {self.reason}"
        if self.what == "checkpoint":
            return f"checkpoint: {self.reason}"
        return f"event {self.case_number} #{self.seq}: {self.reason}"


def _event_rows(session: Session, case_id: int | None) -> Any:
    stmt = (
        select(Case.number, CaseEvent.case_id, CaseEvent.seq, CaseEvent.kind,
               CaseEvent.actor_id, CaseEvent.at, CaseEvent.payload, CaseEvent.prev_hash,
               CaseEvent.hash, Case.event_count, Case.head_hash)
        .join(Case, Case.id == CaseEvent.case_id)
        .order_by(CaseEvent.case_id, CaseEvent.seq)
        .execution_options(yield_per=VERIFY_BATCH)
    )
    if case_id is not None:
        stmt = stmt.where(CaseEvent.case_id == case_id)
    return session.execute(stmt)


#: a checkpoint's heads: case id → (events then, the hash of the newest one then)
Anchors = dict[int, tuple[int, str]]


def _head_problem(number: str, last_seq: int, last_hash: str, head: tuple[int, str],
                  anchor: tuple[int, str] | None, anchor_hash: str | None,
                  checkpoint_label: str) -> BrokenItem | None:
    """Where the walk of one case ended, against the case's head and the checkpoint."""
    count, head_hash = head
    if last_seq != count or last_hash != head_hash:
        if last_seq < count:
            reason = (f"the case records {count} event(s) but only {last_seq} remain: "
                      "its newest events were removed")
        else:
            reason = (f"the newest event (#{last_seq}) does not match the head recorded "
                      f"on the case (#{count})")
        return BrokenItem("case", reason, number)
    if anchor is not None:
        anchored_count, anchored_hash = anchor
        if last_seq < anchored_count:
            return BrokenItem("case", f"the checkpoint of {checkpoint_label} recorded "
                              f"{anchored_count} event(s) but only {last_seq} remain: events "
                              "were removed (and the head on the case rewritten)", number)
        if anchored_count and anchor_hash != anchored_hash:
            return BrokenItem("case", f"event #{anchored_count} differs from the one the "
                              f"checkpoint of {checkpoint_label} recorded", number)
    return None


def _check_rows(rows: Any, anchors: Anchors | None = None,
                checkpoint_label: str = "") -> tuple[BrokenItem | None, int]:
    """Walk the rows (ordered by case, seq); the first break and the events seen. Each
    case's walk must end at the head recorded on the case and reach the checkpoint's."""
    sha256 = hashlib.sha256
    fast = _fast_event_json
    anchors = anchors or {}
    current: int | None = None
    expected_seq = 1
    prev = GENESIS
    count = 0
    # the case being walked: number, recorded head, its anchor and the hash at the anchor
    number_now = ""
    head: tuple[int, str] = (0, GENESIS)
    anchor: tuple[int, str] | None = None
    anchor_hash: str | None = None
    for number, case_id, seq, kind, actor_id, at, payload, prev_hash, stored, \
            event_count, head_hash in rows:
        count += 1
        if case_id != current:
            if current is not None:
                broken = _head_problem(number_now, expected_seq - 1, prev, head, anchor,
                                       anchor_hash, checkpoint_label)
                if broken is not None:
                    return broken, count
            current, expected_seq, prev = case_id, 1, GENESIS
            number_now, head = number, (event_count, head_hash)
            anchor, anchor_hash = anchors.get(case_id), None
        if seq != expected_seq:
            return BrokenItem("event", f"expected event #{expected_seq} here, found #{seq}: "
                              "an event is missing", number, seq), count
        if prev_hash != prev:
            return BrokenItem("event", "prev_hash does not match the previous event's hash",
                              number, seq), count
        at_iso = at.astimezone(UTC).isoformat(timespec="microseconds")
        digest = sha256((prev + fast(number, seq, kind, actor_id, at_iso, payload))
                        .encode()).hexdigest()
        if digest != stored:
            return BrokenItem("event", "the event's content does not match its hash",
                              number, seq), count
        if anchor is not None and seq == anchor[0]:
            anchor_hash = stored
        prev = stored
        expected_seq += 1
    if current is not None:
        broken = _head_problem(number_now, expected_seq - 1, prev, head, anchor, anchor_hash,
                               checkpoint_label)
        if broken is not None:
            return broken, count
    return None, count


def verify_case(session: Session, case: Case, anchors: Anchors | None = None,
                checkpoint_label: str = "") -> BrokenItem | None:
    """None when the case's chain is intact and ends at its recorded head (and reaches the
    checkpoint's head, when `anchors` are given); else the first broken item."""
    broken, count = _check_rows(_event_rows(session, case.id), anchors, checkpoint_label)
    if broken is None and count == 0:
        return BrokenItem("case", "the case has no events (its timeline was removed)",
                          case.number)
    return broken


def verify_all(session: Session) -> BrokenItem | None:
    """Every case's chain, streamed; None when all are intact."""
    broken, _count = verify_all_counted(session)
    return broken


def verify_all_counted(session: Session, anchors: Anchors | None = None,
                       checkpoint_label: str = "") -> tuple[BrokenItem | None, int]:
    broken, count = _check_rows(_event_rows(session, None), anchors, checkpoint_label)
    if broken is not None:
        return broken, count
    orphan = session.scalar(
        select(Case.number).where(~exists().where(CaseEvent.case_id == Case.id))
        .order_by(Case.id).limit(1))
    if orphan is not None:
        return BrokenItem("case", "the case has no events (its timeline was removed)",
                          orphan), count
    return None, count
