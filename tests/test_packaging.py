"""The wheel: contents, and typed use from a fresh virtual environment (mypy --strict consumer)."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "tests" / "vectors" / "codegen"

CONSUMER = '''\
"""A strict-mypy consumer of the installed wheel."""

from xsdata.formats.dataclass.parsers import XmlParser

from xmppsec.bindings.dsig import StanzaDesc
from xmppsec.bindings.jabber_client import Message, MessageType
from xmppsec.errors import XmppSecError


def signer_of(desc: StanzaDesc) -> str:
    return desc.signer


def bodies(message: Message) -> list[str]:
    return [c.value for c in message.choice if isinstance(c, MessageType.Body)]


def explain(error: XmppSecError) -> str:
    return f"{type(error).__name__}: {error}"


message = XmlParser().from_bytes(
    b"<message xmlns='jabber:client' to='romeo@montague.net'><body>hi</body></message>", Message
)
lang: str | None = message.xml_lang
print(bodies(message), message.to, lang, StanzaDesc.Meta.name)
'''

MISUSE = '''\
from xmppsec.bindings.dsig import StanzaDesc
from xmppsec.bindings.jabber_client import Message


def signer_length(desc: StanzaDesc) -> int:
    return desc.signer


wrong = Message(to=42)
'''


def _run(args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    proc = _run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir",
                 str(out), str(ROOT)], cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    wheels = sorted(out.glob("xmppsec-*.whl"))
    assert len(wheels) == 1
    return wheels[0]


@pytest.mark.integration
def test_wheel_contents(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "xmppsec/py.typed",
        "xmppsec/bindings/py.typed",
        "xmppsec/bindings/__init__.py",
        "xmppsec/bindings/jabber_client.py",
        "xmppsec/bindings/xsd/xmppsec.xsd",
        "xmppsec/bindings/xsd/xmpp-dsig.xsd",
        "xmppsec/errors.py",
        "xmppsec/cli/__init__.py",  # the console script's target, xmppsec.cli:main
        "xmppsec/cli/__main__.py",
        "xmppsec/codegen/__init__.py",
        "xmppsec/codegen/templates/class.py.jinja2",
        "xmppsec/codegen/templates/schemas.md.jinja2",
    ):
        assert required in names, required
    assert "xmppsec/__init__.py" in names  # the façade (the other roots hold none)
    assert "xmppsec/hazmat.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.startswith(("codegen/", "generated/", "runtime/"))]


@pytest.mark.integration
def test_fresh_venv_consumer_type_checks_and_misuse_is_reported(
    wheel: Path, tmp_path: Path
) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    install = _run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    str(wheel), "mypy==2.4.1", "lxml-stubs==0.5.1"], cwd=tmp_path, timeout=600)
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]

    project = tmp_path / "consumer"
    project.mkdir()
    (project / "consumer.py").write_text(CONSUMER, encoding="utf-8")
    (project / "misuse.py").write_text(MISUSE, encoding="utf-8")

    ran = _run([str(python), "consumer.py"], cwd=project)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "['hi'] romeo@montague.net None stanza-desc"

    ok = _run([str(python), "-m", "mypy", "--strict", "consumer.py"], cwd=project)
    assert ok.returncode == 0, ok.stdout + ok.stderr

    bad = _run([str(python), "-m", "mypy", "--strict", "misuse.py"], cwd=project)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert 'Incompatible return value type (got "str", expected "int")' in bad.stdout
    assert 'Argument "to" to "Message" has incompatible type "int"' in bad.stdout

    # The generator ships in the wheel. xsdata's codegen needs click + toposort: either they
    # are dependencies, or the "codegen" extra brings them and, without it, the generator says
    # so (usage error, exit 2) instead of failing with a traceback.
    out = tmp_path / "user"
    command = [str(python), "-m", "xmppsec.codegen", "--quiet", "--schema",
               str(VECTORS / "sec-label.xsd"), "--package", "labels", "--out", str(out)]
    gen = _run(command, cwd=tmp_path)
    if gen.returncode != 0:
        assert gen.returncode == 2, gen.stderr
        assert "pip install 'xmppsec[codegen]'" in gen.stderr
        archive = zipfile.ZipFile(wheel)
        metadata_name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(metadata_name).decode()
        assert "Provides-Extra: codegen" in metadata, "pyproject.toml lacks the codegen extra"
        extra = _run([str(python), "-m", "pip", "install", "--quiet",
                      "--disable-pip-version-check", f"{wheel}[codegen]"], cwd=tmp_path,
                     timeout=600)
        assert extra.returncode == 0, extra.stderr[-3000:]
        gen = _run(command, cwd=tmp_path)
    assert gen.returncode == 0, gen.stderr
    assert (out / "labels" / "sec_label.py").read_text(encoding="utf-8").startswith(
        "# DO NOT EDIT")
