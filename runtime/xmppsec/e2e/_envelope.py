"""CMS EnvelopedData (RFC 5652 §6) via cryptography >= 50, with an opaque failure.

Encryption: AES-128-CBC (RFC 3923 §6.10 MTI, default) or AES-256-CBC, RSA PKCS#1 v1.5 key
transport (the only recipient type cryptography writes and reads). cryptography >= 50.0.0
is required: it fixed a Bleichenbacher oracle in ``pkcs7_decrypt_*``.

Decryption: the structure is checked first (well-formed BER within limits, algorithms on
the allow-list — public facts, no key involved: SMIMEFormatError / UnsupportedAlgorithm).
From the first key operation on, every failure — no matching recipient, wrong key, bad
padding, malformed ciphertext — is the same ``DecryptionError()``; when no recipient
matches, an RSA decryption is still performed so that this case does not return early.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.serialization import pkcs7

from xmppsec.errors import DecryptionError, KeyLoadError, SMIMEFormatError, UnsupportedAlgorithm

from ._asn1 import cms
from ._asn1 import x509 as ax509
from ._der import check_ber

CIPHERS: dict[str, type[algorithms.AES128] | type[algorithms.AES256]] = {
    "aes128": algorithms.AES128,
    "aes256": algorithms.AES256,
}
_ALLOWED_CONTENT = frozenset({"aes128_cbc", "aes256_cbc"})
_WEAK_CONTENT = frozenset({"des", "tripledes_3key", "rc2", "rc4", "aes192_cbc"})
_PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError)


def encrypt(
    content: bytes, recipients: Sequence[x509.Certificate], *, cipher: str = "aes128"
) -> bytes:
    """DER ContentInfo(EnvelopedData) of ``content`` for every recipient certificate."""
    if cipher not in CIPHERS:
        raise UnsupportedAlgorithm(f"unsupported content cipher {cipher!r}")
    if not recipients:
        raise KeyLoadError("at least one recipient certificate is needed")
    builder = pkcs7.PKCS7EnvelopeBuilder().set_data(content)
    for cert in recipients:
        key = cert.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise KeyLoadError(
                "EnvelopedData recipients need an RSA certificate (key transport, RFC 3923 "
                "§6.10); cryptography has no key agreement recipients"
            )
        if key.key_size < 2048:
            raise UnsupportedAlgorithm(f"RSA-{key.key_size} recipient key is too weak")
        builder = builder.add_recipient(cert)
    builder = builder.set_content_encryption_algorithm(CIPHERS[cipher])
    return builder.encrypt(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])


def inspect(der: bytes) -> tuple[bytes, list[tuple[Any, int, bytes]]]:
    """Check an EnvelopedData's structure and algorithms before any key is used.

    Returns the DER re-encoding (OpenSSL streams BER with indefinite lengths; cryptography
    reads DER) and the recipients as (issuer Name, serial, encryptedKey).
    """
    check_ber(der)
    try:
        ci = cms.ContentInfo.load(der, strict=True)
        ctype = ci["content_type"].native
        if ctype == "authenticated_enveloped_data":
            raise UnsupportedAlgorithm("AuthEnvelopedData is not supported by cryptography")
        if ctype != "enveloped_data":
            raise SMIMEFormatError(f"CMS object is not EnvelopedData ({ctype})")
        ed = ci["content"]
        eci = ed["encrypted_content_info"]
        if eci["content_type"].native != "data":
            raise SMIMEFormatError("encrypted content type is not id-data")
        calg = eci["content_encryption_algorithm"]["algorithm"].native
        if calg not in _ALLOWED_CONTENT:
            raise UnsupportedAlgorithm(f"content encryption {calg} is not allowed")
        if eci["encrypted_content"].native is None:
            raise SMIMEFormatError("EnvelopedData without encrypted content")
        recipients: list[tuple[Any, int, bytes]] = []
        for ri in ed["recipient_infos"]:
            if ri.name != "ktri":
                raise UnsupportedAlgorithm(f"unsupported recipient type {ri.name}")
            ktri = ri.chosen
            kalg = ktri["key_encryption_algorithm"]["algorithm"].native
            if kalg != "rsaes_pkcs1v15":
                raise UnsupportedAlgorithm(f"key transport {kalg} is not supported")
            rid = ktri["rid"]
            if rid.name != "issuer_and_serial_number":
                raise UnsupportedAlgorithm("recipient identified by key identifier")
            recipients.append(
                (rid.chosen["issuer"], rid.chosen["serial_number"].native,
                 ktri["encrypted_key"].native)
            )
        if not recipients:
            raise SMIMEFormatError("EnvelopedData without recipients")
        normalized: bytes = ci.dump(force=True)
        return normalized, recipients
    except _PARSE_ERRORS as exc:
        raise SMIMEFormatError(f"malformed EnvelopedData: {type(exc).__name__}") from None


def decrypt(der: bytes, certificate: x509.Certificate, private_key: object) -> bytes:
    """Decrypt an EnvelopedData for (certificate, private_key).

    Raises SMIMEFormatError / UnsupportedAlgorithm for structural faults (no key used yet),
    KeyLoadError for an unusable own key, and otherwise only ``DecryptionError()``.
    """
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise KeyLoadError("EnvelopedData decryption needs the recipient's RSA private key")
    normalized, recipients = inspect(der)
    try:
        acert = ax509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
        issuer = acert.issuer
        issuer_der = issuer.dump()
        mine = [
            r for r in recipients
            if r[1] == acert.serial_number
            and (r[0].dump() == issuer_der or r[0] == issuer)
        ]
    except _PARSE_ERRORS:
        mine = []
    if not mine:
        # Do the work a matching recipient would cost, then fail the same way.
        k = (private_key.key_size + 7) // 8
        dummy = recipients[0][2]
        if not isinstance(dummy, bytes) or len(dummy) != k:
            dummy = b"\x00\x02" + b"\x5a" * (k - 2)  # right length, so the RSA op runs
        try:
            private_key.decrypt(dummy, padding.PKCS1v15())
        except Exception:  # noqa: BLE001, S110 - result deliberately discarded
            pass
        raise DecryptionError() from None
    try:
        return pkcs7.pkcs7_decrypt_der(
            normalized, certificate, private_key, []
        )
    except Exception:  # noqa: BLE001 - every cause collapses into one opaque error
        raise DecryptionError() from None
