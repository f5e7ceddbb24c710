"""Which certificate may speak for a signer: pins, CA bundles, and a resolver hook.

A :class:`TrustStore` is immutable; ``pin``, ``pin_fingerprint``, ``with_ca_bundle``
and ``with_resolver`` return new stores, so one store can be shared by threads.

``resolve(signer, presented, now=...)`` picks the certificate whose key verifies a
signature by ``signer`` (a bare JID, or a domain for a server or service):

1. **Pinned signer** (a pin exists for its bare JID): only pinned certificates are
   used. A presented certificate whose SHA-256 fingerprint is pinned wins; otherwise
   the pinned certificate itself (or, for a fingerprint-only pin, a resolver result
   with that fingerprint). Presented certificates that are not pinned are ignored —
   a pin is authoritative and a CA cannot override it.
2. **CA-validated**: a presented leaf that names the signer (id-on-xmppAddr, bare
   comparison, resource ignored; for a domain signer also dNSName) and chains to a
   CA of the bundle (``cryptography.x509.verification`` with a policy for XMPP client
   certificates, see :func:`_verifier`).
3. **Resolver**: certificates returned by the application's hook for the bare JID.
   They are trusted as the application's own out-of-band decision (like pins fetched
   on demand): still checked for validity period, key strength and — when they carry
   xmppAddr values — identity; for a pinned signer they must match a pin.

Never trusted: a presented certificate that is neither pinned nor CA-validated (even
if its xmppAddr is the signer: security case 24), the subject DN / CN, an xmppAddr
that is not a UTF8String, expired or not-yet-valid certificates, weak keys.

Errors while resolving (the peer's input): :class:`SignerMismatch` when no candidate
certificate names the signer; :class:`UntrustedKey` when one names it but nothing vouches
for it, or it is expired or weak, or nothing is known about the signer at all;
:class:`LimitExceeded` for too many presented certificates. The builders (``pin``,
``pin_fingerprint``, ``with_ca_bundle``, the constructor) and a naive ``now`` raise
:class:`UsageError`: they judge the caller's configuration, not a peer.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, cast

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm as _CryptoUnsupported
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import (
    ClientVerifier,
    Criticality,
    ExtensionPolicy,
    Policy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from xmppsec.errors import (
    SignerMismatch,
    UntrustedKey,
    UsageError,
    XmppSecError,
    check_limit,
)
from xmppsec.jid import JID, bare_jid, parse_jid
from xmppsec.keys import (
    PublicKey,
    certificate_fingerprint,
    check_key_strength,
    dns_names,
    xmpp_addrs,
)
from xmppsec.xmpp import require_aware

__all__ = [
    "DEFAULT_MAX_CHAIN_DEPTH",
    "KeyResolver",
    "TrustStore",
    "certificate_names",
    "usable_public_key",
]

DEFAULT_MAX_CHAIN_DEPTH: Final = 8  # matches parser.Limits.max_chain_length

KeyResolver = Callable[[str], Sequence[x509.Certificate]]
"""Application hook: bare JID -> certificates fetched out of band (vCard, PEP, a
directory). Its results are trusted like pins (see the module docstring)."""

# XMPP client certificates in the wild carry clientAuth (RFC 6120 §13.7.1.4 usage),
# emailProtection (S/MIME, RFC 3923) or anyExtendedKeyUsage; cryptography's default
# client policy insists on clientAuth.
_EKU_OK: Final = frozenset(
    {
        ExtendedKeyUsageOID.CLIENT_AUTH,
        ExtendedKeyUsageOID.EMAIL_PROTECTION,
        ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
    }
)


def _eku_validator(
    _policy: Policy, _cert: x509.Certificate, eku: x509.ExtendedKeyUsage | None
) -> None:
    if eku is not None and not _EKU_OK.intersection(eku):
        raise ValueError("extended key usage allows neither clientAuth nor emailProtection")


def _ee_policy() -> ExtensionPolicy:
    return ExtensionPolicy.webpki_defaults_ee().may_be_present(
        x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _eku_validator
    )


def _ca_policy() -> ExtensionPolicy:
    return ExtensionPolicy.webpki_defaults_ca().may_be_present(
        x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _eku_validator
    )


def _aware_utc(now: _dt.datetime | None) -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC) if now is None else require_aware(now, "now")


def _fingerprint(fp: bytes | str) -> bytes:
    if isinstance(fp, str):
        try:
            raw = bytes.fromhex(fp.replace(":", "").strip())
        except ValueError:
            raise UsageError("fingerprint is not hex") from None
    else:
        raw = bytes(fp)
    if len(raw) != 32:
        raise UsageError("a SHA-256 fingerprint is 32 bytes")
    return raw


def certificate_names(cert: x509.Certificate) -> frozenset[str]:
    """The bare JIDs and domains a certificate may speak for: its id-on-xmppAddr values
    (bare form) and dNSName values. Never the subject CN."""
    names = {bare_jid(a) for a in xmpp_addrs(cert)}
    names.update(dns_names(cert))
    return frozenset(names)


def _names_signer(cert: x509.Certificate, signer: JID) -> bool:
    if signer.is_domain:
        return str(signer) in certificate_names(cert)
    return any(bare_jid(a) == str(signer) for a in xmpp_addrs(cert))


@dataclass(frozen=True, slots=True)
class _CertFacts:
    """What the verify hot path reads from a certificate, computed once per object."""

    cert: x509.Certificate  # keeps the object alive while cached, so its id stays its own
    fingerprint: bytes
    not_before: _dt.datetime
    not_after: _dt.datetime
    key_problem: dict[bool, str | None]


# Keyed by id(): hashing a Certificate hashes its DER on every call. The entry holds the
# certificate, so an id is never reused while its entry exists; bounded by clearing.
_FACTS: dict[int, _CertFacts] = {}
_FACTS_MAX = 4096


def _facts(cert: x509.Certificate) -> _CertFacts:
    facts = _FACTS.get(id(cert))
    if facts is None or facts.cert is not cert:
        if len(_FACTS) >= _FACTS_MAX:
            _FACTS.clear()
        facts = _CertFacts(
            cert,
            certificate_fingerprint(cert),
            cert.not_valid_before_utc,
            cert.not_valid_after_utc,
            {},
        )
        _FACTS[id(cert)] = facts
    return facts


def _key_problem(cert: x509.Certificate, allow_legacy: bool) -> str | None:
    """Why the certificate's key is unusable, or None (cached per certificate object)."""
    known = _facts(cert).key_problem
    if allow_legacy not in known:
        try:
            check_key_strength(cert.public_key(), allow_legacy=allow_legacy)
        except (ValueError, TypeError, _CryptoUnsupported) as exc:
            known[allow_legacy] = f"unusable public key: {exc}"
        except UntrustedKey as exc:
            known[allow_legacy] = str(exc)
        else:
            known[allow_legacy] = None
    return known[allow_legacy]


def usable_public_key(cert: x509.Certificate, *, allow_legacy: bool) -> PublicKey:
    """The certificate's public key if :func:`xmppsec.keys.check_key_strength` accepts it,
    else :class:`UntrustedKey` (the verdict is cached per certificate object)."""
    problem = _key_problem(cert, allow_legacy)
    if problem is not None:
        raise UntrustedKey(problem)
    return cast(PublicKey, cert.public_key())


def _validity(cert: x509.Certificate) -> tuple[_dt.datetime, _dt.datetime]:
    facts = _facts(cert)
    return facts.not_before, facts.not_after


def _fp(cert: x509.Certificate) -> bytes:
    return _facts(cert).fingerprint


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    except (ValueError, x509.DuplicateExtension):
        return False
    return bc.ca


class TrustStore:
    """Immutable set of trust decisions: pins per bare JID, CA bundles, a resolver."""

    __slots__ = (
        "_allow_legacy",
        "_cas",
        "_max_chain_depth",
        "_pin_certs",
        "_pins",
        "_resolver",
        "_store",
    )

    def __init__(
        self, *, max_chain_depth: int = DEFAULT_MAX_CHAIN_DEPTH, allow_legacy_keys: bool = False
    ) -> None:
        if not isinstance(max_chain_depth, int) or max_chain_depth < 1:
            raise UsageError(f"max_chain_depth must be an int >= 1, not {max_chain_depth!r}")
        self._max_chain_depth = max_chain_depth
        self._allow_legacy = allow_legacy_keys
        self._pins: Mapping[str, frozenset[bytes]] = MappingProxyType({})
        self._pin_certs: Mapping[str, tuple[x509.Certificate, ...]] = MappingProxyType({})
        self._cas: tuple[x509.Certificate, ...] = ()
        self._store: Store | None = None
        self._resolver: KeyResolver | None = None

    def _copy(self) -> TrustStore:
        new = TrustStore.__new__(TrustStore)
        for name in TrustStore.__slots__:
            setattr(new, name, getattr(self, name))
        return new

    # -- builders ------------------------------------------------------------------

    @property
    def max_chain_depth(self) -> int:
        return self._max_chain_depth

    @property
    def allow_legacy_keys(self) -> bool:
        return self._allow_legacy

    def pin(self, jid: str, cert: x509.Certificate) -> TrustStore:
        """Trust ``cert`` for the bare JID (or domain) of ``jid``, and for nothing else.

        The pin binds the (JID, certificate) pair the caller named: a certificate that
        also names other JIDs is not trusted for them by this pin (pin it again for each
        one meant). A pin is an explicit decision, so a certificate without xmppAddr may
        be pinned; one whose xmppAddr values name only other JIDs, whose SAN is malformed,
        or whose key is weak is refused with :class:`UsageError` (the caller's
        configuration is wrong; no peer is involved). Raises JIDError for an invalid JID.
        """
        who = parse_jid(jid).bare
        if not isinstance(cert, x509.Certificate):
            raise UsageError(f"pin() takes an x509.Certificate, not {type(cert).__name__}")
        try:
            names = certificate_names(cert)
        except UntrustedKey as exc:  # a malformed SAN extension
            raise UsageError(f"cannot pin for {who}: {exc}") from None
        if names and str(who) not in names:
            raise UsageError(f"cannot pin for {who}: the certificate names {sorted(names)}")
        problem = _key_problem(cert, self._allow_legacy)
        if problem is not None:
            raise UsageError(f"cannot pin for {who}: {problem}")
        key = str(who)
        new = self._copy()
        fp = certificate_fingerprint(cert)
        pins = dict(self._pins)
        pins[key] = pins.get(key, frozenset()) | {fp}
        certs = dict(self._pin_certs)
        if fp not in {certificate_fingerprint(c) for c in certs.get(key, ())}:
            certs[key] = (*certs.get(key, ()), cert)
        new._pins = MappingProxyType(pins)
        new._pin_certs = MappingProxyType(certs)
        return new

    def pin_fingerprint(self, jid: str, fingerprint: bytes | str) -> TrustStore:
        """Trust the certificate with this SHA-256 fingerprint (32 bytes, or hex with
        optional colons) for the bare JID of ``jid``; the certificate itself must then
        be presented or come from the resolver."""
        key = bare_jid(jid)
        fp = _fingerprint(fingerprint)
        new = self._copy()
        pins = dict(self._pins)
        pins[key] = pins.get(key, frozenset()) | {fp}
        new._pins = MappingProxyType(pins)
        return new

    def with_ca_bundle(self, certs: Iterable[x509.Certificate]) -> TrustStore:
        """Add trust anchors (CA certificates); presented chains are validated to them."""
        added = tuple(certs)
        if not all(isinstance(c, x509.Certificate) for c in added):
            raise UsageError("a CA bundle holds x509.Certificate objects")
        if not added:
            return self
        new = self._copy()
        new._cas = self._cas + tuple(c for c in added if c not in self._cas)
        try:
            new._store = Store(list(new._cas))
        except (ValueError, TypeError) as exc:
            raise UsageError(f"unusable CA bundle: {exc}") from None
        return new

    def with_resolver(self, resolver: KeyResolver | None) -> TrustStore:
        """Set (or with None, remove) the out-of-band certificate resolver."""
        new = self._copy()
        new._resolver = resolver
        return new

    def pinned(self, jid: str) -> tuple[x509.Certificate, ...]:
        """The certificates pinned for the bare JID of ``jid``."""
        return self._pin_certs.get(bare_jid(jid), ())

    def is_pinned(self, jid: str, cert: x509.Certificate) -> bool:
        return certificate_fingerprint(cert) in self._pins.get(bare_jid(jid), frozenset())

    # -- checks --------------------------------------------------------------------

    def _check_key(self, cert: x509.Certificate) -> None:
        problem = _key_problem(cert, self._allow_legacy)
        if problem is not None:
            raise UntrustedKey(problem)

    @staticmethod
    def _check_validity(cert: x509.Certificate, now: _dt.datetime) -> None:
        not_before, not_after = _validity(cert)
        if now < not_before:
            raise UntrustedKey("certificate is not yet valid")
        if now > not_after:
            raise UntrustedKey("certificate has expired")

    def _usable(self, cert: x509.Certificate, now: _dt.datetime) -> None:
        self._check_validity(cert, now)
        self._check_key(cert)

    def _verifier(self, now: _dt.datetime) -> ClientVerifier:
        assert self._store is not None  # callers check self._store first
        return (
            PolicyBuilder()
            .store(self._store)
            .time(now)
            .max_chain_depth(self._max_chain_depth)
            .extension_policies(ca_policy=_ca_policy(), ee_policy=_ee_policy())
            .build_client_verifier()
        )

    # -- resolution ----------------------------------------------------------------

    def resolve(
        self,
        signer: str,
        presented: Sequence[x509.Certificate] = (),
        *,
        now: _dt.datetime | None = None,
    ) -> x509.Certificate:
        """Return the certificate whose key may verify a signature by ``signer``.

        Raises :class:`UntrustedKey`, :class:`SignerMismatch`, :class:`JIDError`, or
        :class:`LimitExceeded` (more presented certificates than ``max_chain_depth``);
        :class:`UsageError` for a naive ``now``.
        """
        return self.resolve_all(signer, presented, now=now)[0]

    def resolve_all(
        self,
        signer: str,
        presented: Sequence[x509.Certificate] = (),
        *,
        now: _dt.datetime | None = None,
    ) -> tuple[x509.Certificate, ...]:
        """Like :meth:`resolve`, but every usable certificate, best first (a signer with
        several pinned keys). Never empty: raises instead."""
        who = parse_jid(signer).bare
        key = str(who)
        when = _aware_utc(now)
        # a leaf + max_chain_depth intermediates
        check_limit("max_chain_length", len(presented), self._max_chain_depth + 1)
        pins = self._pins.get(key)
        if pins is not None:
            return self._resolve_pinned(key, pins, presented, when)

        usable: list[x509.Certificate] = []
        mismatch = False
        failure: XmppSecError | None = None
        leaves = [c for c in presented if not _is_ca(c)]
        for leaf in leaves:
            try:
                if not _names_signer(leaf, who):
                    mismatch = True
                    continue
                if self._store is None:
                    raise UntrustedKey(
                        f"certificate for {key} is neither pinned nor issued by a trusted CA"
                    )
                others = [c for c in presented if c is not leaf]
                try:
                    self._verifier(when).verify(leaf, others)
                except (VerificationError, ValueError) as exc:
                    # ValueError: cryptography parses some fields (e.g. the subject) only
                    # while building the path (found by tests/fuzz, trust/s*.bin)
                    raise UntrustedKey(
                        f"certificate for {key} does not chain to a trusted CA: {exc}"
                    ) from None
                self._usable(leaf, when)
            except UntrustedKey as exc:
                failure = exc
                continue
            usable.append(leaf)
        if usable:
            return tuple(usable)

        for cert in self._fetch(key):
            try:
                names = certificate_names(cert)
                if names and key not in names:
                    mismatch = True
                    continue
                self._usable(cert, when)
            except UntrustedKey as exc:
                failure = exc
                continue
            usable.append(cert)
        if usable:
            return tuple(usable)

        if failure is not None:
            raise failure
        if mismatch:
            raise SignerMismatch(f"no presented certificate names {key} (subject CN is ignored)")
        raise UntrustedKey(f"no trusted certificate for {key}")

    def _resolve_pinned(
        self,
        key: str,
        pins: frozenset[bytes],
        presented: Sequence[x509.Certificate],
        when: _dt.datetime,
    ) -> tuple[x509.Certificate, ...]:
        candidates: list[x509.Certificate] = []
        seen: set[bytes] = set()
        for cert in (*presented, *self._pin_certs.get(key, ())):
            fp = _fp(cert)
            if fp in pins and fp not in seen:
                seen.add(fp)
                candidates.append(cert)
        usable, failure = self._keep_usable(candidates, when)
        if not usable:  # the resolver may hold a pinned certificate nobody presented
            fetched: list[x509.Certificate] = []
            for cert in self._fetch(key):
                fp = _fp(cert)
                if fp in pins and fp not in seen:
                    seen.add(fp)
                    fetched.append(cert)
            usable, late = self._keep_usable(fetched, when)
            failure = late or failure
        if usable:
            return tuple(usable)
        if failure is not None:
            raise UntrustedKey(f"pinned certificate for {key} unusable: {failure}")
        raise UntrustedKey(f"{key} is pinned, but no pinned certificate is available")

    def _keep_usable(
        self, certs: Sequence[x509.Certificate], when: _dt.datetime
    ) -> tuple[list[x509.Certificate], UntrustedKey | None]:
        """The usable certificates of ``certs``, and why the last unusable one is not."""
        usable: list[x509.Certificate] = []
        failure: UntrustedKey | None = None
        for cert in certs:
            try:
                self._usable(cert, when)
            except UntrustedKey as exc:
                failure = exc
                continue
            usable.append(cert)
        return usable, failure

    def _fetch(self, key: str) -> tuple[x509.Certificate, ...]:
        if self._resolver is None:
            return ()
        try:
            got = tuple(self._resolver(key))
        except XmppSecError:
            raise
        except Exception as exc:  # noqa: BLE001  # the hook is application code: contain it
            raise UntrustedKey(f"certificate resolver failed for {key}: {exc!r}") from exc
        if len(got) > self._max_chain_depth + 1:
            got = got[: self._max_chain_depth + 1]
        return tuple(c for c in got if isinstance(c, x509.Certificate))
