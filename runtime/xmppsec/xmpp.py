"""XMPP facts shared by both halves.

Both halves (XEP-0290 signatures in :mod:`xmppsec.dsig`, RFC 3923 objects in
:mod:`xmppsec.e2e`) and the modules around them (schema validation, archives, the slixmpp
integration, time and trust) take these facts from here and nowhere else:

* :class:`NS`: every XML namespace xmppsec reads or writes.
* What counts as a stanza. RFC 6120 §8: a stanza is a ``<message/>``, ``<presence/>`` or
  ``<iq/>`` qualified by the stream's content namespace, ``jabber:client`` (client-to-server)
  or ``jabber:server`` (server-to-server, §4.8.3). That is the one rule
  (:func:`stanza_kind_of`, :func:`is_stanza`, :func:`stanza_kind`): a stanza relayed over a
  server-to-server stream is still a stanza, and XEP-0290 §3 canonicalizes ``jabber:server``
  as ``jabber:client``, so a signature survives the hop. A caller that can only handle one of
  the two namespaces says so in its own check on top of this rule (the schemas describe
  ``jabber:client`` only, see :func:`xmppsec.schema.validate`).
* Stanza types per kind and the default ``type`` (RFC 6120 §8.1.3, RFC 6121 §4.7.1 and
  §5.2.2): an absent message type means ``normal``; an absent presence type means available
  (no value is added); an iq has no default (its type is required).
* :func:`require_aware`: the one aware-datetime check.

The tables are literal rather than imported from :mod:`xmppsec.bindings`: importing the
``jabber:client`` binding module builds its dataclasses (~17 ms), far more than the whole
fact is worth on the sign/verify import path. A test asserts that they equal the bindings'
enums (``MessageTypeValue``, ``PresenceTypeValue``, ``IqTypeValue``) and namespaces.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Final, Literal, Protocol

from lxml import etree

from .errors import StanzaSchemaError, UsageError

__all__ = [
    "DEFAULT_TYPES",
    "NS",
    "STANZA_KINDS",
    "STANZA_NAMESPACES",
    "STANZA_TAGS",
    "STANZA_TYPES",
    "XML_LANG",
    "StanzaKind",
    "is_stanza",
    "require_aware",
    "stanza_kind",
    "stanza_kind_of",
]


class NS(StrEnum):
    """The XML namespaces xmppsec reads or writes (algorithm URIs live in
    :mod:`xmppsec.algorithms`)."""

    DS = "http://www.w3.org/2000/09/xmldsig#"
    DS11 = "http://www.w3.org/2009/xmldsig11#"
    XMPP_DSIG = "urn:xmpp:dsig:0"
    XMPP_DSIG_ROBUST = "urn:xmpp:tmp:dsig:robust:0"  # experimental (XEP-0053 urn:xmpp:tmp:)
    JABBER_CLIENT = "jabber:client"
    JABBER_SERVER = "jabber:server"
    XML = "http://www.w3.org/XML/1998/namespace"
    DELAY = "urn:xmpp:delay"
    E2E = "urn:ietf:params:xml:ns:xmpp-e2e"
    STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
    PIDF = "urn:ietf:params:xml:ns:pidf"


XML_LANG: Final = "{" + NS.XML + "}lang"
"""Clark name of ``xml:lang`` (RFC 6120 §8.1.5 on stanzas)."""

StanzaKind = Literal["message", "presence", "iq"]
"""The three stanza kinds (RFC 6120 §8)."""

STANZA_KINDS: Final[tuple[StanzaKind, ...]] = ("message", "presence", "iq")

STANZA_NAMESPACES: Final[tuple[str, ...]] = (NS.JABBER_CLIENT.value, NS.JABBER_SERVER.value)
"""The content namespaces that qualify a stanza (RFC 6120 §4.8.3, §8)."""

STANZA_TAGS: Final[Mapping[str, StanzaKind]] = {
    "{" + ns + "}" + kind: kind for ns in STANZA_NAMESPACES for kind in STANZA_KINDS
}
"""Clark name of every stanza element → its kind (the one stanza rule as a table)."""

STANZA_TYPES: Final[Mapping[StanzaKind, frozenset[str]]] = {
    # RFC 6121 §5.2.2
    "message": frozenset({"chat", "error", "groupchat", "headline", "normal"}),
    # RFC 6121 §4.7.1 (absence means available; "available" itself is not a value)
    "presence": frozenset(
        {"error", "probe", "subscribe", "subscribed", "unavailable", "unsubscribe", "unsubscribed"}
    ),
    # RFC 6120 §8.2.3
    "iq": frozenset({"error", "get", "result", "set"}),
}
"""The ``type`` values each stanza kind allows."""

DEFAULT_TYPES: Final[Mapping[StanzaKind, str | None]] = {
    "message": "normal",  # RFC 6121 §5.2.2: absent means normal
    "presence": None,  # RFC 6121 §4.7.1: absent means available, which has no value
    "iq": None,  # RFC 6120 §8.2.3: type is required
}
"""The value an absent ``type`` stands for, per kind (None: nothing to add)."""


class _Tagged(Protocol):
    """An lxml or ElementTree element: anything with a ``tag``."""

    @property
    def tag(self) -> object: ...


def stanza_kind_of(el: _Tagged) -> StanzaKind | None:
    """The kind of a stanza element (lxml or ElementTree), None for anything else."""
    tag = el.tag
    return STANZA_TAGS.get(tag) if isinstance(tag, str) else None


def is_stanza(el: _Tagged) -> bool:
    """Whether ``el`` is a message, presence or iq in jabber:client or jabber:server."""
    tag = el.tag
    return isinstance(tag, str) and tag in STANZA_TAGS


def stanza_kind(el: etree._Element) -> StanzaKind:
    """The kind of a stanza element; :class:`~xmppsec.errors.StanzaSchemaError` for
    anything else (input from a peer that is not a stanza)."""
    tag = el.tag
    kind = STANZA_TAGS.get(tag) if isinstance(tag, str) else None
    if kind is None:
        line = el.sourceline
        raise StanzaSchemaError(
            f"{tag!r} is not a stanza: expected message, presence or iq in "
            f"{NS.JABBER_CLIENT.value} or {NS.JABBER_SERVER.value} (RFC 6120 §8)",
            line=line if isinstance(line, int) else 0,
            path="/*[1]" if el.getparent() is None else "",
        )
    return kind


def require_aware(dt: datetime, what: str) -> datetime:
    """``dt`` in UTC; :class:`~xmppsec.errors.UsageError` (a ``ValueError``) when it is not an
    aware datetime: a naive value names no instant, and passing one is the caller's mistake.

    A ``datetime`` whose tzinfo is :data:`datetime.UTC` is returned as it is, with no work
    (the verifier's clock and every parsed timestamp are such values).
    """
    if type(dt) is datetime and dt.tzinfo is UTC:
        return dt
    if not isinstance(dt, datetime):
        raise UsageError(f"{what} must be a datetime, not {type(dt).__name__}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise UsageError(f"{what} is a naive datetime; pass an aware (UTC) value")
    return dt.astimezone(UTC)
