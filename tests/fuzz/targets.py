"""Fuzz targets: seeds, mutations and oracles (docs/fuzzing.md).

A *case* is a seed index and a short mutation program (a list of :data:`Op`). A target
turns a case into the input bytes of the function under test (:meth:`Target.render`), runs
that function (:meth:`Target.run`) and judges the outcome. The oracle, for every target:

* an exception that is not an :class:`~xmppsec.errors.XmppSecError` is a finding;
* a call that takes more than :data:`SLOW_SECONDS` on an input of at most
  :data:`SLOW_INPUT_BYTES` is a finding (every call is timed; the maximum is reported);
* a target-specific semantic check (e.g. a mutated signed stanza that verifies must carry
  the same signed content as the original: see :func:`_dsig_run`) returns a problem.

Seeds are built from fixed keys in tests/vectors/fuzz/keys/, so a saved input (a
regression vector in tests/vectors/fuzz/<target>/) reaches the same code on every run.
The same cases drive hypothesis (structured strategies) and atheris (bytes decoded by
:func:`decode_case`).
"""

from __future__ import annotations

import base64
import collections
import copy
import datetime as dt
import functools
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from lxml import etree

from xmppsec.bindings import jabber_client as jc
from xmppsec.dsig import ROBUST, SPEC, Policy, Signer, VerificationResult, Verifier, _c14n
from xmppsec.e2e import (
    OpenedStanza,
    _cms,
    _envelope,
    build_cpim,
    open_stanza,
    parse_cpim,
    seal_stanza,
)
from xmppsec.e2e._element import e2e_entity, find_e2e, make_e2e, new_stanza, serialize
from xmppsec.e2e._envelope import ContentCipher, KeyTransport
from xmppsec.e2e._mime import (
    build_multipart_signed,
    build_pkcs7_mime,
    parse_entity,
    parse_multipart_signed,
    pkcs7_mime_der,
)
from xmppsec.errors import TimestampError, XmppSecError
from xmppsec.jid import bare_jid, parse_jid
from xmppsec.keys import (
    ID_ON_XMPPADDR,
    PrivateKey,
    load_certificate,
    load_private_key,
    xmpp_addr_value,
)
from xmppsec.parser import parse
from xmppsec.schema import to_binding, validate
from xmppsec.timestamps import (
    TimestampClock,
    check_window,
    format_timestamp,
    parse_rfc3339,
    parse_timestamp,
)
from xmppsec.trust import TrustStore
from xmppsec.xmpp import NS

__all__ = [
    "NOW",
    "SLOW_INPUT_BYTES",
    "SLOW_SECONDS",
    "TARGETS",
    "VECTORS",
    "Case",
    "Finding",
    "Op",
    "Outcome",
    "Target",
    "decode_case",
    "execute",
    "save_finding",
]

SLOW_SECONDS = 1.0
SLOW_INPUT_BYTES = 64 * 1024
NOW = dt.datetime(2026, 6, 1, 12, 0, 0, tzinfo=dt.UTC)
ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "vectors" / "fuzz"
KEYS = VECTORS / "keys"
JULIET = "juliet@capulet.net"
ROMEO = "romeo@montague.net"

Op = tuple[int, int, int, bytes]
"""(operation, a, b, blob): what each number means depends on the operation."""


@dataclass(frozen=True)
class Case:
    seed: int
    ops: tuple[Op, ...]


@dataclass(frozen=True)
class Finding:
    target: str
    kind: str
    """``exception``, ``slow`` or ``semantic``."""
    detail: str
    data: bytes
    seed: int
    seconds: float


@dataclass(frozen=True)
class Outcome:
    seconds: float
    verdict: str
    """What the call returned: ``ok``/``valid`` or the XmppSecError class name."""
    finding: Finding | None
    size: int = 0
    """Length of the input, in bytes."""


# -- fixed identities ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Ident:
    key: PrivateKey
    cert: x509.Certificate


@functools.cache
def _ident(name: str) -> _Ident:
    return _Ident(
        load_private_key((KEYS / f"{name}-key.pem").read_bytes()),
        load_certificate((KEYS / f"{name}-cert.pem").read_bytes()),
    )


@functools.cache
def _trust() -> TrustStore:
    return TrustStore().pin(JULIET, _ident("juliet").cert)


SEEDS = VECTORS / "seeds"


def _stored(name: str, build: Callable[[], Sequence[bytes]]) -> tuple[bytes, ...]:
    """Seeds kept as files: signatures (random ECDSA nonces, random d:id stems) and
    ciphertexts differ on every build, and a saved finding must be judged against the very
    seed it was mutated from. Delete tests/vectors/fuzz/seeds/<name>/ to rebuild."""
    folder = SEEDS / name
    files = sorted(folder.glob("*.bin"))
    if files:
        return tuple(f.read_bytes() for f in files)
    seeds = tuple(build())
    folder.mkdir(parents=True, exist_ok=True)
    for i, seed in enumerate(seeds):
        (folder / f"{i:02d}.bin").write_bytes(seed)
    return seeds


# -- mutations ---------------------------------------------------------------------------

# Values an attribute or text mutation may use (besides the op's own blob): names and
# algorithm URIs an attacker would try against XEP-0290 and RFC 3923.
VOCAB: tuple[str, ...] = (
    "",
    " ",
    JULIET,
    "juliet@capulet.net/balcony",
    "Juliet@Capulet.NET/balcony",
    ROMEO,
    "romeo@montague.net/orchard",
    "mallory@evil.example",
    "capulet.net",
    "chat",
    "groupchat",
    "normal",
    "#stanza-desc",
    "stanza-desc",
    "urn:xmpp:dsig:ref:0#d0-1",
    "urn:xmpp:dsig:transform:0",
    "http://www.w3.org/2006/12/xml-c14n11",
    "http://www.w3.org/2000/09/xmldsig#sha1",
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "2026-06-01T12:00:00.000Z",
    "2026-06-01T12:00:00Z",
    "AAAA",
    "en",
    "x" * 300,
)
ATTR_NAMES: tuple[str, ...] = (
    "id",
    "to",
    "from",
    "type",
    "URI",
    "Algorithm",
    "{" + NS.XMPP_DSIG + "}id",
    "{" + NS.XML + "}lang",
    "name",
    "ns",
)
TAG_NAMES: tuple[str, ...] = (
    "{jabber:client}body",
    "{jabber:client}message",
    "{jabber:server}message",
    "{" + NS.DS + "}Signature",
    "{" + NS.DS + "}Object",
    "{" + NS.DS + "}Reference",
    "{" + NS.DS + "}Transform",
    "{" + NS.XMPP_DSIG + "}reference",
    "{" + NS.XMPP_DSIG + "}stanza-desc",
    "{urn:xmpp:dsig:1}reference",
    "{urn:xmpp:delay}delay",
    "x",
)

BYTE_OPS = 7
XML_OPS = 9
LINE_OPS = 3


def _value(a: int, blob: bytes) -> str:
    if a % 3 == 0 and blob:
        # XML 1.0 Char only (lxml refuses the others): keep printable ASCII and whitespace
        return "".join(c for c in blob.decode("latin-1") if c in "\t\n\r" or " " <= c < "\x7f")
    return VOCAB[a % len(VOCAB)]


def _byte_op(data: bytes, op: int, a: int, b: int, blob: bytes) -> bytes:
    n = len(data)
    kind = op % BYTE_OPS
    if kind == 0 and n:  # flip one byte
        i = a % n
        return data[:i] + bytes([data[i] ^ (b % 255 + 1)]) + data[i + 1 :]
    if kind == 1:  # truncate
        return data[: a % (n + 1)]
    if kind == 2:  # insert
        i = a % (n + 1)
        return data[:i] + blob + data[i:]
    if kind == 3 and n:  # delete a range
        i = a % n
        return data[:i] + data[i + 1 + b % 64 :]
    if kind == 4 and n:  # overwrite a range
        i = a % n
        return data[:i] + blob + data[i + len(blob) :]
    if kind == 5 and n:  # duplicate a range elsewhere
        i = a % n
        piece = data[i : i + 1 + b % 128]
        j = b % (n + 1)
        return data[:j] + piece + data[j:]
    if kind == 6:  # replace everything (random input)
        return blob
    return data


def _elements(root: etree._Element) -> list[etree._Element]:
    return [el for el in root.iter() if isinstance(el.tag, str)]


def _xml_op(data: bytes, op: int, a: int, b: int, blob: bytes) -> bytes:
    try:
        root = parse(data)
    except XmppSecError:
        return _byte_op(data, op, a, b, blob)
    els = _elements(root)
    el = els[a % len(els)]
    parent = el.getparent()
    kind = op % XML_OPS
    if kind == 0 and parent is not None:  # duplicate an element next to itself or elsewhere
        clone = copy.deepcopy(el)
        clone.tail = None
        dest = els[b % len(els)]
        dest.insert(b % (len(dest) + 1), clone)
    elif kind == 1 and parent is not None:  # remove an element
        parent.remove(el)
    elif kind == 2 and parent is not None:  # move an element under another one
        dest = els[b % len(els)]
        if not any(x is el for x in dest.iterancestors()) and dest is not el:
            parent.remove(el)
            dest.insert(b % (len(dest) + 1), el)
    elif kind == 3:  # set an attribute
        el.set(ATTR_NAMES[b % len(ATTR_NAMES)], _value(a // 7 + b, blob))
    elif kind == 4 and el.attrib:  # delete an attribute
        del el.attrib[list(el.attrib)[b % len(el.attrib)]]
    elif kind == 5:  # replace text (or tail)
        if b % 2:
            el.text = _value(a + b, blob)
        else:
            el.tail = _value(a + b, blob)
    elif kind == 6 and parent is not None and len(parent) > 1:  # swap with a sibling
        i = parent.index(el)
        j = b % len(parent)
        if i != j:
            other = parent[j]
            parent.remove(el)
            parent.insert(j, el)
            parent.remove(other)
            parent.insert(i, other)
    elif kind == 7:  # rename (tag or namespace)
        el.tag = TAG_NAMES[b % len(TAG_NAMES)]
    elif kind == 8 and parent is not None:  # many copies: inputs up to ~64 KB and a bit beyond
        room = (80_000 - len(data)) // max(1, len(etree.tostring(el)))
        for _ in range(max(0, min(b % 1500, room))):
            clone = copy.deepcopy(el)
            parent.insert(parent.index(el), clone)
    else:
        return _byte_op(data, op, a, b, blob)
    return etree.tostring(root)


def _line_op(data: bytes, op: int, a: int, b: int, blob: bytes) -> bytes:
    lines = data.split(b"\r\n")
    i = a % len(lines)
    kind = op % LINE_OPS
    if kind == 0:
        lines.insert(b % (len(lines) + 1), lines[i])
    elif kind == 1 and len(lines) > 1:
        del lines[i]
    else:
        j = b % len(lines)
        lines[i], lines[j] = lines[j], lines[i]
    return b"\r\n".join(lines)


def mutate_xml(data: bytes, ops: Sequence[Op]) -> bytes:
    # three tree mutations for one byte mutation: byte noise mostly stops at the parser
    for op, a, b, blob in ops:
        if op % 4:
            data = _xml_op(data, op // 4, a, b, blob)
        else:
            data = _byte_op(data, op // 4, a, b, blob)
    return data


def mutate_bytes(data: bytes, ops: Sequence[Op]) -> bytes:
    for op, a, b, blob in ops:
        data = _byte_op(data, op, a, b, blob)
    return data


def mutate_lines(data: bytes, ops: Sequence[Op]) -> bytes:
    for op, a, b, blob in ops:
        if op % 3 == 0:
            data = _line_op(data, op // 3, a, b, blob)
        else:
            data = _byte_op(data, op // 3, a, b, blob)
    return data


# -- targets ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    seeds: Callable[[], Sequence[bytes]]
    mutate: Callable[[int, Sequence[Op]], bytes]
    """(seed index, ops) -> the input of the function under test."""
    run: Callable[[bytes, int], tuple[str, str | None]]
    """(input, seed index) -> (verdict, semantic problem or None); may raise."""
    valid_seeds: bool = True
    """Every seed is a valid input (some seed lists mix in invalid ones on purpose)."""

    def render(self, case: Case) -> bytes:
        return self.mutate(case.seed % len(self.seeds()), case.ops)


def execute(target: Target, case: Case) -> Outcome:
    """Render and run one case under the oracle."""
    seed = case.seed % len(target.seeds())
    try:
        data = target.render(case)
    except Exception as exc:  # noqa: BLE001 - a bug in a mutator must not stop the run
        return Outcome(0.0, f"harness-error {type(exc).__name__}", None)
    return run_input(target, data, seed)


def run_input(target: Target, data: bytes, seed: int) -> Outcome:
    start = time.perf_counter()
    problem: str | None = None
    kind = ""
    try:
        verdict, problem = target.run(data, seed)
        kind = "semantic"
    except XmppSecError as exc:
        verdict = type(exc).__name__
    except Exception as exc:  # noqa: BLE001 - the oracle: anything else is a finding
        verdict = "CRASH"
        problem = f"{type(exc).__name__}: {exc}"
        kind = "exception"
    seconds = time.perf_counter() - start
    if problem is None and seconds > SLOW_SECONDS and len(data) <= SLOW_INPUT_BYTES:
        problem = f"took {seconds:.3f} s on {len(data)} bytes"
        kind = "slow"
    finding = None
    if problem is not None:
        finding = Finding(target.name, kind, problem, data, seed, seconds)
    return Outcome(seconds, verdict, finding, len(data))


def save_finding(finding: Finding, directory: Path = VECTORS) -> Path:
    """Keep a finding's input as a regression vector (idempotent)."""
    out = directory / finding.target
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"s{finding.seed}-{hashlib.sha256(finding.data).hexdigest()[:16]}.bin"
    if not path.exists():
        path.write_bytes(finding.data)
    return path


def decode_case(data: bytes) -> Case:
    """A case from raw fuzzer bytes (atheris): seed byte, then ops of 1+2+2+1+len bytes."""
    if not data:
        return Case(0, ())
    seed = data[0]
    ops: list[Op] = []
    i = 1
    while i + 6 <= len(data) and len(ops) < 6:
        op = data[i]
        a = int.from_bytes(data[i + 1 : i + 3], "big")
        b = int.from_bytes(data[i + 3 : i + 5], "big")
        n = data[i + 5] % 65
        blob = data[i + 6 : i + 6 + n]
        ops.append((op, a, b, blob))
        i += 6 + n
    return Case(seed, tuple(ops))


# parser ---------------------------------------------------------------------------------

_PARSER_SEEDS: tuple[bytes, ...] = (
    b"<message xmlns='jabber:client' to='romeo@montague.net' type='chat' id='1'>"
    b"<body>Wherefore art thou, Romeo?</body><x xmlns='jabber:x:oob'><url>u</url></x></message>",
    b"<?xml version='1.0' encoding='UTF-8'?><a b='1' c=\"2\"><![CDATA[<x>]]>&amp;&#x41;</a>",
    b"<a xmlns:p='urn:p'><p:b p:c='1' xml:lang='en'>t</p:b>" + b"<c/>" * 20 + b"</a>",
    b"<a>" * 60 + b"</a>" * 60,
)


@functools.cache
def _parser_seeds() -> tuple[bytes, ...]:
    return (*_PARSER_SEEDS, *_dsig_seeds(SPEC.name)[:1], *_dsig_seeds(ROBUST.name)[:1])


def _parser_run(data: bytes, seed: int) -> tuple[str, str | None]:
    parse(data)
    return "ok", None


# dsig -----------------------------------------------------------------------------------

_STANZAS: tuple[bytes, ...] = (
    b"<message xmlns='jabber:client' from='juliet@capulet.net/balcony' id='183ef129' "
    b"to='romeo@montague.net' type='chat'><thread>8996aef0</thread>"
    b"<body>Wherefore art thou, Romeo?</body></message>",
    b"<presence xmlns='jabber:client' from='juliet@capulet.net/balcony' "
    b"to='romeo@montague.net'><show>away</show><status xml:lang='en'>balcony</status>"
    b"</presence>",
    b"<iq xmlns='jabber:client' from='juliet@capulet.net/balcony' to='romeo@montague.net/o' "
    b"type='set' id='i1'><query xmlns='jabber:iq:private'><note xmlns='x:n'>n</note></query>"
    b"</iq>",
    b"<message xmlns='jabber:client' from='juliet@capulet.net/balcony' to='romeo@montague.net'"
    b" type='chat' id='m2'>\n  <body>two</body>\n  <x xmlns='urn:x' a='1'>y</x>\n</message>",
)


@functools.cache
def _dsig_seeds(profile: str) -> tuple[bytes, ...]:
    return _stored(f"dsig-{profile}", lambda: _build_dsig_seeds(profile))


def _build_dsig_seeds(profile: str) -> tuple[bytes, ...]:
    ident = _ident("juliet")
    prof = SPEC if profile == SPEC.name else ROBUST
    clock = TimestampClock(lambda: NOW)
    signer = Signer(ident.key, signer=JULIET, certificate=ident.cert, profile=prof, clock=clock)
    with_cert = Signer(
        ident.key,
        signer=JULIET,
        certificate=ident.cert,
        profile=prof,
        clock=clock,
        include_certificate=True,
    )
    seeds = [signer.sign(s) for s in _STANZAS]
    seeds.append(with_cert.sign(_STANZAS[0]))
    seeds.append(signer.sign(seeds[0]))  # a second signature (over the first)
    return tuple(seeds)


@functools.cache
def _verifier(optimistic: bool = False) -> Verifier:
    # No replay store: every case is judged on its own. Auto profile detection, as a
    # receiver that accepts both profiles has.
    policy = Policy.optimistic() if optimistic else Policy()
    return Verifier(_trust(), policy=policy, clock=lambda: NOW)


def _canonical(children: Sequence[etree._Element], profile: str) -> list[bytes]:
    if profile == ROBUST.name:
        out = []
        for el in children:
            # the enveloped-signature transform: an iq payload's own Signature is not signed
            for sig in el.findall("{" + NS.DS + "}Signature"):
                el.remove(sig)
            out.append(_c14n.robust_c14n(el))
        return out
    return [_c14n.c14n(el, SPEC.child_c14n) for el in children]


def _attrs(pairs: Sequence[tuple[str, str]]) -> frozenset[tuple[str, str]]:
    # xml:lang may be added by a server (RFC 6120 §8.1.5, security case 19); from/to are
    # compared as JIDs (RFC 7622 preparation), the rest exactly.
    out = set()
    for name, value in pairs:
        if name == "{" + NS.XML + "}lang":
            continue
        if name in ("from", "to"):
            try:
                value = str(parse_jid(value))
            except XmppSecError:
                pass
        out.add((name, value))
    return frozenset(out)


@dataclass(frozen=True)
class _Signed:
    """What a valid verification result vouches for."""

    stanza: str
    attributes: frozenset[tuple[str, str]]
    children: collections.Counter[bytes]
    signatures: frozenset[tuple[str, str]]
    """A set: a copy of a valid signature vouches for nothing new (a replay store refuses
    the second copy as a replay)."""


def _signed(result: VerificationResult, profile: str) -> _Signed:
    return _Signed(
        result.stanza_name,
        _attrs(result.stanza_attributes),
        collections.Counter(_canonical(result.signed_children(), profile)),
        frozenset((s.signer, s.timestamp_text) for s in result.signatures if s.valid),
    )


@functools.cache
def _dsig_reference(profile: str, seed: int) -> _Signed:
    result = _verifier().check(_dsig_seeds(profile)[seed], now=NOW)
    assert result.valid, (profile, seed, result.error)
    return _signed(result, profile)


def _dsig_run_for(
    profile: str, *, optimistic: bool = False
) -> Callable[[bytes, int], tuple[str, str | None]]:
    def run(data: bytes, seed: int) -> tuple[str, str | None]:
        """The oracle for a mutated signed stanza: ``check`` never raises, and a stanza it
        calls valid vouches for nothing the original did not: the same stanza name and
        attributes (:func:`_attrs`), signed children that are (as a multiset, in the
        profile's canonical form) among the original's, and valid signatures (signer,
        timestamp) among the original's. A subset is allowed because stripping a whole
        outer signature (with what only it covered) leaves an authentic stanza; anything
        else that verifies is an accepted forgery. Whitespace between children, quote
        style or an unsigned server annotation are no-ops by this definition."""
        result = _verifier(optimistic).check(data, now=NOW)
        if not result.valid:
            if result.signed_children():
                return "invalid", "signed_children() not empty on an invalid result"
            return type(result.error).__name__, None
        ref = _dsig_reference(profile, seed)
        got = _signed(result, profile)
        if (
            got.stanza != ref.stanza
            or got.attributes != ref.attributes
            or got.children - ref.children
            or got.signatures - ref.signatures
            or not got.signatures
        ):
            return "valid", f"a mutated stanza verified with different content: {got!r}"
        return "valid", None

    return run


# CPIM -----------------------------------------------------------------------------------


@functools.cache
def _cpim_seeds() -> tuple[bytes, ...]:
    text = build_cpim(
        sender=JULIET,
        recipients=[ROMEO],
        timestamp=NOW,
        content_type="text/plain; charset=utf-8",
        content="Wherefore art thou, Romeo?\r\nline two \u00e9".encode(),
        sender_name="Juliet",
        subject="hi",
    ).raw
    xml = build_cpim(
        sender=JULIET,
        recipients=[ROMEO, "nurse@capulet.net"],
        timestamp=NOW,
        content_type="application/xmpp+xml",
        content=b"<xmpp xmlns='jabber:client'><message to='romeo@montague.net'/></xmpp>",
        scheme="xmpp",
    ).raw
    return (text, xml)


def _cpim_run(data: bytes, seed: int) -> tuple[str, str | None]:
    parse_cpim(data)
    return "ok", None


# CMS SignedData ---------------------------------------------------------------------------


@functools.cache
def _cms_seeds() -> tuple[bytes, ...]:
    return _stored("cms", _build_cms_seeds)


def _build_cms_seeds() -> tuple[bytes, ...]:
    ident = _ident("juliet")
    content = _cpim_seeds()[0]
    detached = _cms.sign(content, ident.key, ident.cert, detached=True, signing_time=NOW)
    attached = _cms.sign(content, ident.key, ident.cert, detached=False, signing_time=NOW)
    return (detached, attached)


def _cms_run(data: bytes, seed: int) -> tuple[str, str | None]:
    content = _cpim_seeds()[0]

    def select(presented: Sequence[x509.Certificate]) -> Sequence[x509.Certificate]:
        return _trust().resolve_all(JULIET, presented, now=NOW)

    info = _cms.verify(
        data, select_certificates=select, detached_content=content if seed == 0 else None
    )
    if info.content != content:
        return "ok", "a mutated SignedData verified over different content"
    return "ok", None


# open_stanza ----------------------------------------------------------------------------

_E2E_MESSAGE = (
    b"<message xmlns='jabber:client' from='juliet@capulet.net/balcony' "
    b"to='romeo@montague.net/orchard' type='chat' id='e1'><body>Wherefore art thou?</body>"
    b"</message>"
)
_E2E_IQ = (
    b"<iq xmlns='jabber:client' from='juliet@capulet.net/balcony' "
    b"to='romeo@montague.net/orchard' type='get' id='v1'><query xmlns='jabber:iq:version'/>"
    b"</iq>"
)


@functools.cache
def _e2e_seeds() -> tuple[bytes, ...]:
    return _stored("e2e", _build_e2e_seeds)


def _build_e2e_seeds() -> tuple[bytes, ...]:
    j, r = _ident("juliet"), _ident("romeo")

    def seal(stanza: bytes, encrypt: bool) -> bytes:
        return seal_stanza(
            stanza, key=j.key, certificate=j.cert, recipients=[r.cert], encrypt=encrypt, now=NOW
        )

    return (seal(_E2E_MESSAGE, True), seal(_E2E_IQ, True), seal(_E2E_MESSAGE, False))


def _rewrap(stanza: bytes, entity: bytes) -> bytes:
    root = parse(stanza)
    out = new_stanza(etree.QName(root).localname, {str(k): str(v) for k, v in root.attrib.items()})
    make_e2e(out, entity)
    return serialize(out)


def _e2e_layers(seed: int, ops: Sequence[Op]) -> bytes:
    """Mutate one layer of a sealed stanza: the stanza bytes, the S/MIME entity text, the
    EnvelopedData DER, the decrypted plaintext (re-encrypted to the recipient: anyone can
    encrypt to a public certificate), or the inner SignedData DER (re-encrypted)."""
    sealed = _e2e_seeds()[seed]
    if not ops:
        return sealed
    layer = ops[0][0] % 5
    rest = [(op // 5, a, b, blob) for op, a, b, blob in ops]
    if layer == 0:
        return mutate_xml(sealed, rest)
    entity = e2e_entity(find_e2e(parse(sealed)))
    if layer == 1:
        return _rewrap(sealed, mutate_lines(entity, rest))
    parsed = parse_entity(entity)
    encrypted = parsed.get("Content-Type") or ""
    if "enveloped-data" not in encrypted.lower():  # also authEnveloped-data (AES-GCM)
        # signed only: mutate the signature DER in the multipart/signed
        ms = parse_multipart_signed(parsed)
        sig = mutate_bytes(ms.signature, rest)
        return _rewrap(sealed, build_multipart_signed(ms.signed_part, sig, digest="sha256"))
    _, der = pkcs7_mime_der(parsed)
    if layer == 2:
        return _rewrap(
            sealed, build_pkcs7_mime(mutate_bytes(der, rest), smime_type="enveloped-data")
        )
    r = _ident("romeo")
    plaintext = _envelope.decrypt(der, r.cert, r.key)
    if layer == 3:
        plaintext = mutate_lines(plaintext, rest)
    else:
        ms = parse_multipart_signed(parse_entity(plaintext))
        sig = mutate_bytes(ms.signature, rest)
        plaintext = build_multipart_signed(ms.signed_part, sig, digest="sha256")
    again = _envelope.encrypt(plaintext, [r.cert])
    return _rewrap(sealed, build_pkcs7_mime(again, smime_type="enveloped-data"))


def _opened(opened: OpenedStanza) -> tuple[bytes, str | None, str, str, list[bytes]]:
    # What RFC 3923 authenticates: the signed CPIM object (From, To, DateTime, content)
    # and the signer. The inner stanza's other attributes (id, type) come from the outer
    # stanza for text/plain and PIDF content (§3, §4) and are not protected; its children
    # are compared too.
    inner = opened.stanza
    return (
        opened.cpim.raw,
        opened.signer,
        str(parse_jid(inner.get("from") or "").bare),
        str(parse_jid(inner.get("to") or "").bare),
        [etree.tostring(c, method="c14n") for c in inner],
    )


@functools.cache
def _e2e_reference(seed: int) -> tuple[bytes, str | None, str, str, list[bytes]]:
    r = _ident("romeo")
    opened = open_stanza(
        _e2e_seeds()[seed], trust=_trust(), key=r.key, certificate=r.cert, now=NOW
    )
    return _opened(opened)


def _e2e_run(data: bytes, seed: int) -> tuple[str, str | None]:
    """Oracle: open_stanza on a mutated sealed stanza fails with a typed error, or opens to
    exactly what the original authenticated (:func:`_opened`)."""
    r = _ident("romeo")
    opened = open_stanza(data, trust=_trust(), key=r.key, certificate=r.cert, now=NOW)
    if _opened(opened) != _e2e_reference(seed):
        return "ok", f"a mutated e2e stanza opened to different content: {opened.xml!r}"
    return "ok", None


# trust store (CA path) ---------------------------------------------------------------


@functools.cache
def _ca() -> _Ident:
    return _ident("ca")


@functools.cache
def _trust_seeds() -> tuple[bytes, ...]:
    return _stored("trust", _build_trust_seeds)


def _build_trust_seeds() -> tuple[bytes, ...]:
    ca = _ca()
    leaf_key = _ident("juliet").key
    out = []
    for san in (
        [x509.OtherName(ID_ON_XMPPADDR, xmpp_addr_value(JULIET))],
        [x509.OtherName(ID_ON_XMPPADDR, xmpp_addr_value(JULIET)), x509.DNSName("capulet.net")],
    ):
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, JULIET)]))
            .issuer_name(ca.cert.subject)
            .public_key(leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - dt.timedelta(days=1))
            .not_valid_after(NOW + dt.timedelta(days=3000))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                    ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
                ),
                False,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .sign(ca.key, hashes.SHA256())
        )
        out.append(cert.public_bytes(Encoding.DER))
    return tuple(out)


@functools.cache
def _ca_trust() -> TrustStore:
    return TrustStore().with_ca_bundle([_ca().cert])


def _trust_run(data: bytes, seed: int) -> tuple[str, str | None]:
    """A certificate presented for Juliet against a CA bundle: loaded with the library's
    loader, then chain-validated. Oracle: accepted only with the original TBSCertificate
    (anything else would be a certificate the CA never signed)."""
    cert = load_certificate(data)
    got = _ca_trust().resolve(JULIET, [cert], now=NOW)
    original = x509.load_der_x509_certificate(_trust_seeds()[seed])
    if got.tbs_certificate_bytes != original.tbs_certificate_bytes:
        return "ok", "a certificate the CA did not sign was accepted"
    return "ok", None


# KeyInfo certificates against a CA bundle ---------------------------------------------


@functools.cache
def _keyinfo_seeds() -> tuple[bytes, ...]:
    return _stored("dsig-keyinfo", _build_keyinfo_seeds)


def _build_keyinfo_seeds() -> tuple[bytes, ...]:
    leaf = x509.load_der_x509_certificate(_trust_seeds()[0])
    clock = TimestampClock(lambda: NOW)
    return tuple(
        Signer(
            _ident("juliet").key,
            signer=JULIET,
            certificate=leaf,
            profile=prof,
            clock=clock,
            include_certificate=True,
        ).sign(_STANZAS[0])
        for prof in (SPEC, ROBUST)
    )


def _keyinfo_mutate(seed: int, ops: Sequence[Op]) -> bytes:
    """Mutate the DER of the KeyInfo certificate (re-encoded as base64), or the stanza."""
    signed = _keyinfo_seeds()[seed]
    if ops and ops[0][0] % 4 == 0:
        return mutate_xml(signed, ops)
    root = parse(signed)
    el = root.find(f"{{{NS.DS}}}Signature/{{{NS.DS}}}KeyInfo/{{{NS.DS}}}X509Data/{{{NS.DS}}}X509Certificate")
    assert el is not None and el.text is not None
    der = base64.b64decode(el.text)
    el.text = base64.b64encode(mutate_bytes(der, ops)).decode("ascii")
    return etree.tostring(root)


@functools.cache
def _ca_verifier() -> Verifier:
    return Verifier(_ca_trust(), clock=lambda: NOW)


def _keyinfo_run(data: bytes, seed: int) -> tuple[str, str | None]:
    """Verifier.check with a CA-bundle trust store (no pin): the certificate in KeyInfo is
    chain-validated. Oracle as for the dsig targets."""
    profile = SPEC.name if seed == 0 else ROBUST.name
    result = _ca_verifier().check(data, now=NOW)
    if not result.valid:
        return type(result.error).__name__, None
    ref = _ca_verifier().check(_keyinfo_seeds()[seed], now=NOW)
    assert ref.valid, ref.error
    got, want = _signed(result, profile), _signed(ref, profile)
    if (
        got.stanza != want.stanza
        or got.attributes != want.attributes
        or got.children - want.children
        or got.signatures - want.signatures
        or result.signatures[0].certificate is None
        or result.signatures[0].certificate.tbs_certificate_bytes
        != x509.load_der_x509_certificate(_trust_seeds()[0]).tbs_certificate_bytes
    ):
        return "valid", "a mutated stanza or certificate verified"
    return "valid", None


# schema validation and binding --------------------------------------------------------


@functools.cache
def _schema_seeds() -> tuple[bytes, ...]:
    return (*_STANZAS, *_dsig_seeds(SPEC.name), *_dsig_seeds(ROBUST.name)[:3])


def _schema_run(data: bytes, seed: int) -> tuple[str, str | None]:
    """xmppsec.schema.validate, then (when valid) binding into the generated dataclass."""
    root = validate(data)
    kind = etree.QName(root).localname
    cls: type[object] = {"message": jc.Message, "presence": jc.Presence, "iq": jc.Iq}[kind]
    to_binding(root, cls)
    return "ok", None


# open_stanza with a hostile, trusted sender -------------------------------------------

_E2E_PRESENCE = (
    b"<presence xmlns='jabber:client' from='juliet@capulet.net/balcony' "
    b"to='romeo@montague.net'><status xml:lang='en'>on the balcony</status></presence>"
)
_HOSTILE_KINDS = ("message", "iq", "presence")


@functools.cache
def _cpim_objects() -> tuple[bytes, ...]:
    """The signed CPIM objects of a message (text/plain), an iq (application/xmpp+xml) and
    a directed presence (PIDF), as a sender builds them."""
    j = _ident("juliet")
    out = []
    for stanza in (_E2E_MESSAGE, _E2E_IQ, _E2E_PRESENCE):
        sealed = seal_stanza(stanza, key=j.key, certificate=j.cert, encrypt=False, now=NOW)
        ms = parse_multipart_signed(parse_entity(e2e_entity(find_e2e(parse(sealed)))))
        out.append(ms.signed_part)
    return tuple(out)


def _hostile_mutate(seed: int, ops: Sequence[Op]) -> bytes:
    """Juliet herself sends a malformed CPIM object or inner document, properly signed and
    encrypted to Romeo: what is checked after decryption and signature verification."""
    cpim = _cpim_objects()[seed]
    if ops and ops[0][0] % 2:
        head, sep, content = cpim.rpartition(b"\r\n\r\n")
        cpim = head + sep + (mutate_xml(content, ops) if seed else mutate_lines(content, ops))
    else:
        cpim = mutate_lines(cpim, ops)
    j, r = _ident("juliet"), _ident("romeo")
    sig = _cms.sign(cpim, j.key, j.cert, detached=True, signing_time=NOW)
    entity = build_multipart_signed(cpim, sig, digest="sha256")
    envelope = build_pkcs7_mime(_envelope.encrypt(entity, [r.cert]), smime_type="enveloped-data")
    attrs = {"from": "juliet@capulet.net/balcony", "to": "romeo@montague.net/orchard"}
    if seed == 1:
        attrs.update(type="get", id="v1")
    out = new_stanza(_HOSTILE_KINDS[seed], attrs)
    make_e2e(out, envelope)
    return serialize(out)


def _hostile_run(data: bytes, seed: int) -> tuple[str, str | None]:
    r = _ident("romeo")
    open_stanza(data, trust=_trust(), key=r.key, certificate=r.cert, now=NOW)
    return "ok", None


# JIDs and timestamps -------------------------------------------------------------------

_JID_SEEDS: tuple[bytes, ...] = (
    b"juliet@capulet.net/balcony",
    "Juliet@Capulet.NET/B\u00e4lcony \u2163".encode(),
    b"romeo@xn--bcher-kva.example",
    "\u0130stanbul@b\u00fccher.example/r@s/t".encode(),
    b"[2001:db8::1]",
    b"capulet.net.",
    b"a" * 1023 + b"@capulet.net",
)
_TIME_SEEDS: tuple[bytes, ...] = (
    b"2026-06-01T12:00:00.000Z",
    b"2026-06-01T12:00:00.123456789+05:30",
    b"1999-12-31t23:59:60z",
    b"0001-01-01T00:00:00-00:01",
)


def _jid_run(data: bytes, seed: int) -> tuple[str, str | None]:
    text = data.decode("utf-8", "replace")
    jid = parse_jid(text)
    if parse_jid(str(jid)) != jid:  # preparation is idempotent (RFC 7622 §3)
        return "ok", f"{text!r} -> {jid} does not round-trip"
    bare_jid(text)
    return "ok", None


def _time_run(data: bytes, seed: int) -> tuple[str, str | None]:
    text = data.decode("utf-8", "replace")
    verdict = "format"
    try:
        t = parse_timestamp(text)
        if format_timestamp(t) != text:
            return "ok", f"{text!r} parses but formats as {format_timestamp(t)!r}"
        verdict = "ok"
    except TimestampError:
        pass
    t = parse_rfc3339(text)
    check_window(t, NOW)
    return verdict, None


# (Auth)EnvelopedData, ECDH / OAEP recipients (issue 13) --------------------------------

_ENVELOPE_CONTENT = (
    b"Content-Type: Message/CPIM\r\n\r\nFrom: <im:juliet@capulet.net>\r\n\r\n" + b"x" * 64
)
# (cipher, recipients, who decrypts, key transport); GCM seeds are authenticated: whatever
# opens must be the original content
_ENVELOPE_SEEDS: tuple[tuple[ContentCipher, tuple[str, ...], str, KeyTransport | None], ...] = (
    (ContentCipher.AES256_GCM, ("romeo", "romeo-ec"), "romeo-ec", None),
    (ContentCipher.AES128_GCM, ("romeo-ec",), "romeo-ec", None),
    (ContentCipher.AES128_CBC, ("romeo-ec", "romeo"), "romeo-ec", None),
    (ContentCipher.AES256_GCM, ("romeo",), "romeo", KeyTransport.RSA_OAEP),
    (ContentCipher.AES256_CBC, ("romeo",), "romeo", KeyTransport.RSA_OAEP),
)


def _envelope_seeds() -> tuple[bytes, ...]:
    return _stored("envelope", _build_envelope_seeds)


def _build_envelope_seeds() -> tuple[bytes, ...]:
    return tuple(
        _envelope.encrypt(_ENVELOPE_CONTENT, [_ident(n).cert for n in names], cipher=cipher,
                          key_transport=transport)
        for cipher, names, _who, transport in _ENVELOPE_SEEDS
    )


def _envelope_run(data: bytes, seed: int) -> tuple[str, str | None]:
    """Oracle: typed errors only; an AES-GCM object opens to the original content or not
    at all (CBC is malleable: a changed plaintext is expected there)."""
    cipher, _names, who, _t = _ENVELOPE_SEEDS[seed]
    ident = _ident(who)
    out = _envelope.decrypt(data, ident.cert, ident.key)
    gcm = cipher in (ContentCipher.AES128_GCM, ContentCipher.AES256_GCM)
    if gcm and out != _ENVELOPE_CONTENT:
        return "ok", f"AES-GCM object opened to different content: {out[:80]!r}"
    return "ok", None


def _envelope_parse_run(data: bytes, seed: int) -> tuple[str, str | None]:
    """The structural pass alone (no key): GCMParameters, OAEP parameters, originator
    keys, recipient identifiers of hostile DER. Typed errors only."""
    _envelope.inspect(data)
    return "ok", None


# recipient binding (issue 13 §2) --------------------------------------------------------

MALLORY = "mallory@evil.example"


def _binding_seeds() -> tuple[bytes, ...]:
    return _stored("binding", _build_binding_seeds)


def _build_binding_seeds() -> tuple[bytes, ...]:
    j, rec = _ident("juliet"), _ident("romeo-ec")
    to_mallory = _E2E_MESSAGE.replace(b"romeo@montague.net/orchard", MALLORY.encode())

    def seal(stanza: bytes, encrypt: bool, recipients: Sequence[x509.Certificate] = ()) -> bytes:
        return seal_stanza(stanza, key=j.key, certificate=j.cert, encrypt=encrypt,
                           recipients=recipients or [rec.cert], now=NOW)

    forwarded = seal(to_mallory, False)  # Juliet to Mallory, signed ...
    signed = e2e_entity(find_e2e(parse(forwarded)))  # ... Mallory re-encrypts it to Romeo
    entity = build_pkcs7_mime(_envelope.encrypt(signed, [rec.cert]),
                              smime_type="authEnveloped-data")
    return (
        seal(_E2E_MESSAGE, False),
        seal(_E2E_IQ, False),
        forwarded,
        seal(_E2E_MESSAGE, True),
        _rewrap(forwarded, entity),
    )


def _binding_mutate(seed: int, ops: Sequence[Op]) -> bytes:
    """Either the stanza XML (outer to/from/type), or — Juliet being trusted but hostile —
    the CPIM object's lines (To, From, the inner stanza), re-signed by her and re-encrypted
    to Romeo when the seed was encrypted."""
    sealed = _binding_seeds()[seed]
    if not ops or ops[0][0] % 2 == 0:
        return mutate_xml(sealed, ops)
    rec = _ident("romeo-ec")
    entity = e2e_entity(find_e2e(parse(sealed)))
    parsed = parse_entity(entity)
    encrypted = "nveloped-data" in (parsed.get("Content-Type") or "")
    if encrypted:
        _, der = pkcs7_mime_der(parsed)
        parsed = parse_entity(_envelope.decrypt(der, rec.cert, rec.key))
    cpim = mutate_lines(parse_multipart_signed(parsed).signed_part, ops)
    j = _ident("juliet")
    out = build_multipart_signed(cpim, _cms.sign(cpim, j.key, j.cert, signing_time=NOW),
                                 digest="sha256")
    if encrypted:
        out = build_pkcs7_mime(_envelope.encrypt(out, [rec.cert]),
                               smime_type="authEnveloped-data")
    return _rewrap(sealed, out)


def _binding_run(data: bytes, seed: int) -> tuple[str, str | None]:
    """Oracle: what opens for Romeo is addressed to Romeo (outer to and CPIM To), from the
    signer (outer from, CPIM From), and its inner stanza has the outer type, and the outer
    full JIDs where the outer stanza has a resource."""
    rec = _ident("romeo-ec")
    opened = open_stanza(data, trust=_trust(), key=rec.key, certificate=rec.cert, now=NOW)
    outer = parse(data)
    to, frm = outer.get("to") or "", outer.get("from") or ""
    if bare_jid(to) != ROMEO or ROMEO not in {r.jid for r in opened.cpim.recipients}:
        return "ok", f"opened for Romeo but addressed to {to!r} / {opened.cpim.recipients!r}"
    if opened.signer != bare_jid(frm) or opened.cpim.sender.jid != opened.signer:
        return "ok", f"signer {opened.signer!r} is not the sender {frm!r}"
    inner = opened.stanza
    kind = etree.QName(outer).localname
    default = "normal" if kind == "message" else None  # RFC 6121 §5.2.2
    itype, otype = inner.get("type") or default, outer.get("type") or default
    if itype != otype:
        return "ok", f"inner type {itype!r} differs from the outer {otype!r}"
    for attr in ("from", "to"):
        value, outer_value = inner.get(attr), outer.get(attr)
        if value is not None and outer_value and parse_jid(outer_value).resource and (
            parse_jid(value) != parse_jid(outer_value)
        ):
            return "ok", f"inner {attr} {value!r} differs from the outer {outer_value!r}"
    return "ok", None


def _safe(mutate: Callable[[int, Sequence[Op]], bytes]) -> Callable[[int, Sequence[Op]], bytes]:
    # A mutation the harness cannot apply (e.g. the layer it targets no longer parses)
    # falls back to the unmutated seed's byte mutations: the harness never crashes itself.
    def wrapped(seed: int, ops: Sequence[Op]) -> bytes:
        try:
            return mutate(seed, ops)
        except XmppSecError:
            return mutate_xml(_e2e_seeds()[seed], ops)

    return wrapped


def _safe_for(
    seeds: Callable[[], Sequence[bytes]], mutate: Callable[[int, Sequence[Op]], bytes]
) -> Callable[[int, Sequence[Op]], bytes]:
    """:func:`_safe` for another seed list."""

    def wrapped(seed: int, ops: Sequence[Op]) -> bytes:
        try:
            return mutate(seed, ops)
        except XmppSecError:
            return mutate_xml(seeds()[seed], ops)

    return wrapped


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target(
            "parser",
            "xmppsec.parser.parse on mutated stanzas and random bytes",
            _parser_seeds,
            lambda s, ops: mutate_xml(_parser_seeds()[s], ops),
            _parser_run,
        ),
        Target(
            "verify_spec",
            "Verifier.check on mutated spec-profile signed stanzas",
            lambda: _dsig_seeds(SPEC.name),
            lambda s, ops: mutate_xml(_dsig_seeds(SPEC.name)[s], ops),
            _dsig_run_for(SPEC.name),
        ),
        Target(
            "verify_robust",
            "Verifier.check on mutated robust-profile signed stanzas",
            lambda: _dsig_seeds(ROBUST.name),
            lambda s, ops: mutate_xml(_dsig_seeds(ROBUST.name)[s], ops),
            _dsig_run_for(ROBUST.name),
        ),
        Target(
            "verify_optimistic",
            "Verifier.check under Policy.optimistic() on mutated spec-profile stanzas: what it"
            " reports as signed must still be what was signed",
            lambda: _dsig_seeds(SPEC.name),
            lambda s, ops: mutate_xml(_dsig_seeds(SPEC.name)[s], ops),
            _dsig_run_for(SPEC.name, optimistic=True),
        ),
        Target(
            "schema",
            "xmppsec.schema.validate and to_binding on mutated stanzas",
            _schema_seeds,
            lambda s, ops: mutate_xml(_schema_seeds()[s], ops),
            _schema_run,
        ),
        Target(
            "jid",
            "xmppsec.jid.parse_jid / bare_jid (RFC 7622) on mutated JIDs",
            lambda: _JID_SEEDS,
            lambda s, ops: mutate_bytes(_JID_SEEDS[s], ops),
            _jid_run,
            valid_seeds=False,
        ),
        Target(
            "timestamps",
            "xmppsec.timestamps parse_timestamp / parse_rfc3339 / check_window",
            lambda: _TIME_SEEDS,
            lambda s, ops: mutate_bytes(_TIME_SEEDS[s], ops),
            _time_run,
            valid_seeds=False,
        ),
        Target(
            "cpim",
            "xmppsec.e2e.parse_cpim on mutated Message/CPIM objects",
            _cpim_seeds,
            lambda s, ops: mutate_lines(_cpim_seeds()[s], ops),
            _cpim_run,
        ),
        Target(
            "cms",
            "CMS SignedData verification on mutated DER (detached and attached)",
            _cms_seeds,
            lambda s, ops: mutate_bytes(_cms_seeds()[s], ops),
            _cms_run,
        ),
        Target(
            "trust",
            "TrustStore.resolve (CA bundle) on mutated DER certificates",
            _trust_seeds,
            lambda s, ops: mutate_bytes(_trust_seeds()[s], ops),
            _trust_run,
        ),
        Target(
            "open_hostile",
            "xmppsec.e2e.open_stanza on malformed CPIM and inner content that the trusted"
            " sender signed and encrypted properly",
            _cpim_objects,
            _safe(_hostile_mutate),
            _hostile_run,
        ),
        Target(
            "verify_keyinfo",
            "Verifier.check with a CA bundle on signed stanzas whose KeyInfo certificate is"
            " mutated (DER)",
            _keyinfo_seeds,
            _keyinfo_mutate,
            _keyinfo_run,
        ),
        Target(
            "open_stanza",
            "xmppsec.e2e.open_stanza on sealed stanzas mutated at every layer",
            _e2e_seeds,
            _safe(_e2e_layers),
            _e2e_run,
        ),
        Target(
            "envelope",
            "(Auth)EnvelopedData decryption (AES-GCM/CBC; ECDH P-256, RSA-OAEP and v1.5"
            " recipients) on mutated DER",
            _envelope_seeds,
            lambda s, ops: mutate_bytes(_envelope_seeds()[s], ops),
            _envelope_run,
        ),
        Target(
            "envelope_parse",
            "(Auth)EnvelopedData structure checks alone (no key) on mutated DER",
            _envelope_seeds,
            lambda s, ops: mutate_bytes(_envelope_seeds()[s], ops),
            _envelope_parse_run,
        ),
        Target(
            "open_binding",
            "xmppsec.e2e.open_stanza recipient binding: signed-only and ECDH-encrypted"
            " stanzas, one forwarded by Mallory, mutated outside or re-signed inside",
            _binding_seeds,
            _safe_for(_binding_seeds, _binding_mutate),
            _binding_run,
            valid_seeds=False,  # seeds 2 and 4 are addressed to Mallory: never open
        ),
    )
}
