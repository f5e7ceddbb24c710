"""The component's protocol logic (:class:`xmppsec.integrations.component.ServiceCore`)
without a server: what it refuses, what it sends; tests/test_component.py runs it for real."""

from __future__ import annotations

import pytest
from lxml import etree

from xmppsec.dsig import ROBUST, Policy, Signer, Verifier
from xmppsec.integrations.component import ServiceCore, to_component_bytes
from xmppsec.keys import Identity, generate_identity
from xmppsec.parser import parse
from xmppsec.trust import TrustStore

DOMAIN = "rooms.localhost"
ROOM = f"r@{DOMAIN}"
ADDR = "http://jabber.org/protocol/address"


@pytest.fixture(scope="module")
def service() -> Identity:
    return generate_identity(DOMAIN)


def _core(ident: Identity, mode: str) -> ServiceCore:
    signer = Signer(ident.private_key, signer=DOMAIN, certificate=ident.certificate, profile=ROBUST)
    return ServiceCore(DOMAIN, signer, mode)  # type: ignore[arg-type]


def _in(xml: str) -> etree._Element:
    # as a component stream delivers it (XEP-0114: jabber:component:accept)
    return parse(
        xml.replace("<message ", "<message xmlns='jabber:component:accept' ", 1)
        .replace("<presence ", "<presence xmlns='jabber:component:accept' ", 1)
        .encode()
    )


def _condition(out: list[etree._Element]) -> str:
    assert len(out) == 1 and out[0].get("type") == "error"
    return etree.QName(out[0][0][0]).localname


def _verify(ident: Identity, el: etree._Element) -> str:
    data = to_component_bytes(el).replace(b"<message ", b"<message xmlns='jabber:client' ", 1)
    result = Verifier(TrustStore().pin(DOMAIN, ident.certificate), policy=Policy()).verify(data)
    return result.signatures[0].signer


def test_relay_replaces_the_senders_addresses(service: Identity) -> None:
    core = _core(service, "relay")
    out = core.handle(
        _in(
            f"<message from='alice@localhost/a' to='{DOMAIN}' id='1'><body>x</body>"
            f"<addresses xmlns='{ADDR}'><address type='to' jid='bob@localhost'/>"
            "<address type='ofrom' jid='boss@localhost'/></addresses></message>"
        )
    )
    assert len(out) == 1 and out[0].get("to") == "bob@localhost"
    assert out[0].get("from") == DOMAIN
    ofrom = [a.get("jid") for a in out[0].iter(f"{{{ADDR}}}address")]
    assert ofrom == ["alice@localhost/a"]  # the forged ofrom is gone
    assert _verify(service, out[0]) == DOMAIN


@pytest.mark.parametrize("count", [0, 17])
def test_relay_refuses_no_or_too_many_addresses(service: Identity, count: int) -> None:
    addresses = "".join(f"<address type='to' jid='u{i}@localhost'/>" for i in range(count))
    out = _core(service, "relay").handle(
        _in(
            f"<message from='alice@localhost/a' to='{DOMAIN}' id='1'><body>x</body>"
            f"<addresses xmlns='{ADDR}'>{addresses}</addresses></message>"
        )
    )
    assert _condition(out) == "bad-request"


def _join(core: ServiceCore, real: str, nick: str) -> list[etree._Element]:
    return core.handle(_in(f"<presence from='{real}' to='{ROOM}/{nick}'/>"))


def test_rooms_refusals(service: Identity) -> None:
    core = _core(service, "rooms")
    own = _join(core, "alice@localhost/a", "alice")
    assert own[-2].get("to") == "alice@localhost/a"  # its own presence, status 110
    # XEP-0045 §7.2.16: then the (empty) subject, which completes the join
    assert etree.QName(own[-1]).localname == "message" and own[-1].get("type") == "groupchat"
    assert own[-1].get("from") == ROOM and own[-1].findtext("{jabber:client}subject") == ""
    again = core.handle(_in(f"<presence from='alice@localhost/a' to='{ROOM}/alice'/>"))
    assert all(etree.QName(o).localname == "presence" for o in again)  # an update: no subject
    assert _condition(_join(core, "mallory@localhost/m", "alice")) == "conflict"
    outsider = core.handle(
        _in(
            f"<message from='carol@localhost/c' to='{ROOM}' type='groupchat' id='g'>"
            "<body>x</body></message>"
        )
    )
    assert _condition(outsider) == "not-acceptable"
    nested = core.handle(
        _in(
            f"<message from='alice@localhost/a' to='{ROOM}' type='groupchat' id='g'>"
            "<forwarded xmlns='urn:xmpp:forward:0'/></message>"
        )
    )
    assert _condition(nested) == "not-acceptable"
    unknown = core.handle(
        _in(
            f"<message from='alice@localhost/a' to='{ROOM}/nobody' type='chat' id='p'>"
            "<body>x</body></message>"
        )
    )
    assert _condition(unknown) == "item-not-found"
    # errors are never answered (RFC 6120 §8.3.1)
    assert (
        core.handle(_in(f"<message from='a@localhost/a' to='{ROOM}' type='error' id='e'/>")) == []
    )


def test_rooms_reflect_to_every_occupant_signed(service: Identity) -> None:
    core = _core(service, "rooms")
    _join(core, "alice@localhost/a", "alice")
    _join(core, "bob@localhost/b", "bob")
    out = core.handle(
        _in(
            f"<message from='alice@localhost/a' to='{ROOM}' type='groupchat' id='g'>"
            "<body>hi</body></message>"
        )
    )
    assert sorted(o.get("to", "") for o in out) == ["alice@localhost/a", "bob@localhost/b"]
    assert all(o.get("from") == f"{ROOM}/alice" for o in out)
    assert {_verify(service, o) for o in out} == {DOMAIN}
    left = core.handle(
        _in(f"<presence from='bob@localhost/b' to='{ROOM}/bob' type='unavailable'/>")
    )
    assert {o.get("to") for o in left} == {"alice@localhost/a", "bob@localhost/b"}
    assert core.rooms[ROOM] == {"alice": "alice@localhost/a"}


def test_rooms_exist_only_while_occupied(service: Identity) -> None:
    core = _core(service, "rooms")
    assert (
        core.handle(_in(f"<presence from='a@localhost/a' to='{ROOM}/x' type='unavailable'/>")) == []
    )
    assert (
        core.handle(_in(f"<presence from='a@localhost/a' to='{ROOM}/x' type='subscribe'/>")) == []
    )
    assert core.rooms == {}


def test_relay_refuses_a_groupchat(service: Identity) -> None:
    out = _core(service, "relay").handle(
        _in(
            f"<message from='alice@localhost/a' to='{DOMAIN}' type='groupchat' id='1'>"
            f"<body>x</body><addresses xmlns='{ADDR}'><address type='to' jid='b@localhost'/>"
            "</addresses></message>"
        )
    )
    assert _condition(out) == "bad-request"
