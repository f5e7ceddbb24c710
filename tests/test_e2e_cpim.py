"""Message/CPIM (RFC 3862) builder and strict parser."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xmppsec.e2e import build_cpim, parse_cpim
from xmppsec.e2e._cpim import escape, parse_address, unescape, uri_to_bare_jid
from xmppsec.errors import CPIMFormatError, LimitExceeded

WHEN = datetime(2026, 11, 22, 11, 45, 36, 660000, tzinfo=UTC)

RFC_STYLE = (
    b"Content-Type: Message/CPIM\r\n"
    b"\r\n"
    b"From: Juliet Capulet <im:juliet@example.com>\r\n"
    b"To: Romeo Montague <im:romeo@example.net>\r\n"
    b"DateTime: 2003-12-09T11:45:36.66Z\r\n"
    b"Subject: Imploring\r\n"
    b"Subject:;lang=fr Implorant\r\n"
    b"NS: MyFeatures <mid:MessageFeatures@id.foo.com>\r\n"
    b"MyFeatures.VitalMessageOption: Confirmation-requested\r\n"
    b"\r\n"
    b"Content-type: text/plain; charset=utf-8\r\n"
    b"Content-ID: <1234567890@example.com>\r\n"
    b"\r\n"
    b"Wherefore art thou, Romeo?\r\n"
)


def test_parse_rfc_style_object_keeps_exact_bytes() -> None:
    m = parse_cpim(RFC_STYLE)
    assert m.raw == RFC_STYLE
    assert m.sender.jid == "juliet@example.com"
    assert m.sender.name == "Juliet Capulet"
    assert [r.jid for r in m.recipients] == ["romeo@example.net"]
    assert m.datetime == datetime(2003, 12, 9, 11, 45, 36, 660000, tzinfo=UTC)
    assert m.subject == "Imploring"
    fr = m.get_all("Subject")[1]
    assert fr.params == (("lang", "fr"),) and fr.value == "Implorant"
    assert m.namespaces == {"MyFeatures": "mid:MessageFeatures@id.foo.com"}
    assert m.get_all("MyFeatures.VitalMessageOption")[0].value == "Confirmation-requested"
    assert m.content_type == "text/plain"
    assert m.content.body == b"Wherefore art thou, Romeo?\r\n"


def test_build_then_parse_round_trip() -> None:
    m = build_cpim(
        sender="Juliet@Example.com/balcony",
        recipients=["romeo@example.net/orchard"],
        timestamp=WHEN,
        content_type="text/plain; charset=utf-8",
        content=b"hello\r\n",
        sender_name="Juliet \"J\" Capulet",
        subject="tab\there \\ back",
    )
    assert b"From: \"Juliet \\\"J\\\" Capulet\" <im:juliet@example.com>\r\n" in m.raw
    assert b"To: <im:romeo@example.net>\r\n" in m.raw
    assert b"DateTime: 2026-11-22T11:45:36.660Z\r\n" in m.raw
    again = parse_cpim(m.raw)
    assert again.sender.name == 'Juliet "J" Capulet'
    assert again.subject == "tab\there \\ back"
    assert again.content.body == b"hello\r\n"


def test_presence_uses_pres_uri() -> None:
    m = build_cpim(sender="a@b.c", recipients=["d@e.f"], timestamp=WHEN,
                   content_type="application/pidf+xml", content=b"<x/>", scheme="pres")
    assert b"From: <pres:a@b.c>" in m.raw
    assert m.sender.jid == "a@b.c"


def _with_headers(*lines: bytes) -> bytes:
    return (
        b"Content-Type: Message/CPIM\r\n\r\n"
        + b"".join(line + b"\r\n" for line in lines)
        + b"\r\nContent-Type: text/plain\r\n\r\nx"
    )


BASE = (b"From: <im:a@example.com>", b"To: <im:b@example.com>",
        b"DateTime: 2026-11-22T11:45:36.660Z")


@pytest.mark.parametrize(
    "lines",
    [
        BASE[1:],  # no From
        BASE[:1] + BASE[2:],  # no To
        BASE[:2],  # no DateTime
        BASE + (BASE[0],),  # two From
        BASE + (BASE[2],),  # two DateTime
        (b"from: <im:a@example.com>",) + BASE[1:],  # names are case-sensitive
        (b"From:<im:a@example.com>",) + BASE[1:],  # no space after colon
        (b"From:  <im:a@example.com>",) + BASE[1:],  # two spaces
        BASE + (b" folded",),  # continuation line
        BASE + (b"Subject: a\x01b",),  # control character
        BASE + (b"Subject: bad \\q escape",),
        BASE + (b"Subject: \\u12",),
        BASE + (b"Subject: \\ud800",),  # surrogate
        BASE + (b"Subject: x", b"Subject: y"),  # same language twice
        BASE + (b"Foo.Bar: undeclared prefix",),
        BASE + (b"Require: Foo.Bar", b"NS: Foo <urn:x>", b"Foo.Bar: y"),  # unknown required
        BASE + (b"NS: <>",),
        (b"From: <mailto:a@example.com>",) + BASE[1:],  # not an XMPP URI
        (b"From: a@example.com",) + BASE[1:],  # no angle brackets
        (b"From: \"unterminated <im:a@example.com>",) + BASE[1:],
        BASE[:2] + (b"DateTime: 2026-13-22T11:45:36Z",),
        BASE[:2] + (b"DateTime: yesterday",),
        BASE + (b"Subject: \xff\xfe",),  # not UTF-8
    ],
)
def test_strict_parser_rejects(lines: tuple[bytes, ...]) -> None:
    with pytest.raises(CPIMFormatError):
        parse_cpim(_with_headers(*lines))


def test_ns_prefix_declared_is_accepted_and_require_of_standard_header() -> None:
    m = parse_cpim(_with_headers(*BASE, b"NS: Foo <urn:x>", b"Foo.Bar: y", b"Require: Subject"))
    assert m.namespaces["Foo"] == "urn:x"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"Content-Type: text/plain\r\n\r\nhi",  # not Message/CPIM
        b"Content-Type: Message/CPIM\r\n\r\n",  # no headers
        b"Content-Type: Message/CPIM\r\n\r\nFrom: <im:a@example.com>\r\n",  # no blank line
        b"Content-Type: Message/CPIM\n\nFrom: <im:a@b.c>\n",  # LF only
        _with_headers(*BASE).replace(b"Content-Type: text/plain\r\n", b"X: y\r\n"),
        _with_headers(*BASE).replace(b"\r\nFrom", b"\nFrom"),
    ],
)
def test_framing_errors(data: bytes) -> None:
    with pytest.raises(CPIMFormatError):
        parse_cpim(data)


def test_size_limit() -> None:
    with pytest.raises(LimitExceeded):
        parse_cpim(_with_headers(*BASE) + b"x" * 300_000)


def test_header_count_limit() -> None:
    with pytest.raises(LimitExceeded):
        parse_cpim(_with_headers(*BASE, *[b"Subject:;lang=l%d x" % i for i in range(80)]))


def test_escapes() -> None:
    assert unescape(r"a\u00e9\t\"\'\\") == "a\u00e9\t\"'\\"
    assert unescape(escape("x\r\ny\\\"z\x7f")) == "x\r\ny\\\"z\x7f"
    with pytest.raises(CPIMFormatError):
        unescape("trailing\\")
    with pytest.raises(CPIMFormatError):
        escape("nul\x00")


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
        max_size=40,
    )
)
def test_escape_round_trip(s: str) -> None:
    assert unescape(escape(s)) == s


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_parser_never_leaks_other_exceptions(data: bytes) -> None:
    try:
        parse_cpim(b"Content-Type: Message/CPIM\r\n\r\n" + data)
    except CPIMFormatError:
        pass


def test_addresses() -> None:
    assert parse_address("<xmpp:a@b.c/res>").jid == "a@b.c"
    assert uri_to_bare_jid("xmpp://A@B.c") == "a@b.c"
    assert parse_address("Winnie the Pooh <im:pooh@100akerwood.com>").name == "Winnie the Pooh"
    with pytest.raises(CPIMFormatError):
        uri_to_bare_jid("im:@b.c")
