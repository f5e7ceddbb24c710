"""The house as docs/architecture.md draws it: each runtime module imports only from the
layers below it, and the picture (docs/img/architecture.dot) shows exactly the imports the
code has between its boxes."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = ROOT / "runtime" / "xmppsec"
DOT = ROOT / "docs" / "img" / "architecture.dot"

# Each box of the picture and its layer: a box imports only boxes of a lower layer.
LAYERS: dict[str, int] = {
    "errors": 0,
    "_lxml": 0,
    "xmpp": 1,
    "jid": 1,
    "algorithms": 1,
    "parser": 1,
    "keys": 2,
    "timestamps": 2,
    "replay": 2,
    "schema": 2,
    "trust": 3,
    "dsig": 4,
    "e2e": 4,
    "facade": 5,
    "hazmat": 5,
    "archive": 5,
    "integrations": 5,
    "cli": 6,
}
# Imported everywhere, drawn once: the arrows to these are left out of the picture.
EVERYWHERE = {"errors", "_lxml"}
# Outside the runtime: the generated bindings (below everything) and the generator.
OUTSIDE = {"bindings", "codegen"}


def _box(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "xmppsec":
        return None
    if len(parts) == 1:
        return "facade"
    return parts[1]


def _imports() -> dict[str, set[str]]:
    """box -> the boxes its modules import (at module level or inside functions)."""
    edges: dict[str, set[str]] = {}
    for path in RUNTIME.rglob("*.py"):
        parts = path.relative_to(RUNTIME.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        box = _box(module)
        assert box is not None
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    if node.module:
                        targets = [".".join([*base, node.module])]
                    else:
                        targets = [".".join([*base, a.name]) for a in node.names]
                elif node.module:
                    targets = [node.module]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for target in targets:
                other = _box(target)
                if other is not None and other != box:
                    edges.setdefault(box, set()).add(other)
    return edges


def test_every_module_is_a_box_of_the_picture() -> None:
    boxes = {
        "facade" if p.name == "__init__.py" and p.parent == RUNTIME
        else p.relative_to(RUNTIME).parts[0].removesuffix(".py")
        for p in RUNTIME.rglob("*.py")
    }
    assert boxes == set(LAYERS)


def test_imports_go_down_only() -> None:
    wrong = [
        (box, other)
        for box, others in _imports().items()
        for other in others
        if other not in OUTSIDE and LAYERS[other] >= LAYERS[box]
    ]
    assert wrong == [], "an import to the same or a higher layer: " + repr(wrong)


def test_the_picture_shows_exactly_the_imports() -> None:
    drawn = set(re.findall(r"^\s*(?:\w+ -> \w+;\s*)+", DOT.read_text(encoding="utf-8"), re.M))
    arrows = {
        tuple(pair.split(" -> "))
        for line in drawn
        for pair in re.findall(r"\w+ -> \w+", line)
    }
    real = {
        (box, other)
        for box, others in _imports().items()
        for other in others
        if other not in EVERYWHERE | OUTSIDE
    }
    # errors is drawn under the ground floor: the layer-1 boxes point at it.
    shown = {a for a in arrows if a[1] not in EVERYWHERE}
    assert shown == real, {"drawn, not in the code": shown - real, "in the code, not drawn": real - shown}


def test_the_svg_is_rendered_from_the_dot() -> None:
    svg = (ROOT / "docs" / "img" / "architecture.svg").read_text(encoding="utf-8")
    for box in LAYERS:
        if box not in EVERYWHERE - {"errors"}:
            assert f"<title>{box}</title>" in svg, box
