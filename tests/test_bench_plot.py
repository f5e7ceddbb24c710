"""The benchmark plot of docs/performance.md (docs/img/bench.png) is drawn from the table
published beside it (``python -m tests.bench.plot docs/performance.md docs/img/bench.png``):
the table is read back exactly, the axes are linear with plain labels, every bar carries its
ratio and its absolute time, and a cell no peer can do says so."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from tests.bench.plot import BARS, PEERS, cells_from_table, figure, main  # noqa: E402
from tests.bench.run import table  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PAGE = (ROOT / "docs" / "performance.md").read_text(encoding="utf-8")


def test_the_published_table_is_read_back_exactly() -> None:
    cells = cells_from_table(PAGE)
    assert len(cells) == 18
    assert table(cells) in PAGE  # the same lines, character for character
    small = next(c for c in cells if (c["op"], c["alg"], c["stanza"]) == ("sign", "rsa-2048", "small"))
    assert small["us"]["lb"] == 271 and small["us"]["xmppsec-spec"] == 324
    assert abs(small["us"]["signxml"] - 271 * 1.49) < 1e-9


def test_linear_axes_absolute_times_and_no_peer_marks() -> None:
    cells = cells_from_table(PAGE)
    fig = figure(cells)
    try:
        texts = [t.get_text() for ax in fig.axes for t in ax.texts]
        for ax in fig.axes:
            assert ax.get_yscale() == "linear"
            fig.canvas.draw()
            labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
            assert labels and all(label.endswith("×") and "^" not in label for label in labels)
            assert all("LB " in t.get_text() and "µs" in t.get_text() for t in ax.get_xticklabels())
        missing = sum(1 for c in cells for p in PEERS if p not in c["ratio_lb"])
        assert missing == 12  # Ed25519: neither peer signs or verifies with it
        assert texts.count("no peer") == missing
        drawn = sum(1 for c in cells for impl in BARS if impl in c["ratio_lb"])
        bar_labels = [t for t in texts if "× " in t and t.endswith("µs")]
        assert len(bar_labels) == drawn
        # the spec profile's bar of the first cell: its ratio and its time as published
        assert "1.19×  324 µs" in bar_labels
    finally:
        plt.close(fig)


def test_the_command_writes_a_png(tmp_path: Path) -> None:
    out = tmp_path / "bench.png"
    assert main([str(ROOT / "docs" / "performance.md"), str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main([]) == 2
