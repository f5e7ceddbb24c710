"""Signature profiles as data (docs/robust-profile.md compares the two).

A profile is a small table of canonicalization, reference scheme and placement rules; the
signing and verification engines read it rather than forking per profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..algorithms import C14NMethod, TransformMethod
from ..errors import UsageError
from ..xmpp import NS

__all__ = ["PROFILES", "ROBUST", "SPEC", "Profile", "ProfileName", "resolve_profile"]


@dataclass(frozen=True, slots=True)
class Profile:
    """How a signature is laid out and canonicalized: ``SPEC`` (XEP-0290 as written) and
    ``ROBUST`` (docs/robust-profile.md) are the two built in."""

    name: str
    """Short name used on the command line and in reports."""
    desc_namespace: str
    """Namespace of ``stanza-desc`` and of the per-child ``id`` attribute."""
    desc_id: str
    """The ``id`` of ``stanza-desc`` and the SignedInfo Reference URI fragment."""
    reference_prefix: str
    """Reference URIs are this prefix followed by the child's id."""
    signed_info_c14n: C14NMethod
    """CanonicalizationMethod of SignedInfo."""
    desc_transform: C14NMethod
    """The transform of the SignedInfo Reference to ``#stanza-desc``."""
    accepted_c14n: frozenset[str]
    """What a verifier accepts as SignedInfo canonicalization and ``#stanza-desc`` transform."""
    child_transforms: tuple[str, ...]
    """The Transforms named in stanza-desc for the signed children, in order."""
    child_c14n: C14NMethod
    """The canonicalization among ``child_transforms`` that produces the digested octets."""
    reference_scheme: Literal["dsig-id", "element"]
    """``dsig-id``: ``reference/@URI`` = prefix + the child's ``d:id`` (XEP-0290 §4);
    ``element``: ``reference/@ns`` + ``@name`` name the child, matched by digest among the
    children of that name (no attribute on the child)."""
    placement: Literal["append", "iq-payload"]
    """``append``: last child of the stanza; ``iq-payload``: the same, except an iq's
    Signature goes last into its single payload (RFC 6120 §8.2.3)."""
    check_child_order: bool
    """Signed children must keep the relative order of their references."""
    attribute_rules: Literal["exact", "routed"]
    """``exact``: the stanza-desc copy and the live stanza agree (XEP-0290 as written);
    ``routed``: what a server may change on the way is allowed and reported
    (docs/robust-profile.md, "Stanza attributes")."""


# XEP-0290 v0.2 as written (docs/decisions/dsig.md lists each choice where the XEP is
# ambiguous). Interoperable, reproduces the XEP's known-answer canonical form; does not
# survive Prosody or ejabberd routing (docs/routing.md, measured in tests/test_servers.py).
SPEC = Profile(
    name="spec",
    desc_namespace=NS.XMPP_DSIG,
    desc_id="stanza-desc",
    reference_prefix="urn:xmpp:dsig:ref:0#",
    signed_info_c14n=C14NMethod.C14N11,  # XEP-0290 §2, final Signature example
    desc_transform=C14NMethod.C14N11,  # XEP-0290 §2, Reference URI="#stanza-desc"
    accepted_c14n=frozenset({C14NMethod.C14N10, C14NMethod.C14N11, C14NMethod.EXC_C14N}),
    child_transforms=(C14NMethod.XMPP_DSIG_0,),  # XEP-0290 §3
    child_c14n=C14NMethod.XMPP_DSIG_0,
    reference_scheme="dsig-id",
    placement="append",  # XEP-0290 §2: "inserts the Signature element into stanza"
    check_child_order=True,
    attribute_rules="exact",
)

# Our extension for routed traffic (docs/robust-profile.md): survives attribute stripping on
# core children, re-prefixing, moved and inserted children, an added xml:lang, a stamped or
# MUC-rewritten from, dropped whitespace between children, and CR / attribute whitespace
# rewritten by a sloppy serializer. Measured against Prosody 0.12 and ejabberd 23.01.
ROBUST = Profile(
    name="robust",
    desc_namespace=NS.XMPP_DSIG_ROBUST,
    desc_id="stanza-desc",
    reference_prefix="",
    signed_info_c14n=C14NMethod.ROBUST,
    desc_transform=C14NMethod.ROBUST,
    accepted_c14n=frozenset({C14NMethod.ROBUST}),
    child_transforms=(TransformMethod.ENVELOPED, C14NMethod.ROBUST),
    child_c14n=C14NMethod.ROBUST,
    reference_scheme="element",
    placement="iq-payload",
    check_child_order=False,
    attribute_rules="routed",
)

PROFILES: dict[str, Profile] = {SPEC.name: SPEC, ROBUST.name: ROBUST}

ProfileName = Literal["spec", "robust"]


def resolve_profile(profile: Profile | ProfileName) -> Profile:
    """A profile given as the object or by its built-in name; anything else is the caller's
    mistake (:class:`~xmppsec.errors.UsageError`)."""
    if isinstance(profile, Profile):
        return profile
    found = PROFILES.get(profile) if isinstance(profile, str) else None
    if found is None:
        raise UsageError(f"unknown profile {profile!r}; use one of {sorted(PROFILES)}")
    return found
