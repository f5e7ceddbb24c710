"""Run the fuzz targets for a time budget.

    python -m tests.fuzz.run --seconds 60                 # every target, 60 s each
    python -m tests.fuzz.run --seconds 300 --target cms   # one target
    python -m tests.fuzz.run --seconds 60 --engine atheris

Prints, per target: executions, the slowest call (and the input size), the verdicts seen,
and the findings. Every finding's input is kept under tests/vectors/fuzz/<target>/ as a
regression vector (tests/test_fuzz.py replays them). Exit status 1 when anything was found.

Engines: ``hypothesis`` (default; structured cases, targeted at slow inputs with
``hypothesis.target``) and ``atheris`` (libFuzzer, coverage-guided; the same cases decoded
from the fuzzer's bytes, one child process per target).
"""

from __future__ import annotations

import argparse
import collections
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.utils import CryptographyDeprecationWarning
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis import target as hypothesis_target

if TYPE_CHECKING:
    from .targets import Case, Finding, Target

__all__ = ["Stats", "case_strategy", "fuzz", "main"]

OPS = st.lists(
    st.tuples(
        st.integers(0, 255),
        st.integers(0, 0xFFFF),
        st.integers(0, 0xFFFF),
        st.binary(max_size=64),
    ),
    max_size=4,
)


def case_strategy() -> st.SearchStrategy[Case]:
    from .targets import Case

    return st.builds(Case, st.integers(0, 255), OPS.map(tuple))


@dataclass
class Stats:
    target: str
    executions: int = 0
    seconds: float = 0.0
    max_call: float = 0.0
    max_call_bytes: int = 0
    max_input_bytes: int = 0
    verdicts: collections.Counter[str] = field(default_factory=collections.Counter)
    findings: list[Finding] = field(default_factory=list)
    saved: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "executions": self.executions,
            "seconds": round(self.seconds, 3),
            "max_call": self.max_call,
            "max_call_bytes": self.max_call_bytes,
            "max_input_bytes": self.max_input_bytes,
            "verdicts": dict(self.verdicts),
            "findings": [
                {"kind": f.kind, "detail": f.detail[:300], "seed": f.seed} for f in self.findings
            ],
            "saved": self.saved,
        }


def _record(stats: Stats, target: Target, case: Case, save: bool) -> float:
    from .targets import execute, save_finding

    out = execute(target, case)
    stats.executions += 1
    stats.verdicts[out.verdict] += 1
    stats.max_input_bytes = max(stats.max_input_bytes, out.size)
    if out.seconds > stats.max_call:
        stats.max_call = out.seconds
        stats.max_call_bytes = out.size
    if out.finding is not None:
        stats.findings.append(out.finding)
        if save:
            path = str(save_finding(out.finding))
            if path not in stats.saved:
                stats.saved.append(path)
    return out.seconds


def fuzz(
    name: str,
    *,
    seconds: float | None = None,
    examples: int | None = None,
    seed: int = 0,
    derandomize: bool = False,
    save: bool = True,
) -> Stats:
    """Run one target with hypothesis for ``seconds`` (in rounds of 200 examples) or for
    exactly ``examples`` examples (one round; ``derandomize`` makes it reproducible)."""
    from .targets import TARGETS

    target = TARGETS[name]
    target.seeds()  # build seeds (signing, sealing) outside the timed budget
    stats = Stats(name)
    start = time.monotonic()
    deadline = start + seconds if seconds is not None else float("inf")
    round_no = 0
    while True:
        per_round = examples if examples is not None else 200

        @settings(
            max_examples=per_round,
            database=None,
            deadline=None,
            derandomize=derandomize,
            phases=[Phase.generate, Phase.target],
            suppress_health_check=list(HealthCheck),
            report_multiple_bugs=False,
        )
        @given(case_strategy())
        def body(case: Case) -> None:
            if time.monotonic() > deadline:
                return
            # steer generation towards slow inputs (a hang is a finding too)
            hypothesis_target(_record(stats, target, case, save), label="seconds per call")

        if not derandomize:
            body = hypothesis_seed(seed + round_no)(body)
        body()
        round_no += 1
        if examples is not None or time.monotonic() > deadline:
            break
    stats.seconds = time.monotonic() - start
    return stats


# -- atheris ----------------------------------------------------------------------------


def _atheris_child(name: str, seconds: int, stats_path: str, save: bool) -> None:
    # optional, and without type information: imported by name
    atheris: Any = importlib.import_module("atheris")

    with atheris.instrument_imports(include=["xmppsec", "tests.fuzz"]):
        from .targets import TARGETS, decode_case

    target = TARGETS[name]
    target.seeds()
    stats = Stats(name)
    start = time.monotonic()
    last_write = [0.0]

    def write() -> None:
        stats.seconds = time.monotonic() - start
        Path(stats_path).write_text(json.dumps(stats.to_json()))

    def one(data: bytes) -> None:
        _record(stats, target, decode_case(data), save)
        now = time.monotonic()
        if now - last_write[0] > 1.0:
            last_write[0] = now
            write()

    atheris.Setup(
        [sys.argv[0], f"-max_total_time={seconds}", "-rss_limit_mb=3072", "-timeout=10"],
        one,
    )
    try:
        atheris.Fuzz()
    finally:
        write()


def _atheris(name: str, seconds: int, save: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        stats_path = os.path.join(tmp, "stats.json")
        root = Path(__file__).resolve().parents[2]
        subprocess.run(
            [sys.executable, "-m", "tests.fuzz.run", "--_atheris-child", name,
             "--seconds", str(seconds), "--_stats", stats_path]
            + ([] if save else ["--no-save"]),
            cwd=root,
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=seconds + 300,
        )
        try:
            result: dict[str, Any] = json.loads(Path(stats_path).read_text())
        except (OSError, ValueError):
            result = {"target": name, "executions": 0, "error": "atheris child wrote no stats"}
        return result


# -- command line -------------------------------------------------------------------------


def _print(result: dict[str, Any]) -> None:
    verdicts = ", ".join(
        f"{k} {v}" for k, v in sorted(result.get("verdicts", {}).items(), key=lambda kv: -kv[1])
    )
    print(
        f"{result['target']:<14} executions {result.get('executions', 0):>7}  "
        f"in {result.get('seconds', 0):7.1f} s  "
        f"max/call {result.get('max_call', 0) * 1000:8.1f} ms "
        f"({result.get('max_call_bytes', 0)} B)  largest input {result.get('max_input_bytes', 0)} B"
        f"  findings {len(result.get('findings', []))}"
    )
    if verdicts:
        print(f"{'':<14} verdicts: {verdicts}")
    for f in result.get("findings", [])[:10]:
        print(f"{'':<14} FINDING {f['kind']}: {f['detail']}")
    for path in result.get("saved", [])[:10]:
        print(f"{'':<14} saved {path}")
    if "error" in result:
        print(f"{'':<14} ERROR {result['error']}")


def main(argv: list[str] | None = None) -> int:
    from .targets import TARGETS

    ap = argparse.ArgumentParser(prog="python -m tests.fuzz.run", description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0, help="time budget per target")
    ap.add_argument("--target", choices=sorted(TARGETS), action="append",
                    help="run only this target (repeatable); default: all")
    ap.add_argument("--engine", choices=["hypothesis", "atheris"], default="hypothesis")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--no-save", action="store_true", help="do not write regression vectors")
    ap.add_argument("--json", action="store_true", help="print one JSON object per target")
    ap.add_argument("--_atheris-child", dest="child", help=argparse.SUPPRESS)
    ap.add_argument("--_stats", dest="stats", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    # mutated certificates trip cryptography's deprecation warnings by the thousand
    warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning)
    if args.child:
        _atheris_child(args.child, int(args.seconds), args.stats, not args.no_save)
        return 0
    names = args.target or list(TARGETS)
    found = 0
    print(f"engine {args.engine}, {args.seconds:g} s per target, seed {args.seed}")
    for name in names:
        if args.engine == "atheris":
            result = _atheris(name, max(1, int(args.seconds)), not args.no_save)
        else:
            result = fuzz(name, seconds=args.seconds, seed=args.seed,
                          save=not args.no_save).to_json()
        found += len(result.get("findings", []))
        if args.json:
            print(json.dumps(result))
        else:
            _print(result)
        sys.stdout.flush()
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
