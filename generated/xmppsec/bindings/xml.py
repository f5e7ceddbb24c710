# DO NOT EDIT — regenerate with python -m codegen
# Source: xml.xsd
"""Bindings for the XML namespace http://www.w3.org/XML/1998/namespace.

Dataclasses for the elements and types of xml.xsd, for xsdata's
XmlParser / XmlSerializer.  Each class names its XML element or type in ``Meta``.
"""

from __future__ import annotations

from typing import Final

__NAMESPACE__ = "http://www.w3.org/XML/1998/namespace"

__all__ = [
    "ATTR_ID",
    "ATTR_LANG",
    "ATTR_SPACE",
]

ATTR_LANG: Final = "{http://www.w3.org/XML/1998/namespace}lang"
"""Natural language of the element's content and attribute values (inherited by descendants)."""

ATTR_SPACE: Final = "{http://www.w3.org/XML/1998/namespace}space"
"""Whitespace handling wanted by the author: "default" or "preserve"."""

ATTR_ID: Final = "{http://www.w3.org/XML/1998/namespace}id"
"""Document-unique identifier of the element (xml:id 1.0); the value is an NCName."""
