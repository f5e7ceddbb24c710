"""The robust profile (docs/robust-profile.md): known answers and what routing may change.

The routing transformations here reproduce, on our own signed stanzas, what the recorded
Prosody 0.12.3 and ejabberd 23.01 output shows (recorded under tests/vectors/routing); the same
cases run through the real servers in tests/test_servers_robust.py.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Callable

import pytest
from lxml import etree

from xmppsec.dsig import ROBUST, SPEC, Policy, ReferenceStatus, Signer, Verifier
from xmppsec.dsig._c14n import robust_c14n
from xmppsec.errors import (
    DigestMismatch,
    InvalidReference,
    SignatureSchemaError,
    SignerMismatch,
    StanzaMismatch,
    StanzaSchemaError,
    UnsignedContent,
    XmppSecError,
)
from xmppsec.keys import Identity, generate_identity
from xmppsec.parser import parse
from xmppsec.timestamps import TimestampClock
from xmppsec.trust import TrustStore

NOW = dt.datetime(2026, 11, 22, 12, 0, 0, tzinfo=dt.UTC)
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

# docs/robust-profile.md, "Worked example"
EXAMPLE = (
    b"<message xmlns='jabber:client' from='juliet@capulet.net/balcony' id='183ef129' "
    b"to='romeo@montague.net' type='chat'><thread>8996aef0-061d-012d-347a-549a200771aa</thread>"
    b"<body xml:lang='en'>Wherefore art thou,&#13;&#10;Romeo?</body>"
    b"<x:active xmlns:x='http://jabber.org/protocol/chatstates' x:seq='1'/></message>"
)
ROUTED_EXAMPLE = (
    b"<message xmlns='jabber:client' xml:lang='en' to='romeo@montague.net' "
    b"from='juliet@capulet.net/balcony' type='chat' id='183ef129'>"
    b"<archived xmlns='urn:xmpp:mam:tmp' by='romeo@montague.net' id='1'/>"
    b"<active xmlns='http://jabber.org/protocol/chatstates' "
    b"xmlns:ns1='http://jabber.org/protocol/chatstates' ns1:seq='1'/>"
    b"<thread>8996aef0-061d-012d-347a-549a200771aa</thread>"
    b"<body xml:lang='en'>Wherefore art thou,\rRomeo?</body></message>"
)
KNOWN = {
    "thread": (
        b"<{jabber:client}thread>8996aef0-061d-012d-347a-549a200771aa</{jabber:client}thread>",
        "z48n0nR8oI6xH7burh3EkZApmbrXPSID8eD46aEL79c=",
    ),
    "body": (
        b'<{jabber:client}body {http://www.w3.org/XML/1998/namespace}lang="en">'
        b"Wherefore art thou,\nRomeo?</{jabber:client}body>",
        "duB8RW92z907/JMbQpDHNWrjDY3vDvhWppw1lsaP22s=",
    ),
    "active": (
        b"<{http://jabber.org/protocol/chatstates}active "
        b'{http://jabber.org/protocol/chatstates}seq="1">'
        b"</{http://jabber.org/protocol/chatstates}active>",
        "NCIGYkd8wET2nDxxpjNo+9Pa0NzIrgs+DMVLXETpOj0=",
    ),
}


def _by_local_name(root: etree._Element) -> dict[str, etree._Element]:
    return {etree.QName(c).localname: c for c in root}


@pytest.mark.parametrize("source", [EXAMPLE, ROUTED_EXAMPLE])
def test_known_answers_before_and_after_routing(source: bytes) -> None:
    children = _by_local_name(parse(source))
    for name, (form, sha) in KNOWN.items():
        octets = robust_c14n(children[name])
        assert octets == form
        assert base64.b64encode(hashlib.sha256(octets).digest()).decode() == sha


def test_canonical_form_rules() -> None:
    root = parse(
        b"<m xmlns='urn:a' xmlns:p='urn:p' xml:lang='de'><e z='1' p:a='&#9;x&#13;&#10;y' "
        b"a='&lt;&amp;&quot;'>t&gt;&amp;<p:c/>&#13;tail</e></m>"
    )
    assert robust_c14n(root[0]) == (
        b'<{urn:a}e {}a="&lt;&amp;&quot;" {}z="1" {urn:p}a=" x y">t&gt;&amp;'
        b"<{urn:p}c></{urn:p}c>\ntail</{urn:a}e>"
    )


def test_enveloped_signature_is_left_out_but_its_tail_stays() -> None:
    root = parse(b"<q xmlns='urn:q'><a/>x<s/>y</q>")
    assert robust_c14n(root, skip=root[1]) == b"<{urn:q}q><{urn:q}a></{urn:q}a>xy</{urn:q}q>"


# -- sign and verify through simulated routing ----------------------------------------------

ALICE = "alice@localhost"


@pytest.fixture(scope="module")
def alice() -> Identity:
    return generate_identity(ALICE, now=NOW - dt.timedelta(days=1))


def _signer(ident: Identity) -> Signer:
    return Signer(
        ident.private_key,
        signer=ALICE,
        certificate=ident.certificate,
        profile=ROBUST,
        clock=TimestampClock(lambda: NOW),
    )


def _verifier(ident: Identity, policy: Policy | None = None) -> Verifier:
    return Verifier(TrustStore().pin(ALICE, ident.certificate), policy=policy or Policy())


MSG = (
    b"<message xmlns='jabber:client' to='bob@localhost' type='chat' id='m1' "
    b"from='alice@localhost/sigA'><body xml:lang='en'>Hi Bob &amp; &#13;&#10; x</body>"
    b"<thread>th-42</thread><x:data xmlns:x='urn:example:x' zeta='2' alpha='1'>"
    b"<x:item k='v&#9;w'/><x:text>  padded  </x:text></x:data>"
    b"<active xmlns='http://jabber.org/protocol/chatstates'/></message>"
)


def prosody_like(data: bytes) -> bytes:
    """Re-prefix, default-namespace form, xml:lang on the stanza, raw CR/TAB, stanza-id
    (on messages: Prosody archives those, not iqs)."""
    root = etree.fromstring(data)
    root.set(XML_LANG, "en")
    if etree.QName(root).localname == "message":
        etree.SubElement(root, "{urn:xmpp:sid:0}stanza-id", id="1", by="bob@localhost")
    out = etree.tostring(root)
    for old, new in [
        (b"x:data xmlns:x=", b"data xmlns="),
        (b"<x:", b"<"),
        (b"</x:", b"</"),
        (b"&#13;", b"\r"),
        (b"&#9;", b"\t"),
    ]:
        out = out.replace(old, new)
    return out


def ejabberd_like(data: bytes) -> bytes:
    """Known children moved to the end, archived + stanza-id first, no whitespace."""
    root = etree.fromstring(data)
    for child in list(root):
        if etree.QName(child).localname in ("body", "thread", "show", "status", "priority"):
            root.remove(child)
            child.tail = None
            root.append(child)
    root.insert(0, etree.Element("{urn:xmpp:sid:0}stanza-id", by="bob@localhost", id="2"))
    root.insert(0, etree.Element("{urn:xmpp:mam:tmp}archived", by="bob@localhost", id="2"))
    root.set(XML_LANG, "en")
    return etree.tostring(root)


@pytest.mark.parametrize("route", [prosody_like, ejabberd_like])
def test_robust_signature_survives_routing(
    alice: Identity, route: Callable[[bytes], bytes]
) -> None:
    received = route(_signer(alice).sign(MSG))
    result = _verifier(alice).verify(received, now=NOW)
    sig = result.signatures[0]
    assert sig.profile == "robust" and sig.sender_relation == "sender"
    assert [r.status for r in sig.references] == [ReferenceStatus.OK] * 4
    assert set(result.unsigned_children) <= {
        "{urn:xmpp:sid:0}stanza-id",
        "{urn:xmpp:mam:tmp}archived",
    }
    assert {etree.QName(c).localname for c in result.signed_children()} == {
        "body",
        "thread",
        "data",
        "active",
    }


@pytest.mark.parametrize("route", [prosody_like, ejabberd_like])
@pytest.mark.parametrize(
    ("tamper", "error"),
    [
        (lambda b: b.replace(b"Hi Bob", b"Hi Eve"), DigestMismatch),
        (lambda b: b.replace(b">th-42<", b">th-43<"), DigestMismatch),
        (lambda b: b.replace(b"  padded  ", b" padded  "), DigestMismatch),
        # the live stanza's attributes come first in the bytes: count=1 leaves the copy
        (lambda b: b.replace(b'to="bob@localhost"', b'to="eve@localhost"', 1), StanzaMismatch),
        (lambda b: b.replace(b'id="m1"', b'id="m2"', 1), StanzaMismatch),
        (lambda b: b.replace(b'type="chat"', b'type="normal"', 1), StanzaMismatch),
        (
            lambda b: b.replace(b'from="alice@localhost/sigA"', b'from="eve@localhost/x"', 1),
            StanzaMismatch,
        ),
    ],
)
def test_tampering_in_the_middle_is_caught(
    alice: Identity,
    route: Callable[[bytes], bytes],
    tamper: Callable[[bytes], bytes],
    error: type[XmppSecError],
) -> None:
    signed = _signer(alice).sign(MSG)
    tampered = tamper(route(signed))
    assert tampered != route(signed)
    with pytest.raises(error):
        _verifier(alice).verify(tampered, now=NOW)


def test_removed_child_is_target_missing_and_an_added_one_unsigned(alice: Identity) -> None:
    root = etree.fromstring(_signer(alice).sign(MSG))
    root.remove(root[1])  # thread
    with pytest.raises(InvalidReference):
        _verifier(alice).verify(etree.tostring(root), now=NOW)
    root = etree.fromstring(_signer(alice).sign(MSG))
    etree.SubElement(root, "{jabber:client}body").text = "PS: send money"
    result = _verifier(alice).check(etree.tostring(root), now=NOW)
    assert isinstance(result.error, UnsignedContent)
    assert result.unsigned_children == ("{jabber:client}body",)
    optimistic = _verifier(alice, Policy.optimistic()).verify(etree.tostring(root), now=NOW)
    assert [c.text for c in optimistic.signed_children() if str(c.tag).endswith("body")] == [
        "Hi Bob & \r\n x"  # the child as received; only its digest normalizes CR
    ]


def test_server_stamped_from(alice: Identity) -> None:
    signed = _signer(alice).sign(
        b"<message xmlns='jabber:client' to='bob@localhost' type='chat' id='m2'><body>x</body>"
        b"</message>"
    )
    root = etree.fromstring(signed)
    root.set("from", "alice@localhost/phone")
    result = _verifier(alice).verify(etree.tostring(root), now=NOW)
    assert result.signatures[0].sender_relation == "server-stamped"
    root.set("from", "mallory@localhost/x")
    with pytest.raises(SignerMismatch):
        _verifier(alice).verify(etree.tostring(root), now=NOW)


def test_muc_reflection_is_explicit_in_the_result(alice: Identity) -> None:
    signed = _signer(alice).sign(
        b"<message xmlns='jabber:client' to='sigroom@muc.localhost' type='groupchat' id='m3'>"
        b"<body>hello room</body></message>"
    )
    root = etree.fromstring(signed)
    root.set("from", "sigroom@muc.localhost/alice")
    root.set("to", "bob@localhost/sigB")
    reflected = etree.tostring(root)
    result = _verifier(alice).verify(reflected, now=NOW)
    assert result.signatures[0].sender_relation == "muc-occupant"
    assert result.signatures[0].signer == ALICE
    with pytest.raises(StanzaMismatch):
        _verifier(alice, Policy(allow_muc_reflection=False)).verify(reflected, now=NOW)
    root.set("from", "otherroom@muc.localhost/alice")  # another room: not a reflection
    with pytest.raises(StanzaMismatch):
        _verifier(alice).verify(etree.tostring(root), now=NOW)


IQ = (
    b"<iq xmlns='jabber:client' type='set' to='bob@localhost/sigB' id='q5' "
    b"from='alice@localhost/sigA'><query xmlns='urn:example:rpc'>\n  <arg n='1'>one</arg>\n"
    b"</query></iq>"
)


def test_iq_signature_goes_inside_the_single_payload(alice: Identity) -> None:
    signed = _signer(alice).sign(IQ)
    root = etree.fromstring(signed)
    assert len(root) == 1  # Prosody refuses an iq with two children
    assert root[0][-1].tag == "{http://www.w3.org/2000/09/xmldsig#}Signature"
    result = _verifier(alice).verify(prosody_like(signed), now=NOW)
    assert [c.tag for c in result.signed_children()] == ["{urn:example:rpc}query"]
    with pytest.raises(DigestMismatch):
        _verifier(alice).verify(signed.replace(b">one<", b">two<"), now=NOW)
    with pytest.raises(StanzaSchemaError):
        _signer(alice).sign(b"<iq xmlns='jabber:client' type='result' id='r1'/>")


def test_spec_profile_refuses_a_signature_inside_a_payload(alice: Identity) -> None:
    spec = Signer(alice.private_key, signer=ALICE, certificate=alice.certificate, profile=SPEC)
    root = etree.fromstring(spec.sign(IQ))
    sig = root[-1]
    root[0].append(sig)  # move the spec-profile Signature into the payload
    result = _verifier(alice).check(etree.tostring(root), now=NOW)
    assert isinstance(result.error, SignatureSchemaError)


def test_auto_detects_each_profile(alice: Identity) -> None:
    spec = Signer(
        alice.private_key,
        signer=ALICE,
        certificate=alice.certificate,
        clock=TimestampClock(lambda: NOW),
        profile=SPEC,
    )
    for signed, name in [(spec.sign(MSG), "spec"), (_signer(alice).sign(MSG), "robust")]:
        result = _verifier(alice).verify(signed, now=NOW)
        assert result.signatures[0].profile == name


def test_robust_references_cannot_point_elsewhere(alice: Identity) -> None:
    signed = _signer(alice).sign(MSG)
    for bad in (b'name="body"', b'ns="jabber:client" name="body"'):
        assert bad in signed or bad.replace(b'ns="jabber:client" ', b"") in signed
    tampered = signed.replace(b'name="body"', b'name="../body"', 1)
    with pytest.raises(InvalidReference):
        _verifier(alice).verify(tampered, now=NOW)
