"""``xmppsec e2e ...`` through the real CLI entry point, plus openssl on its output."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from lxml import etree

from xmppsec.cli import run
from xmppsec.cli._demo import demo_round_trip
from xmppsec.e2e import ContentCipher, seal_stanza

if TYPE_CHECKING:  # pytest imports tests/ modules top-level (rootdir mode), mypy by path
    from tests.test_e2e_support import make_ident, openssl
else:
    from test_e2e_support import make_ident, openssl

MSG = (
    b"<message xmlns='jabber:client' from='juliet@example.com/balcony' "
    b"to='romeo@example.net/orchard' type='chat' id='c1'><body>By the CLI</body></message>"
)


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    jk, jc = make_ident("juliet@example.com").write(tmp_path, "juliet")
    rk, rc = make_ident("romeo@example.net").write(tmp_path, "romeo")
    (tmp_path / "msg.xml").write_bytes(MSG)
    return {"jk": jk, "jc": jc, "rk": rk, "rc": rc, "msg": tmp_path / "msg.xml",
            "dir": tmp_path}


def test_encrypt_then_decrypt(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    d = files["dir"]
    assert run(["e2e", "encrypt", "--key", str(files["jk"]), "--cert", str(files["jc"]),
                "--to-cert", str(files["rc"]), "--in", str(files["msg"]),
                "--out", str(d / "sealed.xml")]) == 0
    assert b"urn:ietf:params:xml:ns:xmpp-e2e" in (d / "sealed.xml").read_bytes()
    assert run(["e2e", "decrypt", "--key", str(files["rk"]), "--cert", str(files["rc"]),
                "--trust", str(files["jc"]), "--in", str(d / "sealed.xml"),
                "--out", str(d / "plain.xml")]) == 0
    assert b"<body>By the CLI</body>" in (d / "plain.xml").read_bytes()
    capsys.readouterr()
    assert run(["e2e", "decrypt", "--key", str(files["rk"]), "--cert", str(files["rc"]),
                "--trust", str(files["jc"]), "--in", str(d / "sealed.xml"), "--json",
                "--no-replay"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["schema"] == 1 and report["valid"] and report["e2e"]["encrypted"]
    assert report["signatures"][0]["signer"] == "juliet@example.com"


def test_decrypt_rejections(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """For an encrypted object every failure after the key unwrap is the one opaque
    decryption-failed (issue "RFC 3923 under attack": no padding oracle through the reply)."""
    d = files["dir"]
    run(["e2e", "encrypt", "--key", str(files["jk"]), "--cert", str(files["jc"]),
         "--to-cert", str(files["rc"]), "--in", str(files["msg"]), "--out", str(d / "s.xml")])

    def condition(*extra: str, key: str = "rk", cert: str = "rc", trust: str = "jc") -> str:
        capsys.readouterr()
        code = run(["e2e", "decrypt", "--key", str(files[key]), "--cert", str(files[cert]),
                    "--trust", str(files[trust]), "--in", str(d / "s.xml"), "--no-replay",
                    "--json", *extra])
        out = capsys.readouterr()
        assert code == 1 and "rejected" in out.err
        return str(json.loads(out.out)["condition"])

    assert condition(trust="rc") == "decryption-failed"  # the signer is not trusted
    assert condition(key="jk", cert="jc") == "decryption-failed"  # not a recipient
    later = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert condition("--now", later) == "decryption-failed"  # an old timestamp
    assert condition("--recipient", "mallory@evil.example") == "decryption-failed"


def test_sign_verify_and_decrypt_requires_encryption(files: dict[str, Path]) -> None:
    d = files["dir"]
    assert run(["e2e", "sign", "--key", str(files["jk"]), "--cert", str(files["jc"]),
                "--in", str(files["msg"]), "--out", str(d / "signed.xml"), "--digest", "sha1"]) == 0
    assert run(["e2e", "verify", "--trust", str(files["jc"]), "--in", str(d / "signed.xml"),
                "--out", str(d / "v.xml")]) == 1  # SHA-1 refused by default
    assert run(["e2e", "verify", "--trust", str(files["jc"]), "--in", str(d / "signed.xml"),
                "--allow-sha1", "--out", str(d / "v.xml")]) == 0
    assert b"By the CLI" in (d / "v.xml").read_bytes()
    assert run(["e2e", "decrypt", "--key", str(files["rk"]), "--cert", str(files["rc"]),
                "--trust", str(files["jc"]), "--allow-sha1", "--in", str(d / "signed.xml")]) == 1


def test_usage_errors(files: dict[str, Path]) -> None:
    d = files["dir"]
    assert run(["e2e", "encrypt", "--key", str(d / "missing.key"), "--cert", str(files["jc"]),
                "--to-cert", str(files["rc"]), "--in", str(files["msg"])]) == 2
    assert run(["e2e", "encrypt", "--key", str(files["msg"]), "--cert", str(files["jc"]),
                "--to-cert", str(files["rc"]), "--in", str(files["msg"])]) == 2
    assert run(["e2e"]) == 2
    with pytest.raises(SystemExit) as info:
        run(["e2e", "encrypt"])
    assert info.value.code == 2


@pytest.mark.integration
def test_unwrap_for_openssl_and_wrap_back(files: dict[str, Path]) -> None:
    d = files["dir"]
    run(["e2e", "encrypt", "--key", str(files["jk"]), "--cert", str(files["jc"]),
         "--to-cert", str(files["rc"]), "--in", str(files["msg"]), "--out", str(d / "s.xml")])
    assert run(["e2e", "unwrap", "--in", str(d / "s.xml"), "--out", str(d / "s.smime")]) == 0
    signed = openssl("cms", "-decrypt", "-in", str(d / "s.smime"), "-recip", str(files["rc"]),
                     "-inkey", str(files["rk"]))
    (d / "signed.smime").write_bytes(signed)
    cpim = openssl("cms", "-verify", "-in", str(d / "signed.smime"), "-CAfile",
                   str(files["jc"]), "-purpose", "any")
    assert b"By the CLI" in cpim
    assert run(["e2e", "wrap", "--to", "romeo@example.net/orchard", "--from",
                "juliet@example.com/balcony", "--type", "chat", "--in", str(d / "s.smime"),
                "--out", str(d / "again.xml")]) == 0
    assert run(["e2e", "decrypt", "--key", str(files["rk"]), "--cert", str(files["rc"]),
                "--trust", str(files["jc"]), "--in", str(d / "again.xml"),
                "--out", str(d / "p.xml")]) == 0
    assert run(["e2e", "unwrap", "--in", str(files["msg"])]) == 1  # no <e2e/>


def test_stdin_stdout_subprocess(files: dict[str, Path]) -> None:
    env_path = str(Path(__file__).resolve().parents[1])
    cmd = [sys.executable, "-m", "xmppsec.cli", "e2e", "encrypt", "--key", str(files["jk"]),
           "--cert", str(files["jc"]), "--to-cert", str(files["rc"])]
    env = {"PYTHONPATH": f"{env_path}/runtime:{env_path}/generated:{env_path}/codegen"}
    sealed = subprocess.run(cmd, input=MSG, capture_output=True, check=True, env=env,
                            timeout=60).stdout
    out = subprocess.run(
        [sys.executable, "-m", "xmppsec.cli", "e2e", "decrypt", "--key", str(files["rk"]),
         "--cert", str(files["rc"]), "--trust", str(files["jc"])],
        input=sealed, capture_output=True, check=False, env=env, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert b"<body>By the CLI</body>" in out.stdout


def test_demo_round_trip_lines() -> None:
    lines = demo_round_trip()
    text = "\n".join(lines)
    assert "signed by juliet@example.com, encrypted=True" in text
    assert "tampered copy: rejected" in text and "replayed copy: rejected" in text
    assert "ACCEPTED" not in text


def test_unopenable_replay_store_is_a_usage_error(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    # Before the one CLI package, e2e opened SQLite itself and this ended in a traceback.
    d = files["dir"]
    run(["e2e", "encrypt", "--key", str(files["jk"]), "--cert", str(files["jc"]),
         "--to-cert", str(files["rc"]), "--in", str(files["msg"]), "--out", str(d / "s.xml")])
    capsys.readouterr()
    code = run(["e2e", "decrypt", "--key", str(files["rk"]), "--cert", str(files["rc"]),
                "--trust", str(files["jc"]), "--in", str(d / "s.xml"),
                "--replay-db", str(d / "no" / "such" / "dir" / "replay.db")])
    assert code == 2
    assert capsys.readouterr().err.startswith("xmppsec: error:")


def test_library_exports_no_cli_plumbing() -> None:
    import xmppsec.e2e

    assert not {"register_cli", "demo_round_trip"} & set(dir(xmppsec.e2e))
    assert not {"register_cli", "demo_round_trip"} & set(xmppsec.e2e.__all__)


# -- inspect on e2e objects, --content-type, wrap --kind iq --id ---------------------------


def _out(capsys: pytest.CaptureFixture[str], argv: list[str], code: int = 0) -> str:
    capsys.readouterr()
    assert run(argv) == code
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return captured.out if code == 0 else captured.err


def _serial(path: Path) -> str:
    return str(x509.load_pem_x509_certificate(path.read_bytes()).serial_number)


def test_inspect_signed_only_object(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Signers, algorithms, CPIM headers and the payload type of a signed-only object, as
    the object claims them: a tampered object prints the same and is not verified."""
    d = files["dir"]
    assert run(["e2e", "sign", "--key", str(files["jk"]), "--cert", str(files["jc"]),
                "--digest", "sha384", "--in", str(files["msg"]),
                "--out", str(d / "s.xml")]) == 0
    text = _out(capsys, ["inspect", "--in", str(d / "s.xml")])
    lines = text.splitlines()
    assert lines[0].startswith("NOT VERIFIED")
    assert "multipart/signed (micalg=sha-384, protocol=application/pkcs7-signature)" in text
    assert "From: <im:juliet@example.com>" in text and "To: <im:romeo@example.net>" in text
    assert "DateTime: " in text and "payload Content-Type: text/plain" in text
    assert "digest algorithms: sha384" in text
    signer = next(ln for ln in lines if ln.strip().startswith("signer: "))
    assert f"serial {_serial(files['jc'])}" in signer and "juliet@example.com" in signer
    assert "signature rsassa_pkcs1v15" in signer and "digest sha384" in signer
    assert "xmppAddr: juliet@example.com" in text and "signing time: " in text
    assert "recipient:" not in text and "By the CLI" not in text.replace("payload", "")
    tampered = (d / "s.xml").read_bytes().replace(b"By the CLI", b"By the NSA")
    (d / "t.xml").write_bytes(tampered)
    assert _out(capsys, ["inspect", "--in", str(d / "t.xml")]).splitlines()[1:] == lines[1:]
    assert run(["e2e", "verify", "--trust", str(files["jc"]), "--no-replay",
                "--in", str(d / "t.xml")]) == 1  # inspect did not vouch for it


def test_inspect_encrypted_only_object(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Every recipient (RSA key transport and ECDH key agreement) and the content cipher of
    an unsigned encrypted object; nothing decrypted."""
    d = files["dir"]
    romeo, nurse = make_ident("romeo@example.net"), make_ident("nurse@example.net", "ecdsa-p256")
    juliet = make_ident("juliet@example.com")
    for cipher, content_alg, kind, transport, wrap in (
        (ContentCipher.AES256_GCM, "aes256_gcm", "authenticated_enveloped_data", "rsaes_oaep",
         "aes256_wrap"),
        (ContentCipher.AES128_CBC, "aes128_cbc", "enveloped_data", "rsaes_pkcs1v15",
         "aes128_wrap"),
    ):
        sealed = seal_stanza(MSG, key=juliet.key, certificate=juliet.cert, sign=False,
                             recipients=[romeo.cert, nurse.cert], cipher=cipher)
        (d / "e.xml").write_bytes(sealed)
        text = _out(capsys, ["inspect", "--in", str(d / "e.xml")])
        assert text.startswith("NOT VERIFIED") and f"CMS {kind}" in text
        assert f"content encryption: {content_alg}" in text
        recipients = [ln.strip() for ln in text.splitlines() if "recipient: " in ln]
        assert len(recipients) == 2, text
        assert f"serial {romeo.cert.serial_number}" in recipients[0]
        assert recipients[0].endswith(f"key transport {transport}")
        assert f"serial {nurse.cert.serial_number}" in recipients[1]
        assert recipients[1].endswith(
            f"key agreement ECDH (standard, SHA-256 KDF), key wrap {wrap}"
        )
        assert "signers: inside the encrypted content" in text
        assert "By the CLI" not in text and "message/cpim" not in text


def test_inspect_signed_and_encrypted_object(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The envelope of a signed+encrypted object: its recipients and cipher. The signer is
    inside the ciphertext: inspect says so and neither decrypts nor verifies it."""
    d = files["dir"]
    assert run(["e2e", "encrypt", "--key", str(files["jk"]), "--cert", str(files["jc"]),
                "--to-cert", str(files["rc"]), "--to-cert", str(files["jc"]),
                "--in", str(files["msg"]), "--out", str(d / "se.xml")]) == 0
    text = _out(capsys, ["inspect", "--in", str(d / "se.xml")])
    assert text.startswith("NOT VERIFIED")
    assert "application/pkcs7-mime" in text and "content encryption: aes256_gcm" in text
    recipients = [ln for ln in text.splitlines() if "recipient: " in ln]
    assert [f"serial {_serial(files[k])}" in r for r, k in zip(recipients, ("rc", "jc"),
                                                               strict=True)] == [True, True]
    assert all("key transport rsaes_oaep" in r for r in recipients)
    assert "signers: inside the encrypted content (not shown" in text
    assert "multipart/signed" not in text and "By the CLI" not in text
    assert "digest algorithms" not in text
    # inspecting recorded nothing: the object still opens (the default replay store is on)
    assert run(["e2e", "decrypt", "--key", str(files["rk"]), "--cert", str(files["rc"]),
                "--trust", str(files["jc"]), "--in", str(d / "se.xml")]) == 0


PRESENCE = (
    b"<presence xmlns='jabber:client' from='juliet@example.com/balcony' "
    b"to='romeo@example.net/orchard'><status>Here</status></presence>"
)


@pytest.mark.parametrize(
    ("stanza", "flag", "seen"),
    [
        (MSG, None, "text/plain"),
        (MSG, "text/plain", "text/plain"),
        (MSG, "application/xmpp+xml", "application/xmpp+xml"),
        (PRESENCE, None, "application/pidf+xml"),
        (PRESENCE, "application/pidf+xml", "application/pidf+xml"),
        (PRESENCE, "application/xmpp+xml", "application/xmpp+xml"),
    ],
)
@pytest.mark.parametrize("command", ["sign", "encrypt"])
def test_content_type_is_what_the_receiver_opens(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str], stanza: bytes,
    flag: str | None, seen: str, command: str,
) -> None:
    d = files["dir"]
    (d / "in.xml").write_bytes(stanza)
    argv = ["e2e", command, "--key", str(files["jk"]), "--cert", str(files["jc"]),
            "--in", str(d / "in.xml"), "--out", str(d / "out.xml")]
    argv += ["--to-cert", str(files["rc"])] if command == "encrypt" else []
    argv += ["--content-type", flag] if flag else []
    assert run(argv) == 0
    opener = (["e2e", "decrypt", "--key", str(files["rk"]), "--cert", str(files["rc"])]
              if command == "encrypt" else ["e2e", "verify"])
    report = json.loads(_out(capsys, [*opener, "--trust", str(files["jc"]), "--json",
                                      "--no-replay", "--in", str(d / "out.xml")]))
    assert report["valid"] and report["e2e"]["content_type"] == seen
    assert report["e2e"]["encrypted"] is (command == "encrypt")
    inner = etree.fromstring(report["e2e"]["inner_stanza"].encode())
    assert inner.tag == etree.fromstring(stanza).tag
    if command == "sign":  # the payload type is visible without opening it
        assert f"payload Content-Type: {seen}" in _out(capsys, ["inspect", "--in",
                                                                str(d / "out.xml")])


def test_bad_content_type_is_a_usage_error(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    d = files["dir"]
    (d / "p.xml").write_bytes(PRESENCE)
    (d / "two.xml").write_bytes(MSG.replace(b"<body>", b"<subject>S</subject><body>"))
    cases = [
        (files["msg"], "text/html"),
        (files["msg"], "garbage"),
        (files["msg"], "TEXT/PLAIN"),
        (files["msg"], ""),
        (files["msg"], "application/pidf+xml"),  # a message is not presence
        (d / "p.xml", "text/plain"),  # a presence has no body
        (d / "two.xml", "text/plain"),  # text/plain would drop the subject
    ]
    for source, value in cases:
        for command in ("sign", "encrypt"):
            argv = ["e2e", command, "--key", str(files["jk"]), "--cert", str(files["jc"]),
                    "--in", str(source), "--content-type", value, "--out", str(d / "x.xml")]
            argv += ["--to-cert", str(files["rc"])] if command == "encrypt" else []
            capsys.readouterr()
            try:
                code = run(argv)
            except SystemExit as exc:  # argparse refuses a value outside the choices
                code = int(str(exc.code))
            err = capsys.readouterr().err
            assert code == 2, (value, command, err)
            assert err.count("\n") == 1 and "error" in err and "Traceback" not in err, err
            assert not (d / "x.xml").exists()


def test_wrap_iq_carries_the_given_id(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """gateway wrap --kind iq --id ID: the stanza is that iq with that id (and type set
    unless --type says otherwise), and it opens; an iq without --id is refused."""
    d = files["dir"]
    (d / "iq.xml").write_bytes(
        b"<iq xmlns='jabber:client' from='juliet@example.com/balcony' "
        b"to='romeo@example.net/orchard' id='q1' type='get'>"
        b"<query xmlns='jabber:iq:version'/></iq>"
    )
    assert run(["e2e", "sign", "--key", str(files["jk"]), "--cert", str(files["jc"]),
                "--in", str(d / "iq.xml"), "--out", str(d / "s.xml")]) == 0
    assert run(["e2e", "unwrap", "--in", str(d / "s.xml"), "--out", str(d / "s.smime")]) == 0
    for extra, stanza_type in (([], "set"), (["--type", "get"], "get")):
        assert run(["e2e", "wrap", "--to", "romeo@example.net/orchard",
                    "--from", "juliet@example.com/balcony", "--kind", "iq", "--id", "q-42 x",
                    *extra, "--in", str(d / "s.smime"), "--out", str(d / "w.xml")]) == 0
        root = etree.fromstring((d / "w.xml").read_bytes())
        assert root.tag == "{jabber:client}iq" and root.get("id") == "q-42 x"
        assert root.get("type") == stanza_type
        capsys.readouterr()
        code = run(["e2e", "verify", "--trust", str(files["jc"]), "--json", "--no-replay",
                    "--in", str(d / "w.xml")])
        report = json.loads(capsys.readouterr().out)
        if stanza_type == "set":  # the signed iq is a get: the receiver sees the difference
            assert code == 1 and report["error_type"] == "StanzaMismatch", report
        else:  # it opens; the report names the signed inner iq (application/xmpp+xml)
            assert code == 0 and report["valid"] and report["stanza"]["name"] == "iq", report
            assert report["stanza"]["id"] == "q1"
        (d / "w.xml").unlink()
    assert run(["e2e", "wrap", "--to", "romeo@example.net", "--id", "m9", "--in",
                str(d / "s.smime"), "--out", str(d / "m.xml")]) == 0
    assert etree.fromstring((d / "m.xml").read_bytes()).get("id") == "m9"
    err = _out(capsys, ["e2e", "wrap", "--to", "romeo@example.net", "--kind", "iq",
                        "--in", str(d / "s.smime")], code=2)
    assert "--id" in err and err.count("\n") == 1


def _nested(levels: int) -> bytes:
    """An <e2e/> whose multipart/signed first part nests ``levels`` multipart/mixed."""
    part = b"Content-Type: text/plain\r\n\r\nx\r\n"
    for i in range(levels):
        b = f"b{i}".encode()
        part = (b'Content-Type: multipart/mixed; boundary="' + b + b'"\r\n\r\n--' + b + b"\r\n"
                + part + b"\r\n--" + b + b"--\r\n")
    entity = (b'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; '
              b'micalg=sha-256; boundary="top"\r\n\r\n--top\r\n' + part
              + b"\r\n--top\r\nContent-Type: application/pkcs7-signature\r\n\r\nAAAA\r\n"
              b"--top--\r\n")
    return (b"<message xmlns='jabber:client' to='romeo@example.net' from='juliet@example.com'>"
            b"<e2e xmlns='urn:ietf:params:xml:ns:xmpp-e2e'><![CDATA[\r\n" + entity
            + b"]]></e2e></message>")


def test_inspect_deeply_nested_mime(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A hostile nesting is shown to a depth, and one deep enough to exhaust the standard
    library parser's recursion is a rejection (exit 1, one line), never a traceback."""
    (tmp_path / "some.xml").write_bytes(_nested(20))
    text = _out(capsys, ["inspect", "--in", str(tmp_path / "some.xml")])
    assert "nested deeper than 8 levels: not shown" in text
    assert "CMS" in text or "unreadable CMS" in text  # the signature part is still shown
    (tmp_path / "deep.xml").write_bytes(_nested(3000))
    err = _out(capsys, ["inspect", "--in", str(tmp_path / "deep.xml")], code=1)
    assert err == "rejected: SMIMEFormatError: MIME parts nested too deep to inspect\n"
