"""Issue 13 §2 (recipient binding, no surreptitious forwarding) and §1's recipients:
ECDSA identities and several devices in one object."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from xmppsec.e2e import _cms, _envelope, build_cpim, gateway_unwrap, open_stanza, seal_stanza
from xmppsec.e2e._element import make_e2e, new_stanza, serialize
from xmppsec.e2e._envelope import ContentCipher, KeyTransport
from xmppsec.e2e._mime import build_multipart_signed, build_pkcs7_mime, parse_entity, pkcs7_mime_der
from xmppsec.errors import DecryptionError, SignerMismatch, StanzaMismatch, UsageError
from xmppsec.keys import generate_identity
from xmppsec.trust import TrustStore

if TYPE_CHECKING:
    from tests.test_e2e_support import Ident, make_ident
else:
    from test_e2e_support import Ident, make_ident

NOW = datetime.now(UTC).replace(microsecond=0)
JULIET, ROMEO, MALLORY = "juliet@example.com", "romeo@example.net", "mallory@evil.example"


def msg(to: str, frm: str = JULIET + "/balcony", extra: str = "") -> bytes:
    return (f"<message xmlns='jabber:client' from='{frm}' to='{to}' type='chat'{extra}>"
            f"<body>I love thee</body></message>").encode()


def trust() -> TrustStore:
    return TrustStore().pin(JULIET, make_ident(JULIET).cert)


def _forwarded_by_mallory(to: str) -> bytes:
    """Juliet signs and encrypts to Mallory; Mallory decrypts, re-encrypts the signed
    entity to Romeo and sends it on with Juliet's from."""
    j, m, r = make_ident(JULIET), make_ident(MALLORY), make_ident(ROMEO)
    sealed = seal_stanza(msg(MALLORY), key=j.key, certificate=j.cert, recipients=[m.cert],
                         now=NOW)
    _t, der = pkcs7_mime_der(parse_entity(gateway_unwrap(sealed)))
    signed = _envelope.decrypt(der, m.cert, m.key)
    entity = build_pkcs7_mime(_envelope.encrypt(signed, [r.cert]),
                              smime_type="authEnveloped-data")
    root = new_stanza("message", {"from": JULIET + "/balcony", "to": to, "type": "chat"})
    make_e2e(root, entity)
    return serialize(root)


@pytest.mark.parametrize("to", [MALLORY, ROMEO])
def test_reencrypted_forward_is_refused(to: str) -> None:
    r = make_ident(ROMEO)
    with pytest.raises(DecryptionError):
        open_stanza(_forwarded_by_mallory(to), trust=trust(), key=r.key, certificate=r.cert,
                    now=NOW)


def test_signed_only_for_mallory_is_refused_by_romeo() -> None:
    j = make_ident(JULIET)
    signed = seal_stanza(msg(MALLORY), key=j.key, certificate=j.cert, encrypt=False, now=NOW)
    with pytest.raises(StanzaMismatch):
        open_stanza(signed, trust=trust(), recipient=ROMEO, now=NOW)
    r = make_ident(ROMEO)  # the opener's own certificate names him too
    with pytest.raises(StanzaMismatch):
        open_stanza(signed, trust=trust(), certificate=r.cert, now=NOW)
    assert open_stanza(signed, trust=trust(), recipient=MALLORY + "/phone",
                       now=NOW).recipient == MALLORY
    with pytest.raises(UsageError):
        open_stanza(signed, trust=trust(), recipient="@bad", now=NOW)


def _craft(inner: bytes, outer: dict[str, str]) -> bytes:
    """Juliet (trusted) signs any application/xmpp+xml content: what the checks of the
    inner stanza are for."""
    j = make_ident(JULIET)
    cpim = build_cpim(sender=JULIET, recipients=[ROMEO], timestamp=NOW,
                      content_type="application/xmpp+xml",
                      content=b"<xmpp xmlns='jabber:client'>" + inner + b"</xmpp>")
    entity = build_multipart_signed(cpim.raw, _cms.sign(cpim.raw, j.key, j.cert, signing_time=NOW),
                                    digest="sha256")
    root = new_stanza("message", outer)
    make_e2e(root, entity)
    return serialize(root)


OUTER = {"from": JULIET + "/balcony", "to": ROMEO + "/orchard", "type": "chat"}


@pytest.mark.parametrize(
    ("inner", "outer", "error"),
    [
        (b"<message type='headline'/>", OUTER, StanzaMismatch),
        (b"<message/>", OUTER, StanzaMismatch),  # absent = normal != chat
        (b"<message type='chat' from='juliet@example.com/other'/>", OUTER, SignerMismatch),
        (b"<message type='chat' to='romeo@example.net/garden'/>", OUTER, StanzaMismatch),
        (b"<message type='chat' to='romeo@example.net/garden'/>",
         {**OUTER, "to": ROMEO}, None),  # outer bare: compared bare
        (b"<message type='chat' from='juliet@example.com/balcony' "
         b"to='romeo@example.net/orchard'/>", OUTER, None),
        (b"<message type='normal'/>", {**OUTER, "type": "normal"}, None),
        (b"<message/>", {k: v for k, v in OUTER.items() if k != "type"}, None),
    ],
)
def test_inner_stanza_type_and_full_jids(inner: bytes, outer: dict[str, str],
                                         error: type[Exception] | None) -> None:
    stanza = _craft(inner, outer)
    if error is None:
        assert open_stanza(stanza, trust=trust(), recipient=ROMEO, now=NOW).signed
    else:
        with pytest.raises(error):
            open_stanza(stanza, trust=trust(), recipient=ROMEO, now=NOW)


def test_ecdsa_identities_from_keygen() -> None:
    """The default identity (ECDSA P-256, xmppsec.keys.generate_identity) can receive."""
    juliet = generate_identity(JULIET, now=NOW)  # NOW is fixed at import: the suite may
    romeo = generate_identity(ROMEO, now=NOW)  # run this test many minutes later
    sealed = seal_stanza(msg(ROMEO + "/orchard"), key=juliet.private_key,
                         certificate=juliet.certificate, recipients=[romeo.certificate],
                         now=NOW)
    o = open_stanza(sealed, trust=TrustStore().pin(JULIET, juliet.certificate),
                    key=romeo.private_key, certificate=romeo.certificate, now=NOW)
    assert o.encrypted and o.authenticated_encryption and o.signer == JULIET
    assert o.recipient == ROMEO


@pytest.mark.parametrize("cipher", [ContentCipher.AES256_GCM, ContentCipher.AES128_GCM,
                                    ContentCipher.AES128_CBC, ContentCipher.AES256_CBC])
@pytest.mark.parametrize("transport", [KeyTransport.RSA_OAEP, KeyTransport.RSA_PKCS1V15])
def test_several_devices_and_the_sender(cipher: ContentCipher, transport: KeyTransport) -> None:
    """Romeo's laptop (RSA) and phone (P-256), and Juliet's own copy (P-384)."""
    devices: list[Ident] = [make_ident(ROMEO), make_ident(ROMEO, "ecdsa-p256")]
    own = make_ident(JULIET, "ecdsa-p384")
    j = make_ident(JULIET)
    sealed = seal_stanza(msg(ROMEO + "/orchard"), key=j.key, certificate=j.cert,
                         recipients=[*(d.cert for d in devices), own.cert], cipher=cipher,
                         key_transport=transport, now=NOW)
    for who in [*devices, own]:
        o = open_stanza(sealed, trust=trust(), key=who.key, certificate=who.cert, now=NOW)
        assert o.signer == JULIET and o.encrypted
        assert o.authenticated_encryption == (cipher in (ContentCipher.AES128_GCM,
                                                         ContentCipher.AES256_GCM))
    other = make_ident("mercutio@example.org", "ecdsa-p256")
    with pytest.raises(DecryptionError):
        open_stanza(sealed, trust=trust(), key=other.key, certificate=other.cert, now=NOW)


def test_certificate_without_xmpp_addr_needs_recipient() -> None:
    nameless = make_ident(ROMEO, "ecdsa-p256", xmpp_addr="not a jid@@")
    j = make_ident(JULIET)
    sealed = seal_stanza(msg(ROMEO), key=j.key, certificate=j.cert,
                         recipients=[nameless.cert], now=NOW)
    with pytest.raises(UsageError):
        open_stanza(sealed, trust=trust(), key=nameless.key, certificate=nameless.cert,
                    now=NOW)
    assert open_stanza(sealed, trust=trust(), key=nameless.key, certificate=nameless.cert,
                       recipient=ROMEO, now=NOW).recipient == ROMEO
