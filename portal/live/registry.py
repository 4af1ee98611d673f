"""The registry of live connections: who is connected, with which sid, to which room and
seat of a namespace, on which server node; plus a little shared state per room (sets,
maps, short locks) that a namespace needs across nodes.

One interface, two implementations: `MemoryRegistry` (one process: the embedded way to
run, the tests) and `RedisRegistry` (every socket node of a deployment shares it, chosen
when `PORTAL_REDIS_URL` is set). Rooms, seats and members are opaque strings: the
registry knows nothing of the domain using it.

A connection is "current" for its seat once the domain `claim`s the seat with it (one
person, one seat, one live window); `current_seats(room)` are the seats online. When a
node dies, its entries go: every node writes a heartbeat key (expiring after
`NODE_TTL_S`) and, on start and on each beat, drops the entries of nodes whose heartbeat
is gone (`sweep`); a node restarting under the same id drops its own old entries first.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace

log = logging.getLogger(__name__)

#: a node whose heartbeat is older than this is dead: its connections are dropped
NODE_TTL_S = 30
HEARTBEAT_S = 10
#: shared room state (sets, maps) outlives no room by more than this
STATE_TTL_S = 24 * 3600


def node_id() -> str:
    """This process's name among the socket nodes: PORTAL_NODE_ID, else host and pid."""
    return os.environ.get("PORTAL_NODE_ID", "").strip() or (
        f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}")


@dataclass(frozen=True)
class Connection:
    """One live socket connection."""

    sid: str
    namespace: str
    room: str
    seat: str
    node: str
    user_id: int | None = None
    #: the domain's own facts about the connection (a device id, the link it came with)
    data: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Connection:
        return cls(**json.loads(text))


#: called with the connections of a dead node once they are dropped
DroppedCallback = Callable[[list[Connection]], None]


class Registry(ABC):
    """What every implementation offers. Methods are safe to call from any thread."""

    def __init__(self, node: str | None = None) -> None:
        self.node = node or node_id()
        self._on_dropped: list[DroppedCallback] = []
        self._on_lapsed: list[Callable[[], None]] = []

    # --- connections ---------------------------------------------------------------------

    def connect(self, namespace: str, sid: str, room: str, seat: str,
                user_id: int | None = None, data: dict[str, str] | None = None
                ) -> Connection:
        """Register a new connection of this node (not yet current for its seat)."""
        conn = Connection(sid, namespace, room, seat, self.node, user_id, dict(data or {}))
        self._add(conn)
        return conn

    @abstractmethod
    def _add(self, conn: Connection) -> None: ...

    @abstractmethod
    def get(self, namespace: str, sid: str) -> Connection | None:
        """The connection, or None once it is gone (disconnected, replaced, closed)."""

    @abstractmethod
    def claim(self, namespace: str, sid: str, data: dict[str, str] | None = None
              ) -> tuple[Connection | None, str | None]:
        """Make the connection its seat's current one (merging `data` into its facts);
        returns (the connection, the sid that was current before, if another)."""

    @abstractmethod
    def remove(self, namespace: str, sid: str) -> tuple[Connection | None, bool]:
        """Forget the connection; returns it (None if already gone) and whether it was
        its seat's current connection (if so, the seat is offline now)."""

    @abstractmethod
    def current_sid(self, namespace: str, seat: str) -> str | None:
        """The sid of the seat's current connection (on any node)."""

    @abstractmethod
    def current_seats(self, namespace: str, room: str) -> set[str]:
        """The room's seats with a current connection: who is online."""

    @abstractmethod
    def connections(self, namespace: str, *, room: str | None = None,
                    seat: str | None = None, user_id: int | None = None
                    ) -> list[Connection]:
        """Every connection of the room, the seat or the user (exactly one filter)."""

    # --- shared room state ---------------------------------------------------------------

    @abstractmethod
    def set_add(self, key: str, member: str) -> set[str]:
        """Add to a shared set; returns the members before."""

    @abstractmethod
    def set_discard(self, key: str, member: str) -> None: ...

    @abstractmethod
    def set_members(self, key: str) -> set[str]: ...

    @abstractmethod
    def map_get(self, key: str) -> dict[str, str]:
        """A shared map (field → value)."""

    @abstractmethod
    def map_update(self, key: str, values: dict[str, str],
                   remove: Iterable[str] = ()) -> None: ...

    @abstractmethod
    def delete(self, *keys: str) -> None: ...

    @abstractmethod
    def try_lock(self, key: str, ttl_s: float) -> bool:
        """Take a short lock (across nodes) unless someone holds it; it lapses after
        `ttl_s` if never released."""

    @abstractmethod
    def release(self, key: str) -> None: ...

    # --- nodes ---------------------------------------------------------------------------

    def on_dropped(self, callback: DroppedCallback) -> None:
        """Call `callback(connections)` when a dead node's connections are dropped."""
        self._on_dropped.append(callback)

    def _dropped(self, conns: list[Connection]) -> None:
        if not conns:
            return
        for callback in self._on_dropped:
            try:
                callback(conns)
            except Exception:
                log.exception("live registry: on_dropped callback failed")

    def on_lapsed(self, callback: Callable[[], None]) -> None:
        """Call `callback()` when this node finds its own heartbeat had lapsed: the other
        nodes may have dropped its connections, so they must connect again."""
        self._on_lapsed.append(callback)

    def _lapsed(self) -> None:
        for callback in self._on_lapsed:
            try:
                callback()
            except Exception:
                log.exception("live registry: on_lapsed callback failed")

    def start(self) -> None:  # noqa: B027 (memory: nothing to do)
        """Begin this node's life: drop what an earlier life of it left, then beat."""

    def beat(self) -> None:  # noqa: B027
        """Say this node is alive and drop the entries of dead nodes."""

    def stop(self) -> None:  # noqa: B027
        """Leave (a clean shutdown): the other nodes drop this node's entries at their
        next sweep and tell the rooms, as for a node that died."""


class MemoryRegistry(Registry):
    """One process: dictionaries behind a lock."""

    def __init__(self, node: str | None = None) -> None:
        super().__init__(node)
        self._lock = threading.Lock()
        self._conns: dict[tuple[str, str], Connection] = {}
        self._current: dict[tuple[str, str], str] = {}
        self._sets: dict[str, set[str]] = {}
        self._maps: dict[str, dict[str, str]] = {}
        self._locks: dict[str, float] = {}

    def _add(self, conn: Connection) -> None:
        with self._lock:
            self._conns[(conn.namespace, conn.sid)] = conn

    def get(self, namespace: str, sid: str) -> Connection | None:
        with self._lock:
            return self._conns.get((namespace, sid))

    def claim(self, namespace: str, sid: str, data: dict[str, str] | None = None
              ) -> tuple[Connection | None, str | None]:
        with self._lock:
            conn = self._conns.get((namespace, sid))
            if conn is None:
                return None, None
            if data:
                conn = replace(conn, data={**conn.data, **data})
                self._conns[(namespace, sid)] = conn
            before = self._current.get((namespace, conn.seat))
            self._current[(namespace, conn.seat)] = sid
            return conn, (before if before != sid else None)

    def remove(self, namespace: str, sid: str) -> tuple[Connection | None, bool]:
        with self._lock:
            conn = self._conns.pop((namespace, sid), None)
            if conn is None:
                return None, False
            was_current = self._current.get((namespace, conn.seat)) == sid
            if was_current:
                del self._current[(namespace, conn.seat)]
            return conn, was_current

    def current_sid(self, namespace: str, seat: str) -> str | None:
        with self._lock:
            return self._current.get((namespace, seat))

    def current_seats(self, namespace: str, room: str) -> set[str]:
        with self._lock:
            return {seat for (ns, seat), sid in self._current.items()
                    if ns == namespace and (c := self._conns.get((ns, sid))) is not None
                    and c.room == room}

    def connections(self, namespace: str, *, room: str | None = None,
                    seat: str | None = None, user_id: int | None = None
                    ) -> list[Connection]:
        with self._lock:
            return [c for (ns, _), c in self._conns.items() if ns == namespace and (
                (room is not None and c.room == room)
                or (seat is not None and c.seat == seat)
                or (user_id is not None and c.user_id == user_id))]

    def set_add(self, key: str, member: str) -> set[str]:
        with self._lock:
            members = self._sets.setdefault(key, set())
            before = set(members)
            members.add(member)
            return before

    def set_discard(self, key: str, member: str) -> None:
        with self._lock:
            self._sets.get(key, set()).discard(member)

    def set_members(self, key: str) -> set[str]:
        with self._lock:
            return set(self._sets.get(key, set()))

    def map_get(self, key: str) -> dict[str, str]:
        with self._lock:
            return dict(self._maps.get(key, {}))

    def map_update(self, key: str, values: dict[str, str],
                   remove: Iterable[str] = ()) -> None:
        with self._lock:
            target = self._maps.setdefault(key, {})
            target.update(values)
            for name in remove:
                target.pop(name, None)

    def delete(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._sets.pop(key, None)
                self._maps.pop(key, None)

    def try_lock(self, key: str, ttl_s: float) -> bool:
        now = time.monotonic()
        with self._lock:
            if self._locks.get(key, 0.0) > now:
                return False
            self._locks[key] = now + ttl_s
            return True

    def release(self, key: str) -> None:
        with self._lock:
            self._locks.pop(key, None)


# Redis keys (all under the prefix):
#   c:<ns>:<sid>           the connection (JSON)
#   cur:<ns>:<seat>        the seat's current sid
#   on:<ns>:<room>         the room's seats that have a current connection
#   r:<ns>:<room>, s:<ns>:<seat>, u:<ns>:<user>   sids of the room / seat / user
#   n:<node>               "<ns>\n<sid>" of the node's connections
#   alive:<node>           the heartbeat (expires); nodes: every node with entries
#   st:<key>, lk:<key>     shared room state and locks

_REMOVE = """
local p = ARGV[1]
local ns = ARGV[2]
local sid = ARGV[3]
local raw = redis.call('GET', p .. 'c:' .. ns .. ':' .. sid)
if not raw then return {false, 0} end
local c = cjson.decode(raw)
redis.call('DEL', p .. 'c:' .. ns .. ':' .. sid)
redis.call('SREM', p .. 'r:' .. ns .. ':' .. c.room, sid)
redis.call('SREM', p .. 's:' .. ns .. ':' .. c.seat, sid)
if c.user_id and c.user_id ~= cjson.null then
  redis.call('SREM', p .. 'u:' .. ns .. ':' .. tostring(c.user_id), sid)
end
redis.call('SREM', p .. 'n:' .. c.node, ns .. '\\n' .. sid)
local current = 0
if redis.call('GET', p .. 'cur:' .. ns .. ':' .. c.seat) == sid then
  redis.call('DEL', p .. 'cur:' .. ns .. ':' .. c.seat)
  redis.call('SREM', p .. 'on:' .. ns .. ':' .. c.room, c.seat)
  current = 1
end
return {raw, current}
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

_CLAIM = """
local p = ARGV[1]
local ns = ARGV[2]
local sid = ARGV[3]
local key = p .. 'c:' .. ns .. ':' .. sid
local raw = redis.call('GET', key)
if not raw then return {false, false} end
local c = cjson.decode(raw)
if ARGV[4] ~= '' then
  local data = cjson.decode(ARGV[4])
  if type(c.data) ~= 'table' then c.data = {} end
  for k, v in pairs(data) do c.data[k] = v end
  raw = cjson.encode(c)
  redis.call('SET', key, raw)
end
local before = redis.call('GET', p .. 'cur:' .. ns .. ':' .. c.seat)
redis.call('SET', p .. 'cur:' .. ns .. ':' .. c.seat, sid)
redis.call('SADD', p .. 'on:' .. ns .. ':' .. c.room, c.seat)
if before == sid then before = false end
return {raw, before}
"""


class RedisRegistry(Registry):
    """Shared by every node through Redis; each change is one atomic script."""

    def __init__(self, url: str, node: str | None = None, prefix: str = "portal:live:"
                 ) -> None:
        super().__init__(node)
        import redis

        self.redis = redis.Redis.from_url(url, decode_responses=True)
        self.prefix = prefix
        self._remove = self.redis.register_script(_REMOVE)
        self._claim = self.redis.register_script(_CLAIM)
        self._release = self.redis.register_script(_RELEASE)
        self._beating: threading.Thread | None = None
        self._stopped = threading.Event()
        #: what an earlier life of this node id left is dropped before this life adds any
        #: entry (at start, or as soon as Redis answers when it was down then)
        self._earlier_life_dropped = False
        self._start_lock = threading.Lock()
        self._has_beaten = False

    def _k(self, *parts: object) -> str:
        return self.prefix + ":".join(str(p) for p in parts)

    def _add(self, conn: Connection) -> None:
        self._drop_earlier_life()
        ns, sid = conn.namespace, conn.sid
        pipe = self.redis.pipeline()
        pipe.set(self._k("c", ns, sid), conn.to_json())
        pipe.sadd(self._k("r", ns, conn.room), sid)
        pipe.sadd(self._k("s", ns, conn.seat), sid)
        if conn.user_id is not None:
            pipe.sadd(self._k("u", ns, conn.user_id), sid)
        pipe.sadd(self._k("n", conn.node), f"{ns}\n{sid}")
        pipe.sadd(self._k("nodes"), conn.node)
        pipe.execute()

    def get(self, namespace: str, sid: str) -> Connection | None:
        raw = self.redis.get(self._k("c", namespace, sid))
        return Connection.from_json(raw) if raw else None

    def claim(self, namespace: str, sid: str, data: dict[str, str] | None = None
              ) -> tuple[Connection | None, str | None]:
        raw, before = self._claim(args=[self.prefix, namespace, sid,
                                        json.dumps(data) if data else ""])
        if not raw:
            return None, None
        return Connection.from_json(raw), (str(before) if before else None)

    def remove(self, namespace: str, sid: str) -> tuple[Connection | None, bool]:
        raw, current = self._remove(args=[self.prefix, namespace, sid])
        if not raw:
            return None, False
        return Connection.from_json(raw), bool(current)

    def current_sid(self, namespace: str, seat: str) -> str | None:
        sid = self.redis.get(self._k("cur", namespace, seat))
        return str(sid) if sid else None

    def current_seats(self, namespace: str, room: str) -> set[str]:
        return {str(m) for m in self.redis.smembers(self._k("on", namespace, room))}

    def connections(self, namespace: str, *, room: str | None = None,
                    seat: str | None = None, user_id: int | None = None
                    ) -> list[Connection]:
        if room is not None:
            index = self._k("r", namespace, room)
        elif seat is not None:
            index = self._k("s", namespace, seat)
        else:
            index = self._k("u", namespace, user_id)
        sids = [str(m) for m in self.redis.smembers(index)]
        if not sids:
            return []
        raws = self.redis.mget([self._k("c", namespace, sid) for sid in sids])
        return [Connection.from_json(raw) for raw in raws if raw]

    def set_add(self, key: str, member: str) -> set[str]:
        pipe = self.redis.pipeline()  # MULTI: the members before, then the addition
        pipe.smembers(self._k("st", key))
        pipe.sadd(self._k("st", key), member)
        pipe.expire(self._k("st", key), STATE_TTL_S)
        before = pipe.execute()[0]
        return {str(m) for m in before}

    def set_discard(self, key: str, member: str) -> None:
        self.redis.srem(self._k("st", key), member)

    def set_members(self, key: str) -> set[str]:
        return {str(m) for m in self.redis.smembers(self._k("st", key))}

    def map_get(self, key: str) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.redis.hgetall(self._k("st", key)).items()}

    def map_update(self, key: str, values: dict[str, str],
                   remove: Iterable[str] = ()) -> None:
        remove = list(remove)
        if not values and not remove:
            return
        pipe = self.redis.pipeline()
        if values:
            pipe.hset(self._k("st", key), mapping=values)  # type: ignore[arg-type]
        if remove:
            pipe.hdel(self._k("st", key), *remove)
        pipe.expire(self._k("st", key), STATE_TTL_S)
        pipe.execute()

    def delete(self, *keys: str) -> None:
        if keys:
            self.redis.delete(*[self._k("st", key) for key in keys])

    def try_lock(self, key: str, ttl_s: float) -> bool:
        return bool(self.redis.set(self._k("lk", key), self.node, nx=True,
                                   px=max(1, int(ttl_s * 1000))))

    def release(self, key: str) -> None:
        """Release the lock if this node still holds it (it may have lapsed and been
        taken by another)."""
        self._release(keys=[self._k("lk", key)], args=[self.node])

    # --- nodes ---------------------------------------------------------------------------

    def _drop_node(self, node: str) -> list[Connection]:
        """Remove the node's connections one by one (each removal also takes it out of
        the node's index, so an entry added meanwhile is never lost from it)."""
        dropped = []
        for member in self.redis.smembers(self._k("n", node)):
            namespace, _, sid = str(member).partition("\n")
            conn, _current = self.remove(namespace, sid)
            if conn is not None:
                dropped.append(conn)
            self.redis.srem(self._k("n", node), member)  # a member without its entry
        if not self.redis.scard(self._k("n", node)):
            self.redis.srem(self._k("nodes"), node)
        return dropped

    def _drop_earlier_life(self) -> None:
        if self._earlier_life_dropped:
            return
        with self._start_lock:
            if not self._earlier_life_dropped:
                self._drop_node(self.node)
                self._earlier_life_dropped = True

    def start(self) -> None:
        """Drop an earlier life's entries and beat; the heartbeat thread starts even when
        Redis does not answer now (it keeps trying, and drops the earlier life first)."""
        if self._beating is None:
            self._beating = threading.Thread(target=self._beat_forever, daemon=True,
                                             name="live-registry-heartbeat")
            self._beating.start()
        self._drop_earlier_life()
        self.beat()

    def beat(self) -> None:
        self._drop_earlier_life()
        before = self.redis.set(self._k("alive", self.node), "1", ex=NODE_TTL_S, get=True)
        self.redis.sadd(self._k("nodes"), self.node)
        if before is None and self._has_beaten:
            # our heartbeat lapsed (a stall, Redis restarted): other nodes may have swept
            # our connections; they must connect again to be known
            log.warning("live registry: this node's heartbeat had lapsed")
            self._lapsed()
        self._has_beaten = True
        self.sweep()

    def sweep(self) -> list[Connection]:
        """Drop the entries of every node whose heartbeat lapsed."""
        dropped: list[Connection] = []
        for node in map(str, self.redis.smembers(self._k("nodes"))):
            if node != self.node and not self.redis.exists(self._k("alive", node)):
                log.warning("live registry: node %s is gone; dropping its connections", node)
                dropped += self._drop_node(node)
        self._dropped(dropped)
        return dropped

    def _beat_forever(self) -> None:
        while not self._stopped.wait(HEARTBEAT_S):
            try:
                self.beat()
            except Exception:
                log.exception("live registry: heartbeat failed")

    def stop(self) -> None:
        """A clean exit: the heartbeat goes at once, so the next sweep of any node drops
        this node's connections and tells their rooms (as for a node that died)."""
        self._stopped.set()
        self.redis.delete(self._k("alive", self.node))


def make_registry(redis_url: str = "", node: str | None = None, prefix_of: str = ""
                  ) -> Registry:
    """Redis when a URL is given (several socket nodes), memory otherwise. `prefix_of`
    (the database URL) keeps deployments sharing one Redis apart: nodes of one database
    share one registry."""
    if not redis_url:
        return MemoryRegistry(node)
    tag = hashlib.sha256(prefix_of.encode()).hexdigest()[:12] if prefix_of else "default"
    return RedisRegistry(redis_url, node, prefix=f"portal:live:{tag}:")
