"""The pure helpers of the instruction-count benchmark (tests/bench/instructions.py): reading
callgrind's totals, the per-operation arithmetic and the before/after comparison. Valgrind is
not run here; the benchmark itself is run by hand (docs/performance.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bench.instructions import (
    CELLS,
    THRESHOLD,
    compare,
    main,
    per_op,
    read_parts,
    read_total,
    select,
    spread,
)

HEADER = "version: 1\ncreator: callgrind-3.19.0\ncmd: python\npart: {part}\n"


def test_cells_are_the_sixteen_of_the_issue() -> None:
    names = {c.name for c in CELLS}
    assert len(names) == 16
    assert {c.op for c in CELLS} == {"sign", "verify"}
    assert {c.alg for c in CELLS} == {"ecdsa-p256", "rsa-2048"}
    assert {c.stanza for c in CELLS} == {"small", "children50"}
    assert {c.profile for c in CELLS} == {"spec", "robust"}


def test_read_total_prefers_totals_and_picks_the_event() -> None:
    text = "events: Ir Dr\nsummary: 10 20\nfn=(1) f\n0 3 4\ntotals: 11 21\n"
    assert read_total(text) == 11
    assert read_total(text, "Dr") == 21
    assert read_total("events: Ir\nsummary: 58927978\n") == 58927978


@pytest.mark.parametrize(
    "text",
    [
        "events: Ir\n",  # no totals and no summary
        "events: Dr\ntotals: 5\n",  # Ir not collected
        "events: Dr Ir\ntotals: 5\n",  # fewer values than events
    ],
)
def test_read_total_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(ValueError):
        read_total(text)


def test_read_parts_numbers_dumps_by_their_part_line(tmp_path: Path) -> None:
    # callgrind writes cg.out.N for the dumps and cg.out at exit; the part: line is the order.
    (tmp_path / "cg.out.1").write_text(HEADER.format(part=1) + "events: Ir\ntotals: 100\n")
    (tmp_path / "cg.out.2").write_text(HEADER.format(part=2) + "events: Ir\ntotals: 7\n")
    (tmp_path / "cg.out").write_text(HEADER.format(part=3) + "events: Ir\nsummary: 9\n")
    (tmp_path / "manifest.json").write_text("{}")
    assert read_parts(tmp_path, "cg.out") == {1: 100, 2: 7, 3: 9}


def test_per_op_subtracts_the_empty_interval() -> None:
    parts = {1: 10**9, 2: 400, 3: 20 * 1000 + 400, 4: 5, 5: 380, 6: 10 * 3000 + 380}
    manifest = [
        {"cell": "a", "n": 20, "empty": 2, "ops": 3},
        {"cell": "b", "n": 10, "empty": 5, "ops": 6},
    ]
    assert per_op(parts, manifest) == {"a": 1000.0, "b": 3000.0}
    with pytest.raises(ValueError):
        per_op(parts, [{"cell": "c", "n": 0, "empty": 2, "ops": 3}])


def test_spread() -> None:
    assert spread([100.0, 100.0]) == 0.0
    assert spread([99.0, 101.0, 100.0]) == pytest.approx(0.02)


def test_compare_flags_only_cells_above_the_threshold() -> None:
    old = {"sign/ecdsa-p256/small/spec": 1000.0, "verify/ecdsa-p256/small/spec": 1000.0}
    new = {
        "sign/ecdsa-p256/small/spec": 1000.0 * THRESHOLD,  # exactly 5 % worse: not flagged
        "verify/ecdsa-p256/small/spec": 1051.0,
        "sign/rsa-2048/small/spec": 5.0,  # new cell: nothing to compare with
    }
    rows = {r[0]: r for r in compare(new, old)}
    assert rows["sign/ecdsa-p256/small/spec"][4] is False
    assert rows["verify/ecdsa-p256/small/spec"][3] == pytest.approx(1.051)
    assert rows["verify/ecdsa-p256/small/spec"][4] is True
    assert rows["sign/rsa-2048/small/spec"][3] is None
    assert rows["sign/rsa-2048/small/spec"][4] is False


def test_main_compares_two_saved_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    counts = {c.name: 1_000_000.0 for c in CELLS}
    (tmp_path / "old.json").write_text(json.dumps({"n": 20, "instructions_per_op": counts}))
    worse = dict(counts, **{CELLS[0].name: 1_060_000.0})
    (tmp_path / "new.json").write_text(json.dumps({"n": 10, "instructions_per_op": worse}))
    assert (
        main(["--from-json", str(tmp_path / "new.json"), "--compare", str(tmp_path / "old.json")])
        == 0
    )
    out = capsys.readouterr().out
    assert f"| {CELLS[0].name} | 1,000,000 | 1,060,000 | 1.0600 **> 1.05** |" in out
    assert f"1 cell(s) more than 5 % above {tmp_path / 'old.json'}: {CELLS[0].name}" in out
    assert "warning:" in out and "N=20" in out  # counts taken with another N


def test_select_by_substring() -> None:
    assert select(None) == CELLS
    picked = select("sign/rsa-2048/small, verify/ecdsa-p256/children50/robust")
    assert [c.name for c in picked] == [
        "verify/ecdsa-p256/children50/robust",
        "sign/rsa-2048/small/spec",
        "sign/rsa-2048/small/robust",
    ]
    assert select("nothing") == ()
