"""``python -m codegen`` from the repository root: regenerate the bindings (see docs/regenerate.md).

``codegen/`` has no ``__init__.py``; run from the root it is a namespace package, and this shim
hands over to ``xmppsec.codegen`` (importable via PYTHONPATH=runtime:generated:codegen or an
editable install).
"""

import sys
from pathlib import Path

try:
    from xmppsec.codegen import main
except ImportError:  # plain checkout without an editable install or PYTHONPATH
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from xmppsec.codegen import main

raise SystemExit(main())
