"""``ds:KeyValue`` in KeyInfo: read it, and refuse it when it names another key.

A KeyValue is never trusted (the trust store chooses the certificate), but a signature
whose KeyInfo names one public key while another verifies it is inconsistent: a reader of
the KeyValue alone (a log, another implementation) would attribute it to the wrong key.
So every KeyValue present must name the public key of the certificate that verified.

Forms read (XML-DSIG 1.1 §4.5.2): ``RSAKeyValue`` (Modulus, Exponent: CryptoBinary, a
big-endian base64 integer, §4.5.2.2), ``DSAKeyValue`` (P, Q, G optional, Y, and J, Seed,
PgenCounter ignored, §4.5.2.1), and ``dsig11:ECKeyValue`` with a ``NamedCurve`` (P-256,
P-384, P-521) and a ``PublicKey`` point (§4.5.2.3; explicit ECParameters are refused). Any
other or malformed content is a :class:`SignatureSchemaError`: what cannot be read cannot be
shown to match.
"""

from __future__ import annotations

import binascii
import re
from typing import Final

from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
from lxml import etree

from ..errors import SignatureSchemaError, UntrustedKey
from ..keys import PublicKey
from ..xmpp import NS

__all__ = ["KeyValue", "check_key_values", "read_key_values"]

_DS: Final = "{" + NS.DS + "}"
_DS11: Final = "{" + NS.DS11 + "}"
_WS = re.compile(r"[ \t\r\n]+")
# XML-DSIG 1.1 §4.5.2.3.1 names curves by URN of their OID (RFC 5480 §2.1.1.1).
_CURVES: Final[dict[str, ec.EllipticCurve]] = {
    "urn:oid:1.2.840.10045.3.1.7": ec.SECP256R1(),
    "urn:oid:1.3.132.0.34": ec.SECP384R1(),
    "urn:oid:1.3.132.0.35": ec.SECP521R1(),
}
_MAX_KEY_VALUES: Final = 4
_MAX_INT_BYTES: Final = 2048  # a 16384-bit integer

KeyValue = tuple[str, tuple[int | str | None, ...]]
"""A comparable form: ("rsa", (n, e)), ("ec", (curve, x, y)), ("dsa", (y, p, q, g))."""


def _only(parent: etree._Element, tag: str, *, required: bool = True) -> etree._Element | None:
    found = [c for c in parent if c.tag == tag]
    if len(found) > 1 or (required and not found):
        raise SignatureSchemaError(f"KeyValue: expected one {tag.split('}')[-1]}")
    return found[0] if found else None


def _bytes(el: etree._Element | None) -> bytes:
    if el is None or len(el):
        raise SignatureSchemaError("KeyValue: a value is missing or has children")
    try:
        return binascii.a2b_base64(_WS.sub("", el.text or ""), strict_mode=True)
    except (binascii.Error, ValueError):
        raise SignatureSchemaError("KeyValue: a value is not base64") from None


def _int(parent: etree._Element, name: str, *, required: bool = True) -> int | None:
    el = _only(parent, _DS + name, required=required)
    if el is None:
        return None
    raw = _bytes(el)
    if not raw or len(raw) > _MAX_INT_BYTES:
        raise SignatureSchemaError(f"KeyValue: {name} is empty or longer than 16384 bits")
    return int.from_bytes(raw, "big")


def _read(kv: etree._Element) -> KeyValue:
    parts = [c for c in kv if isinstance(c.tag, str)]
    if (kv.text or "").strip() or len(parts) != 1:
        raise SignatureSchemaError("KeyValue holds exactly one key")
    key = parts[0]
    if key.tag == _DS + "RSAKeyValue":
        return "rsa", (_int(key, "Modulus"), _int(key, "Exponent"))
    if key.tag == _DS + "DSAKeyValue":
        y = _int(key, "Y")
        p, q = _int(key, "P", required=False), _int(key, "Q", required=False)
        if (p is None) != (q is None):
            raise SignatureSchemaError("DSAKeyValue: P and Q go together")
        return "dsa", (y, p, q, _int(key, "G", required=False))
    if key.tag == _DS11 + "ECKeyValue":
        named = _only(key, _DS11 + "NamedCurve", required=False)
        if named is None:
            raise SignatureSchemaError("ECKeyValue: only a NamedCurve is accepted")
        curve = _CURVES.get(named.get("URI") or "")
        if curve is None:
            raise SignatureSchemaError(f"ECKeyValue: unknown curve {named.get('URI')!r}")
        point = _bytes(_only(key, _DS11 + "PublicKey"))
        try:
            numbers = ec.EllipticCurvePublicKey.from_encoded_point(curve, point).public_numbers()
        except ValueError:
            raise SignatureSchemaError("ECKeyValue: PublicKey is not on its curve") from None
        return "ec", (curve.name, numbers.x, numbers.y)
    raise SignatureSchemaError(f"KeyValue: unsupported key {etree.QName(key).localname!r}")


def read_key_values(key_info: etree._Element) -> tuple[KeyValue, ...]:
    """Every ``ds:KeyValue`` in KeyInfo (structure phase: no key is trusted here)."""
    out: list[KeyValue] = []
    for kv in key_info.iter(_DS + "KeyValue"):
        if len(out) == _MAX_KEY_VALUES:
            raise SignatureSchemaError(f"more than {_MAX_KEY_VALUES} KeyValue in KeyInfo")
        out.append(_read(kv))
    return tuple(out)


def _matches(value: KeyValue, key: PublicKey) -> bool:
    kind, fields = value
    if kind == "rsa" and isinstance(key, rsa.RSAPublicKey):
        n = key.public_numbers()
        return fields == (n.n, n.e)
    if kind == "ec" and isinstance(key, ec.EllipticCurvePublicKey):
        e = key.public_numbers()
        return fields == (key.curve.name, e.x, e.y)
    if kind == "dsa" and isinstance(key, dsa.DSAPublicKey):
        d = key.public_numbers()
        pq = d.parameter_numbers
        y, p, q, g = fields
        return (
            y == d.y
            and (p is None or (p, q) == (pq.p, pq.q))
            and (g is None or g == pq.g)
        )
    return False  # another key type (an Ed25519 key has no KeyValue form here)


def check_key_values(values: tuple[KeyValue, ...], key: PublicKey) -> None:
    """Raise :class:`UntrustedKey` when a KeyValue names a key other than ``key``, the
    public key of the trusted certificate that verified the signature."""
    for value in values:
        if not _matches(value, key):
            raise UntrustedKey(
                f"KeyInfo KeyValue ({value[0].upper()}) names a public key other than"
                " the trusted certificate's"
            )
