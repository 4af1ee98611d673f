"""The outbox worker against a real SMTP server (aiosmtpd) and a database that commits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import func, select

from portal.extensions import db
from portal.notify import worker
from portal.notify.models import OutboxMessage, OutboxStatus
from portal.notify.operations import Attachment, queue_email
from portal.timeutil import utcnow
from tests.fixtures.notify import SmtpServer, configure, free_port, rows

ROOT = Path(__file__).resolve().parents[2]
SUBJECT = "关于张三信访事项听证会的通知"
BODY = "张三同志：\n\n定于2026年12月1日上午9时在县信访局召开听证会。\n"


def _queue(app: Flask, n: int = 1, **fields: object) -> list[int]:
    with app.app_context():
        ids = []
        for i in range(n):
            message = queue_email(db.session, to=f"zhang{i}@example.cn", subject=SUBJECT,
                                  body=BODY, **fields)  # type: ignore[arg-type]
            assert message is not None
            ids.append(message.id)
        db.session.commit()
        return ids


# --- the transactional part: queued only if the caller commits ---------------------------

def test_queue_rolled_back_leaves_no_row_committed_leaves_one(outbox: Flask) -> None:
    with outbox.app_context():
        queue_email(db.session, to="a@example.cn", subject="甲", body="x")
        db.session.rollback()
        queue_email(db.session, to="b@example.cn", subject="乙", body="y")
        db.session.commit()
    seen = rows(outbox)
    assert [(m.to_address, m.subject, m.status, m.attempts) for m in seen] == [
        ("b@example.cn", "乙", "pending", 0)]


def test_dedupe_key_queues_once_across_transactions(outbox: Flask) -> None:
    with outbox.app_context():
        first = queue_email(db.session, to="a@example.cn", subject="提醒", body="1",
                            dedupe_key="reminder:case:12:2026-11-30")
        db.session.commit()
        assert first is not None
        first_id = first.id
    with outbox.app_context():
        again = queue_email(db.session, to="a@example.cn", subject="提醒", body="2",
                            dedupe_key="reminder:case:12:2026-11-30")
        assert again is not None and again.id == first_id and again.body == "1"
        db.session.commit()
    assert [m.body for m in rows(outbox)] == ["1"]


# --- delivery ---------------------------------------------------------------------------

def test_worker_sends_over_smtp_once(outbox: Flask, smtp_server: SmtpServer) -> None:
    configure(outbox, smtp_url=smtp_server.url, mail_from="信访局 <xfj@example.cn>")
    [message_id] = _queue(outbox)

    assert worker.drain_once(outbox) == 1
    assert worker.drain_once(outbox) == 0  # nothing due any more: not sent twice

    [got] = smtp_server.handler.received
    assert got.rcpt_tos == ["zhang0@example.cn"]
    assert got.mail_from == "xfj@example.cn"
    assert got.message["Subject"] == SUBJECT
    assert got.message["Message-ID"] == f"<outbox-{message_id}@portal>"
    assert got.message.get_content().replace("\r\n", "\n") == BODY
    [row] = rows(outbox)
    assert row.status == OutboxStatus.SENT
    assert row.message_id == got.message["Message-ID"]
    assert row.attempts == 1 and row.sent_at is not None and row.lease_until is None


def test_attachment_is_sent_as_text_part(outbox: Flask, smtp_server: SmtpServer) -> None:
    configure(outbox, smtp_url=smtp_server.url)
    ics = "BEGIN:VCALENDAR\r\nSUMMARY:听证会\r\nEND:VCALENDAR\r\n"
    _queue(outbox, attachment=Attachment("hearing.ics", "text/calendar; method=REQUEST", ics))
    assert worker.drain_once(outbox) == 1
    [got] = smtp_server.handler.received
    [part] = list(got.message.iter_attachments())
    assert part.get_content_type() == "text/calendar"
    assert part.get_param("method") == "REQUEST"
    assert part.get_filename() == "hearing.ics"
    assert "SUMMARY:听证会" in part.get_content()


def test_without_smtp_the_message_is_shown_not_sent(outbox: Flask) -> None:
    configure(outbox, smtp_url="")
    _queue(outbox)
    assert worker.drain_once(outbox) == 1
    [row] = rows(outbox)
    assert row.status == OutboxStatus.SHOWN and row.sent_at is None


def test_closed_port_backs_off_then_sends_once(outbox: Flask, smtp_server: SmtpServer) -> None:
    configure(outbox, smtp_url=f"smtp://127.0.0.1:{free_port()}")  # nobody listens there
    _queue(outbox)
    t0 = utcnow()

    assert worker.drain_once(outbox, now=t0) == 1
    [row] = rows(outbox)
    assert row.status == OutboxStatus.PENDING
    assert row.attempts == 1
    assert row.next_attempt_at == t0 + timedelta(seconds=30)
    assert row.last_error and "Connection" in row.last_error
    assert row.lease_until is None and row.claimed_by is None

    configure(outbox, smtp_url=smtp_server.url)
    assert worker.drain_once(outbox, now=t0 + timedelta(seconds=29)) == 0  # not due yet
    assert smtp_server.handler.received == []
    assert worker.drain_once(outbox, now=t0 + timedelta(seconds=31)) == 1
    assert len(smtp_server.handler.received) == 1
    [row] = rows(outbox)
    assert row.status == OutboxStatus.SENT and row.attempts == 2


def test_server_refusing_451_is_retried_with_growing_backoff(
        outbox: Flask, smtp_server: SmtpServer) -> None:
    configure(outbox, smtp_url=smtp_server.url)
    smtp_server.handler.refuse = 2
    _queue(outbox)
    t0 = utcnow()

    assert worker.drain_once(outbox, now=t0) == 1
    [row] = rows(outbox)
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 1)
    assert row.next_attempt_at == t0 + timedelta(seconds=30)
    assert "451" in (row.last_error or "")

    t1 = t0 + timedelta(seconds=30)
    assert worker.drain_once(outbox, now=t1) == 1
    [row] = rows(outbox)
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 2)
    assert row.next_attempt_at == t1 + timedelta(seconds=60)

    assert worker.drain_once(outbox, now=t1 + timedelta(seconds=60)) == 1
    assert len(smtp_server.handler.received) == 1
    [row] = rows(outbox)
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 3)


def test_gives_up_after_max_attempts(outbox: Flask, smtp_server: SmtpServer) -> None:
    configure(outbox, smtp_url=smtp_server.url, outbox_max_attempts=2)
    smtp_server.handler.refuse = 5
    _queue(outbox)
    t0 = utcnow()
    worker.drain_once(outbox, now=t0)
    assert rows(outbox)[0].status == OutboxStatus.PENDING
    worker.drain_once(outbox, now=t0 + timedelta(hours=2))
    [row] = rows(outbox)
    assert (row.status, row.attempts) == (OutboxStatus.FAILED, 2)
    assert worker.drain_once(outbox, now=t0 + timedelta(days=2)) == 0
    assert smtp_server.handler.received == []


def test_permanent_refusal_fails_at_once(outbox: Flask, smtp_server: SmtpServer) -> None:
    configure(outbox, smtp_url=smtp_server.url)
    smtp_server.handler.refuse = 1
    smtp_server.handler.refuse_reply = "550 5.1.1 No such user"
    _queue(outbox)
    assert worker.drain_once(outbox) == 1
    [row] = rows(outbox)
    assert (row.status, row.attempts) == (OutboxStatus.FAILED, 1)
    assert "550" in (row.last_error or "")


def test_backoff_doubles_and_is_capped() -> None:
    assert [worker.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert worker.backoff(8) == timedelta(hours=1)
    assert worker.backoff(500) == timedelta(hours=1)


# --- crashes and concurrency ------------------------------------------------------------

def test_worker_killed_mid_send_sends_once_on_restart(
        outbox: Flask, smtp_server: SmtpServer) -> None:
    settings = outbox.extensions["portal.settings"]
    smtp_server.handler.block = 1  # the first DATA stalls: the send is in flight
    [message_id] = _queue(outbox)
    env = {**os.environ, "PORTAL_ENV": "test", "PORTAL_DATABASE_URL": settings.database_url,
           "PORTAL_DATA_DIR": str(settings.data_dir), "PORTAL_SMTP_URL": smtp_server.url,
           "PORTAL_OUTBOX_LEASE_SECONDS": "2"}
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--once"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        in_flight = smtp_server.handler.data_seen.wait(timeout=15)
    finally:
        proc.kill()  # SIGKILL: no cleanup, no "finally" in the worker
        _out, err = proc.communicate(timeout=10)
    assert in_flight, err.decode(errors="replace")[-2000:]
    assert proc.returncode == -9

    [row] = rows(outbox)
    assert row.status == OutboxStatus.SENDING and row.attempts == 1
    assert row.claimed_by and row.claimed_by != worker.default_worker_id()
    assert row.lease_until is not None
    assert row.lease_until <= utcnow() + timedelta(seconds=2)  # the 2 s lease from the env
    assert smtp_server.handler.received == []

    configure(outbox, smtp_url=smtp_server.url)
    if utcnow() < row.lease_until:  # the dead worker's lease still holds: hands off
        assert worker.drain_once(outbox) == 0
        assert rows(outbox)[0].status == OutboxStatus.SENDING

    after_lease = row.lease_until + timedelta(milliseconds=1)
    assert worker.drain_once(outbox, now=after_lease) == 1
    [got] = smtp_server.handler.received
    assert got.message["Message-ID"] == f"<outbox-{message_id}@portal>"
    [row] = rows(outbox)
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 2)
    assert worker.drain_once(outbox, now=after_lease + timedelta(hours=1)) == 0
    assert len(smtp_server.handler.received) == 1


def test_two_workers_send_each_message_exactly_once(
        outbox: Flask, smtp_server: SmtpServer) -> None:
    configure(outbox, smtp_url=smtp_server.url)
    ids = _queue(outbox, 20)
    start = threading.Barrier(2)
    counts: dict[str, int] = {}
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            start.wait(timeout=5)
            counts[name] = worker.drain_once(outbox, worker_id=name)
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(f"worker-{i}",)) for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert not errors, errors
    assert sum(counts.values()) == 20

    received = [r.message["Message-ID"] for r in smtp_server.handler.received]
    assert sorted(received) == sorted(f"<outbox-{i}@portal>" for i in ids)  # each once
    with outbox.app_context():
        by_status = dict(db.session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
        claimed = set(db.session.scalars(select(OutboxMessage.claimed_by)))
    assert by_status == {"sent": 20}
    assert claimed <= {"worker-1", "worker-2"}


def test_run_forever_stops_when_asked(outbox: Flask) -> None:
    configure(outbox, smtp_url="")
    _queue(outbox, 2)
    thread = worker.start_worker_thread(outbox, poll_seconds=0.05)
    try:
        deadline = utcnow() + timedelta(seconds=5)
        while utcnow() < deadline and any(m.status != "shown" for m in rows(outbox)):
            threading.Event().wait(0.02)
    finally:
        thread.stop(timeout=5)
    assert not thread.is_alive()
    assert [m.status for m in rows(outbox)] == ["shown", "shown"]


def test_worker_command_drains_and_stops_on_sigterm(outbox: Flask) -> None:
    settings = outbox.extensions["portal.settings"]
    _queue(outbox)
    env = {**os.environ, "PORTAL_ENV": "test", "PORTAL_DATABASE_URL": settings.database_url,
           "PORTAL_DATA_DIR": str(settings.data_dir), "PORTAL_SMTP_URL": ""}
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = utcnow() + timedelta(seconds=15)
        while utcnow() < deadline and rows(outbox)[0].status != OutboxStatus.SHOWN:
            assert proc.poll() is None, proc.communicate()[1].decode(errors="replace")[-2000:]
            threading.Event().wait(0.05)
        assert rows(outbox)[0].status == OutboxStatus.SHOWN
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)
    assert proc.returncode == 0
