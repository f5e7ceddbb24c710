"""RedisClusterReplayStore against a real Redis Cluster (three masters, three replicas of
Debian's redis-server on loopback, started and stopped here), with faults: a master killed
mid-stream and a replica promoted, a lost write made observable, redirections, unreachable
nodes. A missing redis-server skips, or fails under ``CI=true``.

The fault tests leave the cluster healthy again (the killed node restarted as a replica), so
the module shares one cluster; every test uses its own key prefix.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from redis.crc import key_slot

from tests.harness.redis_cluster import RedisClusterHarness
from xmppsec.dsig import Verifier
from xmppsec.errors import ReplayError, ReplayStoreError, UsageError
from xmppsec.replay import (
    RedisClusterReplayStore,
    RedisReplayStore,
    redis_store_from_url,
)
from xmppsec.trust import TrustStore

if TYPE_CHECKING:
    from tests.conftest import NOW, identity, make_signer, require_program
else:
    from conftest import NOW, identity, make_signer, require_program

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
W = timedelta(minutes=5)
MS = timedelta(milliseconds=1)
JULIET = "juliet@capulet.net"
FIGURES: dict[str, object] = {}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterHarness]:
    server, cli = require_program("redis-server"), require_program("redis-cli")
    with RedisClusterHarness(server, cli, tmp_path_factory.mktemp("cluster")) as h:
        yield h


def _store(cluster: RedisClusterHarness, **options: object) -> RedisClusterReplayStore:
    prefix = str(options.pop("prefix", f"t{uuid.uuid4().hex[:8]}:"))
    # Generous unless a test sets them: on a loaded machine a replica's first acknowledgement
    # can take longer than the store's 0.5 s default (the tests that need a refusal set theirs).
    options.setdefault("timeout", 4.0)
    options.setdefault("replica_timeout", 2.0)
    return RedisClusterReplayStore.from_url(cluster.url, prefix=prefix, **options)


def _slot(store: RedisClusterReplayStore, signer: str = JULIET) -> int:
    return int(key_slot(store.keys_for(signer, b"x")[0].encode()))


def _message(i: int) -> bytes:
    return (
        b"<message xmlns='jabber:client' from='juliet@capulet.net/balcony' to='romeo@montague.net'"
        b" type='chat' id='c%d'><body>cluster message %d</body></message>" % (i, i)
    )


# -- the contract, on the cluster ---------------------------------------------------------


def test_url_selects_the_cluster_store(cluster: RedisClusterHarness) -> None:
    assert isinstance(redis_store_from_url(cluster.url), RedisClusterReplayStore)
    assert isinstance(redis_store_from_url("redis://127.0.0.1:1/0"), RedisReplayStore)
    with pytest.raises(UsageError):
        RedisClusterReplayStore.from_url("redis+cluster://")
    with pytest.raises(UsageError):
        RedisClusterReplayStore(timeout=1.0, replica_timeout=1.0)


def test_contract_on_the_cluster(cluster: RedisClusterHarness) -> None:
    s = _store(cluster)
    s.check_and_record(JULIET, b"sig-1", T0, now=T0, window=W)
    with pytest.raises(ReplayError, match="replayed"):
        s.check_and_record(JULIET, b"sig-1", T0 + MS, now=T0 + MS, window=W)
    with pytest.raises(ReplayError, match="not greater"):
        s.check_and_record(JULIET, b"sig-2", T0, now=T0, window=W)
    s.check_and_record("Juliet@Capulet.NET/balcony", b"sig-3", T0 + 2 * MS, now=T0, window=W)
    # keys of one signer share a hash slot (the script needs both in one slot)
    token_key, last_key = s.keys_for(JULIET, b"sig-1")
    assert key_slot(token_key.encode()) == key_slot(last_key.encode())
    # the record is on the slot's master and on its replica (WAIT said so)
    master = cluster.master_of_slot(_slot(s))
    replica = cluster.replica_of(master)
    with replica.client() as c:
        c.execute_command("READONLY")
        assert c.exists(token_key) == 1
    s.close()


def test_race_two_stores_accept_once(cluster: RedisClusterHarness) -> None:
    prefix = f"race{uuid.uuid4().hex[:6]}:"
    stores = [RedisClusterReplayStore.from_url(cluster.url, prefix=prefix) for _ in range(2)]
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def run(i: int) -> None:
        barrier.wait()
        try:
            stores[i % 2].check_and_record(JULIET, b"raced", T0, now=T0, window=W)
            outcomes.append("ok")
        except ReplayError:
            outcomes.append("replay")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok"] + ["replay"] * 7


def test_follows_ask_and_moved_during_a_slot_migration(cluster: RedisClusterHarness) -> None:
    """Move the signer's slot to another master by hand (IMPORTING/MIGRATING, then NODE).
    Mid-migration the source answers ASK (no key of this signer there), the store follows it
    with ASKING to the target, which answers TRYAGAIN (Redis refuses a multi-key command on
    keys not yet in an importing slot): a typed refusal within the timeout. Once the slot
    has moved, the store's stale slot table gets MOVED and follows it; a replay is refused
    on either side of the move."""
    signer = f"mover{uuid.uuid4().hex[:6]}@capulet.net"
    # The first record through the generous defaults (a fresh cluster's replica may take
    # longer than 0.3 s to acknowledge its first write); the timed steps use a tight store.
    prefix = f"t{uuid.uuid4().hex[:8]}:"
    warm = _store(cluster, prefix=prefix)
    warm.check_and_record(signer, b"before", T0, now=T0, window=W)
    warm.close()
    s = _store(cluster, prefix=prefix, timeout=1.0, replica_timeout=0.6)
    slot = _slot(s, signer)
    src = cluster.master_of_slot(slot)
    dst = next(n for n in cluster.live() if n is not src and cluster.role(n) == "master")
    with src.client() as a, dst.client() as b:
        src_id = a.execute_command("CLUSTER MYID").decode()
        dst_id = b.execute_command("CLUSTER MYID").decode()
        b.execute_command("CLUSTER SETSLOT", slot, "IMPORTING", src_id)
        a.execute_command("CLUSTER SETSLOT", slot, "MIGRATING", dst_id)
        keys = a.execute_command("CLUSTER GETKEYSINSLOT", slot, 100)
        # the keys present on the source: the script still runs there (a replay)
        with pytest.raises(ReplayError, match="replayed"):
            s.check_and_record(signer, b"before", T0 + MS, now=T0, window=W)
        a.execute_command("MIGRATE", "127.0.0.1", dst.port, "", 0, 5000, "KEYS", *keys)
        # now no key is on the source: ASK, then TRYAGAIN from the target (new token key)
        t0 = time.monotonic()
        with pytest.raises(ReplayStoreError, match="rehashing"):
            s.check_and_record(signer, b"during", T0 + 2 * MS, now=T0, window=W)
        assert time.monotonic() - t0 < 1.5
        for target in cluster.live():
            if cluster.role(target) == "master":
                with target.client() as c:
                    c.execute_command("CLUSTER SETSLOT", slot, "NODE", dst_id)
    cluster.wait_healthy()
    # the store still believes the source owns the slot: MOVED, then the destination
    with pytest.raises(ReplayError, match="replayed"):
        s.check_and_record(signer, b"before", T0 + 3 * MS, now=T0, window=W)
    s.check_and_record(signer, b"after", T0 + 4 * MS, now=T0, window=W)
    assert cluster.master_of_slot(slot) is dst
    s.close()


# -- unreachable nodes ----------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_closed_port_is_a_typed_error_at_once() -> None:
    s = RedisClusterReplayStore("127.0.0.1", _closed_port())
    t0 = time.monotonic()
    with pytest.raises(ReplayStoreError, match="replay store failure"):
        s.check_and_record(JULIET, b"sig", T0, now=T0, window=W)
    assert time.monotonic() - t0 < 2.0


@pytest.mark.parametrize("timeout", [0.5, None])
def test_a_silent_node_is_a_typed_error_within_the_timeout(timeout: float | None) -> None:
    """A node that accepts the connection and never answers: ReplayStoreError within the
    configured timeout (default 2 s), never a hang."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = int(listener.getsockname()[1])
        options = {} if timeout is None else {"timeout": timeout, "replica_timeout": 0.1}
        s = RedisClusterReplayStore("127.0.0.1", port, **options)  # type: ignore[arg-type]
        t0 = time.monotonic()
        with pytest.raises(ReplayStoreError):
            s.check_and_record(JULIET, b"sig", T0, now=T0, window=W)
        elapsed = time.monotonic() - t0
    assert elapsed < (timeout or 2.0) + 0.5, elapsed


# -- a lost write made observable ----------------------------------------------------------


def _verifier(store: RedisClusterReplayStore) -> Verifier:
    trust = TrustStore().pin(JULIET, identity(JULIET).certificate)
    return Verifier(trust, replay=store, clock=lambda: NOW)


@pytest.mark.parametrize("replicas", [1, 0], ids=["wait", "no-wait-control"])
def test_a_write_the_replica_never_got(cluster: RedisClusterHarness, replicas: int) -> None:
    """Pause the replica of the signer's master and cut its link (bytes already sent to a
    paused replica would still reach it from its socket buffer on resume), verify a fresh
    stanza, kill the master, resume and promote the replica, restart the old master (it
    rejoins as a replica), then replay the stanza. With ``WAIT`` (replicas=1) the first
    verification is refused — the store cannot show a replica holds it — and the stanza is
    accepted at most once. The control without ``WAIT`` acknowledges the write that the
    failover loses, and the replay is accepted a second time: the loss is observable."""
    store = _store(cluster, replicas=replicas, timeout=1.5, replica_timeout=0.5)
    verifier = _verifier(store)
    signer = make_signer()
    warm, fresh = signer.sign(_message(1)), signer.sign(_message(2))
    assert verifier.check(warm).valid
    master = cluster.master_of_slot(_slot(store))
    replica = cluster.replica_of(master)
    cluster.pause(replica)
    cluster.cut_replication(master)
    first = verifier.check(fresh)
    cluster.kill(master)
    cluster.resume(replica)
    cluster.failover_force(replica)
    cluster.restart(master)
    cluster.wait_healthy()
    assert cluster.role(master) == "slave"
    replay = verifier.check(fresh)
    again = verifier.check(fresh)
    accepted = [r.valid for r in (first, replay, again)].count(True)
    store.close()
    if replicas:
        assert isinstance(first.error, ReplayStoreError), first.error
        assert "replica" in str(first.error)
        assert accepted <= 1
        assert isinstance(again.error, ReplayError)
    else:
        assert first.valid and replay.valid  # the failover lost the acknowledged record
        assert accepted == 2


# -- failover mid-stream, two verifier processes -----------------------------------------

_VERIFIER = r"""
import datetime as d, sys, time
from cryptography import x509
from xmppsec.dsig import Verifier
from xmppsec.replay import RedisClusterReplayStore
from xmppsec.trust import TrustStore
url, prefix, cert, now = sys.argv[1], sys.argv[2], sys.argv[3], d.datetime.fromisoformat(sys.argv[4])
store = RedisClusterReplayStore.from_url(url, prefix=prefix, timeout=1.0, replica_timeout=0.3)
trust = TrustStore().pin("juliet@capulet.net", x509.load_pem_x509_certificate(open(cert, "rb").read()))
v = Verifier(trust, replay=store, clock=lambda: now)
store.connect()
print("ready", flush=True)
for line in sys.stdin:
    t0 = time.monotonic()
    r = v.check(open(line.strip(), "rb").read())
    verdict = "valid" if r.valid else type(r.error).__name__
    print(verdict, f"{time.monotonic() - t0:.3f}", flush=True)
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    root = Path(__file__).resolve().parents[1]
    env["PYTHONPATH"] = os.pathsep.join(
        [str(root / d) for d in ("runtime", "generated", "codegen")] + [str(root)]
    )
    return env


class _Proc:
    def __init__(self, url: str, prefix: str, cert: Path) -> None:
        self.p = subprocess.Popen(
            [sys.executable, "-c", _VERIFIER, url, prefix, str(cert), NOW.isoformat()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        assert self.p.stdout is not None and self.p.stdout.readline() == "ready\n"

    def send(self, path: Path) -> None:
        assert self.p.stdin is not None
        self.p.stdin.write(f"{path}\n")
        self.p.stdin.flush()

    def answer(self) -> tuple[str, float]:
        assert self.p.stdout is not None
        verdict, seconds = self.p.stdout.readline().split()
        return verdict, float(seconds)

    def close(self) -> None:
        assert self.p.stdin is not None
        self.p.stdin.close()
        self.p.wait(timeout=30)


def test_failover_mid_stream_accepts_each_stanza_at_most_once(
    cluster: RedisClusterHarness, tmp_path: Path
) -> None:
    """Two verifier processes get every stanza of a signed stream (so each is also a replay
    attempt); the master owning the signer's slot is SIGKILLed mid-stream, its replica
    promoted (CLUSTER FAILOVER FORCE), and the killed node restarted (it rejoins as the new
    master's replica). Every stanza is accepted at most once, every refusal is typed, and
    acceptance resumes once the promoted master has a replica again. Afterwards every
    stanza is replayed to both: none is accepted."""
    cert = tmp_path / "juliet.pem"
    cert.write_bytes(identity(JULIET).certificate.public_bytes(Encoding.PEM))
    signer = make_signer()
    n = 90
    paths = []
    for i in range(n):
        p = tmp_path / f"s{i}.xml"
        p.write_bytes(signer.sign(_message(100 + i)))
        paths.append(p)
    prefix = f"fo{uuid.uuid4().hex[:6]}:"
    probe = RedisClusterReplayStore.from_url(cluster.url, prefix=prefix)
    slot = _slot(probe)
    probe.close()
    procs = [_Proc(cluster.url, prefix, cert) for _ in range(2)]
    verdicts: list[list[str]] = []
    seconds: list[float] = []
    phase: list[str] = []
    state = "before"
    killed_at = restarted_at = resumed_at = 0.0
    master = cluster.master_of_slot(slot)
    replica = cluster.replica_of(master)
    for i, path in enumerate(paths):
        if i == 30:  # mid-stream: the master dies
            cluster.kill(master)
            killed_at = time.monotonic()
            state = "outage"
        if i == 34:  # a supervisor promotes the replica ...
            cluster.failover_force(replica)
        if i == 44:  # ... and restarts the killed node, which rejoins as a replica
            cluster.restart(master)
            restarted_at = time.monotonic()
        for proc in procs:
            proc.send(path)
        answers = [proc.answer() for proc in procs]
        verdicts.append([a[0] for a in answers])
        seconds.extend(a[1] for a in answers)
        if state == "outage" and "valid" in verdicts[-1]:
            state = "after"
            resumed_at = time.monotonic()
        phase.append(state)
        if state == "outage" and i == n - 1:
            pytest.fail("acceptance did not resume")
    # every stanza again, to both processes: nothing is accepted twice
    replays: list[list[str]] = []
    for path in paths:
        for proc in procs:
            proc.send(path)
        replays.append([proc.answer()[0] for proc in procs])
    for proc in procs:
        proc.close()
    assert cluster.role(master) == "slave"

    for i in range(n):
        accepted = verdicts[i].count("valid") + replays[i].count("valid")
        assert accepted <= 1, (i, verdicts[i], replays[i])
        assert set(verdicts[i]) <= {"valid", "ReplayError", "ReplayStoreError"}, verdicts[i]
        assert set(replays[i]) == {"ReplayError"}, (i, replays[i])
        if phase[i] == "before" or (phase[i] == "after" and i > phase.index("after")):
            assert sorted(verdicts[i]) == ["ReplayError", "valid"], (i, verdicts[i])
        if phase[i] == "outage":
            assert "valid" not in verdicts[i]
            assert "ReplayStoreError" in verdicts[i], (i, verdicts[i])  # the typed refusal
    assert max(seconds) < 1.0 + 0.6  # every answer within the store's timeout
    outage = [v for v, ph in zip(verdicts, phase, strict=True) if ph == "outage"]
    FIGURES.update(
        sent=n,
        attempts=2 * n,
        accepted=sum(v.count("valid") for v in verdicts),
        refused_outage=sum(len(v) for v in outage),
        refused_outage_store_error=sum(v.count("ReplayStoreError") for v in outage),
        outage_stanzas=len(outage),
        kill_to_resume_s=round(resumed_at - killed_at, 2),
        restart_to_resume_s=round(resumed_at - restarted_at, 2),
        replays_accepted=sum(v.count("valid") for v in replays),
    )
    print("failover figures:", FIGURES)
    cluster.wait_healthy()
