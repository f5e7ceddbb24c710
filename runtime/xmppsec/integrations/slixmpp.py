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
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import logging
import weakref
import xml.etree.ElementTree as ET  # noqa: S405 - serializes trees only; parsing is xmppsec.parser
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
from ..errors import StanzaSchemaError, UsageError, VerificationError, XmppSecError
from ..jid import bare_jid
from ..parser import parse
from ..replay import AsyncReplayStore, MemoryReplayStore, ReplayStore, is_async_store
from ..trust import TrustStore
from ..xmpp import NS, STANZA_KINDS, stanza_kind_of

__all__ = [
    "EVENT_SIGN_FAILED",
    "EVENT_UNVERIFIED",
    "EVENT_VERIFIED",
    "PLUGIN_NAME",
    "DsigConfig",
    "DsigSettings",
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

_KINDS = frozenset(STANZA_KINDS)
_CLIENT_NS = NS.JABBER_CLIENT
_SIGNATURE = "{" + NS.DS + "}Signature"
_SIGNATURE_VALUE = "{" + NS.DS + "}SignatureValue"

T = TypeVar("T")

SignErrorMode = Literal["drop", "send-unsigned"]
StanzaKind = Literal["message", "presence", "iq"]
StanzaSelector = Callable[[StanzaBase], bool]
_MESSAGES: tuple[StanzaKind, ...] = ("message",)


class PluginConfigError(UsageError):
    """The plugin configuration is wrong (a key of the wrong type, an unknown value): the
    caller's mistake, so a :class:`~xmppsec.errors.UsageError` (and a ``ValueError``)."""


@dataclass(frozen=True, slots=True)
class VerifiedStanza:
    """What the ``xmppsec_verified`` / ``xmppsec_unverified`` events carry."""

    stanza: StanzaBase
    result: VerificationResult

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

    def verify_stanza(self, stanza: StanzaBase | ET.Element) -> VerificationResult:
        """Verify any stanza object or xml.etree stanza now (e.g. a message unwrapped from a
        carbon or MAM result). Never raises an xmppsec error; needs a verifier."""
        verifier = self._settings.verifier
        if verifier is None:
            raise PluginConfigError("no 'trust' or 'verifier' configured")
        element = stanza if isinstance(stanza, ET.Element) else stanza.xml
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
        if s.verifier is None or stanza_kind_of(stanza.xml) not in s.verify:
            return stanza
        if stanza.xml in self._released:  # back from the async replay check: done
            self._released.discard(stanza.xml)
            return stanza
        result = self.verify_stanza(stanza)
        if s.async_replay is not None and result.valid:
            # Hold the stanza; the task hands it on when the replay store has answered.
            self._held.add(stanza.xml)
            task = asyncio.ensure_future(
                self._replay_then_release(stanza, result, s.async_replay, self._last_release)
            )
            self._last_release = task
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return None
        self._deliver_result(stanza, result)
        if not result.valid and s.drop_unverified:
            return None
        return stanza

    def _deliver_result(self, stanza: StanzaBase, result: VerificationResult) -> None:
        self._results[stanza.xml] = result
        self.xmpp.event(
            EVENT_VERIFIED if result.valid else EVENT_UNVERIFIED, VerifiedStanza(stanza, result)
        )

    async def _replay_then_release(
        self,
        stanza: StanzaBase,
        result: VerificationResult,
        store: AsyncReplayStore,
        previous: asyncio.Future[None] | None,
    ) -> None:
        try:
            # One check at a time, in arrival order: the store refuses a timestamp that is not
            # greater than the signer's last accepted one (XEP-0290 §5), so checks racing each
            # other would refuse genuine stanzas that merely arrived first.
            if previous is not None:
                with contextlib.suppress(BaseException):
                    await previous
            try:
                await self._check_replay(stanza.xml, result, store)
            except XmppSecError as exc:  # ReplayError, ReplayStoreError: never accepted
                result = replace(result, valid=False, error=exc)
            except Exception as exc:  # noqa: BLE001 - a broken store is a refusal, not a crash
                log.exception("xmppsec: replay store failed unexpectedly")
                error = VerificationError(f"replay check failed: {type(exc).__name__}")
                result = replace(result, valid=False, error=error)
            self._held.discard(stanza.xml)  # the previous stanza was handed on above
            self._deliver_result(stanza, result)
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
