"""gunicorn settings for the embedded way to run (`make run`, DESIGN.md "Two ways to run").

One worker process with many threads: Flask-SocketIO in threading mode keeps its rooms
and clients in the memory of one process, so there must be exactly one worker (its docs:
`gunicorn -w 1 --threads 100 module:app`). Each open Socket.IO WebSocket holds one thread,
so PORTAL_THREADS bounds pages plus live connections together.

    gunicorn -c gunicorn.conf.py            # serves wsgi:create_app() on 127.0.0.1:$PORT

Environment: PORT (default 5000), PORTAL_BIND (overrides the whole bind address, e.g.
0.0.0.0:8000 behind a proxy), PORTAL_THREADS (default 100), PORTAL_RUN_WORKER ("0" to not
start the embedded outbox worker thread, e.g. when `flask --app wsgi worker` runs apart).
"""

from __future__ import annotations

import os
from typing import Any

wsgi_app = "wsgi:create_app()"

bind = os.environ.get("PORTAL_BIND") or f"127.0.0.1:{int(os.environ.get('PORT', '5000'))}"
workers = 1  # never more: Socket.IO state lives in this one process
worker_class = "gthread"
threads = int(os.environ.get("PORTAL_THREADS", "100"))

# The gthread worker's heartbeat comes from its main loop, not from request threads, so a
# WebSocket held open for an hour does not trip `timeout`; it only catches a stuck worker.
timeout = 60
# On stop, open WebSockets would hold a graceful shutdown for its whole length: keep it short.
graceful_timeout = 10
keepalive = 5

accesslog = "-"  # stdout
errorlog = "-"  # stderr
loglevel = os.environ.get("PORTAL_LOG_LEVEL", "info")
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
# join links, RSVP links and query codes travel in URLs: masked before they are written
logger_class = "portal.access_log.RedactingLogger"
proc_name = "portal"

# gunicorn >= 24 opens a control socket at ~/.gunicorn/gunicorn.ctl by default; two servers
# on one machine (make run and the tests) would fight over it, and the portal does not use it.
control_socket_disable = True


def post_worker_init(worker: Any) -> None:
    """Start the outbox worker thread inside the (single) worker process.

    `worker.wsgi` is what `wsgi:create_app()` returned, i.e. the Flask app, loaded by
    Worker.load_wsgi() just before this hook runs."""
    if os.environ.get("PORTAL_RUN_WORKER", "1").strip() == "0":
        worker.log.info("outbox worker thread not started: PORTAL_RUN_WORKER=0")
        return
    app = worker.wsgi
    if not hasattr(app, "app_context"):
        worker.log.warning("outbox worker thread not started: %r is not a Flask app", app)
        return
    try:
        from portal.notify.worker import start_worker_thread
    except (ImportError, AttributeError) as error:
        worker.log.warning(
            "outbox worker thread not started (portal.notify.worker.start_worker_thread is "
            "not available: %s); pages are served, queued e-mail stays in the outbox", error)
        return
    worker.portal_outbox_thread = start_worker_thread(app)
    worker.log.info("outbox worker thread started")


def worker_exit(server: Any, worker: Any) -> None:
    """Let the outbox thread finish the message in hand before the process ends."""
    thread = getattr(worker, "portal_outbox_thread", None)
    stop = getattr(thread, "stop", None)
    if callable(stop):
        stop(timeout=5)
