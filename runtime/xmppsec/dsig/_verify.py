"""Verification of XEP-0290 signatures, both profiles (the profile is data: ``_profile``).

Order (XEP-0290 §2 and docs/architecture.md): structure and limits of every
signature first (no digest or public-key work before all of them passed), then per
signature: SignatureValue over SignedInfo → stanza-desc digest → every per-child reference →
stanza attributes in stanza-desc vs the live stanza → signer ↔ certificate ↔ ``from`` →
timestamp → replay. Each failure is a typed error; the result records it.
"""

from __future__ import annotations

import binascii
import copy
import functools
import hmac
import re
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from cryptography import x509
from lxml import etree

from ..algorithms import (
    DIGEST_SIZES,
    C14NMethod,
    DigestMethod,
    SignatureMethod,
    digest,
    digest_constructor,
    verify_bytes,
)
from ..errors import (
    AmbiguousReference,
    DigestMismatch,
    InvalidReference,
    InvalidSignature,
    JIDError,
    NotSigned,
    SchemaError,
    SignatureSchemaError,
    SignerMismatch,
    StanzaMismatch,
    TimestampError,
    UnsignedContent,
    UnsupportedAlgorithm,
    UntrustedKey,
    UsageError,
    VerificationError,
    XmppSecError,
    check_limit,
)
from ..jid import JID, parse_jid
from ..parser import check_tree, parse
from ..replay import ReplayStore, is_async_store
from ..schema import check_received
from ..timestamps import check_window, parse_rfc3339, parse_timestamp
from ..trust import TrustStore, usable_public_key
from ..xmpp import NS, require_aware
from . import _c14n
from ._keyvalue import KeyValue, check_key_values, read_key_values
from ._policy import Policy
from ._profile import PROFILES, ROBUST, SPEC, Profile
from ._result import (
    ReferenceResult,
    ReferenceStatus,
    TimestampStatus,
    VerificationResult,
    reference_result,
    signature_result,
    verification_result,
)
from ._stanza import DS, DSIG_ID, check_stanza, is_stanza, live_attributes, stanza_kind

__all__ = ["Verifier"]

_SIGNATURE = DS + "Signature"
_SIGNED_INFO = DS + "SignedInfo"
_SIGNATURE_VALUE = DS + "SignatureValue"
_KEY_INFO = DS + "KeyInfo"
_OBJECT = DS + "Object"
_C14N_METHOD = DS + "CanonicalizationMethod"
_SIGNATURE_METHOD = DS + "SignatureMethod"
_REFERENCE = DS + "Reference"
_TRANSFORMS = DS + "Transforms"
_TRANSFORM = DS + "Transform"
_DIGEST_METHOD = DS + "DigestMethod"
_DIGEST_VALUE = DS + "DigestValue"
_X509_CERTIFICATE = DS + "X509Certificate"
_DELAY = "{" + NS.DELAY + "}delay"
_LITERAL = "{" + NS.XMPP_DSIG + "}"  # the XEP's literal reading of stanza-desc (example 3)
_XML_LANG = "{" + NS.XML + "}lang"
# A reference fragment is an NCName-like token: no "/", "..", "(" or ":" (no XPointer, no
# path tricks; XEP-0290 §4 names exactly one child by its d:id).
_FRAGMENT = re.compile(r"[A-Za-z_][A-Za-z0-9._-]{0,127}")
_B64_WS = re.compile(r"[ \t\r\n]+")


@functools.lru_cache(maxsize=8)
def _reference_uri(prefix: str) -> re.Pattern[str]:
    """A dsig-id reference URI: ``prefix`` then a ``_FRAGMENT``, in one match. Equivalent to
    ``uri.startswith(prefix) and _FRAGMENT.fullmatch(uri[len(prefix):])``: the escaped
    prefix matches exactly its own text, and the rest must match the fragment pattern."""
    return re.compile(re.escape(prefix) + "(?:" + _FRAGMENT.pattern + ")")
# A namespace name in an element-scheme reference: no "{", "}" or whitespace, bounded.
_NAMESPACE = re.compile(r"[^{}\s]{0,512}")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _b64(text: str | None, what: str) -> bytes:
    # XML-DSIG base64 may carry line breaks; anything else outside the alphabet is refused.
    try:
        return binascii.a2b_base64(text or "", strict_mode=True)
    except (binascii.Error, ValueError):
        pass  # whitespace (line breaks) or not base64: strip whitespace and try once more
    try:
        return binascii.a2b_base64(_B64_WS.sub("", text or ""), strict_mode=True)
    except (binascii.Error, ValueError):
        raise SignatureSchemaError(f"{what} is not base64") from None


def _elements(el: etree._Element) -> list[etree._Element]:
    # Text between the parts of a Signature is whitespace at most (XML-DSIG schema).
    # ``t and not t.isspace()`` is ``(t or "").strip()`` being non-empty: both use the one
    # Unicode whitespace predicate.
    text = el.text
    if text and not text.isspace():
        raise SignatureSchemaError(f"text inside {etree.QName(el).localname}")
    out = list(el)
    for child in out:
        tail = child.tail
        if tail and not tail.isspace():
            raise SignatureSchemaError(f"text inside {etree.QName(el).localname}")
    return out


def _expect(children: list[etree._Element], i: int, tag: str, where: str) -> etree._Element:
    if i >= len(children) or children[i].tag != tag:
        name = tag.split("}")[-1]
        raise SignatureSchemaError(f"{where}: expected {name} as part {i + 1}")
    return children[i]


def _algorithm(el: etree._Element) -> str:
    value = el.get("Algorithm")
    if value is None:
        raise SignatureSchemaError(f"{etree.QName(el).localname} without Algorithm")
    if len(el):
        # HMACOutputLength, InclusiveNamespaces, XPath, XSLT: none is allowed here.
        raise UnsupportedAlgorithm(f"parameters of {value!r} are not allowed")
    return value


_Algorithm = TypeVar("_Algorithm", SignatureMethod, DigestMethod)


def _allowed(kind: type[_Algorithm], value: str, allowed: frozenset[_Algorithm]) -> _Algorithm:
    """Exact allow-list match of an algorithm URI (no case folding, no trimming)."""
    method = kind._value2member_map_.get(value)  # exact string match, no Enum coercion
    if method is None or not isinstance(method, kind):
        what = "signature" if kind is SignatureMethod else "digest"
        raise UnsupportedAlgorithm(f"{what} method {value!r} is not allowed")
    if method not in allowed:
        what = "signature" if kind is SignatureMethod else "digest"
        raise UnsupportedAlgorithm(f"{what} method {value!r} is not allowed by the policy")
    return method


def _signature_method(value: str, policy: Policy) -> SignatureMethod:
    return _allowed(SignatureMethod, value, policy.signature_methods)


def _digest_method(value: str, policy: Policy) -> DigestMethod:
    return _allowed(DigestMethod, value, policy.digest_methods)


@dataclass(slots=True)
class _Parsed:
    """One Signature after the structure phase (no cryptography done yet)."""

    element: etree._Element
    profile: Profile
    signed_info: etree._Element
    c14n_method: str
    signature_method: SignatureMethod
    desc_transform: str
    desc_digest_method: DigestMethod
    desc_digest: bytes
    signature_value: bytes
    certificates: list[x509.Certificate]
    desc: etree._Element
    signer: JID
    child_digest_method: DigestMethod
    copy: etree._Element
    references: list[tuple[str, str, bytes]]
    timestamp_text: str
    timestamp: datetime
    key_values: tuple[KeyValue, ...] = ()  # ds:KeyValue in KeyInfo (_keyvalue)


@dataclass(slots=True)
class _Outcome:
    signer: str = ""
    timestamp_text: str = ""
    timestamp: datetime | None = None
    timestamp_status: TimestampStatus = TimestampStatus.UNCHECKED
    offline: bool = False
    method: str = ""
    references: list[ReferenceResult] = field(default_factory=list)
    covered: list[etree._Element] = field(default_factory=list)
    certificate: x509.Certificate | None = None
    error: XmppSecError | None = None
    profile: Profile | None = None
    relation: str = ""


@dataclass(frozen=True)
class Verifier:
    """Verifies XEP-0290 signatures on stanzas. Immutable; see docs for thread safety.

    ``trust`` decides which keys may sign for which JID; a key found in KeyInfo is never
    trusted on its own. ``replay`` (optional) rejects a signature seen before or a
    non-increasing timestamp from a signer. ``profile`` ``None`` detects the profile from the
    signature.
    """

    trust: TrustStore
    policy: Policy = field(default_factory=Policy)
    replay: ReplayStore | None = None
    profile: Profile | None = None
    clock: Callable[[], datetime] = field(default=_utcnow, repr=False)

    def __post_init__(self) -> None:
        # Both store protocols name check_and_record: an asyncio store here would return an
        # un-awaited coroutine and record nothing, so every replay would pass.
        if is_async_store(self.replay):
            raise UsageError("an asyncio replay store cannot serve Verifier (await it instead)")

    # -- public API ---------------------------------------------------------------------

    def verify(
        self, data: bytes | etree._Element, *, now: datetime | None = None
    ) -> VerificationResult:
        """Verify and return the result; raise the first typed error if it is not valid
        under the policy."""
        result = self.check(data, now=now)
        if not result.valid:
            assert result.error is not None
            raise result.error
        return result

    def check(
        self, data: bytes | etree._Element, *, now: datetime | None = None
    ) -> VerificationResult:
        """Verify and return the result, valid or not. Raises only
        :class:`~xmppsec.errors.UsageError`, for the caller's own arguments (``data`` of
        another type, a naive ``now``); everything about the stanza is in the result."""
        if not isinstance(data, (bytes, etree._Element)):  # a tuple: no Union built per call
            raise UsageError(f"verify bytes or an lxml element, not {type(data).__name__}")
        when = require_aware(now or self.clock(), "now")
        try:
            if isinstance(data, bytes):
                root = parse(data, self.policy.limits)
            else:
                # A tree built elsewhere gets the parser's RFC 6120 §11.1 node checks and
                # limits too: C14N drops a comment inside signed text, but el.text stops at
                # it (security case 4, CVE-2017-11427 class).
                check_tree(data, self.policy.limits)
                # A stanza is signed and verified as a document of its own: one still inside
                # a stream tree is detached first, so the stream's namespace declarations
                # and xml:lang do not leak into canonical forms (docs/decisions/dsig.md).
                root = copy.deepcopy(data) if data.getparent() is not None else data
            return self._check(root, when)
        except XmppSecError as exc:
            return VerificationResult(valid=False, signatures=(), unsigned_children=(), error=exc)

    # -- engine -------------------------------------------------------------------------

    def _check(self, root: etree._Element, now: datetime) -> VerificationResult:
        kind = stanza_kind(root)
        check_stanza(root, kind, signing=False)
        if self.policy.reject_unsigned_children and _has_text(root):
            # RFC 6120 §8: a jabber:client stanza has element-only content. Text between its
            # children is covered by no reference (a child's canonical form ends at its end
            # tag), so under the strict policy it is refused; no policy ever returns it.
            raise UnsignedContent("text directly inside the stanza is not signed")
        # An iq's single payload may hold the Signature (profiles with iq-payload placement;
        # _parse refuses it for the others).
        payload = root[0] if kind == "iq" and len(root) == 1 else None
        # The signatures: the stanza's Signature children, then its payload's. One walk over
        # every Signature in the tree finds both (in document order, as iterchildren would)
        # and refuses, at the first in document order, any other Signature whose parent is
        # not a stanza.
        signatures: list[etree._Element] = []
        in_payload: list[etree._Element] = []
        for sig in root.iter(_SIGNATURE):
            parent = sig.getparent()
            if parent is root:
                signatures.append(sig)
                continue
            if parent is not None and parent is payload:
                in_payload.append(sig)
                continue
            if parent is None or not is_stanza(parent):
                raise SignatureSchemaError("a Signature that is not a direct child of a stanza")
        signatures.extend(in_payload)
        if not signatures:
            raise NotSigned("the stanza carries no XML-DSIG Signature")
        limits = self.policy.limits
        check_limit("max_signatures", len(signatures), limits.max_signatures)
        # Phase 1: structure, algorithms and limits of every signature.
        parsed: list[_Parsed | XmppSecError] = []
        for sig in signatures:
            try:
                parsed.append(self._parse(sig))
            except XmppSecError as exc:
                parsed.append(exc)
        if self.policy.validate:
            # The compiled schemas and the co-constraints, after the cheap structural checks
            # and before any cryptography (docs/validation.md). Either refuses the stanza;
            # the structure phase's own error is the more precise one, so it wins.
            # The stanza-descs read whole above (built-in profiles: their digests, reference
            # URIs or names and timestamp passed checks no looser than the schemas'
            # patterns) are not read again by the validator's quick path.
            read = [
                p.desc
                for p in parsed
                if isinstance(p, _Parsed) and (p.profile is SPEC or p.profile is ROBUST)
            ]
            try:
                check_received(root, content=self.policy.validate_content, read=read)
            except SchemaError as exc:
                raise next((p for p in parsed if isinstance(p, XmppSecError)), exc) from None
        # Phase 2: cryptography and the checks that follow it.
        # Only the fragment scheme (spec) resolves references through d:id.
        fragments = any(
            isinstance(p, _Parsed) and p.profile.reference_scheme != "element" for p in parsed
        )
        index = _index_ids(root) if fragments else {}
        live = live_attributes(root, kind)
        outcomes = [
            self._verify_one(root, kind, live, p, index, now)
            if isinstance(p, _Parsed)
            else _Outcome(error=p)
            for p in parsed
        ]
        return self._result(root, kind, live, signatures, outcomes)

    def _parse(self, sig: etree._Element) -> _Parsed:
        """The structure phase: the one reader of an attacker's Signature, part by part."""
        policy = self.policy
        limits = policy.limits
        parts = _elements(sig)
        si = _expect(parts, 0, _SIGNED_INFO, "Signature")
        sv = _expect(parts, 1, _SIGNATURE_VALUE, "Signature")
        rest = parts[2:]
        certificates: list[x509.Certificate] = []
        key_values: tuple[KeyValue, ...] = ()
        if rest and rest[0].tag == _KEY_INFO:
            certificates = _key_info_certificates(rest[0], limits.max_chain_length)
            key_values = read_key_values(rest[0])
            rest = rest[1:]
        for extra in rest:
            if extra.tag != _OBJECT:
                raise SignatureSchemaError(f"unexpected {extra.tag!r} in Signature")

        si_parts = _elements(si)
        c14n_method = _algorithm(_expect(si_parts, 0, _C14N_METHOD, "SignedInfo"))
        method = _signature_method(
            _algorithm(_expect(si_parts, 1, _SIGNATURE_METHOD, "SignedInfo")), policy
        )
        si_refs = si_parts[2:]
        if not si_refs or any(r.tag != _REFERENCE for r in si_refs):
            raise SignatureSchemaError("SignedInfo must end with Reference elements")
        if len(si_refs) != 1:
            raise SignatureSchemaError("XEP-0290 SignedInfo has exactly one Reference")
        ref = si_refs[0]
        uri = ref.get("URI")
        profile = self._profile_for(sig, uri)
        _check_signed_info(sig, profile, c14n_method, uri)
        ref_parts = _elements(ref)
        transforms = _expect(ref_parts, 0, _TRANSFORMS, "Reference")
        desc_transform = _single_transform(transforms, limits.max_transforms)
        if desc_transform not in profile.accepted_c14n:
            raise UnsupportedAlgorithm(f"transform {desc_transform!r} is not allowed here")
        desc_digest_method = _digest_method(
            _algorithm(_expect(ref_parts, 1, _DIGEST_METHOD, "Reference")), policy
        )
        desc_digest = _b64(_expect(ref_parts, 2, _DIGEST_VALUE, "Reference").text, "DigestValue")
        if len(ref_parts) != 3:
            raise SignatureSchemaError("unexpected content in Reference")
        signature_value = _b64(sv.text, "SignatureValue")
        if len(sv):
            raise SignatureSchemaError("SignatureValue has child elements")

        # #stanza-desc resolves only inside this Signature's own Objects (XEP-0290 uses a
        # fixed id that several signatures on one stanza share).
        d = "{" + profile.desc_namespace + "}"
        found = [
            el
            for obj in rest
            for el in obj
            if el.tag == d + "stanza-desc" and el.get("id") == profile.desc_id
        ]
        if not found:
            raise InvalidReference(f"#{profile.desc_id} is not in this Signature's Object")
        if len(found) > 1:
            raise AmbiguousReference(f"#{profile.desc_id} occurs more than once")
        desc = found[0]
        dp = _elements(desc)
        if len(dp) != 5:
            raise SignatureSchemaError(
                "stanza-desc is signer, Transforms, DigestMethod, the stanza copy, timestamp"
            )
        signer_el = _expect(dp, 0, d + "signer", "stanza-desc")
        # XEP-0290 example 3 writes Transforms/Transform/DigestMethod without a prefix: read
        # literally they are in urn:xmpp:dsig:0. Both readings are accepted on receipt for the
        # XEP's own namespace; xmppsec writes the XML-DSIG elements (docs/decisions/dsig.md).
        literal = d == _LITERAL and dp[1].tag == _LITERAL + "Transforms"
        child_transforms = _transform_list(
            _expect(dp, 1, _LITERAL + "Transforms" if literal else _TRANSFORMS, "stanza-desc"),
            limits.max_transforms,
            _LITERAL + "Transform" if literal else _TRANSFORM,
        )
        if child_transforms != profile.child_transforms:
            raise UnsupportedAlgorithm(
                f"transforms {list(child_transforms)} are not those of the {profile.name} profile"
            )
        child_digest_method = _digest_method(
            _algorithm(
                _expect(
                    dp,
                    2,
                    _LITERAL + "DigestMethod"
                    if d == _LITERAL and dp[2].tag == _LITERAL + "DigestMethod"
                    else _DIGEST_METHOD,
                    "stanza-desc",
                )
            ),
            policy,
        )
        copy = dp[3]
        if copy.tag not in (d + "message", d + "presence", d + "iq"):
            raise SignatureSchemaError("the stanza copy in stanza-desc is not message/presence/iq")
        ts_el = _expect(dp, 4, d + "timestamp", "stanza-desc")
        if len(signer_el) or len(ts_el):
            raise SignatureSchemaError("signer and timestamp hold text only")
        ref_elements = _elements(copy)
        check_limit("max_references", len(ref_elements), limits.max_references)
        d_ref = d + "reference"
        size = DIGEST_SIZES[child_digest_method]
        references = _read_references(ref_elements, profile, d_ref, size)
        try:
            signer = parse_jid(signer_el.text or "")
        except JIDError as exc:
            raise SignerMismatch(f"signer is not a JID: {exc}") from None
        if signer.resource is not None:
            raise SignerMismatch("signer must be a bare JID or a domain, not a full JID")
        timestamp_text = ts_el.text or ""
        return _Parsed(
            element=sig,
            profile=profile,
            signed_info=si,
            c14n_method=c14n_method,
            signature_method=method,
            desc_transform=desc_transform,
            desc_digest_method=desc_digest_method,
            desc_digest=desc_digest,
            signature_value=signature_value,
            certificates=certificates,
            desc=desc,
            signer=signer,
            child_digest_method=child_digest_method,
            copy=copy,
            references=references,
            timestamp_text=timestamp_text,
            timestamp=parse_timestamp(timestamp_text),
            key_values=key_values,
        )

    def _profile_for(self, sig: etree._Element, uri: str | None) -> Profile:
        if self.profile is not None:
            return self.profile
        # Auto: the namespace of the description object names the profile.
        for obj in sig.iterchildren(_OBJECT):
            for el in obj:
                tag = el.tag
                if isinstance(tag, str) and tag.endswith("}stanza-desc"):
                    ns = tag[1 : tag.index("}")]
                    for p in PROFILES.values():
                        if p.desc_namespace == ns:
                            return p
        return SPEC

    def _verify_one(
        self,
        root: etree._Element,
        kind: str,
        live: dict[str, str],
        p: _Parsed,
        index: dict[str, list[tuple[etree._Element, int]]],
        now: datetime,
    ) -> _Outcome:
        policy = self.policy
        signer = str(p.signer)
        out = _Outcome(
            profile=p.profile,
            signer=signer,
            timestamp_text=p.timestamp_text,
            timestamp=p.timestamp,
            method=p.signature_method.value,
        )
        try:
            # 1. the key, then SignatureValue over SignedInfo. A signer may have several
            # trusted certificates (key rotation, several devices): any one may verify.
            candidates = self.trust.resolve_all(signer, p.certificates, now=now)
            octets = _c14n.c14n(p.signed_info, p.c14n_method)
            failure: XmppSecError | None = None
            for cert in candidates:
                try:
                    public_key = usable_public_key(cert, allow_legacy=policy.allow_legacy)
                    verify_bytes(public_key, p.signature_method, p.signature_value, octets)
                except (InvalidSignature, UntrustedKey) as exc:
                    failure = failure if isinstance(failure, InvalidSignature) else exc
                    continue
                out.certificate = cert
                break
            else:
                raise failure or UntrustedKey(f"no trusted key for {p.signer}")
            # A KeyValue is never trusted, but one naming another key than the certificate
            # that verified is refused (issue 14: KeyInfo must not misattribute).
            check_key_values(p.key_values, public_key)
            # 2. stanza-desc digest.
            actual = digest(p.desc_digest_method, _c14n.c14n(p.desc, p.desc_transform))
            if not hmac.compare_digest(actual, p.desc_digest):
                raise DigestMismatch("stanza-desc digest does not match")
            # 3. per-child references (optimistic signing: statuses, not exceptions).
            first_failure = self._references(root, p, index, out)
            if first_failure is not None and policy.require_all_references:
                raise first_failure
            # 4. stanza attributes in stanza-desc vs the live stanza, then
            # 5. signer ↔ certificate (checked by the trust store) ↔ stanza from.
            ok = ReferenceStatus.OK  # an Enum member read once, not once per reference
            signed_tags = {r.element for r in out.references if r.status is ok}
            out.relation = _attributes(kind, live, p, policy, signed_tags)
            if out.relation in _ROOM_ROUTINGS:
                # The room rewrote from to an occupant JID; a from in the signed original
                # still names the sender, who must be the signer.
                _check_identity(p.signer, p.copy.get("from"))
            else:
                _check_identity(p.signer, live.get("from"))
            # 6. timestamp (XEP-0290 §5).
            self._timestamp(root, p, now, out)
            # 7. replay: only a signature that passed everything else is recorded.
            if self.replay is not None:
                # Where delays are honoured, a copy may come back with one for as long as the
                # offline age allows: remember the signature that long.
                keep = policy.window
                if policy.own_server is not None:
                    keep += policy.max_offline_age
                self.replay.check_and_record(
                    str(p.signer), p.signature_value, p.timestamp, now=now, window=keep
                )
        except XmppSecError as exc:
            out.error = exc
        return out

    def _references(
        self,
        root: etree._Element,
        p: _Parsed,
        index: dict[str, list[tuple[etree._Element, int]]],
        out: _Outcome,
    ) -> VerificationError | None:
        if p.profile.reference_scheme == "element":
            return _element_references(root, p, out)
        failures: dict[int, VerificationError] = {}  # by reference position: the first wins
        positions: list[int] = []
        seen: set[str] = set()
        results: list[ReferenceResult | None] = []
        # First resolve every reference, then canonicalize the targets in one batch.
        resolved: list[tuple[int, str, etree._Element, int, bytes]] = []
        for i, (uri, fragment, expected) in enumerate(p.references):
            targets = index.get(fragment, [])
            if fragment in seen or len(targets) > 1:
                results.append(ReferenceResult(uri, "", ReferenceStatus.AMBIGUOUS))
                failures[i] = AmbiguousReference(f"{uri} is ambiguous")
                continue
            seen.add(fragment)
            # XEP-0290 §4: the reference names a *child* of the stanza; an element with that
            # id anywhere else (moved into an Object or an extension) does not count.
            if not targets or targets[0][0].getparent() is not root:
                results.append(ReferenceResult(uri, "", ReferenceStatus.TARGET_MISSING))
                failures[i] = InvalidReference(f"{uri} does not name a child of the stanza")
                continue
            target, order = targets[0]
            resolved.append((i, uri, target, order, expected))
            results.append(None)
        if p.profile.child_c14n == C14NMethod.XMPP_DSIG_0:
            octets = _c14n.c14n_children(root, [r[2] for r in resolved])
        else:
            octets = [_c14n.c14n(r[2], p.profile.child_c14n) for r in resolved]
        hasher = digest_constructor(p.child_digest_method)
        compare = hmac.compare_digest
        ok = ReferenceStatus.OK  # an Enum member read once, not once per reference
        covered = out.covered
        for (i, uri, target, order, expected), data in zip(resolved, octets, strict=True):
            name = str(target.tag)
            if compare(hasher(data).digest(), expected):
                results[i] = reference_result(uri, name, ok)
                covered.append(target)
                positions.append(order)
            else:
                results[i] = ReferenceResult(uri, name, ReferenceStatus.DIGEST_MISMATCH)
                failures[i] = DigestMismatch(f"{uri} ({name}) digest does not match")
        out.references.extend(r for r in results if r is not None)
        first = failures[min(failures)] if failures else None
        if p.profile.check_child_order and positions != sorted(positions):
            raise StanzaMismatch("signed children are not in the order stanza-desc lists them")
        return first

    def _timestamp(self, root: etree._Element, p: _Parsed, now: datetime, out: _Outcome) -> None:
        policy = self.policy
        reference_time = now
        if policy.own_server is not None:
            stamp = _own_server_delay(root, policy.own_server)
            if stamp is not None:
                # Offline message (XEP-0290 §5, XEP-0160): judged against the delay stamped
                # by the recipient's own server; that stamp may not be in the future, nor
                # older than the offline age the policy allows, nor earlier than the
                # signature it delays (the server stored a stanza already signed).
                if stamp > now:
                    check_window(stamp, now, policy.window)
                if now - stamp > policy.max_offline_age:
                    raise TimestampError(
                        "the delay stamp is older than max_offline_age", kind="old"
                    )
                # XEP-0082 stamps may carry whole seconds only (Prosody's do): the stamp
                # stands for its whole second.
                if stamp + _STAMP_PRECISION <= p.timestamp:
                    raise TimestampError(
                        "the delay stamp is earlier than the signature", kind="future"
                    )
                reference_time = stamp
                out.offline = True
        try:
            check_window(p.timestamp, reference_time, policy.window)
            out.timestamp_status = TimestampStatus.OK
        except TimestampError as exc:
            out.timestamp_status = (
                TimestampStatus.OLD if exc.kind == "old" else TimestampStatus.FUTURE
            )
            if policy.enforce_timestamps:
                raise

    def _result(
        self,
        root: etree._Element,
        kind: str,
        live: dict[str, str],
        signatures: list[etree._Element],
        outcomes: list[_Outcome],
    ) -> VerificationResult:
        policy = self.policy
        results = tuple(
            signature_result(
                valid=o.error is None,
                signer=o.signer,
                timestamp=o.timestamp,
                timestamp_text=o.timestamp_text,
                timestamp_status=o.timestamp_status,
                profile=o.profile.name if o.profile is not None else "",
                sender_relation=o.relation,
                signature_method=o.method,
                references=tuple(o.references),
                error=o.error,
                certificate=o.certificate,
                offline=o.offline,
                signature_element=sig,
            )
            for o, sig in zip(outcomes, signatures, strict=True)
        )
        # Each covered child with the signers of the valid signatures that cover it (tuples,
        # first seen first: one shared (signer,) for the children only one signer covers).
        signers_of: dict[int, tuple[str, ...]] = {}
        covered: list[etree._Element] = []
        for o in outcomes:
            if o.error is None:
                one = (o.signer,)
                for el in o.covered:
                    key = id(el)
                    who = signers_of.get(key)
                    if who is None:
                        signers_of[key] = one
                        covered.append(el)
                    elif o.signer not in who:
                        signers_of[key] = who + one
        covered_ids = signers_of.keys()
        children = list(root)
        unsigned = [c for c in children if id(c) not in covered_ids and c.tag != _SIGNATURE]
        error: XmppSecError | None = None
        failures = [r.error for r in results if r.error is not None]
        if failures and (policy.require_all_signatures or len(failures) == len(results)):
            error = failures[0]
        if error is None and policy.reject_unsigned_children:
            bad = [c for c in unsigned if str(c.tag) not in policy.allowed_unsigned]
            if bad:
                error = UnsignedContent(f"{len(bad)} child(ren) not covered: {str(bad[0].tag)}")
        if error is None and policy.require_all_signatures:
            # A room reflects every occupant under an occupant JID that nothing here ties to
            # a real JID: children signed by different signers under one occupant JID cannot
            # all be that occupant's (issue "group chat attribution").
            reflected = {
                o.signer for o in outcomes if o.error is None and o.relation in _ROOM_ROUTINGS
            }
            if len(reflected) > 1:
                error = SignerMismatch(
                    f"a reflected stanza signed by {len(reflected)} different signers"
                )
        valid = [o.profile for o in outcomes if o.error is None and o.profile is not None]
        if len(valid) > 1 or (valid and not valid[0].check_child_order):
            # One valid signature under a profile that checks child order lists its children
            # in document order already; otherwise sort them into it.
            order = {id(c): i for i, c in enumerate(children)}
            covered.sort(key=lambda el: order[id(el)])
        return verification_result(
            valid=error is None,
            signatures=results,
            unsigned_children=tuple(str(c.tag) for c in unsigned),
            error=error,
            stanza_name=kind,
            stanza_namespace=_namespace(root),
            stanza_attributes=tuple(sorted(live.items())),
            # The profile the stanza was verified under: the configured one, else the one
            # detected from its (first valid, else first readable) signature.
            profile=self.profile
            or next(iter(valid), None)
            or next((o.profile for o in outcomes if o.profile is not None), None),
            _signed=tuple([(el, signers_of[id(el)]) for el in covered]),
        )


def _check_signed_info(
    sig: etree._Element, profile: Profile, c14n_method: str, uri: str | None
) -> None:
    """SignedInfo's canonicalization, the Signature's place and the Reference URI."""
    if c14n_method not in profile.accepted_c14n:
        raise UnsupportedAlgorithm(f"canonicalization {c14n_method!r} is not allowed")
    parent = sig.getparent()
    if parent is not None and not is_stanza(parent) and profile.placement != "iq-payload":
        raise SignatureSchemaError(f"the {profile.name} profile puts no Signature in a payload")
    if uri != "#" + profile.desc_id:
        raise InvalidReference(f"SignedInfo Reference URI {uri!r} is not #{profile.desc_id}")


def _single_transform(transforms: etree._Element, max_transforms: int) -> str:
    algorithms = _transform_list(transforms, max_transforms)
    if len(algorithms) != 1:
        raise UnsupportedAlgorithm("exactly one Transform is allowed here")
    return algorithms[0]


def _transform_list(
    transforms: etree._Element, max_transforms: int, tag: str = DS + "Transform"
) -> tuple[str, ...]:
    items = _elements(transforms)
    check_limit("max_transforms", len(items), max_transforms)
    if not items or any(item.tag != tag for item in items):
        raise SignatureSchemaError("Transforms holds one or more Transform elements")
    return tuple(_algorithm(item) for item in items)


def _key_info_certificates(key_info: etree._Element, max_chain: int) -> list[x509.Certificate]:
    # Only X509Certificate values are read here (KeyValue: _keyvalue, checked against the
    # trusted key); KeyName and RetrievalMethod are ignored (nothing is fetched).
    certs: list[x509.Certificate] = []
    for el in key_info.iter(_X509_CERTIFICATE):
        check_limit("max_chain_length", len(certs) + 1, max_chain)
        der = _b64(el.text, "X509Certificate")
        try:
            certs.append(x509.load_der_x509_certificate(der))
        except (ValueError, x509.InvalidVersion):
            # cryptography raises InvalidVersion (an Exception, not a ValueError) for an
            # X.509 version other than v1/v3 (found by tests/fuzz, verify_spec/s4-*.bin)
            raise SignatureSchemaError("X509Certificate is not a DER certificate") from None
    return certs


def _index_ids(root: etree._Element) -> dict[str, list[tuple[etree._Element, int]]]:
    """Every d:id in the whole stanza, at any depth, with a position that orders the
    elements as the document does: duplicates make a reference ambiguous whichever copy
    comes first (security case 11).

    Signers put d:id on the stanza's children only, so the children are read first and one
    C-level count of the d:id attributes at any depth tells whether that is all of them;
    only when it is not is every element read (the positions are then document order over
    all elements rather than among the children: both order the children alike)."""
    index: dict[str, list[tuple[etree._Element, int]]] = {}
    found = 0
    for n, child in enumerate(root):
        value = child.get(DSIG_ID)
        if value is not None:
            index.setdefault(value, []).append((child, n))
            found += 1
    with _XPATH_LOCK:  # lxml XPath evaluators are not shared across threads unguarded
        total = _COUNT_IDS(root)  # an XPath number: a float
    if total == found:
        return index
    index = {}
    for n, el in enumerate(root.iter()):
        value = el.get(DSIG_ID)
        if value is not None:
            index.setdefault(value, []).append((el, n))
    return index


_XPATH_LOCK = threading.Lock()
_COUNT_IDS = etree.XPath("count(descendant-or-self::*/@d:id)", namespaces={"d": NS.XMPP_DSIG.value})
# A child text node (root.text, or a child's tail) with a character other than XML white
# space (XPath's normalize-space strips exactly XML 1.0 S: space, tab, CR, LF).
_HAS_TEXT = etree.XPath("boolean(text()[normalize-space()])")


def _has_text(root: etree._Element) -> bool:
    """Non-whitespace text directly inside ``root`` (before, between or after children)."""
    with _XPATH_LOCK:
        return bool(_HAS_TEXT(root))


_STAMP_PRECISION = timedelta(seconds=1)


def _namespace(el: etree._Element) -> str:
    """The element's namespace URI, "" for none (string work: an lxml QName costs more)."""
    tag = str(el.tag)
    return tag[1 : tag.index("}")] if tag.startswith("{") else ""


def _jid_equal(a: str, b: str) -> bool:
    if a == b:
        return True  # one string: one JID if it parses, and equal text if it does not
    try:
        return parse_jid(a) == parse_jid(b)
    except JIDError:
        return a == b


def _attributes(
    kind: str,
    live: dict[str, str],
    p: _Parsed,
    policy: Policy,
    signed_tags: Collection[str] = (),
) -> str:
    """Every attribute of the stanza-desc copy must equal the live stanza's (XEP-0290 §2,
    security case 15); returns how the live ``from`` relates to the signer.

    The live stanza may carry two attributes the signer could not know: ``xml:lang``
    (RFC 6120 §8.1.5 lets a server add it) and ``from`` when the sender left it out and its
    server stamped it (RFC 6120 §8.1.2.1; checked against the signer afterwards). Defaults
    apply to both sides (a message copy without type describes ``type='normal'``, RFC 6121
    §5.2.2). Under the robust profile's routing rules a recognised routing (``_ROUTINGS``:
    a MUC reflection or private message, a presence broadcast) may also rewrite or add
    ``from`` and ``to`` (docs/robust-profile.md, "Stanza attributes"). ``signed_tags``: the
    qualified names of the children whose reference is ok."""
    copy_kind = str(p.copy.tag).rpartition("}")[2]  # the local name (an lxml QName costs more)
    if copy_kind != kind:
        raise StanzaMismatch(f"signed a {copy_kind}, received a {kind}")
    signed = live_attributes(p.copy, kind)
    routed = p.profile.attribute_rules == "routed"
    routing = _routing(kind, signed, live, signed_tags) if routed else ""
    if routing in _ROOM_ROUTINGS and not policy.allow_muc_reflection:
        raise StanzaMismatch(f"a {routing} stanza; the policy does not accept occupant JIDs")
    rewritten, added = _ROUTINGS[routing]
    for name, value in signed.items():
        if name in rewritten:
            continue
        got = live.get(name)
        if got is None:
            raise StanzaMismatch(f"attribute {name} was signed but is missing")
        same = _jid_equal(got, value) if name in ("from", "to") else got == value
        if not same:
            raise StanzaMismatch(f"attribute {name} changed from {value!r} to {got!r}")
    for name in live:
        if name not in signed and name not in ("from", _XML_LANG) and name not in added:
            raise StanzaMismatch(f"attribute {name} was added after signing")
    if routing:
        return routing
    return "sender" if "from" in signed else "server-stamped"


# Routings the robust profile recognises (docs/robust-profile.md, "Stanza attributes"): the
# signed attributes each may rewrite, and the attributes it may add.
_ROUTINGS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "": (frozenset(), frozenset()),
    "muc-occupant": (frozenset({"from", "to"}), frozenset()),  # XEP-0045 §7.4
    "muc-private": (frozenset({"from", "to"}), frozenset()),  # XEP-0045 §7.5
    "broadcast": (frozenset(), frozenset({"to"})),  # RFC 6121 §4.2.2, §4.5.2
}
_ROOM_ROUTINGS = frozenset({"muc-occupant", "muc-private"})
_MUC_USER_X = "{http://jabber.org/protocol/muc#user}x"
_BROADCAST_TYPES = frozenset({None, "unavailable"})  # RFC 6121 §4.2.2, §4.5.2


def _routing(
    kind: str, signed: dict[str, str], live: dict[str, str], signed_tags: Collection[str]
) -> str:
    """Which routing (a key of ``_ROUTINGS``) turned the signed copy into the live stanza."""
    if kind == "presence":
        # Signed without to, as sent for broadcast; the server addresses each copy.
        if "to" not in signed and "to" in live and signed.get("type") in _BROADCAST_TYPES:
            return "broadcast"
        return ""
    if kind != "message":
        return ""
    live_from, target = live.get("from"), signed.get("to")
    if live_from is None or target is None or not _bare_equal(live_from, target):
        return ""
    if signed.get("type") == "groupchat" and live.get("type") == "groupchat":
        return "muc-occupant"  # signed for the room, from an occupant JID of it
    if (
        signed.get("type") not in ("groupchat", "error")
        and _has_resource(target)
        and _has_resource(live_from)
        # XEP-0045 §7.5: the sender marks a private message with a muc#user <x/>; signed, it
        # says the signer meant an occupant, so a 1:1 message to a full JID re-sent by its
        # recipient is not taken for one.
        and _MUC_USER_X in signed_tags
    ):
        return "muc-private"
    return ""


def _has_resource(jid: str) -> bool:
    try:
        return parse_jid(jid).resource is not None
    except JIDError:
        return False


def _check_identity(signer: JID, sender: str | None) -> None:
    # XEP-0290 §2: the signer is the bare JID of the signing entity, or a service domain.
    if sender is None:
        return
    try:
        jid = parse_jid(sender)
    except JIDError as exc:
        raise SignerMismatch(f"stanza from is not a JID: {exc}") from None
    if signer.local is not None:
        if jid.bare != signer:
            raise SignerMismatch(f"signed by {signer}, sent from {sender}")
    elif jid.domain != signer.domain:
        raise SignerMismatch(f"signed by the service {signer}, sent from {sender}")


def _own_server_delay(root: etree._Element, own_server: str) -> datetime | None:
    """The stamp of the recipient's own server's XEP-0203 delay, if that is the one delay
    (XEP-0203 §3: an entity adds one; two delays cannot both be the first storage)."""
    delays = list(root.iterchildren(_DELAY))
    if len(delays) > 1:
        raise TimestampError(
            f"{len(delays)} delay elements; at most one is accepted", kind="format"
        )
    if not delays or not _jid_equal(delays[0].get("from") or "", own_server):
        return None
    stamp = delays[0].get("stamp")
    return None if stamp is None else parse_rfc3339(stamp)


def _read_references(
    refs: list[etree._Element], profile: Profile, tag: str, size: int
) -> list[tuple[str, str, bytes]]:
    """The references of stanza-desc, each as (reported uri, lookup key, digest); each one
    checked in turn (element, target, base64 digest, its length), the first fault raised."""
    out: list[tuple[str, str, bytes]] = []
    dsig_id = profile.reference_scheme == "dsig-id"
    cut = len(profile.reference_prefix)
    uri_ok = _reference_uri(profile.reference_prefix).fullmatch
    a2b = binascii.a2b_base64
    for r in refs:
        if r.tag != tag or len(r):
            raise SignatureSchemaError("the stanza copy holds reference elements only")
        if dsig_id:  # _reference_target's dsig-id branch, inline (one call less per reference)
            uri = r.get("URI") or ""
            fragment = uri[cut:]
            if uri_ok(uri) is None:
                raise InvalidReference(f"reference URI {uri!r} is not allowed")
        else:
            uri, fragment = _reference_target(r, profile)
        text = r.text
        try:
            value = a2b(text or "", strict_mode=True)
        except (binascii.Error, ValueError):
            value = _b64(text, "reference digest")  # fails this first try again, then strips
        if len(value) != size:
            raise SignatureSchemaError("reference digest has the wrong length")
        out.append((uri, fragment, value))
    return out


def _reference_target(r: etree._Element, profile: Profile) -> tuple[str, str]:
    """(reported uri, lookup key) of a stanza-desc reference."""
    if profile.reference_scheme == "dsig-id":
        uri = r.get("URI") or ""
        fragment = uri[len(profile.reference_prefix) :]
        if not uri.startswith(profile.reference_prefix) or not _FRAGMENT.fullmatch(fragment):
            raise InvalidReference(f"reference URI {uri!r} is not allowed")
        return uri, fragment
    # element scheme: the child's expanded name, no URI (docs/robust-profile.md).
    name = r.get("name") or ""
    ns = r.get("ns") or ""
    if r.get("URI") is not None or not _FRAGMENT.fullmatch(name) or not _NAMESPACE.fullmatch(ns):
        raise InvalidReference(f"reference to {{{ns}}}{name!r} is not allowed")
    clark = "{" + ns + "}" + name if ns else name
    return clark, clark


def _element_references(
    root: etree._Element, p: _Parsed, out: _Outcome
) -> VerificationError | None:
    # Each reference names a child by expanded name and is satisfied by one child of that
    # name whose digest matches; a child satisfies at most one reference. Order does not
    # matter (servers move children); extra children stay unsigned.
    first: VerificationError | None = None
    used: set[int] = set()
    cache: dict[int, bytes] = {}

    def child_digest(child: etree._Element) -> bytes:
        key = id(child)
        if key not in cache:
            octets = _c14n.robust_c14n(child, skip=p.element)
            cache[key] = digest(p.child_digest_method, octets)
        return cache[key]

    by_name: dict[object, list[etree._Element]] = {}
    for c in root:
        if c is not p.element:
            by_name.setdefault(c.tag, []).append(c)
    for uri, clark, expected in p.references:
        free = [c for c in by_name.get(clark, ()) if id(c) not in used]
        match = next((c for c in free if hmac.compare_digest(child_digest(c), expected)), None)
        if match is not None:
            used.add(id(match))
            out.references.append(reference_result(uri, clark, ReferenceStatus.OK))
            out.covered.append(match)
        elif free:
            out.references.append(ReferenceResult(uri, clark, ReferenceStatus.DIGEST_MISMATCH))
            first = first or DigestMismatch(f"no {clark} child matches its signed digest")
        else:
            out.references.append(ReferenceResult(uri, "", ReferenceStatus.TARGET_MISSING))
            first = first or InvalidReference(f"no {clark} child left for its reference")
    return first


def _bare_equal(a: str, b: str) -> bool:
    try:
        return parse_jid(a).bare == parse_jid(b).bare
    except JIDError:
        return False
