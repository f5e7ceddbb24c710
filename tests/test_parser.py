"""xmppsec.parser: RFC 6120 §11 restricted XML and resource limits.

Test names follow shared/research/security-cases.md, category A.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator

import pytest
from lxml import etree

from xmppsec.errors import LimitExceeded, RestrictedXMLError
from xmppsec.parser import DEFAULT_LIMITS, Limits, check_tree, parse

SMALL = (
    b"<message xmlns='jabber:client' from='juliet@capulet.net/balcony' id='183ef129' "
    b"to='romeo@montague.net' type='chat'><thread>8996aef0-061d-012d-347a-549a200771aa</thread>"
    b"<body>Wherefore art thou, Romeo?</body></message>"
)


def test_parses_a_stanza() -> None:
    root = parse(SMALL)
    assert root.tag == "{jabber:client}message"
    assert [c.tag for c in root] == ["{jabber:client}thread", "{jabber:client}body"]


def test_xml_declaration_utf8_is_accepted() -> None:
    assert parse(b"<?xml version='1.0' encoding='UTF-8'?>" + SMALL).tag.endswith("message")
    assert parse(b'<?xml version="1.0"?>' + SMALL).tag.endswith("message")


def test_cdata_is_text_and_may_contain_markup_lookalikes() -> None:
    root = parse(b"<e2e><![CDATA[<!-- not a comment --> <?not a pi?> <!DOCTYPE x>]]></e2e>")
    assert root.text == "<!-- not a comment --> <?not a pi?> <!DOCTYPE x>"


def test_doctype_billion_laughs() -> None:
    lol = b"".join(
        b"<!ENTITY lol%d '&lol%d;&lol%d;&lol%d;&lol%d;&lol%d;&lol%d;&lol%d;&lol%d;&lol%d;&lol%d;'>"
        % ((i,) + (i - 1,) * 10)
        for i in range(1, 10)
    )
    bomb = b"<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol0 'lol'>" + lol + b"]><a>&lol9;</a>"
    start = time.perf_counter()
    with pytest.raises(RestrictedXMLError, match="DTD"):
        parse(bomb)
    assert time.perf_counter() - start < 0.05  # refused by the pre-scan, no expansion


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        _Recorder.hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"<!ENTITY x 'pwned'>")

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture()
def loopback_server() -> Iterator[str]:
    _Recorder.hits = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_doctype_xxe_file_http_param(loopback_server: str) -> None:
    url = loopback_server.encode()
    attacks = [
        b"<!DOCTYPE a [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><a>&x;</a>",
        b"<!DOCTYPE a [<!ENTITY x SYSTEM '" + url + b"x'>]><a>&x;</a>",
        b"<!DOCTYPE a [<!ENTITY % p SYSTEM '" + url + b"p'> %p;]><a/>",
        b"<!DOCTYPE a SYSTEM '" + url + b"dtd'><a/>",
    ]
    for doc in attacks:
        with pytest.raises(RestrictedXMLError):
            parse(doc)
    assert _Recorder.hits == []  # no network access at all


def test_entity_ref_undeclared() -> None:
    with pytest.raises(RestrictedXMLError, match="not well-formed"):
        parse(b"<message xmlns='jabber:client'><body>&foo;</body></message>")


def test_predefined_and_character_references_are_allowed() -> None:
    root = parse(b"<a>&lt;&amp;&gt;&quot;&apos;&#65;&#x42;</a>")
    assert root.text == "<&>\"'AB"
    assert all(isinstance(n.tag, str) for n in root.iter())


def test_comment_in_text() -> None:
    with pytest.raises(RestrictedXMLError, match="comment"):
        parse(
            b"<message xmlns='jabber:client'><body>pay alice<!-- -->; and mallory</body></message>"
        )


@pytest.mark.parametrize(
    "doc",
    [
        b"<message xmlns='jabber:client'><?foo bar?><body>x</body></message>",
        b"<message xmlns='jabber:client'><body>x</body></message><?foo bar?>",
        b"<?foo bar?><message xmlns='jabber:client'/>",
    ],
)
def test_processing_instruction(doc: bytes) -> None:
    with pytest.raises(RestrictedXMLError, match="processing instruction"):
        parse(doc)


@pytest.mark.parametrize(
    "doc",
    [
        "<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>".encode("utf-16"),
        b"\xef\xbb\xbf<a/>",
        b"<?xml version='1.0' encoding='ISO-8859-1'?><a>\xe9</a>",
        b"<?xml version='1.0' encoding='UTF-16'?><a/>",
        b"<a>\xff\xfe</a>",
        b"<a>\xc3</a>",
        b"<a>\x00</a>",
    ],
)
def test_non_utf8_encoding(doc: bytes) -> None:
    with pytest.raises(RestrictedXMLError):
        parse(doc)


def test_xinclude_element() -> None:
    doc = (
        b"<message xmlns='jabber:client'><x xmlns:xi='http://www.w3.org/2001/XInclude'>"
        b"<xi:include href='file:///etc/passwd' parse='text'/></x></message>"
    )
    root = parse(doc)
    include = root[0][0]
    assert include.tag == "{http://www.w3.org/2001/XInclude}include"
    assert len(include) == 0 and include.text is None  # never expanded
    assert b"root:" not in etree.tostring(root)


@pytest.mark.parametrize(
    "doc",
    [
        b"<message xmlns='jabber:client' to='a@b' to='c@d'/>",
        b"<message xmlns='jabber:client' xmlns:a='urn:xmpp:dsig:0' xmlns:b='urn:xmpp:dsig:0'"
        b" a:id='1' b:id='2'/>",
    ],
)
def test_duplicate_attribute(doc: bytes) -> None:
    with pytest.raises(RestrictedXMLError):
        parse(doc)


def test_size_depth_fanout_limits() -> None:
    with pytest.raises(LimitExceeded) as size:
        parse(b"<a>" + b"x" * 12_000_000 + b"</a>")
    assert size.value.limit == "max_bytes"
    with pytest.raises(LimitExceeded):
        parse(b"<a>" * 5000 + b"</a>" * 5000)  # beyond libxml2's own hard limit
    with pytest.raises(LimitExceeded) as depth:
        parse(b"<a>" * 100 + b"</a>" * 100)
    assert depth.value.limit == "max_depth"
    wide = Limits(max_bytes=1 << 22)
    with pytest.raises(LimitExceeded) as fan:
        parse(b"<a>" + b"<b/>" * 100_000 + b"</a>", wide)
    assert fan.value.limit == "max_children"


@pytest.mark.parametrize(
    ("field", "ok", "too_much"),
    [
        ("max_depth", b"<a>" * 64 + b"</a>" * 64, b"<a>" * 65 + b"</a>" * 65),
        ("max_children", b"<a>" + b"<b/>" * 1000 + b"</a>", b"<a>" + b"<b/>" * 1001 + b"</a>"),
        (
            "max_attributes",
            b"<a " + b" ".join(b"a%d='1'" % i for i in range(64)) + b"/>",
            b"<a " + b" ".join(b"a%d='1'" % i for i in range(65)) + b"/>",
        ),
    ],
)
def test_limits_at_the_boundary(field: str, ok: bytes, too_much: bytes) -> None:
    parse(ok)
    with pytest.raises(LimitExceeded) as exc:
        parse(too_much)
    assert exc.value.limit == field
    assert exc.value.maximum == getattr(DEFAULT_LIMITS, field)


def test_max_bytes_and_elements_at_the_boundary() -> None:
    doc = b"<a>" + b"x" * (DEFAULT_LIMITS.max_bytes - 7) + b"</a>"
    assert len(doc) == DEFAULT_LIMITS.max_bytes
    parse(doc)
    with pytest.raises(LimitExceeded):
        parse(doc[:-4] + b"x</a>")
    few = Limits(max_elements=10)
    parse(b"<a>" + b"<b/>" * 9 + b"</a>", few)
    with pytest.raises(LimitExceeded) as exc:
        parse(b"<a>" + b"<b/>" * 10 + b"</a>", few)
    assert exc.value.limit == "max_elements"


def test_check_tree_refuses_comments_built_elsewhere() -> None:
    root = etree.fromstring(b"<a><!-- x --></a>")
    with pytest.raises(RestrictedXMLError):
        check_tree(root)


@pytest.mark.parametrize(
    "doc",
    [b"", b"   ", b"<a>", b"<a></b>", b"text", b"<a/><b/>", b"<![CDATA[x", b"<?xml version='1.0'"],
)
def test_garbage_is_a_typed_error(doc: bytes) -> None:
    with pytest.raises(RestrictedXMLError):
        parse(doc)


def test_parser_is_usable_from_many_threads() -> None:
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(500):
                assert parse(SMALL).tag == "{jabber:client}message"
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
