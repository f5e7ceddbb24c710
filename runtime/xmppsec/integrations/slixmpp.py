"""slixmpp plugin ``xmppsec_dsig``: sign outgoing stanzas, verify incoming ones (XEP-0290).

Enable it like any slixmpp plugin (docs/slixmpp.md)::

    from xmppsec.integrations import slixmpp as xmppsec_slixmpp

    client = slixmpp.ClientXMPP("alice@example.org", password)
    xmppsec_slixmpp.enable(client, {"key": key, "certificate": cert, "trust": trust})
    client.add_event_handler("xmppsec_verified", on_verified)      # VerifiedStanza
    client.add_event_handler("xmppsec_unverified", on_unverified)  # VerifiedStanza

Outgoing (an ``out_sync`` filter, after every ``out`` filter of other plugins, so what they
add is signed too): the stanza is serialized exactly as slixmpp will write it, signed with
the robust profile (docs/robust-profile.md) by :class:`xmppsec.dsig.Signer`, and the
Signature (plus any default attribute the signer set) is copied back into slixmpp's tree.

Incoming (an ``in`` filter, before any handler): slixmpp keeps no received bytes, only its
parsed ``xml.etree`` tree. That tree is serialized with the standard library (which keeps
every attribute, unlike slixmpp's own serializer), parsed again by xmppsec's hardened
parser and checked by :class:`xmppsec.dsig.Verifier`. Only a profile whose canonical form
ignores prefixes, namespace declarations, quoting and inherited ``xml:lang`` verifies from
such a re-serialization: the robust profile. The frozen
:class:`~xmppsec.dsig.VerificationResult` is kept for the stanza
(:meth:`XmppsecDsig.result_for`) and sent with the events ``xmppsec_verified`` /
``xmppsec_unverified``. No xmppsec error ever leaves a filter.

Configuration: a :class:`DsigConfig` (typed, checked by mypy) or the equivalent plugin
config dict. With an :class:`~xmppsec.replay.AsyncReplayStore` as ``replay`` (e.g.
:class:`~xmppsec.replay.AsyncRedisReplayStore`), the replay check is awaited in a task instead
of blocking the event loop: the filter holds a stanza whose signatures verified, and hands it
to the handlers (``recv_stanza``) once the store has answered, in arrival order.

Forwarded copies (docs/slixmpp.md, "Carbons, archives, history and signed rooms"): the plugin
also verifies what a stanza forwards, each copy under the rules of whoever vouches for it, and
never as if it had been delivered fresh:

* a XEP-0280 carbon (``<received/>``/``<sent/>`` holding a XEP-0297 ``<forwarded/>``) only
  from the account's own bare JID (XEP-0280 §11), its message to (received) or from (sent)
  the account; judged against now, with the replay store, as the live stanza it copies;
* a XEP-0313 result only for a query this client sent (its ``queryid``), from the archive
  it asked (the account, or a room), its message to or from the account (or an occupant's
  reflection, for a room's archive); judged against the ``<delay/>`` of ``<forwarded/>`` as
  the verifier judges an offline message's delay (``Policy.own_server`` set to the archive,
  ``max_offline_age``), without the replay store (an archive hands out its copies again);
* a room's history replayed on join (XEP-0045 §7.2.15: between this client's self-presence
  and the room's subject, a groupchat message from an occupant JID with the room's own
  ``<delay/>``): the same, with the room as the one who stored it;
* a signed room's reflection (``xmppsec component --mode rooms``) whose valid service
  signature covers the occupant's original nested in ``<forwarded/>``: the original is
  verified too and reported beside the service's result.

A MUC private message (``muc-private``) is accepted only by the occupant its signature
names: the nick the room gave this client, learnt from the room's status-110 self-presence
(XEP-0045 §7.2.3); the room alone maps nicks to real JIDs.

Carbons and archive results fire ``xmppsec_forwarded`` with a :class:`ForwardedStanza` (the
wrapper itself is the server's, not signed content); history and room reflections fire
``xmppsec_verified``/``xmppsec_unverified`` with ``delivery`` and ``forwarded`` set.
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import copy
import logging
import weakref
import xml.etree.ElementTree as ET  # noqa: S405 - serializes trees only; parsing is xmppsec.parser
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, fields, replace
from datetime import timedelta
from typing import Any, ClassVar, Literal, TypeVar, cast

from cryptography import x509
from lxml import etree
from slixmpp.basexmpp import BaseXMPP
from slixmpp.plugins.base import BasePlugin, register_plugin
from slixmpp.xmlstream import StanzaBase
from slixmpp.xmlstream.tostring import tostring as slixmpp_tostring

from ..algorithms import PrivateKey
from ..dsig import ROBUST, Policy, Profile, Signer, VerificationResult, Verifier
from ..errors import (
    JIDError,
    StanzaMismatch,
    StanzaSchemaError,
    UsageError,
    VerificationError,
    XmppSecError,
)
from ..jid import bare_jid
from ..parser import parse
from ..replay import AsyncReplayStore, MemoryReplayStore, ReplayStore, is_async_store
from ..trust import TrustStore
from ..xmpp import NS, STANZA_KINDS, stanza_kind_of

__all__ = [
    "EVENT_FORWARDED",
    "EVENT_SIGN_FAILED",
    "EVENT_UNVERIFIED",
    "EVENT_VERIFIED",
    "PLUGIN_NAME",
    "DsigConfig",
    "Delivery",
    "DsigSettings",
    "ForwardedStanza",
    "PluginConfigError",
    "SignFailure",
    "VerifiedStanza",
    "XmppsecDsig",
    "enable",
]

log = logging.getLogger(__name__)

PLUGIN_NAME = "xmppsec_dsig"
EVENT_VERIFIED = "xmppsec_verified"
"""Fired with a :class:`VerifiedStanza` whose result is valid under the policy."""
EVENT_UNVERIFIED = "xmppsec_unverified"
"""Fired with a :class:`VerifiedStanza` whose result is not valid (``NotSigned`` included)."""
EVENT_SIGN_FAILED = "xmppsec_sign_failed"
"""Fired with a :class:`SignFailure` when an outgoing stanza could not be signed."""
EVENT_FORWARDED = "xmppsec_forwarded"
"""Fired with a :class:`ForwardedStanza` for each XEP-0280 carbon and XEP-0313 result."""

_KINDS = frozenset(STANZA_KINDS)
_CLIENT_NS = NS.JABBER_CLIENT
_SIGNATURE = "{" + NS.DS + "}Signature"
_SIGNATURE_VALUE = "{" + NS.DS + "}SignatureValue"
_DELAY = "{" + NS.DELAY + "}delay"
_FORWARDED = "{urn:xmpp:forward:0}forwarded"  # XEP-0297
_CARBONS = "urn:xmpp:carbons:2"  # XEP-0280
_CARBON_KINDS = {"{" + _CARBONS + "}received": "received", "{" + _CARBONS + "}sent": "sent"}
_MAM = "urn:xmpp:mam:2"  # XEP-0313
_MAM_QUERY = "{" + _MAM + "}query"
_MAM_RESULT = "{" + _MAM + "}result"
_MUC_USER = "http://jabber.org/protocol/muc#user"  # XEP-0045
_MUC_USER_X = "{" + _MUC_USER + "}x"
_MUC_STATUS = "{" + _MUC_USER + "}status"
_OBJECT = "{" + NS.DS + "}Object"
_SUBJECT = "{" + _CLIENT_NS + "}subject"
_MAX_QUERIES = 64
"""Outstanding XEP-0313 queries remembered at once (the oldest is forgotten first)."""

T = TypeVar("T")

SignErrorMode = Literal["drop", "send-unsigned"]
StanzaKind = Literal["message", "presence", "iq"]
StanzaSelector = Callable[[StanzaBase], bool]
_MESSAGES: tuple[StanzaKind, ...] = ("message",)
Delivery = Literal["live", "history", "carbon-received", "carbon-sent", "archive", "room-original"]
"""How a verified stanza reached the client: ``live`` (delivered as sent), ``history`` (a
room's history replayed on join), ``carbon-received``/``carbon-sent`` (XEP-0280 copies),
``archive`` (a XEP-0313 result), ``room-original`` (an occupant's original nested in a
signed room's reflection)."""


class PluginConfigError(UsageError):
    """The plugin configuration is wrong (a key of the wrong type, an unknown value): the
    caller's mistake, so a :class:`~xmppsec.errors.UsageError` (and a ``ValueError``)."""


@dataclass(frozen=True, slots=True)
class VerifiedStanza:
    """What the ``xmppsec_verified`` / ``xmppsec_unverified`` events carry."""

    stanza: StanzaBase
    result: VerificationResult
    delivery: Delivery = "live"
    """``live``, or ``history`` (replayed by the room on join; judged against the room's
    delay stamp, not recorded in the replay store)."""
    forwarded: ForwardedStanza | None = None
    """A signed room's reflection: the occupant's original it nests (``room-original``),
    verified only when the room's signature (``result``) is valid."""

    @property
    def valid(self) -> bool:
        return self.result.valid


@dataclass(frozen=True, slots=True)
class ForwardedStanza:
    """A stanza forwarded inside another (XEP-0297) and verified by the plugin: what the
    ``xmppsec_forwarded`` event carries, and :attr:`VerifiedStanza.forwarded`.

    ``valid`` only when the inner stanza's signatures are valid *and* it came the way its
    ``delivery`` requires (a carbon from the account, a result of a query this client sent
    from the archive it asked, a message to or from the account); otherwise ``result``
    is not valid and its ``error`` says why (:class:`~xmppsec.errors.StanzaMismatch` for a
    copy from the wrong forwarder)."""

    stanza: StanzaBase
    """The stanza that carried the copy: the carbon, the archive's result message, the
    room's reflection."""
    inner: ET.Element
    """The forwarded stanza, as slixmpp parsed it."""
    result: VerificationResult
    delivery: Delivery
    by: str
    """Who forwarded it and vouches for the copy: the account's bare JID (carbons, the
    account's archive) or the room."""
    stamp: str | None = None
    """The XEP-0203 delay stamp in ``<forwarded/>`` (an archive: when it stored the copy)."""
    archive_id: str | None = None
    """The XEP-0313 ``result/@id``."""

    @property
    def valid(self) -> bool:
        return self.result.valid


@dataclass(frozen=True, slots=True)
class SignFailure:
    """What the ``xmppsec_sign_failed`` event carries: the stanza and why it was not signed.

    ``sent`` tells whether it went out unsigned (``on_sign_error="send-unsigned"``) or was
    dropped (the default)."""

    stanza: StanzaBase
    error: XmppSecError
    sent: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class DsigConfig:
    """The plugin configuration, typed: ``enable(client, DsigConfig(key=..., trust=...))``.

    The same keys as the plugin config dict (docs/slixmpp.md), with the same defaults;
    :meth:`as_dict` gives that dict. Checked and resolved into :class:`DsigSettings` when the
    plugin starts."""

    key: PrivateKey | None = None
    """Private key to sign with; the signer is the account's bare JID."""
    certificate: x509.Certificate | None = None
    include_certificate: bool = False
    signer: Signer | None = None
    profile: Profile | None = None
    trust: TrustStore | None = None
    policy: Policy | None = None
    replay: ReplayStore | AsyncReplayStore | Literal["memory"] | None = "memory"
    """A replay store (sync, or async: awaited without blocking the loop), ``"memory"``
    or ``None``."""
    verifier: Verifier | None = None
    sign: Collection[StanzaKind] = _MESSAGES
    verify: Collection[StanzaKind] = _MESSAGES
    select: StanzaSelector | None = None
    on_sign_error: SignErrorMode = "drop"
    drop_unverified: bool = False

    def as_dict(self) -> dict[str, object]:
        """The slixmpp plugin config dict of this configuration."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class DsigSettings:
    """The plugin configuration, checked and resolved (built from the plugin config dict)."""

    signer: Signer | None
    """Signs outgoing stanzas; ``None``: nothing is signed."""
    verifier: Verifier | None
    """Verifies incoming stanzas; ``None``: nothing is verified."""
    sign: frozenset[str]
    """Stanza kinds to sign (``message``, ``presence``, ``iq``)."""
    verify: frozenset[str]
    """Stanza kinds to verify."""
    select: StanzaSelector | None
    """Signs only the stanzas for which it returns True (after the kind check)."""
    on_sign_error: SignErrorMode
    drop_unverified: bool
    """Stop unverified stanzas before any handler sees them (events still fire)."""
    async_replay: AsyncReplayStore | None = None
    """Awaited after verification (the verifier then has no replay store of its own)."""
    replay_window: timedelta = timedelta(minutes=5)
    """How long the async store remembers a signature (the policy's window, plus the
    offline age where delays are honoured: as the verifier does)."""

    @classmethod
    def from_config(cls, config: Mapping[str, object], *, jid: str) -> DsigSettings:
        """Resolve slixmpp's plugin config dict (keys: docs/slixmpp.md) for the account ``jid``."""
        unknown = set(config) - set(XmppsecDsig.default_config)
        if unknown:
            raise PluginConfigError(f"unknown {PLUGIN_NAME} config keys: {sorted(unknown)}")
        profile = _typed(config, "profile", Profile, ROBUST)
        signer = _optional(config, "signer", Signer)
        key = config.get("key")
        if key is not None and not isinstance(key, PrivateKey):
            raise PluginConfigError(f"'key' must be a private key, not {type(key).__name__}")
        if signer is None and key is not None:
            certificate = _optional(config, "certificate", x509.Certificate)
            include = _typed(config, "include_certificate", bool, False)
            try:
                signer = Signer(
                    key,
                    signer=bare_jid(jid),
                    certificate=certificate,
                    profile=profile,
                    include_certificate=include,
                )
            except XmppSecError as exc:  # a key, certificate or account that do not match
                raise PluginConfigError(f"cannot sign as {bare_jid(jid)}: {exc}") from exc
        elif signer is not None and key is not None:
            raise PluginConfigError("give either 'signer' or 'key' (+ 'certificate'), not both")
        elif key is None and config.get("certificate") is not None:
            raise PluginConfigError("'certificate' belongs to a 'key'; no 'key' is given")
        verifier = _optional(config, "verifier", Verifier)
        trust = _optional(config, "trust", TrustStore)
        async_replay: AsyncReplayStore | None = None
        if verifier is None and trust is not None:
            replay_value = config.get("replay", "memory")
            replay: ReplayStore | None
            if replay_value == "memory":
                replay = MemoryReplayStore()
            elif is_async_store(replay_value):
                # checked in a task by the plugin, never called synchronously
                replay, async_replay = None, replay_value
            elif replay_value is None or isinstance(replay_value, ReplayStore):
                replay = replay_value
            else:
                raise PluginConfigError(
                    "'replay' is a ReplayStore, an AsyncReplayStore, None or \"memory\""
                )
            verifier = Verifier(
                trust,
                policy=_typed(config, "policy", Policy, Policy()),
                replay=replay,
                profile=profile,
            )
        elif verifier is not None and is_async_store(verifier.replay):
            raise PluginConfigError("a Verifier's replay store must be synchronous")
        elif verifier is not None and trust is not None:
            raise PluginConfigError("give either 'verifier' or 'trust' (+ 'policy', 'replay')")
        mode = config.get("on_sign_error", "drop")
        if mode not in ("drop", "send-unsigned"):
            raise PluginConfigError('\'on_sign_error\' is "drop" or "send-unsigned"')
        select = config.get("select")
        if select is not None and not callable(select):
            raise PluginConfigError("'select' is a callable(stanza) -> bool")
        return cls(
            signer=signer,
            verifier=verifier,
            sign=_kinds(config, "sign"),
            verify=_kinds(config, "verify"),
            select=cast(StanzaSelector | None, select),
            on_sign_error=mode,
            drop_unverified=_typed(config, "drop_unverified", bool, False),
            async_replay=async_replay,
            replay_window=_replay_window(verifier),
        )


def _replay_window(verifier: Verifier | None) -> timedelta:
    if verifier is None:
        return timedelta(minutes=5)
    policy = verifier.policy
    if policy.own_server is not None:
        return policy.window + policy.max_offline_age
    return policy.window


def _typed(config: Mapping[str, object], key: str, kind: type[T], default: T) -> T:
    value = config.get(key)
    if value is None:
        return default
    if not isinstance(value, kind):
        raise PluginConfigError(f"{key!r} must be a {kind.__name__}, not {type(value).__name__}")
    return value


def _optional(config: Mapping[str, object], key: str, kind: type[T]) -> T | None:
    value = config.get(key)
    if value is not None and not isinstance(value, kind):
        raise PluginConfigError(f"{key!r} must be a {kind.__name__}, not {type(value).__name__}")
    return value


def _kinds(config: Mapping[str, object], key: str) -> frozenset[str]:
    value = config.get(key, ("message",))
    if isinstance(value, str) or not isinstance(value, Collection):
        raise PluginConfigError(f"{key!r} is a collection of stanza kinds, e.g. ('message',)")
    kinds = frozenset(str(v) for v in value)
    if not kinds <= _KINDS:
        raise PluginConfigError(f"{key!r}: unknown stanza kinds {sorted(kinds - _KINDS)}")
    return kinds


# -- tree helpers (slixmpp holds xml.etree elements; xmppsec works on lxml) ------------------


def _has_signature(element: ET.Element) -> bool:
    if any(child.tag == _SIGNATURE for child in element):
        return True
    # the robust profile puts an iq's Signature inside its single payload
    return len(element) == 1 and any(child.tag == _SIGNATURE for child in element[0])


def _to_etree(element: etree._Element) -> ET.Element:
    """An xml.etree copy of an lxml element (Clark names on both sides)."""
    out = ET.Element(str(element.tag), {str(k): str(v) for k, v in element.attrib.items()})
    out.text = element.text
    out.tail = element.tail
    for child in element:
        if isinstance(child.tag, str):  # elements only; the hardened parser admits no others
            out.append(_to_etree(child))
    return out


def _merge_signed(target: ET.Element, signed: etree._Element) -> None:
    """Copy onto slixmpp's tree what signing added: attributes (a defaulted ``type``, ``d:id``
    in the spec profile) and new trailing elements (the Signature). Signing never removes
    or reorders anything, so the first ``len(target)`` children correspond one to one."""
    for name, value in signed.attrib.items():
        if target.get(str(name)) != value:
            target.set(str(name), str(value))
    children = [c for c in signed if isinstance(c.tag, str)]
    if len(children) < len(target):
        raise StanzaSchemaError("signed stanza lost children on the way back to slixmpp")
    for i, child in enumerate(children):
        if i < len(target):
            _merge_signed(target[i], child)
        else:
            target.append(_to_etree(child))


def _signatures(element: ET.Element) -> list[ET.Element]:
    """The Signature elements in the verifier's order: the stanza's own, then (robust
    profile, iq) those inside its single payload."""
    out = [child for child in element if child.tag == _SIGNATURE]
    if len(element) == 1:
        out.extend(child for child in element[0] if child.tag == _SIGNATURE)
    return out


def _signature_value(signature: ET.Element) -> bytes:
    """The SignatureValue bytes (the replay token the verifier records)."""
    value = signature.find(_SIGNATURE_VALUE)
    text = "".join((value.text or "").split()) if value is not None else ""
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        raise VerificationError("SignatureValue is not base64") from None


def serialize_received(element: ET.Element) -> bytes:
    """The bytes xmppsec verifies for a stanza slixmpp received: its parsed tree written by
    the standard library serializer (every attribute kept, its own ``ns0``-style prefixes),
    UTF-8, without an XML declaration."""
    return ET.tostring(element, encoding="unicode").encode("utf-8")


def _bare(value: str | None) -> str | None:
    """The normalized bare JID of ``value``; ``None`` if absent or not a JID."""
    if not value:
        return None
    try:
        return bare_jid(value)
    except JIDError:
        return None


def _is_bare(value: str | None, bare: str) -> bool:
    """``value`` is the bare JID ``bare`` itself (no resource)."""
    return value is not None and "/" not in value and _bare(value) == bare


def _delayed_copy(inner: ET.Element, delays: list[ET.Element], by: str) -> ET.Element:
    """The forwarded stanza with the forwarder's XEP-0203 delay(s) as its own children,
    stamped ``from`` the forwarder (who answered this client's query and vouches for the
    stamp, whatever ``from`` its delay names): what the verifier judges an offline message's
    timestamp by (``Policy.own_server``, XEP-0290 §5). A delay the stanza already held stays:
    two delays are refused as the verifier refuses them for an offline message."""
    out = copy.deepcopy(inner)
    out.tail = None
    for delay in delays:
        added = ET.SubElement(out, _DELAY, dict(delay.attrib))
        added.set("from", by)
    return out


def _history_room(element: ET.Element) -> str | None:
    """The room whose history replayed this message on join (XEP-0045 §7.2.15): a groupchat
    message from an occupant JID with exactly one delay, stamped by that room; else None."""
    if element.get("type") != "groupchat":
        return None
    sender = element.get("from")
    room = _bare(sender)
    if room is None or sender is None or "/" not in sender:
        return None
    delays = element.findall(_DELAY)
    if len(delays) != 1 or not _is_bare(delays[0].get("from"), room):
        return None
    return room


def _signed_to(signature: etree._Element | None) -> str | None:
    """The ``to`` of the stanza copy a verified Signature's stanza-desc holds."""
    if signature is None:
        return None
    for obj in signature.iterchildren(_OBJECT):
        for desc in obj:
            for copied in desc:
                if isinstance(copied.tag, str) and etree.QName(copied).localname == "message":
                    return copied.get("to")
    return None


@dataclass(frozen=True, slots=True)
class _Unwrapped:
    """A carbon or archive result, taken apart: what to verify, with which rules."""

    inner: ET.Element
    target: ET.Element
    delivery: Delivery
    by: str
    vouched_by: str | None
    """The archive or room whose delay stamps the copy (``Policy.own_server``); ``None``:
    judged against now, as a live stanza, with the replay store."""
    problem: str | None
    stamp: str | None = None
    archive_id: str | None = None


# -- the plugin -------------------------------------------------------------------------------


class XmppsecDsig(BasePlugin):
    """XEP-0290 signatures (robust profile) for slixmpp: signs and verifies stanzas."""

    name = PLUGIN_NAME
    description = "xmppsec: XEP-0290 signatures (robust profile) on stanzas"
    dependencies: ClassVar[set[str]] = set()
    default_config: ClassVar[dict[str, Any]] = {
        "signer": None,
        "key": None,
        "certificate": None,
        "include_certificate": False,
        "profile": None,
        "verifier": None,
        "trust": None,
        "policy": None,
        "replay": "memory",
        "sign": ("message",),
        "verify": ("message",),
        "select": None,
        "on_sign_error": "drop",
        "drop_unverified": False,
    }

    def plugin_init(self) -> None:
        if self.xmpp.default_ns != _CLIENT_NS:
            raise PluginConfigError(f"{PLUGIN_NAME} supports client streams ({_CLIENT_NS.value})")
        self._settings = DsigSettings.from_config(
            cast(Mapping[str, object], self.config), jid=str(self.xmpp.boundjid.bare)
        )
        self._results: weakref.WeakKeyDictionary[ET.Element, VerificationResult] = (
            weakref.WeakKeyDictionary()
        )
        self._held: weakref.WeakSet[ET.Element] = weakref.WeakSet()
        self._released: weakref.WeakSet[ET.Element] = weakref.WeakSet()
        self._forwarded: weakref.WeakKeyDictionary[ET.Element, ForwardedStanza] = (
            weakref.WeakKeyDictionary()
        )
        # XEP-0313 queries sent and not yet answered: queryid -> (archive, iq id)
        self._queries: OrderedDict[str | None, tuple[str, str | None]] = OrderedDict()
        self._stored_verifiers: dict[str | None, Verifier] = {}
        # XEP-0045 rooms this client is in: room bare JID -> its own nick (status 110)
        self._nicks: dict[str, str] = {}
        # rooms just joined whose history may still come: until the room's subject
        self._history_open: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_release: asyncio.Future[None] | None = None
        self.xmpp.add_filter("in", self._incoming)
        # out_sync runs after every 'out' filter (receipts, chat states...): all of it signed.
        self.xmpp.add_filter("out_sync", self._outgoing)

    def plugin_end(self) -> None:
        self.xmpp.del_filter("in", self._incoming)
        self.xmpp.del_filter("out_sync", self._outgoing)
        for task in list(self._tasks):  # stanzas held for an async replay check: dropped
            task.cancel()

    # -- public API -------------------------------------------------------------------------

    @property
    def settings(self) -> DsigSettings:
        return self._settings

    def result_for(self, stanza: StanzaBase) -> VerificationResult | None:
        """The verification result of a received stanza (``None``: not verified by this
        plugin — a kind not configured, or a copy made after it arrived)."""
        return self._results.get(stanza.xml)

    def forwarded_for(self, stanza: StanzaBase) -> ForwardedStanza | None:
        """What the plugin verified inside a received carbon or archive result (``None``:
        not one, or not verified by this plugin)."""
        return self._forwarded.get(stanza.xml)

    def verify_stanza(self, stanza: StanzaBase | ET.Element) -> VerificationResult:
        """Verify any stanza object or xml.etree stanza now, as a live stanza (judged against
        now, with the replay store). Carbons, archive results and room history are verified
        automatically, each under its own rules; this is for anything else. Never raises an
        xmppsec error; needs a verifier."""
        element = stanza if isinstance(stanza, ET.Element) else stanza.xml
        return self._check(element, self._verifier_for(None, replay=True))

    def _verifier_for(self, vouched_by: str | None, *, replay: bool) -> Verifier:
        """The configured verifier; ``replay=False``: without its replay store; for a copy
        stored by ``vouched_by`` (an archive, a room), with that entity's delay honoured as
        the own server's is for an offline message (XEP-0290 §5), and no replay store."""
        verifier = self._settings.verifier
        if verifier is None:
            raise PluginConfigError("no 'trust' or 'verifier' configured")
        if vouched_by is None and replay:
            return verifier
        cached = self._stored_verifiers.get(vouched_by)
        if cached is None:
            if len(self._stored_verifiers) >= _MAX_QUERIES:
                self._stored_verifiers.clear()
            policy = verifier.policy
            if vouched_by is not None:
                policy = replace(policy, own_server=vouched_by)
            cached = replace(verifier, policy=policy, replay=None)
            self._stored_verifiers[vouched_by] = cached
        return cached

    def _check(self, element: ET.Element, verifier: Verifier) -> VerificationResult:
        try:
            return verifier.check(serialize_received(element))
        except Exception as exc:  # noqa: BLE001 - nothing may escape into slixmpp's loop
            log.exception("xmppsec: verification failed unexpectedly")
            error = VerificationError(f"verification failed unexpectedly: {type(exc).__name__}")
            return VerificationResult(valid=False, signatures=(), unsigned_children=(), error=error)

    def sign_stanza(self, stanza: StanzaBase) -> None:
        """Sign ``stanza`` in place as slixmpp will serialize it. Raises a typed error."""
        signer = self._settings.signer
        if signer is None:
            raise PluginConfigError("no 'signer' or 'key' configured")
        # Exactly the text slixmpp will write (its serializer drops namespaced attributes it
        # has no prefix for), with the stanza's namespace declared.
        data = slixmpp_tostring(stanza.xml, stream=self.xmpp).encode("utf-8")
        root = parse(data, signer.limits)
        signer.sign_element(root)
        _merge_signed(stanza.xml, root)

    # -- filters ----------------------------------------------------------------------------

    def _incoming(self, stanza: StanzaBase) -> StanzaBase | None:
        s = self._settings
        kind = stanza_kind_of(stanza.xml)
        if kind == "iq":
            self._end_query(stanza.xml)
        elif kind == "presence":
            self._note_self_presence(stanza.xml)
        if s.verifier is None or kind not in s.verify:
            return stanza
        if stanza.xml in self._released:  # back from the async replay check: done
            self._released.discard(stanza.xml)
            return stanza
        unwrapped = self._unwrap(stanza.xml) if kind == "message" else None
        if unwrapped is not None:
            return self._incoming_forwarded(stanza, unwrapped)
        room = self._history_of(stanza.xml) if kind == "message" else None
        delivery: Delivery = "live" if room is None else "history"
        # History: the room stored it and stamped when; judged against that stamp as an
        # offline message against the own server's, not recorded as a fresh delivery.
        result = self._check(stanza.xml, self._verifier_for(room, replay=room is None))
        result = self._check_private_recipient(result)
        if s.async_replay is not None and result.valid and room is None:
            self._hold(
                stanza,
                stanza.xml,
                result,
                s.async_replay,
                lambda r: self._deliver_result(stanza, r, "live"),
            )
            return None
        self._deliver_result(stanza, result, delivery)
        if not result.valid and s.drop_unverified:
            return None
        return stanza

    def _incoming_forwarded(self, stanza: StanzaBase, u: _Unwrapped) -> StanzaBase | None:
        s = self._settings
        live = u.vouched_by is None and u.problem is None
        result = self._check(u.target, self._verifier_for(u.vouched_by, replay=live))
        if u.problem is not None:
            result = replace(result, valid=False, error=StanzaMismatch(u.problem))
        found = ForwardedStanza(stanza, u.inner, result, u.delivery, u.by, u.stamp, u.archive_id)
        if s.async_replay is not None and result.valid and live:
            self._hold(
                stanza,
                u.inner,
                result,
                s.async_replay,
                lambda r: self._deliver_forwarded(replace(found, result=r)),
            )
            return None
        self._deliver_forwarded(found)
        if not result.valid and s.drop_unverified:
            return None
        return stanza

    def _hold(
        self,
        stanza: StanzaBase,
        element: ET.Element,
        result: VerificationResult,
        store: AsyncReplayStore,
        report: Callable[[VerificationResult], None],
    ) -> None:
        """Hold ``stanza``; a task checks ``element``'s signatures against the async replay
        store, reports, and hands the stanza on when the store has answered."""
        self._held.add(stanza.xml)
        task = asyncio.ensure_future(
            self._replay_then_release(stanza, element, result, store, self._last_release, report)
        )
        self._last_release = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _deliver_result(
        self, stanza: StanzaBase, result: VerificationResult, delivery: Delivery
    ) -> None:
        self._results[stanza.xml] = result
        nested = self._nested_original(stanza, result, delivery)
        self.xmpp.event(
            EVENT_VERIFIED if result.valid else EVENT_UNVERIFIED,
            VerifiedStanza(stanza, result, delivery, nested),
        )

    def _deliver_forwarded(self, found: ForwardedStanza) -> None:
        self._forwarded[found.stanza.xml] = found
        self.xmpp.event(EVENT_FORWARDED, found)

    # -- forwarded copies -------------------------------------------------------------------

    def _own(self) -> str:
        return str(self.xmpp.boundjid.bare)

    def _note_self_presence(self, element: ET.Element) -> None:
        """Track this client's nick in each room from the room's self-presence (XEP-0045
        §7.2.3: status 110 names the occupant JID the room gave this client)."""
        x = element.find(_MUC_USER_X)
        if x is None or not any(st.get("code") == "110" for st in x.iter(_MUC_STATUS)):
            return
        sender = element.get("from") or ""
        room, _, nick = sender.partition("/")
        bare = _bare(room)
        if bare is None or not nick:
            return
        if element.get("type") in ("unavailable", "error"):
            self._nicks.pop(bare, None)
            self._history_open.discard(bare)
        elif len(self._nicks) < 4 * _MAX_QUERIES or bare in self._nicks:
            if bare not in self._nicks:
                # XEP-0045 §7.2.15-16: a newcomer's history follows its self-presence and
                # ends with the room's subject (a nick change sends none)
                self._history_open.add(bare)
            self._nicks[bare] = nick

    def _history_of(self, element: ET.Element) -> str | None:
        """The room replaying this message as its history on this client's join; ``None``
        for a live message. History is only what a room sends between this client's
        self-presence and the room's subject (XEP-0045 §7.2.15-16): outside that window a
        room's ``<delay/>`` — which an occupant could slip into its own message for the room
        to reflect — makes no history, and the message is judged as live."""
        if element.get("type") != "groupchat" or not self._history_open:
            return None
        sender = element.get("from") or ""
        if "/" not in sender and element.find(_SUBJECT) is not None:
            self._history_open.discard(_bare(sender) or "")  # §7.2.16: the history is over
            return None
        room = _history_room(element)
        return room if room in self._history_open else None

    def _check_private_recipient(self, result: VerificationResult) -> VerificationResult:
        """Use case 2's recipient binding: a MUC private message (``muc-private``) is signed
        for one occupant JID ``room/nick``; the room alone maps it to a real JID, so a
        client accepts it only if that occupant is itself — in a room it is in, under the
        nick the room gave it (a room that re-addresses alice's words for bob to carol, or
        hands them to a non-occupant, is refused)."""
        if not result.valid:
            return result
        for sig in result.signatures:
            if sig.sender_relation != "muc-private":
                continue
            meant = _signed_to(sig.signature_element)
            room, _, nick = (meant or "").partition("/")
            mine = self._nicks.get(_bare(room) or "")
            if mine is None:
                problem = f"a private message for {meant!r}; this client is not in that room"
            elif nick != mine:
                problem = f"a private message for occupant {nick!r}; this client is {mine!r}"
            else:
                continue
            return replace(result, valid=False, error=StanzaMismatch(problem))
        return result

    def _note_query(self, element: ET.Element) -> None:
        """Remember a XEP-0313 query this client sends: its results are accepted only from
        the archive it asks (``to``, else the account's own), under its ``queryid``."""
        if element.get("type") != "set":
            return
        query = element.find(_MAM_QUERY)
        if query is None:
            return
        archive = _bare(element.get("to")) or self._own()
        key = query.get("queryid")
        self._queries.pop(key, None)
        self._queries[key] = (archive, element.get("id"))
        while len(self._queries) > _MAX_QUERIES:
            self._queries.popitem(last=False)

    def _end_query(self, element: ET.Element) -> None:
        """Forget a query once its archive answered the iq (XEP-0313 §4.2: every result
        comes before the iq result)."""
        if element.get("type") not in ("result", "error") or not self._queries:
            return
        sender = _bare(element.get("from")) or self._own()
        for key, (archive, iq_id) in list(self._queries.items()):
            if iq_id is not None and iq_id == element.get("id") and archive == sender:
                del self._queries[key]

    def _unwrap(self, element: ET.Element) -> _Unwrapped | None:
        """A carbon (XEP-0280) or archive result (XEP-0313) holding one forwarded stanza
        (XEP-0297), with what to verify and whether its forwarder may forward it; ``None``
        for any other message (verified as itself: an unsigned wrapper is NotSigned)."""
        wrappers = [c for c in element if c.tag in _CARBON_KINDS or c.tag == _MAM_RESULT]
        if len(wrappers) != 1:
            return None
        wrapper = wrappers[0]
        forwarded = wrapper.findall(_FORWARDED)
        if len(forwarded) != 1:
            return None
        inners = [c for c in forwarded[0] if stanza_kind_of(c) is not None]
        if len(inners) != 1:
            return None
        inner = inners[0]
        own = self._own()
        sender = element.get("from")
        problem: str | None = None
        if wrapper.tag in _CARBON_KINDS:
            # XEP-0280 §11: a carbon is the account's own server's copy, from its bare JID;
            # any other "carbon" is someone forwarding a stanza they got (carbon spoofing).
            kind = _CARBON_KINDS[wrapper.tag]
            if not _is_bare(sender, own):
                problem = f"a carbon from {sender!r}, not from the account {own} (XEP-0280 §11)"
            elif kind == "received" and _bare(inner.get("to")) != own:
                problem = "a received carbon of a message not addressed to the account"
            elif kind == "sent" and _bare(inner.get("from")) != own:
                problem = "a sent carbon of a message not sent from the account"
            delivery: Delivery = "carbon-received" if kind == "received" else "carbon-sent"
            return _Unwrapped(inner, inner, delivery, own, None, problem)
        # XEP-0313 §4.2: results answer a query of this client, from the archive it asked.
        delays = forwarded[0].findall(_DELAY)
        stamp = delays[0].get("stamp") if delays else None
        archive_id = wrapper.get("id")
        answering = _bare(sender) or own  # RFC 6120 §8.1.2.1: no from is the account
        query = self._queries.get(wrapper.get("queryid"))
        if query is None:
            problem = "an archive result for no query this client sent"
            by = answering
        else:
            by = query[0]
            if answering != by or (sender is not None and "/" in sender):
                problem = f"an archive result from {sender!r}, not from the archive asked ({by})"
            elif by == own:
                if own not in (_bare(inner.get("to")), _bare(inner.get("from"))):
                    problem = "an archived message neither to nor from the account"
            elif inner.get("type") != "groupchat" or _bare(inner.get("from")) != by:
                problem = f"an archived message that is not an occupant's message in {by}"
        target = _delayed_copy(inner, delays, by)
        return _Unwrapped(inner, target, "archive", by, by, problem, stamp, archive_id)

    def _nested_original(
        self, stanza: StanzaBase, result: VerificationResult, delivery: Delivery
    ) -> ForwardedStanza | None:
        """A signed room's reflection (use case 3b): the occupant's original nested in the
        reflection's one ``<forwarded/>``, verified when the room's signature is valid (the
        room vouches that it is what the occupant sent to it)."""
        element = stanza.xml
        if not result.valid or element.get("type") != "groupchat":
            return None
        forwarded = element.findall(_FORWARDED)
        if len(forwarded) != 1:
            return None
        inners = [c for c in forwarded[0] if stanza_kind_of(c) == "message"]
        if len(inners) != 1:
            return None
        inner = inners[0]
        room = _bare(element.get("from")) or ""
        problem = None
        if not _is_bare(inner.get("to"), room) or inner.get("type") != "groupchat":
            problem = f"the nested original is not a groupchat message to {room}"
        # The reflection's signature was checked for replay; the original it nests is judged
        # against now (or, replayed as history, against the room's delay), never recorded.
        vouched_by = room if delivery == "history" else None
        target = inner
        if vouched_by is not None:
            target = _delayed_copy(inner, element.findall(_DELAY), room)
        checked = self._check(target, self._verifier_for(vouched_by, replay=False))
        if problem is not None:
            checked = replace(checked, valid=False, error=StanzaMismatch(problem))
        return ForwardedStanza(stanza, inner, checked, "room-original", room)

    async def _replay_then_release(
        self,
        stanza: StanzaBase,
        element: ET.Element,
        result: VerificationResult,
        store: AsyncReplayStore,
        previous: asyncio.Future[None] | None,
        report: Callable[[VerificationResult], None],
    ) -> None:
        try:
            # One check at a time, in arrival order: the store refuses a timestamp that is not
            # greater than the signer's last accepted one (XEP-0290 §5), so checks racing each
            # other would refuse genuine stanzas that merely arrived first.
            if previous is not None:
                with contextlib.suppress(BaseException):
                    await previous
            try:
                await self._check_replay(element, result, store)
            except XmppSecError as exc:  # ReplayError, ReplayStoreError: never accepted
                result = replace(result, valid=False, error=exc)
            except Exception as exc:  # noqa: BLE001 - a broken store is a refusal, not a crash
                log.exception("xmppsec: replay store failed unexpectedly")
                error = VerificationError(f"replay check failed: {type(exc).__name__}")
                result = replace(result, valid=False, error=error)
            self._held.discard(stanza.xml)  # the previous stanza was handed on above
            report(result)
            if not result.valid and self._settings.drop_unverified:
                return
            self._released.add(stanza.xml)
            self.xmpp.recv_stanza(stanza)
        except Exception:  # noqa: BLE001 - nothing may escape into slixmpp's loop
            log.exception("xmppsec: delivering a verified stanza failed")

    async def _check_replay(
        self, element: ET.Element, result: VerificationResult, store: AsyncReplayStore
    ) -> None:
        """The verifier's step 7 for an async store: each valid signature's SignatureValue
        (the token), signer and timestamp, recorded only after everything else passed."""
        verifier = self._settings.verifier
        assert verifier is not None
        now = verifier.clock()
        values = [_signature_value(sig) for sig in _signatures(element)]
        if len(values) != len(result.signatures):
            raise VerificationError("signatures changed between verification and replay check")
        for sig, token in zip(result.signatures, values, strict=True):
            if not sig.valid:
                continue
            await store.check_and_record(
                sig.signer,
                token,
                sig.timestamp or now,
                now=now,
                window=self._settings.replay_window,
            )

    def _outgoing(self, stanza: StanzaBase) -> StanzaBase | None:
        s = self._settings
        kind = stanza_kind_of(stanza.xml)
        if kind == "iq":
            self._note_query(stanza.xml)
        if s.signer is None or kind not in s.sign or _has_signature(stanza.xml):
            return stanza
        if stanza.xml.get("type") == "error":
            return stanza  # an error bounce is not the sender's content (RFC 6120 §8.3)
        if kind == "iq" and len(stanza.xml) == 0 and s.signer.profile.placement == "iq-payload":
            return stanza  # an empty result has no payload to carry the Signature (§8.2.3)
        try:
            if s.select is not None and not s.select(stanza):
                return stanza
            self.sign_stanza(stanza)
        except Exception as exc:  # noqa: BLE001 - nothing may escape into slixmpp's send loop
            if isinstance(exc, XmppSecError):
                error: XmppSecError = exc
            else:
                # The outgoing stanza and the 'select' hook are the application's own, so a
                # failure no typed error describes is reported as the caller's (UsageError).
                log.exception("xmppsec: signing failed unexpectedly")
                error = UsageError(f"signing failed unexpectedly: {type(exc).__name__}: {exc}")
            sent = s.on_sign_error == "send-unsigned"
            self.xmpp.event(EVENT_SIGN_FAILED, SignFailure(stanza, error, sent))
            return stanza if sent else None
        return stanza


register_plugin(XmppsecDsig)


def enable(
    client: BaseXMPP, config: DsigConfig | Mapping[str, object] | None = None
) -> XmppsecDsig:
    """Register and enable the plugin on ``client`` (a ``slixmpp.ClientXMPP`` or
    ``ComponentXMPP``); return it.

    ``config``: a :class:`DsigConfig` or the plugin config dict. Same as
    ``client.register_plugin("xmppsec_dsig", config_dict)`` after importing this module,
    typed."""
    values = config.as_dict() if isinstance(config, DsigConfig) else dict(config or {})
    client.register_plugin(PLUGIN_NAME, values)
    # slixmpp types `plugin` as a TypedDict of its own plugins; ours is looked up by name
    plugin = cast("Mapping[str, object]", client.plugin)[PLUGIN_NAME]
    if not isinstance(plugin, XmppsecDsig):
        raise PluginConfigError(f"{PLUGIN_NAME} is registered to another class")
    return plugin
