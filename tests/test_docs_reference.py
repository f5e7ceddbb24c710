"""The API reference (docs/reference/) is generated from the docstrings by mkdocstrings: a
broken handler, a wrong source path or a module left out would still build a site with empty
pages, so the built pages are read back here.

* every name of each documented module's ``__all__``, and no other, has its own section (the
  anchor mkdocstrings gives it) on that module's page, and the docstrings' text is there too;
* the façade page maps every name of ``xmppsec.__all__`` to the section that documents it;
* no reST role (``:class:`X```), ``::`` or unresolved ``[title][identifier]`` is left as text.
"""

from __future__ import annotations

import html
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

# page of docs/reference/ -> the module it documents
PAGES = {
    "dsig": "xmppsec.dsig",
    "e2e": "xmppsec.e2e",
    "trust": "xmppsec.trust",
    "replay": "xmppsec.replay",
    "keys": "xmppsec.keys",
    "errors": "xmppsec.errors",
    "schema": "xmppsec.schema",
    "archive": "xmppsec.archive",
    "hazmat": "xmppsec.hazmat",
    "slixmpp": "xmppsec.integrations.slixmpp",
}

_PRE = re.compile(r"<pre[^>]*>.*?</pre>", re.S)
_TAG = re.compile(r"<[^>]+>")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [str(BIN / "mkdocs"), "build", "--strict", "--quiet", "--site-dir", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return out


def _page(site: Path, name: str) -> str:
    path = site / "reference" / ("index.html" if name == "index" else f"{name}/index.html")
    return path.read_text(encoding="utf-8")


def _text(page: str) -> str:
    """The page's words, outside code blocks, tags removed, whitespace collapsed."""
    return " ".join(html.unescape(_TAG.sub(" ", _PRE.sub(" ", page))).split())


def test_every_documented_module_has_a_page() -> None:
    written = {p.stem for p in (ROOT / "docs" / "reference").glob("*.md")}
    assert written == {*PAGES, "index", "schemas"}
    for page, module in PAGES.items():
        assert f"::: {module}\n" in (ROOT / "docs" / "reference" / f"{page}.md").read_text(
            encoding="utf-8"
        )


@pytest.mark.parametrize("page", sorted(PAGES))
def test_every_public_name_has_a_section(site: Path, page: str) -> None:
    module = PAGES[page]
    text = _page(site, page)
    anchors = set(re.findall(r'\bid="([^"]+)"', text))
    assert module in anchors, f"{module}: the page has no anchor for the module itself"
    names: list[str] = list(importlib.import_module(module).__all__)
    assert names
    missing = [n for n in names if f"{module}.{n}" not in anchors]
    assert missing == [], f"{module}: no section for {missing}"
    # and nothing outside __all__ (a helper, a type variable, the module's logger)
    top = {a.removeprefix(module + ".") for a in anchors if a.startswith(module + ".")}
    extra = {a for a in top if "." not in a} - set(names)
    assert extra == set(), f"{module}: sections for names outside __all__: {sorted(extra)}"
    # the headings carry the names (a section with an anchor and no content would not)
    headings = " ".join(
        html.unescape(_TAG.sub("", h))
        for h in re.findall(r'<h\d[^>]*class="doc doc-heading"[^>]*>(.*?)</h\d>', text, re.S)
    )
    assert all(re.search(rf"\b{re.escape(n)}\b", headings) for n in names), headings[:300]


@pytest.mark.parametrize(
    ("page", "name", "words"),
    [
        ("dsig", "Signer", "Signs stanzas for one signer identity"),
        ("dsig", "Verifier", "Verifies XEP-0290 signatures on stanzas"),
        ("dsig", "VerificationResult", "signed_children"),
        ("e2e", "seal_stanza", "Protect stanza per RFC 3923"),
        ("e2e", "open_stanza", "Decrypt and verify an RFC 3923 stanza"),
        ("trust", "TrustStore", "pins per bare JID"),
        ("errors", "XmppSecError", "Base of every xmppsec error"),
    ],
)
def test_docstrings_are_rendered(site: Path, page: str, name: str, words: str) -> None:
    text = _page(site, page)
    start = text.index(f'id="{PAGES[page]}.{name}"')
    assert words in _text(text[start:]), f"{name}: its docstring is not on the page"


def test_the_facade_maps_every_name(site: Path) -> None:
    import xmppsec

    text = _page(site, "index")
    links = dict(
        (anchor.split("#", 1)[1].rsplit(".", 1)[1], anchor)
        for anchor in re.findall(r'<a class="autorefs[^"]*" href="([^"]+#xmppsec\.[^"]+)"', text)
    )
    for name in xmppsec.__all__:
        if name == "__version__":
            assert xmppsec.__version__ in _text(text)
            continue
        assert name in links, f"xmppsec.{name} is not linked from the façade page"
        module = getattr(xmppsec, name).__module__.split("._")[0]  # its public submodule
        page = next(p for p, m in PAGES.items() if m == module)
        assert links[name] == f"{page}/#{module}.{name}", links[name]


@pytest.mark.parametrize("page", ["index", *sorted(PAGES)])
def test_no_rest_markup_is_left(site: Path, page: str) -> None:
    words = _text(_page(site, page))
    role = re.search(r":(?:class|func|meth|attr|data|exc|mod|obj):", words)
    assert role is None, words[max(role.start() - 60, 0) : role.end() + 60]
    assert not re.search(r"\w::(?:\s|$)", words), "a reST '::' printed as text"
    unresolved = re.search(r"\]\[[\w.]*\]", words)
    assert unresolved is None, words[max(unresolved.start() - 60, 0) : unresolved.end() + 10]


@pytest.mark.parametrize("module", sorted(PAGES.values()))
def test_every_public_class_and_function_has_a_docstring(module: str) -> None:
    import inspect

    bare = []
    for name in importlib.import_module(module).__all__:
        obj = getattr(importlib.import_module(module), name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)) or not (
            obj.__module__.startswith("xmppsec.")
        ):
            continue  # constants and type aliases: their value is what the page shows
        doc = obj.__doc__ or ""
        # a dataclass without a docstring gets its signature as __doc__
        if not doc.strip() or doc.startswith(f"{obj.__name__}("):
            bare.append(name)
    assert bare == [], f"{module}: no docstring for {bare}"
