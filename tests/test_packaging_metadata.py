"""Packaging metadata: the LICENSE in the repository, the sdist and the wheel; classifiers;
ranges at run time; jinja2 only for the generator (tests/test_packaging.py: the wheel in use)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]


def test_license_file_is_mit_and_declared() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "the xmppsec authors" in text
    assert PROJECT["license"] == "MIT" and PROJECT["license-files"] == ["LICENSE"]


def test_runtime_dependencies_are_ranges() -> None:
    for requirement in PROJECT["dependencies"]:
        assert "==" not in requirement, f"exact pin at run time: {requirement}"
        assert re.search(r">=[^,]+,<", requirement), f"no upper/lower bound: {requirement}"


def test_runtime_does_not_need_jinja2() -> None:
    names = {re.split(r"[\[<>=]", r)[0].lower() for r in PROJECT["dependencies"]}
    assert "jinja2" not in names
    assert any(r.startswith("jinja2") for r in PROJECT["optional-dependencies"]["codegen"])
    for path in (ROOT / "runtime").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                mods = [node.module or ""]
            else:
                continue
            assert not any(m.split(".")[0] == "jinja2" for m in mods), path


def test_metadata() -> None:
    classifiers = PROJECT["classifiers"]
    assert "Typing :: Typed" in classifiers
    assert not any(c.startswith("License ::") for c in classifiers)  # PEP 639: the expression
    assert (ROOT / "runtime" / "xmppsec" / "py.typed").is_file()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "pip install xmppsec" in readme and "xmppsec[codegen]" in readme
    # rendered outside the repository (a package index), relative links would break
    assert not re.search(r"\]\((?!https?://|#)", readme), "a relative link in README.md"


def test_project_urls_are_real_or_absent() -> None:
    """No invented host (issue 17, packaging): while the project has no public repository
    or documentation site, the metadata declares no URLs and the README says why."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    urls = PROJECT.get("urls")
    if urls is None:
        assert "declares no project URLs" in readme
    else:  # declared once real: each an https address, and the README no longer says none
        assert all(str(u).startswith("https://") for u in urls.values()), urls
        assert "declares no project URLs" not in readme


@pytest.mark.integration
def test_sdist_and_wheel_carry_the_license(tmp_path: Path) -> None:
    """Builds both archives with this environment's hatchling (no download)."""
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("*.whl")
    (sdist,) = tmp_path.glob("*.tar.gz")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        metadata = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA")))
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "xmppsec/py.typed" in names and "xmppsec/__init__.py" in names
    assert "xmppsec/bindings/xsd/xmppsec.xsd" in names  # validation needs the XSDs
    assert any(n.startswith("xmppsec/codegen/templates/") for n in names)
    meta = Parser().parsestr(metadata.decode("utf-8"))
    assert meta["License-Expression"] == "MIT"
    assert "xmppsec" in meta.get_payload()  # the README is the long description
    with tarfile.open(sdist) as tf:
        snames = tf.getnames()
    top = snames[0].split("/")[0]
    assert f"{top}/LICENSE" in snames and f"{top}/README.md" in snames
