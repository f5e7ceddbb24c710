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
from xmppsec.e2e import ContentCipher, gateway_wrap, open_stanza, seal_stanza
from xmppsec.errors import ReplayError, VerificationError, XmppSecError
from xmppsec.integrations.slixmpp import DsigConfig, enable
from xmppsec.keys import check_key_strength, generate_identity
from xmppsec.replay import AsyncSQLiteReplayStore, MemoryReplayStore, SQLiteReplayStore
from xmppsec.schema import from_binding, to_binding

T0 = datetime(2026, 11, 22, tzinfo=UTC)
MSG = b"<message xmlns='jabber:client' from='juliet@capulet.net' to='romeo@montague.net'/>"
juliet = generate_identity("juliet@capulet.net")
romeo = generate_identity("romeo@montague.net", "rsa-2048")
trust = TrustStore().pin("juliet@capulet.net", juliet.certificate)
signer = Signer(juliet.private_key, signer="juliet@capulet.net")
result: VerificationResult = Verifier(trust).check(signer.sign(b"<message/>"))
sealed = seal_stanza(MSG, key=juliet.private_key, certificate=juliet.certificate,
                     recipients=[romeo.certificate])
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
    # RFC 3923 objects: keys, certificates, algorithms and ciphers are typed
    'seal_stanza(MSG, key=juliet.certificate, certificate=juliet.certificate)',
    'seal_stanza(MSG, key=juliet.private_key, certificate=juliet.private_key)',
    'seal_stanza(MSG, key=juliet.private_key, certificate=juliet.certificate, recipients=[b"pem"])',
    'seal_stanza(MSG, key=juliet.private_key, certificate=juliet.certificate, cipher="des")',
    'seal_stanza(MSG, key=juliet.private_key, certificate=juliet.certificate, digest="md5")',
    'seal_stanza(MSG, key=juliet.private_key, certificate=juliet.certificate, pss="yes")',
    'open_stanza(sealed, trust=trust, key=b"-----BEGIN PRIVATE KEY-----")',
    'open_stanza(sealed, trust=trust, key=romeo.certificate.public_key())',
    'open_stanza(sealed, trust=trust, key=romeo.private_key, certificate=romeo.private_key)',
    'open_stanza(sealed, trust=trust, key=romeo.private_key).signer.upper()',
    'open_stanza(sealed, key=romeo.private_key, certificate=romeo.certificate)',
    'gateway_wrap(b"entity", to="romeo@montague.net", kind="stanza")',
    'generate_identity("juliet@capulet.net", "rsa-1024")',
    'check_key_strength(juliet.private_key)',
    'from_binding("<message/>")',
    'enable("client")',
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
gcm = seal_stanza(MSG, key=juliet.private_key, certificate=juliet.certificate,
                  recipients=[romeo.certificate, juliet.certificate], digest="sha-384")
cbc = seal_stanza(MSG, key=juliet.private_key, certificate=juliet.certificate,
                  recipients=[romeo.certificate], cipher=ContentCipher.AES128_CBC, digest="sha1")
opened = open_stanza(gcm, trust=trust, key=romeo.private_key, certificate=romeo.certificate)
who: str | None = opened.signer
strong = check_key_strength(romeo.certificate.public_key())
wrapped: bytes = gateway_wrap(b"entity", to="romeo@montague.net", kind="iq", stanza_id="q1")
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


def _expected_lines() -> list[int]:
    """The line of each misuse in the consumer module (a two-line entry errs on its last)."""
    expected: list[int] = []
    line = HEADER.count("\n") + 1
    for misuse in MISUSES:
        expected.append(line + misuse.count("\n"))
        line += misuse.count("\n") + 1
    return expected


def _assert_every_misuse_reported(path: str, out: str) -> None:
    reported = {int(m) for m in re.findall(re.escape(path) + r":(\d+): error", out)}
    expected = _expected_lines()
    missing = [(n, MISUSES[i]) for i, n in enumerate(expected) if n not in reported]
    assert not missing, f"mypy did not report: {missing}\n{out}"
    assert len(MISUSES) >= 12
    # the header itself (correct code) is clean
    assert not any(n < HEADER.count("\n") + 1 for n in reported), out


def test_every_misuse_is_reported(workdir: Path) -> None:
    (workdir / "bad").mkdir(exist_ok=True)
    path, out = _mypy(workdir / "bad", "\n".join(MISUSES) + "\n")
    _assert_every_misuse_reported(path, out)


# -- the same consumer with types-lxml instead of lxml-stubs ------------------------------
# The two stub packages install the same `lxml-stubs` directory, so they cannot share one
# environment: `make typecheck-types-lxml` (part of `make test`) builds .tmp/venv-types-lxml,
# the dev set-up with types-lxml in place of lxml-stubs; XMPPSEC_TYPES_LXML_PYTHON names
# another such environment's python. mypy then checks the consumer as a user's project would:
# xmppsec is an installed, py.typed package. Missing: a failure in CI, a skip elsewhere.
TYPES_LXML_PYTHON = os.environ.get(
    "XMPPSEC_TYPES_LXML_PYTHON", str(ROOT / ".tmp" / "venv-types-lxml" / "bin" / "python")
)


@pytest.fixture(scope="module")
def types_lxml_python() -> str:
    # types-lxml and mypy there, and not lxml-stubs (the two share one directory)
    script = (
        "import importlib.metadata as m; m.version('types-lxml'); m.version('mypy')\n"
        "try:\n    m.version('lxml-stubs')\nexcept m.PackageNotFoundError:\n    pass\n"
        "else:\n    raise SystemExit('lxml-stubs is installed there too')"
    )
    probe = subprocess.run(
        [TYPES_LXML_PYTHON, "-c", script], capture_output=True, text=True, check=False,
    ) if Path(TYPES_LXML_PYTHON).exists() else None
    if probe is None or probe.returncode != 0:
        why = f"no environment with types-lxml (only) and mypy at {TYPES_LXML_PYTHON}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{why} (make typecheck-types-lxml builds it)")
        pytest.skip(f"{why}: run make typecheck-types-lxml")
    return TYPES_LXML_PYTHON


def _mypy_types_lxml(python: str, cwd: Path, *args: str) -> str:
    proc = subprocess.run(
        [python, "-m", "mypy", "--no-error-summary", "--hide-error-context", *args],
        cwd=cwd, capture_output=True, text=True, timeout=600,
    )
    return proc.stdout + proc.stderr


def test_consumer_with_types_lxml(types_lxml_python: str, tmp_path: Path) -> None:
    cache = str(tmp_path / "cache")
    good = tmp_path / "good.py"
    good.write_text(HEADER + GOOD, encoding="utf-8")
    out = _mypy_types_lxml(types_lxml_python, tmp_path, "--strict", "--cache-dir", cache,
                           good.name)
    assert not out.strip(), out
    bad = tmp_path / "bad.py"
    bad.write_text(HEADER + "\n".join(MISUSES) + "\n", encoding="utf-8")
    out = _mypy_types_lxml(types_lxml_python, tmp_path, "--strict", "--cache-dir", cache,
                           bad.name)
    _assert_every_misuse_reported(bad.name, out)


def test_repository_type_checks_with_types_lxml(types_lxml_python: str) -> None:
    """The repository's own strict check (pyproject's configuration) under types-lxml, with
    the cache `make typecheck-types-lxml` keeps (mypy revalidates it against the sources)."""
    out = _mypy_types_lxml(types_lxml_python, ROOT, "--cache-dir",
                           str(ROOT / ".tmp" / "mypy-types-lxml"),
                           "runtime", "generated", "codegen", "tests")
    assert not out.strip(), out
