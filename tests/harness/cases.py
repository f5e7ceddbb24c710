"""Case drivers: route one stanza from alice to bob through a real server, return exact bytes.

Each driver logs fresh clients in, sends the stanza it is given (bytes, str, or a callable
``build(server) -> bytes`` so a signer can use the server's JIDs), waits for the recipient's
copy, closes every client, and returns a :class:`Routed`. Matching is by the stanza's ``id``
(required: use a unique id per call, archives and rooms keep earlier stanzas). A stanza error
returned to the sender (same id) raises :class:`Refused` carrying the error's exact bytes.

The sender is alice and the recipient bob unless ``sender=``/``recipient=`` name another
registered user (carol). Every client binds ``server.resource``, so ``server.full_jid("bob")``
is bob's full JID; the room is ``server.muc_room``; occupants are nicknamed after their user.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from xml.sax.saxutils import quoteattr

from lxml import etree

from .client import ClientError, Received, XmppClient, connect
from .servers import Server
from .stream import with_scope

__all__ = [
    "NS_DELAY",
    "NS_FORWARD",
    "NS_MAM",
    "NS_MUC",
    "NS_MUC_USER",
    "NotOffered",
    "Refused",
    "Routed",
    "StanzaSource",
    "offers_mam",
    "route_chat",
    "route_groupchat",
    "route_iq",
    "route_mam",
    "route_muc_private",
    "route_no_from",
    "route_offline",
    "route_presence",
]

NS_DELAY = "urn:xmpp:delay"
NS_MAM = "urn:xmpp:mam:2"
NS_FORWARD = "urn:xmpp:forward:0"
NS_MUC = "http://jabber.org/protocol/muc"
NS_MUC_USER = "http://jabber.org/protocol/muc#user"
NS_MUC_OWNER = "http://jabber.org/protocol/muc#owner"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_RSM = "http://jabber.org/protocol/rsm"
NS_XDATA = "jabber:x:data"
NS_CLIENT = "jabber:client"

StanzaSource = bytes | str | Callable[[Server], bytes | str]

_ids = itertools.count(1)
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


class Refused(ClientError):
    """The server answered the sender with a stanza error instead of delivering."""

    def __init__(self, case: str, sent: bytes, error: Received) -> None:
        super().__init__(
            f"{case}: server returned an error: {error.raw.decode('utf-8', 'replace')}"
        )
        self.sent = sent
        self.error = error


class NotOffered(ClientError):
    """The server does not offer the feature the case needs (e.g. MAM)."""


@dataclass(frozen=True)
class Routed:
    """Result of one case: what alice sent and the exact bytes bob's client received.

    ``received`` is the delivered stanza (for MAM: the ``<message>`` inside ``<forwarded>``,
    sliced out of the result message as received). ``stanza`` is the top-level element it
    arrived in, with its stream header (``stanza.document()`` parses standalone).
    ``others`` are further stanzas of interest (the sender's iq result, the MUC echo).
    ``standalone()`` is ``received`` with its in-scope namespace declarations spliced in
    (what to hand a verifier that parses bytes: ``received`` alone relies on the stream's
    ``xmlns='jabber:client'``).
    """

    case: str
    server: str
    sent: bytes
    received: bytes
    stanza: Received = field(repr=False)
    element: etree._Element = field(repr=False, compare=False)
    others: tuple[Received, ...] = field(default=(), repr=False)

    def standalone(self) -> bytes:
        return with_scope(self.received, dict(self.element.nsmap))


def _materialize(server: Server, source: StanzaSource) -> tuple[bytes, etree._Element]:
    data = source(server) if callable(source) else source
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        parsed = etree.fromstring(raw, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise ClientError(f"stanza to send is not well-formed: {exc}") from exc
    if not parsed.get("id"):
        raise ClientError("the stanza to send needs an id attribute (used for matching)")
    return raw, parsed


def _is(name: str, stanza_id: str) -> Callable[[Received], bool]:
    return lambda r: r.local_name == name and r.attr("id") == stanza_id


def _is_error(name: str, stanza_id: str) -> Callable[[Received], bool]:
    return lambda r: (
        r.local_name == name and r.attr("id") == stanza_id and r.attr("type") == "error"
    )


def _await(
    case: str,
    sent: bytes,
    recipient: XmppClient,
    match: Callable[[Received], bool],
    sender: XmppClient,
    error: Callable[[Received], bool],
    timeout: float,
) -> Received:
    """Wait for ``match`` at the recipient; raise Refused as soon as the sender gets ``error``."""
    deadline = time.monotonic() + timeout
    while True:
        for item in sender.pending():
            if error(item):
                raise Refused(case, sent, sender.receive(error, 0))
        try:
            return recipient.receive(match, min(0.1, max(deadline - time.monotonic(), 0)))
        except ClientError:
            if time.monotonic() >= deadline:
                raise


def _routed(
    case: str, server: Server, sent: bytes, got: Received, others: tuple[Received, ...] = ()
) -> Routed:
    return Routed(case, server.name, sent, got.raw, got, got.element, others)


def _route_between_online(
    case: str,
    kind: str,
    server: Server,
    stanza: StanzaSource,
    sender: str,
    recipient: str,
    timeout: float,
) -> Routed:
    """``sender`` and ``recipient`` both online; the stanza (a ``kind``) as the recipient
    got it, or the sender's error."""
    sent, parsed = _materialize(server, stanza)
    sid = parsed.get("id", "")
    with (
        connect(server, sender, presence=True) as alice,
        connect(server, recipient, presence=True) as bob,
    ):
        alice.send(sent)
        got = _await(case, sent, bob, _is(kind, sid), alice, _is_error(kind, sid), timeout)
    return _routed(case, server, sent, got)


def route_chat(
    server: Server,
    stanza: StanzaSource,
    *,
    sender: str = "alice",
    recipient: str = "bob",
    timeout: float = 10.0,
) -> Routed:
    """alice (online) sends a message to bob (online); bob's copy, as received."""
    return _route_between_online("chat", "message", server, stanza, sender, recipient, timeout)


def route_no_from(
    server: Server,
    stanza: StanzaSource,
    *,
    sender: str = "alice",
    recipient: str = "bob",
    timeout: float = 10.0,
) -> Routed:
    """Like :func:`route_chat` for a message without ``from`` (the server stamps it)."""
    sent, parsed = _materialize(server, stanza)
    if parsed.get("from") is not None:
        raise ClientError("route_no_from: the stanza must not carry a from attribute")
    routed = route_chat(server, sent, sender=sender, recipient=recipient, timeout=timeout)
    return Routed("no-from", routed.server, sent, routed.received, routed.stanza, routed.element)


def _join(client: XmppClient, server: Server, nick: str, timeout: float) -> None:
    """Enter the room (XEP-0045 §7.2) without history; accept the default config if created."""
    occupant = server.occupant_jid(nick)
    client.send(
        f"<presence to={quoteattr(occupant)} id='join{next(_ids)}'>"
        f"<x xmlns='{NS_MUC}'><history maxstanzas='0'/></x></presence>"
    )

    def self_presence(r: Received) -> bool:
        if r.local_name != "presence" or r.attr("from") != occupant:
            return False
        if r.attr("type") == "error":
            return True
        return any(s.get("code") == "110" for s in r.element.iter(f"{{{NS_MUC_USER}}}status"))

    got = client.receive(self_presence, timeout)
    if got.attr("type") == "error":
        raise ClientError(f"joining {occupant} failed: {got.raw!r}")
    if any(s.get("code") == "201" for s in got.element.iter(f"{{{NS_MUC_USER}}}status")):
        # XEP-0045 §10.1.2: a new room may be locked until the owner accepts an instant config
        reply = client.request(
            f"<iq type='set' id='cfg{next(_ids)}' to={quoteattr(server.muc_room)}>"
            f"<query xmlns='{NS_MUC_OWNER}'><x xmlns='{NS_XDATA}' type='submit'/></query></iq>",
            timeout,
        )
        if reply.attr("type") != "result":
            raise ClientError(f"instant room configuration failed: {reply.raw!r}")


def _leave(client: XmppClient, server: Server, nick: str) -> None:
    client.send(f"<presence type='unavailable' to={quoteattr(server.occupant_jid(nick))}/>")


def route_groupchat(
    server: Server,
    stanza: StanzaSource,
    *,
    sender: str = "alice",
    recipient: str = "bob",
    timeout: float = 10.0,
) -> Routed:
    """alice and bob in ``server.muc_room``; alice's groupchat message as bob receives it.

    ``others`` holds alice's own echo from the room.
    """
    return _route_in_room("groupchat", server, stanza, sender, recipient, timeout, echo=True)


def _route_in_room(
    case: str,
    server: Server,
    stanza: StanzaSource,
    sender: str,
    recipient: str,
    timeout: float,
    *,
    echo: bool,
) -> Routed:
    """Both join ``server.muc_room``; ``sender`` sends, what ``recipient`` gets is routed
    (with the sender's own echo from the room in ``others`` when ``echo``)."""
    sent, parsed = _materialize(server, stanza)
    sid = parsed.get("id", "")
    others: tuple[Received, ...] = ()
    with (
        connect(server, sender, presence=True) as alice,
        connect(server, recipient, presence=True) as bob,
    ):
        _join(alice, server, sender, timeout)
        _join(bob, server, recipient, timeout)
        alice.send(sent)
        got = _await(case, sent, bob, _is("message", sid), alice, _is_error("message", sid), timeout)
        if echo:
            others = (alice.receive(_is("message", sid), timeout),)
        _leave(alice, server, sender)
        _leave(bob, server, recipient)
    return _routed(case, server, sent, got, others)


def route_muc_private(
    server: Server,
    stanza: StanzaSource,
    *,
    sender: str = "alice",
    recipient: str = "bob",
    timeout: float = 10.0,
) -> Routed:
    """alice and bob in ``server.muc_room``; alice's private message to the occupant JID
    ``room/bob`` (XEP-0045 §7.5) as the room redirected it to bob's real JID."""
    return _route_in_room("muc-private", server, stanza, sender, recipient, timeout, echo=False)


def route_presence(
    server: Server,
    stanza: StanzaSource,
    *,
    sender: str = "alice",
    recipient: str = "bob",
    timeout: float = 10.0,
) -> Routed:
    """alice sends a directed presence (RFC 6121 §4.6) to bob (online); bob's copy."""
    return _route_between_online("presence", "presence", server, stanza, sender, recipient, timeout)


def route_iq(
    server: Server,
    build: StanzaSource,
    *,
    sender: str = "alice",
    recipient: str = "bob",
    timeout: float = 10.0,
) -> Routed:
    """alice sends an iq get/set to bob's full JID; bob's client answers with an empty result.

    ``received`` is the iq as bob got it; ``others`` holds the result as alice got it.
    Raises :class:`Refused` with the error's bytes when the server rejects the iq.
    """
    sent, parsed = _materialize(server, build)
    sid = parsed.get("id", "")
    with (
        connect(server, recipient, presence=True, auto_reply_iq=True) as bob,
        connect(server, sender, presence=True) as alice,
    ):
        alice.send(sent)
        got = _await("iq", sent, bob, _is("iq", sid), alice, _is_error("iq", sid), timeout)
        result = alice.receive(
            lambda r: r.local_name == "iq" and r.attr("id") == sid and r.attr("type") == "result",
            timeout,
        )
    return _routed("iq", server, sent, got, (result,))


def _has_delay(r: Received) -> bool:
    return r.element.find(f"{{{NS_DELAY}}}delay") is not None


def route_offline(
    server: Server,
    stanza: StanzaSource,
    *,
    sender: str = "alice",
    recipient: str = "bob",
    timeout: float = 10.0,
) -> Routed:
    """bob offline; alice sends; bob logs in and gets it with a ``<delay/>`` (XEP-0160, XEP-0203).

    Address the message to bob's bare JID (a full JID of an offline resource may be
    bounced or stored, depending on the server).
    """
    sent, parsed = _materialize(server, stanza)
    sid = parsed.get("id", "")
    with connect(server, sender, presence=True) as alice:
        alice.send(sent)
        # stanzas of one session are handled in order: once the server answers this ping,
        # the message has been routed (stored offline) or bounced
        alice.request(f"<iq type='get' id='ping{next(_ids)}'><ping xmlns='urn:xmpp:ping'/></iq>")
        for item in alice.drain(0.2):
            if _is_error("message", sid)(item):
                raise Refused("offline", sent, item)
    with connect(server, recipient, presence=True) as bob:
        got = bob.receive(lambda r: _is("message", sid)(r) and _has_delay(r), timeout)
    return _routed("offline", server, sent, got)


def offers_mam(client: XmppClient, account: str, timeout: float = 10.0) -> bool:
    """Whether ``account`` (a bare JID) advertises ``urn:xmpp:mam:2`` (XEP-0313 §6)."""
    info = client.request(
        f"<iq type='get' id='disco{next(_ids)}' to={quoteattr(account)}>"
        f"<query xmlns='{NS_DISCO_INFO}'/></iq>",
        timeout,
    )
    return any(f.get("var") == NS_MAM for f in info.element.iter(f"{{{NS_DISCO_INFO}}}feature"))


def route_mam(
    server: Server,
    stanza: StanzaSource,
    *,
    sender: str = "alice",
    recipient: str = "bob",
    timeout: float = 10.0,
) -> Routed:
    """alice sends to bob (online); bob then fetches it from his archive (XEP-0313).

    ``received`` is the exact bytes of the ``<message>`` inside ``<forwarded>`` of bob's
    result message; ``stanza`` is that result message; ``others`` holds the live copy.
    Raises :class:`NotOffered` when the server does not advertise ``urn:xmpp:mam:2``.
    """
    sent, parsed = _materialize(server, stanza)
    sid = parsed.get("id", "")
    with (
        connect(server, sender, presence=True) as alice,
        connect(server, recipient, presence=True) as bob,
    ):
        if not offers_mam(bob, server.jid(recipient), timeout):
            raise NotOffered(f"{server.name} does not offer {NS_MAM}")
        alice.send(sent)
        live = _await(
            "mam", sent, bob, _is("message", sid), alice, _is_error("message", sid), timeout
        )
        query_id = f"q{next(_ids)}"
        bob.send(
            f"<iq type='set' id='{query_id}'><query xmlns='{NS_MAM}' queryid='{query_id}'>"
            f"<x xmlns='{NS_XDATA}' type='submit'>"
            f"<field var='FORM_TYPE' type='hidden'><value>{NS_MAM}</value></field>"
            f"<field var='with'><value>{server.jid('alice')}</value></field></x>"
            f"<set xmlns='{NS_RSM}'><max>100</max><before/></set></query></iq>"
        )
        done = bob.receive(lambda r: r.local_name == "iq" and r.attr("id") == query_id, timeout)
        if done.attr("type") != "result":
            raise Refused("mam", sent, done)
        results = [
            r
            for r in bob.drain(0.2)
            if r.local_name == "message"
            and r.element.find(f"{{{NS_MAM}}}result[@queryid='{query_id}']") is not None
        ]
    for outer in results:
        for inner in outer.element.iterfind(
            f"{{{NS_MAM}}}result/{{{NS_FORWARD}}}forwarded/{{{NS_CLIENT}}}message"
        ):
            if inner.get("id") == sid:
                return Routed("mam", server.name, sent, outer.raw_of(inner), outer, inner, (live,))
    raise ClientError(f"mam: message {sid!r} not in bob's archive ({len(results)} results)")
