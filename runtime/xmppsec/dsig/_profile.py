"""Signature profiles as data (DESIGN.md, "Signature profiles").

A profile is a small table of canonicalization, reference scheme and placement rules; the
signing and verification engines read it rather than forking per profile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..algorithms import NS, C14NMethod

__all__ = ["PROFILES", "SPEC", "Profile"]


@dataclass(frozen=True, slots=True)
class Profile:
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
    child_transform: C14NMethod
    """The transform named in stanza-desc for each signed child."""
    placement: Literal["append"]
    """Where the Signature goes: ``append`` = last child of the stanza (iq too)."""
    check_child_order: bool
    """Signed children must keep the relative order of their references."""


# XEP-0290 v0.2 as written (docs/decisions/dsig.md lists each choice where the XEP is
# ambiguous). Interoperable, reproduces the XEP's known-answer canonical form; does not
# survive Prosody or ejabberd routing (shared/research/xmpp-routing).
SPEC = Profile(
    name="spec",
    desc_namespace=NS.XMPP_DSIG,
    desc_id="stanza-desc",
    reference_prefix="urn:xmpp:dsig:ref:0#",
    signed_info_c14n=C14NMethod.C14N11,  # XEP-0290 §2, final Signature example
    desc_transform=C14NMethod.C14N11,  # XEP-0290 §2, Reference URI="#stanza-desc"
    child_transform=C14NMethod.XMPP_DSIG_0,  # XEP-0290 §3
    placement="append",  # XEP-0290 §2: "inserts the Signature element into stanza"
    check_child_order=True,
)

PROFILES: dict[str, Profile] = {SPEC.name: SPEC}
