"""``xmppsec component`` (XEP-0114) against the suite's Prosody and ejabberd, and XEP-0274 use
cases 2, 3b, 4 and 5 through them with the exact received bytes verified (issue 16).

The component runs as a real process (``python -m xmppsec.cli component``) attached to each
server's component port (tests/harness/configs); a missing server fails under CI=true."""

from __future__ import annotations

import copy
import itertools
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest
from lxml import etree

from tests.harness.cases import NS_MUC, NS_MUC_USER
from tests.harness.client import Received, XmppClient, connect
from tests.harness.servers import Server
from xmppsec.dsig import ROBUST, Policy, Signer, Verifier
from xmppsec.keys import Identity, generate_identity, write_identity
from xmppsec.parser import parse
from xmppsec.trust import TrustStore

NS_ADDRESS = "http://jabber.org/protocol/address"
NS_FORWARD = "urn:xmpp:forward:0"
SIG = "{http://www.w3.org/2000/09/xmldsig#}Signature"
_ids = itertools.count(1)


@pytest.fixture(scope="module")
def keys_for(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Identity]:
    return {
        jid: generate_identity(jid)
        for jid in ("alice@localhost", "bob@localhost", "rooms.localhost")
    }


@pytest.fixture(scope="module")
def service_files(keys_for: dict[str, Identity], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("component")
    write_identity(keys_for["rooms.localhost"], out)
    return out


def _trust(keys_for: dict[str, Identity], *jids: str) -> TrustStore:
    store = TrustStore()
    for jid in jids:
        store = store.pin(jid, keys_for[jid].certificate)
    return store


def _signer(ident: Identity, jid: str) -> Signer:
    return Signer(ident.private_key, signer=jid, certificate=ident.certificate, profile=ROBUST)


@contextmanager
def component(
    server: Server, files: Path, mode: str, secret: str | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """The component process, once the server accepted its handshake; SIGTERM at the end
    must end it cleanly (exit 0)."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "xmppsec.cli",
            "component",
            "--server",
            f"{server.host}:{server.component_port}",
            "--domain",
            server.component_domain,
            "--secret",
            secret or server.component_secret,
            "--key",
            str(files / "key.pem"),
            "--cert",
            str(files / "cert.pem"),
            "--mode",
            mode,
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    lines: list[bytes] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if b"accepted by" in line:
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if not ready.wait(15):
            raise AssertionError(f"no handshake: {b''.join(lines)!r}")
        yield proc
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0, b"".join(lines)
        reader.join(5)
        accepted = [ln for ln in lines if b"accepted by" in ln]
        assert len(accepted) == 1, lines
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def _verify(store: TrustStore, data: bytes | etree._Element) -> tuple[bool, str, str]:
    result = Verifier(store, policy=Policy()).check(data)
    sig = result.signatures[0] if result.signatures else None
    return (
        result.valid,
        sig.signer if sig else "",
        sig.sender_relation if sig else str(result.error),
    )


def _tampered(raw: bytes, old: bytes, new: bytes) -> bytes:
    assert old in raw
    return raw.replace(old, new, 1)


def _join(client: XmppClient, room: str, nick: str) -> None:
    occupant = f"{room}/{nick}"
    client.send(f"<presence to={quoteattr(occupant)}><x xmlns='{NS_MUC}'/></presence>")
    client.receive(
        lambda r: (
            r.local_name == "presence"
            and r.attr("from") == occupant
            and any(s.get("code") == "110" for s in r.element.iter(f"{{{NS_MUC_USER}}}status"))
        ),
        10,
    )


def _is(name: str, sid: str) -> Callable[[Received], bool]:
    return lambda r: r.local_name == name and r.attr("id") == sid


# -- the process itself --------------------------------------------------------------------


def test_wrong_secret_is_refused_with_exit_1(xmpp_server: Server, service_files: Path) -> None:
    began = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "xmppsec.cli",
            "component",
            "--server",
            f"{xmpp_server.host}:{xmpp_server.component_port}",
            "--domain",
            xmpp_server.component_domain,
            "--secret",
            "wrong",
            "--key",
            str(service_files / "key.pem"),
            "--cert",
            str(service_files / "cert.pem"),
        ],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert b"accepted by" not in done.stderr
    assert time.monotonic() - began < 20


def test_certificate_must_name_the_domain(service_files: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "xmppsec.cli",
            "component",
            "--server",
            "127.0.0.1:1",
            "--domain",
            "other.localhost",
            "--secret",
            "s",
            "--key",
            str(service_files / "key.pem"),
            "--cert",
            str(service_files / "cert.pem"),
        ],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert b"does not name other.localhost" in done.stderr


# -- use case 5: the relay signs for a client that does not ----------------------------------


def test_relay_signs_as_the_service_domain(
    xmpp_server: Server, service_files: Path, keys_for: dict[str, Identity]
) -> None:
    s = xmpp_server
    sid = f"relay{next(_ids)}"
    with (
        component(s, service_files, "relay"),
        connect(s, "alice", presence=True) as alice,
        connect(s, "bob", presence=True) as bob,
    ):
        alice.send(
            f"<message to='{s.component_domain}' type='chat' id='{sid}'><body>unsigned hi</body>"
            f"<addresses xmlns='{NS_ADDRESS}'><address type='to' jid='{s.jid('bob')}'/>"
            "</addresses></message>"
        )
        got: Received = bob.receive(_is("message", sid), 10)
    raw = got.standalone()
    store = _trust(keys_for, "rooms.localhost")
    assert _verify(store, raw) == (True, "rooms.localhost", "sender")
    result = Verifier(store).verify(raw)
    signed = {c.name: c.element for c in result.signed("rooms.localhost")}
    ofrom = signed[f"{{{NS_ADDRESS}}}addresses"].find(f"{{{NS_ADDRESS}}}address")
    assert ofrom is not None and ofrom.get("type") == "ofrom"
    assert ofrom.get("jid") == s.full_jid("alice")  # who sent it, vouched by the service
    assert not _verify(store, _tampered(raw, b"unsigned hi", b"unsigned ho"))[0]
    assert not _verify(store, _tampered(raw, s.full_jid("alice").encode(), b"carol@localhost/x"))[0]


# -- use cases 3b and 2: the signed room service ---------------------------------------------


def test_room_service_signs_reflections_and_redirects_private_messages(
    xmpp_server: Server, service_files: Path, keys_for: dict[str, Identity]
) -> None:
    s = xmpp_server
    room = f"signed@{s.component_domain}"
    gid, pid = f"gc{next(_ids)}", f"pm{next(_ids)}"
    alice_signer = _signer(keys_for["alice@localhost"], "alice@localhost")
    groupchat = alice_signer.sign(
        f"<message xmlns='jabber:client' to='{room}' type='groupchat' id='{gid}'>"
        "<body>hello signed room</body></message>".encode()
    )
    private = alice_signer.sign(
        f"<message xmlns='jabber:client' to='{room}/bob' type='chat' id='{pid}'>"
        f"<body>psst bob</body><x xmlns='{NS_MUC_USER}'/></message>".encode()
    )
    with (
        component(s, service_files, "rooms"),
        connect(s, "alice", presence=True) as alice,
        connect(s, "bob", presence=True) as bob,
    ):
        _join(alice, room, "alice")
        _join(bob, room, "bob")
        alice.send(groupchat)
        reflected: Received = bob.receive(_is("message", gid), 10)
        alice.receive(_is("message", gid), 10)
        alice.send(private)
        redirected: Received = bob.receive(_is("message", pid), 10)

    # 3b: the reflection is signed by the service over what bob sees ...
    raw = reflected.standalone()
    assert reflected.attr("from") == f"{room}/alice"
    service = _trust(keys_for, "rooms.localhost")
    assert _verify(service, raw) == (True, "rooms.localhost", "sender")
    # ... and nests alice's original, which verifies on its own with alice's key.
    outer = parse(raw)
    inner = outer.find(f"{{{NS_FORWARD}}}forwarded/{{jabber:client}}message")
    assert inner is not None and inner.find(SIG) is not None
    assert inner.get("from") == s.full_jid("alice")
    assert _verify(_trust(keys_for, "alice@localhost"), copy.deepcopy(inner))[:2] == (
        True,
        "alice@localhost",
    )
    assert not _verify(service, _tampered(raw, b"hello signed room", b"hello SIGNED room"))[0]
    # alice's key alone does not make the service's signature valid
    assert not _verify(_trust(keys_for, "alice@localhost"), raw)[0]

    # 2: the private message, redirected by the room, verifies as alice's
    raw = redirected.standalone()
    assert redirected.attr("from") == f"{room}/alice"
    assert redirected.attr(
        "to",
    ) == s.full_jid("bob")
    alice_store = _trust(keys_for, "alice@localhost")
    assert _verify(alice_store, raw) == (True, "alice@localhost", "muc-private")
    assert not _verify(alice_store, _tampered(raw, b"psst bob", b"psst rob"))[0]
    other_room = raw.replace(room.encode() + b"/alice", b"other@rooms.localhost/alice")
    assert not _verify(alice_store, other_room)[0]


# -- use case 4: broadcast presence ----------------------------------------------------------


def _subscribe(
    watcher: XmppClient, watched: XmppClient, watched_jid: str, watcher_jid: str
) -> None:
    """RFC 6121 §3.1: ``watcher`` subscribes to ``watched``'s presence, which approves."""
    watcher.send(f"<presence to='{watched_jid}' type='subscribe'/>")
    watched.receive(lambda r: r.local_name == "presence" and r.attr("type") == "subscribe", 10)
    watched.send(f"<presence to='{watcher_jid}' type='subscribed'/>")
    # then the server sends the watched's current presence (RFC 6121 §3.1.5)
    watcher.receive(
        lambda r: (
            r.local_name == "presence"
            and (r.attr("from") or "").startswith(watched_jid + "/")
            and r.attr("type") is None
        ),
        10,
    )
    watcher.drain()


def test_broadcast_presence_verifies_at_the_subscriber(
    xmpp_server: Server, keys_for: dict[str, Identity]
) -> None:
    s = xmpp_server
    sid = f"bp{next(_ids)}"
    signed = _signer(keys_for["alice@localhost"], "alice@localhost").sign(
        f"<presence xmlns='jabber:client' id='{sid}'><show>away</show>"
        "<status>signed broadcast</status><priority>3</priority></presence>".encode()
    )
    with (
        connect(s, "alice", presence=True) as alice,
        connect(s, "bob", presence=True) as bob,
    ):
        _subscribe(bob, alice, s.jid("alice"), s.jid("bob"))
        alice.send(signed)
        got: Received = bob.receive(_is("presence", sid), 10)
    raw = got.standalone()
    assert got.attr("to") is not None  # added by the server
    store = _trust(keys_for, "alice@localhost")
    assert _verify(store, raw) == (True, "alice@localhost", "broadcast")
    assert not _verify(store, _tampered(raw, b"signed broadcast", b"signed broadcasT"))[0]
    assert not _verify(store, raw.replace(b"alice@localhost/", b"carol@localhost/"))[0]
