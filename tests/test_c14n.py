"""xmppsec._c14n: the XEP-0290 transform and inclusive C14N of document subsets."""

from __future__ import annotations

import pytest
from lxml import etree

from xmppsec._c14n import c14n, c14n_child
from xmppsec.algorithms import C14NMethod
from xmppsec.errors import RestrictedXMLError, UnsupportedAlgorithm
from xmppsec.parser import parse

# XEP-0290 §3: the input document (its quote typo fixed) and the known canonical form.
XEP_DOCUMENT = b"""<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>
    <message from='juliet@capulet.net'
             id='183ef129'
             to='romeo@montague.net'
             type='chat'>
        <thread xmlns:d="urn:xmpp:dsig:0" d:id="xxxx-1">8996aef0-061d-012d-347a-549a200771aa</thread>
        <body xmlns:d="urn:xmpp:dsig:0" d:id="xxxx-2">Wherefore art thou, Romeo?</body>
    </message>
</stream:stream>"""
XEP_KNOWN_ANSWER = (
    b'<thread xmlns="jabber:client" xmlns:d="urn:xmpp:dsig:0" d:id="xxxx-1">'
    b"8996aef0-061d-012d-347a-549a200771aa</thread>"
)


def test_xep0290_known_answer_byte_for_byte() -> None:
    thread = parse(XEP_DOCUMENT)[0][0]
    assert c14n_child(thread) == XEP_KNOWN_ANSWER
    assert c14n(thread, C14NMethod.XMPP_DSIG_0) == XEP_KNOWN_ANSWER


def test_inclusive_c14n_would_not_reproduce_the_known_answer() -> None:
    # Why the transform is exclusive C14N: inclusive renders the stream's xmlns:stream.
    thread = parse(XEP_DOCUMENT)[0][0]
    inclusive = c14n(thread, C14NMethod.C14N11)
    assert b'xmlns:stream="http://etherx.jabber.org/streams"' in inclusive
    assert inclusive != XEP_KNOWN_ANSWER


def test_jabber_server_is_canonicalized_as_jabber_client() -> None:
    server_doc = XEP_DOCUMENT.replace(b"xmlns='jabber:client'", b"xmlns='jabber:server'")
    thread = parse(server_doc)[0][0]
    assert thread.tag == "{jabber:server}thread"
    assert c14n_child(thread) == XEP_KNOWN_ANSWER


def test_jabber_server_descendants_are_renamed_too() -> None:
    doc = (
        b"<message xmlns='jabber:server'><x xmlns='urn:ex'><y xmlns='jabber:server'>t</y></x>"
        b"</message>"
    )
    out = c14n_child(parse(doc)[0])
    assert out == b'<x xmlns="urn:ex"><y xmlns="jabber:client">t</y></x>'


def test_exclusive_transform_ignores_ancestor_xml_lang() -> None:
    doc = XEP_DOCUMENT.replace(b"type='chat'>", b"type='chat' xml:lang='en'>")
    assert c14n_child(parse(doc)[0][0]) == XEP_KNOWN_ANSWER


DOC_WITH_LANG = (
    b"<message xmlns='jabber:client' xml:lang='en' xml:id='m1' xmlns:u='urn:unused'>"
    b"<x xmlns='urn:ex'><y a='1'>t</y></x></message>"
)


def test_c14n11_subset_inherits_xml_lang_not_xml_id() -> None:
    root = parse(DOC_WITH_LANG)
    out = c14n(root[0], C14NMethod.C14N11)
    assert out == (b'<x xmlns="urn:ex" xmlns:u="urn:unused" xml:lang="en"><y a="1">t</y></x>')
    # the tree is left as it was
    assert root[0].get("{http://www.w3.org/XML/1998/namespace}lang") is None


def test_c14n10_subset_inherits_every_xml_attribute() -> None:
    out = c14n(parse(DOC_WITH_LANG)[0], C14NMethod.C14N10)
    assert b'xml:id="m1"' in out and b'xml:lang="en"' in out


def test_own_xml_lang_wins_over_the_inherited_one() -> None:
    doc = DOC_WITH_LANG.replace(b"<x xmlns='urn:ex'>", b"<x xmlns='urn:ex' xml:lang='fr'>")
    out = c14n(parse(doc)[0], C14NMethod.C14N11)
    assert b'xml:lang="fr"' in out and b'xml:lang="en"' not in out


def test_exclusive_subset_drops_unused_namespaces() -> None:
    out = c14n(parse(DOC_WITH_LANG)[0], C14NMethod.EXC_C14N)
    assert out == b'<x xmlns="urn:ex"><y a="1">t</y></x>'


def test_xml_base_on_an_ancestor_is_refused_for_c14n11() -> None:
    doc = b"<a xml:base='http://example.com/'><b/></a>"
    with pytest.raises(UnsupportedAlgorithm):
        c14n(parse(doc)[0], C14NMethod.C14N11)


@pytest.mark.parametrize(
    "method",
    [
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
        "http://www.w3.org/2006/12/xml-c14n11#WithComments",
        "http://www.w3.org/TR/1999/REC-xslt-19991116",
        "",
    ],
)
def test_other_methods_are_refused(method: str) -> None:
    with pytest.raises(UnsupportedAlgorithm):
        c14n(etree.fromstring(b"<a/>"), method)


def test_relative_namespace_uri_is_a_typed_error() -> None:
    root = parse(b"<message xmlns='jabber:client'><x xmlns='relative'><y/></x></message>")
    with pytest.raises(RestrictedXMLError, match="relative namespace"):
        c14n_child(root[0])
    with pytest.raises(RestrictedXMLError):
        c14n(root[0], C14NMethod.C14N11)


def test_nested_default_namespace_undeclaration_canonicalizes() -> None:
    doc = (
        b"<message xmlns='jabber:client'><x xmlns='http://www.w3.org/2000/09/xmldsig#'><o><s "
        b"xmlns='urn:d' id='x'><m a='1'><q xmlns=''><z/></q></m></s></o></x></message>"
    )
    root = parse(doc)
    assert c14n(root[0], C14NMethod.C14N11).endswith(b'<q xmlns=""><z></z></q></m></s></o></x>')
    assert c14n_child(root[0]).startswith(b'<x xmlns="http://www.w3.org/2000/09/xmldsig#">')
