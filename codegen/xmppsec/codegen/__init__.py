"""The xmppsec code generator: XML schemas → typed dataclass bindings and a reference page.

``python -m codegen`` (from the repository root) regenerates ``generated/xmppsec/bindings/``
and ``docs/reference/schemas.md`` from ``schemas/*.xsd``; ``--check`` reports drift.
``xmppsec codegen --schema FILE.xsd --package NAME --out DIR`` compiles a user's schema the
same way.  Built on xsdata's ``DataclassGenerator`` (subclassed) and our jinja2 templates.
This package never imports the xmppsec runtime.
"""

from xmppsec.codegen._cli import EXIT_DRIFT, EXIT_OK, EXIT_USAGE, main
from xmppsec.codegen._compile import Job, Output, build
from xmppsec.codegen._generator import BindingsGenerator
from xmppsec.codegen._naming import WELL_KNOWN_MODULES

__all__ = [
    "EXIT_DRIFT",
    "EXIT_OK",
    "EXIT_USAGE",
    "WELL_KNOWN_MODULES",
    "BindingsGenerator",
    "Job",
    "Output",
    "build",
    "main",
]
