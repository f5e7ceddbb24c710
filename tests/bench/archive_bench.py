"""Bulk verification benchmark.

``python -m tests.bench.archive_bench ARCHIVE --trust CERT [--jobs 1 2] [--json FILE]``
runs the archive verification (the code behind ``xmppsec verify --archive``) once per
``--jobs`` value under ``/usr/bin/time -v`` and reports wall time, stanzas per second, peak
RSS (the largest process: the reader or a worker) and the speed-up over the first value.
``python -m tests.bench.archive_bench verify ARCHIVE ...`` is the single run itself.
``python -m tests.bench.archive_bench dask ARCHIVE --trust CERT [--workers 2]`` runs it on
a Dask ``LocalCluster`` of worker processes (``--executor dask://local``) and reports the
peak RSS of each worker and of the coordinating process.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from xmppsec.cli._archive import verify_archive_cli

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[2]


def _verify(argv: list[str]) -> int:
    # The same arguments as `xmppsec verify --archive` (see docs/performance.md).
    ap = argparse.ArgumentParser(prog="archive_bench verify")
    ap.add_argument("archive")
    ap.add_argument("--report")
    ap.add_argument("--jobs", type=int)
    ap.add_argument("--trust", action="append", default=[])
    ap.add_argument("--profile", default="auto")
    ap.add_argument("--now")
    ap.add_argument("--executor")
    return verify_archive_cli(ap.parse_args(argv))


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _dask(argv: list[str]) -> int:
    """One run on a LocalCluster: wall time, stanzas/s, peak RSS per worker."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from xmppsec.archive import ArchiveConfig, DaskExecutor, verify_archive
    from xmppsec.cli._common import archive_line, load_pins

    ap = argparse.ArgumentParser(prog="archive_bench dask")
    ap.add_argument("archive")
    ap.add_argument("--trust", required=True)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--shard-mb", type=float, default=4.0)
    ap.add_argument("--report", default=os.devnull)
    args = ap.parse_args(argv)
    executor = DaskExecutor.local(workers=args.workers)
    try:
        # The CLI's report lines (as the fork-pool run writes them): the two reports compare
        # byte for byte.
        config = ArchiveConfig(
            pins=tuple((n, c.public_bytes(Encoding.DER)) for n, c in load_pins([args.trust])),
            report=archive_line,
        )
        with open(args.report, "w", encoding="utf-8") as out:
            summary = verify_archive(
                args.archive,
                config,
                out,
                executor=executor,
                shard_bytes=int(args.shard_mb * (1 << 20)),
            )
        workers = executor.client.run(_peak_rss_mb)
    finally:
        executor.close()
    print(
        f"dask workers={args.workers}: {summary.stanzas} stanzas ({summary.valid} valid) in "
        f"{summary.seconds:.1f} s = {summary.stanzas / summary.seconds:,.0f}/s; peak RSS per "
        f"worker {', '.join(f'{v:.0f}' for v in workers.values())} MB, coordinator "
        f"{_peak_rss_mb():.0f} MB",
        flush=True,
    )
    return 0


def _run(archive: str, trust: str, jobs: int, report: str) -> dict[str, float | int | str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(str(ROOT / p) for p in ("runtime", "generated", "codegen"))
    env["PYTHONPATH"] += os.pathsep + str(ROOT)
    cmd = [
        "/usr/bin/time",
        "-v",
        sys.executable,
        "-m",
        "tests.bench.archive_bench",
        "verify",
        archive,
        "--trust",
        trust,
        "--jobs",
        str(jobs),
        "--report",
        report,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    err = proc.stderr

    def grab(pattern: str) -> str:
        m = re.search(pattern, err)
        return m.group(1) if m else ""

    wall = grab(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([0-9:.]+)")
    parts = [float(p) for p in wall.split(":")] if wall else [0.0]
    seconds = sum(p * 60**i for i, p in enumerate(reversed(parts)))
    summary = grab(r"(\d+ stanzas: .*)")
    stanzas = int(summary.split()[0]) if summary else 0
    return {
        "jobs": jobs,
        "exit": proc.returncode,
        "wall_s": seconds,
        "stanzas": stanzas,
        "stanzas_per_s": stanzas / seconds if seconds else 0.0,
        "peak_rss_mb": int(grab(r"Maximum resident set size \(kbytes\): (\d+)") or 0) / 1024,
        "user_s": float(grab(r"User time \(seconds\): ([0-9.]+)") or 0),
        "system_s": float(grab(r"System time \(seconds\): ([0-9.]+)") or 0),
        "summary": summary,
    }


def _burn(n: int) -> float:
    t0 = time.perf_counter()
    x = 0
    for i in range(n):
        x += i * i
    return time.perf_counter() - t0


def parallelism_probe(jobs: int = 2, n: int = 10_000_000) -> float:
    """How many cores this process can actually use right now (on a shared machine other
    jobs take some): ``jobs`` pure-Python burners in parallel vs one after the other."""
    t0 = time.perf_counter()
    for _ in range(jobs):
        _burn(n)
    serial = time.perf_counter() - t0
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        t0 = time.perf_counter()
        pool.map(_burn, [n] * jobs)
        parallel = time.perf_counter() - t0
    return serial / parallel


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "verify":
        return _verify(argv[1:])
    if argv and argv[0] == "dask":
        return _dask(argv[1:])
    ap = argparse.ArgumentParser(prog="python -m tests.bench.archive_bench")
    ap.add_argument("archive")
    ap.add_argument("--trust", required=True)
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--report-dir", default="/tmp")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args(argv)
    size = Path(args.archive).stat().st_size
    runs = []
    probe_before = parallelism_probe()
    print(f"available parallelism (2 burners): {probe_before:.2f}×", flush=True)
    for jobs in args.jobs:
        report = str(Path(args.report_dir) / f"archive-report-j{jobs}.jsonl")
        r = _run(args.archive, args.trust, jobs, report)
        runs.append(r)
        base = runs[0]["wall_s"]
        speedup = float(base) / float(r["wall_s"]) if r["wall_s"] else 0.0
        r["speedup"] = speedup
        print(
            f"jobs={jobs}: {r['stanzas']} stanzas in {r['wall_s']:.1f} s = "
            f"{r['stanzas_per_s']:,.0f}/s, peak RSS {r['peak_rss_mb']:.0f} MB, "
            f"speed-up {speedup:.2f}× (exit {r['exit']}; {r['summary']})",
            flush=True,
        )
    probe_after = parallelism_probe()
    print(f"available parallelism (2 burners) after: {probe_after:.2f}×", flush=True)
    if args.json:
        data = {
            "archive_bytes": size,
            "cpu_count": os.cpu_count(),
            "parallelism_probe": [probe_before, probe_after],
            "runs": runs,
        }
        Path(args.json).write_text(json.dumps(data, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
