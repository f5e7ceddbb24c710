"""CMS (Auth)EnvelopedData: AES-GCM and AES-CBC, RSA (OAEP, v1.5) and ECDH recipients,
openssl interop both ways, weak algorithms, the opaque error."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from xmppsec.e2e import _envelope
from xmppsec.e2e._asn1 import cms as acms
from xmppsec.e2e._asn1 import core as acore
from xmppsec.e2e._envelope import ContentCipher, KeyTransport
from xmppsec.errors import (
    DecryptionError,
    KeyLoadError,
    LimitExceeded,
    SMIMEFormatError,
    UnsupportedAlgorithm,
    UsageError,
)

if TYPE_CHECKING:  # pytest imports tests/ modules top-level (rootdir mode), mypy by path
    from tests.test_e2e_support import Ident, make_ident, openssl
else:
    from test_e2e_support import Ident, make_ident, openssl

pytestmark = pytest.mark.integration

CONTENT = b"Content-Type: Message/CPIM\r\n\r\nFrom: <im:a@b.c>\r\n\r\n" + b"x" * 200 + b"\r\n"


KINDS = ["rsa-2048", "ecdsa-p256", "ecdsa-p384", "ecdsa-p521"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("cipher", list(ContentCipher))
def test_ours_decrypted_by_openssl(tmp_path: Path, cipher: ContentCipher, kind: str) -> None:
    """AuthEnvelopedData (AES-GCM) and EnvelopedData (AES-CBC), to RSA (key transport)
    and EC (ECDH key agreement, RFC 5753) recipients: openssl cms -decrypt reads them."""
    rcpt = make_ident("romeo@example.net", kind)
    key, cert = rcpt.write(tmp_path, "rcpt")
    der = _envelope.encrypt(CONTENT, [rcpt.cert], cipher=cipher)
    (tmp_path / "env.der").write_bytes(der)
    out = openssl("cms", "-decrypt", "-binary", "-inform", "DER", "-in",
                  str(tmp_path / "env.der"), "-recip", str(cert), "-inkey", str(key))
    assert out == CONTENT
    ci = acms.ContentInfo.load(der)
    gcm = cipher in (ContentCipher.AES128_GCM, ContentCipher.AES256_GCM)
    assert ci["content_type"].native == (
        "authenticated_enveloped_data" if gcm else "enveloped_data")
    eci = ci["content"]["auth_encrypted_content_info" if gcm else "encrypted_content_info"]
    alg = eci["content_encryption_algorithm"]["algorithm"].native
    assert alg == {"aes128-gcm": "aes128_gcm", "aes256-gcm": "aes256_gcm",
                   "aes128": "aes128_cbc", "aes256": "aes256_cbc"}[cipher.value]
    ri = ci["content"]["recipient_infos"][0]
    assert ri.name == ("ktri" if kind.startswith("rsa") else "kari")
    assert _envelope.decrypt(der, rcpt.cert, rcpt.key) == CONTENT


def test_default_is_aes256_gcm_with_oaep() -> None:
    rcpt = make_ident("romeo@example.net")
    ci = acms.ContentInfo.load(_envelope.encrypt(CONTENT, [rcpt.cert]))
    assert ci["content_type"].native == "authenticated_enveloped_data"
    aeci = ci["content"]["auth_encrypted_content_info"]
    assert aeci["content_encryption_algorithm"]["algorithm"].native == "aes256_gcm"
    # RFC 5084 §3.2 GCMParameters: 12-byte nonce, ICV length 16
    params = aeci["content_encryption_algorithm"]["parameters"].dump()
    assert params[:4] == b"\x30\x11\x04\x0c" and params[-3:] == b"\x02\x01\x10"
    assert len(ci["content"]["mac"].native) == 16
    ktri = ci["content"]["recipient_infos"][0].chosen
    assert ktri["key_encryption_algorithm"]["algorithm"].native == "rsaes_oaep"
    cbc = acms.ContentInfo.load(_envelope.encrypt(CONTENT, [rcpt.cert], cipher="aes128"))
    assert cbc["content"]["recipient_infos"][0].chosen["key_encryption_algorithm"][
        "algorithm"].native == "rsaes_pkcs1v15"  # the RFC 3923 §6.10 profile
    oaep = acms.ContentInfo.load(_envelope.encrypt(
        CONTENT, [rcpt.cert], cipher=ContentCipher.AES128_CBC,
        key_transport=KeyTransport.RSA_OAEP))
    assert oaep["content"]["recipient_infos"][0].chosen["key_encryption_algorithm"][
        "algorithm"].native == "rsaes_oaep"


OPENSSL_ENCRYPT = [
    (["-aes-256-gcm"], "rsa-2048"),
    (["-aes-128-gcm"], "rsa-2048"),
    (["-aes128"], "rsa-2048"),
    (["-aes256", "-stream"], "rsa-2048"),
    (["-aes-256-gcm", "-keyopt", "rsa_padding_mode:oaep"], "rsa-2048"),  # OAEP SHA-1
    (["-aes-256-gcm", "-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha256"],
     "rsa-2048"),
    (["-aes128", "-keyopt", "rsa_padding_mode:oaep"], "rsa-2048"),
    (["-aes-256-gcm"], "ecdsa-p256"),  # dhSinglePass-stdDH-sha1kdf, OpenSSL's default
    (["-aes-128-gcm", "-keyopt", "ecdh_kdf_md:sha256"], "ecdsa-p256"),
    (["-aes-256-gcm", "-keyopt", "ecdh_kdf_md:sha384"], "ecdsa-p384"),
    (["-aes128", "-stream"], "ecdsa-p384"),
    (["-aes-256-gcm", "-keyopt", "ecdh_kdf_md:sha512"], "ecdsa-p521"),
    (["-aes256", "-keyopt", "ecdh_cofactor_mode:1"], "ecdsa-p256"),
]


@pytest.mark.parametrize(("args", "kind"), OPENSSL_ENCRYPT)
def test_openssl_encrypted_decrypted_by_us(tmp_path: Path, args: list[str], kind: str) -> None:
    rcpt = make_ident("romeo@example.net", kind)
    _key, cert = rcpt.write(tmp_path, "rcpt")
    (tmp_path / "content").write_bytes(CONTENT)
    der = openssl("cms", "-encrypt", "-binary", "-outform", "DER", args[0],
                  "-in", str(tmp_path / "content"), "-recip", str(cert), *args[1:])
    assert _envelope.decrypt(der, rcpt.cert, rcpt.key) == CONTENT


def test_multiple_recipients_of_mixed_types(tmp_path: Path) -> None:
    """Each device certificate of the recipient and the sender's own: RSA, P-256, P-384."""
    idents = [make_ident("romeo@example.net"), make_ident("romeo@example.net", "ecdsa-p256"),
              make_ident("juliet@example.com", "ecdsa-p384")]
    for cipher in (ContentCipher.AES256_GCM, ContentCipher.AES128_CBC):
        der = _envelope.encrypt(CONTENT, [i.cert for i in idents], cipher=cipher)
        (tmp_path / "env.der").write_bytes(der)
        for n, i in enumerate(idents):
            assert _envelope.decrypt(der, i.cert, i.key) == CONTENT
            key, cert = i.write(tmp_path, f"r{n}")
            assert openssl("cms", "-decrypt", "-binary", "-inform", "DER", "-in",
                           str(tmp_path / "env.der"), "-recip", str(cert),
                           "-inkey", str(key)) == CONTENT
    (tmp_path / "content").write_bytes(CONTENT)
    der = openssl("cms", "-encrypt", "-binary", "-outform", "DER", "-aes-256-gcm",
                  "-in", str(tmp_path / "content"),
                  *[str(tmp_path / f"r{n}.pem") for n in range(3)])
    for i in idents:
        assert _envelope.decrypt(der, i.cert, i.key) == CONTENT
    with pytest.raises(DecryptionError):
        other = make_ident("mercutio@example.org", "ecdsa-p256")
        _envelope.decrypt(der, other.cert, other.key)


@pytest.mark.parametrize(
    "args",
    [
        ["-des3"],
        ["-des", "-provider", "legacy", "-provider", "default"],
        ["-rc2", "-provider", "legacy", "-provider", "default"],
        ["-aes192"],
        ["-aes-192-gcm"],
    ],
)
def test_weak_or_unsupported_algorithms(tmp_path: Path, args: list[str]) -> None:
    rcpt = make_ident("romeo@example.net")
    _key, cert = rcpt.write(tmp_path, "rcpt")
    (tmp_path / "content").write_bytes(CONTENT)
    der = openssl("cms", "-encrypt", "-binary", "-outform", "DER", *args,
                  "-in", str(tmp_path / "content"), "-recip", str(cert))
    with pytest.raises(UnsupportedAlgorithm):
        _envelope.decrypt(der, rcpt.cert, rcpt.key)


def _with_gcm_params(der: bytes, params: bytes) -> bytes:
    ci = acms.ContentInfo.load(der)
    alg = ci["content"]["auth_encrypted_content_info"]["content_encryption_algorithm"]
    alg["parameters"] = acore.Any.load(params)
    return bytes(ci.dump(force=True))


def test_gcm_parameters_are_checked() -> None:
    rcpt = make_ident("romeo@example.net")
    der = _envelope.encrypt(CONTENT, [rcpt.cert])
    nonce8 = b"\x30\x0d\x04\x08" + b"n" * 8 + b"\x02\x01\x10"
    icv12 = b"\x30\x0e\x04\x0c" + b"n" * 12  # ICV length absent: DEFAULT 12
    for params in (nonce8, icv12, b"\x05\x00"):
        with pytest.raises((UnsupportedAlgorithm, SMIMEFormatError)):
            _envelope.decrypt(_with_gcm_params(der, params), rcpt.cert, rcpt.key)


def test_recipient_key_requirements() -> None:
    with pytest.raises(KeyLoadError):
        _envelope.encrypt(CONTENT, [make_ident("ed@example.net", "ed25519").cert])
    with pytest.raises(UnsupportedAlgorithm):
        _envelope.encrypt(CONTENT, [make_ident("weak@example.net", "rsa-1024").cert])
    with pytest.raises(UsageError):
        _envelope.encrypt(CONTENT, [make_ident("romeo@example.net").cert], cipher="des")
    with pytest.raises(UsageError):
        _envelope.encrypt(CONTENT, [])


def _variants(cipher: ContentCipher = ContentCipher.AES128_CBC,
              kind: str = "rsa-2048") -> tuple[bytes, list[bytes]]:
    rcpt = make_ident("romeo@example.net", kind)
    der = _envelope.encrypt(CONTENT, [rcpt.cert], cipher=cipher)
    ci = acms.ContentInfo.load(der)
    ri = ci["content"]["recipient_infos"][0].chosen
    holder = ri["recipient_encrypted_keys"][0] if "recipient_encrypted_keys" in ri else ri
    ek = bytearray(holder["encrypted_key"].native)
    ek[10] ^= 0x40
    holder["encrypted_key"] = bytes(ek)
    bad_key = ci.dump(force=True)
    last_block = bytearray(der)
    last_block[-3] ^= 0x01  # CBC: the last ciphertext block (padding); GCM: the tag
    middle = bytearray(der)
    middle[-60] ^= 0x01
    return der, [bytes(last_block), bad_key, bytes(middle)]


@pytest.mark.parametrize("kind", ["rsa-2048", "ecdsa-p256"])
@pytest.mark.parametrize("cipher", [ContentCipher.AES128_CBC, ContentCipher.AES256_GCM])
def test_one_opaque_error_for_every_decryption_failure(cipher: ContentCipher,
                                                       kind: str) -> None:
    rcpt = make_ident("romeo@example.net", kind)
    other = make_ident("mercutio@example.org", kind)
    der, tampered = _variants(cipher, kind)
    errors: list[DecryptionError] = []
    cases = [(der, other)] + [(t, rcpt) for t in tampered]
    for data, who in cases:
        try:
            out = _envelope.decrypt(data, who.cert, who.key)
        except DecryptionError as exc:
            errors.append(exc)
        else:
            # CBC only: a flip in the middle decrypts (malleable), and a key that does not
            # unwrap is replaced by a random one (RFC 3218 §2.3.2), whose garbage plaintext
            # may end in a valid padding by chance; never to the original. The layer above
            # (open_stanza) refuses any of these with the same DecryptionError.
            assert cipher is ContentCipher.AES128_CBC and out != CONTENT
    # GCM: every case fails here (the tag); CBC: at least the padding checks do.
    if cipher is ContentCipher.AES256_GCM:
        assert len(errors) == len(cases)
    else:
        assert errors
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
    der = bytearray(_envelope.encrypt(CONTENT, [rcpt.cert], cipher="aes128"))
    der[-40] ^= 0x01  # penultimate block: flips a bit of the last plaintext block
    out = _envelope.decrypt(bytes(der), rcpt.cert, rcpt.key)
    assert out != CONTENT and len(out) == len(CONTENT)
    gcm = bytearray(_envelope.encrypt(CONTENT, [rcpt.cert]))
    gcm[-40] ^= 0x01  # AES-GCM: any flip fails the tag
    with pytest.raises(DecryptionError):
        _envelope.decrypt(bytes(gcm), rcpt.cert, rcpt.key)


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
