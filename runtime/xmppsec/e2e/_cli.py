"""``xmppsec e2e ...`` subcommands and the ``xmppsec demo`` round trip.

Exit codes (as for ``xmppsec verify``): 0 valid / done, 1 rejected (reason on stderr,
and in the ``--json`` report), 2 usage error (bad arguments, unreadable key or file).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509

from xmppsec.errors import KeyLoadError, NotSigned, TimestampError, XmppSecError
from xmppsec.keys import generate_identity, load_certificates, load_private_key, xmpp_addrs
from xmppsec.replay import MemoryReplayStore, ReplayStore, SQLiteReplayStore
from xmppsec.timestamps import parse_rfc3339
from xmppsec.trust import TrustStore

from ._api import OpenedStanza, open_stanza, seal_stanza
from ._element import error_condition, gateway_unwrap, gateway_wrap

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2


class _Usage(Exception):
    """A usage problem (exit 2)."""


def _read_input(path: str | None) -> bytes:
    if path is None or path == "-":
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise _Usage(f"cannot read {path}: {exc.strerror}") from None


def _read_file(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise _Usage(f"cannot read {what} {path}: {exc.strerror}") from None


def _write_output(path: str | None, data: bytes) -> None:
    if path is None or path == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        Path(path).write_bytes(data)
    except OSError as exc:
        raise _Usage(f"cannot write {path}: {exc.strerror}") from None


def _key(path: str) -> object:
    return load_private_key(_read_file(path, "key"))


def _cert(path: str) -> x509.Certificate:
    certs = load_certificates(_read_file(path, "certificate"))
    return certs[0]


def _certs(paths: list[str]) -> list[x509.Certificate]:
    out: list[x509.Certificate] = []
    for p in paths:
        out.extend(load_certificates(_read_file(p, "certificate")))
    return out


def _trust(paths: list[str]) -> TrustStore:
    store = TrustStore()
    for cert in _certs(paths):
        addrs = xmpp_addrs(cert)
        if not addrs:
            raise _Usage("a --trust certificate names no XMPP address (id-on-xmppAddr)")
        for addr in addrs:
            store = store.pin(addr, cert)
    return store


def _now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        return parse_rfc3339(value)
    except TimestampError:
        raise _Usage(f"--now is not an RFC 3339 date-time: {value}") from None


def _replay(path: str | None) -> ReplayStore:
    if path is None:
        return MemoryReplayStore()
    return SQLiteReplayStore(path)


def _run(handler: Any, args: argparse.Namespace) -> int:
    try:
        code: int = handler(args)
        return code
    except _Usage as exc:
        print(f"xmppsec e2e: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyLoadError as exc:
        print(f"xmppsec e2e: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except XmppSecError as exc:
        print(f"rejected: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_REJECTED


def _report(opened: OpenedStanza | None, exc: XmppSecError | None) -> dict[str, object]:
    if opened is None:
        assert exc is not None  # noqa: S101 - one of the two is always given
        return {
            "valid": False,
            "error": type(exc).__name__,
            "reason": str(exc),
            "condition": error_condition(exc),
        }
    return {
        "valid": True,
        "signed": opened.signed,
        "encrypted": opened.encrypted,
        "signer": opened.signer,
        "timestamp": opened.timestamp.isoformat().replace("+00:00", "Z"),
        "content_type": opened.content_type,
        "digest_algorithm": opened.digest_algorithm,
        "stanza": opened.xml.decode("utf-8"),
    }


def _open_command(args: argparse.Namespace, *, decrypt: bool) -> int:
    data = _read_input(args.input)
    trust = _trust(args.trust)
    key = _key(args.key) if decrypt else None
    cert = _cert(args.cert) if decrypt else None
    now = _now(args.now)
    replay = _replay(args.replay_db)
    try:
        opened = open_stanza(
            data, trust=trust, key=key, certificate=cert, replay=replay, now=now,
            allow_sha1=args.allow_sha1,
        )
        if decrypt and not opened.encrypted:
            raise NotSigned("the stanza was signed but not encrypted (use 'e2e verify')")
    except XmppSecError as exc:
        if isinstance(exc, KeyLoadError):
            raise
        if args.json:
            print(json.dumps(_report(None, exc), indent=2))
        print(f"rejected: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_REJECTED
    if args.json:
        print(json.dumps(_report(opened, None), indent=2))
    else:
        _write_output(args.output, opened.xml + b"\n")
    return EXIT_OK


def _cmd_encrypt(args: argparse.Namespace) -> int:
    out = seal_stanza(
        _read_input(args.input),
        key=_key(args.key),
        certificate=_cert(args.cert),
        recipients=_certs(args.to_cert),
        digest=args.digest,
        pss=args.pss,
        cipher=args.cipher,
    )
    _write_output(args.output, out + b"\n")
    return EXIT_OK


def _cmd_sign(args: argparse.Namespace) -> int:
    out = seal_stanza(
        _read_input(args.input),
        key=_key(args.key),
        certificate=_cert(args.cert),
        encrypt=False,
        digest=args.digest,
        pss=args.pss,
    )
    _write_output(args.output, out + b"\n")
    return EXIT_OK


def _cmd_decrypt(args: argparse.Namespace) -> int:
    return _open_command(args, decrypt=True)


def _cmd_verify(args: argparse.Namespace) -> int:
    return _open_command(args, decrypt=False)


def _cmd_unwrap(args: argparse.Namespace) -> int:
    _write_output(args.output, gateway_unwrap(_read_input(args.input)))
    return EXIT_OK


def _cmd_wrap(args: argparse.Namespace) -> int:
    out = gateway_wrap(
        _read_input(args.input), to=args.to, sender=args.sender, kind=args.kind,
        stanza_type=args.type,
    )
    _write_output(args.output, out + b"\n")
    return EXIT_OK


def _io(p: argparse.ArgumentParser) -> None:
    p.add_argument("--in", dest="input", metavar="FILE", help="input file (default stdin)")
    p.add_argument("--out", dest="output", metavar="FILE", help="output file (default stdout)")


def _signing(p: argparse.ArgumentParser) -> None:
    p.add_argument("--key", required=True, help="signer private key (PEM/DER)")
    p.add_argument("--cert", required=True, help="signer certificate (PEM/DER)")
    p.add_argument(
        "--digest", default="sha256", choices=["sha256", "sha384", "sha512", "sha1"],
        help="digest (default sha256; sha1 is RFC 3923's MTI, for peers that need it)",
    )
    p.add_argument("--pss", action="store_true", help="RSASSA-PSS instead of PKCS#1 v1.5")


def _opening(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--trust", required=True, action="append", metavar="SENDER_CERT",
        help="sender certificate to trust, pinned for its xmppAddr (repeatable)",
    )
    p.add_argument("--json", action="store_true", help="print a JSON report")
    p.add_argument("--allow-sha1", action="store_true", help="accept SHA-1 signatures")
    p.add_argument("--now", help="check timestamps against this RFC 3339 time")
    p.add_argument("--replay-db", metavar="PATH", help="SQLite replay store (default: none)")


def _wrap(handler: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        return _run(handler, args)

    return run


def register_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``e2e`` with its subcommands; each sets ``handler(args) -> int`` (exit code)."""
    e2e = subparsers.add_parser(
        "e2e", help="RFC 3923 end-to-end signing and encryption",
        description="RFC 3923 end-to-end objects: <e2e/> with S/MIME over Message/CPIM.",
    )

    def no_sub(args: argparse.Namespace) -> int:
        e2e.print_help(sys.stderr)
        return EXIT_USAGE

    e2e.set_defaults(handler=no_sub)
    sub = e2e.add_subparsers(dest="e2e_command", metavar="COMMAND")

    p = sub.add_parser("encrypt", help="sign then encrypt a stanza (stanza in, <e2e/> out)")
    _signing(p)
    p.add_argument("--to-cert", required=True, action="append", metavar="RCPT",
                   help="recipient certificate (RSA; repeatable)")
    p.add_argument("--cipher", default="aes128", choices=["aes128", "aes256"])
    _io(p)
    p.set_defaults(handler=_wrap(_cmd_encrypt))

    p = sub.add_parser("decrypt", help="decrypt and verify; print the inner stanza")
    p.add_argument("--key", required=True, help="recipient private key")
    p.add_argument("--cert", required=True, help="recipient certificate")
    _opening(p)
    _io(p)
    p.set_defaults(handler=_wrap(_cmd_decrypt))

    p = sub.add_parser("sign", help="sign a stanza without encrypting it")
    _signing(p)
    _io(p)
    p.set_defaults(handler=_wrap(_cmd_sign))

    p = sub.add_parser("verify", help="verify a signed (not encrypted) e2e stanza")
    _opening(p)
    _io(p)
    p.set_defaults(handler=_wrap(_cmd_verify))

    p = sub.add_parser("unwrap", help="gateway: stanza with <e2e/> -> S/MIME entity bytes")
    _io(p)
    p.set_defaults(handler=_wrap(_cmd_unwrap))

    p = sub.add_parser("wrap", help="gateway: S/MIME entity bytes -> stanza with <e2e/>")
    p.add_argument("--to", required=True, metavar="JID")
    p.add_argument("--from", dest="sender", metavar="JID")
    p.add_argument("--kind", default="message", choices=["message", "presence", "iq"])
    p.add_argument("--type", help="stanza type attribute")
    _io(p)
    p.set_defaults(handler=_wrap(_cmd_wrap))


def demo_round_trip() -> list[str]:
    """Lines for ``xmppsec demo``: an RFC 3923 message and directed presence, sealed and
    opened, and a tampered copy rejected."""
    juliet = generate_identity("juliet@example.com", "rsa-2048")
    romeo = generate_identity("romeo@example.net", "rsa-2048")
    trust = TrustStore().pin("juliet@example.com", juliet.certificate)
    replay = MemoryReplayStore()
    lines = ["RFC 3923 end-to-end (S/MIME over Message/CPIM in <e2e/>):"]
    stanzas = [
        b"<message xmlns='jabber:client' from='juliet@example.com/balcony' "
        b"to='romeo@example.net/orchard' type='chat' id='e2e1'>"
        b"<body>Wherefore art thou, Romeo?</body></message>",
        b"<presence xmlns='jabber:client' from='juliet@example.com/balcony' "
        b"to='romeo@example.net'><status>On the balcony</status></presence>",
    ]
    for plain in stanzas:
        sealed = seal_stanza(
            plain, key=juliet.private_key, certificate=juliet.certificate,
            recipients=[romeo.certificate],
        )
        opened = open_stanza(
            sealed, trust=trust, key=romeo.private_key, certificate=romeo.certificate,
            replay=replay,
        )
        lines.append(
            f"  {opened.content_type}: {len(plain)} B stanza -> {len(sealed)} B sealed; "
            f"signed by {opened.signer}, encrypted={opened.encrypted}"
        )
        lines.append(f"    opened: {opened.xml.decode('utf-8')}")
    sealed = seal_stanza(
        stanzas[0], key=juliet.private_key, certificate=juliet.certificate,
        recipients=[romeo.certificate],
    )
    i = sealed.rindex(b"\n", 0, sealed.index(b"]]>") - 2) + 1  # last base64 line
    tampered = sealed[:i] + (b"A" if sealed[i : i + 1] != b"A" else b"B") + sealed[i + 1 :]
    try:
        open_stanza(
            tampered, trust=trust, key=romeo.private_key, certificate=romeo.certificate
        )
        lines.append("  tampered copy: ACCEPTED (unexpected)")
    except XmppSecError as exc:
        lines.append(
            f"  tampered copy: rejected ({type(exc).__name__}; "
            f"RFC 3923 §7 condition {error_condition(exc)})"
        )
    try:
        open_stanza(sealed, trust=trust, key=romeo.private_key,
                    certificate=romeo.certificate, replay=replay)
        open_stanza(sealed, trust=trust, key=romeo.private_key,
                    certificate=romeo.certificate, replay=replay)
        lines.append("  replayed copy: ACCEPTED (unexpected)")
    except XmppSecError as exc:
        lines.append(f"  replayed copy: rejected ({type(exc).__name__})")
    return lines
