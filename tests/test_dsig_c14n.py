"""xmppsec.dsig._c14n: the XEP-0290 transform and inclusive C14N of document subsets."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from xmppsec.algorithms import C14NMethod
from xmppsec.dsig._c14n import (
    _INHERIT_10,
    _INHERIT_11,
    _inclusive_fast,
    _standalone,
    c14n,
    c14n_child,
    c14n_children,
)
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


# -- the one-copy fast path of inclusive subset C14N equals the element-by-element copy ------

_URIS = ("urn:a", "urn:b", "http://www.w3.org/2000/09/xmldsig#", "urn:x?a=1&b=2")
_PREFIXES = ("p", "q", "d")
_VALUES = ("1", "x y", "<&>", "\t\n")


@dataclass
class _Layout:
    data: bytes
    depth: int
    standalone: dict[str, bytes]  # per method: the subset written as a document of its own


@st.composite
def _layout(draw: st.DrawFn) -> _Layout:
    """A random document: a chain of ancestors, then an apex with a random subtree. Namespace
    declarations (default, prefixed, xmlns="" undeclarations, redeclarations, one URI under
    two prefixes), prefixed and xml:* attributes are drawn everywhere. The reference form is
    independent of xmppsec: the apex written out as a document of its own, with every
    namespace in scope and the inherited xml:* attributes (C14N 1.0 / 1.1 §2.4), then
    canonicalized by libxml2 as a whole document."""

    def decls(allow_undeclare: bool) -> dict[str, str]:
        out: dict[str, str] = {}
        if draw(st.booleans()):
            out[""] = draw(st.sampled_from(list(_URIS) + ([""] if allow_undeclare else [])))
        for prefix in draw(st.lists(st.sampled_from(_PREFIXES), max_size=2, unique=True)):
            out[prefix] = draw(st.sampled_from(_URIS))
        return out

    def render_decls(d: dict[str, str]) -> str:
        return "".join(
            (f' xmlns:{k}="{_esc(v)}"' if k else f' xmlns="{_esc(v)}"') for k, v in d.items()
        )

    def xml_attrs() -> dict[str, str]:
        names = draw(st.lists(st.sampled_from(["lang", "space", "id"]), max_size=2, unique=True))
        return {n: "preserve" if n == "space" else draw(st.sampled_from(["en", "fr"])) for n in names}

    def other_attrs(scope: dict[str, str]) -> str:
        out = ""
        with_a: bool = draw(st.booleans())
        if with_a:
            value: str = draw(st.sampled_from(_VALUES))
            out += f' a="{_esc(value)}"'
        usable = sorted(k for k in scope if k)
        with_b: bool = draw(st.booleans())
        if usable and with_b:
            prefix: str = draw(st.sampled_from(usable))
            out += f' {prefix}:b="v"'
        return out

    def name_in(scope: dict[str, str], stem: str) -> str:
        usable = sorted(k for k in scope if k)
        prefixed: bool = draw(st.booleans())
        if usable and prefixed:
            prefix: str = draw(st.sampled_from(usable))
            return f"{prefix}:{stem}"
        return stem

    def element(depth: int, scope: dict[str, str]) -> str:
        own = decls(allow_undeclare=True)
        inner = {**scope, **own}
        name = name_in(inner, "e")
        xa = "".join(f' xml:{k}="{v}"' for k, v in xml_attrs().items())
        kids = ""
        if depth < 3:
            for _ in range(draw(st.integers(0, 2))):
                kids += element(depth + 1, inner) + draw(st.sampled_from(["", " ", "t"]))
        text = draw(st.sampled_from(["", "x", "a&amp;b"]))
        return f"<{name}{render_decls(own)}{xa}{other_attrs(inner)}>{text}{kids}</{name}>"

    depth = draw(st.integers(1, 3))
    chain_open, chain_close = "", ""
    scope: dict[str, str] = {}
    inherited: dict[str, str] = {}
    for i in range(depth):
        own = decls(allow_undeclare=i > 0)
        scope.update(own)
        xa = xml_attrs()
        inherited.update(xa)  # the nearest ancestor wins
        attrs = "".join(f' xml:{k}="{v}"' for k, v in xa.items())
        chain_open += f"<c{i}{render_decls(own)}{attrs}{other_attrs(scope)}>"
        chain_close = f"</c{i}>" + chain_close
    # The apex: its own start tag is written separately so the standalone form can add to it.
    own = decls(allow_undeclare=True)
    inner = {**scope, **own}
    name = name_in(inner, "e")
    apex_xml = xml_attrs()
    rest = other_attrs(inner)
    kids = "".join(element(1, inner) for _ in range(draw(st.integers(0, 2))))
    body = f"{draw(st.sampled_from(['', 'x']))}{kids}</{name}>"
    apex_xa = "".join(f' xml:{k}="{v}"' for k, v in apex_xml.items())
    apex = f"<{name}{render_decls(own)}{apex_xa}{rest}>"
    data = (chain_open + apex + body + chain_close).encode()
    standalone: dict[str, bytes] = {}
    methods = ((C14NMethod.C14N11, ("lang", "space")), (C14NMethod.C14N10, ("lang", "space", "id")))
    for method, names in methods:
        decl = {k: v for k, v in inner.items() if not (k == "" and v == "")}
        xml = {**{k: v for k, v in inherited.items() if k in names}, **apex_xml}
        xml_text = "".join(f' xml:{k}="{v}"' for k, v in xml.items())
        standalone[method] = f"<{name}{render_decls(decl)}{xml_text}{rest}>{body}".encode()
    return _Layout(data, depth, standalone)


def _inherited(apex: etree._Element, method: str) -> dict[str, str]:
    names = _INHERIT_11 if method == C14NMethod.C14N11 else _INHERIT_10
    out: dict[str, str] = {}
    for name in names:
        if apex.get(name) is None:
            for a in apex.iterancestors():
                value = a.get(name)
                if value is not None:
                    out[name] = value
                    break
    return out


def _esc(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_layout())
def test_inclusive_subset_c14n_equals_the_subset_as_a_document(layout: _Layout) -> None:
    parser = etree.XMLParser(collect_ids=False)  # xml:id values may repeat here
    apex = etree.fromstring(layout.data, parser)
    for _ in range(layout.depth):
        apex = apex[0]
    for method, standalone in layout.standalone.items():
        want = etree.tostring(etree.fromstring(standalone, parser), method="c14n")
        assert c14n(apex, method) == want, layout.data
        assert etree.tostring(_standalone(apex, _inherited(apex, method)), method="c14n") == want


def test_fast_inclusive_c14n_serves_our_own_signatures() -> None:
    # The layouts xmppsec writes take the fast path (it is not a dead branch).
    root = parse(
        b"<message xmlns='jabber:client' xml:lang='en'><Signature xmlns='"
        b"http://www.w3.org/2000/09/xmldsig#' xmlns:d='urn:xmpp:dsig:0'><SignedInfo><A x='1'/>"
        b"<B><C/></B></SignedInfo><Object><d:stanza-desc id='s'><d:signer>a@b</d:signer>"
        b"<Transforms><T/></Transforms></d:stanza-desc></Object></Signature></message>"
    )
    si, desc = root[0][0], root[0][1][0]
    assert _inclusive_fast(si, {}) is not None
    assert _inclusive_fast(desc, {"{http://www.w3.org/XML/1998/namespace}lang": "en"}) is not None
    assert c14n(desc, C14NMethod.C14N11).startswith(
        b'<d:stanza-desc xmlns="http://www.w3.org/2000/09/xmldsig#" xmlns:d="urn:xmpp:dsig:0" '
        b'id="s" xml:lang="en"><d:signer>'
    )


@pytest.mark.parametrize(
    "doc",
    [
        b"<message xmlns='jabber:client'><body>a</body><x xmlns='urn:x'><y/></x></message>",
        b"<message xmlns='jabber:server'><body>a</body><x xmlns='urn:x'><y/></x></message>",
        # jabber:server deep inside one child: every child still gets the renaming rule.
        b"<message xmlns='jabber:client'><body>a</body><f xmlns='urn:f'><message "
        b"xmlns='jabber:server'><body>b</body></message></f></message>",
    ],
)
def test_children_in_one_batch_equal_one_by_one(doc: bytes) -> None:
    root = parse(doc)
    assert c14n_children(root, list(root)) == [c14n_child(c) for c in root]


def test_children_in_one_batch_refuse_relative_namespaces() -> None:
    root = parse(b"<message xmlns='jabber:client'><body>a</body><x xmlns='relative'/></message>")
    with pytest.raises(RestrictedXMLError, match="relative namespace"):
        c14n_children(root, list(root))
