"""Typed access stays cheap: ``python -m tests.bench.startup [--repeat 7]``.

Measures, in fresh interpreters (best of ``--repeat``): the time to import every binding
module (inside the interpreter, so interpreter start-up is excluded), the same for
``xmppsec.dsig`` (the hot path, which must not import the bindings), and the wall time of
``python -m codegen --check`` (generates the bindings for all schemas into a temporary
directory and compares; nothing in the tree is written).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["main"]

BINDINGS = (
    "xml",
    "xmldsig",
    "xmldsig11",
    "dsig",
    "dsig_robust",
    "e2e",
    "jabber_client",
    "stanzas",
    "delay",
    "pidf",
)
ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(str(ROOT / p) for p in ("runtime", "generated", "codegen"))
    return env


def import_time(modules: list[str], repeat: int) -> tuple[float, bool]:
    """Best import time (s) of ``modules`` and whether the bindings got imported."""
    code = (
        "import sys, time\n"
        "t = time.perf_counter()\n"
        + "".join(f"import {m}\n" for m in modules)
        + "print(time.perf_counter() - t, 'xmppsec.bindings' in sys.modules)\n"
    )
    best = float("inf")
    loaded = False
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, text=True, env=_env()
        ).stdout.split()
        best = min(best, float(out[0]))
        loaded = out[1] == "True"
    return best, loaded


def wall_time(modules: list[str], repeat: int) -> float:
    """Best wall time of a fresh ``python -c 'import ...'`` (interpreter start included)."""
    code = "".join(f"import {m}\n" for m in modules) or "pass\n"
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=_env())
        best = min(best, time.perf_counter() - t0)
    return best


def codegen_time(repeat: int) -> tuple[float, int]:
    best = float("inf")
    status = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "codegen", "--check", "-q"],
            cwd=ROOT,
            capture_output=True,
            env=_env(),
        )
        best = min(best, time.perf_counter() - t0)
        status = proc.returncode
    return best, status


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.bench.startup")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args(argv)
    bindings = [f"xmppsec.bindings.{m}" for m in BINDINGS]
    t_bind, _ = import_time(bindings, args.repeat)
    t_dsig, dsig_loads_bindings = import_time(["xmppsec.dsig"], args.repeat)
    w_bind = wall_time(bindings, args.repeat)
    w_empty = wall_time([], args.repeat)
    t_codegen, status = codegen_time(max(1, args.repeat // 3))
    report = {
        "import_bindings_ms": t_bind * 1e3,
        "import_dsig_ms": t_dsig * 1e3,
        "dsig_imports_bindings": dsig_loads_bindings,
        "python_import_bindings_wall_ms": w_bind * 1e3,
        "python_startup_wall_ms": w_empty * 1e3,
        "codegen_check_s": t_codegen,
        "codegen_check_status": status,
    }
    print(f"import all {len(bindings)} binding modules: {t_bind * 1e3:.0f} ms (target < 150 ms)")
    print(
        f"python -c 'import <all bindings>': {w_bind * 1e3:.0f} ms wall "
        f"(an empty interpreter: {w_empty * 1e3:.0f} ms)"
    )
    print(
        f"import xmppsec.dsig: {t_dsig * 1e3:.0f} ms "
        f"(imports the bindings: {'yes' if dsig_loads_bindings else 'no'})"
    )
    print(
        f"python -m codegen --check (all schemas): {t_codegen:.1f} s, exit {status} (target < 10 s)"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
