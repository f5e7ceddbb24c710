"""The slixmpp plugin on forwarded copies (issue 16): XEP-0280 carbons, XEP-0313 results,
a room's history replayed on join, and a signed room's nested original — each verified
automatically, under the rules of whoever vouches for the copy, never as a fresh delivery.

The first half feeds crafted stanzas (an attacker's among them) to the plugin's ``in``
filter with a fixed clock; the second half runs real slixmpp clients through the suite's
Prosody and ejabberd (a missing server fails under CI=true), robust profile, strict policy.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import slixmpp
from lxml import etree
from slixmpp.xmlstream import StanzaBase
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from tests.harness.servers import Server
from tests.test_component import component
from tests.test_integrations_slixmpp import (
    JC,
    STEP,
    Peer,
    join_room,
    make_peer,
    online,
    run,
    send_message,
)
from xmppsec.dsig import ROBUST, Policy, Signer, Verifier
from xmppsec.errors import (
    DigestMismatch,
    ReplayError,
    StanzaMismatch,
    TimestampError,
)
from xmppsec.integrations import slixmpp as xs
from xmppsec.keys import Identity, generate_identity, write_identity
from xmppsec.replay import AsyncSQLiteReplayStore, MemoryReplayStore
from xmppsec.timestamps import TimestampClock
from xmppsec.trust import TrustStore

ALICE, BOB, CAROL = "alice@localhost", "bob@localhost", "carol@localhost"
ROOM = "sigroom@muc.localhost"
SERVICE = "rooms.localhost"
NOW = dt.datetime(2026, 6, 1, 12, 0, 0, tzinfo=dt.UTC)
CARBONS = "urn:xmpp:carbons:2"
FORWARD = "urn:xmpp:forward:0"
MAM = "urn:xmpp:mam:2"
MUC_USER = "http://jabber.org/protocol/muc#user"


@pytest.fixture(scope="module")
def ids() -> dict[str, Identity]:
    return {
        jid: generate_identity(jid, now=NOW - dt.timedelta(days=1), days=3650)
        for jid in (ALICE, BOB, CAROL, SERVICE)
    }


def _trust(ids: dict[str, Identity], *jids: str) -> TrustStore:
    store = TrustStore()
    for jid in jids:
        store = store.pin(jid, ids[jid].certificate)
    return store


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _stamp(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# -- the in filter, offline, with a fixed clock ---------------------------------------------


def _signed(ids: dict[str, Identity], jid: str, stanza: str, at: dt.datetime = NOW) -> str:
    signer = Signer(
        ids[jid].private_key,
        signer=jid,
        certificate=ids[jid].certificate,
        profile=ROBUST,
        clock=TimestampClock(lambda: at),
    )
    return signer.sign(stanza.encode()).decode()


def _routed(
    data: str, attrs: dict[str, str | None], delay: tuple[str, dt.datetime] | None = None
) -> str:
    """``data`` as a room delivers it: attributes set (``None``: removed), a delay added."""
    root = etree.fromstring(data.encode())
    for name, value in attrs.items():
        if value is None:
            if name in root.attrib:
                del root.attrib[name]
        else:
            root.set(name, value)
    if delay is not None:
        etree.SubElement(root, "{urn:xmpp:delay}delay", {"from": delay[0], "stamp": _stamp(delay[1])})
    return etree.tostring(root).decode()


def _bob(
    ids: dict[str, Identity], now: dt.datetime = NOW, *, replay: bool = True, **extra: Any
) -> tuple[Peer, list[Any]]:
    """bob/b with a verifier whose clock reads ``now``; every plugin event collected."""
    verifier = Verifier(
        _trust(ids, ALICE, BOB),
        policy=Policy(),
        replay=MemoryReplayStore() if replay else None,
        profile=ROBUST,
        clock=lambda: now,
    )
    peer = make_peer(f"{BOB}/b", "x", {"verifier": verifier, **extra})
    events: list[Any] = []
    for name in (xs.EVENT_FORWARDED, xs.EVENT_VERIFIED, xs.EVENT_UNVERIFIED):
        peer.client.add_event_handler(name, events.append)
    return peer, events


def _incoming(peer: Peer, xml: str) -> tuple[StanzaBase | None, StanzaBase]:
    stanza = peer.client.Message(ET.fromstring(xml))
    return peer.plugin._incoming(stanza), stanza


def _chat(ids: dict[str, Identity], to: str = f"{BOB}/b", body: str = "noon") -> str:
    return _signed(
        ids,
        ALICE,
        f"<message xmlns='jabber:client' from='{ALICE}/a' to='{to}' type='chat' id='c1'>"
        f"<body>{body}</body></message>",
    )


def _carbon(kind: str, inner: str, sender: str = BOB) -> str:
    return (
        f"<message xmlns='jabber:client' from='{sender}' to='{BOB}/b' type='chat'>"
        f"<{kind} xmlns='{CARBONS}'><forwarded xmlns='{FORWARD}'>{inner}</forwarded>"
        f"</{kind}></message>"
    )


def test_a_received_carbon_verifies_only_from_the_accounts_bare_jid(
    ids: dict[str, Identity],
) -> None:
    async def scenario() -> None:
        bob, events = _bob(ids)
        inner = _chat(ids, to=f"{BOB}/other")
        # carbon spoofing: someone else (or another of bob's resources) wraps a copy
        for sender in (CAROL, f"{BOB}/other", ALICE, "localhost"):
            passed, _ = _incoming(bob, _carbon("received", inner, sender))
            assert passed is not None
            (got,) = events
            events.clear()
            assert isinstance(got, xs.ForwardedStanza) and not got.valid
            assert isinstance(got.result.error, StanzaMismatch), sender
            assert "XEP-0280" in str(got.result.error)
        # ... and a spoofed copy is not recorded: the genuine carbon still verifies
        passed, wrapper = _incoming(bob, _carbon("received", inner))
        assert passed is wrapper
        (got,) = events
        assert got.valid and got.delivery == "carbon-received" and got.by == BOB
        (sig,) = got.result.signatures
        assert sig.signer == ALICE and sig.sender_relation == "sender" and not sig.offline
        assert got.inner.get("id") == "c1" and bob.plugin.forwarded_for(wrapper) is got
        assert bob.plugin.result_for(wrapper) is None  # the wrapper itself is not content
        # a carbon is a live copy: the same one again is a replay
        events.clear()
        _incoming(bob, _carbon("received", inner))
        assert isinstance(events[0].result.error, ReplayError)

    run(scenario)


def test_a_carbon_under_an_async_replay_store(ids: dict[str, Identity], tmp_path: Path) -> None:
    """With an AsyncReplayStore the carbon is held, its inner signature awaited against the
    store, then reported and handed on; the same carbon again is a replay."""

    async def scenario() -> None:
        store = AsyncSQLiteReplayStore(tmp_path / "replay.sqlite3")
        bob = make_peer(
            f"{BOB}/b", "x", {"trust": _trust(ids, ALICE), "replay": store, "drop_unverified": True}
        )
        copies = _collect(bob)
        handed: asyncio.Queue[StanzaBase] = asyncio.Queue()
        # slixmpp fires no 'message' event for a carbon without a body: a raw handler sees it
        bob.client.register_handler(
            Callback("carbons", MatchXPath(f"{JC}message/{{{CARBONS}}}received"), handed.put_nowait)
        )
        inner = _signed(
            ids,
            ALICE,
            f"<message xmlns='jabber:client' from='{ALICE}/a' to='{BOB}/other' type='chat'"
            " id='ac1'><body>async</body></message>",
            at=_utcnow(),
        )
        for _ in range(2):
            held = bob.client.Message(ET.fromstring(_carbon("received", inner)))
            assert bob.plugin._incoming(held) is None  # held until the store answers
        await asyncio.gather(*bob.plugin._tasks)
        first, second = copies.get_nowait(), copies.get_nowait()
        assert first.valid and first.delivery == "carbon-received", first.result.error
        assert not second.valid and isinstance(second.result.error, ReplayError)
        # drop_unverified: the first was handed on to slixmpp's handlers, the replay not
        wrapper = await asyncio.wait_for(handed.get(), STEP)
        assert bob.plugin.forwarded_for(wrapper) == first
        await asyncio.sleep(0.05)
        assert handed.empty()

    run(scenario)


def test_carbons_bind_the_inner_message_to_the_account(ids: dict[str, Identity]) -> None:
    async def scenario() -> None:
        bob, events = _bob(ids, drop_unverified=True)
        # a received carbon of alice's message to carol: not a copy of bob's own traffic
        passed, _ = _incoming(bob, _carbon("received", _chat(ids, to=CAROL)))
        assert passed is None  # dropped: drop_unverified
        assert isinstance(events[-1].result.error, StanzaMismatch)
        # a "sent" carbon of a message alice sent: bob did not send it
        passed, _ = _incoming(bob, _carbon("sent", _chat(ids, to=CAROL)))
        assert passed is None and isinstance(events[-1].result.error, StanzaMismatch)
        # bob's own message from his other resource, signed by him: a sent carbon
        mine = _signed(
            ids,
            BOB,
            f"<message xmlns='jabber:client' from='{BOB}/other' to='{ALICE}' type='chat'"
            " id='s1'><body>on my way</body></message>",
        )
        passed, wrapper = _incoming(bob, _carbon("sent", mine))
        assert passed is wrapper
        got = events[-1]
        assert got.valid and got.delivery == "carbon-sent" and got.result.signers == (BOB,)
        # a changed body in the copy: the signature refuses it
        tampered = _carbon("received", _chat(ids).replace("noon", "midnight"))
        assert _incoming(bob, tampered)[0] is None
        assert isinstance(events[-1].result.error, DigestMismatch)

    run(scenario)


def _query(peer: Peer, archive: str | None, qid: str) -> None:
    to = f" to='{archive}'" if archive else ""
    iq = peer.client.Iq(
        ET.fromstring(
            f"<iq xmlns='jabber:client' type='set' id='{qid}-iq'{to}>"
            f"<query xmlns='{MAM}' queryid='{qid}'/></iq>"
        )
    )
    assert peer.plugin._outgoing(iq) is iq


def _result(
    inner: str, qid: str, stamp: dt.datetime, sender: str | None = None, delay_from: str = ""
) -> str:
    frm = f" from='{sender}'" if sender else ""
    by = f" from='{delay_from}'" if delay_from else ""
    return (
        f"<message xmlns='jabber:client'{frm} to='{BOB}/b'>"
        f"<result xmlns='{MAM}' queryid='{qid}' id='arch-1'><forwarded xmlns='{FORWARD}'>"
        f"<delay xmlns='urn:xmpp:delay'{by} stamp='{_stamp(stamp)}'/>{inner}"
        "</forwarded></result></message>"
    )


def test_an_archive_result_is_judged_against_the_archives_stamp(
    ids: dict[str, Identity],
) -> None:
    async def scenario() -> None:
        stored = NOW + dt.timedelta(seconds=1)
        later = NOW + dt.timedelta(days=3)  # far past the 5-minute window of a live stanza
        bob, events = _bob(ids, now=later)
        inner = _chat(ids)
        # no query sent: an archive result nobody asked for (a forged one) is refused
        _incoming(bob, _result(inner, "q1", stored))
        assert isinstance(events[-1].result.error, StanzaMismatch)
        _query(bob, None, "q1")
        for sender in (None, BOB):  # Prosody leaves from out; ejabberd names the account
            _, wrapper = _incoming(bob, _result(inner, "q1", stored, sender, "localhost"))
            got = events[-1]
            assert isinstance(got, xs.ForwardedStanza)
            assert got.valid, got.result.error
            assert got.delivery == "archive" and got.by == BOB and got.archive_id == "arch-1"
            assert got.stamp == _stamp(stored)
            (sig,) = got.result.signatures
            assert sig.offline and sig.signer == ALICE  # judged against the archive's stamp
            assert bob.plugin.forwarded_for(wrapper) is got
        # taken for a live stanza, the same copy is days past the window
        assert bob.plugin.verify_stanza(ET.fromstring(inner)).error is not None
        # from another entity than the archive asked: refused
        _incoming(bob, _result(inner, "q1", stored, CAROL))
        assert isinstance(events[-1].result.error, StanzaMismatch)
        _incoming(bob, _result(inner, "q1", stored, f"{BOB}/other"))
        assert isinstance(events[-1].result.error, StanzaMismatch)
        # a message in bob's archive neither to nor from bob
        _incoming(bob, _result(_chat(ids, to=CAROL), "q1", stored))
        assert isinstance(events[-1].result.error, StanzaMismatch)

    run(scenario)


@pytest.mark.parametrize(
    ("signed_at", "stored_at", "now", "why"),
    [
        (NOW, NOW + dt.timedelta(seconds=1), NOW + dt.timedelta(days=31), "older than max"),
        (NOW, NOW + dt.timedelta(minutes=10), NOW + dt.timedelta(hours=1), "window"),
        (NOW, NOW - dt.timedelta(seconds=5), NOW + dt.timedelta(hours=1), "earlier"),
        (NOW, NOW + dt.timedelta(hours=2), NOW + dt.timedelta(hours=1), "future"),
    ],
    ids=["stored-too-long-ago", "signed-long-before-stored", "stored-before-signed", "future"],
)
def test_an_archive_stamp_does_not_launder_a_timestamp(
    ids: dict[str, Identity],
    signed_at: dt.datetime,
    stored_at: dt.datetime,
    now: dt.datetime,
    why: str,
) -> None:
    async def scenario() -> None:
        bob, events = _bob(ids, now=now)
        _query(bob, None, "q2")
        inner = _signed(
            ids,
            ALICE,
            f"<message xmlns='jabber:client' from='{ALICE}/a' to='{BOB}' type='chat' id='o1'>"
            "<body>old</body></message>",
            at=signed_at,
        )
        _incoming(bob, _result(inner, "q2", stored_at))
        got = events[-1]
        assert not got.valid and isinstance(got.result.error, TimestampError), why

    run(scenario)


def test_a_room_archive_answers_only_for_the_room_queried(ids: dict[str, Identity]) -> None:
    async def scenario() -> None:
        stored = NOW + dt.timedelta(seconds=1)
        bob, events = _bob(ids, now=NOW + dt.timedelta(hours=5))
        reflected = _signed(
            ids,
            ALICE,
            f"<message xmlns='jabber:client' to='{ROOM}' type='groupchat' id='g1'>"
            "<body>to the room</body></message>",
        )
        reflected = _routed(reflected, {"to": None, "from": f"{ROOM}/alice"})
        _query(bob, ROOM, "q3")
        _incoming(bob, _result(reflected, "q3", stored, ROOM, "muc.localhost"))
        got = events[-1]
        assert got.valid, got.result.error
        assert got.by == ROOM and got.result.signatures[0].sender_relation == "muc-occupant"
        # the same room-archive result from the account's archive, or from another room
        _incoming(bob, _result(reflected, "q3", stored, BOB))
        assert isinstance(events[-1].result.error, StanzaMismatch)
        # a chat message passed off as the room's: not an occupant's message
        _incoming(bob, _result(_chat(ids), "q3", stored, ROOM))
        assert isinstance(events[-1].result.error, StanzaMismatch)
        # once the room answered the query's iq, its results are no longer expected
        answer = bob.client.Iq(
            ET.fromstring(
                f"<iq xmlns='jabber:client' type='result' id='q3-iq' from='{ROOM}'"
                f" to='{BOB}/b'><fin xmlns='{MAM}' complete='true'/></iq>"
            )
        )
        assert bob.plugin._incoming(answer) is answer
        _incoming(bob, _result(reflected, "q3", stored, ROOM))
        assert isinstance(events[-1].result.error, StanzaMismatch)

    run(scenario)


def test_room_history_is_judged_against_the_rooms_delay(ids: dict[str, Identity]) -> None:
    async def scenario() -> None:
        stored = NOW + dt.timedelta(milliseconds=300)
        bob, events = _bob(ids, now=NOW + dt.timedelta(hours=2))
        signed = _signed(
            ids,
            ALICE,
            f"<message xmlns='jabber:client' to='{ROOM}' type='groupchat' id='h1'>"
            "<body>earlier</body></message>",
        )

        def history(delay_from: str) -> str:
            return _routed(signed, {"to": f"{BOB}/b", "from": f"{ROOM}/alice"}, (delay_from, stored))

        def verdict(data: str) -> xs.VerifiedStanza:
            _incoming(bob, data)
            got = events[-1]
            assert isinstance(got, xs.VerifiedStanza)
            return got

        subject = (
            f"<message xmlns='jabber:client' from='{ROOM}' to='{BOB}/b' type='groupchat'>"
            "<subject/></message>"
        )
        for _ in range(2):  # rejoining replays the history again: not a replay
            _self_presence(bob, ROOM, "bob")
            got = verdict(history(ROOM))
            assert got.valid and got.delivery == "history", got.result.error
            (sig,) = got.result.signatures
            assert sig.offline and sig.sender_relation == "muc-occupant"
            # a delay stamped by anyone but the room is no history: judged against now
            got = verdict(history("muc.localhost"))
            assert got.delivery == "live" and isinstance(got.result.error, TimestampError)
            verdict(subject)  # XEP-0045 §7.2.16: the history is over
            # An occupant slips the room's delay into its own (replayed) message, which the
            # room reflects live: after the subject it is no history, judged against now
            got = verdict(history(ROOM))
            assert got.delivery == "live" and isinstance(got.result.error, TimestampError)
            _self_presence(bob, ROOM, "bob", "unavailable")
        # a room this client never joined sends no history
        got = verdict(history(ROOM))
        assert got.delivery == "live" and not got.valid

    run(scenario)


def _self_presence(peer: Peer, room: str, nick: str, kind: str | None = None) -> None:
    """The room's presence for this client's own occupant JID (status 110)."""
    type_ = f" type='{kind}'" if kind else ""
    presence = peer.client.Presence(
        ET.fromstring(
            f"<presence xmlns='jabber:client' from='{room}/{nick}' to='{BOB}/b'{type_}>"
            f"<x xmlns='{MUC_USER}'><item affiliation='none' role='participant'/>"
            "<status code='110'/></x></presence>"
        )
    )
    assert peer.plugin._incoming(presence) is presence


def test_a_muc_private_message_is_accepted_only_by_the_occupant_it_names(
    ids: dict[str, Identity],
) -> None:
    """Use case 2: alice signs a private message for occupant ``room/bob``; the room alone
    maps that nick to a real JID. The plugin accepts it only where the room gave this client
    that nick: a room re-addressing it to another occupant, or to a non-occupant, is refused."""

    async def scenario() -> None:
        signed = _signed(
            ids,
            ALICE,
            f"<message xmlns='jabber:client' to='{ROOM}/bob' type='chat' id='p1'>"
            f"<body>psst</body><x xmlns='{MUC_USER}'/></message>",
        )
        redirected = _routed(signed, {"from": f"{ROOM}/alice", "to": f"{BOB}/b"})

        def verdict(peer: Peer, events: list[Any]) -> xs.VerifiedStanza:
            _incoming(peer, redirected)
            got = events[-1]
            assert isinstance(got, xs.VerifiedStanza)
            return got

        bob, events = _bob(ids, replay=False)  # the same message judged four times
        got = verdict(bob, events)  # bob is in no room
        assert not got.valid and isinstance(got.result.error, StanzaMismatch)
        _self_presence(bob, ROOM, "robert")  # the room calls this client 'robert'
        got = verdict(bob, events)
        assert not got.valid and "'bob'" in str(got.result.error)
        _self_presence(bob, ROOM, "bob")
        got = verdict(bob, events)
        assert got.valid, got.result.error
        assert got.result.signatures[0].sender_relation == "muc-private"
        _self_presence(bob, ROOM, "bob", "unavailable")  # left the room
        assert not verdict(bob, events).valid

    run(scenario)


# -- through the real servers ------------------------------------------------------------------


def _config(ident: Identity, trust: TrustStore) -> dict[str, object]:
    return {"key": ident.private_key, "certificate": ident.certificate, "trust": trust}


def _collect(peer: Peer) -> asyncio.Queue[xs.ForwardedStanza]:
    queue: asyncio.Queue[xs.ForwardedStanza] = asyncio.Queue()
    peer.client.add_event_handler(xs.EVENT_FORWARDED, queue.put_nowait)
    return queue


async def _forwarded(
    queue: asyncio.Queue[xs.ForwardedStanza], sid: str, delivery: str
) -> xs.ForwardedStanza:
    async with asyncio.timeout(STEP):
        while True:
            got = await queue.get()
            if got.inner.get("id") == sid and got.delivery == delivery:
                return got


def _body(result: Any) -> str:
    bodies = [c.text for c in result.signed_children() if c.tag == JC + "body"]
    assert len(bodies) == 1
    return bodies[0] or ""


def _tamper_after_signing(peer: Peer, ids: list[str]) -> None:
    def tamper(stanza: StanzaBase) -> StanzaBase:
        # 'out_sce' runs after the plugin's 'out_sync' filter: after signing
        body = stanza.xml.find(JC + "body")
        if stanza["id"] in ids and body is not None:
            body.text = "pay mallory"
        return stanza

    peer.client.add_filter("out_sce", tamper)


@pytest.mark.integration
def test_carbons_verify_through_server(xmpp_server: Server, ids: dict[str, Identity]) -> None:
    s = xmpp_server
    trust = _trust(ids, ALICE, BOB)

    async def scenario() -> None:
        async with (
            online(s, "alice", _config(ids[ALICE], trust)) as alice,
            online(s, "bob", _config(ids[BOB], trust)) as bob1,
            online(s, "bob", _config(ids[BOB], trust)) as bob2,
            online(s, "carol") as carol,
        ):
            for peer in (bob1, bob2):
                peer.client.register_plugin("xep_0280")
                await peer.client.plugin["xep_0280"].enable(timeout=STEP)
            carbons = _collect(bob2)
            # received: alice's message to bob1's full JID, copied to bob2
            sid = send_message(alice, str(bob1.client.boundjid), "carbon me")
            got = await _forwarded(carbons, sid, "carbon-received")
            assert got.valid, got.result.error
            assert got.by == BOB and _body(got.result) == "carbon me"
            assert got.result.signers == (ALICE,)
            # sent: bob1's own signed message to alice, copied to bob2
            sid = send_message(bob1, ALICE, "sent by bob1")
            got = await _forwarded(carbons, sid, "carbon-sent")
            assert got.valid, got.result.error
            assert got.result.signers == (BOB,) and _body(got.result) == "sent by bob1"
            # carbon spoofing: carol wraps a message alice signed for bob in a "carbon"
            signed = _signed(
                ids,
                ALICE,
                f"<message xmlns='jabber:client' from='{s.jid('alice')}/x'"
                f" to='{bob2.client.boundjid}' type='chat' id='spoof1'><body>from alice?</body>"
                "</message>",
                at=_utcnow(),
            )
            carol.client.send_raw(
                f"<message to='{bob2.client.boundjid}' type='chat' id='w1'>"
                f"<received xmlns='{CARBONS}'><forwarded xmlns='{FORWARD}'>{signed}"
                "</forwarded></received></message>"
            )
            got = await _forwarded(carbons, "spoof1", "carbon-received")
            assert not got.valid and isinstance(got.result.error, StanzaMismatch)
            assert got.stanza["from"].bare == s.jid("carol")

    run(scenario)


@pytest.mark.integration
def test_archive_results_verify_through_server(
    xmpp_server: Server, ids: dict[str, Identity]
) -> None:
    s = xmpp_server
    trust = _trust(ids, ALICE, BOB)

    async def scenario() -> None:
        async with (
            online(s, "alice", _config(ids[ALICE], trust)) as alice,
            online(s, "bob", _config(ids[BOB], trust)) as bob,
        ):
            tampered: list[str] = []
            _tamper_after_signing(alice, tampered)
            good = send_message(alice, str(bob.client.boundjid), "archive me")
            live = await bob.result(good)
            assert live.valid and live.delivery == "live"
            tampered.append(send_message(alice, str(bob.client.boundjid), "pay bob"))
            assert isinstance((await bob.result(tampered[0])).result.error, DigestMismatch)
            results = _collect(bob)
            bob.client.register_plugin("xep_0313")
            retrieve: Any = bob.client.plugin["xep_0313"].retrieve
            answer = await retrieve(with_jid=slixmpp.JID(s.jid("alice")), timeout=STEP)
            assert answer["type"] == "result"
            got = await _forwarded(results, good, "archive")
            # the live copy's signature is in the replay store: the archived copy is no
            # replay; it is judged against the archive's stamp
            assert got.valid, got.result.error
            assert got.by == BOB and got.stamp and got.archive_id
            (sig,) = got.result.signatures
            assert sig.offline and sig.signer == ALICE and _body(got.result) == "archive me"
            bad = await _forwarded(results, tampered[0], "archive")
            assert not bad.valid and isinstance(bad.result.error, DigestMismatch)
        # the same archive read 31 days later: older than max_offline_age, refused
        later = Verifier(trust, profile=ROBUST, clock=lambda: _utcnow() + dt.timedelta(days=31))
        async with (
            online(s, "bob", {"verifier": later}) as bob_later,
            online(s, "carol") as carol,
        ):
            results = _collect(bob_later)
            bob_later.client.register_plugin("xep_0313")
            retrieve = bob_later.client.plugin["xep_0313"].retrieve
            answer = await retrieve(with_jid=slixmpp.JID(s.jid("alice")), timeout=STEP)
            assert answer["type"] == "result"
            aged = await _forwarded(results, good, "archive")
            assert not aged.valid and isinstance(aged.result.error, TimestampError)
            assert aged.result.error.kind == "old"
            # a result nobody asked for, sent by another user with the archive's shape
            forged = _signed(
                ids,
                ALICE,
                f"<message xmlns='jabber:client' from='{s.jid('alice')}/x'"
                f" to='{s.jid('bob')}' type='chat' id='forged1'><body>pay mallory</body>"
                "</message>",
                at=_utcnow(),
            )
            carol.client.send_raw(
                f"<message to='{bob_later.client.boundjid}'><result xmlns='{MAM}'"
                f" queryid='{answer['id']}' id='x1'><forwarded xmlns='{FORWARD}'>"
                f"<delay xmlns='urn:xmpp:delay' stamp='{_stamp(_utcnow())}'/>{forged}"
                "</forwarded></result></message>"
            )
            fake = await _forwarded(results, "forged1", "archive")
            assert not fake.valid and isinstance(fake.result.error, StanzaMismatch)

    run(scenario)


@pytest.mark.integration
def test_room_history_and_room_archive_verify_through_server(
    xmpp_server: Server, ids: dict[str, Identity]
) -> None:
    s = xmpp_server
    room = f"hist-{secrets.token_hex(4)}@{s.muc_domain}"
    trust = _trust(ids, ALICE)

    async def scenario() -> None:
        async with online(s, "alice", _config(ids[ALICE], trust)) as alice:
            await join_room(alice, room, "alice", owner=True)
            tampered: list[str] = []
            _tamper_after_signing(alice, tampered)
            good = send_message(alice, room, "before you came", mtype="groupchat")
            tampered.append(send_message(alice, room, "pay bob", mtype="groupchat"))
            await alice.result(tampered[0])  # both reflected: stored in the room's history
            async with online(s, "bob", {"trust": trust}) as bob:
                muc = bob.client.plugin["xep_0045"]
                await muc.join_muc_wait(slixmpp.JID(room), "bob", maxstanzas=10, timeout=STEP)
                got = await bob.result(good)
                assert got.valid and got.delivery == "history", got.result.error
                (sig,) = got.result.signatures
                assert sig.offline and sig.sender_relation == "muc-occupant"
                assert sig.signer == ALICE
                bad = await bob.result(tampered[0])
                assert bad.delivery == "history"
                assert isinstance(bad.result.error, DigestMismatch)
                # the room's archive (XEP-0313 to the room), judged against its stamps
                results = _collect(bob)
                bob.client.register_plugin("xep_0313")
                retrieve: Any = bob.client.plugin["xep_0313"].retrieve
                answer = await retrieve(jid=slixmpp.JID(room), timeout=STEP)
                assert answer["type"] == "result"
                arch = await _forwarded(results, good, "archive")
                assert arch.valid and arch.by == room, arch.result.error
                (sig,) = arch.result.signatures
                assert sig.offline and sig.sender_relation == "muc-occupant"
                assert _body(arch.result) == "before you came"
                bad_arch = await _forwarded(results, tampered[0], "archive")
                assert isinstance(bad_arch.result.error, DigestMismatch)

    run(scenario)


def _send_private(peer: Peer, occupant: str, body: str) -> str:
    """A XEP-0045 §7.5 private message, marked with an empty muc#user ``<x/>`` (signed)."""
    msg = peer.client.make_message(mto=occupant, mbody=body, mtype="chat")
    msg.xml.append(ET.Element(f"{{{MUC_USER}}}x"))
    sid = f"pm-{secrets.token_hex(6)}"
    msg["id"] = sid
    msg.send()
    return sid


@pytest.mark.integration
def test_muc_private_message_through_the_servers_own_room(
    xmpp_server: Server, ids: dict[str, Identity]
) -> None:
    """Use case 2 with the plugin on both sides, through the server's own MUC service."""
    s = xmpp_server
    room = f"pm-{secrets.token_hex(4)}@{s.muc_domain}"
    trust = _trust(ids, ALICE)

    async def scenario() -> None:
        async with (
            online(s, "alice", _config(ids[ALICE], trust)) as alice,
            online(s, "bob", {"trust": trust}) as bob,
        ):
            await join_room(alice, room, "alice", owner=True)
            await join_room(bob, room, "bob")
            sid = _send_private(alice, f"{room}/bob", "just between us")
            got = await bob.result(sid)
            assert got.valid, got.result.error
            assert got.stanza["from"] == f"{room}/alice"
            (sig,) = got.result.signatures
            assert sig.signer == ALICE and sig.sender_relation == "muc-private"
            assert _body(got.result) == "just between us"

    run(scenario)


@pytest.fixture(scope="module")
def service_files(ids: dict[str, Identity], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rooms-service")
    write_identity(ids[SERVICE], out)
    return out


@pytest.mark.integration
def test_a_signed_rooms_reflection_reports_both_signatures(
    xmpp_server: Server, ids: dict[str, Identity], service_files: Path
) -> None:
    """Use case 3b with the plugin: the room service (``xmppsec component --mode rooms``)
    signs each reflection as its domain and nests the occupant's original; bob's plugin
    verifies both, and says who vouches for what."""
    s = xmpp_server
    room = f"signed-{secrets.token_hex(3)}@{s.component_domain}"

    async def scenario() -> None:
        async with (
            online(s, "alice", _config(ids[ALICE], _trust(ids, ALICE, SERVICE))) as alice,
            online(s, "bob", {"trust": _trust(ids, ALICE, SERVICE)}) as bob,
            online(s, "carol", {"trust": _trust(ids, SERVICE)}) as carol,
        ):
            for peer, nick in ((alice, "alice"), (bob, "bob"), (carol, "carol")):
                await join_room(peer, room, nick)
            sid = send_message(alice, room, "signed twice", mtype="groupchat")
            got = await bob.result(sid)
            assert got.valid, got.result.error
            (sig,) = got.result.signatures
            # the room vouches for the reflection as a whole (who, where, what) ...
            assert sig.signer == SERVICE and got.stanza["from"] == f"{room}/alice"
            nested = got.forwarded
            assert nested is not None and nested.delivery == "room-original"
            # ... and alice's own signature, nested, for her words
            assert nested.valid, nested.result.error
            assert nested.by == room and nested.result.signers == (ALICE,)
            assert _body(nested.result) == "signed twice" == _body(got.result)
            # carol trusts the room, not alice: the room's word only
            seen = await carol.result(sid)
            assert seen.valid and seen.forwarded is not None and not seen.forwarded.valid
            # use case 2 through the service: alice's own signature, redirected to bob
            pid = _send_private(alice, f"{room}/bob", "only for bob")
            private = await bob.result(pid)
            assert private.valid, private.result.error
            assert private.result.signatures[0].sender_relation == "muc-private"
            assert private.forwarded is None

    with component(s, service_files, "rooms"):
        run(scenario)
