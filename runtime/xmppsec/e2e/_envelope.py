"""CMS EnvelopedData (RFC 5652 §6) and AuthEnvelopedData (RFC 5083), written and read
here with asn1crypto (structure) and cryptography (every primitive).

Content encryption (:class:`ContentCipher`): AES-128/256-GCM in AuthEnvelopedData
(RFC 5084: 12-byte nonce, 16-byte ICV) — the default — or AES-128/256-CBC in
EnvelopedData (RFC 3923 §6.10's mandatory-to-implement), written on request, always read.

Recipients, one RecipientInfo per certificate:

- RSA (>= 2048 bits): KeyTransRecipientInfo with RSAES-OAEP (RFC 8017, RFC 3560; SHA-256
  and MGF1-SHA-256 written, SHA-1..SHA-512 read) or RSAES-PKCS1-v1_5 (RFC 3923 §6.10);
- EC P-256/P-384/P-521: KeyAgreeRecipientInfo (RFC 5753 §3.1): ephemeral-static ECDH, the
  ANSI X9.63 KDF over ECC-CMS-SharedInfo, AES key wrap (RFC 3394). Written:
  dhSinglePass-stdDH-sha256kdf (P-256), -sha384kdf (P-384), -sha512kdf (P-521); read also
  the sha1kdf scheme OpenSSL writes by default and the cofactor variants (the cofactor of
  these curves is 1).

Decryption is split once. :func:`inspect` checks the structure and the algorithm
allow-list: public facts, no key involved (SMIMEFormatError / UnsupportedAlgorithm). From
the key unwrap on nothing returns early and nothing is distinguishable: a recipient that
is not ours, a failed unwrap (RFC 3218 §2.3: a random CEK is used instead, so that RSA
PKCS#1 v1.5 is no Bleichenbacher oracle — cryptography's OpenSSL also rejects implicitly),
a wrong tag — all end as ``DecryptionError()``. For CBC the padding is checked in constant
time and a bad padding is *not* reported here: the caller gets the unpadded bytes with
``padding_ok=False``, runs the same checks as for any other plaintext and fails with the
same ``DecryptionError`` (the Lucky Thirteen countermeasure: the same work either way).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from cryptography import exceptions as cx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, keywrap, serialization
from cryptography.hazmat.primitives import padding as sympadding
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF

from xmppsec.algorithms import DecryptionKey, PrivateKey
from xmppsec.errors import (
    DecryptionError,
    KeyLoadError,
    SMIMEFormatError,
    UnsupportedAlgorithm,
    UsageError,
)

from ._asn1 import cms, core, keys
from ._asn1 import x509 as ax509
from ._cms import DIGESTS
from ._der import check_ber


class ContentCipher(StrEnum):
    """The content-encryption algorithm :func:`encrypt` writes."""

    AES128_GCM = "aes128-gcm"  # AuthEnvelopedData, RFC 5083 / RFC 5084
    AES256_GCM = "aes256-gcm"  # AuthEnvelopedData, the default
    AES128_CBC = "aes128"  # EnvelopedData, RFC 3923 §6.10 MTI (name kept from 0.x)
    AES256_CBC = "aes256"  # EnvelopedData


class KeyTransport(StrEnum):
    """How the content key reaches an RSA recipient (EC recipients always use ECDH)."""

    RSA_OAEP = "rsa-oaep"  # RSAES-OAEP, SHA-256 + MGF1-SHA-256 (RFC 8017, RFC 3560)
    RSA_PKCS1V15 = "rsa-pkcs1v15"  # RFC 3923 §6.10 MTI


#: A ContentCipher by its value, where a ContentCipher is taken.
CipherName = Literal["aes128-gcm", "aes256-gcm", "aes128", "aes256"]

DEFAULT_CIPHER = ContentCipher.AES256_GCM

_CIPHER_OID = {
    ContentCipher.AES128_GCM: "aes128_gcm",
    ContentCipher.AES256_GCM: "aes256_gcm",
    ContentCipher.AES128_CBC: "aes128_cbc",
    ContentCipher.AES256_CBC: "aes256_cbc",
}
_KEY_BYTES = {"aes128_gcm": 16, "aes256_gcm": 32, "aes128_cbc": 16, "aes256_cbc": 32}
_GCM = frozenset({"aes128_gcm", "aes256_gcm"})
_CBC = frozenset({"aes128_cbc", "aes256_cbc"})
GCM_NONCE_BYTES = 12  # RFC 5084 §3.2: "12 octets is RECOMMENDED"; the only size accepted
GCM_ICV_BYTES = 16  # RFC 5084 §3.2 allows 12..16; we write and accept 16 only

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {name: h for name, h in DIGESTS.values()}
#: RFC 5753 §7.1.4 / SEC 1 key agreement schemes -> the KDF's hash. The cofactor variants
#: equal the standard ones on P-256/384/521 (cofactor 1).
ECDH_SCHEMES: dict[str, str] = {
    "1.3.133.16.840.63.0.2": "sha1",  # dhSinglePass-stdDH-sha1kdf-scheme
    "1.3.132.1.11.1": "sha256",
    "1.3.132.1.11.2": "sha384",
    "1.3.132.1.11.3": "sha512",
    "1.3.133.16.840.63.0.3": "sha1",  # dhSinglePass-cofactorDH-sha1kdf-scheme
    "1.3.132.1.14.1": "sha256",
    "1.3.132.1.14.2": "sha384",
    "1.3.132.1.14.3": "sha512",
}
_WRITE_SCHEME = {"secp256r1": "1.3.132.1.11.1", "secp384r1": "1.3.132.1.11.2",
                 "secp521r1": "1.3.132.1.11.3"}
_CURVES: dict[str, ec.EllipticCurve] = {
    "secp256r1": ec.SECP256R1(),
    "secp384r1": ec.SECP384R1(),
    "secp521r1": ec.SECP521R1(),
}
_WRAP_BYTES = {"aes128_wrap": 16, "aes192_wrap": 24, "aes256_wrap": 32}
_WRAP_OID = {"aes128_wrap": "2.16.840.1.101.3.4.1.5", "aes192_wrap": "2.16.840.1.101.3.4.1.25",
             "aes256_wrap": "2.16.840.1.101.3.4.1.45"}
_PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError,
                 x509.InvalidVersion)


# -- DER helpers (ECC-CMS-SharedInfo is small; asn1crypto has no class for it) ------------


def _tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def _shared_info(wrap_oid: str, ukm: bytes | None, kek_bytes: int) -> bytes:
    """RFC 5753 §7.2 ECC-CMS-SharedInfo: keyInfo (the wrap algorithm, no parameters),
    entityUInfo [0] (the ukm, when present), suppPubInfo [2] (the KEK length in bits)."""
    key_info = cms.KeyEncryptionAlgorithm({"algorithm": wrap_oid}).dump()
    parts = key_info
    if ukm is not None:
        parts += _tlv(0xA0, _tlv(0x04, ukm))
    parts += _tlv(0xA2, _tlv(0x04, (kek_bytes * 8).to_bytes(4, "big")))
    return _tlv(0x30, parts)


def _kdf(hash_name: str, shared: bytes, wrap: str, ukm: bytes | None) -> bytes:
    n = _WRAP_BYTES[wrap]
    return X963KDF(
        algorithm=_HASHES[hash_name](), length=n, sharedinfo=_shared_info(_WRAP_OID[wrap], ukm, n)
    ).derive(shared)


@functools.lru_cache(maxsize=64)
def _cert_ids(certificate: x509.Certificate) -> tuple[Any, int, bytes | None]:
    """Issuer, serial and subject key identifier (parsed once per certificate)."""
    acert = ax509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
    ski = acert.key_identifier
    return acert.issuer, acert.serial_number, ski if isinstance(ski, bytes) else None


def _issuer_and_serial(certificate: x509.Certificate) -> Any:
    issuer, serial, _ski = _cert_ids(certificate)
    return cms.IssuerAndSerialNumber({"issuer": issuer, "serial_number": serial})


# -- encryption ---------------------------------------------------------------------------


def _ktri(cert: x509.Certificate, key: rsa.RSAPublicKey, cek: bytes,
          transport: KeyTransport) -> Any:
    if transport is KeyTransport.RSA_OAEP:
        enc = key.encrypt(cek, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()),
                                            algorithm=hashes.SHA256(), label=None))
        alg = {
            "algorithm": "rsaes_oaep",
            "parameters": {
                "hash_algorithm": {"algorithm": "sha256"},
                "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": "sha256"}},
            },
        }
    else:
        enc = key.encrypt(cek, padding.PKCS1v15())
        alg = {"algorithm": "rsaes_pkcs1v15"}
    return cms.RecipientInfo({"ktri": {
        "version": "v0",
        "rid": {"issuer_and_serial_number": _issuer_and_serial(cert)},
        "key_encryption_algorithm": alg,
        "encrypted_key": enc,
    }})


def _kari(cert: x509.Certificate, key: ec.EllipticCurvePublicKey, cek: bytes) -> Any:
    curve = key.curve.name
    scheme = _WRITE_SCHEME[curve]
    wrap = "aes256_wrap" if len(cek) == 32 else "aes128_wrap"
    eph = ec.generate_private_key(key.curve)
    kek = _kdf(ECDH_SCHEMES[scheme], eph.exchange(ec.ECDH(), key), wrap, None)
    point = eph.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    # RFC 5753 §3.1.1: originatorKey, id-ecPublicKey; parameters absent (the curve is the
    # recipient's), as OpenSSL writes it
    originator = keys.PublicKeyInfo.load(
        _tlv(0x30, _tlv(0x30, _tlv(0x06, bytes.fromhex("2a8648ce3d0201"))) + _tlv(0x03, b"\x00"
             + point))
    )
    wrap_alg = core.Any.load(cms.KeyEncryptionAlgorithm({"algorithm": wrap}).dump())
    return cms.RecipientInfo({"kari": {
        "version": "v3",
        "originator": {"originator_key": originator},
        "key_encryption_algorithm": {"algorithm": scheme, "parameters": wrap_alg},
        "recipient_encrypted_keys": [{
            "rid": {"issuer_and_serial_number": _issuer_and_serial(cert)},
            "encrypted_key": keywrap.aes_key_wrap(kek, cek),
        }],
    }})


def recipient_infos(recipients: Sequence[x509.Certificate], cek: bytes,
                    transport: KeyTransport) -> list[Any]:
    """One RecipientInfo per certificate: RSA -> KeyTransRecipientInfo, EC ->
    KeyAgreeRecipientInfo. KeyLoadError for a certificate that cannot receive."""
    if not recipients:
        raise UsageError("at least one recipient certificate is needed")
    out: list[Any] = []
    for cert in recipients:
        try:
            key = cert.public_key()
        except (ValueError, TypeError) as exc:
            raise KeyLoadError(f"unusable recipient certificate: {exc}") from None
        if isinstance(key, rsa.RSAPublicKey):
            if key.key_size < 2048:
                raise UnsupportedAlgorithm(f"RSA-{key.key_size} recipient key is too weak")
            out.append(_ktri(cert, key, cek, transport))
        elif isinstance(key, ec.EllipticCurvePublicKey):
            if key.curve.name not in _CURVES:
                raise UnsupportedAlgorithm(f"recipient curve {key.curve.name} is not supported")
            out.append(_kari(cert, key, cek))
        else:
            raise KeyLoadError(
                "a recipient certificate needs an RSA (key transport) or EC P-256/384/521 "
                "(key agreement) key"
            )
    return out


def encrypt(
    content: bytes,
    recipients: Sequence[x509.Certificate],
    *,
    cipher: ContentCipher | str = DEFAULT_CIPHER,
    key_transport: KeyTransport | None = None,
) -> bytes:
    """DER ContentInfo of ``content`` for every recipient certificate: AuthEnvelopedData
    for the GCM ciphers, EnvelopedData for CBC. ``key_transport`` (RSA recipients) defaults
    to OAEP, and to PKCS#1 v1.5 with a CBC cipher (the RFC 3923 profile old peers read)."""
    try:
        c = ContentCipher(cipher)
    except ValueError:
        raise UsageError(f"unsupported content cipher {cipher!r}") from None
    oid = _CIPHER_OID[c]
    if key_transport is None:
        key_transport = KeyTransport.RSA_PKCS1V15 if oid in _CBC else KeyTransport.RSA_OAEP
    cek = os.urandom(_KEY_BYTES[oid])
    ris = recipient_infos(recipients, cek, key_transport)
    if oid in _GCM:
        nonce = os.urandom(GCM_NONCE_BYTES)
        sealed = AESGCM(cek).encrypt(nonce, content, None)
        params = core.Any.load(_tlv(0x30, _tlv(0x04, nonce) + _tlv(0x02, bytes([GCM_ICV_BYTES]))))
        aed = cms.AuthEnvelopedData({
            "version": "v0",  # RFC 5083 §2.1
            "recipient_infos": ris,
            "auth_encrypted_content_info": {
                "content_type": "data",
                "content_encryption_algorithm": {"algorithm": oid, "parameters": params},
                "encrypted_content": sealed[:-GCM_ICV_BYTES],
            },
            "mac": sealed[-GCM_ICV_BYTES:],
        })
        out: bytes = cms.ContentInfo(
            {"content_type": "authenticated_enveloped_data", "content": aed}
        ).dump()
        return out
    iv = os.urandom(16)
    padder = sympadding.PKCS7(128).padder()
    padded = padder.update(content) + padder.finalize()
    enc = Cipher(algorithms.AES(cek), modes.CBC(iv)).encryptor()
    ciphertext = enc.update(padded) + enc.finalize()
    # RFC 5652 §6.1: version 0 when every RecipientInfo is version 0, else 2
    version = "v0" if all(ri.name == "ktri" for ri in ris) else "v2"
    ed = cms.EnvelopedData({
        "version": version,
        "recipient_infos": ris,
        "encrypted_content_info": {
            "content_type": "data",
            "content_encryption_algorithm": {"algorithm": oid, "parameters": iv},
            "encrypted_content": ciphertext,
        },
    })
    out = cms.ContentInfo({"content_type": "enveloped_data", "content": ed}).dump()
    return out


# -- structure (public, before any key is used) -------------------------------------------


@dataclass(frozen=True)
class _Recipient:
    kind: str  # "ktri" | "kari"
    issuer: Any  # asn1crypto Name, or None when identified by a key identifier
    serial: int
    ski: bytes | None
    encrypted_key: bytes
    algorithm: str  # rsaes_pkcs1v15 | rsaes_oaep | an ECDH scheme OID
    oaep: tuple[str, str] | None = None  # (hash, mgf1 hash)
    wrap: str = ""
    originator: bytes = b""  # the ephemeral public point (kari)
    originator_curve: str | None = None  # None: absent/NULL parameters (the recipient's)
    ukm: bytes | None = None


@dataclass(frozen=True)
class Envelope:
    """A structurally checked (Auth)EnvelopedData, not yet decrypted."""

    authenticated: bool
    content_alg: str
    iv: bytes  # CBC IV or GCM nonce
    ciphertext: bytes
    mac: bytes
    aad: bytes | None
    recipients: tuple[_Recipient, ...]


def _oaep_params(params: Any) -> tuple[str, str]:
    if isinstance(params, core.Void) or params.native is None:
        return "sha1", "sha1"  # RFC 8017 A.2.1 defaults (OpenSSL's default)
    h = params["hash_algorithm"]["algorithm"].native
    mgf = params["mask_gen_algorithm"]
    if mgf["algorithm"].native != "mgf1":
        raise UnsupportedAlgorithm("RSAES-OAEP with a mask generation other than MGF1")
    mh = mgf["parameters"]["algorithm"].native
    ps = params["p_source_algorithm"]
    if ps["algorithm"].native != "p_specified" or ps["parameters"].native not in (b"", None):
        raise UnsupportedAlgorithm("RSAES-OAEP with a label")
    if h not in _HASHES or mh not in _HASHES:
        raise UnsupportedAlgorithm(f"RSAES-OAEP with {h}/{mh}")
    return str(h), str(mh)


def _rid(rid: Any) -> tuple[Any, int, bytes | None]:
    if rid.name == "issuer_and_serial_number":
        issuer = rid.chosen["issuer"]
        issuer.native  # noqa: B018 - force the lazy parse inside the caller's try
        return issuer, int(rid.chosen["serial_number"].native), None
    if rid.name == "subject_key_identifier":
        return None, 0, bytes(rid.chosen.native)
    if rid.name == "r_key_id":
        return None, 0, bytes(rid.chosen["subject_key_identifier"].native)
    raise SMIMEFormatError("unknown recipient identifier")


def _ktri_info(ktri: Any) -> _Recipient:
    alg = ktri["key_encryption_algorithm"]["algorithm"].native
    oaep = None
    if alg == "rsaes_oaep":
        oaep = _oaep_params(ktri["key_encryption_algorithm"]["parameters"])
    elif alg != "rsaes_pkcs1v15":
        raise UnsupportedAlgorithm(f"key transport {alg} is not supported")
    issuer, serial, ski = _rid(ktri["rid"])
    return _Recipient("ktri", issuer, serial, ski, bytes(ktri["encrypted_key"].native), alg, oaep)


def _kari_infos(kari: Any) -> list[_Recipient]:
    kea = kari["key_encryption_algorithm"]
    scheme = kea["algorithm"].dotted
    if scheme not in ECDH_SCHEMES:
        raise UnsupportedAlgorithm(f"key agreement {scheme} is not supported")
    params = kea["parameters"]
    if isinstance(params, core.Void):
        raise SMIMEFormatError("key agreement without its key wrap algorithm")
    wrap = cms.KeyEncryptionAlgorithm.load(params.dump())["algorithm"].native
    if wrap not in _WRAP_BYTES:
        raise UnsupportedAlgorithm(f"key wrap {wrap} is not supported")
    orig = kari["originator"]
    if orig.name != "originator_key":
        raise UnsupportedAlgorithm("static-static ECDH (originator certificate) is not supported")
    pki = orig.chosen
    if pki["algorithm"]["algorithm"].native != "ec":
        raise UnsupportedAlgorithm("the originator key is not an EC key")
    cparams = pki["algorithm"]["parameters"]
    curve: str | None = None
    if not isinstance(cparams, core.Void) and cparams.name == "named":
        curve = str(cparams.chosen.native)
    elif not isinstance(cparams, core.Void) and cparams.name != "implicit_ca":
        raise UnsupportedAlgorithm("explicit curve parameters are not supported")
    bits = pki["public_key"].contents
    if not bits or bits[0] != 0:
        raise SMIMEFormatError("malformed originator public key")
    ukm_field = kari["ukm"]
    ukm = None if isinstance(ukm_field, core.Void) else bytes(ukm_field.native)
    out: list[_Recipient] = []
    for rek in kari["recipient_encrypted_keys"]:
        issuer, serial, ski = _rid(rek["rid"])
        out.append(_Recipient("kari", issuer, serial, ski, bytes(rek["encrypted_key"].native),
                              scheme, None, str(wrap), bytes(bits[1:]), curve, ukm))
    return out


def inspect(der: bytes) -> Envelope:
    """Check an (Auth)EnvelopedData's structure and algorithms before any key is used."""
    check_ber(der)
    try:
        ci = cms.ContentInfo.load(der, strict=True)
        ctype = ci["content_type"].native
        if ctype == "authenticated_enveloped_data":
            authenticated = True
            body = ci["content"]
            eci = body["auth_encrypted_content_info"]
        elif ctype == "enveloped_data":
            authenticated = False
            body = ci["content"]
            eci = body["encrypted_content_info"]
        else:
            raise SMIMEFormatError(f"CMS object is not (Auth)EnvelopedData ({ctype})")
        if eci["content_type"].native != "data":
            raise SMIMEFormatError("encrypted content type is not id-data")
        calg = eci["content_encryption_algorithm"]["algorithm"].native
        cparams = eci["content_encryption_algorithm"]["parameters"]
        if authenticated:
            if calg not in _GCM:
                raise UnsupportedAlgorithm(f"authenticated content encryption {calg}")
            gp = core.load(cparams.dump()).native
            nonce, icv = gp.get("0"), gp.get("1", 12)
            if not isinstance(nonce, bytes) or len(nonce) != GCM_NONCE_BYTES:
                raise UnsupportedAlgorithm("AES-GCM nonce must be 12 bytes")
            if icv != GCM_ICV_BYTES or len(gp) > 2:
                raise UnsupportedAlgorithm("AES-GCM ICV length must be 16")
            iv = nonce
            mac = bytes(body["mac"].native)
            if len(mac) != GCM_ICV_BYTES:
                raise SMIMEFormatError("AES-GCM mac is not 16 bytes")
            attrs = body["auth_attrs"]
            aad = None
            if not isinstance(attrs, core.Void):
                raw = attrs.dump()
                aad = b"\x31" + raw[1:]  # RFC 5083 §2.1: DER with the SET OF tag
        else:
            if calg not in _CBC:
                raise UnsupportedAlgorithm(f"content encryption {calg} is not allowed")
            iv = cparams.native
            if not isinstance(iv, bytes) or len(iv) != 16:
                raise SMIMEFormatError("AES-CBC IV must be 16 bytes")
            mac, aad = b"", None
        ciphertext = eci["encrypted_content"].native
        if not isinstance(ciphertext, bytes):
            raise SMIMEFormatError("(Auth)EnvelopedData without encrypted content")
        if not authenticated and (not ciphertext or len(ciphertext) % 16):
            raise SMIMEFormatError("AES-CBC ciphertext is not a whole number of blocks")
        recipients: list[_Recipient] = []
        for ri in body["recipient_infos"]:
            if ri.name == "ktri":
                recipients.append(_ktri_info(ri.chosen))
            elif ri.name == "kari":
                recipients.extend(_kari_infos(ri.chosen))
            else:
                raise UnsupportedAlgorithm(f"unsupported recipient type {ri.name}")
        if not recipients:
            raise SMIMEFormatError("(Auth)EnvelopedData without recipients")
        return Envelope(authenticated, str(calg), bytes(iv), ciphertext, mac, aad,
                        tuple(recipients))
    except _PARSE_ERRORS as exc:
        raise SMIMEFormatError(f"malformed EnvelopedData: {type(exc).__name__}") from None


# -- decryption (opaque from here on) ------------------------------------------------------


@dataclass(frozen=True)
class Decrypted:
    """The plaintext of an (Auth)EnvelopedData. ``padding_ok`` is False for a CBC object
    whose padding was invalid: the bytes are then the unpadded ciphertext's plaintext,
    and the caller must fail with ``DecryptionError`` after doing its usual work."""

    plaintext: bytes
    authenticated: bool
    padding_ok: bool = True


def _matches(r: _Recipient, issuer: Any, serial: int, ski: bytes | None) -> bool:
    if r.issuer is not None:
        return bool(r.serial == serial and (r.issuer.dump() == issuer.dump() or r.issuer == issuer))
    return ski is not None and r.ski == ski


def _unwrap(r: _Recipient, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
            n: int) -> bytes | None:
    """The CEK, or None (caller substitutes a random one: RFC 3218 §2.3.2)."""
    try:
        if r.kind == "ktri":
            if not isinstance(key, rsa.RSAPrivateKey):
                return None
            if r.oaep is not None:
                h, mh = r.oaep
                pad: padding.AsymmetricPadding = padding.OAEP(
                    mgf=padding.MGF1(_HASHES[mh]()), algorithm=_HASHES[h](), label=None)
            else:
                pad = padding.PKCS1v15()  # implicit rejection: a synthetic key on bad padding
            cek = key.decrypt(r.encrypted_key, pad)
        else:
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                return None
            if r.originator_curve is not None and r.originator_curve != key.curve.name:
                return None
            peer = ec.EllipticCurvePublicKey.from_encoded_point(key.curve, r.originator)
            kek = _kdf(ECDH_SCHEMES[r.algorithm], key.exchange(ec.ECDH(), peer), r.wrap, r.ukm)
            cek = keywrap.aes_key_unwrap(kek, r.encrypted_key)
    except (ValueError, TypeError, cx.InvalidKey, keywrap.InvalidUnwrap):
        return None
    return cek if len(cek) == n else None


def _dummy_work(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> None:
    """What unwrapping a recipient of ours would cost, when none is ours."""
    try:
        if isinstance(key, rsa.RSAPrivateKey):
            k = (key.key_size + 7) // 8
            key.decrypt(b"\x00\x02" + b"\x5a" * (k - 2), padding.PKCS1v15())
        else:
            key.exchange(ec.ECDH(), key.public_key())
    except Exception:  # noqa: BLE001, S110 - result deliberately discarded
        pass


def open_envelope(
    der: bytes, certificate: x509.Certificate, private_key: PrivateKey
) -> Decrypted:
    """Decrypt an (Auth)EnvelopedData for (certificate, private_key).

    Raises SMIMEFormatError / UnsupportedAlgorithm for structural faults (no key used yet),
    KeyLoadError for an unusable own key, and otherwise only ``DecryptionError()``; a CBC
    padding failure is reported as ``padding_ok=False`` (see the module docstring).
    """
    if not isinstance(private_key, DecryptionKey):
        raise KeyLoadError("decryption needs the recipient's RSA or EC private key")
    env = inspect(der)
    n = _KEY_BYTES[env.content_alg]
    try:
        issuer, serial, ski = _cert_ids(certificate)
    except _PARSE_ERRORS:
        raise KeyLoadError("the decrypting certificate cannot be read") from None
    mine = [r for r in env.recipients if _matches(r, issuer, serial, ski)]
    substitute = os.urandom(n)
    cek: bytes | None = None
    if mine:
        cek = _unwrap(mine[0], private_key, n)
    else:
        _dummy_work(private_key)
    key = cek if cek is not None else substitute
    if env.authenticated:
        try:
            plain = AESGCM(key).decrypt(env.iv, env.ciphertext + env.mac, env.aad)
        except cx.InvalidTag:
            raise DecryptionError() from None
        if cek is None:  # a random key cannot verify a tag (2^-128); never return its output
            raise DecryptionError()
        return Decrypted(plain, authenticated=True)
    dec = Cipher(algorithms.AES(key), modes.CBC(env.iv)).decryptor()
    raw = dec.update(env.ciphertext) + dec.finalize()
    unpadder = sympadding.PKCS7(128).unpadder()  # constant-time check (cryptography's Rust)
    try:
        plain = unpadder.update(raw) + unpadder.finalize()
        ok = True
    except ValueError:
        plain = raw
        ok = False
    return Decrypted(plain, authenticated=False, padding_ok=ok and cek is not None)


def decrypt(der: bytes, certificate: x509.Certificate, private_key: PrivateKey) -> bytes:
    """:func:`open_envelope` for callers that only want the bytes (a gateway, a test): a
    bad CBC padding is ``DecryptionError()`` here. :func:`~xmppsec.e2e.open_stanza` does
    not use this: it runs its checks on the plaintext first (see the module docstring)."""
    out = open_envelope(der, certificate, private_key)
    if not out.padding_ok:
        raise DecryptionError()
    return out.plaintext
