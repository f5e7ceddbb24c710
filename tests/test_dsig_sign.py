"""XEP-0290 signing (both profiles; the spec profile unless named): the shape of what we emit and what we refuse."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import re
import threading
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, padding, rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from xmppsec.algorithms import C14NMethod, DigestMethod, SignatureMethod
from xmppsec.dsig import ROBUST, SPEC, Policy, Profile, ReferenceStatus, Signer, Verifier, _c14n
from xmppsec.errors import (
    DigestMismatch,
    InvalidSignature,
    RestrictedXMLError,
    StanzaSchemaError,
    UnsignedContent,
    UnsupportedAlgorithm,
    UntrustedKey,
    UsageError,
)
from xmppsec.keys import ID_ON_XMPPADDR, Algorithm, xmpp_addr_value
from xmppsec.schema import validate
from xmppsec.timestamps import TimestampClock, parse_timestamp
from xmppsec.trust import TrustStore
from xmppsec.xmpp import NS

if TYPE_CHECKING:
    from tests.conftest import (
        ALGORITHMS,
        CAPULET,
        DS,
        DSIG_ID,
        JC,
        JULIET,
        MESSAGE,
        MUC,
        NOW,
        ROMEO,
        assert_rejected,
        assert_valid,
        child,
        desc_copy,
        identity,
        make_signer,
        new_clock,
        sign,
        signature,
        signed_info,
        stanza_desc,
        tree,
        verifier,
        xml,
    )
else:
    from conftest import (
        ALGORITHMS,
        CAPULET,
        DS,
        DSIG_ID,
        JC,
        JULIET,
        MESSAGE,
        MUC,
        NOW,
        ROMEO,
        assert_rejected,
        assert_valid,
        child,
        desc_copy,
        identity,
        make_signer,
        new_clock,
        sign,
        signature,
        signed_info,
        stanza_desc,
        tree,
        verifier,
        xml,
    )

D = "{" + NS.XMPP_DSIG + "}"
NCNAME = re.compile(r"[A-Za-z_][A-Za-z0-9._-]*")
TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")

PRESENCE = (
    b"<presence xmlns='jabber:client' from='juliet@capulet.net/balcony' xml:lang='en'>"
    b"<show>away</show><status>Parting is such sweet sorrow</status><priority>5</priority>"
    b"</presence>"
)
IQ = (
    b"<iq xmlns='jabber:client' from='juliet@capulet.net/balcony' to='capulet.net' "
    b"type='get' id='v1'><query xmlns='jabber:iq:version'/></iq>"
)


def strict_b64(text: str | None) -> bytes:
    return binascii.a2b_base64((text or "").encode(), strict_mode=True)


def exclusive(el: etree._Element) -> bytes:
    """Exclusive C14N straight from lxml (independent of xmppsec.dsig._c14n)."""
    return etree.tostring(el, method="c14n", exclusive=True, with_comments=False)


# -- structure -------------------------------------------------------------------------------


def test_structure_of_a_signed_message() -> None:
    data = sign()
    # d:id per signed child, with the XEP's prefix d
    assert data.count(b'xmlns:d="urn:xmpp:dsig:0" d:id="') == 2
    root = tree(data)
    thread, body, sig = list(root)
    assert sig is root[-1] and sig.tag == DS + "Signature"  # appended last
    ids = [thread.get(DSIG_ID), body.get(DSIG_ID)]
    assert all(i is not None and NCNAME.fullmatch(i) for i in ids)
    assert len(set(ids)) == 2
    assert root.get(DSIG_ID) is None
    # the Signature declares xmlns:d itself (so later d:id additions leave it valid)
    assert data.count(b'<Signature xmlns="http://www.w3.org/2000/09/xmldsig#" xmlns:d=') == 1

    si, sv, obj = list(sig)  # no KeyInfo by default
    assert [c.tag for c in sig] == [DS + "SignedInfo", DS + "SignatureValue", DS + "Object"]
    c14n, method, ref = list(si)
    assert c14n.tag == DS + "CanonicalizationMethod"
    assert c14n.get("Algorithm") == C14NMethod.C14N11
    assert method.get("Algorithm") == SignatureMethod.ECDSA_SHA256
    assert ref.tag == DS + "Reference" and ref.get("URI") == "#stanza-desc"
    transforms, dm, dv = list(ref)
    assert [t.get("Algorithm") for t in transforms] == [C14NMethod.C14N11]
    assert dm.get("Algorithm") == DigestMethod.SHA256
    assert len(strict_b64(dv.text)) == 32
    assert len(strict_b64(sv.text)) == 64  # raw r || s for P-256

    [desc] = list(obj)
    assert desc.tag == D + "stanza-desc" and desc.get("id") == "stanza-desc"
    signer_el, dtr, ddm, copy, ts = list(desc)
    assert signer_el.tag == D + "signer" and signer_el.text == JULIET
    assert dtr.tag == DS + "Transforms"
    assert [t.get("Algorithm") for t in dtr] == [C14NMethod.XMPP_DSIG_0]
    assert ddm.tag == DS + "DigestMethod" and ddm.get("Algorithm") == DigestMethod.SHA256
    assert copy.tag == D + "message"
    assert dict(copy.attrib.items()) == dict(root.attrib.items())
    refs = list(copy)
    assert [r.tag for r in refs] == [D + "reference"] * 2
    assert [r.get("URI") for r in refs] == [f"urn:xmpp:dsig:ref:0#{i}" for i in ids]
    for r, target in zip(refs, (thread, body), strict=True):
        assert strict_b64(r.text) == hashlib.sha256(exclusive(target)).digest()
    assert ts.tag == D + "timestamp"
    assert ts.text is not None and len(ts.text) == 24 and TIMESTAMP.fullmatch(ts.text)
    assert ts.text == "2026-06-01T12:00:00.000Z"
    # the stanza-desc digest covers stanza-desc in place
    assert strict_b64(dv.text) == hashlib.sha256(_c14n.c14n(desc, C14NMethod.C14N11)).digest()


def test_xep0290_known_answer_through_the_signer() -> None:
    """A child that already carries d:id keeps it, and its reference digest is the digest
    of the XEP-0290 §3 canonical form, byte for byte."""
    stanza = MESSAGE.replace(b"<thread>", b"<thread xmlns:d='urn:xmpp:dsig:0' d:id='xxxx-1'>")
    root = tree(sign(stanza))
    assert child(root, "thread").get(DSIG_ID) == "xxxx-1"
    known = (
        b'<thread xmlns="jabber:client" xmlns:d="urn:xmpp:dsig:0" d:id="xxxx-1">'
        b"8996aef0-061d-012d-347a-549a200771aa</thread>"
    )
    ref = desc_copy(signature(root))[0]
    assert ref.get("URI") == "urn:xmpp:dsig:ref:0#xxxx-1"
    assert strict_b64(ref.text) == hashlib.sha256(known).digest()
    assert_valid(verifier(), xml(root))


@pytest.mark.parametrize("stanza", [MESSAGE, PRESENCE, IQ], ids=["message", "presence", "iq"])
@pytest.mark.parametrize("include_certificate", [False, True])
def test_signed_stanza_validates_against_the_schemas(
    stanza: bytes, include_certificate: bool
) -> None:
    data = sign(stanza, include_certificate=include_certificate)
    validate(data)
    assert_valid(verifier(), data)


def test_signed_presence_copy_keeps_xml_lang() -> None:
    root = tree(sign(PRESENCE))
    copy = desc_copy(signature(root))
    assert copy.tag == D + "presence"
    assert copy.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
    assert copy.get("type") is None  # presence has no default type


def test_default_attributes() -> None:
    no_type = MESSAGE.replace(b" type='chat'", b"")
    root = tree(sign(no_type))
    assert root.get("type") == "normal"
    assert desc_copy(signature(root)).get("type") == "normal"
    # the verifier applies the same default: a stanza whose type="normal" a server drops
    # again still verifies
    del root.attrib["type"]
    assert_valid(verifier(), xml(root))
    # iq without type is refused
    with pytest.raises(StanzaSchemaError):
        make_signer().sign(IQ.replace(b" type='get'", b""))
    chat = tree(sign())
    assert chat.get("type") == "chat"


@pytest.mark.parametrize(
    "stanza",
    [
        MESSAGE.replace(b"<thread>", b"<thread xmlns:d='urn:xmpp:dsig:0' d:id='a'>").replace(
            b"<body>", b"<body xmlns:d='urn:xmpp:dsig:0' d:id='a'>"
        ),
        MESSAGE.replace(b"<message ", b"<message xmlns:d='urn:xmpp:dsig:0' d:id='m' "),
        MESSAGE.replace(
            b"</message>",
            b"<x xmlns='urn:example:ext'><y xmlns:d='urn:xmpp:dsig:0' d:id='g'/></x></message>",
        ),
        MESSAGE.replace(b"<body>", b"<body xmlns:d='urn:xmpp:dsig:0' d:id='b'>").replace(
            b"</message>",
            b"<x xmlns='urn:example:ext'><y xmlns:d='urn:xmpp:dsig:0' d:id='b'/></x></message>",
        ),
    ],
    ids=["collision", "on-stanza", "on-grandchild", "collision-with-grandchild"],
)
def test_refuses_colliding_or_misplaced_dsig_id(stanza: bytes) -> None:
    with pytest.raises(StanzaSchemaError):
        make_signer().sign(stanza)


def _is_body(el: etree._Element) -> bool:
    return el.tag == JC + "body"


def test_selective_signing() -> None:
    data = make_signer().sign(MESSAGE, select=_is_body)
    root = tree(data)
    assert child(root, "thread").get(DSIG_ID) is None
    assert child(root, "body").get(DSIG_ID) is not None
    assert len(desc_copy(signature(root))) == 1
    validate(data)
    assert_rejected(verifier(), data, UnsignedContent)
    result = assert_valid(verifier(policy=Policy.optimistic()), data)
    assert result.unsigned_children == (JC + "thread",)
    assert [c.tag for c in result.signed_children()] == [JC + "body"]


# -- several signatures ----------------------------------------------------------------------


def test_client_then_server_signature() -> None:
    """Juliet signs; her server capulet.net (a domain signer with a domain certificate)
    signs the result, covering Juliet's Signature too: a signature over a signature."""
    assert identity(CAPULET).certificate  # generate_identity supports a domain JID
    client = sign()
    both = make_signer(CAPULET).sign(client)
    root = tree(both)
    assert len(root.findall(DS + "Signature")) == 2
    v = verifier(JULIET, CAPULET)
    result = assert_valid(v, both)
    assert [s.signer for s in result.signatures] == [JULIET, CAPULET]
    assert all(s.valid for s in result.signatures)
    server_refs = result.signatures[1].references
    assert [r.element for r in server_refs] == [JC + "thread", JC + "body", DS + "Signature"]
    assert all(r.status is ReferenceStatus.OK for r in server_refs)
    # Juliet's Signature now carries the server's d:id (declared on itself, see _sign.py)
    assert signature(root, 0).get(DSIG_ID) is not None
    validate(both)

    # Tampering with Juliet's SignatureValue breaks hers and the server's reference to it.
    sv = signature(root, 0).find(DS + "SignatureValue")
    assert sv is not None and sv.text is not None
    sv.text = ("A" if sv.text[0] != "A" else "B") + sv.text[1:]
    assert_rejected(v, xml(root), InvalidSignature)
    optimistic = verifier(JULIET, CAPULET, policy=Policy.optimistic()).check(xml(root), now=NOW)
    juliet, server = optimistic.signatures
    assert not juliet.valid and type(juliet.error) is InvalidSignature
    # the server's signature itself holds; its reference to Juliet's Signature does not
    assert server.valid
    assert [r.status for r in server.references] == [
        ReferenceStatus.OK,
        ReferenceStatus.OK,
        ReferenceStatus.DIGEST_MISMATCH,
    ]
    assert [c.tag for c in optimistic.signed_children()] == [JC + "thread", JC + "body"]


def test_client_then_server_signature_validates_against_the_schemas() -> None:
    validate(make_signer(CAPULET).sign(sign()))


def test_several_signatures_reported_one_by_one() -> None:
    both = make_signer(CAPULET).sign(sign())
    # Only the server is known: strict requires every signature, optimistic reports.
    assert_rejected(verifier(CAPULET), both, UntrustedKey)
    result = verifier(CAPULET, policy=Policy.optimistic()).verify(both, now=NOW)
    juliet, server = result.signatures
    assert (juliet.signer, juliet.valid, type(juliet.error)) == (JULIET, False, UntrustedKey)
    assert (server.signer, server.valid, server.error) == (CAPULET, True, None)


def test_server_signs_for_its_domain_only() -> None:
    with pytest.raises(UsageError):
        make_signer("montague.net").sign(MESSAGE)


ORIGINAL = (
    b"<message xmlns='jabber:client' from='juliet@capulet.net/balcony' to='room@muc.example' "
    b"type='groupchat' id='g1'><body>O Romeo, Romeo!</body></message>"
)


def _reflect(original: bytes) -> bytes:
    """A MUC service reflects the signed original (XEP-0274): the occupant-JID message,
    with the original inside a XEP-0297 forwarded element."""
    reflected = etree.fromstring(
        b"<message xmlns='jabber:client' from='room@muc.example/juliet' "
        b"to='romeo@montague.net/orchard' type='groupchat' id='g1-r'>"
        b"<body>O Romeo, Romeo!</body><forwarded xmlns='urn:xmpp:forward:0'/></message>"
    )
    reflected[1].append(etree.fromstring(original))
    return etree.tostring(reflected)


def test_muc_reflection() -> None:
    original = sign(ORIGINAL)
    reflected = make_signer(MUC).sign(_reflect(original))
    validate(reflected)
    result = assert_valid(verifier(MUC), reflected)
    assert [s.signer for s in result.signatures] == [MUC]
    signed = result.signed_children()
    assert [c.tag for c in signed] == [JC + "body", "{urn:xmpp:forward:0}forwarded"]
    inner = signed[1].find(JC + "message")
    assert inner is not None
    inner_bytes = etree.tostring(inner)
    inner_result = assert_valid(verifier(JULIET), inner_bytes)
    assert [s.signer for s in inner_result.signatures] == [JULIET]
    assert [c.text for c in inner_result.signed_children()] == ["O Romeo, Romeo!"]
    # The inner original is Juliet's: the MUC key cannot stand in for hers.
    assert_rejected(verifier(MUC), inner_bytes, UntrustedKey)


def test_muc_reflection_tampered_original() -> None:
    reflected = make_signer(MUC).sign(_reflect(sign(ORIGINAL)))
    root = tree(reflected)
    inner_body = root.find("{urn:xmpp:forward:0}forwarded/" + JC + "message/" + JC + "body")
    assert inner_body is not None
    inner_body.text = "O Paris, Paris!"
    # the MUC service's reference to forwarded no longer matches
    assert_rejected(verifier(MUC), xml(root), DigestMismatch)


# -- algorithms ------------------------------------------------------------------------------

EXPECTED_METHOD = {
    "ecdsa-p256": SignatureMethod.ECDSA_SHA256,
    "ed25519": SignatureMethod.ED25519,
    "rsa-2048": SignatureMethod.RSA_SHA256,
    "rsa-3072": SignatureMethod.RSA_SHA256,
}


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_algorithms(algorithm: Algorithm) -> None:
    data = sign(MESSAGE, JULIET, algorithm)
    sm = signature(tree(data)).find(f"{DS}SignedInfo/{DS}SignatureMethod")
    assert sm is not None and sm.get("Algorithm") == EXPECTED_METHOD[algorithm]
    result = assert_valid(verifier((JULIET, algorithm)), data)
    assert result.signatures[0].signature_method == EXPECTED_METHOD[algorithm]
    # another algorithm's key for the same JID does not verify it
    other: Algorithm = "ecdsa-p256" if algorithm != "ecdsa-p256" else "ed25519"
    assert not verifier((JULIET, other)).check(data, now=NOW).valid


def test_rsa_pss() -> None:
    data = sign(MESSAGE, JULIET, "rsa-2048", method=SignatureMethod.RSA_PSS_SHA256)
    root = tree(data)
    sig = signature(root)
    sm = sig.find(f"{DS}SignedInfo/{DS}SignatureMethod")
    assert sm is not None and sm.get("Algorithm") == SignatureMethod.RSA_PSS_SHA256
    assert_valid(verifier((JULIET, "rsa-2048")), data)
    # independent check: RFC 6931 PSS with MGF1-SHA-256 and a 32-byte salt
    key = identity(JULIET, "rsa-2048").private_key.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    sv = sig.find(DS + "SignatureValue")
    assert sv is not None
    key.verify(
        strict_b64(sv.text),
        _c14n.c14n(signed_info(sig), C14NMethod.C14N11),
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256(),
    )
    # and it is not PKCS#1 v1.5: relabelled as rsa-sha256 it fails
    sm.set("Algorithm", SignatureMethod.RSA_SHA256)
    assert_rejected(verifier((JULIET, "rsa-2048")), xml(root), InvalidSignature)


def _dsa_identity() -> tuple[dsa.DSAPrivateKey, x509.Certificate]:
    key = dsa.generate_private_key(key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, JULIET)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.OtherName(ID_ON_XMPPADDR, xmpp_addr_value(JULIET))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


def test_what_is_no_key_or_certificate_is_a_usage_error() -> None:
    """For callers without a type checker: a certificate or PEM text where the private key
    belongs, or a key where the certificate belongs, is the caller's mistake."""
    ident = identity(JULIET)
    for bad in (ident.certificate, b"-----BEGIN PRIVATE KEY-----", ident.private_key.public_key()):
        with pytest.raises(UsageError, match="key must be an RSA, EC, Ed25519 or DSA private"):
            Signer(bad, signer=JULIET)  # type: ignore[arg-type]  # the misuse tested
    with pytest.raises(UsageError, match="certificate must be an x509.Certificate"):
        Signer(ident.private_key, signer=JULIET, certificate=ident.private_key)  # type: ignore[arg-type]


def test_legacy_sha1_and_dsa_only_with_opt_in() -> None:
    rsa_key = identity(JULIET, "rsa-2048").private_key
    with pytest.raises(UsageError):
        Signer(rsa_key, signer=JULIET, method=SignatureMethod.RSA_SHA1, profile=SPEC)
    with pytest.raises(UsageError):
        Signer(rsa_key, signer=JULIET, digest_method=DigestMethod.SHA1, profile=SPEC)
    dsa_key, dsa_cert = _dsa_identity()
    with pytest.raises(UsageError):
        # default method dsa-sha1
        Signer(dsa_key, signer=JULIET, certificate=dsa_cert, profile=SPEC)

    # The XEP's own examples: DSA-SHA1 with SHA-1 digests, explicitly allowed.
    data = Signer(
        dsa_key,
        signer=JULIET,
        certificate=dsa_cert,
        digest_method=DigestMethod.SHA1,
        allow_legacy=True,
        clock=new_clock(),
        profile=SPEC,
    ).sign(MESSAGE)
    root = tree(data)
    sm = signature(root).find(f"{DS}SignedInfo/{DS}SignatureMethod")
    assert sm is not None and sm.get("Algorithm") == SignatureMethod.DSA_SHA1
    trust = TrustStore(allow_legacy_keys=True).pin(JULIET, dsa_cert)
    strict = Verifier(trust, clock=lambda: NOW)
    assert_rejected(strict, data, UnsupportedAlgorithm)
    legacy = Verifier(trust, policy=Policy().legacy(), clock=lambda: NOW)
    result = assert_valid(legacy, data)
    assert result.signatures[0].signature_method == SignatureMethod.DSA_SHA1


def test_include_certificate() -> None:
    data = sign(include_certificate=True)
    sig = signature(tree(data))
    assert [c.tag for c in sig][:3] == [DS + "SignedInfo", DS + "SignatureValue", DS + "KeyInfo"]
    certs = sig.findall(f"{DS}KeyInfo/{DS}X509Data/{DS}X509Certificate")
    assert len(certs) == 1
    der = identity(JULIET).certificate.public_bytes(serialization.Encoding.DER)
    assert strict_b64(certs[0].text) == der
    validate(data)
    assert_valid(verifier(), data)
    # the certificate alone, unpinned, proves nothing
    assert_rejected(verifier(trust=TrustStore()), data, UntrustedKey)
    with pytest.raises(UsageError):
        Signer(
            identity(JULIET).private_key, signer=JULIET, include_certificate=True, profile=SPEC
        )


def test_signer_refuses_full_jid_and_foreign_certificate() -> None:
    key = identity(JULIET).private_key
    with pytest.raises(UsageError):
        Signer(key, signer="juliet@capulet.net/balcony", profile=SPEC)
    with pytest.raises(UsageError):
        Signer(key, signer=JULIET, certificate=identity(ROMEO).certificate, profile=SPEC)


def test_timestamps_strictly_increasing_across_threads() -> None:
    signer = Signer(
        identity(JULIET).private_key,
        signer=JULIET,
        certificate=identity(JULIET).certificate,
        clock=TimestampClock(),  # the real wall clock: many signatures per millisecond
        profile=SPEC,
    )
    per_thread: dict[int, list[str]] = {}
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            barrier.wait()
            out: list[str] = []
            for _ in range(20):
                ts = stanza_desc(signature(tree(signer.sign(MESSAGE))))[4].text
                assert ts is not None
                out.append(ts)
            per_thread[n] = out
        except BaseException as exc:  # noqa: BLE001  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert len(per_thread) == 8
    everything = [ts for out in per_thread.values() for ts in out]
    assert all(len(ts) == 24 and TIMESTAMP.fullmatch(ts) for ts in everything)
    assert len(set(everything)) == len(everything) == 160
    for out in per_thread.values():
        parsed = [parse_timestamp(ts) for ts in out]
        assert all(a < b for a, b in zip(parsed, parsed[1:], strict=False))


def test_signed_bytes_are_parseable_and_signature_value_base64() -> None:
    data = sign(MESSAGE, JULIET, "rsa-3072")
    sv = signature(tree(data)).find(DS + "SignatureValue")
    assert sv is not None
    assert len(strict_b64(sv.text)) == 384
    assert base64.b64encode(strict_b64(sv.text)).decode() == sv.text


def test_sign_element_gets_the_parser_checks() -> None:
    """A tree built elsewhere is checked like parsed bytes before signing: the signer never
    signs text a comment hides from el.text."""
    root = etree.fromstring(MESSAGE)
    body = root.find(JC + "body")
    assert body is not None
    body.append(etree.Comment("hidden"))
    with pytest.raises(RestrictedXMLError):
        make_signer().sign_element(root)
    assert root.find(DS + "Signature") is None  # refused before anything was added
    clean = etree.fromstring(MESSAGE)
    make_signer().sign_element(clean)
    assert_valid(verifier(), xml(clean))


def test_output_is_utf8_without_declaration() -> None:
    """RFC 6120 §11.6: UTF-8 on the wire; no character references for non-ASCII text (they
    would multiply the size of e.g. CJK text), no XML declaration (none inside a stream)."""
    text = "Roméo, 日本語 😀"
    data = sign(MESSAGE.replace(b"Wherefore art thou, Romeo?", text.encode()))
    assert data.startswith(b"<message ")
    assert text.encode() in data
    assert b"&#" not in data
    assert_valid(verifier(), data)


# -- the template path of Signer.sign writes what the tree path writes -----------------------

TEMPLATE_CASES = {
    "message": MESSAGE,
    "presence-xml-lang": PRESENCE,
    "iq": IQ,
    "xml-space-and-escapes": (
        b"<message xmlns='jabber:client' to='romeo@montague.net' id='a&amp;b&lt;c&gt;&quot;d"
        b"&#9;e&#10;f&#13;' xml:space='preserve' xml:lang='fr'><body>caf\xc3\xa9 &amp; "
        b"&lt;ok&gt;&#13;</body></message>"
    ),
    "no-children": b"<presence xmlns='jabber:client' to='romeo@montague.net'/>",
    "jabber-server": (
        b"<message xmlns='jabber:server' from='juliet@capulet.net/balcony' "
        b"to='romeo@montague.net' type='chat'><body>hi</body></message>"
    ),
    "earlier-ids": (
        b"<message xmlns='jabber:client' xmlns:d='urn:xmpp:dsig:0' to='romeo@montague.net'>"
        b"<body d:id='e.1'>x</body><thread d:id='t-1'>y</thread></message>"
    ),
}


@pytest.mark.parametrize("algorithm", ["ed25519", "rsa-2048"])  # deterministic signatures
@pytest.mark.parametrize("include_certificate", [False, True])
@pytest.mark.parametrize(
    ("profile", "case"),
    [(SPEC, c) for c in sorted(TEMPLATE_CASES)]
    # d:id attributes belong to the spec profile
    + [(ROBUST, c) for c in sorted(TEMPLATE_CASES) if c != "earlier-ids"],
)
def test_template_path_equals_tree_path(
    algorithm: Algorithm, case: str, include_certificate: bool, profile: Profile
) -> None:
    data = TEMPLATE_CASES[case]
    if profile is SPEC:
        # Fixed ids (a d:id already present is kept), fixed clocks: both paths must agree
        # byte for byte, so the template path is exactly the tree path without the tree.
        root = etree.fromstring(data)
        for n, c in enumerate(root):
            if c.get(DSIG_ID) is None:
                c.set(DSIG_ID, f"fixed-{n}")
        data = etree.tostring(root, encoding="utf-8")
    def signer() -> Signer:
        return make_signer(
            algorithm=algorithm,
            clock=new_clock(),
            include_certificate=include_certificate,
            profile=profile,
        )

    by_template = signer().sign(data)
    by_tree = etree.tostring(signer().sign_element(etree.fromstring(data)), encoding="utf-8")
    assert by_template == by_tree
    # The profile is detected. (xml:space on a stanza is outside the jabber:client schema,
    # which strict verification enforces; the bytes and signature are what is tested here.)
    policy = Policy(validate=case != "xml-space-and-escapes")
    assert_valid(verifier((JULIET, algorithm), policy=policy), by_template)


def test_template_path_is_the_one_taken_for_plain_stanzas() -> None:
    from xmppsec.dsig._sign import _template_fits

    def fits(profile: Profile, data: bytes) -> bool:
        signer = make_signer(profile=profile)
        root = etree.fromstring(data)
        return _template_fits(profile, root, signer._prepare(root, None))

    assert fits(SPEC, MESSAGE)
    assert fits(SPEC, PRESENCE)
    assert fits(ROBUST, MESSAGE)
    assert not fits(ROBUST, IQ)  # the Signature goes into the payload
    assert fits(SPEC, IQ)
    other_prefix = b"<message xmlns='jabber:client' xmlns:x='urn:x' x:a='1'><body/></message>"
    assert not fits(SPEC, other_prefix)
    xml_base = b"<message xmlns='jabber:client' xml:base='http://a/'><body/></message>"
    assert not fits(SPEC, xml_base)
    # A reference that would need escaping in some form is left to the tree writer.
    odd_ns = b"<message xmlns='jabber:client'><x xmlns='urn:a&amp;b'/></message>"
    assert not fits(ROBUST, odd_ns)


def test_templates_are_cut_from_the_tree_writer() -> None:
    """No byte of the templates is typed by hand: each constant piece is a slice of the
    tree writer's output for a probe, so changing what the writer writes changes them."""
    from xmppsec.dsig._sign import _SENTINELS, _Templates

    for profile in (SPEC, ROBUST):
        for include_certificate in (False, True):
            signer = make_signer(profile=profile, include_certificate=include_certificate)
            t = _Templates.cut(signer, "message", "jabber:client")
            pieces = b"".join(
                b"".join(x.pieces)
                for x in (t.desc_c, t.si_c, t.doc, t.doc_empty, t.ref_c, t.ref_doc)
            )
            assert not any(s in pieces for s in _SENTINELS)
            assert (b"X509Certificate" in b"".join(t.doc.pieces)) is include_certificate
            assert signer.method.value.encode() in b"".join(t.si_c.pieces)
