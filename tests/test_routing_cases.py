"""XEP-0274 use cases 2 and 4 under the robust profile (docs/robust-profile.md, "Stanza
attributes"): a broadcast presence and a MUC private message, simulated here and routed
through the real servers in tests/test_component.py."""

from __future__ import annotations

import datetime as dt

import pytest
from lxml import etree

from xmppsec.dsig import ROBUST, Policy, Signer, Verifier
from xmppsec.errors import DigestMismatch, SignerMismatch, StanzaMismatch, XmppSecError
from xmppsec.keys import Identity, generate_identity
from xmppsec.timestamps import TimestampClock
from xmppsec.trust import TrustStore

NOW = dt.datetime(2026, 11, 22, 12, 0, 0, tzinfo=dt.UTC)
ALICE = "alice@localhost"
ROOM = "sigroom@muc.localhost"


@pytest.fixture(scope="module")
def alice() -> Identity:
    return generate_identity(ALICE, now=NOW - dt.timedelta(days=1))


def _sign(ident: Identity, data: bytes) -> etree._Element:
    signer = Signer(
        ident.private_key,
        signer=ALICE,
        certificate=ident.certificate,
        profile=ROBUST,
        clock=TimestampClock(lambda: NOW),
    )
    return etree.fromstring(signer.sign(data))


def _verify(ident: Identity, root: etree._Element, policy: Policy | None = None) -> str:
    verifier = Verifier(TrustStore().pin(ALICE, ident.certificate), policy=policy or Policy())
    result = verifier.verify(etree.tostring(root), now=NOW)
    return result.signatures[0].sender_relation


# -- use case 4: broadcast presence ---------------------------------------------------------

BROADCAST = (
    b"<presence xmlns='jabber:client' id='p1'><show>away</show>"
    b"<status xml:lang='en'>lunch</status><priority>5</priority></presence>"
)


@pytest.mark.parametrize("to", ["bob@localhost", "bob@localhost/sigB", "alice@localhost/other"])
def test_broadcast_presence_verifies_at_each_subscriber(alice: Identity, to: str) -> None:
    root = _sign(alice, BROADCAST)
    root.set("from", "alice@localhost/sigA")  # stamped by alice's server
    root.set("to", to)  # added by the server for each subscriber (RFC 6121 §4.2.2)
    assert _verify(alice, root) == "broadcast"


def test_broadcast_unavailable_presence(alice: Identity) -> None:
    root = _sign(alice, b"<presence xmlns='jabber:client' type='unavailable' id='p2'/>")
    root.set("from", "alice@localhost/sigA")
    root.set("to", "bob@localhost/sigB")
    assert _verify(alice, root) == "broadcast"


def test_broadcast_from_someone_else_is_refused(alice: Identity) -> None:
    root = _sign(alice, BROADCAST)
    root.set("from", "mallory@localhost/x")
    root.set("to", "bob@localhost")
    with pytest.raises(SignerMismatch):
        _verify(alice, root)


def test_broadcast_content_changed_is_refused(alice: Identity) -> None:
    root = _sign(alice, BROADCAST)
    root.set("to", "bob@localhost")
    status = root.find("{jabber:client}status")
    assert status is not None
    status.text = "at work"
    with pytest.raises(DigestMismatch):
        _verify(alice, root)


@pytest.mark.parametrize(
    "stanza",
    [
        # signed with a to: a different to is a change, not a broadcast
        b"<presence xmlns='jabber:client' to='carol@localhost' id='p3'><show>dnd</show>"
        b"</presence>",
        # subscription presences are directed (RFC 6121 §3), never broadcast
        b"<presence xmlns='jabber:client' type='subscribed' id='p4'/>",
        b"<presence xmlns='jabber:client' type='probe' id='p5'/>",
    ],
)
def test_added_to_is_refused_unless_a_broadcast(alice: Identity, stanza: bytes) -> None:
    root = _sign(alice, stanza)
    root.set("to", "bob@localhost")
    with pytest.raises(StanzaMismatch):
        _verify(alice, root)


def test_a_message_signed_without_to_gets_none_added(alice: Identity) -> None:
    root = _sign(alice, b"<message xmlns='jabber:client' id='m0'><body>x</body></message>")
    root.set("to", "bob@localhost")
    with pytest.raises(StanzaMismatch, match="to was added"):
        _verify(alice, root)


def test_broadcast_is_a_robust_routing_rule_only(alice: Identity) -> None:
    signer = Signer(
        alice.private_key,
        signer=ALICE,
        certificate=alice.certificate,
        profile="spec",
        clock=TimestampClock(lambda: NOW),
    )
    root = etree.fromstring(signer.sign(BROADCAST))
    root.set("to", "bob@localhost")
    with pytest.raises(StanzaMismatch, match="to was added"):
        _verify(alice, root)


# -- use case 2: MUC private message --------------------------------------------------------

MUC_USER = "http://jabber.org/protocol/muc#user"
PRIVATE = (
    f"<message xmlns='jabber:client' to='{ROOM}/bob' type='chat' id='pm1' "
    f"from='alice@localhost/sigA'><body>psst</body><x xmlns='{MUC_USER}'/></message>"
).encode()


def _redirect(root: etree._Element, sender_nick: str = "alice") -> etree._Element:
    """What the room does (XEP-0045 §7.5): from becomes the sender's occupant JID, to the
    recipient's real JID."""
    root.set("from", f"{ROOM}/{sender_nick}")
    root.set("to", "bob@localhost/sigB")
    return root


def test_muc_private_message_verifies_as_redirected(alice: Identity) -> None:
    root = _redirect(_sign(alice, PRIVATE))
    assert _verify(alice, root) == "muc-private"


def test_muc_private_message_without_from_in_the_copy(alice: Identity) -> None:
    root = _redirect(_sign(alice, PRIVATE.replace(b" from='alice@localhost/sigA'", b"")))
    assert _verify(alice, root) == "muc-private"


def test_muc_private_message_refused_when_policy_refuses_occupant_jids(alice: Identity) -> None:
    root = _redirect(_sign(alice, PRIVATE))
    with pytest.raises(StanzaMismatch):
        _verify(alice, root, Policy(allow_muc_reflection=False))


def test_muc_private_changed_body_is_refused(alice: Identity) -> None:
    root = _redirect(_sign(alice, PRIVATE))
    body = root.find("{jabber:client}body")
    assert body is not None
    body.text = "psst, changed"
    with pytest.raises(DigestMismatch):
        _verify(alice, root)


def test_muc_private_from_another_room_is_refused(alice: Identity) -> None:
    root = _redirect(_sign(alice, PRIVATE))
    root.set("from", "otherroom@muc.localhost/alice")
    with pytest.raises(StanzaMismatch):
        _verify(alice, root)


@pytest.mark.parametrize(
    ("what", "stanza", "live_type"),
    [
        # a plain 1:1 message to a full JID, re-sent by its recipient: no signed muc#user
        # marker, so not a MUC private message (it would let bob forward alice's words)
        (
            "unmarked",
            f"<message xmlns='jabber:client' to='{ROOM}/bob' type='chat' id='pm2'>"
            "<body>psst</body></message>",
            "chat",
        ),
        # signed to the room itself (a groupchat target), delivered as a private message
        ("bare room", PRIVATE.decode().replace(f"{ROOM}/bob", ROOM), "chat"),
        # the type changed on the way
        ("type", PRIVATE.decode(), "normal"),
    ],
)
def test_not_a_muc_private_message(
    alice: Identity, what: str, stanza: str, live_type: str
) -> None:
    root = _redirect(_sign(alice, stanza.encode()))
    root.set("type", live_type)
    with pytest.raises(XmppSecError):
        _verify(alice, root)
