"""The xmppsec code generator: XML schemas → typed dataclass bindings and a reference page.

``python -m codegen`` (from the repository root) regenerates ``generated/xmppsec/bindings/``
and ``docs/reference/schemas.md`` from ``schemas/*.xsd``; ``--check`` reports drift.
``xmppsec codegen --schema FILE.xsd --package NAME --out DIR`` compiles a user's schema the
same way.  Built on xsdata's ``DataclassGenerator`` (subclassed) and our jinja2 templates.
This package never imports the xmppsec runtime.

xsdata's code generator needs ``click`` and ``toposort`` (xsdata's ``cli`` extra) and our
templates need ``jinja2``; the runtime needs none of them: they come with
``pip install 'xmppsec[codegen]'``.  Importing this package needs none of them; :func:`main`
reports their absence as a usage error.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

EXIT_OK = 0
"""Generated, or (``--check``) already up to date."""
EXIT_DRIFT = 1
"""``--check`` only: the files on disk differ from what the schemas produce (diff printed)."""
EXIT_USAGE = 2
"""Bad arguments, a schema error, or a missing generator dependency."""

__all__ = ["EXIT_DRIFT", "EXIT_OK", "EXIT_USAGE", "main"]

_EXTRA_HINT = "the code generator needs xsdata's cli extra: pip install 'xmppsec[codegen]'"


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    """Run the generator with command-line ``argv``; returns the exit status (see ``EXIT_*``)."""
    try:
        from xmppsec.codegen._cli import run
    except ModuleNotFoundError as exc:
        if exc.name not in ("click", "toposort", "jinja2"):
            raise
        print(f"{prog or 'xmppsec codegen'}: error: {_EXTRA_HINT} (missing module {exc.name})",
              file=sys.stderr)
        return EXIT_USAGE
    return run(argv, prog=prog)
