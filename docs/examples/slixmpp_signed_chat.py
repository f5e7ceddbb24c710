#!/usr/bin/env python3
"""Two slixmpp clients exchange XEP-0290-signed messages through a local XMPP server.

alice sends bob a signed chat message; bob's plugin verifies it and bob answers with a
signed reply, which alice's plugin verifies. With ``--room`` both also join a MUC room and
alice's signed groupchat message is verified as bob receives it from the room. Every
verification result is printed; the exit code is 0 when all of them are valid, 1 when one
is not, 2 on a connection or configuration problem.

Settings (command line first, then the environment, then the default):

    --host            XMPPSEC_HOST            127.0.0.1
    --port            XMPPSEC_PORT            5222
    --alice           XMPPSEC_ALICE           alice@localhost
    --alice-password  XMPPSEC_ALICE_PASSWORD  alice-pw
    --bob             XMPPSEC_BOB             bob@localhost
    --bob-password    XMPPSEC_BOB_PASSWORD    bob-pw
    --keys            XMPPSEC_KEYS            ./xmppsec-demo-keys
    --alice-key / --alice-cert, --bob-key / --bob-cert   default KEYS/<bare JID>/key.pem, cert.pem
    --room            XMPPSEC_ROOM            (none: no MUC step)
    --timeout         XMPPSEC_TIMEOUT         20 (seconds per step)

A key and certificate that do not exist yet are generated (ECDSA P-256, the certificate
names the JID in id-on-xmppAddr) and written there; each client pins the other's
certificate. Plain-text c2s (no TLS) is used only when the host is a loopback address;
any other host gets STARTTLS with certificate verification (slixmpp's defaults).

See docs/slixmpp.md ("Run the example") for running it against the test harness's Prosody.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import sys
import xml.etree.ElementTree as ET  # noqa: S405 - builds elements, parses nothing
from pathlib import Path
from typing import Any

import slixmpp

from xmppsec.errors import XmppSecError
from xmppsec.integrations import slixmpp as xmppsec_slixmpp
from xmppsec.keys import (
    Identity,
    generate_identity,
    load_certificate,
    load_private_key,
    write_identity,
)
from xmppsec.trust import TrustStore


def _settings(argv: list[str] | None) -> argparse.Namespace:
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default=env("XMPPSEC_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(env("XMPPSEC_PORT", "5222")))
    p.add_argument("--alice", default=env("XMPPSEC_ALICE", "alice@localhost"))
    p.add_argument("--alice-password", default=env("XMPPSEC_ALICE_PASSWORD", "alice-pw"))
    p.add_argument("--bob", default=env("XMPPSEC_BOB", "bob@localhost"))
    p.add_argument("--bob-password", default=env("XMPPSEC_BOB_PASSWORD", "bob-pw"))
    p.add_argument("--keys", type=Path, default=Path(env("XMPPSEC_KEYS", "xmppsec-demo-keys")))
    for who in ("alice", "bob"):
        p.add_argument(f"--{who}-key", type=Path, default=None)
        p.add_argument(f"--{who}-cert", type=Path, default=None)
    p.add_argument("--room", default=env("XMPPSEC_ROOM") or None)
    p.add_argument("--timeout", type=float, default=float(env("XMPPSEC_TIMEOUT", "20")))
    return p.parse_args(argv)


def _identity(jid: str, key: Path | None, cert: Path | None, keys: Path) -> Identity:
    """Load the key pair of ``jid``, or generate and write it where it is expected."""
    bare = slixmpp.JID(jid).bare
    key = key or keys / bare / "key.pem"
    cert = cert or keys / bare / "cert.pem"
    if key.exists() and cert.exists():
        return Identity(load_private_key(key.read_bytes()), load_certificate(cert.read_bytes()))
    if key.exists() or cert.exists():
        raise SystemExit(f"only one of {key} and {cert} exists")
    if key.parent != cert.parent or key.name != "key.pem" or cert.name != "cert.pem":
        raise SystemExit(f"{key} / {cert} do not exist (new keys are DIR/key.pem, DIR/cert.pem)")
    ident = generate_identity(bare)
    write_identity(ident, key.parent)
    print(f"generated a key and certificate for {bare} in {key.parent}")
    return ident


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Account:
    """One logged-in client with the xmppsec_dsig plugin; collects verification results."""

    def __init__(
        self, jid: str, password: str, me: Identity, peer: str, peer_id: Identity, host: str
    ) -> None:
        self.client = slixmpp.ClientXMPP(jid, password)
        if _loopback(host):
            # plain c2s on loopback only (the test servers offer no TLS: all four are needed)
            self.client.enable_plaintext = True
            self.client.enable_starttls = False
            self.client.enable_direct_tls = False
            self.client.plugin["feature_mechanisms"].unencrypted_plain = True
        self.client.register_plugin("xep_0045")
        self.dsig = xmppsec_slixmpp.enable(
            self.client,
            {
                "key": me.private_key,
                "certificate": me.certificate,
                "trust": TrustStore().pin(slixmpp.JID(peer).bare, peer_id.certificate),
            },
        )
        self.results: asyncio.Queue[xmppsec_slixmpp.VerifiedStanza] = asyncio.Queue()
        self.client.add_event_handler(xmppsec_slixmpp.EVENT_VERIFIED, self.results.put_nowait)
        self.client.add_event_handler(xmppsec_slixmpp.EVENT_UNVERIFIED, self.results.put_nowait)
        self.client.add_event_handler(xmppsec_slixmpp.EVENT_SIGN_FAILED, self._sign_failed)

    @staticmethod
    def _sign_failed(failure: xmppsec_slixmpp.SignFailure) -> None:
        print(f"could not sign {failure.stanza['id']}: {failure.error}", file=sys.stderr)

    async def start(self, host: str, port: int, timeout: float) -> None:
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def done(_: Any) -> None:
            if not ready.done():
                ready.set_result(None)

        def failed(_: Any) -> None:
            if not ready.done():
                ready.set_exception(ConnectionError(f"{self.client.boundjid}: login failed"))

        self.client.add_event_handler("session_start", done)
        self.client.add_event_handler("failed_auth", failed)
        self.client.connect(host, port)
        await asyncio.wait_for(ready, timeout)
        self.client.send_presence()

    async def stop(self) -> None:
        try:
            await asyncio.wait_for(self.client.disconnect(wait=1.0), 5.0)
        except (TimeoutError, asyncio.CancelledError):
            self.client.abort()

    def send(self, to: str, body: str, mtype: Any = "chat") -> str:
        msg = self.client.make_message(mto=to, mbody=body, mtype=mtype)
        msg["id"] = self.client.new_id()
        msg.send()
        return str(msg["id"])

    async def result_for_id(self, stanza_id: str, timeout: float) -> Any:
        async with asyncio.timeout(timeout):
            while True:
                got = await self.results.get()
                if got.stanza["id"] == stanza_id:
                    return got

    async def join(self, room: str, nick: str, timeout: float, *, create: bool = False) -> None:
        muc: Any = self.client.plugin["xep_0045"]
        await muc.join_muc_wait(slixmpp.JID(room), nick, maxstanzas=0, timeout=timeout)
        if create:
            # accept the default configuration: some servers (ejabberd) keep a new room
            # locked until its owner does (XEP-0045 §10.1.2, instant room)
            iq: Any = self.client.make_iq_set(ito=room)
            query = ET.SubElement(iq.xml, "{http://jabber.org/protocol/muc#owner}query")
            ET.SubElement(query, "{jabber:x:data}x", {"type": "submit"})
            await iq.send(timeout=timeout)


def report(who: str, what: str, got: xmppsec_slixmpp.VerifiedStanza) -> bool:
    r = got.result
    body = str(got.stanza["body"])
    if r.valid:
        sig = r.signatures[0]
        print(
            f"{who} verified {what}: VALID signer={sig.signer} "
            f"relation={sig.sender_relation} timestamp={sig.timestamp_text} body={body!r}"
        )
    else:
        print(f"{who} could NOT verify {what}: {type(r.error).__name__}: {r.error}")
    return r.valid


async def exchange(s: argparse.Namespace) -> bool:
    alice_id = _identity(s.alice, s.alice_key, s.alice_cert, s.keys)
    bob_id = _identity(s.bob, s.bob_key, s.bob_cert, s.keys)
    alice = Account(s.alice, s.alice_password, alice_id, s.bob, bob_id, s.host)
    bob = Account(s.bob, s.bob_password, bob_id, s.alice, alice_id, s.host)
    ok = True
    try:
        await alice.start(s.host, s.port, s.timeout)
        await bob.start(s.host, s.port, s.timeout)
        sid = alice.send(str(bob.client.boundjid), "Hello Bob, this message is signed.")
        got = await bob.result_for_id(sid, s.timeout)
        ok &= report("bob", "alice's chat message", got)
        reply = bob.send(str(alice.client.boundjid), f"Got it: {got.stanza['body']}")
        ok &= report("alice", "bob's reply", await alice.result_for_id(reply, s.timeout))
        if s.room:
            await alice.join(s.room, "alice", s.timeout, create=True)
            await bob.join(s.room, "bob", s.timeout)
            gid = alice.send(s.room, "Hello room, signed too.", mtype="groupchat")
            ok &= report(
                "bob", "alice's groupchat message", await bob.result_for_id(gid, s.timeout)
            )
    finally:
        await alice.stop()
        await bob.stop()
    return ok


def main(argv: list[str] | None = None) -> int:
    s = _settings(argv)
    try:
        return 0 if asyncio.run(asyncio.wait_for(exchange(s), 8 * s.timeout)) else 1
    except (TimeoutError, ConnectionError, OSError, XmppSecError) as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
