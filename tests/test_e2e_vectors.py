"""Fixed RFC 3923 vectors made by OpenSSL and by xmppsec (tests/vectors/e2e/README.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cryptography import x509

from xmppsec.e2e import gateway_unwrap, gateway_wrap, open_stanza, parse_cpim
from xmppsec.errors import DecryptionError, TimestampError
from xmppsec.keys import PrivateKey, load_certificate, load_private_key, xmpp_addrs
from xmppsec.replay import MemoryReplayStore
from xmppsec.trust import TrustStore

if TYPE_CHECKING:  # pytest imports tests/ modules top-level (rootdir mode), mypy by path
    from tests.test_e2e_support import openssl
else:
    from test_e2e_support import openssl

V = Path(__file__).parent / "vectors" / "e2e"
T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=1)
#: The OpenSSL vectors carry signingTime 2026-11-22T11:52:00Z, the wall clock when they were
#: made; it must lie within 5 minutes of "now" as DateTime (T0) must (issue 14 §5): opened
#: at 11:56:30Z, 4:30 after the one and 3:30 before the other.
OPENSSL_NOW = T0 - timedelta(minutes=3, seconds=30)
BODY = "Wherefore art thou, Romeo?"


def _trust() -> TrustStore:
    return TrustStore().pin("juliet@example.com", load_certificate((V / "juliet.pem").read_bytes()))


def _romeo() -> tuple[PrivateKey, x509.Certificate]:
    return (load_private_key((V / "romeo.key").read_bytes()),
            load_certificate((V / "romeo.pem").read_bytes()))


def test_openssl_made_certificates_carry_xmpp_addr() -> None:
    assert xmpp_addrs(load_certificate((V / "juliet.pem").read_bytes())) == ("juliet@example.com",)


def test_cpim_vector() -> None:
    m = parse_cpim((V / "cpim.txt").read_bytes())
    assert m.sender.name == "Juliet Capulet" and m.sender.jid == "juliet@example.com"
    assert m.datetime == T0 and m.subject == "Imploring"
    assert m.content.get("Content-ID") == "<1234567890@example.com>"


@pytest.mark.parametrize(
    ("name", "encrypted", "digest"),
    [
        ("openssl-sha1-aes128.smime", True, "sha1"),
        ("openssl-sha256-pss-aes256.smime", True, "sha256"),
        ("openssl-sha256-signed.smime", False, "sha256"),
        ("openssl-sha256-attached.smime", False, "sha256"),
    ],
)
def test_openssl_vectors_open(name: str, encrypted: bool, digest: str) -> None:
    key, cert = _romeo()
    stanza = gateway_wrap((V / name).read_bytes(), to="romeo@example.net/orchard",
                          sender="juliet@example.com/balcony", stanza_type="chat")
    o = open_stanza(stanza, trust=_trust(), key=key, certificate=cert, now=OPENSSL_NOW,
                    allow_sha1=True, replay=MemoryReplayStore())
    assert o.encrypted is encrypted and o.signed and o.signer == "juliet@example.com"
    assert o.digest_algorithm == digest
    assert o.stanza.findtext("{jabber:client}body") == BODY + "\n"
    assert o.stanza.get("type") == "chat"


def test_sha1_vector_needs_opt_in() -> None:
    key, cert = _romeo()
    stanza = gateway_wrap((V / "openssl-sha1-aes128.smime").read_bytes(),
                          to="romeo@example.net", sender="juliet@example.com")
    # encrypted: after the key unwrap every refusal is the one opaque error (issue 13)
    with pytest.raises(DecryptionError):
        open_stanza(stanza, trust=_trust(), key=key, certificate=cert, now=OPENSSL_NOW)
    assert open_stanza(stanza, trust=_trust(), key=key, certificate=cert, now=OPENSSL_NOW,
                       allow_sha1=True).digest_algorithm == "sha1"


def test_openssl_vector_signing_time_is_checked() -> None:
    """At T0 + 1 min the DateTime is fresh but the signingTime (11:52:00Z) is 9 minutes old:
    refused, with the reason for the signed-only vector, opaquely for the encrypted one."""
    key, cert = _romeo()
    signed = gateway_wrap((V / "openssl-sha256-signed.smime").read_bytes(),
                          to="romeo@example.net", sender="juliet@example.com")
    with pytest.raises(TimestampError) as info:
        open_stanza(signed, trust=_trust(), recipient="romeo@example.net", now=NOW)
    assert info.value.kind == "old"
    encrypted = gateway_wrap((V / "openssl-sha256-pss-aes256.smime").read_bytes(),
                             to="romeo@example.net", sender="juliet@example.com")
    with pytest.raises(DecryptionError):
        open_stanza(encrypted, trust=_trust(), key=key, certificate=cert, now=NOW)


@pytest.mark.parametrize(
    ("name", "kind"),
    [("xmppsec-sha256-aes128.xml", "message"), ("xmppsec-sha1-signed.xml", "message"),
     ("xmppsec-presence-sha256-aes128.xml", "presence")],
)
def test_own_vectors_open(name: str, kind: str) -> None:
    key, cert = _romeo()
    o = open_stanza((V / name).read_bytes(), trust=_trust(), key=key, certificate=cert,
                    now=NOW, allow_sha1=True)
    assert o.stanza.tag == f"{{jabber:client}}{kind}"
    assert o.timestamp == T0
    if kind == "message":
        assert o.stanza.findtext("{jabber:client}body") == BODY
    else:
        assert o.stanza.findtext("{jabber:client}status") == "On the balcony"


def test_own_vectors_expire() -> None:
    key, cert = _romeo()
    with pytest.raises(DecryptionError):  # encrypted: opaque after the key unwrap
        open_stanza((V / "xmppsec-sha256-aes128.xml").read_bytes(), trust=_trust(), key=key,
                    certificate=cert, now=T0 + timedelta(minutes=6))
    with pytest.raises(TimestampError) as info:  # signed only: the reason is given
        open_stanza((V / "xmppsec-sha1-signed.xml").read_bytes(), trust=_trust(), key=key,
                    certificate=cert, now=T0 + timedelta(minutes=6), allow_sha1=True)
    assert info.value.kind == "old"


@pytest.mark.integration
def test_own_vector_opens_with_openssl(tmp_path: Path) -> None:
    (tmp_path / "e.smime").write_bytes(gateway_unwrap((V / "xmppsec-sha256-aes128.xml")
                                                      .read_bytes()))
    signed = openssl("cms", "-decrypt", "-in", str(tmp_path / "e.smime"), "-recip",
                     str(V / "romeo.pem"), "-inkey", str(V / "romeo.key"))
    (tmp_path / "s.smime").write_bytes(signed)
    cpim = openssl("cms", "-verify", "-in", str(tmp_path / "s.smime"), "-CAfile",
                   str(V / "juliet.pem"), "-purpose", "any", "-attime", str(int(NOW.timestamp())))
    assert parse_cpim(cpim).content.body == BODY.encode()
