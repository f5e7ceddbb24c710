"""Schema validation of stanzas and documents, and typed access through the bindings.

Validation (docs/architecture.md, step 2) runs lxml's ``XMLSchema`` over the tree that
:func:`xmppsec.parser.parse` produced, with ONE schema compiled once from the umbrella
``xmppsec.xsd`` (it imports every namespace xmppsec knows; ``processContents='lax'``
wildcards validate known payloads and leave unknown ones alone).

Binding (step 5) turns a validated element into an xsdata dataclass. It is 16-20x slower
than lxml parsing, so it stays off the sign/verify hot path: call it only for what a caller
wants to inspect. xsdata's lxml event handler clears every element of the tree it walks,
so :func:`to_binding` always hands it a private deep copy, never the caller's tree; and
lxml validation only ever sees trees that xsdata has not touched.

Thread safety: an lxml ``XMLSchema`` creates a fresh libxml2 validation context per call
(so the compiled schema itself is shared read-only), but every call first clears and then
fills ONE error log owned by the ``XMLSchema`` object, and validation runs with the GIL
released. Concurrent calls on one object can therefore clear or mix each other's faults.
(Measured: four threads sharing one XMLSchema, ~2.5 % of calls read another call's faults
or an empty log.) This module holds a lock across the call and the copy of the error log,
compiles the schema lazily, once, under the same lock, and takes the verdict from the
validator's return value, never from an empty log (fail closed).
"""

from __future__ import annotations

import copy
import dataclasses
import re
import threading
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from lxml import etree

if TYPE_CHECKING:
    from _typeshed import DataclassInstance
    from xsdata.formats.dataclass.context import XmlContext

from .errors import (
    SchemaError,
    SchemaFault,
    SignatureSchemaError,
    StanzaSchemaError,
    UsageError,
)
from .parser import DEFAULT_LIMITS, Limits, check_tree, parse
from .xmpp import NS, stanza_kind_of

__all__ = [
    "SchemaFault",
    "binding_qname",
    "check_co_constraints",
    "from_binding",
    "register",
    "schema_faults",
    "to_binding",
    "validate",
    "validate_document",
]

T = TypeVar("T")

_STANZA_DESC_TAG = "{" + NS.XMPP_DSIG + "}stanza-desc"

_UMBRELLA = "xmppsec.xsd"
_RESOURCE_PACKAGE = "xmppsec.bindings"
_RESOURCE_DIR = "xsd"
# Pseudo-URL scheme under which the schema documents import each other. Every import is
# answered from the schema directory by _SchemaResolver; nothing is read from the network
# or from elsewhere on disk.
_BASE_URL = "xmppsec-xsd:///"

# Conventional prefixes for the namespaces xmppsec knows: used in fault paths and when
# serializing bindings (cosmetic only; nothing depends on prefixes).
_PREFIXES: dict[str, str] = {
    "ds": NS.DS,
    "dsig11": NS.DS11,
    "d": NS.XMPP_DSIG,
    "e2e": NS.E2E,
    "stanzas": NS.STANZAS,
    "delay": NS.DELAY,
    "pidf": NS.PIDF,
}
_PREFIX_OF = {uri: prefix for prefix, uri in _PREFIXES.items()}


# -- locating and compiling the umbrella schema --------------------------------------------


def _schema_dir() -> Traversable:
    """The directory holding xmppsec.xsd and the schemas it imports.

    The package resource ``xmppsec.bindings/xsd`` (copied there by the generator, shipped in
    the wheel) is authoritative. Only when it is absent - a source checkout before the
    generator ran - the repository's ``schemas/`` is used, recognised by its position next
    to ``runtime/xmppsec``.
    """
    try:
        packaged = resources.files(_RESOURCE_PACKAGE) / _RESOURCE_DIR
        if (packaged / _UMBRELLA).is_file():
            return packaged
    except ModuleNotFoundError:
        pass
    here = Path(__file__).resolve().parent  # runtime/xmppsec
    checkout = here.parent.parent / "schemas"
    if here.parent.name == "runtime" and (checkout / _UMBRELLA).is_file():
        return checkout
    raise RuntimeError(
        f"xmppsec schemas not found: neither the {_RESOURCE_PACKAGE} resource "
        f"{_RESOURCE_DIR}/{_UMBRELLA} nor a source checkout's schemas/{_UMBRELLA}"
    )


class _SchemaResolver(etree.Resolver):
    """Answers schema imports (``schemaLocation`` = a sibling file name) from one directory."""

    def __init__(
        self, directory: Traversable, extra: tuple[_Registered, ...] = (), *, strip: bool = False
    ) -> None:
        super().__init__()
        self._directory = directory
        self._extra = extra
        self._strip = strip

    # lxml calls resolve(system_url, public_id, context); lxml-stubs 0.5.1 omits `context`
    # (an override error there), types-lxml has it (no error: the ignore is unused there).
    def resolve(  # type: ignore[override, unused-ignore]
        self, system_url: str | None, public_id: str | None, context: Any
    ) -> Any:
        name = (system_url or "").removeprefix(_BASE_URL)
        directory = self._directory
        prefix = f"{_PACKAGE_DIR}/"
        if name.startswith(prefix):  # a registered package's file: pkg/<n>/<file>
            index, _, name = name[len(prefix) :].partition("/")
            if not index.isdigit() or int(index) >= len(self._extra):
                name = ""
            else:
                directory = self._extra[int(index)].directory
                package_url = f"{_BASE_URL}{prefix}{index}/"
        else:
            package_url = _BASE_URL
        if name and "/" not in name and "\\" not in name and not name.startswith("."):
            source = directory / name
            if source.is_file():
                url = package_url + name
                text = source.read_bytes()
                if self._strip and package_url == _BASE_URL and name in _CHECKED_IN_PYTHON:
                    text = _without_patterns(text, _CHECKED_IN_PYTHON[name])
                return self.resolve_string(text, context, base_url=url)
        # Unknown location: an empty answer makes the schema fail to compile, loudly,
        # instead of letting libxml2 fall back to the file system or the network.
        return self.resolve_string(b"<unresolved-schema-location/>", context, base_url=None)


def _compile_schema(extra: tuple[_Registered, ...] = (), *, strip: bool = False) -> etree.XMLSchema:
    """The umbrella schema with ``extra`` packages; with ``strip``, the quick schema (the
    pattern facets of :data:`_CHECKED_IN_PYTHON` removed)."""
    directory = _schema_dir()
    parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True)
    parser.resolvers.add(_SchemaResolver(directory, extra, strip=strip))
    source = _umbrella_source((directory / _UMBRELLA).read_bytes(), extra)
    doc = etree.fromstring(source, parser, base_url=_BASE_URL + _UMBRELLA)
    try:
        return etree.XMLSchema(doc)
    except etree.XMLSchemaParseError as exc:
        raise RuntimeError(f"xmppsec schemas do not compile: {exc}") from exc


_lock = threading.Lock()
_schema: etree.XMLSchema | None = None
# (the full schema it was compiled beside, the quick schema): rebuilt when _schema changes.
_quick: tuple[etree.XMLSchema, etree.XMLSchema] | None = None


# -- the quick path: the pattern facets checked in Python, libxml2 for the rest -------------
#
# libxml2 runs an XSD pattern facet through its general regular-expression engine, at a few
# hundred instructions per character: on every DigestValue, SignatureValue (344 characters
# for RSA-2048), reference digest and URI, JID, signer and timestamp these patterns were the
# largest part of a stanza's validation (docs/performance.md). The quick path validates with
# a second compiled schema whose only difference is that the pattern facets of the types in
# _CHECKED_IN_PYTHON are removed (so it accepts a superset), and checks those patterns in
# Python, with expressions that accept a subset of each pattern, on a superset of the places
# the full schema applies them:
#
# * ds:Base64Type (and the types derived from it): declared on global elements of the XML-DSig
#   namespaces, which lax wildcards validate wherever they appear, so the text of EVERY
#   element in those namespaces is checked, wherever it is in the tree; and on the local
#   d:reference / r:reference of a stanza copy (below);
# * the other types are used only by local declarations inside d:stanza-desc and
#   r:stanza-desc (global elements: found wherever they are): the signer and timestamp
#   children, the copy's from/to, each reference's digest and URI (spec) or name and ns
#   (robust); and by the from/to of the jabber:client stanzas (global elements) and the by of
#   their local error child (every c:error is read: a superset).
#
# A local declaration applies only inside its parent's content model: a d:signer anywhere
# else is validated by neither schema. The positions inside a stanza-desc are those of its
# content model (signer, Transforms, DigestMethod, copy, timestamp), which the quick schema,
# with the same content models as the full one, has accepted before the checks run.
# "Quick schema valid and every check holds" therefore implies "full schema valid"; any other
# outcome runs the full schema, whose verdict and faults are the ones reported.
# tests/test_schema_quick.py derives every use of a stripped type from the XSD sources and
# fails if one is not among these places, and checks that the quick and full verdicts agree
# over the corpora (docs/validation.md, "The quick path for stanzas").

# Schema file -> simple types whose xs:pattern facets the quick schema drops.
_CHECKED_IN_PYTHON: dict[str, frozenset[str]] = {
    "xmldsig-core.xsd": frozenset({"Base64Type"}),
    "xmpp-dsig.xsd": frozenset({"ReferenceUriType", "JidType", "SignerType", "TimestampType"}),
    "xmpp-dsig-robust.xsd": frozenset({"NamespaceNameType", "LocalNameType"}),
    "jabber-client.xsd": frozenset({"JidType"}),
}

_XS = "{http://www.w3.org/2001/XMLSchema}"


# Stripped types the quick schema also derives from xs:string instead of their base: the
# Python check accepts only values that are valid in that base too (here: a URI the
# expression admits is a valid xs:anyURI), and libxml2 then skips parsing every reference
# URI as a URI.
_QUICK_BASE = {"ReferenceUriType": "xs:string"}


def _without_patterns(source: bytes, types: frozenset[str]) -> bytes:
    doc = etree.fromstring(source, etree.XMLParser(resolve_entities=False, no_network=True))
    for simple in doc.iterchildren(_XS + "simpleType"):
        name = simple.get("name")
        if name in types:
            for restriction in simple.iterchildren(_XS + "restriction"):
                for facet in list(restriction.iterchildren(_XS + "pattern")):
                    restriction.remove(facet)
                if name in _QUICK_BASE:
                    restriction.set("base", _QUICK_BASE[name])
    return etree.tostring(doc)


# ds:Base64Type's pattern [A-Za-z0-9+/=\s]* (\s in XSD regular expressions: space, tab, CR,
# LF), a language closed under concatenation and under taking pieces: all the texts are
# checked at once, joined, by deleting the alphabet and finding nothing left. Checked on the
# text as it is, before whitespace collapsing (which only turns whitespace into spaces).
_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\t\n\r "
# Each expression below matches a run of values of one type, each followed by "\n".
#
# d:ReferenceUriType's pattern urn:xmpp:dsig:ref:0#[\i-[:]][\c-[:]]* with the name in ASCII
# (a subset: a non-ASCII name takes the full schema).
_REFERENCE_URIS = re.compile("(?:urn:xmpp:dsig:ref:0#[A-Za-z_][A-Za-z0-9._-]*\n)*")
# c:JidType and d:JidType: ([^\s\p{Cc}"&'/:<>@]+@)?[^\s\p{Cc}/@]+(/[^\p{Cc}]+)? and
# d:SignerType, the same without the resource. \p{Cc} is U+0000-U+001F and U+007F-U+009F
# (so no class admits "\n"); the classes are written out, so Python's wider \s plays no
# part: the same languages.
_CC = "\\x00-\\x1f\\x7f-\\x9f"
_LOCAL = f"[^ \\t\\n\\r{_CC}\"&'/:<>@]+@"
_DOMAIN = f"[^ \\t\\n\\r{_CC}/@]+"
_JIDS = re.compile(f"(?:(?:{_LOCAL})?{_DOMAIN}(?:/[^{_CC}]+)?\n)*")
_SIGNERS = re.compile(f"(?:(?:{_LOCAL})?{_DOMAIN}\n)*")
# d:TimestampType's pattern, character for character ([0-9] is ASCII in both). The pattern
# applies to the collapsed value; the text as it is is checked (stricter: surrounding
# whitespace takes the full schema).
_TIMESTAMPS = re.compile(
    r"(?:[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{3}Z\n)*"
)
# r:LocalNameType [\i-[:]][\c-[:]]* in ASCII (a subset) and r:NamespaceNameType [^\s{}]+.
_LOCAL_NAMES = re.compile("(?:[A-Za-z_][A-Za-z0-9._-]*\n)*")
_NAMESPACE_NAMES = re.compile("(?:[^ \\t\\n\\r{}]+\n)*")

_SITE_NAMESPACES = {
    "c": NS.JABBER_CLIENT.value,
    "s": NS.JABBER_SERVER.value,
    "d": NS.XMPP_DSIG.value,
    "r": NS.XMPP_DSIG_ROBUST.value,
    "ds": NS.DS.value,
    "dsig11": NS.DS11.value,
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
# What the checks below and the co-constraints look at, found in one C-level walk (lxml's
# tag filter; cheaper here than an XPath union): every element of the stanza namespaces
# (jabber:client and jabber:server: the stanzas, for the co-constraints, and c:error; a
# namespace wildcard costs less to set up than one tag per name, and the few other children
# are skipped), every stanza-desc of either profile, every XML-DSig 1.1 element. Relative to
# the element checked: a ds:Signature is also validated as a document of its own.
_SITE_TAGS = (
    "{" + NS.JABBER_CLIENT + "}*",  # stanzas and c:error (and their other children, skipped)
    "{" + NS.JABBER_SERVER + "}*",
    "{" + NS.XMPP_DSIG + "}stanza-desc",
    "{" + NS.XMPP_DSIG_ROBUST + "}stanza-desc",
    "{" + NS.DS11 + "}*",
)
# Any xsi:* attribute (a name test on the namespace: one C-level pass).
_HAS_XSI = etree.XPath(
    "boolean(descendant-or-self::*/@xsi:*)", namespaces=_SITE_NAMESPACES, regexp=False
)
# The text of every element in the XML-DSig namespaces (a superset of the simple-typed
# ones: a mixed or complex element's text must then be base64 too, or the full schema runs).
# XML-DSig 1.1 elements are rare: the sites walk finds them (their .text is checked).
_DSIG_TEXTS = etree.XPath(
    "descendant-or-self::ds:*/text()",
    namespaces=_SITE_NAMESPACES,
    smart_strings=False,
    regexp=False,
)

_C = "{" + NS.JABBER_CLIENT + "}"
_D_DESC = "{" + NS.XMPP_DSIG + "}stanza-desc"
_R_DESC = "{" + NS.XMPP_DSIG_ROBUST + "}stanza-desc"
_C_STANZAS = frozenset(_C + kind for kind in ("message", "presence", "iq"))
_DS11 = "{" + NS.DS11 + "}"

# (element, tag) of each element of _SITE_TAGS under the root, whether there is an xsi:*
# attribute, and the stanza-desc elements whose references and timestamp the caller has
# already checked (check_received's ``read``).
_Sites = tuple[list[tuple[etree._Element, str]], bool, Collection[etree._Element]]


def _site_elements(root: etree._Element) -> list[tuple[etree._Element, str]]:
    return [(el, str(el.tag)) for el in root.iter(*_SITE_TAGS)]


def _find_sites(root: etree._Element, read: Collection[etree._Element] = ()) -> _Sites:
    with _lock:  # lxml XPath evaluators are not shared across threads unguarded
        xsi = bool(_HAS_XSI(root))
    return _site_elements(root), xsi, read


def _patterns_hold(root: etree._Element, sites: _Sites | None = None) -> bool:
    """The stripped patterns hold on every place the full schema could apply them to (see
    above); ``sites`` is ``_find_sites(root)``. Runs after the quick schema accepted
    ``root``, with ``_lock`` held (or in one thread). The text of a simple-typed element is
    its one text node: the trees here passed the RFC 6120 §11.1 walk, so no comment, PI or
    entity reference splits it. Values of one kind are checked together, each followed by a
    newline (which none of the expressions admits inside a value): one match per kind."""
    elements, _, read = (_site_elements(root), False, ()) if sites is None else sites
    texts = cast("list[str]", _DSIG_TEXTS(root))
    jids: set[str | None] = set()  # a copy's from/to are usually the stanza's: each once
    signers: list[str] = []
    stamps: list[str] = []
    uris: list[str] = []
    names: list[str] = []
    namespaces: list[str | None] = []
    for site, tag in elements:
        if tag in _C_STANZAS:
            jids.update((site.get("from"), site.get("to")))
        elif tag == _C + "error":
            jids.add(site.get("by"))
        elif tag.startswith(_DS11):
            texts.append(site.text or "")
        elif tag == _D_DESC or tag == _R_DESC:
            try:
                signer, copy, stamp = site[0], site[3], site[4]
            except IndexError:
                return False
            signers.append(signer.text or "")
            jids.update((copy.get("from"), copy.get("to")))
            if site in read:
                continue  # references and timestamp checked by the caller (check_received)
            stamps.append(stamp.text or "")
            robust = tag == _R_DESC
            for reference in copy:
                texts.append(reference.text or "")
                if robust:
                    names.append(reference.get("name") or "")
                    namespaces.append(reference.get("ns"))
                else:
                    uris.append(reference.get("URI") or "")
    joined = "".join(texts)
    if not joined.isascii() or joined.encode("ascii").translate(None, _BASE64_ALPHABET):
        return False
    jids.discard(None)  # absent attributes
    # (Empty lists, the common case for what the caller has read, cost no call.)
    return (
        (not jids or _all_match(_JIDS, cast("set[str]", jids)))
        and (not signers or _all_match(_SIGNERS, signers))
        and (not stamps or _all_match(_TIMESTAMPS, stamps))
        and (not uris or _all_match(_REFERENCE_URIS, uris))
        and (
            not names
            or _all_match(_LOCAL_NAMES, names)
            and _all_match(_NAMESPACE_NAMES, [ns for ns in namespaces if ns is not None])
        )
    )


def _all_match(expression: re.Pattern[str], values: Collection[str]) -> bool:
    """Every value matches: one match over the values joined, each followed by a newline.
    No expression admits a newline inside a value, but a value may hold one (a text, or an
    attribute's &#10;) and would then pass as two values: the count of newlines in the
    joined values (one between each two) rules that out."""
    if not values:
        return True
    joined = "\n".join(values)
    return joined.count("\n") == len(values) - 1 and (
        expression.fullmatch(joined + "\n") is not None
    )


# -- third-party schema packages (xmppsec codegen --package P output) -----------------------


@dataclass(frozen=True, slots=True)
class _Registered:
    package: str
    directory: Traversable
    files: tuple[tuple[str, str], ...]  # (file name, target namespace)


_registered: tuple[_Registered, ...] = ()
_PACKAGE_DIR = "pkg"  # registered files answer under xmppsec-xsd:///pkg/<n>/<file>


def _umbrella_source(source: bytes, extra: tuple[_Registered, ...]) -> bytes:
    """The umbrella schema, with one ``xs:import`` per registered schema file appended (a
    namespace imported twice keeps its first schema: xmppsec's own copy wins)."""
    if not extra:
        return source
    imports = []
    for n, reg in enumerate(extra):
        for name, namespace in reg.files:
            element = etree.Element(
                "{http://www.w3.org/2001/XMLSchema}import",
                namespace=namespace,
                schemaLocation=f"{_PACKAGE_DIR}/{n}/{name}",
            )
            imports.append(etree.tostring(element))
    end = source.rindex(b"</xs:schema>")
    return source[:end] + b"".join(imports) + source[end:]


def register(package: str | ModuleType) -> tuple[str, ...]:
    """Make :func:`validate`, :func:`validate_document`, :func:`to_binding` and
    :func:`from_binding` know the schemas of a package generated by ``xmppsec codegen
    --package P`` (its XSDs are shipped in ``P/xsd/``); return their target namespaces.

    The schema is recompiled once with the package's XSDs imported beside xmppsec's; a
    namespace xmppsec already knows keeps xmppsec's schema. Registering a package twice is
    a no-op. Raises :class:`~xmppsec.errors.UsageError` when the package cannot be imported,
    ships no XSD, or its schemas do not compile (nothing is registered then).
    """
    global _registered, _schema
    name = package if isinstance(package, str) else package.__name__
    try:
        directory = resources.files(name) / _RESOURCE_DIR
    except (ImportError, TypeError, ValueError) as exc:
        raise UsageError(f"schema package {name!r} cannot be imported: {exc}") from None
    files = []
    for entry in sorted(directory.iterdir(), key=lambda e: e.name) if directory.is_dir() else ():
        if entry.name.endswith(".xsd") and entry.is_file():
            files.append((entry.name, _target_namespace(entry)))
    if not files:
        raise UsageError(f"schema package {name!r} ships no XSD in {_RESOURCE_DIR}/")
    with _lock:
        if any(r.package == name for r in _registered):
            return tuple(ns for r in _registered if r.package == name for _, ns in r.files)
        candidate = (*_registered, _Registered(name, directory, tuple(files)))
        try:
            compiled = _compile_schema(candidate)
        except RuntimeError as exc:
            raise UsageError(f"the schemas of {name!r} do not compile: {exc}") from None
        _registered, _schema = candidate, compiled
    return tuple(ns for _, ns in files)


def _target_namespace(entry: Traversable) -> str:
    parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True)
    try:
        root = etree.fromstring(entry.read_bytes(), parser)
    except etree.XMLSyntaxError as exc:
        raise UsageError(f"{entry.name} is not well-formed: {exc}") from None
    return str(root.get("targetNamespace", ""))


_RawFaults = tuple[tuple[int, str, str], ...]


def _run_schema(
    element: etree._Element, *, quick: bool = False, sites: _Sites | None = None
) -> _RawFaults | None:
    """Validate ``element`` as a document root: None when valid, else (line, path, message)
    per fault. The verdict comes from the validator's return value, never from the error
    log being empty (an empty log must not turn into "valid").

    With ``quick`` (and no registered package, whose schemas could use the stripped types),
    the quick schema and :func:`_patterns_hold` answer first (``sites``: ``_find_sites`` of
    ``element``, when the caller has it); only a refusal by either goes to the full schema,
    which gives the verdict and the faults."""
    global _schema, _quick
    with _lock:
        if _schema is None:
            _schema = _compile_schema(_registered)
        if quick and not _registered:
            if _quick is None or _quick[0] is not _schema:
                _quick = (_schema, _compile_schema(strip=True))
            if _quick[1](element) and _patterns_hold(element, sites):
                return None
        if _schema(element):
            return None
        # lxml-stubs declares _ErrorLog opaque; it iterates _LogEntry objects.
        entries = cast("Iterable[Any]", _schema.error_log)
        return tuple((int(e.line), str(e.path), str(e.message)) for e in entries)


# -- faults -> typed errors ---------------------------------------------------------------


def _line(element: etree._Element) -> int:
    # lxml gives int or None (a tree built in Python); lxml-stubs leaves sourceline untyped.
    line = getattr(element, "sourceline", None)
    return line if isinstance(line, int) and line > 0 else 0


def _readable_path(element: etree._Element, root: etree._Element) -> str:
    """An XPath-like path such as ``/message/ds:Signature/ds:SignedInfo[2]``.

    Known namespaces use their conventional prefix (``ds``, ``d``, ``e2e``, ...), names in
    the root's namespace (``jabber:client``) are bare, others use the document's prefix, or Clark
    notation ``{uri}name`` when the document uses a default namespace. ``[n]`` counts
    same-named siblings, 1-based, and appears only when there are several.
    """
    root_ns = etree.QName(root).namespace
    steps: list[str] = []
    node: etree._Element | None = element
    while node is not None:
        qname = etree.QName(node)
        known = _PREFIX_OF.get(qname.namespace or "")
        if known is not None:
            step = f"{known}:{qname.localname}"
        elif qname.namespace == root_ns:
            step = qname.localname
        elif node.prefix:
            step = f"{node.prefix}:{qname.localname}"
        else:
            step = qname.text
        parent = node.getparent() if node is not root else None
        if parent is not None:
            same = [sibling for sibling in parent if sibling.tag == node.tag]
            if len(same) > 1:
                step += f"[{same.index(node) + 1}]"
        steps.append(step)
        node = parent
    return "/" + "/".join(reversed(steps))


def _self_and_ancestors(element: etree._Element) -> list[etree._Element]:
    return [element, *element.iterancestors()]


def _is_signature_part(element: etree._Element) -> bool:
    return element.tag == _STANZA_DESC_TAG or etree.QName(element).namespace == NS.DS


def _fault_error(raw: _RawFaults, root: etree._Element, *, what: str) -> SchemaError:
    """Turn libxml2's faults on the tree rooted at ``root`` into a typed error.

    libxml2 names the faulty node by ``xmlGetNodePath``, the same function behind
    ``getpath``; matching the two finds the element, which gives a readable path and tells
    whether the fault lies inside a ds:Signature.
    """
    tree = root.getroottree()
    by_path = {tree.getpath(el): el for el in root.iter() if isinstance(el.tag, str)}
    faults: list[SchemaFault] = []
    in_signature = False
    for index, (line, libxml_path, message) in enumerate(raw):
        element = by_path.get(libxml_path)
        path = _readable_path(element, root) if element is not None else libxml_path
        if index == 0 and element is not None:
            # Security case 17: a structurally broken signature - anything in the XML-DSig
            # namespace, or the stanza-desc (XEP-0290 §2, inside ds:Object) - is a
            # signature error, not a stanza error.
            in_signature = any(_is_signature_part(node) for node in _self_and_ancestors(element))
        faults.append(SchemaFault(message=message.strip(), line=max(line, 0), path=path))
    if not faults:  # validation failed without a report; still a typed error
        faults.append(SchemaFault(f"{what} is not schema-valid", _line(root), "/"))
    first = faults[0]
    text = first.message
    if len(faults) > 1:
        text += f" (and {len(faults) - 1} more fault(s))"
    cls: type[SchemaError] = SignatureSchemaError if in_signature else StanzaSchemaError
    return cls(text, line=first.line, path=first.path, faults=tuple(faults))


def schema_faults(error: SchemaError) -> tuple[SchemaFault, ...]:
    """Every fault behind a :class:`SchemaError` raised by this module, first one first.

    Errors raised elsewhere (or for a wrong root) carry one fault built from their
    ``line``/``path``.
    """
    return error.faults


# -- public API ---------------------------------------------------------------------------


def _tree(data: bytes | etree._Element, limits: Limits) -> etree._Element:
    if isinstance(data, etree._Element):
        # A tree built or parsed elsewhere gets the same limits and RFC 6120 §11.1 checks.
        check_tree(data, limits)
        return data
    return parse(data, limits)


def validate(data: bytes | etree._Element, *, limits: Limits = DEFAULT_LIMITS) -> etree._Element:
    """Validate one stanza (``message``, ``presence`` or ``iq`` in ``jabber:client``) and
    every payload whose namespace the xmppsec schemas know; return the lxml element.

    Bytes go through :func:`xmppsec.parser.parse` first (RFC 6120 §11 restricted XML and
    ``limits``: :class:`~xmppsec.errors.RestrictedXMLError`,
    :class:`~xmppsec.errors.LimitExceeded`). An element must be a tree xsdata has never
    parsed (xsdata empties the trees it reads).

    Raises :class:`~xmppsec.errors.StanzaSchemaError` for a wrong root or a schema fault,
    :class:`~xmppsec.errors.SignatureSchemaError` when the first fault lies in XML-DSig
    material (a ds:Signature or any ds: element, or a stanza-desc). ``line``/``path`` name
    the first fault; :func:`schema_faults` gives all.
    """
    root = _tree(data, limits)
    # The one stanza rule (RFC 6120 §8, xmppsec.xmpp), then the schemas' own limit: they
    # describe stanzas in jabber:client only (jabber-client.xsd); a jabber:server stanza is
    # a stanza, but not one these schemas can judge.
    client = stanza_kind_of(root) is not None and etree.QName(root).namespace == NS.JABBER_CLIENT
    if not client:
        qname = etree.QName(root)
        raise StanzaSchemaError(
            f"root element {qname.text} is not a stanza the schemas describe: expected "
            f"message, presence or iq in {NS.JABBER_CLIENT.value} (RFC 6120 §8)",
            line=_line(root),
            path=_readable_path(root, root),
        )
    _check_stanza_tree(root)
    return root


def _check_stanza_tree(root: etree._Element, read: Collection[etree._Element] = ()) -> None:
    """What :func:`validate` checks after the root test, and strict verification too: the
    xsi:* refusal, the schemas (quick path first), the co-constraints, from one search for
    the places all three look at (``read``: see :func:`check_received`)."""
    sites = _find_sites(root, read)
    if sites[1]:
        _refuse_schema_instance_attributes(root)
    raw = _run_schema(root, quick=True, sites=sites)
    if raw is not None:
        raise _fault_error(raw, _as_root(root), what="stanza")
    _check_stanzas(root, sites)


# -- the co-constraints XSD 1.0 cannot say (RFC 6120 §8, RFC 6121 §4.7, §5.2) --------------

_XML_LANG = "{" + NS.XML + "}lang"
_DS_SIGNATURE = "{" + NS.DS + "}Signature"
_STANZA_NAMESPACES = (NS.JABBER_CLIENT, NS.JABBER_SERVER)
_STANZA_TAGS = frozenset(
    "{" + ns + "}" + kind for ns in _STANZA_NAMESPACES for kind in ("message", "presence", "iq")
)
# Children of which a stanza holds at most one per language (RFC 6121 §5.2.3, §5.2.4,
# §4.7.2.2) and at most one in all (§5.2.5 thread, §4.7.2.1 show, §4.7.2.3 priority).
_ONE_PER_LANG = {"message": ("subject", "body"), "presence": ("status",), "iq": ()}
_ONE_ONLY = {"message": ("thread",), "presence": ("show", "priority"), "iq": ()}


def _language(element: etree._Element) -> str:
    """The element's language: its own xml:lang, else the nearest ancestor's (XML 1.0
    §2.12; RFC 6120 §8.1.5 makes the stanza's the default of its children), else "".
    Language tags compare case-insensitively (RFC 5646 §2.1.1)."""
    node: etree._Element | None = element
    while node is not None:
        value = node.get(_XML_LANG)
        if value is not None:
            return value.lower()
        node = node.getparent()
    return ""


def _co_fault(message: str, element: etree._Element, root: etree._Element) -> StanzaSchemaError:
    path = _readable_path(element, root)
    fault = SchemaFault(message, _line(element), path)
    return StanzaSchemaError(message, line=fault.line, path=path, faults=(fault,))


# Per message or presence tag: true when the counting rules or the error rule need the
# complete walk: a second child of a counted name (in any language: the walk then compares
# languages), or type='error' without an <error/> child. One C-level evaluation, no Python
# object per child.
_NEEDS_WALK: dict[str, etree.XPath] = {
    "{" + ns + "}" + kind: etree.XPath(
        " or ".join(f"s:{local}[2]" for local in (*_ONE_PER_LANG[kind], *_ONE_ONLY[kind]))
        + " or (@type='error' and not(s:error))",
        namespaces={"s": str(ns)},
        regexp=False,
    )
    for ns in _STANZA_NAMESPACES
    for kind in ("message", "presence")
}


def _check_stanzas(root: etree._Element, sites: _Sites) -> None:
    """The rules for each stanza found. A message or presence with no second child of a
    counted name and no error rule to apply (the common case) passes on one XPath answer;
    anything else takes the complete walk below, which decides."""
    walk: list[etree._Element] = []
    with _lock:  # lxml XPath evaluators are not shared across threads unguarded
        for stanza, tag in sites[0]:
            if tag in _STANZA_TAGS:
                needs_walk = _NEEDS_WALK.get(tag)
                if needs_walk is None or needs_walk(stanza):
                    walk.append(stanza)
    for stanza in walk:
        _check_all_children(stanza, root)


def _check_all_children(stanza: etree._Element, root: etree._Element) -> None:
    qname = etree.QName(stanza)
    kind, ns = qname.localname, "{" + (qname.namespace or "") + "}"
    stanza_type = stanza.get("type")
    seen: set[tuple[str, str]] = set()
    payloads: list[etree._Element] = []
    has_error = False
    for child in stanza:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        if tag == ns + "error":
            has_error = True
            continue
        if not tag.startswith(ns):
            if tag != _DS_SIGNATURE:  # XEP-0290 places the Signature beside an iq payload
                payloads.append(child)
            continue
        local = tag[len(ns) :]
        if local in _ONE_PER_LANG[kind]:
            key = (local, _language(child))
            if key in seen:
                lang = f"xml:lang {key[1]!r}" if key[1] else "no language"
                raise _co_fault(
                    f"more than one <{local}/> for {lang} "
                    f"(RFC 6121 §{_SECTION[local]}: at most one per language)",
                    child,
                    root,
                )
            seen.add(key)
        elif local in _ONE_ONLY[kind]:
            if (local, "") in seen:
                raise _co_fault(
                    f"more than one <{local}/> (RFC 6121 §{_SECTION[local]}: at most one)",
                    child,
                    root,
                )
            seen.add((local, ""))
    if stanza_type == "error" and not has_error:
        # RFC 6120 §8.3.1: a stanza of type error contains an <error/> child.
        article = "an" if kind == "iq" else "a"
        raise _co_fault(f"{article} {kind} of type 'error' without an <error/> child", stanza, root)
    if kind == "iq":
        # RFC 6120 §8.2.3: get and set carry exactly one payload, result zero or one.
        if stanza_type in ("get", "set") and len(payloads) != 1:
            raise _co_fault(
                f"an iq of type {stanza_type!r} carries {len(payloads)} payloads; "
                "exactly one is required (RFC 6120 §8.2.3)",
                payloads[1] if payloads else stanza,
                root,
            )
        if stanza_type == "result" and len(payloads) > 1:
            raise _co_fault(
                f"an iq of type 'result' carries {len(payloads)} payloads; at most one is "
                "allowed (RFC 6120 §8.2.3)",
                payloads[1],
                root,
            )


_SECTION = {
    "subject": "5.2.4",
    "body": "5.2.3",
    "thread": "5.2.5",
    "show": "4.7.2.1",
    "status": "4.7.2.2",
    "priority": "4.7.2.3",
}


def check_co_constraints(root: etree._Element) -> None:
    """The RFC 6120/6121 rules XSD 1.0 cannot say, on ``root`` and every stanza inside it
    (a forwarded or wrapped one): at most one ``<thread/>``, ``<show/>`` and
    ``<priority/>``; at most one ``<subject/>``, ``<body/>`` and ``<status/>`` per
    ``xml:lang`` (a child without one has the stanza's, or an ancestor's, language);
    ``<error/>`` present when ``type='error'``; an iq of type get/set carries exactly one
    payload, a result at most one (the XEP-0290 ``ds:Signature`` beside it and ``<error/>``
    are not payloads). Raises :class:`~xmppsec.errors.StanzaSchemaError`.

    Run by :func:`validate` after the schema, and by strict verification.
    """
    _check_stanzas(root, _find_sites(root))


_XSI = "{http://www.w3.org/2001/XMLSchema-instance}"


def _refuse_schema_instance_attributes(root: etree._Element) -> None:
    # xsi:type / xsi:schemaLocation / xsi:nil would let the document steer its own
    # validation (and are where XSD and RELAX NG verdicts part); XMPP never needs them.
    # Called when _SITES found one: this walk names the element.
    for el in root.iter():
        for raw_name in el.attrib:
            name = raw_name.decode() if isinstance(raw_name, bytes) else raw_name
            if name.startswith(_XSI):
                raise StanzaSchemaError(
                    f"attribute {name} (XML Schema instance) is not accepted in a stanza",
                    line=_line(el),
                    path=_readable_path(el, root),
                )
    raise StanzaSchemaError("an attribute in the XML Schema instance namespace")  # fail closed


def check_received(
    root: etree._Element, *, content: bool = True, read: Collection[etree._Element] = ()
) -> None:
    """What verification runs before any cryptography (``Policy.validate``).

    ``root`` is a parsed stanza that is the root of its document. With ``content``, a
    ``jabber:client`` stanza gets exactly :func:`validate`: the schemas over the whole stanza
    (every ds:Signature and stanza-desc in it included, through the lax wildcards) and the
    co-constraints. The schemas describe ``jabber:client`` only, so of a ``jabber:server``
    stanza (server-to-server), and of any stanza without ``content``, each ds:Signature is
    validated as a document of its own (its stanza-desc included); the co-constraints run
    on the stanza only with ``content``.

    ``read``: stanza-desc elements (of the built-in profiles) whose every reference and
    timestamp the caller has already read and found valid with expressions no looser than
    the schemas' patterns, as the verifier's structure phase does (strict base64 digests,
    ``urn:xmpp:dsig:ref:0#`` and an ASCII name, the robust name and namespace rules, the
    exact timestamp form); the quick path does not read those values again. The schemas
    still validate them: only the Python pattern checks are skipped.
    """
    if content and str(root.tag).startswith("{" + NS.JABBER_CLIENT + "}"):
        _check_stanza_tree(root, read)
        return
    for sig in root.iter(_DS_SIGNATURE):
        sites = _find_sites(sig, read)
        if sites[1]:
            _refuse_schema_instance_attributes(sig)
        raw = _run_schema(sig, quick=True, sites=sites)
        if raw is not None:
            error = _fault_error(raw, _as_root(sig), what="signature")
            # Paths from the Signature validated alone, re-rooted at the stanza.
            own, full = _readable_path(sig, sig), _readable_path(sig, root)
            faults = tuple(
                SchemaFault(f.message, f.line, full + f.path.removeprefix(own))
                if f.path.startswith(own)
                else f
                for f in error.faults
            )
            raise SignatureSchemaError(
                str(error.args[0]), line=error.line, path=faults[0].path, faults=faults
            )
    if content:
        check_co_constraints(root)


def validate_document(
    data: bytes | etree._Element, *, limits: Limits = DEFAULT_LIMITS
) -> etree._Element:
    """Validate a document whose root is any element the xmppsec schemas declare globally
    (a stanza, a ds:Signature, a stanza-desc, a PIDF ``presence``, an ``e2e`` element...).

    Same parsing and errors as :func:`validate`; an unknown root is a schema fault.
    Prefer :func:`validate` for stanzas: it also pins the root to the three stanza kinds.
    """
    root = _tree(data, limits)
    raw = _run_schema(root)
    if raw is not None:
        raise _fault_error(raw, _as_root(root), what="document")
    return root


def _as_root(element: etree._Element) -> etree._Element:
    """libxml2 reports paths as if ``element`` were the document root (lxml validates a
    sub-element through a temporary document); a copy makes that true for the matching.
    Only used on the error path."""
    if element.getparent() is None:
        return element
    return _detached_copy(element)


def _detached_copy(element: etree._Element) -> etree._Element:
    duplicate = copy.deepcopy(element)  # keeps source lines and needed namespace declarations
    duplicate.tail = None
    return duplicate


# xsdata is imported where binding happens, not with this module: strict verification
# imports xmppsec.schema for validation, and binding stays off that path (its import alone
# costs more than a verification).
# xsdata's XmlContext fills its caches lazily while parsing and serializing, and nothing
# documents it as safe to share across threads: one per thread.
_contexts = threading.local()


def _context() -> XmlContext:
    from xsdata.formats.dataclass.context import XmlContext

    context: XmlContext | None = getattr(_contexts, "context", None)
    if context is None:
        context = XmlContext()
        _contexts.context = context
    return context


def _meta_qname(cls: type[Any]) -> str:
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise UsageError(f"{cls!r} is not a binding dataclass")
    return str(_context().build(cls).qname)


def binding_qname(cls: type[Any]) -> str:
    """The element name (``{namespace}local``) the generated dataclass ``cls`` binds;
    :class:`~xmppsec.errors.UsageError` when ``cls`` is not a binding dataclass."""
    return _meta_qname(cls)


def to_binding(
    data: bytes | etree._Element,
    cls: type[T],
    *,
    limits: Limits = DEFAULT_LIMITS,
    check_schema: bool = True,
) -> T:
    """Bind an element (or bytes) into an instance of the generated dataclass ``cls``.

    The caller's tree is never handed to xsdata (its parser clears what it reads): a deep
    copy is validated (when ``check_schema``, against the global declaration of the root)
    and bound. The root's name must be ``cls``'s element name. Values xsdata cannot convert,
    unknown elements and unknown attributes raise :class:`~xmppsec.errors.StanzaSchemaError`.
    Off the hot path: binding costs 16-20x an lxml parse.
    """
    expected = _meta_qname(cls)
    root = _tree(data, limits)
    if root.tag != expected:
        raise StanzaSchemaError(
            f"root element {etree.QName(root).text} does not match binding "
            f"{cls.__qualname__} ({expected})",
            line=_line(root),
            path=_readable_path(root, root),
        )
    private = _detached_copy(root)
    if check_schema:
        raw = _run_schema(private)
        if raw is not None:
            raise _fault_error(raw, private, what="document")
    from xsdata.exceptions import ConverterError, ParserError, XmlHandlerError
    from xsdata.formats.dataclass.parsers import XmlParser
    from xsdata.formats.dataclass.parsers.config import ParserConfig

    config = ParserConfig(
        fail_on_converter_warnings=True,
        fail_on_unknown_properties=True,
        fail_on_unknown_attributes=True,
    )
    parser = XmlParser(config=config, context=_context())
    try:
        result: T = parser.parse(private, cls)
    except (ParserError, ConverterError, XmlHandlerError) as exc:
        kind: type[SchemaError] = (
            SignatureSchemaError if _is_signature_part(root) else StanzaSchemaError
        )
        raise kind(
            f"cannot bind to {cls.__qualname__}: {exc}",
            line=_line(root),
            path=_readable_path(root, root),
        ) from exc
    return result


def from_binding(obj: DataclassInstance, *, check_schema: bool = True) -> bytes:
    """Serialize a binding dataclass instance to UTF-8 XML bytes (no XML declaration).
    Anything else is a UsageError (at run time too).

    The output is re-read by the hardened parser (unused namespace declarations are then
    dropped) and, with ``check_schema``, validated against its root's global declaration,
    so only schema-valid XML leaves this function. Raises
    :class:`~xmppsec.errors.StanzaSchemaError` if the object cannot be serialized or the
    result is not schema-valid.
    """
    from xsdata.exceptions import ConverterError, SerializerError
    from xsdata.formats.dataclass.serializers import XmlSerializer
    from xsdata.formats.dataclass.serializers.config import SerializerConfig

    cls = type(obj)
    namespace = etree.QName(_meta_qname(cls)).namespace
    ns_map: dict[str | None, str] = {
        prefix: uri for prefix, uri in _PREFIXES.items() if uri != namespace
    }
    if namespace:
        ns_map[None] = namespace
    serializer = XmlSerializer(config=SerializerConfig(xml_declaration=False), context=_context())
    try:
        text = serializer.render(obj, ns_map=ns_map)
    except (SerializerError, ConverterError) as exc:
        raise StanzaSchemaError(f"cannot serialize {cls.__qualname__}: {exc}") from exc
    root = parse(text.encode("utf-8"))
    etree.cleanup_namespaces(root)
    if check_schema:
        validate_document(root)
    return etree.tostring(root, encoding="utf-8", xml_declaration=False)
