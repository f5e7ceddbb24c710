# DO NOT EDIT — regenerate with python -m codegen
# Source: xmpp-stanzas.xsd
"""Bindings for the XML namespace urn:ietf:params:xml:ns:xmpp-stanzas.

Dataclasses for the elements and types of xmpp-stanzas.xsd, for xsdata's
XmlParser / XmlSerializer.  Each class names its XML element or type in ``Meta``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__NAMESPACE__ = "urn:ietf:params:xml:ns:xmpp-stanzas"

__all__ = [
    "EmptyType",
    "TextType",
]


@dataclass(slots=True, kw_only=True)
class EmptyType:
    """A condition element with neither attributes nor content."""

    class Meta:
        name = "EmptyType"


@dataclass(slots=True, kw_only=True)
class TextType:
    """Human-readable error description with its language."""

    class Meta:
        name = "TextType"

    value: str = field(default="")
    xml_lang: None | str = field(
        default=None,
        metadata={
            "name": "lang",
            "type": "Attribute",
            "namespace": "http://www.w3.org/XML/1998/namespace",
        },
    )
