"""queue_email, notify_user and reading notifications, in the rolled-back test session."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from portal.auth.roles import Role
from portal.notify import operations as ops
from portal.notify.models import Notification, OutboxMessage, OutboxStatus
from portal.web import DomainError


def _outbox_count(session) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count()).select_from(OutboxMessage))


def test_queue_email_flushes_in_the_callers_transaction(session) -> None:  # type: ignore[no-untyped-def]
    message = ops.queue_email(session, to=" wang@example.cn ", subject="通知\n第二行",
                              body="正文")
    assert message is not None and message.id is not None
    assert (message.to_address, message.subject) == ("wang@example.cn", "通知 第二行")
    assert message.status == OutboxStatus.PENDING and message.attempts == 0
    session.rollback()
    assert _outbox_count(session) == 0


def test_queue_email_without_address_queues_nothing(session) -> None:  # type: ignore[no-untyped-def]
    assert ops.queue_email(session, to=None, subject="s", body="b") is None
    assert ops.queue_email(session, to="  ", subject="s", body="b") is None
    assert _outbox_count(session) == 0


def test_dedupe_key_returns_the_existing_row(session) -> None:  # type: ignore[no-untyped-def]
    first = ops.queue_email(session, to="a@example.cn", subject="s", body="1",
                            dedupe_key="hearing:3:notice")
    again = ops.queue_email(session, to="a@example.cn", subject="s", body="2",
                            dedupe_key="hearing:3:notice")
    other = ops.queue_email(session, to="a@example.cn", subject="s", body="3",
                            dedupe_key="hearing:4:notice")
    assert first is not None and again is not None and other is not None
    assert again.id == first.id and other.id != first.id
    assert _outbox_count(session) == 2


def test_attachment_tuple_is_stored(session) -> None:  # type: ignore[no-untyped-def]
    message = ops.queue_email(session, to="a@example.cn", subject="s", body="b",
                              attachment=("a.ics", "text/calendar", "BEGIN:VCALENDAR"))
    assert message is not None
    assert (message.attachment_name, message.attachment_type, message.attachment_text) == (
        "a.ics", "text/calendar", "BEGIN:VCALENDAR")


def test_mark_read_only_own(session, make_user) -> None:  # type: ignore[no-untyped-def]
    me, other = make_user(Role.CLERK), make_user(Role.CLERK)
    mine = ops.notify_user(session, me.id, "您有新的案件", "/cases/1")
    theirs = ops.notify_user(session, other.id, "别人的")
    with pytest.raises(DomainError) as caught:
        ops.mark_read(session, me, theirs.id)
    assert caught.value.status == 404
    assert theirs.read_at is None
    assert ops.mark_read(session, me, mine.id).read_at is not None


def test_mark_all_read_counts_and_touches_only_own(session, make_user) -> None:  # type: ignore[no-untyped-def]
    me, other = make_user(Role.CLERK), make_user(Role.CLERK)
    for text in ("一", "二", "三"):
        ops.notify_user(session, me.id, text)
    ops.notify_user(session, other.id, "四")
    assert ops.mark_all_read(session, me) == 3
    assert ops.mark_all_read(session, me) == 0
    unread = session.scalars(select(Notification.text).where(Notification.read_at.is_(None)))
    assert list(unread) == ["四"]


def test_retry_only_failed(session) -> None:  # type: ignore[no-untyped-def]
    message = ops.queue_email(session, to="a@example.cn", subject="s", body="b")
    assert message is not None
    with pytest.raises(DomainError):
        ops.retry_message(session, message.id)
    message.status, message.attempts, message.last_error = OutboxStatus.FAILED, 8, "550 x"
    ops.retry_message(session, message.id)
    assert (message.status, message.attempts) == (OutboxStatus.PENDING, 0)
