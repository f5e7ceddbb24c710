"""Tests for xmppsec.schema: stanza validation against the real compiled schemas, typed
faults, and binding into xsdata dataclasses without touching the caller's tree."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pytest
from lxml import etree

import xmppsec.schema as schema_module
from xmppsec.bindings.dsig import StanzaDesc
from xmppsec.bindings.jabber_client import Message, MessageType, MessageTypeValue, Presence
from xmppsec.bindings.xmldsig import Signature
from xmppsec.errors import (
    LimitExceeded,
    RestrictedXMLError,
    SchemaError,
    SignatureSchemaError,
    StanzaSchemaError,
    UsageError,
)
from xmppsec.parser import Limits, parse
from xmppsec.schema import (
    SchemaFault,
    from_binding,
    schema_faults,
    to_binding,
    validate,
    validate_document,
)

DS = "http://www.w3.org/2000/09/xmldsig#"

MESSAGE = (
    b"<message xmlns='jabber:client' from='juliet@capulet.net/balcony' id='183ef129'"
    b" to='romeo@montague.net' type='chat'>"
    b"<thread>8996aef0-061d-012d-347a-549a200771aa</thread>"
    b"<body>Wherefore art thou, Romeo?</body></message>"
)
PRESENCE = (
    b"<presence xmlns='jabber:client' from='juliet@capulet.net/balcony' xml:lang='en'>"
    b"<show>away</show><status>In the garden</status><priority>5</priority></presence>"
)
# A payload in a namespace the schemas do not know passes the lax wildcard untouched.
IQ = (
    b"<iq xmlns='jabber:client' type='get' id='v1' to='capulet.net'>"
    b"<query xmlns='jabber:iq:version'/></iq>"
)


def stanza_desc(timestamp: str = "2010-11-11T13:33:00.123Z") -> str:
    """XEP-0290 §2 stanza-desc (with the namespace erratum fixed), one element per line."""
    return (
        "<ds:Object>\n"
        "<stanza-desc xmlns='urn:xmpp:dsig:0' id='stanza-desc'>\n"
        "<signer>juliet@capulet.net</signer>\n"
        "<ds:Transforms><ds:Transform Algorithm='urn:xmpp:dsig:transform:0'/></ds:Transforms>\n"
        "<ds:DigestMethod Algorithm='http://www.w3.org/2001/04/xmlenc#sha256'/>\n"
        "<message from='juliet@capulet.net/balcony' to='romeo@montague.net' id='s1'"
        " type='chat'>\n"
        "<reference URI='urn:xmpp:dsig:ref:0#b1'>q1MKE+RZFJgrefm34/uKHw1Xm0vYYIUk8d5I1zmKwJo="
        "</reference>\n"
        "</message>\n"
        f"<timestamp>{timestamp}</timestamp>\n"
        "</stanza-desc>\n"
        "</ds:Object>\n"
    )


def signature(signed_info: str = "", signature_value: str = "MEUCIQDx", objects: str = "") -> str:
    """A ds:Signature, one element per line (the tests count lines)."""
    signed_info = signed_info or (
        "<ds:SignedInfo>\n"
        "<ds:CanonicalizationMethod Algorithm='http://www.w3.org/2001/10/xml-exc-c14n#'/>\n"
        "<ds:SignatureMethod"
        " Algorithm='http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256'/>\n"
        "<ds:Reference URI='urn:xmpp:dsig:ref:0#b1'>\n"
        "<ds:DigestMethod Algorithm='http://www.w3.org/2001/04/xmlenc#sha256'/>\n"
        "<ds:DigestValue>q1MKE+RZFJgrefm34/uKHw1Xm0vYYIUk8d5I1zmKwJo=</ds:DigestValue>\n"
        "</ds:Reference>\n"
        "</ds:SignedInfo>\n"
    )
    return (
        f"<ds:Signature xmlns:ds='{DS}'>\n"
        f"{signed_info}"
        f"<ds:SignatureValue>{signature_value}</ds:SignatureValue>\n"
        f"{objects}"
        "</ds:Signature>"
    )


def signed_message(sig: str) -> bytes:
    return (
        "<message xmlns='jabber:client' from='juliet@capulet.net/balcony'"
        " to='romeo@montague.net' id='s1' type='chat'>\n"
        "<body>Wherefore art thou, Romeo?</body>\n"
        f"{sig}\n"
        "</message>"
    ).encode()


# -- valid stanzas -------------------------------------------------------------------------


@pytest.mark.parametrize("stanza", [MESSAGE, PRESENCE, IQ], ids=["message", "presence", "iq"])
def test_valid_stanzas_pass_and_return_the_parsed_root(stanza: bytes) -> None:
    root = validate(stanza)
    assert isinstance(root, etree._Element)
    assert etree.QName(root).namespace == "jabber:client"
    assert etree.tostring(root) == etree.tostring(parse(stanza))


def test_signed_stanza_with_a_well_formed_signature_passes() -> None:
    root = validate(signed_message(signature()))
    assert root[1].tag == f"{{{DS}}}Signature"


def test_an_element_is_validated_in_place_and_returned_as_is() -> None:
    root = parse(MESSAGE)
    before = etree.tostring(root)
    assert validate(root) is root
    assert etree.tostring(root) == before


# -- invalid stanzas -----------------------------------------------------------------------


def test_bad_stanza_type_names_line_and_path() -> None:
    with pytest.raises(StanzaSchemaError) as info:
        validate(b"<message xmlns='jabber:client' type='bogus'><body>x</body></message>")
    assert info.value.line == 1
    assert info.value.path == "/message"
    assert "bogus" in str(info.value)
    assert not isinstance(info.value, SignatureSchemaError)


def test_fault_on_a_later_line_reports_that_line_and_the_child_path() -> None:
    data = (
        b"<presence xmlns='jabber:client'>\n"
        b"<status>out</status>\n"
        b"<show>sleeping</show>\n"
        b"</presence>"
    )
    with pytest.raises(StanzaSchemaError) as info:
        validate(data)
    assert info.value.line == 3
    assert info.value.path == "/presence/show"
    assert "line 3" in str(info.value) and "/presence/show" in str(info.value)


def test_all_faults_are_available_first_one_first() -> None:
    data = (
        b"<message xmlns='jabber:client' type='bogus'>\n"
        b"<body>x</body>\n"
        b"<show>away</show>\n"
        b"</message>"
    )
    with pytest.raises(StanzaSchemaError) as info:
        validate(data)
    faults = schema_faults(info.value)
    assert len(faults) >= 2
    assert all(isinstance(f, SchemaFault) for f in faults)
    assert (faults[0].line, faults[0].path) == (info.value.line, info.value.path)
    assert [f.line for f in faults][:2] == [1, 3]
    assert "more fault" in str(info.value)


def test_iq_without_id_is_rejected() -> None:
    # RFC 6120 §8.1.3: the id attribute is REQUIRED for IQ stanzas.
    with pytest.raises(StanzaSchemaError) as info:
        validate(b"<iq xmlns='jabber:client' type='get'><query xmlns='jabber:iq:version'/></iq>")
    assert info.value.line == 1
    assert info.value.path == "/iq"


def test_sub_element_is_validated_as_a_stanza_with_paths_from_it() -> None:
    wrapper = parse(
        b"<forwarded xmlns='urn:xmpp:forward:0'>\n"
        b"<message xmlns='jabber:client' type='bogus'><body>x</body></message>\n"
        b"</forwarded>"
    )
    with pytest.raises(StanzaSchemaError) as info:
        validate(wrapper[0])
    assert info.value.line == 2
    assert info.value.path == "/message"


def test_d_id_is_allowed_on_a_stanza_child() -> None:
    # XEP-0290 §2: each signed child carries the global attribute {urn:xmpp:dsig:0}id.
    validate(
        b"<message xmlns='jabber:client' xmlns:d='urn:xmpp:dsig:0' type='chat'>"
        b"<body d:id='b1'>x</body></message>"
    )


def test_d_id_on_the_stanza_itself_is_rejected() -> None:
    with pytest.raises(StanzaSchemaError) as info:
        validate(
            b"<message xmlns='jabber:client' xmlns:d='urn:xmpp:dsig:0' d:id='m'>"
            b"<body>x</body></message>"
        )
    assert info.value.path == "/message"


def test_d_id_must_be_an_ncname() -> None:
    with pytest.raises(StanzaSchemaError) as info:
        validate(
            b"<message xmlns='jabber:client' xmlns:d='urn:xmpp:dsig:0'>"
            b"<body d:id='1 bad'>x</body></message>"
        )
    assert info.value.path == "/message/body"


# -- ds:Signature inside a stanza ----------------------------------------------------------


def test_duplicated_signed_info_is_a_signature_schema_error() -> None:
    one = signature().split("<ds:SignedInfo>", 1)[1].split("</ds:SignedInfo>\n", 1)[0]
    twice = f"<ds:SignedInfo>{one}</ds:SignedInfo>\n<ds:SignedInfo>{one}</ds:SignedInfo>\n"
    with pytest.raises(SignatureSchemaError) as info:
        validate(signed_message(signature(signed_info=twice)))
    assert info.value.path == "/message/ds:Signature/ds:SignedInfo[2]"
    assert info.value.line > 3
    assert isinstance(info.value, SchemaError)


def test_missing_signature_value_is_a_signature_schema_error() -> None:
    data = signed_message(signature()).replace(
        b"<ds:SignatureValue>MEUCIQDx</ds:SignatureValue>\n", b""
    )
    with pytest.raises(SignatureSchemaError) as info:
        validate(data)
    assert info.value.path.startswith("/message/ds:Signature")
    assert info.value.line >= 3


def test_non_base64_signature_value_is_a_signature_schema_error() -> None:
    data = signed_message(signature(signature_value="not base64!"))
    with pytest.raises(SignatureSchemaError) as info:
        validate(data)
    assert info.value.path == "/message/ds:Signature/ds:SignatureValue"
    lines = data.split(b"\n")
    assert b"SignatureValue" in lines[info.value.line - 1]


def test_signature_with_a_stanza_desc_passes() -> None:
    root = validate(signed_message(signature(objects=stanza_desc())))
    assert root.find(".//{urn:xmpp:dsig:0}timestamp") is not None


@pytest.mark.parametrize(
    "timestamp", ["2010-11-11T13:33:00Z", "2010-11-11T13:33:00.123+00:00", "yesterday"]
)
def test_bad_stanza_desc_timestamp_is_a_signature_schema_error(timestamp: str) -> None:
    # XEP-0290 §5: exactly YYYY-MM-DDThh:mm:ss.sssZ; stanza-desc lives in the ds:Object.
    data = signed_message(signature(objects=stanza_desc(timestamp)))
    with pytest.raises(SignatureSchemaError) as info:
        validate(data)
    assert info.value.path == "/message/ds:Signature/ds:Object/d:stanza-desc/d:timestamp"
    assert f"<timestamp>{timestamp}</timestamp>".encode() in data.split(b"\n")[info.value.line - 1]


def test_reference_without_digest_value_is_a_signature_schema_error() -> None:
    data = signed_message(signature()).replace(
        b"<ds:DigestValue>q1MKE+RZFJgrefm34/uKHw1Xm0vYYIUk8d5I1zmKwJo=</ds:DigestValue>\n", b""
    )
    with pytest.raises(SignatureSchemaError) as info:
        validate(data)
    assert info.value.path.startswith("/message/ds:Signature/ds:SignedInfo/ds:Reference")


# -- wrong roots and restricted XML --------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"<message xmlns='jabber:server' type='chat'><body>x</body></message>",
        b"<message type='chat'><body>x</body></message>",
        b"<stanza xmlns='jabber:client'/>",
        f"<ds:SignatureValue xmlns:ds='{DS}'>AAAA</ds:SignatureValue>".encode(),
    ],
    ids=["jabber-server", "no-namespace", "unknown-name", "global-ds-element"],
)
def test_root_must_be_a_jabber_client_stanza(data: bytes) -> None:
    with pytest.raises(StanzaSchemaError) as info:
        validate(data)
    assert info.value.line == 1
    assert info.value.path.startswith("/")
    assert "jabber:client" in str(info.value)


def test_doctype_is_refused_by_the_parser_not_the_schema() -> None:
    data = b"<!DOCTYPE message [<!ENTITY x 'y'>]><message xmlns='jabber:client'>&x;</message>"
    with pytest.raises(RestrictedXMLError):
        validate(data)
    with pytest.raises(RestrictedXMLError):
        validate_document(data)


def test_limits_apply_to_bytes_and_to_elements() -> None:
    tight = Limits(max_depth=2)
    deep = b"<iq xmlns='jabber:client' type='get' id='d'><a xmlns='urn:x'><b/></a></iq>"
    with pytest.raises(LimitExceeded):
        validate(deep, limits=tight)
    with pytest.raises(LimitExceeded):
        validate(parse(deep), limits=tight)


def test_element_with_a_comment_is_refused() -> None:
    root = parse(MESSAGE)
    root.append(etree.Comment("injected"))
    with pytest.raises(RestrictedXMLError):
        validate(root)


# -- validate_document ---------------------------------------------------------------------


def test_validate_document_accepts_a_global_signature() -> None:
    root = validate_document(signature().encode())
    assert root.tag == f"{{{DS}}}Signature"


def test_validate_document_signature_fault_is_a_signature_schema_error() -> None:
    with pytest.raises(SignatureSchemaError) as info:
        validate_document(signature(signature_value="not base64!").encode())
    assert info.value.path == "/ds:Signature/ds:SignatureValue"


PIDF = (
    "<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='pres:juliet@capulet.net'>\n"
    "<tuple id='t1'>\n"
    "<status><basic>{basic}</basic></status>\n"
    "</tuple>\n"
    "</presence>"
)


def test_validate_document_pidf() -> None:
    # RFC 3863 §4.1: basic is open or closed. A PIDF document is not a stanza.
    root = validate_document(PIDF.format(basic="open").encode())
    assert root.tag == "{urn:ietf:params:xml:ns:pidf}presence"
    with pytest.raises(StanzaSchemaError):
        validate(PIDF.format(basic="open").encode())
    with pytest.raises(StanzaSchemaError) as info:
        validate_document(PIDF.format(basic="maybe").encode())
    assert info.value.line == 3
    assert info.value.path == "/pidf:presence/pidf:tuple/pidf:status/pidf:basic"


def test_validate_document_rejects_an_undeclared_root() -> None:
    with pytest.raises(StanzaSchemaError) as info:
        validate_document(b"<query xmlns='jabber:iq:version'/>")
    assert info.value.line == 1


# -- loading the schemas ------------------------------------------------------------------


def test_schemas_come_from_the_package_resource() -> None:
    assert schema_module._schema_dir().joinpath("xmppsec.xsd").is_file()
    packaged = resources.files("xmppsec.bindings").joinpath("xsd")
    assert str(schema_module._schema_dir()) == str(packaged)


def test_unknown_schema_location_fails_to_compile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Imports are answered only from the schema directory: a location outside it is not
    # fetched from disk or network, compilation fails loudly instead.
    outside = tmp_path / "outside.xsd"
    outside.write_text(
        "<xs:schema xmlns:xs='http://www.w3.org/2001/XMLSchema' targetNamespace='urn:o'>"
        "<xs:element name='o'/></xs:schema>"
    )
    inner = tmp_path / "inner"
    inner.mkdir()
    (inner / "xmppsec.xsd").write_text(
        "<xs:schema xmlns:xs='http://www.w3.org/2001/XMLSchema' targetNamespace='urn:u'>"
        f"<xs:import namespace='urn:o' schemaLocation='{outside.as_uri()}'/>"
        "<xs:import namespace='urn:p' schemaLocation='../outside.xsd'/>"
        "</xs:schema>"
    )
    monkeypatch.setattr(schema_module, "_schema_dir", lambda: inner)
    monkeypatch.setattr(schema_module, "_schema", None)
    with pytest.raises(RuntimeError, match="do not compile"):
        validate(MESSAGE)


# -- thread safety -------------------------------------------------------------------------


def test_concurrent_validations_report_their_own_faults() -> None:
    # Each worker's invalid stanza has its fault on a different line; with one shared
    # error log and no lock, a worker could see another's fault (or none).
    failures: list[str] = []

    def worker(n: int) -> None:
        bad = b"<message xmlns='jabber:client'>" + b"\n" * n + b"<show>x</show></message>"
        for _ in range(200):
            validate(MESSAGE)
            try:
                validate(bad)
            except StanzaSchemaError as exc:
                if exc.line != n + 1 or exc.path != "/message/show":
                    failures.append(f"worker {n}: line {exc.line} path {exc.path}")
            else:
                failures.append(f"worker {n}: invalid stanza accepted")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


# -- typed access through bindings ---------------------------------------------------------


@dataclass
class DigestMethod:
    """A hand-written binding of ds:DigestMethod (the generated ones are tested below)."""

    class Meta:
        name = "DigestMethod"
        namespace = DS

    algorithm: str = field(metadata={"type": "Attribute", "name": "Algorithm", "required": True})


@dataclass
class SignatureMethod:
    class Meta:
        name = "SignatureMethod"
        namespace = DS

    algorithm: str = field(metadata={"type": "Attribute", "name": "Algorithm", "required": True})
    hmac_output_length: int | None = field(
        default=None, metadata={"type": "Element", "name": "HMACOutputLength"}
    )


SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
DIGEST_METHOD = f"<DigestMethod xmlns='{DS}' Algorithm='{SHA256}'/>".encode()


def test_to_binding_returns_the_dataclass_and_leaves_the_tree_alone() -> None:
    root = validate(signed_message(signature()))
    method = root.find(f".//{{{DS}}}DigestMethod")
    assert method is not None
    before = etree.tostring(root)
    bound = to_binding(method, DigestMethod)
    assert isinstance(bound, DigestMethod)
    assert bound.algorithm == SHA256
    assert etree.tostring(root) == before
    validate(root)  # the caller's tree is still whole and valid


def test_to_binding_from_bytes() -> None:
    assert to_binding(DIGEST_METHOD, DigestMethod) == DigestMethod(algorithm=SHA256)


def test_to_binding_wrong_root_is_refused() -> None:
    with pytest.raises(StanzaSchemaError) as info:
        to_binding(DIGEST_METHOD, SignatureMethod)
    assert info.value.path == "/ds:DigestMethod"


def test_to_binding_checks_the_schema_first() -> None:
    data = (
        f"<SignatureMethod xmlns='{DS}' Algorithm='urn:x'>"
        "<HMACOutputLength>many</HMACOutputLength></SignatureMethod>"
    ).encode()
    with pytest.raises(SignatureSchemaError) as info:
        to_binding(data, SignatureMethod)
    assert info.value.path == "/ds:SignatureMethod/ds:HMACOutputLength"


def test_converter_warning_becomes_a_typed_error() -> None:
    data = (
        f"<SignatureMethod xmlns='{DS}' Algorithm='urn:x'>"
        "<HMACOutputLength>many</HMACOutputLength></SignatureMethod>"
    ).encode()
    with pytest.raises(SignatureSchemaError) as info:  # a ds: element
        to_binding(data, SignatureMethod, check_schema=False)
    assert "HMACOutputLength" in str(info.value) or "hmac_output_length" in str(info.value)
    assert info.value.line == 1


def test_unknown_element_becomes_a_typed_error() -> None:
    data = f"<DigestMethod xmlns='{DS}' Algorithm='{SHA256}'><x xmlns='urn:x'/></DigestMethod>"
    # Schema-valid (a lax ##other wildcard), but the hand binding has no field for it.
    validate_document(data.encode())
    with pytest.raises(SignatureSchemaError):
        to_binding(data.encode(), DigestMethod)


def test_to_binding_refuses_a_non_dataclass() -> None:
    with pytest.raises(UsageError):
        to_binding(DIGEST_METHOD, int)


def test_from_binding_round_trips_and_validates() -> None:
    data = from_binding(SignatureMethod(algorithm="urn:x", hmac_output_length=256))
    root = validate_document(data)
    assert root.tag == f"{{{DS}}}SignatureMethod"
    assert root.get("Algorithm") == "urn:x"
    assert to_binding(data, SignatureMethod).hmac_output_length == 256


@dataclass
class LooseSignatureValue:
    """Types its content as any string, so it can hold what the schema refuses."""

    class Meta:
        name = "SignatureValue"
        namespace = DS

    value: str = field(default="", metadata={"type": "Text"})


def test_from_binding_refuses_schema_invalid_output() -> None:
    with pytest.raises(SignatureSchemaError) as info:
        from_binding(LooseSignatureValue(value="not base64!"))
    assert info.value.path == "/ds:SignatureValue"
    unchecked = from_binding(LooseSignatureValue(value="not base64!"), check_schema=False)
    assert unchecked == f'<SignatureValue xmlns="{DS}">not base64!</SignatureValue>'.encode()


# -- the generated bindings (xmppsec.bindings.*) -----------------------------------------


def test_generated_message_binding_is_typed_and_round_trips() -> None:
    root = parse(MESSAGE)
    before = etree.tostring(root)
    bound: Message = to_binding(root, Message)  # mypy: to_binding returns Message
    assert type(bound) is Message
    assert bound.from_value == "juliet@capulet.net/balcony"
    assert bound.type_value is MessageTypeValue.CHAT
    bodies = [c for c in bound.choice if isinstance(c, MessageType.Body)]
    assert [b.value for b in bodies] == ["Wherefore art thou, Romeo?"]
    assert etree.tostring(root) == before
    again = validate(from_binding(bound))
    assert again.get("type") == "chat"
    assert again.findtext("{jabber:client}body") == "Wherefore art thou, Romeo?"


def test_generated_signature_binding_leaves_the_stanza_whole() -> None:
    root = validate(signed_message(signature(objects=stanza_desc())))
    before = etree.tostring(root)
    bound = to_binding(root[1], Signature)
    assert type(bound) is Signature
    assert etree.tostring(root) == before
    validate(root)  # still whole: xsdata only ever saw a copy


def test_generated_stanza_desc_binding() -> None:
    root = validate(signed_message(signature(objects=stanza_desc())))
    desc = root.find(".//{urn:xmpp:dsig:0}stanza-desc")
    assert desc is not None
    bound = to_binding(desc, StanzaDesc)
    assert type(bound) is StanzaDesc
    assert bound.signer == "juliet@capulet.net"


def test_generated_binding_converter_failure_is_a_stanza_schema_error() -> None:
    # Schema-invalid on purpose, schema check off: xsdata's enum conversion must not
    # warn and carry on, it must fail with a typed error.
    data = b"<message xmlns='jabber:client' type='bogus'><body>x</body></message>"
    with pytest.raises(StanzaSchemaError) as info:
        to_binding(data, Message, check_schema=False)
    assert "bogus" in str(info.value)
    with pytest.raises(StanzaSchemaError):
        to_binding(data, Message)


def test_generated_binding_of_a_presence_into_message_is_refused() -> None:
    # xsdata itself would bind <presence> into Message without complaint.
    with pytest.raises(StanzaSchemaError) as info:
        to_binding(PRESENCE, Message)
    assert info.value.path == "/presence"
    assert type(to_binding(PRESENCE, Presence)) is Presence


@pytest.mark.parametrize(
    "attribute",
    [
        "xsi:type='xs:string'",
        "xsi:schemaLocation='urn:x http://127.0.0.1/x.xsd'",
        "xsi:noNamespaceSchemaLocation='file:///etc/passwd'",
        "xsi:nil='true'",
    ],
)
def test_schema_instance_attributes_are_refused(attribute: str) -> None:
    doc = (
        "<message xmlns='jabber:client' xmlns:xsi='http://www.w3.org/2001/XMLSchema-instance' "
        f"to='romeo@montague.net'><x xmlns='urn:ext' {attribute}/></message>"
    ).encode()
    with pytest.raises(StanzaSchemaError) as exc:
        validate(doc)
    assert "XML Schema instance" in str(exc.value)
    assert exc.value.faults[0].path.endswith("x")
