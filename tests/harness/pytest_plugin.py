"""pytest plugin exposing the real-server fixtures.

In a conftest: ``pytest_plugins = ["tests.harness.pytest_plugin"]``.
"""

from __future__ import annotations

import pytest

from .fixtures import LIFECYCLE, ejabberd, federated, prosody, xmpp_server

__all__ = ["ejabberd", "federated", "prosody", "pytest_terminal_summary", "xmpp_server"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say which real servers this session started and stopped (or that none ran)."""
    terminalreporter.section("xmppsec real servers")
    for line in LIFECYCLE or ["no real server was started in this session"]:
        terminalreporter.write_line(line)
