"""Docs that run: every code block of README.md and docs/ is executed as written, in order.

Per page, in a fresh temporary directory (the working directory of every block):

* ```` ```python ```` blocks run in-process, one namespace per page (a later block sees the
  names an earlier one defined);
* ```` ```sh ````, ```` ```shell ```` and ```` ```bash ```` blocks run with ``bash -e -o
  pipefail``, the virtual environment's ``bin`` first on ``PATH`` (so ``xmppsec`` is this
  checkout's);
* ```` ```console ```` blocks are transcripts: each ``$ command`` runs in one bash session and
  its output must match the lines written under it (a line holding ``...`` matches any text
  in that place);
* a block right after ``<!-- not-run: reason -->`` is not run (a registry download, a server
  on the network, a command that runs this test suite or edits the source checkout); the
  test counts them, and their number may only go down.

Every fence carries a language, so a command cannot escape the test by being unlabelled
(``text`` for listings and output, ``xml``, ``json``).

The second half renders the site with ``mkdocs build`` and checks that every fenced block of
each page became a ``<pre><code>`` block: a block inside a list item needs four spaces of
indentation, and a wrong indentation renders as inline text without any build warning.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import xmppsec.schema as xmppsec_schema

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BIN = Path(sys.executable).parent

PYTHON = {"python", "py"}
SHELL = {"sh", "shell", "bash"}
CONSOLE = {"console"}
INERT = {"text", "xml", "json", "toml", "ini", "yaml", "dot", "jinja2", "diff", "lua", "sql"}
# Blocks marked not-run, by page (the count may shrink, never grow without a reason here).
MAX_NOT_RUN = 20

_FENCE = re.compile(r"^(?P<indent>[ ]*)(?P<fence>`{3,}|~{3,})(?P<lang>[\w+-]*)[ \t]*$")
_NOT_RUN = re.compile(r"^\s*<!--\s*not-run:\s*(?P<why>.+?)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    indent: int
    code: str
    not_run: str | None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The fenced blocks of a page, their indentation removed."""
    lines = page.read_text(encoding="utf-8").splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        indent, fence = len(m["indent"]), m["fence"]
        j = i + 1
        body: list[str] = []
        while j < len(lines):
            stripped = lines[j].strip()
            if stripped.startswith(fence) and not stripped.strip(fence[0]):
                break
            body.append(lines[j][indent:] if lines[j][:indent].strip() == "" else lines[j])
            j += 1
        else:
            raise AssertionError(f"{page.relative_to(ROOT)}:{i + 1}: unclosed code fence")
        k = i - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        marker = _NOT_RUN.match(lines[k]) if k >= 0 else None
        out.append(
            Block(page, i + 1, m["lang"], indent, "\n".join(body) + "\n", marker and marker["why"])
        )
        i = j + 1
    return out


ALL = [b for page in PAGES for b in blocks(page)]
RUN_PAGES = sorted(
    {b.page for b in ALL if b.not_run is None and b.lang in PYTHON | SHELL | CONSOLE}
)


def test_every_block_has_a_known_language() -> None:
    bad = [f"{b.where}: {b.lang or '(none)'}" for b in ALL if b.lang not in PYTHON | SHELL
           | CONSOLE | INERT]
    assert not bad, "label every fence (python, sh, console, text, xml, json ...):\n" + "\n".join(
        bad
    )


def test_not_run_blocks_are_few_and_say_why() -> None:
    skipped = [b for b in ALL if b.not_run is not None]
    for b in skipped:
        assert b.lang in PYTHON | SHELL | CONSOLE, f"{b.where}: not-run on a {b.lang} block"
        assert len(b.not_run or "") >= 8, f"{b.where}: say why the block does not run"
    print("\n".join(f"not run: {b.where}: {b.not_run}" for b in skipped))
    assert len(skipped) <= MAX_NOT_RUN, [b.where for b in skipped]


def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(tmp / "home")
    env["XDG_STATE_HOME"] = str(tmp / "state")
    env["XDG_CONFIG_HOME"] = str(tmp / "config")
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "runtime"), str(ROOT / "generated"), str(ROOT / "codegen"), str(ROOT)]
    )
    env.pop("XMPPSEC_PASSPHRASE", None)
    return env


def _run_shell(block: Block, tmp: Path, env: dict[str, str]) -> None:
    proc = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", block.code],
        cwd=tmp, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, (
        f"{block.where}: exit {proc.returncode}\n{block.code}\n"
        f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    )


def _transcript(code: str) -> Iterator[tuple[str, list[str]]]:
    command: str | None = None
    expected: list[str] = []
    for line in code.splitlines():
        if line.startswith("$ "):
            if command is not None:
                yield command, expected
            command, expected = line[2:], []
        elif command is not None:
            expected.append(line)
    if command is not None:
        yield command, expected


def _matches(expected: str, actual: str) -> bool:
    if "..." not in expected:
        return expected.rstrip() == actual.rstrip()
    pattern = ".*".join(re.escape(part) for part in expected.rstrip().split("..."))
    return re.fullmatch(pattern, actual.rstrip()) is not None


def _run_console(block: Block, tmp: Path, env: dict[str, str]) -> None:
    steps = list(_transcript(block.code))
    assert steps, f"{block.where}: a console block holds `$ command` lines"
    mark = "@@xmppsec-docs-step@@"
    # The marker's echo must not hide the previous command's status from `echo $?`.
    script = "s=0\n" + "".join(
        f"echo '{mark}'\n(exit $s)\n{cmd} 2>&1\ns=$?\n" for cmd, _ in steps
    )
    proc = subprocess.run(
        ["bash", "-c", script], cwd=tmp, env=env, capture_output=True, text=True, timeout=120
    )
    outputs = proc.stdout.split(mark + "\n")[1:]
    assert len(outputs) == len(steps), f"{block.where}: the transcript stopped early"
    for (cmd, expected), actual in zip(steps, outputs, strict=True):
        got = actual.splitlines()
        ok = len(got) == len(expected) and all(
            _matches(e, a) for e, a in zip(expected, got, strict=True)
        )
        assert ok, f"{block.where}: $ {cmd}\n--- written\n" + "\n".join(expected) + (
            "\n--- printed\n" + actual
        )


@pytest.mark.parametrize("page", RUN_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_page_runs(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = _env(tmp_path)
    for name in ("home", "state", "config"):
        (tmp_path / name).mkdir()
    for key in ("HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME"):
        monkeypatch.setenv(key, env[key])
    monkeypatch.chdir(tmp_path)
    # What a page's Python changes in this process is undone after it: the import path and
    # the schemas a page registers (xmppsec.schema.register is process-global).
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(xmppsec_schema, "_registered", xmppsec_schema._registered)
    monkeypatch.setattr(xmppsec_schema, "_schema", xmppsec_schema._schema)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for block in blocks(page):
        if block.not_run is not None:
            continue
        if block.lang in PYTHON:
            try:
                exec(compile(block.code, block.where, "exec"), namespace)  # noqa: S102
            except Exception as exc:
                raise AssertionError(f"{block.where}: {type(exc).__name__}: {exc}") from exc
        elif block.lang in SHELL:
            _run_shell(block, tmp_path, env)
        elif block.lang in CONSOLE:
            _run_console(block, tmp_path, env)


# -- the site renders every block as code -----------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [str(BIN / "mkdocs"), "build", "--quiet", "--site-dir", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return out


def _html_for(site: Path, page: Path) -> Path:
    rel = page.relative_to(ROOT / "docs").with_suffix("")
    if rel.name == "index":
        return site / rel.parent / "index.html"
    return site / rel / "index.html"


_PRE = re.compile(r"<pre[^>]*>(?:<span></span>)?<code[^>]*>(.*?)</code></pre>", re.S)
_TAG = re.compile(r"<[^>]+>")


@pytest.mark.parametrize(
    "page",
    [p for p in PAGES if p.parent != ROOT and any(b.page == p for b in ALL)],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_every_fence_renders_as_a_code_block(site: Path, page: Path) -> None:
    fenced = [b for b in ALL if b.page == page]
    text = _html_for(site, page).read_text(encoding="utf-8")
    rendered = _PRE.findall(text)
    outside = _PRE.sub("", text)
    assert "```" not in outside, f"{page.relative_to(ROOT)}: a fence rendered as text"
    assert "&lt;!--" not in outside, f"{page.relative_to(ROOT)}: a comment rendered as text"
    assert len(rendered) == len(fenced), (
        f"{page.relative_to(ROOT)}: {len(fenced)} fenced blocks, {len(rendered)} rendered as "
        "code (a block inside a list item needs 4 spaces of indentation)"
    )
    for block, code in zip(fenced, rendered, strict=True):
        first = next(line for line in block.code.splitlines() if line.strip())
        assert first.strip() in html.unescape(_TAG.sub("", code)), f"{block.where}: rendered as {code[:80]!r}"
