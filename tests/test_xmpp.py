"""xmppsec.xmpp: the namespace table, the one stanza rule, stanza types and defaults, and
the one aware-datetime check."""

from __future__ import annotations

import ast
import importlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from lxml import etree

import xmppsec
from xmppsec.bindings import NAMESPACE_MODULES
from xmppsec.bindings.jabber_client import IqTypeValue, MessageTypeValue, PresenceTypeValue
from xmppsec.errors import StanzaSchemaError, UsageError
from xmppsec.xmpp import (
    DEFAULT_TYPES,
    NS,
    STANZA_KINDS,
    STANZA_NAMESPACES,
    STANZA_TAGS,
    STANZA_TYPES,
    XML_LANG,
    is_stanza,
    require_aware,
    stanza_kind,
    stanza_kind_of,
)

if TYPE_CHECKING:
    from tests.conftest import MESSAGE, NOW, sign, verifier
else:
    from conftest import MESSAGE, NOW, sign, verifier

# -- the one stanza rule (RFC 6120 §8) ------------------------------------------------------


@pytest.mark.parametrize("ns", ["jabber:client", "jabber:server"])
@pytest.mark.parametrize("kind", ["message", "presence", "iq"])
def test_a_stanza_is_message_presence_or_iq_in_a_content_namespace(ns: str, kind: str) -> None:
    el = etree.fromstring(f"<{kind} xmlns='{ns}'/>")
    assert is_stanza(el)
    assert stanza_kind_of(el) == kind
    assert stanza_kind(el) == kind
    # the same rule for ElementTree elements (the slixmpp integration holds those)
    assert stanza_kind_of(ET.fromstring(f"<{kind} xmlns='{ns}'/>")) == kind


@pytest.mark.parametrize(
    "xml",
    [
        "<message/>",  # no namespace
        "<message xmlns='jabber:component:accept'/>",  # XEP-0114: not RFC 6120's
        "<message xmlns='urn:example'/>",
        "<stanza xmlns='jabber:client'/>",
        "<body xmlns='jabber:client'/>",
        "<Message xmlns='jabber:client'/>",  # names are case-sensitive
        "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'/>",
    ],
)
def test_anything_else_is_not_a_stanza(xml: str) -> None:
    el = etree.fromstring(xml)
    assert not is_stanza(el)
    assert stanza_kind_of(el) is None
    with pytest.raises(StanzaSchemaError) as info:
        stanza_kind(el)
    assert info.value.line == 1
    assert info.value.path == "/*[1]"


def test_comments_and_processing_instructions_are_not_stanzas() -> None:
    # lxml gives them a function as tag, not a string
    assert not is_stanza(etree.Comment("message"))
    assert stanza_kind_of(etree.ProcessingInstruction("message")) is None


def test_stanza_kind_is_refused_on_a_nested_element_without_a_root_path() -> None:
    root = etree.fromstring("<message xmlns='jabber:client'><x xmlns='urn:x'/></message>")
    with pytest.raises(StanzaSchemaError) as info:
        stanza_kind(root[0])
    assert info.value.path == ""


def test_stanza_tags_are_the_product_of_namespaces_and_kinds() -> None:
    assert STANZA_KINDS == ("message", "presence", "iq")
    assert STANZA_NAMESPACES == (NS.JABBER_CLIENT, NS.JABBER_SERVER)
    assert len(STANZA_TAGS) == 6
    for tag, kind in STANZA_TAGS.items():
        qname = etree.QName(tag)
        assert qname.namespace in STANZA_NAMESPACES
        assert qname.localname == kind


# -- types and defaults (RFC 6120 §8.2.3, RFC 6121 §4.7.1, §5.2.2) ---------------------------


def test_types_equal_the_bindings_enums() -> None:
    # The tables are literal (the binding module costs ~17 ms to import); they must say what
    # the schema says.
    assert {v.value for v in MessageTypeValue} == STANZA_TYPES["message"]
    assert {v.value for v in PresenceTypeValue} == STANZA_TYPES["presence"]
    assert {v.value for v in IqTypeValue} == STANZA_TYPES["iq"]
    assert set(STANZA_TYPES) == set(STANZA_KINDS)


def test_default_types() -> None:
    assert DEFAULT_TYPES == {"message": "normal", "presence": None, "iq": None}
    assert DEFAULT_TYPES["message"] in STANZA_TYPES["message"]
    # "available" is the meaning of an absent presence type, never a value (RFC 6121 §4.7.1)
    assert "available" not in STANZA_TYPES["presence"]
    # the binding's default for Message.type_value is the same fact
    from xmppsec.bindings.jabber_client import Message

    assert Message().type_value.value == DEFAULT_TYPES["message"]


# -- the namespace table ------------------------------------------------------------------


def test_namespaces_equal_the_bindings() -> None:
    # Every namespace with generated bindings that the table names has the same URI there.
    by_module = {module: uri for uri, module in NAMESPACE_MODULES.items()}
    for module, member in [
        ("xmppsec.bindings.delay", NS.DELAY),
        ("xmppsec.bindings.dsig", NS.XMPP_DSIG),
        ("xmppsec.bindings.dsig_robust", NS.XMPP_DSIG_ROBUST),
        ("xmppsec.bindings.e2e", NS.E2E),
        ("xmppsec.bindings.jabber_client", NS.JABBER_CLIENT),
        ("xmppsec.bindings.pidf", NS.PIDF),
        ("xmppsec.bindings.stanzas", NS.STANZAS),
        ("xmppsec.bindings.xml", NS.XML),
        ("xmppsec.bindings.xmldsig", NS.DS),
        ("xmppsec.bindings.xmldsig11", NS.DS11),
    ]:
        assert by_module[module] == member
        assert importlib.import_module(module).__NAMESPACE__ == member
    assert XML_LANG == importlib.import_module("xmppsec.bindings.xml").ATTR_LANG


def test_algorithms_no_longer_hold_namespaces() -> None:
    import xmppsec.algorithms as algorithms

    assert not hasattr(algorithms, "NS")


_RUNTIME = Path(xmppsec.xmpp.__file__).parent
# Where the table lives, and the algorithm URIs (which share the XML-DSIG prefix).
_OWNERS = {_RUNTIME / "xmpp.py", _RUNTIME / "algorithms.py"}
# A URI followed by more URI characters is another URI (an algorithm in the DS namespace).
_URI = {ns: re.compile(re.escape(ns.value) + r"(?![\w#/-])") for ns in NS}


def _docstring_nodes(tree: ast.AST) -> set[int]:
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
            # attribute docstrings: a string statement right after an assignment
            for first, second in zip(body, body[1:], strict=False):
                if (
                    isinstance(first, ast.Assign | ast.AnnAssign)
                    and isinstance(second, ast.Expr)
                    and isinstance(second.value, ast.Constant)
                ):
                    found.add(id(second.value))
    return found


def spelled_namespaces(source: str) -> list[tuple[int, str]]:
    """(line, NS member) for every string or bytes literal in ``source`` that spells a
    namespace URI of the table. Docstrings (prose) and literal XML documents (sample
    stanzas, which must carry their xmlns) are not code naming a namespace; comments are
    not in the syntax tree at all."""
    tree = ast.parse(source)
    docs = _docstring_nodes(tree)
    hits: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or id(node) in docs:
            continue
        value = node.value
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        if not isinstance(value, str) or value.lstrip().startswith("<"):
            continue
        hits.extend((node.lineno, ns.name) for ns, uri in _URI.items() if uri.search(value))
    return hits


def test_the_namespace_scan_finds_spelled_uris() -> None:
    source = (
        '"""A docstring may say jabber:client."""\n'
        'A = "{jabber:client}body"\n'
        'B = b"urn:xmpp:dsig:0"\n'
        'C = f"in jabber:server: {A}"\n'
        'D = "http://www.w3.org/2000/09/xmldsig#sha1"\n'  # an algorithm URI, not the namespace
        "E = \"<message xmlns='jabber:client'/>\"\n"  # a sample stanza
        'F = "urn:xmpp:delay"  # urn:xmpp:delay in a comment is fine\n'
    )
    assert sorted(spelled_namespaces(source)) == [
        (2, "JABBER_CLIENT"),
        (3, "XMPP_DSIG"),
        (4, "JABBER_SERVER"),
        (7, "DELAY"),
    ]


def test_no_module_spells_a_namespace_of_the_table() -> None:
    modules = sorted(p for p in _RUNTIME.rglob("*.py") if p not in _OWNERS)
    assert len(modules) > 20
    offenders = [
        f"{path.relative_to(_RUNTIME)}:{line}: {name}"
        for path in modules
        for line, name in spelled_namespaces(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], "use xmppsec.xmpp.NS instead of spelling the URI"


# -- require_aware ------------------------------------------------------------------------


def test_require_aware_passes_utc_through_untouched() -> None:
    dt = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert require_aware(dt, "now") is dt


def test_require_aware_converts_other_offsets_to_utc() -> None:
    east = datetime(2026, 1, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    out = require_aware(east, "now")
    assert out == east
    assert out.tzinfo is UTC
    assert out.hour == 12
    # timezone.utc written another way is UTC too, and comes back as the UTC singleton
    zero = datetime(2026, 1, 1, 12, 0, tzinfo=timezone(timedelta(0)))
    assert require_aware(zero, "now").tzinfo is UTC


class _NoOffset(tzinfo):
    """A tzinfo whose utcoffset is None: as naive as no tzinfo (Python data model)."""

    def utcoffset(self, dt: datetime | None) -> None:
        return None

    def dst(self, dt: datetime | None) -> None:
        return None

    def tzname(self, dt: datetime | None) -> str:
        return "nowhere"


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 1, 1, 12, 0),  # naive
        datetime(2026, 1, 1, 12, 0, tzinfo=_NoOffset()),
        "2026-01-01T12:00:00Z",
        1_767_268_800,
        None,
    ],
    ids=["naive", "tzinfo-without-offset", "str", "int", "none"],
)
def test_require_aware_refuses_the_callers_mistakes(value: object) -> None:
    with pytest.raises(UsageError, match="now") as info:
        require_aware(value, "now")  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)


def test_every_aware_check_is_the_one_check() -> None:
    """timestamps, replay, trust, keys, the verifier and e2e raise the same error."""
    from xmppsec.e2e._api import _aware
    from xmppsec.keys import generate_identity
    from xmppsec.replay import MemoryReplayStore
    from xmppsec.timestamps import check_window, format_timestamp
    from xmppsec.trust import TrustStore

    naive = datetime(2026, 1, 1, 12, 0)
    aware = naive.replace(tzinfo=UTC)
    calls: list[Callable[[], object]] = [
        lambda: format_timestamp(naive),
        lambda: check_window(aware, naive),
        lambda: MemoryReplayStore().check_and_record(
            "a@b", b"t", aware, now=naive, window=timedelta(minutes=5)
        ),
        lambda: TrustStore().resolve_all("a@b", now=naive),
        lambda: generate_identity("a@b", now=naive),
        lambda: _aware(naive),
    ]
    for call in calls:
        with pytest.raises(UsageError):
            call()


def test_the_verifier_raises_for_a_naive_now_the_callers_mistake() -> None:
    # check() reports everything about the stanza in its result, and raises UsageError for
    # the caller's own arguments only.
    signed = sign(MESSAGE)
    assert verifier().check(signed, now=NOW).valid
    with pytest.raises(UsageError):
        verifier().check(signed, now=NOW.replace(tzinfo=None))
    with pytest.raises(UsageError):
        verifier().check(signed.decode(), now=NOW)  # type: ignore[arg-type]
