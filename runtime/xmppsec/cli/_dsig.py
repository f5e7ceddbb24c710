"""``xmppsec keygen``, ``sign`` and ``verify``: identities and XEP-0290 signatures."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import keys
from ..dsig import PROFILES, Signer, Verifier
from ..errors import UsageError, XmppSecError
from . import _common as c


def _keygen(args: argparse.Namespace) -> int:
    try:
        identity = keys.generate_identity(args.jid, args.algorithm)
    except XmppSecError as exc:  # a bad JID or algorithm is the caller's mistake
        raise UsageError(str(exc)) from None
    try:
        key_path, cert_path = keys.write_identity(identity, Path(args.out))
    except OSError as exc:
        raise UsageError(f"cannot write the identity into {args.out}: {exc}") from None
    print(f"wrote {key_path} and {cert_path} for {args.jid} ({args.algorithm})", file=sys.stderr)
    return c.EXIT_OK


def _sign(args: argparse.Namespace) -> int:
    key = c.load_key(args.key)
    cert = c.load_cert(args.cert)
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
            profile=c.profile(args.profile),
            include_certificate=args.include_cert,
        )
    except XmppSecError as exc:
        raise UsageError(f"cannot sign as {signer_jid}: {exc}") from None
    signed = signer.sign(c.read_input(args.infile))  # an XmppSecError here: rejected (1)
    c.write_output(args.outfile, signed)
    return c.EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    if args.archive is not None:
        from ._archive import verify_archive_command

        return verify_archive_command(args)
    now = c.parse_now(args.now)
    replay = c.replay_store(args.replay_db) if args.replay_db else None
    verifier = Verifier(
        c.trust_store(args.trust, legacy=args.legacy),
        policy=c.policy_from(args),
        replay=replay,
        profile=None if args.profile == "auto" else c.profile(args.profile),
    )
    data = c.read_input(args.infile)
    with c.replay_failures():
        result = verifier.check(data, now=now)
    if args.json:
        c.print_json(result.to_json_text())
    if not result.valid:
        assert result.error is not None
        return c.reject(result.error)
    if not args.json:
        signers = ", ".join(s.signer for s in result.signatures)
        print(f"valid: signed by {signers}", file=sys.stderr)
    return c.EXIT_OK


def register(sub: c.Subparsers) -> None:
    p = sub.add_parser("keygen", help="write a key and a self-signed certificate for a JID")
    p.add_argument("--jid", required=True)
    p.add_argument("--algorithm", choices=keys.ALGORITHMS, default="ecdsa-p256")
    p.add_argument("--out", required=True, metavar="DIR")
    p.set_defaults(handler=_keygen)

    p = sub.add_parser("sign", help="sign a stanza (XEP-0290)")
    p.add_argument("--key", required=True, help="PKCS#8 PEM private key")
    p.add_argument("--cert", required=True, help="certificate with id-on-xmppAddr")
    p.add_argument("--signer", help="bare JID or domain (default: the certificate's xmppAddr)")
    p.add_argument("--profile", default="spec", choices=sorted(PROFILES))
    p.add_argument("--include-cert", action="store_true", help="put the certificate in KeyInfo")
    p.add_argument("--in", dest="infile", metavar="FILE", help="stanza (default: stdin)")
    p.add_argument("--out", dest="outfile", metavar="FILE", help="signed stanza (default: stdout)")
    p.set_defaults(handler=_sign)

    p = sub.add_parser("verify", help="verify the signatures on a stanza")
    p.add_argument(
        "--trust",
        action="append",
        default=[],
        metavar="[JID=]CERT",
        help="pin CERT for JID; a bare CERT is pinned for the one JID it names (repeatable)",
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
    p.add_argument(
        "--executor",
        metavar="local|dask://HOST:PORT",
        help="--archive: where to run (default: local, the fork pool); dask://local starts a "
        "LocalCluster",
    )
    p.set_defaults(handler=_verify)
