"""RFC 3923 objects through real Prosody and ejabberd (issue "RFC 3923 end-to-end objects":
"an e2e message and directed presence sent through real Prosody and ejabberd arrive
decryptable and verified").

alice seals (sign, then encrypt to bob's certificate) a message and a directed presence; the
server routes the ``<e2e/>`` stanza; bob opens the exact bytes his client received.
"""

from __future__ import annotations

import copy
import functools
import itertools

import pytest
from lxml import etree

from tests.harness import cases
from tests.harness.cases import Routed
from tests.harness.servers import Server
from xmppsec.e2e import open_stanza, seal_stanza
from xmppsec.errors import DecryptionError, InvalidSignature
from xmppsec.keys import Identity, generate_identity
from xmppsec.parser import parse
from xmppsec.replay import MemoryReplayStore
from xmppsec.trust import TrustStore

_ids = itertools.count(1)


@functools.cache
def identity(jid: str) -> Identity:
    # RSA: RFC 3923 key transport needs an RSA recipient (cryptography's EnvelopedData).
    return generate_identity(jid, "rsa-2048")


def _seal(server: Server, stanza: str) -> bytes:
    alice = identity(server.jid("alice"))
    bob = identity(server.jid("bob"))
    return seal_stanza(
        stanza.encode(),
        key=alice.private_key,
        certificate=alice.certificate,
        recipients=[bob.certificate],
    )


def _open_at_bob(server: Server, routed: Routed) -> tuple[etree._Element, str | None, bool]:
    received = copy.deepcopy(parse(routed.stanza.document())[0])
    bob = identity(server.jid("bob"))
    trust = TrustStore().pin(server.jid("alice"), identity(server.jid("alice")).certificate)
    opened = open_stanza(
        received,
        trust=trust,
        key=bob.private_key,
        certificate=bob.certificate,
        replay=MemoryReplayStore(),
    )
    return opened.stanza, opened.signer, opened.encrypted


@pytest.mark.integration
def test_e2e_message_through_server(xmpp_server: Server) -> None:
    s = xmpp_server

    def build(srv: Server) -> bytes:
        return _seal(
            srv,
            f"<message xmlns='jabber:client' from='{srv.full_jid('alice')}' to='{srv.jid('bob')}' "
            f"type='chat' id='e2e-m{next(_ids)}'><body>Wherefore art thou, Romeo?</body></message>",
        )

    routed = cases.route_chat(s, build)
    assert b"urn:ietf:params:xml:ns:xmpp-e2e" in routed.received
    assert b"Wherefore" not in routed.received  # encrypted on the wire
    inner, signer, encrypted = _open_at_bob(s, routed)
    assert signer == s.jid("alice") and encrypted
    body = inner.find("{jabber:client}body")
    assert body is not None and body.text == "Wherefore art thou, Romeo?"


@pytest.mark.integration
def test_e2e_directed_presence_through_server(xmpp_server: Server) -> None:
    s = xmpp_server

    def build(srv: Server) -> bytes:
        return _seal(
            srv,
            f"<presence xmlns='jabber:client' from='{srv.full_jid('alice')}' "
            f"to='{srv.full_jid('bob')}' id='e2e-p{next(_ids)}'>"
            "<status>On the balcony</status></presence>",
        )

    routed = cases.route_presence(s, build)
    inner, signer, encrypted = _open_at_bob(s, routed)
    assert signer == s.jid("alice") and encrypted
    status = inner.find("{jabber:client}status")
    assert status is not None and status.text == "On the balcony"


@pytest.mark.integration
def test_e2e_tampered_in_transit_is_one_opaque_error(xmpp_server: Server) -> None:
    s = xmpp_server

    def build(srv: Server) -> bytes:
        return _seal(
            srv,
            f"<message xmlns='jabber:client' from='{srv.full_jid('alice')}' to='{srv.jid('bob')}' "
            f"type='chat' id='e2e-t{next(_ids)}'><body>pay 10</body></message>",
        )

    routed = cases.route_chat(s, build)
    root = copy.deepcopy(parse(routed.stanza.document())[0])
    e2e = root.find("{urn:ietf:params:xml:ns:xmpp-e2e}e2e")
    assert e2e is not None and e2e.text
    # flip one base64 character of the encrypted entity (a server in the middle)
    text = e2e.text
    i = len(text) // 2
    e2e.text = text[:i] + ("A" if text[i] != "A" else "B") + text[i + 1 :]
    bob = identity(s.jid("bob"))
    # CBC: a flipped block almost always breaks the decrypted MIME (DecryptionError); in the
    # rare case it still parses, the inner signature catches it (InvalidSignature).
    with pytest.raises((DecryptionError, InvalidSignature)) as exc:
        open_stanza(
            root,
            trust=TrustStore().pin(s.jid("alice"), identity(s.jid("alice")).certificate),
            key=bob.private_key,
            certificate=bob.certificate,
        )
    if isinstance(exc.value, DecryptionError):
        assert str(exc.value) == DecryptionError.MESSAGE and exc.value.__cause__ is None
