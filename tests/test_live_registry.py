"""portal.live.registry: the same behaviour in memory and in Redis (several nodes), and a
dead node's connections dropped."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from portal.live.registry import MemoryRegistry, RedisRegistry, Registry
from tests.fixtures.core import REDIS_URL

NS = "/test"


def _redis(node: str, prefix: str) -> RedisRegistry:
    return RedisRegistry(REDIS_URL, node, prefix=prefix)


@pytest.fixture(params=["memory", "redis"])
def registry(request: pytest.FixtureRequest) -> Iterator[Registry]:
    if request.param == "memory":
        yield MemoryRegistry("node-a")
        return
    if not REDIS_URL:
        pytest.skip("PORTAL_TEST_REDIS_URL is not set")
    prefix = f"test:live:{uuid.uuid4().hex}:"
    found = _redis("node-a", prefix)
    yield found
    keys = list(found.redis.scan_iter(prefix + "*"))
    if keys:
        found.redis.delete(*keys)


def test_connect_claim_and_remove(registry: Registry) -> None:
    registry.connect(NS, "s1", "r1", "seat1", user_id=7, data={"token_hash": "h"})
    assert registry.current_seats(NS, "r1") == set()  # connected, not yet claimed
    conn, before = registry.claim(NS, "s1", {"device": "d1"})
    assert conn is not None and before is None
    assert conn.data == {"token_hash": "h", "device": "d1"} and conn.node == "node-a"
    assert registry.get(NS, "s1") == conn
    assert registry.current_seats(NS, "r1") == {"seat1"}
    assert registry.current_sid(NS, "seat1") == "s1"
    # a second window of the seat takes it over; the first is no longer current
    registry.connect(NS, "s2", "r1", "seat1")
    _conn, before = registry.claim(NS, "s2")
    assert before == "s1"
    assert registry.remove(NS, "s1")[1] is False  # not current: nobody went offline
    assert registry.current_seats(NS, "r1") == {"seat1"}
    gone, was_current = registry.remove(NS, "s2")
    assert gone is not None and was_current
    assert registry.current_seats(NS, "r1") == set()
    assert registry.remove(NS, "s2") == (None, False)
    assert registry.get(NS, "s2") is None


def test_connections_by_room_seat_and_user(registry: Registry) -> None:
    registry.connect(NS, "a", "r1", "x", user_id=1)
    registry.connect(NS, "b", "r1", "y")
    registry.connect(NS, "c", "r2", "z", user_id=1)
    registry.connect("/other", "d", "r1", "x", user_id=1)
    assert sorted(c.sid for c in registry.connections(NS, room="r1")) == ["a", "b"]
    assert [c.sid for c in registry.connections(NS, seat="x")] == ["a"]
    assert sorted(c.sid for c in registry.connections(NS, user_id=1)) == ["a", "c"]


def test_shared_sets_maps_and_locks(registry: Registry) -> None:
    assert registry.set_add("pub", "1") == set()
    assert registry.set_add("pub", "2") == {"1"}
    registry.set_discard("pub", "1")
    assert registry.set_members("pub") == {"2"}
    registry.map_update("pos", {"1": "3", "2": "4"})
    registry.map_update("pos", {"1": "2"}, remove=["2"])
    assert registry.map_get("pos") == {"1": "2"}
    registry.delete("pub", "pos")
    assert registry.set_members("pub") == set() and registry.map_get("pos") == {}
    assert registry.try_lock("job", 5)
    assert not registry.try_lock("job", 5)
    registry.release("job")
    assert registry.try_lock("job", 5)


@pytest.mark.skipif(not REDIS_URL, reason="PORTAL_TEST_REDIS_URL is not set")
def test_a_dead_nodes_connections_are_dropped_and_a_restart_drops_its_own() -> None:
    prefix = f"test:live:{uuid.uuid4().hex}:"
    a, b = _redis("node-a", prefix), _redis("node-b", prefix)
    try:
        a.beat()
        b.beat()
        a.connect(NS, "sa", "r1", "seat-a")
        a.claim(NS, "sa")
        b.connect(NS, "sb", "r1", "seat-b")
        b.claim(NS, "sb")
        assert b.current_seats(NS, "r1") == {"seat-a", "seat-b"}
        dropped: list[str] = []
        b.on_dropped(lambda conns: dropped.extend(c.sid for c in conns))
        assert b.sweep() == []  # a is alive
        a.redis.delete(a._k("alive", "node-a"))  # its heartbeat lapsed: it died
        assert [c.sid for c in b.sweep()] == ["sa"] and dropped == ["sa"]
        assert b.current_seats(NS, "r1") == {"seat-b"} and b.get(NS, "sa") is None
        # node b restarts under the same id: what its earlier life left goes
        again = _redis("node-b", prefix)
        again.start()
        again.stop()
        assert again.current_seats(NS, "r1") == set() and again.get(NS, "sb") is None
    finally:
        keys = list(a.redis.scan_iter(prefix + "*"))
        if keys:
            a.redis.delete(*keys)


@pytest.mark.parametrize("shared", ["memory", "redis"])
def test_a_batched_job_runs_once_per_interval_whichever_node_asks(shared: str) -> None:
    """`live.coalesce`: calls on two nodes within the interval make one run; a call after
    the run has started its read schedules the next one."""
    import threading
    import time

    from flask import Flask

    from portal import live

    if shared == "redis" and not REDIS_URL:
        pytest.skip("PORTAL_TEST_REDIS_URL is not set")
    prefix = f"test:live:{uuid.uuid4().hex}:"
    if shared == "memory":
        one = MemoryRegistry("node-a")
        registries: list[Registry] = [one, one]  # one process: both "nodes" share it
    else:
        registries = [_redis("node-a", prefix), _redis("node-b", prefix)]
    nodes = []
    for registry in registries:
        node = Flask(__name__)
        node.extensions["portal.live.registry"] = registry
        nodes.append(node)
    runs: list[float] = []
    ran = threading.Event()

    def job() -> None:
        runs.append(time.monotonic())
        ran.set()

    try:
        for _ in range(5):
            for node in nodes:
                with node.app_context():
                    live.coalesce("room:1", 0.3, job)
        assert ran.wait(5)
        time.sleep(0.5)
        assert len(runs) == 1
        ran.clear()
        with nodes[1].app_context():
            live.coalesce("room:1", 0.3, job)
        assert ran.wait(5)
        assert len(runs) == 2 and runs[1] - runs[0] >= 0.3
    finally:
        if shared == "redis":
            redis = registries[0].redis  # type: ignore[attr-defined]
            keys = list(redis.scan_iter(prefix + "*"))
            if keys:
                redis.delete(*keys)


@pytest.fixture()
def prefix() -> Iterator[str]:
    if not REDIS_URL:
        pytest.skip("PORTAL_TEST_REDIS_URL is not set")
    found = f"test:live:{uuid.uuid4().hex}:"
    yield found
    cleaner = _redis("cleaner", found)
    keys = list(cleaner.redis.scan_iter(found + "*"))
    if keys:
        cleaner.redis.delete(*keys)


def test_a_clean_stop_lets_the_others_drop_and_announce_its_connections(prefix: str) -> None:
    a, b = _redis("node-a", prefix), _redis("node-b", prefix)
    a.beat()
    b.beat()
    a.connect(NS, "sa", "r1", "seat-a")
    a.claim(NS, "sa")
    told: list[str] = []
    b.on_dropped(lambda conns: told.extend(c.seat for c in conns))
    a.stop()
    assert [c.sid for c in b.sweep()] == ["sa"] and told == ["seat-a"]
    assert b.current_seats(NS, "r1") == set()


def test_a_node_whose_heartbeat_lapsed_is_told_to_reconnect_its_clients(prefix: str) -> None:
    a = _redis("node-a", prefix)
    lapsed: list[bool] = []
    a.on_lapsed(lambda: lapsed.append(True))
    a.beat()
    a.beat()
    assert lapsed == []
    a.redis.delete(a._k("alive", "node-a"))  # a stall longer than the heartbeat's life
    a.beat()
    assert lapsed == [True]


def test_a_lock_is_released_only_by_its_holder(prefix: str) -> None:
    a, b = _redis("node-a", prefix), _redis("node-b", prefix)
    assert a.try_lock("job", 5)
    b.release("job")  # not b's: nothing happens
    assert not b.try_lock("job", 5)
    a.release("job")
    assert b.try_lock("job", 5)


def test_a_node_started_while_redis_is_down_keeps_beating_in_the_background() -> None:
    down = RedisRegistry("redis://127.0.0.1:1/0", "node-x", prefix="test:down:")
    with pytest.raises(Exception):  # noqa: B017 (redis' ConnectionError)
        down.start()
    assert down._beating is not None and down._beating.is_alive()
    down._stopped.set()
