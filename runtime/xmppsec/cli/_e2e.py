"""``xmppsec e2e ...``: RFC 3923 end-to-end objects (S/MIME over Message/CPIM in ``<e2e/>``).

Exit codes as for every command: 0 valid / done, 1 rejected (reason on stderr, and in the
``--json`` report), 2 usage error (bad arguments, unreadable key or file).
"""

from __future__ import annotations

import argparse
import sys

from ..e2e import (
    OpenedStanza,
    error_condition,
    gateway_unwrap,
    gateway_wrap,
    open_stanza,
    seal_stanza,
)
from ..errors import KeyLoadError, NotSigned, UsageError, XmppSecError
from ..replay import MemoryReplayStore
from . import _common as c


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


def _open(args: argparse.Namespace, *, decrypt: bool) -> int:
    data = c.read_input(args.input)
    # An RFC 3923 sender is a JID: pins come from id-on-xmppAddr only, never a DNS name.
    trust = c.trust_store(args.trust, domains=False)
    key = c.load_key(args.key) if decrypt else None
    cert = c.load_cert(args.cert) if decrypt else None
    now = c.parse_now(args.now)
    replay = c.replay_store(args.replay_db) if args.replay_db else MemoryReplayStore()
    try:
        with c.replay_failures():
            opened = open_stanza(
                data, trust=trust, key=key, certificate=cert, replay=replay, now=now,
                allow_sha1=args.allow_sha1,
            )
        if decrypt and not opened.encrypted:
            raise NotSigned("the stanza was signed but not encrypted (use 'e2e verify')")
    except (UsageError, KeyLoadError):
        raise
    except XmppSecError as exc:
        if args.json:
            c.print_json(_report(None, exc))
        return c.reject(exc)
    if args.json:
        c.print_json(_report(opened, None))
    else:
        c.write_output(args.output, opened.xml + b"\n")
    return c.EXIT_OK


def _encrypt(args: argparse.Namespace) -> int:
    out = seal_stanza(
        c.read_input(args.input),
        key=c.load_key(args.key),
        certificate=c.load_cert(args.cert),
        recipients=[cert for path in args.to_cert for cert in c.load_certs(path)],
        digest=args.digest,
        pss=args.pss,
        cipher=args.cipher,
    )
    c.write_output(args.output, out + b"\n")
    return c.EXIT_OK


def _sign(args: argparse.Namespace) -> int:
    out = seal_stanza(
        c.read_input(args.input),
        key=c.load_key(args.key),
        certificate=c.load_cert(args.cert),
        encrypt=False,
        digest=args.digest,
        pss=args.pss,
    )
    c.write_output(args.output, out + b"\n")
    return c.EXIT_OK


def _decrypt(args: argparse.Namespace) -> int:
    return _open(args, decrypt=True)


def _verify(args: argparse.Namespace) -> int:
    return _open(args, decrypt=False)


def _unwrap(args: argparse.Namespace) -> int:
    c.write_output(args.output, gateway_unwrap(c.read_input(args.input)))
    return c.EXIT_OK


def _wrap(args: argparse.Namespace) -> int:
    out = gateway_wrap(
        c.read_input(args.input), to=args.to, sender=args.sender, kind=args.kind,
        stanza_type=args.type,
    )
    c.write_output(args.output, out + b"\n")
    return c.EXIT_OK


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
        "--trust", required=True, action="append", metavar="[JID=]SENDER_CERT",
        help="sender certificate to trust for JID, or for the one xmppAddr it names (repeatable)",
    )
    p.add_argument("--json", action="store_true", help="print a JSON report")
    p.add_argument("--allow-sha1", action="store_true", help="accept SHA-1 signatures")
    p.add_argument("--now", help="check timestamps against this RFC 3339 time")
    p.add_argument(
        "--replay-db", metavar="PATH|URL",
        help="replay store: a SQLite file or a Redis URL (default: none kept between runs)",
    )


def register(sub: c.Subparsers) -> None:
    e2e = sub.add_parser(
        "e2e", help="RFC 3923 end-to-end signing and encryption",
        description="RFC 3923 end-to-end objects: <e2e/> with S/MIME over Message/CPIM.",
    )

    def no_sub(args: argparse.Namespace) -> int:
        e2e.print_help(sys.stderr)
        return c.EXIT_USAGE

    e2e.set_defaults(handler=no_sub)
    esub = e2e.add_subparsers(dest="e2e_command", metavar="COMMAND")

    p = esub.add_parser("encrypt", help="sign then encrypt a stanza (stanza in, <e2e/> out)")
    _signing(p)
    p.add_argument("--to-cert", required=True, action="append", metavar="RCPT",
                   help="recipient certificate (RSA; repeatable)")
    p.add_argument("--cipher", default="aes128", choices=["aes128", "aes256"])
    _io(p)
    p.set_defaults(handler=_encrypt)

    p = esub.add_parser("decrypt", help="decrypt and verify; print the inner stanza")
    p.add_argument("--key", required=True, help="recipient private key")
    p.add_argument("--cert", required=True, help="recipient certificate")
    _opening(p)
    _io(p)
    p.set_defaults(handler=_decrypt)

    p = esub.add_parser("sign", help="sign a stanza without encrypting it")
    _signing(p)
    _io(p)
    p.set_defaults(handler=_sign)

    p = esub.add_parser("verify", help="verify a signed (not encrypted) e2e stanza")
    _opening(p)
    _io(p)
    p.set_defaults(handler=_verify)

    p = esub.add_parser("unwrap", help="gateway: stanza with <e2e/> -> S/MIME entity bytes")
    _io(p)
    p.set_defaults(handler=_unwrap)

    p = esub.add_parser("wrap", help="gateway: S/MIME entity bytes -> stanza with <e2e/>")
    p.add_argument("--to", required=True, metavar="JID")
    p.add_argument("--from", dest="sender", metavar="JID")
    p.add_argument("--kind", default="message", choices=["message", "presence", "iq"])
    p.add_argument("--type", help="stanza type attribute")
    _io(p)
    p.set_defaults(handler=_wrap)
