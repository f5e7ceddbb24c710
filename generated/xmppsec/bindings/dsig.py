# DO NOT EDIT — regenerate with python -m codegen
# Source: xmpp-dsig.xsd
"""Bindings for the XML namespace urn:xmpp:dsig:0.

Dataclasses for the elements and types of xmpp-dsig.xsd, for xsdata's
XmlParser / XmlSerializer.  Each class names its XML element or type in ``Meta``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Final

from xsdata.models.datatype import XmlDateTime

from xmppsec.bindings.xmldsig import (
    DigestMethod,
    DigestMethodType,
    Transforms,
)

__NAMESPACE__ = "urn:xmpp:dsig:0"

__all__ = [
    "ATTR_ID",
    "IqCopyType",
    "IqTypeValue",
    "LiteralTransformType",
    "LiteralTransformsType",
    "MessageCopyType",
    "MessageTypeValue",
    "PresenceCopyType",
    "PresenceTypeValue",
    "ReferenceType",
    "ReferencesType",
    "StanzaDesc",
    "StanzaDescType",
]

ATTR_ID: Final = "{urn:xmpp:dsig:0}id"
"""
Marks a direct child of a stanza as signed; stanza-desc references it as urn:xmpp:dsig:ref:0#ID
(never on the stanza itself or on grandchildren).
"""


class IqTypeValue(Enum):
    """IQ type as in RFC 6120 §8.2.3 (mirrors jabber-client.xsd)."""

    ERROR = "error"
    GET = "get"
    RESULT = "result"
    SET = "set"


@dataclass(slots=True, kw_only=True)
class LiteralTransformType:
    """
    A transform of the literal reading: an Algorithm URI and no parameters (XEP-0290's transforms
    take none).
    """

    class Meta:
        name = "LiteralTransformType"

    algorithm: str = field(metadata={"name": "Algorithm", "type": "Attribute"})


class MessageTypeValue(Enum):
    """Message type as in RFC 6121 §5.2.2 (mirrors jabber-client.xsd)."""

    CHAT = "chat"
    ERROR = "error"
    GROUPCHAT = "groupchat"
    HEADLINE = "headline"
    NORMAL = "normal"


class PresenceTypeValue(Enum):
    """Presence type as in RFC 6121 §4.7.1 / RFC 6120 §8.2.2 (mirrors jabber-client.xsd)."""

    ERROR = "error"
    PROBE = "probe"
    SUBSCRIBE = "subscribe"
    SUBSCRIBED = "subscribed"
    UNAVAILABLE = "unavailable"
    UNSUBSCRIBE = "unsubscribe"
    UNSUBSCRIBED = "unsubscribed"


@dataclass(slots=True, kw_only=True)
class ReferenceType:
    """Base64 digest of one transformed stanza child, naming the child by URI."""

    class Meta:
        name = "ReferenceType"

    value: bytes = field(default=b"", metadata={"format": "base64"})
    uri: str = field(metadata={"name": "URI", "type": "Attribute"})


@dataclass(slots=True, kw_only=True)
class LiteralTransformsType:
    """
    Transforms as XEP-0290 example 3 literally writes them: Transform children in urn:xmpp:dsig:0,
    each an Algorithm URI without parameters.
    """

    class Meta:
        name = "LiteralTransformsType"

    transform: list[LiteralTransformType] = field(
        default_factory=list,
        metadata={"name": "Transform", "type": "Element", "namespace": "urn:xmpp:dsig:0"},
    )


@dataclass(slots=True, kw_only=True)
class ReferencesType:
    """Ordered references to the stanza's signed children, in the children's document order."""

    class Meta:
        name = "ReferencesType"

    reference: list[ReferenceType] = field(
        default_factory=list,
        metadata={"type": "Element", "namespace": "urn:xmpp:dsig:0"},
    )


@dataclass(slots=True, kw_only=True)
class IqCopyType(ReferencesType):
    """
    The signed iq's attributes (id and type required as in RFC 6120 §8.2.3) and its child
    references.
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
    The signed message's attributes (defaults added, e.g. type="normal") and its child references.
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
    """The signed presence's attributes and its child references."""

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
    in this order, each exactly once.
    """

    class Meta:
        name = "StanzaDescType"

    signer: str = field(metadata={"type": "Element", "namespace": "urn:xmpp:dsig:0"})
    transforms: None | Transforms | LiteralTransformsType = field(
        default=None,
        metadata={
            "type": "Elements",
            "choices": (
                {
                    "name": "Transforms",
                    "type": Transforms,
                    "namespace": "http://www.w3.org/2000/09/xmldsig#",
                },
                {
                    "name": "Transforms",
                    "type": LiteralTransformsType,
                    "namespace": "urn:xmpp:dsig:0",
                },
            ),
        },
    )
    digest_method: None | DigestMethod | DigestMethodType = field(
        default=None,
        metadata={
            "type": "Elements",
            "choices": (
                {
                    "name": "DigestMethod",
                    "type": DigestMethod,
                    "namespace": "http://www.w3.org/2000/09/xmldsig#",
                },
                {"name": "DigestMethod", "type": DigestMethodType, "namespace": "urn:xmpp:dsig:0"},
            ),
        },
    )
    message_or_presence_or_iq: None | MessageCopyType | PresenceCopyType | IqCopyType = field(
        default=None,
        metadata={
            "type": "Elements",
            "choices": (
                {"name": "message", "type": MessageCopyType, "namespace": "urn:xmpp:dsig:0"},
                {"name": "presence", "type": PresenceCopyType, "namespace": "urn:xmpp:dsig:0"},
                {"name": "iq", "type": IqCopyType, "namespace": "urn:xmpp:dsig:0"},
            ),
        },
    )
    timestamp: XmlDateTime = field(metadata={"type": "Element", "namespace": "urn:xmpp:dsig:0"})
    id: str = field(metadata={"type": "Attribute"})


@dataclass(slots=True, kw_only=True)
class StanzaDesc(StanzaDescType):
    """
    Description of a signed stanza, carried in ds:Object and referenced from SignedInfo as
    "#stanza-desc".
    """

    class Meta:
        name = "stanza-desc"
        namespace = "urn:xmpp:dsig:0"
