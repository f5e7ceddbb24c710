"""xmppsec.jid: RFC 7622 preparation, enforcement, lengths and errors."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xmppsec.errors import JIDError, UsageError
from xmppsec.jid import JID, bare_jid, parse_jid


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # RFC 7622 §3.5 examples of valid JIDs
        ("juliet@example.com", "juliet@example.com"),
        ("juliet@example.com/foo", "juliet@example.com/foo"),
        ("juliet@example.com/foo bar", "juliet@example.com/foo bar"),
        # RFC 7622 §3.5 lists this as invalid; verified erratum 4560 removes it:
        # OpaqueString allows a leading space
        ("juliet@example.com/ foo", "juliet@example.com/ foo"),
        ("juliet@example.com/foo@bar", "juliet@example.com/foo@bar"),
        ("foo\\20bar@example.com", "foo\\20bar@example.com"),
        ("fussball@example.com", "fussball@example.com"),
        ("fu\u00dfball@example.com", "fu\u00dfball@example.com"),
        ("\u03c0@example.com", "\u03c0@example.com"),
        ("\u03a3@example.com/foo", "\u03c3@example.com/foo"),
        ("\u03c3@example.com/foo", "\u03c3@example.com/foo"),
        ("\u03c2@example.com/foo", "\u03c2@example.com/foo"),
        ("king@example.com/\u265a", "king@example.com/\u265a"),
        ("example.com", "example.com"),
        ("example.com/foobar", "example.com/foobar"),
        ("a.example.com/b@example.net", "a.example.com/b@example.net"),
        # case folding of localpart and domainpart, resource preserved
        ("Juliet@Capulet.NET/Balcony", "juliet@capulet.net/Balcony"),
        # width mapping (UsernameCaseMapped, UTS #46)
        ("\uff2a\uff55\uff4c\uff49\uff45\uff54@example.com", "juliet@example.com"),
        # one trailing dot stripped from the domainpart
        ("juliet@example.com.", "juliet@example.com"),
        ("juliet@example.com./r", "juliet@example.com/r"),
        # IDNA2008: A-labels and U-labels compare equal, U-label form kept
        ("romeo@xn--bcher-kva.example", "romeo@b\u00fccher.example"),
        ("romeo@B\u00dcCHER.example", "romeo@b\u00fccher.example"),
        # IP literals
        ("juliet@192.0.2.1", "juliet@192.0.2.1"),
        ("juliet@[2001:DB8::0:1]/r", "juliet@[2001:db8::1]/r"),
        # the resource starts at the first '/', further '/' belong to it
        ("juliet@example.com/a/b", "juliet@example.com/a/b"),
    ],
)
def test_valid(raw: str, expected: str) -> None:
    assert str(parse_jid(raw)) == expected


@pytest.mark.parametrize(
    "raw",
    [
        # RFC 7622 §3.5 examples of invalid JIDs
        '"juliet"@example.com',
        "foo bar@example.com",
        "@example.com/",
        "henry\u2163@example.com",
        "\u265a@example.com",
        "juliet@",
        "/foobar",
        # empty parts
        "",
        "@example.com",
        "juliet@example.com/",
        "juliet@.",
        # forbidden localpart characters (RFC 7622 §3.3.1)
        "a&b@example.com",
        "a'b@example.com",
        "a:b@example.com",
        "a<b@example.com",
        "a>b@example.com",
        # an '@' in the domainpart
        "a@b@example.com",
        # control characters
        "ju\x00liet@example.com",
        "juliet@example.com/\x07",
        "juliet@exa\x01mple.com",
        "ju\u200bliet@example.com",  # zero-width space is DISALLOWED in a username
        # bad domains
        "juliet@exa mple.com",
        "juliet@-example.com",
        "juliet@example..com",
        "juliet@example.com..",
        "juliet@a_b.example",
        "juliet@999.1.2.3",
        "juliet@[not-v6]",
        "juliet@" + "a" * 64 + ".example",
    ],
)
def test_invalid(raw: str) -> None:
    with pytest.raises(JIDError):
        parse_jid(raw)


def test_part_lengths() -> None:
    ok_local = "a" * 1023
    assert parse_jid(f"{ok_local}@example.com").local == ok_local
    with pytest.raises(JIDError, match="1024 bytes"):
        parse_jid("a" * 1024 + "@example.com")
    # the limit counts UTF-8 bytes, not characters: 512 x 2 bytes = 1024
    assert parse_jid("\u00e9" * 511 + "@example.com").local == "\u00e9" * 511
    with pytest.raises(JIDError, match="1024 bytes"):
        parse_jid("\u00e9" * 512 + "@example.com")
    assert parse_jid("x@example.com/" + "r" * 1023).resource == "r" * 1023
    with pytest.raises(JIDError):
        parse_jid("x@example.com/" + "r" * 1024)
    with pytest.raises(JIDError):
        parse_jid("x" * 100_000)


def test_no_library_exception_leaks() -> None:
    for raw in ["\udcff@example.com", "x@\udcff", "x@example.com/\udcff", "x@xn--a"]:
        with pytest.raises(JIDError):
            parse_jid(raw)
    # not a str: the caller's mistake (text from the wire always is a str)
    with pytest.raises(UsageError):
        parse_jid(b"juliet@example.com")  # type: ignore[arg-type]  # runtime type check
    with pytest.raises(UsageError):
        bare_jid(None)  # type: ignore[arg-type]  # runtime type check


def test_dataclass_and_bare() -> None:
    j = parse_jid("Juliet@Example.com/Balcony")
    assert j == JID("juliet", "example.com", "Balcony")
    assert j.bare == JID("juliet", "example.com")
    assert j.bare.bare is j.bare or j.bare.bare == j.bare
    assert not j.is_bare and j.bare.is_bare
    assert parse_jid("example.com").is_domain and not j.is_domain
    assert hash(j) == hash(parse_jid("juliet@example.com/Balcony"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        j.local = "romeo"  # type: ignore[misc]  # frozen on purpose
    # direct construction must already be in prepared form
    with pytest.raises(UsageError):
        JID("Juliet", "example.com")
    with pytest.raises(UsageError):
        JID("juliet", "Example.COM")
    with pytest.raises(UsageError):
        JID("juliet", "example.com", "\u00a0r")  # OpaqueString maps NBSP to U+0020


def test_bare_jid() -> None:
    assert bare_jid("Juliet@Example.COM/balcony") == "juliet@example.com"
    assert bare_jid("Example.COM/x") == "example.com"
    assert bare_jid(parse_jid("romeo@montague.net/orchard")) == "romeo@montague.net"
    with pytest.raises(JIDError):
        bare_jid("@example.com")


def test_idempotent() -> None:
    for raw in ["Juliet@Capulet.NET/Balcony", "\u03a3@xn--bcher-kva.example/\u265a"]:
        once = str(parse_jid(raw))
        assert str(parse_jid(once)) == once


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_property_only_jiderror_and_idempotent(raw: str) -> None:
    try:
        j = parse_jid(raw)
    except JIDError:
        return
    assert parse_jid(str(j)) == j
    assert bare_jid(str(j)) == str(j.bare)


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_characters="@/"), min_size=1, max_size=20
    ),
    st.sampled_from(["example.com", "B\u00fccher.example", "[::1]"]),
    st.text(min_size=1, max_size=20),
)
def test_property_parts(local: str, domain: str, resource: str) -> None:
    try:
        j = parse_jid(f"{local}@{domain}/{resource}")
    except JIDError:
        return
    assert j.local is not None and j.domain == parse_jid(domain).domain
    assert j.resource is not None and j.bare == parse_jid(f"{local}@{domain}")
