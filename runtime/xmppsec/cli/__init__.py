"""The ``xmppsec`` command line: every command, one set of helpers (``_common``).

Exit codes (a contract outside tools script against): 0 valid / done, 1 rejected (the reason
on stderr), 2 usage error (bad arguments, unreadable files, unusable keys).

One module per command group: ``_dsig`` (keygen, sign, verify), ``_archive``
(verify --archive), ``_inspect``, ``_validate``, ``_e2e`` (RFC 3923), ``_codegen``,
``_demo``. The JSON report of every verifying command is one shape (``_common.report``,
documented in docs/cli.md). ``_component`` (the XEP-0114 signing service).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import NoReturn

from . import _codegen, _component, _demo, _dsig, _e2e, _inspect, _validate
from ._common import EXIT_OK, EXIT_REJECTED, EXIT_USAGE, Handler, guarded, usage


class _Help(argparse.HelpFormatter):
    """Help that shows each option's default (when it has a meaningful one)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" not in text
            and "default" not in text
            and default not in (None, False, [], argparse.SUPPRESS)
            and action.option_strings
        ):
            text += " (default: %(default)s)"
        return text


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``prog: error: message``, exit 2) and defaults in
    the help of every command and subcommand."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", _Help)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> NoReturn:
        sys.exit(usage(f"{self.prog}: {message} (see {self.prog} --help)"))

__all__ = ["EXIT_OK", "EXIT_REJECTED", "EXIT_USAGE", "main"]


def _version() -> str:
    """The installed distribution's version (its metadata is built from
    ``xmppsec.__version__``); read from the metadata so the CLI does not import the façade."""
    try:
        return version("xmppsec")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="xmppsec",
        description="XEP-0290 signatures and RFC 3923 end-to-end objects for XMPP stanzas.",
    )
    parser.add_argument("--version", action="version", version=f"xmppsec {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in (_dsig, _inspect, _validate, _codegen, _demo, _e2e, _component):
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
