"""Strict verification validates (issue 15): the compiled schemas and the RFC 6120/6121
co-constraints run on the received stanza before any cryptography; the XEP's literal
reading of its example 3 is accepted on receipt."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from lxml import etree

from xmppsec.dsig import Policy, Verifier
from xmppsec.errors import SignatureSchemaError, StanzaSchemaError, UnsupportedAlgorithm
from xmppsec.schema import validate
from xmppsec.trust import TrustStore

if TYPE_CHECKING:
    from tests.conftest import (
        DS,
        JULIET,
        NOW,
        D,
        identity,
        make_signer,
        resign,
        signature,
        stanza_desc,
        tree,
        verifier,
        xml,
    )
else:
    from conftest import (
        DS,
        JULIET,
        NOW,
        D,
        identity,
        make_signer,
        resign,
        signature,
        stanza_desc,
        tree,
        verifier,
        xml,
    )

OFF = Policy(validate=False)
HEAD = (
    b"<message xmlns='jabber:client' from='juliet@capulet.net/balcony' id='m1' "
    b"to='romeo@montague.net' type='chat'>"
)


class CountingTrust(TrustStore):
    """Records every key lookup: the first step of the cryptography."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.pin(JULIET, identity().certificate)

    def resolve_all(self, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        self.calls += 1
        return super().resolve_all(*args, **kwargs)  # type: ignore[arg-type]


# -- another implementation signs what our schemas refuse -----------------------------------


@pytest.mark.parametrize(
    ("stanza", "reason"),
    [
        (HEAD + b"<body>Hello</body><body>Hi</body></message>", "more than one <body/>"),
        (
            HEAD.replace(b"type='chat'", b"type='chat' xml:lang='en'")
            + b"<body>Hello</body><body xml:lang='EN'>Hi</body></message>",
            "more than one <body/> for xml:lang 'en'",
        ),
        (HEAD + b"<thread>t1</thread><thread>t2</thread></message>", "more than one <thread/>"),
        (
            b"<iq xmlns='jabber:client' from='juliet@capulet.net/balcony' to='capulet.net' "
            b"type='get' id='1'><a xmlns='urn:example:a'/><b xmlns='urn:example:b'/></iq>",
            "carries 2 payloads",
        ),
        (HEAD.replace(b"chat", b"error") + b"<body>x</body></message>", "without an <error/>"),
    ],
)
def test_valid_xep0290_that_breaks_the_co_constraints_is_refused(
    stanza: bytes, reason: str
) -> None:
    # Our Signer does not judge content: it stands in for another implementation.
    signed = make_signer().sign(stanza)
    trust = CountingTrust()
    result = Verifier(trust, clock=lambda: NOW).check(signed, now=NOW)
    assert type(result.error) is StanzaSchemaError, result.error
    assert reason in str(result.error)
    assert trust.calls == 0  # refused before any cryptography
    assert result.signed_children() == ()
    # The signature itself is good: without validation (or content validation) it verifies.
    assert verifier(policy=OFF).verify(signed, now=NOW).valid
    assert verifier(policy=Policy(validate_content=False)).verify(signed, now=NOW).valid


def test_schema_fault_in_a_signature_is_a_signature_schema_error_before_crypto() -> None:
    root = tree(make_signer().sign(HEAD + b"<body>x</body></message>"))
    signature(root).set("foo", "bar")  # outside SignedInfo: the signature still verifies
    data = xml(root)
    for policy in (Policy(), Policy.optimistic()):
        trust = CountingTrust()
        result = Verifier(trust, policy=policy, clock=lambda: NOW).check(data, now=NOW)
        assert type(result.error) is SignatureSchemaError, result.error
        assert result.error.path == "/message/ds:Signature"
        assert trust.calls == 0
    assert verifier(policy=OFF).verify(data, now=NOW).valid


def test_schema_fault_in_a_signature_of_a_jabber_server_stanza() -> None:
    signed = make_signer().sign(HEAD + b"<body>x</body></message>")
    hopped = tree(signed.replace(b'xmlns="jabber:client"', b'xmlns="jabber:server"'))
    assert verifier().verify(xml(hopped), now=NOW).valid
    timestamp = stanza_desc(signature(hopped))[4]
    timestamp.set("x", "y")
    result = verifier(policy=Policy(require_all_references=False)).check(xml(hopped), now=NOW)
    assert type(result.error) is SignatureSchemaError, result.error
    assert "d:timestamp" in result.error.path


def test_server_added_extension_elements_stay_acceptable() -> None:
    root = tree(make_signer().sign(HEAD + b"<body>x</body></message>"))
    # XEP-0359 stanza-id (unknown namespace: lax) and XEP-0203 delay (known: validated).
    etree.SubElement(root, "{urn:xmpp:sid:0}stanza-id", by="romeo@montague.net", id="5f")
    etree.SubElement(
        root, "{urn:xmpp:delay}delay", {"from": "montague.net", "stamp": "2026-06-01T12:00:00Z"}
    )
    assert verifier().verify(xml(root), now=NOW).valid


def test_validate_refuses_what_the_issue_names() -> None:
    with pytest.raises(StanzaSchemaError, match="thread"):
        validate(HEAD + b"<thread>t1</thread><thread>t2</thread><body>b</body></message>")
    with pytest.raises(StanzaSchemaError, match="RFC 6120 §8.2.3") as info:
        validate(b"<iq xmlns='jabber:client' type='get' id='1'/>")
    assert info.value.path == "/iq" and info.value.line == 1


# -- the XEP's literal reading of example 3 ---------------------------------------------------


def _literal(data: bytes, *, transform_ns: str = D) -> bytes:
    """Rewrite stanza-desc's Transforms/Transform/DigestMethod into urn:xmpp:dsig:0, as the
    XEP's example 3 literally reads, and re-sign (desc digest and SignatureValue)."""
    root = tree(data)
    desc = stanza_desc(signature(root))
    transforms, method = desc[1], desc[2]
    assert transforms.tag == DS + "Transforms" and method.tag == DS + "DigestMethod"
    transforms.tag = D + "Transforms"
    for t in transforms:
        t.tag = transform_ns + "Transform"
    method.tag = D + "DigestMethod"
    resign(root, identity().private_key, children=False)
    return xml(root)


def test_literal_reading_of_example_3_verifies() -> None:
    data = _literal(make_signer().sign(HEAD + b"<body>x</body></message>"))
    assert b"<d:Transforms>" in data or b"Transforms xmlns" in data
    validate(data)
    for policy in (Policy(), OFF, Policy.optimistic()):
        result = verifier(policy=policy).verify(data, now=NOW)
        assert result.valid and [c.text for c in result.signed_children()] == ["x"]


def test_literal_reading_mixed_with_the_dsig_reading_is_refused() -> None:
    data = _literal(make_signer().sign(HEAD + b"<body>x</body></message>"), transform_ns=DS)
    assert type(verifier().check(data, now=NOW).error) is SignatureSchemaError
    assert type(verifier(policy=OFF).check(data, now=NOW).error) is SignatureSchemaError


def test_the_signer_keeps_writing_the_xml_dsig_elements() -> None:
    desc = stanza_desc(signature(tree(make_signer().sign(HEAD + b"<body>x</body></message>"))))
    assert [desc[1].tag, desc[2].tag] == [DS + "Transforms", DS + "DigestMethod"]


def test_literal_reading_is_only_for_the_xep_namespace() -> None:
    from xmppsec.dsig import ROBUST

    root = tree(make_signer(profile=ROBUST).sign(HEAD + b"<body>x</body></message>"))
    desc = root.find(f"{DS}Signature/{DS}Object/{{{ROBUST.desc_namespace}}}stanza-desc")
    assert desc is not None
    desc[1].tag = "{" + ROBUST.desc_namespace + "}Transforms"
    result = verifier(policy=OFF).check(xml(root), now=NOW)
    assert isinstance(result.error, SignatureSchemaError | UnsupportedAlgorithm)


def test_corpus_keeps_the_literal_reading_valid() -> None:
    corpus = Path(__file__).parent / "vectors" / "corpus"
    assert (corpus / "valid" / "stanza-desc-literal-unqualified-transforms.xml").is_file()
