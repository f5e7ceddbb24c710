"""xmppsec.replay: in-memory, SQLite and Redis replay stores (security case 30).

The contract tests run against all three. The Redis ones start a real ``redis-server`` on
127.0.0.1 (free port, temporary directory, no persistence) and stop it afterwards; a
missing binary skips them, or fails them under ``CI=true``. The failure tests use the real
things too: an unopenable, corrupt or locked SQLite file, a closed loopback port, and a
redis-server terminated or frozen (SIGSTOP) in the middle of use.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import redis
from cryptography.hazmat.primitives.serialization import Encoding

from xmppsec.dsig import Verifier
from xmppsec.errors import JIDError, ReplayError, ReplayStoreError, UsageError
from xmppsec.replay import (
    DEFAULT_REDIS_TIMEOUT,
    MemoryReplayStore,
    RedisReplayStore,
    ReplayStore,
    SQLiteReplayStore,
)
from xmppsec.trust import TrustStore

if TYPE_CHECKING:
    from tests.conftest import NOW, identity, make_signer, require_program
else:
    from conftest import NOW, identity, make_signer, require_program

T0 = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
W = timedelta(minutes=5)
MS = timedelta(milliseconds=1)
JULIET = "juliet@capulet.net"


# -- a real redis-server ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _redis_server(workdir: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A redis-server on 127.0.0.1 (its process and URL), stopped on exit."""
    binary = require_program("redis-server")
    port = _free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(workdir),
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode() if proc.stderr else ""
                    pytest.fail(f"redis-server did not start: {err}", pytrace=False)
                time.sleep(0.05)
        yield proc, url
    finally:
        client.close()
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)  # a test may have frozen it
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``redis://127.0.0.1:<port>/0`` of a redis-server started for this module."""
    with _redis_server(tmp_path_factory.mktemp("redis")) as (_, url):
        yield url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ReplayStore]:
    if request.param == "memory":
        yield MemoryReplayStore()
    elif request.param == "sqlite":
        s = SQLiteReplayStore(tmp_path / "replay.sqlite3")
        yield s
        s.close()
    else:
        yield RedisReplayStore(request.getfixturevalue("redis_client"))


def test_protocol(store: ReplayStore) -> None:
    assert isinstance(store, ReplayStore)


def test_same_token_rejected(store: ReplayStore) -> None:
    store.check_and_record(JULIET, b"sig-1", T0, now=T0, window=W)
    with pytest.raises(ReplayError, match="replayed"):
        store.check_and_record(JULIET, b"sig-1", T0 + MS, now=T0 + MS, window=W)
    # identical delivery (same token, same timestamp) too
    with pytest.raises(ReplayError):
        store.check_and_record(JULIET, b"sig-1", T0, now=T0 + 2 * MS, window=W)


def test_token_is_per_signer_and_signer_normalized(store: ReplayStore) -> None:
    store.check_and_record(JULIET, b"sig-1", T0, now=T0, window=W)
    store.check_and_record("romeo@montague.net", b"sig-1", T0, now=T0, window=W)
    # the same signer spelled differently (case, resource) is the same signer
    with pytest.raises(ReplayError):
        store.check_and_record("Juliet@Capulet.NET/balcony", b"sig-1", T0 + MS, now=T0, window=W)
    with pytest.raises(JIDError):
        store.check_and_record("@capulet.net", b"sig-2", T0, now=T0, window=W)


def test_timestamp_must_increase(store: ReplayStore) -> None:
    store.check_and_record(JULIET, b"a", T0, now=T0, window=W)
    with pytest.raises(ReplayError, match="not greater"):
        store.check_and_record(JULIET, b"b", T0, now=T0, window=W)  # equal
    with pytest.raises(ReplayError, match="not greater"):
        store.check_and_record(JULIET, b"c", T0 - MS, now=T0, window=W)  # lower
    store.check_and_record(JULIET, b"d", T0 + MS, now=T0, window=W)
    # rejected attempts recorded nothing: "b" is still new once the timestamp is right
    store.check_and_record(JULIET, b"b", T0 + 2 * MS, now=T0, window=W)


def test_expiry(store: ReplayStore) -> None:
    store.check_and_record(JULIET, b"old", T0, now=T0, window=W)
    # exactly at the end of the window the entry is still live
    with pytest.raises(ReplayError):
        store.check_and_record(JULIET, b"old", T0 + W, now=T0 + W, window=W)
    later = T0 + W + MS
    # after the window: the token and the last timestamp are forgotten
    # (a real verifier rejects such a stanza earlier, in check_window)
    store.check_and_record(JULIET, b"old", T0 - W, now=later, window=W)


def test_expiry_uses_the_later_of_timestamp_and_now(store: ReplayStore) -> None:
    # a timestamp 4 minutes ahead keeps its entry 4 minutes longer than "now + window"
    ahead = T0 + timedelta(minutes=4)
    store.check_and_record(JULIET, b"fut", ahead, now=T0, window=W)
    with pytest.raises(ReplayError):
        store.check_and_record(JULIET, b"fut", ahead, now=T0 + W + timedelta(minutes=3), window=W)


def test_memory_store_is_bounded() -> None:
    s = MemoryReplayStore()
    for i in range(500):
        t = T0 + i * MS
        s.check_and_record(f"u{i % 7}@example.com", b"tok%d" % i, t, now=t, window=W)
    assert len(s) == 500
    late = T0 + 2 * W
    s.check_and_record(JULIET, b"x", late, now=late, window=W)
    assert len(s) == 1
    assert len(s._last) == 1
    assert len(s._expiry) == 2


def test_sqlite_rows_purged(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    with SQLiteReplayStore(path) as s:
        for i in range(50):
            t = T0 + i * MS
            s.check_and_record(f"u{i % 5}@example.com", b"tok%d" % i, t, now=t, window=W)
        late = T0 + 2 * W
        s.check_and_record(JULIET, b"x", late, now=late, window=W)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT count(*) FROM seen_tokens").fetchone() == (1,)
        assert conn.execute("SELECT signer FROM signer_last").fetchall() == [(JULIET,)]
        token = conn.execute("SELECT token_sha256 FROM seen_tokens").fetchone()[0]
        assert len(token) == 32 and token != b"x"  # stored as SHA-256, not the token
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        conn.close()


def test_sqlite_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "replay.sqlite3"
    s = SQLiteReplayStore(path)
    s.check_and_record(JULIET, b"sig-1", T0, now=T0, window=W)
    s.close()
    with pytest.raises(UsageError, match="closed"):  # the caller's mistake
        s.check_and_record(JULIET, b"sig-2", T0 + MS, now=T0, window=W)
    with SQLiteReplayStore(path) as again:
        with pytest.raises(ReplayError, match="replayed"):
            again.check_and_record(JULIET, b"sig-1", T0 + MS, now=T0 + MS, window=W)
        with pytest.raises(ReplayError, match="not greater"):
            again.check_and_record(JULIET, b"sig-3", T0, now=T0 + MS, window=W)
        again.check_and_record(JULIET, b"sig-3", T0 + MS, now=T0 + MS, window=W)


def test_sqlite_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "not-a-db"
    bad.write_bytes(b"this is not an SQLite database, just some bytes" * 100)
    with pytest.raises(ReplayStoreError, match="not a database"):
        SQLiteReplayStore(bad)
    with pytest.raises(ReplayStoreError, match="unable to open"):
        SQLiteReplayStore(tmp_path / "missing-dir" / "x.sqlite3")


def test_sqlite_unwritable_path(tmp_path: Path) -> None:
    """Paths SQLite cannot create a database at, even as root: a directory, a path under a
    regular file, and a read-only file system (procfs)."""
    (tmp_path / "plain").write_bytes(b"")
    for where in (tmp_path, tmp_path / "plain" / "x.sqlite3", Path("/proc/xmppsec.sqlite3")):
        with pytest.raises(ReplayStoreError, match="unable to open"):
            SQLiteReplayStore(where)


def test_sqlite_corrupt_database(tmp_path: Path) -> None:
    """A real store file whose pages after the first are overwritten: SQLite reports the
    image malformed, the store a ReplayStoreError (never an acceptance)."""
    path = tmp_path / "replay.sqlite3"
    with SQLiteReplayStore(path) as s:
        for i in range(50):
            s.check_and_record(JULIET, b"sig-%d" % i, T0 + i * MS, now=T0, window=W)
    data = bytearray(path.read_bytes())
    assert len(data) > 4096  # several pages (SQLite's default page size is 4096)
    data[4096:] = b"\xa5" * (len(data) - 4096)
    path.write_bytes(bytes(data))
    with pytest.raises(ReplayStoreError, match="malformed"):
        SQLiteReplayStore(path)


def test_sqlite_locked_database(tmp_path: Path) -> None:
    """Another writer holds the lock past the store's timeout: ReplayStoreError after about
    the timeout, and the stanza is not recorded."""
    path = tmp_path / "replay.sqlite3"
    with SQLiteReplayStore(path, timeout=0.2) as s:
        s.check_and_record(JULIET, b"sig-1", T0, now=T0, window=W)
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN EXCLUSIVE")
            start = time.monotonic()
            with pytest.raises(ReplayStoreError, match="locked"):
                s.check_and_record(JULIET, b"sig-2", T0 + MS, now=T0, window=W)
            assert time.monotonic() - start < 5  # the 0.2 s timeout, not the 5 s default
            other.execute("ROLLBACK")
        finally:
            other.close()
        # the lock is gone: the store works again, and sig-2 was not recorded
        s.check_and_record(JULIET, b"sig-2", T0 + MS, now=T0, window=W)
    with pytest.raises(UsageError):
        SQLiteReplayStore(path, timeout=-1)


def test_bad_arguments(store: ReplayStore) -> None:
    """The caller's mistakes are UsageError (a ValueError), not a peer-input error."""
    with pytest.raises(UsageError):
        store.check_and_record(JULIET, b"a", datetime(2026, 1, 1), now=T0, window=W)
    with pytest.raises(UsageError):
        store.check_and_record(JULIET, b"a", T0, now=datetime(2026, 1, 1), window=W)
    with pytest.raises(UsageError):
        store.check_and_record(JULIET, "a", T0, now=T0, window=W)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        store.check_and_record(JULIET, b"a", T0, now=T0, window=timedelta(0))


def _race(factories: list[Callable[[], ReplayStore]], n_threads: int) -> int:
    """n threads deliver the same signed stanza at once; return how many were accepted."""
    stores = [f() for f in factories]
    barrier = threading.Barrier(n_threads)
    accepted: list[int] = []

    def run(i: int) -> None:
        s = stores[i % len(stores)]
        barrier.wait()
        try:
            s.check_and_record(JULIET, b"same", T0, now=T0, window=W)
            accepted.append(i)
        except ReplayError:
            pass

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        if isinstance(s, SQLiteReplayStore):
            s.close()
    return len(accepted)


def test_race_memory() -> None:
    s = MemoryReplayStore()
    assert _race([lambda: s], 8) == 1


def test_race_sqlite_two_connections(tmp_path: Path) -> None:
    """Two stores on one file (as two processes would have): exactly one acceptance."""
    path = tmp_path / "shared.sqlite3"
    assert _race([lambda: SQLiteReplayStore(path), lambda: SQLiteReplayStore(path)], 8) == 1


def test_sqlite_memory_path() -> None:
    with SQLiteReplayStore(":memory:") as s:
        s.check_and_record(JULIET, b"a", T0, now=T0, window=W)
        with pytest.raises(ReplayError):
            s.check_and_record(JULIET, b"a", T0 + MS, now=T0, window=W)


def test_sqlite_replay_across_processes(tmp_path: Path) -> None:
    """A signature recorded by another (finished) process is refused after a restart."""
    path = tmp_path / "replay.sqlite3"
    child = (
        "import sys, datetime as d\n"
        "from xmppsec.replay import SQLiteReplayStore\n"
        "t = d.datetime(2026, 11, 22, 12, 0, tzinfo=d.UTC)\n"
        "with SQLiteReplayStore(sys.argv[1]) as s:\n"
        "    s.check_and_record('juliet@capulet.net', b'sig-1', t, now=t,"
        " window=d.timedelta(minutes=5))\n"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).resolve().parents[1] / d) for d in ("runtime", "generated", "codegen")]
        + [env.get("PYTHONPATH", "")]
    )
    subprocess.run([sys.executable, "-c", child, str(path)], check=True, env=env, timeout=60)
    with SQLiteReplayStore(path) as s:
        with pytest.raises(ReplayError, match="replayed"):
            s.check_and_record(JULIET, b"sig-1", T0 + MS, now=T0 + MS, window=W)


# -- Redis ------------------------------------------------------------------------------


def test_redis_race_two_clients(redis_url: str, redis_client: redis.Redis) -> None:
    """Two connections (as two verifiers would have): exactly one acceptance."""
    assert _race([lambda: RedisReplayStore.from_url(redis_url)] * 2, 8) == 1


def test_redis_keys_have_the_window_as_ttl(redis_client: redis.Redis) -> None:
    s = RedisReplayStore(redis_client)
    s.check_and_record(JULIET, b"sig-1", T0, now=T0, window=W)
    token_key, last_key = s.keys_for("Juliet@capulet.net/balcony", b"sig-1")
    assert sorted(redis_client.keys("*")) == sorted([token_key.encode(), last_key.encode()])
    for key in (token_key, last_key):
        assert W.total_seconds() * 1000 - 5000 < redis_client.pttl(key) <= W.total_seconds() * 1000
    # a timestamp 4 minutes ahead lives 4 minutes longer
    ahead = T0 + timedelta(minutes=4)
    s.check_and_record(JULIET, b"sig-2", ahead, now=T0, window=W)
    key2, _ = s.keys_for(JULIET, b"sig-2")
    assert redis_client.pttl(key2) > (W + timedelta(minutes=3)).total_seconds() * 1000
    assert redis_client.pttl(last_key) > (W + timedelta(minutes=3)).total_seconds() * 1000
    # the token is stored as SHA-256, never in clear
    assert not any(b"sig-1" in k for k in redis_client.keys("*"))


def test_redis_store_empties_after_the_window(redis_client: redis.Redis) -> None:
    """Expiry follows the window: with a 2 s window, every key is gone 2 s later."""
    s = RedisReplayStore(redis_client, prefix="bounded:")
    window = timedelta(seconds=2)
    start = datetime.now(UTC)
    for i in range(200):
        t = start + i * MS
        s.check_and_record(f"u{i % 10}@example.com", b"tok%d" % i, t, now=start, window=window)
    assert redis_client.dbsize() == 200 + 10  # one key per token, one per signer
    assert all(0 < redis_client.pttl(k) <= 2200 for k in redis_client.keys("bounded:*"))
    deadline = time.monotonic() + 10
    time.sleep(2.3)
    while redis_client.dbsize() and time.monotonic() < deadline:
        time.sleep(0.1)  # Redis' active expiry samples keys ~10 times a second
    assert redis_client.dbsize() == 0


def test_redis_unreachable_is_an_error_not_an_acceptance() -> None:
    """A closed loopback port (just bound, then closed): ReplayStoreError, and a verifier
    using the store reports the stanza not valid instead of accepting it."""
    s = RedisReplayStore.from_url(f"redis://127.0.0.1:{_free_port()}/0")
    with pytest.raises(ReplayStoreError, match="replay store failure"):
        s.check_and_record(JULIET, b"sig-1", T0, now=T0, window=W)
    signer = make_signer()
    verifier = Verifier(TrustStore().pin(JULIET, identity(JULIET).certificate), replay=s)
    result = verifier.check(signer.sign(_message(0)), now=NOW)
    assert not result.valid and isinstance(result.error, ReplayStoreError)


def test_redis_bad_url_and_timeout() -> None:
    assert 0 < DEFAULT_REDIS_TIMEOUT <= 2
    with pytest.raises(UsageError):
        RedisReplayStore.from_url("http://127.0.0.1/0")
    with pytest.raises(UsageError):
        RedisReplayStore.from_url("redis://127.0.0.1:6379/0", timeout=-1)


def test_redis_server_terminated_mid_use(tmp_path: Path) -> None:
    with _redis_server(tmp_path) as (proc, url):
        s = RedisReplayStore.from_url(url)
        s.check_and_record(JULIET, b"sig-1", T0, now=T0, window=W)
        proc.terminate()
        proc.wait(timeout=10)
        with pytest.raises(ReplayStoreError, match="replay store failure"):
            s.check_and_record(JULIET, b"sig-2", T0 + MS, now=T0, window=W)


def test_redis_server_frozen_mid_use_times_out(tmp_path: Path) -> None:
    """A redis-server stopped with SIGSTOP still accepts the bytes (the kernel does) but
    never answers: the call fails with ReplayStoreError after the default timeout instead
    of hanging the verifier."""
    with _redis_server(tmp_path) as (proc, url):
        s = RedisReplayStore.from_url(url)  # the default timeout
        s.check_and_record(JULIET, b"sig-1", T0, now=T0, window=W)
        outcome: list[BaseException | None] = []

        def call() -> None:
            try:
                s.check_and_record(JULIET, b"sig-2", T0 + MS, now=T0, window=W)
                outcome.append(None)
            except BaseException as exc:  # noqa: BLE001  # handed to the test thread
                outcome.append(exc)

        os.kill(proc.pid, signal.SIGSTOP)
        try:
            start = time.monotonic()
            worker = threading.Thread(target=call, daemon=True)
            worker.start()
            worker.join(2 * DEFAULT_REDIS_TIMEOUT + 3)
            elapsed = time.monotonic() - start
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        worker.join(120)
        assert not worker.is_alive()
        assert elapsed < 2 * DEFAULT_REDIS_TIMEOUT + 3, f"hung for {elapsed:.1f} s"
        assert len(outcome) == 1 and isinstance(outcome[0], ReplayStoreError), outcome
        assert elapsed >= DEFAULT_REDIS_TIMEOUT * 0.9  # it did wait for the server


# -- verifier processes sharing a store ---------------------------------------------------

_VERIFIER = r"""
import datetime as d, sys
from cryptography import x509
from xmppsec.dsig import Verifier
from xmppsec.replay import RedisReplayStore, SQLiteReplayStore
from xmppsec.trust import TrustStore
where, cert, now = sys.argv[1], sys.argv[2], d.datetime.fromisoformat(sys.argv[3])
store = (RedisReplayStore.from_url(where) if where.startswith("redis://")
         else SQLiteReplayStore(where))
trust = TrustStore().pin("juliet@capulet.net", x509.load_pem_x509_certificate(open(cert, "rb").read()))
v = Verifier(trust, replay=store, clock=lambda: now)
sys.stdout.write("ready\n"); sys.stdout.flush()
for path in sys.stdin.read().split():
    r = v.check(open(path, "rb").read())
    print(path, "valid" if r.valid else type(r.error).__name__, flush=True)
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).resolve().parents[1] / d) for d in ("runtime", "generated", "codegen")]
        + [env.get("PYTHONPATH", "")]
    )
    return env


def _start_verifier(where: str, cert: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _VERIFIER, where, str(cert), NOW.isoformat()],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"  # imports done, store connected
    return proc


def _verdicts(proc: subprocess.Popen[str], *paths: Path) -> list[str]:
    out, _ = proc.communicate(" ".join(map(str, paths)), timeout=120)
    assert proc.returncode == 0
    return [line.split()[1] for line in out.splitlines()]


def _signed_files(tmp_path: Path, n: int) -> tuple[Path, list[Path]]:
    cert = tmp_path / "juliet.pem"
    cert.write_bytes(identity(JULIET).certificate.public_bytes(Encoding.PEM))
    signer = make_signer()  # one clock: the n stanzas carry NOW, NOW + 1 ms, ...
    paths = []
    for i in range(n):
        p = tmp_path / f"s{i}.xml"
        p.write_bytes(signer.sign(_message(i)))
        paths.append(p)
    return cert, paths


def _message(i: int) -> bytes:
    return (
        b"<message xmlns='jabber:client' from='juliet@capulet.net/balcony' to='romeo@montague.net'"
        b" type='chat' id='m%d'><body>message %d</body></message>" % (i, i)
    )


def test_two_verifier_processes_share_redis(
    tmp_path: Path, redis_url: str, redis_client: redis.Redis
) -> None:
    """A stanza accepted by verifier process A is a replay at verifier process B; two
    processes racing on one stanza accept it once."""
    cert, (s0, s1, s2) = _signed_files(tmp_path, 3)
    a = _start_verifier(redis_url, cert)
    assert _verdicts(a, s0, s1) == ["valid", "valid"]
    b = _start_verifier(redis_url, cert)
    assert _verdicts(b, s1, s0) == ["ReplayError", "ReplayError"]
    # the race: both processes connected and waiting, the same stanza to each at once
    a, b = _start_verifier(redis_url, cert), _start_verifier(redis_url, cert)
    results = []
    threads = [
        threading.Thread(target=lambda p=p: results.extend(_verdicts(p, s2))) for p in (a, b)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["ReplayError", "valid"]


def test_sqlite_verifier_restart_rejects_replay(tmp_path: Path) -> None:
    """A verifier process accepts a stanza; after it exits, a new verifier process on the
    same SQLite file refuses the same stanza."""
    cert, (s0,) = _signed_files(tmp_path, 1)
    db = str(tmp_path / "replay.sqlite3")
    assert _verdicts(_start_verifier(db, cert), s0) == ["valid"]
    assert _verdicts(_start_verifier(db, cert), s0) == ["ReplayError"]


def test_cli_verify_with_a_redis_replay_store(redis_url: str, tmp_path: Path) -> None:
    """`xmppsec verify --replay-db redis://…`: a second verification of the same stanza (as
    another node of a cluster would do) is refused; an unreachable Redis is exit 2."""
    import subprocess
    import sys

    from xmppsec.dsig import SPEC, Signer
    from xmppsec.keys import generate_identity, write_identity

    ident = generate_identity("juliet@capulet.net")
    _, cert = write_identity(ident, tmp_path)
    signed = Signer(
        ident.private_key,
        signer="juliet@capulet.net",
        certificate=ident.certificate,
        profile=SPEC,
    ).sign(
        b"<message xmlns='jabber:client' from='juliet@capulet.net/b' to='romeo@montague.net' "
        b"id='cli-redis'><body>once</body></message>"
    )

    def verify(url: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "xmppsec.cli",
                "verify",
                "--trust",
                str(cert),
                "--replay-db",
                url,
            ],
            input=signed,
            capture_output=True,
            timeout=60,
            check=False,
        )

    first, second = verify(redis_url), verify(redis_url)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 1 and b"ReplayError" in second.stderr
    down = verify("redis://127.0.0.1:1/0")
    assert down.returncode != 0 and b"replay store" in down.stderr
