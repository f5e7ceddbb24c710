"""Typing for strict users: mypy --strict, with the repository's configuration, reports every
misuse of the public API planted in a consumer module (one per line), and a correct consumer
module type-checks clean (so the errors are about the misuses, not about the stubs)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

HEADER = '''\
from datetime import UTC, datetime, timedelta

from xmppsec import Policy, Signer, TrustStore, Verifier
from xmppsec.bindings.jabber_client import Message
from xmppsec.dsig import VerificationResult
from xmppsec.errors import ReplayError, VerificationError, XmppSecError
from xmppsec.integrations.slixmpp import DsigConfig
from xmppsec.keys import generate_identity
from xmppsec.replay import AsyncSQLiteReplayStore, MemoryReplayStore, SQLiteReplayStore
from xmppsec.schema import to_binding

T0 = datetime(2026, 11, 22, tzinfo=UTC)
juliet = generate_identity("juliet@capulet.net")
trust = TrustStore().pin("juliet@capulet.net", juliet.certificate)
signer = Signer(juliet.private_key, signer="juliet@capulet.net")
result: VerificationResult = Verifier(trust).check(signer.sign(b"<message/>"))
'''

# One misuse per line; each must be reported on its own line.
MISUSES = [
    'Signer(juliet.private_key, signer=42)',
    'Signer("not a key", signer="juliet@capulet.net")',
    'Verifier(trust="juliet@capulet.net")',
    'Verifier(trust, policy="strict")',
    'Policy(window=300)',
    'TrustStore().pin("romeo@montague.net", b"-----BEGIN CERTIFICATE-----")',
    'signer.sign("<message/>")',
    'result.valid = True',
    'when: str = result.signatures[0].timestamp',
    'count: int = result.unsigned_children',
    'generate_identity("juliet@capulet.net", 2048)',
    'SQLiteReplayStore(42)',
    'MemoryReplayStore().check_and_record("a@b", b"t", T0, now=T0, window=300)',
    'to_binding(b"<message/>", "Message")',
    'Message(to=42)',
    'err: ReplayError = VerificationError("x")',
    'error_type: type[XmppSecError] = ValueError',
    'DsigConfig(on_sign_error="ignore")',
    'DsigConfig(sign=("mesage",))',
    'DsigConfig(replay="redis")',
    'AsyncSQLiteReplayStore("r.db").check_and_record("a@b", b"t", T0, now=T0, window=300)',
]

GOOD = '''
signed: bytes = signer.sign(b"<message xmlns='jabber:client'/>")
checked = Verifier(trust, policy=Policy(window=timedelta(minutes=2))).check(signed)
ok: bool = checked.valid
when: datetime | None = checked.signatures[0].timestamp if checked.signatures else None
MemoryReplayStore().check_and_record("a@b", b"t", T0, now=T0, window=timedelta(minutes=5))
config = DsigConfig(trust=trust, replay=AsyncSQLiteReplayStore("r.db"), sign=("message", "iq"))
try:
    Verifier(trust).verify(signed)
except XmppSecError as exc:
    reason: str = str(exc)
'''


def _mypy(tmp_path: Path, body: str, extra: list[str] | None = None) -> tuple[str, str]:
    path = tmp_path / "consumer.py"
    path.write_text(HEADER + body, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
         "--cache-dir", str(tmp_path.parent / "mypy-cache"), "--no-error-summary",
         "--hide-error-context", *(extra or []), str(path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    return str(path), proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("typing")


def test_a_correct_consumer_type_checks(workdir: Path) -> None:
    (workdir / "good").mkdir(exist_ok=True)
    _, out = _mypy(workdir / "good", GOOD)
    assert not out.strip(), out


def test_every_misuse_is_reported(workdir: Path) -> None:
    (workdir / "bad").mkdir(exist_ok=True)
    lines = "\n".join(MISUSES) + "\n"
    path, out = _mypy(workdir / "bad", lines)
    first = HEADER.count("\n") + 1
    reported = {int(m) for m in re.findall(re.escape(path) + r":(\d+): error", out)}
    expected: list[int] = []
    line = first
    for misuse in MISUSES:
        expected.append(line + misuse.count("\n"))  # a two-line entry: its last line errs
        line += misuse.count("\n") + 1
    missing = [(n, MISUSES[i]) for i, n in enumerate(expected) if n not in reported]
    assert not missing, f"mypy did not report: {missing}\n{out}"
    assert len(MISUSES) >= 12
    # the header itself (correct code) is clean
    assert not any(n < first for n in reported), out


# -- the same consumer with types-lxml instead of lxml-stubs ------------------------------
# The two stub packages install the same `lxml-stubs` directory, so they cannot share one
# environment: point XMPPSEC_TYPES_LXML_PYTHON at the python of a virtual environment that
# holds xmppsec (the wheel), its dependencies and types-lxml. mypy then checks the consumer
# as a user's project would: xmppsec is an installed, py.typed package.
TYPES_LXML_PYTHON = os.environ.get("XMPPSEC_TYPES_LXML_PYTHON")


@pytest.mark.skipif(
    not TYPES_LXML_PYTHON, reason="XMPPSEC_TYPES_LXML_PYTHON names no environment with types-lxml"
)
def test_consumer_with_types_lxml(tmp_path: Path) -> None:
    assert TYPES_LXML_PYTHON is not None
    probe = subprocess.run(
        [TYPES_LXML_PYTHON, "-c", "import importlib.metadata as m; print(m.version('types-lxml'))"],
        capture_output=True, text=True,
    )
    assert probe.returncode == 0, "types-lxml is not installed there"

    def check(body: str) -> tuple[Path, str]:
        path = tmp_path / f"consumer_{len(body)}.py"
        path.write_text(HEADER + body, encoding="utf-8")
        proc = subprocess.run(
            [sys.executable, "-m", "mypy", "--strict", "--python-executable", TYPES_LXML_PYTHON,
             "--cache-dir", str(tmp_path / "cache"), "--no-error-summary", path.name],
            cwd=tmp_path, capture_output=True, text=True, timeout=600,
        )
        return path, proc.stdout + proc.stderr

    _, out = check(GOOD)
    assert not out.strip(), out
    path, out = check("\n".join(MISUSES) + "\n")
    reported = {int(m) for m in re.findall(re.escape(path.name) + r":(\d+): error", out)}
    first = HEADER.count("\n") + 1
    assert reported >= set(range(first, first + len(MISUSES))), out
