"""The quick validation path (xmppsec.schema, ``_run_schema(..., quick=True)``) gives the full
schema's verdict on every document: proved from the XSD sources (every use of the stripped
type is an element the Python check reads) and checked over the corpus, the benchmark
stanzas and documents built to fall between the two."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from lxml import etree

import xmppsec.schema as schema_module
from xmppsec.dsig import ROBUST, SPEC, Signer, Verifier
from xmppsec.errors import SignatureSchemaError, StanzaSchemaError, XmppSecError
from xmppsec.keys import generate_identity
from xmppsec.parser import parse
from xmppsec.schema import check_received, validate
from xmppsec.trust import TrustStore
from xmppsec.xmpp import NS

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "schemas"
CORPUS = ROOT / "tests" / "vectors" / "corpus"
XS = "{http://www.w3.org/2001/XMLSchema}"


# -- the proof from the sources ------------------------------------------------------------


def _qname(value: str, nsmap: dict[str | None, str]) -> str:
    prefix, _, local = value.rpartition(":")
    if prefix == "xml":  # bound without a declaration
        return "{" + NS.XML + "}" + local
    return "{" + nsmap[prefix or None] + "}" + local


def _derived_closure(docs: dict[str, etree._Element], start: set[str]) -> set[str]:
    """``start`` and every named type derived from one of them (restriction, extension)."""
    closed = set(start)
    changed = True
    while changed:
        changed = False
        for doc in docs.values():
            tns = doc.get("targetNamespace")
            for typ in doc.iter(XS + "simpleType", XS + "complexType"):
                type_name = typ.get("name")
                if type_name is None or "{" + f"{tns}" + "}" + type_name in closed:
                    continue
                for derivation in typ.iter(XS + "restriction", XS + "extension"):
                    base = derivation.get("base")
                    if base and _qname(base, derivation.nsmap) in closed:
                        closed.add("{" + f"{tns}" + "}" + type_name)
                        changed = True
    return closed


def _element_name(el: etree._Element, doc: etree._Element) -> str:
    qualified = doc.get("elementFormDefault") == "qualified" or el.getparent() is doc
    return "{" + (f"{doc.get('targetNamespace')}" if qualified else "") + "}" + str(el.get("name"))


def _elements_of_types(docs: dict[str, etree._Element], types: set[str]) -> set[str]:
    return {
        _element_name(el, doc)
        for doc in docs.values()
        for el in doc.iter(XS + "element")
        if el.get("type") and _qname(str(el.get("type")), el.nsmap) in types
    }


Use = tuple[str, str, str, frozenset[str], bool]


def _uses_of_stripped_types() -> list[Use]:
    """(schema file, kind, qualified name, owners, global) of every element or attribute
    declaration whose type is, or derives from, a type whose pattern the quick schema drops
    (owners: for an attribute, the elements that carry it; global: a top-level element
    declaration, which lax wildcards apply anywhere); and a "list"/"union" row for any other
    reference to such a type."""
    docs = {path.name: etree.parse(str(path)).getroot() for path in SCHEMAS.glob("*.xsd")}
    stripped: set[str] = set()
    for name, types in schema_module._CHECKED_IN_PYTHON.items():
        tns = docs[name].get("targetNamespace")
        stripped |= {"{" + f"{tns}" + "}" + t for t in types}
    tainted = _derived_closure(docs, stripped)
    uses: list[Use] = []
    for file, doc in docs.items():
        tns = doc.get("targetNamespace")
        for el in doc.iter(XS + "element", XS + "attribute"):
            typ = el.get("type")
            anonymous = [
                d.get("base")
                for d in el.iter(XS + "restriction", XS + "extension")
                if d.get("base") is not None
            ]
            refs = ([typ] if typ else []) + [b for b in anonymous if b is not None]
            if not any(_qname(r, el.nsmap) in tainted for r in refs):
                continue
            if etree.QName(el).localname == "element":
                name = _element_name(el, doc)
                is_global = el.getparent() is doc
                # A local declaration: the complex type whose content model holds it.
                enclosing = () if is_global else (next(el.iterancestors(XS + "complexType")),)
                within = frozenset("{" + f"{tns}" + "}" + str(h.get("name")) for h in enclosing)
                uses.append((file, "element", name, within, is_global))
                continue
            # An attribute: the elements whose (possibly derived) complex type carries it.
            holder = next(el.iterancestors(XS + "complexType", XS + "attributeGroup"))
            holder_name = "{" + f"{tns}" + "}" + str(holder.get("name"))
            if etree.QName(holder).localname == "attributeGroup":
                holders = {
                    "{" + f"{d.get('targetNamespace')}" + "}" + str(ct.get("name"))
                    for d in docs.values()
                    for ct in d.iter(XS + "complexType")
                    for ref in ct.iter(XS + "attributeGroup")
                    if ref.get("ref") and _qname(str(ref.get("ref")), ref.nsmap) == holder_name
                }
            else:
                holders = {holder_name}
            owners = _elements_of_types(docs, _derived_closure(docs, holders))
            uses.append((file, "attribute", str(el.get("name")), frozenset(owners), False))
        for item in doc.iter(XS + "list", XS + "union"):
            members = (item.get("itemType") or item.get("memberTypes") or "").split()
            if any(_qname(m, item.nsmap) in tainted for m in members):
                uses.append((file, etree.QName(item).localname, str(members), frozenset(), False))
    return uses


D, R, C = "{" + NS.XMPP_DSIG + "}", "{" + NS.XMPP_DSIG_ROBUST + "}", "{" + NS.JABBER_CLIENT + "}"
# What xmppsec.schema._patterns_hold reads, written out: the text of every element of the
# XML-DSig namespaces anywhere; in every stanza-desc (found anywhere) the signer and
# timestamp children and the copy's references (d/r ReferencesType is the base of the
# message, presence and iq copy types); these attributes of these elements.
ANYWHERE = {NS.DS.value, NS.DS11.value}
# (local element, the complex type whose content model declares it)
LOCAL = {
    (ns + local, ns + holder)
    for ns in (D, R)
    for local, holder in (
        ("signer", "StanzaDescType"),
        ("timestamp", "StanzaDescType"),
        ("reference", "ReferencesType"),
    )
}
ATTRIBUTES = (
    {(C + kind, a) for kind in ("message", "presence", "iq") for a in ("from", "to")}
    | {(C + "error", "by")}
    | {(ns + kind, a) for ns in (D, R) for kind in ("message", "presence", "iq") for a in ("from", "to")}
    | {(D + "reference", "URI"), (R + "reference", "name"), (R + "reference", "ns")}
)  # fmt: skip


def test_every_use_of_a_stripped_type_is_a_place_the_python_check_reads() -> None:
    uses = _uses_of_stripped_types()
    assert uses, "the analysis found no use at all: it is broken"
    # The walk finds every element the checks dispatch on.
    walked = [
        etree.Element(tag)
        for tag in (C + "message", C + "presence", C + "iq", C + "error", D + "stanza-desc")
        + (R + "stanza-desc", "{" + NS.DS11 + "}DEREncodedKeyValue")
    ]
    holder = etree.Element("{urn:example:x}x")
    holder.extend(walked)
    assert [el for el, _ in schema_module._site_elements(holder)] == walked

    def covered(use: Use) -> bool:
        _, kind, name, owners, is_global = use
        if kind == "element":
            namespace = name[1:].partition("}")[0]
            # Every element of the XML-DSig namespaces is read, wherever it is. Elsewhere, a
            # global declaration would apply anywhere (lax wildcards): not read; a local one
            # applies only inside its parent's content model, which is where it is read.
            if namespace in ANYWHERE:
                return True
            return not is_global and all((name, holder) in LOCAL for holder in owners)
        if kind == "attribute":
            return bool(owners) and all((owner, name) in ATTRIBUTES for owner in owners)
        return False  # a list or union of a stripped type: not handled

    assert [u for u in uses if not covered(u)] == []
    # The ones that matter for verification are among them.
    found = {(u[2], owner) for u in uses for owner in (u[3] if u[1] == "attribute" else {""})}
    assert {
        ("{" + NS.DS + "}DigestValue", ""),
        ("{" + NS.DS + "}SignatureValue", ""),
        (D + "reference", ""),
        (R + "reference", ""),
        (D + "signer", ""),
        (D + "timestamp", ""),
        ("URI", D + "reference"),
        ("from", C + "message"),
        ("to", D + "message"),
        ("name", R + "reference"),
    } <= found


@pytest.mark.parametrize("schema_file", ["xmpp-dsig.xsd", "xmpp-dsig-robust.xsd"])
def test_the_stanza_desc_positions_the_check_reads_are_those_of_the_content_model(
    schema_file: str,
) -> None:
    # _patterns_hold reads a stanza-desc's children 0, 3 and 4 as signer, copy and timestamp:
    # the quick schema (same content models) has accepted the tree before, so those are the
    # positions of its sequence. Each particle of the sequence is one element or a choice
    # of single elements.
    doc = etree.parse(str(SCHEMAS / schema_file)).getroot()
    desc_type = next(t for t in doc.iter(XS + "complexType") if t.get("name") == "StanzaDescType")
    sequence = desc_type.find(XS + "sequence")
    assert sequence is not None
    particles = [p for p in sequence if isinstance(p.tag, str) and p.tag != XS + "annotation"]
    names: list[set[str]] = []
    for particle in particles:
        assert particle.get("minOccurs") in (None, "1") and particle.get("maxOccurs") in (None, "1")
        options = (
            [particle] if particle.tag == XS + "element" else list(particle.iter(XS + "element"))
        )
        assert particle.tag in (XS + "element", XS + "choice")
        names.append({str(o.get("name") or o.get("ref")) for o in options})
    assert len(names) == 5
    assert names[0] == {"signer"}
    assert names[3] == {"message", "presence", "iq"}
    assert names[4] == {"timestamp"}


def test_the_quick_schema_differs_only_by_the_stripped_facets() -> None:
    for name, types in schema_module._CHECKED_IN_PYTHON.items():
        source = (SCHEMAS / name).read_bytes()
        stripped = etree.fromstring(schema_module._without_patterns(source, types))
        original = etree.fromstring(source)
        removed = [
            p
            for p in original.iter(XS + "pattern")
            if str(next(p.iterancestors(XS + "simpleType")).get("name")) in types
        ]
        assert all(p.getparent() is not None for p in removed)
        assert removed, f"{name}: nothing to strip"
        assert len(list(original.iter())) - len(removed) == len(list(stripped.iter()))


# -- verdicts ------------------------------------------------------------------------------


def _verdicts(
    root: etree._Element,
) -> tuple[schema_module._RawFaults | None, schema_module._RawFaults | None]:
    return schema_module._run_schema(root), schema_module._run_schema(root, quick=True)


def _corpus() -> list[tuple[str, bool]]:
    with (CORPUS / "MANIFEST.tsv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t"))[1:]
    return [(row[0], row[1] == "valid") for row in rows]


@pytest.mark.parametrize(("path", "valid"), _corpus())
def test_quick_and_full_verdicts_agree_on_the_corpus(path: str, valid: bool) -> None:
    root = parse((CORPUS / path).read_bytes())
    full, quick = _verdicts(root)
    assert full == quick  # same None, or the same faults (both from the full schema)


def _signed(profile: object, data: bytes) -> tuple[bytes, Verifier]:
    ident = generate_identity("juliet@capulet.net", "ecdsa-p256")
    signer = Signer(
        ident.private_key,
        signer="juliet@capulet.net",
        certificate=ident.certificate,
        profile=profile,  # type: ignore[arg-type]
    )
    trust = TrustStore().pin("juliet@capulet.net", ident.certificate)
    return signer.sign(data), Verifier(trust, profile=profile)  # type: ignore[arg-type]


MESSAGE = (
    b"<message xmlns='jabber:client' from='juliet@capulet.net/balcony' id='1' "
    b"to='romeo@montague.net' type='chat'><body>Wherefore art thou?</body></message>"
)


@pytest.mark.parametrize("profile", [SPEC, ROBUST], ids=["spec", "robust"])
def test_a_signed_stanza_is_accepted_by_the_quick_path_itself(profile: object) -> None:
    # The quick path must not quietly fall back to the full schema on ordinary stanzas
    # (it would be correct, but no quicker): the quick schema and the check accept them.
    signed, verifier = _signed(profile, MESSAGE)
    root = parse(signed)
    assert schema_module._run_schema(root, quick=True) is None
    assert schema_module._quick is not None
    assert schema_module._quick[1](root)
    assert schema_module._patterns_hold(root)
    assert verifier.verify(signed).valid


def _with_digest(signed: bytes, bad: str) -> bytes:
    root = parse(signed)
    digest = next(root.iter("{" + NS.DS + "}DigestValue"))
    digest.text = bad + (digest.text or "")  # inserted: libxml2's base64Binary skips it
    return etree.tostring(root)


# libxml2's xs:base64Binary skips characters outside the alphabet: only the pattern refuses
# these, so they are exactly what the quick schema accepts and the Python check must catch.
@pytest.mark.parametrize("bad", [".", "!", "\u00e9", "-", "_", "\u00a0", "*"])
@pytest.mark.parametrize("profile", [SPEC, ROBUST], ids=["spec", "robust"])
def test_a_digest_outside_the_base64_alphabet_is_refused_as_before(
    profile: object, bad: str
) -> None:
    signed, verifier = _signed(profile, MESSAGE)
    tampered = _with_digest(signed, bad)
    root = parse(tampered)
    full, quick = _verdicts(root)
    assert full is not None and full == quick
    assert not schema_module._patterns_hold(root)
    with pytest.raises(SignatureSchemaError) as err:
        check_received(root)
    assert "[facet 'pattern']" in str(err.value)


def test_a_base64_element_inside_an_unknown_payload_is_still_checked() -> None:
    # A ds:DigestValue inside an unknown extension is validated through the lax wildcard
    # by the full schema; the quick path must refuse it too.
    bad = (
        b"<message xmlns='jabber:client' id='1'><x xmlns='urn:example:x'>"
        b"<DigestValue xmlns='http://www.w3.org/2000/09/xmldsig#'>AAA.A</DigestValue>"
        b"</x></message>"
    )
    good = bad.replace(b"AAA.A", b"AAAA")
    root = parse(bad)
    full, quick = _verdicts(root)
    assert full is not None and full == quick
    assert _verdicts(parse(good)) == (None, None)
    with pytest.raises((StanzaSchemaError, SignatureSchemaError)):
        validate(bad)


def test_a_non_base64_text_in_the_dsig_namespace_falls_back_to_the_full_verdict() -> None:
    # ds:KeyName is a string: the Python check refuses its '@' (a superset of the sites),
    # and the full schema, consulted then, accepts the stanza.
    doc = (
        b"<message xmlns='jabber:client' id='1'><x xmlns='urn:example:x'>"
        b"<KeyName xmlns='http://www.w3.org/2000/09/xmldsig#'>juliet@capulet.net</KeyName>"
        b"</x></message>"
    )
    root = parse(doc)
    assert not schema_module._patterns_hold(root)
    assert _verdicts(root) == (None, None)
    validate(doc)


PACKAGE_XSD = b"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"
    xmlns:ds="http://www.w3.org/2000/09/xmldsig#" targetNamespace="urn:example:b64"
    elementFormDefault="qualified">
  <xs:import namespace="http://www.w3.org/2000/09/xmldsig#"/>
  <xs:element name="blob" type="ds:Base64Type"/>
</xs:schema>"""


def test_a_registered_package_disables_the_quick_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A registered package's schema can use ds:Base64Type for an element the Python check
    # does not read (here {urn:example:b64}blob): with a package registered, the full
    # schema answers alone.
    package = tmp_path / "quickb64pkg"
    (package / "xsd").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "xsd" / "b64.xsd").write_bytes(PACKAGE_XSD)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(schema_module, "_registered", schema_module._registered)
    monkeypatch.setattr(schema_module, "_schema", schema_module._schema)
    bad = parse(
        b"<message xmlns='jabber:client' id='1'>"
        b"<blob xmlns='urn:example:b64'>AA.AA</blob></message>"
    )
    assert _verdicts(bad) == (None, None)  # unknown element: lax, not validated
    assert schema_module.register("quickb64pkg") == ("urn:example:b64",)
    full, quick = _verdicts(bad)
    assert full is not None and full == quick
    assert "[facet 'pattern']" in str(full)


def _with_reference_uri(signed: bytes, uri: str) -> bytes:
    root = parse(signed)
    reference = next(root.iter("{" + NS.XMPP_DSIG + "}reference"))
    reference.set("URI", uri)
    return etree.tostring(root)


@pytest.mark.parametrize(
    ("uri", "valid"),
    [
        ("urn:xmpp:dsig:ref:0#d1", True),
        ("urn:xmpp:dsig:ref:0#\u00e9t\u00e9", True),  # a Letter: the full schema decides
        ("urn:xmpp:dsig:ref:0#1abc", False),  # a digit first: anyURI, not the pattern
        ("urn:xmpp:dsig:ref:0#a:b", False),
        ("urn:xmpp:dsig:ref:1#a", False),
        ("#a", False),
    ],
)
def test_reference_uris_get_the_full_schemas_verdict(uri: str, valid: bool) -> None:
    signed, _ = _signed(SPEC, MESSAGE)
    root = parse(_with_reference_uri(signed, uri))
    full, quick = _verdicts(root)
    assert full == quick
    assert (full is None) == valid
    if not valid:
        assert "[facet 'pattern']" in str(full) or "anyURI" in str(full)


# -- the values the quick path checks in Python, each made invalid at its place -------------


def _retext(signed: bytes, tag: str, text: str) -> bytes:
    root = parse(signed)
    next(root.iter(tag)).text = text
    return etree.tostring(root)


def _reattr(signed: bytes, tag: str, name: str, value: str) -> bytes:
    root = parse(signed)
    next(root.iter(tag)).set(name, value)
    return etree.tostring(root)


def _variants(profile: object) -> list[tuple[str, bytes]]:
    signed, _ = _signed(profile, MESSAGE)
    ns = D if profile is SPEC else R
    out = [
        ("stanza from", _reattr(signed, C + "message", "from", "juliet@capulet.net /x")),
        ("stanza to", _reattr(signed, C + "message", "to", "ro\u0085meo@montague.net")),
        ("copy from", _reattr(signed, ns + "message", "from", "a b@capulet.net")),
        ("copy to", _reattr(signed, ns + "message", "to", "romeo@montague.net/")),
        ("signer", _retext(signed, ns + "signer", "juliet@capulet.net/balcony")),
        ("signer", _retext(signed, ns + "signer", "jul:iet@capulet.net")),
        # valid xs:dateTime values the pattern refuses
        ("timestamp", _retext(signed, ns + "timestamp", "2026-12-02T17:39:35.4Z")),
        ("timestamp", _retext(signed, ns + "timestamp", "2026-12-02T17:39:35.400+00:00")),
        ("digest", _retext(signed, ns + "reference", "AAAA.AAAA")),
        # A newline inside a value: each line alone would match (the values are checked
        # joined by newlines), the value does not.
        ("stanza from+nl", _reattr(signed, C + "message", "from", "juliet@capulet.net\nromeo")),
        ("copy to+nl", _reattr(signed, ns + "message", "to", "romeo@montague.net\nx")),
        ("signer+nl", _retext(signed, ns + "signer", "juliet@capulet.net\nromeo@montague.net")),
    ]
    if profile is SPEC:
        out.append(("uri", _reattr(signed, D + "reference", "URI", "urn:xmpp:dsig:ref:0#a:b")))
        out.append(
            (
                "uri+nl",
                _reattr(
                    signed, D + "reference", "URI", "urn:xmpp:dsig:ref:0#a\nurn:xmpp:dsig:ref:0#b"
                ),
            )
        )
    else:
        out += [
            ("name", _reattr(signed, R + "reference", "name", "1body")),
            ("ns", _reattr(signed, R + "reference", "ns", "urn:a b")),
            ("name+nl", _reattr(signed, R + "reference", "name", "body\nthread")),
            ("ns+nl", _reattr(signed, R + "reference", "ns", "urn:a\nurn:b")),
        ]
    return out


@pytest.mark.parametrize("profile", [SPEC, ROBUST], ids=["spec", "robust"])
def test_each_value_checked_in_python_gets_the_full_schemas_verdict(profile: object) -> None:
    wrong = []
    for what, data in _variants(profile):
        root = parse(data)
        full, quick = _verdicts(root)
        # Each variant is schema-invalid, and the quick path says so, with the same faults
        # (a pattern fault; for a URI with a newline, its type's: anyURI collapses it).
        if full is None or quick != full:
            wrong.append(what)
        elif not any("[facet 'pattern']" in f[2] or "ReferenceUriType" in f[2] for f in full):
            wrong.append(what)
    assert wrong == []


def test_an_error_by_and_an_xmldsig11_text_are_checked() -> None:
    by = (
        b"<message xmlns='jabber:client' id='1' type='error'><error type='cancel' by='a b'>"
        b"<item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"
    )
    assert _verdicts(parse(by.replace(b"a b", b"capulet.net"))) == (None, None)
    full, quick = _verdicts(parse(by))
    assert full is not None and full == quick
    ds11 = (
        b"<message xmlns='jabber:client' id='1'><x xmlns='urn:example:x'>"
        b"<DEREncodedKeyValue xmlns='http://www.w3.org/2009/xmldsig11#'>AAA.A"
        b"</DEREncodedKeyValue></x></message>"
    )
    assert _verdicts(parse(ds11.replace(b"AAA.A", b"AAAA"))) == (None, None)
    full, quick = _verdicts(parse(ds11))
    assert full is not None and full == quick


@pytest.mark.parametrize("profile", [SPEC, ROBUST], ids=["spec", "robust"])
def test_skipping_what_the_structure_phase_read_never_changes_a_verdict(profile: object) -> None:
    # Verification passes the stanza-descs its structure phase read whole (`read`): their
    # digests, reference names and timestamp are not read again. For every variant whose
    # stanza-desc the structure phase accepts, the verdict with `read` is the one without.
    signed, verifier = _signed(profile, MESSAGE)
    ns = D if profile is SPEC else R
    for what, data in [("as signed", signed), *_variants(profile)]:
        root = parse(data)
        desc = next(root.iter(ns + "stanza-desc"))
        try:
            verifier._parse(next(root.iter("{" + NS.DS + "}Signature")))
        except XmppSecError:  # the structure phase refuses it: never passed as `read`
            continue
        outcomes = []
        for read in ((), (desc,)):
            try:
                check_received(root, read=read)
                outcomes.append("valid")
            except (StanzaSchemaError, SignatureSchemaError) as exc:
                outcomes.append(type(exc).__name__)
        assert outcomes[0] == outcomes[1], what


def test_a_timestamp_with_white_space_around_gets_the_full_verdict() -> None:
    # xs:dateTime collapses white space before the pattern applies: a trailing newline is
    # valid. The Python check refuses it (it checks the text as it is), so the full schema
    # answers, and both say valid.
    signed, _ = _signed(SPEC, MESSAGE)
    text = next(parse(signed).iter(D + "timestamp")).text
    root = parse(_retext(signed, D + "timestamp", f"{text}\n"))
    assert not schema_module._patterns_hold(root)
    assert _verdicts(root) == (None, None)
