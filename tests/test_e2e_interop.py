"""RFC 3923 / S/MIME interop with the real ``openssl cms`` (issue 17) and the CMS
signingTime window (issue 14): OpenSSL's default LF output, canonical CRLF signed content,
SHA-2 AlgorithmIdentifiers without NULL parameters (RFC 5754 §2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from lxml import etree

from xmppsec.e2e import (
    OpenedStanza,
    _cms,
    _envelope,
    build_cpim,
    gateway_unwrap,
    gateway_wrap,
    open_stanza,
    seal_stanza,
)
from xmppsec.e2e._asn1 import algos, cms
from xmppsec.e2e._element import make_e2e, new_stanza, serialize
from xmppsec.e2e._envelope import ContentCipher
from xmppsec.e2e._mime import (
    build_multipart_signed,
    build_pkcs7_mime,
    parse_entity,
    parse_multipart_signed,
)
from xmppsec.errors import (
    DecryptionError,
    InvalidSignature,
    SMIMEFormatError,
    TimestampError,
)
from xmppsec.trust import TrustStore

if TYPE_CHECKING:  # pytest imports tests/ modules top-level (rootdir mode), mypy by path
    from tests.test_e2e_support import Ident, make_ident, openssl
else:
    from test_e2e_support import Ident, make_ident, openssl

JULIET = "juliet@example.com"
ROMEO = "romeo@example.net"


def juliet() -> Ident:
    return make_ident(JULIET)


def romeo() -> Ident:
    return make_ident(ROMEO)


def trust() -> TrustStore:
    return TrustStore().pin(JULIET, juliet().cert)


def _now() -> datetime:
    # the real clock: openssl writes the real time into signingTime
    return datetime.now(UTC).replace(microsecond=0)


def _openssl_object(tmp_path: Path, *, sign_binary: bool, encrypt: str | None,
                    when: datetime, encrypt_binary: bool = True) -> bytes:
    """``openssl cms -sign`` (then ``-encrypt`` when ``encrypt`` names a cipher) WITHOUT
    ``-crlfeol``: OpenSSL's default output, MIME framing with LF line ends."""
    jk, jc = juliet().write(tmp_path, "juliet")
    _rk, rc = romeo().write(tmp_path, "romeo")
    cpim = build_cpim(sender=JULIET, recipients=[ROMEO], timestamp=when,
                      content_type="text/plain; charset=utf-8", content=b"line one\r\nline two")
    (tmp_path / "cpim").write_bytes(cpim.raw)
    signed = openssl("cms", "-sign", *(["-binary"] if sign_binary else []),
                     "-in", str(tmp_path / "cpim"), "-signer", str(jc), "-inkey", str(jk))
    assert b"\r\n\r\nThis is an S/MIME" not in signed and b"\nThis is an S/MIME signed" in signed
    if encrypt is None:
        return signed
    (tmp_path / "signed").write_bytes(signed)
    return openssl("cms", "-encrypt", *(["-binary"] if encrypt_binary else []), encrypt,
                   "-in", str(tmp_path / "signed"), str(rc))


def _open(stanza: bytes, when: datetime, *, encrypted: bool = True) -> OpenedStanza:
    if encrypted:
        return open_stanza(stanza, trust=trust(), key=romeo().key, certificate=romeo().cert,
                           now=when)
    return open_stanza(stanza, trust=trust(), recipient=ROMEO, now=when)


# -- 1. OpenSSL's default output (LF MIME framing) opens ------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("sign_binary", [False, True])
@pytest.mark.parametrize("encrypt_binary", [False, True])
@pytest.mark.parametrize("cipher", ["-aes128", "-aes-256-gcm"])
def test_openssl_default_lf_output_opens(tmp_path: Path, sign_binary: bool,
                                         encrypt_binary: bool, cipher: str) -> None:
    """issue 17: ``openssl cms -sign | openssl cms -encrypt`` without ``-crlfeol``. With
    ``-binary`` the decrypted plaintext keeps OpenSSL's LF header lines and boundaries."""
    when = _now()
    enc = _openssl_object(tmp_path, sign_binary=sign_binary, encrypt=cipher, when=when,
                          encrypt_binary=encrypt_binary)
    stanza = gateway_wrap(enc, to=ROMEO + "/orchard", sender=JULIET + "/gw",
                          stanza_type="chat")
    o = open_stanza(stanza, trust=trust(), key=romeo().key, certificate=romeo().cert, now=when)
    assert o.signed and o.encrypted and o.signer == JULIET
    assert o.stanza.findtext("{jabber:client}body") == "line one\nline two"


@pytest.mark.integration
def test_openssl_default_lf_signed_only_opens(tmp_path: Path) -> None:
    """A signed-only object from ``openssl cms -sign`` (text mode: the content is signed
    in its CRLF canonical form, RFC 5751 §3.1.1)."""
    when = _now()
    signed = _openssl_object(tmp_path, sign_binary=False, encrypt=None, when=when)
    stanza = gateway_wrap(signed, to=ROMEO, sender=JULIET + "/gw", stanza_type="chat")
    o = open_stanza(stanza, trust=trust(), recipient=ROMEO, now=when)
    assert o.signed and not o.encrypted


@pytest.mark.integration
def test_lf_framing_signed_part_is_exact(tmp_path: Path) -> None:
    """LF framing: the signed part is exactly the bytes OpenSSL signed (its CRLFs kept, the
    LF before the boundary belongs to the delimiter); one changed byte fails."""
    when = _now()
    signed = _openssl_object(tmp_path, sign_binary=True, encrypt=None, when=when)
    entity = parse_entity(signed, lf_ok=True)
    ms = parse_multipart_signed(entity)
    cpim = (tmp_path / "cpim").read_bytes()
    assert ms.signed_part == cpim
    sel = lambda _p: [juliet().cert]  # noqa: E731
    p = _cms.parse(ms.signature)
    assert _cms.verify_parsed(p, select_certificates=sel, detached_content=ms.signed_part)
    with pytest.raises(InvalidSignature):
        _cms.verify_parsed(p, select_certificates=sel,
                           detached_content=ms.signed_part.replace(b"\r\n", b"\n"))


def _lf_multipart(when: datetime) -> bytes:
    """Our multipart/signed re-framed as OpenSSL frames it by default (LF outside the
    signed part)."""
    cpim = build_cpim(sender=JULIET, recipients=[ROMEO], timestamp=when,
                      content_type="text/plain; charset=utf-8", content=b"hi")
    sig = _cms.sign(cpim.raw, juliet().key, juliet().cert, signing_time=when)
    crlf = build_multipart_signed(cpim.raw, sig, digest="sha256", boundary="b0")
    head, _, rest = crlf.partition(b"\r\n\r\n--b0\r\n")
    part, _, sigpart = rest.partition(b"\r\n--b0\r\n")
    sigpart = sigpart.replace(b"\r\n", b"\n")
    return head + b"\n\n--b0\n" + part + b"\n--b0\n" + sigpart


@pytest.mark.parametrize(
    "mutate",
    [
        lambda m: m + b"trailing bytes\n",  # one MIME entity, nothing after it
        lambda m: m.replace(b"\n\n--b0\n", b"\nX-Extra: 1\r\n\n--b0\n", 1),  # mixed line ends
        lambda m: m.replace(b"--b0--", b"--b0\n--b0--"),  # a third part
        lambda m: b"preamble\n" + m.replace(b"\n\n--b0\n", b"\n\njunk\n--b0\n", 1),
    ],
)
def test_lf_framing_keeps_one_entity_rule(mutate: object) -> None:
    when = _now()
    lf = _lf_multipart(when)
    opened = _envelope.encrypt(lf, [romeo().cert])
    root = new_stanza("message", {"from": JULIET + "/b", "to": ROMEO, "type": "chat"})
    make_e2e(root, build_pkcs7_mime(opened, smime_type="authEnveloped-data"))
    assert _open(serialize(root), when)  # the LF-framed object itself opens
    bad = mutate(lf)  # type: ignore[operator]  # a parametrized lambda
    with pytest.raises(SMIMEFormatError):
        parse_multipart_signed(parse_entity(bad, lf_ok=True))
    root = new_stanza("message", {"from": JULIET + "/b", "to": ROMEO, "type": "chat"})
    make_e2e(root, build_pkcs7_mime(_envelope.encrypt(bad, [romeo().cert]),
                                    smime_type="authEnveloped-data"))
    with pytest.raises(DecryptionError):
        _open(serialize(root), when)


def test_lf_header_lines_refused_where_openssl_does_not_write_them() -> None:
    """LF-only header lines are a receiving allowance for the decrypted MIME layer only:
    the default parser, and so CPIM, stays CRLF-exact."""
    with pytest.raises(SMIMEFormatError):
        parse_entity(b"Content-Type: text/plain\n\nhi")


# -- 2. XML payloads are signed in canonical CRLF form --------------------------------------

PRESENCE_NL = (
    b"<presence xmlns='jabber:client' from='juliet@example.com/balcony' "
    b"to='romeo@example.net'><status>first line\nsecond line</status></presence>"
)
IQ_NL = (
    b"<iq xmlns='jabber:client' from='juliet@example.com/balcony' to='romeo@example.net/o' "
    b"type='set' id='q1'><query xmlns='jabber:iq:private'><x xmlns='urn:x'>a\nb</x></query>"
    b"</iq>"
)


@pytest.mark.parametrize("encrypt", [False, True])
def test_signed_presence_with_line_break_opens(encrypt: bool) -> None:
    when = _now()
    sealed = seal_stanza(PRESENCE_NL, key=juliet().key, certificate=juliet().cert,
                         recipients=[romeo().cert] if encrypt else [], encrypt=encrypt,
                         now=when)
    o = _open(sealed, when, encrypted=encrypt)
    assert o.stanza.findtext("{jabber:client}status") == "first line\nsecond line"


def test_signed_xmpp_xml_with_line_break_opens() -> None:
    when = _now()
    sealed = seal_stanza(IQ_NL, key=juliet().key, certificate=juliet().cert, encrypt=False,
                         now=when)
    o = _open(sealed, when, encrypted=False)
    x = o.stanza.find(".//{urn:x}x")
    assert x is not None and x.text == "a\nb"


@pytest.mark.integration
@pytest.mark.parametrize("stanza", [PRESENCE_NL, IQ_NL])
def test_signed_xml_with_line_break_verified_by_openssl(tmp_path: Path, stanza: bytes) -> None:
    """``openssl cms -verify`` (text mode, no ``-binary``) on our signed-only object and on
    the decrypted signed entity of an encrypted one: the signed content is in canonical
    CRLF form, so OpenSSL's canonicalization does not change it."""
    _jk, jc = juliet().write(tmp_path, "juliet")
    rk, rc = romeo().write(tmp_path, "romeo")
    when = _now()
    signed_only = seal_stanza(stanza, key=juliet().key, certificate=juliet().cert,
                              encrypt=False, now=when)
    (tmp_path / "s.smime").write_bytes(gateway_unwrap(signed_only))
    content = openssl("cms", "-verify", "-in", str(tmp_path / "s.smime"), "-CAfile", str(jc),
                      "-purpose", "any")
    assert b"\r\n" in content and b"\n" not in content.replace(b"\r\n", b"")
    sealed = seal_stanza(stanza, key=juliet().key, certificate=juliet().cert,
                         recipients=[romeo().cert], cipher=ContentCipher.AES128_CBC, now=when)
    (tmp_path / "e.smime").write_bytes(gateway_unwrap(sealed))
    dec = openssl("cms", "-decrypt", "-binary", "-in", str(tmp_path / "e.smime"),
                  "-recip", str(rc), "-inkey", str(rk))
    (tmp_path / "d.smime").write_bytes(dec)
    openssl("cms", "-verify", "-in", str(tmp_path / "d.smime"), "-CAfile", str(jc),
            "-purpose", "any")


# -- 3. SHA-2 AlgorithmIdentifiers: parameters absent when writing (RFC 5754 §2) -------------


@pytest.mark.integration
@pytest.mark.parametrize("digest", ["sha1", "sha256", "sha384", "sha512"])
@pytest.mark.parametrize("kind", ["rsa-2048", "ecdsa-p256"])
def test_we_write_digest_algorithms_without_null(tmp_path: Path, digest: str, kind: str) -> None:
    ident = make_ident(JULIET, kind)
    der = _cms.sign(b"x", ident.key, ident.cert, digest=digest)
    (tmp_path / "s.der").write_bytes(der)
    lines = openssl("asn1parse", "-inform", "DER", "-in", str(tmp_path / "s.der")).decode()
    rows = lines.splitlines()
    name = {"sha1": "sha1", "sha256": "sha256", "sha384": "sha384", "sha512": "sha512"}[digest]
    hits = [i for i, r in enumerate(rows) if r.rstrip().endswith(f"OBJECT            :{name}")]
    assert len(hits) == 2  # SignedData.digestAlgorithms and SignerInfo.digestAlgorithm
    for i in hits:
        assert "NULL" not in rows[i + 1], rows[i - 1: i + 2]
        assert "l=  " in rows[i - 1] and "cons: SEQUENCE" in rows[i - 1]


def _with_digest_params(der: bytes, params: bytes) -> bytes:
    """Our SignedData with both digest AlgorithmIdentifiers re-encoded with ``params``
    (the signature covers the signed attributes only, so it still verifies)."""
    ci = cms.ContentInfo.load(der)
    oid = algos.DigestAlgorithmId("sha256").dump()
    if params[:1] not in (b"", b"\x05"):  # asn1crypto refuses to build it: same-size bytes
        null = _with_digest_params(der, b"\x05\x00")
        assert null.count(oid + b"\x05\x00") == 2 and len(params) == 2
        return null.replace(oid + b"\x05\x00", oid + params)
    body = oid + params
    alg = algos.DigestAlgorithm.load(b"\x30" + bytes([len(body)]) + body)
    sd = ci["content"]
    sd["digest_algorithms"] = cms.DigestAlgorithms([alg])
    sd["signer_infos"][0]["digest_algorithm"] = alg.copy()
    out: bytes = ci.dump(force=True)
    return out


@pytest.mark.parametrize(("params", "ok"), [(b"", True), (b"\x05\x00", True),
                                             (b"\x04\x00", False), (b"\x05\x01\x00", False)])
def test_digest_parameters_absent_or_null_accepted_only(params: bytes, ok: bool) -> None:
    ident = juliet()
    der = _with_digest_params(_cms.sign(b"x", ident.key, ident.cert, detached=False), params)
    sel = lambda _p: [ident.cert]  # noqa: E731
    if ok:
        assert _cms.verify(der, select_certificates=sel).content == b"x"
    else:
        with pytest.raises(SMIMEFormatError):
            _cms.verify(der, select_certificates=sel)


@pytest.mark.integration
def test_openssl_verifies_absent_and_we_accept_openssl_null(tmp_path: Path) -> None:
    """Both directions: openssl verifies what we write; we verify a NULL-parameter
    SignedData (as older writers produce), checked with openssl too."""
    ident = juliet()
    _k, c = ident.write(tmp_path, "juliet")
    der = _cms.sign(b"x", ident.key, ident.cert, detached=False)
    for variant in (der, _with_digest_params(der, b"\x05\x00")):
        (tmp_path / "v.der").write_bytes(variant)
        assert openssl("cms", "-verify", "-binary", "-inform", "DER", "-in",
                       str(tmp_path / "v.der"), "-CAfile", str(c), "-purpose", "any") == b"x"
        assert _cms.verify(variant, select_certificates=lambda _p: [ident.cert]).content == b"x"


# -- 4. signingTime lies in the timestamp window (issue 14 §5) --------------------------------


def _signed_with_time(when: datetime, signing_time: datetime, *, encrypt: bool) -> bytes:
    cpim = build_cpim(sender=JULIET, recipients=[ROMEO], timestamp=when,
                      content_type="text/plain; charset=utf-8", content=b"hi")
    sig = _cms.sign(cpim.raw, juliet().key, juliet().cert, signing_time=signing_time)
    entity = build_multipart_signed(cpim.raw, sig, digest="sha256")
    if encrypt:
        entity = build_pkcs7_mime(_envelope.encrypt(entity, [romeo().cert]),
                                  smime_type="authEnveloped-data")
    root = new_stanza("message", {"from": JULIET + "/b", "to": ROMEO, "type": "chat"})
    make_e2e(root, entity)
    return serialize(root)


@pytest.mark.parametrize("offset", [timedelta(hours=-1), timedelta(hours=1),
                                    timedelta(minutes=-5, seconds=-2)])
def test_signing_time_outside_window_refused(offset: timedelta) -> None:
    when = _now()
    with pytest.raises(TimestampError):
        _open(_signed_with_time(when, when + offset, encrypt=False), when, encrypted=False)
    with pytest.raises(DecryptionError):
        _open(_signed_with_time(when, when + offset, encrypt=True), when)


# signingTime has whole seconds: one that says 5:01 ago may have been made 5:00.000 ago
@pytest.mark.parametrize("offset", [timedelta(0), timedelta(minutes=-5), timedelta(minutes=5),
                                    timedelta(minutes=-5, seconds=-1)])
def test_signing_time_inside_window_accepted(offset: timedelta) -> None:
    when = _now()
    assert _open(_signed_with_time(when, when + offset, encrypt=False), when, encrypted=False)
    assert _open(_signed_with_time(when, when + offset, encrypt=True), when)


@pytest.mark.integration
def test_openssl_signing_time_an_hour_old_refused(tmp_path: Path) -> None:
    """openssl writes the real time as signingTime; the CPIM DateTime says an hour later
    and the receiver's clock agrees with it: the signingTime is an hour old."""
    later = _now() + timedelta(hours=1)
    signed = _openssl_object(tmp_path, sign_binary=False, encrypt=None, when=later)
    stanza = gateway_wrap(signed, to=ROMEO, sender=JULIET + "/gw", stanza_type="chat")
    with pytest.raises(TimestampError):
        open_stanza(stanza, trust=trust(), recipient=ROMEO, now=later)
    (tmp_path / "s").write_bytes(signed)
    _rk, rc = romeo().write(tmp_path, "romeo")
    enc = openssl("cms", "-encrypt", "-binary", "-aes-256-gcm", "-in", str(tmp_path / "s"),
                  str(rc))
    stanza = gateway_wrap(enc, to=ROMEO, sender=JULIET + "/gw", stanza_type="chat")
    with pytest.raises(DecryptionError):
        _open(stanza, later)


def test_inner_xml_is_not_changed() -> None:
    """Canonical CRLF changes no XML: the inner stanza parses to the same text."""
    when = _now()
    sealed = seal_stanza(IQ_NL, key=juliet().key, certificate=juliet().cert, encrypt=False,
                         now=when)
    o = _open(sealed, when, encrypted=False)
    assert etree.tostring(o.stanza).count(b"\r") == 0


@pytest.mark.parametrize("raw_time", [b"\x18\x0e20260101120000", b"\x18\x0f00000101120000Z"])
def test_signing_time_without_zone_or_year_zero_is_malformed(raw_time: bytes) -> None:
    """A signingTime that has no place on the receiver's clock (no zone, year 0) is a
    format error, not silently ignored."""
    der = _cms.sign(b"x", juliet().key, juliet().cert, detached=False)
    ci = cms.ContentInfo.load(der)
    si = ci["content"]["signer_infos"][0]
    attrs = [a for a in si["signed_attrs"] if a["type"].native != "signing_time"]
    oid = b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x09\x05"  # id-signingTime
    values = b"\x31" + bytes([len(raw_time)]) + raw_time
    attrs.append(cms.CMSAttribute.load(b"\x30" + bytes([len(oid + values)]) + oid + values))
    si["signed_attrs"] = cms.CMSAttributes(attrs)
    der = ci.dump()  # not force: the loaded attribute keeps its bytes
    assert raw_time in der
    with pytest.raises(SMIMEFormatError):
        _cms.parse(der)
