"""Signing, XEP-0290 v0.2 §2, both profiles (the profile is data: ``_profile``)."""

from __future__ import annotations

import base64
import binascii
import operator
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from .._lxml import nsmap
from ..algorithms import (
    LEGACY_DIGESTS,
    LEGACY_SIGNATURES,
    C14NMethod,
    DigestMethod,
    PrivateKey,
    SignatureMethod,
    default_signature_method,
    digest,
    digest_constructor,
    sign_bytes,
)
from ..errors import JIDError, StanzaSchemaError, UntrustedKey, UsageError
from ..jid import parse_jid
from ..keys import check_key_strength, xmpp_addrs
from ..parser import DEFAULT_LIMITS, Limits, check_tree, parse
from ..timestamps import TimestampClock
from ..xmpp import NS
from . import _c14n
from ._profile import ROBUST, Profile, ProfileName, resolve_profile
from ._stanza import (
    DS,
    DSIG_ID,
    check_stanza,
    default_attributes,
    stanza_kind,
)

if TYPE_CHECKING:  # imported lazily at run time (_binding_bytes): not on the import path
    from xmppsec.bindings.jabber_client import Iq, Message, Presence

__all__ = ["DEFAULT_CLOCK", "Selector", "Signer", "StanzaBinding"]

# One clock per process: timestamps stay strictly increasing per signer across every Signer
# instance and thread (XEP-0290 §5).
DEFAULT_CLOCK = TimestampClock()

# The XEP writes the id attribute with the prefix d (XEP-0290 §2, example 2).
etree.register_namespace("d", NS.XMPP_DSIG)

Selector = Callable[[etree._Element], bool]
StanzaBinding: TypeAlias = "Message | Presence | Iq"
"""A generated jabber:client stanza binding that :meth:`Signer.sign` accepts."""


@dataclass(frozen=True, init=False)
class Signer:
    """Signs stanzas for one signer identity. Immutable; safe to share between threads.

    ``signer`` is the bare JID of the signing entity, or a domain for a server or service
    (XEP-0290 §2). When a certificate is given, its id-on-xmppAddr must name the signer.
    ``profile`` is a :class:`Profile` or a built-in profile's name; the default is the
    robust profile, which survives routing through real servers; ``profile=SPEC`` signs as
    XEP-0290 v0.2 is written, for interop with another implementation. A configuration that
    cannot sign raises :class:`~xmppsec.errors.UsageError`.
    """

    key: PrivateKey
    signer: str
    certificate: x509.Certificate | None
    method: SignatureMethod
    digest_method: DigestMethod
    profile: Profile
    include_certificate: bool
    allow_legacy: bool
    limits: Limits
    clock: TimestampClock = field(repr=False)
    _parts: dict[str, _Templates] | None = field(repr=False, compare=False)

    def __init__(
        self,
        key: PrivateKey,
        signer: str,
        certificate: x509.Certificate | None = None,
        method: SignatureMethod | None = None,
        digest_method: DigestMethod = DigestMethod.SHA256,
        profile: Profile | ProfileName = ROBUST,
        include_certificate: bool = False,
        allow_legacy: bool = False,
        limits: Limits = DEFAULT_LIMITS,
        clock: TimestampClock = DEFAULT_CLOCK,
    ) -> None:
        # The types say it for mypy users; callers without a type checker get a UsageError
        # for what is no private key (a certificate, PEM bytes), not UnsupportedAlgorithm.
        if not isinstance(key, PrivateKey):
            raise UsageError(
                "key must be an RSA, EC, Ed25519 or DSA private key of the cryptography "
                f"package, not {type(key).__name__}"
            )
        if certificate is not None and not isinstance(certificate, x509.Certificate):
            raise UsageError(
                f"certificate must be an x509.Certificate, not {type(certificate).__name__}"
            )
        try:
            jid = parse_jid(signer)
        except JIDError as exc:
            raise UsageError(f"the signer is not a JID: {exc}") from None
        if jid.resource is not None:
            raise UsageError("the signer is a bare JID or a domain, never a full JID")
        chosen = method or default_signature_method(key)
        if not allow_legacy and (chosen in LEGACY_SIGNATURES or digest_method in LEGACY_DIGESTS):
            raise UsageError(f"{chosen} / {digest_method} needs allow_legacy=True")
        try:
            check_key_strength(key.public_key(), allow_legacy=allow_legacy)
        except UntrustedKey as exc:
            raise UsageError(f"the signing key is not usable: {exc}") from None
        name = str(jid)
        if certificate is not None:
            if certificate.public_key() != key.public_key():
                raise UsageError("the certificate does not belong to the private key")
            if name not in {_bare_or_domain(a) for a in xmpp_addrs(certificate)}:
                raise UsageError(f"the certificate's id-on-xmppAddr does not name {name}")
        if include_certificate and certificate is None:
            raise UsageError("include_certificate needs a certificate")
        values = {
            "key": key,
            "signer": name,
            "certificate": certificate,
            "method": chosen,
            "digest_method": digest_method,
            "profile": resolve_profile(profile),
            "include_certificate": include_certificate,
            "allow_legacy": allow_legacy,
            "limits": limits,
            "clock": clock,
            "_parts": None,
        }
        for attr, value in values.items():
            object.__setattr__(self, attr, value)

    # -- public API ---------------------------------------------------------------------

    def sign(self, stanza: bytes | StanzaBinding, *, select: Selector | None = None) -> bytes:
        """Parse ``stanza`` (hardened parser), sign it, return the signed stanza's bytes.

        ``stanza`` is the serialized stanza, or a generated binding instance
        (``xmppsec.bindings.jabber_client.Message``, ``Presence`` or ``Iq``), which is
        serialized and schema-validated by :func:`xmppsec.schema.from_binding` first and
        then signed as those bytes: one signing path. Sign an lxml element with
        :meth:`sign_element`.
        """
        if not isinstance(stanza, bytes | bytearray | memoryview):
            stanza = _binding_bytes(stanza)
        root = parse(stanza, self.limits)  # parse() already ran check_tree
        prepared = self._prepare(root, select)
        if _template_fits(self.profile, root, prepared):
            return self._sign_by_template(root, prepared)
        self._attach(root, prepared)
        # UTF-8 (RFC 6120 §11.6), no XML declaration: lxml's default (ASCII) would turn every
        # non-ASCII character into a character reference, up to 2.7x the size (XEP-0274:
        # stanza limits can be as low as 10,000 bytes).
        return etree.tostring(root, encoding="utf-8", xml_declaration=False)

    def sign_element(
        self, stanza: etree._Element, *, select: Selector | None = None
    ) -> etree._Element:
        """Sign ``stanza`` in place (adds default attributes, ``d:id`` attributes and the
        Signature) and return it. ``select`` picks the children to sign (default: all,
        including earlier signatures: a signature over a signature)."""
        check_tree(stanza, self.limits)  # a tree built elsewhere: RFC 6120 §11.1 and limits
        self._attach(stanza, self._prepare(stanza, select))
        return stanza

    # -- the one writer: a Signature tree, and templates cut from its output ---------------

    def _prepare(self, stanza: etree._Element, select: Selector | None) -> _Prepared:
        """Everything before the Signature: checks, default attributes, ``d:id`` values,
        child digests and the timestamp (XEP-0290 §2 steps 1–4)."""
        if stanza.getparent() is not None:
            # Signed in a stream (or any other) context, inclusive canonicalization would take
            # the context's namespaces and xml:lang in: a verifier holding the stanza alone
            # could not check it. Sign a detached stanza (copy.deepcopy) instead.
            raise StanzaSchemaError("sign a stanza element of its own, not one inside a tree")
        kind = stanza_kind(stanza)
        taken = check_stanza(stanza, kind, signing=True)
        sender = stanza.get("from")
        if sender is not None:
            self._check_sender(sender)
        default_attributes(stanza, kind)
        p = self.profile
        parent = stanza
        if p.placement == "iq-payload" and kind == "iq":
            # RFC 6120 §8.2.3: one payload; Prosody refuses a Signature beside it.
            if len(stanza) != 1:
                raise StanzaSchemaError(
                    f"{self.profile.name} profile: an iq is signed inside its single payload"
                )
            parent = stanza[0]
        chosen = list(stanza) if select is None else [c for c in stanza if select(c)]
        if len(chosen) > self.limits.max_references:
            raise StanzaSchemaError(
                f"{len(chosen)} children to sign; the limit is {self.limits.max_references}"
            )
        if p.reference_scheme == "dsig-id":
            names = self._assign_ids(taken, chosen)
        else:
            names = [str(c.tag) for c in chosen]
        # Digests are taken before the Signature exists, which equals the enveloped-signature
        # transform's view of a payload that will contain it.
        if p.child_c14n == C14NMethod.XMPP_DSIG_0:
            octets = _c14n.c14n_children(stanza, chosen)
        else:
            octets = [_c14n.c14n(c, p.child_c14n) for c in chosen]
        hasher = digest_constructor(self.digest_method)
        b64 = binascii.b2a_base64
        digests = [b64(hasher(data).digest(), newline=False) for data in octets]
        _, timestamp = self.clock.next(self.signer)
        return _Prepared(kind, parent, names, digests, timestamp)

    def _attach(self, stanza: etree._Element, prepared: _Prepared) -> None:
        signature = self._build_signature(
            prepared.kind,
            [(str(k), str(v)) for k, v in stanza.items()],
            prepared.names,
            [d.decode() for d in prepared.digests],
            prepared.timestamp,
        )
        prepared.parent.append(signature)
        self._finish(signature)

    def _sign_by_template(self, stanza: etree._Element, prepared: _Prepared) -> bytes:
        """The bytes :meth:`_attach` + ``etree.tostring`` produce, written from the pieces
        of :class:`_Templates` (cut from the tree writer's own output) without building and
        canonicalizing a Signature tree. Only where :func:`_template_fits` holds."""
        t = self._templates(prepared.kind, str(stanza.tag))
        items = [(str(k), str(v)) for k, v in stanza.items()]
        inherited, copy_c = _canonical_attributes(self.profile, items)
        names, digests = prepared.names, prepared.digests
        refs_c = t.references(names, digests, canonical=True)
        ts = prepared.timestamp.encode()
        desc_c = t.desc_c.render(inherited, copy_c, refs_c, ts)
        dv = binascii.b2a_base64(digest(self.digest_method, desc_c), newline=False)
        si_c = t.si_c.render(inherited, dv)
        sv = binascii.b2a_base64(sign_bytes(self.key, self.method, si_c), newline=False)
        out = etree.tostring(stanza, encoding="utf-8", xml_declaration=False)
        # The copy in stanza-desc carries the stanza's attributes, serialized as the stanza's
        # own start tag serializes them (after its one namespace declaration).
        end = out.index(b">")
        empty = out[end - 1 : end] == b"/"
        attrs_doc = out[t.start_tag : end - 1 if empty else end]
        if names:
            refs = t.references(names, digests, canonical=False)
            signature = t.doc.render(dv, sv, attrs_doc, refs, ts)
        else:
            signature = t.doc_empty.render(dv, sv, attrs_doc, ts)
        if empty:  # <message .../>: nothing inside yet
            return out[: end - 1] + b">" + signature + b"</" + prepared.kind.encode() + b">"
        close = len(prepared.kind) + 3  # </kind>
        return out[:-close] + signature + out[-close:]

    def _templates(self, kind: str, tag: str) -> _Templates:
        """This signer's templates for one stanza tag, cut once from the tree writer."""
        cache = self._parts
        if cache is None:
            cache = {}
            object.__setattr__(self, "_parts", cache)
        found = cache.get(tag)
        if found is None:  # a race cuts the same bytes twice
            found = cache[tag] = _Templates.cut(self, kind, tag[1 : tag.index("}")])
        return found

    # -- steps --------------------------------------------------------------------------

    def _check_sender(self, sender: str) -> None:
        # A client signs its own stanzas; a server or service (domain signer) signs stanzas
        # from its domain (users, MUC occupants) — XEP-0290 §2, XEP-0274 §4.
        jid = parse_jid(sender)
        if "@" in self.signer:
            if str(jid.bare) != self.signer:
                raise UsageError(f"stanza from {sender} cannot be signed as {self.signer}")
        elif jid.domain != self.signer:
            raise UsageError(f"stanza from {sender} is not in the domain {self.signer}")

    def _assign_ids(self, existing: frozenset[str], chosen: list[etree._Element]) -> list[str]:
        # XEP-0290 §2: each signed child gets a d:id "sufficiently unique". Existing ids are
        # kept (a later signer signs the same children); check_stanza already refused
        # collisions anywhere in the stanza and handed over every id in use.
        stem = "d" + secrets.token_hex(4)
        if not existing:
            # No d:id anywhere yet: the numbered ids cannot collide with anything.
            out = [f"{stem}-{n}" for n in range(1, len(chosen) + 1)]
            for child, value in zip(chosen, out, strict=True):
                child.set(DSIG_ID, value)
            return out
        taken = set(existing)
        n = 0
        out = []
        for child in chosen:
            current = child.get(DSIG_ID)
            if current is None:
                while True:
                    n += 1
                    current = f"{stem}-{n}"
                    if current not in taken:
                        break
                child.set(DSIG_ID, current)
                taken.add(current)
            out.append(current)
        return out

    def _build_signature(
        self,
        kind: str,
        attributes: Iterable[tuple[str, str]],
        names: list[str],
        digests: list[str],
        timestamp: str,
    ) -> etree._Element:
        """The one writer of a Signature (XEP-0290 §2), DigestValue and SignatureValue still
        empty (:meth:`_finish` fills them); the templates are cut from its output."""
        p = self.profile
        d = "{" + p.desc_namespace + "}"
        # A d:id profile declares xmlns:d on its own Signature, and stanza-desc uses that
        # prefix. Inclusive C14N of SignedInfo / stanza-desc then already renders xmlns:d, so
        # a later signer that puts d:id on this Signature (a signature over a signature) or
        # on an element wrapping this stanza (a MUC service forwarding the signed original,
        # XEP-0274) adds no new namespace node in scope: this signature stays valid.
        # Otherwise that xmlns:d declaration would change the canonical SignedInfo.
        own_d = p.reference_scheme == "dsig-id" and p.desc_namespace == NS.XMPP_DSIG
        sig_ns: dict[str | None, str] = {None: NS.DS, "d": NS.XMPP_DSIG} if own_d else {None: NS.DS}
        inner_ns: dict[str | None, str] = {} if own_d else {None: NS.DS}
        sig = etree.Element(DS + "Signature", nsmap=nsmap(sig_ns))
        si = etree.SubElement(sig, DS + "SignedInfo")
        etree.SubElement(si, DS + "CanonicalizationMethod", Algorithm=p.signed_info_c14n)
        etree.SubElement(si, DS + "SignatureMethod", Algorithm=self.method)
        ref = etree.SubElement(si, DS + "Reference", URI="#" + p.desc_id)
        tr = etree.SubElement(ref, DS + "Transforms")
        etree.SubElement(tr, DS + "Transform", Algorithm=p.desc_transform)
        etree.SubElement(ref, DS + "DigestMethod", Algorithm=self.digest_method)
        etree.SubElement(ref, DS + "DigestValue")
        etree.SubElement(sig, DS + "SignatureValue")
        if self.include_certificate:
            assert self.certificate is not None
            ki = etree.SubElement(sig, DS + "KeyInfo")
            xd = etree.SubElement(ki, DS + "X509Data")
            cert = etree.SubElement(xd, DS + "X509Certificate")
            cert.text = base64.b64encode(self.certificate.public_bytes(Encoding.DER)).decode()
        obj = etree.SubElement(sig, DS + "Object")
        desc_ns: dict[str | None, str] = {} if own_d else {None: p.desc_namespace}
        desc = etree.SubElement(obj, d + "stanza-desc", nsmap=nsmap(desc_ns))
        desc.set("id", p.desc_id)
        etree.SubElement(desc, d + "signer").text = self.signer
        dtr = etree.SubElement(desc, DS + "Transforms", nsmap=nsmap(inner_ns))
        for transform in p.child_transforms:
            etree.SubElement(dtr, DS + "Transform", Algorithm=transform)
        etree.SubElement(desc, DS + "DigestMethod", nsmap=nsmap(inner_ns)).set(
            "Algorithm", self.digest_method
        )
        copy = etree.SubElement(desc, d + kind)
        for name, value in attributes:
            copy.set(name, value)
        for name, value in zip(names, digests, strict=True):
            ref = etree.SubElement(copy, d + "reference")
            if p.reference_scheme == "dsig-id":
                ref.set("URI", p.reference_prefix + name)
            else:
                # The child's expanded name, {namespace}local (docs/robust-profile.md).
                ns, _, local = name[1:].partition("}") if name[0] == "{" else ("", "", name)
                if ns:
                    ref.set("ns", ns)
                ref.set("name", local)
            ref.text = value
        etree.SubElement(desc, d + "timestamp").text = timestamp
        return sig

    def _finish(self, sig: etree._Element) -> None:
        # Digest stanza-desc and sign SignedInfo in their final place in the stanza, so that
        # namespace declarations and xml:* attributes are inherited as a verifier sees them.
        p = self.profile
        si = sig[0]
        desc = sig.find(f"{DS}Object/{{{p.desc_namespace}}}stanza-desc")
        assert desc is not None
        ref = si[2]
        ref[2].text = base64.b64encode(
            digest(self.digest_method, _c14n.c14n(desc, p.desc_transform))
        ).decode("ascii")
        value = sign_bytes(self.key, self.method, _c14n.c14n(si, p.signed_info_c14n))
        sig[1].text = base64.b64encode(value).decode("ascii")


def _binding_bytes(stanza: object) -> bytes:
    """A stanza binding's schema-valid bytes. The bindings and xsdata load here, on first
    use, never when ``xmppsec.dsig`` is imported."""
    if isinstance(stanza, etree._Element):
        raise UsageError("sign() takes bytes or a stanza binding; an element: sign_element()")
    if isinstance(stanza, str):
        raise UsageError("sign() takes bytes (XMPP is UTF-8 on the wire), not str")
    from xmppsec.bindings.jabber_client import Iq, Message, Presence

    if not isinstance(stanza, Message | Presence | Iq):
        raise UsageError(
            f"sign() takes bytes or a Message, Presence or Iq stanza binding, "
            f"not {type(stanza).__name__}"
        )
    from ..schema import from_binding

    return from_binding(stanza)


def _bare_or_domain(addr: str) -> str:
    jid = parse_jid(addr)
    return str(jid.bare)


@dataclass(frozen=True, slots=True)
class _Prepared:
    kind: str
    parent: etree._Element
    names: list[str]
    digests: list[bytes]  # base64
    timestamp: str


# Sentinels for the variable parts of a probe Signature written by the tree writer: plain
# ASCII that no escaping (C14N, the robust form, libxml2's serializer) changes.
_S_LANG = "@lang@"
_S_REFS = "@refs@"
_S_TS = "@ts@"
_S_DV = "@dv@"
_S_SV = "@sv@"
_S_NAME = "@name@"
_S_NS = "@ns@"
_S_VALUE = "@value@"
_SENTINELS = tuple(
    s.encode() for s in (_S_LANG, _S_REFS, _S_TS, _S_DV, _S_SV, _S_NAME, _S_NS, _S_VALUE)
)


@dataclass(frozen=True, slots=True)
class _Template:
    """Constant byte strings around variable slots: ``render(*values)`` gives
    ``pieces[0] + values[order[0]] + pieces[1] + values[order[1]] + ...``, as one bytes
    ``%`` format (``fmt``) fed by one ``itemgetter`` (``pick``): no Python loop per call."""

    pieces: tuple[bytes, ...]
    order: tuple[int, ...]
    fmt: bytes = field(init=False, repr=False, compare=False)
    pick: Callable[[tuple[bytes, ...]], Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        escaped = [piece.replace(b"%", b"%%") for piece in self.pieces]
        object.__setattr__(self, "fmt", b"%b".join(escaped))
        # itemgetter of one index returns the value itself, which % takes as one argument.
        object.__setattr__(self, "pick", operator.itemgetter(*self.order))

    def render(self, *values: bytes) -> bytes:
        out: bytes = self.fmt % self.pick(values)
        return out

    @classmethod
    def cut(cls, output: bytes, slots: tuple[bytes | None, ...]) -> _Template:
        """Split ``output`` where each slot's sentinel bytes occur (in whatever order the
        writer put them; on a tie, the earlier slot first); a ``None`` slot is absent from
        this output. Every sentinel must be found, and none may remain in a piece."""
        pieces: list[bytes] = []
        order: list[int] = []
        left = {i: s for i, s in enumerate(slots) if s is not None}
        pos = 0
        while left:
            found = {i: output.find(s, pos) for i, s in left.items()}
            if -1 in found.values():
                raise AssertionError(f"template probe: a sentinel is missing from {output!r}")
            i = min(found, key=lambda k: (found[k], k))
            pieces.append(output[pos : found[i]])
            order.append(i)
            pos = found[i] + len(left.pop(i))
        pieces.append(output[pos:])
        if any(s in piece for piece in pieces for s in _SENTINELS):
            raise AssertionError(f"template probe: a sentinel left in {output!r}")
        return cls(tuple(pieces), tuple(order))


@dataclass(frozen=True, slots=True)
class _Templates:
    """One signer's Signature for one stanza kind as constant pieces, cut from what the
    one writer (:meth:`Signer._build_signature` and :meth:`Signer._finish`) produces for a
    probe stanza whose variable parts are sentinels: the canonical stanza-desc and
    SignedInfo (digested and signed) and the serialized Signature; and one reference in
    each form, cut from a probe with one reference where the first had the sentinel."""

    desc_c: _Template  # (inherited xml:*, copy attributes, references, timestamp)
    si_c: _Template  # (inherited xml:*, stanza-desc digest)
    doc: _Template  # (digest, signature value, copy attributes, references, timestamp)
    doc_empty: _Template  # (digest, signature value, copy attributes, timestamp)
    ref_c: _Template  # one reference: (name, namespace, digest)
    ref_doc: _Template
    ref_ns_c: _Template | None  # element scheme: a reference naming a namespace too
    ref_ns_doc: _Template | None
    start_tag: int  # len(b'<kind xmlns="..."'): where a serialized stanza's attributes begin

    def references(self, names: list[str], digests: list[bytes], *, canonical: bool) -> bytes:
        """Every reference of stanza-desc, in its canonical or its serialized form."""
        plain = self.ref_c if canonical else self.ref_doc
        namespaced = self.ref_ns_c if canonical else self.ref_ns_doc
        fmt, pick = plain.fmt, plain.pick
        if namespaced is None:  # d:id scheme: the name is the child's id
            pairs = zip(names, digests, strict=True)
            return b"".join([fmt % pick((n.encode(), b"", d)) for n, d in pairs])
        out = []
        for name, value in zip(names, digests, strict=True):
            if name[0] == "{":  # element scheme: the child's {namespace}local
                ns, _, local = name[1:].partition("}")
                out.append(namespaced.fmt % namespaced.pick((local.encode(), ns.encode(), value)))
            else:
                out.append(fmt % pick((name.encode(), b"", value)))
        return b"".join(out)

    @classmethod
    def cut(cls, signer: Signer, kind: str, stanza_ns: str) -> _Templates:
        p = signer.profile
        # The probe's xml:lang marks where the inherited xml:* attributes (C14N 1.1 §2.4,
        # spec profile) and the copy's attributes go.
        items = [(_XML + "lang", _S_LANG)]
        inherited, copy_c = _canonical_attributes(p, items)
        copy_doc = b' xml:lang="' + _S_LANG.encode() + b'"'

        def probe(names: list[str], refs_text: bool) -> tuple[bytes, bytes, bytes]:
            """(canonical stanza-desc, canonical SignedInfo, the serialized Signature)"""
            stanza = etree.Element("{" + stanza_ns + "}" + kind, nsmap=nsmap({None: stanza_ns}))
            for k, v in items:
                stanza.set(k, v)
            sig = signer._build_signature(
                kind, items, names, [_S_VALUE] * len(names), _S_TS
            )
            stanza.append(sig)
            desc = sig[-1][0]
            if refs_text:
                desc[3].text = _S_REFS
            sig[0][2][2].text = _S_DV
            sig[1].text = _S_SV
            out = etree.tostring(stanza, encoding="utf-8", xml_declaration=False)
            return (
                _c14n.c14n(desc, p.desc_transform),
                _c14n.c14n(sig[0], p.signed_info_c14n),
                out[out.index(b">") + 1 : -len(kind) - 3],
            )

        desc_c, si_c, doc = probe([], refs_text=True)
        refs, ts = _S_REFS.encode(), _S_TS.encode()
        inh = inherited or None

        def reference(name: str) -> tuple[_Template, _Template]:
            one_c, _, one_doc = probe([name], refs_text=False)
            slots = (_S_NAME.encode(), _S_NS.encode() if "{" in name else None, b"@value@")
            return (
                _Template.cut(_region(one_c, desc_c), slots),
                _Template.cut(_region(one_doc, doc), slots),
            )

        ref_c, ref_doc = reference(_S_NAME)
        ref_ns_c = ref_ns_doc = None
        if p.reference_scheme == "element":
            ref_ns_c, ref_ns_doc = reference("{" + _S_NS + "}" + _S_NAME)
        start = etree.tostring(
            etree.Element("{" + stanza_ns + "}" + kind, nsmap=nsmap({None: stanza_ns}))
        )
        return cls(
            desc_c=_Template.cut(desc_c, (inh, copy_c, refs, ts)),
            si_c=_Template.cut(si_c, (inh, _S_DV.encode())),
            doc=_Template.cut(doc, (_S_DV.encode(), _S_SV.encode(), copy_doc, refs, ts)),
            doc_empty=_Template.cut(
                probe([], refs_text=False)[2], (_S_DV.encode(), _S_SV.encode(), copy_doc, ts)
            ),
            ref_c=ref_c,
            ref_doc=ref_doc,
            ref_ns_c=ref_ns_c,
            ref_ns_doc=ref_ns_doc,
            start_tag=len(start) - 2,  # b'<kind xmlns="..."/>' less '/>'
        )


def _region(one: bytes, with_sentinel: bytes) -> bytes:
    """What ``one`` (a probe with one reference) holds where ``with_sentinel`` (the same
    probe with the sentinel text in the copy instead) holds the sentinel."""
    before, _, after = with_sentinel.partition(_S_REFS.encode())
    if not (one.startswith(before) and one.endswith(after)):
        raise AssertionError("template probe: the two probes differ outside the copy")
    return one[len(before) : len(one) - len(after)]


_XML = "{" + NS.XML + "}"
_XML_TEMPLATE_ATTRS = frozenset(_XML + n for n in ("lang", "space", "id"))
_INHERITED = frozenset(_XML + n for n in ("lang", "space"))  # C14N 1.1 §2.4 (not xml:id)
_PLAIN = _c14n.SPECIAL


def _canonical_attributes(profile: Profile, items: list[tuple[str, str]]) -> tuple[bytes, bytes]:
    """(inherited, copy): the stanza's xml:lang / xml:space that the canonical stanza-desc
    and SignedInfo inherit (C14N 1.1 §2.4; none in the robust form, which inherits nothing),
    and the copy's attributes in canonical order and escaping (C14N: no namespace first,
    then xml:*; robust: Clark names sorted by namespace, local name)."""
    robust = profile.signed_info_c14n == C14NMethod.ROBUST
    no_namespace = not any(k[0] == "{" for k, _ in items)
    if no_namespace and _PLAIN.isdisjoint("".join(v for _, v in items)):
        # No namespaced attribute, nothing to escape (the usual stanza).
        form = ' {{}}{}="{}"' if robust else ' {}="{}"'
        return b"", "".join([form.format(k, v) for k, v in sorted(items)]).encode()
    if robust:
        keyed = sorted(
            ((k[1:].partition("}")[0], k.rpartition("}")[2]) if k[0] == "{" else ("", k), v)
            for k, v in items
        )
        return b"", b"".join(
            b" {" + ns.encode() + b"}" + local.encode() + b'="' + _c14n.robust_attr(v) + b'"'
            for (ns, local), v in keyed
        )
    plain = sorted((k, v) for k, v in items if k[0] != "{")
    xml = sorted((k[len(_XML) :], v) for k, v in items if k[0] == "{")
    inherited = b"".join(
        b" xml:" + n.encode() + b'="' + _c14n.c14n_attr(v) + b'"'
        for n, v in xml
        if _XML + n in _INHERITED
    )
    copy = b"".join(b" " + n.encode() + b'="' + _c14n.c14n_attr(v) + b'"' for n, v in plain)
    copy += b"".join(b" xml:" + n.encode() + b'="' + _c14n.c14n_attr(v) + b'"' for n, v in xml)
    return inherited, copy


def _template_fits(profile: Profile, stanza: etree._Element, prepared: _Prepared) -> bool:
    """Whether the templates write exactly what the tree writer writes (a test compares both
    byte for byte). They hold for a profile whose canonical forms are inclusive C14N 1.1 or
    the robust form, with the Signature appended to a stanza without prefix that declares
    only its default namespace (so the scope at SignedInfo is the Signature's own), stanza
    attributes without a namespace other than xml:lang / xml:space / xml:id (an xml:base
    makes C14N 1.1 refuse, which the tree path reports), and reference names that need no
    escaping in any form. Anything else takes the tree path."""
    if stanza.prefix is not None or prepared.parent is not stanza:
        return False
    nsmap = stanza.nsmap
    if len(nsmap) != 1 or None not in nsmap:
        return False
    for key in stanza.keys():
        name = str(key)
        if name[:1] == "{" and name not in _XML_TEMPLATE_ATTRS:
            return False
    if not _PLAIN.isdisjoint("".join(prepared.names)):
        return False
    forms = {profile.signed_info_c14n, profile.desc_transform}
    return forms == {C14NMethod.C14N11} or forms == {C14NMethod.ROBUST}
