"""The benchmark stanzas and identities (shared by the benchmark, fan-out and archive tools)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)

from xmppsec.keys import Identity, generate_identity
from xmppsec.parser import DEFAULT_LIMITS, Limits

__all__ = [
    "ALGORITHMS",
    "JID",
    "LIMITS",
    "STANZAS",
    "BenchIdentity",
    "identities",
]

JID = "juliet@capulet.net"

# The small stanza of the performance anchors (217 bytes): a chat message with a body.
SMALL = (
    b"<message xmlns='jabber:client' from='juliet@capulet.net/balcony' id='183ef129' "
    b"to='romeo@montague.net' type='chat'><thread>8996aef0-061d-012d-347a-549a200771aa</thread>"
    b"<body>Wherefore art thou, Romeo?</body></message>"
)


def _body10k() -> bytes:
    text = (b"Wherefore art thou, Romeo? Deny thy father and refuse thy name. " * 200)[:10240]
    return SMALL.replace(b"Wherefore art thou, Romeo?", text)


def _children50() -> bytes:
    # 50 direct children, each signed: thread, body and 48 extension elements.
    items = b"".join(
        b"<x xmlns='urn:example:bench:0' n='%d'>item %d of the payload</x>" % (i, i)
        for i in range(48)
    )
    return SMALL.replace(b"</message>", items + b"</message>")


STANZAS: dict[str, bytes] = {
    "small": SMALL,
    "body10k": _body10k(),
    "children50": _children50(),
}

# 50 signed children exceed the default max_references (30): the children50 rows raise that
# one limit (for the signer and the verifier's policy); everything else stays the default.
LIMITS: dict[str, Limits] = {
    "small": DEFAULT_LIMITS,
    "body10k": DEFAULT_LIMITS,
    "children50": Limits(max_references=64),
}

Algorithm = Literal["rsa-2048", "ecdsa-p256", "ed25519"]
ALGORITHMS: tuple[Algorithm, ...] = ("rsa-2048", "ecdsa-p256", "ed25519")


@dataclass(frozen=True)
class BenchIdentity:
    algorithm: Algorithm
    identity: Identity
    key_pem: bytes
    cert_pem: bytes


def identities(jid: str = JID) -> dict[str, BenchIdentity]:
    out: dict[str, BenchIdentity] = {}
    for alg in ALGORITHMS:
        ident = generate_identity(jid, alg)
        key_pem = ident.private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        cert_pem = ident.certificate.public_bytes(Encoding.PEM)
        out[alg] = BenchIdentity(alg, ident, key_pem, cert_pem)
    return out
