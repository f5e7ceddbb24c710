"""XMPP addresses (RFC 7622): the one JID normalizer used everywhere in xmppsec.

A JID is ``[localpart@]domainpart[/resourcepart]`` (RFC 7622 §3.1). Each part is
prepared and enforced on its own:

* localpart: PRECIS ``UsernameCaseMapped`` (RFC 7622 §3.3, RFC 8265 §3.3), and the
  characters ``" & ' / : < > @`` are forbidden (RFC 7622 §3.3.1);
* domainpart: an IP literal (validated, canonical text form), or a domain name
  prepared with IDNA2008 + UTS #46 mapping, lower-cased, in U-label form, with one
  trailing dot stripped (RFC 7622 §3.2);
* resourcepart: PRECIS ``OpaqueString`` (RFC 7622 §3.4, RFC 8265 §4.2).

Every part is 1..1023 bytes of UTF-8 after preparation (RFC 7622 §3.1-3.4). Failures
raise :class:`~xmppsec.errors.JIDError`; ``ValueError``/``UnicodeError`` from the
libraries never escape. Results are cached (``functools.lru_cache``): the verifier
normalizes the same few JIDs on every stanza.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import idna
import precis_i18n

from xmppsec.errors import JIDError, UsageError

__all__ = ["JID", "bare_jid", "parse_jid"]

_MAX_PART_BYTES = 1023  # RFC 7622 §3.1: each part 1..1023 octets
# Preparation may shrink input (width mapping, NFC), so the raw cap is generous; it only
# stops pathological multi-megabyte strings before the PRECIS/IDNA code sees them.
_MAX_RAW_CHARS = 4 * 3 * _MAX_PART_BYTES
_LOCAL_FORBIDDEN = frozenset("\"&'/:<>@")  # RFC 7622 §3.3.1
_CACHE_SIZE = 4096
_IPV4_SHAPE = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")

_USERNAME: Any = precis_i18n.get_profile("UsernameCaseMapped")
_OPAQUE: Any = precis_i18n.get_profile("OpaqueString")


def _check_length(part: str, what: str) -> None:
    size = len(part.encode("utf-8"))
    if size == 0:
        raise JIDError(f"empty {what}")
    if size > _MAX_PART_BYTES:
        raise JIDError(f"{what} is {size} bytes (maximum {_MAX_PART_BYTES}, RFC 7622 §3)")


@lru_cache(maxsize=_CACHE_SIZE)
def _prep_local(raw: str) -> str:
    if not raw:
        raise JIDError("empty localpart")
    try:
        out: str = _USERNAME.enforce(raw)
    except UnicodeError as exc:  # precis-i18n signals DISALLOWED/... as UnicodeEncodeError
        raise JIDError(f"invalid localpart: {getattr(exc, 'reason', exc)}") from None
    if any(ch in _LOCAL_FORBIDDEN for ch in out):
        raise JIDError("localpart contains a character forbidden by RFC 7622 §3.3.1")
    _check_length(out, "localpart")
    return out


@lru_cache(maxsize=_CACHE_SIZE)
def _prep_domain(raw: str) -> str:
    if raw.endswith("."):  # RFC 7622 §3.2: strip one trailing label separator
        raw = raw[:-1]
    if not raw:
        raise JIDError("empty domainpart")
    if raw.startswith("[") and raw.endswith("]"):  # IP-literal (RFC 3986 §3.2.2)
        try:
            v6 = ipaddress.IPv6Address(raw[1:-1])
        except ValueError:
            raise JIDError("invalid IPv6 literal in domainpart") from None
        return f"[{v6.compressed}]"
    if _IPV4_SHAPE.fullmatch(raw):
        try:
            return str(ipaddress.IPv4Address(raw))
        except ValueError:
            raise JIDError("invalid IPv4 address in domainpart") from None
    try:
        # IDNA2008 with the UTS #46 mapping (lower-casing, width mapping, NFC), then
        # back to U-labels: RFC 7622 §3.2 compares domainparts in U-label form.
        alabels = idna.encode(raw, uts46=True, std3_rules=True, transitional=False)
        out: str = idna.decode(alabels)
    except (idna.IDNAError, UnicodeError, ValueError) as exc:
        raise JIDError(f"invalid domainpart: {exc}") from None
    if out.endswith("."):
        raise JIDError("domainpart ends with more than one dot")
    _check_length(out, "domainpart")
    return out


@lru_cache(maxsize=_CACHE_SIZE)
def _prep_resource(raw: str) -> str:
    if not raw:
        raise JIDError("empty resourcepart")
    try:
        out: str = _OPAQUE.enforce(raw)
    except UnicodeError as exc:
        raise JIDError(f"invalid resourcepart: {getattr(exc, 'reason', exc)}") from None
    _check_length(out, "resourcepart")
    return out


@dataclass(frozen=True, slots=True)
class JID:
    """A prepared XMPP address. Construct with :func:`parse_jid`.

    Direct construction is allowed but every part must already be in prepared form
    (``JID("Juliet", ...)`` raises :class:`UsageError`), so a ``JID`` value is always
    normalized and ``==`` is RFC 7622 comparison.
    """

    local: str | None
    domain: str
    resource: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.domain, str) or _prep_domain(self.domain) != self.domain:
            raise UsageError("JID domain is not in prepared form; use parse_jid()")
        if self.local is not None and (
            not isinstance(self.local, str) or _prep_local(self.local) != self.local
        ):
            raise UsageError("JID localpart is not in prepared form; use parse_jid()")
        if self.resource is not None and (
            not isinstance(self.resource, str) or _prep_resource(self.resource) != self.resource
        ):
            raise UsageError("JID resourcepart is not in prepared form; use parse_jid()")

    @property
    def bare(self) -> JID:
        """The bare JID (``local@domain`` or ``domain``), resource dropped."""
        if self.resource is None:
            return self
        return _bare_of(self.local, self.domain)

    @property
    def is_bare(self) -> bool:
        return self.resource is None

    @property
    def is_domain(self) -> bool:
        """True for a domain-only address (a server or service)."""
        return self.local is None and self.resource is None

    def __str__(self) -> str:
        out = self.domain if self.local is None else f"{self.local}@{self.domain}"
        return out if self.resource is None else f"{out}/{self.resource}"


@lru_cache(maxsize=_CACHE_SIZE)
def _bare_of(local: str | None, domain: str) -> JID:
    # JID values are immutable: one bare JID object per (local, domain) is shared.
    return JID(local, domain)


@lru_cache(maxsize=_CACHE_SIZE)
def _parse(s: str) -> JID:
    if len(s) > _MAX_RAW_CHARS:
        raise JIDError("JID too long")
    # RFC 7622 §3.1: the resourcepart starts at the first '/'; the localpart ends at
    # the first '@' before it.
    head, slash, resource = s.partition("/")
    local, at, domain = head.partition("@")
    if not at:
        domain = head
    return JID(
        _prep_local(local) if at else None,
        _prep_domain(domain),
        _prep_resource(resource) if slash else None,
    )


def parse_jid(s: str) -> JID:
    """Parse and prepare a JID (RFC 7622). Raises :class:`JIDError` (:class:`UsageError`
    if ``s`` is not a str: text from the wire always is)."""
    if not isinstance(s, str):
        raise UsageError("JID must be a str")
    return _parse(s)


@lru_cache(maxsize=_CACHE_SIZE)
def _bare(s: str) -> str:
    return str(_parse(s).bare)


def bare_jid(s: str | JID) -> str:
    """The normalized bare form of ``s`` (``local@domain`` or ``domain``); the resource
    is dropped. Raises :class:`JIDError` (:class:`UsageError` if ``s`` is not a str)."""
    if isinstance(s, JID):
        return str(s.bare)
    if not isinstance(s, str):
        raise UsageError("JID must be a str")
    return _bare(s)
