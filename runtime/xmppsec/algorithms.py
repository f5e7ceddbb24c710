"""Algorithm URIs, and the one table mapping them to ``cryptography``.

XML namespaces are in :mod:`xmppsec.xmpp`; the key types (:data:`PrivateKey`,
:data:`PublicKey`, and the narrower :data:`CMSSigningKey` and :data:`DecryptionKey` of
RFC 3923 objects) and the digest names :data:`DigestName` are defined here, once.

Signature method URIs: XML-DSIG core (2000/09), RFC 6931 (``xmldsig-more``, RSA-PSS with
MGF1), XML-DSIG 1.1 (ECDSA, raw ``r || s`` values), RFC 9231 (Ed25519).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, Protocol, cast

from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from .errors import InvalidSignature, UnsupportedAlgorithm, UntrustedKey

# The raw operations (sign_bytes, verify_bytes, digest, ...) are for the runtime; users
# reach them through the clearly marked low-level module xmppsec.hazmat.
__all__ = [
    "C14NMethod",
    "CMSSigningKey",
    "DecryptionKey",
    "DigestMethod",
    "DigestName",
    "PrivateKey",
    "PublicKey",
    "SignatureMethod",
    "TransformMethod",
    "default_signature_method",
]

PrivateKey = (
    rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | dsa.DSAPrivateKey
)
PublicKey = (
    rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | dsa.DSAPublicKey
)
#: The private keys that sign a CMS SignedData (RFC 3923 §6.3): RSA (PKCS#1 v1.5, PSS),
#: ECDSA (RFC 5753) and Ed25519 (RFC 8419); no DSA.
CMSSigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
#: The private keys that open an (Auth)EnvelopedData: RSA key transport (RFC 3560, RFC 8017)
#: and ECDH key agreement (RFC 5753).
DecryptionKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


class DigestMethod(StrEnum):
    """A digest algorithm by its URI (XML-DSIG 1.1, RFC 6931 ``xmldsig-more``)."""

    SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
    SHA384 = "http://www.w3.org/2001/04/xmldsig-more#sha384"
    SHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"
    SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"  # legacy: explicit opt-in only


#: A digest by its CMS or MIME micalg name (RFC 5751 §3.4.3.2), where a DigestMethod is taken.
DigestName = Literal["sha1", "sha256", "sha384", "sha512", "sha-1", "sha-256", "sha-384", "sha-512"]


class SignatureMethod(StrEnum):
    """A signature algorithm by its URI (XML-DSIG 1.1, RFC 6931, RFC 9231 for Ed25519). SHA-1
    and DSA are legacy: accepted only with ``allow_legacy``."""

    RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    RSA_SHA384 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
    RSA_SHA512 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
    RSA_PSS_SHA256 = "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1"
    RSA_PSS_SHA384 = "http://www.w3.org/2007/05/xmldsig-more#sha384-rsa-MGF1"
    RSA_PSS_SHA512 = "http://www.w3.org/2007/05/xmldsig-more#sha512-rsa-MGF1"
    ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
    ECDSA_SHA384 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384"
    ECDSA_SHA512 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512"
    ED25519 = "http://www.w3.org/2021/04/xmldsig-more#eddsa-ed25519"
    RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"  # legacy
    DSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#dsa-sha1"  # legacy (the XEP's examples)


class C14NMethod(StrEnum):
    C14N10 = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
    C14N11 = "http://www.w3.org/2006/12/xml-c14n11"
    EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
    XMPP_DSIG_0 = "urn:xmpp:dsig:transform:0"  # XEP-0290 §3, see xmppsec.dsig._c14n
    ROBUST = "urn:xmpp:tmp:dsig:robust:c14n:0"  # our robust profile, docs/robust-profile.md


class TransformMethod(StrEnum):
    ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"


LEGACY_DIGESTS = frozenset({DigestMethod.SHA1})
LEGACY_SIGNATURES = frozenset({SignatureMethod.RSA_SHA1, SignatureMethod.DSA_SHA1})

_HASHLIB = {
    DigestMethod.SHA256: "sha256",
    DigestMethod.SHA384: "sha384",
    DigestMethod.SHA512: "sha512",
    DigestMethod.SHA1: "sha1",
}


class HashObject(Protocol):
    """What :func:`digest_constructor` returns a constructor of (a hashlib hash object)."""

    @property
    def digest_size(self) -> int: ...
    def update(self, data: bytes, /) -> None: ...
    def digest(self) -> bytes: ...


_CONSTRUCTORS: dict[DigestMethod, Callable[[bytes], HashObject]] = {
    m: getattr(hashlib, name) for m, name in _HASHLIB.items()
}
DIGEST_SIZES: dict[DigestMethod, int] = {m: c(b"").digest_size for m, c in _CONSTRUCTORS.items()}


def digest_constructor(method: DigestMethod) -> Callable[[bytes], HashObject]:
    """The hashlib constructor of a digest method (for hashing many values in a row)."""
    return _CONSTRUCTORS[method]


def digest(method: DigestMethod, data: bytes) -> bytes:
    """The digest of ``data`` with ``method``."""
    return _CONSTRUCTORS[method](data).digest()


KeyFamily = Literal["rsa", "rsa-pss", "ecdsa", "ed25519", "dsa"]


@dataclass(frozen=True, slots=True)
class SignatureSpec:
    family: KeyFamily
    hash: type[hashes.HashAlgorithm] | None


_SIGNATURES: dict[SignatureMethod, SignatureSpec] = {
    SignatureMethod.RSA_SHA256: SignatureSpec("rsa", hashes.SHA256),
    SignatureMethod.RSA_SHA384: SignatureSpec("rsa", hashes.SHA384),
    SignatureMethod.RSA_SHA512: SignatureSpec("rsa", hashes.SHA512),
    SignatureMethod.RSA_PSS_SHA256: SignatureSpec("rsa-pss", hashes.SHA256),
    SignatureMethod.RSA_PSS_SHA384: SignatureSpec("rsa-pss", hashes.SHA384),
    SignatureMethod.RSA_PSS_SHA512: SignatureSpec("rsa-pss", hashes.SHA512),
    SignatureMethod.ECDSA_SHA256: SignatureSpec("ecdsa", hashes.SHA256),
    SignatureMethod.ECDSA_SHA384: SignatureSpec("ecdsa", hashes.SHA384),
    SignatureMethod.ECDSA_SHA512: SignatureSpec("ecdsa", hashes.SHA512),
    SignatureMethod.ED25519: SignatureSpec("ed25519", None),
    SignatureMethod.RSA_SHA1: SignatureSpec("rsa", hashes.SHA1),
    SignatureMethod.DSA_SHA1: SignatureSpec("dsa", hashes.SHA1),
}


def signature_spec(method: SignatureMethod) -> SignatureSpec:
    """The key family ``method`` needs and its hash (None for Ed25519, which hashes itself)."""
    return _SIGNATURES[method]


def default_signature_method(key: PrivateKey | PublicKey) -> SignatureMethod:
    """ECDSA P-256/SHA-256 is the default; the hash follows the curve for P-384/P-521."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        size = key.curve.key_size
        if size >= 521:
            return SignatureMethod.ECDSA_SHA512
        if size >= 384:
            return SignatureMethod.ECDSA_SHA384
        return SignatureMethod.ECDSA_SHA256
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return SignatureMethod.ED25519
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        return SignatureMethod.RSA_SHA256
    if isinstance(key, dsa.DSAPrivateKey | dsa.DSAPublicKey):
        return SignatureMethod.DSA_SHA1
    raise UnsupportedAlgorithm(f"unsupported key type {type(key).__name__}")


def _family_matches(family: KeyFamily, key: PrivateKey | PublicKey) -> bool:
    kind = _key_family(key)
    if family == "rsa-pss":
        return kind == "rsa"
    return kind == family


# Key family by concrete key type: the isinstance checks against cryptography's abstract key
# classes run once per type, not once per signature.
_FAMILY_BY_TYPE: dict[type, str] = {}


def _key_family(key: object) -> str:
    kind = _FAMILY_BY_TYPE.get(type(key))
    if kind is None:
        if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
            kind = "rsa"
        elif isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
            kind = "ecdsa"
        elif isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
            kind = "ed25519"
        elif isinstance(key, dsa.DSAPrivateKey | dsa.DSAPublicKey):
            kind = "dsa"
        else:
            kind = ""
        _FAMILY_BY_TYPE[type(key)] = kind
    return kind


def _pss(h: hashes.HashAlgorithm) -> padding.PSS:
    # RFC 6931 §2.3.10 defaults: MGF1 with the same hash, salt length = hash length.
    return padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size)


@dataclass(frozen=True, slots=True)
class _Prepared:
    """The immutable cryptography objects of one signature method, built once."""

    family: KeyFamily
    hash: hashes.HashAlgorithm | None
    padding: padding.AsymmetricPadding | None
    ecdsa: ec.ECDSA | None


def _prepare(spec: SignatureSpec) -> _Prepared:
    h = spec.hash() if spec.hash is not None else None
    pad: padding.AsymmetricPadding | None = None
    if h is not None and spec.family == "rsa-pss":
        pad = _pss(h)
    elif spec.family == "rsa":
        pad = padding.PKCS1v15()
    return _Prepared(spec.family, h, pad, ec.ECDSA(h) if spec.family == "ecdsa" and h else None)


_PREPARED: dict[SignatureMethod, _Prepared] = {m: _prepare(s) for m, s in _SIGNATURES.items()}


def _raw_len(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> int:
    return (key.curve.key_size + 7) // 8


def sign_bytes(key: PrivateKey, method: SignatureMethod, data: bytes) -> bytes:
    """Sign ``data``; ECDSA/DSA values are raw ``r || s`` (XML-DSIG 1.1 §6.4.3)."""
    prep = _PREPARED[method]
    if not _family_matches(prep.family, key):
        raise UnsupportedAlgorithm(f"{method} does not fit a {type(key).__name__}")
    kind = _key_family(key)
    if kind == "rsa":
        assert prep.hash is not None and prep.padding is not None
        return cast(rsa.RSAPrivateKey, key).sign(data, prep.padding, prep.hash)
    if kind == "ecdsa":
        assert prep.ecdsa is not None
        eckey = cast(ec.EllipticCurvePrivateKey, key)
        r, s = decode_dss_signature(eckey.sign(data, prep.ecdsa))
        n = _raw_len(eckey)
        return r.to_bytes(n, "big") + s.to_bytes(n, "big")
    if kind == "ed25519":
        return cast(ed25519.Ed25519PrivateKey, key).sign(data)
    assert prep.hash is not None
    dkey = cast(dsa.DSAPrivateKey, key)
    r, s = decode_dss_signature(dkey.sign(data, prep.hash))
    n = (dkey.parameters().parameter_numbers().q.bit_length() + 7) // 8
    return r.to_bytes(n, "big") + s.to_bytes(n, "big")


def verify_bytes(key: PublicKey, method: SignatureMethod, signature: bytes, data: bytes) -> None:
    """Verify or raise :class:`InvalidSignature`; a key of the wrong family is
    :class:`UntrustedKey` (the signature cannot be from that key)."""
    prep = _PREPARED[method]
    if not _family_matches(prep.family, key):
        raise UntrustedKey(f"the trusted key is not usable with {method}")
    kind = _key_family(key)
    try:
        if kind == "rsa":
            assert prep.hash is not None and prep.padding is not None
            cast(rsa.RSAPublicKey, key).verify(signature, data, prep.padding, prep.hash)
        elif kind == "ecdsa":
            assert prep.ecdsa is not None
            eckey = cast(ec.EllipticCurvePublicKey, key)
            n = _raw_len(eckey)
            # XML-DSIG 1.1: exactly 2n raw bytes; r and s in [1, order) is checked by OpenSSL.
            if len(signature) != 2 * n:
                raise InvalidSignature("ECDSA SignatureValue is not raw r||s of the curve size")
            r = int.from_bytes(signature[:n], "big")
            s = int.from_bytes(signature[n:], "big")
            if r == 0 or s == 0:
                raise InvalidSignature("ECDSA r or s is zero")
            eckey.verify(encode_dss_signature(r, s), data, prep.ecdsa)
        elif kind == "ed25519":
            cast(ed25519.Ed25519PublicKey, key).verify(signature, data)
        else:
            assert prep.hash is not None
            dkey = cast(dsa.DSAPublicKey, key)
            n = (dkey.parameters().parameter_numbers().q.bit_length() + 7) // 8
            if len(signature) != 2 * n:
                raise InvalidSignature("DSA SignatureValue has the wrong length")
            r = int.from_bytes(signature[:n], "big")
            s = int.from_bytes(signature[n:], "big")
            dkey.verify(encode_dss_signature(r, s), data, prep.hash)
    except _CryptoInvalidSignature:
        raise InvalidSignature("SignatureValue does not verify over SignedInfo") from None
    except (ValueError, TypeError) as exc:
        raise InvalidSignature(f"SignatureValue is malformed: {exc}") from None
