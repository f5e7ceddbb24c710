"""``xmppsec validate``: a stanza (and known payloads) against the xmppsec schemas."""

from __future__ import annotations

import argparse
import sys

from ..errors import XmppSecError
from . import _common as c


def _validate(args: argparse.Namespace) -> int:
    from ..schema import validate

    data = c.read_input(args.infile)  # unreadable: a usage error (2), not "invalid"
    try:
        validate(data)
    except XmppSecError as exc:
        return c.reject(exc, "invalid")
    print("valid", file=sys.stderr)
    return c.EXIT_OK


def register(sub: c.Subparsers) -> None:
    p = sub.add_parser("validate", help="validate a stanza against the xmppsec schemas")
    p.add_argument("--in", dest="infile", metavar="FILE", help="stanza (default: stdin)")
    p.set_defaults(handler=_validate)
