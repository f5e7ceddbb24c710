"""The one set of helpers every ``xmppsec`` command uses.

Reading inputs and writing outputs (a file, or ``-``/nothing for stdin/stdout), loading keys,
certificates and trust pins, ``--now``, ``--profile``, the verification policy and the replay
store, JSON output, and the one mapping of errors to exit codes and one-line messages:

- :class:`~xmppsec.errors.UsageError` (the caller's mistake: bad arguments, unreadable or
  unusable files) and :class:`~xmppsec.errors.KeyLoadError` exit 2 as
  ``xmppsec: error: message``;
- every other :class:`~xmppsec.errors.XmppSecError` is a rejection of the input: exit 1 as
  ``rejected: ErrorType: message``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TypeAlias

from cryptography import x509

from .. import keys
from ..dsig import PROFILES, Policy, Profile
from ..errors import KeyLoadError, ReplayStoreError, UsageError, XmppSecError
from ..replay import ReplayStore
from ..timestamps import parse_rfc3339
from ..trust import TrustStore

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2

Handler = Callable[[argparse.Namespace], int]
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

# -- errors and exit codes -------------------------------------------------------------------


def guarded(handler: Handler, args: argparse.Namespace) -> int:
    """Run a command; turn xmppsec errors into the exit code and a one-line message."""
    try:
        return handler(args)
    except (UsageError, KeyLoadError) as exc:
        print(f"xmppsec: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except XmppSecError as exc:
        return reject(exc)
    except BrokenPipeError:  # the reader went away (``xmppsec ... | head``)
        return EXIT_OK


def reject(exc: BaseException, word: str = "rejected") -> int:
    """Print ``rejected: ErrorType: message`` on stderr; return exit code 1."""
    print(f"{word}: {type(exc).__name__}: {exc}", file=sys.stderr)
    return EXIT_REJECTED


@contextmanager
def replay_failures() -> Iterator[None]:
    """A replay store that cannot answer is a usage error (exit 2), never an acceptance."""
    try:
        yield
    except (OSError, ReplayStoreError) as exc:
        raise UsageError(f"replay store: {exc}") from None


# -- inputs and outputs ----------------------------------------------------------------------


def read_input(path: str | None) -> bytes:
    """The bytes of ``path``, or of stdin when it is ``None`` or ``-``."""
    if path is None or path == "-":
        return sys.stdin.buffer.read()
    return read_file(path)


def read_file(path: str, what: str = "") -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        label = f"{what} {path}" if what else path
        raise UsageError(f"cannot read {label}: {exc.strerror}") from None


def write_output(path: str | None, data: bytes) -> None:
    """Write ``data`` to ``path``, or to stdout when it is ``None`` or ``-``."""
    if path is None or path == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        Path(path).write_bytes(data)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None


def print_json(report: str | dict[str, object]) -> None:
    """A machine-readable report on stdout: JSON text, or a dict to serialize."""
    print(report if isinstance(report, str) else json.dumps(report, indent=2))


# -- keys, certificates, trust ---------------------------------------------------------------


def load_key(path: str) -> keys.PrivateKey:
    try:
        return keys.load_private_key(read_file(path, "key"))
    except KeyLoadError as exc:
        raise UsageError(f"{path}: {exc}") from None


def load_certs(path: str) -> list[x509.Certificate]:
    try:
        return keys.load_certificates(read_file(path, "certificate"))
    except KeyLoadError as exc:
        raise UsageError(f"{path}: {exc}") from None


def load_cert(path: str) -> x509.Certificate:
    """Exactly one certificate: the signer's or the recipient's own."""
    try:
        return keys.load_certificate(read_file(path, "certificate"))
    except KeyLoadError as exc:
        raise UsageError(f"{path}: {exc}") from None


def _trust_spec(spec: str) -> tuple[str | None, str]:
    """``JID=CERT`` -> (JID, CERT); a bare ``CERT`` -> (None, CERT). A value naming an
    existing file is always a path (a file name may hold ``=``)."""
    jid, sep, path = spec.partition("=")
    if not sep or not jid or Path(spec).exists():
        return None, spec
    return jid, path  # the JID is checked (and made bare) by TrustStore.pin


def _names(path: str, cert: x509.Certificate, domains: bool) -> tuple[str, ...]:
    try:
        return keys.xmpp_addrs(cert) or (keys.dns_names(cert) if domains else ())
    except XmppSecError as exc:  # a malformed SAN: the caller's file is unusable
        raise UsageError(f"{path}: {exc}") from None


def load_pins(
    specs: Sequence[str], *, domains: bool = True, legacy: bool = False
) -> list[tuple[str, x509.Certificate]]:
    """(name, certificate) pairs from ``--trust`` values, each checked by
    :meth:`TrustStore.pin` (key strength; with ``legacy`` DSA is admitted).

    ``JID=CERT`` pins every certificate of CERT for that JID (or domain) only. A bare
    ``CERT`` pins each certificate for the one XMPP address it names (id-on-xmppAddr, or
    with ``domains`` its one DNS name when it has none); a certificate naming several is
    refused: pinning it for all of them would let its holder sign as each (issue 14)."""
    pins: list[tuple[str, x509.Certificate]] = []
    store = TrustStore(allow_legacy_keys=legacy)
    for spec in specs:
        jid, path = _trust_spec(spec)
        for cert in load_certs(path):
            if jid is not None:
                name = jid
            else:
                names = _names(path, cert, domains)
                if not names:
                    raise UsageError(f"{path}: the certificate names no XMPP address to pin it to")
                if len(names) > 1:
                    raise UsageError(
                        f"{path}: the certificate names {len(names)} XMPP addresses"
                        f" ({', '.join(names)}); pin it for one with --trust JID={path}"
                    )
                name = names[0]
            try:  # UsageError for a weak key or a foreign JID
                store = store.pin(name, cert)
            except XmppSecError as exc:  # JIDError: not a JID
                if isinstance(exc, UsageError):
                    raise
                raise UsageError(f"--trust {spec}: {exc}") from None
            pins.append((name, cert))
    return pins


def trust_store(
    specs: Sequence[str], *, domains: bool = True, legacy: bool = False
) -> TrustStore:
    """The trust store of ``--trust`` values (see :func:`load_pins`)."""
    store = TrustStore(allow_legacy_keys=legacy)
    for name, cert in load_pins(specs, domains=domains, legacy=legacy):
        store = store.pin(name, cert)
    return store


# -- options shared by the verifying commands ------------------------------------------------


def parse_now(value: str | None) -> datetime | None:
    """``--now``: an RFC 3339 date-time, or ``None`` for the clock."""
    if value is None:
        return None
    try:
        return parse_rfc3339(value)
    except XmppSecError as exc:
        raise UsageError(f"--now: {exc}") from None


def profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise UsageError(f"unknown profile {name!r}") from None


def policy_from(args: argparse.Namespace) -> Policy:
    """``--optimistic``, ``--own-server`` and ``--legacy`` (absent options: the default)."""
    policy = Policy.optimistic() if getattr(args, "optimistic", False) else Policy()
    own_server = getattr(args, "own_server", None)
    if own_server:
        policy = replace(policy, own_server=own_server)
    if getattr(args, "legacy", False):
        policy = policy.legacy()
    return policy


def replay_store(where: str) -> ReplayStore:
    """A SQLite file, or a Redis URL shared by a cluster of verifiers (redis://, rediss://,
    unix://; redis+cluster://host:port for a Redis Cluster)."""
    if where.startswith(("redis://", "rediss://", "unix://", "redis+cluster://")):
        try:
            from ..replay import redis_store_from_url

            return redis_store_from_url(where)
        except ImportError:
            raise UsageError("a Redis replay store needs: pip install 'xmppsec[redis]'") from None
        except ValueError as exc:
            raise UsageError(f"--replay-db {where}: {exc}") from None
    from ..replay import SQLiteReplayStore

    try:
        return SQLiteReplayStore(where)
    except (OSError, ReplayStoreError) as exc:  # unopenable: a usage error, not a traceback
        raise UsageError(str(exc)) from None
