"""``xmppsec e2e ...``: RFC 3923 end-to-end objects (S/MIME over Message/CPIM in ``<e2e/>``).

Exit codes as for every command: 0 valid / done, 1 rejected (reason on stderr, and in the
``--json`` report), 2 usage error (bad arguments, unreadable key or file).
"""

from __future__ import annotations

import argparse
import sys

from ..e2e import (
    ContentCipher,
    KeyTransport,
    error_condition,
    gateway_unwrap,
    gateway_wrap,
    open_stanza,
    seal_stanza,
)
from ..errors import KeyLoadError, NotSigned, UsageError, XmppSecError
from ..replay import MemoryReplayStore
from . import _common as c

# The payload types RFC 3923 §4 and §5 name (e2e sign/encrypt --content-type).
CONTENT_TYPES = ("application/xmpp+xml", "text/plain", "application/pidf+xml")


def _open(args: argparse.Namespace, *, decrypt: bool) -> int:
    data = c.read_input(args.input)
    # An RFC 3923 sender is a JID: pins come from id-on-xmppAddr only, never a DNS name.
    if not args.trust and not args.ca:
        raise UsageError("nothing to trust: pass --trust SENDER_CERT or --ca BUNDLE")
    trust = c.with_ca(c.trust_store(args.trust, domains=False), args.ca)
    key, cert = (
        c.load_identity(args.key, args.cert, c.passphrase(args)) if decrypt else (None, None)
    )
    now = c.parse_now(args.now)
    # On by default (RFC 3923 §9: a replayed object is refused); --no-replay: none kept.
    replay = c.replay_from(args) or MemoryReplayStore()
    try:
        with c.replay_failures():
            opened = open_stanza(
                data, trust=trust, key=key, certificate=cert, replay=replay, now=now,
                allow_sha1=args.allow_sha1, recipient=args.recipient,
            )
        if decrypt and not opened.encrypted:
            raise NotSigned("the stanza was signed but not encrypted (use 'e2e verify')")
    except (UsageError, KeyLoadError):
        raise
    except XmppSecError as exc:
        if args.json:
            c.print_json(
                c.report(kind="rfc-3923", checked_at=now, error=exc,
                         condition=error_condition(exc))
            )
        return c.reject(exc)
    if args.json:
        c.print_json(c.report(kind="rfc-3923", checked_at=now, opened=opened))
    else:
        c.write_output(args.output, opened.xml + b"\n")
    return c.EXIT_OK


def _encrypt(args: argparse.Namespace) -> int:
    key, cert = c.load_identity(args.key, args.cert, c.passphrase(args))
    out = seal_stanza(
        c.read_input(args.input),
        key=key,
        certificate=cert,
        recipients=[cert for path in args.to_cert for cert in c.load_certs(path)],
        digest=args.digest,
        pss=args.pss,
        cipher=ContentCipher(args.cipher),
        key_transport=KeyTransport(args.key_transport) if args.key_transport else None,
        content_type=args.content_type,
    )
    c.write_output(args.output, out + b"\n")
    return c.EXIT_OK


def _sign(args: argparse.Namespace) -> int:
    key, cert = c.load_identity(args.key, args.cert, c.passphrase(args))
    out = seal_stanza(
        c.read_input(args.input),
        key=key,
        certificate=cert,
        encrypt=False,
        digest=args.digest,
        pss=args.pss,
        content_type=args.content_type,
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
    if args.kind == "iq" and not args.id:
        raise UsageError("an iq needs an id (RFC 6120 §8.1.3): pass --id")
    try:
        out = gateway_wrap(
            c.read_input(args.input), to=args.to, sender=args.sender, kind=args.kind,
            stanza_type=args.type, stanza_id=args.id,
        )
    except XmppSecError as exc:  # a bad JID or entity given on the command line
        raise UsageError(f"cannot wrap: {exc}") from None
    c.write_output(args.output, out + b"\n")
    return c.EXIT_OK


def _io(p: argparse.ArgumentParser) -> None:
    p.add_argument("--in", dest="input", metavar="FILE", help="input file (default stdin)")
    p.add_argument("--out", dest="output", metavar="FILE", help="output file (default stdout)")


def _signing(p: argparse.ArgumentParser) -> None:
    c.add_key_options(p, "signer")
    p.add_argument(
        "--digest", default="sha256", choices=["sha256", "sha384", "sha512", "sha1"],
        help="digest (default sha256; sha1 is RFC 3923's MTI, for peers that need it)",
    )
    p.add_argument("--pss", action="store_true", help="RSASSA-PSS instead of PKCS#1 v1.5")
    p.add_argument(
        "--content-type", metavar="TYPE", choices=CONTENT_TYPES,
        help="CPIM payload type: application/xmpp+xml (the whole stanza), text/plain (a "
        "message body) or application/pidf+xml (a presence); default: text/plain for a "
        "message that is one <body/>, application/pidf+xml for a presence, else the stanza",
    )


def _opening(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--trust", action="append", default=[], metavar="[JID=]SENDER_CERT",
        help="sender certificate to trust for JID, or for the one xmppAddr it names (repeatable)",
    )
    p.add_argument("--ca", action="append", default=[], metavar="BUNDLE",
                   help="trust sender certificates issued by these CAs (repeatable)")
    p.add_argument("--json", action="store_true",
                   help="print the JSON report (docs/cli.md) on stdout")
    p.add_argument("--allow-sha1", action="store_true", help="accept SHA-1 signatures")
    p.add_argument("--now", help="check timestamps against this RFC 3339 time")
    p.add_argument("--recipient", metavar="JID",
                   help="who opens it: the stanza and CPIM To must name this JID (default: the "
                   "decrypting certificate's xmppAddr; for 'verify', the stanza's to)")
    c.add_replay_options(p)


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
                   help="recipient certificate: RSA or EC P-256/384/521; repeatable (each "
                   "device of the recipient, and your own to read it back)")
    p.add_argument("--cipher", default=ContentCipher.AES256_GCM.value,
                   choices=[c.value for c in ContentCipher],
                   help="content encryption: AES-GCM AuthEnvelopedData (RFC 5083/5084), or "
                   "AES-CBC EnvelopedData (RFC 3923's mandatory one) on request")
    p.add_argument("--key-transport", default=None, choices=[k.value for k in KeyTransport],
                   help="for RSA recipients (default: rsa-oaep); EC recipients use ECDH")
    _io(p)
    p.set_defaults(handler=_encrypt)

    p = esub.add_parser("decrypt", help="decrypt and verify; print the inner stanza")
    c.add_key_options(p, "recipient")
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
    p.add_argument("--type", help="stanza type attribute (default for an iq: set)")
    p.add_argument("--id", help="stanza id attribute (required for an iq)")
    _io(p)
    p.set_defaults(handler=_wrap)
