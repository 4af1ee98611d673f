"""One way to serialise the writers of a hearing: lock its row until the transaction
ends, then read the hearing and its participants as committed, so that the second of two
clicks sees what the first did (and never trips over the row's version)."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from hearings.models import Hearing, Participant


def lock_hearing(session: Session, hearing: Hearing) -> None:
    """PostgreSQL: SELECT ... FOR UPDATE; SQLite: a no-op write takes the database's write
    lock now (waiting on busy_timeout), as portal.casefiles.timeline does for a case."""
    if session.connection().dialect.name == "postgresql":
        session.execute(select(Hearing.id).where(Hearing.id == hearing.id).with_for_update())
    else:
        table = cast(Table, Hearing.__table__)
        session.execute(update(table).where(table.c.id == hearing.id).values(id=table.c.id))
    session.refresh(hearing)
    session.execute(select(Participant).where(Participant.hearing_id == hearing.id)
                    .execution_options(populate_existing=True)).all()
    session.expire(hearing, ["participants"])
