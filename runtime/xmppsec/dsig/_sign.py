"""Signing, XEP-0290 v0.2 §2 (spec profile)."""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

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
from ..errors import SignerMismatch, StanzaSchemaError, UnsupportedAlgorithm
from ..jid import parse_jid
from ..keys import check_key_strength, xmpp_addrs
from ..parser import DEFAULT_LIMITS, Limits, check_tree, parse
from ..timestamps import TimestampClock
from ..xmpp import NS
from . import _c14n
from ._profile import SPEC, Profile
from ._stanza import (
    DS,
    DSIG_ID,
    check_stanza,
    default_attributes,
    stanza_kind,
)

__all__ = ["DEFAULT_CLOCK", "Selector", "Signer"]

# One clock per process: timestamps stay strictly increasing per signer across every Signer
# instance and thread (XEP-0290 §5).
DEFAULT_CLOCK = TimestampClock()

# The XEP writes the id attribute with the prefix d (XEP-0290 §2, example 2).
etree.register_namespace("d", NS.XMPP_DSIG)

Selector = Callable[[etree._Element], bool]


@dataclass(frozen=True)
class Signer:
    """Signs stanzas for one signer identity. Immutable; safe to share between threads.

    ``signer`` is the bare JID of the signing entity, or a domain for a server or service
    (XEP-0290 §2). When a certificate is given, its id-on-xmppAddr must name the signer.
    """

    key: PrivateKey
    signer: str
    certificate: x509.Certificate | None = None
    method: SignatureMethod | None = None
    digest_method: DigestMethod = DigestMethod.SHA256
    profile: Profile = SPEC
    include_certificate: bool = False
    allow_legacy: bool = False
    limits: Limits = DEFAULT_LIMITS
    clock: TimestampClock = field(default=DEFAULT_CLOCK, repr=False)
    _parts: _TemplateParts | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        jid = parse_jid(self.signer)
        if jid.resource is not None:
            raise SignerMismatch("the signer is a bare JID or a domain, never a full JID")
        object.__setattr__(self, "signer", str(jid))
        method = self.method or default_signature_method(self.key)
        object.__setattr__(self, "method", method)
        if not self.allow_legacy and (
            method in LEGACY_SIGNATURES or self.digest_method in LEGACY_DIGESTS
        ):
            raise UnsupportedAlgorithm(f"{method} / {self.digest_method} needs allow_legacy=True")
        check_key_strength(self.key.public_key(), allow_legacy=self.allow_legacy)
        if self.certificate is not None:
            if self.certificate.public_key() != self.key.public_key():
                raise SignerMismatch("the certificate does not belong to the private key")
            if self.signer not in {_bare_or_domain(a) for a in xmpp_addrs(self.certificate)}:
                raise SignerMismatch(
                    f"the certificate's id-on-xmppAddr does not name {self.signer}"
                )
        if self.include_certificate and self.certificate is None:
            raise SignerMismatch("include_certificate needs a certificate")

    # -- public API ---------------------------------------------------------------------

    def sign(self, stanza: bytes, *, select: Selector | None = None) -> bytes:
        """Parse ``stanza`` (hardened parser), sign it, return the signed stanza's bytes."""
        root = parse(stanza, self.limits)  # parse() already ran check_tree
        prepared = self._prepare(root, select)
        fits = _template_fits(self.profile, root, prepared.kind)
        if fits == "spec":
            return self._sign_by_template(root, prepared)
        if fits == "robust":
            return self._sign_by_robust_template(root, prepared)
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
        return self._sign_tree(stanza, select)

    def _sign_tree(self, stanza: etree._Element, select: Selector | None) -> etree._Element:
        self._attach(stanza, self._prepare(stanza, select))
        return stanza

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
            stanza,
            prepared.kind,
            prepared.names,
            [d.decode() for d in prepared.digests],
            prepared.timestamp,
        )
        prepared.parent.append(signature)
        self._finish(signature)

    def _sign_by_template(self, stanza: etree._Element, prepared: _Prepared) -> bytes:
        """The Signature written from templates: the canonical forms of stanza-desc and
        SignedInfo (inclusive C14N 1.1 in their final place) and the serialized Signature,
        byte for byte what :meth:`_attach` + ``etree.tostring`` produce (a test compares
        both), without building and canonicalizing the Signature tree. Only used where
        :func:`_template_fits` holds."""
        assert self.method is not None
        t = self._template_parts()
        kind, names, digests = prepared.kind, prepared.names, prepared.digests
        # The stanza's attributes for the copy (C14N sorts them: no namespace first, then
        # xml:*), and the xml:lang / xml:space that SignedInfo and stanza-desc inherit
        # (C14N 1.1 §2.4). _template_fits allowed no other namespace.
        items = [(str(k), str(v)) for k, v in stanza.items()]
        inherited = b""
        namespaced = any(k[0] == "{" for k, _ in items)
        if not namespaced and _PLAIN.isdisjoint("".join(v for _, v in items)):
            copy_doc = "".join(f' {k}="{v}"' for k, v in items).encode()
            copy_c = "".join(f' {k}="{v}"' for k, v in sorted(items)).encode()
        else:
            plain = sorted((k, v) for k, v in items if k[0] != "{")
            xml_attrs = sorted((k[len(_XML) :], v) for k, v in items if k[0] == "{")
            inherited = b"".join(
                b" xml:" + n.encode() + b'="' + _c_attr(v) + b'"'
                for n, v in xml_attrs
                if n in ("lang", "space")
            )
            copy_c = b"".join(b" " + n.encode() + b'="' + _c_attr(v) + b'"' for n, v in plain)
            copy_c += b"".join(
                b" xml:" + n.encode() + b'="' + _c_attr(v) + b'"' for n, v in xml_attrs
            )
            copy_doc = _serialized_attributes(items)
        prefix = self.profile.reference_prefix
        uris = [prefix + n for n in names]
        if _PLAIN.isdisjoint("".join(uris)):
            # Nothing to escape: both serializations agree.
            refs_c = refs_doc = b"".join(
                b'<d:reference URI="' + u.encode() + b'">' + d + b"</d:reference>"
                for u, d in zip(uris, digests, strict=True)
            )
        else:
            refs_c = b"".join(
                b'<d:reference URI="' + _c_attr(u) + b'">' + d + b"</d:reference>"
                for u, d in zip(uris, digests, strict=True)
            )
            refs_doc = b"".join(
                b'<d:reference URI="' + _d_attr(u) + b'">' + d + b"</d:reference>"
                for u, d in zip(uris, digests, strict=True)
            )
        ts = prepared.timestamp.encode()
        k = kind.encode()
        desc_c = b"".join((
            t.desc_head, inherited, t.desc_mid, k, copy_c, b">", refs_c, b"</d:", k,
            b"><d:timestamp>", ts, b"</d:timestamp></d:stanza-desc>",
        ))  # fmt: skip
        copy_close = b"/>" if not names else b">" + refs_doc + b"</d:" + k + b">"
        return self._seal(stanza, t, k, desc_c, inherited, copy_doc + copy_close, ts)

    def _seal(
        self,
        stanza: etree._Element,
        t: _TemplateParts,
        k: bytes,
        desc_c: bytes,
        inherited: bytes,
        copy_doc: bytes,
        ts: bytes,
    ) -> bytes:
        """Digest stanza-desc, sign SignedInfo, write the Signature and splice it in as the
        stanza's last child (both templates)."""
        assert self.method is not None
        dv = binascii.b2a_base64(digest(self.digest_method, desc_c), newline=False)
        si_c = b"".join((t.si_head, inherited, t.si_mid, dv, t.si_tail))
        sv = binascii.b2a_base64(sign_bytes(self.key, self.method, si_c), newline=False)
        signature = b"".join((
            t.sig_head, dv, t.sig_mid, sv, t.sig_mid2, k, copy_doc, t.ts_open, ts, t.sig_end,
        ))  # fmt: skip
        out = etree.tostring(stanza, encoding="utf-8", xml_declaration=False)
        if out.endswith(b"/>"):  # <message .../>: nothing inside yet
            return out[:-2] + b">" + signature + b"</" + k + b">"
        return out[: -len(k) - 3] + signature + out[-len(k) - 3 :]

    def _sign_by_robust_template(self, stanza: etree._Element, prepared: _Prepared) -> bytes:
        """:meth:`_sign_by_template` for the robust profile: its canonical form is our own
        prefix-free one (docs/robust-profile.md), which inherits nothing from the context."""
        assert self.method is not None
        t = self._template_parts()
        kind, names, digests = prepared.kind, prepared.names, prepared.digests
        items = [(str(k), str(v)) for k, v in stanza.items()]
        # Robust canonical attributes: Clark names sorted by (namespace, local name).
        keyed = sorted(
            ((k[1:].partition("}")[0], k.rpartition("}")[2]) if k[0] == "{" else ("", k), v)
            for k, v in items
        )
        copy_c = b"".join(
            b" {" + ns.encode() + b"}" + local.encode() + b'="' + _r_attr(v) + b'"'
            for (ns, local), v in keyed
        )
        copy_doc = _serialized_attributes(items)
        refs_c: list[bytes] = []
        refs_doc: list[bytes] = []
        for name, value in zip(names, digests, strict=True):
            ns, _, local = name[1:].partition("}") if name[0] == "{" else ("", "", name)
            ns_c = b' {}ns="' + _r_attr(ns) + b'"' if ns else b""
            refs_c.append(
                b'<{' + t.ns + b'}reference {}name="' + _r_attr(local) + b'"' + ns_c + b">"
                + value + b"</{" + t.ns + b"}reference>"
            )  # fmt: skip
            ns_doc = b' ns="' + _d_attr(ns) + b'"' if ns else b""
            refs_doc.append(
                b"<reference" + ns_doc + b' name="' + _d_attr(local) + b'">' + value
                + b"</reference>"
            )  # fmt: skip
        ts = prepared.timestamp.encode()
        k = kind.encode()
        desc_c = b"".join((
            t.desc_head, k, copy_c, b">", *refs_c, b"</{", t.ns, b"}", k, b"><{", t.ns,
            b"}timestamp>", ts, b"</{", t.ns, b"}timestamp></{", t.ns, b"}stanza-desc>",
        ))  # fmt: skip
        copy_close = b"/>" if not names else b">" + b"".join(refs_doc) + b"</" + k + b">"
        return self._seal(stanza, t, k, desc_c, b"", copy_doc + copy_close, ts)

    def _template_parts(self) -> _TemplateParts:
        """The fixed byte strings of this signer's templates (its profile decides which),
        built on first use."""
        parts = self._parts
        if parts is None:
            robust = self.profile.reference_scheme == "element"
            parts = _TemplateParts.build_robust(self) if robust else _TemplateParts.build(self)
            object.__setattr__(self, "_parts", parts)  # idempotent: a race builds it twice
        return parts

    # -- steps --------------------------------------------------------------------------

    def _check_sender(self, sender: str) -> None:
        # A client signs its own stanzas; a server or service (domain signer) signs stanzas
        # from its domain (users, MUC occupants) — XEP-0290 §2, XEP-0274 §4.
        jid = parse_jid(sender)
        if "@" in self.signer:
            if str(jid.bare) != self.signer:
                raise SignerMismatch(f"stanza from {sender} cannot be signed as {self.signer}")
        elif jid.domain != self.signer:
            raise SignerMismatch(f"stanza from {sender} is not in the domain {self.signer}")

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
        stanza: etree._Element,
        kind: str,
        names: list[str],
        digests: list[str],
        timestamp: str,
    ) -> etree._Element:
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
        assert self.method is not None
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
        for name, value in stanza.attrib.items():
            copy.set(name, value)
        for name, value in zip(names, digests, strict=True):
            ref = etree.SubElement(copy, d + "reference")
            if p.reference_scheme == "dsig-id":
                ref.set("URI", p.reference_prefix + name)
            else:
                qname = etree.QName(name)
                if qname.namespace:
                    ref.set("ns", qname.namespace)
                ref.set("name", qname.localname)
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
        assert self.method is not None
        value = sign_bytes(self.key, self.method, _c14n.c14n(si, p.signed_info_c14n))
        sig[1].text = base64.b64encode(value).decode("ascii")


def _bare_or_domain(addr: str) -> str:
    jid = parse_jid(addr)
    return str(jid.bare)


@dataclass(frozen=True, slots=True)
class _TemplateParts:
    """The constant pieces of the canonical forms (``*_head``/``*_mid``/``*_tail``) and of
    the serialized Signature (``sig_*``) for one signer configuration."""

    desc_head: bytes
    desc_mid: bytes
    si_head: bytes
    si_mid: bytes
    si_tail: bytes
    sig_head: bytes
    sig_mid: bytes
    sig_mid2: bytes
    ts_open: bytes = b"<d:timestamp>"
    sig_end: bytes = b"</d:timestamp></d:stanza-desc></Object></Signature>"
    ns: bytes = b""  # the robust profile's namespace (robust templates only)

    @classmethod
    def build_robust(cls, signer: Signer) -> _TemplateParts:
        p = signer.profile
        assert signer.method is not None
        r = p.desc_namespace.encode()
        ds = b"{" + NS.DS.value.encode() + b"}"
        dm = signer.digest_method.value.encode()
        desc_id = p.desc_id.encode()
        c14n_uri = p.signed_info_c14n.value.encode()
        desc_transform = p.desc_transform.value.encode()
        method = signer.method.value.encode()

        def algorithm(tag: bytes, uri: bytes) -> bytes:
            value = _r_attr(uri.decode())
            return b"<" + ds + tag + b' {}Algorithm="' + value + b'"></' + ds + tag + b">"

        key_info = _key_info(signer)
        transforms_doc = b"".join(
            b'<Transform Algorithm="' + t.encode() + b'"/>' for t in p.child_transforms
        )
        return cls(
            desc_head=b"".join((
                b"<{", r, b"}stanza-desc {}id=\"", _r_attr(p.desc_id), b'"><{', r, b"}signer>",
                _r_text(signer.signer), b"</{", r, b"}signer><", ds, b"Transforms>",
                *(algorithm(b"Transform", t.encode()) for t in p.child_transforms),
                b"</", ds, b"Transforms>", algorithm(b"DigestMethod", dm), b"<{", r, b"}",
            )),  # fmt: skip
            desc_mid=b"",
            si_head=b"".join((
                b"<", ds, b"SignedInfo>", algorithm(b"CanonicalizationMethod", c14n_uri),
                algorithm(b"SignatureMethod", method), b"<", ds, b'Reference {}URI="#',
                _r_attr(p.desc_id), b'"><', ds, b"Transforms>",
                algorithm(b"Transform", desc_transform), b"</", ds, b"Transforms>",
                algorithm(b"DigestMethod", dm), b"<", ds, b"DigestValue>",
            )),  # fmt: skip
            si_mid=b"",
            si_tail=b"</" + ds + b"DigestValue></" + ds + b"Reference></" + ds + b"SignedInfo>",
            sig_head=b"".join((
                b'<Signature xmlns="', NS.DS.value.encode(),
                b'"><SignedInfo><CanonicalizationMethod Algorithm="', c14n_uri,
                b'"/><SignatureMethod Algorithm="', method, b'"/><Reference URI="#', desc_id,
                b'"><Transforms><Transform Algorithm="', desc_transform,
                b'"/></Transforms><DigestMethod Algorithm="', dm, b'"/><DigestValue>',
            )),  # fmt: skip
            sig_mid=b"</DigestValue></Reference></SignedInfo><SignatureValue>",
            sig_mid2=b"".join((
                b"</SignatureValue>", key_info, b'<Object><stanza-desc xmlns="', r, b'" id="',
                desc_id, b'"><signer>', _d_text(signer.signer), b'</signer><Transforms xmlns="',
                NS.DS.value.encode(), b'">', transforms_doc, b'</Transforms><DigestMethod xmlns="',
                NS.DS.value.encode(), b'" Algorithm="', dm, b'"/><',
            )),  # fmt: skip
            ts_open=b"<timestamp>",
            sig_end=b"</timestamp></stanza-desc></Object></Signature>",
            ns=r,
        )

    @classmethod
    def build(cls, signer: Signer) -> _TemplateParts:
        p = signer.profile
        assert signer.method is not None
        dm = signer.digest_method.value.encode()
        desc_id = p.desc_id.encode()
        c14n_uri = p.signed_info_c14n.value.encode()
        desc_transform = p.desc_transform.value.encode()
        method = signer.method.value.encode()
        transforms_c = b"".join(
            b'<Transform Algorithm="' + t.encode() + b'"></Transform>' for t in p.child_transforms
        )
        transforms_doc = b"".join(
            b'<Transform Algorithm="' + t.encode() + b'"/>' for t in p.child_transforms
        )
        key_info = _key_info(signer)
        return cls(
            desc_head=b"<d:stanza-desc" + _SCOPE + b' id="' + desc_id + b'"',
            desc_mid=b"".join((
                b"><d:signer>", _c_text(signer.signer), b"</d:signer><Transforms>", transforms_c,
                b'</Transforms><DigestMethod Algorithm="', dm, b'"></DigestMethod><d:',
            )),  # fmt: skip
            si_head=b"<SignedInfo" + _SCOPE,
            si_mid=b"".join((
                b'><CanonicalizationMethod Algorithm="', c14n_uri,
                b'"></CanonicalizationMethod><SignatureMethod Algorithm="', method,
                b'"></SignatureMethod><Reference URI="#', desc_id,
                b'"><Transforms><Transform Algorithm="', desc_transform,
                b'"></Transform></Transforms><DigestMethod Algorithm="', dm,
                b'"></DigestMethod><DigestValue>',
            )),  # fmt: skip
            si_tail=b"</DigestValue></Reference></SignedInfo>",
            sig_head=b"".join((
                b"<Signature", _SCOPE, b'><SignedInfo><CanonicalizationMethod Algorithm="',
                c14n_uri, b'"/><SignatureMethod Algorithm="', method, b'"/><Reference URI="#',
                desc_id, b'"><Transforms><Transform Algorithm="', desc_transform,
                b'"/></Transforms><DigestMethod Algorithm="', dm, b'"/><DigestValue>',
            )),  # fmt: skip
            sig_mid=b"</DigestValue></Reference></SignedInfo><SignatureValue>",
            sig_mid2=b"".join((
                b"</SignatureValue>", key_info, b'<Object><d:stanza-desc id="', desc_id,
                b'"><d:signer>', _d_text(signer.signer), b"</d:signer><Transforms>",
                transforms_doc, b'</Transforms><DigestMethod Algorithm="', dm, b'"/><d:',
            )),  # fmt: skip
        )


@dataclass(frozen=True, slots=True)
class _Prepared:
    kind: str
    parent: etree._Element
    names: list[str]
    digests: list[bytes]  # base64
    timestamp: str


_XML = "{" + NS.XML + "}"
# Namespaces in scope at SignedInfo and stanza-desc under a stanza that declares only its
# default namespace: the Signature's own (XML-DSIG default, xmlns:d), in C14N order.
_SCOPE = b' xmlns="' + NS.DS.value.encode() + b'" xmlns:d="' + NS.XMPP_DSIG.value.encode() + b'"'
# Attribute values and text as lxml (libxml2) serializes them.
_D_ATTR = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\t": "&#9;", "\n": "&#10;",
     "\r": "&#13;"}
)
_D_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_PLAIN = _c14n.SPECIAL
_c_attr = _c14n.c14n_attr
_c_text = _c14n.c14n_text
_d_attr = _c14n.escaper(lambda v: v.translate(_D_ATTR))
_d_text = _c14n.escaper(lambda v: v.translate(_D_TEXT))
_r_attr = _c14n.robust_attr
_r_text = _c14n.robust_text


def _serialized_attributes(items: list[tuple[str, str]]) -> bytes:
    """The stanza's attributes for its copy in stanza-desc, as lxml writes them (document
    order; the only namespace _template_fits lets through is xml)."""
    return b"".join(
        b" " + (b"xml:" + k[len(_XML) :].encode() if k[0] == "{" else k.encode())
        + b'="' + _d_attr(v) + b'"'
        for k, v in items
    )  # fmt: skip


def _key_info(signer: Signer) -> bytes:
    """The serialized KeyInfo of a signer that includes its certificate, else nothing."""
    if not signer.include_certificate:
        return b""
    assert signer.certificate is not None
    der = base64.b64encode(signer.certificate.public_bytes(Encoding.DER))
    head = b"<KeyInfo><X509Data><X509Certificate>"
    return head + der + b"</X509Certificate></X509Data></KeyInfo>"


def _template_fits(profile: Profile, stanza: etree._Element, kind: str) -> str:
    """Which template writes exactly what the tree path writes, or ``""`` for none.

    ``spec``: a ``d:id`` profile with stanza-desc in urn:xmpp:dsig:0 under inclusive C14N
    1.1 (:meth:`Signer._sign_by_template`). ``robust``: an element-reference profile in our
    robust namespace under its prefix-free canonical form, except an iq (its Signature goes
    into the payload) (:meth:`Signer._sign_by_robust_template`). Both need the Signature
    appended to a stanza without prefix that declares only its default namespace (so the
    scope at SignedInfo is the Signature's own) and stanza attributes without a namespace
    other than xml:lang / xml:space / xml:id (an xml:base makes C14N 1.1 refuse, which the
    tree path reports)."""
    if stanza.prefix is not None:
        return ""
    nsmap = stanza.nsmap
    if len(nsmap) != 1 or None not in nsmap:
        return ""
    for key in stanza.keys():
        name = str(key)
        if name[:1] == "{" and name not in _XML_TEMPLATE_ATTRS:
            return ""
    if (
        profile.reference_scheme == "dsig-id"
        and profile.desc_namespace == NS.XMPP_DSIG
        and profile.placement == "append"
        and profile.signed_info_c14n == C14NMethod.C14N11
        and profile.desc_transform == C14NMethod.C14N11
    ):
        return "spec"
    if (
        profile.reference_scheme == "element"
        and profile.desc_namespace == NS.XMPP_DSIG_ROBUST
        and (profile.placement == "append" or kind != "iq")
        and profile.signed_info_c14n == C14NMethod.ROBUST
        and profile.desc_transform == C14NMethod.ROBUST
    ):
        return "robust"
    return ""


_XML_TEMPLATE_ATTRS = frozenset(_XML + n for n in ("lang", "space", "id"))
