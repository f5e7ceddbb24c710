"""``python -m xmppsec.cli``: the ``xmppsec`` command."""

from . import main

main()
