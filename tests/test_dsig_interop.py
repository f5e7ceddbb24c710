"""Interoperability of the XEP-0290 spec profile with xmlsec1 (a second XML-DSIG
implementation, libxml2 C14N + OpenSSL), and fixed cross-implementation vectors.

xmlsec1 is told that ``stanza-desc/@id`` is an ID (``--id-attr:id
urn:xmpp:dsig:0:stanza-desc``); it then checks SignedInfo and the ``#stanza-desc`` reference —
the outer layer. The per-child references inside stanza-desc are XEP-0290's own and only
xmppsec checks them.

Missing xmlsec1: a failure when CI=true, a skip otherwise (conftest.require_program).
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives import serialization
from lxml import etree

from xmppsec.algorithms import C14NMethod, SignatureMethod
from xmppsec.dsig import Verifier, _c14n
from xmppsec.errors import InvalidSignature
from xmppsec.keys import Algorithm, load_certificate, load_private_key
from xmppsec.trust import TrustStore

if TYPE_CHECKING:
    from tests.conftest import (
        DS,
        JULIET,
        MESSAGE,
        NOW,
        assert_rejected,
        assert_valid,
        identity,
        require_program,
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
        DS,
        JULIET,
        MESSAGE,
        NOW,
        assert_rejected,
        assert_valid,
        identity,
        require_program,
        sign,
        signature,
        signed_info,
        stanza_desc,
        tree,
        verifier,
        xml,
    )

pytestmark = pytest.mark.integration

VECTORS = Path(__file__).parent / "vectors" / "dsig"
ID_ATTR = ["--id-attr:id", "urn:xmpp:dsig:0:stanza-desc"]
METHODS = {"rsa-2048": SignatureMethod.RSA_SHA256, "ecdsa-p256": SignatureMethod.ECDSA_SHA256}


def run(xmlsec1: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([xmlsec1, *args], capture_output=True, text=True, timeout=60, check=False)


def write_keys(alg: Algorithm, tmp: Path) -> tuple[Path, Path]:
    key = identity(JULIET, alg).private_key
    pub = tmp / f"{alg}.pub.pem"
    priv = tmp / f"{alg}.key.pem"
    pub.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    priv.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return pub, priv


def with_lang(stanza: bytes, lang: str | None) -> bytes:
    if lang is None:
        return stanza
    return stanza.replace(b"<message ", f"<message xml:lang='{lang}' ".encode(), 1)


def buffer(output: str, name: str) -> str:
    """The ``== <name> data - start buffer:`` block of xmlsec1's --store-* output."""
    start = f"== {name} data - start buffer:\n"
    end = f"\n== {name} data - end buffer"
    i = output.index(start) + len(start)
    return output[i : output.index(end, i)]


def xep_template(
    method: str, *, lang: str | None = None, body: str = "Wherefore art thou, Romeo?"
) -> bytes:
    """A signing template in the XEP's own layout (default-namespace stanza-desc, DigestValue
    and SignatureValue empty), built by hand: the child digest comes straight from lxml's
    exclusive C14N, independent of the xmppsec signer."""
    lang_attr = f" xml:lang='{lang}'" if lang else ""
    attrs = (
        f"from='juliet@capulet.net/balcony' id='183ef129' to='romeo@montague.net' "
        f"type='chat'{lang_attr}"
    )
    child = etree.fromstring(
        f"<message xmlns='jabber:client'><body xmlns:d='urn:xmpp:dsig:0' d:id='b1'>{body}</body>"
        "</message>"
    )[0]
    dig = base64.b64encode(
        hashlib.sha256(etree.tostring(child, method="c14n", exclusive=True)).digest()
    ).decode()
    return (
        f"<message xmlns='jabber:client' {attrs}>"
        f"<body xmlns:d='urn:xmpp:dsig:0' d:id='b1'>{body}</body>"
        "<Signature xmlns='http://www.w3.org/2000/09/xmldsig#'><SignedInfo>"
        "<CanonicalizationMethod Algorithm='http://www.w3.org/2006/12/xml-c14n11'/>"
        f"<SignatureMethod Algorithm='{method}'/>"
        "<Reference URI='#stanza-desc'><Transforms>"
        "<Transform Algorithm='http://www.w3.org/2006/12/xml-c14n11'/></Transforms>"
        "<DigestMethod Algorithm='http://www.w3.org/2001/04/xmlenc#sha256'/>"
        "<DigestValue></DigestValue></Reference></SignedInfo>"
        "<SignatureValue></SignatureValue><Object>"
        "<stanza-desc xmlns='urn:xmpp:dsig:0' id='stanza-desc'>"
        "<signer>juliet@capulet.net</signer>"
        "<Transforms xmlns='http://www.w3.org/2000/09/xmldsig#'>"
        "<Transform Algorithm='urn:xmpp:dsig:transform:0'/></Transforms>"
        "<DigestMethod xmlns='http://www.w3.org/2000/09/xmldsig#' "
        "Algorithm='http://www.w3.org/2001/04/xmlenc#sha256'/>"
        f"<message {attrs}><reference URI='urn:xmpp:dsig:ref:0#b1'>{dig}</reference></message>"
        "<timestamp>2026-06-01T12:00:00.000Z</timestamp>"
        "</stanza-desc></Object></Signature></message>"
    ).encode()


def xmlsec1_sign(xmlsec1: str, template: bytes, priv: Path, tmp: Path) -> bytes:
    src = tmp / "template.xml"
    out = tmp / "signed.xml"
    src.write_bytes(template)
    proc = run(
        xmlsec1, "--sign", "--privkey-pem", str(priv), *ID_ATTR, "--output", str(out), str(src)
    )
    assert proc.returncode == 0, proc.stderr
    signed = out.read_bytes()
    if signed.startswith(b"<?xml"):
        signed = signed[signed.index(b"?>") + 2 :].lstrip()
    return signed


def xmlsec1_verify(
    xmlsec1: str, data: bytes, pub: Path, tmp: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    doc = tmp / "verify.xml"
    doc.write_bytes(data)
    return run(xmlsec1, "--verify", *extra, "--pubkey-pem", str(pub), *ID_ATTR, str(doc))


# -- xmlsec1 verifies what we sign -------------------------------------------------------------


@pytest.mark.parametrize("lang", [None, "en"])
@pytest.mark.parametrize("alg", list(METHODS))
def test_xmlsec1_verifies_our_signature(alg: Algorithm, lang: str | None, tmp_path: Path) -> None:
    xmlsec1 = require_program("xmlsec1")
    pub, _ = write_keys(alg, tmp_path)
    data = sign(with_lang(MESSAGE, lang), JULIET, alg)
    ok = xmlsec1_verify(xmlsec1, data, pub, tmp_path)
    assert ok.returncode == 0, ok.stderr
    # and it is a real check: a changed stanza-desc fails in xmlsec1 too
    tampered = data.replace(b"2026-06-01T12:00:00.000Z", b"2026-06-01T12:00:00.001Z")
    assert tampered != data
    assert xmlsec1_verify(xmlsec1, tampered, pub, tmp_path).returncode != 0
    # a server adding xml:lang afterwards: both implementations reject
    if lang is None:
        added = data.replace(b"<message ", b"<message xml:lang='de' ", 1)
        assert xmlsec1_verify(xmlsec1, added, pub, tmp_path).returncode != 0
        assert_rejected(verifier((JULIET, alg)), added, InvalidSignature)


def test_xmlsec1_verifies_the_outer_layer_of_two_signatures(tmp_path: Path) -> None:
    """A server signature over the client's: xmlsec1 refuses the document as it is (the XEP's
    fixed id="stanza-desc" occurs twice, a duplicate ID to a generic XML-DSIG tool; xmppsec
    resolves #stanza-desc inside each Signature's own Object). With the server's Signature
    taken off, xmlsec1 verifies the client's: the d:id the server put on it left it intact."""
    xmlsec1 = require_program("xmlsec1")
    pub, _ = write_keys("ecdsa-p256", tmp_path)
    both = sign(sign(), "capulet.net")
    assert both.count(b"<Signature ") == 2
    refused = xmlsec1_verify(xmlsec1, both, pub, tmp_path)
    assert refused.returncode != 0 and "duplicate ID" in refused.stderr
    root = tree(both)
    root.remove(signature(root, 1))
    assert signature(root, 0).get("{urn:xmpp:dsig:0}id") is not None
    ok = xmlsec1_verify(xmlsec1, xml(root), pub, tmp_path)
    assert ok.returncode == 0, ok.stderr


# -- we verify what xmlsec1 signs -------------------------------------------------------------


@pytest.mark.parametrize("lang", [None, "en"])
@pytest.mark.parametrize("alg", list(METHODS))
def test_we_verify_xmlsec1_signature(alg: Algorithm, lang: str | None, tmp_path: Path) -> None:
    xmlsec1 = require_program("xmlsec1")
    _, priv = write_keys(alg, tmp_path)
    signed = xmlsec1_sign(xmlsec1, xep_template(METHODS[alg], lang=lang), priv, tmp_path)
    sig = signature(tree(signed))
    dv = sig.find(f"{DS}SignedInfo/{DS}Reference/{DS}DigestValue")
    sv = sig.find(DS + "SignatureValue")
    assert dv is not None and dv.text and sv is not None and sv.text  # xmlsec1 filled them
    result = assert_valid(verifier((JULIET, alg)), signed)
    assert result.signatures[0].signer == JULIET
    assert [c.text for c in result.signed_children()] == ["Wherefore art thou, Romeo?"]
    # a different body under xmlsec1's signature: our per-child check catches it
    assert not verifier((JULIET, alg)).check(signed.replace(b"Romeo?", b"Paris?"), now=NOW).valid


@pytest.mark.parametrize("alg", list(METHODS))
def test_we_verify_xmlsec1_signature_over_our_template(alg: Algorithm, tmp_path: Path) -> None:
    """Our own signer's layout, DigestValue and SignatureValue blanked, re-signed by
    xmlsec1."""
    xmlsec1 = require_program("xmlsec1")
    _, priv = write_keys(alg, tmp_path)
    root = tree(sign(with_lang(MESSAGE, "en"), JULIET, alg))
    sig = signature(root)
    for path in (f"{DS}SignedInfo/{DS}Reference/{DS}DigestValue", DS + "SignatureValue"):
        el = sig.find(path)
        assert el is not None
        el.text = None
    signed = xmlsec1_sign(xmlsec1, xml(root), priv, tmp_path)
    assert_valid(verifier((JULIET, alg)), signed)


# -- canonical forms match xmlsec1 byte for byte ----------------------------------------------


@pytest.mark.parametrize("layout", ["ours", "xep"])
@pytest.mark.parametrize("lang", [None, "en", "de-AT"])
def test_c14n_matches_xmlsec1(layout: str, lang: str | None, tmp_path: Path) -> None:
    xmlsec1 = require_program("xmlsec1")
    pub, priv = write_keys("rsa-2048", tmp_path)
    if layout == "ours":
        stanza = with_lang(MESSAGE, lang)
        if lang == "de-AT":  # xml:space is inherited by C14N 1.1 as well
            stanza = stanza.replace(b"<message ", b"<message xml:space='preserve' ", 1)
        data = sign(stanza, JULIET, "rsa-2048")
    else:
        data = xmlsec1_sign(
            xmlsec1, xep_template(SignatureMethod.RSA_SHA256, lang=lang), priv, tmp_path
        )
    proc = xmlsec1_verify(xmlsec1, data, pub, tmp_path, "--store-references", "--store-signatures")
    assert proc.returncode == 0, proc.stderr
    sig = signature(tree(data))
    desc_theirs = buffer(proc.stdout, "PreDigest").encode()
    si_theirs = buffer(proc.stdout, "PreSigned").encode()
    assert _c14n.c14n(stanza_desc(sig), C14NMethod.C14N11) == desc_theirs
    assert _c14n.c14n(signed_info(sig), C14NMethod.C14N11) == si_theirs
    if layout == "ours" and lang == "de-AT":
        assert b'xml:space="preserve"' in si_theirs.split(b">")[0]
    if lang is not None:  # the inherited xml:lang is really there
        assert f'xml:lang="{lang}"'.encode() in desc_theirs
        assert f'xml:lang="{lang}"'.encode() in si_theirs.split(b">")[0]
    else:
        assert b"xml:lang" not in si_theirs


# -- fixed vectors (no xmlsec1 needed to check them; xmlsec1 reproduces them) -----------------


def _vector_verifier() -> Verifier:
    cert = load_certificate((VECTORS / "juliet-rsa.cert.pem").read_bytes())
    return Verifier(TrustStore().pin(JULIET, cert), clock=lambda: NOW)


def test_vector_xmlsec1_signed_with_lang() -> None:
    """A stanza signed by xmlsec1 (RSA, deterministic) with xml:lang='en' on the stanza."""
    data = (VECTORS / "xmlsec1-signed-lang-en.xml").read_bytes()
    assert b'xml:lang="en"' in data
    assert_valid(_vector_verifier(), data)


def test_vector_xml_lang_added_by_server() -> None:
    """Security case 19 as a fixed vector: the same stanza signed without xml:lang, then a
    server added xml:lang='en'. Defined outcome: InvalidSignature (xmlsec1 agrees, see
    test_vectors_reproduced_by_xmlsec1)."""
    data = (VECTORS / "xmlsec1-signed-no-lang.xml").read_bytes()
    assert_valid(_vector_verifier(), data)
    added = (VECTORS / "xml-lang-added-after-signing.xml").read_bytes()
    assert_rejected(_vector_verifier(), added, InvalidSignature)


def test_vectors_reproduced_by_xmlsec1(tmp_path: Path) -> None:
    """RSA PKCS#1 v1.5 is deterministic: xmlsec1 signing the stored templates with the stored
    key reproduces the stored vectors byte for byte, and rejects the xml:lang vector."""
    xmlsec1 = require_program("xmlsec1")
    priv = VECTORS / "juliet-rsa.key.pem"
    load_private_key(priv.read_bytes())  # the stored key loads
    for lang, name in (("en", "xmlsec1-signed-lang-en.xml"), (None, "xmlsec1-signed-no-lang.xml")):
        signed = xmlsec1_sign(
            xmlsec1, xep_template(SignatureMethod.RSA_SHA256, lang=lang), priv, tmp_path
        )
        assert signed.strip() == (VECTORS / name).read_bytes().strip()
    cert = load_certificate((VECTORS / "juliet-rsa.cert.pem").read_bytes())
    pub = tmp_path / "vector.pub.pem"
    pub.write_bytes(
        cert.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    added = (VECTORS / "xml-lang-added-after-signing.xml").read_bytes()
    assert xmlsec1_verify(xmlsec1, added, pub, tmp_path).returncode != 0


@pytest.mark.parametrize(
    "stanza",
    [
        # unused namespace declarations on the stanza: inclusive C14N renders them
        MESSAGE.replace(
            b"<message ",
            b"<message xmlns:stream='http://etherx.jabber.org/streams' xmlns:x='urn:example:x' ",
            1,
        ),
        # the stanza with a prefix instead of a default namespace
        b"<c:message xmlns:c='jabber:client' from='juliet@capulet.net/balcony' type='chat'>"
        b"<c:body>prefixed</c:body></c:message>",
        # a default-namespace declaration the Signature must override
        MESSAGE.replace(b"<body>", b"<body xmlns='jabber:client' xml:lang='fr'>"),
    ],
    ids=["extra-declarations", "prefixed-stanza", "child-lang"],
)
def test_c14n_matches_xmlsec1_namespace_context(stanza: bytes, tmp_path: Path) -> None:
    xmlsec1 = require_program("xmlsec1")
    pub, _ = write_keys("rsa-2048", tmp_path)
    data = sign(stanza, JULIET, "rsa-2048")
    proc = xmlsec1_verify(xmlsec1, data, pub, tmp_path, "--store-references", "--store-signatures")
    assert proc.returncode == 0, proc.stderr
    sig = signature(tree(data))
    assert (
        _c14n.c14n(stanza_desc(sig), C14NMethod.C14N11) == buffer(proc.stdout, "PreDigest").encode()
    )
    assert (
        _c14n.c14n(signed_info(sig), C14NMethod.C14N11) == buffer(proc.stdout, "PreSigned").encode()
    )
    assert_valid(verifier((JULIET, "rsa-2048")), data)
