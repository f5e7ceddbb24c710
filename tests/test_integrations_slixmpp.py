"""The slixmpp plugin ``xmppsec_dsig``: configuration, offline round trips, and real servers.

The integration tests run real slixmpp clients through the harness's Prosody and ejabberd
on 127.0.0.1: alice signs with the plugin, bob verifies with it. What bob's plugin verifies
is slixmpp's re-serialization of what the server delivered, never the bytes on the wire.
Every wait is bounded (``STEP``, and ``run``'s overall timeout); every client is
disconnected in ``finally``.
"""

from __future__ import annotations

import asyncio
import copy
import os
import secrets
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import slixmpp
from slixmpp.types import MessageTypes
from slixmpp.xmlstream import StanzaBase
from slixmpp.xmlstream.tostring import tostring as slixmpp_tostring

from tests.harness.servers import Server
from xmppsec.dsig import ROBUST, SPEC, ReferenceStatus, Signer, Verifier
from xmppsec.errors import (
    DigestMismatch,
    InvalidReference,
    InvalidSignature,
    NotSigned,
    ReplayError,
    StanzaMismatch,
    UntrustedKey,
    UsageError,
    XmppSecError,
)
from xmppsec.integrations import slixmpp as xs
from xmppsec.keys import Identity, generate_identity
from xmppsec.trust import TrustStore

T = TypeVar("T")

DOMAIN = "localhost"
ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"
CAROL = f"carol@{DOMAIN}"
STEP = 20.0  # seconds: the bound on any single wait against a server
JC = "{jabber:client}"
MUC_OWNER = "http://jabber.org/protocol/muc#owner"


@pytest.fixture(scope="module")
def alice_id() -> Identity:
    return generate_identity(ALICE)


@pytest.fixture(scope="module")
def carol_id() -> Identity:
    return generate_identity(CAROL)


def run(factory: Callable[[], Awaitable[T]], timeout: float = 120.0) -> T:
    """Run ``factory()`` in a fresh event loop, bounded by ``timeout`` seconds."""

    async def bounded() -> T:
        return await asyncio.wait_for(factory(), timeout)

    return asyncio.run(bounded())


# -- clients ------------------------------------------------------------------------------


@dataclass
class Peer:
    client: slixmpp.ClientXMPP
    plugin: xs.XmppsecDsig
    results: asyncio.Queue[xs.VerifiedStanza] = field(default_factory=asyncio.Queue)
    sign_failures: list[xs.SignFailure] = field(default_factory=list)
    handled: list[tuple[str, xs.VerifiedStanza | None]] = field(default_factory=list)
    messages: asyncio.Queue[StanzaBase] = field(default_factory=asyncio.Queue)

    async def result(self, stanza_id: str, timeout: float = STEP) -> xs.VerifiedStanza:
        """The VerifiedStanza of the received stanza with ``id`` ``stanza_id``."""
        async with asyncio.timeout(timeout):
            while True:
                got = await self.results.get()
                if got.stanza["id"] == stanza_id:
                    return got


def make_peer(jid: str, password: str, config: Mapping[str, object] | None) -> Peer:
    """A slixmpp client (plain c2s on loopback) with the plugin."""
    client = slixmpp.ClientXMPP(jid, password)
    client.enable_plaintext = True
    client.enable_starttls = False
    client.enable_direct_tls = False
    client.plugin["feature_mechanisms"].unencrypted_plain = True
    client.register_plugin("xep_0045")
    peer = Peer(client, xs.enable(client, config))

    def on_result(event: xs.VerifiedStanza) -> None:
        peer.results.put_nowait(event)

    def on_sign_failed(event: xs.SignFailure) -> None:
        peer.sign_failures.append(event)

    def on_message(msg: StanzaBase) -> None:
        # handlers run after the plugin's 'in' filter: the result is already there
        result = peer.plugin.result_for(msg)
        peer.handled.append((msg["id"], None if result is None else xs.VerifiedStanza(msg, result)))
        peer.messages.put_nowait(msg)

    client.add_event_handler(xs.EVENT_VERIFIED, on_result)
    client.add_event_handler(xs.EVENT_UNVERIFIED, on_result)
    client.add_event_handler(xs.EVENT_SIGN_FAILED, on_sign_failed)
    client.add_event_handler("message", on_message)
    return peer


@asynccontextmanager
async def online(
    server: Server, user: str, config: Mapping[str, object] | None = None
) -> AsyncIterator[Peer]:
    """``user`` logged in to ``server`` with a fresh resource, available, plugin enabled."""
    jid = f"{server.jid(user)}/slix-{secrets.token_hex(3)}"
    peer = make_peer(jid, server.password(user), config)
    client = peer.client
    ready: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    def started(_: Any) -> None:
        if not ready.done():
            ready.set_result(True)

    def failed(_: Any) -> None:
        if not ready.done():
            ready.set_exception(RuntimeError(f"{jid}: authentication failed"))

    client.add_event_handler("session_start", started)
    client.add_event_handler("failed_auth", failed)
    client.connect(server.host, server.port)
    try:
        await asyncio.wait_for(ready, STEP)
        client.send_presence()
        yield peer
    finally:
        with suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(client.disconnect(wait=1.0), 5.0)
        client.abort()


async def join_room(peer: Peer, room: str, nick: str, *, owner: bool = False) -> None:
    """Enter ``room`` without history; the first occupant accepts the instant configuration
    (ejabberd keeps a new room locked until then, XEP-0045 §10.1.2)."""
    muc = peer.client.plugin["xep_0045"]
    await muc.join_muc_wait(slixmpp.JID(room), nick, maxstanzas=0, timeout=STEP)
    if owner:
        iq = peer.client.make_iq_set(ito=room)
        iq.append(
            ET.fromstring(
                f"<query xmlns='{MUC_OWNER}'><x xmlns='jabber:x:data' type='submit'/></query>"
            )
        )
        send: Any = iq.send  # Iq.send is untyped in slixmpp 1.17
        await send(timeout=STEP)


def send_message(peer: Peer, to: str, body: str, mtype: MessageTypes = "chat") -> str:
    msg = peer.client.make_message(mto=to, mbody=body, mtype=mtype)
    stanza_id = f"xs-{secrets.token_hex(6)}"
    msg["id"] = stanza_id
    msg.send()
    return stanza_id


def body_of(event: xs.VerifiedStanza) -> str:
    bodies = [c for c in event.result.signed_children() if c.tag == JC + "body"]
    assert len(bodies) == 1
    return bodies[0].text or ""


# -- configuration (no server) --------------------------------------------------------------


def _configure(config: Mapping[str, object]) -> xs.DsigSettings:
    return xs.DsigSettings.from_config(config, jid=f"{ALICE}/res")


def test_settings_defaults_and_resolution(alice_id: Identity) -> None:
    s = _configure(
        {
            "key": alice_id.private_key,
            "certificate": alice_id.certificate,
            "trust": TrustStore().pin(ALICE, alice_id.certificate),
        }
    )
    assert s.signer is not None and s.signer.signer == ALICE  # the account's bare JID
    assert s.signer.profile is ROBUST
    assert s.verifier is not None and s.verifier.profile is ROBUST
    assert s.verifier.replay is not None  # a memory replay store unless told otherwise
    assert s.sign == s.verify == frozenset({"message"})
    assert s.on_sign_error == "drop" and s.drop_unverified is False
    nothing = _configure({})
    assert nothing.signer is None and nothing.verifier is None
    no_replay = _configure({"trust": TrustStore(), "replay": None})
    assert no_replay.verifier is not None and no_replay.verifier.replay is None


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"colour": "red"}, "unknown"),
        ({"key": b"-----BEGIN PRIVATE KEY-----"}, "'key' must be a private key"),
        ({"trust": "alice.pem"}, "'trust' must be a TrustStore"),
        ({"certificate": generate_identity(ALICE).certificate}, "no 'key'"),
        ({"trust": TrustStore(), "replay": "redis"}, "'replay'"),
        ({"sign": "message"}, "collection of stanza kinds"),
        ({"verify": ("message", "stream")}, "unknown stanza kinds"),
        ({"on_sign_error": "ignore"}, "on_sign_error"),
        ({"select": 3}, "callable"),
        ({"drop_unverified": "yes"}, "must be a bool"),
        ({"trust": TrustStore(), "verifier": Verifier(TrustStore())}, "either"),
    ],
)
def test_settings_refuse_bad_config(config: dict[str, object], message: str) -> None:
    with pytest.raises(xs.PluginConfigError, match=message):
        _configure(config)


def test_signer_for_another_account_is_refused(alice_id: Identity) -> None:
    # the certificate names alice; a client logged in as carol cannot sign with it: a
    # configuration error (UsageError), not a peer's signer mismatch
    with pytest.raises(xs.PluginConfigError, match="cannot sign as carol"):
        xs.DsigSettings.from_config(
            {"key": alice_id.private_key, "certificate": alice_id.certificate}, jid=CAROL
        )


# -- offline round trips through slixmpp's own serializer (no server) ------------------------


def _wire(client: slixmpp.ClientXMPP, stanza: StanzaBase) -> ET.Element:
    """What slixmpp writes for ``stanza`` (out filters done), parsed back as a receiver would."""
    return ET.fromstring(slixmpp_tostring(stanza.xml, stream=client))


def test_offline_sign_then_verify_as_slixmpp_sends_it(alice_id: Identity) -> None:
    async def scenario() -> None:
        alice = make_peer(
            f"{ALICE}/a", "x", {"key": alice_id.private_key, "certificate": alice_id.certificate}
        )
        bob = make_peer(f"{BOB}/b", "x", {"trust": TrustStore().pin(ALICE, alice_id.certificate)})
        msg = alice.client.make_message(mto=f"{BOB}/b", mbody="a <b> & 'c'\r\nd", mtype="chat")
        msg["id"] = "m1"
        out = alice.plugin._outgoing(msg)
        assert out is msg and xs._has_signature(msg.xml)
        assert alice.plugin._outgoing(msg) is msg  # already signed: sent as is, not re-signed
        assert len(msg.xml.findall("{http://www.w3.org/2000/09/xmldsig#}Signature")) == 1
        wire = _wire(alice.client, msg)
        first = bob.plugin.verify_stanza(wire)
        assert first.valid, first.error
        sig = first.signatures[0]
        assert sig.signer == ALICE and sig.profile == "robust"
        assert sig.sender_relation == "server-stamped"  # slixmpp leaves 'from' to the server
        # the same signature again: the default memory replay store refuses it
        again = bob.plugin.verify_stanza(wire)
        assert not again.valid and isinstance(again.error, ReplayError)

    run(scenario)


def test_signs_what_slixmpp_writes_not_what_it_holds(alice_id: Identity) -> None:
    """slixmpp's serializer drops a namespaced attribute it has no prefix for; the plugin
    digests the serialized form, so the signature covers exactly what goes on the wire."""

    async def scenario() -> None:
        alice = make_peer(f"{ALICE}/a", "x", _alice_config(alice_id))
        bob = make_peer(f"{BOB}/b", "x", _bob_config(alice_id))
        msg = alice.client.make_message(mto=f"{BOB}/b", mbody="hi", mtype="chat")
        ext = ET.SubElement(msg.xml, "{urn:example:x}x", {"{urn:example:e}flag": "1"})
        ext.text = "payload"
        alice.plugin.sign_stanza(msg)
        wire = _wire(alice.client, msg)
        sent_ext = wire.find("{urn:example:x}x")
        assert sent_ext is not None and sent_ext.get("{urn:example:e}flag") is None
        result = bob.plugin.verify_stanza(wire)
        assert result.valid, result.error
        assert [c.tag for c in result.signed_children()] == [JC + "body", "{urn:example:x}x"]

    run(scenario)


def test_incoming_filter_attaches_results_and_never_raises(alice_id: Identity) -> None:
    async def scenario() -> None:
        bob = make_peer(
            f"{BOB}/b",
            "x",
            {"trust": TrustStore().pin(ALICE, alice_id.certificate), "drop_unverified": True},
        )
        plain = bob.client.Message(
            ET.fromstring(
                "<message xmlns='jabber:client' from='alice@localhost/a' to='bob@localhost/b' "
                "id='u1' type='chat'><body>unsigned</body></message>"
            )
        )
        assert bob.plugin._incoming(plain) is None  # dropped: drop_unverified
        got = bob.results.get_nowait()
        assert got.stanza is plain and not got.valid
        assert isinstance(got.result.error, NotSigned)
        assert bob.plugin.result_for(plain) is got.result
        broken = bob.client.Message(
            ET.fromstring(
                "<message xmlns='jabber:client' from='alice@localhost/a' to='bob@localhost/b' "
                "id='u2'><body>x</body><Signature xmlns='http://www.w3.org/2000/09/xmldsig#'>"
                "<SignedInfo/></Signature></message>"
            )
        )
        assert bob.plugin._incoming(broken) is None
        bad = bob.results.get_nowait().result
        assert not bad.valid and isinstance(bad.error, XmppSecError)
        presence = bob.client.Presence(ET.fromstring("<presence xmlns='jabber:client'/>"))
        assert bob.plugin._incoming(presence) is presence  # kind not configured: untouched
        assert bob.plugin.result_for(presence) is None and bob.results.empty()

    run(scenario)


def test_sign_failure_drops_or_sends_unsigned(alice_id: Identity) -> None:
    async def scenario() -> None:
        for mode, sent in (("drop", False), ("send-unsigned", True)):
            alice = make_peer(
                f"{ALICE}/a", "x", {"key": alice_id.private_key, "on_sign_error": mode}
            )
            msg = alice.client.make_message(mto=BOB, mbody="hi", mfrom=f"{CAROL}/c")
            assert (alice.plugin._outgoing(msg) is msg) is sent
            (failure,) = alice.sign_failures
            assert isinstance(failure.error, UsageError) and failure.sent is sent
            assert not xs._has_signature(msg.xml)

    run(scenario)


def test_a_failing_select_hook_is_a_usage_error(alice_id: Identity) -> None:
    """The application's 'select' hook raising: the stanza is dropped and the failure is
    reported as the caller's (UsageError), never as a bare XmppSecError."""

    def select(stanza: StanzaBase) -> bool:
        raise RuntimeError("hook broke")

    async def scenario() -> None:
        alice = make_peer(f"{ALICE}/a", "x", {"key": alice_id.private_key, "select": select})
        msg = alice.client.make_message(mto=BOB, mbody="hi", mfrom=f"{ALICE}/a")
        assert alice.plugin._outgoing(msg) is None
        (failure,) = alice.sign_failures
        assert type(failure.error) is UsageError and "hook broke" in str(failure.error)
        assert not failure.sent and not xs._has_signature(msg.xml)

    run(scenario)


def test_spec_profile_does_not_survive_slixmpps_serializer(alice_id: Identity) -> None:
    """Why the plugin signs with the robust profile: slixmpp writes no namespaced attribute
    it has no prefix for, so the spec profile's ``d:id`` never reaches the wire."""

    async def scenario() -> None:
        alice = make_peer(f"{ALICE}/a", "x", {"key": alice_id.private_key, "profile": SPEC})
        bob = make_peer(
            f"{BOB}/b",
            "x",
            {"profile": SPEC, "trust": TrustStore().pin(ALICE, alice_id.certificate)},
        )
        msg = alice.client.make_message(mto=f"{BOB}/b", mbody="hi", mtype="chat")
        alice.plugin.sign_stanza(msg)
        assert msg.xml.find(JC + "body").get("{urn:xmpp:dsig:0}id")  # type: ignore[union-attr]
        wire = _wire(alice.client, msg)
        assert wire.find(JC + "body").get("{urn:xmpp:dsig:0}id") is None  # type: ignore[union-attr]
        result = bob.plugin.verify_stanza(wire)
        # SignedInfo's inclusive C14N lost xmlns:d too: the SignatureValue fails first
        assert not result.valid
        assert isinstance(result.error, InvalidSignature | InvalidReference)

    run(scenario)


def test_explicit_signer_and_verifier_objects(alice_id: Identity) -> None:
    signer = Signer(alice_id.private_key, signer=ALICE, profile=ROBUST)
    verifier = Verifier(TrustStore().pin(ALICE, alice_id.certificate), profile=ROBUST)
    s = _configure({"signer": signer, "verifier": verifier})
    assert s.signer is signer and s.verifier is verifier
    with pytest.raises(xs.PluginConfigError, match="not both"):
        _configure({"signer": signer, "key": alice_id.private_key})


# -- through real servers ---------------------------------------------------------------------


def _alice_config(ident: Identity) -> dict[str, object]:
    return {"key": ident.private_key, "certificate": ident.certificate}


def _bob_config(ident: Identity) -> dict[str, object]:
    return {"trust": TrustStore().pin(ALICE, ident.certificate)}


def _assert_genuine(event: xs.VerifiedStanza, relation: str, body: str) -> None:
    result = event.result
    assert result.valid, (type(result.error).__name__, result.error, result.to_json())
    (sig,) = result.signatures
    assert sig.valid and sig.signer == ALICE and sig.profile == "robust"
    assert sig.sender_relation == relation
    assert all(r.status is ReferenceStatus.OK for r in sig.references)
    assert body_of(event) == body


@pytest.mark.integration
def test_chat_message_verifies_through_server(xmpp_server: Server, alice_id: Identity) -> None:
    async def scenario() -> None:
        async with (
            online(xmpp_server, "alice", _alice_config(alice_id)) as alice,
            online(xmpp_server, "bob", _bob_config(alice_id)) as bob,
        ):
            text = "signed through " + xmpp_server.name + " \u00e9\u263a <&>"
            sid = send_message(alice, str(bob.client.boundjid), text)
            got = await bob.result(sid)
            _assert_genuine(got, "server-stamped", text)
            assert got.stanza["from"] == alice.client.boundjid
            # the server's own annotations are reported, not signed
            assert "{urn:xmpp:sid:0}stanza-id" in got.result.unsigned_children
            # the 'message' handler ran after the filter and saw the same result
            await asyncio.sleep(0)
            assert (sid, got) in bob.handled
            assert not alice.sign_failures

    run(scenario)


@pytest.mark.integration
def test_groupchat_verifies_as_muc_occupant(xmpp_server: Server, alice_id: Identity) -> None:
    room = f"slix-{secrets.token_hex(4)}@{xmpp_server.muc_domain}"

    async def scenario() -> None:
        async with (
            online(xmpp_server, "alice", _alice_config(alice_id)) as alice,
            online(xmpp_server, "bob", _bob_config(alice_id)) as bob,
        ):
            await join_room(alice, room, "alice", owner=True)
            await join_room(bob, room, "bob")
            sid = send_message(alice, room, "to the room", mtype="groupchat")
            got = await bob.result(sid)
            assert got.stanza["from"] == f"{room}/alice"
            _assert_genuine(got, "muc-occupant", "to the room")

    run(scenario)


@pytest.mark.integration
def test_body_changed_after_signing_is_rejected(xmpp_server: Server, alice_id: Identity) -> None:
    async def scenario() -> None:
        async with (
            online(xmpp_server, "alice", _alice_config(alice_id)) as alice,
            online(xmpp_server, "bob", _bob_config(alice_id)) as bob,
        ):
            target: list[str] = []

            def tamper(stanza: StanzaBase) -> StanzaBase:
                # 'out_sce' runs after the plugin's 'out_sync' filter: after signing
                body = stanza.xml.find(JC + "body")
                if stanza["id"] in target and body is not None:
                    body.text = "pay mallory"
                return stanza

            alice.client.add_filter("out_sce", tamper)
            target.append(send_message(alice, str(bob.client.boundjid), "pay bob"))
            got = await bob.result(target[0])
            assert not got.valid and isinstance(got.result.error, DigestMismatch)
            assert got.result.signed_children() == ()
            statuses = [r.status for r in got.result.signatures[0].references]
            assert ReferenceStatus.DIGEST_MISMATCH in statuses
            # the untouched next message still verifies: one bad stanza breaks nothing
            sid = send_message(alice, str(bob.client.boundjid), "pay bob")
            _assert_genuine(await bob.result(sid), "server-stamped", "pay bob")

    run(scenario)


@pytest.mark.integration
def test_unsigned_and_untrusted_senders(
    xmpp_server: Server, alice_id: Identity, carol_id: Identity
) -> None:
    async def scenario() -> None:
        carol_config = {
            "key": carol_id.private_key,
            "certificate": carol_id.certificate,
            "select": lambda stanza: str(stanza["id"]).startswith("signed-"),
        }
        async with (
            online(xmpp_server, "carol", carol_config) as carol,
            online(xmpp_server, "bob", _bob_config(alice_id)) as bob,
        ):
            to = str(bob.client.boundjid)
            unsigned = send_message(carol, to, "no signature")
            signed = carol.client.make_message(mto=to, mbody="carol's key", mtype="chat")
            signed["id"] = "signed-" + secrets.token_hex(4)
            signed.send()
            got = await bob.result(unsigned)
            assert not got.valid and isinstance(got.result.error, NotSigned)
            got = await bob.result(signed["id"])
            # carol's signature is sound, but bob trusts only alice's key
            assert not got.valid and isinstance(got.result.error, UntrustedKey)
            assert got.result.signatures[0].signer == CAROL

    run(scenario)


def test_registered_by_module_name_like_any_slixmpp_plugin(alice_id: Identity) -> None:
    async def scenario() -> None:
        client = slixmpp.ClientXMPP(f"{ALICE}/a", "x")
        client.register_plugin(
            "xmppsec_dsig", {"key": alice_id.private_key}, module="xmppsec.integrations.slixmpp"
        )
        plugins: Any = client.plugin  # typed as a TypedDict of the built-in plugins only
        plugin = plugins["xmppsec_dsig"]
        assert isinstance(plugin, xs.XmppsecDsig)
        assert plugin.settings.signer is not None and plugin.settings.verifier is None

    run(scenario)


# -- the documented example ---------------------------------------------------------------------

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "slixmpp_signed_chat.py"


@pytest.mark.integration
def test_example_script_runs_against_the_server(xmpp_server: Server, tmp_path: Path) -> None:
    s = xmpp_server
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "XMPPSEC_PORT": str(s.port),
        "XMPPSEC_KEYS": str(tmp_path / "keys"),
        "XMPPSEC_ROOM": f"demo-{secrets.token_hex(4)}@{s.muc_domain}",
        "XMPPSEC_TIMEOUT": "15",
    }
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), "--host", s.host],
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert done.returncode == 0, (done.stdout, done.stderr[-4000:])
    lines = [line for line in done.stdout.splitlines() if " verified " in line]
    assert len(lines) == 3 and all(" VALID signer=" in line for line in lines), done.stdout
    assert "relation=muc-occupant" in lines[2]
    # keys were generated once and are loaded the second time
    assert (tmp_path / "keys" / ALICE / "key.pem").exists()
    again = subprocess.run(
        [sys.executable, str(EXAMPLE), "--port", str(s.port), "--bob-password", "wrong"],
        env={**env, "XMPPSEC_ROOM": ""},
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert again.returncode == 2, (again.stdout, again.stderr[-4000:])
    assert "generated" not in again.stdout and "login failed" in again.stderr


@pytest.mark.integration
def test_directed_presence_and_iq_verify_through_server(
    xmpp_server: Server, alice_id: Identity
) -> None:
    """``sign``/``verify`` beyond messages: a directed presence (ejabberd rebuilds its
    ``<status/>``) and an iq whose Signature travels inside the payload."""

    async def scenario() -> None:
        alice_config = {
            **_alice_config(alice_id),
            "sign": ("message", "presence", "iq"),
            # only what goes to bob: the roster, disco and session iqs to the server stay as
            # they are (an iq to the server with a Signature in its payload means nothing)
            "select": lambda stanza: str(stanza["to"]).startswith(BOB),
        }
        bob_config = {**_bob_config(alice_id), "verify": ("message", "presence", "iq")}
        async with (
            online(xmpp_server, "alice", alice_config) as alice,
            online(xmpp_server, "bob", bob_config) as bob,
        ):
            to = str(bob.client.boundjid)
            presence = alice.client.make_presence(pto=to, pstatus="signed status", pshow="away")
            presence["id"] = "p-" + secrets.token_hex(4)
            presence.send()
            got = await bob.result(presence["id"])
            assert got.valid, (got.result.error, got.result.to_json())
            assert got.result.signatures[0].signer == ALICE
            statuses = [c for c in got.result.signed_children() if c.tag == JC + "status"]
            assert [c.text for c in statuses] == ["signed status"]

            iq = alice.client.make_iq_set(ito=to)
            payload = ET.SubElement(iq.xml, "{urn:example:signed-iq}query")
            ET.SubElement(payload, "{urn:example:signed-iq}item").text = "42"
            send: Any = iq.send  # Iq.send is untyped in slixmpp 1.17
            reply = asyncio.ensure_future(send(timeout=STEP))
            got = await bob.result(iq["id"])
            assert got.valid, (got.result.error, got.result.to_json())
            (signed,) = got.result.signed_children()
            assert signed.tag == "{urn:example:signed-iq}query"
            assert signed.findtext("{urn:example:signed-iq}item") == "42"
            # bob's slixmpp answers the unknown iq with an error; that is not our concern
            with suppress(slixmpp.exceptions.IqError, slixmpp.exceptions.IqTimeout):
                await reply
            assert not alice.sign_failures

    run(scenario)


@pytest.mark.integration
def test_signed_message_replayed_to_another_recipient_is_rejected(
    xmpp_server: Server, alice_id: Identity
) -> None:
    """carol receives alice's signed message and sends it on to bob, same id and content:
    the signature names carol as the recipient, so bob's plugin refuses it."""

    async def scenario() -> None:
        async with (
            online(xmpp_server, "alice", _alice_config(alice_id)) as alice,
            online(xmpp_server, "carol") as carol,
            online(xmpp_server, "bob", _bob_config(alice_id)) as bob,
        ):
            sid = send_message(alice, str(carol.client.boundjid), "for carol only")
            async with asyncio.timeout(STEP):
                while (received := await carol.messages.get())["id"] != sid:
                    pass
            assert xs._has_signature(received.xml)
            forged = copy.copy(received)
            forged["to"] = bob.client.boundjid
            del forged["from"]  # the server stamps carol's JID
            forged.send()
            got = await bob.result(sid)
            assert not got.valid
            assert type(got.result.error) is StanzaMismatch, got.result.error  # `to` differs
            assert got.stanza["from"] == carol.client.boundjid

    run(scenario)
