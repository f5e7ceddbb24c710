"""Shared helpers for the tests/test_e2e_*.py files: identities with id-on-xmppAddr
certificates (made with cryptography directly, so that weak keys can be made too) and a
runner for the real ``openssl`` binary."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID, ObjectIdentifier

ID_ON_XMPPADDR = ObjectIdentifier("1.3.6.1.5.5.7.8.5")

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


@dataclass(frozen=True)
class Ident:
    jid: str
    key: PrivateKey
    cert: x509.Certificate

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def write(self, directory: Path, name: str) -> tuple[Path, Path]:
        k = directory / f"{name}.key"
        c = directory / f"{name}.pem"
        k.write_bytes(self.key_pem())
        c.write_bytes(self.cert_pem())
        return k, c


def _utf8string(s: str) -> bytes:
    b = s.encode()
    assert len(b) < 128
    return b"\x0c" + bytes([len(b)]) + b


_CACHE: dict[tuple[str, str], Ident] = {}


def make_ident(jid: str, kind: str = "rsa-2048", *, xmpp_addr: str | None = None) -> Ident:
    """Self-signed certificate whose SAN carries id-on-xmppAddr (RFC 6120 §13.7.1.4)."""
    ck = (jid + "|" + (xmpp_addr or ""), kind)
    if ck in _CACHE:
        return _CACHE[ck]
    key: PrivateKey
    if kind.startswith("rsa-"):
        key = rsa.generate_private_key(public_exponent=65537, key_size=int(kind[4:]))
    elif kind == "ecdsa-p256":
        key = ec.generate_private_key(ec.SECP256R1())
    elif kind == "ecdsa-p384":
        key = ec.generate_private_key(ec.SECP384R1())
    elif kind == "ecdsa-p521":
        key = ec.generate_private_key(ec.SECP521R1())
    elif kind == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
    else:
        raise AssertionError(kind)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, jid)])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.OtherName(ID_ON_XMPPADDR, _utf8string(xmpp_addr or jid))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        )
    )
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    cert = builder.sign(key, algorithm)
    ident = Ident(jid=jid, key=key, cert=cert)
    _CACHE[ck] = ident
    return ident


def openssl(*args: str, stdin: bytes | None = None, check: bool = True) -> bytes:
    proc = subprocess.run(
        ["openssl", *args], input=stdin, capture_output=True, timeout=60, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"openssl {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}"
        )
    return proc.stdout


def test_make_ident_has_xmpp_addr() -> None:
    ident = make_ident("juliet@example.com")
    san = ident.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    values = san.get_values_for_type(x509.OtherName)
    assert values[0].type_id == ID_ON_XMPPADDR
    assert values[0].value == b"\x0c\x12juliet@example.com"
