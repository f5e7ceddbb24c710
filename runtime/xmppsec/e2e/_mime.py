"""The MIME layer of RFC 3923: entities, multipart/signed (RFC 1847, RFC 8551 §3.5) and
application/pkcs7-mime (RFC 8551 §3.2), written and read CRLF-exactly.

Only what RFC 3923 needs is implemented, strictly: CRLF line ends (``to_crlf`` restores them
after an XML parser turned them into LF; on receipt, a decrypted entity may use LF-only
framing as ``openssl cms`` writes it without ``-crlfeol``, consistently, see
:func:`parse_entity`), ASCII header fields (unfolded on reading, never
folded on writing), base64 transfer encoding for the CMS parts (RFC 3923 §6.4's "binary"
cannot travel inside XML; the RFC's own examples use base64).
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass

from xmppsec.algorithms import DigestMethod
from xmppsec.errors import SMIMEFormatError, XmppSecError, check_limit

from ._cms import digest_method

MAX_HEADER_FIELDS = 64
MAX_HEADER_BYTES = 16384
MAX_ENTITY_BYTES = 1 << 20

_FIELD_NAME = re.compile(rb"[!-9;-~]+")
_CTL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_TOKEN = r"[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+"  # noqa: S105 - a MIME token pattern
_CT_RE = re.compile(rf"\s*({_TOKEN})/({_TOKEN})\s*(.*)", re.DOTALL)
_PARAM_RE = re.compile(
    rf'\s*;\s*({_TOKEN})\s*=\s*(?:({_TOKEN})|"((?:[^"\\]|\\.)*)")\s*', re.DOTALL
)
_BOUNDARY_RE = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")


@dataclass(frozen=True)
class MimeEntity:
    """A MIME entity: unfolded ``headers`` (name as written, value), ``body`` bytes, and
    the exact ``raw`` bytes it was parsed from."""

    headers: tuple[tuple[str, str], ...]
    body: bytes
    raw: bytes
    eol: bytes = b"\r\n"  # the line end of the header block (LF only with ``lf_ok``)

    def get(self, name: str) -> str | None:
        """The value of the one header field ``name`` (case-insensitive); None if absent.
        A duplicated field raises SMIMEFormatError (ambiguous)."""
        values = [v for n, v in self.headers if n.lower() == name.lower()]
        if len(values) > 1:
            raise SMIMEFormatError(f"duplicate MIME header field {name}")
        return values[0] if values else None


def to_crlf(data: bytes) -> bytes:
    """Re-canonicalize line ends to CRLF: XML parsers turn CRLF (and lone CR) into LF even
    inside CDATA (XML 1.0 §2.11), so text from an ``<e2e/>`` element has LF line ends."""
    return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")


def _check_crlf(block: bytes, error: type[XmppSecError]) -> None:
    stripped = block.replace(b"\r\n", b"")
    if b"\r" in stripped or b"\n" in stripped:
        raise error("MIME header lines must end with CRLF")


def parse_entity(
    data: bytes, *, error: type[XmppSecError] = SMIMEFormatError, lf_ok: bool = False
) -> MimeEntity:
    """Split a MIME entity into header fields and body (RFC 2045 §3, RFC 5322 §2.2).

    Header lines end in CRLF. With ``lf_ok`` (the decrypted MIME layer only), a header
    block whose every line ends in a bare LF is accepted too: ``openssl cms -sign`` and
    ``-encrypt -binary`` write that by default. The line end is one per block, never mixed,
    and recorded in ``MimeEntity.eol`` for the multipart framing that follows."""
    check_limit("max_bytes", len(data), MAX_ENTITY_BYTES)
    first = data.find(b"\n", 0, MAX_HEADER_BYTES + 4)
    eol = b"\n" if lf_ok and first >= 0 and data[first - 1 : first] != b"\r" else b"\r\n"
    if data.startswith(eol):
        return MimeEntity(headers=(), body=data[len(eol) :], raw=data, eol=eol)
    end = data.find(eol + eol, 0, MAX_HEADER_BYTES + 2 * len(eol))
    if end < 0:
        check_limit("max_header_bytes", len(data), MAX_HEADER_BYTES)
        raise error("MIME header fields are not followed by a blank line")
    block = data[:end]
    if eol == b"\n":
        if b"\r" in block:
            raise error("MIME header lines mix LF and CRLF line ends")
    else:
        _check_crlf(block, error)
    fields: list[tuple[str, str]] = []
    for line in block.split(eol):
        if line[:1] in (b" ", b"\t"):
            if not fields:
                raise error("MIME header block starts with a continuation line")
            name, value = fields[-1]
            fields[-1] = (name, value + " " + _ascii(line.strip(b" \t"), error))
            continue
        name_b, sep, value_b = line.partition(b":")
        if not sep or not _FIELD_NAME.fullmatch(name_b):
            raise error("malformed MIME header field")
        fields.append((_ascii(name_b, error), _ascii(value_b.strip(b" \t"), error)))
        check_limit("max_header_fields", len(fields), MAX_HEADER_FIELDS)
    return MimeEntity(headers=tuple(fields), body=data[end + 2 * len(eol) :], raw=data, eol=eol)


def _ascii(b: bytes, error: type[XmppSecError]) -> str:
    try:
        s = b.decode("ascii")
    except UnicodeDecodeError:
        raise error("non-ASCII byte in a MIME header field") from None
    if _CTL.search(s):
        raise error("control character in a MIME header field")
    return s


def parse_content_type(
    value: str, *, error: type[XmppSecError] = SMIMEFormatError
) -> tuple[str, dict[str, str]]:
    """RFC 2045 §5.1: ``type/subtype *(; attribute=value)``; returns the lower-cased media
    type and parameters (names lower-cased, quoted values unquoted). Duplicates are errors."""
    m = _CT_RE.fullmatch(value)
    if m is None:
        raise error(f"malformed Content-Type {value[:60]!r}")
    media = f"{m.group(1)}/{m.group(2)}".lower()
    rest = m.group(3)
    params: dict[str, str] = {}
    pos = 0
    while pos < len(rest):
        pm = _PARAM_RE.match(rest, pos)
        if pm is None or pm.end() == pos:
            raise error(f"malformed Content-Type parameters {rest[:60]!r}")
        name = pm.group(1).lower()
        if name in params:
            raise error(f"duplicate Content-Type parameter {name}")
        if pm.group(2) is not None:
            params[name] = pm.group(2)
        else:
            params[name] = re.sub(r"\\(.)", r"\1", pm.group(3))
        pos = pm.end()
    return media, params


def content_type_of(
    entity: MimeEntity, *, error: type[XmppSecError] = SMIMEFormatError
) -> tuple[str, dict[str, str]]:
    """The entity's Content-Type; required here (RFC 3923 always labels its parts)."""
    try:
        value = entity.get("Content-Type")
    except SMIMEFormatError as exc:
        raise error(str(exc)) from None
    if value is None:
        raise error("MIME entity without Content-Type")
    return parse_content_type(value, error=error)


# -- base64 -------------------------------------------------------------------------------


def b64encode_lines(data: bytes) -> bytes:
    """Base64 in 64-character CRLF lines (RFC 2045 §6.8 allows up to 76)."""
    s = base64.b64encode(data)
    return b"\r\n".join(s[i : i + 64] for i in range(0, len(s), 64)) + b"\r\n"


def b64decode_strict(data: bytes) -> bytes:
    """Decode base64 ignoring line breaks and spaces only; anything else is an error."""
    compact = re.sub(rb"[\r\n\t ]+", b"", data)
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise SMIMEFormatError("bad base64 in an S/MIME part") from None


def _decode_transfer(entity: MimeEntity) -> bytes:
    cte = (entity.get("Content-Transfer-Encoding") or "7bit").strip().lower()
    if cte == "base64":
        return b64decode_strict(entity.body)
    if cte == "binary":
        return entity.body
    raise SMIMEFormatError(f"unsupported Content-Transfer-Encoding for a CMS part: {cte}")


# -- multipart/signed ---------------------------------------------------------------------

#: RFC 8551 §3.5.3.2 micalg names (RFC 3851 used "sha1", which RFC 3923 §3.3 shows).
MICALG: dict[DigestMethod, str] = {
    DigestMethod.SHA1: "sha1",
    DigestMethod.SHA256: "sha-256",
    DigestMethod.SHA384: "sha-384",
    DigestMethod.SHA512: "sha-512",
}


#: The preamble ``openssl cms -sign`` writes (line end aside), the only one accepted.
OPENSSL_PREAMBLE = b"This is an S/MIME signed message"


def new_boundary() -> str:
    return "----=_xmppsec_" + secrets.token_hex(12)


def build_multipart_signed(
    signed_part: bytes,
    signature: bytes,
    *,
    digest: DigestMethod | str,
    boundary: str | None = None,
) -> bytes:
    """RFC 1847 §2.1 / RFC 8551 §3.5.3: ``signed_part`` is the exact first body part
    (headers + body, CRLF); the signature covers exactly these bytes."""
    b = boundary or new_boundary()
    if b.encode() in signed_part:
        raise SMIMEFormatError("boundary occurs in the signed part")
    head = (
        f'Content-Type: multipart/signed; boundary="{b}"; micalg={MICALG[digest_method(digest)]}; '
        f'protocol="application/pkcs7-signature"\r\n\r\n'
    ).encode()
    sig_part = (
        b"Content-Type: application/pkcs7-signature; name=smime.p7s\r\n"
        b"Content-Transfer-Encoding: base64\r\n"
        b"Content-Disposition: attachment; handling=required; filename=smime.p7s\r\n\r\n"
        + b64encode_lines(signature)
    )
    d = b"--" + b.encode()
    return b"".join(
        [head, d, b"\r\n", signed_part, b"\r\n", d, b"\r\n", sig_part, b"\r\n", d, b"--\r\n"]
    )


@dataclass(frozen=True)
class MultipartSigned:
    signed_part: bytes  # exact bytes covered by the signature
    signature: bytes  # DER SignedData (detached)
    micalg: str


def parse_multipart_signed(entity: MimeEntity) -> MultipartSigned:
    """Split multipart/signed into the exact signed bytes and the CMS signature."""
    media, params = content_type_of(entity)
    if media != "multipart/signed":
        raise SMIMEFormatError(f"expected multipart/signed, got {media}")
    protocol = params.get("protocol", "").lower()
    if protocol not in ("application/pkcs7-signature", "application/x-pkcs7-signature"):
        raise SMIMEFormatError(f"unsupported multipart/signed protocol {protocol!r}")
    boundary = params.get("boundary")
    if boundary is None or not _BOUNDARY_RE.fullmatch(boundary):
        raise SMIMEFormatError("multipart/signed without a valid boundary")
    d = b"--" + boundary.encode()
    body = entity.body
    # The framing (delimiters, preamble, the signature part's headers) uses the line end
    # of the entity's header block: CRLF, or LF as openssl writes without -crlfeol. The
    # signed part between the delimiters is taken byte for byte either way.
    eol = entity.eol
    # RFC 2046 §5.1.1: a delimiter is CRLF "--" boundary; the first may start the body.
    # Exactly one entity (issue 13): no preamble but OpenSSL's fixed line, nothing after
    # the close delimiter but OpenSSL's line ends. Bytes an attacker appends to a CBC
    # plaintext land there; accepting them made the padding observable.
    if body.startswith(d + eol):
        start = len(d) + len(eol)
    elif body.startswith(OPENSSL_PREAMBLE + eol + eol + d + eol):
        start = len(OPENSSL_PREAMBLE) + len(d) + 3 * len(eol)
    else:
        raise SMIMEFormatError("multipart/signed: a preamble or no first boundary")
    mid = body.find(eol + d + eol, start)
    if mid < 0:
        raise SMIMEFormatError("multipart/signed: second boundary not found")
    end = body.find(eol + d + b"--", mid + len(eol))
    if end < 0:
        raise SMIMEFormatError("multipart/signed: closing boundary not found")
    if body[end + len(eol) + len(d) + 2 :] not in (b"", eol, eol + eol):
        raise SMIMEFormatError("multipart/signed: bytes after the closing boundary")
    if body.find(eol + d, mid + len(eol), end) >= 0:
        raise SMIMEFormatError("multipart/signed must have exactly two parts")
    signed_part = body[start:mid]
    sig_entity = parse_entity(body[mid + len(d) + 2 * len(eol) : end], lf_ok=eol == b"\n")
    if sig_entity.eol != eol:
        raise SMIMEFormatError("multipart/signed: the parts mix LF and CRLF line ends")
    sig_type, _ = content_type_of(sig_entity)
    if sig_type not in ("application/pkcs7-signature", "application/x-pkcs7-signature"):
        raise SMIMEFormatError(f"second part of multipart/signed is {sig_type}")
    return MultipartSigned(
        signed_part=signed_part,
        signature=_decode_transfer(sig_entity),
        micalg=params.get("micalg", "").lower(),
    )


# -- application/pkcs7-mime ---------------------------------------------------------------


def build_pkcs7_mime(der: bytes, *, smime_type: str) -> bytes:
    """RFC 8551 §3.2 (RFC 3923 §3.4): an enveloped-data or signed-data entity, base64."""
    if smime_type not in ("enveloped-data", "authEnveloped-data", "signed-data"):
        raise SMIMEFormatError(f"unsupported smime-type {smime_type}")
    return (
        f"Content-Type: application/pkcs7-mime; smime-type={smime_type}; name=smime.p7m\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        "Content-Disposition: attachment; handling=required; filename=smime.p7m\r\n\r\n"
    ).encode() + b64encode_lines(der)


def pkcs7_mime_der(entity: MimeEntity) -> tuple[str, bytes]:
    """The smime-type (``enveloped-data``/``signed-data``; may be "" when absent) and the
    DER of an application/pkcs7-mime entity."""
    media, params = content_type_of(entity)
    if media not in ("application/pkcs7-mime", "application/x-pkcs7-mime"):
        raise SMIMEFormatError(f"expected application/pkcs7-mime, got {media}")
    return params.get("smime-type", "").lower(), _decode_transfer(entity)
