"""Sealing and opening stanzas (RFC 3923 §3–§8) and security-cases.md categories A (on the
decrypted content) and E."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from xmppsec.algorithms import DigestMethod, SignatureMethod
from xmppsec.e2e import (
    NS_E2E,
    OpenedStanza,
    _cms,
    _envelope,
    build_cpim,
    error_condition,
    error_stanza,
    gateway_unwrap,
    gateway_wrap,
    open_stanza,
    received_error_condition,
    seal_stanza,
)
from xmppsec.e2e._element import make_e2e, new_stanza, serialize
from xmppsec.e2e._envelope import ContentCipher
from xmppsec.e2e._mime import build_multipart_signed, build_pkcs7_mime
from xmppsec.errors import (
    DecryptionError,
    LimitExceeded,
    NotSigned,
    ReplayError,
    RestrictedXMLError,
    SignerMismatch,
    SMIMEFormatError,
    StanzaMismatch,
    StanzaSchemaError,
    TimestampError,
    UnsupportedAlgorithm,
    UntrustedKey,
    UsageError,
    XmppSecError,
)
from xmppsec.replay import MemoryReplayStore
from xmppsec.schema import validate
from xmppsec.trust import TrustStore

if TYPE_CHECKING:  # pytest imports tests/ modules top-level (rootdir mode), mypy by path
    from tests.test_e2e_support import Ident, make_ident, openssl
else:
    from test_e2e_support import Ident, make_ident, openssl

NOW = datetime.now(UTC).replace(microsecond=123000)
JULIET = "juliet@example.com"
ROMEO = "romeo@example.net"
MSG = (
    b"<message xmlns='jabber:client' from='juliet@example.com/balcony' "
    b"to='romeo@example.net/orchard' type='chat' id='m1' xml:lang='en'>"
    b"<body>Wherefore art thou, Romeo?\nSecond line \xc3\xa9</body></message>"
)
PRESENCE = (
    b"<presence xmlns='jabber:client' from='juliet@example.com/balcony' "
    b"to='romeo@example.net'><show>away</show><status>On the balcony</status></presence>"
)
IQ = (
    b"<iq xmlns='jabber:client' from='juliet@example.com/balcony' to='romeo@example.net/orchard' "
    b"type='get' id='v1'><query xmlns='jabber:iq:version'/></iq>"
)


def juliet() -> Ident:
    return make_ident(JULIET)


def romeo() -> Ident:
    return make_ident(ROMEO)


def trust_juliet() -> TrustStore:
    return TrustStore().pin(JULIET, juliet().cert)


def seal(stanza: bytes = MSG, **kw: object) -> bytes:
    args: dict[str, object] = {
        "key": juliet().key, "certificate": juliet().cert, "recipients": [romeo().cert],
        "now": NOW,
    }
    args.update(kw)
    return seal_stanza(stanza, **args)  # type: ignore[arg-type]  # kwargs dict of mixed value types


def open_(sealed: bytes, **kw: object) -> OpenedStanza:
    args: dict[str, object] = {
        "trust": trust_juliet(), "key": romeo().key, "certificate": romeo().cert, "now": NOW,
    }
    args.update(kw)
    return open_stanza(sealed, **args)  # type: ignore[arg-type]  # kwargs dict of mixed value types


# -- round trips ----------------------------------------------------------------------------


def test_message_round_trip_text_plain() -> None:
    sealed = seal()
    root = etree.fromstring(sealed)
    assert root.get("to") == "romeo@example.net/orchard" and root.get("id") == "m1"
    assert [c.tag for c in root] == [f"{{{NS_E2E}}}e2e"]
    assert b"<![CDATA[" in sealed and b"Wherefore" not in sealed
    validate(sealed)  # the xmpp-e2e schema accepts what we send
    o = open_stanza(sealed, trust=trust_juliet(), key=romeo().key,
                    certificate=romeo().cert, now=NOW)
    assert o.signed and o.encrypted and o.signer == JULIET
    assert o.content_type == "text/plain"
    assert o.timestamp == NOW
    assert o.stanza.findtext("{jabber:client}body") == "Wherefore art thou, Romeo?\nSecond line é"
    assert o.stanza.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
    assert o.digest_algorithm == "sha256" and o.digest_method is DigestMethod.SHA256


def test_digest_vocabulary_and_usage_errors() -> None:
    """xmppsec.algorithms' DigestMethod names the digest; legacy names still work; the
    caller's mistakes are UsageError."""
    o = open_(seal(digest=DigestMethod.SHA384, encrypt=False))
    assert o.digest_method is DigestMethod.SHA384 and o.digest_algorithm == "sha384"
    assert o.signature_method is SignatureMethod.RSA_SHA384
    assert open_(seal(pss=True)).signature_method is SignatureMethod.RSA_PSS_SHA256
    ec = make_ident(JULIET, "ecdsa-p256")
    o = open_(seal(key=ec.key, certificate=ec.cert), trust=TrustStore().pin(JULIET, ec.cert))
    assert o.signature_method is SignatureMethod.ECDSA_SHA256
    assert open_(seal(digest="sha-512")).digest_method is DigestMethod.SHA512
    for bad in ({"digest": "md5"}, {"cipher": "des"}, {"recipients": ()}):
        with pytest.raises(UsageError):
            seal(**bad)


def test_wrong_key_or_certificate_types_are_usage_errors() -> None:
    """The signatures say it for mypy users; callers without mypy get a UsageError naming
    the mistake (a certificate passed as the key, PEM bytes, a key as the certificate),
    before any work and never an AttributeError from deep inside."""
    j, r = juliet(), romeo()
    pem = b"-----BEGIN PRIVATE KEY-----\n"
    for bad, what in (
        ({"key": j.cert}, "key must be a private key"),
        ({"key": pem}, "key must be a private key"),
        ({"key": j.key.public_key()}, "key must be a private key"),
        ({"certificate": j.key}, "certificate must be an x509.Certificate"),
        ({"recipients": [pem]}, "recipients must be an x509.Certificate"),
        ({"recipients": [r.key]}, "recipients must be an x509.Certificate"),
    ):
        with pytest.raises(UsageError, match=what):
            seal(**bad)
    sealed = seal()
    for bad, what in (
        ({"key": r.cert}, "key must be a private key"),
        ({"key": pem}, "key must be a private key"),
        ({"certificate": r.key}, "certificate must be an x509.Certificate"),
    ):
        with pytest.raises(UsageError, match=what):
            open_(sealed, **bad)
    assert open_(sealed).signer == JULIET  # the right types still open it


def test_iq_and_rich_message_as_xmpp_xml() -> None:
    rich = MSG.replace(b"<body>", b"<thread>t1</thread><body>")
    for stanza in (IQ, rich):
        o = open_stanza(seal(stanza), trust=trust_juliet(), key=romeo().key,
                        certificate=romeo().cert, now=NOW)
        assert o.content_type == "application/xmpp+xml"
        assert etree.tostring(o.stanza, method="c14n") == etree.tostring(
            etree.fromstring(stanza), method="c14n")


def test_presence_round_trip_pidf() -> None:
    o = open_stanza(seal(PRESENCE), trust=trust_juliet(), key=romeo().key,
                    certificate=romeo().cert, now=NOW)
    assert o.content_type == "application/pidf+xml"
    assert o.stanza.findtext("{jabber:client}status") == "On the balcony"
    assert o.stanza.get("type") is None
    off = PRESENCE.replace(b"to='romeo@example.net'", b"to='romeo@example.net' type='unavailable'")
    o = open_stanza(seal(off), trust=trust_juliet(), key=romeo().key,
                    certificate=romeo().cert, now=NOW)
    assert o.stanza.get("type") == "unavailable"


@pytest.mark.parametrize("kind", ["ecdsa-p256", "rsa-2048"])
@pytest.mark.parametrize("digest", ["sha256", "sha512"])
def test_signed_only(kind: str, digest: str) -> None:
    signer = make_ident(JULIET, kind)
    trust = TrustStore().pin(JULIET, signer.cert)
    sealed = seal(key=signer.key, certificate=signer.cert, encrypt=False, digest=digest,
                  recipients=())
    assert b"multipart/signed" in sealed and b"Wherefore" in sealed
    o = open_stanza(sealed, trust=trust, now=NOW)
    assert o.signed and not o.encrypted and o.digest_algorithm == digest


def test_sha1_mti_only_when_allowed() -> None:
    sealed = seal(digest="sha1", pss=True)
    with pytest.raises(DecryptionError):  # encrypted: opaque after the key unwrap
        open_(sealed)
    with pytest.raises(UnsupportedAlgorithm):
        open_(seal(digest="sha1", encrypt=False))
    o = open_stanza(sealed, trust=trust_juliet(), key=romeo().key, certificate=romeo().cert,
                    now=NOW, allow_sha1=True)
    assert o.digest_algorithm == "sha1"


def test_certificate_may_be_omitted_when_pinned() -> None:
    o = open_(seal(include_certificate=False, cipher="aes256"))
    assert o.signed


# -- directed presence, stanza shape ------------------------------------------------------


def test_presence_must_be_directed() -> None:
    broadcast = PRESENCE.replace(b" to='romeo@example.net'", b"")
    with pytest.raises(StanzaSchemaError):
        seal(broadcast)
    sealed = seal(PRESENCE).replace(b" to=\"romeo@example.net\"", b"")
    assert b"to=" not in sealed
    with pytest.raises(StanzaSchemaError):
        open_(sealed)


def test_namespace_variant_is_not_processed() -> None:
    """security-cases #35: the misspelled namespace is never decrypted."""
    sealed = seal().replace(NS_E2E.encode(), b"urn:ietf:params:xml:xmpp-e2e")
    with pytest.raises(StanzaSchemaError):
        open_(sealed)
    renamed = seal().replace(b"<e2e ", b"<e2ee ").replace(b"</e2e>", b"</e2ee>")
    with pytest.raises(NotSigned):
        open_(renamed)


def test_e2e_element_shape() -> None:
    sealed = seal()
    with pytest.raises(StanzaSchemaError):
        open_(sealed.replace(b"</message>", b"<e2e xmlns='" + NS_E2E.encode() + b"'/></message>"))
    with pytest.raises(StanzaSchemaError):
        open_(sealed.replace(b"]]></e2e>", b"]]><x/></e2e>"))
    with pytest.raises(NotSigned):
        open_(MSG)


# -- identity -------------------------------------------------------------------------------


def test_attacker_certificate_claiming_victim_is_untrusted() -> None:
    """security-cases #24: a self-signed cert with the victim's xmppAddr."""
    fake = make_ident(JULIET, "ecdsa-p256")
    with pytest.raises(UntrustedKey):
        open_(seal(key=fake.key, certificate=fake.cert, encrypt=False))
    with pytest.raises(DecryptionError):
        open_(seal(key=fake.key, certificate=fake.cert))


def test_outer_from_rewritten() -> None:
    mallory = make_ident("mallory@evil.example")
    trust = trust_juliet().pin("mallory@evil.example", mallory.cert)
    with pytest.raises(UsageError):
        seal(key=mallory.key, certificate=mallory.cert)  # the caller's mistake: refused
    # Mallory signs a CPIM object claiming to be Juliet with her own key
    sealed = craft(MSG_XML_PAYLOAD, signer=mallory)
    with pytest.raises(DecryptionError):
        open_(craft(MSG_XML_PAYLOAD, signer=mallory, encrypt=True), trust=trust)
    with pytest.raises(UntrustedKey):
        open_(sealed, trust=trust)  # from=juliet: Mallory's key is not Juliet's
    rewritten = sealed.replace(b"juliet@example.com/balcony", b"mallory@evil.example/x")
    with pytest.raises(SignerMismatch):
        open_(rewritten, trust=trust)  # CPIM From (juliet) != stanza from (mallory)


def test_resource_is_ignored_but_bare_jid_matters() -> None:
    sealed = seal().replace(b"juliet@example.com/balcony", b"juliet@example.com/other")
    assert open_(sealed).signer == JULIET


def test_cpim_to_must_match_stanza_to() -> None:
    benvolio = make_ident("benvolio@example.net")
    sealed = seal(encrypt=False).replace(b"romeo@example.net/orchard", b"benvolio@example.net")
    with pytest.raises(StanzaMismatch):
        open_(sealed, key=benvolio.key, certificate=benvolio.cert)
    with pytest.raises(StanzaMismatch):  # and it is not addressed to Romeo either
        open_(sealed)
    encrypted = seal(recipients=[benvolio.cert]).replace(b"romeo@example.net/orchard",
                                                         b"benvolio@example.net")
    with pytest.raises(DecryptionError):
        open_(encrypted, key=benvolio.key, certificate=benvolio.cert)


# -- timestamps and replay ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delta", "kind"),
    [(timedelta(minutes=5, milliseconds=1), "old"), (-timedelta(minutes=5, milliseconds=1),
                                                     "future")],
)
def test_timestamp_window(delta: timedelta, kind: str) -> None:
    sealed = seal(encrypt=False)
    with pytest.raises(TimestampError) as info:
        open_(sealed, now=NOW + delta)
    assert info.value.kind == kind
    assert error_condition(info.value) == "bad-timestamp"
    open_(sealed, now=NOW + delta - (delta / abs(delta.total_seconds())) * 0.001)
    encrypted = seal()
    with pytest.raises(DecryptionError) as dinfo:  # issue 13: opaque after the key unwrap
        open_(encrypted, now=NOW + delta)
    assert error_condition(dinfo.value) == "decryption-failed"
    open_(encrypted, now=NOW + delta - (delta / abs(delta.total_seconds())) * 0.001)


def test_replay_and_decreasing_timestamps() -> None:
    store = MemoryReplayStore()
    early = seal(now=NOW - timedelta(seconds=30), encrypt=False)
    late = seal(now=NOW, encrypt=False)
    open_(late, replay=store)
    with pytest.raises(ReplayError) as info:
        open_(late, replay=store)
    assert error_condition(info.value) == "bad-timestamp"
    with pytest.raises(ReplayError):
        open_(early, replay=store)  # older than one already accepted: "decreasing"
    store = MemoryReplayStore()
    early, late = seal(now=NOW - timedelta(seconds=30)), seal(now=NOW)
    open_(late, replay=store)
    for again in (late, early):
        with pytest.raises(DecryptionError):  # encrypted: opaque after the key unwrap
            open_(again, replay=store)


# -- encryption policy (security-cases #32, #33) -------------------------------------------


def test_encrypted_only_refused_unless_allowed() -> None:
    sealed = seal(sign=False)
    with pytest.raises(DecryptionError):  # refused, opaquely (after the key unwrap)
        open_(sealed)
    o = open_(sealed, allow_unsigned=True)
    assert o.signer is None and o.encrypted and o.authenticated_encryption
    with pytest.raises(DecryptionError):  # CBC without a signature is malleable: never
        open_(seal(sign=False, cipher="aes128"), allow_unsigned=True)
    with pytest.raises(UsageError):
        seal(sign=False, encrypt=False)


def _flip_ciphertext(sealed: bytes, line_from_end: int) -> bytes:
    text = etree.fromstring(sealed)[0].text or ""
    lines = text.strip().split("\n")
    b64 = lines[-line_from_end]
    flipped = ("B" if b64[5] == "A" else "A").join([b64[:5], b64[6:]])
    lines[-line_from_end] = flipped
    return sealed.replace(b64.encode(), flipped.encode())


@pytest.mark.parametrize("line_from_end", [1, 2, 4])
def test_tampered_ciphertext_never_accepted(line_from_end: int) -> None:
    sealed = seal()
    bad = _flip_ciphertext(sealed, line_from_end)
    assert bad != sealed
    with pytest.raises(XmppSecError) as info:
        open_(bad)
    assert error_condition(info.value) in ("decryption-failed", "signature-unverified")


def test_wrong_recipient_is_decryption_failed() -> None:
    other = make_ident("mercutio@example.org")
    with pytest.raises(DecryptionError) as info:
        open_(seal(), key=other.key, certificate=other.cert)
    assert error_condition(info.value) == "decryption-failed"
    assert str(info.value) == "decryption failed"


# -- hostile content inside a valid, signed and encrypted object (category A) -------------


MSG_XML_PAYLOAD = b"<xmpp xmlns='jabber:client'><message><body>hi</body></message></xmpp>"


def craft(content: bytes, content_type: str = "application/xmpp+xml", *,
          kind: str = "message", attrs: dict[str, str] | None = None,
          signer: Ident | None = None, encrypt: bool = False) -> bytes:
    """What a legitimate-but-hostile sender could produce: any CPIM content (From: Juliet),
    properly signed (by Juliet unless ``signer``), encrypted to Romeo if ``encrypt``."""
    who = signer or juliet()
    cpim = build_cpim(sender=JULIET, recipients=[ROMEO], timestamp=NOW,
                      content_type=content_type, content=content)
    sig = _cms.sign(cpim.raw, who.key, who.cert, signing_time=NOW)
    entity = build_multipart_signed(cpim.raw, sig, digest="sha256")
    if encrypt:
        entity = build_pkcs7_mime(_envelope.encrypt(entity, [romeo().cert]),
                                  smime_type="authEnveloped-data")
    root = new_stanza(kind, attrs or {"from": JULIET + "/balcony", "to": ROMEO})
    make_e2e(root, entity)
    return serialize(root)


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b'<!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
         b"<xmpp xmlns='jabber:client'><message><body>&b;</body></message></xmpp>",
         RestrictedXMLError),
        (b"<xmpp xmlns='jabber:client'><message><body>pay alice<!-- -->bob</body></message>"
         b"</xmpp>", RestrictedXMLError),
        (b"<xmpp xmlns='jabber:client'><message><?pi x?></message></xmpp>", RestrictedXMLError),
        (b"<xmpp xmlns='jabber:client'><message><body>&foo;</body></message></xmpp>",
         RestrictedXMLError),
        (b"<xmpp xmlns='jabber:client'><message>" + b"<a>" * 200 + b"</a>" * 200
         + b"</message></xmpp>", LimitExceeded),
        (b"<xmpp xmlns='jabber:client'><message/><message/></xmpp>", StanzaSchemaError),
        (b"<xmpp xmlns='jabber:client'><iq type='get' id='1'><q xmlns='x:y'/></iq></xmpp>",
         StanzaMismatch),
        (b"<xmpp xmlns='jabber:client'><message from='mallory@evil.example'/></xmpp>",
         SignerMismatch),
        (b"<xmpp xmlns='jabber:client'><message to='tybalt@example.org'/></xmpp>",
         StanzaMismatch),
        (b"<xmpp xmlns='urn:other'><message/></xmpp>", StanzaSchemaError),
        (b"<xmpp xmlns='jabber:client'><message type='bogus'/></xmpp>", StanzaSchemaError),
        (b"<?xml version='1.0' encoding='ISO-8859-1'?><xmpp xmlns='jabber:client'>"
         b"<message/></xmpp>", RestrictedXMLError),
        ("<xmpp xmlns='jabber:client'><message/></xmpp>".encode("utf-16"), RestrictedXMLError),
    ],
)
def test_hostile_decrypted_content(payload: bytes, error: type[Exception]) -> None:
    try:
        signed = craft(payload)
    except SMIMEFormatError:  # UTF-16: not XML text, cannot travel signed-only
        signed = b""
    if signed:
        with pytest.raises(error):
            open_(signed)  # signed only: the reason is given
    with pytest.raises(DecryptionError):  # encrypted: the one opaque error
        open_(craft(payload, encrypt=True))


def test_xinclude_in_decrypted_content_is_never_expanded() -> None:
    """security-cases #7: an ordinary unknown element."""
    o = open_(craft(b"<xmpp xmlns='jabber:client'><message><xi:include xmlns:xi="
                    b"'http://www.w3.org/2001/XInclude' href='/etc/passwd' parse='text'/>"
                    b"</message></xmpp>"))
    inc = o.stanza.find("{http://www.w3.org/2001/XInclude}include")
    assert inc is not None and inc.text is None and len(inc) == 0
    assert b"root:" not in o.xml


def test_pidf_entity_must_be_signer() -> None:
    pidf = (b"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='pres:mallory@evil.example'>"
            b"<tuple id='t'><status><basic>open</basic></status></tuple></presence>")
    with pytest.raises(SignerMismatch):
        open_(craft(pidf, "application/pidf+xml", kind="presence"))
    with pytest.raises(StanzaSchemaError):
        open_(craft(pidf.replace(b"mallory@evil.example", JULIET.encode()), "application/pidf+xml",
                    kind="message"))


# -- §7 errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "stanza_condition"),
    [("bad-timestamp", "not-acceptable"), ("signature-unverified", "not-acceptable"),
     ("decryption-failed", "bad-request")],
)
def test_error_stanza(condition: str, stanza_condition: str) -> None:
    reply = error_stanza(seal(), condition)
    root = validate(reply)
    assert root.get("type") == "error"
    assert root.get("to") == "juliet@example.com/balcony"
    assert root.get("from") == "romeo@example.net/orchard"
    assert root.get("id") == "m1"
    err = root.find("{jabber:client}error")
    assert err is not None
    assert err.find(f"{{urn:ietf:params:xml:ns:xmpp-stanzas}}{stanza_condition}") is not None
    assert received_error_condition(reply) == condition


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        (b"<unverified-signature xmlns='urn:ietf:params:xml:xmpp-e2e'/>", "signature-unverified"),
        (b"<signature-unverified xmlns='urn:ietf:params:xml:ns:xmpp-e2e'/>", "signature-unverified"),
        (b"<decryption-failed xmlns='urn:ietf:params:xml:xmpp-e2e'/>", "decryption-failed"),
        (b"<bad-timestamp xmlns='urn:ietf:params:xml:xmpp-e2e'/>", "bad-timestamp"),
        (b"<bad-timestamp xmlns='urn:example'/>", None),
    ],
)
def test_received_error_misspellings(xml: bytes, expected: str | None) -> None:
    stanza = (b"<message xmlns='jabber:client' type='error' from='romeo@example.net'>"
              b"<error type='modify'><not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
              + xml + b"</error></message>")
    assert received_error_condition(stanza) == expected


def test_error_stanza_is_not_opened() -> None:
    with pytest.raises(StanzaSchemaError):
        open_(seal().replace(b"type=\"chat\"", b"type=\"error\""))


# -- gateways (RFC 3923 §8) and openssl on whole objects -----------------------------------


@pytest.mark.integration
def test_gateway_unwrap_is_openssl_readable(tmp_path: Path) -> None:
    """What we send decrypts and verifies with openssl cms (sign-then-encrypt)."""
    jk, jc = juliet().write(tmp_path, "juliet")
    rk, rc = romeo().write(tmp_path, "romeo")
    for digest, cipher, smime_type in (("sha256", ContentCipher.AES256_GCM, b"authEnveloped"),
                                       ("sha1", ContentCipher.AES128_CBC, b"enveloped")):
        entity = gateway_unwrap(seal(digest=digest, cipher=cipher))
        assert entity.startswith(b"Content-Type: application/pkcs7-mime; smime-type="
                                 + smime_type + b"-data")
        (tmp_path / "enc.smime").write_bytes(entity)
        signed = openssl("cms", "-decrypt", "-in", str(tmp_path / "enc.smime"),
                         "-recip", str(rc), "-inkey", str(rk))
        (tmp_path / "signed.smime").write_bytes(signed)
        cpim = openssl("cms", "-verify", "-in", str(tmp_path / "signed.smime"),
                       "-CAfile", str(jc), "-purpose", "any")
        assert cpim.startswith(b"Content-Type: Message/CPIM\r\n\r\nFrom: <im:juliet@example.com>")
        assert b"Wherefore art thou, Romeo?\r\nSecond line" in cpim


@pytest.mark.integration
@pytest.mark.parametrize("digest", ["sha1", "sha256"])
@pytest.mark.parametrize("pss", [False, True])
@pytest.mark.parametrize(("cipher", "kind"), [("-aes128", "rsa-2048"),
                                              ("-aes-256-gcm", "ecdsa-p256")])
def test_openssl_produced_object_opens(tmp_path: Path, digest: str, pss: bool, cipher: str,
                                       kind: str) -> None:
    """A foreign S/MIME object (openssl cms -sign | -encrypt), wrapped by a gateway: CBC to
    an RSA recipient, AES-GCM AuthEnvelopedData to an EC (ECDH) recipient."""
    jk, jc = juliet().write(tmp_path, "juliet")
    rcpt = make_ident(ROMEO, kind)
    rk, rc = rcpt.write(tmp_path, "romeo")
    now = datetime.now(UTC)  # openssl writes the real time as signingTime (checked, issue 14)
    cpim = build_cpim(sender=JULIET, recipients=[ROMEO], timestamp=now,
                      content_type="text/plain; charset=utf-8", content=b"from openssl\r\n")
    (tmp_path / "cpim").write_bytes(cpim.raw)
    keyopt = ["-keyopt", "rsa_padding_mode:pss"] if pss else []
    signed = openssl("cms", "-sign", "-binary", "-crlfeol", "-in", str(tmp_path / "cpim"),
                     "-signer", str(jc), "-inkey", str(jk), "-md", digest, *keyopt)
    (tmp_path / "signed").write_bytes(signed)
    enc = openssl("cms", "-encrypt", "-binary", "-crlfeol", cipher,
                  "-in", str(tmp_path / "signed"), str(rc))
    stanza = gateway_wrap(enc, to=ROMEO + "/orchard", sender=JULIET + "/gw", stanza_type="chat")
    o = open_(stanza, allow_sha1=True, key=rcpt.key, certificate=rcpt.cert, now=now)
    assert o.stanza.findtext("{jabber:client}body") == "from openssl\n"
    assert o.signer == JULIET and o.encrypted
    assert o.authenticated_encryption == (cipher == "-aes-256-gcm")


def test_gateway_wrap_refuses_non_smime() -> None:
    with pytest.raises(SMIMEFormatError):
        gateway_wrap(b"Content-Type: text/plain\r\n\r\nhello", to=ROMEO)
    with pytest.raises(SMIMEFormatError):
        gateway_wrap(b"\xff\xfe", to=ROMEO)


# -- fuzz: only typed errors ----------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400), st.sampled_from(["enveloped-data", "signed-data", "cpim", "raw"]))
def test_fuzzed_e2e_content_only_typed_errors(data: bytes, shape: str) -> None:
    if shape == "raw":
        entity = data.decode("latin-1").encode("utf-8")
    elif shape == "cpim":
        entity = b"Content-Type: Message/CPIM\r\n\r\n" + data.decode("latin-1").encode()
    else:
        entity = build_pkcs7_mime(data, smime_type=shape)
    root = new_stanza("message", {"from": JULIET + "/b", "to": ROMEO})
    try:
        make_e2e(root, entity)
    except SMIMEFormatError:
        return  # not representable as XML text at all
    try:
        open_(serialize(root), allow_unsigned=True)
    except XmppSecError:
        pass


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=7))
def test_bit_flips_anywhere_never_accepted(position: int, bit: int) -> None:
    sealed = _SEALED_ONCE
    text = etree.fromstring(sealed)[0].text or ""
    body = bytearray(gateway_unwrap(sealed))
    i = position % len(body)
    body[i] ^= 1 << bit
    try:
        stanza = gateway_wrap(bytes(body), to=ROMEO + "/orchard", sender=JULIET + "/balcony")
    except XmppSecError:
        return
    assert text
    try:
        o = open_(stanza)
    except XmppSecError:
        return
    # a flip in ignorable framing (base64 line breaks, header case) may still verify: then
    # the content must be exactly the original
    assert o.stanza.findtext("{jabber:client}body") == "Wherefore art thou, Romeo?\nSecond line é"


_SEALED_ONCE = seal()


def test_element_input_is_checked_like_bytes() -> None:
    sealed = etree.fromstring(seal())
    assert open_(serialize(sealed)).signer == JULIET
    o = open_stanza(sealed, trust=trust_juliet(), key=romeo().key, certificate=romeo().cert,
                    now=NOW)
    assert o.encrypted
    sealed.append(etree.Comment(" injected "))
    with pytest.raises(RestrictedXMLError):
        open_stanza(sealed, trust=trust_juliet(), key=romeo().key, certificate=romeo().cert,
                    now=NOW)
