"""xmppsec.parser: RFC 6120 §11 restricted XML and resource limits.

Test names follow the shared security-case catalogue, category A (restricted XML, limits).
"""

from __future__ import annotations

import http.server
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest
from lxml import etree

from xmppsec import parser
from xmppsec.errors import LimitExceeded, RestrictedXMLError, UsageError
from xmppsec.parser import DEFAULT_LIMITS, Limits, check_tree, parse

if TYPE_CHECKING:
    from tests.conftest import run_threads
else:
    from conftest import run_threads

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
    assert str(parse(b"<?xml version='1.0' encoding='UTF-8'?>" + SMALL).tag).endswith("message")
    assert str(parse(b'<?xml version="1.0"?>' + SMALL).tag).endswith("message")


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


def test_caller_mistakes_are_usage_errors() -> None:
    """Text instead of bytes, or a limit that is not an int: the caller's mistake."""
    with pytest.raises(UsageError, match="bytes"):
        parse("<a/>")  # type: ignore[arg-type]  # runtime type check
    for bad in ("64", 64.0, None, True):
        with pytest.raises(UsageError, match="max_depth"):
            Limits(max_depth=bad)  # type: ignore[arg-type]  # runtime type check
    with pytest.raises(ValueError):  # UsageError is a ValueError
        Limits(max_children="1")  # type: ignore[arg-type]  # runtime type check


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
    def work(_: int) -> int:
        for _ in range(500):
            assert parse(SMALL).tag == "{jabber:client}message"
        return 500

    assert run_threads(work, 8) == [500] * 8  # a failed assertion in a thread is re-raised


# -- the fast paths of the structural checks ------------------------------------------------
#
# parse() decides "within limits" by byte-count bounds (inputs up to _BYTE_BOUNDS_MAX), else
# check_tree() does: one Python pass over trees of a few nodes, one XPath expression over
# larger ones. The Python walk (_walk) runs only when those cannot vouch for the tree, and
# reports the error. The fixture below records which path decided ("bytes", "few", "xpath",
# "walk"), so each test asserts the path it means to exercise as well as the outcome.

Outcome = tuple[str, int, int] | str | None


def _outcome(fn: Callable[[], object]) -> Outcome:
    try:
        fn()
    except LimitExceeded as exc:
        return (exc.limit, exc.value, exc.maximum)
    except RestrictedXMLError as exc:
        return str(exc)
    return None


_WALK = parser._walk  # captured before any test patches it


def _reference(data: bytes, limits: Limits) -> Outcome:
    """The pre-fast-path behaviour: the same parser, then always the walk."""
    return _outcome(lambda: _WALK(etree.fromstring(data, parser._parser()), limits))


@pytest.fixture()
def path(monkeypatch: pytest.MonkeyPatch) -> Callable[[], str]:
    calls = {"few": 0, "xpath": 0, "walk": 0}
    real_few, real_xpath, real_walk = parser._few_nodes_verdict, parser._limits_xpath, parser._walk

    def few(root: etree._Element, limits: Limits) -> bool | None:
        verdict = real_few(root, limits)
        calls["few"] += verdict is not None
        return verdict

    def xpath(limits: Limits) -> etree.XPath | None:
        calls["xpath"] += 1
        return real_xpath(limits)

    def walk(root: etree._Element, limits: Limits) -> None:
        calls["walk"] += 1
        real_walk(root, limits)

    monkeypatch.setattr(parser, "_few_nodes_verdict", few)
    monkeypatch.setattr(parser, "_limits_xpath", xpath)
    monkeypatch.setattr(parser, "_walk", walk)

    def taken() -> str:
        decided = [k for k in ("walk", "xpath", "few") if calls[k]] + ["bytes"]
        calls.update(few=0, xpath=0, walk=0)
        return decided[0]

    return taken


PAD = b"x" * (parser._BYTE_BOUNDS_MAX + 1)  # text only: no "<", no "="

# Each sweep: the limit swept, its actual value in the document, the value the walk reports
# when it is exceeded ("max+1" for depth and elements, else the actual value), the other
# limits, the path that vouches for the document within limits when the byte bounds do not
# ("few" nodes or "xpath"), and the document. The byte bounds are looser than the actual
# values on purpose (CDATA holding "<", "=" in text and attribute values, xmlns
# declarations), so each sweep crosses three regions: the byte bound within the limit, only
# the actual value within it, and the actual value over it (the walk reports).
Sweep = tuple[str, int, str, dict[str, int], str, bytes]
# In the "xpath" documents the element that breaks the limit comes after the first
# _FEW_NODES nodes, past what the few-nodes pass looks at before handing over.
CHAIN = b"<r><p><p><p><p><p>%s</p></p></p></p></p></r>"
# 4 and 5 attributes, 10 "=". The walk visits the last child first: the element with 5
# attributes comes last, so that it is the one reported at every maximum below 5.
ATTRS = b"<e b0='x' b1='y' b2='z' b3='w'/>k = x<c a0='1=1' a1='2' a2='3' p:a3='4' xml:lang='en'/>"
SWEEPS: list[Sweep] = [
    ("max_depth", 4, "max+1", {}, "few", b"<r><a><a><a/></a></a></r>"),  # 7 "<"
    ("max_depth", 6, "max+1", {}, "xpath", b"<r><c/><c/><c/><a><a><a><a><a/></a></a></a></a></r>"),
    ("max_children", 4, "actual", {}, "few", b"<r>" + b"<c/>" * 4 + b"<![CDATA[<<]]></r>"),
    (
        "max_children",
        6,
        "actual",
        {},
        "xpath",
        CHAIN % (b"<q>" + b"<g/>" * 6 + b"<![CDATA[<<]]></q>"),
    ),
    ("max_elements", 5, "max+1", {}, "few", b"<r>" + b"<c/>" * 4 + b"</r>"),
    ("max_elements", 11, "max+1", {}, "xpath", b"<r>" + b"<c/>" * 10 + b"</r>"),
    # max_depth below the element count: XPath's exact element count decides, not its
    # elements-bound shortcut.
    ("max_elements", 11, "max+1", {"max_depth": 3}, "xpath", b"<r>" + b"<c/>" * 10 + b"</r>"),
    ("max_attributes", 5, "actual", {}, "few", b"<r xmlns='urn:x' xmlns:p='urn:y'>%s</r>" % ATTRS),
    (
        "max_attributes",
        5,
        "actual",
        {},
        "xpath",
        b"<r xmlns='urn:x' xmlns:p='urn:y'>%s</r>" % (b"<d/>" * 5 + ATTRS),
    ),
]


def _byte_bound(field: str, data: bytes) -> int:
    if field == "max_attributes":
        return data.count(b"=")
    lt = data.count(b"<")
    return lt - 1 if field == "max_children" else lt


def test_the_few_nodes_pass_ends_at_its_size(path: Callable[[], str]) -> None:
    few = b"<r>" + b"<c/>" * (parser._FEW_NODES - 1) + b"</r>"
    check_tree(etree.fromstring(few))
    assert path() == "few"
    check_tree(etree.fromstring(few.replace(b"<c/>", b"<c/><c/>", 1)))
    assert path() == "xpath"


@pytest.mark.parametrize("padded", [False, True], ids=["small", "padded"])
@pytest.mark.parametrize(("field", "actual", "reported", "base", "fast", "doc"), SWEEPS)
def test_every_limit_at_every_path_boundary(
    path: Callable[[], str],
    padded: bool,
    field: str,
    actual: int,
    reported: str,
    base: dict[str, int],
    fast: str,
    doc: bytes,
) -> None:
    data = doc.replace(b"</r>", PAD + b"</r>") if padded else doc
    bound = _byte_bound(field, data)
    assert bound > actual  # the byte bound is loose for this document
    seen = set()
    for maximum in range(actual - 2, bound + 2):
        limits = Limits(**{**base, field: maximum})
        got = _outcome(lambda: parse(data, limits))
        taken = path()
        seen.add(taken)
        if actual > maximum:
            value = maximum + 1 if reported == "max+1" else actual
            assert got == (field, value, maximum)
            assert taken == "walk"
        else:
            assert got is None
            # base only ever lowers max_depth below the document's "<" count.
            assert taken == ("bytes" if not padded and not base and bound <= maximum else fast)
        assert got == _reference(data, limits)
        # check_tree() on the same tree: no byte bounds, the same outcome.
        root = etree.fromstring(data, parser._parser())
        assert _outcome(lambda: check_tree(root, limits)) == got
        assert path() == ("walk" if got is not None else fast)
    assert seen == {fast, "walk"} | (set() if padded or base else {"bytes"})


def _random_doc(rng: random.Random) -> bytes:
    deepest = rng.randint(1, 7)

    def element(depth: int) -> etree._Element:
        el = etree.Element(rng.choice(["a", "{urn:x}b", "{urn:y}c"]))
        for i in range(rng.choice([0, 0, 1, 2, 3, 5])):
            el.set(rng.choice([f"k{i}", f"{{urn:z}}k{i}"]), rng.choice(["v", "a=b", "<&>"]))
        if depth < deepest:
            for _ in range(rng.choice([0, 1, 1, 2, 3, 6] if depth == 1 else [0, 0, 1, 1, 2])):
                el.append(element(depth + 1))
        if rng.random() < 0.2:  # CDATA holding markup look-alikes
            el.text = etree.CDATA("<a x='1'>=</a>")
        else:
            el.text = rng.choice([None, "t", "x = y"])
        return el

    data: bytes = etree.tostring(element(1))
    if rng.random() < 0.2:
        data = data.replace(b"</", PAD + b"</", 1)
    return data


def test_fast_paths_agree_with_the_walk_on_random_documents(path: Callable[[], str]) -> None:
    rng = random.Random(20240611)
    decided = {"accepted": 0, "refused": 0, "bytes": 0, "few": 0, "xpath": 0, "walk": 0}
    for _ in range(400):
        data = _random_doc(rng)
        # Tight limits (mostly refused) and loose ones (the byte bounds often hold).
        loose = rng.random() < 0.4
        limits = Limits(
            max_depth=rng.randint(1, 64 if loose else 8),
            max_children=rng.randint(0, 64 if loose else 7),
            max_elements=rng.randint(1, 200 if loose else 60),
            max_attributes=rng.randint(0, 40 if loose else 6),
        )
        expected = _reference(data, limits)
        decided["refused" if expected else "accepted"] += 1
        path()  # forget the check_tree() calls of the previous round
        assert _outcome(lambda: parse(data, limits)) == expected, data
        decided[path()] += 1
        root = etree.fromstring(data)
        assert _outcome(lambda: check_tree(root, limits)) == expected
        # The XPath expression on its own (check_tree() tries few-node trees without it): exact.
        xpath = parser._limits_xpath(limits)
        assert xpath is not None
        assert xpath(root) is (expected is None)
        if len(root):  # a subtree is checked on its own, from depth 1
            sub = root[0]
            assert _outcome(lambda: check_tree(sub, limits)) == _outcome(lambda: _WALK(sub, limits))
    assert min(decided.values()) > 40, decided  # both outcomes and all paths represented


def test_parsed_trees_hold_elements_only() -> None:
    # What lets parse() skip the walk's node-type check: with no DTD, predefined entities and
    # character references become text, undeclared ones are not well-formed, and CDATA is
    # merged into text (strip_cdata=True).
    root = parse(b"<a x='&lt;=&#61;'>&amp;<![CDATA[<b/><!-- c --><?p?>]]>&#x3C;<b/>&gt;</a>")
    assert [n.tag for n in root.iter()] == ["a", "b"]
    assert root.get("x") == "<=="
    assert root.text == "&<b/><!-- c --><?p?><"
    assert root[0].tail == ">"
    assert parser._elements_only(root)
    with pytest.raises(RestrictedXMLError, match="not well-formed"):
        parse(b"<a>&undeclared;</a>")


@pytest.mark.parametrize("padded", [False, True], ids=["small", "padded"])
@pytest.mark.parametrize(
    "doc",
    [
        b"<a><b><!-- c --></b></a>",
        b"<a><b/><?pi x?></a>",
        b"<!DOCTYPE a [<!ENTITY e 'x'>]><a><b>&e;</b></a>",  # an entity reference node
        # More nodes than the few-nodes pass takes: the XPath path's node-type check.
        b"<a>" + b"<b/>" * 6 + b"<b><!-- c --></b></a>",
        b"<a>" + b"<b/>" * 6 + b"<b><?pi x?></b></a>",
        b"<!DOCTYPE a [<!ENTITY e 'x'>]><a>" + b"<b/>" * 6 + b"<b>&e;</b></a>",
    ],
)
def test_node_types_are_still_checked_if_the_prescan_missed_them(
    monkeypatch: pytest.MonkeyPatch, path: Callable[[], str], padded: bool, doc: bytes
) -> None:
    monkeypatch.setattr(parser, "_prescan", lambda data: None)
    data = doc.replace(b"</a>", PAD + b"</a>") if padded else doc
    assert len(data) > parser._BYTE_BOUNDS_MAX or parser._byte_bounds_hold(data, DEFAULT_LIMITS)
    with pytest.raises(RestrictedXMLError, match="comment, processing instruction or entity"):
        parse(data)
    assert path() == "walk"


def test_check_tree_refuses_every_forbidden_node_built_elsewhere() -> None:
    for make in (
        lambda: etree.Comment("c"),
        lambda: etree.ProcessingInstruction("p", "x"),
        lambda: etree.Entity("e"),
    ):
        root = etree.Element("a")
        etree.SubElement(etree.SubElement(root, "b"), "c").append(make())
        with pytest.raises(RestrictedXMLError, match="comment, processing instruction"):
            check_tree(root)
        with pytest.raises(RestrictedXMLError, match="document element must be an element"):
            check_tree(make())


# Past the few-nodes pass: 7 elements, and a 101-child element after the first 6 nodes.
SEVEN = b"<a>" + b"<b/>" * 6 + b"</a>"
DEEP_FANOUT = CHAIN % (b"<q>" + b"<g/>" * 101 + b"</q>")


@pytest.mark.parametrize(
    ("limits", "doc"),
    [
        (Limits(max_depth=0), b"<a/>"),
        (Limits(max_depth=0), SEVEN),
        (Limits(max_depth=-1), SEVEN),
        (Limits(max_elements=0), b"<a/>"),
        (Limits(max_elements=0), SEVEN),
        (Limits(max_elements=-1), b"<a/>"),
        (Limits(max_elements=-1), SEVEN),
        (Limits(max_children=-1), b"<a/>"),  # the walk accepts a leaf: no child to count
        (Limits(max_children=-1), b"<a><b/></a>"),
        (Limits(max_children=0), b"<a/>"),
        (Limits(max_children=0), SEVEN),
        (Limits(max_attributes=-1), b"<a/>"),
        (Limits(max_attributes=0), b"<a b='1'/>"),
        (Limits(max_attributes=0), SEVEN.replace(b"<b/></a>", b"<b c='1'/></a>")),
        (Limits(max_depth=1), b"<a xmlns='u'/>"),
        (Limits(max_depth=300), b"<a>" * 200 + b"</a>" * 200),  # beyond the XPath probe
        (Limits(max_depth=256), b"<a>" * 200 + b"</a>" * 200),
        (Limits(max_depth=199), b"<a>" * 200 + b"</a>" * 200),
        (Limits(max_elements=1 << 40), DEEP_FANOUT),
        (Limits(max_elements=1 << 40, max_children=100), DEEP_FANOUT),
        (Limits(max_attributes=1 << 40, max_children=100), DEEP_FANOUT),
        (Limits(max_children=1 << 40, max_elements=100), DEEP_FANOUT),
    ],
)
def test_degenerate_and_huge_limits_behave_as_the_walk(limits: Limits, doc: bytes) -> None:
    assert _outcome(lambda: parse(doc, limits)) == _reference(doc, limits)
    root = etree.fromstring(doc)
    assert _outcome(lambda: check_tree(root, limits)) == _reference(doc, limits)


@pytest.mark.parametrize(
    "limits",
    [
        Limits(max_depth=0),
        Limits(max_depth=257),
        Limits(max_children=-1),
        Limits(max_attributes=-1),
        Limits(max_elements=-1),
        Limits(max_children=1 << 31),
        Limits(max_attributes=1 << 31),
        Limits(max_elements=1 << 31),
    ],
)
def test_no_xpath_for_limits_it_cannot_express(limits: Limits) -> None:
    assert parser._limits_xpath(limits) is None  # check_tree() walks instead
    assert parser._limits_xpath(Limits(max_depth=256, max_children=0, max_elements=0)) is not None


def test_limit_checks_are_per_thread_and_per_limits(path: Callable[[], str]) -> None:
    doc = CHAIN % (b"<q>" + b"<g/>" * 6 + PAD + b"</q>")
    tight, loose = Limits(max_children=5), Limits(max_children=6)

    def work(_: int) -> int:
        for _ in range(200):
            assert _outcome(lambda: parse(doc, tight)) == ("max_children", 6, 5)
            assert parse(doc, loose).tag == "r"
        return 200

    assert run_threads(work, 4) == [200] * 4
    path()  # forget the threads' calls
    assert parse(doc, loose).tag == "r"
    assert path() == "xpath"


def test_each_call_uses_the_xpath_of_its_own_limits(path: Callable[[], str]) -> None:
    doc = CHAIN % (b"<q>" + b"<g/>" * 1001 + b"</q>")
    wide = Limits(max_children=1001)
    for _ in range(3):
        assert parse(doc, wide).tag == "r"
        assert path() == "xpath"
        assert _outcome(lambda: parse(doc)) == ("max_children", 1001, 1000)
        assert path() == "walk"
        assert parse(doc, Limits(max_children=1001)).tag == "r"  # equal values, new object
        assert path() == "xpath"


def test_the_markup_search_answers_as_the_regular_expression() -> None:
    # _next_markup (single-byte searches for "!" and "?") must find exactly what a scan for
    # "<!" or "<?" finds, including past stray marks and beyond the stray-mark cap.
    rnd = random.Random(20261202)
    alphabet = b"<!?a> "
    for _ in range(50_000):
        data = bytes(rnd.choice(alphabet) for _ in range(rnd.randrange(0, 48)))
        pos = rnd.randrange(0, len(data) + 1)
        m = parser._BANG_OR_PI.search(data, pos)
        assert parser._next_markup(data, pos) == (-1 if m is None else m.start()), (data, pos)
    many = b"?" * 100 + b"a<?x"
    assert parser._next_markup(many, 0) == 101
    with pytest.raises(RestrictedXMLError):
        parser.parse(
            b"<message xmlns='jabber:client'><body>why???????????</body><?pi x?></message>"
        )
