# DO NOT EDIT — regenerate with python -m codegen
# Source: xmpp-dsig-robust.xsd
"""Bindings for the XML namespace urn:xmpp:tmp:dsig:robust:0.

Dataclasses for the elements and types of xmpp-dsig-robust.xsd, for xsdata's
XmlParser / XmlSerializer.  Each class names its XML element or type in ``Meta``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xsdata.models.datatype import XmlDateTime

from xmppsec.bindings.dsig import (
    IqTypeValue,
    MessageTypeValue,
    PresenceTypeValue,
)
from xmppsec.bindings.xmldsig import (
    DigestMethod,
    Transforms,
)

__NAMESPACE__ = "urn:xmpp:tmp:dsig:robust:0"

__all__ = [
    "IqCopyType",
    "MessageCopyType",
    "PresenceCopyType",
    "ReferenceType",
    "ReferencesType",
    "StanzaDesc",
    "StanzaDescType",
]


@dataclass(slots=True, kw_only=True)
class ReferenceType:
    """
    Base64 digest of one transformed stanza child, naming the child by namespace and local name (no
    URI attribute).
    """

    class Meta:
        name = "ReferenceType"

    value: bytes = field(default=b"", metadata={"format": "base64"})
    ns: None | str = field(default=None, metadata={"type": "Attribute"})
    name: str = field(metadata={"type": "Attribute"})


@dataclass(slots=True, kw_only=True)
class ReferencesType:
    """
    References to the stanza's signed children; their order is not significant (a verifier matches
    each by name and digest).
    """

    class Meta:
        name = "ReferencesType"

    reference: list[ReferenceType] = field(
        default_factory=list,
        metadata={"type": "Element", "namespace": "urn:xmpp:tmp:dsig:robust:0"},
    )


@dataclass(slots=True, kw_only=True)
class IqCopyType(ReferencesType):
    """
    The signed iq's attributes (id and type required as in RFC 6120 §8.2.3) and the reference to
    its single payload (RFC 6120 §8.2.3; the payload rule is runtime-checked).
    """

    class Meta:
        name = "IqCopyType"

    from_value: None | str = field(default=None, metadata={"name": "from", "type": "Attribute"})
    to: None | str = field(default=None, metadata={"type": "Attribute"})
    id: str = field(metadata={"type": "Attribute"})
    type_value: IqTypeValue = field(metadata={"name": "type", "type": "Attribute"})
    xml_lang: None | str = field(
        default=None,
        metadata={
            "name": "lang",
            "type": "Attribute",
            "namespace": "http://www.w3.org/XML/1998/namespace",
        },
    )


@dataclass(slots=True, kw_only=True)
class MessageCopyType(ReferencesType):
    """
    The signed message's attributes as the signer sent them (type="normal" added when absent) and
    its child references.
    """

    class Meta:
        name = "MessageCopyType"

    from_value: None | str = field(default=None, metadata={"name": "from", "type": "Attribute"})
    to: None | str = field(default=None, metadata={"type": "Attribute"})
    id: None | str = field(default=None, metadata={"type": "Attribute"})
    type_value: None | MessageTypeValue = field(
        default=None,
        metadata={"name": "type", "type": "Attribute"},
    )
    xml_lang: None | str = field(
        default=None,
        metadata={
            "name": "lang",
            "type": "Attribute",
            "namespace": "http://www.w3.org/XML/1998/namespace",
        },
    )


@dataclass(slots=True, kw_only=True)
class PresenceCopyType(ReferencesType):
    """The signed presence's attributes as the signer sent them and its child references."""

    class Meta:
        name = "PresenceCopyType"

    from_value: None | str = field(default=None, metadata={"name": "from", "type": "Attribute"})
    to: None | str = field(default=None, metadata={"type": "Attribute"})
    id: None | str = field(default=None, metadata={"type": "Attribute"})
    type_value: None | PresenceTypeValue = field(
        default=None,
        metadata={"name": "type", "type": "Attribute"},
    )
    xml_lang: None | str = field(
        default=None,
        metadata={
            "name": "lang",
            "type": "Attribute",
            "namespace": "http://www.w3.org/XML/1998/namespace",
        },
    )


@dataclass(slots=True, kw_only=True)
class StanzaDescType:
    """
    signer, ds:Transforms, ds:DigestMethod, one stanza copy (message, presence or iq), timestamp —
    in this order, each exactly once (as in XEP-0290).
    """

    class Meta:
        name = "StanzaDescType"

    signer: str = field(metadata={"type": "Element", "namespace": "urn:xmpp:tmp:dsig:robust:0"})
    transforms: Transforms = field(
        metadata={
            "name": "Transforms",
            "type": "Element",
            "namespace": "http://www.w3.org/2000/09/xmldsig#",
        },
    )
    digest_method: DigestMethod = field(
        metadata={
            "name": "DigestMethod",
            "type": "Element",
            "namespace": "http://www.w3.org/2000/09/xmldsig#",
        },
    )
    message_or_presence_or_iq: None | MessageCopyType | PresenceCopyType | IqCopyType = field(
        default=None,
        metadata={
            "type": "Elements",
            "choices": (
                {
                    "name": "message",
                    "type": MessageCopyType,
                    "namespace": "urn:xmpp:tmp:dsig:robust:0",
                },
                {
                    "name": "presence",
                    "type": PresenceCopyType,
                    "namespace": "urn:xmpp:tmp:dsig:robust:0",
                },
                {"name": "iq", "type": IqCopyType, "namespace": "urn:xmpp:tmp:dsig:robust:0"},
            ),
        },
    )
    timestamp: XmlDateTime = field(
        metadata={"type": "Element", "namespace": "urn:xmpp:tmp:dsig:robust:0"},
    )
    id: str = field(metadata={"type": "Attribute"})


@dataclass(slots=True, kw_only=True)
class StanzaDesc(StanzaDescType):
    """
    Description of a stanza signed under the robust profile, carried in ds:Object and referenced
    from SignedInfo as "#stanza-desc".
    """

    class Meta:
        name = "stanza-desc"
        namespace = "urn:xmpp:tmp:dsig:robust:0"
