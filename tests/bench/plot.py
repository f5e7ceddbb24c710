"""The benchmark's plot (docs/img/bench.png), from a run's cells or from the published table.

``python -m tests.bench.plot docs/performance.md docs/img/bench.png`` redraws the committed
plot from the table of docs/performance.md (the cells of the run documented there), so the
picture and the numbers beside it cannot disagree, without running the benchmark again.

Each bar is one implementation's time over LB on a linear axis, labelled with that ratio and
the absolute time; a peer that cannot do the cell (no Ed25519 in signxml or python-xmlsec) is
marked "no peer" where its bar would be.
"""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["BARS", "cells_from_table", "figure", "plot"]

OPS = ("sign", "verify")
TARGETS = {"sign": 1.3, "verify": 2.0}
# implementation -> (legend, colour), in the order of the bars of a group
BARS: dict[str, tuple[str, str]] = {
    "floor": ("floor (no checks)", "#7f7f7f"),
    "xmppsec-spec": ("xmppsec, spec profile", "#1f77b4"),
    "xmppsec-robust": ("xmppsec, robust profile", "#9ec3e6"),
    "signxml": ("signxml", "#d62728"),
    "xmlsec": ("python-xmlsec", "#ff7f0e"),
}
PEERS = ("signxml", "xmlsec")

# the columns of tests.bench.run.table(), which docs/performance.md publishes
_COLUMNS = (
    "op", "alg", "stanza", "LB µs", "spec µs", "spec/LB", "floor/LB", "robust/LB",
    "robust/spec", "signxml/LB", "xmlsec/LB", "spec/signxml", "spec/xmlsec", "≤ target",
    "beats peers",
)


def _ratio(text: str) -> float | None:
    text = text.strip()
    return None if text == "—" else float(text.removesuffix("×"))


def cells_from_table(markdown: str) -> list[dict[str, Any]]:
    """The cells of the first benchmark table in ``markdown``, in tests.bench.run's shape.

    The table keeps the ratios to two decimals and LB and spec to the microsecond; the other
    absolute times are LB × ratio (within 1 % of the run's). ``tests.bench.run.table`` of the
    result prints the same table again."""
    lines = markdown.splitlines()
    head = "| " + " | ".join(_COLUMNS) + " |"
    start = lines.index(head) + 2
    out: list[dict[str, Any]] = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        f = dict(zip(_COLUMNS, (c.strip() for c in line.strip("|").split("|")), strict=True))
        lb, spec = float(f["LB µs"]), float(f["spec µs"])
        ratios = {
            "lb": 1.0,
            "floor": _ratio(f["floor/LB"]),
            "xmppsec-spec": _ratio(f["spec/LB"]),
            "xmppsec-robust": _ratio(f["robust/LB"]),
            "signxml": _ratio(f["signxml/LB"]),
            "xmlsec": _ratio(f["xmlsec/LB"]),
        }
        ratio_lb = {k: v for k, v in ratios.items() if v is not None}
        us = {k: lb * v for k, v in ratio_lb.items()}
        us["lb"], us["xmppsec-spec"] = lb, spec
        peer = {p: _ratio(f[f"spec/{p}"]) for p in PEERS}
        target = re.fullmatch(r"(?:yes|\*\*no\*\*) \((?P<t>[\d.]+)×\)", f["≤ target"])
        assert target is not None, f["≤ target"]
        out.append({
            "op": f["op"], "alg": f["alg"], "stanza": f["stanza"], "us": us,
            "ratio_lb": ratio_lb,
            "robust_over_spec": _ratio(f["robust/spec"]),
            "spec_over_peer": {p: v for p, v in peer.items() if v is not None},
            "target": float(target["t"]),
            "meets_lb_target": f["≤ target"].startswith("yes"),
            "faster_than_peers": {"yes": True, "**no**": False, "—": None}[f["beats peers"]],
        })
    return out


def _us(value: float) -> str:
    return f"{value:.0f} µs" if value >= 10 else f"{value:.1f} µs"


def plot(cs: list[dict[str, Any]], path: Path) -> bool:
    """Draw ``cs`` into ``path`` (PNG); False when matplotlib is absent."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    from PIL import Image  # matplotlib's own dependency

    fig = figure(cs)
    raw = io.BytesIO()
    fig.savefig(raw, format="png", dpi=200)
    plt.close(fig)
    # 128 colours hold the bars, lines and anti-aliased text: a third of the RGBA size
    with Image.open(raw) as image:
        image.convert("RGB").quantize(
            colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        ).save(path, format="PNG", optimize=True)
    return True


def figure(cs: list[dict[str, Any]]) -> Figure:
    """The plot of ``cs``: a row per algorithm, a column per operation, a group of bars per
    stanza. Sized for a page about 8.5 inches wide, drawn at twice that resolution."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    algs = list(dict.fromkeys(c["alg"] for c in cs))
    fig, grid = plt.subplots(len(algs), len(OPS), figsize=(8.6, 3.5 * len(algs) + 0.9),
                             sharey=True, squeeze=False)
    n = len(BARS)
    width = 0.86 / n
    top = max(v for c in cs for k, v in c["ratio_lb"].items() if k in BARS)
    for row, alg in zip(grid, algs, strict=True):
        for ax, op in zip(row, OPS, strict=True):
            sel = [c for c in cs if c["op"] == op and c["alg"] == alg]
            for i, (impl, (legend, colour)) in enumerate(BARS.items()):
                for j, c in enumerate(sel):
                    x = j + (i - (n - 1) / 2) * width
                    ratio = c["ratio_lb"].get(impl)
                    if ratio is None:  # the peer cannot do this cell
                        ax.bar(x, top * 0.2, width, color="#f4f4f4", edgecolor=colour,
                               linestyle="--", linewidth=0.8)
                        ax.text(x, top * 0.012, "no peer", rotation=90, ha="center",
                                va="bottom", fontsize=6.5, color="#333333", style="italic")
                        continue
                    ax.bar(x, ratio, width, color=colour, label=legend)
                    ax.text(x, ratio + top * 0.015, f"{ratio:.2f}×  {_us(c['us'][impl])}",
                            rotation=90, ha="center", va="bottom", fontsize=6.5,
                            bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.3,
                                  "alpha": 0.8})
            ax.axhline(1.0, color="black", linewidth=0.9)
            ax.axhline(TARGETS[op], color="green", linestyle="--", linewidth=1.1)
            ax.set_xlim(-0.5, len(sel) - 0.5)
            ax.set_ylim(0, top * 1.45)
            ax.yaxis.set_major_locator(MultipleLocator(1.0))
            ax.yaxis.set_minor_locator(MultipleLocator(0.5))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}×"))
            ax.tick_params(axis="y", labelsize=7.5, labelleft=True)
            ax.set_title(f"{alg}: {op}  (target ≤ {TARGETS[op]:.1f}× LB, dashed)",
                         fontsize=8.5, loc="left")
            ax.set_xticks(range(len(sel)))
            ax.set_xticklabels([f"{c['stanza']}\nLB {_us(c['us']['lb'])}" for c in sel],
                               fontsize=7.5)
            ax.grid(axis="y", which="both", alpha=0.3)
        row[0].set_ylabel("time / LB (1× = LB)", fontsize=8)
    handles, labels = grid[0][0].get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    fig.legend(unique.values(), unique.keys(), loc="upper center", ncol=n, fontsize=7.5,
               bbox_to_anchor=(0.5, 0.975), frameon=False)
    fig.suptitle(
        "Time over the lower bound LB, with the absolute time on each bar (minimum over "
        "interleaved rounds; lower is better)",
        fontsize=9, y=0.995,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.965))
    return fig


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m tests.bench.plot PAGE.md OUT.png", file=sys.stderr)
        return 2
    cs = cells_from_table(Path(args[0]).read_text(encoding="utf-8"))
    if not plot(cs, Path(args[1])):
        print("matplotlib is not installed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
