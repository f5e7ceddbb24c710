"""Property tests for the XEP-0290 spec profile (hypothesis).

1. Every schema-valid message / presence / iq we can generate signs, the signed stanza
   still validates against the xmppsec schemas, and it verifies under the strict policy.
2. Any single-character change inside a signed child's text or a stanza attribute value
   (the document stays well-formed) is rejected.

Run time is kept modest (the machine is shared): ~150 examples each, no deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from xmppsec.dsig import Policy
from xmppsec.errors import StanzaSchemaError
from xmppsec.schema import validate

if TYPE_CHECKING:
    from tests.conftest import DS, JULIET, NOW, make_signer, tree, verifier, xml
else:
    from conftest import DS, JULIET, NOW, make_signer, tree, verifier, xml

JC = "{jabber:client}"
EXT = "urn:example:ext"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- strategies -------------------------------------------------------------------------------

ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
label = st.text(ALNUM, min_size=1, max_size=8)
domain = st.builds(lambda a, b: f"{a}.{b}", label, st.sampled_from(["example", "net", "lit"]))
resource = st.text(ALNUM + "ABCDEFGHIJKLMNOPQRSTUVWXYZ-_.", min_size=1, max_size=10)
bare = st.builds(lambda lp, d: f"{lp}@{d}", label, domain)
full = st.builds(lambda b, r: f"{b}/{r}", bare, resource)
any_jid = st.one_of(domain, bare, full)
stanza_id = st.text(ALNUM + "-", min_size=1, max_size=12)

# XML 1.0 characters (no C0 controls but TAB/LF, no surrogates, no U+FFFE/U+FFFF), with the
# XML-special ones and non-ASCII well represented. CR is left out: a parser turns it into LF.
xml_text = st.text(
    st.one_of(
        st.sampled_from(list("<>&'\"\t\n ;]]>")),
        st.sampled_from(list("äöüßéèçñøåæ€√∑日本語中文한국어😀🎭")),
        st.characters(
            min_codepoint=0x20,
            max_codepoint=0x2FFFF,
            blacklist_categories=("Cs", "Cc", "Cn"),
        ),
    ),
    max_size=40,
)
lang = st.sampled_from(["en", "de", "fr-CA", "ja"])


@dataclass(frozen=True)
class Child:
    tag: str
    text: str
    attrs: tuple[tuple[str, str], ...] = ()


def _ext_child() -> st.SearchStrategy[Child]:
    return st.builds(
        lambda local, text, attrs: Child("{" + EXT + "}" + local, text, tuple(attrs)),
        st.sampled_from(["x", "data", "item"]),
        xml_text,
        st.lists(
            st.tuples(st.sampled_from(["a", "b", "c", "{urn:example:attr}d"]), xml_text),
            max_size=3,
            unique_by=lambda t: t[0],
        ),
    )


def _lang_text(tag: str) -> st.SearchStrategy[Child]:
    return st.builds(
        lambda text, lg: Child(JC + tag, text, ((XML_LANG, lg),) if lg else ()),
        xml_text,
        st.one_of(st.none(), lang),
    )


message_child = st.one_of(
    _lang_text("body"),
    _lang_text("subject"),
    st.builds(lambda t: Child(JC + "thread", t), st.text(ALNUM + "-", min_size=1, max_size=36)),
    _ext_child(),
)
presence_child = st.one_of(
    st.builds(lambda s: Child(JC + "show", s), st.sampled_from(["away", "chat", "dnd", "xa"])),
    _lang_text("status"),
    st.builds(lambda p: Child(JC + "priority", str(p)), st.integers(-128, 127)),
    _ext_child(),
)


@dataclass(frozen=True)
class Stanza:
    kind: str
    attrs: tuple[tuple[str, str], ...]
    children: tuple[Child, ...]

    def to_bytes(self) -> bytes:
        root = etree.Element(JC + self.kind, nsmap={None: "jabber:client"})  # type: ignore[dict-item, unused-ignore]  # lxml-stubs: None is the default-namespace key (types-lxml allows it)
        for name, value in self.attrs:
            root.set(name, value)
        for c in self.children:
            el = etree.SubElement(root, c.tag)
            el.text = c.text
            for name, value in c.attrs:
                el.set(name, value)
        return etree.tostring(root)


def _attrs(
    kind_types: list[str], required_type: bool = False
) -> st.SearchStrategy[tuple[tuple[str, str], ...]]:
    type_strategy = (
        st.sampled_from(kind_types)
        if required_type
        else st.one_of(st.none(), st.sampled_from(kind_types))
    )
    sender = st.one_of(st.none(), st.builds(lambda r: f"{JULIET}/{r}", resource))

    def build(
        t: str | None, to: str | None, frm: str | None, sid: str | None, lg: str | None
    ) -> tuple[tuple[str, str], ...]:
        out = [("type", t), ("to", to), ("from", frm), ("id", sid), (XML_LANG, lg)]
        return tuple((k, v) for k, v in out if v is not None)

    sid = st.builds(lambda s: s, stanza_id) if required_type else st.one_of(st.none(), stanza_id)
    return st.builds(
        build, type_strategy, st.one_of(st.none(), any_jid), sender, sid, st.one_of(st.none(), lang)
    )


messages = st.builds(
    lambda a, c: Stanza("message", a, tuple(c)),
    _attrs(["chat", "groupchat", "headline", "normal"]),
    st.lists(message_child, min_size=1, max_size=4),
)
presences = st.builds(
    lambda a, c: Stanza("presence", a, tuple(c)),
    _attrs(["probe", "subscribe", "subscribed", "unavailable", "unsubscribe", "unsubscribed"]),
    st.lists(presence_child, min_size=1, max_size=4),
)
iqs = st.builds(
    lambda a, c: Stanza("iq", a, (c,)),
    _attrs(["get", "set", "result"], required_type=True),
    st.one_of(
        _ext_child(),
        st.just(Child("{jabber:iq:version}query", "")),
        st.just(Child("{urn:xmpp:ping}ping", "")),
    ),
)
stanzas = st.one_of(messages, presences, iqs)


# -- properties -------------------------------------------------------------------------------


@SETTINGS
@given(stanzas)
def test_every_valid_stanza_signs_and_verifies(stanza: Stanza) -> None:
    data = stanza.to_bytes()
    signed = make_signer().sign(data)
    try:
        validate(data)  # the generator makes schema-valid stanzas, co-constraints aside
    except StanzaSchemaError:
        # Two <show/>, two <body/> in one language...: signable, but strict verification
        # refuses what validate() refuses (RFC 6120/6121 co-constraints).
        with pytest.raises(StanzaSchemaError):
            validate(signed)
        assert type(verifier().check(signed, now=NOW).error) is StanzaSchemaError
        return
    validate(signed)
    result = verifier().verify(signed, now=NOW)
    assert result.valid
    assert len(result.signed_children()) == len(stanza.children)
    assert [c.text or "" for c in result.signed_children()] == [c.text for c in stanza.children]


def _text_positions(root: etree._Element) -> list[tuple[etree._Element, str]]:
    """(element, "text") for every signed child (or descendant of one) with text, and
    (stanza, attribute name) for every stanza attribute."""
    out: list[tuple[etree._Element, str]] = []
    for child in root:
        if child.tag == DS + "Signature":
            continue
        for el in child.iter():
            if el.text:
                out.append((el, ""))
            out.extend((el, str(k)) for k, v in el.attrib.items() if v and el is not child)
        out.extend(
            (child, str(k)) for k, v in child.attrib.items() if v and k != "{urn:xmpp:dsig:0}id"
        )
    out.extend((root, str(k)) for k, v in root.attrib.items() if v)
    return out


@SETTINGS
@given(stanzas, st.data())
def test_any_single_character_change_is_rejected(stanza: Stanza, data: st.DataObject) -> None:
    signed = make_signer().sign(stanza.to_bytes())
    root = tree(signed)
    positions = _text_positions(root)
    el, attr = data.draw(st.sampled_from(positions))
    value = el.text if attr == "" else el.get(attr)
    assert value
    i = data.draw(st.integers(0, len(value) - 1))
    # A replacement that differs even after case folding and JID preparation (RFC 7622
    # maps case in localpart and domain): a letter/digit of another case-folded value.
    new = data.draw(st.sampled_from([c for c in ALNUM if c != value[i].lower()]))
    changed = value[:i] + new + value[i + 1 :]
    if attr == "":
        el.text = changed
    else:
        el.set(attr, changed)
    result = verifier().check(xml(root), now=NOW)
    assert not result.valid, (attr, value, changed)
    assert result.signed_children() == ()


@settings(SETTINGS, max_examples=60)
@given(stanzas)
def test_jabber_server_hop_keeps_every_signature(stanza: Stanza) -> None:
    """XEP-0290 §3: jabber:server is canonicalized as jabber:client, so any stanza signed
    by a client still verifies after a server-to-server hop re-namespaced it."""
    signed = make_signer().sign(stanza.to_bytes())
    assert signed.count(b'xmlns="jabber:client"') == 1
    hopped = signed.replace(b'xmlns="jabber:client"', b'xmlns="jabber:server"')
    # The co-constraints hold for jabber:server stanzas too (a generated stanza may break
    # them); the signatures must survive the hop, which is what this test is about.
    result = verifier(policy=Policy(validate_content=False)).check(hopped, now=NOW)
    assert result.valid, result.error
    assert len(result.signed_children()) == len(stanza.children)


@given(
    st.sampled_from(["urn:xmpp:dsig:ref:0#", "", "a.b*c+(", "#"]),
    st.one_of(
        st.text(max_size=140),
        st.from_regex(r"[A-Za-z_][A-Za-z0-9._-]{0,130}", fullmatch=True),
    ),
    st.booleans(),
)
@settings(max_examples=1000, deadline=None)
def test_reference_uri_check_is_prefix_then_fragment(prefix: str, rest: str, prefixed: bool) -> None:
    # The one-match URI check of the dsig-id scheme agrees with "starts with the profile's
    # prefix, and the rest is a fragment".
    from xmppsec.dsig._verify import _FRAGMENT, _reference_uri

    uri = prefix + rest if prefixed else rest
    expected = uri.startswith(prefix) and _FRAGMENT.fullmatch(uri[len(prefix) :]) is not None
    assert (_reference_uri(prefix).fullmatch(uri) is not None) == expected
