"""Low-level primitives — hazardous material.

Raw signing and verification of octets, digests and canonicalization of single elements:
the pieces :mod:`xmppsec.dsig` composes with every check XEP-0290 asks for (structure,
limits, trust, identity, time, replay). Nothing here checks any of that: a ``verify_bytes``
that passes says only that these octets carry this signature under this key. Use the
high-level API (:class:`xmppsec.Signer`, :class:`xmppsec.Verifier`, :func:`xmppsec.open_stanza`)
unless you are building a protocol of your own, as one uses ``cryptography.hazmat``.
"""

from __future__ import annotations

from .algorithms import (
    default_signature_method,
    digest,
    digest_constructor,
    sign_bytes,
    signature_spec,
    verify_bytes,
)
from .dsig._c14n import c14n, c14n_child, c14n_children, robust_c14n

__all__ = [
    "c14n",
    "c14n_child",
    "c14n_children",
    "default_signature_method",
    "digest",
    "digest_constructor",
    "robust_c14n",
    "sign_bytes",
    "signature_spec",
    "verify_bytes",
]
