"""The schema corpus: XSD verdicts as recorded, and the RELAX NG twins agree with the XSDs.

tests/vectors/corpus/{valid,invalid}/*.xml are schema-verdict vectors; MANIFEST.tsv lists
every document with its expected verdict and the reason (docs/decisions/schemas.md explains
the choices behind them). The XSD verdict comes from the umbrella schemas/xmppsec.xsd (what
the runtime compiles), the RELAX NG verdict from schemas/rng/xmppsec.rng.
"""

from __future__ import annotations

import copy
import csv
import functools
import random
from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree

from xmppsec.errors import StanzaSchemaError
from xmppsec.parser import parse
from xmppsec.schema import check_co_constraints

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "schemas"
RNG = SCHEMAS / "rng"
CORPUS = ROOT / "tests" / "vectors" / "corpus"
MANIFEST = CORPUS / "MANIFEST.tsv"

XS = "http://www.w3.org/2001/XMLSchema"
RNG_NS = "http://relaxng.org/ns/structure/1.0"
NSMAP = {"xs": XS, "rng": RNG_NS}

XSD_FILES = sorted(p.name for p in SCHEMAS.glob("*.xsd"))


@dataclass(frozen=True)
class Case:
    path: str
    valid: bool
    reason: str


def _manifest() -> list[Case]:
    with MANIFEST.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t"))
    assert rows[0] == ["file", "verdict", "reason"]
    cases = []
    for row in rows[1:]:
        assert len(row) == 3, row
        path, verdict, reason = row
        assert verdict in ("valid", "invalid"), row
        cases.append(Case(path, verdict == "valid", reason))
    return cases


CASES = _manifest()


@functools.cache
def _xsd() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMAS / "xmppsec.xsd")))


@functools.cache
def _rng() -> etree.RelaxNG:
    return etree.RelaxNG(etree.parse(str(RNG / "xmppsec.rng")))


def _load(case: Case) -> etree._ElementTree:
    # The one hardened parser: corpus documents must be acceptable stanza input
    # (UTF-8, no DTD, comments or processing instructions) so only the schema decides.
    root = parse((CORPUS / case.path).read_bytes())
    return etree.ElementTree(root)


def test_manifest_lists_exactly_the_corpus_files() -> None:
    on_disk = {p.relative_to(CORPUS).as_posix() for p in CORPUS.glob("*/*.xml")}
    listed = [c.path for c in CASES]
    assert len(listed) == len(set(listed)), "duplicate manifest rows"
    assert set(listed) == on_disk
    for case in CASES:
        assert case.path.split("/")[0] == ("valid" if case.valid else "invalid")
        assert case.reason.strip()


def test_corpus_size() -> None:
    assert len(CASES) >= 60
    assert sum(c.valid for c in CASES) >= 30
    assert sum(not c.valid for c in CASES) >= 30


def _runtime_ok(doc: etree._ElementTree) -> bool:
    """The co-constraints XSD 1.0 and RELAX NG cannot say (xmppsec.schema), as validate()
    and strict verification run them after the grammar."""
    try:
        check_co_constraints(doc.getroot())
    except StanzaSchemaError:
        return False
    return True


@pytest.mark.parametrize("case", CASES, ids=[c.path for c in CASES])
def test_xsd_verdict(case: Case) -> None:
    # The verdict is the grammar's AND the runtime co-constraints', as in validate().
    schema = _xsd()
    doc = _load(case)
    ok = schema.validate(doc)
    log: object = schema.error_log
    if ok:
        ok = _runtime_ok(doc)
        log = "valid by the XSD, refused by the runtime co-constraints"
    assert ok is case.valid, f"{case.path}: {case.reason}; XSD log: {log}"
    if not ok:
        assert str(log).strip(), "an invalid verdict must come with an error"


@pytest.mark.parametrize("case", CASES, ids=[c.path for c in CASES])
def test_relaxng_agrees_with_xsd(case: Case) -> None:
    # XSD + runtime and RELAX NG + runtime reach the same verdict on every document.
    doc = _load(case)
    xsd_ok = _xsd().validate(doc) and _runtime_ok(doc)
    rng = _rng()
    rng_ok = rng.validate(doc) and _runtime_ok(doc)
    assert rng_ok is xsd_ok, f"{case.path}: RELAX NG log: {rng.error_log}"


CO_CONSTRAINT_CASES = [c for c in CASES if "co-constraint" in c.reason]


def test_every_co_constraint_has_valid_and_invalid_documents() -> None:
    # Each rule the runtime adds has corpus documents on both sides, and every invalid one
    # is accepted by both grammars alone: it is the runtime that refuses it.
    rules = ["5.2.5", "5.2.3", "5.2.4", "4.7.2.1", "4.7.2.2", "4.7.2.3", "8.3.1", "8.2.3"]
    for rule in rules:
        cases = [c for c in CO_CONSTRAINT_CASES if f"§{rule}" in c.reason]
        assert any(not c.valid for c in cases), f"no invalid document for §{rule}"
    assert sum(c.valid for c in CO_CONSTRAINT_CASES) >= 5
    for case in CO_CONSTRAINT_CASES:
        if not case.valid:
            doc = _load(case)
            assert _xsd().validate(doc) and _rng().validate(doc), case.path
            assert not _runtime_ok(doc), case.path


@pytest.mark.parametrize("name", XSD_FILES)
def test_each_xsd_compiles_alone(name: str) -> None:
    etree.XMLSchema(etree.parse(str(SCHEMAS / name)))


@pytest.mark.parametrize("name", XSD_FILES)
def test_each_xsd_has_a_spec_header_and_rng_twin(name: str) -> None:
    doc = etree.parse(str(SCHEMAS / name))
    first = doc.getroot().getprevious()
    assert isinstance(first, etree._Comment), f"{name}: no header comment"
    header = first.text or ""
    assert "xmppsec" in header
    assert any(
        tag in header
        for tag in ("RFC", "XEP", "XML Signature", "Extensible Markup Language", "umbrella")
    )
    assert (RNG / name.replace(".xsd", ".rng")).is_file()


def _documented(el: etree._Element) -> bool:
    docs = el.findall("xs:annotation/xs:documentation", NSMAP)
    return any((d.text or "").strip() for d in docs)


@pytest.mark.parametrize("name", XSD_FILES)
def test_every_declaration_is_documented(name: str) -> None:
    # The docs page is rendered from these annotations: every top-level component and
    # every named local element or attribute carries a one-line documentation.
    root = etree.parse(str(SCHEMAS / name)).getroot()
    assert _documented(root), f"{name}: schema-level documentation missing"
    undocumented = []
    for el in root.iter(f"{{{XS}}}*"):
        local = etree.QName(el).localname
        top = el.getparent() is root
        named_decl = local in ("element", "attribute") and el.get("name") is not None
        top_component = top and local in (
            "element",
            "attribute",
            "complexType",
            "simpleType",
            "group",
            "attributeGroup",
        )
        if (named_decl or top_component) and not _documented(el):
            undocumented.append(f"{local} {el.get('name')}")
    assert not undocumented, f"{name}: {undocumented}"


def _xsd_globals() -> set[str]:
    names = set()
    for name in XSD_FILES:
        root = etree.parse(str(SCHEMAS / name)).getroot()
        tns = root.get("targetNamespace", "")
        for el in root.findall("xs:element", NSMAP):
            names.add(etree.QName(tns, el.get("name", "")).text)
    return names


def _rng_except_names(define: str) -> set[str]:
    root = etree.parse(str(RNG / "xmppsec.rng")).getroot()
    found = root.findall(f"rng:define[@name='{define}']", NSMAP)
    assert len(found) == 1, define
    names = set()
    for n in found[0].iterfind(".//rng:element/rng:anyName/rng:except/rng:name", NSMAP):
        prefix, _, local = (n.text or "").partition(":")
        uri = n.nsmap[prefix]
        names.add(etree.QName(uri, local).text)
    return names


@pytest.mark.parametrize(
    "define", ["lax.any", "lax.other.ds", "lax.other.client", "lax.other.stanzas", "lax.other.pidf"]
)
def test_rng_wildcards_know_every_xsd_global_element(define: str) -> None:
    # XSD lax wildcards validate exactly the globally declared elements; the RELAX NG twin
    # must exclude the same names from its "anything else" branch.
    assert _rng_except_names(define) == _xsd_globals()


def _enum(name: str, type_name: str) -> list[str]:
    root = etree.parse(str(SCHEMAS / name)).getroot()
    st = root.find(f"xs:simpleType[@name='{type_name}']", NSMAP)
    assert st is not None, (name, type_name)
    return [e.get("value", "") for e in st.iterfind("xs:restriction/xs:enumeration", NSMAP)]


def _defines_simple_type(name: str, type_name: str) -> bool:
    root = etree.parse(str(SCHEMAS / name)).getroot()
    return root.find(f"xs:simpleType[@name='{type_name}']", NSMAP) is not None


@pytest.mark.parametrize("type_name", ["MessageTypeValue", "PresenceTypeValue", "IqTypeValue"])
def test_stanza_copy_types_mirror_jabber_client(type_name: str) -> None:
    # xmpp-dsig.xsd repeats the stanza type enumerations instead of importing
    # jabber-client.xsd (which imports it for d:id): every copy, in any schema file, must
    # stay equal to jabber-client.xsd's.
    copies = [
        n for n in XSD_FILES if n != "jabber-client.xsd" and _defines_simple_type(n, type_name)
    ]
    assert "xmpp-dsig.xsd" in copies
    reference = _enum("jabber-client.xsd", type_name)
    assert reference
    for name in copies:
        assert _enum(name, type_name) == reference, name


def test_jid_pattern_mirrors_jabber_client() -> None:
    def pattern(name: str) -> str | None:
        root = etree.parse(str(SCHEMAS / name)).getroot()
        p = root.find("xs:simpleType[@name='JidType']/xs:restriction/xs:pattern", NSMAP)
        return None if p is None else p.get("value")

    copies = [
        n for n in XSD_FILES if n != "jabber-client.xsd" and _defines_simple_type(n, "JidType")
    ]
    assert "xmpp-dsig.xsd" in copies
    for name in copies:
        assert pattern(name) is not None, name
        assert pattern(name) == pattern("jabber-client.xsd"), name


ROBUST_XSD = "xmpp-dsig-robust.xsd"


def test_robust_profile_reuses_the_dsig_types() -> None:
    # The robust profile's stanza-desc differs from XEP-0290's only in its references
    # (docs/robust-profile.md): signer, timestamp and the stanza copy attributes use the
    # urn:xmpp:dsig:0 types themselves (imported, so they cannot drift), not copies.
    root = etree.parse(str(SCHEMAS / ROBUST_XSD)).getroot()
    for st in ("SignerType", "JidType", "StanzaIdType", "TimestampType", "MessageTypeValue"):
        assert root.find(f"xs:simpleType[@name='{st}']", NSMAP) is None, st
    seen: dict[str, set[str]] = {}
    for el in root.iter(f"{{{XS}}}element", f"{{{XS}}}attribute"):
        name, type_ref = el.get("name"), el.get("type")
        if name in ("signer", "timestamp", "from", "to", "id", "type") and type_ref:
            prefix, _, local = type_ref.rpartition(":")
            uri = el.nsmap.get(prefix or None)
            if name == "id" and uri == XS:
                continue  # stanza-desc/@id is a plain NCName, as in xmpp-dsig.xsd
            assert uri == "urn:xmpp:dsig:0", (name, type_ref)
            seen.setdefault(name, set()).add(local)
    assert seen == {
        "signer": {"SignerType"},
        "timestamp": {"TimestampType"},
        "from": {"JidType"},
        "to": {"JidType"},
        "id": {"StanzaIdType"},
        "type": {"MessageTypeValue", "PresenceTypeValue", "IqTypeValue"},
    }


def _mutate(tree: etree._ElementTree, rnd: random.Random) -> None:
    """Apply one random structural or value change to ``tree`` (in place)."""
    elements = list(tree.getroot().iter(etree.Element))
    el = rnd.choice(elements)
    parent = el.getparent()
    op = rnd.randrange(8)
    if op == 0 and parent is not None:
        parent.remove(el)
    elif op == 1 and parent is not None:
        el.addnext(copy.deepcopy(el))
    elif op == 2:
        el.text = rnd.choice([" ", "x", "AAAA", "...", "\n  ", "-1", "2010-11-11T13:33:00.123Z"])
    elif op == 3 and el.attrib:
        key = rnd.choice(sorted(el.attrib))
        el.set(key, rnd.choice(["", " ", "x y", "bogus", "a:b", "1", "chat", "#x", "a@b/c"]))
    elif op == 4 and el.attrib:
        del el.attrib[rnd.choice(sorted(el.attrib))]
    elif op == 5:
        name = rnd.choice(
            ["{urn:xmpp:dsig:0}id", f"{{{XML_NS}}}lang", "foo", "{urn:x}y", "Id", "name", "ns"]
        )
        el.set(name, rnd.choice(["a1", "x y", "en", ""]))
    elif op == 6:
        el.append(etree.Element(rnd.choice(MUTATION_CHILDREN)))
    elif op == 7 and parent is not None and len(parent) > 1:
        parent.remove(el)
        parent.insert(rnd.randrange(len(parent) + 1), el)


XML_NS = "http://www.w3.org/XML/1998/namespace"
MUTATION_CHILDREN = [
    "{urn:x}z",
    "z",
    "{jabber:client}body",
    "{http://www.w3.org/2000/09/xmldsig#}KeyName",
    "{http://www.w3.org/2000/09/xmldsig#}Signature",
    "{urn:xmpp:dsig:0}signer",
    "{urn:xmpp:tmp:dsig:robust:0}reference",
    "{urn:ietf:params:xml:ns:xmpp-e2e}bad-timestamp",
    "{urn:ietf:params:xml:ns:xmpp-stanzas}text",
]


def test_relaxng_agrees_with_xsd_on_mutated_corpus() -> None:
    # Differential check beyond the corpus: 2,000 deterministic random mutants of the
    # corpus documents, re-serialized and re-parsed (so no in-memory-only artefacts such as
    # empty text nodes), must get the same verdict from both engines.
    rnd = random.Random(20260131)
    docs = [_load(c) for c in CASES]
    disagreements = []
    for _ in range(2000):
        tree = copy.deepcopy(rnd.choice(docs))
        for _ in range(rnd.randint(1, 2)):
            _mutate(tree, rnd)
        data = etree.tostring(tree)
        doc = etree.ElementTree(etree.fromstring(data))
        if _xsd().validate(doc) is not _rng().validate(doc):
            disagreements.append(data.decode("utf-8", "replace")[:300])
    assert not disagreements, disagreements[:3]
