"""Stanza-level rules shared by signing and verification (RFC 6120 §8, XEP-0290 §2)."""

from __future__ import annotations

from lxml import etree

from ..algorithms import NS
from ..errors import StanzaSchemaError
from ..jid import parse_jid

__all__ = [
    "DS",
    "DSIG_ID",
    "STANZA_NAMESPACES",
    "check_stanza",
    "default_attributes",
    "is_stanza",
    "live_attributes",
    "stanza_kind",
]

DS = "{" + NS.DS + "}"
DSIG_ID = "{" + NS.XMPP_DSIG + "}id"
STANZA_NAMESPACES = (NS.JABBER_CLIENT.value, NS.JABBER_SERVER.value)

# RFC 6120 §8.2.3, RFC 6121 §4.7.1 / §5.2.2: the type values of each stanza kind.
_TYPES: dict[str, frozenset[str]] = {
    "message": frozenset({"chat", "error", "groupchat", "headline", "normal"}),
    "presence": frozenset(
        {"error", "probe", "subscribe", "subscribed", "unavailable", "unsubscribe", "unsubscribed"}
    ),
    "iq": frozenset({"get", "set", "result", "error"}),
}
# XEP-0290 §2 "default attribute values are added": RFC 6121 §5.2.2 message type "normal".
# Presence has no default type value (absence means available); iq has none (type required).
_DEFAULTS: dict[str, tuple[tuple[str, str], ...]] = {
    "message": (("type", "normal"),),
    "presence": (),
    "iq": (),
}

_STANZA_TAGS = {
    "{" + ns + "}" + name: name
    for ns in STANZA_NAMESPACES
    for name in ("message", "presence", "iq")
}


def is_stanza(el: etree._Element) -> bool:
    tag = el.tag
    return isinstance(tag, str) and tag in _STANZA_TAGS


def stanza_kind(el: etree._Element) -> str:
    """``message``, ``presence`` or ``iq``; anything else is not a stanza."""
    tag = el.tag
    kind = _STANZA_TAGS.get(tag) if isinstance(tag, str) else None
    if kind is None:
        raise StanzaSchemaError(
            f"root {tag!r} is not a jabber:client or jabber:server message, presence or iq",
            path="/*[1]",
        )
    return kind


def check_stanza(el: etree._Element, kind: str, *, signing: bool) -> frozenset[str]:
    """Stanza checks the signer (and the verifier) need before any digest work. Signing:
    returns every ``d:id`` value in the stanza (each one unique)."""
    stype = el.get("type")
    if stype is not None and stype not in _TYPES[kind]:
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


_ANY_DSIG_ID = etree.XPath("boolean(descendant-or-self::*/@d:id)", namespaces={"d": NS.XMPP_DSIG})


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


def default_attributes(el: etree._Element, kind: str) -> None:
    """Add the default attribute values in place (XEP-0290 §2)."""
    for name, value in _DEFAULTS[kind]:
        if el.get(name) is None:
            el.set(name, value)


def live_attributes(el: etree._Element, kind: str) -> dict[str, str]:
    """The stanza's attributes with defaults applied, without changing the tree."""
    # lxml attribute names and values are str (the stubs allow bytes too).
    attrs: dict[str, str] = dict(el.attrib)  # type: ignore[arg-type]
    for name, value in _DEFAULTS[kind]:
        attrs.setdefault(name, value)
    return attrs
