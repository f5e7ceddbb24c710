"""MUC fan-out: ``python -m tests.bench.fanout [--occupants 1000] [--repeat 5]``.

A MUC service (domain signer) signs one groupchat message once, under the robust profile,
and reflects it to every occupant: per occupant only ``to`` changes (and ``from`` is the
occupant JID the room shows), which the robust profile's MUC reflection rule leaves out of
the comparison (docs/robust-profile.md, "Stanza attributes"). The shared work (parse,
canonicalization, digests, the signature) is done once; each occupant costs one attribute
change and one serialization. Compared with signing once per occupant. Every 100th
reflected copy is verified before anything is timed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime, timedelta

from lxml import etree

from xmppsec.dsig import ROBUST, Signer, Verifier
from xmppsec.keys import generate_identity
from xmppsec.parser import parse
from xmppsec.trust import TrustStore

__all__ = ["main"]

SERVICE = "chat.shakespeare.lit"
ROOM = "coven@chat.shakespeare.lit"
MESSAGE = (
    b"<message xmlns='jabber:client' from='coven@chat.shakespeare.lit/thirdwitch' "
    b"to='coven@chat.shakespeare.lit' id='fanout-1' type='groupchat'>"
    b"<body>Harpier cries: 'tis time, 'tis time.</body></message>"
)


def occupants(n: int) -> list[str]:
    return [f"user{i}@shakespeare.lit/device" for i in range(n)]


def fan_out_shared(signer: Signer, data: bytes, to: list[str]) -> list[bytes]:
    """Sign once, then one serialization per occupant."""
    root = signer.sign_element(parse(data, signer.limits))
    out: list[bytes] = []
    for jid in to:
        root.set("to", jid)
        out.append(etree.tostring(root))
    return out


def fan_out_naive(signer: Signer, data: bytes, to: list[str]) -> list[bytes]:
    """One signature per occupant (what a service without the shared path does)."""
    root = parse(data, signer.limits)
    out: list[bytes] = []
    for jid in to:
        root.set("to", jid)
        out.append(signer.sign(etree.tostring(root)))
    return out


def _best(fn: object, repeat: int) -> float:
    assert callable(fn)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.bench.fanout")
    ap.add_argument("--occupants", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args(argv)
    to = occupants(args.occupants)
    report: dict[str, object] = {"occupants": args.occupants, "repeat": args.repeat}
    rows = []
    for alg in ("rsa-2048", "ecdsa-p256", "ed25519"):
        ident = generate_identity(SERVICE, alg)
        signer = Signer(
            ident.private_key, signer=SERVICE, certificate=ident.certificate, profile=ROBUST
        )
        verifier = Verifier(TrustStore().pin(SERVICE, ident.certificate), profile=ROBUST)
        now = datetime.now(UTC) + timedelta(seconds=1)
        copies = fan_out_shared(signer, MESSAGE, to)
        for i in range(0, len(copies), 100):
            result = verifier.verify(copies[i], now=now)
            assert result.signatures[0].sender_relation == "muc-occupant"
            assert parse(copies[i]).get("to") == to[i]
        single = _best(lambda: [signer.sign(MESSAGE) for _ in range(50)], args.repeat) / 50
        shared = _best(lambda: fan_out_shared(signer, MESSAGE, to), args.repeat)
        naive_n = min(args.occupants, 200)
        naive = _best(lambda: fan_out_naive(signer, MESSAGE, to[:naive_n]), 2) / naive_n
        row = {
            "alg": alg,
            "single_signature_us": single * 1e6,
            "fanout_total_ms": shared * 1e3,
            "per_occupant_us": shared / args.occupants * 1e6,
            "per_occupant_over_single": shared / args.occupants / single,
            "naive_per_occupant_us": naive * 1e6,
        }
        rows.append(row)
        print(
            f"{alg:11} single signature {single * 1e6:7.0f} µs | fan-out to {args.occupants}: "
            f"{shared * 1e3:6.1f} ms = {row['per_occupant_us']:5.1f} µs/occupant "
            f"({row['per_occupant_over_single']:.3f}× a signature) | naive "
            f"{naive * 1e6:5.0f} µs/occupant"
        )
    report["rows"] = rows
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
