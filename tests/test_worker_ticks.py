"""The outbox worker runs the periodic ticks domains register (e.g. deadline reminders)."""

from __future__ import annotations

import threading

from flask_migrate import upgrade

from portal.hooks import register_tick, ticks
from portal.notify.worker import run_forever
from tests.fixtures.core import build_app


def test_worker_calls_each_tick_and_survives_a_failing_one(tmp_path):
    app = build_app(tmp_path, f"sqlite:///{tmp_path / 'w.db'}")
    with app.app_context():
        upgrade()
    called = threading.Event()
    stop = threading.Event()

    def broken(_app, _now):
        raise RuntimeError("a broken tick must not stop the worker")

    def good(_app, now):
        assert now.tzinfo is not None
        called.set()
        stop.set()

    register_tick(app, "broken", broken)
    register_tick(app, "good", good)
    assert [name for name, _ in ticks(app)][-2:] == ["broken", "good"]
    worker = threading.Thread(target=run_forever, args=(app, stop, 0.05), daemon=True)
    worker.start()
    assert called.wait(timeout=10)
    worker.join(timeout=10)
    assert not worker.is_alive()


def test_case_files_register_the_reminder_tick(app):
    assert "deadline reminders" in [name for name, _ in ticks(app)]
