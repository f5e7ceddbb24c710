"""A short, deterministic pass of every fuzz target (tests/fuzz/), and every saved
regression vector (tests/vectors/fuzz/<target>/) through its target's oracle.

The long runs are ``python -m tests.fuzz.run --seconds N`` (docs/fuzzing.md).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.fuzz.run import fuzz
from tests.fuzz.targets import SLOW_SECONDS, TARGETS, VECTORS, Case, execute, run_input

EXAMPLES = 150


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_fuzz_target_short_pass(name: str) -> None:
    stats = fuzz(name, examples=EXAMPLES, derandomize=True, save=False)
    assert stats.executions == EXAMPLES
    assert stats.findings == [], [(f.kind, f.detail) for f in stats.findings]
    assert stats.max_call < SLOW_SECONDS
    # the pass reaches past the first check: some inputs are refused, some accepted
    assert len(stats.verdicts) > 1, stats.verdicts


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_unmutated_seeds_pass_the_oracle(name: str) -> None:
    target = TARGETS[name]
    for i in range(len(target.seeds())):
        out = execute(target, Case(i, ()))
        assert out.finding is None, out.finding
        if target.valid_seeds:
            assert out.verdict in ("ok", "valid"), (i, out.verdict)


def _vectors() -> list[Path]:
    return sorted(p for p in VECTORS.glob("*/*.bin") if p.parent.name in TARGETS)


@pytest.mark.parametrize("path", _vectors(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_regression_vector(path: Path) -> None:
    """Every input a fuzzer ever found stays fixed (named s<seed>-<sha256 prefix>.bin)."""
    m = re.fullmatch(r"s(\d+)-[0-9a-f]{16}\.bin", path.name)
    assert m is not None, path.name
    out = run_input(TARGETS[path.parent.name], path.read_bytes(), int(m.group(1)))
    assert out.finding is None, out.finding.detail
