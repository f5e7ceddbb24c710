"""Keys and certificates: key generation, loading, XMPP identities, key strength.

* :func:`generate_identity` makes a key pair and a self-signed X.509 v3 certificate
  whose SubjectAltName carries the JID as ``otherName id-on-xmppAddr``
  (OID 1.3.6.1.5.5.7.8.5, value a DER UTF8String: RFC 6120 §13.7.1.4, RFC 3923 §6.3).
* :func:`xmpp_addrs` reads those values back with asn1crypto. Only UTF8String is
  accepted: an IA5String (or any other type) under the xmppAddr OID names nobody
  (security case 26). The subject DN / CN is never read as an identity.
* :func:`check_key_strength` refuses keys too weak to trust (security case 25).

``cryptography`` does all cryptography; asn1crypto only decodes the otherName value,
which ``cryptography`` hands over as opaque DER.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import idna
from asn1crypto import core as _asn1_core
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm as _CryptoUnsupported
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from xmppsec.algorithms import CMSSigningKey, DecryptionKey, PrivateKey, PublicKey
from xmppsec.errors import JIDError, KeyLoadError, UntrustedKey, UsageError
from xmppsec.jid import parse_jid
from xmppsec.xmpp import require_aware

__all__ = [
    "ALGORITHMS",
    "ID_ON_XMPPADDR",
    "Algorithm",
    "CMSSigningKey",
    "DecryptionKey",
    "Identity",
    "PrivateKey",
    "PublicKey",
    "certificate_fingerprint",
    "check_key_strength",
    "dns_names",
    "generate_identity",
    "load_certificate",
    "load_certificates",
    "load_private_key",
    "write_identity",
    "xmpp_addrs",
    "xmpp_addr_value",
]

# asn1crypto ships no type hints: one Any-typed handle keeps the untyped calls here.
_UTF8String: Any = _asn1_core.UTF8String

# RFC 6120 §13.7.1.4 / RFC 3920 §5.1.1: id-on-xmppAddr ::= { id-pkix 8 5 }
ID_ON_XMPPADDR = ObjectIdentifier("1.3.6.1.5.5.7.8.5")

#: The key algorithms :func:`generate_identity` makes.
Algorithm = Literal["ecdsa-p256", "ed25519", "rsa-2048", "rsa-3072"]
ALGORITHMS: tuple[Algorithm, ...] = get_args(Algorithm)

_ALLOWED_CURVES = frozenset({"secp256r1", "secp384r1", "secp521r1"})
_MIN_RSA_BITS = 2048
_MIN_LEGACY_DSA_BITS = 1024
_CN_MAX = 64  # RFC 5280 ub-common-name


@dataclass(frozen=True, slots=True)
class Identity:
    """A private key and its certificate."""

    private_key: PrivateKey
    certificate: x509.Certificate


def xmpp_addr_value(jid: str) -> bytes:
    """DER UTF8String of a JID: the value of an id-on-xmppAddr otherName."""
    return bytes(_UTF8String(jid).dump())


def _new_key(algorithm: str) -> PrivateKey:
    if algorithm == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if algorithm == "rsa-2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if algorithm == "rsa-3072":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    raise UsageError(f"unknown key algorithm {algorithm!r}; choose one of {ALGORITHMS}")


def generate_identity(
    jid: str,
    algorithm: Algorithm = "ecdsa-p256",
    *,
    days: int = 365,
    now: _dt.datetime | None = None,
) -> Identity:
    """Generate a key pair and a self-signed certificate for ``jid``.

    The certificate names the normalized **bare** JID (a resource is dropped) as
    id-on-xmppAddr; for a domain-only JID (a server or service) it also carries the
    domain as dNSName (A-label form). Validity starts 5 minutes before ``now`` (clock
    skew) and lasts ``days``. Key usage: digitalSignature, plus keyEncipherment for RSA
    (RFC 3923 encryption uses RSA key transport); extended key usage: clientAuth and
    emailProtection. Raises :class:`JIDError`, or :class:`UsageError` for an unknown
    ``algorithm``, ``days`` < 1 or a naive ``now``.
    """
    parsed = parse_jid(jid).bare
    name = str(parsed)
    if days < 1:
        raise UsageError("days must be at least 1")
    key = _new_key(algorithm)
    when = _dt.datetime.now(_dt.UTC) if now is None else require_aware(now, "now")
    start = when - _dt.timedelta(minutes=5)
    sans: list[x509.GeneralName] = [x509.OtherName(ID_ON_XMPPADDR, xmpp_addr_value(name))]
    if parsed.is_domain and not parsed.domain.startswith("["):
        # dNSName holds the A-label form (RFC 5280 §4.2.1.6, RFC 6125 §6.4.2)
        sans.append(x509.DNSName(idna.encode(parsed.domain).decode("ascii")))
    # The subject is for humans only: RFC 3923 §6.3 ignores it, so does xmppsec.
    cn = name if len(name) <= _CN_MAX else "XMPP identity"
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    is_rsa = isinstance(key, rsa.RSAPrivateKey)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + _dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=is_rsa,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.EMAIL_PROTECTION]
            ),
            critical=False,
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
    )
    digest = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return Identity(key, builder.sign(key, digest))


def write_identity(
    identity: Identity,
    out_dir: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    passphrase: bytes | None = None,
) -> tuple[Path, Path]:
    """Write ``key.pem`` (PKCS#8 PEM, mode 0600) and ``cert.pem`` into ``out_dir`` (created
    if missing). Returns both paths. Refuses to replace existing files unless ``overwrite``
    (``FileExistsError``). With ``passphrase`` the key is an encrypted PKCS#8 (RFC 5958
    EncryptedPrivateKeyInfo, ``cryptography``'s best available encryption); without it,
    unencrypted."""
    if passphrase is not None and not passphrase:
        raise UsageError("an empty passphrase encrypts nothing")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    key_path, cert_path = out / "key.pem", out / "cert.pem"
    if not overwrite:
        for p in (key_path, cert_path):
            if p.exists():
                raise FileExistsError(f"{p} exists (pass overwrite=True to replace it)")
    key_pem = identity.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()
        if passphrase is None
        else serialization.BestAvailableEncryption(passphrase),
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # also when the file existed with a wider mode
        os.write(fd, key_pem)
    finally:
        os.close(fd)
    cert_path.write_bytes(identity.certificate.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def _is_pem(data: bytes) -> bool:
    return b"-----BEGIN " in data


def load_private_key(data: bytes, password: bytes | None = None) -> PrivateKey:
    """Load a private key from PEM or DER (PKCS#8, or traditional PKCS#1/SEC1).

    Raises :class:`KeyLoadError` for anything unreadable or of an unsupported type,
    :class:`UsageError` if ``data`` is not bytes.
    """
    if not isinstance(data, bytes | bytearray):
        raise UsageError("key data must be bytes")
    try:
        if _is_pem(data):
            key = serialization.load_pem_private_key(bytes(data), password)
        else:
            key = serialization.load_der_private_key(bytes(data), password)
    except (ValueError, TypeError, _CryptoUnsupported) as exc:
        raise KeyLoadError(f"cannot load private key: {exc}") from None
    if not isinstance(key, PrivateKey):
        raise KeyLoadError(f"unsupported private key type {type(key).__name__}")
    return key


def load_certificates(data: bytes) -> list[x509.Certificate]:
    """Load every certificate from PEM (one or many ``CERTIFICATE`` blocks, or a
    ``PKCS7`` block), DER, or DER PKCS#7. Raises :class:`KeyLoadError` (:class:`UsageError`
    if ``data`` is not bytes)."""
    if not isinstance(data, bytes | bytearray):
        raise UsageError("certificate data must be bytes")
    raw = bytes(data)
    try:
        if _is_pem(raw):
            if b"-----BEGIN PKCS7-----" in raw:
                certs = pkcs7.load_pem_pkcs7_certificates(raw)
            else:
                certs = x509.load_pem_x509_certificates(raw)
        else:
            try:
                certs = [x509.load_der_x509_certificate(raw)]
            except ValueError:
                certs = pkcs7.load_der_pkcs7_certificates(raw)
    except (ValueError, TypeError, _CryptoUnsupported, x509.InvalidVersion) as exc:
        # InvalidVersion (an X.509 version other than v1/v3) is no ValueError
        raise KeyLoadError(f"cannot load certificates: {exc}") from None
    if not certs:
        raise KeyLoadError("no certificate found")
    return list(certs)


def load_certificate(data: bytes) -> x509.Certificate:
    """Load exactly one certificate (PEM or DER). Raises :class:`KeyLoadError`."""
    certs = load_certificates(data)
    if len(certs) != 1:
        raise KeyLoadError(f"expected one certificate, found {len(certs)}")
    return certs[0]


def _sans(cert: x509.Certificate) -> list[x509.GeneralName]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as exc:
        raise UntrustedKey(f"malformed certificate extensions: {exc}") from None
    return list(ext.value)


def xmpp_addrs(cert: x509.Certificate) -> tuple[str, ...]:
    """The JIDs a certificate names: its id-on-xmppAddr otherName values.

    Each value must be a DER UTF8String (RFC 6120 §13.7.1.4) holding a valid JID; it
    is returned normalized (RFC 7622), in certificate order, without duplicates.
    Other encodings (IA5String, BMPString, ...), bad UTF-8 and invalid JIDs are
    skipped: they name nobody. No SAN, or no xmppAddr: ``()``. The subject CN is not
    consulted. Raises :class:`UntrustedKey` only for a malformed SAN extension.
    """
    out: list[str] = []
    for name in _sans(cert):
        if not isinstance(name, x509.OtherName) or name.type_id != ID_ON_XMPPADDR:
            continue
        try:
            text = _UTF8String.load(name.value, strict=True).native
            jid = str(parse_jid(text))
        except (ValueError, TypeError, JIDError):
            continue  # not a UTF8String (e.g. IA5String), bad UTF-8, or not a JID
        if jid not in out:
            out.append(jid)
    return tuple(out)


def dns_names(cert: x509.Certificate) -> tuple[str, ...]:
    """dNSName SAN values normalized like a JID domainpart (U-labels, lower case);
    invalid names and wildcards are skipped."""
    out: list[str] = []
    for name in _sans(cert):
        if not isinstance(name, x509.DNSName) or name.value.startswith("*"):
            continue
        try:
            jid = parse_jid(name.value)
        except JIDError:
            continue
        if jid.is_domain and jid.domain not in out:
            out.append(jid.domain)
    return tuple(out)


def certificate_fingerprint(cert: x509.Certificate) -> bytes:
    """SHA-256 over the certificate's DER encoding."""
    return cert.fingerprint(hashes.SHA256())


def check_key_strength(public_key: PublicKeyTypes, *, allow_legacy: bool = False) -> PublicKey:
    """Return ``public_key`` if it is strong enough to trust, else raise UntrustedKey.

    Accepted: RSA >= 2048 bits with an odd public exponent >= 3; EC on P-256, P-384 or
    P-521; Ed25519; DSA >= 1024 bits only with ``allow_legacy`` (the XEP-0290 examples
    use DSA). Everything else (other curves, Ed448, X25519, DH, ...) is refused.
    """
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < _MIN_RSA_BITS:
            raise UntrustedKey(f"RSA key of {public_key.key_size} bits (minimum {_MIN_RSA_BITS})")
        e = public_key.public_numbers().e
        if e < 3 or e % 2 == 0:
            raise UntrustedKey(f"RSA public exponent {e} is not an odd number >= 3")
        return public_key
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if public_key.curve.name not in _ALLOWED_CURVES:
            raise UntrustedKey(f"EC curve {public_key.curve.name} is not P-256, P-384 or P-521")
        return public_key
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return public_key
    if isinstance(public_key, dsa.DSAPublicKey):
        if not allow_legacy:
            raise UntrustedKey("DSA keys are accepted only with the legacy opt-in")
        if public_key.key_size < _MIN_LEGACY_DSA_BITS:
            raise UntrustedKey(f"DSA key of {public_key.key_size} bits")
        return public_key
    raise UntrustedKey(f"unsupported public key type {type(public_key).__name__}")
