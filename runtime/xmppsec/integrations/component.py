"""``xmppsec component``: an XEP-0114 external component that signs as a service domain.

Any server that accepts XEP-0114 components (Prosody, ejabberd, ...) attaches it as a
subdomain; it holds a key and a certificate whose id-on-xmppAddr is that domain and signs
with the robust profile as a *domain signer* (XEP-0290 §2: the signer is "the bare JID of
the signing entity, or a service domain"). Two modes (docs/component.md):

``relay`` (XEP-0274 use case 5, server signing on behalf of a client)
    A client that does not sign sends its message to the component's domain with XEP-0033
    addresses (``<address type='to' jid='bob@example.org'/>``). The component delivers one
    copy per ``to``/``cc`` address, from its own domain, with an XEP-0033 ``ofrom`` address
    naming the sender as its server stamped it, and signs the copy as the domain: the
    recipient's result names the service as signer, which vouches for the content and for
    who sent it.

``rooms`` (use cases 3b and 2, a signed room service)
    A small non-anonymous XEP-0045 room service. Each groupchat reflection is a new stanza
    ``from`` the sender's occupant JID, carrying the sender's children and, nested in an
    XEP-0297 ``<forwarded/>``, the occupant's original as its server delivered it (real
    ``from``, the occupant's own Signature); the service signs the reflection as the domain.
    Private messages to ``room@domain/nick`` are redirected to the occupant's real JID from
    the sender's occupant JID, unchanged otherwise: the sender's own signature verifies there
    as ``sender_relation="muc-private"``.

:class:`ServiceCore` is the protocol logic (stanza in, stanzas out, no network);
:func:`run_component` connects it to a server with slixmpp's ``ComponentXMPP``.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import signal
import xml.etree.ElementTree as ET  # noqa: S405 - serializes trees only; parsing is xmppsec.parser
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from lxml import etree

from .._lxml import nsmap
from ..dsig import Signer
from ..errors import JIDError, XmppSecError
from ..jid import JID, parse_jid
from ..parser import parse
from ..xmpp import NS

__all__ = ["MODES", "Mode", "ServiceCore", "run_component", "to_component_bytes"]

log = logging.getLogger(__name__)

Mode = Literal["rooms", "relay"]
MODES: tuple[Mode, ...] = ("rooms", "relay")

_CLIENT = str(NS.JABBER_CLIENT)
_COMPONENT = "jabber:component:accept"  # XEP-0114 §3
_ADDRESS = "http://jabber.org/protocol/address"  # XEP-0033
_FORWARD = "urn:xmpp:forward:0"  # XEP-0297
_MUC = "http://jabber.org/protocol/muc"
_MUC_USER = "http://jabber.org/protocol/muc#user"
_STANZAS_NS = str(NS.STANZAS)
_SIGNATURE = "{" + NS.DS + "}Signature"
MAX_ADDRESSES = 16
"""Relay mode: more ``to``/``cc`` addresses than this in one stanza are refused."""
MAX_OCCUPANTS = 200
"""Rooms mode: occupants per room."""
MAX_ROOMS = 1000
"""Rooms mode: rooms at once (a room exists while someone is in it)."""
_RELAYED_TYPES = frozenset({"chat", "normal", "headline"})  # RFC 6121 §5.2.2, 1:1 types


def _q(ns: str, local: str) -> str:
    return "{" + ns + "}" + local


def _renamed(src: etree._Element, parent: etree._Element | None = None) -> etree._Element:
    """A copy of ``src`` with every ``jabber:component:accept`` element in ``jabber:client``
    (what a server does before delivering to a client, RFC 6120 §4.8.3), declaring each
    namespace once, as a default namespace, where it starts."""
    qn = etree.QName(src)
    ns = _CLIENT if qn.namespace in (_COMPONENT, None) else qn.namespace
    tag = _q(ns, qn.localname)
    inherited = etree.QName(parent).namespace if parent is not None else None
    declared = None if ns == inherited else nsmap({None: ns})
    el = (
        etree.Element(tag, nsmap=declared)
        if parent is None
        else etree.SubElement(parent, tag, nsmap=declared)
    )
    for name, value in src.attrib.items():
        el.set(name, value)
    el.text = src.text
    el.tail = src.tail if parent is not None else None
    for child in src:
        if isinstance(child.tag, str):
            _renamed(child, el)
    return el


def to_component_bytes(stanza: etree._Element) -> bytes:
    """Serialize a ``jabber:client`` stanza for a component stream: the same tree without the
    stanza's own ``xmlns``, so the stanza and its children inherit the stream's namespace and
    the server delivers them as ``jabber:client`` again (what was signed)."""
    data = etree.tostring(stanza, encoding="utf-8")
    head, sep, rest = data.partition(b">")
    decl = b' xmlns="' + _CLIENT.encode() + b'"'
    if decl not in head:
        raise ValueError(f"the stanza is not in {_CLIENT}")  # a bug here, not input
    return head.replace(decl, b"", 1) + sep + rest


def _jid(value: str | None) -> JID | None:
    if value is None:
        return None
    try:
        return parse_jid(value)
    except JIDError:
        return None


def _error(stanza: etree._Element, kind: str, condition: str, domain_from: str) -> etree._Element:
    """An RFC 6120 §8.3 error reply to ``stanza`` (never to an error)."""
    reply = etree.Element(_q(_CLIENT, etree.QName(stanza).localname), nsmap=nsmap({None: _CLIENT}))
    reply.set("type", "error")
    reply.set("from", stanza.get("to") or domain_from)
    if stanza.get("from"):
        reply.set("to", stanza.get("from", ""))
    if stanza.get("id"):
        reply.set("id", stanza.get("id", ""))
    err = etree.SubElement(reply, _q(_CLIENT, "error"), type=kind)
    etree.SubElement(err, _q(_STANZAS_NS, condition), nsmap=nsmap({None: _STANZAS_NS}))
    return reply


@dataclass
class ServiceCore:
    """The component's protocol logic: :meth:`handle` takes one received stanza (any
    namespace) and returns the stanzas to send, as ``jabber:client`` trees."""

    domain: str
    signer: Signer
    mode: Mode = "rooms"
    rooms: dict[str, dict[str, str]] = field(default_factory=dict)
    """Rooms mode: room bare JID -> nick -> occupant's real full JID."""

    def handle(self, received: etree._Element) -> list[etree._Element]:
        stanza = _renamed(received)
        kind = etree.QName(stanza).localname
        stype = stanza.get("type")
        sender, target = _jid(stanza.get("from")), _jid(stanza.get("to"))
        if stype == "error" or sender is None or target is None or target.domain != self.domain:
            return []  # RFC 6120 §8.3.1: never answer an error; the server stamped from/to
        try:
            if self.mode == "relay":
                if kind == "message":
                    return self._relay(stanza, sender)
            elif kind == "presence":
                return self._presence(stanza, sender, target)
            elif kind == "message":
                return self._room_message(stanza, sender, target)
        except XmppSecError as exc:
            log.warning("refused a %s from %s: %s", kind, sender, exc)
            return [_error(stanza, "modify", "not-acceptable", self.domain)]
        if kind == "iq" and stype in ("get", "set"):
            return [_error(stanza, "cancel", "service-unavailable", self.domain)]
        return []

    # -- relay (use case 5) -----------------------------------------------------------------

    def _relay(self, stanza: etree._Element, sender: JID) -> list[etree._Element]:
        addresses = stanza.find(_q(_ADDRESS, "addresses"))
        targets = [
            a.get("jid", "")
            for a in (addresses if addresses is not None else [])
            if a.tag == _q(_ADDRESS, "address") and a.get("type") in ("to", "cc")
        ]
        bad_type = (stanza.get("type") or "normal") not in _RELAYED_TYPES
        if (
            bad_type
            or not targets
            or len(targets) > MAX_ADDRESSES
            or any(_jid(t) is None for t in targets)
        ):
            return [_error(stanza, "modify", "bad-request", self.domain)]
        out = []
        for target in targets:
            copy_ = etree.Element(_q(_CLIENT, "message"), nsmap=nsmap({None: _CLIENT}))
            copy_.set("from", self.domain)
            copy_.set("to", target)
            copy_.set("type", stanza.get("type") or "normal")
            if stanza.get("id"):
                copy_.set("id", stanza.get("id", ""))
            for child in stanza:
                # the sender's addresses and any signature of its own are not relayed
                if child.tag not in (_q(_ADDRESS, "addresses"), _SIGNATURE):
                    copy_.append(copy.deepcopy(child))
            # XEP-0033 §4.5 ofrom: who sent it, as the sender's server stamped it
            stamped = etree.SubElement(
                copy_, _q(_ADDRESS, "addresses"), nsmap=nsmap({None: _ADDRESS})
            )
            etree.SubElement(stamped, _q(_ADDRESS, "address"), type="ofrom", jid=str(sender))
            out.append(self.signer.sign_element(copy_))
        return out

    # -- rooms (use cases 3b and 2) ---------------------------------------------------------

    def _presence(self, stanza: etree._Element, sender: JID, target: JID) -> list[etree._Element]:
        if target.local is None or target.resource is None:
            return []
        room, nick, real = str(target.bare), target.resource, str(sender)
        occupants = self.rooms.get(room, {})
        if stanza.get("type") == "unavailable":
            if occupants.get(nick) != real:
                return []
            out = [
                self._occupant_presence(room, nick, to, True, to == real)
                for to in occupants.values()
            ]
            del occupants[nick]
            if not occupants:
                del self.rooms[room]
            return out
        if stanza.get("type") is not None:
            return []
        if occupants.get(nick, real) != real:
            return [_error(stanza, "cancel", "conflict", self.domain)]
        if nick not in occupants and len(occupants) >= MAX_OCCUPANTS:
            return [_error(stanza, "wait", "service-unavailable", self.domain)]
        if room not in self.rooms:
            if len(self.rooms) >= MAX_ROOMS:
                return [_error(stanza, "wait", "resource-constraint", self.domain)]
            self.rooms[room] = occupants
        joined = nick not in occupants
        occupants[nick] = real
        # XEP-0045 §7.2.3: the others' presence first, then the newcomer's to everyone,
        # its own copy last with status 110.
        out = [
            self._occupant_presence(room, other, real, False, False)
            for other in occupants
            if other != nick
        ]
        out += [
            self._occupant_presence(room, nick, to, False, False)
            for other, to in occupants.items()
            if other != nick
        ]
        out.append(self._occupant_presence(room, nick, real, False, True))
        if joined:
            # XEP-0045 §7.2.15: no history here; §7.2.16: then the subject, empty if none
            # (clients such as slixmpp's xep_0045 wait for it to complete the join).
            subject = etree.Element(_q(_CLIENT, "message"), nsmap=nsmap({None: _CLIENT}))
            subject.set("from", room)
            subject.set("to", real)
            subject.set("type", "groupchat")
            etree.SubElement(subject, _q(_CLIENT, "subject"))
            out.append(subject)
        return out

    def _occupant_presence(
        self, room: str, nick: str, to: str, leaving: bool, own: bool
    ) -> etree._Element:
        p = etree.Element(_q(_CLIENT, "presence"), nsmap=nsmap({None: _CLIENT}))
        p.set("from", f"{room}/{nick}")
        p.set("to", to)
        if leaving:
            p.set("type", "unavailable")
        x = etree.SubElement(p, _q(_MUC_USER, "x"), nsmap=nsmap({None: _MUC_USER}))
        # a non-anonymous room (XEP-0045 §4.2): every occupant sees the real JID
        real = self.rooms[room][nick]
        role = "none" if leaving else "participant"
        etree.SubElement(x, _q(_MUC_USER, "item"), affiliation="none", role=role, jid=real)
        if own:
            etree.SubElement(x, _q(_MUC_USER, "status"), code="110")
            etree.SubElement(x, _q(_MUC_USER, "status"), code="100")
        return p

    def _room_message(
        self, stanza: etree._Element, sender: JID, target: JID
    ) -> list[etree._Element]:
        if target.local is None:
            return [_error(stanza, "cancel", "service-unavailable", self.domain)]
        room = str(target.bare)
        occupants = self.rooms.get(room, {})
        nick = next((n for n, real in occupants.items() if real == str(sender)), None)
        if nick is None:
            return [_error(stanza, "cancel", "not-acceptable", self.domain)]  # §7.4
        if stanza.get("type") == "groupchat" and target.resource is None:
            if stanza.find(_q(_FORWARD, "forwarded")) is not None:
                # the reflection's one <forwarded/> is the original the service nests
                return [_error(stanza, "modify", "not-acceptable", self.domain)]
            return [self._reflect(stanza, room, nick, to) for to in occupants.values()]
        if stanza.get("type") != "groupchat" and target.resource is not None:
            to = occupants.get(target.resource)
            if to is None:
                return [_error(stanza, "cancel", "item-not-found", self.domain)]
            # XEP-0045 §7.5: redirected as is; the sender's signature covers the content
            redirected = copy.deepcopy(stanza)
            redirected.set("from", f"{room}/{nick}")
            redirected.set("to", to)
            return [redirected]
        return [_error(stanza, "modify", "bad-request", self.domain)]

    def _reflect(self, original: etree._Element, room: str, nick: str, to: str) -> etree._Element:
        out = etree.Element(_q(_CLIENT, "message"), nsmap=nsmap({None: _CLIENT}))
        out.set("from", f"{room}/{nick}")
        out.set("to", to)
        out.set("type", "groupchat")
        if original.get("id"):
            out.set("id", original.get("id", ""))
        for child in original:
            if child.tag != _SIGNATURE:
                out.append(copy.deepcopy(child))
        # XEP-0297: the occupant's original as its server delivered it (real from, own
        # Signature); the service's signature below covers it too.
        fwd = etree.SubElement(out, _q(_FORWARD, "forwarded"), nsmap=nsmap({None: _FORWARD}))
        inner = copy.deepcopy(original)
        inner.tail = None
        fwd.append(inner)
        return self.signer.sign_element(out)


# -- the network side -------------------------------------------------------------------------


def _received_bytes(element: ET.Element) -> bytes:
    return ET.tostring(element, encoding="unicode").encode("utf-8")


def run_component(
    *,
    host: str,
    port: int,
    domain: str,
    secret: str,
    core: ServiceCore,
    announce: Callable[[str], None],
    connect_timeout: float = 10.0,
) -> int:
    """Attach ``core`` to the server at ``host:port`` as the component ``domain`` and serve
    until SIGTERM/SIGINT (returns 0) or until the server refuses or drops the stream
    (returns 1). ``announce`` is called once with one line when the handshake is accepted."""
    return asyncio.run(_serve(host, port, domain, secret, core, announce, connect_timeout))


async def _serve(
    host: str,
    port: int,
    domain: str,
    secret: str,
    core: ServiceCore,
    announce: Callable[[str], None],
    connect_timeout: float,
) -> int:
    from slixmpp import ComponentXMPP
    from slixmpp.xmlstream.handler import Callback
    from slixmpp.xmlstream.matcher import MatchXPath

    loop = asyncio.get_running_loop()
    done: asyncio.Future[int] = loop.create_future()
    started = False

    def finish(code: int) -> None:
        if not done.done():
            done.set_result(code)

    xmpp = ComponentXMPP(domain, secret, host, port)  # type: ignore[no-untyped-call]

    def on_stanza(stanza: Any) -> None:
        try:
            received = parse(_received_bytes(stanza.xml))
            replies = core.handle(received)
        except XmppSecError as exc:  # a stanza the hardened parser refuses: dropped
            log.warning("dropped a stanza: %s", exc)
            return
        for reply in replies:
            xmpp.send_raw(to_component_bytes(reply).decode("utf-8"))

    def on_start(_: object) -> None:
        nonlocal started
        started = True
        announce(f"component {domain} accepted by {host}:{port} (mode {core.mode})")

    def on_end(_: object) -> None:
        finish(1)

    for kind in ("message", "presence"):  # iqs: slixmpp answers what it does not handle
        xmpp.register_handler(
            Callback(f"xmppsec {kind}", MatchXPath(_q(_COMPONENT, kind)), on_stanza)
        )
    xmpp.add_event_handler("session_start", on_start)
    xmpp.add_event_handler("disconnected", on_end)
    xmpp.add_event_handler("connection_failed", on_end)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, finish, 0)
    xmpp.connect(host, port)

    async def handshake_deadline() -> None:
        await asyncio.sleep(connect_timeout)
        if not started:
            log.error("no handshake with %s:%s within %s s", host, port, connect_timeout)
            finish(1)

    deadline = asyncio.ensure_future(handshake_deadline())
    code = await done
    deadline.cancel()
    xmpp.del_event_handler("disconnected", on_end)
    xmpp.cancel_connection_attempt()
    if xmpp.transport is not None:
        await xmpp.disconnect(wait=2.0)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(sig)
    return code
