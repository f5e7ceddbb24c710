"""A read-only index of XSD files: namespaces, global components, content models, documentation.

xsdata's class model is built for code, and drops what the reference page needs (global
attributes, simple types nobody uses, the schema-level documentation, the content model as
written).  This module reads the schema files once with lxml and keeps exactly that.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

XS = "http://www.w3.org/2001/XMLSchema"
_XS = f"{{{XS}}}"
_UNBOUNDED = "unbounded"

__all__ = ["Component", "Part", "SchemaFile", "read_schemas"]


@dataclass(frozen=True)
class Part:
    """An attribute of a complex type or element (name or ``ref`` as written in the schema)."""

    name: str
    type: str
    use: str
    doc: str


@dataclass(frozen=True)
class Component:
    """A global schema component: element, attribute, complexType, simpleType or group."""

    kind: str
    name: str
    type: str
    doc: str
    model: str = ""
    base: str = ""
    attributes: tuple[Part, ...] = ()
    facets: tuple[str, ...] = ()


@dataclass(frozen=True)
class SchemaFile:
    """One XSD file: its label (path relative to the schema root), namespace and components."""

    label: str
    path: Path
    namespace: str | None
    doc: str
    imports: tuple[str, ...] = ()
    components: tuple[Component, ...] = field(default=())

    def of_kind(self, kind: str) -> list[Component]:
        return [c for c in self.components if c.kind == kind]


def _doc(node: etree._Element) -> str:
    texts = node.findall(f"{_XS}annotation/{_XS}documentation")
    parts = [" ".join("".join(str(s) for s in t.itertext()).split()) for t in texts]
    return " ".join(p for p in parts if p)


def _occurs(node: etree._Element) -> str:
    low = node.get("minOccurs", "1")
    high = node.get("maxOccurs", "1")
    if (low, high) == ("1", "1"):
        return ""
    if (low, high) == ("0", "1"):
        return "?"
    if (low, high) == ("0", _UNBOUNDED):
        return "*"
    if (low, high) == ("1", _UNBOUNDED):
        return "+"
    return f"{{{low},{'' if high == _UNBOUNDED else high}}}"


def _particle(node: etree._Element) -> str:
    """The content model below ``node`` in a compact regular-expression-like notation."""
    tag = etree.QName(node).localname
    if tag == "element":
        return (node.get("name") or node.get("ref") or "?") + _occurs(node)
    if tag == "any":
        return f"any({node.get('namespace', '##any')})" + _occurs(node)
    if tag == "group":
        return f"group {node.get('ref', '?')}" + _occurs(node)
    if tag in ("sequence", "choice", "all"):
        inner = [_particle(c) for c in node if _is_xs(c, "element", "any", "group",
                                                            "sequence", "choice", "all")]
        sep = " | " if tag == "choice" else ", "
        body = sep.join(inner) if inner else "empty"
        prefix = "all" if tag == "all" else ""
        return f"{prefix}({body})" + _occurs(node)
    return ""


def _is_xs(node: object, *names: str) -> bool:
    return (
        isinstance(node, etree._Element)
        and isinstance(node.tag, str)
        and node.tag.startswith(_XS)
        and node.tag[len(_XS):] in names
    )


def _attributes(node: etree._Element) -> tuple[Part, ...]:
    parts: list[Part] = []
    for child in node:
        if _is_xs(child, "attribute"):
            name = child.get("name") or child.get("ref") or "?"
            parts.append(Part(name, child.get("type", ""), child.get("use", "optional"),
                              _doc(child)))
        elif _is_xs(child, "attributeGroup"):
            parts.append(Part(child.get("ref", "?"), "", "attribute group", _doc(child)))
        elif _is_xs(child, "anyAttribute"):
            parts.append(Part(f"any attribute ({child.get('namespace', '##any')})", "",
                              "optional", _doc(child)))
    return tuple(parts)


def _complex(node: etree._Element) -> tuple[str, str, tuple[Part, ...]]:
    """(content model, base type, attributes) of a complexType element."""
    model, base = "", ""
    attrs = list(_attributes(node))
    for child in node:
        if _is_xs(child, "sequence", "choice", "all", "group"):
            model = _particle(child)
        elif _is_xs(child, "simpleContent", "complexContent"):
            for derivation in child:
                if _is_xs(derivation, "extension", "restriction"):
                    kind = etree.QName(derivation).localname
                    base = f"{kind} of {derivation.get('base', '?')}"
                    for inner in derivation:
                        if _is_xs(inner, "sequence", "choice", "all", "group"):
                            model = _particle(inner)
                    attrs.extend(_attributes(derivation))
            if _is_xs(child, "simpleContent"):
                model = model or "text"
    if node.get("mixed") == "true":
        model = f"mixed {model}" if model else "mixed text"
    return model or "empty", base, tuple(attrs)


def _facets(node: etree._Element) -> tuple[str, tuple[str, ...]]:
    for child in node:
        if _is_xs(child, "restriction"):
            facets = tuple(
                f"{etree.QName(f).localname}={f.get('value', '')}"
                for f in child
                if isinstance(f.tag, str) and f.tag.startswith(_XS)
                and etree.QName(f).localname not in ("annotation", "simpleType")
            )
            return f"restriction of {child.get('base', 'anonymous type')}", facets
        if _is_xs(child, "list"):
            return f"list of {child.get('itemType', 'anonymous type')}", ()
        if _is_xs(child, "union"):
            return f"union of {child.get('memberTypes', '') or 'anonymous types'}", ()
    return "", ()


def _component(node: etree._Element) -> Component | None:
    kind = etree.QName(node).localname
    name = node.get("name")
    if name is None:
        return None
    doc = _doc(node)
    if kind == "element":
        model, base = "", ""
        attrs: tuple[Part, ...] = ()
        local_type = next((c for c in node if _is_xs(c, "complexType")), None)
        if local_type is not None:
            model, base, attrs = _complex(local_type)
        simple = next((c for c in node if _is_xs(c, "simpleType")), None)
        facets: tuple[str, ...] = ()
        if simple is not None:
            base, facets = _facets(simple)
            model = "text"
        return Component("element", name, node.get("type", ""), doc, model, base, attrs, facets)
    if kind == "complexType":
        model, base, attrs = _complex(node)
        return Component(kind, name, "", doc, model, base, attrs)
    if kind == "simpleType":
        base, facets = _facets(node)
        return Component(kind, name, "", doc, "", base, (), facets)
    if kind == "attribute":
        return Component(kind, name, node.get("type", ""), doc)
    if kind in ("group", "attributeGroup"):
        model = ""
        for child in node:
            if _is_xs(child, "sequence", "choice", "all"):
                model = _particle(child)
        return Component(kind, name, "", doc, model, "", _attributes(node))
    return None


_KINDS = ("element", "attribute", "complexType", "simpleType", "group", "attributeGroup")


def read_schema(path: Path, label: str) -> SchemaFile:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.parse(str(path), parser).getroot()
    components = tuple(
        comp
        for node in root
        if _is_xs(node, *_KINDS)
        for comp in (_component(node),)
        if comp is not None
    )
    imports = tuple(
        node.get("namespace") or node.get("schemaLocation") or ""
        for node in root
        if _is_xs(node, "import", "include")
    )
    return SchemaFile(label, path, root.get("targetNamespace"), _doc(root), imports, components)


def read_schemas(paths: Iterable[Path], root: Path) -> list[SchemaFile]:
    """Index every schema file; labels are POSIX paths relative to ``root``, sorted."""
    result: list[SchemaFile] = []
    for path in sorted(set(paths)):
        try:
            label = path.relative_to(root).as_posix()
        except ValueError:
            label = path.name
        result.append(read_schema(path, label))
    return sorted(result, key=lambda s: s.label)


def namespaces(files: Sequence[SchemaFile]) -> dict[str | None, list[SchemaFile]]:
    """Schema files grouped by target namespace (files without components are skipped)."""
    grouped: dict[str | None, list[SchemaFile]] = {}
    for schema in files:
        if schema.namespace is None and not schema.components:
            continue
        grouped.setdefault(schema.namespace, []).append(schema)
    return grouped
