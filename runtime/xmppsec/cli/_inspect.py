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

from asn1crypto import cms
from lxml import etree

from ..e2e import gateway_unwrap
from ..errors import SMIMEFormatError, XmppSecError
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


def _cms(der: bytes, out: list[str], indent: str) -> None:
    try:
        info = cms.ContentInfo.load(der)  # type: ignore[no-untyped-call]
        kind = info["content_type"].native
        content = info["content"]
        out.append(f"{indent}CMS {kind}")
        if kind == "signed_data":
            algs = [a["algorithm"].native for a in content["digest_algorithms"]]
            out.append(f"{indent}  digest algorithms: {', '.join(algs)}")
            for si in content["signer_infos"]:
                sid = si["sid"]
                out.append(
                    f"{indent}  signer: {sid.name} "
                    f"{_sid(sid)}; signature {si['signature_algorithm']['algorithm'].native}"
                )
                for attr in si["signed_attrs"] or ():
                    if attr["type"].native == "signing_time":
                        out.append(f"{indent}    signing time: {attr['values'][0].native}")
            for cert in content["certificates"] or ():
                out.append(f"{indent}  certificate: {cert.chosen.subject.human_friendly}")
        elif kind == "enveloped_data":
            eci = content["encrypted_content_info"]
            out.append(
                f"{indent}  content encryption: "
                f"{eci['content_encryption_algorithm']['algorithm'].native}"
            )
            for ri in content["recipient_infos"]:
                chosen = ri.chosen
                rid = chosen["rid"] if "rid" in chosen else None
                alg = chosen["key_encryption_algorithm"]["algorithm"].native
                out.append(
                    f"{indent}  recipient: {_sid(rid) if rid is not None else ri.name}; "
                    f"key transport {alg}"
                )
    except (ValueError, TypeError, KeyError) as exc:
        out.append(f"{indent}(unreadable CMS: {exc})")


def _sid(sid: object) -> str:
    chosen = getattr(sid, "chosen", None)
    if chosen is not None and hasattr(chosen, "__getitem__") and getattr(sid, "name", "") == (
        "issuer_and_serial_number"
    ):
        return (
            f"issuer {chosen['issuer'].human_friendly}, serial {chosen['serial_number'].native}"
        )
    return f"key id {getattr(chosen, 'native', chosen)!r}"


def _mime(part: email.message.Message, out: list[str], indent: str) -> None:
    ctype = part.get_content_type()
    params = {k: v for k, v in part.get_params() or [] if k != ctype}
    extra = ", ".join(f"{k}={v}" for k, v in params.items() if k in ("micalg", "protocol"))
    out.append(f"{indent}{ctype}" + (f" ({extra})" if extra else ""))
    if part.is_multipart():
        for sub in part.get_payload():
            assert isinstance(sub, email.message.Message)  # noqa: S101 - multipart parts
            _mime(sub, out, indent + "  ")
    elif ctype in ("application/pkcs7-mime", "application/pkcs7-signature",
                   "application/x-pkcs7-mime", "application/x-pkcs7-signature"):
        raw = part.get_payload()
        der = base64.b64decode(str(raw).encode("ascii", "replace"))
        _cms(der, out, indent + "  ")
    elif ctype == "message/cpim":
        body = part.get_payload(decode=True)
        if isinstance(body, bytes):
            head = body.split(b"\r\n\r\n", 2)
            for line in head[0].decode("utf-8", "replace").splitlines():
                out.append(f"{indent}  {line}")
            if len(head) > 1:
                inner = head[1].decode("utf-8", "replace").splitlines()
                kinds = [ln for ln in inner if ln.lower().startswith("content-type:")]
                for ln in kinds:
                    out.append(f"{indent}  inner {ln}")


def _e2e(data: bytes, out: list[str]) -> None:
    try:
        entity = gateway_unwrap(data)
    except XmppSecError as exc:
        raise SMIMEFormatError(f"the <e2e/> element holds no S/MIME entity: {exc}") from None
    msg = email.message_from_bytes(entity, policy=email.policy.compat32)
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
