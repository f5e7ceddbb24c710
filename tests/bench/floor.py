"""The floor: the XEP-0290 procedure in straight-line Python with every check removed.

A benchmark row, not an implementation: it answers "how fast could the spec profile be in
CPython with lxml, hashlib and cryptography, if it checked nothing?". What xmppsec spends
above it is the price of the checks (hardened parse, stanza rules, structure phase, reference
ambiguity, trust, attribute and identity comparison, timestamp window) and of the result
object; what the floor spends above LB is the XEP's own work that LB leaves out (``d:id``
values, stanza-desc written and digested, the output serialization, the second C14N).

The floor signer writes the same bytes as :class:`xmppsec.dsig.Signer` on the benchmark
stanzas (it borrows the signer's templates and assumes a message whose attributes need no
escaping, as the benchmark stanzas are); the floor verifier checks the three digests and the
signature value and nothing else. The benchmark checks both on its stanzas before timing
them (``tests.bench.run._floor``), and tests/test_bench_floor.py for every key and stanza.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from lxml import etree

from xmppsec.dsig import Signer

__all__ = ["floor_signer", "floor_verifier"]

_DSIG_ID = "{urn:xmpp:dsig:0}id"
_SHA256 = hashes.SHA256()
_ECDSA = ec.ECDSA(_SHA256)
_PKCS1 = padding.PKCS1v15()


def _sign_raw(key: Any) -> Callable[[bytes], bytes]:
    if isinstance(key, rsa.RSAPrivateKey):
        return lambda data: key.sign(data, _PKCS1, _SHA256)
    if isinstance(key, ec.EllipticCurvePrivateKey):

        def ecdsa(data: bytes) -> bytes:  # XML-DSIG wants r || s, not DER (RFC 4051 §3.3)
            r, s = decode_dss_signature(key.sign(data, _ECDSA))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")

        return ecdsa
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    return key.sign


def _verify_raw(pub: Any) -> Callable[[bytes, bytes], None]:
    if isinstance(pub, rsa.RSAPublicKey):
        return lambda sig, data: pub.verify(sig, data, _PKCS1, _SHA256)
    if isinstance(pub, ec.EllipticCurvePublicKey):

        def ecdsa(sig: bytes, data: bytes) -> None:
            r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
            pub.verify(encode_dss_signature(r, s), data, _ECDSA)

        return ecdsa
    assert isinstance(pub, ed25519.Ed25519PublicKey)
    return pub.verify


def floor_signer(signer: Signer) -> Callable[[bytes], bytes]:
    """Sign like ``signer`` (spec profile, SHA-256, no KeyInfo) without any check."""
    t = signer._templates("message", "{jabber:client}message")  # the signer's own constant pieces
    sign = _sign_raw(signer.key)
    b64 = binascii.b2a_base64
    sha256 = hashlib.sha256
    tostring = etree.tostring

    def run(data: bytes) -> bytes:
        root = etree.fromstring(data)
        stem = "d" + secrets.token_hex(4)
        refs = []
        for n, child in enumerate(root, 1):
            name = f"{stem}-{n}"
            child.set(_DSIG_ID, name)
            octets = tostring(child, method="c14n", exclusive=True, with_comments=False)
            refs.append(t.ref_c.render(name.encode(), b"", b64(sha256(octets).digest(), newline=False)))
        refs_b = b"".join(refs)
        now = datetime.now(UTC)
        ts = (
            f"{now.year:04d}-{now.month:02d}-{now.day:02d}T{now.hour:02d}:{now.minute:02d}:"
            f"{now.second:02d}.{now.microsecond // 1000:03d}Z"
        ).encode()
        items = [(str(k), str(v)) for k, v in root.items()]
        attrs = "".join(f' {k}="{v}"' for k, v in items).encode()
        attrs_c = "".join(f' {k}="{v}"' for k, v in sorted(items)).encode()
        desc_c = t.desc_c.render(b"", attrs_c, refs_b, ts)
        dv = b64(sha256(desc_c).digest(), newline=False)
        sv = b64(sign(t.si_c.render(b"", dv)), newline=False)
        signature = t.doc.render(dv, sv, attrs, refs_b, ts)
        out = tostring(root, encoding="utf-8")
        return out[:-10] + signature + out[-10:]  # before "</message>"

    return run


def floor_verifier(public_key: Any) -> Callable[[bytes], None]:
    """Check the child digests, the stanza-desc digest and SignatureValue of a signed
    benchmark stanza (spec profile layout); raises on a mismatch, checks nothing else."""
    verify = _verify_raw(public_key)
    a2b = binascii.a2b_base64
    sha256 = hashlib.sha256
    tostring = etree.tostring

    def run(data: bytes) -> None:
        root = etree.fromstring(data)
        sig = root[-1]
        si, sv, desc = sig[0], sig[1], sig[2][0]
        by_id = {c.get(_DSIG_ID): c for c in root.iterchildren()}
        for ref in desc[3]:
            child = by_id[ref.get("URI", "").rpartition("#")[2]]
            octets = tostring(child, method="c14n", exclusive=True, with_comments=False)
            if not hmac.compare_digest(sha256(octets).digest(), a2b(ref.text or "")):
                raise ValueError("child digest")
        # Inclusive C14N 1.1 of the two subsets: lxml's copy is the subset's form here up to
        # the apex's namespace declarations (no xml:* to inherit on the benchmark stanzas).
        dup: etree._Element = desc.__copy__()  # type: ignore[attr-defined]  # not in lxml-stubs
        dup.tail = None
        desc_c = tostring(dup, method="c14n")
        if not hmac.compare_digest(sha256(desc_c).digest(), a2b(si[2][2].text or "")):
            raise ValueError("stanza-desc digest")
        si_c = tostring(si, method="c14n", exclusive=True, inclusive_ns_prefixes=["d"])
        verify(a2b(sv.text or ""), si_c)

    return run
