"""xmppsec.replay: in-memory and SQLite replay stores (security case 30)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from xmppsec.errors import JIDError, ReplayError, TimestampError
from xmppsec.replay import MemoryReplayStore, ReplayStore, SQLiteReplayStore

T0 = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
W = timedelta(minutes=5)
MS = timedelta(milliseconds=1)
JULIET = "juliet@capulet.net"


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ReplayStore]:
    if request.param == "memory":
        yield MemoryReplayStore()
    else:
        s = SQLiteReplayStore(tmp_path / "replay.sqlite3")
        yield s
        s.close()


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
    with pytest.raises(RuntimeError):
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
    with pytest.raises(OSError):
        SQLiteReplayStore(bad)
    with pytest.raises(OSError):
        SQLiteReplayStore(tmp_path / "missing-dir" / "x.sqlite3")


def test_bad_arguments(store: ReplayStore) -> None:
    with pytest.raises(TimestampError):
        store.check_and_record(JULIET, b"a", datetime(2026, 1, 1), now=T0, window=W)
    with pytest.raises(TimestampError):
        store.check_and_record(JULIET, b"a", T0, now=datetime(2026, 1, 1), window=W)


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
