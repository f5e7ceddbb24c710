"""RFC 3923 end-to-end signing and object encryption for XMPP.

A stanza is turned into a Message/CPIM object (RFC 3862), signed (CMS SignedData in
multipart/signed) and encrypted (CMS AuthEnvelopedData, AES-256-GCM, by default; AES-CBC
EnvelopedData on request) to RSA or EC recipients, and carried as text in
``<e2e xmlns='urn:ietf:params:xml:ns:xmpp-e2e'/>``::

    from xmppsec.e2e import seal_stanza, open_stanza
    sealed = seal_stanza(stanza, key=key, certificate=cert, recipients=[romeo_cert])
    opened = open_stanza(sealed, trust=trust_store, key=romeo_key,
                         certificate=romeo_cert, replay=replay_store)
    opened.stanza, opened.signer, opened.encrypted

Every failure is a typed :mod:`xmppsec.errors` exception; :func:`error_condition` maps it
to the RFC 3923 §7 condition and :func:`error_stanza` builds the reply.
"""

from __future__ import annotations

from ._api import CertificateResolver, OpenedStanza, open_stanza, seal_stanza
from ._cpim import CPIMAddress, CPIMHeader, CPIMMessage, build_cpim, parse_cpim
from ._element import (
    NS_E2E,
    error_condition,
    error_stanza,
    gateway_unwrap,
    gateway_wrap,
    received_error_condition,
)
from ._envelope import CipherName, ContentCipher, KeyTransport

__all__ = [
    "NS_E2E",
    "CPIMAddress",
    "CPIMHeader",
    "CPIMMessage",
    "CertificateResolver",
    "CipherName",
    "ContentCipher",
    "KeyTransport",
    "OpenedStanza",
    "build_cpim",
    "error_condition",
    "error_stanza",
    "gateway_unwrap",
    "gateway_wrap",
    "open_stanza",
    "parse_cpim",
    "received_error_condition",
    "seal_stanza",
]
