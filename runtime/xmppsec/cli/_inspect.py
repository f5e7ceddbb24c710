"""``xmppsec inspect``: the structure of a signed stanza or an RFC 3923 object, NOT verified.

For a stanza with XEP-0290 Signatures: each signature's signer, timestamp, algorithms and
references, as the signature claims them. For a stanza carrying ``<e2e/>``: the S/MIME
layers (RFC 3923 §6), their content types, the CMS signer and algorithms, and the
recipients of an encrypted object (issuer and serial number: what CMS names them by).
Nothing is checked: a forged object prints as readily as a genuine one, and the output says
so on its first line.
"""

from __future__ import annotations

import argparse
import base64
import email
import email.message
import email.policy
from typing import Any

from asn1crypto import cms
from cryptography import x509
from lxml import etree

from ..e2e import gateway_unwrap
from ..errors import SMIMEFormatError, XmppSecError
from ..keys import xmpp_addrs
from ..parser import parse
from ..xmpp import NS
from . import _common as c

_BANNER = "NOT VERIFIED: the structure as the input claims it (verify with 'xmppsec verify' " \
    "or 'xmppsec e2e verify|decrypt')"


def _local(tag: object) -> str:
    return str(tag).rpartition("}")[2]


def _dsig(root: etree._Element, out: list[str]) -> None:
    sigs = root.findall(f".//{{{NS.DS}}}Signature")
    if not sigs:
        out.append("no XEP-0290 Signature and no <e2e/>: nothing signed")
        return
    for n, sig in enumerate(sigs, 1):
        info = sig.find(f"{{{NS.DS}}}SignedInfo")
        out.append(f"signature {n}:")
        signer = sig.find(".//{*}stanza-desc/{*}signer")
        stamp = sig.find(".//{*}stanza-desc/{*}timestamp")
        if signer is None:
            signer = sig.find(".//{*}signer")
        if stamp is None:
            stamp = sig.find(".//{*}timestamp")
        out.append(f"  signer: {signer.text if signer is not None else '(none)'}")
        out.append(f"  timestamp: {stamp.text if stamp is not None else '(none)'}")
        if info is None:
            out.append("  (no SignedInfo)")
            continue
        for name in ("CanonicalizationMethod", "SignatureMethod"):
            el = info.find(f"{{{NS.DS}}}{name}")
            out.append(f"  {name}: {el.get('Algorithm') if el is not None else '(none)'}")
        for ref in info.findall(f"{{{NS.DS}}}Reference"):
            dm = ref.find(f"{{{NS.DS}}}DigestMethod")
            transforms = [t.get("Algorithm") for t in ref.iterfind(f".//{{{NS.DS}}}Transform")]
            out.append(
                f"  reference {ref.get('URI')!r}: digest "
                f"{dm.get('Algorithm') if dm is not None else '(none)'}"
                + (f", transforms {', '.join(str(t) for t in transforms)}" if transforms else "")
            )
        certs = sig.findall(f".//{{{NS.DS}}}X509Certificate")
        out.append(f"  certificates in KeyInfo: {len(certs)}")


# RFC 5753 §7.1.4 / SEC 1: the ECDH key agreement schemes (asn1crypto has no names for them).
_ECDH = {
    "1.3.133.16.840.63.0.2": "ECDH (standard, SHA-1 KDF)",
    "1.3.132.1.11.1": "ECDH (standard, SHA-256 KDF)",
    "1.3.132.1.11.2": "ECDH (standard, SHA-384 KDF)",
    "1.3.132.1.11.3": "ECDH (standard, SHA-512 KDF)",
    "1.3.133.16.840.63.0.3": "ECDH (cofactor, SHA-1 KDF)",
    "1.3.132.1.14.1": "ECDH (cofactor, SHA-256 KDF)",
    "1.3.132.1.14.2": "ECDH (cofactor, SHA-384 KDF)",
    "1.3.132.1.14.3": "ECDH (cofactor, SHA-512 KDF)",
}


def _cms(der: bytes, out: list[str], indent: str) -> None:
    try:
        info = cms.ContentInfo.load(der)  # type: ignore[no-untyped-call]
        kind = info["content_type"].native
        content = info["content"]
        out.append(f"{indent}CMS {kind}")
        if kind == "signed_data":
            _signed_data(content, out, indent + "  ")
        elif kind in ("enveloped_data", "authenticated_enveloped_data"):
            _enveloped_data(content, kind, out, indent + "  ")
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        # what asn1crypto raises on malformed DER (as in xmppsec.e2e._cms): shown, not fatal
        out.append(f"{indent}(unreadable CMS: {exc})")


def _signed_data(content: Any, out: list[str], indent: str) -> None:
    """RFC 5652 §5: the digest algorithms, each SignerInfo (by issuer and serial or key
    identifier: what CMS names a signer by) with the xmppAddr of the certificate it names
    when the object carries it (RFC 3923 §6.3), and every carried certificate."""
    algs = [a["algorithm"].native for a in content["digest_algorithms"]]
    out.append(f"{indent}digest algorithms: {', '.join(algs)}")
    attached = content["encap_content_info"]["content"]
    if attached.native is not None:  # RFC 5652 §5.2: the signed content inside, not detached
        out.append(f"{indent}encapsulated content: {len(attached.contents)} bytes")
    certs = [c.chosen for c in content["certificates"] or () if c.name == "certificate"]
    for si in content["signer_infos"]:
        sid = si["sid"]
        out.append(
            f"{indent}signer: {_sid(sid)}; digest {si['digest_algorithm']['algorithm'].native}"
            f", signature {si['signature_algorithm']['algorithm'].native}"
        )
        named = [c for c in certs if _names(sid, c)]
        out.append(
            f"{indent}  xmppAddr: {', '.join(_xmpp_addrs(named[0])) or '(none)'}"
            if named else f"{indent}  certificate: not in the object (the peer must have it)"
        )
        for attr in si["signed_attrs"] or ():
            if attr["type"].native == "signing_time":
                out.append(f"{indent}  signing time: {attr['values'][0].native}")
    for cert in certs:
        out.append(
            f"{indent}certificate: {cert.subject.human_friendly}; xmppAddr "
            f"{', '.join(_xmpp_addrs(cert)) or '(none)'}"
        )


def _enveloped_data(content: Any, kind: str, out: list[str], indent: str) -> None:
    """RFC 5652 §6 / RFC 5083: the content encryption and every recipient (RSA key
    transport by issuer and serial or key identifier; each ECDH recipient of a
    KeyAgreeRecipientInfo, RFC 5753). What is signed inside is not shown: it is encrypted."""
    eci_name = (
        "auth_encrypted_content_info" if kind == "authenticated_enveloped_data"
        else "encrypted_content_info"
    )
    eci = content[eci_name]
    out.append(
        f"{indent}content encryption: {eci['content_encryption_algorithm']['algorithm'].native}"
    )
    for ri in content["recipient_infos"]:
        chosen = ri.chosen
        if ri.name == "ktri":
            alg = chosen["key_encryption_algorithm"]["algorithm"].native
            out.append(f"{indent}recipient: {_sid(chosen['rid'])}; key transport {alg}")
        elif ri.name == "kari":
            oid = chosen["key_encryption_algorithm"]["algorithm"].dotted
            agree = _ECDH.get(oid, oid)
            wrap = chosen["key_encryption_algorithm"]["parameters"]  # RFC 5753 §3.1.1
            wrap_name = (
                "(none)" if wrap.native is None
                else cms.KeyEncryptionAlgorithm.load(  # type: ignore[no-untyped-call]
                    wrap.dump()
                )["algorithm"].native
            )
            for rek in chosen["recipient_encrypted_keys"]:
                out.append(
                    f"{indent}recipient: {_sid(rek['rid'])}; key agreement {agree}, key wrap "
                    f"{wrap_name}"
                )
        else:
            out.append(f"{indent}recipient: {ri.name} (not one xmppsec writes)")
    out.append(f"{indent}signers: inside the encrypted content (not shown: nothing is decrypted)")


def _names(sid: Any, cert: Any) -> bool:
    """Whether SignerIdentifier ``sid`` names certificate ``cert`` (RFC 5652 §5.3)."""
    chosen = sid.chosen
    if sid.name == "issuer_and_serial_number":
        return bool(
            chosen["issuer"] == cert.issuer
            and chosen["serial_number"].native == cert.serial_number
        )
    return bool(chosen.native == cert.key_identifier)


def _xmpp_addrs(cert: Any) -> tuple[str, ...]:
    try:
        return xmpp_addrs(x509.load_der_x509_certificate(cert.dump()))
    except (ValueError, TypeError, XmppSecError):
        return ()


def _sid(sid: Any) -> str:
    """A SignerIdentifier, RecipientIdentifier or KeyAgreeRecipientIdentifier."""
    chosen = sid.chosen
    if sid.name == "issuer_and_serial_number":
        return (
            f"issuer {chosen['issuer'].human_friendly}, serial {chosen['serial_number'].native}"
        )
    if sid.name == "rkey_id":
        chosen = chosen["subject_key_identifier"]
    return f"key id {bytes(chosen.native).hex()}"


_MAX_DEPTH = 8  # RFC 3923 nests three MIME layers: multipart/signed > message/cpim > payload


def _mime(part: email.message.Message, out: list[str], indent: str) -> None:
    ctype = part.get_content_type()
    if len(indent) > 2 * _MAX_DEPTH:
        out.append(f"{indent}{ctype} (nested deeper than {_MAX_DEPTH} levels: not shown)")
        return
    params = {k: v for k, v in part.get_params() or [] if k != ctype}
    extra = ", ".join(f"{k}={v}" for k, v in params.items() if k in ("micalg", "protocol"))
    out.append(f"{indent}{ctype}" + (f" ({extra})" if extra else ""))
    if ctype == "message/cpim":
        _cpim(part, out, indent + "  ")
    elif part.is_multipart():
        for sub in part.get_payload():
            assert isinstance(sub, email.message.Message)  # noqa: S101 - multipart parts
            _mime(sub, out, indent + "  ")
    elif ctype in ("application/pkcs7-mime", "application/pkcs7-signature",
                   "application/x-pkcs7-mime", "application/x-pkcs7-signature"):
        raw = part.get_payload()
        der = base64.b64decode(str(raw).encode("ascii", "replace"))
        _cms(der, out, indent + "  ")


def _cpim(part: email.message.Message, out: list[str], indent: str) -> None:
    """RFC 3862 §3: the message headers (From, To, DateTime, ...), then the encapsulated
    MIME headers. The email package reads message/* as a message: its headers are the
    CPIM headers, its payload begins with the encapsulated MIME headers."""
    inner = part.get_payload()
    msg = inner[0] if isinstance(inner, list) and inner else None
    if not isinstance(msg, email.message.Message):
        out.append(f"{indent}(unreadable CPIM)")
        return
    for name, value in msg.items():
        out.append(f"{indent}{name}: {' '.join(str(value).split())}")
    body = msg.get_payload()
    head = body.replace("\r\n", "\n").split("\n\n", 1)[0] if isinstance(body, str) else ""
    for line in head.splitlines():
        if line.lower().startswith("content-type:"):
            out.append(f"{indent}payload {line.strip()}")


def _e2e(data: bytes, out: list[str]) -> None:
    try:
        entity = gateway_unwrap(data)
    except XmppSecError as exc:
        raise SMIMEFormatError(f"the <e2e/> element holds no S/MIME entity: {exc}") from None
    try:
        # the standard library's parser recurses once per nested multipart: a hostile
        # entity nested a few hundred deep exhausts the stack (an RFC 3923 object has 3)
        msg = email.message_from_bytes(entity, policy=email.policy.compat32)
    except RecursionError:
        raise SMIMEFormatError("MIME parts nested too deep to inspect") from None
    out.append("RFC 3923 object (S/MIME over Message/CPIM in <e2e/>):")
    _mime(msg, out, "  ")


def _inspect(args: argparse.Namespace) -> int:
    data = c.read_input(args.infile)
    root = parse(data)  # refused input (not XML, a DTD): rejected, exit 1
    out = [_BANNER, f"stanza: {_local(root.tag)} " + " ".join(
        f"{k}={v!r}" for k, v in root.attrib.items() if k in ("from", "to", "id", "type")
    )]
    if root.find(f".//{{{NS.E2E}}}e2e") is not None:
        _e2e(data, out)
    else:
        _dsig(root, out)
    print("\n".join(out))
    return c.EXIT_OK


def register(sub: c.Subparsers) -> None:
    p = sub.add_parser(
        "inspect",
        help="print the structure of a signed stanza or an e2e object (does NOT verify)",
        description="Print signers, references, algorithms, timestamps and, for an RFC 3923 "
        "object, content types and recipients. Nothing is verified.",
    )
    p.add_argument("--in", dest="infile", metavar="FILE", help="stanza (default: stdin)")
    p.set_defaults(handler=_inspect)
