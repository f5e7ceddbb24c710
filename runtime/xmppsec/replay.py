"""Replay protection (XEP-0290 §5 timestamps; RFC 3923 §6.9; security case 30).

A :class:`ReplayStore` remembers, per signer (normalized bare JID):

* every token it accepted (e.g. the SignatureValue bytes), stored as SHA-256, and
* the newest timestamp it accepted,

for the length of the freshness window. ``check_and_record`` rejects a token seen
before and a timestamp that is not strictly greater than the newest one accepted,
then records both — atomically, so two deliveries of the same stanza racing on two
threads (or two processes sharing one SQLite file) cannot both pass.

Expiry: an entry recorded at ``now`` for a timestamp ``ts`` lives until
``max(ts, now) + window``. After that a replay of the same stanza is refused by the
window check (``timestamps.check_window``) instead, so the store stays bounded by
(accepted rate) x (window). Callers must run the window check before this one.

Four stores implement the protocol: :class:`MemoryReplayStore` (one process),
:class:`SQLiteReplayStore` (one host: survives restarts, shared by processes),
:class:`RedisReplayStore` (a cluster of verifiers sharing one Redis): there one Lua script
run by ``EVALSHA`` reads the token key and the signer's last-timestamp key, compares, then
``SET ... PX`` on both (expiry handled by Redis) — one round trip, atomic on the server.

From asyncio (a bot, a component, the slixmpp plugin) the same contract is an
:class:`AsyncReplayStore` (``async def check_and_record``), so a check never blocks the
event loop: :class:`AsyncSQLiteReplayStore` runs a :class:`SQLiteReplayStore` in a worker
thread (``asyncio.to_thread``) and :class:`AsyncRedisReplayStore` uses ``redis.asyncio``
with the same Lua script and keys as :class:`RedisReplayStore`, so synchronous and
asynchronous verifiers can share one Redis.

Errors: :class:`~xmppsec.errors.ReplayError` for a replay (the peer's input);
:class:`~xmppsec.errors.ReplayStoreError` when the store cannot answer (an unusable or
corrupt SQLite file, a database locked past the timeout, Redis unreachable or timing out):
the stanza is then refused, never accepted; :class:`~xmppsec.errors.UsageError` for the
caller's mistakes (a naive datetime, a token that is not bytes, a non-positive window, a
closed store).

:class:`RedisClusterReplayStore` runs the same script on a Redis Cluster, each record
acknowledged only once ``WAIT`` says a replica holds it, so a failover loses none;
:func:`redis_store_from_url` picks the Redis store from a URL.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import inspect
import os
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Protocol, Self, TypeGuard, runtime_checkable

from xmppsec.errors import ReplayError, ReplayStoreError, UsageError
from xmppsec.jid import bare_jid
from xmppsec.xmpp import require_aware

if TYPE_CHECKING:  # the redis package is optional: imported only by RedisReplayStore users
    import redis
    import redis.asyncio
    from redis.cluster import RedisCluster

__all__ = [
    "DEFAULT_REDIS_TIMEOUT",
    "AsyncRedisReplayStore",
    "AsyncReplayStore",
    "AsyncSQLiteReplayStore",
    "MemoryReplayStore",
    "RedisClusterReplayStore",
    "RedisReplayStore",
    "ReplayStore",
    "SQLiteReplayStore",
    "is_async_store",
    "redis_store_from_url",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

DEFAULT_REDIS_TIMEOUT: Final = 2.0
"""Seconds :meth:`RedisReplayStore.from_url` waits to connect and for each reply."""


def _seconds(timeout: float) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout >= 0:
        raise UsageError(f"timeout must be a number of seconds >= 0, not {timeout!r}")
    return float(timeout)


@runtime_checkable
class ReplayStore(Protocol):
    """Atomic check-and-record of (signer, token, timestamp)."""

    def check_and_record(
        self,
        signer: str,
        token: bytes,
        timestamp: datetime,
        *,
        now: datetime,
        window: timedelta,
    ) -> None:
        """Raise :class:`ReplayError` if ``token`` was already accepted for ``signer``
        or ``timestamp`` is not greater than the newest timestamp accepted from
        ``signer`` within ``window``; otherwise record both. Entries older than the
        window are expired."""
        ...


class AsyncReplayStore(Protocol):
    """The :class:`ReplayStore` contract for asyncio: the same atomic check-and-record,
    awaited, so the event loop keeps running while the store answers."""

    async def check_and_record(
        self,
        signer: str,
        token: bytes,
        timestamp: datetime,
        *,
        now: datetime,
        window: timedelta,
    ) -> None:
        """As :meth:`ReplayStore.check_and_record`: raise :class:`ReplayError` for a
        replay, :class:`ReplayStoreError` when the store cannot answer; else record."""
        ...


def is_async_store(store: object) -> TypeGuard[AsyncReplayStore]:
    """True when ``store.check_and_record`` is a coroutine function (an
    :class:`AsyncReplayStore`). Both protocols name the same method, so ``isinstance`` with
    :class:`ReplayStore` cannot tell them apart: a synchronous caller handed an async store
    would get an un-awaited coroutine and record nothing."""
    return inspect.iscoroutinefunction(getattr(store, "check_and_record", None))


def _micros(dt: datetime, what: str) -> int:
    """Aware datetime -> integer microseconds since the Unix epoch (exact)."""
    delta = require_aware(dt, what) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _prepare(
    signer: str, token: bytes, timestamp: datetime, now: datetime, window: timedelta
) -> tuple[str, bytes, int, int, int]:
    """Normalize arguments: (bare signer, sha256(token), ts µs, now µs, expires µs)."""
    key = bare_jid(signer)
    if not isinstance(token, bytes | bytearray | memoryview):
        raise UsageError("token must be bytes")
    if not isinstance(window, timedelta) or window <= timedelta(0):
        raise UsageError("window must be a positive timedelta")
    ts = _micros(timestamp, "timestamp")
    n = _micros(now, "now")
    w = window // timedelta(microseconds=1)
    return key, hashlib.sha256(token).digest(), ts, n, max(ts, n) + w


class _Closable:
    """``with store:`` closes the store at the end (the stores that hold a connection)."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class MemoryReplayStore:
    """In-process replay store (one lock; bounded by expiry on every insert).

    For a single process. Use :class:`SQLiteReplayStore` when the state must survive
    a restart or be shared by several processes on one host.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # signer -> {sha256(token): expires_us}
        self._tokens: dict[str, dict[bytes, int]] = {}
        # signer -> (newest timestamp us, expires_us)
        self._last: dict[str, tuple[int, int]] = {}
        # min-heap of (expires_us, signer, token digest or b"" for the last-timestamp entry)
        self._expiry: list[tuple[int, str, bytes]] = []

    def __len__(self) -> int:
        """Number of live token entries (for tests and monitoring)."""
        with self._lock:
            return sum(len(v) for v in self._tokens.values())

    def _expire(self, now_us: int) -> None:
        heap = self._expiry
        while heap and heap[0][0] < now_us:
            expires, signer, digest = heapq.heappop(heap)
            if digest:
                tokens = self._tokens.get(signer)
                if tokens is not None and tokens.get(digest) == expires:
                    del tokens[digest]
                    if not tokens:
                        del self._tokens[signer]
            else:
                last = self._last.get(signer)
                if last is not None and last[1] == expires:
                    del self._last[signer]

    def check_and_record(
        self,
        signer: str,
        token: bytes,
        timestamp: datetime,
        *,
        now: datetime,
        window: timedelta,
    ) -> None:
        key, digest, ts, n, expires = _prepare(signer, token, timestamp, now, window)
        with self._lock:
            self._expire(n)
            tokens = self._tokens.get(key)
            if tokens is not None and digest in tokens:
                raise ReplayError(f"replayed signature from {key}")
            last = self._last.get(key)
            if last is not None and ts <= last[0]:
                raise ReplayError(f"timestamp from {key} is not greater than the last one accepted")
            self._tokens.setdefault(key, {})[digest] = expires
            heapq.heappush(self._expiry, (expires, key, digest))
            if last is None or expires >= last[1]:
                self._last[key] = (ts, expires)
            else:  # keep the longer-lived entry's expiry with the newer timestamp
                self._last[key] = (ts, last[1])
                expires = last[1]
            heapq.heappush(self._expiry, (expires, key, b""))


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS seen_tokens (
    signer       TEXT    NOT NULL,   -- normalized bare JID
    token_sha256 BLOB    NOT NULL,   -- SHA-256 of the token bytes
    timestamp_us INTEGER NOT NULL,   -- signed timestamp, µs since the Unix epoch (UTC)
    expires_us   INTEGER NOT NULL,   -- max(timestamp, seen-at) + window
    PRIMARY KEY (signer, token_sha256)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_tokens_expires ON seen_tokens (expires_us);
CREATE TABLE IF NOT EXISTS signer_last (
    signer       TEXT    PRIMARY KEY,
    timestamp_us INTEGER NOT NULL,   -- newest timestamp accepted from this signer
    expires_us   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS signer_last_expires ON signer_last (expires_us);
INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '1');
"""


class SQLiteReplayStore(_Closable):
    """Persistent replay store on one SQLite file (stdlib ``sqlite3``).

    * WAL journal, ``busy_timeout`` = ``timeout`` (5 s by default: how long a call waits
      for another writer's lock before it fails); each ``check_and_record`` is one
      ``BEGIN IMMEDIATE`` transaction (takes the write lock first, so the check and the
      insert are atomic across threads *and* processes sharing the file).
    * One connection per store, guarded by a lock (``check_same_thread=False``): safe to
      share between threads; calls are serialized, which SQLite's single writer does
      anyway.
    * ``durable=True`` sets ``synchronous=FULL`` (survives power loss); the default
      ``NORMAL`` survives a process crash, which is what replay protection needs most.
    * Expired rows (``expires_us < now``) are ignored by the checks and deleted in the
      same transaction.
    * Every SQLite failure (unopenable path, not a database, corrupt, locked past
      ``timeout``) raises :class:`~xmppsec.errors.ReplayStoreError`; using the store after
      :meth:`close` raises :class:`~xmppsec.errors.UsageError`.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, durable: bool = False, timeout: float = 5.0
    ) -> None:
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        timeout = _seconds(timeout)
        where = os.fspath(path)
        try:
            conn = sqlite3.connect(
                where, isolation_level=None, check_same_thread=False, timeout=timeout
            )
        except sqlite3.Error as exc:
            raise ReplayStoreError(f"cannot open replay store {where!r}: {exc}") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
            # One script in one write transaction: idempotent (IF NOT EXISTS), and safe
            # when several processes open the same file at once.
            conn.executescript(f"BEGIN IMMEDIATE;{_SCHEMA}COMMIT;")
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.Error as exc:
            conn.close()
            raise ReplayStoreError(f"cannot initialize replay store {where!r}: {exc}") from exc
        if row is None or row[0] != "1":
            conn.close()
            raise ReplayStoreError(
                f"unsupported replay store schema version in {where!r}: {row!r}"
            )
        self._conn = conn

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise UsageError("replay store is closed")
        return self._conn

    def check_and_record(
        self,
        signer: str,
        token: bytes,
        timestamp: datetime,
        *,
        now: datetime,
        window: timedelta,
    ) -> None:
        key, digest, ts, n, expires = _prepare(signer, token, timestamp, now, window)
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("DELETE FROM seen_tokens WHERE expires_us < ?", (n,))
                conn.execute("DELETE FROM signer_last WHERE expires_us < ?", (n,))
                if conn.execute(
                    "SELECT 1 FROM seen_tokens WHERE signer = ? AND token_sha256 = ?",
                    (key, digest),
                ).fetchone():
                    raise ReplayError(f"replayed signature from {key}")
                row = conn.execute(
                    "SELECT timestamp_us, expires_us FROM signer_last WHERE signer = ?", (key,)
                ).fetchone()
                if row is not None and ts <= row[0]:
                    raise ReplayError(
                        f"timestamp from {key} is not greater than the last one accepted"
                    )
                conn.execute(
                    "INSERT INTO seen_tokens (signer, token_sha256, timestamp_us, expires_us)"
                    " VALUES (?, ?, ?, ?)",
                    (key, digest, ts, expires),
                )
                conn.execute(
                    "INSERT INTO signer_last (signer, timestamp_us, expires_us) VALUES (?, ?, ?)"
                    " ON CONFLICT (signer) DO UPDATE SET timestamp_us = excluded.timestamp_us,"
                    " expires_us = max(expires_us, excluded.expires_us)",
                    (key, ts, expires),
                )
                conn.execute("COMMIT")
            except BaseException as exc:
                try:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass  # the first failure is the one to report; SQLite rolls back anyway
                if isinstance(exc, sqlite3.Error):
                    raise ReplayStoreError(f"replay store failure: {exc}") from exc
                raise

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


# The whole check-and-record for one (signer, token, timestamp), run atomically by Redis
# (a script runs without any other command interleaved). Values hold the caller's clock so
# that expiry follows ``now`` exactly as in the other stores; the PX expiry removes the keys
# physically once the window has passed (Redis' clock), so the keyspace stays bounded.
#   KEYS[1] token key   value: expires_us
#   KEYS[2] last key    value: "timestamp_us expires_us"
#   ARGV    timestamp_us, now_us, expires_us, ttl_ms (decimal strings)
#   returns 0 recorded, 1 token seen, 2 timestamp not greater
# Microsecond values (~1.8e15) are exact in Lua's doubles (< 2^53).
def _redis_keys(prefix: str, signer: str, digest: bytes) -> tuple[str, str]:
    """(token key, last-timestamp key) of a normalized signer and a token digest."""
    tag = hashlib.sha256(signer.encode("utf-8")).hexdigest()[:32]
    base = f"{prefix}{{{tag}}}"
    return f"{base}:t:{digest.hex()}", f"{base}:last"


def _redis_outcome(outcome: object, key: str) -> None:
    """Turn the Lua script's answer into ReplayError / ReplayStoreError (0: recorded)."""
    if outcome == 1:
        raise ReplayError(f"replayed signature from {key}")
    if outcome == 2:
        raise ReplayError(f"timestamp from {key} is not greater than the last one accepted")
    if outcome != 0:
        raise ReplayStoreError(f"replay store failure: unexpected script result {outcome!r}")


def _redis_call(
    prefix: str, signer: str, token: bytes, timestamp: datetime, now: datetime,
    window: timedelta,
) -> tuple[str, list[str], list[int]]:
    """(bare signer, the script's keys, its arguments) for one check-and-record: the one
    layout every Redis store (plain, cluster, asyncio) uses."""
    key, digest, ts, n, expires = _prepare(signer, token, timestamp, now, window)
    ttl_ms = max(1, -((n - expires) // 1000))  # ceil((expires - now) / 1 ms)
    return key, list(_redis_keys(prefix, key, digest)), [ts, n, expires, ttl_ms]


_REDIS_SCRIPT = """
local ts = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local exp_text = ARGV[3]
local ttl = tonumber(ARGV[4])
local seen = redis.call('GET', KEYS[1])
if seen and tonumber(seen) >= now then
  return 1
end
local last = redis.call('GET', KEYS[2])
local keep = ttl
if last then
  local sp = string.find(last, ' ', 1, true)
  local last_ts = tonumber(string.sub(last, 1, sp - 1))
  local last_exp_text = string.sub(last, sp + 1)
  local last_exp = tonumber(last_exp_text)
  if last_exp >= now then
    if ts <= last_ts then
      return 2
    end
    if last_exp > tonumber(exp_text) then
      exp_text = last_exp_text
      local left = redis.call('PTTL', KEYS[2])
      if left > keep then
        keep = left
      end
    end
  end
end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ttl)
redis.call('SET', KEYS[2], ARGV[1] .. ' ' .. exp_text, 'PX', keep)
return 0
"""


class RedisReplayStore:
    """Replay store on a Redis server, shared by every verifier that uses it.

    ``client`` is a ``redis.Redis`` (or ``redis.cluster.RedisCluster``) connection; the
    store does not close it. Each ``check_and_record`` is one ``EVALSHA`` of a Lua script
    (atomic on the server: two verifiers racing on the same stanza cannot both accept it).

    Keys, under ``prefix``: ``{<signer id>}:t:<sha256(token)>`` (one per accepted token)
    and ``{<signer id>}:last`` (the newest accepted timestamp), where the signer id is the
    SHA-256 of the normalized bare JID (fixed length, so no two signers' keys collide). The
    braces are a Redis Cluster hash tag: both keys of one signer live in one slot, which a
    script needs. Every key is written with ``PX`` = the entry's lifetime
    (``max(timestamp, now) + window - now``), so Redis deletes it when the window has
    passed: the store holds (accepted rate) x (window) keys at most.

    Redis failures (connection refused or lost, a timeout, an error reply) raise
    :class:`~xmppsec.errors.ReplayStoreError`: a verifier must refuse a stanza it cannot
    check for replay, never accept it. A client given here keeps its own socket timeouts
    and retries; :meth:`from_url` bounds them.
    """

    def __init__(self, client: redis.Redis, *, prefix: str = "xmppsec:replay:") -> None:
        self._client = client
        self._prefix = prefix
        self._script = client.register_script(_REDIS_SCRIPT)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = "xmppsec:replay:",
        timeout: float = DEFAULT_REDIS_TIMEOUT,
    ) -> RedisReplayStore:
        """Connect with ``redis.Redis.from_url`` (``redis://host:port/db``, ``rediss://``,
        ``unix://``). Connecting and each reply wait at most ``timeout`` seconds, without
        retries (the library's default retries a dead server for many seconds): a stopped
        or unreachable server fails the check with ReplayStoreError within about
        2 x ``timeout``. A malformed URL raises :class:`~xmppsec.errors.UsageError`."""
        import redis as _redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        seconds = _seconds(timeout)
        try:
            client = _redis.Redis.from_url(
                url,
                socket_timeout=seconds,
                socket_connect_timeout=seconds,
                retry=Retry(NoBackoff(), 0),
            )
        except ValueError as exc:
            raise UsageError(f"unusable Redis URL {url!r}: {exc}") from None
        return cls(client, prefix=prefix)

    def keys_for(self, signer: str, token: bytes) -> tuple[str, str]:
        """The (token key, last-timestamp key) a call for ``signer``/``token`` uses."""
        key = bare_jid(signer)
        return self._keys(key, hashlib.sha256(bytes(token)).digest())

    def _keys(self, signer: str, digest: bytes) -> tuple[str, str]:
        return _redis_keys(self._prefix, signer, digest)

    def check_and_record(
        self,
        signer: str,
        token: bytes,
        timestamp: datetime,
        *,
        now: datetime,
        window: timedelta,
    ) -> None:
        import redis as _redis
        from redis.exceptions import RedisClusterException

        key, keys, args = _redis_call(self._prefix, signer, token, timestamp, now, window)
        try:
            outcome = self._script(keys=keys, args=args)
        except (_redis.RedisError, RedisClusterException, OSError) as exc:
            # RedisClusterException is no RedisError; OSError: a socket error redis-py
            # did not wrap. Never an acceptance.
            raise ReplayStoreError(f"replay store failure: {type(exc).__name__}: {exc}") from exc
        _redis_outcome(outcome, key)


# -- asyncio ------------------------------------------------------------------------------


class AsyncSQLiteReplayStore:
    """A :class:`SQLiteReplayStore` for asyncio: every check runs in a worker thread
    (``asyncio.to_thread``), so the event loop never waits on SQLite's lock or disk.

    Same file format, atomicity and errors as :class:`SQLiteReplayStore` (the wrapped store
    serializes calls with its own lock; SQLite's ``BEGIN IMMEDIATE`` makes the check atomic
    across processes). Give a path, or an open ``SQLiteReplayStore`` to share it with
    synchronous code in the same process. The constructor opens the file synchronously
    (once, at start-up); every check after that runs in the worker thread.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | SQLiteReplayStore,
        *,
        durable: bool = False,
        timeout: float = 5.0,
    ) -> None:
        if isinstance(path, SQLiteReplayStore):
            self._store = path
        else:
            self._store = SQLiteReplayStore(path, durable=durable, timeout=timeout)

    @property
    def store(self) -> SQLiteReplayStore:
        """The synchronous store the checks run on."""
        return self._store

    async def check_and_record(
        self,
        signer: str,
        token: bytes,
        timestamp: datetime,
        *,
        now: datetime,
        window: timedelta,
    ) -> None:
        await asyncio.to_thread(
            self._store.check_and_record, signer, token, timestamp, now=now, window=window
        )

    async def aclose(self) -> None:
        """Close the SQLite connection (in the worker thread: it may wait for a lock)."""
        await asyncio.to_thread(self._store.close)


class AsyncRedisReplayStore:
    """:class:`RedisReplayStore` on ``redis.asyncio``: the same Lua script (one ``EVALSHA``,
    atomic on the server), the same keys and expiry, awaited.

    ``client`` is a ``redis.asyncio.Redis`` connection; the store closes it only when
    :meth:`from_url` made it. Redis failures raise :class:`ReplayStoreError`, never an
    acceptance.
    """

    def __init__(
        self, client: redis.asyncio.Redis, *, prefix: str = "xmppsec:replay:"
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._script = client.register_script(_REDIS_SCRIPT)
        self._owned = False

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = "xmppsec:replay:",
        timeout: float = DEFAULT_REDIS_TIMEOUT,
    ) -> AsyncRedisReplayStore:
        """As :meth:`RedisReplayStore.from_url` (bounded timeouts, no retries); nothing
        connects before the first check."""
        import redis.asyncio as _aredis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        seconds = _seconds(timeout)
        try:
            client = _aredis.Redis.from_url(
                url,
                socket_timeout=seconds,
                socket_connect_timeout=seconds,
                retry=Retry(NoBackoff(), 0),
            )
        except ValueError as exc:
            raise UsageError(f"unusable Redis URL {url!r}: {exc}") from None
        store = cls(client, prefix=prefix)
        store._owned = True
        return store

    def keys_for(self, signer: str, token: bytes) -> tuple[str, str]:
        """The (token key, last-timestamp key) a call for ``signer``/``token`` uses."""
        return _redis_keys(self._prefix, bare_jid(signer), hashlib.sha256(bytes(token)).digest())

    async def check_and_record(
        self,
        signer: str,
        token: bytes,
        timestamp: datetime,
        *,
        now: datetime,
        window: timedelta,
    ) -> None:
        import redis as _redis
        from redis.exceptions import RedisClusterException

        key, keys, args = _redis_call(self._prefix, signer, token, timestamp, now, window)
        try:
            outcome = await self._script(keys=keys, args=args)
        except (_redis.RedisError, RedisClusterException, OSError, TimeoutError) as exc:
            raise ReplayStoreError(f"replay store failure: {type(exc).__name__}: {exc}") from exc
        _redis_outcome(outcome, key)

    async def aclose(self) -> None:
        """Close the connection pool if :meth:`from_url` opened it."""
        if self._owned:
            await self._client.aclose()


# -- Redis Cluster ---------------------------------------------------------------------------

_SCRIPT_SHA = hashlib.sha1(_REDIS_SCRIPT.encode("utf-8"), usedforsecurity=False).hexdigest()


class RedisClusterReplayStore(_Closable):
    """Replay store on a Redis Cluster that loses no acknowledged record at a failover.

    Redis replicates asynchronously: a record acknowledged by a master that dies before its
    replica copied it is gone, and the promoted replica would accept the replay. So each
    ``check_and_record`` sends, on **one connection** to the master owning the signer's
    slot, the check-and-record script (as :class:`RedisReplayStore`) followed by
    ``WAIT <replicas> <replica_timeout ms>``, and acknowledges the stanza only when ``WAIT``
    reports that many replicas hold the write. ``WAIT`` counts the writes of its own
    connection, which is why the two commands cannot go through ``RedisCluster``'s
    per-command connection choice; the routing (the slot table, ``MOVED`` refreshing it,
    ``ASK`` followed with ``ASKING``, ``TRYAGAIN`` and ``CLUSTERDOWN`` retried) uses the
    ``RedisCluster`` client's own node manager.

    Every failure is a :class:`ReplayStoreError`, raised within ``timeout`` seconds
    (connect, send, the wait for replicas and retries included): a node that cannot be
    reached, no replica acknowledging in time (the stanza is then refused, though the
    master may keep the record: a re-sent copy is refused as a replay, never accepted
    twice), an unexpected reply. A command is retried only when it surely did not run
    (refused connection, a redirection, ``TRYAGAIN``, ``CLUSTERDOWN``).

    ``replicas`` should be the number of replicas per master (the failover elects one of
    them): 1 for the usual three masters and three replicas. ``replicas=0`` drops the
    guarantee (a record may be lost at a failover) and is meant for clusters without
    replicas only.

    The connection is made on first use (or by :meth:`connect`), so a store can be built
    before the cluster is up.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 6379,
        *,
        prefix: str = "xmppsec:replay:",
        timeout: float = 2.0,
        replica_timeout: float = 0.5,
        replicas: int = 1,
        client: RedisCluster | None = None,
    ) -> None:
        if not 0 < replica_timeout < timeout:
            raise UsageError("replica_timeout must be positive and less than timeout")
        if replicas < 0:
            raise UsageError("replicas must be 0 or more")
        self._host, self._port = host, port
        self._prefix = prefix
        self._timeout = timeout
        self._wait_ms = max(1, round(replica_timeout * 1000))
        self._replicas = replicas
        self._client = client
        self._lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **options: object) -> RedisClusterReplayStore:
        """``redis+cluster://host:port`` (any node of the cluster; the rest is discovered)."""
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        if parts.scheme != "redis+cluster" or not parts.hostname:
            raise UsageError(f"not a redis+cluster://host:port URL: {url!r}")
        try:
            port = parts.port or 6379
        except ValueError:
            raise UsageError(f"bad port in {url!r}") from None
        return cls(parts.hostname, port, **options)  # type: ignore[arg-type]

    def connect(self) -> RedisCluster:
        """The ``RedisCluster`` client (discovers the slot table on first call)."""
        with self._lock:
            if self._client is None:
                from redis.backoff import NoBackoff
                from redis.cluster import RedisCluster
                from redis.exceptions import RedisClusterException, RedisError
                from redis.retry import Retry

                try:
                    self._client = RedisCluster(
                        host=self._host,
                        port=self._port,
                        socket_timeout=self._timeout,
                        socket_connect_timeout=self._timeout,
                        retry=Retry(NoBackoff(), 0),
                        require_full_coverage=False,
                    )
                except (RedisError, RedisClusterException, OSError) as exc:
                    raise ReplayStoreError(
                        f"replay store failure: cannot reach the cluster at "
                        f"{self._host}:{self._port}: {exc}"
                    ) from exc
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def keys_for(self, signer: str, token: bytes) -> tuple[str, str]:
        """The (token key, last-timestamp key) a call for ``signer``/``token`` uses: the
        layout of :class:`RedisReplayStore`, both in the signer's hash slot."""
        tag = hashlib.sha256(bare_jid(signer).encode("utf-8")).hexdigest()[:32]
        base = f"{self._prefix}{{{tag}}}"
        return f"{base}:t:{hashlib.sha256(bytes(token)).hexdigest()}", f"{base}:last"

    def check_and_record(
        self,
        signer: str,
        token: bytes,
        timestamp: datetime,
        *,
        now: datetime,
        window: timedelta,
    ) -> None:
        key, keys, args = _redis_call(self._prefix, signer, token, timestamp, now, window)
        deadline = time.monotonic() + self._timeout
        _redis_outcome(self._run((keys[0], keys[1]), tuple(args), deadline), key)

    def _run(self, keys: tuple[str, str], args: tuple[int, ...], deadline: float) -> int:
        """Script + WAIT on the slot owner; retried only while the script surely did not
        run, until ``deadline``."""
        from redis.exceptions import (
            AskError,
            ClusterDownError,
            MovedError,
            NoScriptError,
            RedisClusterException,
            RedisError,
            TryAgainError,
        )
        from redis.exceptions import ConnectionError as RedisConnectionError

        client: Any = self.connect()  # redis-py's cluster internals are untyped
        script: tuple[object, ...] = ("EVALSHA", _SCRIPT_SHA, 2, *keys, *args)
        ask: tuple[str, int] | None = None
        last: BaseException | None = None
        while True:
            if time.monotonic() >= deadline:
                raise ReplayStoreError(f"replay store failure: no answer in time ({last})")
            conn: Any = None
            pool: Any = None
            sent = False
            try:
                if ask is not None:
                    node = client.get_node(host=ask[0], port=ask[1])
                    if node is None:
                        client.nodes_manager.initialize()
                        node = client.get_node(host=ask[0], port=ask[1])
                        if node is None:
                            raise RedisClusterException(f"unknown node {ask[0]}:{ask[1]}")
                else:
                    node = client.get_node_from_key(keys[0])
                pool = client.get_redis_connection(node).connection_pool
                conn = pool.get_connection()  # connects (socket timeouts: ``timeout``)
                sent = True
                outcome, acks = self._exchange(conn, script, ask is not None, deadline)
            except NoScriptError as exc:
                last = exc
                script = ("EVAL", _REDIS_SCRIPT, 2, *keys, *args)  # not cached there yet
                continue
            except MovedError as exc:
                last, ask = exc, None
                client.nodes_manager.move_slot(exc)
                continue
            except AskError as exc:
                last, ask = exc, (exc.host, exc.port)
                continue
            except (TryAgainError, ClusterDownError) as exc:
                last, ask = exc, None
                time.sleep(0.05)
                self._refresh(client)
                continue
            except (RedisConnectionError, OSError, RedisClusterException) as exc:
                # TimeoutError included. Once the commands were sent the script may have
                # run: refuse without retrying (a retry could report a false replay).
                if conn is not None:
                    conn.disconnect()
                if sent:
                    raise ReplayStoreError(f"replay store failure: {exc}") from exc
                last, ask = exc, None
                time.sleep(0.05)
                self._refresh(client)
                continue
            except RedisError as exc:
                raise ReplayStoreError(f"replay store failure: {exc}") from exc
            finally:
                if conn is not None and pool is not None:
                    pool.release(conn)
            if not isinstance(outcome, int) or outcome not in (0, 1, 2):
                raise ReplayStoreError(f"replay store failure: unexpected reply {outcome!r}")
            if outcome == 0 and (not isinstance(acks, int) or acks < self._replicas):
                # Refuse rather than acknowledge a record no replica holds (WAIT timed out).
                raise ReplayStoreError(
                    f"replay store failure: {acks} of {self._replicas} replica(s) acknowledged"
                    f" the record within {self._wait_ms} ms"
                )
            return outcome

    def _exchange(
        self, conn: Any, script: tuple[object, ...], asking: bool, deadline: float
    ) -> tuple[object, object]:
        """Send [ASKING,] the script and WAIT in one write on one connection; read the
        replies, each read ending by ``deadline``. A ResponseError reply to the script
        (MOVED, NOSCRIPT, ...) is raised after WAIT's reply has been read."""
        from redis.exceptions import ResponseError

        commands: list[tuple[object, ...]] = [script, ("WAIT", self._replicas, self._wait_ms)]
        if asking:
            commands.insert(0, ("ASKING",))
        conn.send_packed_command(conn.pack_commands(commands), check_health=False)

        def read() -> object:
            return conn.read_response(timeout=max(0.01, deadline - time.monotonic()))

        if asking:
            read()  # +OK
        error: ResponseError | None = None
        outcome: object = None
        try:
            outcome = read()
        except ResponseError as exc:
            error = exc
        try:
            acks = read()
        except ResponseError:
            if error is None:
                raise
            acks = None  # e.g. WAIT on a replica that answered MOVED to the script
        if error is not None:
            raise error
        return outcome, acks

    @staticmethod
    def _refresh(client: RedisCluster) -> None:
        """Re-read the slot table from any reachable node (a failed refresh is retried by
        the caller's loop until its deadline)."""
        from redis.exceptions import RedisClusterException, RedisError

        try:
            client.nodes_manager.initialize()
        except (RedisError, RedisClusterException, OSError):
            pass


def redis_store_from_url(url: str) -> ReplayStore:
    """A Redis replay store from a URL: ``redis+cluster://host:port`` (a Redis Cluster:
    :class:`RedisClusterReplayStore`), ``redis://``, ``rediss://`` or ``unix://`` (one
    server: :class:`RedisReplayStore`). Needs the ``redis`` extra."""
    if url.startswith("redis+cluster://"):
        return RedisClusterReplayStore.from_url(url)
    return RedisReplayStore.from_url(url)
