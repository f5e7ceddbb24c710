"""The code generator: determinism, drift check, naming, qualified names, child order, user schemas."""

from __future__ import annotations

import dataclasses
import importlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree
from xsdata.formats.dataclass.context import XmlContext
from xsdata.formats.dataclass.models.generics import AnyElement
from xsdata.formats.dataclass.parsers import XmlParser
from xsdata.formats.dataclass.parsers.config import ParserConfig
from xsdata.formats.dataclass.serializers import XmlSerializer
from xsdata.formats.dataclass.serializers.config import SerializerConfig

from xmppsec.codegen import EXIT_DRIFT, EXIT_OK, EXIT_USAGE, main
from xmppsec.codegen._compile import make_config
from xmppsec.codegen._generator import BindingsFilters, checked_expression, pystr
from xmppsec.codegen._naming import WELL_KNOWN_MODULES

ROOT = Path(__file__).resolve().parents[1]
BINDINGS = ROOT / "generated" / "xmppsec" / "bindings"
VECTORS = ROOT / "tests" / "vectors" / "codegen"
HEADER = "# DO NOT EDIT — regenerate with python -m codegen"
MODULES = ["xml", "xmldsig", "xmldsig11", "dsig", "e2e", "jabber_client", "stanzas", "delay",
           "pidf"]
XML_NS = "http://www.w3.org/XML/1998/namespace"
DSIG_NS = "urn:xmpp:dsig:0"
PYTHONPATH = os.pathsep.join(str(ROOT / d) for d in ("runtime", "generated", "codegen"))


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = PYTHONPATH + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def _run_codegen(*args: str, cwd: Path = ROOT, seed: str = "0") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codegen", *args],
        cwd=cwd, env=_env(PYTHONHASHSEED=seed), capture_output=True, text=True, timeout=120,
    )


def _project_copy(tmp_path: Path) -> Path:
    """A scratch project root: schemas/, generated/ and docs/reference/ copied from the repo."""
    root = tmp_path / "project"
    shutil.copytree(ROOT / "schemas", root / "schemas")
    shutil.copytree(ROOT / "generated", root / "generated",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (root / "docs" / "reference").mkdir(parents=True)
    shutil.copy(ROOT / "docs" / "reference" / "schemas.md", root / "docs" / "reference")
    return root


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


# --- determinism and drift -------------------------------------------------------------------


def test_regeneration_is_byte_identical(tmp_path: Path) -> None:
    """Two runs (different hash seeds, different processes) produce the same bytes."""
    trees = []
    for seed in ("1", "4242"):
        root = tmp_path / f"run{seed}"
        shutil.copytree(ROOT / "schemas", root / "schemas")
        (root / "generated").mkdir()
        proc = _run_codegen("--root", str(root), seed=seed)
        assert proc.returncode == 0, proc.stderr
        trees.append(_tree(root / "generated") | {"schemas.md": (
            root / "docs" / "reference" / "schemas.md").read_bytes()})
    assert trees[0] == trees[1]
    assert "xmppsec/bindings/jabber_client.py" in trees[0]


def test_check_passes_on_committed_tree() -> None:
    started = time.perf_counter()
    proc = _run_codegen("--check")
    elapsed = time.perf_counter() - started
    assert proc.returncode == EXIT_OK, proc.stdout + proc.stderr
    assert proc.stdout.startswith("up to date")
    assert elapsed < 40


def test_check_fails_and_shows_diff_after_perturbation(tmp_path: Path) -> None:
    root = _project_copy(tmp_path)
    assert _run_codegen("--check", "--root", str(root)).returncode == EXIT_OK

    target = root / "generated" / "xmppsec" / "bindings" / "dsig.py"
    text = target.read_text(encoding="utf-8")
    target.write_text(text.replace('name = "stanza-desc"', 'name = "stanza-description"'),
                      encoding="utf-8")
    (root / "generated" / "xmppsec" / "__init__.py").write_text("", encoding="utf-8")

    proc = _run_codegen("--check", "--root", str(root))
    assert proc.returncode == EXIT_DRIFT
    assert "--- a/" in proc.stdout and "+++ b/" in proc.stdout
    assert '-        name = "stanza-description"' in proc.stdout
    assert '+        name = "stanza-desc"' in proc.stdout
    assert "generated/xmppsec/__init__.py" in proc.stdout  # stale file reported
    assert "python -m codegen" in proc.stdout


def test_check_covers_reference_page(tmp_path: Path) -> None:
    root = _project_copy(tmp_path)
    page = root / "docs" / "reference" / "schemas.md"
    page.write_text(page.read_text(encoding="utf-8") + "hand edit\n", encoding="utf-8")
    proc = _run_codegen("--check", "--root", str(root))
    assert proc.returncode == EXIT_DRIFT
    assert "-hand edit" in proc.stdout


def test_generation_swaps_tree_and_drops_stale_files(tmp_path: Path) -> None:
    root = _project_copy(tmp_path)
    stale = root / "generated" / "xmppsec" / "bindings" / "removed_namespace.py"
    stale.write_text("# DO NOT EDIT\n", encoding="utf-8")
    (root / "generated" / "xmppsec" / "bindings" / "dsig.py").unlink()
    proc = _run_codegen("--root", str(root))
    assert proc.returncode == EXIT_OK, proc.stderr
    assert not stale.exists()
    assert _tree(root / "generated") == _tree(ROOT / "generated")
    leftovers = [p.name for p in (root / "generated" / "xmppsec").iterdir()]
    assert leftovers == ["bindings"]


# --- shape of the generated package ----------------------------------------------------------


def test_every_module_has_fixed_header_and_no_timestamp() -> None:
    for path in sorted(BINDINGS.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert text.startswith(HEADER + "\n"), path
        head = "\n".join(text.splitlines()[:3])
        assert not re.search(r"\d{4}-\d{2}-\d{2}|\d{2}:\d{2}:\d{2}|v\d+\.\d+", head), path
    page = (ROOT / "docs" / "reference" / "schemas.md").read_text(encoding="utf-8")
    assert page.startswith("<!-- DO NOT EDIT — regenerate with python -m codegen -->")


def test_one_module_per_namespace_with_all() -> None:
    import xmppsec.bindings as package

    # every namespace of our schemas has a fixed entry in the naming table
    assert dict(package.NAMESPACE_MODULES) == {
        ns: f"xmppsec.bindings.{m}" for ns, m in WELL_KNOWN_MODULES.items()
        if ns in package.NAMESPACE_MODULES
    }
    assert set(MODULES) <= {m.rpartition(".")[2] for m in package.NAMESPACE_MODULES.values()}
    for name in {m.rpartition(".")[2] for m in package.NAMESPACE_MODULES.values()}:
        importlib.import_module(f"xmppsec.bindings.{name}")
    for name in MODULES:
        module = importlib.import_module(f"xmppsec.bindings.{name}")
        assert isinstance(module.__all__, list) and module.__all__, name
        for exported in module.__all__:
            assert hasattr(module, exported), (name, exported)
        assert package.NAMESPACE_MODULES[module.__NAMESPACE__] == module.__name__
    assert not (ROOT / "generated" / "xmppsec" / "__init__.py").exists()
    assert (BINDINGS / "py.typed").is_file()


def test_schemas_are_copied_as_package_data() -> None:
    from importlib.resources import files

    import xmppsec.bindings as package

    for schema in sorted((ROOT / "schemas").glob("*.xsd")):
        assert (BINDINGS / "xsd" / schema.name).read_bytes() == schema.read_bytes()
    umbrella = files("xmppsec.bindings").joinpath(package.SCHEMA_RESOURCE)
    assert package.SCHEMA_RESOURCE == "xsd/xmppsec.xsd"
    assert b"<xs:schema" in umbrella.read_bytes()


def _field(cls: type, name: str) -> dataclasses.Field[object]:
    found = {f.name: f for f in dataclasses.fields(cls)}
    assert name in found, sorted(found)
    return found[name]


def test_foreign_attribute_field_names() -> None:
    from xmppsec.bindings import delay, dsig, jabber_client

    body = _field(jabber_client.MessageType.Body, "dsig_id")
    assert body.metadata["name"] == "id" and body.metadata["namespace"] == DSIG_NS
    lang = _field(jabber_client.MessageType, "xml_lang")
    assert lang.metadata["name"] == "lang" and lang.metadata["namespace"] == XML_NS
    assert _field(delay.DelayType, "dsig_id").metadata["namespace"] == DSIG_NS
    assert _field(dsig.MessageCopyType, "xml_lang").metadata["namespace"] == XML_NS
    # unqualified attributes keep their plain names
    assert "id" in {f.name for f in dataclasses.fields(dsig.StanzaDescType)}
    assert dsig.ATTR_ID == "{urn:xmpp:dsig:0}id"


def test_element_classes_carry_qualified_names() -> None:
    from xmppsec.bindings import dsig, jabber_client, xmldsig

    expected = {
        dsig.StanzaDesc: ("stanza-desc", DSIG_NS),
        xmldsig.Signature: ("Signature", "http://www.w3.org/2000/09/xmldsig#"),
        jabber_client.Message: ("message", "jabber:client"),
        jabber_client.Iq: ("iq", "jabber:client"),
    }
    context = XmlContext()
    for cls, (name, namespace) in expected.items():
        meta = getattr(cls, "Meta")  # the keys are typed as plain `type`
        assert (meta.name, meta.namespace) == (name, namespace)
        assert context.build(cls).qname == f"{{{namespace}}}{name}"
    # every global element class in every module names itself the same way
    for module_name in MODULES:
        module = importlib.import_module(f"xmppsec.bindings.{module_name}")
        for exported in module.__all__:
            cls = getattr(module, exported)
            meta = getattr(cls, "Meta", None)
            if dataclasses.is_dataclass(cls) and meta is not None and hasattr(meta, "namespace"):
                assert meta.namespace == module.__NAMESPACE__, (module_name, exported)
                assert context.build(cls).qname == f"{{{meta.namespace}}}{meta.name}"


INTERLEAVED = (
    b"<message xmlns='jabber:client' xmlns:d='urn:xmpp:dsig:0' from='juliet@capulet.net/balcony'"
    b" to='romeo@montague.net' type='chat' xml:lang='en'>"
    b"<body d:id='b1'>one</body><thread>t1</thread><x xmlns='urn:example:ext'>ext</x>"
    b"<body xml:lang='fr'>deux</body><subject>s</subject><thread>t2</thread></message>"
)


def test_child_order_round_trip() -> None:
    from xmppsec.bindings.jabber_client import Message, MessageType, ThreadType

    parser = XmlParser(config=ParserConfig(fail_on_converter_warnings=True))
    message = parser.from_bytes(INTERLEAVED, Message)
    kinds = [type(child) for child in message.choice]
    assert kinds == [MessageType.Body, ThreadType, AnyElement, MessageType.Body,
                     MessageType.Subject, ThreadType]
    first = message.choice[0]
    assert isinstance(first, MessageType.Body)
    assert first.dsig_id == "b1" and first.value == "one"
    assert message.xml_lang == "en"

    rendered = XmlSerializer(config=SerializerConfig(xml_declaration=False)).render(message)
    original = etree.fromstring(INTERLEAVED)
    again = etree.fromstring(rendered.encode("utf-8"))
    assert [c.tag for c in again] == [c.tag for c in original]
    assert [c.text for c in again] == [c.text for c in original]
    assert again[0].get(f"{{{DSIG_NS}}}id") == "b1"
    assert again[3].get(f"{{{XML_NS}}}lang") == "fr"


def test_pattern_restricted_types_keep_their_base_type() -> None:
    """ds:Base64Type is base64Binary with a pattern: still bytes (xsdata would make it str)."""
    from xmppsec.bindings.xmldsig import SignatureValue

    data = b"<SignatureValue xmlns='http://www.w3.org/2000/09/xmldsig#'>AAEC/w==</SignatureValue>"
    parser = XmlParser(config=ParserConfig(fail_on_converter_warnings=True))
    value = parser.from_bytes(data, SignatureValue)
    assert value.value == b"\x00\x01\x02\xff"
    assert "pattern" not in (BINDINGS / "xmldsig.py").read_text(encoding="utf-8")


def test_codegen_does_not_import_the_runtime() -> None:
    code = (
        "import sys, xmppsec.codegen\n"
        "bad = sorted(m for m in sys.modules if m.startswith('xmppsec.')"
        " and not m.startswith('xmppsec.codegen'))\n"
        "print(bad)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True,
                          text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


# --- user extension schemas ------------------------------------------------------------------


SECURITY_LABEL = (
    b"<securitylabel xmlns='urn:xmpp:sec-label:0'>"
    b"<displaymarking fgcolor='black' bgcolor='red'>SECRET</displaymarking>"
    b"<label><esssecuritylabel xmlns='urn:xmpp:sec-label:ess:0'>MQYCAQQGASk=</esssecuritylabel>"
    b"</label></securitylabel>"
)


def test_extension_schema_compiles_imports_and_passes_mypy_strict(tmp_path: Path) -> None:
    out = tmp_path / "out"
    status = main(["--schema", str(VECTORS / "sec-label-catalog.xsd"), "--package",
                   "labels.bindings", "--out", str(out), "--docs", str(tmp_path / "ref.md"),
                   "--quiet"])
    assert status == EXIT_OK
    package = out / "labels" / "bindings"
    assert sorted(p.name for p in package.glob("*.py")) == [
        "__init__.py", "sec_label.py", "sec_label_catalog.py"]
    assert (package / "py.typed").is_file()
    assert (package / "xsd" / "sec-label.xsd").is_file()
    assert "catalog" in (tmp_path / "ref.md").read_text(encoding="utf-8")
    assert main(["--check", "--quiet", "--schema", str(VECTORS / "sec-label-catalog.xsd"),
                 "--package", "labels.bindings", "--out", str(out)]) == EXIT_OK

    consumer = tmp_path / "consumer.py"
    consumer.write_text(
        "from xsdata.formats.dataclass.parsers import XmlParser\n"
        "from labels.bindings.sec_label import Securitylabel\n"
        "from labels.bindings.sec_label_catalog import Catalog, Item\n"
        f"label = XmlParser().from_bytes({SECURITY_LABEL!r}, Securitylabel)\n"
        "assert label.displaymarking is not None\n"
        "print(label.displaymarking.value, label.displaymarking.bgcolor)\n"
        "item = Item(securitylabel=label, sec_label_policy='urn:example:policy')\n"
        "catalog = Catalog(to='juliet@capulet.net', item=[item])\n"
        "print(Catalog.Meta.namespace, catalog.item[0].sec_label_policy)\n",
        encoding="utf-8",
    )
    env = _env()
    env["PYTHONPATH"] = str(out) + os.pathsep + env["PYTHONPATH"]
    run = subprocess.run([sys.executable, str(consumer)], env=env, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split("\n")[:2] == [
        "SECRET red", "urn:xmpp:sec-label:catalog:2 urn:example:policy"]

    mypy = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir",
         str(tmp_path / ".mypy_cache"), "-p", "labels.bindings"],
        cwd=out, env=env, capture_output=True, text=True, timeout=180,
    )
    assert mypy.returncode == 0, mypy.stdout + mypy.stderr


SIGNED_NOTE = """<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:ds="http://www.w3.org/2000/09/xmldsig#"
           targetNamespace="urn:example:note" elementFormDefault="qualified">
  <xs:import namespace="http://www.w3.org/2000/09/xmldsig#" schemaLocation="xmldsig-core.xsd"/>
  <xs:element name="note">
    <xs:complexType>
      <xs:sequence>
        <xs:element name="text" type="xs:string"/>
        <xs:element ref="ds:Signature" minOccurs="0"/>
      </xs:sequence>
    </xs:complexType>
  </xs:element>
</xs:schema>
"""


def test_imported_xmppsec_namespace_reuses_shipped_bindings(tmp_path: Path) -> None:
    shutil.copy(ROOT / "schemas" / "xmldsig-core.xsd", tmp_path)
    (tmp_path / "note.xsd").write_text(SIGNED_NOTE, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["--quiet", "--schema", str(tmp_path / "note.xsd"), "--package", "notes",
                 "--out", str(out)]) == EXIT_OK
    module = (out / "notes" / "note.py").read_text(encoding="utf-8")
    assert "from xmppsec.bindings.xmldsig import Signature\n" in module
    assert not (out / "notes" / "xmldsig.py").exists()
    assert (out / "notes" / "xsd" / "xmldsig-core.xsd").is_file()  # validation still works
    code = (
        "from xmppsec.bindings.xmldsig import Signature\n"
        "from notes.note import Note\n"
        "import notes\n"
        "import notes.note\n"
        "assert notes.note.Signature is Signature and Note(text='hi').signature is None\n"
        "print(notes.note.Signature.__module__, notes.NAMESPACE_MODULES["
        "'http://www.w3.org/2000/09/xmldsig#'])\n"
    )
    env = _env()
    env["PYTHONPATH"] = str(out) + os.pathsep + env["PYTHONPATH"]
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["xmppsec.bindings.xmldsig", "xmppsec.bindings.xmldsig"]

    # --no-reuse, or an XSD that differs from the shipped one: classes are generated locally
    assert main(["--quiet", "--no-reuse", "--schema", str(tmp_path / "note.xsd"), "--package",
                 "notes2", "--out", str(out)]) == EXIT_OK
    assert (out / "notes2" / "xmldsig.py").is_file()
    edited = tmp_path / "xmldsig-core.xsd"
    edited.write_bytes(edited.read_bytes().replace(b"</xs:schema>", b"<!-- local -->\n</xs:schema>"))
    assert main(["--quiet", "--schema", str(tmp_path / "note.xsd"), "--package", "notes3",
                 "--out", str(out)]) == EXIT_OK
    assert (out / "notes3" / "xmldsig.py").is_file()
    assert "from notes3.xmldsig import Signature" in (out / "notes3" / "note.py").read_text(
        encoding="utf-8")


def test_awkward_text_and_defaults_become_valid_python(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["--quiet", "--schema", str(VECTORS / "awkward.xsd"), "--package", "awk",
                 "--out", str(out)]) == EXIT_OK
    code = (
        "import awk.awkward as m\n"
        "print(repr(m.A.__doc__))\n"
        "c = m.C()\n"
        "print(repr((c.k, c.n, c.t)))\n"
    )
    env = _env()
    env["PYTHONPATH"] = str(out) + os.pathsep + env["PYTHONPATH"]
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    doc, values = run.stdout.splitlines()
    assert doc == repr("""Says "hi", a \\ backslash, ''' triple quotes and ends "quoted\"""")
    assert values == repr(("it's \"q\"", 3, ["a", "b"]))


@given(st.text())
def test_string_literals_round_trip(text: str) -> None:
    import ast

    assert ast.literal_eval(pystr(text)) == text


@given(st.text(min_size=1))
def test_docstrings_are_valid_python_and_keep_the_text(text: str) -> None:
    import ast

    filters = BindingsFilters(make_config("x"))
    block = filters.docblock(text, 4)
    expected = " ".join(text.split())
    if not expected:
        assert block == ""
        return
    value = ast.literal_eval(block)
    assert " ".join(value.split()) == expected.replace('"""', "'''")


@pytest.mark.parametrize("code", [
    'QName("{urn:p}foo")', "Decimal('-1.5')", 'float("inf")', "XmlDate(2020, 1, 2)", "list",
    "lambda: [1, 2]", "MessageTypeValue.NORMAL", "None", '"text"', "-3",
])
def test_default_values_that_are_plain_values_pass(code: str) -> None:
    assert checked_expression(code) == code


@pytest.mark.parametrize("code", [
    'QName("{x}" + __import__("os").name)', '__import__("os")', 'open("f")', "X.__class__",
    "X._private", "lambda x: x", "(lambda: 1)()", 'QName(name="x")', "1 if x else 2",
])
def test_default_values_with_code_are_refused(code: str) -> None:
    from xsdata.codegen.exceptions import CodegenError

    with pytest.raises(CodegenError):
        checked_expression(code)


def test_user_templates_override_packaged_ones(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    packaged = Path(importlib.import_module("xmppsec.codegen").__file__ or "").parent
    source = (packaged / "templates" / "package.py.jinja2").read_text(encoding="utf-8")
    (templates / "package.py.jinja2").write_text(
        source.replace('"""Typed dataclass bindings', '"""House-style bindings'),
        encoding="utf-8")
    out = tmp_path / "out"
    assert main(["--quiet", "--schema", str(VECTORS / "sec-label.xsd"), "--package", "lbl",
                 "--out", str(out), "--templates", str(templates)]) == EXIT_OK
    assert '"""House-style bindings' in (out / "lbl" / "__init__.py").read_text(encoding="utf-8")
    assert (out / "lbl" / "sec_label.py").read_text(encoding="utf-8").startswith(
        "# DO NOT EDIT — regenerate with xmppsec codegen --schema sec-label.xsd --package lbl\n")


def test_refuses_to_replace_a_hand_written_package(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    mine = tmp_path / "out" / "mypkg"
    mine.mkdir(parents=True)
    (mine / "__init__.py").write_text("VALUE = 1\n", encoding="utf-8")
    status = main(["--schema", str(VECTORS / "sec-label.xsd"), "--package", "mypkg",
                   "--out", str(tmp_path / "out")])
    assert status == EXIT_USAGE
    assert "refusing" in capsys.readouterr().err
    assert (mine / "__init__.py").read_text(encoding="utf-8") == "VALUE = 1\n"


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ('<xs:import namespace="urn:x" schemaLocation="missing.xsd"/>', "not found"),
        ('<xs:import namespace="urn:x" schemaLocation="http://example.invalid/x.xsd"/>',
         "Only local schema files"),
    ],
)
def test_bad_imports_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      schema: str, message: str) -> None:
    xsd = tmp_path / "bad.xsd"
    xsd.write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:bad">'
        f'{schema}<xs:element name="e" type="xs:string"/></xs:schema>', encoding="utf-8")
    status = main(["--schema", str(xsd), "--package", "bad", "--out", str(tmp_path / "o")])
    assert status == EXIT_USAGE
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o" / "bad").exists()


def test_malformed_schema_is_a_usage_error(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    xsd = tmp_path / "broken.xsd"
    xsd.write_text('<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="e',
                   encoding="utf-8")
    status = main(["--schema", str(xsd), "--package", "bad", "--out", str(tmp_path / "o")])
    assert status == EXIT_USAGE
    err = capsys.readouterr().err
    assert "not well-formed" in err and "broken.xsd" in err


def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--schema", str(VECTORS / "sec-label.xsd")]) == EXIT_USAGE
    assert main(["--package", "x"]) == EXIT_USAGE
    assert main(["--schema", str(VECTORS / "sec-label.xsd"), "--package", "not-a.name",
                 "--out", "/nonexistent"]) == EXIT_USAGE
    assert "error" in capsys.readouterr().err


def test_generated_bindings_are_ruff_clean_and_formatted() -> None:
    """ruff excludes generated/, but the templates lay code out as ruff would: keep it so."""
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff not installed")
    common = ["--isolated", "--line-length", "100"]
    lint = subprocess.run(
        [ruff, "check", *common, "--select", "E,F,W,I,UP,B,S", "--config",
         "lint.isort.known-first-party=['xmppsec']", str(BINDINGS)],
        capture_output=True, text=True, timeout=60,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    fmt = subprocess.run([ruff, "format", *common, "--check", str(BINDINGS)],
                         capture_output=True, text=True, timeout=60)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_generated_bindings_pass_mypy_strict() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "generated"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
