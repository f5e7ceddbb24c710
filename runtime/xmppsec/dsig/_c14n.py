"""Canonicalization on the original lxml tree (never on re-serialized dataclasses).

The spec profile needs two forms (the robust profile's own form is at the end):

* ``urn:xmpp:dsig:transform:0`` (XEP-0290 §3) for each signed child of a stanza. The XEP says
  "normalized (omitting comments) as detailed in Canonical XML, as a document subset of a
  document containing a stream element containing the ... jabber:client stanza", and gives the
  canonical form of ``#xxxx-1`` as a known answer. Inclusive C14N of that document subset would
  render the stream's ``xmlns:stream`` declaration on ``<thread>``; the XEP's answer does not
  carry it. Exclusive C14N 1.0 (without comments, no InclusiveNamespaces) of the child in its
  stanza context is the one W3C canonicalization that reproduces the known answer byte for byte,
  so that is what the transform means here (docs/decisions/dsig.md). The stanza namespace
  ``jabber:server`` is canonicalized as ``jabber:client`` (XEP-0290 §3, last sentence).

* Inclusive C14N 1.0 / 1.1 of a document subset (``#stanza-desc`` and SignedInfo). A document
  subset inherits the ``xml:*`` attributes of its ancestors (C14N 1.0 §2.4; C14N 1.1 §2.4
  inherits ``xml:lang`` and ``xml:space``, not ``xml:id``, and fixes up ``xml:base``). lxml's
  element C14N renders the ancestors' namespace declarations but not their ``xml:*``
  attributes, so they are added here; tests compare with xmlsec1.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable

from lxml import etree

from .._lxml import nsmap as _nsmap
from ..algorithms import C14NMethod
from ..errors import RestrictedXMLError, UnsupportedAlgorithm
from ..xmpp import NS

__all__ = [
    "SPECIAL",
    "c14n",
    "c14n_attr",
    "c14n_child",
    "c14n_children",
    "c14n_text",
    "escaper",
    "robust_attr",
    "robust_c14n",
    "robust_text",
]

_XML = "{" + NS.XML + "}"
_INHERIT_11 = (_XML + "lang", _XML + "space")
_INHERIT_10 = (_XML + "lang", _XML + "space", _XML + "base", _XML + "id")
_JS = "{" + NS.JABBER_SERVER + "}"
_JC = "{" + NS.JABBER_CLIENT + "}"


def _tostring(el: etree._Element, *, exclusive: bool) -> bytes:
    try:
        return etree.tostring(el, method="c14n", exclusive=exclusive, with_comments=False)
    except etree.C14NError:
        # Canonical XML refuses relative namespace URIs (xmlns="foo"; libxml2 enforces it):
        # such content cannot be signed or verified (docs/decisions/dsig.md, "Known limits").
        raise RestrictedXMLError(
            "the content cannot be canonicalized (relative namespace URI)"
        ) from None


def c14n_child(child: etree._Element) -> bytes:
    """``urn:xmpp:dsig:transform:0`` of one stanza child (see the module docstring)."""
    if not _in_jabber_server(child):
        return _tostring(child, exclusive=True)
    return _c14n_as_jabber_client(child)


def c14n_children(root: etree._Element, children: list[etree._Element]) -> list[bytes]:
    """``urn:xmpp:dsig:transform:0`` of several children of ``root``: one check for
    jabber:server anywhere in the stanza instead of one walk per child."""
    # root.iter() with a namespace wildcard matches tags in libxml2, without a Python object
    # per element.
    if next(root.iter(_JS + "*"), None) is not None:
        return [c14n_child(c) for c in children]
    tostring = etree.tostring
    try:
        return [tostring(c, method="c14n", exclusive=True, with_comments=False) for c in children]
    except etree.C14NError:
        return [_tostring(c, exclusive=True) for c in children]  # raises the typed error


def _in_jabber_server(child: etree._Element) -> bool:
    # Cheap test first: the child itself, then (rarely) any descendant.
    tag = child.tag
    if isinstance(tag, str) and tag.startswith(_JS):
        return True
    for el in child.iter():
        t = el.tag
        if isinstance(t, str) and t.startswith(_JS):
            return True
    return False


def _c14n_as_jabber_client(child: etree._Element) -> bytes:
    # Build a detached copy whose jabber:server elements are in jabber:client (XEP-0290 §3).
    copy = _renamed_copy(child)
    return _tostring(copy, exclusive=True)


def _renamed_copy(el: etree._Element) -> etree._Element:
    renamed = {
        p: (NS.JABBER_CLIENT.value if u == NS.JABBER_SERVER else u) for p, u in el.nsmap.items()
    }
    tag = el.tag
    assert isinstance(tag, str)
    if tag.startswith(_JS):
        tag = _JC + tag[len(_JS) :]
    attrib = {str(k): str(v) for k, v in el.attrib.items()}
    new = etree.Element(tag, attrib=attrib, nsmap=_nsmap(renamed))
    new.text = el.text
    for sub in el:  # trees from xmppsec.parser hold elements only (no comments or PIs)
        copy = _renamed_copy(sub)
        copy.tail = sub.tail
        new.append(copy)
    return new


def c14n(el: etree._Element, method: str) -> bytes:
    """Canonicalize ``el`` as a document subset with a named method."""
    if method == C14NMethod.EXC_C14N:
        return _tostring(el, exclusive=True)
    if method == C14NMethod.C14N11:
        return _inclusive(el, _INHERIT_11, fix_base=True)
    if method == C14NMethod.C14N10:
        return _inclusive(el, _INHERIT_10, fix_base=False)
    if method == C14NMethod.XMPP_DSIG_0:
        return c14n_child(el)
    if method == C14NMethod.ROBUST:
        return robust_c14n(el)
    raise UnsupportedAlgorithm(f"canonicalization {method!r} is not allowed")


def _inclusive(el: etree._Element, inherit: tuple[str, ...], *, fix_base: bool) -> bytes:
    if el.getparent() is None:
        return _tostring(el, exclusive=False)
    inherited: dict[str, str] = {}
    for parent in el.iterancestors():
        for key in parent.keys():
            name = str(key)
            if not name.startswith(_XML):
                continue
            if fix_base and name == _XML + "base":
                # C14N 1.1 §2.4 xml:base fix-up is not implemented: XMPP never uses xml:base.
                raise UnsupportedAlgorithm("xml:base on an ancestor of a signed subset")
            if name in inherit and name not in inherited and el.get(name) is None:
                value = parent.get(name)
                assert value is not None
                inherited[name] = value
    fast = _inclusive_fast(el, inherited)
    if fast is not None:
        return fast
    return _tostring(_standalone(el, inherited), exclusive=False)

# The canonical start tag of the apex: name, then namespace declarations and attributes, each
# ` name="value"` with `"` escaped in values (C14N 1.0 §2.3), then `>`.
_APEX = re.compile(rb'<([^\s>/]+)((?: [^\s="]+="[^"]*")*)>')
_APEX_ITEM = re.compile(rb' ([^\s="]+)="([^"]*)"')


def _inclusive_fast(el: etree._Element, inherited: dict[str, str]) -> bytes | None:
    """The document-subset form from one C-level copy of the subtree, or ``None``.

    A copy of ``el`` makes the apex the root of a new document carrying the namespace
    declarations its subtree uses (libxml2 reconciles them onto the copy's root). Inclusive
    C14N of that copy differs from the subset's form only in the apex's start tag: the subset
    renders *every* namespace in scope there, and the inherited ``xml:*`` attributes. That tag
    is rebuilt here. Where the two could differ elsewhere — any namespace declaration rendered
    below the apex of the copy, or a default namespace in scope that the copy does not
    declare (an ``xmlns=""`` below would then be rendered by the subset only) — ``None``
    sends the caller to :func:`_standalone`. Equality with it is a property test.
    """
    scope = el.nsmap
    # lxml's __copy__ copies the whole subtree (lxml-stubs do not declare it on _Element).
    dup: etree._Element = el.__copy__()  # type: ignore[attr-defined]
    dup.tail = None
    out = _tostring(dup, exclusive=False)
    m = _APEX.match(out)
    if m is None or out.find(b"xmlns", m.end()) >= 0:
        return None
    head = m.group(2)
    # Namespace declarations come before attributes in a canonical start tag (C14N 1.0 §2.2).
    split = _APEX_DECLS.match(head).end()  # type: ignore[union-attr]  # matches "" at least
    rendered, declared = _render_scope(tuple(scope.items()))
    if scope.get(None) and not head.startswith(b' xmlns="'):
        # The copy does not declare the default namespace in scope (nothing in the subtree
        # uses it): an xmlns="" below would be rendered by the subset, not by the copy.
        return None
    for decl in _APEX_DECL.findall(head, 0, split):
        if decl not in declared and decl != b' xmlns=""':
            return None
    if not inherited:
        attrs_part = head[split:]
    else:
        attrs: list[tuple[str, str, bytes]] = []
        for found in _APEX_ITEM.finditer(head, split):
            prefix, _, local = found.group(1).decode("utf-8").rpartition(":")
            uri = "" if not prefix else NS.XML.value if prefix == "xml" else scope.get(prefix)
            if uri is None:
                return None
            attrs.append((uri, local, found.group(0)))
        for clark, value in inherited.items():
            local = clark[len(_XML) :]
            item = b" xml:" + local.encode() + b'="' + c14n_attr(value) + b'"'
            attrs.append((NS.XML.value, local, item))
        attrs.sort(key=lambda a: (a[0], a[1]))
        attrs_part = b"".join(a[2] for a in attrs)
    return b"".join((b"<", m.group(1), rendered, attrs_part, b">", out[m.end() :]))


_APEX_DECL = re.compile(rb' xmlns(?::[^\s="]+)?="[^"]*"')
_APEX_DECLS = re.compile(rb'(?: xmlns(?::[^\s="]+)?="[^"]*")*')


def _scope_key(item: tuple[str | None, str]) -> str:
    return "" if item[0] is None else "~" + item[0]


@functools.lru_cache(maxsize=256)
def _render_scope(items: tuple[tuple[str | None, str], ...]) -> tuple[bytes, frozenset[bytes]]:
    """The namespace declarations of an apex, in C14N order (default first, then by prefix),
    and the set of single declarations."""
    decls = [
        # Namespace URIs are written as libxml2 (and so xmlsec1) writes them: unescaped.
        (b" xmlns" if p is None else b" xmlns:" + p.encode("utf-8")) + b'="' + u.encode() + b'"'
        for p, u in sorted(items, key=_scope_key)
        if p is not None or u  # an empty default is never rendered at the apex (§2.3)
    ]
    return b"".join(decls), frozenset(decls)


def _standalone(el: etree._Element, inherited: dict[str, str]) -> etree._Element:
    """A detached document equivalent to the subset rooted at ``el`` (the general path).

    lxml serializes a non-root element with every namespace in scope declared on its start
    tag and its descendants' declarations as they are (prefixes kept, even where one URI has
    two prefixes). Adding the inherited ``xml:*`` attributes to that start tag and parsing the
    text again gives the document-subset form of C14N 1.0/1.1 §2.4 as the whole-document
    form of a new document; tests compare it with xmlsec1 and with a generated reference.
    lxml's own C14N of an element inside a larger document is not usable: it emits
    ``xmlns=""`` on grandchildren when the apex's default namespace is inherited (lxml 6.1 /
    libxml2 2.14) and never renders inherited ``xml:*`` attributes.
    """
    text = etree.tostring(el, with_tail=False)
    if inherited:
        cut = _NAME_END.search(text, 1)
        assert cut is not None  # a serialized element always has its name end
        extra = b"".join(
            b" xml:" + name[len(_XML) :].encode() + b'="' + c14n_attr(value) + b'"'
            for name, value in inherited.items()
        )
        text = text[: cut.start()] + extra + text[cut.start() :]
    return etree.fromstring(text, _reparser())


_NAME_END = re.compile(rb"[\s/>]")
_local = threading.local()


def _reparser() -> etree.XMLParser:
    # Re-reads xmppsec's own serialization of an already checked tree: no entities, no
    # network. lxml parser objects are not shared between threads: one per thread.
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            collect_ids=False,
            huge_tree=False,
        )
        _local.parser = parser
    return parser


# -- the robust canonical form (docs/robust-profile.md, "Canonical form") --------------------
#
# A prefix-free serialization: every name is written in Clark notation "{namespace}local"
# ("{}local" without a namespace), so renamed prefixes, prefixed-vs-default element forms and
# unused namespace declarations cannot change it. Attributes are sorted by (namespace, local
# name). Nothing is inherited from ancestors (no xml:lang, no namespaces). Text keeps its
# whitespace but CR LF and CR become LF, and in attribute values CR LF, CR, LF and TAB
# become one space each: what an XML parser sees after one hop through a serializer that
# writes those characters raw (XML 1.0 §2.11, §3.3.3).

_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_ATTR_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", '"': "&quot;", "\t": " ", "\n": " ", "\r": " "}
)


def _rc_text(text: str) -> str:
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.translate(_TEXT_ESCAPES)


def _rc_attr(value: str) -> str:
    if "\r\n" in value:
        value = value.replace("\r\n", " ")
    return value.translate(_ATTR_ESCAPES)




def _rc_element(el: etree._Element, out: list[str], skip: etree._Element | None) -> None:
    tag = el.tag
    assert isinstance(tag, str)
    name = tag if tag[:1] == "{" else "{}" + tag
    pairs = el.items()
    if pairs:
        items = []
        for key, value in pairs:
            k = str(key)
            ns, _, local = k[1:].partition("}") if k[:1] == "{" else ("", "", k)
            items.append((ns, local, str(value)))
        items.sort()
        out.append("<" + name)
        for ns, local, value in items:
            if not SPECIAL.isdisjoint(value):
                value = _rc_attr(value)
            out.append(" {" + ns + "}" + local + '="' + value + '"')
        out.append(">")
    else:
        out.append("<" + name + ">")
    text = el.text
    if text:
        out.append(text if SPECIAL.isdisjoint(text) else _rc_text(text))
    for child in el:
        if child is not skip:
            _rc_element(child, out, skip)
        tail = child.tail
        if tail:
            out.append(tail if SPECIAL.isdisjoint(tail) else _rc_text(tail))
    out.append("</" + name + ">")


def robust_c14n(el: etree._Element, *, skip: etree._Element | None = None) -> bytes:
    """The robust canonical form of ``el``; ``skip`` is an enveloped Signature to leave out
    (XML-DSIG enveloped-signature transform: the element goes, its tail text stays)."""
    out: list[str] = []
    _rc_element(el, out, skip)
    return "".join(out).encode("utf-8")


# -- value escaping, shared with the signer's templates (xmppsec.dsig._sign) ---------------

SPECIAL = frozenset("&<>\"\t\n\r")
"""The characters any of the escapes below may change; a value without them is written as is."""
_C14N_ATTR_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", '"': "&quot;", "\t": "&#x9;", "\n": "&#xA;", "\r": "&#xD;"}
)
_C14N_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#xD;"})


def escaper(escape: Callable[[str], str]) -> Callable[[str], bytes]:
    """UTF-8 bytes of a value, escaped by ``escape`` only when it holds a SPECIAL character."""

    def run(value: str) -> bytes:
        return value.encode() if SPECIAL.isdisjoint(value) else escape(value).encode()

    return run


# Attribute values and text in Canonical XML (C14N 1.0 §2.3) and in the robust canonical form.
c14n_attr = escaper(lambda v: v.translate(_C14N_ATTR_ESCAPES))
c14n_text = escaper(lambda v: v.translate(_C14N_TEXT_ESCAPES))
robust_attr = escaper(_rc_attr)
robust_text = escaper(_rc_text)
