"""CMS SignedData: our signer and verifier against the real ``openssl cms`` both ways."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7

from xmppsec.e2e import _cms
from xmppsec.e2e._asn1 import cms as acms
from xmppsec.e2e._mime import parse_entity, parse_multipart_signed, to_crlf
from xmppsec.errors import (
    InvalidSignature,
    LimitExceeded,
    SMIMEFormatError,
    UnsupportedAlgorithm,
    UntrustedKey,
)

if TYPE_CHECKING:  # pytest imports tests/ modules top-level (rootdir mode), mypy by path
    from tests.test_e2e_support import Ident, make_ident, openssl
else:
    from test_e2e_support import Ident, make_ident, openssl

pytestmark = pytest.mark.integration

CONTENT = (
    b"Content-Type: Message/CPIM\r\n\r\nFrom: <im:juliet@example.com>\r\n"
    b"To: <im:romeo@example.net>\r\nDateTime: 2026-11-22T11:45:36.660Z\r\n\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\nWherefore art thou, Romeo?\r\n"
)


def verify(der: bytes, ident: Ident, content: bytes | None = None,
           allow_sha1: bool = True) -> _cms.SignedDataInfo:
    return _cms.verify(
        der, select_certificates=lambda _p: [ident.cert], detached_content=content,
        allow_sha1=allow_sha1,
    )


KEYS = ["rsa-2048", "rsa-pss", "ecdsa-p256", "ed25519"]


def _ident(kind: str) -> Ident:
    return make_ident("juliet@example.com", "rsa-2048" if kind == "rsa-pss" else kind)


@pytest.mark.parametrize("kind", KEYS)
@pytest.mark.parametrize("digest", ["sha1", "sha256", "sha384", "sha512"])
@pytest.mark.parametrize("detached", [True, False])
def test_ours_verified_by_openssl_and_us(
    tmp_path: Path, kind: str, digest: str, detached: bool
) -> None:
    ident = _ident(kind)
    _k, cert = ident.write(tmp_path, "signer")
    der = _cms.sign(CONTENT, ident.key, ident.cert, digest=digest, pss=kind == "rsa-pss",
                    detached=detached)
    (tmp_path / "sig.der").write_bytes(der)
    (tmp_path / "content").write_bytes(CONTENT)
    info = verify(der, ident, CONTENT if detached else None)
    assert info.content == CONTENT
    assert info.digest_algorithm == ("sha512" if kind == "ed25519" else digest)
    if kind == "ed25519":
        return  # OpenSSL 3.0 has no Ed25519 CMS ("no default digest"); checked by us only
    args = ["cms", "-verify", "-binary", "-inform", "DER", "-in", str(tmp_path / "sig.der"),
            "-CAfile", str(cert), "-purpose", "any"]
    if detached:
        args += ["-content", str(tmp_path / "content")]
    assert openssl(*args) == CONTENT


@pytest.mark.parametrize("digest", ["sha1", "sha256"])
@pytest.mark.parametrize("pss", [False, True])
@pytest.mark.parametrize("mode", ["attached-der", "detached-smime"])
def test_openssl_signed_verified_by_us(tmp_path: Path, digest: str, pss: bool, mode: str) -> None:
    ident = make_ident("juliet@example.com")
    key, cert = ident.write(tmp_path, "signer")
    (tmp_path / "content").write_bytes(CONTENT)
    args = ["cms", "-sign", "-binary", "-in", str(tmp_path / "content"), "-signer", str(cert),
            "-inkey", str(key), "-md", digest]
    if pss:
        args += ["-keyopt", "rsa_padding_mode:pss"]
    if mode == "attached-der":
        der = openssl(*args, "-nodetach", "-outform", "DER")
        info = verify(der, ident)
    else:
        smime = openssl(*args, "-crlfeol")
        entity = parse_entity(to_crlf(smime))
        ms = parse_multipart_signed(entity)
        assert ms.signed_part == CONTENT
        info = verify(ms.signature, ident, ms.signed_part)
    assert info.content == CONTENT
    assert info.signature_algorithm == ("rsassa_pss" if pss else "rsassa_pkcs1v15")


def test_openssl_ecdsa_streamed_attached(tmp_path: Path) -> None:
    ident = make_ident("juliet@example.com", "ecdsa-p256")
    key, cert = ident.write(tmp_path, "signer")
    (tmp_path / "content").write_bytes(CONTENT)
    der = openssl("cms", "-sign", "-binary", "-stream", "-nodetach", "-outform", "DER",
                  "-in", str(tmp_path / "content"), "-signer", str(cert), "-inkey", str(key))
    assert der[:2] == b"\x30\x80"  # BER indefinite length
    assert verify(der, ident).content == CONTENT


def test_cryptography_builder_output_verified() -> None:
    ident = make_ident("juliet@example.com")
    assert isinstance(ident.key, rsa.RSAPrivateKey)
    der = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(CONTENT)
        .add_signer(ident.cert, ident.key, hashes.SHA256())
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature,
                                           pkcs7.PKCS7Options.Binary])
    )
    assert verify(der, ident, CONTENT).digest_algorithm == "sha256"


def test_sha1_refused_by_default() -> None:
    ident = make_ident("juliet@example.com")
    der = _cms.sign(CONTENT, ident.key, ident.cert, digest="sha1")
    with pytest.raises(UnsupportedAlgorithm):
        verify(der, ident, CONTENT, allow_sha1=False)


def test_md5_refused(tmp_path: Path) -> None:
    ident = make_ident("juliet@example.com")
    key, cert = ident.write(tmp_path, "signer")
    (tmp_path / "content").write_bytes(CONTENT)
    der = openssl("cms", "-sign", "-binary", "-nodetach", "-outform", "DER", "-md", "md5",
                  "-in", str(tmp_path / "content"), "-signer", str(cert), "-inkey", str(key))
    with pytest.raises(UnsupportedAlgorithm):
        verify(der, ident)


def test_rsa_1024_refused() -> None:
    weak = make_ident("juliet@example.com", "rsa-1024")
    der = _cms.sign(CONTENT, weak.key, weak.cert)
    with pytest.raises(UnsupportedAlgorithm):
        verify(der, weak, CONTENT)


def test_no_signed_attributes_refused(tmp_path: Path) -> None:
    ident = make_ident("juliet@example.com")
    key, cert = ident.write(tmp_path, "signer")
    (tmp_path / "content").write_bytes(CONTENT)
    der = openssl("cms", "-sign", "-binary", "-nodetach", "-noattr", "-outform", "DER",
                  "-in", str(tmp_path / "content"), "-signer", str(cert), "-inkey", str(key))
    with pytest.raises(SMIMEFormatError):
        verify(der, ident)


def test_tampered_content_and_signature() -> None:
    ident = make_ident("juliet@example.com")
    der = _cms.sign(CONTENT, ident.key, ident.cert)
    with pytest.raises(InvalidSignature):
        verify(der, ident, CONTENT.replace(b"Romeo", b"Tybalt"))
    bad = bytearray(der)
    bad[-5] ^= 0x01  # inside the signature value (last field)
    with pytest.raises(InvalidSignature):
        verify(bytes(bad), ident, CONTENT)


def test_signed_attribute_tampered() -> None:
    ident = make_ident("juliet@example.com")
    der = _cms.sign(CONTENT, ident.key, ident.cert, detached=False)
    ci = acms.ContentInfo.load(der)
    attrs = ci["content"]["signer_infos"][0]["signed_attrs"]
    later = acms.CMSAttribute({"type": "signing_time", "values": [
        acms.Time({"utc_time": datetime(2030, 1, 1, tzinfo=UTC)})]})
    changed = [later if a["type"].native == "signing_time" else a for a in attrs]
    ci["content"]["signer_infos"][0]["signed_attrs"] = acms.CMSAttributes(changed)
    tampered = ci.dump(force=True)
    assert tampered != der
    with pytest.raises(InvalidSignature):
        verify(tampered, ident)


def test_duplicate_signed_attribute_refused() -> None:
    ident = make_ident("juliet@example.com")
    der = _cms.sign(CONTENT, ident.key, ident.cert, detached=False)
    ci = acms.ContentInfo.load(der)
    attrs = ci["content"]["signer_infos"][0]["signed_attrs"]
    dup = acms.CMSAttributes([*attrs, acms.CMSAttribute(
        {"type": "message_digest", "values": [b"\x00" * 32]})])
    ci["content"]["signer_infos"][0]["signed_attrs"] = dup
    with pytest.raises(SMIMEFormatError):
        verify(ci.dump(force=True), ident)


def test_untrusted_signer_certificate() -> None:
    ident = make_ident("juliet@example.com")
    other = make_ident("juliet@example.com", "ecdsa-p256")
    der = _cms.sign(CONTENT, ident.key, ident.cert)
    with pytest.raises(UntrustedKey):
        verify(der, other, CONTENT)


def test_attached_and_detached_content_conflict() -> None:
    ident = make_ident("juliet@example.com")
    der = _cms.sign(CONTENT, ident.key, ident.cert, detached=False)
    with pytest.raises(SMIMEFormatError):
        verify(der, ident, CONTENT)
    with pytest.raises(SMIMEFormatError):
        verify(_cms.sign(CONTENT, ident.key, ident.cert), ident)


def test_malformed_der_fails_fast_and_typed() -> None:
    ident = make_ident("juliet@example.com")
    der = _cms.sign(CONTENT, ident.key, ident.cert)
    cases = [b"", der[: len(der) // 2], der[:-1], os.urandom(600), b"\x30\x84\xff\xff\xff\xff",
             b"\x30\x80" * 5000 + b"\x00\x00" * 5000, der + b"\x00"]
    for case in cases:
        t = time.perf_counter()
        with pytest.raises((SMIMEFormatError, LimitExceeded)):
            verify(case, ident, CONTENT)
        assert time.perf_counter() - t < 0.05


def test_not_signed_data() -> None:
    ident = make_ident("juliet@example.com")
    with pytest.raises(SMIMEFormatError):
        verify(acms.ContentInfo({"content_type": "data", "content": b"x"}).dump(), ident)


def test_certificates_exposed() -> None:
    ident = make_ident("juliet@example.com")
    der = _cms.sign(CONTENT, ident.key, ident.cert)
    assert _cms.signed_data_certificates(der) == (ident.cert,)
    bare = _cms.sign(CONTENT, ident.key, ident.cert, omit_certificates=True)
    assert _cms.signed_data_certificates(bare) == ()
    assert verify(bare, ident, CONTENT).content == CONTENT
