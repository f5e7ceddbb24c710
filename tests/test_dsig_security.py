"""XEP-0290 signatures (spec profile unless named) against the bad inputs of the shared
security-case catalogue.

One test per case of categories B (10-19), C (20-25), D (26-30) and F-36, named exactly as
the case; sub-variants are parametrized. Each rejection asserts the exact typed error:
``Verifier.verify`` raises it and ``Verifier.check`` returns valid=False with it.
Cases checked before any cryptography (algorithms, transforms, URIs, limits, formats) edit
the signed XML directly; cases that need a valid SignatureValue over forged content re-sign
with a key the attacker holds (``conftest.resign``).
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import socket
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID
from lxml import etree

from xmppsec.algorithms import C14NMethod, DigestMethod, SignatureMethod
from xmppsec.dsig import (
    SPEC,
    Policy,
    ReferenceStatus,
    Signer,
    TimestampStatus,
    Verifier,
    _c14n,
)
from xmppsec.errors import (
    AmbiguousReference,
    DigestMismatch,
    InvalidReference,
    InvalidSignature,
    JIDError,
    LimitExceeded,
    NotSigned,
    ReplayError,
    SchemaError,
    SignatureSchemaError,
    SignerMismatch,
    StanzaMismatch,
    StanzaSchemaError,
    TimestampError,
    UnsignedContent,
    UnsupportedAlgorithm,
    UntrustedKey,
    UsageError,
    XmppSecError,
)
from xmppsec.keys import ID_ON_XMPPADDR, Algorithm, generate_identity
from xmppsec.replay import MemoryReplayStore, ReplayStore, SQLiteReplayStore
from xmppsec.trust import TrustStore

if TYPE_CHECKING:
    from tests.conftest import (
        CA,
        DS,
        DSIG_ID,
        JC,
        JULIET,
        MESSAGE,
        MS,
        NOW,
        ROMEO,
        XML_LANG,
        assert_rejected,
        assert_valid,
        b64,
        child,
        desc_copy,
        identity,
        issue,
        make_signer,
        new_clock,
        pins,
        require_program,
        resign,
        sign,
        signature,
        signed_info,
        stanza_desc,
        tree,
        utf8_addr,
        verifier,
        xml,
    )
else:
    from conftest import (
        CA,
        DS,
        DSIG_ID,
        JC,
        JULIET,
        MESSAGE,
        MS,
        NOW,
        ROMEO,
        XML_LANG,
        assert_rejected,
        assert_valid,
        b64,
        child,
        desc_copy,
        identity,
        issue,
        make_signer,
        new_clock,
        pins,
        require_program,
        resign,
        sign,
        signature,
        signed_info,
        stanza_desc,
        tree,
        utf8_addr,
        verifier,
        xml,
    )

FORGED = "Meet me at the graveyard"
EXT = "{urn:example:ext}x"
OPTIMISTIC = Policy.optimistic()
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def signed_tree(data: bytes = MESSAGE, **kwargs: object) -> etree._Element:
    return tree(sign(data, **kwargs))  # type: ignore[arg-type]  # kwargs are Signer fields


def forged_body(dsig_id: str | None = None) -> etree._Element:
    el = etree.Element(JC + "body")
    el.text = FORGED
    if dsig_id is not None:
        el.set(DSIG_ID, dsig_id)
    return el


def insert_before_signature(root: etree._Element, el: etree._Element) -> None:
    root.insert(list(root).index(signature(root)), el)


def texts(children: tuple[etree._Element, ...]) -> list[str | None]:
    return [c.text for c in children]


class RecordingResolver:
    """A trust resolver hook that records every lookup: a check that happens before any
    key lookup (and so before any public-key operation) leaves ``calls`` empty."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, jid: str) -> list[x509.Certificate]:
        self.calls.append(jid)
        return [identity(JULIET).certificate]


def recording_verifier() -> tuple[Verifier, RecordingResolver]:
    rec = RecordingResolver()
    return verifier(trust=TrustStore().with_resolver(rec)), rec


def assert_rejected_before_crypto(data: bytes, expected: type[XmppSecError]) -> XmppSecError:
    v, rec = recording_verifier()
    err = assert_rejected(v, data, expected)
    assert rec.calls == []
    return err


NO_SCHEMA = Policy(validate=False)


def assert_refused_in_depth(data: bytes, expected: type[XmppSecError]) -> None:
    """Strict verification refuses ``data`` (the compiled schemas and co-constraints may
    see it first: a SchemaError); without schema validation the later check still refuses
    it with exactly ``expected`` (defence in depth)."""
    result = verifier().check(data, now=NOW)
    assert not result.valid
    assert isinstance(result.error, expected | SchemaError), (type(result.error), result.error)
    assert_rejected(verifier(policy=NO_SCHEMA), data, expected)


def test_recording_verifier_sees_lookups() -> None:
    """The 'before crypto' probe works: a good stanza does reach the key lookup."""
    v, rec = recording_verifier()
    assert_valid(v, sign())
    assert rec.calls


# -- B. XML Signature Wrapping / ID handling -------------------------------------------------


@pytest.mark.parametrize(
    ("holder", "forged_keeps_id", "expected"),
    [
        ("object", False, InvalidReference),
        ("extension", False, InvalidReference),
        ("object", True, AmbiguousReference),
        ("extension", True, AmbiguousReference),
    ],
)
def test_xsw_move_into_object(
    holder: str, forged_keeps_id: bool, expected: type[XmppSecError]
) -> None:
    root = signed_tree()
    body = child(root, "body")
    body_id = body.get(DSIG_ID)
    assert body_id is not None
    position = list(root).index(body)
    if holder == "object":
        obj = signature(root).find(DS + "Object")
        assert obj is not None
        obj.append(body)
    else:
        ext = etree.Element(EXT)
        ext.append(body)
        insert_before_signature(root, ext)
    root.insert(position, forged_body(body_id if forged_keeps_id else None))
    data = xml(root)
    assert_rejected(verifier(), data, expected)
    # Optimistic: still never reported as signed.
    result = verifier(policy=OPTIMISTIC).check(data, now=NOW)
    assert FORGED not in texts(result.signed_children())
    statuses = [r.status for r in result.signatures[0].references]
    assert statuses[1] in (ReferenceStatus.TARGET_MISSING, ReferenceStatus.AMBIGUOUS)
    assert f"{JC}body" in result.unsigned_children


@pytest.mark.parametrize("where", ["forged-first", "forged-last", "forged-nested", "in-signature"])
def test_xsw_duplicate_dsig_id(where: str) -> None:
    root = signed_tree()
    body = child(root, "body")
    body_id = body.get(DSIG_ID)
    forged = forged_body(body_id)
    if where == "forged-first":
        root.insert(list(root).index(body), forged)
    elif where == "forged-last":
        insert_before_signature(root, forged)
    elif where == "forged-nested":
        ext = etree.SubElement(etree.Element(EXT), "{urn:example:ext}y")
        ext.append(forged)
        insert_before_signature(root, ext.getparent())  # type: ignore[arg-type]  # has one
    else:
        obj = signature(root).find(DS + "Object")
        assert obj is not None
        obj.append(forged)
    data = xml(root)
    assert_refused_in_depth(data, AmbiguousReference)
    result = verifier(policy=OPTIMISTIC).check(data, now=NOW)
    assert result.signatures[0].references[1].status is ReferenceStatus.AMBIGUOUS
    assert FORGED not in texts(result.signed_children())
    assert "Wherefore art thou, Romeo?" not in texts(result.signed_children())


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (b"<body xmlns='jabber:client'>and mallory</body>", UnsignedContent),
        (b"<x xmlns='urn:example:ext'/>", UnsignedContent),
        (b"<delay xmlns='urn:xmpp:delay' from='montague.net' stamp='2026-06-01T12:00:00Z'/>", None),
        (b"<stanza-id xmlns='urn:xmpp:sid:0' by='romeo@montague.net' id='5f3d'/>", None),
    ],
)
@pytest.mark.parametrize("position", ["after-signature", "before-signature"])
def test_unreferenced_child_added(
    extra: bytes, expected: type[XmppSecError] | None, position: str
) -> None:
    root = signed_tree()
    el = etree.fromstring(extra)
    if position == "after-signature":
        root.append(el)
    else:
        insert_before_signature(root, el)
    data = xml(root)
    if expected is None:
        result = assert_valid(verifier(), data)  # strict allows server annotations
    else:
        assert_refused_in_depth(data, expected)
        result = verifier(policy=OPTIMISTIC).verify(data, now=NOW)
    assert result.unsigned_children == (str(el.tag),)
    signed = result.signed_children()
    assert [str(c.tag) for c in signed] == [JC + "thread", JC + "body"]
    assert "and mallory" not in texts(signed)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("remove-body", InvalidReference),
        ("remove-thread", InvalidReference),
        ("remove-both", InvalidReference),
        ("reorder", StanzaMismatch),
    ],
)
def test_child_removed_or_reordered(change: str, expected: type[XmppSecError]) -> None:
    root = signed_tree()
    body, thread = child(root, "body"), child(root, "thread")
    if change == "reorder":
        root.remove(body)
        root.insert(0, body)
    else:
        for el in (body, thread):
            if str(el.tag).endswith(change.split("-")[1]) or change == "remove-both":
                root.remove(el)
    data = xml(root)
    assert_rejected(verifier(), data, expected)
    # Deterministic: the same verdict every time, and reordering is never "optimistic".
    assert_rejected(verifier(), data, expected)
    optimistic = verifier(policy=OPTIMISTIC).check(data, now=NOW)
    if change == "reorder":
        assert type(optimistic.error) is StanzaMismatch
    else:
        statuses = [r.status for r in optimistic.signatures[0].references]
        assert ReferenceStatus.TARGET_MISSING in statuses


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ("reference-left", DigestMismatch),
        ("reference-updated", DigestMismatch),
        ("desc-digest-updated", InvalidSignature),
    ],
)
def test_manifest_ref_stale(variant: str, expected: type[XmppSecError]) -> None:
    root = signed_tree()
    child(root, "body").text = "Wherefore art thou, Paris?"
    if variant == "reference-updated":
        resign(root, None, desc=False)  # stanza-desc reference fixed, SignedInfo digest not
    elif variant == "desc-digest-updated":
        resign(root, None)  # both digests fixed, no key to re-sign SignedInfo
    data = xml(root)
    assert_rejected(verifier(), data, expected)
    if variant == "reference-left":
        result = verifier(policy=OPTIMISTIC).verify(data, now=NOW)
        assert [r.status for r in result.signatures[0].references] == [
            ReferenceStatus.OK,
            ReferenceStatus.DIGEST_MISMATCH,
        ]
        assert texts(result.signed_children()) == ["8996aef0-061d-012d-347a-549a200771aa"]
        assert result.unsigned_children == (JC + "body",)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("to", "paris@verona.lit"),
        ("to", "romeo@montague.net/orchard"),
        ("from", "juliet@capulet.net/tomb"),
        ("from", "nurse@capulet.net/kitchen"),
        ("type", "groupchat"),
        ("id", "183ef130"),
        ("to", None),
        ("id", None),
        ("x-added", "1"),
    ],
)
def test_stanza_attr_retarget(name: str, value: str | None) -> None:
    root = signed_tree()
    if value is None:
        del root.attrib[name]
    else:
        root.set(name, value)
    assert_refused_in_depth(xml(root), StanzaMismatch)
    assert_rejected(verifier(policy=OPTIMISTIC), xml(root), StanzaMismatch)


def test_stanza_attr_jid_normalized() -> None:
    """to/from are compared as RFC 7622 JIDs: a case variant of the same address is the
    same stanza (a server may re-serialize it)."""
    root = signed_tree()
    root.set("to", "Romeo@Montague.NET")
    assert_valid(verifier(), xml(root))


@pytest.mark.parametrize("variant", ["stripped", "all-stripped", "never-signed"])
def test_signature_stripped(variant: str) -> None:
    if variant == "never-signed":
        data = MESSAGE
    else:
        root = signed_tree()
        if variant == "all-stripped":
            # a second signature (server) on top, then both removed
            server = make_signer("capulet.net")
            server.sign_element(root)
        for sig in root.findall(DS + "Signature"):
            root.remove(sig)
        data = xml(root)
    assert_rejected(verifier(JULIET, "capulet.net"), data, NotSigned)
    assert_rejected(verifier(policy=OPTIMISTIC), data, NotSigned)


def _mutate_signature(variant: str, root: etree._Element) -> None:
    sig = signature(root)
    si = signed_info(sig)
    sv = sig.find(DS + "SignatureValue")
    assert sv is not None
    if variant == "nested-in-child":
        root.remove(sig)
        child(root, "body").append(sig)
    elif variant == "copy-nested-in-extension":
        ext = etree.Element(EXT)
        ext.append(copy.deepcopy(sig))
        insert_before_signature(root, ext)
    elif variant == "copy-in-object":
        obj = sig.find(DS + "Object")
        assert obj is not None
        obj.append(copy.deepcopy(sig))
    elif variant == "two-signedinfo":
        si.addnext(copy.deepcopy(si))
    elif variant == "two-signaturevalue":
        sv.addnext(copy.deepcopy(sv))
    elif variant == "two-digestvalue":
        dv = si.find(f"{DS}Reference/{DS}DigestValue")
        assert dv is not None
        dv.addnext(copy.deepcopy(dv))
    elif variant == "two-references":
        ref = si.find(DS + "Reference")
        assert ref is not None
        ref.addnext(copy.deepcopy(ref))
    elif variant == "no-signedinfo":
        sig.remove(si)
    elif variant == "no-signaturevalue":
        sig.remove(sv)
    elif variant == "signaturevalue-first":
        sig.remove(sv)
        sig.insert(0, sv)
    elif variant == "keyinfo-after-object":
        etree.SubElement(sig, DS + "KeyInfo")
    elif variant == "text-in-signature":
        si.tail = "hello"
    elif variant == "element-in-signaturevalue":
        etree.SubElement(sv, DS + "X")
    elif variant == "leading-text-in-signedinfo":
        si.text = "x"
    elif variant == "signaturevalue-not-base64":
        sv.text = "%%%%"
    elif variant == "digestvalue-not-base64":
        dv = si.find(f"{DS}Reference/{DS}DigestValue")
        assert dv is not None
        dv.text = "not base64!"
    elif variant == "algorithm-missing":
        sm = si.find(DS + "SignatureMethod")
        assert sm is not None
        del sm.attrib["Algorithm"]
    elif variant == "manifest-beside-object":
        etree.SubElement(sig, DS + "Manifest")
    elif variant == "reference-digest-wrong-length":
        desc_copy(sig)[0].text = b64(b"\x00" * 20)
    elif variant == "reference-digest-not-base64":
        desc_copy(sig)[0].text = "*"
    elif variant == "reference-with-child":
        etree.SubElement(desc_copy(sig)[0], "{urn:xmpp:dsig:0}x")
    elif variant == "copy-holds-other-element":
        etree.SubElement(desc_copy(sig), "{urn:xmpp:dsig:0}signer")
    elif variant == "copy-not-a-stanza":
        desc_copy(sig).tag = "{urn:xmpp:dsig:0}stanza"
    elif variant == "stanza-desc-extra-part":
        etree.SubElement(stanza_desc(sig), "{urn:xmpp:dsig:0}timestamp")
    elif variant == "no-object":
        obj = sig.find(DS + "Object")
        assert obj is not None
        sig.remove(obj)
    elif variant == "two-stanza-desc":
        obj = sig.find(DS + "Object")
        assert obj is not None
        sig.append(copy.deepcopy(obj))
    else:  # pragma: no cover
        raise AssertionError(variant)


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ("nested-in-child", SignatureSchemaError),
        ("copy-nested-in-extension", SignatureSchemaError),
        ("copy-in-object", SignatureSchemaError),
        ("two-signedinfo", SignatureSchemaError),
        ("two-signaturevalue", SignatureSchemaError),
        ("two-digestvalue", SignatureSchemaError),
        ("two-references", SignatureSchemaError),
        ("no-signedinfo", SignatureSchemaError),
        ("no-signaturevalue", SignatureSchemaError),
        ("signaturevalue-first", SignatureSchemaError),
        ("keyinfo-after-object", SignatureSchemaError),
        ("text-in-signature", SignatureSchemaError),
        ("element-in-signaturevalue", SignatureSchemaError),
        ("leading-text-in-signedinfo", SignatureSchemaError),
        ("signaturevalue-not-base64", SignatureSchemaError),
        ("digestvalue-not-base64", SignatureSchemaError),
        ("algorithm-missing", SignatureSchemaError),
        ("manifest-beside-object", SignatureSchemaError),
        ("reference-digest-wrong-length", SignatureSchemaError),
        ("reference-digest-not-base64", SignatureSchemaError),
        ("reference-with-child", SignatureSchemaError),
        ("copy-holds-other-element", SignatureSchemaError),
        ("copy-not-a-stanza", SignatureSchemaError),
        ("stanza-desc-extra-part", SignatureSchemaError),
        ("no-object", InvalidReference),
        ("two-stanza-desc", AmbiguousReference),
    ],
)
def test_signature_misplaced_or_multiple_parts(variant: str, expected: type[XmppSecError]) -> None:
    root = signed_tree()
    _mutate_signature(variant, root)
    assert_rejected_before_crypto(xml(root), expected)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # d: bound to a look-alike namespace on the signed children
        (b'xmlns:d="urn:xmpp:dsig:0" d:id=', b'xmlns:d="urn:xmpp:dsig:1" d:id=', InvalidReference),
        # an unqualified id in place of d:id
        (b" d:id=", b" id=", InvalidReference),
        # the whole Signature in a look-alike of the XML-DSIG namespace
        (
            b'xmlns="http://www.w3.org/2000/09/xmldsig#"',
            b'xmlns="http://www.w3.org/2000/09/xmldsig"',
            NotSigned,
        ),
        # stanza-desc in a look-alike namespace (default-namespace shadowing)
        (b"<d:stanza-desc ", b'<d:stanza-desc xmlns:d="urn:xmpp:dsig:1" ', InvalidReference),
        (
            b'xmlns:d="urn:xmpp:dsig:0"><SignedInfo>',
            b'xmlns:d="urn:xmpp:dsig:1"><SignedInfo>',
            InvalidReference,
        ),
        # a signed child moved into another default namespace
        (b"<body ", b"<body xmlns='urn:example:evil' ", DigestMismatch),
        # the stanza in a namespace other than jabber:client / jabber:server
        (b'xmlns="jabber:client"', b'xmlns="jabber:component:accept"', StanzaSchemaError),
        (b'xmlns="jabber:client"', b'xmlns="urn:example:evil"', StanzaSchemaError),
    ],
)
def test_namespace_confusion(old: bytes, new: bytes, expected: type[XmppSecError]) -> None:
    data = sign()
    assert old in data
    assert_refused_in_depth(data.replace(old, new), expected)


def test_namespace_confusion_jabber_server_is_jabber_client() -> None:
    """XEP-0290 §3: jabber:server is canonicalized as jabber:client, so a stanza signed by
    a client still verifies after a server-to-server hop re-namespaced it."""
    data = sign()
    assert_valid(verifier(), data.replace(b'xmlns="jabber:client"', b'xmlns="jabber:server"'))


def _pubkey_pem(jid: str, alg: Algorithm, path: Path) -> Path:
    path.write_bytes(
        identity(jid, alg)
        .private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return path


def xmlsec1_verifies(xmlsec1: str, pubkey: Path, doc: Path) -> bool:
    proc = subprocess.run(
        [
            xmlsec1,
            "--verify",
            "--pubkey-pem",
            str(pubkey),
            "--id-attr:id",
            "urn:xmpp:dsig:0:stanza-desc",
            str(doc),
        ],
        capture_output=True,
        timeout=30,
    )
    return proc.returncode == 0


@pytest.mark.integration
@pytest.mark.parametrize(
    ("signed_lang", "live_lang", "expected"),
    [
        (None, "en", InvalidSignature),  # the server adds xml:lang (RFC 6120 §8.1.5)
        ("en", "de", InvalidSignature),  # the server rewrites it
        ("en", "en", None),  # kept: valid
        (None, None, None),
    ],
)
def test_xml_lang_inherited(
    signed_lang: str | None,
    live_lang: str | None,
    expected: type[XmppSecError] | None,
    tmp_path: Path,
) -> None:
    """Defined outcome: SignedInfo and stanza-desc are canonicalized with inclusive C14N 1.1
    (XEP-0290 §2), which inherits xml:lang from the stanza, so a server adding or changing
    xml:lang after signing breaks the signature: InvalidSignature. xmlsec1 agrees."""
    stanza = tree(MESSAGE)
    if signed_lang is not None:
        stanza.set(XML_LANG, signed_lang)
    root = tree(sign(xml(stanza), JULIET, "rsa-2048"))
    if live_lang is not None:
        root.set(XML_LANG, live_lang)
    data = xml(root)
    v = verifier((JULIET, "rsa-2048"))
    if expected is None:
        assert_valid(v, data)
    else:
        assert_rejected(v, data, expected)
        assert_rejected(verifier((JULIET, "rsa-2048"), policy=OPTIMISTIC), data, expected)
    xmlsec1 = require_program("xmlsec1")
    doc = tmp_path / "stanza.xml"
    doc.write_bytes(data)
    pub = _pubkey_pem(JULIET, "rsa-2048", tmp_path / "pub.pem")
    assert xmlsec1_verifies(xmlsec1, pub, doc) is (expected is None)


# -- C. algorithms, transforms, keys ---------------------------------------------------------

SIGNATURE_METHOD = f"{DS}SignedInfo/{DS}SignatureMethod"
C14N_METHOD = f"{DS}SignedInfo/{DS}CanonicalizationMethod"
REF_TRANSFORM = f"{DS}SignedInfo/{DS}Reference/{DS}Transforms/{DS}Transform"
REF_DIGEST = f"{DS}SignedInfo/{DS}Reference/{DS}DigestMethod"
REF_TRANSFORMS = f"{DS}SignedInfo/{DS}Reference/{DS}Transforms"
DESC = "{urn:xmpp:dsig:0}stanza-desc"
DESC_TRANSFORM = f"{DS}Object/{DESC}/{DS}Transforms/{DS}Transform"
DESC_TRANSFORMS = f"{DS}Object/{DESC}/{DS}Transforms"
DESC_DIGEST = f"{DS}Object/{DESC}/{DS}DigestMethod"


def set_algorithm(path: str, value: str, data: bytes | None = None) -> bytes:
    root = tree(data or sign())
    el = signature(root).find(path)
    assert el is not None, path
    el.set("Algorithm", value)
    return xml(root)


@pytest.mark.parametrize(
    ("path", "uri"),
    [
        (SIGNATURE_METHOD, "http://www.w3.org/2000/09/xmldsig#rsa-sha1"),
        (SIGNATURE_METHOD, "http://www.w3.org/2000/09/xmldsig#dsa-sha1"),
        (SIGNATURE_METHOD, "http://www.w3.org/2001/04/xmldsig-more#rsa-md5"),
        (SIGNATURE_METHOD, "http://www.w3.org/2000/09/xmldsig#hmac-sha1"),
        (SIGNATURE_METHOD, "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1"),
        (REF_DIGEST, "http://www.w3.org/2000/09/xmldsig#sha1"),
        (REF_DIGEST, "http://www.w3.org/2001/04/xmldsig-more#md5"),
        (DESC_DIGEST, "http://www.w3.org/2000/09/xmldsig#sha1"),
        (DESC_DIGEST, "http://www.w3.org/2001/04/xmldsig-more#md5"),
    ],
)
def test_sha1_md5_dsa(path: str, uri: str) -> None:
    assert_rejected_before_crypto(set_algorithm(path, uri), UnsupportedAlgorithm)


@pytest.mark.parametrize("method", [SignatureMethod.RSA_SHA1, SignatureMethod.RSA_SHA256])
def test_sha1_md5_dsa_real_legacy_signature(method: SignatureMethod) -> None:
    """A genuinely SHA-1 signed stanza (the XEP's own examples) is refused by default and
    accepted only with Policy().legacy()."""
    data = sign(
        MESSAGE,
        JULIET,
        "rsa-2048",
        method=method,
        digest_method=DigestMethod.SHA1,
        allow_legacy=True,
    )
    assert b"xmldsig#sha1" in data
    v = Verifier(pins((JULIET, "rsa-2048")), clock=lambda: NOW)
    assert_rejected(v, data, UnsupportedAlgorithm)
    assert_valid(replace(v, policy=Policy().legacy()), data)


def _case_variants() -> Iterator[tuple[str, str]]:
    current = {
        C14N_METHOD: C14NMethod.C14N11.value,
        SIGNATURE_METHOD: SignatureMethod.ECDSA_SHA256.value,
        REF_TRANSFORM: C14NMethod.C14N11.value,
        REF_DIGEST: DigestMethod.SHA256.value,
        DESC_TRANSFORM: C14NMethod.XMPP_DSIG_0.value,
        DESC_DIGEST: DigestMethod.SHA256.value,
    }
    for path, uri in current.items():
        yield path, "urn:example:unknown-algorithm"
        yield path, uri.upper()
        if uri.startswith("http://www.w3"):
            yield path, uri.replace("http://www.w3", "http://WWW.w3")
        yield path, uri + " "
        yield path, " " + uri
        yield path, uri + "\n"
        yield path, ""
    for path in (C14N_METHOD, REF_TRANSFORM, DESC_TRANSFORM):
        yield path, "http://www.w3.org/2006/12/xml-c14n11#WithComments"
        yield path, "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments"
        yield path, "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"
    # right URI, wrong place
    yield C14N_METHOD, C14NMethod.XMPP_DSIG_0.value
    yield REF_TRANSFORM, C14NMethod.XMPP_DSIG_0.value
    yield DESC_TRANSFORM, C14NMethod.C14N11.value
    yield DESC_TRANSFORM, C14NMethod.EXC_C14N.value
    yield SIGNATURE_METHOD, DigestMethod.SHA256.value
    yield REF_DIGEST, SignatureMethod.ECDSA_SHA256.value


@pytest.mark.parametrize(("path", "uri"), list(_case_variants()))
def test_algorithm_uri_variants(path: str, uri: str) -> None:
    assert_rejected_before_crypto(set_algorithm(path, uri), UnsupportedAlgorithm)


@pytest.mark.parametrize("path", [C14N_METHOD, SIGNATURE_METHOD, REF_TRANSFORM, REF_DIGEST])
def test_algorithm_uri_variants_parameters(path: str) -> None:
    """Algorithm parameters (InclusiveNamespaces, HMACOutputLength, XPath) are refused."""
    root = tree(sign())
    el = signature(root).find(path)
    assert el is not None
    etree.SubElement(el, "{http://www.w3.org/2001/10/xml-exc-c14n#}InclusiveNamespaces")
    assert_rejected_before_crypto(xml(root), UnsupportedAlgorithm)


DANGEROUS = [
    "http://www.w3.org/TR/1999/REC-xslt-19991116",
    "http://www.w3.org/TR/1999/REC-xpath-19991116",
    "http://www.w3.org/2002/06/xmldsig-filter2",
    "http://www.w3.org/2000/09/xmldsig#base64",
    "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
    "http://www.w3.org/2001/04/xmldsig-more/xptr",
    "http://www.w3.org/TR/2001/WD-xptr-20010108",
]


@pytest.mark.parametrize("uri", DANGEROUS)
@pytest.mark.parametrize("path", [REF_TRANSFORM, DESC_TRANSFORM])
def test_dangerous_transforms(path: str, uri: str) -> None:
    assert_rejected_before_crypto(set_algorithm(path, uri), UnsupportedAlgorithm)


@pytest.mark.parametrize("path", [REF_TRANSFORM, DESC_TRANSFORM])
def test_dangerous_transforms_with_program(path: str, tmp_path: Path) -> None:
    """An XSLT transform carrying a stylesheet that would write a file is refused before
    anything is evaluated: the file never appears."""
    target = tmp_path / "written-by-xslt"
    root = tree(sign())
    el = signature(root).find(path)
    assert el is not None
    el.set("Algorithm", DANGEROUS[0])
    xsl = etree.fromstring(
        "<xsl:stylesheet version='1.0' xmlns:xsl='http://www.w3.org/1999/XSL/Transform' "
        "xmlns:exsl='http://exslt.org/common' extension-element-prefixes='exsl'>"
        f"<xsl:template match='/'><exsl:document href='{target}'>x</exsl:document>"
        "</xsl:template></xsl:stylesheet>"
    )
    el.append(xsl)
    assert_rejected_before_crypto(xml(root), UnsupportedAlgorithm)
    assert not target.exists()


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (2, UnsupportedAlgorithm),
        (5, UnsupportedAlgorithm),
        (6, LimitExceeded),
        (500, LimitExceeded),
    ],
)
@pytest.mark.parametrize("path", [REF_TRANSFORMS, DESC_TRANSFORMS])
def test_dangerous_transforms_count(path: str, count: int, expected: type[XmppSecError]) -> None:
    root = tree(sign())
    transforms = signature(root).find(path)
    assert transforms is not None
    first = transforms[0]
    for _ in range(count - 1):
        transforms.append(copy.deepcopy(first))
    err = assert_rejected_before_crypto(xml(root), expected)
    if isinstance(err, LimitExceeded):
        assert err.limit == "max_transforms"
        assert err.value == count


@pytest.fixture
def loopback() -> Iterator[tuple[socket.socket, int]]:
    """A listening loopback socket: any network fetch by the verifier would connect."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.setblocking(False)
    try:
        yield srv, srv.getsockname()[1]
    finally:
        srv.close()


def _nobody_connected(srv: socket.socket) -> bool:
    try:
        conn, _ = srv.accept()
    except BlockingIOError:
        return True
    conn.close()
    return False


@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1:{port}/stanza-desc",
        "file:///etc/passwd",
        "",
        "#xpointer(/)",
        "#xpointer(id('stanza-desc'))",
        "#Stanza-desc",
        "#stanza-desc ",
        None,
    ],
)
def test_external_reference_uri_signedinfo(
    uri: str | None, loopback: tuple[socket.socket, int]
) -> None:
    srv, port = loopback
    root = tree(sign())
    ref = signature(root).find(f"{DS}SignedInfo/{DS}Reference")
    assert ref is not None
    if uri is None:
        del ref.attrib["URI"]
    else:
        ref.set("URI", uri.format(port=port))
    assert_rejected_before_crypto(xml(root), InvalidReference)
    assert _nobody_connected(srv)


@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1:{port}/body",
        "file:///etc/passwd",
        "urn:xmpp:dsig:ref:0#../{id}",
        "urn:xmpp:dsig:ref:0#xpointer(/)",
        "urn:xmpp:dsig:ref:0#xpointer(id('{id}'))",
        "urn:xmpp:dsig:ref:0#{id}/..",
        "urn:xmpp:dsig:ref:0#",
        "urn:xmpp:dsig:ref:0#{id} ",
        "uri:xmpp:dsig:ref:0#{id}",  # the XEP's typo
        "#{id}",
        "{id}",
    ],
)
def test_external_reference_uri(uri: str, loopback: tuple[socket.socket, int]) -> None:
    srv, port = loopback
    root = tree(sign())
    ref = desc_copy(signature(root))[1]
    body_id = child(root, "body").get(DSIG_ID)
    ref.set("URI", uri.format(port=port, id=body_id))
    assert_rejected_before_crypto(xml(root), InvalidReference)
    assert _nobody_connected(srv)


@pytest.mark.parametrize("store", ["empty", "ca-bundle", "pinned-victim", "resolver-victim"])
def test_keyinfo_embedded_untrusted_cert(store: str, dsig_ca: CA) -> None:
    """Mallory makes her own self-signed certificate naming juliet@capulet.net, signs a
    forged stanza validly with it and carries the certificate in KeyInfo."""
    fake = generate_identity(JULIET, now=NOW - 3 * MS)
    forged = MESSAGE.replace(b"Wherefore art thou, Romeo?", FORGED.encode())
    data = Signer(
        fake.private_key,
        signer=JULIET,
        certificate=fake.certificate,
        include_certificate=True,
        clock=new_clock(),
        profile=SPEC,
    ).sign(forged)
    assert b"<X509Certificate>" in data
    real = identity(JULIET).certificate
    trust = {
        "empty": TrustStore(),
        "ca-bundle": TrustStore().with_ca_bundle([dsig_ca.cert]),
        "pinned-victim": TrustStore().pin(JULIET, real),
        "resolver-victim": TrustStore().with_resolver(lambda jid: [real]),
    }[store]
    expected = UntrustedKey if store in ("empty", "ca-bundle") else InvalidSignature
    assert_rejected(verifier(trust=trust), data, expected)
    assert_rejected(verifier(trust=trust, policy=OPTIMISTIC), data, expected)


def _self_signed(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, JULIET)])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - 24 * 3600 * 1000 * MS)
        .not_valid_after(NOW + 24 * 3600 * 1000 * MS)
        .add_extension(
            x509.SubjectAlternativeName([x509.OtherName(ID_ON_XMPPADDR, utf8_addr(JULIET))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )


@pytest.mark.parametrize("kind", ["rsa-1024", "secp256k1"])
def test_weak_or_odd_keys(kind: str) -> None:
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    if kind == "rsa-1024":
        key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
        method = SignatureMethod.RSA_SHA256
    else:
        key = ec.generate_private_key(ec.SECP256K1())
        method = SignatureMethod.ECDSA_SHA256
    cert = _self_signed(key)
    # The signer refuses the key outright (the caller's mistake).
    with pytest.raises(UsageError):
        Signer(key, signer=JULIET, certificate=cert, clock=new_clock(), profile=SPEC)
    # A pin refuses it too (the caller's configuration: a UsageError).
    with pytest.raises(UsageError):
        TrustStore().pin(JULIET, cert)
    # A stanza validly signed with it, the key offered by a resolver: refused.
    root = signed_tree()
    sm = signature(root).find(SIGNATURE_METHOD)
    assert sm is not None
    sm.set("Algorithm", method)
    resign(root, key)
    trust = TrustStore().with_resolver(lambda jid: [cert])
    assert_rejected(verifier(trust=trust), xml(root), UntrustedKey)


def _with_signature_value(value: bytes, data: bytes | None = None) -> bytes:
    root = tree(data or sign())
    sv = signature(root).find(DS + "SignatureValue")
    assert sv is not None
    sv.text = b64(value)
    return xml(root)


def _raw_rs(data: bytes) -> tuple[int, int]:
    sv = signature(tree(data)).find(DS + "SignatureValue")
    assert sv is not None and sv.text is not None
    raw = base64.b64decode(sv.text)
    return int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")


def _ecdsa_values() -> dict[str, Callable[[int, int, bytes], bytes]]:
    def rs(r: int, s: int) -> bytes:
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def der(r: int, s: int, data: bytes) -> bytes:
        key = identity(JULIET).private_key
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        si = signed_info(signature(tree(data)))
        return key.sign(_c14n.c14n(si, C14NMethod.C14N11), ec.ECDSA(hashes.SHA256()))

    return {
        "r=0": lambda r, s, d: rs(0, s),
        "s=0": lambda r, s, d: rs(r, 0),
        "r=s=0": lambda r, s, d: rs(0, 0),
        "r=n": lambda r, s, d: rs(P256_N, s),
        "s=n": lambda r, s, d: rs(r, P256_N),
        "r+n": lambda r, s, d: rs(r + P256_N, s) if r + P256_N < 2**256 else rs(2**256 - 1, s),
        "s=n-s (malleable, high-s)": lambda r, s, d: rs(r, P256_N - s),
        "all-ones": lambda r, s, d: b"\xff" * 64,
        "der": lambda r, s, d: der(r, s, d),
        "truncated": lambda r, s, d: rs(r, s)[:-1],
        "extended": lambda r, s, d: rs(r, s) + b"\x00",
        "empty": lambda r, s, d: b"",
    }


@pytest.mark.parametrize("variant", list(_ecdsa_values()))
def test_weak_or_odd_keys_ecdsa_values(variant: str) -> None:
    data = sign()
    r, s = _raw_rs(data)
    value = _ecdsa_values()[variant](r, s, data)
    forged = _with_signature_value(value, data)
    if variant == "s=n-s (malleable, high-s)":
        # (r, n-s) is the other valid signature of the same message: ECDSA is malleable and
        # XML-DSIG 1.1 does not forbid high s, so it verifies (as in OpenSSL); replay
        # protection does not rely on the value alone (test_replay_malleated_ecdsa_value).
        assert_valid(verifier(), forged)
        return
    assert_rejected(verifier(), forged, InvalidSignature)


def test_weak_or_odd_keys_der_is_really_valid_der() -> None:
    """Guard for the 'der' variant: the DER value is a genuine signature over SignedInfo."""
    data = sign()
    key = identity(JULIET).private_key
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    si = _c14n.c14n(signed_info(signature(tree(data))), C14NMethod.C14N11)
    der = key.sign(si, ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    key.public_key().verify(der, si, ec.ECDSA(hashes.SHA256()))
    assert_valid(
        verifier(), _with_signature_value(r.to_bytes(32, "big") + s.to_bytes(32, "big"), data)
    )
    assert_rejected(verifier(), _with_signature_value(der, data), InvalidSignature)


@pytest.mark.parametrize(
    ("alg", "value"),
    [
        ("ed25519", b"\x00" * 64),
        ("ed25519", b"\x01" * 63),
        ("rsa-2048", b"\x00" * 256),
        ("rsa-2048", b"\x01" * 255),
        ("rsa-2048", b"\xff" * 256),
    ],
)
def test_weak_or_odd_keys_other_values(alg: Algorithm, value: bytes) -> None:
    data = sign(MESSAGE, JULIET, alg)
    assert_rejected(verifier((JULIET, alg)), _with_signature_value(value, data), InvalidSignature)


def test_weak_or_odd_keys_family_mismatch() -> None:
    """The trusted key is RSA but SignatureMethod claims ECDSA: the key cannot have made it."""
    data = sign()
    assert_rejected(verifier((JULIET, "rsa-2048")), data, UntrustedKey)
    swapped = set_algorithm(SIGNATURE_METHOD, SignatureMethod.RSA_SHA256, data)
    assert_rejected(verifier(JULIET), swapped, UntrustedKey)


# -- D. signer identity and timestamps -------------------------------------------------------


def _signer_case(variant: str, ca: CA) -> tuple[bytes, Verifier, type[XmppSecError]]:
    if variant == "signer-not-from":
        # Romeo (holding only his own, trusted key) claims a stanza from Juliet.
        root = tree(
            sign(
                MESSAGE.replace(b"juliet@capulet.net/balcony", b"romeo@montague.net/x").replace(
                    b"to='romeo@montague.net'", b"to='juliet@capulet.net'"
                ),
                ROMEO,
            )
        )
        root.set("from", "juliet@capulet.net/balcony")
        desc_copy(signature(root)).set("from", "juliet@capulet.net/balcony")
        resign(root, identity(ROMEO).private_key)
        return xml(root), verifier(JULIET, ROMEO), SignerMismatch
    if variant == "signer-full-jid":
        root = signed_tree()
        signer_el = stanza_desc(signature(root))[0]
        signer_el.text = "juliet@capulet.net/balcony"
        resign(root, identity(JULIET).private_key)
        return xml(root), verifier(), SignerMismatch
    if variant == "signer-not-a-jid":
        root = signed_tree()
        stanza_desc(signature(root))[0].text = "@capulet.net"
        resign(root, identity(JULIET).private_key)
        return xml(root), verifier(), SignerMismatch
    if variant == "domain-signer-user-key":
        # Juliet's key claims to be her server.
        root = signed_tree()
        stanza_desc(signature(root))[0].text = "capulet.net"
        resign(root, identity(JULIET).private_key)
        return xml(root), verifier(JULIET), UntrustedKey
    if variant == "domain-signer-user-cert-in-keyinfo":
        key = identity(JULIET).private_key
        cert = issue(ca, key, xmpp=[utf8_addr(JULIET)])
        root = tree(
            Signer(
                key,
                signer=JULIET,
                certificate=cert,
                include_certificate=True,
                clock=new_clock(),
                profile=SPEC,
            ).sign(MESSAGE)
        )
        stanza_desc(signature(root))[0].text = "capulet.net"
        resign(root, key)
        return xml(root), verifier(trust=TrustStore().with_ca_bundle([ca.cert])), SignerMismatch
    # CA-issued certificates that do not name the signer, carried in KeyInfo.
    key = ec.generate_private_key(ec.SECP256R1())
    if variant == "cert-other-jid":
        cert = issue(ca, key, xmpp=[utf8_addr(ROMEO)])
    elif variant == "cert-cn-only":
        cert = issue(ca, key, cn=JULIET)
    else:  # cert-ia5string
        cert = issue(ca, key, xmpp=[b"\x16\x12juliet@capulet.net"])
    root = signed_tree()
    sig = signature(root)
    ki = etree.Element(DS + "KeyInfo")
    etree.SubElement(etree.SubElement(ki, DS + "X509Data"), DS + "X509Certificate").text = b64(
        cert.public_bytes(serialization.Encoding.DER)
    )
    sig.insert(2, ki)
    resign(root, key)
    return xml(root), verifier(trust=TrustStore().with_ca_bundle([ca.cert])), SignerMismatch


@pytest.mark.parametrize(
    "variant",
    [
        "signer-not-from",
        "signer-full-jid",
        "signer-not-a-jid",
        "domain-signer-user-key",
        "domain-signer-user-cert-in-keyinfo",
        "cert-other-jid",
        "cert-cn-only",
        "cert-ia5string",
    ],
)
def test_signer_vs_from_vs_cert(variant: str, dsig_ca: CA) -> None:
    data, v, expected = _signer_case(variant, dsig_ca)
    assert_rejected(v, data, expected)


def test_signer_vs_from_vs_cert_signing_side() -> None:
    """The signer refuses to sign a stanza from someone else, and a full-JID signer: the
    caller's mistake (UsageError), never SignerMismatch, which names a peer's bad input."""
    with pytest.raises(UsageError):
        make_signer(ROMEO).sign(MESSAGE)
    with pytest.raises(UsageError):
        Signer(
            identity(JULIET).private_key, signer="juliet@capulet.net/balcony", profile=SPEC
        )
    with pytest.raises(UsageError):  # certificate names somebody else
        Signer(
            identity(JULIET).private_key,
            signer=ROMEO,
            certificate=identity(JULIET).certificate,
            profile=SPEC,
        )
    with pytest.raises(UsageError):  # certificate of another key
        Signer(
            identity(ROMEO).private_key,
            signer=JULIET,
            certificate=identity(JULIET).certificate,
            profile=SPEC,
        )


def test_signer_vs_from_added_by_server() -> None:
    """A client may leave ``from`` out; its server stamps it (RFC 6120 §8.1.2.1). The stamped
    from must then belong to the signer."""
    no_from = MESSAGE.replace(b"from='juliet@capulet.net/balcony' ", b"")
    root = tree(sign(no_from))
    root.set("from", "juliet@capulet.net/balcony")
    assert_valid(verifier(), xml(root))
    root.set("from", "nurse@capulet.net/kitchen")
    assert_rejected(verifier(), xml(root), SignerMismatch)


@pytest.mark.parametrize(
    ("offset", "expected_kind"),
    [
        (5 * 60_000 * MS, None),  # exactly 5:00 old: inside (boundaries inclusive)
        (5 * 60_000 * MS + MS, "old"),
        (-5 * 60_000 * MS, None),  # exactly 5:00 ahead: inside
        (-5 * 60_000 * MS - MS, "future"),
        (2 * 3600_000 * MS, "old"),
        (-2 * 3600_000 * MS, "future"),
    ],
)
def test_timestamp_old_future(offset: dt.timedelta, expected_kind: str | None) -> None:
    data = sign()
    ts = verifier(policy=OPTIMISTIC).verify(data, now=NOW).signatures[0].timestamp
    assert ts == NOW
    now = NOW + offset
    if expected_kind is None:
        assert_valid(verifier(), data, now=now)
        return
    err = assert_rejected(verifier(), data, TimestampError, now=now)
    assert isinstance(err, TimestampError)
    assert err.kind == expected_kind
    # Optimistic: reported for the UI, not rejected.
    result = verifier(policy=OPTIMISTIC).verify(data, now=now)
    assert result.signatures[0].timestamp_status is TimestampStatus(expected_kind)


@pytest.mark.parametrize(
    "value",
    [
        "2026-06-01T12:00:00Z",
        "2026-06-01T12:00:00.12Z",
        "2026-06-01T12:00:00.123456Z",
        "2026-06-01T12:00:00.000+00:00",
        "2026-06-01T07:00:00.000-05:00",
        "2026-06-01T12:00:00.000z",
        "2026-06-01t12:00:00.000Z",
        "2026-06-01T12:00:00.000",
        "2026-06-01T12:00:00.0000",
        "2010-02-30T25:61:60.000Z",
        "2010-02-30T12:00:00.000Z",
        "2026-06-01T12:00:60.000Z",
        "0000-01-01T00:00:00.000Z",
        "2026-06-01 12:00:00.000Z",
        " 2026-06-01T12:00:00.000Z",
        "2026-06-01T12:00:00.000Z ",
        "２０２６-06-01T12:00:00.000Z",
        "2026-06-01T12:00:00,000Z",
        "",
        "x" * 100_000,
    ],
)
def test_timestamp_format(value: str) -> None:
    root = signed_tree()
    stanza_desc(signature(root))[4].text = value
    err = assert_rejected_before_crypto(xml(root), TimestampError)
    assert isinstance(err, TimestampError)
    assert err.kind == "format"


@pytest.mark.parametrize(
    "variant",
    [
        "no-timestamp",
        "two-timestamps",
        "two-signers",
        "no-signer",
        "timestamp-child",
        "signer-child",
    ],
)
def test_timestamp_missing_or_duplicated(variant: str) -> None:
    root = signed_tree()
    desc = stanza_desc(signature(root))
    signer_el, ts = desc[0], desc[4]
    if variant == "no-timestamp":
        desc.remove(ts)
    elif variant == "two-timestamps":
        ts.addnext(copy.deepcopy(ts))
    elif variant == "two-signers":
        signer_el.addnext(copy.deepcopy(signer_el))
    elif variant == "no-signer":
        desc.remove(signer_el)
    elif variant == "timestamp-child":
        etree.SubElement(ts, "{urn:xmpp:dsig:0}x")
    else:
        etree.SubElement(signer_el, "{urn:xmpp:dsig:0}x")
    # The structure is refused before crypto; re-signing does not help.
    assert_rejected_before_crypto(xml(root), SignatureSchemaError)
    resign(root, identity(JULIET).private_key, children=False)
    assert_rejected(verifier(), xml(root), SignatureSchemaError)


def _store(kind: str, path: Path) -> ReplayStore:
    return MemoryReplayStore() if kind == "memory" else SQLiteReplayStore(path)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_replay(kind: str, tmp_path: Path) -> None:
    db = tmp_path / "replay.sqlite3"
    clock = new_clock()
    signer = make_signer(clock=clock)
    first = signer.sign(MESSAGE)  # timestamp NOW
    second = signer.sign(MESSAGE)  # NOW + 1 ms
    third = signer.sign(MESSAGE)  # NOW + 2 ms
    store = _store(kind, db)
    v = verifier(replay=store)
    v.verify(second, now=NOW)
    assert_rejected(v, second, ReplayError)  # the identical stanza again
    assert_rejected(v, first, ReplayError)  # a lower timestamp from the same signer
    # The optimistic policy never turns replay off.
    assert_rejected(verifier(replay=store, policy=OPTIMISTIC), second, ReplayError)
    # A rejected stanza is not recorded: a fresh one still passes.
    if kind == "sqlite":
        assert isinstance(store, SQLiteReplayStore)
        store.close()
        store = SQLiteReplayStore(db)  # reopened: the state survived
        v = verifier(replay=store)
        assert_rejected(v, second, ReplayError)
        assert_rejected(v, first, ReplayError)
    v.verify(third, now=NOW + MS)
    assert_rejected(v, third, ReplayError)
    if isinstance(store, SQLiteReplayStore):
        store.close()


def test_replay_not_recorded_when_invalid() -> None:
    """Only a signature that passed every other check is recorded (a forged copy cannot
    burn the genuine stanza's replay slot)."""
    store = MemoryReplayStore()
    data = sign()
    tampered = data.replace(b"Wherefore", b"Therefore")
    assert_rejected(verifier(replay=store), tampered, DigestMismatch)
    assert len(store) == 0
    verifier(replay=store).verify(data, now=NOW)
    assert len(store) == 1


# -- F. schema-invalid stanzas ---------------------------------------------------------------

DID = b"xmlns:d='urn:xmpp:dsig:0'"


@pytest.mark.parametrize(
    ("stanza", "expected"),
    [
        (
            b"<foo xmlns='jabber:client' from='juliet@capulet.net/b'><body>x</body></foo>",
            StanzaSchemaError,
        ),
        (b"<message xmlns='urn:example:evil'><body>x</body></message>", StanzaSchemaError),
        (
            b"<message xmlns='jabber:client' type='bogus'><body>x</body></message>",
            StanzaSchemaError,
        ),
        (b"<presence xmlns='jabber:client' type='chat'/>", StanzaSchemaError),
        (
            b"<iq xmlns='jabber:client' id='1'><query xmlns='jabber:iq:version'/></iq>",
            StanzaSchemaError,
        ),
        (
            b"<iq xmlns='jabber:client' type='get'><query xmlns='jabber:iq:version'/></iq>",
            StanzaSchemaError,
        ),
        (b"<message xmlns='jabber:client' to='@capulet.net'><body>x</body></message>", JIDError),
        (b"<message xmlns='jabber:client' to=''><body>x</body></message>", JIDError),
        (
            b"<message xmlns='jabber:client' to='"
            + b"a" * 1024
            + b"@capulet.net'><body>x</body></message>",
            JIDError,
        ),
        (
            b"<message xmlns='jabber:client' to='ro\x7fmeo@montague.net'><body>x</body></message>",
            JIDError,
        ),
        (
            b"<message xmlns='jabber:client' from='juliet@capulet.net/'><body>x</body></message>",
            JIDError,
        ),
        (
            b"<message xmlns='jabber:client' " + DID + b" d:id='s'><body>x</body></message>",
            StanzaSchemaError,
        ),
        (
            b"<message xmlns='jabber:client'><body>x</body><x xmlns='urn:example:ext' "
            + DID
            + b"><y d:id='g'/></x></message>",
            StanzaSchemaError,
        ),
        (
            b"<message xmlns='jabber:client' "
            + DID
            + b"><body d:id='a'>x</body><subject d:id='a'>y</subject></message>",
            StanzaSchemaError,
        ),
        (
            b"<message xmlns='jabber:client' "
            + DID
            + b"><body d:id='a'>x</body><x xmlns='urn:example:ext'><y d:id='a'/></x></message>",
            StanzaSchemaError,
        ),
    ],
)
def test_stanza_schema(stanza: bytes, expected: type[XmppSecError]) -> None:
    """The signer refuses to sign it; the verifier refuses it before looking for a
    signature (except d:id placement, which only the signing side can judge: there the
    verifier finds nothing signed)."""
    signer = make_signer()
    with pytest.raises(expected) as info:
        signer.sign(stanza)
    assert type(info.value) is expected
    on_stanza = b"<message xmlns='jabber:client' " + DID + b" d:id='s'>" in stanza
    verify_expected = expected if on_stanza or b"d:id" not in stanza else NotSigned
    assert_rejected(verifier(), stanza, verify_expected)


def _retag_as_presence(root: etree._Element) -> None:
    root.tag = JC + "presence"
    del root.attrib["type"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda r: r.set("type", "bogus"), StanzaSchemaError),
        (lambda r: r.set("to", "@montague.net"), JIDError),
        (lambda r: r.set(DSIG_ID, "s"), StanzaSchemaError),
        (lambda r: _retag_as_presence(r), StanzaMismatch),
        (lambda r: setattr(r, "tag", "{urn:example:evil}message"), StanzaSchemaError),
    ],
)
def test_stanza_schema_verifying_side(
    change: Callable[[etree._Element], None], expected: type[XmppSecError]
) -> None:
    root = signed_tree()
    change(root)
    assert_refused_in_depth(xml(root), expected)


def test_replay_malleated_ecdsa_value() -> None:
    """ECDSA is malleable: (r, n - s) also verifies, and is a different replay token. The
    per-signer monotonic timestamp still refuses the re-delivery."""
    store = MemoryReplayStore()
    data = sign()
    r, s = _raw_rs(data)
    twin = _with_signature_value(r.to_bytes(32, "big") + (P256_N - s).to_bytes(32, "big"), data)
    assert verifier().check(twin, now=NOW).valid  # the twin is a valid signature by itself
    verifier(replay=store).verify(data, now=NOW)
    assert_rejected(verifier(replay=store), twin, ReplayError)


def _with_key_info(children: str, data: bytes | None = None) -> bytes:
    root = tree(data or sign())
    ki = etree.fromstring(
        f"<KeyInfo xmlns='http://www.w3.org/2000/09/xmldsig#'>{children}</KeyInfo>"
    )
    signature(root).insert(2, ki)
    return xml(root)


def _cert_b64(jid: str = JULIET) -> str:
    return b64(identity(jid).certificate.public_bytes(serialization.Encoding.DER))


@pytest.mark.parametrize(
    ("key_info", "expected"),
    [
        (
            "<X509Data><X509Certificate>not base64!</X509Certificate></X509Data>",
            SignatureSchemaError,
        ),
        ("<X509Data><X509Certificate>AAAA</X509Certificate></X509Data>", SignatureSchemaError),
        (
            "<X509Data>" + "<X509Certificate>{cert}</X509Certificate>" * 9 + "</X509Data>",
            LimitExceeded,
        ),
    ],
)
def test_keyinfo_embedded_untrusted_cert_malformed(
    key_info: str, expected: type[XmppSecError]
) -> None:
    data = _with_key_info(key_info.format(cert=_cert_b64()))
    assert_rejected_before_crypto(data, expected)


def test_keyinfo_embedded_untrusted_cert_ignored_parts(loopback: tuple[socket.socket, int]) -> None:
    """KeyName, KeyValue and RetrievalMethod are never used (nothing fetched, nothing
    trusted): with Juliet pinned the stanza verifies; unpinned it does not."""
    srv, port = loopback
    data = _with_key_info(
        "<KeyName>romeo@montague.net</KeyName>"
        f"<RetrievalMethod URI='http://127.0.0.1:{port}/key'/>"
        "<X509Data><X509Certificate>{cert}</X509Certificate></X509Data>".format(
            cert=_cert_b64(ROMEO)
        )
    )
    result = assert_valid(verifier(), data)
    assert result.signatures[0].certificate == identity(JULIET).certificate
    assert_rejected(verifier(trust=TrustStore()), data, SignerMismatch)
    assert _nobody_connected(srv)


def _many_children(n: int) -> bytes:
    bodies = b"".join(b"<x xmlns='urn:example:ext'>%d</x>" % i for i in range(n))
    return MESSAGE.replace(b"</message>", bodies + b"</message>")


def test_size_depth_fanout_limits_references_and_signatures() -> None:
    """Security case 9 at the signature level: reference and signature counts are limited
    before any digest or public-key work (Limits.max_references=30, max_signatures=8)."""
    ok = sign(_many_children(28))  # 28 + thread + body = 30 references
    assert_valid(verifier(), ok)
    with pytest.raises(StanzaSchemaError):  # the signer refuses to exceed the limit
        make_signer().sign(_many_children(29))
    root = tree(ok)
    copy_el = desc_copy(signature(root))
    copy_el.append(copy.deepcopy(copy_el[0]))  # a 31st reference
    err = assert_rejected_before_crypto(xml(root), LimitExceeded)
    assert isinstance(err, LimitExceeded) and err.limit == "max_references"
    nine = tree(sign())
    for _ in range(8):
        nine.append(copy.deepcopy(signature(nine)))
    err = assert_rejected_before_crypto(xml(nine), LimitExceeded)
    assert isinstance(err, LimitExceeded) and err.limit == "max_signatures"
