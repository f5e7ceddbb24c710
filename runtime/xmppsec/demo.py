"""``xmppsec demo``: a self-contained run on an embedded default.

Temporary keys, a SQLite replay store in a temporary directory, the XEP-0290 example
message signed, verified, a tampered copy and a replay rejected, then (when the e2e package
offers it) an RFC 3923 round trip. Prints what it did; exit 0 only if every step behaved.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from lxml import etree

from .dsig import Signer, Verifier
from .errors import XmppSecError
from .keys import generate_identity
from .replay import SQLiteReplayStore
from .trust import TrustStore

__all__ = ["XEP_EXAMPLE", "run_demo"]

# XEP-0290 §2, example 1 (the cleartext stanza "S").
XEP_EXAMPLE = (
    b"<message xmlns='jabber:client' from='juliet@capulet.net/balcony' id='183ef129' "
    b"to='romeo@montague.net'>"
    b"<thread>8996aef0-061d-012d-347a-549a200771aa</thread>"
    b"<body>Wherefore art thou, Romeo?</body></message>"
)


def run_demo(emit: Callable[[str], None]) -> int:
    ok = True
    with tempfile.TemporaryDirectory(prefix="xmppsec-demo-") as tmp:
        juliet = generate_identity("juliet@capulet.net", "ecdsa-p256")
        emit("1. keygen: ECDSA P-256 key and self-signed certificate for juliet@capulet.net")
        signer = Signer(
            juliet.private_key, signer="juliet@capulet.net", certificate=juliet.certificate
        )
        signed = signer.sign(XEP_EXAMPLE)
        emit(f"2. signed the XEP-0290 example message (spec profile): {len(signed)} bytes")
        emit("   " + signed.decode()[:160] + " ...")

        store = SQLiteReplayStore(Path(tmp) / "replay.sqlite3")
        verifier = Verifier(
            TrustStore().pin("juliet@capulet.net", juliet.certificate), replay=store
        )
        result = verifier.check(signed)
        sig = result.signatures[0] if result.signatures else None
        if result.valid and sig is not None:
            refs = ", ".join(f"{r.element.split('}')[-1]}={r.status.value}" for r in sig.references)
            emit(f"3. verified: valid, signer {sig.signer}, timestamp {sig.timestamp_text}, {refs}")
        else:
            ok = False
            emit(f"3. verification FAILED: {result.error}")

        tampered = signed.replace(b"Wherefore art thou, Romeo?", b"Wherefore art thou, Paris?")
        bad = Verifier(TrustStore().pin("juliet@capulet.net", juliet.certificate)).check(tampered)
        if bad.valid:
            ok = False
            emit("4. tampered copy was ACCEPTED (this is a bug)")
        else:
            emit(f"4. tampered body rejected: {type(bad.error).__name__}: {bad.error}")

        replayed = verifier.check(signed)
        if replayed.valid:
            ok = False
            emit("5. replay was ACCEPTED (this is a bug)")
        else:
            emit(f"5. replayed stanza rejected by the SQLite store: {replayed.error}")
        store.close()

        ok = _e2e(emit) and ok
    emit("demo: all steps behaved" if ok else "demo: a step misbehaved")
    return 0 if ok else 1


def _e2e(emit: Callable[[str], None]) -> bool:
    from . import e2e

    round_trip: Callable[[], list[str]] | None = getattr(e2e, "demo_round_trip", None)
    if round_trip is None:
        return True
    try:
        for line in round_trip():
            emit(line)
    except XmppSecError as exc:
        emit(f"6. RFC 3923 round trip FAILED: {type(exc).__name__}: {exc}")
        return False
    return True


def _pretty(data: bytes) -> str:  # pragma: no cover - convenience for interactive use
    return etree.tostring(etree.fromstring(data), pretty_print=True).decode()
