"""pytest session fixtures: one Prosody and one ejabberd per test session, on loopback.

``prosody`` and ``ejabberd`` start on first use and stop at the end of the session; a
server left running (a marked process or a listening port) fails the teardown.
``xmpp_server`` is parametrized over both. A server that is not installed skips the test,
except under ``CI=true``, where the missing server fails it (the CI must test both).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from .client import ClientError
from .federation import Federation, federation
from .servers import Server, ServerError, ServerUnavailable, start_ejabberd, start_prosody

__all__ = ["ejabberd", "federated", "prosody", "unavailable", "xmpp_server"]

SERVER_NAMES = ("prosody", "ejabberd")

# What the session's servers did, for the terminal summary (pytest_plugin.py): CI output shows
# that both servers really ran.
LIFECYCLE: list[str] = []


def unavailable(reason: str, environ: Mapping[str, str] = os.environ) -> None:
    """Fail under CI=true (a missing server must not pass silently), otherwise skip."""
    if environ.get("CI") == "true":
        pytest.fail(f"CI=true and the XMPP server is unavailable: {reason}", pytrace=False)
    pytest.skip(reason)


def _serve(
    start: Callable[[Path], Server], factory: pytest.TempPathFactory, name: str
) -> Iterator[Server]:
    try:
        server = start(factory.mktemp(name))
    except ServerUnavailable as exc:
        unavailable(str(exc))
        raise  # unreachable: unavailable() always raises
    except ServerError as exc:
        pytest.fail(f"{name} did not start: {exc}", pytrace=False)
    LIFECYCLE.append(
        f"{name} started on {server.host}:{server.port} in {server.started_in:.1f} s"
        f" ({_version(name)})"
    )
    try:
        yield server
    finally:
        server.stop()
        left = server.leftovers()
        LIFECYCLE.append(
            f"{name} stopped in {server.stopped_in:.1f} s"
            + (f", LEFT {', '.join(left)}" if left else ", no process or listener left")
        )
        if left:
            pytest.fail(f"{name} left {', '.join(left)} after stop", pytrace=False)


def _version(package: str) -> str:
    """The installed Debian package version (what the tests ran against)."""
    import subprocess

    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", package],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except OSError:
        return "version unknown"
    return f"Debian {package} {out.stdout.strip()}" if out.returncode == 0 else "version unknown"


@pytest.fixture(scope="session")
def prosody(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A running Prosody (users alice, bob, carol; MUC service muc.localhost)."""
    yield from _serve(start_prosody, tmp_path_factory, "prosody")


@pytest.fixture(scope="session")
def ejabberd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A running ejabberd (users alice, bob, carol; MUC service muc.localhost)."""
    yield from _serve(start_ejabberd, tmp_path_factory, "ejabberd")


@pytest.fixture(scope="session", params=SERVER_NAMES)
def xmpp_server(request: pytest.FixtureRequest) -> Server:
    """Each server in turn (tests using it run once per server)."""
    server: Server = request.getfixturevalue(request.param)
    return server


@pytest.fixture(scope="session")
def federated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    """Prosody and ejabberd federated on loopback (tests/harness/federation.py): own
    127.0.N.x addresses, s2s on 5269 with dialback, names in /etc/hosts for the session."""
    workdir = tmp_path_factory.mktemp("federation")
    try:
        context = federation(workdir)
        fed = context.__enter__()
    except ServerUnavailable as exc:
        unavailable(str(exc))
        raise  # unreachable: unavailable() always raises
    except (ServerError, ClientError) as exc:
        pytest.fail(f"federation did not come up: {exc}", pytrace=False)
    LIFECYCLE.append(
        f"federation {fed.prosody.domain} ({fed.prosody.host}) <-> {fed.ejabberd.domain}"
        f" ({fed.ejabberd.host}) up in {fed.started_in:.1f} s ({_version('prosody')},"
        f" {_version('ejabberd')})"
    )
    try:
        yield fed
    finally:
        context.__exit__(None, None, None)
        left = [x for s in fed.servers() for x in s.leftovers()]
        if fed.hosts.present():
            left.append("its /etc/hosts lines")
        LIFECYCLE.append(
            "federation stopped"
            + (f", LEFT {', '.join(left)}" if left else ", no process, listener or hosts line left")
        )
        if left:
            pytest.fail(f"federation left {', '.join(left)} after stop", pytrace=False)
