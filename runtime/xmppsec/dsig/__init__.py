"""XEP-0290 encapsulated digital signatures for XMPP stanzas.

The safe high-level API::

    signer = Signer(key, signer="juliet@capulet.net", certificate=cert)
    signed = signer.sign(stanza_bytes)

    verifier = Verifier(TrustStore().pin("juliet@capulet.net", cert))
    result = verifier.verify(signed)          # raises a typed error unless valid
    for child in result.signed_children():    # only verified content
        ...

:meth:`Verifier.check` returns the same result without raising, for reports.
"""

from ..algorithms import DigestMethod, SignatureMethod
from ._policy import SERVER_ANNOTATIONS, Policy
from ._profile import PROFILES, ROBUST, SPEC, Profile
from ._result import (
    ReferenceResult,
    ReferenceStatus,
    SignatureResult,
    SignedChild,
    TimestampStatus,
    VerificationResult,
)
from ._sign import DEFAULT_CLOCK, Selector, Signer
from ._verify import Verifier

__all__ = [
    "DEFAULT_CLOCK",
    "PROFILES",
    "ROBUST",
    "SERVER_ANNOTATIONS",
    "SPEC",
    "DigestMethod",
    "Policy",
    "Profile",
    "ReferenceResult",
    "ReferenceStatus",
    "Selector",
    "SignatureMethod",
    "SignatureResult",
    "SignedChild",
    "Signer",
    "TimestampStatus",
    "VerificationResult",
    "Verifier",
]
