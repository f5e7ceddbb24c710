# DO NOT EDIT — regenerate with python -m codegen
# Source: xmpp-e2e.xsd
"""Bindings for the XML namespace urn:ietf:params:xml:ns:xmpp-e2e.

Dataclasses for the elements and types of xmpp-e2e.xsd, for xsdata's
XmlParser / XmlSerializer.  Each class names its XML element or type in ``Meta``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__NAMESPACE__ = "urn:ietf:params:xml:ns:xmpp-e2e"

__all__ = [
    "BadTimestamp",
    "DecryptionFailed",
    "E2E",
    "E2EType",
    "EmptyType",
    "SignatureUnverified",
]


@dataclass(slots=True, kw_only=True)
class E2EType:
    """
    The S/MIME object as character data, optionally marked as a signed child by XEP-0290 d:id.
    """

    class Meta:
        name = "E2eType"

    value: str = field(default="")
    dsig_id: None | str = field(
        default=None,
        metadata={"name": "id", "type": "Attribute", "namespace": "urn:xmpp:dsig:0"},
    )


@dataclass(slots=True, kw_only=True)
class EmptyType:
    """An element with neither attributes nor content."""

    class Meta:
        name = "EmptyType"


@dataclass(slots=True, kw_only=True)
class BadTimestamp(EmptyType):
    """
    Error condition: the signed timestamp is outside the acceptable window (RFC 3923 §7; sent with
    stanzas:not-acceptable).
    """

    class Meta:
        name = "bad-timestamp"
        namespace = "urn:ietf:params:xml:ns:xmpp-e2e"


@dataclass(slots=True, kw_only=True)
class DecryptionFailed(EmptyType):
    """
    Error condition: the recipient could not decrypt the object (RFC 3923 §7; sent with
    stanzas:bad-request).
    """

    class Meta:
        name = "decryption-failed"
        namespace = "urn:ietf:params:xml:ns:xmpp-e2e"


@dataclass(slots=True, kw_only=True)
class E2E(E2EType):
    """
    Wrapper for an S/MIME object (signed and/or encrypted CPIM, PIDF or XMPP data) inside a stanza
    (RFC 3923 §3-§5).
    """

    class Meta:
        name = "e2e"
        namespace = "urn:ietf:params:xml:ns:xmpp-e2e"


@dataclass(slots=True, kw_only=True)
class SignatureUnverified(EmptyType):
    """
    Error condition: the recipient could not verify the signature (RFC 3923 §7; sent with
    stanzas:not-acceptable).
    """

    class Meta:
        name = "signature-unverified"
        namespace = "urn:ietf:params:xml:ns:xmpp-e2e"
