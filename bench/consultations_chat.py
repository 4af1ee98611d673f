"""Consultation chat benchmark: 300 chat clients (150 consultations, the person and the
lawyer of each) on one server process (gunicorn, one gthread worker, as `make run`
serves), each side sending `--messages` messages at about one per `--interval` seconds
(with jitter) and acknowledging what it receives with a `delivered` mark, as the page's
script does. The figure is the delivery time, from the sender's `message` emit to the
other side's `message` event (p50, p99, max), with the counts: sent, received, lost
(never arrived) and duplicated (arrived twice at one client).

Lawyers log in through the real form (one account answers several consultations, a socket
for each, as a lawyer with several chat tabs); the people come by their personal links.
All clients are python-socketio asyncio clients in this process (one clock for both
ends); the server is a separate process on 127.0.0.1 with a throw-away SQLite database
seeded with rows directly (or `--database-url` for PostgreSQL, a database of its own).

    .venv/bin/python bench/consultations_chat.py [--consultations 150] [--messages 10]
        [--interval 10] [--database-url postgresql://postgres@127.0.0.1:5432/test]

The default pace, each side writing every 10 s or so, is a brisk human chat: 30 messages a
second over the 150 conversations, and as many marks. Faster paces find where one process
saturates (the server is a single Python process, its GIL the limit). Drawn on a shared
two-core machine (load average 4-5 from other work): `--interval 10` p50 5-12 ms, p99
27-330 ms (SQLite and PostgreSQL alike; the quieter the machine, the lower); `--interval
5` (60 a second) p99 0.27-0.55 s; `--interval 2` (150 a second) the server at 100 % CPU,
p99 1.8-3.3 s. Nothing lost or duplicated at any pace.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

from _common import ROOT, percentile  # type: ignore[import-not-found]

from tests.fixtures.core import free_port

PASSWORD = "bench-password-1"
NS = "/consult"


def _seed(data_dir: Path, url: str, consultations: int, lawyers: int
          ) -> list[tuple[int, str, str]]:
    """A migrated database with an office, `lawyers` registry lawyers with accounts, a
    published duty week and `consultations` consultations being answered (round robin);
    returns (consultation id, the person's token, the lawyer's username) for each."""
    from flask_migrate import upgrade

    from tests.fixtures.core import build_app

    app = build_app(data_dir, url)  # first: every model mapped before one is imported

    from consultations import links
    from consultations.models import Consultation, DutyWeek
    from portal.auth import operations as auth_ops
    from portal.auth.roles import Role
    from portal.extensions import db
    from portal.orgs.models import Organisation
    from portal.people.models import Person
    from portal.timeutil import utcnow
    from tests.fixtures.consultations import this_monday

    with app.app_context():
        upgrade()
        office = Organisation(name="县司法局", kind="agency")
        db.session.add(office)
        db.session.flush()
        people = []
        for n in range(lawyers):
            user = auth_ops.create_user(db.session, username=f"lawyer{n}", password=PASSWORD,
                                        display_name=f"律师{n}", roles=[Role.LAWYER],
                                        organisations=[office], check_password=False)
            person = Person(kind="lawyer", name=f"律师{n}", organisation_id=office.id,
                            user_id=user.id, lawyer_firm="某律师事务所")
            db.session.add(person)
            people.append((person, user))
        db.session.flush()
        week = DutyWeek(week_start=this_monday(), lawyer_id=people[0][0].id,
                        status="published", published_at=utcnow())
        db.session.add(week)
        db.session.flush()
        made = []
        for n in range(consultations):
            person, user = people[n % lawyers]
            consultation = Consultation(channel="online", status="active", name=f"来访人{n}",
                                        topic="labour", question="工资被拖欠怎么办？",
                                        duty_week_id=week.id, lawyer_id=person.id,
                                        lawyer_user_id=user.id, taken_at=utcnow())
            token = links.issue_consultation_token(consultation)
            db.session.add(consultation)
            made.append((consultation, token, user.username))
        db.session.commit()
        result = [(c.id, token, username) for c, token, username in made]
        db.engine.dispose()
    return result


def _login_cookie(base: str, username: str) -> str:
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/login").read().decode()
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page)
    assert match, "no CSRF token on the login page"
    body = urllib.parse.urlencode({"csrf_token": match.group(1), "username": username,
                                   "password": PASSWORD}).encode()
    opener.open(f"{base}/login", data=body).read()
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def _wait_up(base: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=1).read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start")


def _serve(data_dir: Path, url: str, port: int, threads: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PORT": str(port), "PORTAL_ENV": "test",
           "PORTAL_DATA_DIR": str(data_dir), "PORTAL_DATABASE_URL": url,
           "PORTAL_SECRET_KEY": "test-secret", "PORTAL_DATA_KEY": "test-data-key",
           "PORTAL_THREADS": str(threads), "PORTAL_RUN_WORKER": "0",
           "PORTAL_LOG_LEVEL": "warning", "PORTAL_NODE_ID": f"bench-chat-{os.getpid()}"}
    env.pop("PORTAL_REDIS_URL", None)
    return subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "-c", "gunicorn.conf.py", "--access-logfile",
         "/dev/null"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)


class Side:
    """One chat client: what it sent (client id → time) and what it received."""

    def __init__(self, consultation_id: int, side: str) -> None:
        import socketio

        self.cid = consultation_id
        self.side = side
        self.client = socketio.AsyncClient(reconnection=False)
        self.sent: dict[str, float] = {}
        self.arrived: dict[int, tuple[str, float]] = {}  # message id → (client id, time)
        self.duplicates = 0
        self.errors: list[str] = []
        self.client.on("message", self._on_message, namespace=NS)

    async def _on_message(self, msg: dict[str, Any]) -> None:
        now = time.perf_counter()
        if msg.get("sender") == self.side or msg.get("consultation_id") != self.cid:
            return
        if msg["id"] in self.arrived:
            self.duplicates += 1
            return
        self.arrived[msg["id"]] = (msg["client_id"], now)
        # the page's script marks what reached it; not awaited, as the page does not wait
        await self.client.emit("delivered", {"consultation_id": self.cid,
                                             "up_to_id": msg["id"]}, namespace=NS)

    async def connect(self, base: str, join: dict[str, Any], cookie: str = "") -> None:
        await self.client.connect(base, namespaces=[NS], transports=["websocket"],
                                  headers={"Cookie": cookie} if cookie else {},
                                  wait_timeout=30)
        ack = await self.client.call("join", join, namespace=NS, timeout=30)
        assert ack and ack.get("ok"), ack

    async def talk(self, messages: int, interval: float) -> None:
        await asyncio.sleep(random.uniform(0, interval))
        for n in range(messages):
            client_id = f"{self.side}-{self.cid}-{n}"
            self.sent[client_id] = time.perf_counter()
            ack = await self.client.call("message", {
                "consultation_id": self.cid, "client_id": client_id,
                "body": f"第{n}条消息：请问劳动仲裁需要准备哪些材料？"}, namespace=NS, timeout=30)
            if not (ack and ack.get("ok")):
                self.errors.append(str(ack))
            await asyncio.sleep(interval * random.uniform(0.5, 1.5))


async def _run_clients(base: str, rows: list[tuple[int, str, str]], cookies: dict[str, str],
                       messages: int, interval: float) -> dict[str, Any]:
    pairs: list[tuple[Side, Side]] = []
    started = time.perf_counter()
    for batch in range(0, len(rows), 25):
        chunk = rows[batch:batch + 25]
        made = [(Side(cid, "asker"), Side(cid, "lawyer")) for cid, _t, _u in chunk]
        await asyncio.gather(*(
            step for (cid, token, username), (person, lawyer) in zip(chunk, made, strict=True)
            for step in (person.connect(base, {"consultation_id": cid, "token": token}),
                         lawyer.connect(base, {"consultation_id": cid}, cookies[username]))))
        pairs += made
    connect_s = time.perf_counter() - started
    sides = [s for pair in pairs for s in pair]
    talk_started = time.perf_counter()
    await asyncio.gather(*(s.talk(messages, interval) for s in sides))
    # the last messages' way across
    deadline = time.perf_counter() + 10
    expected = len(sides) * messages
    while time.perf_counter() < deadline and sum(len(s.arrived) for s in sides) < expected:
        await asyncio.sleep(0.05)
    talk_s = time.perf_counter() - talk_started
    latencies: list[float] = []
    lost = 0
    for person, lawyer in pairs:
        for sender, receiver in ((person, lawyer), (lawyer, person)):
            got = {client_id: at for client_id, at in receiver.arrived.values()}
            for client_id, sent_at in sender.sent.items():
                if client_id in got:
                    latencies.append(got[client_id] - sent_at)
                else:
                    lost += 1
    for side in sides:
        await side.client.disconnect()
    return {"connect_s": round(connect_s, 2), "talk_s": round(talk_s, 2),
            "latencies": latencies, "lost": lost,
            "sent": sum(len(s.sent) for s in sides),
            "received": sum(len(s.arrived) for s in sides),
            "duplicates": sum(s.duplicates for s in sides),
            "errors": [e for s in sides for e in s.errors][:5],
            "error_count": sum(len(s.errors) for s in sides)}


def _database(tmp: Path, database_url: str) -> tuple[str, Any]:
    if not database_url:
        return f"sqlite:///{tmp / 'chat.db'}", None
    from tests.fixtures.core import create_pg_database

    return create_pg_database(database_url)


def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        url, drop = _database(data_dir, args.database_url)
        try:
            rows = _seed(data_dir, url, args.consultations, args.lawyers)
            port = free_port()
            server = _serve(data_dir, url, port, threads=2 * args.consultations + 50)
            try:
                base = f"http://127.0.0.1:{port}"
                _wait_up(base)
                cookies = {u: _login_cookie(base, u) for u in sorted({r[2] for r in rows})}
                result = asyncio.run(_run_clients(base, rows, cookies, args.messages,
                                                  args.interval))
            finally:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(15)
        finally:
            if drop:
                drop()
    ms = [v * 1000 for v in result.pop("latencies")]
    return {"bench": "consultations_chat", "database": "postgresql" if args.database_url
            else "sqlite", "clients": 2 * args.consultations,
            "consultations": args.consultations, "lawyer_accounts": args.lawyers,
            "messages_each": args.messages, "interval_s": args.interval, **result,
            "delivery_p50_ms": round(percentile(ms, 50), 2) if ms else None,
            "delivery_p99_ms": round(percentile(ms, 99), 2) if ms else None,
            "delivery_max_ms": round(max(ms), 2) if ms else None, "target_p99_ms": 100}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--consultations", type=int, default=150)
    parser.add_argument("--lawyers", type=int, default=15,
                        help="lawyer accounts; each answers consultations/lawyers chats")
    parser.add_argument("--messages", type=int, default=10, help="messages each side sends")
    parser.add_argument("--interval", type=float, default=10.0,
                        help="seconds between one client's messages (with jitter)")
    parser.add_argument("--database-url", default="",
                        help="a PostgreSQL server to make a database on (default SQLite)")
    print(json.dumps(run(parser.parse_args())))


if __name__ == "__main__":
    main()
