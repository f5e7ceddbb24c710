"""Seal and open stanzas (RFC 3923 §3–§6): the procedure the façade exposes.

Sending: stanza → Message/CPIM (text/plain for a plain message, application/pidf+xml for
presence, application/xmpp+xml for anything else) → multipart/signed → EnvelopedData →
``<e2e/>`` in a stanza with the original to/from/id/type.

Receiving, in this order: the hardened parser; the one ``<e2e/>``; directed presence;
decryption (every failure after the first key operation, including malformed decrypted
MIME, is the one opaque DecryptionError); the CMS signature with a certificate the trust
store accepts for the stanza's bare ``from``; certificate xmppAddr ↔ ``from``; CPIM
From/To ↔ stanza; DateTime within ±5 min; the replay store (repeat, or not increasing
within 10 min); the inner content through the same parser (and the schemas).
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol, TypeVar

from cryptography import x509
from lxml import etree

from xmppsec._lxml import nsmap
from xmppsec.errors import (
    CPIMFormatError,
    DecryptionError,
    JIDError,
    KeyLoadError,
    LimitExceeded,
    NotSigned,
    RestrictedXMLError,
    SignerMismatch,
    SMIMEFormatError,
    StanzaMismatch,
    StanzaSchemaError,
)
from xmppsec.jid import bare_jid
from xmppsec.keys import xmpp_addrs
from xmppsec.parser import DEFAULT_LIMITS, Limits, parse
from xmppsec.replay import ReplayStore
from xmppsec.schema import to_binding, validate, validate_document
from xmppsec.timestamps import TimestampClock, check_window
from xmppsec.xmpp import NS, XML_LANG, require_aware, stanza_kind

from . import _cms, _envelope
from ._cpim import CPIMMessage, build_cpim, parse_cpim, uri_to_bare_jid
from ._element import (
    JABBER_CLIENT,
    copy_attrs,
    e2e_entity,
    find_e2e,
    load_stanza,
    make_e2e,
    new_stanza,
    serialize,
)
from ._mime import (
    MimeEntity,
    build_multipart_signed,
    build_pkcs7_mime,
    content_type_of,
    parse_entity,
    parse_multipart_signed,
    pkcs7_mime_der,
)

NS_PIDF = NS.PIDF.value
TIMESTAMP_WINDOW = timedelta(minutes=5)  # RFC 3923 §6.9
REPLAY_WINDOW = timedelta(minutes=10)  # RFC 3923 §6.9 "within the last 10 minutes"
CT_TEXT = "text/plain; charset=utf-8"
CT_PIDF = "application/pidf+xml"
CT_XMPP = "application/xmpp+xml"


class CertificateResolver(Protocol):
    """What :class:`xmppsec.trust.TrustStore` offers: the certificates that may verify a
    signature by ``signer`` (a bare JID), given the certificates the object presented."""

    def resolve_all(
        self,
        signer: str,
        presented: Sequence[x509.Certificate] = (),
        *,
        now: datetime | None = None,
    ) -> tuple[x509.Certificate, ...]: ...


_T = TypeVar("_T")


@dataclass(frozen=True)
class OpenedStanza:
    """A verified (and possibly decrypted) RFC 3923 stanza.

    ``stanza`` is the inner stanza (decrypted ``application/xmpp+xml``, or rebuilt from a
    text/plain body or PIDF document with the outer stanza's attributes); ``signer`` the
    bare JID whose signature verified; ``encrypted`` whether it arrived encrypted.
    """

    stanza: etree._Element
    xml: bytes
    signer: str | None
    certificate: x509.Certificate | None
    signed: bool
    encrypted: bool
    timestamp: datetime
    content_type: str
    cpim: CPIMMessage
    digest_algorithm: str | None

    def stanza_as(self, cls: type[_T]) -> _T:
        """The inner stanza as an instance of the generated dataclass ``cls`` (for example
        ``xmppsec.bindings.jabber_client.Message``), schema-validated and bound on request
        only (the bindings stay off the open path)."""
        return to_binding(self.stanza, cls)


def _aware(now: datetime | None) -> datetime:
    return datetime.now(UTC) if now is None else require_aware(now, "now")


# -- sending ------------------------------------------------------------------------------


def _payload(root: etree._Element, kind: str, content_type: str | None) -> tuple[str, bytes]:
    children = [c for c in root if isinstance(c.tag, str)]
    if content_type is None:
        if kind == "presence":
            content_type = CT_PIDF
        elif (
            kind == "message"
            and len(children) == 1
            and children[0].tag == f"{{{JABBER_CLIENT}}}body"
            and not children[0].attrib
            and not len(children[0])
        ):
            content_type = CT_TEXT
        else:
            content_type = CT_XMPP
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "text/plain":
        if kind != "message" or len(children) != 1:
            raise StanzaSchemaError("text/plain carries exactly one message <body/>")
        text = children[0].text or ""
        return CT_TEXT, text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
    if media == CT_PIDF:
        if kind != "presence":
            raise StanzaSchemaError("application/pidf+xml carries presence only")
        return CT_PIDF, _presence_to_pidf(root)
    if media == CT_XMPP:
        wrapper = etree.Element(f"{{{JABBER_CLIENT}}}xmpp", nsmap=nsmap({None: JABBER_CLIENT}))
        wrapper.append(_clone(root))
        return CT_XMPP, serialize(wrapper)
    raise StanzaSchemaError(f"unsupported RFC 3923 content type {content_type!r}")


def _clone(root: etree._Element) -> etree._Element:
    return copy.deepcopy(root)


def _presence_to_pidf(root: etree._Element) -> bytes:
    """RFC 3922 §5 mapping (RFC 3923 §4): available → basic open, unavailable → closed,
    each ``<status/>`` → ``<note/>``. ``show``/``priority`` have no PIDF counterpart."""
    sender = root.get("from")
    ptype = root.get("type")
    if ptype not in (None, "unavailable"):
        raise StanzaSchemaError(f"presence of type {ptype!r} cannot be expressed in PIDF")
    pidf = etree.Element(f"{{{NS_PIDF}}}presence", nsmap=nsmap({None: NS_PIDF}))
    pidf.set("entity", f"pres:{bare_jid(sender)}" if sender else "pres:unknown")
    tup = etree.SubElement(pidf, f"{{{NS_PIDF}}}tuple")
    tup.set("id", "xmppsec")
    status = etree.SubElement(tup, f"{{{NS_PIDF}}}status")
    basic = etree.SubElement(status, f"{{{NS_PIDF}}}basic")
    basic.text = "closed" if ptype == "unavailable" else "open"
    for st in root.findall(f"{{{JABBER_CLIENT}}}status"):
        note = etree.SubElement(tup, f"{{{NS_PIDF}}}note")
        note.text = st.text or ""
        lang = st.get(XML_LANG)
        if lang:
            note.set(XML_LANG, lang)
    return serialize(pidf)


def seal_stanza(
    stanza: bytes | etree._Element,
    *,
    key: object,
    certificate: x509.Certificate,
    recipients: Sequence[x509.Certificate] = (),
    sign: bool = True,
    encrypt: bool = True,
    digest: str = "sha256",
    pss: bool = False,
    cipher: str = "aes128",
    content_type: str | None = None,
    clock: TimestampClock | None = None,
    now: datetime | None = None,
    include_certificate: bool = True,
) -> bytes:
    """Protect ``stanza`` per RFC 3923 and return the stanza carrying ``<e2e/>``.

    Signs with (key, certificate) then encrypts to ``recipients`` (sign-then-encrypt,
    §6.2). ``digest="sha1"`` is RFC 3923's MTI for peers that need it; SHA-256 is the
    default. The stanza needs ``to`` (presence MUST be directed, §4). ``clock`` (a
    :class:`~xmppsec.timestamps.TimestampClock`) makes DateTime strictly increasing.
    """
    if not sign and not encrypt:
        raise SMIMEFormatError("nothing to do: neither sign nor encrypt")
    if encrypt and not recipients:
        raise KeyLoadError("encryption needs at least one recipient certificate")
    root = load_stanza(stanza)
    kind = stanza_kind(root)
    to = root.get("to")
    if not to:
        raise StanzaSchemaError(
            "RFC 3923 objects are directed: the stanza needs a 'to' (§4: directed presence)"
        )
    if root.get("type") == "error":
        raise StanzaSchemaError("error stanzas are not protected")
    sender = root.get("from")
    if sender is None:
        addrs = xmpp_addrs(certificate)
        if not addrs:
            raise SignerMismatch("no 'from' and the certificate names no XMPP address")
        sender = addrs[0]
    try:
        sender_bare = bare_jid(sender)
    except JIDError as exc:
        raise StanzaSchemaError(f"invalid from: {exc}") from None
    if sign and sender_bare not in {_bare_or_none(a) for a in xmpp_addrs(certificate)}:
        # the receiver would refuse it (RFC 3923 §6.3): fail here, not at the peer
        raise SignerMismatch(f"the signing certificate does not name {sender_bare}")
    ctype, content = _payload(root, kind, content_type)
    if ctype == CT_PIDF:
        validate_document(content)  # RFC 3863 schema
    if clock is not None:
        when = clock.next(sender_bare)[0]
    else:
        when = _aware(now)
    cpim = build_cpim(
        sender=sender_bare,
        recipients=[to],
        timestamp=when,
        content_type=ctype,
        content=content,
        scheme="pres" if kind == "presence" else "im",
    )
    entity = cpim.raw
    if sign:
        sig = (
            _cms.sign(
                entity,
                key,
                certificate,
                digest=digest,
                pss=pss,
                detached=True,
                signing_time=when,
            )
            if include_certificate
            else _sign_without_cert(entity, key, certificate, digest, pss)
        )
        entity = build_multipart_signed(entity, sig, digest=digest)
    if encrypt:
        entity = build_pkcs7_mime(
            _envelope.encrypt(entity, recipients, cipher=cipher), smime_type="enveloped-data"
        )
    out = new_stanza(kind, copy_attrs(root))
    make_e2e(out, entity)
    return serialize(out)


def _sign_without_cert(
    entity: bytes, key: object, certificate: x509.Certificate, digest: str, pss: bool
) -> bytes:
    # RFC 3923 §6.3: the certificate SHOULD be included at least every 5 minutes; callers
    # that track sessions may leave it out in between (the peer must have it pinned).
    return _cms.sign(
        entity, key, certificate, digest=digest, pss=pss, detached=True, omit_certificates=True
    )


# -- receiving ----------------------------------------------------------------------------


def _signed_object(
    entity: MimeEntity, limits: Limits = DEFAULT_LIMITS
) -> tuple[_cms.ParsedSignedData, bytes | None]:
    """The parsed SignedData of a multipart/signed (with the exact signed bytes) or an
    application/pkcs7-mime signed-data entity (content attached)."""
    media, _params = content_type_of(entity)
    if media == "multipart/signed":
        ms = parse_multipart_signed(entity)
        return _cms.parse(ms.signature, max_certificates=limits.max_chain_length), ms.signed_part
    smime_type, der = pkcs7_mime_der(entity)
    if smime_type not in ("signed-data", ""):
        raise SMIMEFormatError(f"expected signed data, got smime-type {smime_type}")
    return _cms.parse(der, max_certificates=limits.max_chain_length), None


def open_stanza(
    stanza: bytes | etree._Element,
    *,
    trust: CertificateResolver,
    key: object | None = None,
    certificate: x509.Certificate | None = None,
    replay: ReplayStore | None = None,
    now: datetime | None = None,
    allow_sha1: bool = False,
    allow_unsigned: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> OpenedStanza:
    """Decrypt and verify an RFC 3923 stanza; return the inner stanza or raise.

    Raises NotSigned (no ``<e2e/>``, or signed-less content unless ``allow_unsigned``),
    StanzaSchemaError, SMIMEFormatError, DecryptionError (opaque), UnsupportedAlgorithm,
    InvalidSignature, UntrustedKey, SignerMismatch, StanzaMismatch, CPIMFormatError,
    TimestampError (old/future), ReplayError (repeat or not increasing within 10 min).
    Map any of them to a §7 condition with :func:`error_condition`.
    """
    when = _aware(now)
    root = load_stanza(stanza, limits)
    kind = stanza_kind(root)
    if root.get("type") == "error":
        raise StanzaSchemaError("an error stanza is not opened as an e2e object")
    e2e = find_e2e(root)
    to = root.get("to")
    sender = root.get("from")
    if not to:
        raise StanzaSchemaError("RFC 3923 objects are directed: no 'to' (§4)")
    if not sender:
        raise StanzaSchemaError("the stanza has no 'from' to check the signer against")
    try:
        signer = bare_jid(sender)
        to_bare = bare_jid(to)
    except JIDError as exc:
        raise StanzaSchemaError(f"invalid stanza address: {exc}") from None
    entity = parse_entity(e2e_entity(e2e))
    media, params = content_type_of(entity)
    encrypted = False
    if (
        media in ("application/pkcs7-mime", "application/x-pkcs7-mime")
        and params.get("smime-type", "").lower() == "enveloped-data"
    ):
        if key is None or certificate is None:
            raise KeyLoadError("an encrypted e2e object needs the recipient key and cert")
        _smime_type, der = pkcs7_mime_der(entity)
        plaintext = _envelope.decrypt(der, certificate, key)
        encrypted = True
        try:
            entity = parse_entity(plaintext)
            media, params = content_type_of(entity)
        except (SMIMEFormatError, LimitExceeded):
            raise DecryptionError() from None  # no distinction after the key was used
    info: _cms.SignedDataInfo | None = None
    if media == "message/cpim":
        if not allow_unsigned:
            raise NotSigned(
                "unsigned RFC 3923 content refused (encrypted-only content is malleable "
                "in CBC mode); pass allow_unsigned=True to accept it"
            )
        if not encrypted:
            raise NotSigned("the e2e object is neither signed nor encrypted")
        signed_bytes = entity.raw
    else:
        try:
            parsed, detached = _signed_object(entity, limits)
        except (SMIMEFormatError, LimitExceeded):
            if encrypted:
                raise DecryptionError() from None  # no distinction after the key was used
            raise

        def select(presented: Sequence[x509.Certificate]) -> Sequence[x509.Certificate]:
            return trust.resolve_all(signer, presented, now=when)

        info = _cms.verify_parsed(
            parsed, select_certificates=select, detached_content=detached, allow_sha1=allow_sha1
        )
        names = {_bare_or_none(a) for a in xmpp_addrs(info.certificate)}
        if signer not in names:
            # RFC 3923 §6.3: the JID in the signer's certificate matches the stanza's from
            raise SignerMismatch(f"the signer certificate does not name {signer}")
        signed_bytes = info.content
    cpim = parse_cpim(signed_bytes)
    if cpim.sender.jid != signer:
        raise SignerMismatch("CPIM From differs from the stanza's from (RFC 3923 §6.5)")
    if to_bare not in {r.jid for r in cpim.recipients}:
        raise StanzaMismatch("CPIM To does not name the stanza's to (RFC 3923 §6.5)")
    ts = cpim.datetime
    check_window(ts, when, TIMESTAMP_WINDOW)
    if replay is not None:
        token = info.signature if info is not None else hashlib.sha256(signed_bytes).digest()
        replay.check_and_record(signer, token, ts, now=when, window=REPLAY_WINDOW)
    inner = _inner_stanza(root, kind, cpim, signer, to_bare, limits)
    return OpenedStanza(
        stanza=inner,
        xml=serialize(inner),
        signer=signer if info is not None else None,
        certificate=info.certificate if info is not None else None,
        signed=info is not None,
        encrypted=encrypted,
        timestamp=ts,
        content_type=cpim.content_type,
        cpim=cpim,
        digest_algorithm=info.digest_algorithm if info is not None else None,
    )


def _bare_or_none(jid: str) -> str | None:
    try:
        return bare_jid(jid)
    except JIDError:
        return None


def _inner_stanza(
    outer: etree._Element,
    kind: str,
    cpim: CPIMMessage,
    signer: str,
    to_bare: str,
    limits: Limits = DEFAULT_LIMITS,
) -> etree._Element:
    media, params = content_type_of(cpim.content, error=CPIMFormatError)
    body = cpim.content.body
    if media == "text/plain":
        if kind != "message":
            raise StanzaSchemaError("text/plain content in a non-message stanza")
        charset = params.get("charset", "us-ascii").lower()
        if charset not in ("utf-8", "us-ascii"):
            raise CPIMFormatError(f"unsupported charset {charset}")
        try:
            text = body.decode("utf-8").replace("\r\n", "\n")
        except UnicodeDecodeError:
            raise CPIMFormatError("text/plain body is not UTF-8") from None
        msg = new_stanza("message", copy_attrs(outer))
        b = etree.SubElement(msg, f"{{{JABBER_CLIENT}}}body")
        try:
            b.text = text
        except ValueError:
            raise CPIMFormatError("body text is not valid XML character data") from None
        return validate(msg)
    if media == CT_PIDF:
        if kind != "presence":
            raise StanzaSchemaError("PIDF content in a non-presence stanza")
        pidf = validate_document(_strip_xml_decl(body))
        if pidf.tag != f"{{{NS_PIDF}}}presence":
            raise StanzaSchemaError("application/pidf+xml root is not a PIDF presence")
        entity_uri = pidf.get("entity") or ""
        try:
            if uri_to_bare_jid(entity_uri) != signer:
                raise SignerMismatch("PIDF entity differs from the signer")
        except CPIMFormatError:
            raise SignerMismatch("PIDF entity is not the signer's address") from None
        pres = new_stanza("presence", copy_attrs(outer))
        basics = [b.text for b in pidf.iter(f"{{{NS_PIDF}}}basic")]
        if basics and all(b == "closed" for b in basics):
            pres.set("type", "unavailable")
        for note in pidf.iter(f"{{{NS_PIDF}}}note"):
            st = etree.SubElement(pres, f"{{{JABBER_CLIENT}}}status")
            st.text = note.text or ""
            lang = note.get(XML_LANG)
            if lang:
                st.set(XML_LANG, lang)
        return validate(pres)
    if media == CT_XMPP:
        wrapper = parse(body, limits)  # RFC 6120 §11 restricted XML, the caller's limits
        if wrapper.tag != f"{{{JABBER_CLIENT}}}xmpp":
            raise StanzaSchemaError(f"application/xmpp+xml root must be <xmpp/> in {JABBER_CLIENT}")
        if (wrapper.text or "").strip() or wrapper.attrib:
            raise StanzaSchemaError("unexpected content in <xmpp/>")
        kids = list(wrapper)
        if len(kids) != 1 or (kids[0].tail or "").strip():
            raise StanzaSchemaError("<xmpp/> holds exactly one stanza (RFC 3923 §5)")
        inner = kids[0]
        if stanza_kind(inner) != kind:
            raise StanzaMismatch("the protected stanza is not the same kind as the outer one")
        try:
            if inner.get("from") is not None and bare_jid(str(inner.get("from"))) != signer:
                raise SignerMismatch("the protected stanza's from is not the signer")
            if inner.get("to") is not None and bare_jid(str(inner.get("to"))) != to_bare:
                raise StanzaMismatch("the protected stanza's to differs from the outer to")
        except JIDError as exc:
            raise StanzaSchemaError(f"invalid address in the protected stanza: {exc}") from None
        return validate(serialize(inner))  # a standalone tree with jabber:client as default
    raise CPIMFormatError(f"unsupported encapsulated content type {media}")


def _strip_xml_decl(body: bytes) -> bytes:
    if body.startswith(b"<?xml"):
        end = body.find(b"?>")
        if end < 0:
            raise RestrictedXMLError("unterminated XML declaration")
        decl = body[: end + 2]
        if b"encoding" in decl and b"UTF-8" not in decl.upper():
            raise RestrictedXMLError("PIDF must be UTF-8")
        return body[end + 2 :].lstrip(b"\r\n\t ")
    return body
