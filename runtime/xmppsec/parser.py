"""The one hardened XML parser: RFC 6120 §11 restricted XML, with resource limits.

Every byte string xmppsec reads as XML goes through :func:`parse`. It returns one lxml tree
that the caller then checks *and* uses: nothing re-parses between validation and use.

Order of checks (cheapest first, each before anything expensive runs):

1. size (``Limits.max_bytes``);
2. a pre-scan of the raw bytes (RFC 6120 §11.1, §11.6): UTF-8 only (no BOM, no other
   declared encoding), no ``<!DOCTYPE``/``<!ENTITY``, no comments, no processing
   instructions. A DTD is refused here, before libxml2 would parse its internal subset,
   so entity-expansion bombs never reach the parser;
3. libxml2 with entity resolution, DTD loading and network access off; undeclared entity
   references are not well-formed and fail there;
4. a walk of the tree: depth, children per element, attributes per element, total elements.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from lxml import etree

from .errors import LimitExceeded, RestrictedXMLError

__all__ = ["DEFAULT_LIMITS", "Limits", "check_tree", "parse"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Resource limits, enforced before any canonicalization, digest or public-key work.

    The defaults fit real deployments: Prosody and ejabberd refuse stanzas above
    256 KiB by default, XEP-0274 notes stanza limits as low as 10,000 bytes.
    """

    max_bytes: int = 262_144
    """Largest input accepted, in bytes."""
    max_depth: int = 64
    """Deepest element nesting (the stanza is depth 1)."""
    max_children: int = 1_000
    """Most child elements of any one element."""
    max_elements: int = 20_000
    """Most elements in the whole document."""
    max_attributes: int = 64
    """Most attributes on any one element."""
    max_references: int = 30
    """Most references in one stanza-desc (Santuario's secure-validation default)."""
    max_transforms: int = 5
    """Most transforms in one Transforms list."""
    max_signatures: int = 8
    """Most signatures on one stanza (client, server, MUC service, ...)."""
    max_chain_length: int = 8
    """Longest certificate chain considered."""


DEFAULT_LIMITS = Limits()

# Markup that starts with "<!" or "<?" outside CDATA: DOCTYPE, ENTITY, comments, PIs.
_BANG_OR_PI = re.compile(rb"<[!?]")
_CDATA_OPEN = b"<![CDATA["
_CDATA_CLOSE = b"]]>"
# An XML declaration at the very start; its encoding, if any, must be UTF-8.
_XML_DECL = re.compile(
    rb"<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(['\"])1\.[0-9]+\1"
    rb"(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*(['\"])([A-Za-z0-9._-]+)\2)?"
    rb"(?:[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*(['\"])(?:yes|no)\4)?[ \t\r\n]*\?>"
)

_local = threading.local()


def _parser() -> etree.XMLParser:
    # lxml parser objects must not be shared between threads: one per thread.
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            encoding="utf-8",  # RFC 6120 §11.6; declarations other than UTF-8 refused earlier
            resolve_entities=False,
            load_dtd=False,
            dtd_validation=False,
            no_network=True,
            huge_tree=False,
            collect_ids=False,
            remove_comments=False,  # keep them so the walk can refuse them (defence in depth)
            remove_pis=False,
            remove_blank_text=False,
            strip_cdata=True,
        )
        _local.parser = parser
    return parser


def _prescan(data: bytes) -> None:
    """RFC 6120 §11.1/§11.6 checks on the raw bytes, before libxml2 sees them."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or data[:3] == b"\xef\xbb\xbf":
        raise RestrictedXMLError("byte order mark: XMPP is UTF-8 without a BOM (RFC 6120 §11.6)")
    if b"\x00" in data:
        raise RestrictedXMLError("NUL byte: not UTF-8 XML (RFC 6120 §11.6)")
    pos = 0
    stripped = data.lstrip(b" \t\r\n")
    if stripped.startswith(b"<?xml"):
        start = len(data) - len(stripped)
        decl = _XML_DECL.match(data, start)
        if decl is None:
            raise RestrictedXMLError("malformed XML declaration")
        encoding = decl.group(3)
        if encoding is not None and encoding.lower() not in (b"utf-8", b"utf8"):
            raise RestrictedXMLError(
                f"encoding {encoding.decode('ascii')!r}: only UTF-8 is allowed (RFC 6120 §11.6)"
            )
        pos = decl.end()
    while True:
        m = _BANG_OR_PI.search(data, pos)
        if m is None:
            return
        at = m.start()
        if data.startswith(_CDATA_OPEN, at):
            end = data.find(_CDATA_CLOSE, at + len(_CDATA_OPEN))
            if end < 0:
                raise RestrictedXMLError("unterminated CDATA section")
            pos = end + len(_CDATA_CLOSE)
            continue
        if data.startswith(b"<?", at):
            raise RestrictedXMLError("processing instruction (RFC 6120 §11.1)")
        if data.startswith(b"<!--", at):
            raise RestrictedXMLError("comment (RFC 6120 §11.1)")
        raise RestrictedXMLError("DTD or entity declaration (RFC 6120 §11.1)")


def check_tree(root: etree._Element, limits: Limits = DEFAULT_LIMITS) -> None:
    """Enforce the structural limits and RFC 6120 §11.1 node types on a tree.

    :func:`parse` calls this; call it yourself on a tree built elsewhere.
    """
    if not isinstance(root.tag, str):
        raise RestrictedXMLError("the document element must be an element")
    max_depth = limits.max_depth
    max_children = limits.max_children
    max_attributes = limits.max_attributes
    budget = limits.max_elements
    stack: list[tuple[etree._Element, int]] = [(root, 1)]
    while stack:
        el, depth = stack.pop()
        budget -= 1
        if budget < 0:
            raise LimitExceeded(
                f"more than {limits.max_elements} elements",
                limit="max_elements",
                value=limits.max_elements + 1,
                maximum=limits.max_elements,
            )
        if depth > max_depth:
            raise LimitExceeded(
                f"nesting deeper than {max_depth}",
                limit="max_depth",
                value=depth,
                maximum=max_depth,
            )
        if len(el.attrib) > max_attributes:
            raise LimitExceeded(
                f"more than {max_attributes} attributes on one element",
                limit="max_attributes",
                value=len(el.attrib),
                maximum=max_attributes,
            )
        n = len(el)
        if n:
            if n > max_children:
                raise LimitExceeded(
                    f"more than {max_children} children of one element",
                    limit="max_children",
                    value=n,
                    maximum=max_children,
                )
            for child in el:
                if not isinstance(child.tag, str):
                    # Comments, PIs and entity references (RFC 6120 §11.1).
                    raise RestrictedXMLError("comment, processing instruction or entity in tree")
                stack.append((child, depth + 1))


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> etree._Element:
    """Parse one XML document (a stanza, or any document xmppsec reads) from UTF-8 bytes.

    Raises :class:`~xmppsec.errors.RestrictedXMLError` for anything RFC 6120 §11 forbids or
    that is not well-formed, and :class:`~xmppsec.errors.LimitExceeded` for oversized input.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("parse() takes bytes (XMPP is UTF-8 on the wire)")
    data = bytes(data)
    if len(data) > limits.max_bytes:
        raise LimitExceeded(
            f"input of {len(data)} bytes exceeds {limits.max_bytes}",
            limit="max_bytes",
            value=len(data),
            maximum=limits.max_bytes,
        )
    _prescan(data)
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        msg = str(exc)
        if "Excessive depth" in msg or "huge" in msg.lower():
            raise LimitExceeded(
                "nesting or node size beyond the parser's hard limit",
                limit="max_depth",
                value=0,
                maximum=limits.max_depth,
            ) from None
        raise RestrictedXMLError(f"not well-formed: {msg}") from None
    except (ValueError, etree.ParserError) as exc:
        raise RestrictedXMLError(f"not parseable: {exc}") from None
    if root is None:
        raise RestrictedXMLError("empty document")
    check_tree(root, limits)
    return root
