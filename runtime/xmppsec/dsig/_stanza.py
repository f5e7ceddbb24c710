"""Stanza-level rules shared by signing and verification (RFC 6120 §8, XEP-0290 §2)."""

from __future__ import annotations

from typing import cast

from lxml import etree

from ..errors import StanzaSchemaError
from ..jid import parse_jid
from ..xmpp import DEFAULT_TYPES, NS, STANZA_TYPES, StanzaKind, is_stanza, stanza_kind

__all__ = [
    "DS",
    "DSIG_ID",
    "check_stanza",
    "default_attributes",
    "is_stanza",
    "live_attributes",
    "stanza_kind",
]

DS = "{" + NS.DS + "}"
DSIG_ID = "{" + NS.XMPP_DSIG + "}id"

# XEP-0290 §2 "default attribute values are added": the default ``type`` of each kind
# (xmppsec.xmpp.DEFAULT_TYPES; only message has one).
_DEFAULTS: dict[str, tuple[tuple[str, str], ...]] = {
    kind: (() if value is None else (("type", value),)) for kind, value in DEFAULT_TYPES.items()
}


def check_stanza(el: etree._Element, kind: StanzaKind, *, signing: bool) -> frozenset[str]:
    """Stanza checks the signer (and the verifier) need before any digest work. Signing:
    returns every ``d:id`` value in the stanza (each one unique)."""
    stype = el.get("type")
    if stype is not None and stype not in STANZA_TYPES[kind]:
        raise StanzaSchemaError(f"type {stype!r} is not a {kind} type", path=f"/{kind}/@type")
    if kind == "iq":
        if stype is None:
            raise StanzaSchemaError("iq without type (RFC 6120 §8.2.3)", path="/iq")
        if el.get("id") is None:
            raise StanzaSchemaError("iq without id (RFC 6120 §8.2.3)", path="/iq")
    for name in ("from", "to"):
        value = el.get(name)
        if value is not None:
            parse_jid(value)  # JIDError on anything RFC 7622 refuses
    if el.get(DSIG_ID) is not None:
        raise StanzaSchemaError("d:id on the stanza itself (XEP-0290 §2: children only)")
    if signing:
        return _check_ids_for_signing(el)
    return frozenset()


_ANY_DSIG_ID = etree.XPath(
    "boolean(descendant-or-self::*/@d:id)", namespaces={"d": NS.XMPP_DSIG.value}
)


def _check_ids_for_signing(root: etree._Element) -> frozenset[str]:
    # The signer refuses ambiguous input rather than emitting it: every d:id must be unique
    # in the whole stanza and sit on a direct child of a stanza (the top one, or a stanza
    # nested in it, e.g. a signed original that a MUC service reflects).
    if not _ANY_DSIG_ID(root):
        return frozenset()  # the usual case, decided in libxml2 without a Python walk
    seen: set[str] = set()
    for node in root.iter():
        value = node.get(DSIG_ID)
        if value is None:
            continue
        if value in seen:
            raise StanzaSchemaError(f"d:id {value!r} occurs twice; refusing to sign")
        seen.add(value)
        parent = node.getparent()
        if node is root or parent is None or not is_stanza(parent):
            raise StanzaSchemaError(f"d:id {value!r} is not on a child of a stanza")
    return frozenset(seen)


def default_attributes(el: etree._Element, kind: StanzaKind) -> None:
    """Add the default attribute values in place (XEP-0290 §2)."""
    for name, value in _DEFAULTS[kind]:
        if el.get(name) is None:
            el.set(name, value)


def live_attributes(el: etree._Element, kind: str) -> dict[str, str]:
    """The stanza's attributes with defaults applied, without changing the tree."""
    # lxml attribute names and values are str (lxml-stubs allows bytes too; types-lxml not).
    # items(): the (name, value) pairs of attrib in one C call (no lookup per name).
    attrs: dict[str, str] = dict(cast("list[tuple[str, str]]", el.items()))  # type: ignore[redundant-cast, unused-ignore]
    for name, value in _DEFAULTS[kind]:
        attrs.setdefault(name, value)
    return attrs
