"""``xmppsec e2e ...`` through the real CLI entry point, plus openssl on its output."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from xmppsec.cli import run
from xmppsec.cli._demo import demo_round_trip

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
