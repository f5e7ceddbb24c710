"""A raw-socket XMPP client for loopback tests: records the exact bytes of every received stanza.

Plain TCP, no TLS (the test servers allow plaintext on 127.0.0.1 only), SASL PLAIN
(RFC 4616, RFC 6120 §6), stream restart, resource binding (RFC 6120 §7) and the legacy
session request when a server still advertises it as required (RFC 3921 §3). One reader
thread per connection feeds a :class:`~tests.harness.stream.StreamSplitter`; ``receive``
waits on a condition variable with a timeout, so nothing here can hang a test.
"""

from __future__ import annotations

import base64
import itertools
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from xml.sax.saxutils import quoteattr

from lxml import etree

from .stream import (
    StreamProtocolError,
    StreamSplitter,
    element_spans,
    parse_in_context,
    with_scope,
)

if TYPE_CHECKING:
    from .servers import Server

__all__ = [
    "NS_BIND",
    "NS_CLIENT",
    "NS_SASL",
    "NS_SESSION",
    "NS_STREAM",
    "ClientError",
    "Received",
    "XmppClient",
    "connect",
]

NS_CLIENT = "jabber:client"
NS_STREAM = "http://etherx.jabber.org/streams"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"
NS_SESSION = "urn:ietf:params:xml:ns:xmpp-session"

_ids = itertools.count(1)


class ClientError(Exception):
    """Login failed, the stream broke, or an expected stanza did not arrive in time."""


@dataclass(frozen=True)
class Received:
    """One top-level element exactly as received.

    ``raw`` are the bytes between the stanza boundaries on the wire; ``header`` the exact
    stream header it arrived under (it declares ``jabber:client`` and the ``stream`` prefix,
    which ``raw`` relies on); ``element`` the parsed element (for matching, not for digests).
    """

    raw: bytes
    header: bytes
    element: etree._Element = field(repr=False, compare=False)

    @property
    def local_name(self) -> str:
        return etree.QName(self.element).localname

    def attr(self, name: str) -> str | None:
        return self.element.get(name)

    def document(self) -> bytes:
        """Stream header + stanza + close tag: a complete document with the stream's namespaces."""
        name = self.header[1:].split(None, 1)[0]
        return self.header + self.raw + b"</" + name + b">"

    def standalone(self) -> bytes:
        """``raw`` with the stream header's namespace declarations spliced into its start tag."""
        return with_scope(self.raw, dict(self.element.nsmap))

    def raw_of(self, element: etree._Element) -> bytes:
        """The exact received bytes of ``element`` (a descendant of ``self.element``, or itself)."""
        spans = element_spans(self.raw)
        for index, candidate in enumerate(self.element.iter(etree.Element)):
            if candidate is element:
                start, end = spans[index]
                return self.raw[start:end]
        raise ClientError("element is not part of this stanza")


Predicate = Callable[[Received], bool]


class XmppClient:
    """A logged-in c2s connection. Use :func:`connect`; close with ``close()`` or ``with``."""

    def __init__(self, sock: socket.socket, name: str) -> None:
        self.name = name
        self.jid = ""
        self.header = b""
        self.log: list[Received] = []  # everything received, in order (including consumed)
        self.sent: list[bytes] = []
        self.wire = bytearray()  # every byte received, for checking the splitter
        self.auto_reply_iq = False
        self._sock = sock
        self._splitter = StreamSplitter()
        self._inbox: list[Received] = []
        self._cond = threading.Condition()
        self._closed = False
        self._error: BaseException | None = None
        self._send_lock = threading.Lock()
        self._reader = threading.Thread(target=self._read_loop, name=f"xmpp-{name}", daemon=True)
        self._reader.start()

    # -- wire ------------------------------------------------------------------------------
    def send(self, data: bytes | str) -> None:
        raw = data.encode("utf-8") if isinstance(data, str) else data
        with self._send_lock:
            self.sent.append(raw)
            self._sock.sendall(raw)

    def _read_loop(self) -> None:
        try:
            while True:
                chunk = self._sock.recv(65536)
                if not chunk:
                    break
                self.wire += chunk
                for event in self._splitter.feed(chunk):
                    if event.kind == "header":
                        self.header = event.raw
                    elif event.kind == "close":
                        return
                    else:
                        self._deliver(event.raw)
        except (OSError, StreamProtocolError, etree.XMLSyntaxError) as exc:
            if not self._closed:
                self._error = exc
        finally:
            with self._cond:
                self._closed = True
                self._cond.notify_all()

    def _deliver(self, raw: bytes) -> None:
        item = Received(raw, self.header, parse_in_context(self.header, raw))
        if item.local_name == "success" and etree.QName(item.element).namespace == NS_SASL:
            self._splitter.restart()  # RFC 6120 §6.4.6: the next bytes start a new stream
        if self.auto_reply_iq and item.local_name == "iq" and item.attr("type") in ("get", "set"):
            to = item.attr("from")
            self.send(
                f"<iq type='result' id={quoteattr(item.attr('id') or '')}"
                + (f" to={quoteattr(to)}" if to else "")
                + "/>"
            )
        with self._cond:
            self.log.append(item)
            self._inbox.append(item)
            self._cond.notify_all()

    # -- receiving -------------------------------------------------------------------------
    def receive(self, predicate: Predicate | None = None, timeout: float = 10.0) -> Received:
        """Take the first received element (in arrival order) that matches ``predicate``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for k, item in enumerate(self._inbox):
                    if predicate is None or predicate(item):
                        del self._inbox[k]
                        return item
                remaining = deadline - time.monotonic()
                if self._closed or remaining <= 0:
                    seen = b"\n".join(i.raw[:300] for i in self._inbox[-5:]).decode(
                        "utf-8", "replace"
                    )
                    why = "stream closed" if self._closed else f"timeout after {timeout}s"
                    if self._error is not None:
                        why += f" ({self._error!r})"
                    raise ClientError(f"{self.name}: no matching stanza: {why}; pending:\n{seen}")
                self._cond.wait(remaining)

    def pending(self) -> list[Received]:
        with self._cond:
            return list(self._inbox)

    def drain(self, quiet: float = 0.3) -> list[Received]:
        """Wait until nothing arrives for ``quiet`` seconds; return and forget what is pending."""
        with self._cond:
            while True:
                count = len(self._inbox)
                self._cond.wait(quiet)
                if len(self._inbox) == count or self._closed:
                    items, self._inbox = self._inbox, []
                    return items

    def request(self, iq: bytes | str, timeout: float = 10.0) -> Received:
        """Send an iq and wait for the result/error with the same id."""
        raw = iq.encode("utf-8") if isinstance(iq, str) else iq
        sent = etree.fromstring(raw, etree.XMLParser(resolve_entities=False, no_network=True))
        iq_id = sent.get("id")
        self.send(raw)
        return self.receive(
            lambda r: (
                r.local_name == "iq"
                and r.attr("id") == iq_id
                and r.attr("type") in ("result", "error")
            ),
            timeout,
        )

    # -- lifecycle -------------------------------------------------------------------------
    def close(self, timeout: float = 3.0) -> None:
        """Close the stream (RFC 6120 §4.4) and wait for the server to close its side."""
        if self._reader.is_alive():
            try:
                self.send(b"</stream:stream>")
            except OSError:
                pass
            self._reader.join(timeout)
        self._closed = True
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        self._reader.join(timeout)

    def __enter__(self) -> XmppClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open_stream(client: XmppClient, domain: str) -> Received:
    client.send(
        "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
        f"xmlns:stream='{NS_STREAM}' to={quoteattr(domain)} version='1.0' xml:lang='en'>"
    )
    return client.receive(lambda r: r.local_name == "features", timeout=10)


def connect(
    server: Server,
    user: str,
    *,
    resource: str | None = None,
    presence: bool = False,
    auto_reply_iq: bool = False,
    timeout: float = 10.0,
) -> XmppClient:
    """Log ``user`` into ``server`` over plaintext loopback; bind ``resource``.

    ``presence=True`` sends initial presence (needed to get offline messages and to be
    "available"); ``auto_reply_iq=True`` answers every incoming iq get/set with an empty result.
    """
    resource = resource or server.resource
    sock = socket.create_connection((server.host, server.port), timeout=timeout)
    sock.settimeout(None)
    client = XmppClient(sock, f"{user}@{server.name}")
    try:
        features = _open_stream(client, server.domain)
        mechs = [m.text for m in features.element.iter(f"{{{NS_SASL}}}mechanism")]
        if "PLAIN" not in mechs:
            raise ClientError(f"server offers no SASL PLAIN: {features.raw!r}")
        token = base64.b64encode(f"\0{user}\0{server.password(user)}".encode()).decode()
        client.send(f"<auth xmlns='{NS_SASL}' mechanism='PLAIN'>{token}</auth>")
        outcome = client.receive(lambda r: r.local_name in ("success", "failure"), timeout=timeout)
        if outcome.local_name != "success":
            raise ClientError(f"SASL PLAIN failed for {user}: {outcome.raw!r}")
        features = _open_stream(client, server.domain)
        bind_id = f"bind{next(_ids)}"
        bound = client.request(
            f"<iq type='set' id='{bind_id}'><bind xmlns='{NS_BIND}'>"
            f"<resource>{resource}</resource></bind></iq>",
            timeout,
        )
        jid = bound.element.findtext(f"{{{NS_BIND}}}bind/{{{NS_BIND}}}jid")
        if bound.attr("type") != "result" or not jid:
            raise ClientError(f"resource binding failed: {bound.raw!r}")
        client.jid = jid
        session = features.element.find(f"{{{NS_SESSION}}}session")
        if session is not None and session.find(f"{{{NS_SESSION}}}optional") is None:
            client.request(
                f"<iq type='set' id='sess{next(_ids)}'><session xmlns='{NS_SESSION}'/></iq>",
                timeout,
            )
        client.auto_reply_iq = auto_reply_iq
        if presence:
            client.send("<presence/>")
            # a session's stanzas are handled in order: once the server answers this ping,
            # the initial presence has been processed and the resource is "available"
            # (otherwise a message sent right after may still go to offline storage)
            client.request(
                f"<iq type='get' id='ping{next(_ids)}'><ping xmlns='urn:xmpp:ping'/></iq>",
                timeout,
            )
        return client
    except BaseException:
        client.close()
        raise
