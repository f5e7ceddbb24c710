"""``xmppsec demo``: a self-contained run on an embedded default.

Temporary keys, a SQLite replay store in a temporary directory, the XEP-0290 example
message signed, verified, a tampered copy and a replay rejected, then an RFC 3923 round
trip. Prints what it did; exit 0 only if every step behaved.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..dsig import Signer, Verifier
from ..e2e import error_condition, open_stanza, seal_stanza
from ..errors import XmppSecError
from ..keys import generate_identity
from ..replay import MemoryReplayStore, SQLiteReplayStore
from ..trust import TrustStore
from . import _common as c

# XEP-0290 §2, example 1 (the cleartext stanza "S").
XEP_EXAMPLE = (
    b"<message xmlns='jabber:client' from='juliet@capulet.net/balcony' id='183ef129' "
    b"to='romeo@montague.net'>"
    b"<thread>8996aef0-061d-012d-347a-549a200771aa</thread>"
    b"<body>Wherefore art thou, Romeo?</body></message>"
)
_ACCEPTED = "ACCEPTED (unexpected)"  # a round-trip line for a copy that should have failed


def run_demo(emit: Callable[[str], None]) -> int:
    ok = True
    with tempfile.TemporaryDirectory(prefix="xmppsec-demo-") as tmp:
        juliet = generate_identity("juliet@capulet.net", "ecdsa-p256")
        emit("1. keygen: ECDSA P-256 key and self-signed certificate for juliet@capulet.net")
        signer = Signer(
            juliet.private_key, signer="juliet@capulet.net", certificate=juliet.certificate
        )
        signed = signer.sign(XEP_EXAMPLE)
        emit(
            f"2. signed the XEP-0290 example message ({signer.profile.name} profile, the "
            f"default): {len(signed)} bytes"
        )
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

        try:
            for line in demo_round_trip():
                emit(line)
                ok = ok and _ACCEPTED not in line
        except XmppSecError as exc:
            ok = False
            emit(f"6. RFC 3923 round trip FAILED: {type(exc).__name__}: {exc}")
    emit("demo: all steps behaved" if ok else "demo: a step misbehaved")
    return c.EXIT_OK if ok else c.EXIT_REJECTED


def demo_round_trip() -> list[str]:
    """An RFC 3923 message and directed presence, sealed and opened, and a tampered copy
    and a replayed copy rejected: the demo's lines."""
    juliet = generate_identity("juliet@example.com", "rsa-2048")
    romeo = generate_identity("romeo@example.net", "rsa-2048")
    trust = TrustStore().pin("juliet@example.com", juliet.certificate)
    replay = MemoryReplayStore()
    lines = ["RFC 3923 end-to-end (S/MIME over Message/CPIM in <e2e/>):"]
    stanzas = [
        b"<message xmlns='jabber:client' from='juliet@example.com/balcony' "
        b"to='romeo@example.net/orchard' type='chat' id='e2e1'>"
        b"<body>Wherefore art thou, Romeo?</body></message>",
        b"<presence xmlns='jabber:client' from='juliet@example.com/balcony' "
        b"to='romeo@example.net'><status>On the balcony</status></presence>",
    ]
    for plain in stanzas:
        sealed = seal_stanza(
            plain, key=juliet.private_key, certificate=juliet.certificate,
            recipients=[romeo.certificate],
        )
        opened = open_stanza(
            sealed, trust=trust, key=romeo.private_key, certificate=romeo.certificate,
            replay=replay,
        )
        lines.append(
            f"  {opened.content_type}: {len(plain)} B stanza -> {len(sealed)} B sealed; "
            f"signed by {opened.signer}, encrypted={opened.encrypted}"
        )
        lines.append(f"    opened: {opened.xml.decode('utf-8')}")
    sealed = seal_stanza(
        stanzas[0], key=juliet.private_key, certificate=juliet.certificate,
        recipients=[romeo.certificate],
    )
    i = sealed.rindex(b"\n", 0, sealed.index(b"]]>") - 2) + 1  # last base64 line
    tampered = sealed[:i] + (b"A" if sealed[i : i + 1] != b"A" else b"B") + sealed[i + 1 :]
    try:
        open_stanza(
            tampered, trust=trust, key=romeo.private_key, certificate=romeo.certificate
        )
        lines.append(f"  tampered copy: {_ACCEPTED}")
    except XmppSecError as exc:
        lines.append(
            f"  tampered copy: rejected ({type(exc).__name__}; "
            f"RFC 3923 §7 condition {error_condition(exc)})"
        )
    try:
        open_stanza(sealed, trust=trust, key=romeo.private_key,
                    certificate=romeo.certificate, replay=replay)
        open_stanza(sealed, trust=trust, key=romeo.private_key,
                    certificate=romeo.certificate, replay=replay)
        lines.append(f"  replayed copy: {_ACCEPTED}")
    except XmppSecError as exc:
        lines.append(f"  replayed copy: rejected ({type(exc).__name__})")
    return lines


def _demo(args: argparse.Namespace) -> int:
    return run_demo(print)


def register(sub: c.Subparsers) -> None:
    p = sub.add_parser("demo", help="sign, verify and reject, on an embedded default")
    p.set_defaults(handler=_demo)
