"""Byte-exact splitting of an XMPP stream into its top-level elements (RFC 6120 §4.1, §8).

The point of the harness is the exact bytes a receiving client gets, so stanzas are cut out of
the raw byte stream by tracking element depth on the bytes themselves, not re-serialized from
a parse tree. lxml's pull parser reports no byte offsets, which is why this small tokenizer is
hand-written. It only needs what servers send on a c2s stream: start/end/empty tags (with
quoted attribute values that may contain ``>``), text, CDATA, comments and the XML
declaration. A DOCTYPE is refused (RFC 6120 §11.1). Well-formedness of each stanza is checked
afterwards by parsing it with lxml in the context of its stream header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from lxml import etree

__all__ = [
    "StreamEvent",
    "StreamProtocolError",
    "StreamSplitter",
    "element_spans",
    "parse_in_context",
    "with_scope",
]

_NAME = re.compile(rb"<([^\s/>]+)")
_ATTR = re.compile(rb"\s*([^\s=/>]+)\s*=\s*(\"[^\"]*\"|'[^']*')")


class StreamProtocolError(Exception):
    """The peer sent bytes that are not a well-formed XMPP stream."""


@dataclass(frozen=True)
class StreamEvent:
    """One top-level item: the stream header, a stanza (any depth-1 element), or the close tag."""

    kind: Literal["header", "element", "close"]
    raw: bytes


_TagKind = Literal["start", "empty", "end", "skip"]


def _scan(buf: bytes | bytearray, i: int) -> tuple[_TagKind, int] | None:
    """Classify the markup starting at ``buf[i] == '<'``; return (kind, index after it).

    None means the markup is not complete yet (more bytes are needed).
    """
    n = len(buf)
    if n - i < 2:
        return None
    c = buf[i + 1 : i + 2]
    if c == b"?":  # XML declaration / processing instruction
        j = buf.find(b"?>", i + 2)
        return None if j < 0 else ("skip", j + 2)
    if c == b"!":
        head = bytes(buf[i : i + 9])
        if head.startswith(b"<!--"):
            j = buf.find(b"-->", i + 4)
            return None if j < 0 else ("skip", j + 3)
        if head == b"<![CDATA[":
            j = buf.find(b"]]>", i + 9)
            return None if j < 0 else ("skip", j + 3)
        if b"<![CDATA["[: len(head)] == head or b"<!--"[: len(head)] == head:
            return None
        raise StreamProtocolError("DOCTYPE or unknown markup declaration on the stream")
    if c == b"/":
        j = buf.find(b">", i + 2)
        return None if j < 0 else ("end", j + 1)
    # start or empty-element tag: find the closing '>' outside quoted attribute values
    quote = 0
    j = i + 1
    while j < n:
        b = buf[j]
        if quote:
            if b == quote:
                quote = 0
        elif b in (0x22, 0x27):
            quote = b
        elif b == 0x3E:
            return ("empty" if buf[j - 1] == 0x2F else "start", j + 1)
        j += 1
    return None


@dataclass
class StreamSplitter:
    """Incremental splitter: ``feed(bytes) -> list[StreamEvent]`` with the exact received bytes."""

    _buf: bytearray = field(default_factory=bytearray)
    _pos: int = 0
    _depth: int = 0
    _start: int = 0

    def restart(self) -> None:
        """Forget the current stream (RFC 6120 §6.4.6 stream restart after SASL success)."""
        del self._buf[: self._pos]
        self._pos = 0
        self._depth = 0
        self._start = 0

    def feed(self, data: bytes) -> list[StreamEvent]:
        self._buf += data
        events: list[StreamEvent] = []
        buf = self._buf
        while True:
            i = buf.find(b"<", self._pos)
            if i < 0:
                if self._depth <= 1:
                    self._pos = len(buf)  # whitespace keepalives between stanzas
                break
            scanned = _scan(buf, i)
            if scanned is None:
                if self._depth <= 1:
                    self._pos = i
                break
            kind, end = scanned
            self._pos = end
            if kind == "skip":
                continue
            if kind == "end":
                self._depth -= 1
                if self._depth == 1:
                    events.append(StreamEvent("element", bytes(buf[self._start : end])))
                elif self._depth == 0:
                    events.append(StreamEvent("close", bytes(buf[i:end])))
                elif self._depth < 0:
                    raise StreamProtocolError("end tag without a start tag")
            elif self._depth == 0:
                if kind == "empty":
                    raise StreamProtocolError("empty stream header")
                events.append(StreamEvent("header", bytes(buf[i:end])))
                self._depth = 1
            elif self._depth == 1:
                self._start = i
                if kind == "empty":
                    events.append(StreamEvent("element", bytes(buf[i:end])))
                else:
                    self._depth = 2
            elif kind == "start":
                self._depth += 1
        if self._depth <= 1 and self._pos > 0:
            del buf[: self._pos]
            self._pos = 0
        return events


def element_spans(raw: bytes) -> list[tuple[int, int]]:
    """(start, end) byte offsets of every element of a complete fragment, in document order.

    Document order matches ``lxml``'s ``root.iter(etree.Element)``, which is how a parsed
    element is mapped back to its exact bytes (see ``Received.raw_of``).
    """
    spans: list[tuple[int, int]] = []
    stack: list[int] = []
    pos = 0
    while True:
        i = raw.find(b"<", pos)
        if i < 0:
            break
        scanned = _scan(raw, i)
        if scanned is None:
            raise StreamProtocolError("truncated element")
        kind, end = scanned
        pos = end
        if kind == "start":
            stack.append(len(spans))
            spans.append((i, -1))
        elif kind == "empty":
            spans.append((i, end))
        elif kind == "end":
            if not stack:
                raise StreamProtocolError("end tag without a start tag")
            k = stack.pop()
            spans[k] = (spans[k][0], end)
    if stack:
        raise StreamProtocolError("unclosed element")
    return spans


_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def parse_in_context(header: bytes, raw: bytes) -> etree._Element:
    """Parse one received top-level element with the namespaces its stream header declares."""
    m = _NAME.match(header)
    if m is None:
        raise StreamProtocolError("no stream header")
    doc = header + raw + b"</" + m.group(1) + b">"
    root = etree.fromstring(doc, _PARSER)
    children = [c for c in root if isinstance(c.tag, str)]
    if len(children) != 1:
        raise StreamProtocolError("expected exactly one element")
    return children[0]


def with_scope(raw: bytes, nsmap: dict[str | None, str]) -> bytes:
    """``raw`` with the in-scope namespace declarations it does not declare itself spliced
    into its start tag, right after the element name: the element as a namespace-aware
    parser saw it in context (e.g. ``xmlns='jabber:client'`` and ``xmlns:stream`` from the
    stream header), standalone. Nothing else is touched (no ``xml:lang``, no re-serialization).
    """
    m = _NAME.match(raw)
    scanned = _scan(raw, 0) if m else None
    if m is None or scanned is None:
        raise StreamProtocolError("not an element")
    pos, tag_end = m.end(), scanned[1]
    declared: set[str | None] = set()
    while True:
        a = _ATTR.match(raw, pos, tag_end)
        if a is None:
            break
        name = a.group(1).decode("utf-8")
        if name == "xmlns":
            declared.add(None)
        elif name.startswith("xmlns:"):
            declared.add(name[6:])
        pos = a.end()
    extra = b"".join(
        (b" xmlns" if prefix is None else b" xmlns:" + prefix.encode())
        + b"='"
        + uri.replace("&", "&amp;").replace("'", "&apos;").replace("<", "&lt;").encode()
        + b"'"
        for prefix, uri in sorted(nsmap.items(), key=lambda kv: kv[0] or "")
        if prefix not in declared and prefix != "xml"
    )
    return raw[: m.end()] + extra + raw[m.end() :]
