"""The benchmark: ``python -m tests.bench.run [--quick] [--out DIR]``.

Measures in one process, interleaved: the raw primitives, the lower bound LB, xmppsec sign and
verify (spec and robust profiles, strict policy, pinned certificate), signxml and
python-xmlsec (enveloped signatures over the same stanzas), for RSA-2048, ECDSA P-256 and
Ed25519 on three stanzas. Method: each row is calibrated
to at least ``--sample-ms`` per sample, all rows run once per round in a shuffled order, and
the minimum over the rounds is compared. Writes DIR/bench.json and DIR/bench.png and prints
a table of ratios to LB and to the peers. A benchmark, not a pass/fail test.

LB = parse + (exc-C14N + SHA-256) of each signed child + exc-C14N of SignedInfo + one
signature primitive (sign or verify), each with lxml / hashlib / cryptography directly.
The floor (tests/bench/floor.py) is the XEP-0290 procedure with every check removed: what
xmppsec spends above it is the price of its checks and result object.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from lxml import etree

from xmppsec.algorithms import C14NMethod
from xmppsec.dsig import ROBUST, SPEC, Policy, Profile, Signer, Verifier, _c14n
from xmppsec.parser import parse
from xmppsec.trust import TrustStore

from .floor import floor_signer, floor_verifier
from .peers import signxml_pair, xmlsec_pair
from .plot import OPS, TARGETS, plot
from .stanzas import ALGORITHMS, JID, LIMITS, STANZAS, BenchIdentity, identities

__all__ = ["main"]

DS = "{http://www.w3.org/2000/09/xmldsig#}"
IMPLS = ("lb", "floor", "xmppsec-spec", "xmppsec-robust", "signxml", "xmlsec")


@dataclass
class Row:
    name: str
    fn: Callable[[], object]
    kind: str  # "primitive" or "cell"
    op: str = ""
    alg: str = ""
    stanza: str = ""
    impl: str = ""
    number: int = 1
    samples: list[float] = field(default_factory=list)

    @property
    def best_us(self) -> float:
        return min(self.samples) * 1e6

    @property
    def median_us(self) -> float:
        return statistics.median(self.samples) * 1e6


# -- raw primitives ------------------------------------------------------------------------


def _raw_sign(key: Any) -> Callable[[bytes], bytes]:
    if isinstance(key, rsa.RSAPrivateKey):
        return lambda data: key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return lambda data: key.sign(data, ec.ECDSA(hashes.SHA256()))
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    return lambda data: key.sign(data)


def _raw_verify(pub: Any) -> Callable[[bytes, bytes], None]:
    if isinstance(pub, rsa.RSAPublicKey):
        return lambda sig, data: pub.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())
    if isinstance(pub, ec.EllipticCurvePublicKey):
        return lambda sig, data: pub.verify(sig, data, ec.ECDSA(hashes.SHA256()))
    assert isinstance(pub, ed25519.Ed25519PublicKey)
    return lambda sig, data: pub.verify(sig, data)


def _exc(el: etree._Element) -> bytes:
    return etree.tostring(el, method="c14n", exclusive=True, with_comments=False)


# -- building the rows ---------------------------------------------------------------------


def _signer(ident: BenchIdentity, profile: Profile, stanza: str) -> Signer:
    return Signer(
        ident.identity.private_key,
        signer=JID,
        certificate=ident.identity.certificate,
        profile=profile,
        limits=LIMITS[stanza],
    )


def _verifier(ident: BenchIdentity, profile: Profile, stanza: str) -> Verifier:
    trust = TrustStore().pin(JID, ident.identity.certificate)
    return Verifier(trust, policy=Policy(limits=LIMITS[stanza]), profile=profile)


def build_rows(ids: Mapping[str, BenchIdentity], *, peers: bool = True) -> list[Row]:
    rows: list[Row] = []
    now = datetime.now(UTC) + timedelta(seconds=1)
    small = STANZAS["small"]
    # Primitives.
    for alg in ALGORITHMS:
        key = ids[alg].identity.private_key
        msg = b"x" * 640
        rsign, rverify = _raw_sign(key), _raw_verify(key.public_key())
        sig = rsign(msg)
        rows.append(Row(f"prim/sign/{alg}", partial(rsign, msg), "primitive", "sign", alg))
        rows.append(
            Row(f"prim/verify/{alg}", partial(rverify, sig, msg), "primitive", "verify", alg)
        )
    b300 = b"y" * 300
    rows.append(Row("prim/sha256-300B", lambda: hashlib.sha256(b300).digest(), "primitive"))
    for st, data in STANZAS.items():
        rows.append(Row(f"prim/lxml-parse/{st}", partial(etree.fromstring, data), "primitive"))
        rows.append(Row(f"prim/xmppsec-parse/{st}", partial(parse, data, LIMITS[st]), "primitive"))
    body = etree.fromstring(small)[1]
    rows.append(Row("prim/exc-c14n-body", lambda: _exc(body), "primitive"))
    signed_small = _signer(ids["ecdsa-p256"], SPEC, "small").sign(small)
    si = etree.fromstring(signed_small).find(f"{DS}Signature/{DS}SignedInfo")
    assert si is not None
    rows.append(Row("prim/exc-c14n-SignedInfo", lambda: _exc(si), "primitive"))
    rows.append(
        Row(
            "prim/c14n11-SignedInfo (xmppsec)",
            lambda: _c14n.c14n(si, C14NMethod.C14N11),
            "primitive",
        )
    )

    for alg in ALGORITHMS:
        ident = ids[alg]
        key = ident.identity.private_key
        rsign, rverify = _raw_sign(key), _raw_verify(key.public_key())
        for st, data in STANZAS.items():

            def cell(op: str, impl: str, fn: Callable[[], object]) -> None:
                rows.append(Row(f"{op}/{alg}/{st}/{impl}", fn, "cell", op, alg, st, impl))

            # Lower bounds, on the spec profile's SignedInfo.
            spec_signed = _signer(ident, SPEC, st).sign(data)
            si_el = etree.fromstring(spec_signed).find(f"{DS}Signature/{DS}SignedInfo")
            assert si_el is not None

            def lb_sign(d: bytes = data, s: etree._Element = si_el, f: Any = rsign) -> object:
                root = etree.fromstring(d)
                for child in root:
                    hashlib.sha256(_exc(child)).digest()
                return f(_exc(s))

            root0 = etree.fromstring(spec_signed)
            si0 = root0.find(f"{DS}Signature/{DS}SignedInfo")
            assert si0 is not None
            raw_sig = rsign(_exc(si0))

            def lb_verify(d: bytes = spec_signed, g: bytes = raw_sig, f: Any = rverify) -> object:
                root = etree.fromstring(d)
                for child in root:
                    if child.tag != DS + "Signature":
                        hashlib.sha256(_exc(child)).digest()
                s = root[-1][0]
                return f(g, _exc(s))

            cell("sign", "lb", lb_sign)
            cell("verify", "lb", lb_verify)
            fsign, fverify = _floor(ident, st, data)
            cell("sign", "floor", partial(fsign, data))
            cell("verify", "floor", partial(fverify, spec_signed))
            for impl, profile in (("xmppsec-spec", SPEC), ("xmppsec-robust", ROBUST)):
                signer = _signer(ident, profile, st)
                verifier = _verifier(ident, profile, st)
                signed = signer.sign(data)
                verifier.verify(signed, now=now)  # must be valid before it is timed
                cell("sign", impl, partial(signer.sign, data))
                cell("verify", impl, partial(verifier.verify, signed, now=now))
            if not peers:
                continue
            for impl, make in (("signxml", signxml_pair), ("xmlsec", xmlsec_pair)):
                pair = make(ident, data)
                if pair is None:
                    continue
                psign, pverify = pair
                psigned = psign()
                pverify(psigned)
                cell("sign", impl, psign)
                cell("verify", impl, partial(pverify, psigned))
    return rows


def _floor(
    ident: BenchIdentity, stanza: str, data: bytes
) -> tuple[Callable[[bytes], bytes], Callable[[bytes], None]]:
    """The floor rows (tests/bench/floor.py), checked against xmppsec before they are timed:
    xmppsec verifies what the floor signs, the floor accepts what xmppsec signs and refuses
    it with one child changed."""
    signer = _signer(ident, SPEC, stanza)
    fsign = floor_signer(signer)
    fverify = floor_verifier(ident.identity.private_key.public_key())
    _verifier(ident, SPEC, stanza).verify(fsign(data))
    signed = signer.sign(data)
    fverify(signed)
    try:
        fverify(signed.replace(b"8996aef0", b"8996aef1", 1))
    except ValueError:
        pass
    else:
        raise AssertionError("the floor verifier accepted a changed child")
    return fsign, fverify


# -- measuring -----------------------------------------------------------------------------


def _sample(row: Row) -> float:
    fn = row.fn
    t0 = time.perf_counter()
    for _ in range(row.number):
        fn()
    return (time.perf_counter() - t0) / row.number


def calibrate(rows: list[Row], sample_s: float) -> None:
    for row in rows:
        row.fn()  # warm
        n = 1
        while True:
            row.number = n
            elapsed = _sample(row) * n
            if elapsed >= sample_s:
                break
            n = max(n * 2, int(n * sample_s / max(elapsed, 1e-9) * 1.1) + 1)


def measure(
    rows: list[Row], rounds: int, progress: Callable[[int, int], None] | None = None
) -> None:
    rng = random.Random(0x290)
    order = list(rows)
    for r in range(rounds):
        rng.shuffle(order)
        gc.collect()
        for row in order:
            row.samples.append(_sample(row))
        if progress is not None:
            progress(r + 1, rounds)


# -- reporting -----------------------------------------------------------------------------


def cells(rows: list[Row]) -> list[dict[str, Any]]:
    table: dict[tuple[str, str, str], dict[str, float]] = {}
    for row in rows:
        if row.kind == "cell":
            table.setdefault((row.op, row.alg, row.stanza), {})[row.impl] = row.best_us
    out: list[dict[str, Any]] = []
    for alg in ALGORITHMS:
        for st in STANZAS:
            for op in OPS:
                t = table.get((op, alg, st))
                if t is None:
                    continue
                lb = t["lb"]
                spec = t["xmppsec-spec"]
                c: dict[str, Any] = {"op": op, "alg": alg, "stanza": st, "us": t}
                c["ratio_lb"] = {k: v / lb for k, v in t.items()}
                c["robust_over_spec"] = t["xmppsec-robust"] / spec
                c["spec_over_peer"] = {p: spec / t[p] for p in ("signxml", "xmlsec") if p in t}
                c["target"] = TARGETS[op]
                c["meets_lb_target"] = spec / lb <= TARGETS[op]
                peers = c["spec_over_peer"].values()
                c["faster_than_peers"] = all(v < 1.0 for v in peers) if peers else None
                out.append(c)
    return out


def _fmt_ratio(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}×"


def table(cs: list[dict[str, Any]]) -> str:
    head = (
        "| op | alg | stanza | LB µs | spec µs | spec/LB | floor/LB | robust/LB | robust/spec "
        "| signxml/LB | xmlsec/LB | spec/signxml | spec/xmlsec | ≤ target | beats peers |"
    )
    lines = [head, "|" + "---|" * 15]
    for c in cs:
        r = c["ratio_lb"]
        peer = c["spec_over_peer"]
        lb_ok = "yes" if c["meets_lb_target"] else "**no**"
        beats = {True: "yes", False: "**no**", None: "—"}[c["faster_than_peers"]]
        lines.append(
            f"| {c['op']} | {c['alg']} | {c['stanza']} | {c['us']['lb']:.0f} "
            f"| {c['us']['xmppsec-spec']:.0f} | {_fmt_ratio(r['xmppsec-spec'])} "
            f"| {_fmt_ratio(r.get('floor'))} | {_fmt_ratio(r['xmppsec-robust'])} | {_fmt_ratio(c['robust_over_spec'])} "
            f"| {_fmt_ratio(r.get('signxml'))} | {_fmt_ratio(r.get('xmlsec'))} "
            f"| {_fmt_ratio(peer.get('signxml'))} | {_fmt_ratio(peer.get('xmlsec'))} "
            f"| {lb_ok} ({c['target']}×) | {beats} |"
        )
    return "\n".join(lines)


def primitives_table(rows: list[Row]) -> str:
    lines = ["| primitive | min µs | median µs |", "|---|---|---|"]
    for row in rows:
        if row.kind == "primitive":
            name = row.name.removeprefix("prim/")
            lines.append(f"| {name} | {row.best_us:.1f} | {row.median_us:.1f} |")
    return "\n".join(lines)


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "libxml2": ".".join(map(str, etree.LIBXML_VERSION))}
    for dist in ("lxml", "cryptography", "signxml", "xmlsec", "matplotlib"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "absent"
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tests.bench.run", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--quick", action="store_true", help="short samples, few rounds (~1 min)")
    ap.add_argument("--out", default="build/bench", metavar="DIR", help="bench.json, bench.png")
    ap.add_argument("--rounds", type=int, help="interleaved rounds (default 20, quick 4)")
    ap.add_argument("--sample-ms", type=float, help="minimum per sample (default 50, quick 10)")
    ap.add_argument("--no-peers", action="store_true", help="skip signxml and xmlsec")
    ap.add_argument("--from-json", metavar="FILE", help="re-print the table and plot of a run")
    args = ap.parse_args(argv)
    if args.from_json:
        saved = json.loads(Path(args.from_json).read_text())
        for c in saved["cells"]:
            peers = c["spec_over_peer"].values()
            c["faster_than_peers"] = all(v < 1.0 for v in peers) if peers else None
        print(table(saved["cells"]))
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        plot(saved["cells"], out / "bench.png")
        return 0
    rounds = args.rounds or (4 if args.quick else 20)
    sample_s = (args.sample_ms or (10.0 if args.quick else 50.0)) / 1000
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    load0 = os.getloadavg()
    ids = identities()
    rows = build_rows(ids, peers=not args.no_peers)
    print(f"{len(rows)} rows; calibrating to {sample_s * 1000:.0f} ms/sample", file=sys.stderr)
    calibrate(rows, sample_s)

    def progress(done: int, total: int) -> None:
        print(f"  round {done}/{total} ({time.time() - started:.0f} s)", file=sys.stderr)

    measure(rows, rounds, progress)
    cs = cells(rows)
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "rounds": rounds,
        "sample_ms": sample_s * 1000,
        "cpu_count": os.cpu_count(),
        "loadavg_start": load0,
        "loadavg_end": os.getloadavg(),
        "seconds": round(time.time() - started, 1),
        "versions": _versions(),
        "lower_bound": "parse + exc-C14N and SHA-256 of each signed child + exc-C14N of "
        "SignedInfo + one signature primitive",
        "floor": "the XEP-0290 procedure in straight-line Python with every check removed "
        "(tests/bench/floor.py)",
        "rows": [
            {
                "name": r.name,
                "kind": r.kind,
                "op": r.op,
                "alg": r.alg,
                "stanza": r.stanza,
                "impl": r.impl,
                "number": r.number,
                "min_us": r.best_us,
                "median_us": r.median_us,
            }
            for r in rows
        ],
        "cells": cs,
    }
    (out / "bench.json").write_text(json.dumps(report, indent=1) + "\n")
    print(primitives_table(rows))
    print()
    print(table(cs))
    met = sum(1 for c in cs if c["meets_lb_target"])
    faster = sum(1 for c in cs if c["faster_than_peers"])
    with_peers = sum(1 for c in cs if c["faster_than_peers"] is not None)
    print(
        f"\nLB targets met in {met}/{len(cs)} cells; faster than every peer in {faster}/"
        f"{with_peers} cells that have peers (no peer signs with Ed25519)."
        f" {report['seconds']} s, load {load0[0]:.1f} → {report['loadavg_end'][0]:.1f}"
    )
    if plot(cs, out / "bench.png"):
        print(f"wrote {out / 'bench.json'} and {out / 'bench.png'}", file=sys.stderr)
    else:
        print(f"wrote {out / 'bench.json'} (matplotlib absent: no plot)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
