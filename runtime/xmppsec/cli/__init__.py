"""The ``xmppsec`` command line: every command, one set of helpers (``_common``).

Exit codes (a contract outside tools script against): 0 valid / done, 1 rejected (the reason
on stderr), 2 usage error (bad arguments, unreadable files, unusable keys).

One module per command group: ``_dsig`` (keygen, sign, verify), ``_archive``
(verify --archive), ``_validate``, ``_e2e`` (RFC 3923), ``_codegen``, ``_demo``,
``_component`` (the XEP-0114 signing service).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from . import _codegen, _component, _demo, _dsig, _e2e, _validate
from ._common import EXIT_OK, EXIT_REJECTED, EXIT_USAGE, Handler, guarded

__all__ = ["EXIT_OK", "EXIT_REJECTED", "EXIT_USAGE", "main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xmppsec",
        description="XEP-0290 signatures and RFC 3923 end-to-end objects for XMPP stanzas.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in (_dsig, _validate, _codegen, _demo, _e2e, _component):
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """The ``xmppsec`` entry point: run the command and exit with its code."""
    sys.exit(run(argv))


def run(argv: Sequence[str] | None = None) -> int:
    """Run one command line; return its exit code (argparse exits 2 on bad arguments)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["codegen"]:
        return _codegen.run_codegen(args_list[1:])
    args = _parser().parse_args(args_list)
    handler: Handler = args.handler
    return guarded(handler, args)
