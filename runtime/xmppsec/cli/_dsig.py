"""``xmppsec keygen``, ``sign`` and ``verify``: identities and XEP-0290 signatures."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import keys
from ..dsig import PROFILES, Signer, VerificationResult, Verifier
from ..errors import UsageError, XmppSecError
from . import _common as c


def _keygen(args: argparse.Namespace) -> int:
    if args.days < 1:
        raise UsageError("--days must be at least 1")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {args.out}: exists and is not a directory")
    if not args.force:
        for name in ("key.pem", "cert.pem"):
            if (out / name).exists():
                raise UsageError(f"{out / name} exists (pass --force to replace it)")
    password = c.passphrase(args) if args.passphrase_file else None
    try:
        identity = keys.generate_identity(args.jid, args.algorithm, days=args.days)
    except XmppSecError as exc:  # a bad JID or algorithm is the caller's mistake
        raise UsageError(str(exc)) from None
    try:
        key_path, cert_path = keys.write_identity(
            identity, out, overwrite=args.force, passphrase=password
        )
    except OSError as exc:
        raise UsageError(
            f"cannot write the identity into {args.out}: {exc.strerror or exc}"
        ) from None
    sealed = ", key encrypted" if password else ""
    print(
        f"wrote {key_path} and {cert_path} for {args.jid} ({args.algorithm}, "
        f"{args.days} days{sealed})",
        file=sys.stderr,
    )
    return c.EXIT_OK


def _sign(args: argparse.Namespace) -> int:
    key, cert = c.load_identity(args.key, args.cert, c.passphrase(args))
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
    data = c.read_input(args.infile)
    signed = signer.sign(data)  # an XmppSecError here: rejected (1)
    c.write_output(args.outfile, signed)
    return c.EXIT_OK


def _refuse_conflicts(args: argparse.Namespace) -> None:
    """Options that contradict or mean nothing together: exit 2 before any work."""
    if args.archive is not None:
        if args.infile is not None:
            raise UsageError("--archive and --in are two inputs: give one")
        if args.json:
            raise UsageError("--archive writes JSON lines already (see --report); drop --json")
        if args.no_replay and args.replay_db:
            raise UsageError("--no-replay and --replay-db contradict each other")
    else:
        if args.report is not None:
            raise UsageError("--report applies to --archive only")
        if args.jobs is not None:
            raise UsageError("--jobs applies to --archive only")


def _verify(args: argparse.Namespace) -> int:
    _refuse_conflicts(args)
    if args.archive is not None:
        from ._archive import verify_archive_command

        return verify_archive_command(args)
    now = c.parse_now(args.now)
    store = c.with_ca(c.trust_store(args.trust, legacy=args.legacy), args.ca)
    replay = c.replay_from(args)
    verifier = Verifier(
        store,
        policy=c.policy_from(args),
        replay=replay,
        profile=None if args.profile == "auto" else c.profile(args.profile),
    )
    data = c.read_input(args.infile)
    with c.replay_failures():
        result = verifier.check(data, now=now)
    if args.json:
        c.print_json(c.report(kind="xep-0290", checked_at=now, result=result))
    elif args.optimistic:
        _print_details(result)
    if not result.valid:
        assert result.error is not None  # noqa: S101 - an invalid result names its reason
        return c.reject(result.error)
    if not args.json:
        signers = ", ".join(s.signer for s in result.signatures)
        print(f"valid: signed by {signers}", file=sys.stderr)
    return c.EXIT_OK


def _print_details(result: VerificationResult) -> None:
    """What ``--optimistic`` reports beside its verdict, on stderr:
    every signature's references and timestamp, and the children no signature covers."""
    for s in result.signatures:
        stamp = s.timestamp_text or "(none)"
        print(
            f"signature by {s.signer} ({s.profile}, {s.signature_method}): "
            f"{'valid' if s.valid else 'invalid'}; timestamp {stamp} "
            f"[{s.timestamp_status.value}]",
            file=sys.stderr,
        )
        for r in s.references:
            print(f"  reference {r.uri} -> {r.element}: {r.status.value}", file=sys.stderr)
    unsigned = ", ".join(result.unsigned_children) or "none"
    print(f"unsigned children: {unsigned}", file=sys.stderr)


def register(sub: c.Subparsers) -> None:
    p = sub.add_parser("keygen", help="write a key and a self-signed certificate for a JID")
    p.add_argument("--jid", required=True, help="the identity's JID (bare, or a domain)")
    p.add_argument("--algorithm", choices=keys.ALGORITHMS, default="ecdsa-p256",
                   help="key algorithm")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="directory for key.pem and cert.pem (created 0700 if missing)")
    p.add_argument("--days", type=int, default=365, metavar="N",
                   help="certificate validity in days")
    p.add_argument("--force", action="store_true",
                   help="replace an existing key.pem/cert.pem")
    p.add_argument("--passphrase-file", metavar="FILE",
                   help="encrypt key.pem (PKCS#8) with the first line of FILE")
    p.set_defaults(handler=_keygen)

    p = sub.add_parser("sign", help="sign a stanza (XEP-0290)")
    c.add_key_options(p, "signer")
    p.add_argument("--signer", help="bare JID or domain (default: the certificate's xmppAddr)")
    p.add_argument("--profile", default="robust", choices=sorted(PROFILES),
                   help="robust survives routing through servers; spec is XEP-0290 as "
                   "written, for interop with another implementation")
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
    p.add_argument("--ca", action="append", default=[], metavar="BUNDLE",
                   help="trust certificates issued by these CAs (PEM bundle; repeatable)")
    p.add_argument("--profile", default="auto", choices=["auto", *sorted(PROFILES)],
                   help="accept only this signature profile (auto: either)")
    p.add_argument("--now", help="judge timestamps at this RFC 3339 time (default: the clock)")
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
    c.add_replay_options(p)
    p.add_argument("--legacy", action="store_true", help="accept SHA-1 and DSA")
    p.add_argument("--json", action="store_true",
                   help="print the JSON report (docs/cli.md) on stdout")
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

