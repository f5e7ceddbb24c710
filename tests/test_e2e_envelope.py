"""CMS EnvelopedData: openssl interop both ways, weak algorithms, the opaque error."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from xmppsec.e2e import _envelope
from xmppsec.e2e._asn1 import cms as acms
from xmppsec.errors import (
    DecryptionError,
    KeyLoadError,
    LimitExceeded,
    SMIMEFormatError,
    UnsupportedAlgorithm,
)

if TYPE_CHECKING:  # pytest imports tests/ modules top-level (rootdir mode), mypy by path
    from tests.test_e2e_support import Ident, make_ident, openssl
else:
    from test_e2e_support import Ident, make_ident, openssl

pytestmark = pytest.mark.integration

CONTENT = b"Content-Type: Message/CPIM\r\n\r\nFrom: <im:a@b.c>\r\n\r\n" + b"x" * 200 + b"\r\n"


@pytest.mark.parametrize("cipher", ["aes128", "aes256"])
def test_ours_decrypted_by_openssl(tmp_path: Path, cipher: str) -> None:
    rcpt = make_ident("romeo@example.net")
    key, cert = rcpt.write(tmp_path, "rcpt")
    der = _envelope.encrypt(CONTENT, [rcpt.cert], cipher=cipher)
    (tmp_path / "env.der").write_bytes(der)
    out = openssl("cms", "-decrypt", "-binary", "-inform", "DER", "-in",
                  str(tmp_path / "env.der"), "-recip", str(cert), "-inkey", str(key))
    assert out == CONTENT
    assert acms.ContentInfo.load(der)["content"]["encrypted_content_info"][
        "content_encryption_algorithm"]["algorithm"].native == f"{cipher}_cbc"
    assert _envelope.decrypt(der, rcpt.cert, rcpt.key) == CONTENT


@pytest.mark.parametrize("cipher", ["-aes128", "-aes256"])
@pytest.mark.parametrize("stream", [True, False])
def test_openssl_encrypted_decrypted_by_us(tmp_path: Path, cipher: str, stream: bool) -> None:
    rcpt = make_ident("romeo@example.net")
    _key, cert = rcpt.write(tmp_path, "rcpt")
    (tmp_path / "content").write_bytes(CONTENT)
    der = openssl("cms", "-encrypt", "-binary", "-outform", "DER", cipher,
                  *(["-stream"] if stream else []), "-in", str(tmp_path / "content"), str(cert))
    assert _envelope.decrypt(der, rcpt.cert, rcpt.key) == CONTENT


def test_multiple_recipients() -> None:
    a = make_ident("romeo@example.net")
    b = make_ident("juliet@example.com")
    der = _envelope.encrypt(CONTENT, [a.cert, b.cert])
    assert _envelope.decrypt(der, a.cert, a.key) == CONTENT
    assert _envelope.decrypt(der, b.cert, b.key) == CONTENT


@pytest.mark.parametrize(
    "args",
    [
        ["-des3"],
        ["-des", "-provider", "legacy", "-provider", "default"],
        ["-rc2", "-provider", "legacy", "-provider", "default"],
        ["-aes192"],
        ["-aes-128-gcm"],
        ["-aes128", "KEYOPT"],
    ],
)
def test_weak_or_unsupported_algorithms(tmp_path: Path, args: list[str]) -> None:
    rcpt = make_ident("romeo@example.net")
    _key, cert = rcpt.write(tmp_path, "rcpt")
    (tmp_path / "content").write_bytes(CONTENT)
    keyopt = ["-keyopt", "rsa_padding_mode:oaep"] if "KEYOPT" in args else []
    args = [a for a in args if a != "KEYOPT"]
    der = openssl("cms", "-encrypt", "-binary", "-outform", "DER", *args,
                  "-in", str(tmp_path / "content"), "-recip", str(cert), *keyopt)
    with pytest.raises(UnsupportedAlgorithm):
        _envelope.decrypt(der, rcpt.cert, rcpt.key)


def test_recipient_key_requirements() -> None:
    with pytest.raises(KeyLoadError):
        _envelope.encrypt(CONTENT, [make_ident("ec@example.net", "ecdsa-p256").cert])
    with pytest.raises(UnsupportedAlgorithm):
        _envelope.encrypt(CONTENT, [make_ident("weak@example.net", "rsa-1024").cert])
    with pytest.raises(UnsupportedAlgorithm):
        _envelope.encrypt(CONTENT, [make_ident("romeo@example.net").cert], cipher="des")


def _variants() -> tuple[bytes, list[bytes]]:
    rcpt = make_ident("romeo@example.net")
    der = _envelope.encrypt(CONTENT, [rcpt.cert])
    ci = acms.ContentInfo.load(der)
    ek = bytearray(ci["content"]["recipient_infos"][0].chosen["encrypted_key"].native)
    ek[10] ^= 0x40
    ci["content"]["recipient_infos"][0].chosen["encrypted_key"] = bytes(ek)
    bad_key = ci.dump(force=True)
    last_block = bytearray(der)
    last_block[-3] ^= 0x01  # last ciphertext block: padding
    return der, [bytes(last_block), bad_key]


def test_one_opaque_error_for_every_decryption_failure() -> None:
    rcpt = make_ident("romeo@example.net")
    other = make_ident("mercutio@example.org")
    der, tampered = _variants()
    errors: list[DecryptionError] = []
    cases = [(der, other)] + [(t, rcpt) for t in tampered]
    for data, who in cases:
        with pytest.raises(DecryptionError) as info:
            _envelope.decrypt(data, who.cert, who.key)
        errors.append(info.value)
    assert {(type(e), str(e), e.args) for e in errors} == {
        (DecryptionError, "decryption failed", ("decryption failed",))
    }
    # nothing underneath leaks through the exception chain either
    assert all(e.__cause__ is None and (e.__context__ is None or e.__suppress_context__)
               for e in errors)


def test_wrong_recipient_does_not_exit_early() -> None:
    """A non-matching recipient still costs an RSA decryption (no early exit)."""
    rcpt = make_ident("romeo@example.net")
    other = make_ident("mercutio@example.org")
    der, tampered = _variants()

    def timed(data: bytes, who: Ident) -> float:
        best = []
        for _ in range(15):
            t = time.perf_counter()
            with pytest.raises(DecryptionError):
                _envelope.decrypt(data, who.cert, who.key)
            best.append(time.perf_counter() - t)
        return statistics.median(best)

    wrong = timed(der, other)
    bad_padding = timed(tampered[0], rcpt)
    assert wrong > 0.3 * bad_padding, (wrong, bad_padding)


def test_cbc_bitflip_decrypts_to_altered_plaintext() -> None:
    """security-cases #33: CBC is malleable, so encrypted-only content proves nothing;
    open_stanza refuses it by default (see test_e2e_api)."""
    rcpt = make_ident("romeo@example.net")
    der = bytearray(_envelope.encrypt(CONTENT, [rcpt.cert]))
    der[-40] ^= 0x01  # penultimate block: flips a bit of the last plaintext block
    out = _envelope.decrypt(bytes(der), rcpt.cert, rcpt.key)
    assert out != CONTENT and len(out) == len(CONTENT)


@pytest.mark.parametrize(
    "data",
    [b"", b"\x30\x03\x02\x01", b"\x30\x84\xff\xff\xff\xff", b"\x30\x80" * 5000, b"\x00" * 50],
)
def test_malformed(data: bytes) -> None:
    rcpt = make_ident("romeo@example.net")
    with pytest.raises((SMIMEFormatError, LimitExceeded)):
        _envelope.decrypt(data, rcpt.cert, rcpt.key)


def test_truncated_real_object() -> None:
    rcpt = make_ident("romeo@example.net")
    der = _envelope.encrypt(CONTENT, [rcpt.cert])
    for cut in (der[: len(der) // 2], der[:-1]):
        with pytest.raises(SMIMEFormatError):
            _envelope.decrypt(cut, rcpt.cert, rcpt.key)


def test_signed_data_is_not_enveloped() -> None:
    from xmppsec.e2e import _cms

    ident = make_ident("romeo@example.net")
    with pytest.raises(SMIMEFormatError):
        _envelope.decrypt(_cms.sign(CONTENT, ident.key, ident.cert), ident.cert, ident.key)


def test_wrong_recipient_with_other_key_size_still_costs_rsa() -> None:
    big = make_ident("big@example.net", "rsa-3072")
    small = make_ident("romeo@example.net")
    der = _envelope.encrypt(CONTENT, [small.cert])  # 256-byte encryptedKey
    t = time.perf_counter()
    for _ in range(5):
        with pytest.raises(DecryptionError):
            _envelope.decrypt(der, big.cert, big.key)
    wrong = (time.perf_counter() - t) / 5
    assert isinstance(big.key, rsa.RSAPrivateKey)
    ok = time.perf_counter()
    for _ in range(5):
        big.key.decrypt(b"\x00\x02" + b"\x5a" * 382, padding.PKCS1v15())
    rsa_op = (time.perf_counter() - ok) / 5
    assert wrong > 0.5 * rsa_op, (wrong, rsa_op)
