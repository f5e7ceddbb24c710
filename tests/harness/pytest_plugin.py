"""pytest plugin exposing the real-server fixtures.

In a conftest: ``pytest_plugins = ["tests.harness.pytest_plugin"]``.
"""

from __future__ import annotations

from .fixtures import ejabberd, prosody, xmpp_server

__all__ = ["ejabberd", "prosody", "xmpp_server"]
