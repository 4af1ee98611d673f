"""Two organisers approve, at the same moment, two swaps that both take the same week
(asked before either was decided): one approval wins, the other is refused, and every
week still has exactly one lawyer — on a database whose commits are real."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import delete, select

from consultations import rota_ops
from consultations.models import DutyWeek, SwapRequest, SwapStatus
from portal import transaction
from portal.auth import operations as auth_ops
from portal.auth.models import User
from portal.auth.roles import Role
from portal.errors import DomainError
from portal.extensions import db
from portal.people.models import Person
from tests.fixtures.consultations import this_monday


def _seed(app: Any) -> tuple[int, list[int], list[int]]:
    with app.app_context():
        session = db.session
        session.execute(delete(SwapRequest))
        session.execute(delete(DutyWeek))
        session.commit()
        clerk = auth_ops.create_user(session, username=f"rota-clerk-{id(session)}",
                                     display_name="排班", password="x" * 12,
                                     roles={Role.CLERK}, organisations=[],
                                     check_password=False)
        people = [Person(kind="lawyer", name=f"并发律师{i}") for i in range(3)]
        session.add_all(people)
        session.flush()
        weeks = [DutyWeek(week_start=this_monday() + rota_ops.pure.WEEK * (5 + i),
                          lawyer_id=p.id, status="published", hours="09:00-11:30")
                 for i, p in enumerate(people)]
        session.add_all(weeks)
        session.flush()
        # A's week is asked of by B and by C (two requests raced past the pending check)
        swaps = [SwapRequest(from_week_id=weeks[0].id, to_week_id=weeks[i].id,
                             asked_by_id=people[0].id, asked_of_id=people[i].id,
                             status=SwapStatus.ACCEPTED) for i in (1, 2)]
        session.add_all(swaps)
        session.commit()
        return clerk.id, [s.id for s in swaps], [w.id for w in weeks]


def test_two_approvals_at_once_swap_a_week_only_once(outbox_app):
    clerk_id, swap_ids, week_ids = _seed(outbox_app)
    barrier = threading.Barrier(2)
    results: list[Any] = []

    def approve(swap_id: int) -> None:
        with outbox_app.app_context():
            barrier.wait()
            user = db.session.get(User, clerk_id)

            def work() -> str:
                rota_ops.decide_swap(db.session, user, swap_id, approve=True)
                return "approved"

            results.append(transaction.run(db.session, work,
                                           lambda error: error))
            db.session.remove()

    threads = [threading.Thread(target=approve, args=(i,)) for i in swap_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(map(str, results))[-1] == "approved"
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(refused) == 1 and results.count("approved") == 1, results
    with outbox_app.app_context():
        statuses = db.session.scalars(select(SwapRequest.status).order_by(
            SwapRequest.id)).all()
        assert sorted(statuses) == sorted([SwapStatus.APPROVED, SwapStatus.ACCEPTED])
        lawyers = [db.session.get(DutyWeek, i).lawyer_id for i in week_ids]
        assert len(set(lawyers)) == 3  # still three lawyers on three weeks
