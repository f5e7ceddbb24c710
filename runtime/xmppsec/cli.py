"""The ``xmppsec`` command line.

Exit codes (a contract outside tools script against): 0 valid / done, 1 rejected (the reason
on stderr), 2 usage error (bad arguments, unreadable files, unusable keys).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, NoReturn

from . import keys
from .dsig import PROFILES, Policy, Signer, Verifier
from .dsig._profile import Profile
from .errors import KeyLoadError, XmppSecError
from .replay import ReplayStore
from .timestamps import parse_rfc3339
from .trust import TrustStore

__all__ = ["EXIT_OK", "EXIT_REJECTED", "EXIT_USAGE", "main"]

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2

Handler = Callable[[argparse.Namespace], int]


class UsageError(Exception):
    """A problem with the invocation (exit 2), as opposed to rejected input (exit 1)."""


def _read(path: str | None, stdin: BinaryIO) -> bytes:
    if path is None or path == "-":
        return stdin.read()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None


def _write(path: str | None, data: bytes, stdout: BinaryIO) -> None:
    if path is None or path == "-":
        stdout.write(data)
        stdout.flush()
        return
    try:
        Path(path).write_bytes(data)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None


def _load(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror}") from None


# -- commands ------------------------------------------------------------------------------


def _cmd_keygen(args: argparse.Namespace) -> int:
    try:
        identity = keys.generate_identity(args.jid, args.algorithm)
    except XmppSecError as exc:
        raise UsageError(str(exc)) from None
    try:
        key_path, cert_path = keys.write_identity(identity, Path(args.out))
    except OSError as exc:
        raise UsageError(f"cannot write the identity into {args.out}: {exc}") from None
    print(f"wrote {key_path} and {cert_path} for {args.jid} ({args.algorithm})", file=sys.stderr)
    return EXIT_OK


def _cmd_sign(args: argparse.Namespace) -> int:
    try:
        key = keys.load_private_key(_load(args.key, "key"))
        cert = keys.load_certificate(_load(args.cert, "certificate"))
    except KeyLoadError as exc:
        raise UsageError(str(exc)) from None
    signer_jid = args.signer
    if signer_jid is None:
        addrs = keys.xmpp_addrs(cert)
        if not addrs:
            raise UsageError("the certificate names no id-on-xmppAddr: pass --signer")
        signer_jid = addrs[0]
    try:
        signer = Signer(
            key,
            signer=signer_jid,
            certificate=cert,
            profile=_profile(args.profile),
            include_certificate=args.include_cert,
        )
    except XmppSecError as exc:
        raise UsageError(f"cannot sign as {signer_jid}: {exc}") from None
    data = _read(args.infile, sys.stdin.buffer)
    try:
        signed = signer.sign(data)
    except XmppSecError as exc:
        print(f"rejected: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_REJECTED
    _write(args.outfile, signed, sys.stdout.buffer)
    return EXIT_OK


def _trust_from(paths: Sequence[str]) -> TrustStore:
    store = TrustStore()
    for path in paths:
        try:
            certs = keys.load_certificates(_load(path, "certificate"))
        except KeyLoadError as exc:
            raise UsageError(f"{path}: {exc}") from None
        for cert in certs:
            names = keys.xmpp_addrs(cert) or keys.dns_names(cert)
            if not names:
                raise UsageError(f"{path}: the certificate names no XMPP address to pin it to")
            for name in names:
                store = store.pin(name, cert)
    return store


def _replay_store(where: str) -> ReplayStore:
    """A SQLite file, or a Redis URL (redis://, rediss://, unix://) shared by a cluster."""
    if where.startswith(("redis://", "rediss://", "unix://", "redis+cluster://")):
        try:
            from .replay import redis_store_from_url

            return redis_store_from_url(where)
        except ImportError:
            raise UsageError("a Redis replay store needs: pip install 'xmppsec[redis]'") from None
        except ValueError as exc:
            raise UsageError(f"--replay-db {where}: {exc}") from None
    from .replay import SQLiteReplayStore

    try:
        return SQLiteReplayStore(where)
    except OSError as exc:  # unopenable path: a usage error, not a traceback
        raise UsageError(str(exc)) from None


def _profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise UsageError(f"unknown profile {name!r}") from None


def _cmd_verify(args: argparse.Namespace) -> int:
    if args.archive is not None:
        from .archive import verify_archive_cli

        return verify_archive_cli(args)
    now: datetime | None = None
    if args.now is not None:
        try:
            now = parse_rfc3339(args.now)
        except XmppSecError as exc:
            raise UsageError(f"--now: {exc}") from None
    policy = Policy.optimistic() if args.optimistic else Policy()
    if args.own_server:
        from dataclasses import replace

        policy = replace(policy, own_server=args.own_server)
    if args.legacy:
        policy = policy.legacy()
    replay = _replay_store(args.replay_db) if args.replay_db else None
    verifier = Verifier(
        _trust_from(args.trust),
        policy=policy,
        replay=replay,
        profile=None if args.profile == "auto" else _profile(args.profile),
    )
    data = _read(args.infile, sys.stdin.buffer)
    try:
        result = verifier.check(data, now=now)
    except OSError as exc:  # the replay store failed: never an acceptance, a usage error
        raise UsageError(f"replay store: {exc}") from None
    if args.json:
        print(result.to_json_text())
    if not result.valid:
        assert result.error is not None
        print(f"rejected: {type(result.error).__name__}: {result.error}", file=sys.stderr)
        return EXIT_REJECTED
    if not args.json:
        signers = ", ".join(s.signer for s in result.signatures)
        print(f"valid: signed by {signers}", file=sys.stderr)
    return EXIT_OK


def _cmd_validate(args: argparse.Namespace) -> int:
    from .schema import validate

    try:
        validate(_read(args.infile, sys.stdin.buffer))
    except XmppSecError as exc:
        print(f"invalid: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_REJECTED
    print("valid", file=sys.stderr)
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(print)


# -- parser --------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xmppsec",
        description="XEP-0290 signatures and RFC 3923 end-to-end objects for XMPP stanzas.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("keygen", help="write a key and a self-signed certificate for a JID")
    p.add_argument("--jid", required=True)
    p.add_argument("--algorithm", choices=keys.ALGORITHMS, default="ecdsa-p256")
    p.add_argument("--out", required=True, metavar="DIR")
    p.set_defaults(handler=_cmd_keygen)

    p = sub.add_parser("sign", help="sign a stanza (XEP-0290)")
    p.add_argument("--key", required=True, help="PKCS#8 PEM private key")
    p.add_argument("--cert", required=True, help="certificate with id-on-xmppAddr")
    p.add_argument("--signer", help="bare JID or domain (default: the certificate's xmppAddr)")
    p.add_argument("--profile", default="spec", choices=sorted(PROFILES))
    p.add_argument("--include-cert", action="store_true", help="put the certificate in KeyInfo")
    p.add_argument("--in", dest="infile", metavar="FILE", help="stanza (default: stdin)")
    p.add_argument("--out", dest="outfile", metavar="FILE", help="signed stanza (default: stdout)")
    p.set_defaults(handler=_cmd_sign)

    p = sub.add_parser("verify", help="verify the signatures on a stanza")
    p.add_argument(
        "--trust",
        action="append",
        default=[],
        metavar="CERT",
        help="pin a certificate for the JIDs it names (repeatable)",
    )
    p.add_argument("--profile", default="auto", choices=["auto", *sorted(PROFILES)])
    p.add_argument("--now", help="judge timestamps at this RFC 3339 time")
    p.add_argument(
        "--optimistic",
        action="store_true",
        help="report reference, unsigned-child and timestamp problems; do not reject",
    )
    p.add_argument(
        "--own-server",
        metavar="DOMAIN",
        help="your server: its XEP-0203 delay stamps judge offline messages",
    )
    p.add_argument(
        "--replay-db",
        metavar="PATH|URL",
        help="replay store: a SQLite file, or redis://host:port/db shared by a cluster",
    )
    p.add_argument("--legacy", action="store_true", help="accept SHA-1 and DSA")
    p.add_argument("--json", action="store_true", help="print a JSON report on stdout")
    p.add_argument("--in", dest="infile", metavar="FILE", help="stanza (default: stdin)")
    p.add_argument(
        "--archive",
        metavar="FILE",
        help="verify every stanza of an XML stream dump or MAM export (streamed, all cores)",
    )
    p.add_argument(
        "--report", metavar="FILE", help="--archive: JSON-lines report (default: stdout)"
    )
    p.add_argument(
        "--jobs", type=int, metavar="N", help="--archive: worker processes (default: all cores)"
    )
    p.add_argument("--executor", metavar="local|dask://HOST:PORT", help="--archive: where to run")
    p.set_defaults(handler=_cmd_verify)

    p = sub.add_parser("validate", help="validate a stanza against the xmppsec schemas")
    p.add_argument("--in", dest="infile", metavar="FILE", help="stanza (default: stdin)")
    p.set_defaults(handler=_cmd_validate)

    # run() hands "codegen ..." to the generator before parsing; listed here for --help.
    sub.add_parser("codegen", help="compile XSD schemas into typed dataclasses (see --help)")

    p = sub.add_parser("demo", help="sign, verify and reject, on an embedded default")
    p.set_defaults(handler=_cmd_demo)

    _register_e2e(sub)
    return parser


def _register_e2e(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from . import e2e

    register: Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None] | None = (
        getattr(e2e, "register_cli", None)
    )
    if register is not None:
        register(sub)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    sys.exit(run(argv))


def run(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["codegen"]:
        # The generator has its own argument parser (options before anything else, which
        # argparse.REMAINDER would refuse): hand it the rest of the command line as is.
        from xmppsec.codegen import main as codegen_main

        return int(codegen_main(args_list[1:], prog="xmppsec codegen"))
    parser = _parser()
    args = parser.parse_args(args_list)
    handler: Handler = args.handler
    try:
        return handler(args)
    except UsageError as exc:
        print(f"xmppsec: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    main()
