"""Issue 17's CLI: safe defaults, the one JSON report, options, and no traceback ever.

Every run is a real subprocess of the installed ``xmppsec``; the replay store lives in the
per-test ``$XDG_STATE_HOME`` the conftest sets.
"""

from __future__ import annotations

import itertools
import json
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

from xmppsec import __version__
from xmppsec.keys import load_certificate, load_private_key

if TYPE_CHECKING:  # pytest imports tests/ modules top-level (rootdir mode), mypy by path
    from tests.test_cli import JULIET, STANZA, xmppsec
else:
    from test_cli import JULIET, STANZA, xmppsec

REPORT_KEYS = {
    "schema", "kind", "valid", "error", "error_type", "condition", "checked_at", "stanza",
    "signatures", "unsigned_children", "signed_children", "e2e", "archive",
}


@pytest.fixture()
def ident(tmp_path: Path) -> Path:
    out = tmp_path / "id"
    assert xmppsec("keygen", "--jid", JULIET, "--out", out).code == 0
    return out


def _sign(ident: Path, *extra: str, stdin: bytes = STANZA) -> bytes:
    done = xmppsec("sign", "--key", ident / "key.pem", "--cert", ident / "cert.pem", *extra,
                   stdin=stdin)
    assert done.code == 0, done.err
    return done.out


def test_sign_defaults_to_robust_and_spec_is_a_flag(ident: Path) -> None:
    assert b"urn:xmpp:tmp:dsig:robust:0" in _sign(ident)
    assert b"urn:xmpp:tmp:dsig:robust:0" not in _sign(ident, "--profile", "spec")


def test_replay_on_by_default(ident: Path, tmp_path: Path) -> None:
    signed = _sign(ident)
    trust = ("verify", "--trust", ident / "cert.pem")
    assert xmppsec(*trust, stdin=signed).code == 0
    again = xmppsec(*trust, stdin=signed)
    assert again.code == 1 and "ReplayError" in again.err
    folder = Path(os.environ["XDG_STATE_HOME"]) / "xmppsec"
    assert (folder / "replay.db").is_file()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert xmppsec(*trust, "--no-replay", stdin=signed).code == 0
    db = tmp_path / "other.db"
    assert xmppsec(*trust, "--replay-db", db, stdin=signed).code == 0
    assert xmppsec(*trust, "--replay-db", db, stdin=signed).code == 1
    both = xmppsec(*trust, "--replay-db", db, "--no-replay", stdin=signed)
    assert both.code == 2


def test_optimistic_prints_what_it_reports(ident: Path) -> None:
    signed = _sign(ident)
    done = xmppsec("verify", "--trust", ident / "cert.pem", "--optimistic", stdin=signed)
    assert done.code == 0, done.err
    assert "reference" in done.err and "unsigned children: none" in done.err
    assert "timestamp 20" in done.err and "valid: signed by" in done.err


def test_json_report_same_keys_on_success_and_failure(ident: Path) -> None:
    signed = _sign(ident)
    ok = xmppsec("verify", "--json", "--trust", ident / "cert.pem", stdin=signed)
    bad = xmppsec("verify", "--json", "--trust", ident / "cert.pem",
                  stdin=signed.replace(b"Romeo?", b"Paris?"))
    good, failed = json.loads(ok.out), json.loads(bad.out)
    assert set(good) == set(failed) == REPORT_KEYS
    assert good["schema"] == 1 and good["valid"] is True and failed["valid"] is False
    assert failed["error_type"] == "DigestMismatch"
    assert good["checked_at"].endswith("Z") and good["signatures"][0]["timestamp"].endswith("Z")


def test_version() -> None:
    done = xmppsec("--version")
    assert done.code == 0 and done.out.decode().strip() == f"xmppsec {__version__}"


def test_keygen_force_days_passphrase(tmp_path: Path) -> None:
    out = tmp_path / "k"
    pw = tmp_path / "pw"
    pw.write_text("correct horse\n")
    done = xmppsec("keygen", "--jid", JULIET, "--out", out, "--days", "30",
                   "--passphrase-file", pw)
    assert done.code == 0, done.err
    pem = (out / "key.pem").read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    load_private_key(pem, b"correct horse")
    cert = load_certificate((out / "cert.pem").read_bytes())
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days == 30
    assert xmppsec("keygen", "--jid", JULIET, "--out", out).code == 2
    no_pw = xmppsec("sign", "--key", out / "key.pem", "--cert", out / "cert.pem", stdin=STANZA)
    assert no_pw.code == 2 and "encrypted" in no_pw.err
    with_pw = xmppsec("sign", "--key", out / "key.pem", "--cert", out / "cert.pem",
                      "--passphrase-file", pw, stdin=STANZA)
    assert with_pw.code == 0, with_pw.err
    os.environ["XMPPSEC_PASSPHRASE"] = "correct horse"  # conftest resets it per test
    try:
        env = xmppsec("sign", "--key", out / "key.pem", "--cert", out / "cert.pem",
                      stdin=STANZA)
    finally:
        del os.environ["XMPPSEC_PASSPHRASE"]
    assert env.code == 0, env.err
    forced = xmppsec("keygen", "--jid", JULIET, "--out", out, "--force")
    assert forced.code == 0 and (out / "key.pem").read_bytes() != pem


def test_pkcs12_and_ca(ident: Path, tmp_path: Path) -> None:
    key = load_private_key((ident / "key.pem").read_bytes())
    cert = load_certificate((ident / "cert.pem").read_bytes())
    bundle = tmp_path / "id.p12"
    bundle.write_bytes(pkcs12.serialize_key_and_certificates(
        b"juliet", key, cert, None, BestAvailableEncryption(b"pw")))
    pw = tmp_path / "pw"
    pw.write_text("pw")
    done = xmppsec("sign", "--key", bundle, "--passphrase-file", pw, stdin=STANZA)
    assert done.code == 0, done.err
    # the self-signed certificate as a CA bundle: its own chain verifies only when it is
    # carried in KeyInfo
    with_cert = xmppsec("sign", "--key", bundle, "--passphrase-file", pw, "--include-cert",
                        stdin=STANZA)
    ca = xmppsec("verify", "--ca", ident / "cert.pem", "--json", stdin=with_cert.out)
    assert json.loads(ca.out)["error_type"] in (None, "UntrustedKey")
    wrong = xmppsec("sign", "--key", bundle, stdin=STANZA)
    assert wrong.code == 2 and "PKCS#12" in wrong.err


def test_inspect_says_not_verified(ident: Path) -> None:
    signed = _sign(ident, "--include-cert")
    done = xmppsec("inspect", stdin=signed.replace(b"Romeo?", b"Paris?"))
    text = done.out.decode()
    assert done.code == 0 and text.startswith("NOT VERIFIED")
    assert "signer: juliet@capulet.net" in text and "SignatureMethod" in text
    assert "reference" in text and "certificates in KeyInfo: 1" in text


def test_conflicting_options(ident: Path, tmp_path: Path) -> None:
    a = tmp_path / "a.xml"
    a.write_bytes(b"<stream/>")
    for args in (("--archive", a, "--in", a), ("--archive", a, "--json"),
                 ("--report", tmp_path / "r"), ("--jobs", "2")):
        done = xmppsec("verify", "--trust", ident / "cert.pem", *args)
        assert done.code == 2 and done.err.count("\n") == 1, (args, done.err)


def test_full_device_and_bad_out(ident: Path, tmp_path: Path) -> None:
    with open("/dev/full", "wb") as full:
        import subprocess
        import sys
        script = Path(sys.executable).parent / "xmppsec"
        proc = subprocess.run(
            [str(script), "sign", "--key", str(ident / "key.pem"), "--cert",
             str(ident / "cert.pem")], input=STANZA, stdout=full, capture_output=False,
            stderr=subprocess.PIPE, check=False, timeout=60)
    err = proc.stderr.decode()
    assert proc.returncode == 2 and "Traceback" not in err and err.count("\n") == 1, err
    for out in (tmp_path, tmp_path / "no" / "dir" / "x.xml"):
        done = xmppsec("sign", "--key", ident / "key.pem", "--cert", ident / "cert.pem",
                       "--out", out, stdin=STANZA)
        assert done.code == 2 and "Traceback" not in done.err


def test_archive_without_closing_tag(ident: Path, tmp_path: Path) -> None:
    head = (b"<stream:stream xmlns='jabber:client' "
            b"xmlns:stream='http://etherx.jabber.org/streams'>")
    stanzas = [_sign(ident, stdin=STANZA.replace(b"id='c1'", f"id='m{i}'".encode()))
               for i in range(3)]
    live = tmp_path / "live.xml"
    live.write_bytes(head + b"".join(stanzas) + stanzas[0][:40])
    report = tmp_path / "report.jsonl"
    done = xmppsec("verify", "--trust", ident / "cert.pem", "--archive", live,
                   "--report", report, "--jobs", "1")
    assert done.code == 0, done.err
    lines = [json.loads(x) for x in report.read_text().splitlines()]
    assert [r["stanza"]["id"] for r in lines] == ["m0", "m1", "m2"]
    assert all(set(r) == REPORT_KEYS and r["archive"]["source"] == "stream" for r in lines)
    assert "closing tag" in done.err
    full = xmppsec("verify", "--trust", ident / "cert.pem", "--archive", live,
                   "--report", "/dev/full", "--jobs", "1")
    assert full.code == 2 and "cannot write the report" in full.err


def test_codegen_not_an_xsd(tmp_path: Path) -> None:
    bogus = tmp_path / "x.xsd"
    bogus.write_bytes(b"<root/>")
    done = xmppsec("codegen", "--schema", bogus, "--package", "p", "--out", tmp_path / "o")
    assert done.code == 2 and "not an XML schema" in done.err and "Traceback" not in done.err


def test_a_hundred_bad_invocations(ident: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    junk = tmp_path / "junk"
    junk.write_bytes(b"\x00junk")
    commands: list[list[str | Path]] = [
        ["sign"], ["verify"], ["keygen"], ["e2e", "encrypt"], ["e2e", "decrypt"],
        ["e2e", "sign"], ["e2e", "verify"], ["e2e", "wrap"], ["inspect"],
    ]
    bad_options: list[list[str | Path]] = [
        ["--key", missing, "--cert", missing],
        ["--key", junk, "--cert", junk],
        ["--trust", missing],
        ["--frobnicate"],
        ["--jobs", "many"],
        ["--in", missing],
        ["--replay-db", tmp_path / "no" / "such" / "db", "--trust", ident / "cert.pem",
         "--in", missing],
        ["--key", ident / "key.pem", "--cert", junk, "--to-cert", junk, "--trust", junk,
         "--jid", "@bad", "--out", junk, "--to", "@", "--kind", "iq"],
        ["--days", "0", "--jid", JULIET, "--out", tmp_path / "d"],
        ["--passphrase-file", missing, "--key", ident / "key.pem", "--cert",
         ident / "cert.pem", "--jid", JULIET, "--out", tmp_path / "e", "--trust",
         ident / "cert.pem", "--to-cert", ident / "cert.pem", "--to", JULIET],
        ["--now", "yesterday", "--trust", ident / "cert.pem"],
        ["--profile", "bogus"],
    ]
    runs = 0
    for cmd, opts in itertools.product(commands, bad_options):
        done = xmppsec(*cmd, *opts, stdin=b"<message/>")
        runs += 1
        assert "Traceback" not in done.err, (cmd, opts, done.err)
        assert done.code == 2, (cmd, opts, done.code, done.err)
        assert done.err.count("\n") == 1 and "error" in done.err, (cmd, opts, done.err)
    assert runs >= 100
