"""``xmppsec codegen ...``: the schema compiler (``xmppsec.codegen``), handed the command line
as is: it has its own argument parser, with options before anything else (which argparse's
``REMAINDER`` would refuse)."""

from __future__ import annotations

from collections.abc import Sequence

from . import _common as c


def run_codegen(argv: Sequence[str]) -> int:
    from xmppsec.codegen import main as codegen_main

    return int(codegen_main(list(argv), prog="xmppsec codegen"))


def register(sub: c.Subparsers) -> None:
    # Listed for --help only: run() hands "codegen ..." to run_codegen before parsing.
    sub.add_parser("codegen", help="compile XSD schemas into typed dataclasses (see --help)")
