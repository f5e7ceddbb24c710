"""Message/CPIM (RFC 3862) builder and strict parser.

The object handled here is the whole MIME entity that RFC 3923 signs and encrypts::

    Content-Type: Message/CPIM            (m: MIME headers, RFC 3862 §2)
                                          (blank line)
    From: Juliet <im:juliet@example.com>  (h: message headers, RFC 3862 §3.3, §5)
    To: <im:romeo@example.net>
    DateTime: 2026-11-22T11:45:36.660Z
                                          (blank line)
    Content-Type: text/plain; charset=utf-8   (e: the encapsulated MIME entity)

    Wherefore art thou, Romeo?

The exact bytes are kept (``CPIMMessage.raw``): signatures cover them, nothing is
re-serialized after parsing. Message headers are strict: case-sensitive names, exactly one
SP after the colon (after optional ``;param`` parameters), CRLF, UTF-8, no folding, no
control characters; ``\\uXXXX``-style escapes (RFC 3862 §3.3) are decoded in values.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from xmppsec.errors import CPIMFormatError, JIDError, TimestampError, check_limit
from xmppsec.jid import bare_jid
from xmppsec.timestamps import format_timestamp, parse_rfc3339

from ._mime import MimeEntity, content_type_of, parse_entity

MAX_CPIM_BYTES = 262144
MAX_HEADERS = 64

#: RFC 3862 §5: the headers defined there, in the default namespace
#: urn:ietf:params:cpim-headers: (names are case-sensitive, §3.3).
STANDARD_HEADERS = frozenset({"From", "To", "cc", "DateTime", "Subject", "NS", "Require"})
_SINGLE = frozenset({"From", "DateTime"})

# RFC 3862 §3.3 NAMECHAR: %x21 / %x23-27 / %x2a-2b / %x2d / %x5e-60 / %x7c / %x7e / ALPHA /
# DIGIT (no ".", which separates the NS prefix from the name).
_NAME = r"[!#-'*+\-^-`|~A-Za-z0-9]+"
_HEADER_RE = re.compile(
    rf"(?P<name>(?:{_NAME}\.)?{_NAME}):(?P<params>(?:;[^;: ]*)*) (?P<value>.*)", re.DOTALL
)
_PARAM_RE = re.compile(rf"({_NAME})=(.*)", re.DOTALL)
_TOKEN_RE = re.compile(r"[!#-'*+\-.^-`|~A-Za-z0-9\x80-\U0010ffff]+")
_ADDR_RE = re.compile(r"(?:(?P<name>[^<]*?) )?<(?P<uri>[^<>\s]+)>")
_NS_RE = re.compile(rf"(?:(?P<prefix>{_NAME}) )?<(?P<uri>[^<>\s]+)>")
_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "r": "\r", '"': '"', "'": "'", "\\": "\\"}
_URI_SCHEMES = ("im:", "pres:", "xmpp:")


@dataclass(frozen=True)
class CPIMHeader:
    """One message header: ``name`` as written (``prefix.Name`` for NS-prefixed headers),
    ``params`` (e.g. ``(("lang", "fr"),)``), the decoded ``value`` and the ``raw`` line."""

    name: str
    value: str
    params: tuple[tuple[str, str], ...] = ()
    raw: str = ""


@dataclass(frozen=True)
class CPIMAddress:
    """A From/To/cc value: optional formal name and the URI (``im:``, ``pres:``, ``xmpp:``)."""

    uri: str
    name: str = ""

    @property
    def jid(self) -> str:
        """The normalized bare JID the URI names (RFC 3922 §3 ``im:``/``pres:`` mapping)."""
        return uri_to_bare_jid(self.uri)


@dataclass(frozen=True)
class CPIMMessage:
    """A parsed (or built) Message/CPIM entity. ``raw`` is the exact signed byte string."""

    raw: bytes
    headers: tuple[CPIMHeader, ...]
    content: MimeEntity
    namespaces: dict[str, str] = field(default_factory=dict)

    def get_all(self, name: str) -> tuple[CPIMHeader, ...]:
        return tuple(h for h in self.headers if h.name == name)

    @property
    def sender(self) -> CPIMAddress:
        return parse_address(self.get_all("From")[0].value)

    @property
    def recipients(self) -> tuple[CPIMAddress, ...]:
        return tuple(parse_address(h.value) for h in self.get_all("To"))

    @property
    def datetime(self) -> datetime:
        return parse_rfc3339(self.get_all("DateTime")[0].value)

    @property
    def subject(self) -> str | None:
        subjects = self.get_all("Subject")
        return subjects[0].value if subjects else None

    @property
    def content_type(self) -> str:
        """The encapsulated entity's media type, lower-cased, without parameters."""
        return content_type_of(self.content)[0]


# -- escapes ----------------------------------------------------------------------------


def unescape(value: str) -> str:
    """Decode RFC 3862 §3.3 escapes (``\\uXXXX``, ``\\b \\t \\n \\r \\" \\' \\\\``)."""
    if "\\" not in value:
        return value
    out: list[str] = []
    i = 0
    n = len(value)
    while i < n:
        c = value[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        if i + 1 >= n:
            raise CPIMFormatError("dangling backslash in a CPIM header value")
        e = value[i + 1]
        if e == "u":
            hexdigits = value[i + 2 : i + 6]
            if len(hexdigits) != 4 or not all(h in "0123456789abcdefABCDEF" for h in hexdigits):
                raise CPIMFormatError("bad \\u escape in a CPIM header value")
            cp = int(hexdigits, 16)
            if 0xD800 <= cp <= 0xDFFF or cp == 0:
                raise CPIMFormatError("escaped code point not allowed in CPIM")
            out.append(chr(cp))
            i += 6
            continue
        if e not in _ESCAPES:
            raise CPIMFormatError(f"unknown escape \\{e} in a CPIM header value")
        out.append(_ESCAPES[e])
        i += 2
    return "".join(out)


def escape(value: str) -> str:
    """Encode a header value for writing: backslash, quotes and control characters."""
    out: list[str] = []
    for c in value:
        if c == "\\":
            out.append("\\\\")
        elif c == '"':
            out.append('\\"')
        elif c == "\x00":
            raise CPIMFormatError("NUL cannot be written in a CPIM header")
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return "".join(out)


# -- addresses ----------------------------------------------------------------------------


def uri_to_bare_jid(uri: str) -> str:
    """Map an ``im:``/``pres:``/``xmpp:`` URI to a normalized bare JID (RFC 3922 §3; a
    resource or query in an ``xmpp:`` URI is ignored). Raises CPIMFormatError."""
    for scheme in _URI_SCHEMES:
        if uri.startswith(scheme):
            rest = uri[len(scheme) :]
            break
    else:
        raise CPIMFormatError(f"unsupported CPIM address URI scheme: {uri[:40]!r}")
    rest = rest.removeprefix("//")
    rest = rest.split("?", 1)[0]
    try:
        return bare_jid(rest)
    except JIDError as exc:
        raise CPIMFormatError(f"CPIM address is not a valid XMPP address: {exc}") from None


def parse_address(value: str) -> CPIMAddress:
    """RFC 3862 §5.1: ``[ Formal-name ] "<" URI ">"``."""
    m = _ADDR_RE.fullmatch(value)
    if m is None:
        raise CPIMFormatError("CPIM address must be [Formal-name] <URI>")
    name = m.group("name") or ""
    if name.startswith('"'):
        if len(name) < 2 or not name.endswith('"'):
            raise CPIMFormatError("unterminated quoted formal name")
        name = unescape(name[1:-1])
    elif name and not all(_TOKEN_RE.fullmatch(t) for t in name.split(" ")):
        raise CPIMFormatError("formal name must be tokens or a quoted string")
    return CPIMAddress(uri=m.group("uri"), name=name)


def format_address(uri: str, name: str = "") -> str:
    if not name:
        return f"<{uri}>"
    if all(_TOKEN_RE.fullmatch(t) for t in name.split(" ")):
        return f"{name} <{uri}>"
    return f'"{escape(name)}" <{uri}>'


# -- builder ------------------------------------------------------------------------------


def build_cpim(
    *,
    sender: str,
    recipients: Sequence[str],
    timestamp: datetime,
    content_type: str,
    content: bytes,
    sender_name: str = "",
    subject: str | None = None,
    scheme: str = "im",
    content_headers: Sequence[tuple[str, str]] = (),
) -> CPIMMessage:
    """Build a Message/CPIM entity (RFC 3862 §2, RFC 3923 §3.1/§4.1/§5.1).

    ``sender``/``recipients`` are JIDs; they are written as bare ``im:`` (messages,
    arbitrary stanzas) or ``pres:`` (presence) URIs. ``timestamp`` is written as DateTime
    in RFC 3339 UTC with milliseconds (RFC 3923 §6.9). ``content`` is the body of the
    encapsulated entity; it must use CRLF line ends if it is text (RFC 2046 §4.1.1).
    """
    if scheme not in ("im", "pres", "xmpp"):
        raise CPIMFormatError(f"unsupported CPIM URI scheme {scheme!r}")
    if not recipients:
        raise CPIMFormatError("a CPIM message needs at least one To header")
    try:
        from_uri = f"{scheme}:{bare_jid(sender)}"
        to_uris = [f"{scheme}:{bare_jid(r)}" for r in recipients]
    except JIDError as exc:
        raise CPIMFormatError(f"invalid JID for a CPIM address: {exc}") from None
    lines = ["Content-Type: Message/CPIM", ""]
    lines.append("From: " + format_address(from_uri, sender_name))
    lines.extend("To: " + format_address(u) for u in to_uris)
    try:
        lines.append("DateTime: " + format_timestamp(timestamp))
    except (TimestampError, ValueError) as exc:
        raise CPIMFormatError(f"bad DateTime: {exc}") from None
    if subject is not None:
        lines.append("Subject: " + escape(subject))
    lines.append("")
    lines.append(f"Content-Type: {content_type}")
    for name, value in content_headers:
        if not re.fullmatch(r"[!#-'*+\-.^-~A-Za-z0-9]+", name) or any(
            ord(c) < 0x20 for c in value
        ):
            raise CPIMFormatError(f"bad content header {name!r}")
        lines.append(f"{name}: {value}")
    lines.append("")
    raw = "\r\n".join(lines).encode("utf-8") + b"\r\n" + content
    return parse_cpim(raw)


# -- parser -------------------------------------------------------------------------------


def _split_lines(block: bytes) -> list[str]:
    if b"\r" in block.replace(b"\r\n", b"") or b"\n" in block.replace(b"\r\n", b""):
        raise CPIMFormatError("CPIM header lines must end with CRLF")
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError:
        raise CPIMFormatError("CPIM headers are not UTF-8") from None
    return text.split("\r\n") if text else []


def _parse_header(line: str) -> CPIMHeader:
    if not line:
        raise CPIMFormatError("empty CPIM header line")
    if line[0] in " \t":
        raise CPIMFormatError("folded CPIM header lines are not allowed (RFC 3862 §3.3)")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in line):
        raise CPIMFormatError("control character in a CPIM header")
    m = _HEADER_RE.fullmatch(line)
    if m is None:
        raise CPIMFormatError(f"malformed CPIM header line {line[:60]!r}")
    params: list[tuple[str, str]] = []
    for p in m.group("params").split(";")[1:]:
        pm = _PARAM_RE.fullmatch(p)
        if pm is None:
            raise CPIMFormatError(f"malformed CPIM header parameter {p[:40]!r}")
        pvalue = pm.group(2)
        if pvalue.startswith('"') and pvalue.endswith('"') and len(pvalue) >= 2:
            pvalue = unescape(pvalue[1:-1])
        params.append((pm.group(1), pvalue))
    value = m.group("value")
    if value != value.strip(" "):
        raise CPIMFormatError("CPIM header value with surrounding spaces")
    return CPIMHeader(name=m.group("name"), value=unescape(value), params=tuple(params), raw=line)


def parse_cpim(data: bytes) -> CPIMMessage:
    """Parse a Message/CPIM entity strictly. Raises CPIMFormatError / LimitExceeded.

    Required (RFC 3923 §6.9 makes DateTime mandatory; RFC 3862 §5): exactly one From, at
    least one To, exactly one DateTime (RFC 3339). NS prefixes must be declared before use;
    a ``Require`` naming a header this implementation does not know is refused.
    """
    check_limit("max_bytes", len(data), MAX_CPIM_BYTES)
    outer = parse_entity(data, error=CPIMFormatError)
    ctype, _params = content_type_of(outer, error=CPIMFormatError)
    if ctype != "message/cpim":
        raise CPIMFormatError(f"expected Content-Type Message/CPIM, got {ctype!r}")
    body = outer.body
    end = body.find(b"\r\n\r\n")
    if body.startswith(b"\r\n"):
        raise CPIMFormatError("CPIM object without message headers")
    if end < 0:
        raise CPIMFormatError("CPIM message headers are not followed by a blank line")
    lines = _split_lines(body[:end])
    check_limit("max_headers", len(lines), MAX_HEADERS)
    headers: list[CPIMHeader] = []
    namespaces: dict[str, str] = {}
    counts: dict[str, int] = {}
    subject_langs: set[str] = set()
    required: list[str] = []
    for line in lines:
        h = _parse_header(line)
        if "." in h.name:
            prefix = h.name.split(".", 1)[0]
            if prefix not in namespaces:
                raise CPIMFormatError(f"CPIM header prefix {prefix!r} used before its NS header")
        counts[h.name] = counts.get(h.name, 0) + 1
        if h.name in _SINGLE and counts[h.name] > 1:
            raise CPIMFormatError(f"duplicate CPIM {h.name} header")
        if h.name == "NS":
            nm = _NS_RE.fullmatch(h.value)
            if nm is None:
                raise CPIMFormatError("malformed CPIM NS header")
            namespaces[nm.group("prefix") or ""] = nm.group("uri")
        elif h.name == "Require":
            names = [n.strip(" ") for n in h.value.split(",")]
            if not all(re.fullmatch(rf"(?:{_NAME}\.)?(?:{_NAME}|\*)", n) for n in names):
                raise CPIMFormatError("malformed CPIM Require header")
            required.extend(names)
        elif h.name in ("From", "To"):
            parse_address(h.value).jid  # noqa: B018 - must name an XMPP address (RFC 3922)
        elif h.name == "cc":
            parse_address(h.value)
        elif h.name == "DateTime":
            try:
                parse_rfc3339(h.value)
            except TimestampError:
                raise CPIMFormatError("CPIM DateTime is not an RFC 3339 date-time") from None
        elif h.name == "Subject":
            lang = dict(h.params).get("lang", "")
            if lang in subject_langs:
                raise CPIMFormatError("duplicate CPIM Subject for one language")
            subject_langs.add(lang)
        headers.append(h)
    for name in required:
        if name not in STANDARD_HEADERS:
            raise CPIMFormatError(f"CPIM Require names an unsupported header {name!r}")
    for name in ("From", "To", "DateTime"):
        if counts.get(name, 0) == 0:
            raise CPIMFormatError(f"CPIM {name} header is required")
    content = parse_entity(body[end + 4 :], error=CPIMFormatError)
    content_type_of(content, error=CPIMFormatError)
    return CPIMMessage(raw=data, headers=tuple(headers), content=content, namespaces=namespaces)
