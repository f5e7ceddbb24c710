"""xmppsec.errors: one taxonomy (issue 12).

* ``XmppSecError`` is a base, never raised or built itself: an AST scan of every module of
  runtime/xmppsec finds no ``XmppSecError(...)``;
* every exception class a module exports (its ``__all__``) derives from ``XmppSecError``;
* ``UsageError`` (the caller's mistakes) is a ``ValueError``;
* the class tree is the one drawn in docs/architecture.md ("Errors"), class for class;
* ``check_limit`` raises ``LimitExceeded`` naming the limit, only above the maximum.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import xmppsec
from xmppsec import errors
from xmppsec.errors import LimitExceeded, UsageError, XmppSecError, check_limit
from xmppsec.integrations.slixmpp import PluginConfigError

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = ROOT / "runtime" / "xmppsec"
ARCHITECTURE = ROOT / "docs" / "architecture.md"


def _base_built(tree: ast.AST) -> list[int]:
    """Lines where ``XmppSecError`` (by name or as ``errors.XmppSecError``) is called or
    raised bare."""
    lines = set()
    for node in ast.walk(tree):
        target: ast.expr | None = None
        if isinstance(node, ast.Call):
            target = node.func
        elif isinstance(node, ast.Raise) and not isinstance(node.exc, ast.Call):
            target = node.exc
        if (isinstance(target, ast.Name) and target.id == "XmppSecError") or (
            isinstance(target, ast.Attribute) and target.attr == "XmppSecError"
        ):
            lines.add(target.lineno)
    return sorted(lines)


def test_the_scan_finds_what_it_looks_for() -> None:
    src = (
        "raise XmppSecError('x')\n"
        "raise errors.XmppSecError\n"
        "e = XmppSecError('y')\n"
        "raise UsageError('fine')\n"
        "try:\n    pass\nexcept XmppSecError:\n    raise\n"
        "ok = isinstance(e, XmppSecError)\n"
    )
    assert _base_built(ast.parse(src)) == [1, 2, 3]


def test_the_base_is_never_raised_in_the_runtime() -> None:
    files = sorted(RUNTIME.rglob("*.py"))
    assert len(files) > 20  # the scan sees the whole package
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in files
        for line in _base_built(ast.parse(path.read_text(encoding="utf-8"), str(path)))
    ]
    assert found == [], "raise a typed subclass instead of XmppSecError: " + ", ".join(found)


def _public_exceptions() -> dict[str, type[BaseException]]:
    """Every exception class some xmppsec module exports in ``__all__``, by qualified name."""
    out: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(xmppsec.__path__, "xmppsec."):
        if info.name.rsplit(".", 1)[-1] == "__main__":
            continue  # running it is what importing it does
        module = importlib.import_module(info.name)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if inspect.isclass(obj) and issubclass(obj, BaseException):
                out[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return out


def test_every_public_error_derives_from_the_base() -> None:
    public = _public_exceptions()
    assert "xmppsec.errors.SignerMismatch" in public and len(public) >= 27
    strays = sorted(name for name, cls in public.items() if not issubclass(cls, XmppSecError))
    assert strays == []


def test_usage_error_is_a_value_error() -> None:
    assert issubclass(UsageError, ValueError) and issubclass(UsageError, XmppSecError)
    assert issubclass(PluginConfigError, UsageError)
    with pytest.raises(ValueError):
        raise UsageError("callers catching ValueError keep working")
    # a peer-input error is not a ValueError: the two kinds do not overlap
    peer = [cls for cls in _public_exceptions().values() if not issubclass(cls, UsageError)]
    assert peer and not any(issubclass(cls, ValueError) for cls in peer)


def _documented_tree() -> dict[str, str | None]:
    """class name -> parent name, read from the ```text block under "## Errors" in
    docs/architecture.md (four spaces of indentation per level)."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    section = text.split("\n## Errors\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```text\n(.*?)```", section, re.S)
    assert match is not None, "docs/architecture.md: no class tree under ## Errors"
    parents: dict[str, str | None] = {}
    stack: list[str] = []
    for line in match.group(1).splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        assert indent % 4 == 0, line
        depth = indent // 4
        name = line.split()[0]
        del stack[depth:]
        parents[name] = stack[-1] if stack else None
        stack.append(name)
    return parents


def test_the_class_tree_is_as_documented() -> None:
    documented = _documented_tree()
    assert documented["XmppSecError"] is None
    actual: dict[str, str | None] = {}
    for cls in _public_exceptions().values():
        if cls is XmppSecError:
            actual[cls.__name__] = None
            continue
        # the first base is the one in the tree; UsageError's second base is ValueError
        actual[cls.__name__] = cls.__bases__[0].__name__
    assert actual == documented
    assert UsageError.__bases__ == (XmppSecError, ValueError)
    assert all(
        len(cls.__bases__) == 1 for cls in _public_exceptions().values() if cls is not UsageError
    )


def test_every_class_of_errors_is_exported() -> None:
    defined = {
        name
        for name, obj in vars(errors).items()
        if inspect.isclass(obj)
        and issubclass(obj, BaseException)
        and obj.__module__ == errors.__name__
    }
    assert defined <= set(errors.__all__)


def test_check_limit() -> None:
    check_limit("max_depth", 64, 64)  # at the limit: accepted
    with pytest.raises(LimitExceeded) as exc:
        check_limit("max_depth", 65, 64)
    assert (exc.value.limit, exc.value.value, exc.value.maximum) == ("max_depth", 65, 64)
    assert "max_depth" in str(exc.value)
