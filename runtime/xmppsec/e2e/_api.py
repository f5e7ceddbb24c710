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
from xmppsec.algorithms import (
    DigestMethod,
    DigestName,
    PrivateKey,
    SignatureMethod,
)
from xmppsec.errors import (
    CPIMFormatError,
    DecryptionError,
    JIDError,
    KeyLoadError,
    NotSigned,
    ReplayStoreError,
    RestrictedXMLError,
    SignerMismatch,
    SMIMEFormatError,
    StanzaMismatch,
    StanzaSchemaError,
    UsageError,
    XmppSecError,
)
from xmppsec.jid import bare_jid, parse_jid
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
from ._envelope import DEFAULT_CIPHER, CipherName, ContentCipher, KeyTransport
from ._mime import (
    MimeEntity,
    build_multipart_signed,
    build_pkcs7_mime,
    content_type_of,
    parse_entity,
    parse_multipart_signed,
    pkcs7_mime_der,
    to_crlf,
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
_KEY_TYPES = "an RSA, EC or Ed25519 key of the cryptography package"


@dataclass(frozen=True)
class OpenedStanza:
    """A verified (and possibly decrypted) RFC 3923 stanza.

    ``stanza`` is the inner stanza (decrypted ``application/xmpp+xml``, or rebuilt from a
    text/plain body or PIDF document with the outer stanza's attributes); ``signer`` the
    bare JID whose signature verified; ``encrypted`` whether it arrived encrypted,
    ``authenticated_encryption`` whether in AES-GCM AuthEnvelopedData; ``recipient`` the
    bare JID of the opening party the object was checked to be addressed to.
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
    digest_method: DigestMethod | None = None
    signature_method: SignatureMethod | None = None
    recipient: str | None = None
    authenticated_encryption: bool = False

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
    # A content type the caller chose that does not fit the stanza is the caller's mistake.
    misfit: type[XmppSecError] = StanzaSchemaError if content_type is None else UsageError
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
        if (
            kind != "message"
            or len(children) != 1
            or children[0].tag != f"{{{JABBER_CLIENT}}}body"
        ):
            raise misfit("text/plain carries a message with exactly one <body/> and nothing else")
        text = children[0].text or ""
        return CT_TEXT, to_crlf(text.encode("utf-8"))
    # Every payload is signed in canonical form, line ends CRLF (RFC 5751 §3.1.1): that is
    # what text/* requires, and the only form of a line end that survives the trip as XML
    # text in <e2e/> (XML 1.0 §2.11 turns CRLF into LF; the receiver restores CRLF). For
    # the XML payloads this changes no XML: the serializer writes CR in character data as
    # &#13;, so each raw line end is an LF, which an XML parser reads back as LF either way.
    if media == CT_PIDF:
        if kind != "presence":
            raise misfit("application/pidf+xml carries presence only")
        return CT_PIDF, to_crlf(_presence_to_pidf(root))
    if media == CT_XMPP:
        wrapper = etree.Element(f"{{{JABBER_CLIENT}}}xmpp", nsmap=nsmap({None: JABBER_CLIENT}))
        wrapper.append(_clone(root))
        return CT_XMPP, to_crlf(serialize(wrapper))
    raise UsageError(
        f"unsupported RFC 3923 content type {content_type!r}: choose "
        f"{CT_XMPP}, text/plain or {CT_PIDF}"
    )


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
    key: PrivateKey,
    certificate: x509.Certificate,
    recipients: Sequence[x509.Certificate] = (),
    sign: bool = True,
    encrypt: bool = True,
    digest: DigestMethod | DigestName = DigestMethod.SHA256,
    pss: bool = False,
    cipher: ContentCipher | CipherName = DEFAULT_CIPHER,
    key_transport: KeyTransport | None = None,
    content_type: str | None = None,
    clock: TimestampClock | None = None,
    now: datetime | None = None,
    include_certificate: bool = True,
) -> bytes:
    """Protect ``stanza`` per RFC 3923 and return the stanza carrying ``<e2e/>``.

    Signs with (key, certificate) then encrypts to ``recipients`` (sign-then-encrypt,
    §6.2): every certificate (RSA or EC P-256/384/521; each device of the recipient, and
    the sender's own to read it back) gets a RecipientInfo. ``cipher`` defaults to
    AES-256-GCM AuthEnvelopedData; ``ContentCipher.AES128_CBC`` writes RFC 3923's MTI
    EnvelopedData. ``key_transport`` chooses RSA-OAEP or PKCS#1 v1.5 for RSA recipients
    (default: OAEP, v1.5 with CBC). ``digest="sha1"`` is RFC 3923's MTI for peers that need
    it; SHA-256 is the default. The stanza needs ``to`` (presence MUST be directed, §4).
    ``clock`` (a :class:`~xmppsec.timestamps.TimestampClock`) makes DateTime strictly
    increasing. ``content_type`` chooses the payload (§4, §5): ``application/xmpp+xml``
    (the whole stanza), ``text/plain`` (a message that is one ``<body/>``) or
    ``application/pidf+xml`` (a presence); by default the narrowest that fits. Another type,
    or one that does not fit the stanza, is a UsageError.

    ``key`` signs: an RSA, EC or Ed25519 private key (:data:`~xmppsec.keys.CMSSigningKey`;
    a DSA key is KeyLoadError). What is no private key at all (a certificate, PEM bytes) is
    a UsageError, for callers without a type checker too.
    """
    if not sign and not encrypt:
        raise UsageError("nothing to do: neither sign nor encrypt")
    _check_certificate(certificate, "certificate")
    for r in recipients:
        _check_certificate(r, "each of recipients")
    _check_key(key, "key")
    digest = _cms.digest_method(digest)  # "sha256" and the like are accepted too
    if encrypt and not recipients:
        raise UsageError("encryption needs at least one recipient certificate")
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
            raise UsageError("no 'from' and the certificate names no XMPP address")
        sender = addrs[0]
    try:
        sender_bare = bare_jid(sender)
    except JIDError as exc:
        raise StanzaSchemaError(f"invalid from: {exc}") from None
    if sign and sender_bare not in {_bare_or_none(a) for a in xmpp_addrs(certificate)}:
        # the receiver would refuse it (RFC 3923 §6.3): fail here, not at the peer
        raise UsageError(f"the signing certificate does not name {sender_bare}")
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
            else _sign_without_cert(entity, key, certificate, digest, pss, when)
        )
        entity = build_multipart_signed(entity, sig, digest=digest)
    if encrypt:
        der = _envelope.encrypt(entity, recipients, cipher=cipher, key_transport=key_transport)
        entity = build_pkcs7_mime(
            der,
            smime_type="enveloped-data"
            if ContentCipher(cipher) in (ContentCipher.AES128_CBC, ContentCipher.AES256_CBC)
            else "authEnveloped-data",  # RFC 8551 §3.2.2
        )
    out = new_stanza(kind, copy_attrs(root))
    make_e2e(out, entity)
    return serialize(out)


def _sign_without_cert(
    entity: bytes,
    key: PrivateKey,
    certificate: x509.Certificate,
    digest: DigestMethod,
    pss: bool,
    when: datetime,
) -> bytes:
    # RFC 3923 §6.3: the certificate SHOULD be included at least every 5 minutes; callers
    # that track sessions may leave it out in between (the peer must have it pinned).
    return _cms.sign(
        entity, key, certificate, digest=digest, pss=pss, detached=True,
        omit_certificates=True, signing_time=when,
    )


# -- receiving ----------------------------------------------------------------------------


def _check_key(key: object, name: str) -> None:
    # The types say it for mypy users; callers without mypy get a UsageError, not an
    # AttributeError deep in the CMS code.
    if not isinstance(key, PrivateKey):
        raise UsageError(f"{name} must be a private key ({_KEY_TYPES}), not {type(key).__name__}")


def _check_certificate(cert: object, name: str) -> None:
    if not isinstance(cert, x509.Certificate):
        raise UsageError(f"{name} must be an x509.Certificate, not {type(cert).__name__}")


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


def _opening_party(recipient: str | None, certificate: x509.Certificate | None) -> set[str] | None:
    """Who is opening (issue 13 §2): ``recipient`` when given, else the id-on-xmppAddr of
    the decrypting certificate; None when neither is known (signed-only, legacy)."""
    if recipient is not None:
        try:
            return {bare_jid(recipient)}
        except JIDError as exc:
            raise UsageError(f"invalid recipient= JID: {exc}") from None
    if certificate is None:
        return None
    names = {n for n in (_bare_or_none(a) for a in xmpp_addrs(certificate)) if n}
    if not names:
        raise UsageError(
            "the decrypting certificate names no XMPP address: pass recipient= to say who opens"
        )
    return names


def open_stanza(
    stanza: bytes | etree._Element,
    *,
    trust: CertificateResolver,
    key: PrivateKey | None = None,
    certificate: x509.Certificate | None = None,
    recipient: str | None = None,
    replay: ReplayStore | None = None,
    now: datetime | None = None,
    allow_sha1: bool = False,
    allow_unsigned: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> OpenedStanza:
    """Decrypt and verify an RFC 3923 stanza; return the inner stanza or raise.

    The opening party is ``recipient`` (a JID) when given, else the id-on-xmppAddr of
    ``certificate``; the stanza's ``to`` and the CPIM ``To`` must name it (bare JID), so a
    signed object cannot be forwarded to someone else (surreptitious forwarding). A
    signed-only object opened with neither is bound to the stanza's ``to`` only.

    Raises NotSigned (no ``<e2e/>``, or signed-less content unless ``allow_unsigned``),
    StanzaSchemaError, SMIMEFormatError, UnsupportedAlgorithm (before any key is used),
    KeyLoadError / UsageError (the caller's key, certificate or recipient), and then:
    for an encrypted object only ``DecryptionError`` — every failure after the key unwrap
    (padding, MIME, CMS, signature, signer, CPIM, inner stanza, timestamp, replay) is that
    one opaque error, so that nothing about the plaintext leaks (issue 13 §1); for a
    signed-only object InvalidSignature, UntrustedKey, SignerMismatch, StanzaMismatch,
    CPIMFormatError, TimestampError, ReplayError. Map any of them to a §7 condition with
    :func:`error_condition`.

    ``key`` decrypts, with its ``certificate``: an RSA or EC private key
    (:data:`~xmppsec.keys.DecryptionKey`; another private key is KeyLoadError). What is no
    private key at all (a certificate, PEM bytes) is a UsageError, for callers without a
    type checker too.
    """
    if key is not None:
        _check_key(key, "key")
    if certificate is not None:
        _check_certificate(certificate, "certificate")
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
    if media in ("application/pkcs7-mime", "application/x-pkcs7-mime") and params.get(
        "smime-type", ""
    ).lower() in ("enveloped-data", "authenveloped-data"):
        if key is None or certificate is None:
            raise KeyLoadError("an encrypted e2e object needs the recipient key and cert")
        me = _opening_party(recipient, certificate)
        _smime_type, der = pkcs7_mime_der(entity)
        decrypted = _envelope.open_envelope(der, certificate, key)
        # From here on every failure is the one opaque DecryptionError (issue 13 §1); the
        # same checks run whatever the plaintext, including one whose CBC padding failed.
        try:
            opened = _open_entity(
                root, kind, signer, to_bare, me, decrypted.plaintext, True,
                decrypted.authenticated, trust, replay, when, allow_sha1, allow_unsigned,
                limits,
            )
        except ReplayStoreError:
            raise  # the store did not answer: ours, reached only by authentic objects
        except XmppSecError:
            raise DecryptionError() from None
        if not decrypted.padding_ok:
            raise DecryptionError()
        return opened
    me = _opening_party(recipient, certificate)
    return _open_entity(
        root, kind, signer, to_bare, me, entity.raw, False, False, trust, replay, when,
        allow_sha1, allow_unsigned, limits,
    )


def _open_entity(
    root: etree._Element,
    kind: str,
    signer: str,
    to_bare: str,
    me: set[str] | None,
    data: bytes,
    encrypted: bool,
    authenticated: bool,
    trust: CertificateResolver,
    replay: ReplayStore | None,
    when: datetime,
    allow_sha1: bool,
    allow_unsigned: bool,
    limits: Limits,
) -> OpenedStanza:
    """Everything after decryption: the one MIME entity, its signature, the CPIM object,
    the opening party, time, replay and the inner stanza."""
    # A decrypted entity may be framed with LF line ends (openssl cms without -crlfeol);
    # what arrived as XML text was restored to CRLF already (XML 1.0 §2.11).
    entity = parse_entity(data, lf_ok=encrypted)
    media, _params = content_type_of(entity)
    info: _cms.SignedDataInfo | None = None
    if media == "message/cpim":
        if not encrypted:
            raise NotSigned("the e2e object is neither signed nor encrypted")
        if not allow_unsigned:
            raise NotSigned(
                "unsigned RFC 3923 content refused; pass allow_unsigned=True to accept it"
            )
        if not authenticated:
            # AES-CBC without a signature is malleable: never accepted
            raise NotSigned("unsigned content in CBC EnvelopedData is refused")
        signed_bytes = entity.raw
    else:
        parsed, detached = _signed_object(entity, limits)

        def select(presented: Sequence[x509.Certificate]) -> Sequence[x509.Certificate]:
            return trust.resolve_all(signer, presented, now=when)

        info = _cms.verify_parsed(
            parsed, select_certificates=select, detached_content=detached, allow_sha1=allow_sha1
        )
        names = {_bare_or_none(a) for a in xmpp_addrs(info.certificate)}
        if signer not in names:
            # RFC 3923 §6.3: the JID in the signer's certificate matches the stanza's from
            raise SignerMismatch(f"the signer certificate does not name {signer}")
        if info.signing_time is not None:
            # issue 14 §5: a signingTime (RFC 5652 §11.3), when present, lies in the same
            # window as the CPIM DateTime (RFC 3923 §6.9): a stale or future one is refused.
            check_window(_signing_moment(info.signing_time, when), when, TIMESTAMP_WINDOW)
        signed_bytes = info.content
    cpim = parse_cpim(signed_bytes)
    if cpim.sender.jid != signer:
        raise SignerMismatch("CPIM From differs from the stanza's from (RFC 3923 §6.5)")
    cpim_to = {r.jid for r in cpim.recipients}
    if to_bare not in cpim_to:
        raise StanzaMismatch("CPIM To does not name the stanza's to (RFC 3923 §6.5)")
    if me is not None and (to_bare not in me or not cpim_to & me) and not (
        info is not None and signer in me
    ):
        # issue 13 §2: an object signed for someone else, forwarded (surreptitiously). The
        # signer reading back its own signed object (a carbon, an archive) is the exception.
        raise StanzaMismatch("the object is not addressed to the party opening it")
    ts = cpim.datetime
    check_window(ts, when, TIMESTAMP_WINDOW)
    inner = _inner_stanza(root, kind, cpim, signer, to_bare, limits)
    if replay is not None:
        token = info.signature if info is not None else hashlib.sha256(signed_bytes).digest()
        replay.check_and_record(signer, token, ts, now=when, window=REPLAY_WINDOW)
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
        digest_method=info.digest_method if info is not None else None,
        signature_method=info.signature_method if info is not None else None,
        recipient=to_bare if me is not None else None,
        authenticated_encryption=authenticated,
    )


def _signing_moment(signing_time: datetime, when: datetime) -> datetime:
    """The moment of signing nearest to ``when`` that ``signing_time`` allows: signers
    (xmppsec, OpenSSL) write it in whole seconds (RFC 5280 §4.1.2.5.1/.2, no fractions),
    so a signature made at 12:00:00.9 says 12:00:00 and lies in [t, t + 1 s)."""
    if signing_time.microsecond:
        return signing_time
    return min(max(when, signing_time), signing_time + timedelta(seconds=1))


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
            if not _same_address(inner.get("from"), outer.get("from"), signer):
                raise SignerMismatch("the protected stanza's from is not the outer from")
            if not _same_address(inner.get("to"), outer.get("to"), to_bare):
                raise StanzaMismatch("the protected stanza's to differs from the outer to")
        except JIDError as exc:
            raise StanzaSchemaError(f"invalid address in the protected stanza: {exc}") from None
        checked = validate(serialize(inner))  # a standalone tree, jabber:client as default
        if _stanza_type(kind, checked.get("type")) != _stanza_type(kind, outer.get("type")):
            # issue 13 §2: a chat line must not be replayed as a headline, an iq get as a set
            raise StanzaMismatch("the protected stanza's type differs from the outer one")
        return checked
    raise CPIMFormatError(f"unsupported encapsulated content type {media}")


def _stanza_type(kind: str, value: str | None) -> str | None:
    """RFC 6120 §8.2.3 / RFC 6121 §5.2.2: a message without a type is "normal"."""
    return "normal" if kind == "message" and value is None else value


def _same_address(inner: str | None, outer: str | None, expected_bare: str) -> bool:
    """An inner from/to (when present) names the outer one: as a full JID where the outer
    stanza carries a resource, else as a bare JID."""
    if inner is None:
        return True
    if outer is not None:
        outer_jid = parse_jid(outer)
        if outer_jid.resource:
            return parse_jid(inner) == outer_jid
    return bare_jid(inner) == expected_bare


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
