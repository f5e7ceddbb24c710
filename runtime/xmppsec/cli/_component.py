"""``xmppsec component``: the XEP-0114 signing service (docs/component.md)."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from .. import keys
from ..dsig import ROBUST, Signer
from ..errors import JIDError, UsageError, XmppSecError
from ..jid import parse_jid
from . import _common as c


def _server(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--server takes HOST:PORT, not {value!r}")
    return host.strip("[]"), int(port)


def _secret(args: argparse.Namespace) -> str:
    if args.secret_file is not None:
        text = c.read_file(args.secret_file, "the component secret").decode("utf-8", "replace")
        secret = text.strip()
    elif args.secret is not None:
        secret = args.secret
    else:
        secret = os.environ.get("XMPPSEC_COMPONENT_SECRET", "")
    if not secret:
        raise UsageError(
            "give the component secret: --secret, --secret-file or $XMPPSEC_COMPONENT_SECRET"
        )
    return secret


def _component(args: argparse.Namespace) -> int:
    from ..integrations.component import ServiceCore, run_component

    host, port = _server(args.server)
    try:
        domain = parse_jid(args.domain)
    except JIDError as exc:
        raise UsageError(f"--domain: {exc}") from None
    if domain.local is not None or domain.resource is not None:
        raise UsageError("--domain is a domain (the component's JID), not a user JID")
    key = c.load_key(args.key)
    cert = c.load_cert(args.cert)
    if str(domain) not in keys.xmpp_addrs(cert):
        raise UsageError(f"the certificate's id-on-xmppAddr does not name {domain}")
    try:
        signer = Signer(key, signer=str(domain), certificate=cert, profile=ROBUST)
    except XmppSecError as exc:
        raise UsageError(f"cannot sign as {domain}: {exc}") from None
    logging.basicConfig(level=logging.WARNING, format="xmppsec component: %(message)s")

    def announce(line: str) -> None:
        print(f"xmppsec: {line}", file=sys.stderr, flush=True)

    code = run_component(
        host=host,
        port=port,
        domain=str(domain),
        secret=_secret(args),
        core=ServiceCore(str(domain), signer, args.mode),
        announce=announce,
    )
    if code != c.EXIT_OK:
        print(
            f"xmppsec: component {domain}: the server refused or closed the stream", file=sys.stderr
        )
        return c.EXIT_REJECTED
    return c.EXIT_OK


def register(sub: c.Subparsers) -> None:
    p = sub.add_parser(
        "component",
        help="run the XEP-0114 signing service (rooms or relay) as a server's subdomain",
    )
    p.add_argument("--server", required=True, metavar="HOST:PORT", help="the component port")
    p.add_argument("--domain", required=True, help="the component's domain (its JID)")
    p.add_argument("--secret", help="the shared secret (visible in ps: prefer --secret-file)")
    p.add_argument("--secret-file", metavar="FILE", help="a file holding the shared secret")
    p.add_argument("--key", required=True, help="PKCS#8 PEM private key of the domain")
    p.add_argument("--cert", required=True, help="certificate whose id-on-xmppAddr is the domain")
    p.add_argument("--mode", choices=["rooms", "relay"], default="rooms")
    p.set_defaults(handler=_component)
