"""Archive verification by shards: plan_shards / verify_shard on the fork pool and on a real
Dask LocalCluster (two worker processes), with a worker killed mid-run. Every report is
compared byte for byte with the single-process one."""

from __future__ import annotations

import argparse
import io
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from xmppsec.archive import (
    ArchiveConfig,
    DaskExecutor,
    LocalExecutor,
    Shard,
    executor_from_spec,
    plan_shards,
    verify_archive,
    verify_shard,
)
from xmppsec.cli._archive import verify_archive_cli
from xmppsec.dsig import Signer
from xmppsec.errors import RestrictedXMLError, UsageError
from xmppsec.keys import Identity, generate_identity
from xmppsec.timestamps import TimestampClock

distributed = pytest.importorskip("distributed")

JID = "juliet@capulet.net"
NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
STREAM_OPEN = (
    b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
    b"xmlns:stream='http://etherx.jabber.org/streams' from='capulet.net' version='1.0'>"
    b"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>\n"
)


@pytest.fixture(scope="module")
def juliet() -> Identity:
    return generate_identity(JID, now=NOW - timedelta(days=1))


def _signed(juliet: Identity, n: int) -> list[bytes]:
    clock = TimestampClock(lambda: NOW - timedelta(seconds=30))
    signer = Signer(juliet.private_key, signer=JID, certificate=juliet.certificate, clock=clock)
    return [
        signer.sign(
            (
                f"<message xmlns='jabber:client' from='juliet@capulet.net/balcony' id='m{i}' "
                f"to='romeo@montague.net' type='chat'><body>message {i} &gt; "
                f"{'x' * (i % 7)}</body></message>"
            ).encode()
        )
        for i in range(n)
    ]


def _config(juliet: Identity) -> ArchiveConfig:
    return ArchiveConfig(pins=((JID, juliet.certificate.public_bytes(Encoding.DER)),), now=NOW)


def _stream(items: list[bytes]) -> bytes:
    """A stream dump with the markup a naive cutter would trip on: comments and a CDATA
    section holding '<', an attribute value holding '>', empty elements, a tampered stanza,
    XEP-0313 plumbing."""
    body = []
    for i, data in enumerate(items):
        data = data.replace(b' xmlns="jabber:client"', b"", 1)
        if i == 3:
            data = data.replace(b"message 3 ", b"message 4 ")  # tampered: invalid
        body.append(data)
        if i % 5 == 1:
            body.append(b"<!-- <message id='not-a-stanza'> -->")
        if i % 7 == 2:
            body.append(b"<presence from='a@b/c' note='x > y'/>")
        if i % 11 == 4:
            body.append(b"<message id='cd'><body><![CDATA[ </message> <x> ]]></body></message>")
    body.append(b"<iq type='result' id='q'><fin xmlns='urn:xmpp:mam:2'/></iq>")
    return STREAM_OPEN + b"\n".join(body) + b"\n</stream:stream>\n"


def _mam(items: list[bytes]) -> bytes:
    stamp = (NOW - timedelta(seconds=20)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    out = [b"<export xmlns='urn:example:export'>"]
    for n, data in enumerate(items):
        fwd = (
            f"<result xmlns='urn:xmpp:mam:2' id='a{n}'><forwarded xmlns='urn:xmpp:forward:0'>"
            f"<delay xmlns='urn:xmpp:delay' stamp='{stamp}'/>"
        ).encode()
        wrap = b"<message xmlns='jabber:client' to='romeo@montague.net'>" if n % 2 else b""
        out.append(wrap + fwd + data + b"</forwarded></result>" + (b"</message>" if wrap else b""))
    out.append(b"</export>")
    return b"\n".join(out)


def _report(path: Path, cfg: ArchiveConfig, **options: object) -> tuple[str, object]:
    out = io.StringIO()
    summary = verify_archive(path, cfg, out, **options)  # type: ignore[arg-type]
    return out.getvalue(), summary


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory, juliet: Identity) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("archives")
    items = _signed(juliet, 40)
    paths = {"stream": root / "stream.xml", "mam": root / "mam.xml"}
    paths["stream"].write_bytes(_stream(items))
    paths["mam"].write_bytes(_mam(items))
    return paths


# -- shards ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["stream", "mam"])
@pytest.mark.parametrize("shard_bytes", [1, 3000, 1 << 30])
def test_shards_give_the_single_process_report(
    archives: dict[str, Path], juliet: Identity, kind: str, shard_bytes: int
) -> None:
    path, cfg = archives[kind], _config(juliet)
    expected, summary = _report(path, cfg, jobs=1)
    assert summary.valid == 40 - (kind == "stream")  # type: ignore[attr-defined]
    shards = plan_shards(path, shard_bytes=shard_bytes)
    assert shards[0].start == shards[0].header_end > 0
    for a, b in zip(shards, shards[1:], strict=False):
        assert a.end == b.start  # contiguous: nothing skipped, nothing twice
    if shard_bytes == 1:
        assert len(shards) > 40  # one per top-level element
    got, sharded = _report(path, cfg, executor=LocalExecutor(1), shard_bytes=shard_bytes)
    assert got == expected
    assert (sharded.stanzas, sharded.valid, sharded.skipped) == (  # type: ignore[attr-defined]
        summary.stanzas,  # type: ignore[attr-defined]
        summary.valid,  # type: ignore[attr-defined]
        summary.skipped,  # type: ignore[attr-defined]
    )
    if kind == "stream":
        assert '"id":"m3"' in expected and summary.rejected >= 1  # type: ignore[attr-defined]


def test_a_whole_file_is_a_shard(archives: dict[str, Path], juliet: Identity) -> None:
    expected, _ = _report(archives["mam"], _config(juliet), jobs=1)
    result = verify_shard(Shard(str(archives["mam"])), _config(juliet))
    assert "".join(line + "\n" for line in result.lines) == expected


def test_fork_pool_executor(archives: dict[str, Path], juliet: Identity) -> None:
    expected, _ = _report(archives["stream"], _config(juliet), jobs=1)
    got, _ = _report(
        archives["stream"], _config(juliet), executor=LocalExecutor(2), shard_bytes=2000
    )
    assert got == expected


def test_plan_refuses_doctype_and_empty(tmp_path: Path) -> None:
    bad = tmp_path / "dtd.xml"
    bad.write_bytes(b"<!DOCTYPE x [<!ENTITY a 'b'>]><x><message/></x>")
    with pytest.raises(RestrictedXMLError, match="DOCTYPE"):
        plan_shards(bad)
    empty = tmp_path / "empty.xml"
    empty.write_bytes(b"")
    with pytest.raises(RestrictedXMLError):
        plan_shards(empty)
    text = tmp_path / "text.xml"
    text.write_bytes(b"no markup")
    with pytest.raises(RestrictedXMLError):
        plan_shards(text)


def test_a_malformed_shard_is_an_error(tmp_path: Path, juliet: Identity) -> None:
    path = tmp_path / "broken.xml"
    path.write_bytes(b"<x><message><body>a</message><message/></x>")
    with pytest.raises(RestrictedXMLError):
        _report(path, _config(juliet), executor=LocalExecutor(1), shard_bytes=1)


def test_executor_specs() -> None:
    assert executor_from_spec(None) is None and executor_from_spec("local") is None
    with pytest.raises(UsageError):
        executor_from_spec("spark://x")


# -- Dask -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dask_client() -> Iterator[object]:
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@pytest.mark.parametrize("kind", ["stream", "mam"])
def test_dask_gives_the_single_process_report(
    archives: dict[str, Path], juliet: Identity, dask_client: object, kind: str
) -> None:
    expected, _ = _report(archives[kind], _config(juliet), jobs=1)
    got, _ = _report(
        archives[kind],
        _config(juliet),
        executor=DaskExecutor(dask_client),  # type: ignore[arg-type]
        shard_bytes=2500,
    )
    assert got == expected


def test_cli_on_a_dask_scheduler(
    archives: dict[str, Path], juliet: Identity, dask_client: object, tmp_path: Path
) -> None:
    """``xmppsec verify --archive --executor dask://HOST:PORT`` against the running
    scheduler; an unreachable scheduler is a usage error (exit 2)."""
    cert = tmp_path / "juliet.pem"
    cert.write_bytes(juliet.certificate.public_bytes(Encoding.PEM))
    address = dask_client.scheduler.address.removeprefix("tcp://")  # type: ignore[attr-defined]

    def cli(executor: str, report: Path) -> int:
        return verify_archive_cli(
            argparse.Namespace(
                archive=str(archives["mam"]),
                report=str(report),
                trust=[str(cert)],
                executor=executor,
                now=NOW.isoformat(),
                jobs=None,
            )
        )

    assert cli(f"dask://{address}", tmp_path / "dask.jsonl") == 0
    assert cli("local", tmp_path / "local.jsonl") == 0
    assert (tmp_path / "dask.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()
    assert cli("spark://nowhere", tmp_path / "x.jsonl") == 2


def test_an_unreachable_scheduler_is_a_usage_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    t0 = time.monotonic()
    with pytest.raises(UsageError, match="cannot reach"):
        executor_from_spec(f"dask://127.0.0.1:{port}", timeout=1.0)
    assert time.monotonic() - t0 < 10


def test_a_worker_killed_mid_run_changes_nothing(
    tmp_path: Path, juliet: Identity, dask_client: object
) -> None:
    """SIGKILL one worker process while it verifies a shard: the scheduler runs the lost
    task again, and the report is byte for byte the single-process one."""
    client = dask_client
    path = tmp_path / "big.xml"
    path.write_bytes(_mam(_signed(juliet, 1200)))
    cfg = _config(juliet)
    expected, summary = _report(path, cfg, jobs=1)
    assert summary.valid == 1200  # type: ignore[attr-defined]
    killed: dict[str, object] = {}

    def killer() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            busy = {
                w: keys
                for w, keys in client.processing().items()  # type: ignore[attr-defined]
                if any(str(k).startswith("xmppsec-shard-") for k in keys)
            }
            if busy:
                worker, keys = next(iter(busy.items()))
                time.sleep(0.05)  # into the shard
                pids = client.run(os.getpid, workers=[worker])  # type: ignore[attr-defined]
                os.kill(pids[worker], signal.SIGKILL)
                killed.update(worker=worker, keys=list(keys), pid=pids[worker])
                return
            time.sleep(0.01)

    thread = threading.Thread(target=killer)
    thread.start()
    got, sharded = _report(
        path,
        cfg,
        executor=DaskExecutor(client),  # type: ignore[arg-type]
        shard_bytes=120_000,
    )
    thread.join()
    assert killed and killed["keys"], "no worker was killed mid-shard"
    assert got == expected
    assert sharded.stanzas == 1200  # type: ignore[attr-defined]
    # the nanny restarts the killed worker: the cluster is back to two
    client.wait_for_workers(2, timeout=60)  # type: ignore[attr-defined]
    assert killed["pid"] not in client.run(os.getpid).values()  # type: ignore[attr-defined]
