"""xmppsec.archive: streamed bulk verification of stream dumps and MAM exports."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from xmppsec.archive import (
    ArchiveConfig,
    ArchiveSummary,
    Progress,
    verify_archive,
)
from xmppsec.cli._archive import verify_archive_cli
from xmppsec.dsig import SPEC, Signer
from xmppsec.errors import RestrictedXMLError
from xmppsec.keys import Identity, generate_identity

JID = "juliet@capulet.net"
STREAM_OPEN = (
    b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
    b"xmlns:stream='http://etherx.jabber.org/streams' xmlns:unused='urn:example:unused' "
    b"from='capulet.net' version='1.0' xml:lang='en'>"
    b"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>\n"
)
STREAM_CLOSE = b"</stream:stream>"


def stanza(i: int) -> bytes:
    return (
        f"<message xmlns='jabber:client' from='juliet@capulet.net/balcony' id='m{i}' "
        f"to='romeo@montague.net' type='chat'><body>message number {i}</body></message>"
    ).encode()


@pytest.fixture(scope="module")
def juliet() -> Identity:
    return generate_identity(JID)


@pytest.fixture(scope="module")
def signed(juliet: Identity) -> list[bytes]:
    signer = Signer(
        juliet.private_key, signer=JID, certificate=juliet.certificate, profile=SPEC
    )
    return [signer.sign(stanza(i)) for i in range(12)]


def config(
    juliet: Identity, *, now: datetime | None = None, use_archive_stamp: bool = True
) -> ArchiveConfig:
    der = juliet.certificate.public_bytes(Encoding.DER)
    return ArchiveConfig(
        pins=((JID, der),),
        now=now or datetime.now(UTC),
        use_archive_stamp=use_archive_stamp,
    )


def tamper(data: bytes) -> bytes:
    out = data.replace(b"message number 5<", b"message number 6<")
    assert out != data
    return out


def stream_dump(items: list[bytes]) -> bytes:
    # Stanzas as a server writes them inside a stream: the default namespace comes from the
    # stream header, so strip each stanza's own xmlns='jabber:client'.
    body = b"\n".join(i.replace(b' xmlns="jabber:client"', b"", 1) for i in items)
    return STREAM_OPEN + body + b"\n" + STREAM_CLOSE


def mam_export(items: list[bytes], stamp: str) -> bytes:
    out = [b"<export>"]
    for n, data in enumerate(items):
        fwd = (
            (
                f"<result xmlns='urn:xmpp:mam:2' queryid='q1' id='a{n}'>"
                f"<forwarded xmlns='urn:xmpp:forward:0'><delay xmlns='urn:xmpp:delay' stamp='{stamp}'/>"
            ).encode()
            + data
            + b"</forwarded></result>"
        )
        if n % 2:
            # a result delivered in a message (XEP-0313 §4.1.2) ...
            out.append(b"<message xmlns='jabber:client' to='romeo@montague.net/orchard'>" + fwd)
            out.append(b"</message>")
        else:
            # ... or inside an iq result, as some exporters write them
            out.append(b"<iq xmlns='jabber:client' type='result' id='x'>" + fwd + b"</iq>")
    out.append(
        b"<iq xmlns='jabber:client' type='result' id='q1'><fin xmlns='urn:xmpp:mam:2'/></iq>"
    )
    out.append(b"</export>")
    return b"\n".join(out)


def run(
    path: Path,
    cfg: ArchiveConfig,
    *,
    jobs: int = 1,
    chunk_size: int = 256,
    progress: Progress | None = None,
) -> tuple[list[dict[str, object]], ArchiveSummary]:
    out = io.StringIO()
    summary = verify_archive(path, cfg, out, jobs=jobs, chunk_size=chunk_size, progress=progress)
    return [json.loads(line) for line in out.getvalue().splitlines()], summary


def test_stream_dump_verifies_each_stanza_and_reports_the_tampered_one(
    tmp_path: Path, juliet: Identity, signed: list[bytes]
) -> None:
    items = list(signed)
    items[5] = tamper(items[5])
    path = tmp_path / "dump.xml"
    path.write_bytes(stream_dump(items))
    records, summary = run(path, config(juliet), jobs=1)
    assert [r["n"] for r in records] == list(range(12))
    assert [r["id"] for r in records] == [f"m{i}" for i in range(12)]
    assert [r["valid"] for r in records] == [i != 5 for i in range(12)]
    assert str(records[5]["error"]).startswith("DigestMismatch")
    assert all(r["source"] == "stream" for r in records)
    assert (summary.stanzas, summary.valid, summary.rejected, summary.skipped) == (12, 11, 1, 0)


def test_stream_without_now_judges_timestamps_strictly(
    tmp_path: Path, juliet: Identity, signed: list[bytes]
) -> None:
    path = tmp_path / "dump.xml"
    path.write_bytes(stream_dump(signed[:2]))
    cfg = config(juliet, now=datetime.now(UTC) + timedelta(hours=1))
    records, _ = run(path, cfg, jobs=1)
    assert [r["valid"] for r in records] == [False, False]
    assert all(str(r["error"]).startswith("TimestampError") for r in records)


def test_mam_export_uses_the_archive_stamp(
    tmp_path: Path, juliet: Identity, signed: list[bytes]
) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    path = tmp_path / "mam.xml"
    path.write_bytes(mam_export(signed[:6], stamp))
    # "now" far away: only the archive's delay stamp makes the timestamps acceptable
    records, summary = run(path, config(juliet, now=datetime(2001, 1, 1, tzinfo=UTC)), jobs=1)
    assert [r["valid"] for r in records] == [True] * 6
    assert [r["archive_id"] for r in records] == [f"a{i}" for i in range(6)]
    assert all(r["source"] == "mam" for r in records)
    assert summary.skipped == 1  # the fin iq
    # without the archive stamp the same export is rejected
    cfg = config(juliet, now=datetime(2001, 1, 1, tzinfo=UTC), use_archive_stamp=False)
    records, _ = run(path, cfg, jobs=1)
    assert not any(r["valid"] for r in records)


def test_workers_keep_input_order(tmp_path: Path, juliet: Identity, signed: list[bytes]) -> None:
    items = list(signed)
    items[5] = tamper(items[5])
    path = tmp_path / "dump.xml"
    path.write_bytes(stream_dump(items))
    cfg = config(juliet)
    seen: list[tuple[int, int, int]] = []
    one, _ = run(path, cfg, jobs=1)
    two, summary = run(path, cfg, jobs=2, chunk_size=1, progress=lambda *a: seen.append(a))
    assert one == two
    assert summary.rejected == 1
    assert seen and seen[-1][0] == 12 and seen[-1][1] == seen[-1][2] == path.stat().st_size


def test_doctype_and_malformed_archives_are_refused(tmp_path: Path, juliet: Identity) -> None:
    bomb = tmp_path / "bomb.xml"
    bomb.write_bytes(
        b"<?xml version='1.0'?><!DOCTYPE s [<!ENTITY a 'aaaaaaaa'>]><s>"
        b"<message xmlns='jabber:client'><body>&a;</body></message></s>"
    )
    with pytest.raises(RestrictedXMLError):
        run(bomb, config(juliet), jobs=1)
    broken = tmp_path / "broken.xml"
    broken.write_bytes(STREAM_OPEN + b"<message><body>x</message>")
    with pytest.raises(RestrictedXMLError):
        run(broken, config(juliet), jobs=1)


def test_an_oversize_stanza_is_rejected_and_reading_goes_on(
    tmp_path: Path, juliet: Identity, signed: list[bytes]
) -> None:
    huge = b"<message xmlns='jabber:client'>" + b"<x/>" * 25_000 + b"</message>"
    path = tmp_path / "dump.xml"
    path.write_bytes(stream_dump([huge, signed[0]]))
    records, _ = run(path, config(juliet), jobs=1)
    assert records[0]["valid"] is False and "LimitExceeded" in str(records[0]["error"])
    assert records[1]["valid"] is True


def test_results_inside_unknown_elements_and_at_top_level(
    tmp_path: Path, juliet: Identity, signed: list[bytes]
) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    fwd = (
        f"<result xmlns='urn:xmpp:mam:2' id='r%d'><forwarded xmlns='urn:xmpp:forward:0'>"
        f"<delay xmlns='urn:xmpp:delay' stamp='{stamp}'/>"
    ).encode()
    doc = (
        b"<export><batch>"
        + fwd % 0
        + signed[0]
        + b"</forwarded></result></batch>"
        + fwd % 1
        + signed[1]
        + b"</forwarded></result>"
        + signed[2].replace(b' xmlns="jabber:client"', b" xmlns='jabber:client'", 1)
        + b"</export>"
    )
    path = tmp_path / "mixed.xml"
    path.write_bytes(doc)
    records, _ = run(path, config(juliet), jobs=1)
    assert [(r["source"], r["id"], r["valid"]) for r in records] == [
        ("mam", "m0", True),
        ("mam", "m1", True),
        ("stream", "m2", True),
    ]


def test_cli_exit_codes_and_report(tmp_path: Path, juliet: Identity, signed: list[bytes]) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_bytes(juliet.certificate.public_bytes(Encoding.PEM))
    path = tmp_path / "dump.xml"
    now = datetime.now(UTC).isoformat()
    report = tmp_path / "report.jsonl"

    def cli(archive: Path, items: list[bytes] | None) -> int:
        if items is not None:
            archive.write_bytes(stream_dump(items))
        ns = argparse.Namespace(
            archive=str(archive),
            report=str(report),
            jobs=1,
            trust=[str(cert)],
            profile="auto",
            now=now,
        )
        return verify_archive_cli(ns)

    assert cli(path, signed[:3]) == 0
    assert len(report.read_text().splitlines()) == 3
    assert cli(path, [signed[0], tamper(signed[5])]) == 1
    assert cli(tmp_path / "missing.xml", None) == 2


def test_memory_stays_constant(tmp_path: Path) -> None:
    # Peak RSS of a child process reading 4,000 vs 32,000 stanzas (unsigned: the reading,
    # detaching and clearing are what could leak; each is rejected as NotSigned).
    script = textwrap.dedent(
        """
        import io, resource, sys
        from xmppsec.archive import ArchiveConfig, verify_archive
        summary = verify_archive(sys.argv[1], ArchiveConfig(), open('/dev/null', 'w'), jobs=1)
        assert summary.stanzas == int(sys.argv[2]), summary
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        """
    )
    peaks = []
    for count in (4_000, 32_000):
        path = tmp_path / f"a{count}.xml"
        body = b"x" * 900
        with path.open("wb") as f:
            f.write(STREAM_OPEN)
            for i in range(count):
                f.write(b"<message id='%d'><body>%s</body></message>\n" % (i, body))
            f.write(STREAM_CLOSE)
        out = subprocess.run(
            [sys.executable, "-c", script, str(path), str(count)],
            check=True,
            capture_output=True,
            text=True,
            env={"PYTHONPATH": "runtime:generated:codegen", "PATH": "/usr/bin:/bin"},
        )
        peaks.append(int(out.stdout.strip()))
    # 28 MB more input; a tree kept in memory would add far more than that.
    assert peaks[1] - peaks[0] < 8_000, peaks  # KiB


def test_progress_bar_draws_one_line() -> None:
    from xmppsec.cli._archive import _Bar

    out = io.StringIO()
    bar = _Bar(out)
    bar(500, 250, 1000)
    bar(1000, 1000, 1000)
    bar.close()
    text = out.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n")
    assert " 25.0% 500 stanzas" in text and "100.0% 1,000 stanzas" in text


@pytest.mark.parametrize(
    ("doc", "in_place"),
    [
        # A MAM export with default namespaces only: serialized in place.
        (
            b"<archive xmlns='urn:example:export'><result xmlns='urn:xmpp:mam:2' id='a'>"
            b"<forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' to='a@b'>"
            b"<body>x</body><x xmlns='urn:x'><y/></x></message></forwarded></result></archive>",
            True,
        ),
        # A stanza inheriting its default namespace from the stream.
        (b"<s xmlns='jabber:client'><message to='a@b'><body>x</body></message>\n</s>", True),
        # Prefixes in scope (xmlns:stream, an unused one): the copy drops them.
        (
            b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/"
            b"streams' xmlns:u='urn:unused'><message to='a@b'><body>x</body></message>\n"
            b"</stream:stream>",
            False,
        ),
    ],
)
def test_detached_bytes_equal_a_copy(doc: bytes, in_place: bool) -> None:
    from lxml import etree

    from xmppsec.archive import _detach

    root = etree.fromstring(doc)
    el = root.find(".//{jabber:client}message")
    assert el is not None
    parent = el.getparent()
    assert parent is not None
    assert all(p is None for p in parent.nsmap) is in_place
    copy: etree._Element = el.__copy__()  # type: ignore[attr-defined]  # a deep copy in lxml
    assert _detach(el) == etree.tostring(copy, with_tail=False)
    assert b"xmlns:stream" not in _detach(el) and b"urn:unused" not in _detach(el)
