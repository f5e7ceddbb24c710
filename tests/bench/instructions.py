"""Instructions per operation: ``python -m tests.bench.instructions [--out DIR] [--compare OLD]``.

Counts the machine instructions one xmppsec sign or verify executes, with valgrind's callgrind
tool, for 16 cells: sign and verify x ECDSA P-256 and RSA-2048 x the "small" and "children50"
stanzas of tests/bench/stanzas.py x the spec and robust profiles. Instruction counts do not move
with the shared machine's load the way times do, so a change of a few percent is visible.

Method. The parent process (not under valgrind) makes the keys and certificates once and writes
them as PEM; a child process runs under ``valgrind --tool=callgrind
--dump-before=gc_get_freeze_count``, so each call of the marker ``gc.get_freeze_count()`` (a C
function nothing else calls) writes the instructions counted since the previous call and zeroes
the counter. Per cell the child builds the signer or verifier, runs a warm-up, collects garbage
and freezes what survives (gc.freeze), then marks twice (the empty interval between the marks is the marker's own cost), runs N
operations and marks again: instructions/op = (interval - empty) / N. Interpreter start-up,
imports, key loading and set-up fall in intervals that are discarded. The child runs
``--repeats`` times (each with PYTHONHASHSEED=0); the table gives the mean and the spread
(max - min) / mean over the repeats. Uses only the public API (xmppsec.dsig, xmppsec.trust,
xmppsec.keys). A benchmark, not a pass/fail test.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "CELLS",
    "THRESHOLD",
    "Cell",
    "compare",
    "compare_table",
    "main",
    "per_op",
    "read_total",
    "select",
    "spread",
    "table",
]

OPS = ("sign", "verify")
KEYS = ("ecdsa-p256", "rsa-2048")
STANZA_NAMES = ("small", "children50")
PROFILE_NAMES = ("spec", "robust")
MARK_SYMBOL = "gc_get_freeze_count"  # the C function behind gc.get_freeze_count()
THRESHOLD = 1.05  # a cell more than 5 % above the old count is flagged
DEFAULT_N = 20
DEFAULT_WARMUP = 3
DEFAULT_REPEATS = 2


@dataclass(frozen=True)
class Cell:
    op: str
    alg: str
    stanza: str
    profile: str

    @property
    def name(self) -> str:
        return f"{self.op}/{self.alg}/{self.stanza}/{self.profile}"


CELLS: tuple[Cell, ...] = tuple(
    Cell(op, alg, st, prof)
    for alg in KEYS
    for st in STANZA_NAMES
    for op in OPS
    for prof in PROFILE_NAMES
)


# -- pure helpers (unit-tested without valgrind) ---------------------------------------------


def read_total(text: str, event: str = "Ir") -> int:
    """The total of ``event`` in one callgrind output file: its ``totals:`` line, or the
    ``summary:`` line when there is none (both list one number per event of ``events:``)."""
    events: list[str] | None = None
    found: dict[str, list[int]] = {}
    for line in text.splitlines():
        key, sep, rest = line.partition(":")
        if not sep:
            continue
        if key == "events":
            events = rest.split()
        elif key in ("totals", "summary"):
            found[key] = [int(v) for v in rest.split()]
    values = found.get("totals", found.get("summary"))
    if values is None:
        raise ValueError("no totals: or summary: line in the callgrind output")
    names = events if events is not None else ["Ir"]
    if event not in names:
        raise ValueError(f"event {event!r} not collected (events: {' '.join(names)})")
    index = names.index(event)
    if index >= len(values):
        raise ValueError("the totals line has fewer values than events")
    return values[index]


_PART = re.compile(r"^part:\s*(\d+)\s*$", re.MULTILINE)


def read_parts(directory: Path, base: str) -> dict[int, int]:
    """Instructions per dump part from ``base`` and ``base.N`` files in ``directory``."""
    parts: dict[int, int] = {}
    for path in directory.iterdir():
        if path.name != base and not path.name.startswith(base + "."):
            continue
        text = path.read_text(errors="replace")
        match = _PART.search(text)
        if match is None:
            raise ValueError(f"{path.name}: no part: line")
        parts[int(match.group(1))] = read_total(text)
    return parts


def per_op(parts: Mapping[int, int], manifest: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Instructions per operation for each cell of the child's manifest. Each manifest entry
    names the dump part of its empty interval (``empty``) and of its N operations (``ops``)."""
    out: dict[str, float] = {}
    for entry in manifest:
        n = int(entry["n"])
        empty, ops = parts[int(entry["empty"])], parts[int(entry["ops"])]
        if n <= 0 or ops < empty:
            raise ValueError(f"{entry['cell']}: {ops} instructions for {n} ops, empty {empty}")
        out[str(entry["cell"])] = (ops - empty) / n
    return out


def spread(values: Iterable[float]) -> float:
    """(max - min) / mean: how far repeated counts of one cell disagree."""
    vs = list(values)
    mean = sum(vs) / len(vs)
    return (max(vs) - min(vs)) / mean if mean else 0.0


def compare(
    new: Mapping[str, float], old: Mapping[str, float], threshold: float = THRESHOLD
) -> list[tuple[str, float | None, float | None, float | None, bool]]:
    """Per cell: (name, old, new, new/old, worse than ``threshold``). A cell present on one side
    only has ratio None and is not flagged."""
    rows: list[tuple[str, float | None, float | None, float | None, bool]] = []
    names = [c.name for c in CELLS if c.name in new or c.name in old]
    names += sorted((set(new) | set(old)) - set(names))
    for name in names:
        o, n = old.get(name), new.get(name)
        ratio = n / o if n is not None and o is not None and o > 0 else None
        rows.append((name, o, n, ratio, ratio is not None and ratio > threshold))
    return rows


def table(counts: Mapping[str, float], spreads: Mapping[str, float] | None = None) -> str:
    head = "| cell | instructions/op |" + (" spread |" if spreads is not None else "")
    lines = [head, "|---|---:|" + ("---:|" if spreads is not None else "")]
    for c in CELLS:
        if c.name not in counts:
            continue
        line = f"| {c.name} | {counts[c.name]:,.0f} |"
        if spreads is not None:
            line += f" {spreads.get(c.name, 0.0) * 100:.3f} % |"
        lines.append(line)
    return "\n".join(lines)


def compare_table(
    rows: Sequence[tuple[str, float | None, float | None, float | None, bool]],
    threshold: float = THRESHOLD,
) -> str:
    def fmt(v: float | None) -> str:
        return "—" if v is None else f"{v:,.0f}"

    lines = ["| cell | old | new | new/old |", "|---|---:|---:|---:|"]
    for name, o, n, ratio, worse in rows:
        r = "—" if ratio is None else f"{ratio:.4f}"
        flag = f" **> {threshold:.2f}**" if worse else ""
        lines.append(f"| {name} | {fmt(o)} | {fmt(n)} | {r}{flag} |")
    return "\n".join(lines)


# -- the child, under valgrind ---------------------------------------------------------------


def select(patterns: str | None) -> tuple[Cell, ...]:
    """The cells whose name contains one of the comma-separated ``patterns`` (all if None)."""
    if not patterns:
        return CELLS
    wanted = [p.strip() for p in patterns.split(",") if p.strip()]
    return tuple(c for c in CELLS if any(p in c.name for p in wanted))


def _workloads(
    keydir: Path, cells: Sequence[Cell]
) -> dict[str, tuple[Callable[[], object], Callable[[], object]]]:
    """(warm-up-and-check, operation) per cell, from the PEM keys in ``keydir``."""
    from xmppsec.dsig import ROBUST, SPEC, Policy, Signer, Verifier
    from xmppsec.keys import load_certificate, load_private_key
    from xmppsec.trust import TrustStore

    from .stanzas import JID, LIMITS, STANZAS

    profiles = {"spec": SPEC, "robust": ROBUST}
    out: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {}
    for c in cells:
        key = load_private_key((keydir / f"{c.alg}.key.pem").read_bytes())
        cert = load_certificate((keydir / f"{c.alg}.cert.pem").read_bytes())
        limits, data = LIMITS[c.stanza], STANZAS[c.stanza]
        profile = profiles[c.profile]
        signer = Signer(key, signer=JID, certificate=cert, profile=profile, limits=limits)
        trust = TrustStore().pin(JID, cert)
        # No replay store and a fixed `now`: the same signed stanza verifies every time.
        verifier = Verifier(trust, policy=Policy(limits=limits), profile=profile)
        signed = signer.sign(data)
        now = datetime.now(UTC) + timedelta(seconds=1)
        verifier.verify(signed, now=now)  # raises unless valid: never count a failure path

        def check(s: Signer = signer, v: Verifier = verifier, d: bytes = data) -> object:
            return v.verify(s.sign(d), now=datetime.now(UTC) + timedelta(seconds=1))

        if c.op == "sign":
            out[c.name] = (check, partial(signer.sign, data))
        else:
            out[c.name] = (check, partial(verifier.verify, signed, now=now))
    return out


def _child(keydir: Path, manifest_path: Path, n: int, warmup: int, cells: Sequence[Cell]) -> None:
    import xmppsec.dsig

    mark = gc.get_freeze_count  # each call: callgrind dumps and zeroes (--dump-before)
    part = 0
    manifest: list[dict[str, Any]] = []
    for name, (check, op) in _workloads(keydir, cells).items():
        check()
        for _ in range(warmup):
            op()
        gc.collect()
        gc.freeze()  # what set-up left alive is never traversed again: collections see ops only
        mark()  # dump: start-up / set-up / warm-up (discarded)
        part += 1
        mark()  # dump: the empty interval, the marker's own cost
        part += 1
        empty = part
        for _ in range(n):
            op()
        mark()  # dump: n operations
        part += 1
        manifest.append({"cell": name, "n": n, "empty": empty, "ops": part})
    info = {"dsig_module": xmppsec.dsig.__file__, "cells": manifest}
    manifest_path.write_text(json.dumps(info, indent=1) + "\n")


# -- the parent ------------------------------------------------------------------------------


def _write_keys(keydir: Path) -> None:
    from .stanzas import identities

    ids = identities()
    for alg in KEYS:
        (keydir / f"{alg}.key.pem").write_bytes(ids[alg].key_pem)
        (keydir / f"{alg}.cert.pem").write_bytes(ids[alg].cert_pem)


def _run_child(
    valgrind: str, keydir: Path, work: Path, n: int, warmup: int, cells: str | None
) -> tuple[dict[str, float], str]:
    work.mkdir(parents=True, exist_ok=True)
    manifest = work / "manifest.json"
    cmd = [
        valgrind,
        "--tool=callgrind",
        f"--dump-before={MARK_SYMBOL}",
        "--dump-line=no",
        f"--callgrind-out-file={work / 'cg.out'}",
        f"--log-file={work / 'valgrind.log'}",
        sys.executable,
        "-m",
        "tests.bench.instructions",
        "--child",
        str(keydir),
        "--manifest",
        str(manifest),
        "--n",
        str(n),
        "--warmup",
        str(warmup),
    ] + (["--cells", cells] if cells else [])
    env = dict(os.environ, PYTHONHASHSEED="0")
    proc = subprocess.run(cmd, env=env, check=False)
    if proc.returncode != 0 or not manifest.exists():
        log = (work / "valgrind.log").read_text(errors="replace")[-3000:]
        raise SystemExit(f"the callgrind child failed ({proc.returncode}):\n{log}")
    info = json.loads(manifest.read_text())
    parts = read_parts(work, "cg.out")
    expected = 3 * len(info["cells"])
    if len([p for p in parts if p <= expected]) < expected:
        raise SystemExit(
            f"callgrind wrote {len(parts)} dumps, expected {expected}+1: does this Python "
            f"keep the symbol {MARK_SYMBOL} (an unstripped build)?"
        )
    return per_op(parts, info["cells"]), str(info["dsig_module"])


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _versions(valgrind: str) -> dict[str, str]:
    from lxml import etree

    out = {"python": platform.python_version(), "libxml2": ".".join(map(str, etree.LIBXML_VERSION))}
    for dist in ("lxml", "cryptography"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "absent"
    vg = subprocess.run([valgrind, "--version"], capture_output=True, text=True, check=False)
    out["valgrind"] = vg.stdout.strip()
    return out


def _measure(args: argparse.Namespace) -> dict[str, Any]:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind is not installed (Debian package valgrind)")
    started = time.time()
    runs: list[dict[str, float]] = []
    dsig_module = ""
    with tempfile.TemporaryDirectory(prefix="xmppsec-callgrind-") as tmp:
        keydir = Path(tmp) / "keys"
        keydir.mkdir()
        _write_keys(keydir)  # once: every repeat counts with the same keys
        for r in range(args.repeats):
            t0 = time.time()
            counts, dsig_module = _run_child(
                valgrind, keydir, Path(tmp) / f"run{r}", args.n, args.warmup, args.cells
            )
            runs.append(counts)
            print(f"  repeat {r + 1}/{args.repeats}: {time.time() - t0:.0f} s", file=sys.stderr)
    names = [c.name for c in select(args.cells)]
    mean = {k: sum(run[k] for run in runs) / len(runs) for k in names}
    spreads = {k: spread(run[k] for run in runs) for k in names}
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _git_commit(),
        "dsig_module": dsig_module,
        "n": args.n,
        "warmup": args.warmup,
        "repeats": args.repeats,
        "seconds": round(time.time() - started, 1),
        "versions": _versions(valgrind),
        "method": "valgrind --tool=callgrind, Ir per operation: (N ops - empty interval) / N "
        "between gc.get_freeze_count() markers (--dump-before), after a warm-up",
        "instructions_per_op": mean,
        "spread": spreads,
        "runs": runs,
    }


def _load(path: str) -> tuple[dict[str, float], int | None]:
    """The counts of a saved run and its N (counts taken with another N differ slightly: the
    garbage collector's work is amortised over a different number of operations)."""
    saved = json.loads(Path(path).read_text())
    counts = {str(k): float(v) for k, v in saved["instructions_per_op"].items()}
    n = saved.get("n")
    return counts, int(n) if n is not None else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tests.bench.instructions", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--out", metavar="DIR", help="write DIR/instructions.json")
    ap.add_argument("--compare", metavar="OLD.json", help="ratios new/old per cell")
    ap.add_argument("--from-json", metavar="FILE", help="use a saved run instead of measuring")
    ap.add_argument("--n", type=int, default=DEFAULT_N, help="operations counted per cell")
    ap.add_argument("--warmup", type=int, default=DEFAULT_WARMUP, help="uncounted ops per cell")
    ap.add_argument("--repeats", type=int, default=DEFAULT_REPEATS, help="callgrind runs")
    ap.add_argument("--cells", metavar="A,B", help="only cells whose name contains A or B")
    ap.add_argument("--child", metavar="KEYDIR", help=argparse.SUPPRESS)
    ap.add_argument("--manifest", metavar="FILE", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(Path(args.child), Path(args.manifest), args.n, args.warmup, select(args.cells))
        return 0
    if args.n < 1 or args.warmup < 0 or args.repeats < 1:
        ap.error("--n and --repeats must be at least 1, --warmup at least 0")
    if not select(args.cells):
        ap.error(f"no cell matches --cells {args.cells!r}")
    if args.from_json:
        counts, n = _load(args.from_json)
        print(table(counts))
    else:
        report = _measure(args)
        counts, n = report["instructions_per_op"], args.n
        print(f"code under test: {report['dsig_module']} (commit {report['commit']})")
        print(table(counts, report["spread"]))
        worst = max(report["spread"].values())
        print(
            f"\n{report['repeats']} callgrind runs of N={report['n']} ops per cell; largest "
            f"spread between runs {worst * 100:.3f} %; {report['seconds']} s"
        )
        if args.out:
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            (out / "instructions.json").write_text(json.dumps(report, indent=1) + "\n")
            print(f"wrote {out / 'instructions.json'}", file=sys.stderr)
    if args.compare:
        old, old_n = _load(args.compare)
        rows = compare(counts, old)
        print()
        if old_n is not None and old_n != n:
            print(f"warning: {args.compare} counted N={old_n} ops per cell, this run N={n}")
        print(compare_table(rows))
        worse = [r[0] for r in rows if r[4]]
        print(
            f"\n{len(worse)} cell(s) more than {(THRESHOLD - 1) * 100:.0f} % above {args.compare}"
            + (": " + ", ".join(worse) if worse else "")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
