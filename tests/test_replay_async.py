"""Replay stores for asyncio (AsyncSQLiteReplayStore, AsyncRedisReplayStore) and the slixmpp
plugin awaiting one: the same contract as the synchronous stores, and the event loop keeps
running while the store waits (a locked SQLite file, a frozen redis-server). Real SQLite
and a real ``redis-server`` (started as in tests/test_replay.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
import redis
import slixmpp
from slixmpp.xmlstream import StanzaBase
from slixmpp.xmlstream.tostring import tostring as slixmpp_tostring

from tests.test_replay import _redis_server
from xmppsec.dsig import Verifier
from xmppsec.errors import ReplayError, ReplayStoreError, UsageError
from xmppsec.integrations import slixmpp as xs
from xmppsec.keys import Identity, generate_identity
from xmppsec.replay import (
    AsyncRedisReplayStore,
    AsyncReplayStore,
    AsyncSQLiteReplayStore,
    MemoryReplayStore,
    RedisReplayStore,
    SQLiteReplayStore,
    is_async_store,
)
from xmppsec.trust import TrustStore

T = TypeVar("T")
T0 = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
W = timedelta(minutes=5)
MS = timedelta(milliseconds=1)
JULIET = "juliet@capulet.net"


def run(factory: Callable[[], Awaitable[T]], timeout: float = 60.0) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(factory(), timeout)

    return asyncio.run(bounded())


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str]]:
    with _redis_server(tmp_path_factory.mktemp("redis")) as (proc, url):
        yield proc.pid, url


@pytest.fixture
def redis_url(redis_server: tuple[int, str]) -> str:
    client = redis.Redis.from_url(redis_server[1])
    client.flushdb()
    client.close()
    return redis_server[1]


@asynccontextmanager
async def opened(kind: str, tmp_path: Path, url: str | None) -> AsyncIterator[AsyncReplayStore]:
    if kind == "sqlite":
        sqlite_store = AsyncSQLiteReplayStore(tmp_path / "replay.db")
        try:
            yield sqlite_store
        finally:
            await sqlite_store.aclose()
    else:
        assert url is not None
        redis_store = AsyncRedisReplayStore.from_url(url)
        try:
            yield redis_store
        finally:
            await redis_store.aclose()


@pytest.fixture(params=["sqlite", "redis"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _url(kind: str, request: pytest.FixtureRequest) -> str | None:
    return request.getfixturevalue("redis_url") if kind == "redis" else None


# -- the contract -------------------------------------------------------------------------


def test_is_async_store_tells_the_two_protocols_apart(tmp_path: Path) -> None:
    sync = SQLiteReplayStore(tmp_path / "a.db")
    assert not is_async_store(MemoryReplayStore()) and not is_async_store(sync)
    assert is_async_store(AsyncSQLiteReplayStore(sync))
    assert is_async_store(AsyncRedisReplayStore.from_url("redis://127.0.0.1:1/0"))
    assert not is_async_store(object())


def test_contract(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    async def scenario() -> None:
        async with opened(kind, tmp_path, _url(kind, request)) as store:
            await store.check_and_record(JULIET, b"sig-1", T0, now=T0, window=W)
            with pytest.raises(ReplayError, match="replayed"):
                await store.check_and_record(JULIET, b"sig-1", T0 + MS, now=T0, window=W)
            with pytest.raises(ReplayError, match="not greater"):
                await store.check_and_record(JULIET, b"sig-2", T0, now=T0, window=W)
            # the signer is the bare JID, normalized
            with pytest.raises(ReplayError):
                await store.check_and_record(
                    "Juliet@Capulet.NET/balcony", b"sig-1", T0 + 2 * MS, now=T0, window=W
                )
            await store.check_and_record(JULIET, b"sig-2", T0 + MS, now=T0, window=W)
            await store.check_and_record("romeo@montague.net", b"sig-1", T0, now=T0, window=W)
            # after the window the entry is gone (the window check refuses it by then)
            later = T0 + W + timedelta(seconds=1)
            await store.check_and_record(JULIET, b"sig-1", later, now=later, window=W)
            with pytest.raises(UsageError):
                await store.check_and_record(
                    JULIET, b"x", T0.replace(tzinfo=None), now=T0, window=W
                )

    run(scenario)


def test_concurrent_deliveries_accept_exactly_one(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    async def scenario() -> None:
        async with opened(kind, tmp_path, _url(kind, request)) as store:
            outcomes = await asyncio.gather(
                *(
                    store.check_and_record(JULIET, b"same", T0, now=T0, window=W)
                    for _ in range(20)
                ),
                return_exceptions=True,
            )
        assert outcomes.count(None) == 1
        assert all(isinstance(o, ReplayError) for o in outcomes if o is not None)

    run(scenario)


def test_sync_and_async_stores_share_state(tmp_path: Path, redis_url: str) -> None:
    sync_redis = RedisReplayStore.from_url(redis_url)
    sync_redis.check_and_record(JULIET, b"sig-r", T0, now=T0, window=W)
    sync_sqlite = SQLiteReplayStore(tmp_path / "shared.db")
    sync_sqlite.check_and_record(JULIET, b"sig-s", T0, now=T0, window=W)

    async def scenario() -> None:
        async_redis = AsyncRedisReplayStore.from_url(redis_url)
        assert async_redis.keys_for(JULIET, b"sig-r") == sync_redis.keys_for(JULIET, b"sig-r")
        with pytest.raises(ReplayError):
            await async_redis.check_and_record(JULIET, b"sig-r", T0 + MS, now=T0, window=W)
        await async_redis.aclose()
        async_sqlite = AsyncSQLiteReplayStore(tmp_path / "shared.db")
        with pytest.raises(ReplayError):
            await async_sqlite.check_and_record(JULIET, b"sig-s", T0 + MS, now=T0, window=W)
        await async_sqlite.aclose()

    run(scenario)


async def _ticks_while(awaitable: Awaitable[None]) -> tuple[int, BaseException | None]:
    """How often a 10 ms ticker ran while ``awaitable`` was pending, and what it raised."""
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            await asyncio.sleep(0.01)
            ticks += 1

    tick_task = asyncio.create_task(ticker())
    error: BaseException | None = None
    try:
        await awaitable
    except Exception as exc:  # noqa: BLE001 - the caller inspects it
        error = exc
    done.set()
    await tick_task
    return ticks, error


def test_a_locked_sqlite_file_does_not_block_the_loop(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    store = AsyncSQLiteReplayStore(path, timeout=0.6)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process's writer holds the lock

    async def scenario() -> None:
        ticks, error = await _ticks_while(
            store.check_and_record(JULIET, b"t", T0, now=T0, window=W)
        )
        assert isinstance(error, ReplayStoreError)  # locked past the timeout: refused
        assert ticks >= 20, ticks  # the loop ran on (a blocking call would give 0)
        holder.execute("ROLLBACK")
        await store.check_and_record(JULIET, b"t", T0, now=T0, window=W)
        await store.aclose()

    try:
        run(scenario)
    finally:
        holder.close()


def test_a_frozen_redis_server_does_not_block_the_loop(
    redis_server: tuple[int, str], redis_url: str
) -> None:
    pid = redis_server[0]

    async def scenario() -> None:
        store = AsyncRedisReplayStore.from_url(redis_url, timeout=0.5)
        await store.check_and_record(JULIET, b"a", T0, now=T0, window=W)  # connected
        os.kill(pid, signal.SIGSTOP)
        try:
            ticks, error = await _ticks_while(
                store.check_and_record(JULIET, b"b", T0 + MS, now=T0, window=W)
            )
        finally:
            os.kill(pid, signal.SIGCONT)
        assert isinstance(error, ReplayStoreError), error
        assert ticks >= 15, ticks
        await store.aclose()

    run(scenario)


def test_unreachable_redis_and_bad_urls() -> None:
    with pytest.raises(UsageError):
        AsyncRedisReplayStore.from_url("http://not-redis/")

    async def scenario() -> None:
        store = AsyncRedisReplayStore.from_url("redis://127.0.0.1:1/0", timeout=0.5)
        with pytest.raises(ReplayStoreError):
            await store.check_and_record(JULIET, b"a", T0, now=T0, window=W)
        await store.aclose()

    run(scenario)


# -- the slixmpp plugin with an async store -----------------------------------------------


@pytest.fixture(scope="module")
def alice_id() -> Identity:
    return generate_identity("alice@localhost")


def _client(config: xs.DsigConfig) -> tuple[slixmpp.ClientXMPP, xs.XmppsecDsig]:
    client = slixmpp.ClientXMPP("bob@localhost/b", "x")
    return client, xs.enable(client, config)


def _signed_wire(alice_id: Identity, mid: str) -> ET.Element:
    alice = slixmpp.ClientXMPP("alice@localhost/a", "x")
    plugin = xs.enable(
        alice, xs.DsigConfig(key=alice_id.private_key, certificate=alice_id.certificate)
    )
    msg = alice.make_message(mto="bob@localhost/b", mbody=f"hello {mid}", mtype="chat")
    msg["id"] = mid
    plugin.sign_stanza(msg)
    return ET.fromstring(slixmpp_tostring(msg.xml, stream=alice))


def test_plugin_awaits_an_async_store_and_hands_stanzas_on_in_order(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest, alice_id: Identity
) -> None:
    async def scenario() -> None:
        async with opened(kind, tmp_path, _url(kind, request)) as store:
            bob, plugin = _client(
                xs.DsigConfig(
                    trust=TrustStore().pin("alice@localhost", alice_id.certificate),
                    replay=store,
                    drop_unverified=True,
                )
            )
            assert plugin.settings.async_replay is store
            assert plugin.settings.verifier is not None
            assert plugin.settings.verifier.replay is None  # never called synchronously
            handled: list[str] = []
            events: list[tuple[str, bool]] = []
            bob.add_event_handler("message", lambda m: handled.append(m["id"]))
            for name in (xs.EVENT_VERIFIED, xs.EVENT_UNVERIFIED):
                bob.add_event_handler(
                    name, lambda e: events.append((e.stanza["id"], e.valid))
                )
            wires = [_signed_wire(alice_id, f"m{i}") for i in range(3)]
            stanzas: list[StanzaBase] = [bob.Message(w) for w in wires]
            replayed = bob.Message(ET.fromstring(ET.tostring(wires[0])))
            for stanza in [*stanzas, replayed]:
                bob.recv_stanza(stanza)  # the filter holds each one
            assert handled == []
            await asyncio.gather(*plugin._tasks)
            for _ in range(1000):  # slixmpp queues the handlers on the loop: wait for them
                if len(handled) >= 3:
                    break
                await asyncio.sleep(0.01)
            # Checked and handed on in arrival order; the replay dropped.
            assert handled == ["m0", "m1", "m2"], handled
            assert ("m0", False) in events and events.count(("m0", True)) == 1
            replay_result = plugin.result_for(replayed)
            assert replay_result is not None and isinstance(replay_result.error, ReplayError)
            assert replay_result.signed_children() == ()
            ok = plugin.result_for(stanzas[1])
            assert ok is not None and ok.valid

    run(scenario)


def test_plugin_refuses_when_the_async_store_cannot_answer(alice_id: Identity) -> None:
    async def scenario() -> None:
        store = AsyncRedisReplayStore.from_url("redis://127.0.0.1:1/0", timeout=0.5)
        bob, plugin = _client(
            xs.DsigConfig(
                trust=TrustStore().pin("alice@localhost", alice_id.certificate), replay=store
            )
        )
        handled: list[str] = []
        bob.add_event_handler("message", lambda m: handled.append(m["id"]))
        stanza = bob.Message(_signed_wire(alice_id, "x1"))
        bob.recv_stanza(stanza)
        await asyncio.gather(*plugin._tasks)
        await asyncio.sleep(0.05)
        result = plugin.result_for(stanza)
        assert result is not None and not result.valid
        assert isinstance(result.error, ReplayStoreError)
        assert handled == ["x1"]  # not dropped (drop_unverified off), but not valid
        await store.aclose()

    run(scenario)


def test_typed_config_matches_the_plugin_keys() -> None:
    assert set(xs.DsigConfig().as_dict()) == set(xs.XmppsecDsig.default_config)
    assert xs.DsigConfig().as_dict() == dict(xs.XmppsecDsig.default_config)


def test_verifier_refuses_an_async_store(tmp_path: Path) -> None:
    # A synchronous Verifier would get an un-awaited coroutine from it and record nothing.
    store = AsyncSQLiteReplayStore(tmp_path / "r.sqlite3")
    with pytest.raises(UsageError, match="asyncio replay store"):
        Verifier(TrustStore(), replay=store)  # type: ignore[arg-type]
