"""xmppsec.keys: keygen, loaders, id-on-xmppAddr parsing, key strength."""

from __future__ import annotations

import base64
import datetime as dt
import os
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x25519
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from xmppsec.errors import JIDError, KeyLoadError, UntrustedKey, UsageError
from xmppsec.keys import (
    ALGORITHMS,
    ID_ON_XMPPADDR,
    Identity,
    certificate_fingerprint,
    check_key_strength,
    dns_names,
    generate_identity,
    load_certificate,
    load_certificates,
    load_private_key,
    write_identity,
    xmpp_addr_value,
    xmpp_addrs,
)

JULIET = "juliet@capulet.net"


@pytest.fixture(scope="module")
def identities() -> dict[str, Identity]:
    return {alg: generate_identity("Juliet@Capulet.NET/balcony", alg) for alg in ALGORITHMS}


def _cert_with_sans(sans: list[x509.GeneralName] | None) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, JULIET)])
    b = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
    )
    if sans is not None:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return b.sign(key, hashes.SHA256())


def test_xmpp_addr_value() -> None:
    assert xmpp_addr_value("a@b.c") == b"\x0c\x05a@b.c"
    assert xmpp_addr_value("\u00e9@b.c") == b"\x0c\x06\xc3\xa9@b.c"


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_generate_identity(identities: dict[str, Identity], alg: str) -> None:
    ident = identities[alg]
    cert = ident.certificate
    assert xmpp_addrs(cert) == (JULIET,)  # bare, normalized
    assert cert.version == x509.Version.v3
    assert cert.public_key() == ident.private_key.public_key()
    ext = cert.extensions
    assert ext.get_extension_for_class(x509.BasicConstraints).value.ca is False
    ku = ext.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature
    assert ku.key_encipherment is alg.startswith("rsa")
    eku = ext.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.EMAIL_PROTECTION}
    ski = ext.get_extension_for_class(x509.SubjectKeyIdentifier).value
    aki = ext.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    now = dt.datetime.now(dt.UTC)
    assert now - dt.timedelta(minutes=6) < cert.not_valid_before_utc < now
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == dt.timedelta(days=365)
    # self-signed: the signature verifies with its own key
    cert.verify_directly_issued_by(cert)
    check_key_strength(cert.public_key())
    if alg.startswith("rsa"):
        assert isinstance(ident.private_key, rsa.RSAPrivateKey)
        assert ident.private_key.key_size == int(alg[4:])
    elif alg == "ed25519":
        assert isinstance(ident.private_key, ed25519.Ed25519PrivateKey)
    else:
        assert isinstance(ident.private_key, ec.EllipticCurvePrivateKey)
        assert ident.private_key.curve.name == "secp256r1"


def test_serials_random(identities: dict[str, Identity]) -> None:
    serials = {i.certificate.serial_number for i in identities.values()}
    assert len(serials) == len(ALGORITHMS)
    assert all(s.bit_length() > 64 for s in serials)


def test_generate_identity_domain_and_errors() -> None:
    ident = generate_identity("B\u00fccher.example", "ed25519")
    assert xmpp_addrs(ident.certificate) == ("b\u00fccher.example",)
    san = ident.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert san.value.get_values_for_type(x509.DNSName) == ["xn--bcher-kva.example"]
    assert dns_names(ident.certificate) == ("b\u00fccher.example",)
    with pytest.raises(JIDError):
        generate_identity("@capulet.net")
    with pytest.raises(UsageError):
        generate_identity(JULIET, "rsa-1024")  # type: ignore[arg-type]  # the misuse tested
    with pytest.raises(UsageError):
        generate_identity(JULIET, days=0)
    long_local = "l" * 100
    long_ident = generate_identity(f"{long_local}@capulet.net", "ed25519")
    assert xmpp_addrs(long_ident.certificate) == (f"{long_local}@capulet.net",)


@pytest.mark.integration
@pytest.mark.parametrize("alg", ALGORITHMS)
def test_openssl_shows_xmppaddr(identities: dict[str, Identity], alg: str) -> None:
    pem = identities[alg].certificate.public_bytes(serialization.Encoding.PEM)
    out = subprocess.run(
        ["openssl", "x509", "-noout", "-text"], input=pem, capture_output=True, check=True
    ).stdout.decode()
    assert "othername: XmppAddr::juliet@capulet.net" in out or "id-on-xmppAddr" in out
    assert "CA:FALSE" in out
    assert "TLS Web Client Authentication" in out and "E-mail Protection" in out


def test_write_identity(tmp_path: Path, identities: dict[str, Identity]) -> None:
    ident = identities["ecdsa-p256"]
    key_path, cert_path = write_identity(ident, tmp_path / "out")
    assert key_path.name == "key.pem" and cert_path.name == "cert.pem"
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    key_pem = key_path.read_bytes()
    assert key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8, unencrypted
    assert load_private_key(key_pem).public_key() == ident.private_key.public_key()
    assert load_certificate(cert_path.read_bytes()) == ident.certificate
    with pytest.raises(FileExistsError):
        write_identity(ident, tmp_path / "out")
    os.chmod(key_path, 0o644)
    write_identity(identities["ed25519"], tmp_path / "out", overwrite=True)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert isinstance(load_private_key(key_path.read_bytes()), ed25519.Ed25519PrivateKey)


@pytest.mark.integration
def test_openssl_reads_written_key(tmp_path: Path, identities: dict[str, Identity]) -> None:
    key_path, cert_path = write_identity(identities["rsa-2048"], tmp_path)
    subprocess.run(
        ["openssl", "pkey", "-in", str(key_path), "-noout"], check=True, capture_output=True
    )
    out = subprocess.run(
        ["openssl", "x509", "-in", str(cert_path), "-noout", "-fingerprint", "-sha256"],
        check=True,
        capture_output=True,
    ).stdout.decode()
    expected = certificate_fingerprint(identities["rsa-2048"].certificate).hex(":").upper()
    assert expected in out


def test_loaders_formats(identities: dict[str, Identity]) -> None:
    certs = [identities[a].certificate for a in ALGORITHMS]
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)
    assert load_certificates(pem) == certs
    der = certs[0].public_bytes(serialization.Encoding.DER)
    assert load_certificate(der) == certs[0]
    assert load_certificates(der) == [certs[0]]
    p7_der = pkcs7.serialize_certificates(certs, serialization.Encoding.DER)
    p7_pem = pkcs7.serialize_certificates(certs, serialization.Encoding.PEM)
    assert set(load_certificates(p7_der)) == set(certs)
    assert set(load_certificates(p7_pem)) == set(certs)
    with pytest.raises(KeyLoadError, match="expected one"):
        load_certificate(pem)
    key = identities["rsa-2048"].private_key
    for fmt in (serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL):
        for enc in (serialization.Encoding.PEM, serialization.Encoding.DER):
            data = key.private_bytes(enc, fmt, serialization.NoEncryption())
            assert load_private_key(data).public_key() == key.public_key()
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    assert load_private_key(encrypted, b"pw").public_key() == key.public_key()
    with pytest.raises(KeyLoadError):
        load_private_key(encrypted)
    with pytest.raises(KeyLoadError):
        load_private_key(encrypted, b"wrong")


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"garbage",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        b"-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----\n",
        b"\x30\x82\xff\xff" + b"\x00" * 10,
        b"\x30" * 5000,
    ],
)
def test_loaders_reject(bad: bytes) -> None:
    with pytest.raises(KeyLoadError):
        load_certificates(bad)
    with pytest.raises(KeyLoadError):
        load_certificate(bad)
    with pytest.raises(KeyLoadError):
        load_private_key(bad)


def test_loaders_reject_unknown_certificate_version(identities: dict[str, Identity]) -> None:
    """cryptography raises InvalidVersion, which is no ValueError, for an X.509 version
    other than v1/v3 (found by fuzzing the same load in KeyInfo and CMS)."""
    der = identities["ecdsa-p256"].certificate.public_bytes(serialization.Encoding.DER)
    i = der.index(b"\xa0\x03\x02\x01\x02")  # [0] EXPLICIT INTEGER 2 (v3)
    bad = der[: i + 4] + b"\x05" + der[i + 5 :]
    pem = b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(bad) + b"-----END CERTIFICATE-----\n"
    for data in (bad, pem):
        with pytest.raises(KeyLoadError):
            load_certificates(data)
        with pytest.raises(KeyLoadError):
            load_certificate(data)


def test_loaders_reject_unsupported_key_types() -> None:
    for key in (x25519.X25519PrivateKey.generate(), ed448.Ed448PrivateKey.generate()):
        data = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        with pytest.raises(KeyLoadError, match="unsupported"):
            load_private_key(data)
    with pytest.raises(UsageError):
        load_private_key("text")  # type: ignore[arg-type]  # runtime type check
    with pytest.raises(UsageError):
        load_certificates("text")  # type: ignore[arg-type]  # runtime type check


def test_xmpp_addrs_encodings() -> None:
    ia5 = b"\x16\x12juliet@capulet.net"  # IA5String: security case 26, names nobody
    bmp = b"\x1e\x24" + "juliet@capulet.net".encode("utf-16-be")  # BMPString, 36 bytes
    utf8 = xmpp_addr_value("Romeo@Montague.net/orchard")
    cert = _cert_with_sans(
        [
            x509.OtherName(ID_ON_XMPPADDR, ia5),
            x509.OtherName(ID_ON_XMPPADDR, bmp),
            x509.OtherName(ID_ON_XMPPADDR, b"\x0c\x03\xff\xfe\xfd"),  # bad UTF-8
            x509.OtherName(ID_ON_XMPPADDR, xmpp_addr_value("@nobody")),  # not a JID
            x509.OtherName(x509.ObjectIdentifier("1.3.6.1.5.5.7.8.7"), utf8),  # SRVName OID
            x509.RFC822Name("juliet@capulet.net"),
            x509.OtherName(ID_ON_XMPPADDR, utf8),
            x509.OtherName(ID_ON_XMPPADDR, utf8),
        ]
    )
    assert xmpp_addrs(cert) == ("romeo@montague.net/orchard",)
    only_ia5 = _cert_with_sans([x509.OtherName(ID_ON_XMPPADDR, ia5)])
    assert xmpp_addrs(only_ia5) == ()


def test_xmpp_addrs_no_san_cn_only() -> None:
    cert = _cert_with_sans(None)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == JULIET
    assert xmpp_addrs(cert) == ()
    assert dns_names(cert) == ()
    assert dns_names(_cert_with_sans([x509.DNSName("*.capulet.net")])) == ()


def test_key_strength() -> None:
    check_key_strength(ec.generate_private_key(ec.SECP256R1()).public_key())
    check_key_strength(ec.generate_private_key(ec.SECP384R1()).public_key())
    check_key_strength(ec.generate_private_key(ec.SECP521R1()).public_key())
    check_key_strength(ed25519.Ed25519PrivateKey.generate().public_key())
    rsa2048 = rsa.generate_private_key(65537, 2048).public_key()
    assert check_key_strength(rsa2048) is rsa2048
    check_key_strength(rsa.generate_private_key(3, 2048).public_key())  # e=3 is odd and >= 3
    with pytest.raises(UntrustedKey, match="1024 bits"):
        check_key_strength(rsa.generate_private_key(65537, 1024).public_key())
    for curve in (ec.SECP256K1(), ec.SECP224R1(), ec.BrainpoolP256R1()):
        with pytest.raises(UntrustedKey, match="curve"):
            check_key_strength(ec.generate_private_key(curve).public_key())
    dsa_key = dsa.generate_private_key(2048).public_key()
    with pytest.raises(UntrustedKey, match="legacy"):
        check_key_strength(dsa_key)
    assert check_key_strength(dsa_key, allow_legacy=True) is dsa_key
    for other in (
        ed448.Ed448PrivateKey.generate().public_key(),
        x25519.X25519PrivateKey.generate().public_key(),
        b"not a key",
    ):
        with pytest.raises(UntrustedKey, match="unsupported"):
            check_key_strength(other)  # type: ignore[arg-type]  # bytes: the misuse tested
