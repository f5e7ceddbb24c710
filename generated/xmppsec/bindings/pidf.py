# DO NOT EDIT — regenerate with python -m codegen
# Source: pidf.xsd
"""Bindings for the XML namespace urn:ietf:params:xml:ns:pidf.

Dataclasses for the elements and types of pidf.xsd, for xsdata's
XmlParser / XmlSerializer.  Each class names its XML element or type in ``Meta``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import Final

from xsdata.models.datatype import XmlDateTime

__NAMESPACE__ = "urn:ietf:params:xml:ns:pidf"

__all__ = [
    "ATTR_MUST_UNDERSTAND",
    "BasicType",
    "ContactType",
    "NoteType",
    "Presence",
    "PresenceType",
    "StatusType",
    "TupleType",
]

ATTR_MUST_UNDERSTAND: Final = "{urn:ietf:params:xml:ns:pidf}mustUnderstand"
"""
On an extension element: the recipient must understand it or reject the document (RFC 3863 §4.3).
"""


class BasicType(Enum):
    """Basic availability: open or closed."""

    OPEN = "open"
    CLOSED = "closed"


@dataclass(slots=True, kw_only=True)
class ContactType:
    """Contact URI with an optional relative priority."""

    class Meta:
        name = "ContactType"

    value: str = field(default="")
    priority: None | Decimal = field(default=None, metadata={"type": "Attribute"})


@dataclass(slots=True, kw_only=True)
class NoteType:
    """Free text with its language."""

    class Meta:
        name = "NoteType"

    value: str = field(default="")
    xml_lang: None | str = field(
        default=None,
        metadata={
            "name": "lang",
            "type": "Attribute",
            "namespace": "http://www.w3.org/XML/1998/namespace",
        },
    )


@dataclass(slots=True, kw_only=True)
class StatusType:
    """Optional basic status followed by extension status elements (RFC 3863 §4.1.3)."""

    class Meta:
        name = "StatusType"

    basic: None | BasicType = field(
        default=None,
        metadata={"type": "Element", "namespace": "urn:ietf:params:xml:ns:pidf"},
    )
    other_element: list[object] = field(
        default_factory=list,
        metadata={"type": "Wildcard", "namespace": "##other"},
    )


@dataclass(slots=True, kw_only=True)
class TupleType:
    """status, extensions, contact?, note*, timestamp? (RFC 3863 §4.1.2)."""

    class Meta:
        name = "TupleType"

    status: StatusType = field(
        metadata={"type": "Element", "namespace": "urn:ietf:params:xml:ns:pidf"},
    )
    other_element: list[object] = field(
        default_factory=list,
        metadata={"type": "Wildcard", "namespace": "##other"},
    )
    contact: None | ContactType = field(
        default=None,
        metadata={"type": "Element", "namespace": "urn:ietf:params:xml:ns:pidf"},
    )
    note: list[NoteType] = field(
        default_factory=list,
        metadata={"type": "Element", "namespace": "urn:ietf:params:xml:ns:pidf"},
    )
    timestamp: None | XmlDateTime = field(
        default=None,
        metadata={"type": "Element", "namespace": "urn:ietf:params:xml:ns:pidf"},
    )
    id: str = field(metadata={"type": "Attribute"})


@dataclass(slots=True, kw_only=True)
class PresenceType:
    """Tuples, then notes, then extension elements."""

    class Meta:
        name = "PresenceType"

    tuple: list[TupleType] = field(
        default_factory=list,
        metadata={"type": "Element", "namespace": "urn:ietf:params:xml:ns:pidf"},
    )
    note: list[NoteType] = field(
        default_factory=list,
        metadata={"type": "Element", "namespace": "urn:ietf:params:xml:ns:pidf"},
    )
    other_element: list[object] = field(
        default_factory=list,
        metadata={"type": "Wildcard", "namespace": "##other"},
    )
    entity: str = field(metadata={"type": "Attribute"})


@dataclass(slots=True, kw_only=True)
class Presence(PresenceType):
    """Root of a PIDF document: the presence of one presentity (RFC 3863 §4.1)."""

    class Meta:
        name = "presence"
        namespace = "urn:ietf:params:xml:ns:pidf"
