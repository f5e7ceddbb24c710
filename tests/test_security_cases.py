"""Every security case has a test of its own name.

tests/vectors/security-case-names.txt lists the 36 cases of the project's security-case
catalogue (categories A-F). For each ``name`` some ``tests/**/*.py`` must define
``def test_<name>(`` — a case without a test fails CI. The list is a copy, so the suite
stays hermetic.
"""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
NAMES = TESTS / "vectors" / "security-case-names.txt"
_DEF = re.compile(r"^\s*(?:async\s+)?def\s+(test_[A-Za-z0-9_]+)\s*\(", re.MULTILINE)


def case_names() -> list[str]:
    lines = NAMES.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def defined_tests() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted(TESTS.rglob("*.py")):
        for name in _DEF.findall(path.read_text(encoding="utf-8")):
            found.setdefault(name, []).append(str(path.relative_to(TESTS)))
    return found


def test_case_list_is_complete() -> None:
    names = case_names()
    assert len(names) == 36
    assert len(set(names)) == 36
    assert all(re.fullmatch(r"[a-z0-9_]+", n) for n in names)


def test_every_security_case_has_a_test() -> None:
    tests = defined_tests()
    missing = [n for n in case_names() if f"test_{n}" not in tests]
    assert missing == [], f"security cases without a test_<name> function: {missing}"
