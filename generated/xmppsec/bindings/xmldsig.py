# DO NOT EDIT — regenerate with python -m codegen
# Source: xmldsig-core.xsd
"""Bindings for the XML namespace http://www.w3.org/2000/09/xmldsig#.

Dataclasses for the elements and types of xmldsig-core.xsd, for xsdata's
XmlParser / XmlSerializer.  Each class names its XML element or type in ``Meta``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ForwardRef

__NAMESPACE__ = "http://www.w3.org/2000/09/xmldsig#"

__all__ = [
    "CanonicalizationMethod",
    "CanonicalizationMethodType",
    "DigestMethod",
    "DigestMethodType",
    "DigestValue",
    "DsakeyValue",
    "DsakeyValueType",
    "KeyInfo",
    "KeyInfoType",
    "KeyName",
    "KeyValue",
    "KeyValueType",
    "Manifest",
    "ManifestType",
    "MgmtData",
    "Object",
    "ObjectType",
    "Pgpdata",
    "PgpdataType",
    "Reference",
    "ReferenceType",
    "RetrievalMethod",
    "RetrievalMethodType",
    "RsakeyValue",
    "RsakeyValueType",
    "Signature",
    "SignatureMethod",
    "SignatureMethodType",
    "SignatureProperties",
    "SignaturePropertiesType",
    "SignatureProperty",
    "SignaturePropertyType",
    "SignatureType",
    "SignatureValue",
    "SignatureValueType",
    "SignedInfo",
    "SignedInfoType",
    "Spkidata",
    "SpkidataType",
    "Transform",
    "TransformType",
    "Transforms",
    "TransformsType",
    "X509Data",
    "X509DataType",
    "X509IssuerSerialType",
]


@dataclass(slots=True, kw_only=True)
class CanonicalizationMethodType:
    """Canonicalization algorithm URI with optional algorithm-specific parameters (any element)."""

    class Meta:
        name = "CanonicalizationMethodType"

    algorithm: str = field(metadata={"name": "Algorithm", "type": "Attribute"})
    content: list[object] = field(
        default_factory=list,
        metadata={"type": "Wildcard", "namespace": "##any", "mixed": True},
    )


@dataclass(slots=True, kw_only=True)
class DsakeyValueType:
    """DSA parameters: (P, Q)?, G?, Y, J?, (Seed, PgenCounter)?."""

    class Meta:
        name = "DSAKeyValueType"

    p: None | bytes = field(
        default=None,
        metadata={
            "name": "P",
            "type": "Element",
            "namespace": "http://www.w3.org/2000/09/xmldsig#",
            "format": "base64",
        },
    )
    q: None | bytes = field(
        default=None,
        metadata={
            "name": "Q",
            "type": "Element",
            "namespace": "http://www.w3.org/2000/09/xmldsig#",
            "format": "base64",
        },
    )
    g: None | bytes = field(
        default=None,
        metadata={
            "name": "G",
            "type": "Element",
            "namespace": "http://www.w3.org/2000/09/xmldsig#",
            "format": "base64",
        },
    )
    y: bytes = field(
        metadata={
            "name": "Y",
            "type": "Element",
            "namespace": "http://www.w3.org/2000/09/xmldsig#",
            "format": "base64",
        },
    )
    j: None | bytes = field(
        default=None,
        metadata={
            "name": "J",
            "type": "Element",
            "namespace": "http://www.w3.org/2000/09/xmldsig#",
            "format": "base64",
        },
    )
    seed: None | bytes = field(
        default=None,
        metadata={
            "name": "Seed",
            "type": "Element",
            "namespace": "http://www.w3.org/2000/09/xmldsig#",
            "format": "base64",
        },
    )
    pgen_counter: None | bytes = field(
        default=None,
        metadata={
            "name": "PgenCounter",
            "type": "Element",
            "namespace": "http://www.w3.org/2000/09/xmldsig#",
            "format": "base64",
        },
    )


@dataclass(slots=True, kw_only=True)
class DigestMethodType:
    """Digest algorithm URI with optional parameters from other namespaces."""

    class Meta:
        name = "DigestMethodType"

    algorithm: str = field(metadata={"name": "Algorithm", "type": "Attribute"})
    content: list[object] = field(
        default_factory=list,
        metadata={"type": "Wildcard", "namespace": "##any", "mixed": True},
    )


@dataclass(slots=True, kw_only=True)
class DigestValue:
    """Base64 digest of the transformed referenced data (XML-DSIG §4.4.3.3)."""

    class Meta:
        name = "DigestValue"
        namespace = "http://www.w3.org/2000/09/xmldsig#"

    value: bytes = field(default=b"", metadata={"format": "base64"})


@dataclass(slots=True, kw_only=True)
class KeyName:
    """A string naming the key (XML-DSIG §4.5.1); XMPP signers may put their bare JID here."""

    class Meta:
        name = "KeyName"
        namespace = "http://www.w3.org/2000/09/xmldsig#"

    value: str = field(default="")


@dataclass(slots=True, kw_only=True)
class MgmtData:
    """In-band key distribution data (XML-DSIG §4.5.9; not recommended, ignored by xmppsec)."""

    class Meta:
        name = "MgmtData"
        namespace = "http://www.w3.org/2000/09/xmldsig#"

    value: str = field(default="")


@dataclass(slots=True, kw_only=True)
class ObjectType:
    """Any content (known elements are validated): stanza-desc, Manifest, SignatureProperties, …"""

    class Meta:
        name = "ObjectType"

    id: None | str = field(default=None, metadata={"name": "Id", "type": "Attribute"})
    mime_type: None | str = field(default=None, metadata={"name": "MimeType", "type": "Attribute"})
    encoding: None | str = field(default=None, metadata={"name": "Encoding", "type": "Attribute"})
    content: list[object] = field(
        default_factory=list,
        metadata={"type": "Wildcard", "namespace": "##any", "mixed": True},
    )


@dataclass(slots=True, kw_only=True)
class PgpdataType:
    """Either a key ID (optionally followed by a key packet) or a key packet, plus extensions."""

    class Meta:
        name = "PGPDataType"

    pgpkey_id: None | bytes = field(
        default=None,
        metadata={
            "name": "PGPKeyID",
            "type": "Element",
            "namespace": "http://www.w3.org/2000/09/xmldsig#",
            "format": "base64",
        },
    )
    pgpkey_packet_or_other_element: list[bytes | object] = field(
        default_factory=list,
        metadata={
            "type": "Elements",
            "choices": (
                {
                    "name": "PGPKeyPacket",
                    "type": bytes,
                    "namespace": "http://www.w3.org/2000/09/xmldsig#",
                    "format": "base64",
                },
                {"wildcard": True, "type": object, "namespace": "##other"},
            ),
        },
    )


@dataclass(slots=True, kw_only=True)
class RsakeyValueType:
    """RSA modulus and public exponent."""

    class Meta:
        name = "RSAKeyValueType"

    modulus: bytes = field(
        metadata={
            "name": "Modulus",
            "type": "Element",
            "namespace": "http://www.w3.org/2000/09/xmldsig#",
            "format": "base64",
        },
    )
    exponent: bytes = field(
        metadata={
            "name": "Exponent",
            "type": "Element",
            "namespace": "http://www.w3.org/2000/09/xmldsig#",
            "format": "base64",
        },
    )


@dataclass(slots=True, kw_only=True)
class SpkidataType:
    """One or more SPKISexp elements, each optionally followed by an extension element."""

    class Meta:
        name = "SPKIDataType"

    spkisexp: list[bytes] = field(
        default_factory=list,
        metadata={
            "name": "SPKISexp",
            "type": "Element",
            "namespace": "http://www.w3.org/2000/09/xmldsig#",
            "sequence": 1,
            "format": "base64",
        },
    )
    other_element: list[object] = field(
        default_factory=list,
        metadata={"type": "Wildcard", "namespace": "##other", "sequence": 1},
    )


@dataclass(slots=True, kw_only=True)
class SignatureMethodType:
    """
    Signature algorithm URI, optional HMACOutputLength, then algorithm-specific parameters from
    other namespaces.
    """

    class Meta:
        name = "SignatureMethodType"

    algorithm: str = field(metadata={"name": "Algorithm", "type": "Attribute"})
    content: list[object] = field(
        default_factory=list,
        metadata={
            "type": "Wildcard",
            "namespace": "##any",
            "mixed": True,
            "choices": (
                {
                    "name": "HMACOutputLength",
                    "type": int,
                    "namespace": "http://www.w3.org/2000/09/xmldsig#",
                },
            ),
        },
    )


@dataclass(slots=True, kw_only=True)
class SignaturePropertyType:
    """One or more elements from other namespaces."""

    class Meta:
        name = "SignaturePropertyType"

    target: str = field(metadata={"name": "Target", "type": "Attribute"})
    id: None | str = field(default=None, metadata={"name": "Id", "type": "Attribute"})
    content: list[object] = field(
        default_factory=list,
        metadata={"type": "Wildcard", "namespace": "##any", "mixed": True},
    )


@dataclass(slots=True, kw_only=True)
class SignatureValueType:
    """Base64 signature value with an optional Id."""

    class Meta:
        name = "SignatureValueType"

    value: bytes = field(default=b"", metadata={"format": "base64"})
    id: None | str = field(default=None, metadata={"name": "Id", "type": "Attribute"})


@dataclass(slots=True, kw_only=True)
class TransformType:
    """
    Transform algorithm URI with any number of XPath children or parameters from other namespaces.
    """

    class Meta:
        name = "TransformType"

    algorithm: str = field(metadata={"name": "Algorithm", "type": "Attribute"})
    content: list[object] = field(
        default_factory=list,
        metadata={
            "type": "Wildcard",
            "namespace": "##any",
            "mixed": True,
            "choices": (
                {"name": "XPath", "type": str, "namespace": "http://www.w3.org/2000/09/xmldsig#"},
            ),
        },
    )


@dataclass(slots=True, kw_only=True)
class X509IssuerSerialType:
    """Issuer name and serial number identifying one certificate."""

    class Meta:
        name = "X509IssuerSerialType"

    x509_issuer_name: str = field(
        metadata={
            "name": "X509IssuerName",
            "type": "Element",
            "namespace": "http://www.w3.org/2000/09/xmldsig#",
        },
    )
    x509_serial_number: int = field(
        metadata={
            "name": "X509SerialNumber",
            "type": "Element",
            "namespace": "http://www.w3.org/2000/09/xmldsig#",
        },
    )


@dataclass(slots=True, kw_only=True)
class CanonicalizationMethod(CanonicalizationMethodType):
    """Algorithm that canonicalizes SignedInfo before signing (XML-DSIG §4.4.1)."""

    class Meta:
        name = "CanonicalizationMethod"
        namespace = "http://www.w3.org/2000/09/xmldsig#"


@dataclass(slots=True, kw_only=True)
class DsakeyValue(DsakeyValueType):
    """A DSA public key with its domain parameters (XML-DSIG §4.5.2.1; legacy only)."""

    class Meta:
        name = "DSAKeyValue"
        namespace = "http://www.w3.org/2000/09/xmldsig#"


@dataclass(slots=True, kw_only=True)
class DigestMethod(DigestMethodType):
    """Digest algorithm applied to the transformed data (XML-DSIG §4.4.3.2)."""

    class Meta:
        name = "DigestMethod"
        namespace = "http://www.w3.org/2000/09/xmldsig#"


@dataclass(slots=True, kw_only=True)
class Object(ObjectType):
    """
    A container for signed data inside the signature (XML-DSIG §4.6); XEP-0290 puts its stanza-desc
    here.
    """

    class Meta:
        name = "Object"
        namespace = "http://www.w3.org/2000/09/xmldsig#"


@dataclass(slots=True, kw_only=True)
class Pgpdata(PgpdataType):
    """OpenPGP key identifier and/or key packet (XML-DSIG §4.5.5)."""

    class Meta:
        name = "PGPData"
        namespace = "http://www.w3.org/2000/09/xmldsig#"


@dataclass(slots=True, kw_only=True)
class RsakeyValue(RsakeyValueType):
    """An RSA public key (XML-DSIG §4.5.2.2)."""

    class Meta:
        name = "RSAKeyValue"
        namespace = "http://www.w3.org/2000/09/xmldsig#"


@dataclass(slots=True, kw_only=True)
class Spkidata(SpkidataType):
    """SPKI public key or certificate S-expressions (XML-DSIG §4.5.6)."""

    class Meta:
        name = "SPKIData"
        namespace = "http://www.w3.org/2000/09/xmldsig#"


@dataclass(slots=True, kw_only=True)
class SignatureMethod(SignatureMethodType):
    """Algorithm that turns canonical SignedInfo into SignatureValue (XML-DSIG §4.4.2)."""

    class Meta:
        name = "SignatureMethod"
        namespace = "http://www.w3.org/2000/09/xmldsig#"


@dataclass(slots=True, kw_only=True)
class SignatureProperty(SignaturePropertyType):
    """One assertion about the signature named by Target."""

    class Meta:
        name = "SignatureProperty"
        namespace = "http://www.w3.org/2000/09/xmldsig#"


@dataclass(slots=True, kw_only=True)
class SignatureValue(SignatureValueType):
    """
    The base64-encoded signature (or MAC) computed over the canonical SignedInfo (XML-DSIG §4.3).
    """

    class Meta:
        name = "SignatureValue"
        namespace = "http://www.w3.org/2000/09/xmldsig#"


@dataclass(slots=True, kw_only=True)
class Transform(TransformType):
    """
    One transform: an algorithm URI plus optional parameters such as an XPath expression (XML-DSIG
    §4.4.3.4).
    """

    class Meta:
        name = "Transform"
        namespace = "http://www.w3.org/2000/09/xmldsig#"


@dataclass(slots=True, kw_only=True)
class X509DataType:
    """One or more X.509 items in any order."""

    class Meta:
        name = "X509DataType"

    choice: list[
        X509IssuerSerialType
        | X509DataType.X509Ski
        | str
        | X509DataType.X509Certificate
        | X509DataType.X509Crl
        | object
    ] = field(
        default_factory=list,
        metadata={
            "type": "Elements",
            "choices": (
                {
                    "name": "X509IssuerSerial",
                    "type": X509IssuerSerialType,
                    "namespace": "http://www.w3.org/2000/09/xmldsig#",
                },
                {
                    "name": "X509SKI",
                    "type": ForwardRef("X509DataType.X509Ski"),
                    "namespace": "http://www.w3.org/2000/09/xmldsig#",
                },
                {
                    "name": "X509SubjectName",
                    "type": str,
                    "namespace": "http://www.w3.org/2000/09/xmldsig#",
                },
                {
                    "name": "X509Certificate",
                    "type": ForwardRef("X509DataType.X509Certificate"),
                    "namespace": "http://www.w3.org/2000/09/xmldsig#",
                },
                {
                    "name": "X509CRL",
                    "type": ForwardRef("X509DataType.X509Crl"),
                    "namespace": "http://www.w3.org/2000/09/xmldsig#",
                },
                {"wildcard": True, "type": object, "namespace": "##other"},
            ),
        },
    )

    @property
    def x509_issuer_serials(self) -> tuple[X509IssuerSerialType, ...]:
        """Every ``X509IssuerSerial`` child in ``choice``, in document order."""
        items = self.choice
        return tuple(c for c in items if type(c) is X509IssuerSerialType)

    @property
    def x509_issuer_serial(self) -> X509IssuerSerialType | None:
        """The first ``X509IssuerSerial`` child in ``choice``, or None."""
        found = self.x509_issuer_serials
        return found[0] if found else None

    @property
    def x509_skis(self) -> tuple[X509DataType.X509Ski, ...]:
        """Every ``X509SKI`` child in ``choice``, in document order."""
        items = self.choice
        return tuple(c for c in items if type(c) is X509DataType.X509Ski)

    @property
    def x509_ski(self) -> X509DataType.X509Ski | None:
        """The first ``X509SKI`` child in ``choice``, or None."""
        found = self.x509_skis
        return found[0] if found else None

    @property
    def x509_certificates(self) -> tuple[X509DataType.X509Certificate, ...]:
        """Every ``X509Certificate`` child in ``choice``, in document order."""
        items = self.choice
        return tuple(c for c in items if type(c) is X509DataType.X509Certificate)

    @property
    def x509_certificate(self) -> X509DataType.X509Certificate | None:
        """The first ``X509Certificate`` child in ``choice``, or None."""
        found = self.x509_certificates
        return found[0] if found else None

    @property
    def x509_crls(self) -> tuple[X509DataType.X509Crl, ...]:
        """Every ``X509CRL`` child in ``choice``, in document order."""
        items = self.choice
        return tuple(c for c in items if type(c) is X509DataType.X509Crl)

    @property
    def x509_crl(self) -> X509DataType.X509Crl | None:
        """The first ``X509CRL`` child in ``choice``, or None."""
        found = self.x509_crls
        return found[0] if found else None

    @dataclass(slots=True, kw_only=True)
    class X509Ski:
        class Meta:
            name = "X509SKI"
            global_type = False

        value: bytes = field(default=b"", metadata={"format": "base64"})

    @dataclass(slots=True, kw_only=True)
    class X509Certificate:
        class Meta:
            name = "X509Certificate"
            global_type = False

        value: bytes = field(default=b"", metadata={"format": "base64"})

    @dataclass(slots=True, kw_only=True)
    class X509Crl:
        class Meta:
            name = "X509CRL"
            global_type = False

        value: bytes = field(default=b"", metadata={"format": "base64"})


@dataclass(slots=True, kw_only=True)
class KeyValueType:
    """Exactly one key value element."""

    class Meta:
        name = "KeyValueType"

    content: list[object] = field(
        default_factory=list,
        metadata={
            "type": "Wildcard",
            "namespace": "##any",
            "mixed": True,
            "choices": (
                {
                    "name": "DSAKeyValue",
                    "type": DsakeyValue,
                    "namespace": "http://www.w3.org/2000/09/xmldsig#",
                },
                {
                    "name": "RSAKeyValue",
                    "type": RsakeyValue,
                    "namespace": "http://www.w3.org/2000/09/xmldsig#",
                },
            ),
        },
    )


@dataclass(slots=True, kw_only=True)
class SignaturePropertiesType:
    """One or more ds:SignatureProperty elements."""

    class Meta:
        name = "SignaturePropertiesType"

    signature_property: list[SignatureProperty] = field(
        default_factory=list,
        metadata={
            "name": "SignatureProperty",
            "type": "Element",
            "namespace": "http://www.w3.org/2000/09/xmldsig#",
        },
    )
    id: None | str = field(default=None, metadata={"name": "Id", "type": "Attribute"})


@dataclass(slots=True, kw_only=True)
class TransformsType:
    """One or more ds:Transform elements, applied in document order."""

    class Meta:
        name = "TransformsType"

    transform: list[Transform] = field(
        default_factory=list,
        metadata={
            "name": "Transform",
            "type": "Element",
            "namespace": "http://www.w3.org/2000/09/xmldsig#",
        },
    )


@dataclass(slots=True, kw_only=True)
class X509Data(X509DataType):
    """X.509 identifiers, certificates or CRLs (XML-DSIG §4.5.4)."""

    class Meta:
        name = "X509Data"
        namespace = "http://www.w3.org/2000/09/xmldsig#"


@dataclass(slots=True, kw_only=True)
class KeyValue(KeyValueType):
    """
    A single public key value (XML-DSIG §4.5.2): DSA, RSA, or one from another namespace such as
    dsig11:ECKeyValue.
    """

    class Meta:
        name = "KeyValue"
        namespace = "http://www.w3.org/2000/09/xmldsig#"


@dataclass(slots=True, kw_only=True)
class SignatureProperties(SignaturePropertiesType):
    """Assertions about the signature itself, e.g. a time stamp (XML-DSIG §5.2)."""

    class Meta:
        name = "SignatureProperties"
        namespace = "http://www.w3.org/2000/09/xmldsig#"


@dataclass(slots=True, kw_only=True)
class Transforms(TransformsType):
    """
    Ordered list of transforms applied to the referenced data before digesting (XML-DSIG §4.4.3.1).
    """

    class Meta:
        name = "Transforms"
        namespace = "http://www.w3.org/2000/09/xmldsig#"


@dataclass(slots=True, kw_only=True)
class ReferenceType:
    """Content model of ds:Reference: Transforms?, DigestMethod, DigestValue."""

    class Meta:
        name = "ReferenceType"

    transforms: None | Transforms = field(
        default=None,
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
    digest_value: DigestValue = field(
        metadata={
            "name": "DigestValue",
            "type": "Element",
            "namespace": "http://www.w3.org/2000/09/xmldsig#",
        },
    )
    id: None | str = field(default=None, metadata={"name": "Id", "type": "Attribute"})
    uri: None | str = field(default=None, metadata={"name": "URI", "type": "Attribute"})
    type_value: None | str = field(default=None, metadata={"name": "Type", "type": "Attribute"})


@dataclass(slots=True, kw_only=True)
class RetrievalMethodType:
    """URI and type of the referenced key information, with optional transforms."""

    class Meta:
        name = "RetrievalMethodType"

    transforms: None | Transforms = field(
        default=None,
        metadata={
            "name": "Transforms",
            "type": "Element",
            "namespace": "http://www.w3.org/2000/09/xmldsig#",
        },
    )
    uri: None | str = field(default=None, metadata={"name": "URI", "type": "Attribute"})
    type_value: None | str = field(default=None, metadata={"name": "Type", "type": "Attribute"})


@dataclass(slots=True, kw_only=True)
class Reference(ReferenceType):
    """
    One signed data object: its URI, transforms, digest method and digest value (XML-DSIG §4.4.3).
    """

    class Meta:
        name = "Reference"
        namespace = "http://www.w3.org/2000/09/xmldsig#"


@dataclass(slots=True, kw_only=True)
class RetrievalMethod(RetrievalMethodType):
    """
    Pointer to key information stored elsewhere (XML-DSIG §4.5.3; never dereferenced by xmppsec).
    """

    class Meta:
        name = "RetrievalMethod"
        namespace = "http://www.w3.org/2000/09/xmldsig#"


@dataclass(slots=True, kw_only=True)
class KeyInfoType:
    """
    One or more key hints in any order: names, values, retrieval methods, X.509/PGP/SPKI data, or
    elements of other namespaces (e.g. dsig11:DEREncodedKeyValue).
    """

    class Meta:
        name = "KeyInfoType"

    id: None | str = field(default=None, metadata={"name": "Id", "type": "Attribute"})
    content: list[object] = field(
        default_factory=list,
        metadata={
            "type": "Wildcard",
            "namespace": "##any",
            "mixed": True,
            "choices": (
                {
                    "name": "KeyName",
                    "type": KeyName,
                    "namespace": "http://www.w3.org/2000/09/xmldsig#",
                },
                {
                    "name": "KeyValue",
                    "type": KeyValue,
                    "namespace": "http://www.w3.org/2000/09/xmldsig#",
                },
                {
                    "name": "RetrievalMethod",
                    "type": RetrievalMethod,
                    "namespace": "http://www.w3.org/2000/09/xmldsig#",
                },
                {
                    "name": "X509Data",
                    "type": X509Data,
                    "namespace": "http://www.w3.org/2000/09/xmldsig#",
                },
                {
                    "name": "PGPData",
                    "type": Pgpdata,
                    "namespace": "http://www.w3.org/2000/09/xmldsig#",
                },
                {
                    "name": "SPKIData",
                    "type": Spkidata,
                    "namespace": "http://www.w3.org/2000/09/xmldsig#",
                },
                {
                    "name": "MgmtData",
                    "type": MgmtData,
                    "namespace": "http://www.w3.org/2000/09/xmldsig#",
                },
            ),
        },
    )


@dataclass(slots=True, kw_only=True)
class ManifestType:
    """One or more ds:Reference elements."""

    class Meta:
        name = "ManifestType"

    reference: list[Reference] = field(
        default_factory=list,
        metadata={
            "name": "Reference",
            "type": "Element",
            "namespace": "http://www.w3.org/2000/09/xmldsig#",
        },
    )
    id: None | str = field(default=None, metadata={"name": "Id", "type": "Attribute"})


@dataclass(slots=True, kw_only=True)
class SignedInfoType:
    """Content model of ds:SignedInfo: CanonicalizationMethod, SignatureMethod, Reference+."""

    class Meta:
        name = "SignedInfoType"

    canonicalization_method: CanonicalizationMethod = field(
        metadata={
            "name": "CanonicalizationMethod",
            "type": "Element",
            "namespace": "http://www.w3.org/2000/09/xmldsig#",
        },
    )
    signature_method: SignatureMethod = field(
        metadata={
            "name": "SignatureMethod",
            "type": "Element",
            "namespace": "http://www.w3.org/2000/09/xmldsig#",
        },
    )
    reference: list[Reference] = field(
        default_factory=list,
        metadata={
            "name": "Reference",
            "type": "Element",
            "namespace": "http://www.w3.org/2000/09/xmldsig#",
        },
    )
    id: None | str = field(default=None, metadata={"name": "Id", "type": "Attribute"})


@dataclass(slots=True, kw_only=True)
class KeyInfo(KeyInfoType):
    """
    Information that helps the recipient find the verification key (XML-DSIG §4.5); never trusted
    by itself.
    """

    class Meta:
        name = "KeyInfo"
        namespace = "http://www.w3.org/2000/09/xmldsig#"


@dataclass(slots=True, kw_only=True)
class Manifest(ManifestType):
    """
    A list of references whose digests the application validates (XML-DSIG §5.1); xmppsec validates
    every one.
    """

    class Meta:
        name = "Manifest"
        namespace = "http://www.w3.org/2000/09/xmldsig#"


@dataclass(slots=True, kw_only=True)
class SignedInfo(SignedInfoType):
    """
    The signed information: canonicalization and signature algorithms and one or more references
    (XML-DSIG §4.4).
    """

    class Meta:
        name = "SignedInfo"
        namespace = "http://www.w3.org/2000/09/xmldsig#"


@dataclass(slots=True, kw_only=True)
class SignatureType:
    """
    Content model of ds:Signature: exactly one SignedInfo and one SignatureValue, then KeyInfo? and
    Object*.
    """

    class Meta:
        name = "SignatureType"

    signed_info: SignedInfo = field(
        metadata={
            "name": "SignedInfo",
            "type": "Element",
            "namespace": "http://www.w3.org/2000/09/xmldsig#",
        },
    )
    signature_value: SignatureValue = field(
        metadata={
            "name": "SignatureValue",
            "type": "Element",
            "namespace": "http://www.w3.org/2000/09/xmldsig#",
        },
    )
    key_info: None | KeyInfo = field(
        default=None,
        metadata={
            "name": "KeyInfo",
            "type": "Element",
            "namespace": "http://www.w3.org/2000/09/xmldsig#",
        },
    )
    object_value: list[Object] = field(
        default_factory=list,
        metadata={
            "name": "Object",
            "type": "Element",
            "namespace": "http://www.w3.org/2000/09/xmldsig#",
        },
    )
    id: None | str = field(default=None, metadata={"name": "Id", "type": "Attribute"})
    xmpp_dsig_0_attributes: dict[str, str] = field(
        default_factory=dict,
        metadata={"type": "Attributes", "namespace": "urn:xmpp:dsig:0"},
    )


@dataclass(slots=True, kw_only=True)
class Signature(SignatureType):
    """
    An XML signature: what was signed (SignedInfo), the signature value, optional key information
    and objects (XML-DSIG §4.2).
    """

    class Meta:
        name = "Signature"
        namespace = "http://www.w3.org/2000/09/xmldsig#"
