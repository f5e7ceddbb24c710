"""XEP-0274 use case 2 through each server's OWN MUC service (issue 16): alice signs a private
message to the occupant JID ``room/bob``; Prosody's and ejabberd's MUC redirect it to bob's
real JID from ``room/alice``. Bob verifies the exact bytes his client received (robust
profile, strict policy): ``sender_relation="muc-private"``, signer alice; a changed body
and another room are refused. (The room service's redirection is tests/test_component.py;
across federation, tests/test_federation.py.)"""

from __future__ import annotations

import pytest
from lxml import etree

from tests.harness.cases import NS_MUC_USER, route_muc_private
from tests.harness.servers import Server
from xmppsec.bindings.dsig_robust import MessageCopyType
from xmppsec.dsig import ROBUST, Policy, Signer, VerificationResult, Verifier
from xmppsec.errors import StanzaMismatch, VerificationError
from xmppsec.keys import Identity, generate_identity
from xmppsec.parser import parse
from xmppsec.trust import TrustStore

pytestmark = pytest.mark.integration

ALICE = "alice@localhost"


@pytest.fixture(scope="module")
def alice() -> Identity:
    return generate_identity(ALICE)


def _check(ident: Identity, data: bytes, server: Server) -> VerificationResult:
    trust = TrustStore().pin(ALICE, ident.certificate)
    return Verifier(trust, policy=Policy(own_server=server.domain), profile=ROBUST).check(data)


def test_muc_private_message_through_the_servers_own_room(
    xmpp_server: Server, alice: Identity
) -> None:
    s = xmpp_server
    signer = Signer(alice.private_key, signer=ALICE, certificate=alice.certificate, profile=ROBUST)
    sent = signer.sign(
        f"<message xmlns='jabber:client' to='{s.occupant_jid('bob')}' type='chat' id='pm-{s.name}'>"
        f"<body>psst, bob</body><x xmlns='{NS_MUC_USER}'/></message>".encode()
    )
    routed = route_muc_private(s, sent)
    data = routed.standalone()
    assert routed.stanza.attr("from") == s.occupant_jid("alice")
    assert routed.stanza.attr("to") == s.full_jid("bob")

    result = _check(alice, data, s)
    assert result.valid, (type(result.error).__name__, result.error)
    (sig,) = result.signatures
    assert sig.signer == ALICE and sig.sender_relation == "muc-private"
    assert {c.tag for c in result.signed_children()} == {
        "{jabber:client}body",
        f"{{{NS_MUC_USER}}}x",
    }

    def variant(**attrs: str) -> bytes:
        root = parse(data)
        for name, value in attrs.items():
            root.set(name, value)
        return etree.tostring(root)

    body = parse(data).find("{jabber:client}body")
    assert body is not None and body.text == "psst, bob"
    tampered = data.replace(b"psst, bob", b"psst, rob")
    assert tampered != data
    refused: list[tuple[bytes, type[VerificationError]]] = [
        (tampered, VerificationError),  # the body changed
        (variant(**{"from": f"other@{s.muc_domain}/alice"}), StanzaMismatch),  # another room
    ]
    for data_variant, error in refused:
        bad = _check(alice, data_variant, s)
        assert not bad.valid and isinstance(bad.error, error), bad.error
    # The room's word, as docs/routing.md says for case 2: which real JID is occupant 'bob'
    # (a copy re-addressed to carol) and which nick the sender has are not in the signature.
    # The signed copy names the occupant it was meant for; a client compares it with its own
    # nick in that room.
    for attrs in ({"to": s.full_jid("carol")}, {"from": s.occupant_jid("mallory")}):
        copy = _check(alice, variant(**attrs), s)
        assert copy.valid and copy.signatures[0].sender_relation == "muc-private"
        signed_copy = copy.signatures[0].stanza_desc_binding().message_or_presence_or_iq
        assert isinstance(signed_copy, MessageCopyType)
        assert signed_copy.to == s.occupant_jid("bob")
