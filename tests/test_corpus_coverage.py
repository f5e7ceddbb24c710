"""The RELAX NG twins cannot drift unseen: every element and attribute the XSDs declare
appears in at least one valid corpus document (issue 15), so a component added to an XSD
without a corpus document (and so without the RELAX NG agreement test seeing it) fails.

Elements are keyed by expanded name; attributes by (expanded name of an element declared
with a type that carries the attribute, expanded name of the attribute), following type
derivation (extension/restriction) and attribute group references."""

from __future__ import annotations

import csv
from pathlib import Path

from lxml import etree

from xmppsec.parser import parse

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "schemas"
CORPUS = ROOT / "tests" / "vectors" / "corpus"
XS = "{http://www.w3.org/2001/XMLSchema}"

Name = tuple[str, str]  # (namespace, local name)


XML_NS = "http://www.w3.org/XML/1998/namespace"


def _qname(el: etree._Element, value: str) -> Name:
    prefix, _, local = value.rpartition(":")
    if prefix == "xml":  # bound by definition, never declared
        return (XML_NS, local)
    return (el.nsmap.get(prefix or None) or "", local)


class _Schemas:
    def __init__(self) -> None:
        self.types: dict[Name, etree._Element] = {}
        self.groups: dict[Name, etree._Element] = {}
        self.elements: list[tuple[Name, etree._Element]] = []  # declared name, declaration
        self.global_elements: dict[Name, etree._Element] = {}
        for path in sorted(SCHEMAS.glob("*.xsd")):
            root = etree.parse(str(path)).getroot()
            tns = root.get("targetNamespace", "")
            qualified = root.get("elementFormDefault") == "qualified"
            for el in root:
                name = el.get("name")
                tag = el.tag
                if name is None or not isinstance(tag, str):
                    continue
                if tag in (XS + "complexType", XS + "simpleType"):
                    self.types[(tns, name)] = el
                elif tag == XS + "attributeGroup":
                    self.groups[(tns, name)] = el
                elif tag == XS + "element":
                    self.global_elements[(tns, name)] = el
            for el in root.iter(XS + "element"):
                name = el.get("name")
                if name is None:
                    continue
                top = el.getparent() is root
                form = el.get("form", "qualified" if qualified else "unqualified")
                ns = tns if top or form == "qualified" else ""
                self.elements.append(((ns, name), el))
            self._attr_form = root.get("attributeFormDefault")

    def _attributes_of(self, holder: etree._Element, seen: set[int]) -> set[Name]:
        """Attribute names a complexType (or anonymous one, or group) declares or inherits."""
        if id(holder) in seen:
            return set()
        seen.add(id(holder))
        out: set[Name] = set()
        schema_root = holder.getroottree().getroot()
        tns = schema_root.get("targetNamespace", "")
        qualified = schema_root.get("attributeFormDefault") == "qualified"
        for el in holder.iter(XS + "attribute", XS + "attributeGroup", XS + "extension",
                              XS + "restriction"):
            if el.tag == XS + "attribute":
                if el.get("ref"):
                    out.add(_qname(el, el.get("ref", "")))
                elif el.get("name"):
                    form = el.get("form", "qualified" if qualified else "unqualified")
                    top = el.getparent() is schema_root
                    out.add((tns if top or form == "qualified" else "", el.get("name", "")))
            elif el.tag == XS + "attributeGroup" and el.get("ref"):
                group = self.groups.get(_qname(el, el.get("ref", "")))
                if group is not None:
                    out |= self._attributes_of(group, seen)
            elif el.get("base"):
                base = self.types.get(_qname(el, el.get("base", "")))
                if base is not None:
                    out |= self._attributes_of(base, seen)
        return out

    def required(self) -> tuple[set[Name], set[tuple[Name, Name]]]:
        elements: set[Name] = set()
        attributes: set[tuple[Name, Name]] = set()
        for name, decl in self.elements:
            elements.add(name)
            if decl.get("type"):
                holder = self.types.get(_qname(decl, decl.get("type", "")))
            else:
                holder = decl.find(XS + "complexType")
            if holder is not None:
                for attr in self._attributes_of(holder, set()):
                    attributes.add((name, attr))
        # Global attributes (xml:lang, d:id...) are covered where any element carries them.
        return elements, attributes


def _seen() -> tuple[set[Name], set[tuple[Name, Name]]]:
    elements: set[Name] = set()
    attributes: set[tuple[Name, Name]] = set()
    with (CORPUS / "MANIFEST.tsv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t"))[1:]
    for path, verdict, _ in rows:
        if verdict != "valid":
            continue
        for el in parse((CORPUS / path).read_bytes()).iter():
            if not isinstance(el.tag, str):
                continue
            q = etree.QName(el)
            name = (q.namespace or "", q.localname)
            elements.add(name)
            for key in el.attrib:
                a = etree.QName(key)
                attributes.add((name, (a.namespace or "", a.localname)))
    return elements, attributes


def test_every_declared_element_and_attribute_is_in_a_valid_corpus_document() -> None:
    required_elements, required_attributes = _Schemas().required()
    seen_elements, seen_attributes = _seen()
    assert len(required_elements) > 100 and len(required_attributes) > 80
    missing_elements = sorted(required_elements - seen_elements)
    missing_attributes = sorted(required_attributes - seen_attributes)
    assert not missing_elements and not missing_attributes, (
        f"{len(missing_elements)} element(s) and {len(missing_attributes)} attribute(s) "
        f"declared in schemas/*.xsd appear in no valid corpus document: "
        f"{missing_elements} {missing_attributes}"
    )
