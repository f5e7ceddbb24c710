"""The ``<e2e xmlns='urn:ietf:params:xml:ns:xmpp-e2e'/>`` element (RFC 3923 §3–§5, §9,
Appendix A), the §7 error stanzas, and gateway wrap/unwrap (RFC 3923 §8).

Namespace reading (RFC 3923 spells it two ways): the schema (Appendix A) and §3–§5 use
``urn:ietf:params:xml:ns:xmpp-e2e``; §9's title and some of §7's examples drop ``ns:``.
Content is only ever taken from ``urn:ietf:params:xml:ns:xmpp-e2e``: an ``<e2e/>`` in the
misspelled namespace is refused, never decrypted. Only *error conditions* received from a
peer are also recognized in the misspelled namespace and as ``<unverified-signature/>``
(§7's prose name for the schema's ``<signature-unverified/>``). We always emit the schema's
spelling.
"""

from __future__ import annotations

import re

from lxml import etree

from xmppsec._lxml import nsmap
from xmppsec.errors import (
    DecryptionError,
    NotSigned,
    ReplayError,
    SMIMEFormatError,
    StanzaSchemaError,
    TimestampError,
    UsageError,
    VerificationError,
    XmppSecError,
)
from xmppsec.jid import parse_jid
from xmppsec.parser import DEFAULT_LIMITS, Limits, check_tree, parse
from xmppsec.xmpp import NS, STANZA_KINDS, XML_LANG, StanzaKind, stanza_kind

from ._mime import content_type_of, parse_entity, to_crlf

NS_E2E = NS.E2E.value
NS_E2E_MISSPELLED = "urn:ietf:params:xml:xmpp-e2e"  # §9's spelling: error conditions only
NS_STANZAS = NS.STANZAS.value
JABBER_CLIENT = NS.JABBER_CLIENT.value
#: RFC 3923 §7: e2e condition -> (XMPP stanza error condition, error type)
CONDITIONS = {
    "bad-timestamp": ("not-acceptable", "modify"),
    "signature-unverified": ("not-acceptable", "modify"),
    "decryption-failed": ("bad-request", "modify"),
}
_CTL = re.compile(r"[\x00-\x08\x0b-\x1f]")
_RECEIVED_ALIASES = {"unverified-signature": "signature-unverified"}


def _line(el: etree._Element) -> int:
    line = el.sourceline
    return line if isinstance(line, int) else 0


def load_stanza(stanza: bytes | etree._Element, limits: Limits = DEFAULT_LIMITS) -> etree._Element:
    """Bytes through the hardened parser; a tree built elsewhere gets the same RFC 6120
    §11 and limit checks."""
    if isinstance(stanza, bytes | bytearray):
        root = parse(bytes(stanza), limits)
    else:
        check_tree(stanza, limits)
        root = stanza
    stanza_kind(root)
    return root


def find_e2e(root: etree._Element) -> etree._Element:
    """The one ``<e2e/>`` child carrying content. NotSigned when there is none;
    StanzaSchemaError for duplicates, children, or the misspelled namespace."""
    found = [c for c in root if isinstance(c.tag, str) and c.tag == f"{{{NS_E2E}}}e2e"]
    variant = [c for c in root if isinstance(c.tag, str) and c.tag == f"{{{NS_E2E_MISSPELLED}}}e2e"]
    if not found:
        if variant:
            raise StanzaSchemaError(
                f"<e2e/> in {NS_E2E_MISSPELLED} is not processed: RFC 3923 content is only "
                f"accepted in {NS_E2E}",
                line=_line(variant[0]),
            )
        raise NotSigned(f"the stanza carries no <e2e xmlns='{NS_E2E}'/>")
    if len(found) > 1:
        raise StanzaSchemaError("more than one <e2e/> element", line=_line(found[1]))
    e2e = found[0]
    if len(e2e) or e2e.attrib:
        raise StanzaSchemaError(
            "<e2e/> holds only the S/MIME object as text (RFC 3923 Appendix A)",
            line=_line(e2e),
        )
    return e2e


def e2e_entity(e2e: etree._Element) -> bytes:
    """The S/MIME entity in an ``<e2e/>`` element, line ends restored to CRLF."""
    text = (e2e.text or "").strip(" \t\r\n")
    if not text:
        raise SMIMEFormatError("empty <e2e/> element")
    return to_crlf(text.encode("utf-8")) + b"\r\n"


def make_e2e(parent: etree._Element, entity: bytes) -> etree._Element:
    """Append ``<e2e/>`` holding ``entity`` (as CDATA when possible) to ``parent``.
    Line ends are written as LF: XML parsers turn CRLF into LF anyway (XML 1.0 §2.11)."""
    e2e = etree.SubElement(parent, f"{{{NS_E2E}}}e2e", nsmap=nsmap({None: NS_E2E}))
    try:
        text = "\n" + entity.replace(b"\r\n", b"\n").decode("utf-8") + "\n"
    except UnicodeDecodeError:
        parent.remove(e2e)
        raise SMIMEFormatError("S/MIME entity is not UTF-8 text") from None
    if _CTL.search(text):
        parent.remove(e2e)
        raise SMIMEFormatError("control character in an S/MIME entity (not XML text)")
    try:
        try:
            e2e.text = etree.CDATA(text)
        except ValueError:  # "]]>" occurs in the (signed-only) text: plain escaped text
            e2e.text = text
    except ValueError:
        parent.remove(e2e)
        raise SMIMEFormatError("S/MIME entity is not XML character data") from None
    return e2e


def new_stanza(kind: str, attrs: dict[str, str]) -> etree._Element:
    root = etree.Element(f"{{{JABBER_CLIENT}}}{kind}", nsmap=nsmap({None: JABBER_CLIENT}))
    for name, value in attrs.items():
        root.set(name, value)
    return root


def copy_attrs(root: etree._Element) -> dict[str, str]:
    """The stanza attributes RFC 6120 §8.1 defines (to, from, id, type, xml:lang), in
    document order."""
    keep = ("to", "from", "id", "type", XML_LANG)
    return {str(k): str(v) for k, v in root.attrib.items() if k in keep}


def serialize(root: etree._Element) -> bytes:
    return etree.tostring(root, encoding="utf-8", xml_declaration=False, with_tail=False)


# -- §7 errors ----------------------------------------------------------------------------


def error_condition(exc: XmppSecError) -> str | None:
    """The RFC 3923 §7 condition to report for a failure to open an e2e stanza:
    ``decryption-failed`` (§7.3), ``bad-timestamp`` (§7.1, also for replays and
    "decreasing" timestamps), ``signature-unverified`` (§7.2, any other verification
    failure); None for input that is not an e2e object at all."""
    if isinstance(exc, DecryptionError):
        return "decryption-failed"
    if isinstance(exc, TimestampError | ReplayError):
        return "bad-timestamp"
    if isinstance(exc, NotSigned):
        return None
    if isinstance(exc, VerificationError):
        return "signature-unverified"
    return None


def error_stanza(original: bytes | etree._Element, condition: str) -> bytes:
    """An error reply to ``original`` (RFC 6120 §8.3, RFC 3923 §7): from/to swapped,
    same id, ``<error type='modify'>`` with the stanza condition and the e2e condition."""
    if condition not in CONDITIONS:
        raise StanzaSchemaError(f"unknown RFC 3923 error condition {condition!r}")
    root = load_stanza(original)
    kind = stanza_kind(root)
    attrs: dict[str, str] = {"type": "error"}
    if root.get("from") is not None:
        attrs["to"] = str(root.get("from"))
    if root.get("to") is not None:
        attrs["from"] = str(root.get("to"))
    if root.get("id") is not None:
        attrs["id"] = str(root.get("id"))
    reply = new_stanza(kind, attrs)
    stanza_cond, etype = CONDITIONS[condition]
    err = etree.SubElement(reply, f"{{{JABBER_CLIENT}}}error")
    err.set("type", etype)
    etree.SubElement(err, f"{{{NS_STANZAS}}}{stanza_cond}", nsmap=nsmap({None: NS_STANZAS}))
    etree.SubElement(err, f"{{{NS_E2E}}}{condition}", nsmap=nsmap({None: NS_E2E}))
    return serialize(reply)


def received_error_condition(stanza: bytes | etree._Element) -> str | None:
    """The RFC 3923 condition in a received error stanza, normalized to the schema's
    name; None if it carries none. Accepts §7's misspellings (namespace without ``ns:``,
    ``<unverified-signature/>``)."""
    root = load_stanza(stanza)
    if root.get("type") != "error":
        return None
    for err in root:
        if not isinstance(err.tag, str) or etree.QName(err).localname != "error":
            continue
        for cond in err:
            if not isinstance(cond.tag, str):
                continue
            qn = etree.QName(cond)
            if qn.namespace in (NS_E2E, NS_E2E_MISSPELLED):
                name = _RECEIVED_ALIASES.get(qn.localname, qn.localname)
                if name in CONDITIONS:
                    return name
    return None


# -- gateways (RFC 3923 §8) ---------------------------------------------------------------


def gateway_unwrap(stanza: bytes | etree._Element) -> bytes:
    """The bare S/MIME entity (CRLF) inside a stanza's ``<e2e/>``, for a non-XMPP
    system. Only its MIME framing is checked; nothing is decrypted or verified here."""
    root = load_stanza(stanza)
    entity = e2e_entity(find_e2e(root))
    _check_smime(entity)
    return entity


def gateway_wrap(
    entity: bytes,
    *,
    to: str,
    sender: str | None = None,
    kind: StanzaKind = "message",
    stanza_type: str | None = None,
    stanza_id: str | None = None,
) -> bytes:
    """Wrap a foreign S/MIME entity (multipart/signed or application/pkcs7-mime) into
    ``<kind to=...><e2e/></kind>``."""
    if kind not in STANZA_KINDS:  # the caller's argument, not the peer's input
        raise UsageError(f"unknown stanza kind {kind!r}: message, presence or iq")
    attrs = {"to": str(parse_jid(to))}
    if sender is not None:
        attrs["from"] = str(parse_jid(sender))
    if stanza_type is not None:
        attrs["type"] = stanza_type
    if stanza_id is not None:
        attrs["id"] = stanza_id
    if kind == "iq" and "type" not in attrs:
        attrs["type"] = "set"
    canonical = to_crlf(entity.strip(b" \t\r\n")) + b"\r\n"
    _check_smime(canonical)
    root = new_stanza(kind, attrs)
    make_e2e(root, canonical)
    return serialize(root)


def _check_smime(entity: bytes) -> None:
    try:
        entity.decode("utf-8")
    except UnicodeDecodeError:
        raise SMIMEFormatError("S/MIME entity must be text (base64 transfer encoding)") from None
    media, _ = content_type_of(parse_entity(entity))
    if media not in (
        "multipart/signed",
        "application/pkcs7-mime",
        "application/x-pkcs7-mime",
    ):
        raise SMIMEFormatError(f"not an S/MIME entity: {media}")
