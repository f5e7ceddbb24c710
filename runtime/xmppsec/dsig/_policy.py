"""Verification policy: a frozen configuration with safe defaults."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from ..algorithms import LEGACY_DIGESTS, LEGACY_SIGNATURES, DigestMethod, SignatureMethod
from ..parser import DEFAULT_LIMITS, Limits
from ..xmpp import NS

__all__ = ["SERVER_ANNOTATIONS", "Policy"]

# Children that servers add to routed stanzas and that no sender can sign: reported as
# unsigned, not rejected, under the strict policy (XEP-0203 delay, XEP-0359 stanza-id,
# XEP-0313 archived).
SERVER_ANNOTATIONS: frozenset[str] = frozenset(
    {
        "{" + NS.DELAY + "}delay",
        "{urn:xmpp:sid:0}stanza-id",
        "{urn:xmpp:mam:tmp}archived",
        "{urn:xmpp:occupant-id:0}occupant-id",
    }
)

_MODERN_SIGNATURES = frozenset(SignatureMethod) - LEGACY_SIGNATURES
_MODERN_DIGESTS = frozenset(DigestMethod) - LEGACY_DIGESTS


@dataclass(frozen=True, slots=True)
class Policy:
    """What a verifier accepts. The defaults are the strict policy.

    ``Policy()`` (strict): every signature must verify, every reference must be ``ok``,
    children that no signature covers are rejected unless they are known server annotations,
    and timestamps must be within ``window`` of now (or of the recipient server's delay
    stamp for offline messages). ``Policy.optimistic()`` reports reference failures,
    unsigned children and old/future timestamps in the result and lets the caller decide.
    """

    signature_methods: frozenset[SignatureMethod] = _MODERN_SIGNATURES
    digest_methods: frozenset[DigestMethod] = _MODERN_DIGESTS
    limits: Limits = DEFAULT_LIMITS
    window: timedelta = timedelta(minutes=5)
    require_all_references: bool = True
    reject_unsigned_children: bool = True
    allowed_unsigned: frozenset[str] = SERVER_ANNOTATIONS
    enforce_timestamps: bool = True
    require_all_signatures: bool = True
    own_server: str | None = None
    """Domain of the recipient's own server: only a XEP-0203 ``<delay/>`` stamped by it is
    used to judge the timestamp of an offline message (XEP-0290 §5)."""
    allow_muc_reflection: bool = True
    """Robust profile: accept a groupchat stanza reflected by the room it was signed for,
    whose ``from`` is then the occupant JID (reported as ``sender_relation="muc-occupant"``)."""
    allow_legacy: bool = False
    """Accept SHA-1 and DSA (the XEP's own examples) and keys only legacy peers use."""
    validate: bool = True
    """Validate every ds:Signature (with its stanza-desc) against the xmppsec schemas before
    any cryptography (:func:`xmppsec.schema.check_received`); a fault is a
    ``SignatureSchemaError``. Turn it off only when the caller has validated already."""
    validate_content: bool = True
    """With ``validate``: validate the whole stanza, not only its signatures, and enforce
    the RFC 6120/6121 co-constraints (one thread, one body per language, ...); a fault in
    the stanza's own content is a ``StanzaSchemaError``."""
    max_offline_age: timedelta = timedelta(days=30)
    """With ``own_server``: the oldest delay stamp accepted for an offline message. A
    signature accepted while delays are honoured stays in the replay store this long (plus
    ``window``), so a copy re-sent later with a delay added cannot be accepted again."""

    @classmethod
    def optimistic(cls) -> Policy:
        """Report reference failures, unsigned children and timestamps; decide nothing.

        The SignatureValue, the stanza-desc digest, the stanza attributes, the signer's
        identity and replay are still enforced: they are never optional. So is schema
        validation of the signatures (``validate``): they are what the verifier reads. The
        stanza's own content is not judged (``validate_content=False``): text between its
        children and unsigned children are reported, as is content the schemas or the
        RFC 6120/6121 co-constraints refuse (read ``xmppsec.validate`` for a verdict).
        """
        return cls(
            require_all_references=False,
            reject_unsigned_children=False,
            enforce_timestamps=False,
            require_all_signatures=False,
            validate_content=False,
        )

    def legacy(self) -> Policy:
        """This policy with SHA-1 and DSA admitted (explicit opt-in for legacy peers)."""
        return replace(
            self,
            allow_legacy=True,
            signature_methods=self.signature_methods | LEGACY_SIGNATURES,
            digest_methods=self.digest_methods | LEGACY_DIGESTS,
        )
