"""Frozen verification results.

A result says what was signed (and hands back only verified content), by whom, when, each
reference's status, and which children no signature covers. Several signatures on one
stanza are reported one by one.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from cryptography import x509
from lxml import etree

from .._lxml import nsmap
from ..errors import JIDError, UsageError, XmppSecError
from ..jid import parse_jid
from ..xmpp import NS
from ._profile import Profile

if TYPE_CHECKING:  # the bindings are imported only when a caller asks for one
    from xmppsec.bindings import dsig, dsig_robust, xmldsig

T = TypeVar("T")

__all__ = [
    "ReferenceResult",
    "SignedChild",
    "ReferenceStatus",
    "SignatureResult",
    "TimestampStatus",
    "VerificationResult",
]


class ReferenceStatus(StrEnum):
    """What became of one per-child reference of stanza-desc (docs/verification.md): ``ok``
    (the digest matches), ``digest-mismatch`` (the child changed), ``target-missing`` (no
    child carries it), ``ambiguous`` (more than one child, or reference, claims it)."""

    OK = "ok"
    DIGEST_MISMATCH = "digest-mismatch"
    TARGET_MISSING = "target-missing"
    AMBIGUOUS = "ambiguous"


class TimestampStatus(StrEnum):
    """The signature's timestamp against the policy's window: ``ok``, ``old``, ``future``, or
    ``unchecked`` when verification stopped at an earlier step."""

    OK = "ok"
    OLD = "old"
    FUTURE = "future"
    UNCHECKED = "unchecked"


@dataclass(frozen=True, slots=True)
class ReferenceResult:
    """One per-child reference of a signature's stanza-desc and what became of it."""

    uri: str
    element: str
    """Qualified name (``{namespace}local``) of the target, or ``""`` when missing."""
    status: ReferenceStatus


# The verifier builds one ReferenceResult per reference (50 on a stanza with 50 signed
# children). The frozen dataclass __init__ sets each field through object.__setattr__ (a
# slot wrapper call, ~700 instructions a field); setting the three slots through their member
# descriptors builds the same object for about half. ReferenceResult has no __post_init__ and
# exactly these fields: tests/test_dsig_verify.py checks both, and the equality of the two.
_new_object = object.__new__
_set_uri: Any = ReferenceResult.__dict__["uri"].__set__
_set_element: Any = ReferenceResult.__dict__["element"].__set__
_set_status: Any = ReferenceResult.__dict__["status"].__set__


def reference_result(uri: str, element: str, status: ReferenceStatus) -> ReferenceResult:
    """``ReferenceResult(uri, element, status)``, built without the dataclass __init__."""
    result: ReferenceResult = _new_object(ReferenceResult)
    _set_uri(result, uri)
    _set_element(result, element)
    _set_status(result, status)
    return result


@dataclass(frozen=True, slots=True)
class SignatureResult:
    """One Signature of the stanza: its signer, timestamp, profile, algorithm and references,
    and whether it verified (``valid``, else ``error``). Trust ``signer`` only when valid."""

    valid: bool
    signer: str
    """The ``<signer>`` of stanza-desc (bare JID or domain), as claimed; see ``valid``."""
    timestamp: datetime | None
    timestamp_text: str
    timestamp_status: TimestampStatus
    profile: str
    signature_method: str
    references: tuple[ReferenceResult, ...]
    error: XmppSecError | None = None
    certificate: x509.Certificate | None = field(default=None, repr=False)
    offline: bool = False
    """The timestamp was judged against the recipient server's XEP-0203 delay stamp."""
    sender_relation: str = ""
    """How the live stanza's ``from`` relates to the signer: ``sender`` (the signed
    ``from``), ``server-stamped`` (the sender left ``from`` out; its server stamped a JID of
    the signer), or ``muc-occupant`` (a MUC room reflected the stanza: ``from`` is the
    occupant JID ``room@service/nick``, which nothing here ties to the signer),
    ``muc-private`` (a MUC private message, XEP-0045 §7.5: signed to an occupant JID with a
    signed muc#user ``<x/>``, delivered from the sender's occupant JID of the same room to the
    recipient's real JID), or ``broadcast`` (a presence signed without ``to``; the server
    addressed this copy to a subscriber, RFC 6121 §4.2.2; ``from`` is checked as for
    ``sender``)."""
    signature_element: etree._Element | None = field(default=None, repr=False, compare=False)
    """The ds:Signature element this result describes (the verified tree's own node)."""

    def signature_binding(self) -> xmldsig.Signature:
        """The ds:Signature as the generated ``xmppsec.bindings.xmldsig.Signature`` dataclass
        (schema-validated, bound on request only). It describes the signature as received:
        trust what it says only when ``valid``."""
        from xmppsec.bindings.xmldsig import Signature

        from ..schema import to_binding

        return to_binding(self._signature(), Signature)

    def stanza_desc_binding(self) -> dsig.StanzaDesc | dsig_robust.StanzaDesc:
        """The signature's stanza-desc (XEP-0290 §2, inside ds:Object) as the generated
        ``xmppsec.bindings.dsig.StanzaDesc`` (or ``dsig_robust.StanzaDesc`` for the robust
        profile). As received: trust it only when ``valid``."""
        from xmppsec.bindings import dsig, dsig_robust

        from ..schema import to_binding

        sig = self._signature()
        found = sig.find(f"{{{NS.DS}}}Object/{{{NS.XMPP_DSIG}}}stanza-desc")
        if found is not None:
            return to_binding(found, dsig.StanzaDesc)
        found = sig.find(f"{{{NS.DS}}}Object/{{{NS.XMPP_DSIG_ROBUST}}}stanza-desc")
        if found is not None:
            return to_binding(found, dsig_robust.StanzaDesc)
        raise UsageError("the Signature carries no stanza-desc")

    def _signature(self) -> etree._Element:
        if self.signature_element is None:
            raise UsageError("this result holds no Signature element")
        return self.signature_element

    def to_json(self) -> dict[str, Any]:
        return {
            "signer": self.signer,
            "timestamp": self.timestamp_text or None,
            "timestamp_status": self.timestamp_status.value,
            "valid": self.valid,
            "profile": self.profile,
            "sender_relation": self.sender_relation or None,
            "error": _describe(self.error),
            "references": [
                {"uri": r.uri, "element": r.element, "status": r.status.value}
                for r in self.references
            ],
        }


def _bare(jid: str) -> str:
    try:
        return str(parse_jid(jid).bare)
    except JIDError:
        return jid


def _describe(error: XmppSecError | None) -> str | None:
    if error is None:
        return None
    return f"{type(error).__name__}: {error}"


def _slot_setters(cls: type) -> dict[str, Any]:
    """The ``__set__`` of each field's slot (member descriptor) of a slotted dataclass."""
    return {f.name: cls.__dict__[f.name].__set__ for f in fields(cls)}


_SR_SET = _slot_setters(SignatureResult)


def signature_result(
    *,
    valid: bool,
    signer: str,
    timestamp: datetime | None,
    timestamp_text: str,
    timestamp_status: TimestampStatus,
    profile: str,
    signature_method: str,
    references: tuple[ReferenceResult, ...],
    error: XmppSecError | None,
    certificate: x509.Certificate | None,
    offline: bool,
    sender_relation: str,
    signature_element: etree._Element | None,
) -> SignatureResult:
    """``SignatureResult(...)`` with every field given, built as :func:`reference_result`
    builds (the slots set directly; tests/test_dsig_verify.py checks the fields and the
    equality with the constructor's object)."""
    result: SignatureResult = _new_object(SignatureResult)
    set_ = _SR_SET
    set_["valid"](result, valid)
    set_["signer"](result, signer)
    set_["timestamp"](result, timestamp)
    set_["timestamp_text"](result, timestamp_text)
    set_["timestamp_status"](result, timestamp_status)
    set_["profile"](result, profile)
    set_["signature_method"](result, signature_method)
    set_["references"](result, references)
    set_["error"](result, error)
    set_["certificate"](result, certificate)
    set_["offline"](result, offline)
    set_["sender_relation"](result, sender_relation)
    set_["signature_element"](result, signature_element)
    return result


@dataclass(frozen=True, slots=True)
class SignedChild:
    """One signed child and who signed it: the bare JIDs or domains of the valid signatures
    whose references cover it, in signature order."""

    element: etree._Element
    """A copy of the child without its tail (text after it is not signed)."""
    signers: tuple[str, ...]

    @property
    def name(self) -> str:
        """Qualified name (``{namespace}local``)."""
        return str(self.element.tag)


def _rehome(el: etree._Element, old: str, new: str) -> etree._Element:
    """A copy of ``el`` with namespace ``old`` replaced by ``new`` wherever it is used.

    Built element by element with an explicit namespace map: renaming ``.tag`` in place
    leaves libxml2 a tree that serializes differently from what it holds."""
    tag = el.tag
    if isinstance(tag, str) and tag.startswith("{" + old + "}"):
        tag = "{" + new + "}" + tag[len(old) + 2 :]
    namespaces: dict[str | None, str] = {
        prefix: new if uri == old else uri for prefix, uri in el.nsmap.items()
    }
    out = etree.Element(tag, nsmap=nsmap(namespaces))
    for name, value in el.attrib.items():
        out.set(name, value)
    out.text = el.text
    for child in el:
        moved = _rehome(child, old, new) if isinstance(child.tag, str) else copy.copy(child)
        moved.tail = child.tail
        out.append(moved)
    return out


@dataclass(frozen=True, slots=True)
class VerificationResult:
    """What ``Verifier.check`` and ``Verifier.verify`` return (docs/verification.md): the
    verdict under the policy (``valid``, else the first ``error``), one result per Signature,
    the children no valid signature covers, and the verified children (``signed_children``,
    ``signed``). Frozen; ``to_json`` gives the JSON report of docs/verification.md."""

    valid: bool
    signatures: tuple[SignatureResult, ...]
    unsigned_children: tuple[str, ...]
    """Qualified names of the stanza's children that no valid signature covers (excluding
    the Signature elements themselves), in document order."""
    error: XmppSecError | None = None
    """Why ``valid`` is False under the policy (the first reason)."""
    stanza_name: str = ""
    stanza_attributes: tuple[tuple[str, str], ...] = ()
    """The live stanza's attributes; verified against stanza-desc when ``valid``."""
    profile: Profile | None = field(default=None, repr=False)
    stanza_namespace: str = ""
    """The stanza's namespace (``jabber:client`` or ``jabber:server``)."""
    _signed: tuple[tuple[etree._Element, tuple[str, ...]], ...] = field(default=(), repr=False)

    def signed(self, signer: str | None = None) -> tuple[SignedChild, ...]:
        """The children covered by a valid signature whose reference is ``ok``, each with
        the signers that cover it, in document order; with ``signer``, only the children
        that signer's valid signature covers.

        Empty unless the stanza verified: unverified nodes are never handed out as signed.
        Each element is a copy without its tail: text after a child is not signed.
        """
        if not self.valid:
            return ()
        wanted = None if signer is None else _bare(signer)
        out = []
        for el, signers in self._signed:
            if wanted is not None and wanted not in signers:
                continue
            child = copy.deepcopy(el)
            child.tail = None
            out.append(SignedChild(child, signers))
        return tuple(out)

    def signed_children(self, signer: str | None = None) -> tuple[etree._Element, ...]:
        """Copies (without tails) of the children :meth:`signed` returns."""
        return tuple(c.element for c in self.signed(signer))

    def signed_as(self, cls: type[T], signer: str | None = None) -> T:
        """The verified stanza as an instance of the generated dataclass ``cls`` (for example
        ``xmppsec.bindings.jabber_client.Message``), built from the signed content only: the
        stanza element with its attributes as verified, and the children :meth:`signed`
        returns (unsigned children, text and tails left out; with ``signer``, only that
        signer's). The result is validated against the schemas and bound on request only.

        A stanza verified in ``jabber:server`` (a server-to-server stream) binds to the
        ``jabber:client`` classes: RFC 6120 §4.8.3 gives both one content model.

        Raises :class:`~xmppsec.errors.UsageError` when the stanza did not verify (nothing
        is signed to bind), :class:`~xmppsec.errors.StanzaSchemaError` when the signed
        content is not valid for ``cls``.
        """
        if not self.valid:
            raise UsageError("the stanza did not verify: there is no signed content to bind")
        from ..schema import binding_qname, to_binding

        namespace = self.stanza_namespace
        children = self.signed_children(signer)
        wanted = etree.QName(binding_qname(cls)).namespace or ""
        if {namespace, wanted} == {NS.JABBER_SERVER.value, NS.JABBER_CLIENT.value}:
            # RFC 6120 §4.8.3: jabber:client and jabber:server stanzas share one content model,
            # so a stanza verified on a server-to-server stream binds to the jabber:client
            # classes (the only ones generated); its own-namespace descendants move along.
            children = tuple(_rehome(child, namespace, wanted) for child in children)
            namespace = wanted
        tag = "{" + namespace + "}" + self.stanza_name
        root = etree.Element(tag, nsmap=nsmap({None: namespace}))
        for name, value in self.stanza_attributes:
            root.set(name, value)
        root.extend(children)
        return to_binding(root, cls)

    @property
    def signers(self) -> tuple[str, ...]:
        """Every signer of a signed child, first seen first; more than one means the
        children were signed by different signers (see :meth:`signed`)."""
        seen: dict[str, None] = {}
        for _, signers in self._signed if self.valid else ():
            seen.update(dict.fromkeys(signers))
        return tuple(seen)

    def to_json(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "error": _describe(self.error),
            "signatures": [s.to_json() for s in self.signatures],
            "unsigned_children": list(self.unsigned_children),
            "signed_children": [
                {"element": c.name, "signers": list(c.signers)} for c in self.signed()
            ],
        }

    def to_json_text(self) -> str:
        return json.dumps(self.to_json(), indent=2, sort_keys=False)


_VR_SET = _slot_setters(VerificationResult)


def verification_result(
    *,
    valid: bool,
    signatures: tuple[SignatureResult, ...],
    unsigned_children: tuple[str, ...],
    error: XmppSecError | None,
    stanza_name: str,
    stanza_attributes: tuple[tuple[str, str], ...],
    profile: Profile | None,
    stanza_namespace: str,
    _signed: tuple[tuple[etree._Element, tuple[str, ...]], ...],
) -> VerificationResult:
    """``VerificationResult(...)`` with every field given, built as :func:`reference_result`
    builds."""
    result: VerificationResult = _new_object(VerificationResult)
    set_ = _VR_SET
    set_["valid"](result, valid)
    set_["signatures"](result, signatures)
    set_["unsigned_children"](result, unsigned_children)
    set_["error"](result, error)
    set_["stanza_name"](result, stanza_name)
    set_["stanza_attributes"](result, stanza_attributes)
    set_["profile"](result, profile)
    set_["stanza_namespace"](result, stanza_namespace)
    set_["_signed"](result, _signed)
    return result
