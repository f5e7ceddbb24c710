"""asn1crypto (untyped) behind one boundary: its modules are exposed as ``Any`` so that
every value read from them is treated as unchecked; _cms and _envelope check each value
they use and wrap asn1crypto's ValueError/TypeError/... into SMIMEFormatError."""

from __future__ import annotations

from typing import Any

from asn1crypto import algos as _algos
from asn1crypto import cms as _cms
from asn1crypto import core as _core
from asn1crypto import keys as _keys
from asn1crypto import x509 as _x509

algos: Any = _algos
cms: Any = _cms
core: Any = _core
keys: Any = _keys
x509: Any = _x509

__all__ = ["algos", "cms", "core", "keys", "x509"]
