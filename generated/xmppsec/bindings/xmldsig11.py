# DO NOT EDIT — regenerate with python -m codegen
# Source: xmldsig11.xsd
"""Bindings for the XML namespace http://www.w3.org/2009/xmldsig11#.

Dataclasses for the elements and types of xmldsig11.xsd, for xsdata's
XmlParser / XmlSerializer.  Each class names its XML element or type in ``Meta``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__NAMESPACE__ = "http://www.w3.org/2009/xmldsig11#"

__all__ = [
    "DerencodedKeyValue",
    "DerencodedKeyValueType",
    "EckeyValue",
    "EckeyValueType",
    "NamedCurveType",
]


@dataclass(slots=True, kw_only=True)
class DerencodedKeyValueType:
    """Base64 DER SubjectPublicKeyInfo with an optional Id."""

    class Meta:
        name = "DEREncodedKeyValueType"

    value: bytes = field(default=b"", metadata={"format": "base64"})
    id: None | str = field(default=None, metadata={"name": "Id", "type": "Attribute"})


@dataclass(slots=True, kw_only=True)
class NamedCurveType:
    """Empty element naming a curve by URI."""

    class Meta:
        name = "NamedCurveType"

    uri: str = field(metadata={"name": "URI", "type": "Attribute"})


@dataclass(slots=True, kw_only=True)
class DerencodedKeyValue(DerencodedKeyValueType):
    """
    A public key as base64 DER SubjectPublicKeyInfo (XML-DSIG 1.1 §4.5.4); carries Ed25519/Ed448
    keys (RFC 8410).
    """

    class Meta:
        name = "DEREncodedKeyValue"
        namespace = "http://www.w3.org/2009/xmldsig11#"


@dataclass(slots=True, kw_only=True)
class EckeyValueType:
    """Named curve followed by the encoded public point."""

    class Meta:
        name = "ECKeyValueType"

    named_curve: NamedCurveType = field(
        metadata={
            "name": "NamedCurve",
            "type": "Element",
            "namespace": "http://www.w3.org/2009/xmldsig11#",
        },
    )
    public_key: bytes = field(
        metadata={
            "name": "PublicKey",
            "type": "Element",
            "namespace": "http://www.w3.org/2009/xmldsig11#",
            "format": "base64",
        },
    )
    id: None | str = field(default=None, metadata={"name": "Id", "type": "Attribute"})


@dataclass(slots=True, kw_only=True)
class EckeyValue(EckeyValueType):
    """
    An elliptic-curve public key on a named curve (XML-DSIG 1.1 §4.5.2.3); used inside ds:KeyValue.
    """

    class Meta:
        name = "ECKeyValue"
        namespace = "http://www.w3.org/2009/xmldsig11#"
