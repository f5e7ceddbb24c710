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
4. the structural limits (depth, children per element, attributes per element, total
   elements) and node types (elements only) of the tree, cheapest sound check first:
   bounds counted on the raw bytes (inputs up to 2 KiB), else one Python pass over a tree of
   a few nodes or one XPath expression evaluated in C. The Python walk runs only when these
   cannot vouch for the tree, and reports the exact error.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from lxml import etree

from .errors import LimitExceeded, RestrictedXMLError, UsageError, check_limit

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

    def __post_init__(self) -> None:
        # A limit that is not an int would fail (or compare wrongly) deep inside a check:
        # refuse it where the caller made the mistake. Zero and negative values are
        # degenerate but meaningful (nothing passes that limit) and stay allowed.
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if type(value) is not int:
                raise UsageError(f"Limits.{name} must be an int, not {type(value).__name__}")


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
        at = _next_markup(data, pos)
        if at < 0:
            return
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


# "!" and "?": the second byte of every "<!" and "<?", rare in a stanza otherwise.
_MARKS = (b"!", b"?")
# Stray marks (a "?" in a body) tolerated per search before one regular-expression scan is
# cheaper than a loop per mark: this bounds the work on a hostile input full of them.
_STRAY_MARKS = 8


def _next_markup(data: bytes, pos: int) -> int:
    """Where the first "<!" or "<?" at or after ``pos`` starts, or -1: the same answer as
    ``_BANG_OR_PI.search(data, pos)``. A single-byte search (memchr) for each mark, checking
    the byte before it, costs far less than scanning every byte for the pair."""
    found = -1
    for mark in _MARKS:
        i = data.find(mark, pos + 1)
        strays = 0
        while i >= 0 and data[i - 1] != 0x3C:  # "<"
            strays += 1
            if strays > _STRAY_MARKS:
                m = _BANG_OR_PI.search(data, pos)
                return -1 if m is None else m.start()
            i = data.find(mark, i + 1)
        if i >= 0 and (found < 0 or i - 1 < found):
            found = i - 1
    return found


def _walk(root: etree._Element, limits: Limits) -> None:
    """The exact check, in Python: raises the first violation found (depth-first, last child
    first). The faster checks below only decide whether this has to run."""
    if not isinstance(root.tag, str):
        raise RestrictedXMLError("the document element must be an element")
    max_depth = limits.max_depth
    max_children = limits.max_children
    max_attributes = limits.max_attributes
    max_elements = limits.max_elements
    seen = 0
    stack: list[tuple[etree._Element, int]] = [(root, 1)]
    while stack:
        el, depth = stack.pop()
        seen += 1
        check_limit("max_elements", seen, max_elements)
        check_limit("max_depth", depth, max_depth)
        check_limit("max_attributes", len(el.attrib), max_attributes)
        n = len(el)
        if n:
            check_limit("max_children", n, max_children)
            for child in el:
                if not isinstance(child.tag, str):
                    # Comments, PIs and entity references (RFC 6120 §11.1).
                    raise RestrictedXMLError("comment, processing instruction or entity in tree")
                stack.append((child, depth + 1))


# Nodes RFC 6120 §11.1 forbids inside a stanza; iter() yields the first one in C.
_NOT_ELEMENTS = (etree.Comment, etree.ProcessingInstruction, etree.Entity)
# Largest max_depth the XPath depth probe is built for (one location step per level; without
# huge_tree libxml2 itself refuses nesting deeper than 256). Larger limits go to the walk.
_MAX_DEPTH_PROBE = 256
# Limits above this are not written into XPath (numbers there are doubles); the walk handles
# them. No document within max_bytes comes near it.
_MAX_XPATH_LIMIT = 1 << 31
# Inputs up to this size try the byte-count bounds first: the two counts cost ~0.35 ns per
# byte each, the XPath check ~0.8 us plus ~0.02 us per element: about even at 1.5-2 KiB.
_BYTE_BOUNDS_MAX = 2048
_XPATH_CACHE_SIZE = 32
# Trees of at most this many nodes are checked in Python: ~0.15 us a node against ~1.5 us
# for the node-type check and the XPath call on a freshly parsed document.
_FEW_NODES = 6


def _elements_only(root: etree._Element) -> bool:
    """No comment, PI or entity reference anywhere in the tree (the nodes the walk refuses)."""
    return isinstance(root.tag, str) and next(root.iter(*_NOT_ELEMENTS), None) is None


def _limits_xpath(limits: Limits) -> etree.XPath | None:
    """One compiled XPath, true iff a tree of elements only is within the structural limits.

    Evaluated from the checked element (depth 1 in the walk's terms), all relative:

    * ``descendant-or-self::*[n]`` is the n-th element of the subtree in document order, so
      ``not(...[n + 1])`` says "at most n elements" (the walk counts exactly these);
    * ``descendant-or-self::*/*[n + 1]`` is the (n+1)-th element child of some element: the
      walk's ``len(el)`` once non-element children are excluded (``_elements_only``);
    * ``descendant-or-self::*/@*[n + 1]`` is the (n+1)-th attribute of some element; the
      attribute axis, like lxml's ``attrib``, excludes namespace declarations;
    * ``*/*/.../*`` with max_depth steps selects the elements at depth max_depth + 1.

    The elements bound ``few = min(max_depth, max_children + 1, max_elements)`` is tried
    first: a tree of at most ``few`` elements is at most ``few`` deep and no element has more
    than ``few - 1`` children, so the depth and children probes run only for larger trees.
    Returns None for limits the expression is not built for (degenerate or huge): the
    caller then walks.

    Compiled once per thread and limit values (lxml serialises evaluations of one XPath
    object with a lock; one per thread, like the parser, avoids contending for it).
    """
    if getattr(_local, "xpath_limits", None) is limits:
        cached: etree.XPath | None = _local.xpath
        return cached
    key = (limits.max_depth, limits.max_children, limits.max_elements, limits.max_attributes)
    cache: dict[tuple[int, int, int, int], etree.XPath | None] | None = getattr(
        _local, "xpaths", None
    )
    if cache is None:
        cache = _local.xpaths = {}
    if key in cache:
        xpath = cache[key]
    else:
        xpath = _compile_limits_xpath(*key)
        if len(cache) >= _XPATH_CACHE_SIZE:
            cache.clear()
        cache[key] = xpath
    _local.xpath_limits, _local.xpath = limits, xpath
    return xpath


def _compile_limits_xpath(
    depth: int, children: int, elements: int, attributes: int
) -> etree.XPath | None:
    if not (
        1 <= depth <= _MAX_DEPTH_PROBE
        and 0 <= children < _MAX_XPATH_LIMIT
        and 0 <= elements < _MAX_XPATH_LIMIT
        and 0 <= attributes < _MAX_XPATH_LIMIT
    ):
        return None
    few = min(depth, children + 1, elements)
    exact = (
        f"not(descendant-or-self::*[{elements + 1}])"
        f" and not({'/'.join(['*'] * depth)})"
        f" and not(descendant-or-self::*/*[{children + 1}])"
    )
    return etree.XPath(
        f"(not(descendant-or-self::*[{few + 1}]) or ({exact}))"
        f" and not(descendant-or-self::*/@*[{attributes + 1}])",
        regexp=False,  # no EXSLT regexp functions to register on every call (~0.2 us)
    )


def _few_nodes_verdict(root: etree._Element, limits: Limits) -> bool | None:
    """For a tree of at most ``_FEW_NODES`` nodes, whether the walk would pass, from one
    Python pass (cheaper than an XPath call there); None for larger trees."""
    n = 0
    for node in root.iter():  # every node of the subtree, comments, PIs and entities included
        n += 1
        if n > _FEW_NODES:
            return None
        if (
            not isinstance(node.tag, str)
            or len(node) > limits.max_children  # len() counts every child node, as the walk
            or len(node.attrib) > limits.max_attributes
        ):
            return False
    # All n nodes seen, all elements: n elements, so at most n deep.
    return n <= limits.max_elements and n <= limits.max_depth


def _within_limits(root: etree._Element, limits: Limits) -> bool:
    """True only if the walk would pass: elements only and every limit met."""
    few = _few_nodes_verdict(root, limits)
    if few is not None:
        return few
    if not _elements_only(root):
        return False
    xpath = _limits_xpath(limits)
    return xpath is not None and xpath(root) is True


def check_tree(root: etree._Element, limits: Limits = DEFAULT_LIMITS) -> None:
    """Enforce the structural limits and RFC 6120 §11.1 node types on a tree.

    :func:`parse` calls this; call it yourself on a tree built elsewhere.
    """
    if not _within_limits(root, limits):
        _walk(root, limits)  # raises the exact error (or, if the fast check was unsure, passes)


def _byte_bounds_hold(data: bytes, limits: Limits) -> bool:
    """Sound upper bounds from the raw bytes of a document :func:`parse` accepted so far.

    There is no DTD (refused by the pre-scan, never loaded), so no entity expansion and no
    defaulted attribute: every element of the tree comes from its own start or empty-element
    tag, which begins with a "<" byte (0x3C, never part of a multi-byte UTF-8 sequence), and
    every attribute from its own ``name=value`` with one "=" byte. Hence, with n = the count
    of "<": at most n elements, nesting at most n deep (each level is a distinct element), at
    most n - 1 children of one element; and no element has more attributes than the count of
    "=" (namespace declarations also use "=" but are not attributes: the bound only loosens).
    """
    n = data.count(b"<")
    return (
        n <= limits.max_depth
        and n <= limits.max_elements
        and n - 1 <= limits.max_children
        and data.count(b"=") <= limits.max_attributes
    )


def parse(data: bytes, limits: Limits = DEFAULT_LIMITS) -> etree._Element:
    """Parse one XML document (a stanza, or any document xmppsec reads) from UTF-8 bytes.

    Raises :class:`~xmppsec.errors.RestrictedXMLError` for anything RFC 6120 §11 forbids or
    that is not well-formed, and :class:`~xmppsec.errors.LimitExceeded` for oversized input;
    :class:`~xmppsec.errors.UsageError` if ``data`` is not bytes.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):  # a tuple: no Union built per call
        raise UsageError("parse() takes bytes (XMPP is UTF-8 on the wire)")
    data = bytes(data)
    check_limit("max_bytes", len(data), limits.max_bytes)
    _prescan(data)
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        msg = str(exc)
        if "Excessive depth" in msg or "huge" in msg.lower():
            # libxml2's own hard limit, not a comparison of ours (the depth reached is not
            # known): the one LimitExceeded raised outside check_limit.
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
    # The pre-scan and the parser options leave no comment, PI or entity reference in the
    # tree; _elements_only() checks that again (defence in depth, ~0.4 us in C).
    if len(data) <= _BYTE_BOUNDS_MAX and _byte_bounds_hold(data, limits):
        if not _elements_only(root):
            _walk(root, limits)
    else:
        check_tree(root, limits)
    return root
