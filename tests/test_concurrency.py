"""Signers, verifiers and replay stores shared between threads.

* One signer, 8 threads: timestamps strictly increasing per thread and never repeated
  (XEP-0290 §5), both for raw clock draws (8 x 10,000) and for real ECDSA signatures
  (8 x ``XMPPSEC_CONCURRENCY_SIGNATURES``, default 500; set it to 10000 for the full run
  that docs/fuzzing.md reports).
* One Verifier, 8 threads, different stanzas: every one valid, nothing raised.
* One replay store (memory, SQLite) behind one Verifier, the same stanzas from 8 threads:
  each signature accepted exactly once, every other delivery a ReplayError.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from lxml import etree

from xmppsec.dsig import SPEC, Signer, VerificationResult
from xmppsec.errors import ReplayError
from xmppsec.replay import MemoryReplayStore, ReplayStore, SQLiteReplayStore
from xmppsec.timestamps import TimestampClock, parse_timestamp
from xmppsec.trust import TrustStore

if TYPE_CHECKING:
    from tests.conftest import DS, JULIET, NOW, D, identity, make_signer, run_threads, verifier
else:
    from conftest import DS, JULIET, NOW, D, identity, make_signer, run_threads, verifier

THREADS = 8
CLOCK_DRAWS = 10_000
SIGNATURES = int(os.environ.get("XMPPSEC_CONCURRENCY_SIGNATURES", "500"))


def message(i: int, sender: str = "juliet@capulet.net/balcony") -> bytes:
    return (
        b"<message xmlns='jabber:client' from='%s' to='romeo@montague.net' type='chat'"
        b" id='c%d'><body>message %d</body></message>" % (sender.encode(), i, i)
    )


def assert_strictly_increasing_and_unique(per_thread: list[list[str]]) -> None:
    for stamps in per_thread:
        values = [parse_timestamp(s) for s in stamps]
        assert all(a < b for a, b in zip(values, values[1:], strict=False))
    everything = [s for stamps in per_thread for s in stamps]
    assert len(set(everything)) == len(everything)


def test_clock_draws_from_8_threads() -> None:
    clock = TimestampClock()  # the wall clock: many draws fall in the same millisecond

    def draw(_: int) -> list[str]:
        return [clock.next(JULIET)[1] for _ in range(CLOCK_DRAWS)]

    per_thread = run_threads(draw)
    assert sum(map(len, per_thread)) == THREADS * CLOCK_DRAWS
    assert_strictly_increasing_and_unique(per_thread)


def _timestamp(signed: bytes) -> str:
    root = etree.fromstring(signed)
    ts = root.find(f"{DS}Signature/{DS}Object/{D}stanza-desc/{D}timestamp")
    assert ts is not None and ts.text is not None
    return ts.text


def test_one_signer_8_threads_real_signatures() -> None:
    ident = identity(JULIET)
    signer = Signer(
        ident.private_key,
        signer=JULIET,
        certificate=ident.certificate,
        clock=TimestampClock(),
        profile=SPEC,
    )

    def sign_many(t: int) -> list[bytes]:
        return [signer.sign(message(t * SIGNATURES + i)) for i in range(SIGNATURES)]

    per_thread = run_threads(sign_many)
    assert_strictly_increasing_and_unique([[_timestamp(s) for s in out] for out in per_thread])
    # a sample of them verifies (the clock ran ahead of the wall clock: judge at the end)
    last = max(parse_timestamp(_timestamp(out[-1])) for out in per_thread)
    v = verifier()
    for out in per_thread:
        for signed in out[:: max(1, SIGNATURES // 5)]:
            assert v.check(signed, now=last).valid


def test_one_verifier_8_threads_different_stanzas() -> None:
    signer = make_signer()
    stanzas = [signer.sign(message(i)) for i in range(THREADS * 40)]
    v = verifier()  # no replay store: every stanza is judged on its own

    def check(t: int) -> list[VerificationResult]:
        return [v.check(s, now=NOW) for s in stanzas[t::THREADS]]

    results = [r for part in run_threads(check) for r in part]
    assert len(results) == len(stanzas)
    assert all(r.valid for r in results), [r.error for r in results if not r.valid][:3]


SIGNERS = [f"user{i}@capulet.net" for i in range(24)]


@pytest.fixture(params=["memory", "sqlite"])
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ReplayStore]:
    if request.param == "memory":
        yield MemoryReplayStore()
    else:
        store = SQLiteReplayStore(tmp_path / "replay.sqlite3")
        yield store
        store.close()


def test_shared_replay_store_accepts_each_signature_once(shared_store: ReplayStore) -> None:
    """Each stanza (one per signer, so no timestamp ordering between them) is delivered
    by all 8 threads in a different order: exactly one delivery is accepted."""
    stanzas = [make_signer(jid).sign(message(i, jid + "/r")) for i, jid in enumerate(SIGNERS)]
    trust = TrustStore()
    for jid in SIGNERS:
        trust = trust.pin(jid, identity(jid).certificate)
    v = verifier(trust=trust, replay=shared_store)

    def deliver(t: int) -> list[tuple[int, str]]:
        order = list(range(len(stanzas)))
        random.Random(t).shuffle(order)
        out = []
        for i in order:
            r = v.check(stanzas[i], now=NOW)
            out.append((i, "valid" if r.valid else type(r.error).__name__))
        return out

    verdicts = [v for part in run_threads(deliver) for v in part]
    assert len(verdicts) == THREADS * len(stanzas)
    for i in range(len(stanzas)):
        mine = [verdict for j, verdict in verdicts if j == i]
        assert mine.count("valid") == 1, (i, mine)
        assert mine.count(ReplayError.__name__) == THREADS - 1, (i, mine)
