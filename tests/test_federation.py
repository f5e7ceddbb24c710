"""XEP-0274 use cases 1-4 and an RFC 3923 sealed stanza across two federated servers (issue 16).

A Prosody domain and an ejabberd domain run on their own loopback addresses with
server-to-server on port 5269 (tests/harness/federation.py: dialback, no TLS, names in
/etc/hosts lines added and removed by the fixture). In each direction alice, on the sending
server, signs; bob, on the other server, verifies the exact bytes his client received. Every
room case (2, 3a, 3b) runs with the room on the sender's server and on the recipient's.

The expected outcome of every (direction, case, profile) is data in
tests/vectors/routing/expected.json (``federation``); docs/routing.md is rendered from it by
``python -m tests.test_servers`` (the one generator). A missing server fails under CI=true.
"""

from __future__ import annotations

import copy
import functools
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import pytest
from lxml import etree

from tests.harness.cases import NS_MUC, NS_MUC_USER, Refused, _await, _join
from tests.harness.client import Received, XmppClient, connect
from tests.harness.federation import Federation
from tests.harness.servers import Server
from tests.test_component import component
from tests.test_servers import Observed, expected, judge
from xmppsec.dsig import ROBUST, SPEC, Policy, Profile, Signer, Verifier
from xmppsec.e2e import open_stanza, seal_stanza
from xmppsec.errors import (
    DecryptionError,
    DigestMismatch,
    InvalidSignature,
    SignerMismatch,
    StanzaMismatch,
    XmppSecError,
)
from xmppsec.keys import Identity, generate_identity, write_identity
from xmppsec.parser import parse
from xmppsec.replay import MemoryReplayStore
from xmppsec.trust import TrustStore

pytestmark = pytest.mark.integration

DIRECTIONS = ("prosody->ejabberd", "ejabberd->prosody")
PROFILES = {"robust": ROBUST, "spec": SPEC}
# XEP-0274 use cases across federation; each is observed under both profiles
ROOM_CASES = ("muc_private", "groupchat", "muc_private_at_recipient", "groupchat_at_recipient")
CASES = ("chat", "presence", "iq", *ROOM_CASES, "broadcast")
NS_FORWARD = "urn:xmpp:forward:0"
SIG = "{http://www.w3.org/2000/09/xmldsig#}Signature"
TIMEOUT = 15.0

_ids = itertools.count(1)


@functools.cache
def identity(jid: str) -> Identity:
    # RSA: RFC 3923 key transport needs an RSA recipient; XEP-0290 signs with it as well
    return generate_identity(jid, "rsa-2048")


def _trust(*jids: str) -> TrustStore:
    store = TrustStore()
    for jid in jids:
        store = store.pin(jid, identity(jid).certificate)
    return store


def _signer(server: Server, profile: Profile) -> Signer:
    jid = server.jid("alice")
    ident = identity(jid)
    return Signer(ident.private_key, signer=jid, certificate=ident.certificate, profile=profile)


def _pair(fed: Federation, direction: str) -> tuple[Server, Server]:
    sender, recipient = direction.split("->")
    by_name = {s.name: s for s in fed.servers()}
    return by_name[sender], by_name[recipient]


def _room_host(a: Server, b: Server, case: str) -> Server:
    """Where the room of a room case is: alice's server, or bob's (``*_at_recipient``)."""
    return b if case.endswith("_at_recipient") else a


def _stanza(a: Server, b: Server, case: str, profile: Profile) -> bytes:
    """What alice (on ``a``) signs for ``case``, addressed to bob on ``b`` or a room."""
    sid = f"fed-{profile.name}-{case}-{next(_ids)}"
    signer = _signer(a, profile)
    room = _room_host(a, b, case)
    case = case.removesuffix("_at_recipient")
    if case == "chat":
        return signer.sign(
            f"<message xmlns='jabber:client' from='{a.full_jid('alice')}' to='{b.jid('bob')}' "
            f"type='chat' id='{sid}'><body xml:lang='en'>Hi Bob &amp; \"friends\" – café</body>"
            "<thread>th-42</thread><active xmlns='http://jabber.org/protocol/chatstates'/>"
            "</message>".encode()
        )
    if case == "presence":
        return signer.sign(
            f"<presence xmlns='jabber:client' to='{b.full_jid('bob')}' id='{sid}'>"
            "<show>away</show><status xml:lang='en'>gone fishing</status>"
            "<priority>5</priority></presence>".encode()
        )
    if case == "iq":
        return signer.sign(
            f"<iq xmlns='jabber:client' type='set' to='{b.full_jid('bob')}' id='{sid}'>"
            "<query xmlns='urn:example:rpc'><arg n='1'>one</arg></query></iq>".encode()
        )
    if case == "muc_private":
        return signer.sign(
            f"<message xmlns='jabber:client' to='{room.occupant_jid('bob')}' type='chat' "
            f"id='{sid}'><body>psst bob</body><x xmlns='{NS_MUC_USER}'/></message>".encode()
        )
    if case == "groupchat":
        return signer.sign(
            f"<message xmlns='jabber:client' to='{room.muc_room}' type='groupchat' id='{sid}'>"
            "<body>hello room</body><thread>th-7</thread></message>".encode()
        )
    assert case == "broadcast"  # signed without `to`: the server addresses each copy
    return signer.sign(
        f"<presence xmlns='jabber:client' id='{sid}'><show>away</show>"
        "<status xml:lang='en'>signed broadcast</status><priority>3</priority></presence>".encode()
    )


def _is(name: str, sid: str) -> Callable[[Received], bool]:
    return lambda r: r.local_name == name and r.attr("id") == sid


def _deliver(
    sent: bytes, kind: str, alice: XmppClient, bob: XmppClient, timeout: float = TIMEOUT
) -> Received:
    """Send as alice; bob's copy, or Refused as soon as alice gets an error with the id."""
    sid = etree.fromstring(sent).get("id") or ""
    alice.send(sent)

    def error(r: Received) -> bool:
        return _is(kind, sid)(r) and r.attr("type") == "error"

    return _await(kind, sent, bob, _is(kind, sid), alice, error, timeout)


def _subscribe(a: Server, b: Server, alice: XmppClient, bob: XmppClient) -> None:
    """RFC 6121 §3.1: bob (on b) subscribes to alice's presence (on a) over s2s, alice
    approves; bob then gets alice's current presence (§3.1.5). Once per direction."""
    bob.send(f"<presence to='{a.jid('alice')}' type='subscribe'/>")
    alice.receive(lambda r: r.local_name == "presence" and r.attr("type") == "subscribe", TIMEOUT)
    alice.send(f"<presence to='{b.jid('bob')}' type='subscribed'/>")
    bob.receive(
        lambda r: (
            r.local_name == "presence"
            and (r.attr("from") or "").startswith(a.jid("alice") + "/")
            and r.attr("type") is None
        ),
        TIMEOUT,
    )
    bob.drain()


_subscribed: set[str] = set()


def route(a: Server, b: Server, case: str, sent: bytes) -> Received:
    """Route one signed stanza from alice@a to bob@b; bob's copy as received."""
    kind = etree.QName(etree.fromstring(sent)).localname
    with (
        connect(b, "bob", presence=True, auto_reply_iq=True) as bob,
        connect(a, "alice", presence=True) as alice,
    ):
        if case in ROOM_CASES:
            # one of the occupants is remote: alice's stanza crosses the link to the room
            # (room on bob's server), or the room's copy crosses it to bob (room on alice's)
            room = _room_host(a, b, case)
            # the room host's own user enters first and creates the room (ejabberd lets
            # only local users create rooms: access_create)
            order = [(alice, "alice"), (bob, "bob")]
            for client, nick in order if room is a else order[::-1]:
                _join(client, room, nick, TIMEOUT)
            got = _deliver(sent, kind, alice, bob)
            alice.send(f"<presence type='unavailable' to={quoteattr(room.occupant_jid('alice'))}/>")
            bob.send(f"<presence type='unavailable' to={quoteattr(room.occupant_jid('bob'))}/>")
            return got
        if case == "broadcast" and a.domain not in _subscribed:
            _subscribe(a, b, alice, bob)
            _subscribed.add(a.domain)
        got = _deliver(sent, kind, alice, bob)
        if case == "iq":
            # bob's client answered: the result crosses the link back to alice
            alice.receive(
                lambda r: _is("iq", got.attr("id") or "")(r) and r.attr("type") == "result",
                TIMEOUT,
            )
        return got


@dataclass(frozen=True)
class Outcome:
    sent: bytes
    received: Received | None
    observed: Observed

    def stanza(self) -> etree._Element:
        """bob's copy as a standalone element, through the hardened parser."""
        assert self.received is not None
        return copy.deepcopy(parse(self.received.document())[0])


def _observe(a: Server, b: Server, case: str, profile: Profile) -> Outcome:
    sent = _stanza(a, b, case, profile)
    try:
        got = route(a, b, case, sent)
    except Refused as exc:
        text = exc.error.raw.decode("utf-8", "replace")
        condition = "bad-request" if "bad-request" in text else "error"
        return Outcome(sent, None, Observed(f"refused ({condition})", "-", "-", [], "-", []))
    stanza = copy.deepcopy(parse(got.document())[0])
    observed = judge(stanza, _trust(a.jid("alice")), b.domain, spec=profile is SPEC)
    return Outcome(sent, got, observed)


_outcomes: dict[tuple[str, str, str], Outcome] = {}


def observe(fed: Federation, direction: str, case: str, profile_name: str) -> Outcome:
    """Each (direction, case, profile) is routed once per session (the data test and the
    tampering test look at the same delivered bytes)."""
    key = (direction, case, profile_name)
    if key not in _outcomes:
        a, b = _pair(fed, direction)
        _outcomes[key] = _observe(a, b, case, PROFILES[profile_name])
    return _outcomes[key]


def federation_expected() -> dict[str, Any]:
    data: dict[str, Any] = expected()["federation"]
    return data


# -- cases 1-4 under both profiles: the outcome is the recorded data --------------------------


@pytest.mark.parametrize("profile_name", ["robust", "spec"])
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_federated_outcome_is_as_recorded(
    federated: Federation, direction: str, case: str, profile_name: str
) -> None:
    got = observe(federated, direction, case, profile_name).observed
    want = federation_expected()["outcomes"][direction][case][profile_name]
    assert got.as_json() == want


# -- robust profile: valid across federation, tampering refused ----------------------------


def _tamper_text(stanza: etree._Element, path: str, suffix: str = "!") -> etree._Element:
    tampered = copy.deepcopy(stanza)
    element = tampered.find(path)
    assert element is not None, path
    if len(element):
        element[0].text = (element[0].text or "") + suffix
    else:
        element.text = (element.text or "") + suffix
    return tampered


_CONTENT = {
    "chat": "{jabber:client}body",
    "presence": "{jabber:client}status",
    "iq": "{urn:example:rpc}query",
    "muc_private": "{jabber:client}body",
    "groupchat": "{jabber:client}body",
    "muc_private_at_recipient": "{jabber:client}body",
    "groupchat_at_recipient": "{jabber:client}body",
    "broadcast": "{jabber:client}status",
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_robust_verifies_across_federation_and_tampering_is_refused(
    federated: Federation, direction: str, case: str
) -> None:
    a, b = _pair(federated, direction)
    outcome = observe(federated, direction, case, "robust")
    assert outcome.observed.strict == "valid", outcome.observed
    stanza = outcome.stanza()
    verifier = Verifier(_trust(a.jid("alice")), policy=Policy(own_server=b.domain))

    def refused(variant: etree._Element, error: type[XmppSecError]) -> None:
        with pytest.raises(error):
            Verifier(_trust(a.jid("alice")), policy=Policy(own_server=b.domain)).verify(variant)

    result = verifier.verify(copy.deepcopy(stanza))
    assert result.signatures[0].signer == a.jid("alice")
    # a server on the path changes signed content ...
    refused(_tamper_text(stanza, _CONTENT[case]), DigestMismatch)
    # ... or the addressing the signature vouches for
    retargeted = copy.deepcopy(stanza)
    if case in ROOM_CASES:
        retargeted.set("from", f"other@{_room_host(a, b, case).muc_domain}/alice")  # another room
        refused(retargeted, StanzaMismatch)
    elif case == "broadcast":
        retargeted.set("from", f"carol@{a.domain}/x")  # someone else's presence
        refused(retargeted, SignerMismatch)
    else:
        retargeted.set("id", "forged")
        refused(retargeted, StanzaMismatch)
    if case == "chat":
        redirected = copy.deepcopy(stanza)
        redirected.set("to", b.jid("carol"))  # signed for bob, delivered to carol
        refused(redirected, StanzaMismatch)


def test_broadcast_to_added_over_a_different_signed_to_is_refused(federated: Federation) -> None:
    """Case 4's limit: a presence signed *with* a `to` and delivered to someone else."""
    a, b = federated.prosody, federated.ejabberd
    outcome = observe(federated, "prosody->ejabberd", "presence", "robust")
    stanza = outcome.stanza()
    stanza.set("to", b.jid("carol"))
    with pytest.raises(StanzaMismatch):
        Verifier(_trust(a.jid("alice")), policy=Policy(own_server=b.domain)).verify(stanza)


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_broadcast_copy_is_addressed_by_the_recipients_server(
    federated: Federation, direction: str
) -> None:
    """The sender's server sends one copy to the remote subscriber's bare JID; the
    recipient's server delivers it as it does locally: ejabberd readdresses it to the full
    JID of each available resource, Prosody keeps the bare JID."""
    _, b = _pair(federated, direction)
    got = observe(federated, direction, "broadcast", "robust").received
    assert got is not None
    assert got.attr("to") == (b.full_jid("bob") if b.name == "ejabberd" else b.jid("bob"))


# -- case 3b: the room service signs each reflection, across federation ----------------------


@pytest.fixture(scope="module")
def service_files(federated: Federation, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One key and certificate per component domain (rooms.<domain>), in its own directory."""
    out = tmp_path_factory.mktemp("fed-component")
    for server in federated.servers():
        d = out / server.name
        d.mkdir()
        write_identity(identity(server.component_domain), d)
    return out


def _enter(client: XmppClient, occupant: str) -> None:
    """Join a room of the component's service (XEP-0045 §7.2); wait for the self-presence."""

    def self_presence(r: Received) -> bool:
        return (
            r.local_name == "presence"
            and r.attr("from") == occupant
            and any(s.get("code") == "110" for s in r.element.iter(f"{{{NS_MUC_USER}}}status"))
        )

    client.send(f"<presence to={quoteattr(occupant)}><x xmlns='{NS_MUC}'/></presence>")
    client.receive(self_presence, TIMEOUT)


@pytest.mark.parametrize("case", ["room_service", "room_service_at_recipient"])
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_room_service_signs_reflections_across_federation(
    federated: Federation, service_files: Path, direction: str, case: str
) -> None:
    a, b = _pair(federated, direction)
    host = _room_host(a, b, case)  # the server the component is attached to
    room = f"signed@{host.component_domain}"
    sid = f"fed-3b-{next(_ids)}"
    signed = _signer(a, ROBUST).sign(
        f"<message xmlns='jabber:client' to='{room}' type='groupchat' id='{sid}'>"
        "<body>hello signed room</body></message>".encode()
    )
    with (
        component(host, service_files / host.name, "rooms"),
        connect(b, "bob", presence=True) as bob,
        connect(a, "alice", presence=True) as alice,
    ):
        order = [(alice, "alice"), (bob, "bob")]
        for client, nick in order if host is a else order[::-1]:
            _enter(client, f"{room}/{nick}")
        got = _deliver(signed, "message", alice, bob)
    observed = judge(
        copy.deepcopy(parse(got.document())[0]), _trust(host.component_domain), b.domain, spec=False
    )
    want = federation_expected()["outcomes"][direction][case]["robust"]
    assert observed.as_json() == want
    raw = got.standalone()
    assert got.attr("from") == f"{room}/alice"
    assert got.attr("to") == b.full_jid("bob")
    service = _trust(host.component_domain)
    result = Verifier(service, policy=Policy(own_server=b.domain)).verify(raw)
    assert result.signatures[0].signer == host.component_domain
    assert result.signatures[0].sender_relation == "sender"
    # the occupant's original, nested, verifies with alice's key on its own
    inner = parse(raw).find(f"{{{NS_FORWARD}}}forwarded/{{jabber:client}}message")
    assert inner is not None and inner.find(SIG) is not None
    assert inner.get("from") == a.full_jid("alice")
    nested = Verifier(_trust(a.jid("alice"))).verify(copy.deepcopy(inner))
    assert nested.signatures[0].signer == a.jid("alice")
    # tampering: the reflection's content, or alice's key claiming the service's signature
    tampered = raw.replace(b"hello signed room", b"hello SIGNED room")
    assert not Verifier(service).check(tampered).valid
    assert not Verifier(_trust(a.jid("alice"))).check(raw).valid


# -- RFC 3923: a sealed stanza across federation ---------------------------------------------


def _seal(a: Server, b: Server, body: str) -> bytes:
    alice, bob = identity(a.jid("alice")), identity(b.jid("bob"))
    return seal_stanza(
        f"<message xmlns='jabber:client' from='{a.full_jid('alice')}' to='{b.jid('bob')}' "
        f"type='chat' id='fed-e2e-{next(_ids)}'><body>{body}</body></message>".encode(),
        key=alice.private_key,
        certificate=alice.certificate,
        recipients=[bob.certificate],
    )


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_rfc3923_sealed_message_across_federation(federated: Federation, direction: str) -> None:
    a, b = _pair(federated, direction)
    sealed = _seal(a, b, "Wherefore art thou, Romeo?")
    got = route(a, b, "e2e", sealed)
    assert b"urn:ietf:params:xml:ns:xmpp-e2e" in got.raw
    assert b"Wherefore" not in got.raw  # encrypted on both s2s hops and at rest
    received = copy.deepcopy(parse(got.document())[0])
    bob = identity(b.jid("bob"))

    def open_(stanza: etree._Element) -> tuple[etree._Element, str | None, bool]:
        opened = open_stanza(
            stanza,
            trust=_trust(a.jid("alice")),
            key=bob.private_key,
            certificate=bob.certificate,
            replay=MemoryReplayStore(),
        )
        return opened.stanza, opened.signer, opened.encrypted

    inner, signer, encrypted = open_(copy.deepcopy(received))
    body = inner.find("{jabber:client}body")
    assert body is not None and body.text == "Wherefore art thou, Romeo?"
    # a flipped base64 character of the enveloped data: one opaque error (CBC: in the rare
    # case the broken plaintext still parses, the inner signature fails instead)
    e2e = received.find("{urn:ietf:params:xml:ns:xmpp-e2e}e2e")
    assert e2e is not None and e2e.text
    i = len(e2e.text) // 2
    e2e.text = e2e.text[:i] + ("A" if e2e.text[i] != "A" else "B") + e2e.text[i + 1 :]
    with pytest.raises((DecryptionError, InvalidSignature)):
        open_(received)
    observed = {
        "routing": "delivered",
        "opened": "valid",
        "signer": "sender" if signer == a.jid("alice") else str(signer),
        "encrypted": encrypted,
        "tampered": "refused",
    }
    assert observed == federation_expected()["outcomes"][direction]["rfc3923"]


def _record(fed: Federation) -> Iterator[tuple[str, str, dict[str, dict[str, Any]]]]:
    for direction in DIRECTIONS:
        for case in CASES:
            yield (
                direction,
                case,
                {p: observe(fed, direction, case, p).observed.as_json() for p in PROFILES},
            )


if __name__ == "__main__":  # pragma: no cover - maintenance: print observed outcomes as JSON
    import json
    import tempfile

    from tests.harness.federation import federation

    with tempfile.TemporaryDirectory() as tmp, federation(Path(tmp)) as fed:
        out: dict[str, dict[str, Any]] = {d: {} for d in DIRECTIONS}
        for direction, case, row in _record(fed):
            out[direction][case] = row
    print(json.dumps(out, indent=2, ensure_ascii=False))
