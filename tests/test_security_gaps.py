"""Security cases 31-35 (RFC 3923 S/MIME, the shared security-case catalogue) end to
end, through :func:`xmppsec.e2e.open_stanza`: a test named after each case, so that
tests/test_security_cases.py finds one for every case. The unit-level tests of the same
shapes live in tests/test_e2e_*.py; these drive the whole receiving path.
"""

from __future__ import annotations

import base64
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from lxml import etree

from xmppsec.algorithms import DigestName
from xmppsec.e2e import NS_E2E, CipherName, _envelope, build_cpim, open_stanza, seal_stanza
from xmppsec.e2e._asn1 import cms as acms
from xmppsec.e2e._element import make_e2e, new_stanza, serialize
from xmppsec.e2e._mime import build_pkcs7_mime
from xmppsec.errors import (
    DecryptionError,
    LimitExceeded,
    NotSigned,
    SMIMEFormatError,
    StanzaSchemaError,
    UnsupportedAlgorithm,
    UntrustedKey,
    XmppSecError,
)
from xmppsec.trust import TrustStore

if TYPE_CHECKING:
    from tests.conftest import require_program
    from tests.test_e2e_support import Ident, make_ident, openssl
else:
    from conftest import require_program
    from test_e2e_support import Ident, make_ident, openssl

NOW = datetime.now(UTC).replace(microsecond=0)
JULIET = "juliet@example.com"
ROMEO = "romeo@example.net"
MSG = (
    b"<message xmlns='jabber:client' from='juliet@example.com/balcony' "
    b"to='romeo@example.net/orchard' type='chat' id='g1'>"
    b"<body>Meet me at the balcony at nine; bring the ladder and the rope.</body></message>"
)
ATTRS = {
    "from": "juliet@example.com/balcony",
    "to": "romeo@example.net/orchard",
    "type": "chat",
    "id": "g1",
}


def juliet() -> Ident:
    return make_ident(JULIET)


def romeo() -> Ident:
    return make_ident(ROMEO)


def seal(*, sign: bool = True, encrypt: bool = True, digest: DigestName = "sha256",
         cipher: CipherName = "aes256-gcm") -> bytes:
    j = juliet()
    return seal_stanza(MSG, key=j.key, certificate=j.cert, recipients=[romeo().cert],
                       sign=sign, encrypt=encrypt, digest=digest, cipher=cipher, now=NOW)


def open_(data: bytes, *, who: Ident | None = None, trust: TrustStore | None = None,
          allow_sha1: bool = False, allow_unsigned: bool = False) -> object:
    r = who or romeo()
    return open_stanza(data, trust=trust or TrustStore().pin(JULIET, juliet().cert),
                       key=r.key, certificate=r.cert, now=NOW, allow_sha1=allow_sha1,
                       allow_unsigned=allow_unsigned)


def with_entity(entity: bytes) -> bytes:
    """The sealed stanza's envelope with another S/MIME entity in its <e2e/>."""
    out = new_stanza("message", ATTRS)
    make_e2e(out, entity)
    return serialize(out)


def enveloped_der(sealed: bytes) -> bytes:
    root = etree.fromstring(sealed)
    text = (root[0].text or "").strip().replace("\n", "\r\n").encode()
    _head, _, body = text.partition(b"\r\n\r\n")
    return base64.b64decode(body)


def assert_fast_and(expected: tuple[type[XmppSecError], ...], data: bytes) -> XmppSecError:
    start = time.perf_counter()
    with pytest.raises(expected) as info:
        open_(data)
    assert time.perf_counter() - start < 0.5
    return info.value


# -- 31 -----------------------------------------------------------------------------------


@pytest.mark.parametrize("smime_type", ["enveloped-data", "signed-data"])
def test_smime_malformed_der(smime_type: str) -> None:
    """Truncated DER (half, or one byte short), empty, random bytes, a 4 GiB length field,
    5,000-deep BER nesting, bad base64: SMIMEFormatError (or LimitExceeded for the
    nesting), fast; cryptography's ParseError never leaks as ValueError."""
    good = enveloped_der(seal())
    variants = [
        good[: len(good) // 2],
        good[:-1],
        os.urandom(300),
        b"\x30\x84\xff\xff\xff\xff" + good[6:],
        b"\x30\x80" * 5000 + b"\x00\x00" * 5000,
    ]
    for der in variants:
        entity = build_pkcs7_mime(der, smime_type=smime_type)
        assert_fast_and((SMIMEFormatError, LimitExceeded), with_entity(entity))
    head = build_pkcs7_mime(b"\x30\x00", smime_type=smime_type).split(b"\r\n\r\n")[0]
    for body in (b"", b"!!!not base64!!!", b"MIIB", b"MA==\r\n===="):
        assert_fast_and((SMIMEFormatError,), with_entity(head + b"\r\n\r\n" + body))


# -- 32 -----------------------------------------------------------------------------------


def test_smime_wrong_recipient_or_tampered() -> None:
    """Encrypted to another certificate, the last ciphertext block flipped, the
    encryptedKey flipped: one DecryptionError, same type and message every time."""
    sealed = seal()
    der = enveloped_der(sealed)
    ci = acms.ContentInfo.load(der)
    ek = bytearray(ci["content"]["recipient_infos"][0].chosen["encrypted_key"].native)
    ek[7] ^= 0x20
    ci["content"]["recipient_infos"][0].chosen["encrypted_key"] = bytes(ek)
    bad_key = ci.dump(force=True)
    last_block = bytearray(der)
    last_block[-5] ^= 0x01
    errors: list[XmppSecError] = []
    for data, who in [
        (sealed, make_ident("mercutio@example.org")),
        (with_entity(build_pkcs7_mime(bytes(last_block), smime_type="enveloped-data")), None),
        (with_entity(build_pkcs7_mime(bad_key, smime_type="enveloped-data")), None),
    ]:
        with pytest.raises(XmppSecError) as info:
            open_(data, who=who)
        errors.append(info.value)
    assert {(type(e), str(e)) for e in errors} == {(DecryptionError, "decryption failed")}


# -- 33 -----------------------------------------------------------------------------------


def test_smime_cbc_bitflip_unsigned() -> None:
    """A flipped bit in a ciphertext block: CBC decryption succeeds with altered plaintext,
    so encrypted-only content is refused by default, and signed content fails its
    signature."""
    r = romeo()
    for signed in (False, True):
        sealed = seal(sign=signed, cipher="aes128")  # CBC EnvelopedData (RFC 3923 MTI)
        der = bytearray(enveloped_der(sealed))
        plain = _envelope.decrypt(bytes(der), r.cert, r.key)
        der[-40] ^= 0x01  # inside the third-last block: the padding stays intact
        altered = _envelope.decrypt(bytes(der), r.cert, r.key)
        assert altered != plain and len(altered) == len(plain)  # malleable, no error
        tampered = with_entity(build_pkcs7_mime(bytes(der), smime_type="enveloped-data"))
        with pytest.raises(XmppSecError) as info:
            open_(tampered)
        # issue 13: after the key unwrap, one opaque error whatever went wrong
        assert isinstance(info.value, DecryptionError)
    # the untampered encrypted-only object is refused too unless asked for (opaquely),
    # and only from AES-GCM AuthEnvelopedData, never from malleable CBC
    with pytest.raises(DecryptionError):
        open_(seal(sign=False))
    assert open_(seal(sign=False), allow_unsigned=True) is not None
    with pytest.raises(DecryptionError):
        open_(seal(sign=False, cipher="aes128"), allow_unsigned=True)


# -- 34 -----------------------------------------------------------------------------------


def _cpim() -> bytes:
    return build_cpim(sender=JULIET, recipients=[ROMEO], timestamp=NOW,
                      content_type="text/plain; charset=utf-8", content=b"hello").raw


def test_smime_weak_algs(tmp_path: Path) -> None:
    """SHA-1 and MD5 digests, DES/3DES/RC2 content encryption, an RSA-1024 signer:
    UnsupportedAlgorithm (UntrustedKey for the key)."""
    require_program("openssl")
    # SHA-1 (RFC 3923's MTI) is refused unless the caller opts in
    sha1 = seal(digest="sha1", encrypt=False)
    with pytest.raises(UnsupportedAlgorithm):
        open_(sha1)
    assert open_(sha1, allow_sha1=True) is not None
    with pytest.raises(DecryptionError):  # encrypted: opaque after the key unwrap (issue 13)
        open_(seal(digest="sha1"))
    j = juliet()
    key, cert = j.write(tmp_path, "juliet")
    content = tmp_path / "cpim"
    content.write_bytes(_cpim())
    md5 = openssl("cms", "-sign", "-binary", "-nodetach", "-outform", "DER", "-md", "md5",
                  "-in", str(content), "-signer", str(cert), "-inkey", str(key))
    with pytest.raises(UnsupportedAlgorithm):
        open_(with_entity(build_pkcs7_mime(md5, smime_type="signed-data")))
    # weak content encryption around a well-signed object
    inner = tmp_path / "inner"
    entity = etree.fromstring(seal(encrypt=False))[0].text or ""
    inner.write_bytes(entity.strip().replace("\n", "\r\n").encode() + b"\r\n")
    _, rcert = romeo().write(tmp_path, "romeo")
    for cipher in (["-des3"], ["-des", "-provider", "legacy", "-provider", "default"],
                   ["-rc2", "-provider", "legacy", "-provider", "default"]):
        der = openssl("cms", "-encrypt", "-binary", "-outform", "DER", *cipher,
                      "-in", str(inner), "-recip", str(rcert))
        with pytest.raises(UnsupportedAlgorithm):
            open_(with_entity(build_pkcs7_mime(der, smime_type="enveloped-data")))
    # an RSA-1024 signing key
    weak = make_ident(JULIET, "rsa-1024")
    wkey, wcert = weak.write(tmp_path, "weak")
    signed = openssl("cms", "-sign", "-binary", "-nodetach", "-outform", "DER", "-md", "sha256",
                     "-in", str(content), "-signer", str(wcert), "-inkey", str(wkey))
    with pytest.raises((UnsupportedAlgorithm, UntrustedKey)):
        open_(with_entity(build_pkcs7_mime(signed, smime_type="signed-data")),
              trust=TrustStore().with_resolver(lambda jid: [weak.cert]))


# -- 35 -----------------------------------------------------------------------------------


def test_e2e_namespace_variant() -> None:
    """<e2e/> in urn:ietf:params:xml:xmpp-e2e (RFC 3923 spells it both ways) or a wrong
    element name: not processed as e2e (StanzaSchemaError / NotSigned), never decrypted."""
    sealed = seal()
    variant = sealed.replace(NS_E2E.encode(), b"urn:ietf:params:xml:xmpp-e2e")
    assert variant != sealed
    with pytest.raises(StanzaSchemaError):
        open_(variant)
    renamed = sealed.replace(b"<e2e ", b"<E2E ").replace(b"</e2e>", b"</E2E>")
    assert renamed != sealed
    with pytest.raises(NotSigned):
        open_(renamed)
    # the right one next to the variant is still processed once, never twice
    extra = variant[variant.index(b"<e2e") : variant.index(b"</message>")]
    both = sealed.replace(b"</message>", extra + b"</message>")
    assert open_(both) is not None
