"""Enveloped signatures by the peers (test-only dependencies): signxml and python-xmlsec.

Each peer signs and verifies the same stanza bytes as xmppsec, bytes in and bytes out, with
the same key and certificate: an enveloped signature over the whole stanza (one Reference
URI="", exclusive C14N, SHA-256), the certificate in KeyInfo when signing, and the pinned
certificate as the key when verifying. Ed25519 is not offered by either (signxml 5.2 has no
EdDSA method; python-xmlsec 1.3.17 exposes no EdDSA transform): those cells are absent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lxml import etree

from .stanzas import BenchIdentity

__all__ = ["signxml_pair", "xmlsec_pair"]

Op = Callable[[], bytes | object]
Pair = tuple[Callable[[], bytes], Callable[[bytes], object]]

DS_SIGNATURE = "{http://www.w3.org/2000/09/xmldsig#}Signature"


def signxml_pair(ident: BenchIdentity, data: bytes) -> Pair | None:
    """(sign() -> signed bytes, verify(signed) -> result), or None if unsupported."""
    try:
        from signxml.algorithms import (
            CanonicalizationMethod,
            SignatureConstructionMethod,
            SignatureMethod,
        )
        from signxml.signer import XMLSigner
        from signxml.verifier import XMLVerifier
    except ImportError:
        return None
    methods = {"rsa-2048": SignatureMethod.RSA_SHA256, "ecdsa-p256": SignatureMethod.ECDSA_SHA256}
    method = methods.get(ident.algorithm)
    if method is None:
        return None
    signer = XMLSigner(
        method=SignatureConstructionMethod.enveloped,
        signature_algorithm=method,
        digest_algorithm="sha256",
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    key: Any = ident.identity.private_key
    certs = [ident.identity.certificate]
    cert = ident.identity.certificate

    def sign() -> bytes:
        root = etree.fromstring(data)
        return bytes(etree.tostring(signer.sign(root, key=key, cert=certs)))

    def verify(signed: bytes) -> object:
        return XMLVerifier().verify(signed, x509_cert=cert)

    return sign, verify


def xmlsec_pair(ident: BenchIdentity, data: bytes) -> Pair | None:
    try:
        import xmlsec
    except ImportError:
        return None
    transforms = {
        "rsa-2048": xmlsec.constants.TransformRsaSha256,
        "ecdsa-p256": xmlsec.constants.TransformEcdsaSha256,
    }
    method = transforms.get(ident.algorithm)
    if method is None:
        return None
    fmt = xmlsec.constants.KeyDataFormatPem
    sign_key = xmlsec.Key.from_memory(ident.key_pem, fmt)
    sign_key.load_cert_from_memory(ident.cert_pem, xmlsec.constants.KeyDataFormatCertPem)
    verify_key = xmlsec.Key.from_memory(ident.cert_pem, xmlsec.constants.KeyDataFormatCertPem)
    exc = xmlsec.constants.TransformExclC14N

    def sign() -> bytes:
        root = etree.fromstring(data)
        sig = xmlsec.template.create(root, exc, method)
        root.append(sig)
        ref = xmlsec.template.add_reference(sig, xmlsec.constants.TransformSha256, uri="")
        xmlsec.template.add_transform(ref, xmlsec.constants.TransformEnveloped)
        xmlsec.template.add_transform(ref, exc)
        key_info = xmlsec.template.ensure_key_info(sig)
        xmlsec.template.add_x509_data(key_info)
        ctx = xmlsec.SignatureContext()
        ctx.key = sign_key
        ctx.sign(sig)
        return bytes(etree.tostring(root))

    def verify(signed: bytes) -> object:
        root = etree.fromstring(signed)
        sig = root.find(DS_SIGNATURE)
        assert sig is not None
        ctx = xmlsec.SignatureContext()
        ctx.key = verify_key
        ctx.verify(sig)
        return True

    return sign, verify
