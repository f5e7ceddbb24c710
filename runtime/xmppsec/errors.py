"""Typed errors raised by xmppsec.

Every error the library raises derives from :class:`XmppSecError`, which is itself never
raised. Invalid input from the network never escapes as ``KeyError``, ``IndexError``,
``ValueError`` from lxml/cryptography, or a hang.

Two kinds, told apart by whose mistake it is (as h11 splits LocalProtocolError from
RemoteProtocolError):

* :class:`UsageError` (also a ``ValueError``): the caller misused the API — an argument
  of the wrong type or outside its documented domain (a naive datetime as ``now``, a
  non-positive window, a non-integer limit), a bad configuration (a certificate pinned
  for a JID it does not name, a malformed fingerprint, a closed replay store).
* every other class: the peer's bad or hostile input, split once at the input
  boundary: parse-level problems (:class:`RestrictedXMLError`, :class:`LimitExceeded`),
  schema problems (:class:`SchemaError`, :class:`JIDError`, :class:`KeyLoadError`),
  verification problems (:class:`VerificationError`), RFC 3923 objects
  (:class:`CPIMFormatError`, :class:`SMIMEFormatError`, :class:`DecryptionError`).

:class:`ReplayStoreError` stands apart: the replay store (SQLite, Redis) could not
answer, which is neither party's mistake; the stanza is then refused, never accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "AmbiguousReference",
    "CPIMFormatError",
    "DecryptionError",
    "DigestMismatch",
    "InvalidReference",
    "InvalidSignature",
    "JIDError",
    "KeyLoadError",
    "LimitExceeded",
    "NotSigned",
    "ReplayError",
    "ReplayStoreError",
    "RestrictedXMLError",
    "SMIMEFormatError",
    "SchemaError",
    "SchemaFault",
    "SignatureSchemaError",
    "SignerMismatch",
    "StanzaMismatch",
    "StanzaSchemaError",
    "TimestampError",
    "TimestampKind",
    "UnsignedContent",
    "UnsupportedAlgorithm",
    "UntrustedKey",
    "UsageError",
    "VerificationError",
    "XmppSecError",
    "check_limit",
]


class XmppSecError(Exception):
    """Base of every xmppsec error. Never raised itself.

    Two kinds derive from it, as h11 splits local from remote protocol errors:
    :class:`UsageError` for the caller's mistakes (a wrong argument, an unusable
    configuration), and every other class for the peer's bad or hostile input.
    """


class UsageError(XmppSecError, ValueError):
    """The caller misused the API (a bad argument or configuration): never raised for
    input received from a peer."""


class ReplayStoreError(XmppSecError):
    """The replay store could not answer (database or server unreachable, timed out, not
    replicated). A stanza is never accepted without the store's answer."""


# -- input boundary: bytes -> tree -------------------------------------------------------


class RestrictedXMLError(XmppSecError):
    """The input is not RFC 6120 §11 restricted XML (DTD, entity, comment, PI, non-UTF-8,
    not well-formed)."""


class LimitExceeded(XmppSecError):
    """A configured resource limit (size, depth, children, references, transforms,
    signatures, chain length) was exceeded; raised before any expensive work."""

    def __init__(self, message: str, *, limit: str = "", value: int = 0, maximum: int = 0):
        super().__init__(message)
        self.limit = limit
        self.value = value
        self.maximum = maximum


def check_limit(limit: str, value: int, maximum: int) -> None:
    """Raise :class:`LimitExceeded` naming ``limit`` when ``value`` exceeds ``maximum``:
    the one place every limit check of the runtime goes through."""
    if value > maximum:
        raise LimitExceeded(
            f"{limit}: {value} exceeds the limit of {maximum}",
            limit=limit,
            value=value,
            maximum=maximum,
        )


# -- schema ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SchemaFault:
    """One schema violation: the message, 1-based source line (0 if unknown) and an
    XPath-like path of the offending element (attribute faults name their element)."""

    message: str
    line: int
    path: str


class SchemaError(XmppSecError):
    """A document does not conform to the xmppsec schemas.

    ``line`` is the 1-based source line of the first fault (0 when unknown), ``path`` an
    XPath-like location of the offending node, ``faults`` every fault found, first first.
    """

    def __init__(
        self,
        message: str,
        *,
        line: int = 0,
        path: str = "",
        faults: tuple[SchemaFault, ...] = (),
    ):
        super().__init__(message)
        self.line = line
        self.path = path
        self.faults: tuple[SchemaFault, ...] = faults or (SchemaFault(message, line, path),)

    def __str__(self) -> str:
        base = super().__str__()
        where = []
        if self.line:
            where.append(f"line {self.line}")
        if self.path:
            where.append(self.path)
        return f"{base} ({', '.join(where)})" if where else base


class StanzaSchemaError(SchemaError):
    """The stanza (or a known payload) is not schema-valid."""


class SignatureSchemaError(SchemaError):
    """A ds:Signature or stanza-desc is structurally wrong (missing or duplicated parts,
    misplaced signature)."""


class JIDError(XmppSecError):
    """A JID fails RFC 7622 preparation or length rules."""


class KeyLoadError(XmppSecError):
    """A key or certificate could not be loaded (format, type or size)."""


# -- verification ----------------------------------------------------------------------


class VerificationError(XmppSecError):
    """Base of every reason a signature or signed object is rejected."""


class UnsupportedAlgorithm(VerificationError):
    """An algorithm or transform URI is not on the policy's allow-list."""


class InvalidReference(VerificationError):
    """A reference is missing, external, malformed or does not resolve."""


class AmbiguousReference(InvalidReference):
    """An identifier resolves to more than one element."""


class DigestMismatch(VerificationError):
    """A reference's digest does not match its target."""


class InvalidSignature(VerificationError):
    """The SignatureValue does not verify over SignedInfo (or a CMS signature fails)."""


class StanzaMismatch(VerificationError):
    """The stanza attributes or child order differ from what was signed."""


class SignerMismatch(VerificationError):
    """Signer, certificate identity and stanza ``from`` do not agree."""


class UntrustedKey(VerificationError):
    """No trusted key for the signer, or the key is too weak or malformed."""


TimestampKind = Literal["old", "future", "decreasing", "format"]


class TimestampError(VerificationError):
    """A timestamp is malformed, outside the window, or not increasing."""

    def __init__(self, message: str, *, kind: TimestampKind):
        super().__init__(message)
        self.kind: TimestampKind = kind


class ReplayError(VerificationError):
    """The same signature was seen before, or a signer's timestamp did not increase."""


class NotSigned(VerificationError):
    """The stanza carries no signature (or none in the expected namespace)."""


class UnsignedContent(VerificationError):
    """Strict policy: the stanza has children that no signature covers."""


# -- RFC 3923 --------------------------------------------------------------------------


class CPIMFormatError(XmppSecError):
    """A Message/CPIM object (RFC 3862) is malformed."""


class SMIMEFormatError(XmppSecError):
    """An S/MIME entity or CMS structure is malformed."""


class DecryptionError(XmppSecError):
    """Decryption failed. Deliberately opaque: the same type and message for every cause
    (wrong recipient, bad key, bad padding, malformed ciphertext), so that no oracle leaks."""

    MESSAGE = "decryption failed"

    def __init__(self) -> None:
        super().__init__(self.MESSAGE)
