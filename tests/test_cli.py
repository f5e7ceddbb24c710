"""The ``xmppsec`` command-line contract, driven as a real subprocess.

Exit codes: 0 valid / done, 1 rejected (reason on stderr), 2 usage error.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from xmppsec.keys import (
    generate_identity,
    load_certificate,
    load_private_key,
    write_identity,
    xmpp_addrs,
)

JULIET = "juliet@capulet.net"
STANZA = (
    b"<message xmlns='jabber:client' from='juliet@capulet.net/balcony' id='c1' "
    b"to='romeo@montague.net' type='chat'><body>Wherefore art thou, Romeo?</body></message>"
)


@dataclass(frozen=True)
class Done:
    code: int
    out: bytes
    err: str


def xmppsec(*args: str | Path, stdin: bytes = b"") -> Done:
    script = Path(sys.executable).parent / "xmppsec"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "xmppsec.cli"]
    proc = subprocess.run(
        [*cmd, *map(str, args)], input=stdin, capture_output=True, timeout=120, check=False
    )
    return Done(proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace"))


@pytest.fixture(scope="module")
def juliet_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("juliet")
    done = xmppsec("keygen", "--jid", JULIET, "--out", out)
    assert done.code == 0, done.err
    return out


@pytest.fixture(scope="module")
def signed(juliet_dir: Path) -> bytes:
    done = xmppsec(
        "sign", "--key", juliet_dir / "key.pem", "--cert", juliet_dir / "cert.pem", stdin=STANZA
    )
    assert done.code == 0, done.err
    return done.out


# -- keygen -----------------------------------------------------------------------------------

KEY_TYPES = {
    "ecdsa-p256": ec.EllipticCurvePrivateKey,
    "ed25519": ed25519.Ed25519PrivateKey,
    "rsa-2048": rsa.RSAPrivateKey,
    "rsa-3072": rsa.RSAPrivateKey,
}


@pytest.mark.parametrize("algorithm", list(KEY_TYPES))
def test_keygen(algorithm: str, tmp_path: Path) -> None:
    out = tmp_path / "id"
    done = xmppsec(
        "keygen", "--jid", "Juliet@Capulet.net/balcony", "--algorithm", algorithm, "--out", out
    )
    assert done.code == 0, done.err
    key_pem = (out / "key.pem").read_bytes()
    assert stat.S_IMODE(os.stat(out / "key.pem").st_mode) == 0o600
    assert key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8, unencrypted
    key = load_private_key(key_pem)
    assert isinstance(key, KEY_TYPES[algorithm])
    if isinstance(key, rsa.RSAPrivateKey):
        assert key.key_size == int(algorithm.split("-")[1])
    cert = load_certificate((out / "cert.pem").read_bytes())
    assert xmpp_addrs(cert) == (JULIET,)  # normalized bare JID
    assert cert.public_key() == key.public_key()
    assert (
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        == key_pem
    )


def test_keygen_usage_errors(juliet_dir: Path, tmp_path: Path) -> None:
    again = xmppsec("keygen", "--jid", JULIET, "--out", juliet_dir)
    assert again.code == 2 and "exists" in again.err  # never overwrites a key
    bad_jid = xmppsec("keygen", "--jid", "@capulet.net", "--out", tmp_path / "x")
    assert bad_jid.code == 2 and "xmppsec: error:" in bad_jid.err
    bad_alg = xmppsec("keygen", "--jid", JULIET, "--algorithm", "dsa-1024", "--out", tmp_path)
    assert bad_alg.code == 2
    missing = xmppsec("keygen", "--out", tmp_path)
    assert missing.code == 2


# -- sign / verify ----------------------------------------------------------------------------


def test_sign_stdin_to_stdout_and_verify(juliet_dir: Path, signed: bytes) -> None:
    assert signed.startswith(b"<message ") and b"<Signature " in signed
    done = xmppsec("verify", "--trust", juliet_dir / "cert.pem", stdin=signed)
    assert done.code == 0, done.err
    assert done.out == b""
    assert "valid: signed by juliet@capulet.net" in done.err


def test_sign_and_verify_files(juliet_dir: Path, tmp_path: Path) -> None:
    src, dst = tmp_path / "in.xml", tmp_path / "out.xml"
    src.write_bytes(STANZA)
    done = xmppsec(
        "sign",
        "--key", juliet_dir / "key.pem",
        "--cert", juliet_dir / "cert.pem",
        "--include-cert",
        "--in", src,
        "--out", dst,
    )  # fmt: skip
    assert done.code == 0, done.err
    assert done.out == b""
    data = dst.read_bytes()
    assert b"<X509Certificate>" in data
    ok = xmppsec("verify", "--trust", juliet_dir / "cert.pem", "--in", dst)
    assert ok.code == 0, ok.err
    # the certificate in KeyInfo alone is not trust
    alone = xmppsec("verify", "--in", dst)
    assert alone.code == 1 and "UntrustedKey" in alone.err


def test_sign_rejects_bad_stanza_and_foreign_sender(juliet_dir: Path) -> None:
    keys = ("--key", juliet_dir / "key.pem", "--cert", juliet_dir / "cert.pem")
    bogus = xmppsec("sign", *keys, stdin=STANZA.replace(b"type='chat'", b"type='bogus'"))
    assert bogus.code == 1 and "StanzaSchemaError" in bogus.err and bogus.out == b""
    foreign = xmppsec(
        "sign", *keys, stdin=STANZA.replace(b"juliet@capulet.net/", b"nurse@capulet.net/")
    )
    # Signing someone else's stanza is the caller's mistake: a usage error (exit 2).
    assert foreign.code == 2 and "cannot be signed as" in foreign.err
    garbage = xmppsec("sign", *keys, stdin=b"<message><!-- x --></message>")
    assert garbage.code == 1 and "RestrictedXMLError" in garbage.err


def test_sign_usage_errors(juliet_dir: Path, tmp_path: Path) -> None:
    no_key = xmppsec(
        "sign", "--key", tmp_path / "nope.pem", "--cert", juliet_dir / "cert.pem", stdin=STANZA
    )
    assert no_key.code == 2 and "cannot read" in no_key.err
    not_a_key = tmp_path / "junk.pem"
    not_a_key.write_bytes(b"junk")
    junk = xmppsec("sign", "--key", not_a_key, "--cert", juliet_dir / "cert.pem", stdin=STANZA)
    assert junk.code == 2
    other = tmp_path / "romeo"
    assert xmppsec("keygen", "--jid", "romeo@montague.net", "--out", other).code == 0
    mismatch = xmppsec(
        "sign", "--key", juliet_dir / "key.pem", "--cert", other / "cert.pem", stdin=STANZA
    )
    assert mismatch.code == 2  # the certificate is not the key's


def test_verify_rejected_with_reason(juliet_dir: Path, signed: bytes) -> None:
    tampered = signed.replace(b"Romeo?", b"Paris?")
    done = xmppsec("verify", "--trust", juliet_dir / "cert.pem", stdin=tampered)
    assert done.code == 1
    assert done.err.startswith("rejected: DigestMismatch")
    unsigned = xmppsec("verify", "--trust", juliet_dir / "cert.pem", stdin=STANZA)
    assert unsigned.code == 1 and "NotSigned" in unsigned.err
    empty = xmppsec("verify", "--trust", juliet_dir / "cert.pem", stdin=b"")
    assert empty.code == 1 and "RestrictedXMLError" in empty.err


def test_verify_usage_errors(juliet_dir: Path, signed: bytes, tmp_path: Path) -> None:
    missing = xmppsec("verify", "--trust", tmp_path / "missing.pem", stdin=signed)
    assert missing.code == 2 and "cannot read" in missing.err
    no_input = xmppsec("verify", "--trust", juliet_dir / "cert.pem", "--in", tmp_path / "none.xml")
    assert no_input.code == 2
    bad_now = xmppsec(
        "verify", "--trust", juliet_dir / "cert.pem", "--now", "yesterday", stdin=signed
    )
    assert bad_now.code == 2 and "--now" in bad_now.err
    unknown = xmppsec("verify", "--frobnicate", stdin=signed)
    assert unknown.code == 2
    bad_profile = xmppsec("verify", "--profile", "nonsense", stdin=signed)
    assert bad_profile.code == 2
    no_command = xmppsec()
    assert no_command.code == 2
    junk_cert = tmp_path / "junk-cert.pem"
    junk_cert.write_bytes(b"not a certificate")
    junk = xmppsec("verify", "--trust", junk_cert, stdin=signed)
    assert junk.code == 2


def _json(done: Done) -> dict[str, object]:
    value = json.loads(done.out)
    assert isinstance(value, dict)
    return value


def test_verify_json(juliet_dir: Path, signed: bytes) -> None:
    done = xmppsec("verify", "--json", "--trust", juliet_dir / "cert.pem", stdin=signed)
    assert done.code == 0, done.err
    report = _json(done)
    assert report["valid"] is True
    assert report["unsigned_children"] == []
    sigs = report["signatures"]
    assert isinstance(sigs, list) and len(sigs) == 1
    s = sigs[0]
    assert s["signer"] == JULIET and s["valid"] is True and s["error"] is None
    assert isinstance(s["timestamp"], str) and len(s["timestamp"]) == 24
    assert [set(r) for r in s["references"]] == [{"uri", "element", "status"}]
    assert s["references"][0]["element"] == "{jabber:client}body"
    assert s["references"][0]["status"] == "ok"
    # rejected: still JSON on stdout, the reason on stderr, exit 1
    bad = xmppsec(
        "verify",
        "--json",
        "--trust",
        juliet_dir / "cert.pem",
        stdin=signed.replace(b"Romeo?", b"Paris?"),
    )
    assert bad.code == 1 and "DigestMismatch" in bad.err
    assert _json(bad)["valid"] is False


def _stamp(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_verify_now_and_optimistic(juliet_dir: Path, signed: bytes) -> None:
    trust = ("--trust", juliet_dir / "cert.pem")
    later = _stamp(datetime.now(UTC) + timedelta(hours=2))
    old = xmppsec("verify", *trust, "--now", later, stdin=signed)
    assert old.code == 1 and "TimestampError" in old.err
    report = xmppsec("verify", *trust, "--now", later, "--optimistic", "--json", stdin=signed)
    assert report.code == 0, report.err
    sigs = _json(report)["signatures"]
    assert isinstance(sigs, list) and sigs[0]["timestamp_status"] == "old"
    # optimistic still rejects a bad SignatureValue
    broken = signed.replace(b"<SignatureValue>", b"<SignatureValue>AAAA")
    assert xmppsec("verify", *trust, "--optimistic", stdin=broken).code == 1


def test_verify_now_future(tmp_path: Path) -> None:
    """--now before the signature's timestamp: a future timestamp (the identity is made
    in-process with a certificate valid since yesterday, so the key is trusted then)."""
    ident = generate_identity(JULIET, now=datetime.now(UTC) - timedelta(days=1))
    write_identity(ident, tmp_path)
    done = xmppsec(
        "sign", "--key", tmp_path / "key.pem", "--cert", tmp_path / "cert.pem", stdin=STANZA
    )
    assert done.code == 0, done.err
    earlier = _stamp(datetime.now(UTC) - timedelta(hours=2))
    future = xmppsec("verify", "--trust", tmp_path / "cert.pem", "--now", earlier, stdin=done.out)
    assert future.code == 1 and "TimestampError" in future.err and "future" in future.err


def test_verify_replay_db(juliet_dir: Path, signed: bytes, tmp_path: Path) -> None:
    db = tmp_path / "replay.sqlite3"
    args = ("verify", "--trust", juliet_dir / "cert.pem", "--replay-db", db)
    assert xmppsec(*args, stdin=signed).code == 0
    again = xmppsec(*args, stdin=signed)
    assert again.code == 1 and "ReplayError" in again.err
    unopenable = xmppsec(
        "verify",
        "--trust",
        juliet_dir / "cert.pem",
        "--replay-db",
        tmp_path / "no" / "db",
        stdin=signed,
    )
    assert unopenable.code == 2 and "Traceback" not in unopenable.err
    assert unopenable.err.startswith("xmppsec: error:")


# -- validate / demo --------------------------------------------------------------------------


def test_validate(signed: bytes, tmp_path: Path) -> None:
    assert xmppsec("validate", stdin=STANZA).code == 0
    assert xmppsec("validate", stdin=signed).code == 0
    bad = xmppsec("validate", stdin=STANZA.replace(b"type='chat'", b"type='bogus'"))
    assert bad.code == 1 and bad.err.startswith("invalid:")
    ill = xmppsec("validate", stdin=b"<message xmlns='jabber:client'>")
    assert ill.code == 1
    missing = xmppsec("validate", "--in", tmp_path / "missing.xml")
    assert missing.code == 2


def test_demo() -> None:
    done = xmppsec("demo")
    assert done.code == 0, done.err
    text = done.out.decode()
    for step in (
        "1. keygen",
        "2. signed",
        "3. verified: valid",
        "4. tampered body rejected",
        "5. replayed",
    ):
        assert step in text, step
    assert "demo: all steps behaved" in text


def test_sign_and_verify_with_the_robust_profile(tmp_path: Path) -> None:
    """Issue 4's CLI contract: sign --profile robust; verify --profile robust|auto; a
    verifier pinned to the spec profile refuses a robust signature."""
    assert xmppsec("keygen", "--jid", "alice@localhost", "--out", tmp_path).code == 0
    stanza = (
        b"<message xmlns='jabber:client' from='alice@localhost/a' to='bob@localhost' "
        b"id='r1' type='chat'><body>hi</body></message>"
    )
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    signed = xmppsec("sign", "--key", key, "--cert", cert, "--profile", "robust", stdin=stanza)
    assert signed.code == 0 and b"urn:xmpp:tmp:dsig:robust:0" in signed.out
    for profile in ("auto", "robust"):
        done = xmppsec(
            "verify", "--trust", cert, "--profile", profile, "--json", "--no-replay",
            stdin=signed.out,
        )
        assert done.code == 0, done.err
        report = json.loads(done.out)
        assert report["signatures"][0]["profile"] == "robust"
        assert report["signatures"][0]["sender_relation"] == "sender"
    pinned = xmppsec("verify", "--trust", cert, "--profile", "spec", stdin=signed.out)
    assert pinned.code == 1 and "rejected: UnsupportedAlgorithm" in pinned.err
