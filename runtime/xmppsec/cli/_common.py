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
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12

from .. import keys
from ..dsig import PROFILES, Policy, Profile
from ..errors import KeyLoadError, ReplayStoreError, UsageError, XmppSecError
from ..replay import ReplayStore
from ..timestamps import parse_rfc3339
from ..trust import TrustStore

if TYPE_CHECKING:
    from ..dsig import VerificationResult
    from ..e2e import OpenedStanza

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2

Handler = Callable[[argparse.Namespace], int]
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

# -- errors and exit codes -------------------------------------------------------------------


def guarded(handler: Handler, args: argparse.Namespace) -> int:
    """Run a command; turn xmppsec errors into the exit code and a one-line message."""
    try:
        code = handler(args)
        sys.stdout.flush()  # a full device or a closed pipe shows here, not at exit
        return code
    except (UsageError, KeyLoadError) as exc:
        return usage(str(exc))
    except XmppSecError as exc:
        return reject(exc)
    except BrokenPipeError:  # the reader went away (``xmppsec ... | head``)
        _drop_stdout()
        return EXIT_OK
    except OSError as exc:  # stdout on a full device (``> /dev/full``) and the like
        _drop_stdout()
        return usage(f"cannot write the output: {exc.strerror or exc}")


def usage(message: str) -> int:
    """Print ``xmppsec: error: message`` (one line) on stderr; return exit code 2."""
    line = " ".join(message.split())  # one line, whatever the message held
    print(f"xmppsec: error: {line}", file=sys.stderr)
    return EXIT_USAGE


def _drop_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again (the
    idiom of the Python signal documentation for SIGPIPE)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


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
        sys.stdout.buffer.flush()  # an OSError here: guarded() names it, exit 2
        return
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"cannot write {path}: it is a directory")
    try:
        target.write_bytes(data)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def print_json(value: str | Mapping[str, object]) -> None:
    """A machine-readable report on stdout: JSON text, or a dict to serialize."""
    print(value if isinstance(value, str) else json.dumps(value, indent=2))


# -- keys, certificates, trust ---------------------------------------------------------------


PASSPHRASE_ENV = "XMPPSEC_PASSPHRASE"  # noqa: S105 - the variable's name, not a secret


def passphrase(args: argparse.Namespace) -> bytes | None:
    """``--passphrase-file F`` (its first line), else ``$XMPPSEC_PASSPHRASE``, else None."""
    path: str | None = getattr(args, "passphrase_file", None)
    if path is not None:
        lines = read_file(path, "passphrase file").splitlines()
        if not lines or not lines[0]:
            raise UsageError(f"{path}: the passphrase file is empty")
        return lines[0]
    env = os.environ.get(PASSPHRASE_ENV)
    return env.encode("utf-8") if env else None


def _is_pkcs12(path: str, data: bytes) -> bool:
    if path.lower().endswith((".p12", ".pfx")):
        return True
    # a PFX is a DER SEQUENCE whose first field is INTEGER 3 (RFC 7292 §4)
    return data[:1] == b"\x30" and b"\x02\x01\x03" in data[:8]


def load_identity(
    key_path: str, cert_path: str | None, password: bytes | None
) -> tuple[keys.PrivateKey, x509.Certificate]:
    """The key and its certificate: from a PKCS#12 bundle (``--key bundle.p12``; a
    ``--cert`` given beside it wins), or from a key file and ``--cert``."""
    data = read_file(key_path, "key")
    if _is_pkcs12(key_path, data):
        try:
            key, cert, _ = pkcs12.load_key_and_certificates(data, password)
        except (ValueError, TypeError) as exc:
            raise UsageError(f"{key_path}: cannot open the PKCS#12 bundle: {exc}") from None
        if key is None or not isinstance(key, keys.PrivateKey):
            raise UsageError(f"{key_path}: the PKCS#12 bundle holds no usable private key")
        if cert_path is not None:
            cert = load_cert(cert_path)
        if cert is None:
            raise UsageError(f"{key_path}: the PKCS#12 bundle holds no certificate: pass --cert")
        return key, cert
    if cert_path is None:
        raise UsageError("--cert is required unless --key is a PKCS#12 bundle")
    return _load_key_bytes(key_path, data, password), load_cert(cert_path)


def load_key(path: str, password: bytes | None = None) -> keys.PrivateKey:
    """A private key: PEM or DER, PKCS#8 (encrypted with ``password``) or traditional, or
    the key of a PKCS#12 bundle."""
    data = read_file(path, "key")
    if _is_pkcs12(path, data):
        return load_identity(path, None, password)[0]
    return _load_key_bytes(path, data, password)


def _load_key_bytes(path: str, data: bytes, password: bytes | None) -> keys.PrivateKey:
    try:
        return keys.load_private_key(data, password)
    except KeyLoadError as exc:
        if password is None and b"ENCRYPTED" in data[:64]:
            raise UsageError(
                f"{path}: the key is encrypted: pass --passphrase-file or set {PASSPHRASE_ENV}"
            ) from None
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


def add_key_options(p: argparse.ArgumentParser, whose: str) -> None:
    """``--key``, ``--cert`` and ``--passphrase-file`` for a command that reads a key."""
    p.add_argument("--key", required=True,
                   help=f"{whose} private key: PEM or DER (PKCS#8, encrypted or not), or a "
                   "PKCS#12 bundle (.p12/.pfx) holding the key and its certificate")
    p.add_argument("--cert", help=f"{whose} certificate (PEM/DER; required unless --key is "
                   "a PKCS#12 bundle)")
    p.add_argument("--passphrase-file", metavar="FILE",
                   help=f"the key's passphrase: the first line of FILE (default: "
                   f"${PASSPHRASE_ENV} if set)")


def with_ca(store: TrustStore, paths: Sequence[str]) -> TrustStore:
    """``--ca BUNDLE``: trust anchors; a presented chain must lead to one of them."""
    certs = [cert for path in paths for cert in load_certs(path)]
    return store.with_ca_bundle(certs) if certs else store


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


def default_replay_path() -> Path:
    """``$XDG_STATE_HOME/xmppsec/replay.db`` (XDG Base Directory: ``~/.local/state`` when
    unset or not absolute); the directory is created 0700."""
    base = os.environ.get("XDG_STATE_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path.home() / ".local" / "state"
    folder = root / "xmppsec"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"cannot create the replay store directory {folder}: {exc.strerror or exc}"
            " (choose one with --replay-db, or --no-replay)"
        ) from None
    return folder / "replay.db"


def replay_from(args: argparse.Namespace) -> ReplayStore | None:
    """``--no-replay``: none; ``--replay-db PATH|URL``: that one; else the default SQLite
    store in the user's state directory (replay protection is on by default)."""
    where: str | None = getattr(args, "replay_db", None)
    if getattr(args, "no_replay", False):
        if where:
            raise UsageError("--no-replay and --replay-db contradict each other")
        return None
    return replay_store(where or str(default_replay_path()))


def add_replay_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--replay-db",
        metavar="PATH|URL",
        help="replay store: a SQLite file, or redis://host:port/db shared by a cluster "
        "(default: $XDG_STATE_HOME/xmppsec/replay.db)",
    )
    p.add_argument(
        "--no-replay", action="store_true", help="keep no replay store (accept a replay)"
    )


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
        raise UsageError(f"--replay-db {where}: {exc}") from None


# -- the one JSON report (docs/cli.md) -------------------------------------------------------

REPORT_SCHEMA = 1


def rfc3339(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with a ``Z`` and milliseconds (the XEP-0082 profile of it)."""
    if value is None:
        return None
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def report(
    *,
    kind: str,
    checked_at: datetime | None,
    result: VerificationResult | None = None,
    opened: OpenedStanza | None = None,
    error: XmppSecError | None = None,
    condition: str | None = None,
    archive: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The report of ``verify --json``, ``e2e verify|decrypt --json`` and each line of
    ``verify --archive``: schema 1, the same keys on success and failure.

    ``kind`` is ``xep-0290`` (give ``result``) or ``rfc-3923`` (give ``opened``, or the
    ``error`` that stopped it and its RFC 3923 §7 ``condition``); ``archive`` is the
    stanza's place in an archive (``n``, ``source``, ``archive_id``, ``stamp``).
    """
    signatures: list[dict[str, Any]] = []
    unsigned: list[str] = []
    signed_children: list[dict[str, Any]] = []
    stanza: dict[str, str | None] = dict.fromkeys(("name", "id", "from", "to", "type"))
    e2e: dict[str, Any] | None = None
    valid = False
    if result is not None:
        valid = result.valid
        error = result.error
        attrs = dict(result.stanza_attributes)
        stanza.update({k: attrs.get(k) for k in ("id", "from", "to", "type")})
        stanza["name"] = result.stanza_name or None
        unsigned = list(result.unsigned_children)
        signed_children = [
            {"element": c.name, "signers": list(c.signers)} for c in result.signed()
        ]
        for s in result.signatures:
            signatures.append(
                {
                    "signer": s.signer,
                    "valid": s.valid,
                    "error": _error_text(s.error),
                    "profile": s.profile,
                    "algorithm": s.signature_method,
                    "timestamp": rfc3339(s.timestamp) if s.timestamp else s.timestamp_text or None,
                    "timestamp_status": s.timestamp_status.value,
                    "sender_relation": s.sender_relation or None,
                    "references": [
                        {"uri": r.uri, "element": r.element, "status": r.status.value}
                        for r in s.references
                    ],
                }
            )
    elif opened is not None:
        valid = True
        root = opened.stanza
        stanza.update({k: root.get(k) for k in ("id", "from", "to", "type")})
        stanza["name"] = etree_local(root.tag)
        if opened.signed:
            signatures.append(
                {
                    "signer": opened.signer,
                    "valid": True,
                    "error": None,
                    "profile": "rfc-3923",
                    "algorithm": opened.digest_algorithm,
                    "timestamp": rfc3339(opened.timestamp),
                    "timestamp_status": "ok",
                    "sender_relation": None,
                    "references": [],
                }
            )
        e2e = {
            "signed": opened.signed,
            "encrypted": opened.encrypted,
            "content_type": opened.content_type,
            "inner_stanza": opened.xml.decode("utf-8"),
        }
    return {
        "schema": REPORT_SCHEMA,
        "kind": kind,
        "valid": valid,
        "error": _error_text(error),
        "error_type": None if error is None else type(error).__name__,
        "condition": condition,
        "checked_at": rfc3339(checked_at or datetime.now(UTC)),
        "stanza": stanza,
        "signatures": signatures,
        "unsigned_children": unsigned,
        "signed_children": signed_children,
        "e2e": e2e,
        "archive": None if archive is None else dict(archive),
    }


def _error_text(error: BaseException | None) -> str | None:
    return None if error is None else f"{type(error).__name__}: {error}"


def etree_local(tag: object) -> str | None:
    """The local name of an lxml tag (``{ns}local`` or ``local``)."""
    return str(tag).rpartition("}")[2] if isinstance(tag, str) else None


def archive_line(
    result: VerificationResult, place: dict[str, Any], now: datetime | None
) -> dict[str, Any]:
    """One ``verify --archive`` line: the report with the stanza's place in the archive
    (module level: each worker process receives it by reference)."""
    return report(kind="xep-0290", checked_at=now, result=result, archive=place)
