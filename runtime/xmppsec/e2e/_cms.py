"""CMS SignedData (RFC 5652 §5) built and verified here.

cryptography has no public SignedData verification and its PKCS7SignatureBuilder refuses
SHA-1 (RFC 3923 §6.10's mandatory-to-implement digest), so both directions are written
with asn1crypto for the ASN.1 structure and cryptography for every primitive. One code path
signs with SHA-1..SHA-512, RSA PKCS#1 v1.5 / PSS, ECDSA and Ed25519 (RFC 8419), detached
or attached, and the signed attributes are exactly what RFC 8551 §2.5 asks for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography import exceptions as cx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from xmppsec.algorithms import (
    LEGACY_DIGESTS,
    CMSSigningKey,
    DigestMethod,
    DigestName,
    PrivateKey,
    SignatureMethod,
)
from xmppsec.errors import (
    InvalidSignature,
    KeyLoadError,
    SMIMEFormatError,
    UnsupportedAlgorithm,
    UntrustedKey,
    UsageError,
    check_limit,
)
from xmppsec.keys import check_key_strength

from ._asn1 import algos, cms, core
from ._asn1 import x509 as ax509
from ._der import check_ber

MAX_CERTIFICATES = 8

#: The one digest table of xmppsec.e2e: xmppsec.algorithms' DigestMethod -> the CMS
#: (asn1crypto) name and cryptography's hash. SHA-1 is RFC 3923 §6.10's MTI, accepted
#: only on request (``allow_sha1``); MD5 and anything else are never accepted.
DIGESTS: dict[DigestMethod, tuple[str, type[hashes.HashAlgorithm]]] = {
    DigestMethod.SHA1: ("sha1", hashes.SHA1),
    DigestMethod.SHA256: ("sha256", hashes.SHA256),
    DigestMethod.SHA384: ("sha384", hashes.SHA384),
    DigestMethod.SHA512: ("sha512", hashes.SHA512),
}
_BY_NAME: dict[str, DigestMethod] = {name: m for m, (name, _h) in DIGESTS.items()}
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {name: h for name, h in DIGESTS.values()}


#: (key family, digest) -> the xmppsec.algorithms SignatureMethod a CMS signature is.
_SIGNATURE_METHODS: dict[tuple[str, DigestMethod], SignatureMethod] = {
    ("rsa", DigestMethod.SHA1): SignatureMethod.RSA_SHA1,
    ("rsa", DigestMethod.SHA256): SignatureMethod.RSA_SHA256,
    ("rsa", DigestMethod.SHA384): SignatureMethod.RSA_SHA384,
    ("rsa", DigestMethod.SHA512): SignatureMethod.RSA_SHA512,
    ("rsa-pss", DigestMethod.SHA256): SignatureMethod.RSA_PSS_SHA256,
    ("rsa-pss", DigestMethod.SHA384): SignatureMethod.RSA_PSS_SHA384,
    ("rsa-pss", DigestMethod.SHA512): SignatureMethod.RSA_PSS_SHA512,
    ("ecdsa", DigestMethod.SHA256): SignatureMethod.ECDSA_SHA256,
    ("ecdsa", DigestMethod.SHA384): SignatureMethod.ECDSA_SHA384,
    ("ecdsa", DigestMethod.SHA512): SignatureMethod.ECDSA_SHA512,
    ("ed25519", DigestMethod.SHA512): SignatureMethod.ED25519,
}


def _signature_method(sig_alg: str, method: DigestMethod) -> SignatureMethod | None:
    """The SignatureMethod of a verified CMS signature (None: no name for it there, e.g.
    RSASSA-PSS or ECDSA with SHA-1)."""
    if sig_alg == "rsassa_pss":
        family = "rsa-pss"
    elif sig_alg == "ed25519":
        family = "ed25519"
    elif sig_alg.endswith("_ecdsa"):
        family = "ecdsa"
    else:
        family = "rsa"
    return _SIGNATURE_METHODS.get((family, method))


def digest_method(value: DigestMethod | DigestName | str) -> DigestMethod:
    """The DigestMethod ``value`` names: the enum itself, its URI, or a CMS / micalg name
    (``"sha256"``, ``"sha-256"``). UsageError for anything else."""
    if isinstance(value, DigestMethod):
        return value
    try:
        return DigestMethod(value)
    except ValueError:
        pass
    method = _BY_NAME.get(value.lower().replace("-", ""))
    if method is None:
        raise UsageError(f"unsupported digest {value!r}")
    return method


def cms_name(method: DigestMethod) -> str:
    """The CMS (asn1crypto) name of a digest method, e.g. ``"sha256"``."""
    return DIGESTS[method][0]

_RSA_V15 = {f"{h}_rsa": h for h in _HASHES}
_ECDSA = {f"{h}_ecdsa": h for h in _HASHES}

# Errors asn1crypto and cryptography raise on malformed input; wrapped at this boundary.
# x509.InvalidVersion (an unknown certificate version) is no ValueError (found by
# tests/fuzz, cms/s*.bin).
_PARSE_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    OverflowError,
    x509.InvalidVersion,
)


@dataclass(frozen=True)
class SignedDataInfo:
    """What a verified SignedData proved: ``content`` (the signed bytes), the
    ``certificate`` whose key verified, algorithm names, the optional signingTime."""

    content: bytes
    certificate: x509.Certificate
    digest_algorithm: str  # the CMS name, e.g. "sha256"
    digest_method: DigestMethod
    signature_algorithm: str  # the CMS name, e.g. "sha256_ecdsa"
    signature_method: SignatureMethod | None
    signature: bytes
    signing_time: datetime | None


def _digest_algorithm(name: str) -> Any:
    """A digest AlgorithmIdentifier with its parameters absent: RFC 5754 §2 (SHA-2) and
    RFC 3370 §2.1 (SHA-1) say to write it so, as OpenSSL does. asn1crypto would add NULL,
    so the DER is built here and loaded (a loaded value is re-encoded as it was read)."""
    oid: bytes = algos.DigestAlgorithmId(name).dump()
    return algos.DigestAlgorithm.load(b"\x30" + bytes([len(oid)]) + oid)


def _check_digest_parameters(alg: Any) -> None:
    """RFC 5754 §2, RFC 3370 §2.1: accept absent and NULL parameters, nothing else."""
    if alg["parameters"].dump() not in (b"", b"\x05\x00"):
        raise SMIMEFormatError("digest algorithm parameters must be absent or NULL")


def _hash(name: str, data: bytes) -> bytes:
    h = hashes.Hash(_HASHES[name]())
    h.update(data)
    return h.finalize()


# -- signing ------------------------------------------------------------------------------


def sign(
    content: bytes,
    private_key: PrivateKey,
    certificate: x509.Certificate,
    *,
    digest: DigestMethod | str = DigestMethod.SHA256,
    pss: bool = False,
    detached: bool = True,
    extra_certificates: Sequence[x509.Certificate] = (),
    signing_time: datetime | None = None,
    omit_certificates: bool = False,
) -> bytes:
    """Return DER ContentInfo(SignedData) over ``content``.

    Signed attributes (RFC 5652 §11, RFC 8551 §2.5): contentType id-data, signingTime,
    messageDigest. The signer is identified by issuer and serial number (version 1).
    ``DigestMethod.SHA1`` exists for peers that implement only RFC 3923's MTI.
    """
    digest = cms_name(digest_method(digest))
    if not isinstance(private_key, CMSSigningKey):
        raise KeyLoadError("CMS signing needs an RSA, EC or Ed25519 private key")
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        digest = "sha512"  # RFC 8419 §3.1: SHA-512 with id-Ed25519
    cert_der = certificate.public_bytes(serialization.Encoding.DER)
    try:
        cert_pub = certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    except ValueError as exc:
        raise KeyLoadError(f"unusable certificate: {exc}") from None
    own_pub = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if own_pub != cert_pub:
        raise KeyLoadError("the private key does not belong to the signer certificate")
    acert = ax509.Certificate.load(cert_der)
    when = (signing_time or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    time_value = (
        cms.Time({"utc_time": core.UTCTime(when)})
        if 1950 <= when.year < 2050
        else cms.Time({"generalized_time": core.GeneralizedTime(when)})
    )
    signed_attrs = cms.CMSAttributes(
        [
            cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
            cms.CMSAttribute({"type": "signing_time", "values": [time_value]}),
            cms.CMSAttribute({"type": "message_digest", "values": [_hash(digest, content)]}),
        ]
    )
    to_sign: bytes = signed_attrs.dump()  # the DER SET OF, tag 0x31 (RFC 5652 §5.4)
    sig_alg: dict[str, Any]
    hash_alg = _HASHES[digest]()
    if isinstance(private_key, rsa.RSAPrivateKey):
        if pss:
            signature = private_key.sign(
                to_sign,
                padding.PSS(mgf=padding.MGF1(hash_alg), salt_length=hash_alg.digest_size),
                hash_alg,
            )
            sig_alg = {
                "algorithm": "rsassa_pss",
                "parameters": algos.RSASSAPSSParams(
                    {
                        "hash_algorithm": {"algorithm": digest},
                        "mask_gen_algorithm": {
                            "algorithm": "mgf1",
                            "parameters": {"algorithm": digest},
                        },
                        "salt_length": hash_alg.digest_size,
                    }
                ),
            }
        else:
            signature = private_key.sign(to_sign, padding.PKCS1v15(), hash_alg)
            sig_alg = {"algorithm": "rsassa_pkcs1v15"}  # rsaEncryption, as OpenSSL writes
    elif isinstance(private_key, ec.EllipticCurvePrivateKey):
        signature = private_key.sign(to_sign, ec.ECDSA(hash_alg))
        sig_alg = {"algorithm": f"{digest}_ecdsa"}
    else:
        signature = private_key.sign(to_sign)
        sig_alg = {"algorithm": "ed25519"}
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                        {"issuer": acert.issuer, "serial_number": acert.serial_number}
                    )
                }
            ),
            "digest_algorithm": _digest_algorithm(digest),
            "signed_attrs": signed_attrs,
            "signature_algorithm": sig_alg,
            "signature": signature,
        }
    )
    certs = (
        []
        if omit_certificates
        else [acert]
        + [
            ax509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
            for c in extra_certificates
        ]
    )
    signed_data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [_digest_algorithm(digest)],
            "encap_content_info": {
                "content_type": "data",
                "content": None if detached else content,
            },
            "certificates": certs or None,
            "signer_infos": [signer_info],
        }
    )
    out: bytes = cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()
    return out


# -- verification -------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedSignedData:
    """A structurally checked SignedData, not yet verified (see :func:`verify_parsed`)."""

    econtent: bytes | None
    certificates: tuple[x509.Certificate, ...]
    digest: str
    sig_alg: str
    sig_params: Any
    signature: bytes
    attrs_der: bytes
    content_type_attr: str
    message_digest: bytes
    signing_time: datetime | None
    sid_kind: str
    sid_issuer: Any
    sid_serial: int
    sid_ski: bytes


def _absent(value: Any) -> bool:
    """An OPTIONAL field that is not there (without building its native form)."""
    return isinstance(value, core.Void)


def parse(der: bytes, *, max_certificates: int = MAX_CERTIFICATES) -> ParsedSignedData:
    """Check and parse a DER/BER ContentInfo(SignedData); SMIMEFormatError or
    LimitExceeded on any structural fault."""
    check_ber(der)
    try:
        ci = cms.ContentInfo.load(der, strict=True)
        if ci["content_type"].native != "signed_data":
            raise SMIMEFormatError("CMS object is not SignedData")
        sd = ci["content"]
        encap = sd["encap_content_info"]
        econtent_type = encap["content_type"].native
        if econtent_type != "data":
            raise SMIMEFormatError(f"unsupported encapsulated content type {econtent_type}")
        ec_value = encap["content"]
        econtent: bytes | None = None
        if ec_value.native is not None:
            raw = ec_value.native
            econtent = raw if isinstance(raw, bytes) else bytes(ec_value.contents)
        certificates: list[x509.Certificate] = []
        certs_field = sd["certificates"]
        if not _absent(certs_field):
            check_limit("max_chain_length", len(certs_field), max_certificates)
            for choice in certs_field:
                if choice.name == "certificate":
                    certificates.append(x509.load_der_x509_certificate(choice.chosen.dump()))
        infos = sd["signer_infos"]
        if len(infos) != 1:
            raise SMIMEFormatError("exactly one SignerInfo is supported")
        si = infos[0]
        digest = si["digest_algorithm"]["algorithm"].native
        _check_digest_parameters(si["digest_algorithm"])
        for listed_alg in sd["digest_algorithms"]:
            _check_digest_parameters(listed_alg)
        listed = {a["algorithm"].native for a in sd["digest_algorithms"]}
        if digest not in listed:
            raise SMIMEFormatError("SignerInfo digest algorithm not listed in SignedData")
        sig_alg = si["signature_algorithm"]["algorithm"].native
        sig_params = si["signature_algorithm"]["parameters"]
        signature = si["signature"].native
        attrs = si["signed_attrs"]
        if _absent(attrs) or len(attrs) == 0:
            raise SMIMEFormatError("SignerInfo without signed attributes is not accepted")
        attrs_raw = attrs.dump()
        if len(attrs_raw) < 2 or attrs_raw[0] != 0xA0 or attrs_raw[1] == 0x80:
            raise SMIMEFormatError("signed attributes are not DER")
        seen: set[str] = set()
        content_type_attr = ""
        message_digest = b""
        signing_time: datetime | None = None
        for attr in attrs:
            name = attr["type"].dotted
            if name in seen:
                raise SMIMEFormatError("duplicate signed attribute")  # RFC 5652 §5.3
            seen.add(name)
            kind = attr["type"].native
            if kind in ("content_type", "message_digest", "signing_time"):
                values = attr["values"]
                if len(values) != 1:
                    raise SMIMEFormatError(f"signed attribute {kind} must have one value")
                if kind == "content_type":
                    content_type_attr = values[0].native
                elif kind == "message_digest":
                    message_digest = values[0].native
                else:
                    st = values[0].native
                    if not isinstance(st, datetime) or st.tzinfo is None:
                        # compared with the receiver's clock: a naive or year-0 time
                        # has no place on it (RFC 5652 §11.3: UTCTime or GeneralizedTime Z)
                        raise SMIMEFormatError("signingTime is not a UTC time")
                    signing_time = st
        if not content_type_attr or not message_digest:
            raise SMIMEFormatError("contentType and messageDigest signed attributes required")
        if content_type_attr != econtent_type:
            raise InvalidSignature("contentType attribute differs from the encapsulated type")
        sid = si["sid"]
        sid_kind = sid.name
        sid_issuer: Any = None
        sid_serial = 0
        sid_ski = b""
        if sid_kind == "issuer_and_serial_number":
            sid_issuer = sid.chosen["issuer"]
            sid_serial = sid.chosen["serial_number"].native
            sid_issuer.native  # noqa: B018 - force the lazy parse inside this try
        else:
            sid_ski = sid.chosen.native
        return ParsedSignedData(
            econtent=econtent,
            certificates=tuple(certificates),
            digest=digest,
            sig_alg=sig_alg,
            sig_params=sig_params,
            signature=signature,
            attrs_der=b"\x31" + attrs_raw[1:],
            content_type_attr=content_type_attr,
            message_digest=message_digest,
            signing_time=signing_time,
            sid_kind=sid_kind,
            sid_issuer=sid_issuer,
            sid_serial=sid_serial,
            sid_ski=sid_ski,
        )
    except _PARSE_ERRORS as exc:
        raise SMIMEFormatError(f"malformed SignedData: {type(exc).__name__}") from None


def signed_data_certificates(der: bytes) -> tuple[x509.Certificate, ...]:
    """The certificates a SignedData carries (untrusted; for the trust store to judge)."""
    return parse(der).certificates


def _matches_sid(p: ParsedSignedData, cert: x509.Certificate) -> bool:
    try:
        acert = ax509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
        if p.sid_kind == "issuer_and_serial_number":
            if acert.serial_number != p.sid_serial:
                return False
            # identical DER first; RFC 5280 §7.1 name comparison only when it differs
            return bool(acert.issuer.dump() == p.sid_issuer.dump() or acert.issuer == p.sid_issuer)
        ski = acert.key_identifier
        return ski is not None and bool(ski == p.sid_ski)
    except _PARSE_ERRORS:
        return False


def _check_key(public_key: PublicKeyTypes) -> None:
    if isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size < 2048:
        raise UnsupportedAlgorithm(f"RSA-{public_key.key_size} is too weak (minimum 2048)")
    check_key_strength(public_key)


def _verify_signature(p: ParsedSignedData, public_key: PublicKeyTypes) -> None:
    digest = p.digest
    hash_alg = _HASHES[digest]()
    alg = p.sig_alg
    try:
        if alg == "rsassa_pkcs1v15" or alg in _RSA_V15:
            if alg in _RSA_V15 and _RSA_V15[alg] != digest:
                raise UnsupportedAlgorithm("signature and digest algorithms differ")
            if not isinstance(public_key, rsa.RSAPublicKey):
                raise InvalidSignature("RSA signature but the certificate key is not RSA")
            public_key.verify(p.signature, p.attrs_der, padding.PKCS1v15(), hash_alg)
        elif alg == "rsassa_pss":
            params = p.sig_params
            if params.native is None:
                raise UnsupportedAlgorithm("RSASSA-PSS without parameters (SHA-1 defaults)")
            h = params["hash_algorithm"]["algorithm"].native
            mgf = params["mask_gen_algorithm"]
            salt = params["salt_length"].native
            if (
                h != digest
                or mgf["algorithm"].native != "mgf1"
                or mgf["parameters"]["algorithm"].native != digest
                or params["trailer_field"].native not in ("trailer_field_bc", 1)
                or not isinstance(salt, int)
                or not 0 <= salt <= 512
            ):
                raise UnsupportedAlgorithm("unsupported RSASSA-PSS parameters")
            if not isinstance(public_key, rsa.RSAPublicKey):
                raise InvalidSignature("RSA signature but the certificate key is not RSA")
            public_key.verify(
                p.signature,
                p.attrs_der,
                padding.PSS(mgf=padding.MGF1(hash_alg), salt_length=salt),
                hash_alg,
            )
        elif alg in _ECDSA:
            if _ECDSA[alg] != digest:
                raise UnsupportedAlgorithm("signature and digest algorithms differ")
            if not isinstance(public_key, ec.EllipticCurvePublicKey):
                raise InvalidSignature("ECDSA signature but the certificate key is not EC")
            public_key.verify(p.signature, p.attrs_der, ec.ECDSA(hash_alg))
        elif alg == "ed25519":
            if not isinstance(public_key, ed25519.Ed25519PublicKey):
                raise InvalidSignature("Ed25519 signature but the key is not Ed25519")
            public_key.verify(p.signature, p.attrs_der)
        else:
            raise UnsupportedAlgorithm(f"unsupported signature algorithm {alg}")
    except cx.InvalidSignature:
        raise InvalidSignature("CMS signature does not verify") from None
    except _PARSE_ERRORS as exc:
        raise SMIMEFormatError(f"malformed signature: {type(exc).__name__}") from None


def verify(
    der: bytes,
    *,
    select_certificates: Callable[[Sequence[x509.Certificate]], Sequence[x509.Certificate]],
    detached_content: bytes | None = None,
    allow_sha1: bool = False,
) -> SignedDataInfo:
    """Verify a DER/BER SignedData (RFC 5652 §5.6).

    ``select_certificates`` receives the (untrusted) certificates the object carries and
    returns the trusted certificates that may verify (typically ``TrustStore.resolve_all``
    for the expected signer); the one the SignerInfo's sid names is used. Checks: one SignerInfo,
    signed attributes present and unique, contentType = id-data, messageDigest = digest of
    the content, the signature over the DER SET of signed attributes, algorithm allow-list
    (MD5 always and SHA-1 unless ``allow_sha1`` → UnsupportedAlgorithm), key strength.
    """
    return verify_parsed(
        parse(der),
        select_certificates=select_certificates,
        detached_content=detached_content,
        allow_sha1=allow_sha1,
    )


def verify_parsed(
    p: ParsedSignedData,
    *,
    select_certificates: Callable[[Sequence[x509.Certificate]], Sequence[x509.Certificate]],
    detached_content: bytes | None = None,
    allow_sha1: bool = False,
) -> SignedDataInfo:
    """:func:`verify` on an object :func:`parse` already checked."""
    method = _BY_NAME.get(p.digest)
    if method is None or (method in LEGACY_DIGESTS and not allow_sha1):
        raise UnsupportedAlgorithm(f"digest algorithm {p.digest} is not allowed")
    if detached_content is not None and p.econtent is not None:
        raise SMIMEFormatError("SignedData carries content but detached content was given")
    content = detached_content if detached_content is not None else p.econtent
    if content is None:
        raise SMIMEFormatError("detached SignedData without the signed content")
    matching = [c for c in select_certificates(p.certificates) if _matches_sid(p, c)]
    if not matching:
        raise UntrustedKey("no trusted certificate is the one named by the SignerInfo")
    cert = matching[0]
    public_key = cert.public_key()
    _check_key(public_key)
    if _hash(p.digest, content) != p.message_digest:
        # compare_digest is not needed: the digest of public content is not a secret
        raise InvalidSignature("messageDigest does not match the content")
    _verify_signature(p, public_key)
    return SignedDataInfo(
        content=content,
        certificate=cert,
        digest_algorithm=p.digest,
        digest_method=method,
        signature_algorithm=p.sig_alg,
        signature_method=_signature_method(p.sig_alg, method),
        signature=p.signature,
        signing_time=p.signing_time,
    )
