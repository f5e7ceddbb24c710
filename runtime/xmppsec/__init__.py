"""xmppsec: XEP-0290 signatures and RFC 3923 end-to-end objects for XMPP stanzas.

The names a user needs first::

    import xmppsec

    signer = xmppsec.Signer(key, signer="juliet@capulet.net", certificate=cert)
    result = xmppsec.Verifier(xmppsec.TrustStore().pin("juliet@capulet.net", cert)).verify(
        signer.sign(stanza)
    )

Everything else lives in the submodules: :mod:`xmppsec.dsig` (profiles, policies, results),
:mod:`xmppsec.e2e` (RFC 3923), :mod:`xmppsec.schema`, :mod:`xmppsec.trust`,
:mod:`xmppsec.keys`, :mod:`xmppsec.replay`, :mod:`xmppsec.errors`, the generated
:mod:`xmppsec.bindings`; raw primitives in the clearly marked low-level
:mod:`xmppsec.hazmat`. The names here are imported on first use, so ``import xmppsec.dsig``
costs no more than before.
"""

from __future__ import annotations

import importlib
from pkgutil import extend_path
from typing import TYPE_CHECKING, Any

# The package is assembled from three source roots (runtime, generated, codegen): in an
# installed wheel they are one folder; in a source checkout each root holds a part.
__path__ = extend_path(__path__, __name__)

__version__ = "0.1.0"

__all__ = [
    "Policy",
    "Signer",
    "TrustStore",
    "Verifier",
    "XmppSecError",
    "__version__",
    "generate_identity",
    "open_stanza",
    "seal_stanza",
    "validate",
]

if TYPE_CHECKING:
    from .dsig import Policy, Signer, Verifier
    from .e2e import open_stanza, seal_stanza
    from .errors import XmppSecError
    from .keys import generate_identity
    from .schema import validate
    from .trust import TrustStore

_WHERE = {
    "Policy": "dsig",
    "Signer": "dsig",
    "Verifier": "dsig",
    "open_stanza": "e2e",
    "seal_stanza": "e2e",
    "XmppSecError": "errors",
    "generate_identity": "keys",
    "validate": "schema",
    "TrustStore": "trust",
}


def __getattr__(name: str) -> Any:  # PEP 562: the façade's names, imported on first use
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'xmppsec' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
