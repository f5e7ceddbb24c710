"""``python -m xmppsec.codegen``: same as ``python -m codegen``."""

from xmppsec.codegen import main

raise SystemExit(main())
