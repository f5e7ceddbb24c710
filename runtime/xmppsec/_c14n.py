"""Canonicalization on the original lxml tree (never on re-serialized dataclasses).

Two forms are needed by the spec profile:

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

import copy

from lxml import etree

from ._lxml import nsmap as _nsmap
from .algorithms import NS, C14NMethod
from .errors import RestrictedXMLError, UnsupportedAlgorithm

__all__ = ["c14n", "c14n_child", "robust_c14n"]

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
    parent = el.getparent()
    while parent is not None:
        for name in inherit:
            if name not in inherited and name not in el.attrib:
                value = parent.get(name)
                if value is not None:
                    inherited[name] = value
        if fix_base and (_XML + "base") in parent.attrib:
            # C14N 1.1 §2.4 xml:base fix-up is not implemented: XMPP never uses xml:base.
            raise UnsupportedAlgorithm("xml:base on an ancestor of a signed subset")
        parent = parent.getparent()
    return _tostring(_standalone(el, inherited), exclusive=False)


def _standalone(el: etree._Element, inherited: dict[str, str]) -> etree._Element:
    """A detached document equivalent to the subset rooted at ``el``.

    lxml's C14N of an element inside a larger document emits ``xmlns=""`` on grandchildren
    when the apex overrides an inherited default namespace (seen with lxml 6.1 / libxml2
    2.14), and it never renders inherited ``xml:*`` attributes. Canonicalizing a copy whose
    root carries every namespace in scope at ``el`` plus the inherited ``xml:*`` attributes
    gives the document-subset form of C14N 1.0/1.1 §2.4; tests compare it with xmlsec1.
    """
    attrib = {str(k): str(v) for k, v in el.attrib.items()}
    attrib.update(inherited)
    tag = el.tag
    assert isinstance(tag, str)
    root = etree.Element(tag, attrib=attrib, nsmap=_nsmap(el.nsmap))
    root.text = el.text
    for child in el:
        root.append(copy.deepcopy(child))  # keeps the child's own declarations and its tail
    return root


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


def _rc_name(tag: str) -> str:
    return tag if tag[:1] == "{" else "{}" + tag


def _rc_element(el: etree._Element, out: list[str], skip: etree._Element | None) -> None:
    tag = el.tag
    assert isinstance(tag, str)
    name = _rc_name(tag)
    out.append("<" + name)
    if len(el.attrib):
        items = []
        for key, value in el.attrib.items():
            k = str(key)
            ns, _, local = k[1:].partition("}") if k[:1] == "{" else ("", "", k)
            items.append((ns, local, str(value)))
        items.sort()
        for ns, local, value in items:
            out.append(" {" + ns + "}" + local + '="' + _rc_attr(value) + '"')
    out.append(">")
    if el.text:
        out.append(_rc_text(el.text))
    for child in el:
        if child is not skip:
            _rc_element(child, out, skip)
        if child.tail:
            out.append(_rc_text(child.tail))
    out.append("</" + name + ">")


def robust_c14n(el: etree._Element, *, skip: etree._Element | None = None) -> bytes:
    """The robust canonical form of ``el``; ``skip`` is an enveloped Signature to leave out
    (XML-DSIG enveloped-signature transform: the element goes, its tail text stays)."""
    out: list[str] = []
    _rc_element(el, out, skip)
    return "".join(out).encode("utf-8")
