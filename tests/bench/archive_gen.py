"""Generate an archive of distinct signed stanzas (for xmppsec.archive tests and benchmarks).

``python -m tests.bench.archive_gen --count 1000000 --out DIR [--format mam|stream]``
writes DIR/archive.xml and DIR/cert.pem. Every stanza is signed on its own (distinct id,
body and signature: ids are signed, so repeating signed stanzas would not be a valid
archive), in parallel on every core.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding

from xmppsec.dsig import SPEC, Signer
from xmppsec.keys import Algorithm, generate_identity, load_certificate, load_private_key
from xmppsec.timestamps import TimestampClock

__all__ = [
    "STREAM_CLOSE",
    "STREAM_OPEN",
    "generate",
    "mam_item",
    "plain_stanza",
    "stream_item",
]

JID = "juliet@capulet.net"
STREAM_OPEN = (
    b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
    b"xmlns:stream='http://etherx.jabber.org/streams' from='capulet.net' "
    b"to='romeo@montague.net' version='1.0' xml:lang='en'>\n"
)
STREAM_CLOSE = b"</stream:stream>\n"
MAM_OPEN = b"<archive xmlns='urn:example:export'>\n"
MAM_CLOSE = b"</archive>\n"


def plain_stanza(i: int) -> bytes:
    """Stanza number ``i``: distinct id, body and thread; a few sizes and shapes."""
    body = f"Message {i}: wherefore art thou, Romeo? " * (1 + i % 4)
    extra = b"<active xmlns='http://jabber.org/protocol/chatstates'/>" if i % 3 == 0 else b""
    return (
        (
            f"<message xmlns='jabber:client' from='juliet@capulet.net/balcony' id='m{i:08d}' "
            f"to='romeo@montague.net' type='chat'><thread>t{i // 10}</thread>"
            f"<body>{body.strip()}</body>"
        ).encode()
        + extra
        + b"</message>"
    )


def stream_item(signed: bytes) -> bytes:
    return signed + b"\n"


def mam_item(signed: bytes, i: int, stamp: str) -> bytes:
    # XEP-0313 §4.1.2 result, as a user's client receives it (a message from the archive).
    return (
        (
            f"<message xmlns='jabber:client' to='romeo@montague.net/orchard' id='q{i}'>"
            f"<result xmlns='urn:xmpp:mam:2' queryid='export' id='a{i:08d}'>"
            f"<forwarded xmlns='urn:xmpp:forward:0'><delay xmlns='urn:xmpp:delay' stamp='{stamp}'/>"
        ).encode()
        + signed
        + b"</forwarded></result></message>\n"
    )


_state: dict[str, Any] = {}


# A MAM export is history: message i was sent at start + i * _SPACING and archived by the
# recipient's server _ARCHIVED later. (Signing a million stanzas in a minute with the real
# clock would push XEP-0290 timestamps minutes ahead of it: they rise by 1 ms per stanza when
# the clock repeats, §5, so more than 1,000 per second run ahead, and past 5 minutes they
# are rejected as "future".)
_SPACING = timedelta(milliseconds=300)
_ARCHIVED = timedelta(milliseconds=40)


def _init(key_pem: bytes, cert_pem: bytes, fmt: str, start: datetime) -> None:
    key = load_private_key(key_pem)
    cert = load_certificate(cert_pem)
    _state["now"] = start
    clock = TimestampClock(lambda: _state["now"])
    _state["signer"] = Signer(key, signer=JID, certificate=cert, clock=clock, profile=SPEC)
    _state["fmt"] = fmt
    _state["start"] = start


def _block(span: tuple[int, int]) -> bytes:
    signer: Signer = _state["signer"]
    out: list[bytes] = []
    for i in range(*span):
        if _state["fmt"] == "mam":
            sent = _state["start"] + i * _SPACING
            _state["now"] = sent
            signed = signer.sign(plain_stanza(i))
            stamp = (sent + _ARCHIVED).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            out.append(mam_item(signed, i, stamp))
        else:
            _state["now"] = datetime.now(UTC)
            out.append(stream_item(signer.sign(plain_stanza(i))))
    return b"".join(out)


def _spans(count: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, count, size):
        yield start, min(start + size, count)


def generate(
    out_dir: Path,
    count: int,
    *,
    fmt: str = "mam",
    algorithm: Algorithm = "ecdsa-p256",
    jobs: int | None = None,
    block: int = 2000,
) -> tuple[Path, Path]:
    """Write ``out_dir/archive.xml`` (``count`` signed stanzas) and ``out_dir/cert.pem``."""
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

    # The history ends an hour ago (every archive stamp lies in the past); the certificate
    # is valid from a day before it starts (verification checks it at the archived time).
    start = datetime.now(UTC) - count * _SPACING - timedelta(hours=1)
    ident = generate_identity(JID, algorithm, now=start - timedelta(days=1))
    key_pem = ident.private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    cert_pem = ident.certificate.public_bytes(Encoding.PEM)
    out_dir.mkdir(parents=True, exist_ok=True)
    cert_path = out_dir / "cert.pem"
    cert_path.write_bytes(cert_pem)
    path = out_dir / "archive.xml"
    head, tail = (MAM_OPEN, MAM_CLOSE) if fmt == "mam" else (STREAM_OPEN, STREAM_CLOSE)
    jobs = jobs or os.cpu_count() or 1
    with path.open("wb") as f:
        f.write(head)
        if jobs == 1:
            _init(key_pem, cert_pem, fmt, start)
            blocks: Iterable[bytes] = map(_block, _spans(count, block))
            for data in blocks:
                f.write(data)
        else:
            ctx = multiprocessing.get_context("fork")
            with ctx.Pool(jobs, initializer=_init, initargs=(key_pem, cert_pem, fmt, start)) as pool:
                for data in pool.imap(_block, _spans(count, block)):
                    f.write(data)
        f.write(tail)
    return path, cert_path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.bench.archive_gen")
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--out", required=True, metavar="DIR")
    ap.add_argument("--format", choices=["mam", "stream"], default="mam")
    ap.add_argument(
        "--algorithm", choices=["ecdsa-p256", "ed25519", "rsa-2048"], default="ecdsa-p256"
    )
    ap.add_argument("--jobs", type=int)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    path, cert = generate(
        Path(args.out), args.count, fmt=args.format, algorithm=args.algorithm, jobs=args.jobs
    )
    size = path.stat().st_size
    print(
        f"wrote {path} ({args.count} stanzas, {size / 1e6:.1f} MB) and {cert}"
        f" in {time.perf_counter() - t0:.0f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
