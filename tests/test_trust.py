"""xmppsec.trust: pins, CA-validated chains, resolver hook (security cases 24-26)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from asn1crypto import keys as _asn1_keys
from asn1crypto import x509 as _asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from xmppsec.errors import JIDError, LimitExceeded, SignerMismatch, UntrustedKey, UsageError
from xmppsec.keys import (
    ID_ON_XMPPADDR,
    Algorithm,
    Identity,
    PrivateKey,
    certificate_fingerprint,
    xmpp_addr_value,
)
from xmppsec.keys import generate_identity as _generate_identity
from xmppsec.trust import TrustStore, certificate_names

# asn1crypto has no type hints
asn1_keys: Any = _asn1_keys
asn1_x509: Any = _asn1_x509

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
DAY = dt.timedelta(days=1)
JULIET = "juliet@capulet.net"
ROMEO = "romeo@montague.net"


def generate_identity(
    jid: str, algorithm: Algorithm = "ecdsa-p256", *, now: dt.datetime = NOW - DAY
) -> Identity:
    """By default valid from a day before NOW: NOW is fixed when the module is imported,
    which in a long full-suite run is minutes before the test runs (a certificate made
    with the wall clock would then not yet be valid at NOW)."""
    return _generate_identity(jid, algorithm, now=now)


@dataclass
class CA:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


def _ski(key: PrivateKey) -> x509.SubjectKeyIdentifier:
    return x509.SubjectKeyIdentifier.from_public_key(key.public_key())


def make_ca(name: str, issuer: CA | None = None) -> CA:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    signer_key = issuer.key if issuer else key
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - 10 * DAY)
        .not_valid_after(NOW + 100 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(_ski(key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()),
            critical=False,
        )
    )
    return CA(key, b.sign(signer_key, hashes.SHA256()))


def make_leaf(
    ca: CA,
    *,
    xmpp: Sequence[bytes] = (),
    dns: Sequence[str] = (),
    cn: str = JULIET,
    eku: Sequence[x509.ObjectIdentifier] | None = (ExtendedKeyUsageOID.CLIENT_AUTH,),
    key: PrivateKey | None = None,
    start: dt.datetime = NOW - DAY,
    end: dt.datetime = NOW + 30 * DAY,
) -> tuple[PrivateKey, x509.Certificate]:
    key = key or ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.OtherName(ID_ON_XMPPADDR, v) for v in xmpp]
    sans += [x509.DNSName(d) for d in dns]
    b = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    )
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if eku is not None:
        b = b.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    return key, b.sign(ca.key, hashes.SHA256())


def utf8(jid: str) -> bytes:
    return xmpp_addr_value(jid)


@pytest.fixture(scope="module")
def root() -> CA:
    return make_ca("xmppsec test root")


@pytest.fixture(scope="module")
def inter(root: CA) -> CA:
    return make_ca("xmppsec test intermediate", root)


@pytest.fixture(scope="module")
def ca_store(root: CA) -> TrustStore:
    return TrustStore().with_ca_bundle([root.cert])


# -- pins -------------------------------------------------------------------------------


def test_pinned_accepted() -> None:
    ident = generate_identity(JULIET)
    store = TrustStore().pin("Juliet@Capulet.NET", ident.certificate)
    assert store.resolve(JULIET, now=NOW) == ident.certificate  # nothing presented
    assert store.resolve(JULIET, [ident.certificate], now=NOW) == ident.certificate
    assert store.resolve("juliet@capulet.net/balcony", now=NOW) == ident.certificate
    assert store.is_pinned(JULIET, ident.certificate)
    assert store.pinned("JULIET@capulet.net") == (ident.certificate,)


def test_unpinned_self_signed_victim_rejected(ca_store: TrustStore) -> None:
    """Security case 24: attacker's self-signed cert naming the victim, in KeyInfo."""
    attacker = generate_identity(JULIET)
    for store in (
        TrustStore(),
        ca_store,
        TrustStore().pin(ROMEO, generate_identity(ROMEO).certificate),
    ):
        with pytest.raises(UntrustedKey):
            store.resolve(JULIET, [attacker.certificate], now=NOW)


def test_pin_is_authoritative(root: CA, ca_store: TrustStore) -> None:
    pinned = generate_identity(JULIET)
    _, ca_issued = make_leaf(root, xmpp=[utf8(JULIET)])
    store = ca_store.pin(JULIET, pinned.certificate)
    # a CA-valid but unpinned certificate does not displace the pin
    assert store.resolve(JULIET, [ca_issued], now=NOW) == pinned.certificate
    assert ca_store.resolve(JULIET, [ca_issued], now=NOW) == ca_issued


def test_several_pins() -> None:
    a, b = generate_identity(JULIET), generate_identity(JULIET, "ed25519")
    store = TrustStore().pin(JULIET, a.certificate).pin(JULIET, b.certificate)
    assert store.resolve_all(JULIET, now=NOW) == (a.certificate, b.certificate)
    assert store.resolve(JULIET, [b.certificate], now=NOW) == b.certificate
    assert store.pin(JULIET, a.certificate).pinned(JULIET) == (a.certificate, b.certificate)


def test_pin_refuses_other_jid_and_weak_keys(root: CA) -> None:
    # the caller's configuration, not a peer's signer: UsageError (SignerMismatch and
    # UntrustedKey mean the peer's input)
    with pytest.raises(UsageError, match="names"):
        TrustStore().pin(JULIET, generate_identity(ROMEO).certificate)
    _, weak = make_leaf(root, xmpp=[utf8(JULIET)], key=rsa.generate_private_key(65537, 1024))
    with pytest.raises(UsageError, match="1024"):
        TrustStore().pin(JULIET, weak)
    with pytest.raises(UsageError):
        TrustStore().pin(JULIET, b"not a certificate")  # type: ignore[arg-type]  # runtime check
    with pytest.raises(JIDError):
        TrustStore().pin("@capulet.net", generate_identity(JULIET).certificate)
    # a certificate without xmppAddr may be pinned explicitly (the user vouches for it)
    _, cn_only = make_leaf(root)
    assert TrustStore().pin(JULIET, cn_only).resolve(JULIET, now=NOW) == cn_only


def test_pinned_expired_rejected(root: CA) -> None:
    _, old = make_leaf(root, xmpp=[utf8(JULIET)], start=NOW - 20 * DAY, end=NOW - DAY)
    store = TrustStore().pin(JULIET, old)
    with pytest.raises(UntrustedKey, match="expired"):
        store.resolve(JULIET, now=NOW)
    assert store.resolve(JULIET, now=NOW - 2 * DAY) == old


def test_store_is_immutable() -> None:
    ident = generate_identity(JULIET)
    empty = TrustStore()
    pinned = empty.pin(JULIET, ident.certificate)
    assert pinned is not empty
    with pytest.raises(UntrustedKey):
        empty.resolve(JULIET, now=NOW)
    assert empty.with_resolver(lambda j: [ident.certificate]) is not empty
    with pytest.raises(UntrustedKey):
        empty.resolve(JULIET, now=NOW)


def test_pin_fingerprint(root: CA) -> None:
    ident = generate_identity(JULIET)
    fp = certificate_fingerprint(ident.certificate)
    by_hex = TrustStore().pin_fingerprint(JULIET, fp.hex(":"))
    assert by_hex.resolve(JULIET, [ident.certificate], now=NOW) == ident.certificate
    with pytest.raises(UntrustedKey, match="no pinned certificate"):
        by_hex.resolve(JULIET, now=NOW)
    # a resolver result must match the fingerprint pin
    other = generate_identity(JULIET).certificate
    fetched = by_hex.with_resolver(lambda j: [other, ident.certificate])
    assert fetched.resolve_all(JULIET, now=NOW) == (ident.certificate,)
    with pytest.raises(UntrustedKey):
        by_hex.with_resolver(lambda j: [other]).resolve(JULIET, now=NOW)
    with pytest.raises(UsageError):
        TrustStore().pin_fingerprint(JULIET, b"short")
    with pytest.raises(UsageError):
        TrustStore().pin_fingerprint(JULIET, "zz" * 32)


# -- CA bundles --------------------------------------------------------------------------


def test_ca_issued_accepted(root: CA, inter: CA, ca_store: TrustStore) -> None:
    _, direct = make_leaf(root, xmpp=[utf8(JULIET)])
    assert ca_store.resolve(JULIET, [direct], now=NOW) == direct
    # via an intermediate, presented in any order; a full JID in the cert is fine
    _, leaf = make_leaf(inter, xmpp=[utf8(JULIET + "/balcony")])
    assert ca_store.resolve(JULIET, [inter.cert, leaf], now=NOW) == leaf
    assert ca_store.resolve("Juliet@capulet.net/orchard", [leaf, inter.cert], now=NOW) == leaf
    # without the intermediate the chain is incomplete
    with pytest.raises(UntrustedKey, match="chain"):
        ca_store.resolve(JULIET, [leaf], now=NOW)


def test_ca_issued_wrong_jid(root: CA, ca_store: TrustStore) -> None:
    _, romeo = make_leaf(root, xmpp=[utf8(ROMEO)], cn=JULIET)
    with pytest.raises(SignerMismatch):
        ca_store.resolve(JULIET, [romeo], now=NOW)


def test_cn_only_and_ia5_rejected(root: CA, ca_store: TrustStore) -> None:
    """Security case 26: CN-only (no SAN) and IA5String xmppAddr name nobody."""
    _, cn_only = make_leaf(root, cn=JULIET)
    with pytest.raises(SignerMismatch, match="CN is ignored"):
        ca_store.resolve(JULIET, [cn_only], now=NOW)
    _, ia5 = make_leaf(root, xmpp=[b"\x16\x12juliet@capulet.net"])
    with pytest.raises(SignerMismatch):
        ca_store.resolve(JULIET, [ia5], now=NOW)
    assert certificate_names(ia5) == frozenset()


def test_ca_issued_expired_and_not_yet_valid(root: CA, ca_store: TrustStore) -> None:
    _, old = make_leaf(root, xmpp=[utf8(JULIET)], start=NOW - 20 * DAY, end=NOW - DAY)
    with pytest.raises(UntrustedKey):
        ca_store.resolve(JULIET, [old], now=NOW)
    _, future = make_leaf(root, xmpp=[utf8(JULIET)], start=NOW + DAY)
    with pytest.raises(UntrustedKey):
        ca_store.resolve(JULIET, [future], now=NOW)


def test_ca_issued_weak_keys(root: CA, ca_store: TrustStore) -> None:
    _, rsa1024 = make_leaf(root, xmpp=[utf8(JULIET)], key=rsa.generate_private_key(65537, 1024))
    with pytest.raises(UntrustedKey):
        ca_store.resolve(JULIET, [rsa1024], now=NOW)
    _, k1 = make_leaf(root, xmpp=[utf8(JULIET)], key=ec.generate_private_key(ec.SECP256K1()))
    with pytest.raises(UntrustedKey):
        ca_store.resolve(JULIET, [k1], now=NOW)


def test_rsa_exponent_one_rejected(root: CA) -> None:
    """Security case 25: e=1. cryptography cannot build such a key, so patch the DER."""
    _, good = make_leaf(root, xmpp=[utf8(JULIET)], key=rsa.generate_private_key(65537, 2048))
    parsed = asn1_x509.Certificate.load(good.public_bytes(serialization.Encoding.DER))
    n = parsed["tbs_certificate"]["subject_public_key_info"]["public_key"].parsed["modulus"].native
    parsed["tbs_certificate"]["subject_public_key_info"] = asn1_keys.PublicKeyInfo.wrap(
        asn1_keys.RSAPublicKey({"modulus": n, "public_exponent": 1}), "rsa"
    )
    bad = x509.load_der_x509_certificate(parsed.dump(force=True))
    with pytest.raises(UsageError, match="e must be"):  # pinning it: the caller's mistake
        TrustStore().pin(JULIET, bad)
    with pytest.raises(UntrustedKey):
        TrustStore().with_resolver(lambda j: [bad]).resolve(JULIET, now=NOW)


def test_eku_policy(root: CA, ca_store: TrustStore) -> None:
    _, email = make_leaf(root, xmpp=[utf8(JULIET)], eku=[ExtendedKeyUsageOID.EMAIL_PROTECTION])
    assert ca_store.resolve(JULIET, [email], now=NOW) == email  # RFC 3923 S/MIME certs
    _, none = make_leaf(root, xmpp=[utf8(JULIET)], eku=None)
    assert ca_store.resolve(JULIET, [none], now=NOW) == none
    _, server = make_leaf(root, xmpp=[utf8(JULIET)], eku=[ExtendedKeyUsageOID.SERVER_AUTH])
    with pytest.raises(UntrustedKey):
        ca_store.resolve(JULIET, [server], now=NOW)


def test_domain_signer(root: CA, ca_store: TrustStore) -> None:
    _, by_dns = make_leaf(root, dns=["conference.capulet.net"], cn="conference")
    assert ca_store.resolve("Conference.Capulet.NET", [by_dns], now=NOW) == by_dns
    _, by_xmpp = make_leaf(root, xmpp=[utf8("capulet.net")])
    assert ca_store.resolve("capulet.net", [by_xmpp], now=NOW) == by_xmpp
    # a server's certificate does not speak for its users, nor a user's for the server
    with pytest.raises(SignerMismatch):
        ca_store.resolve(JULIET, [by_xmpp], now=NOW)
    _, user = make_leaf(root, xmpp=[utf8(JULIET)], dns=["other.example"])
    with pytest.raises(SignerMismatch):
        ca_store.resolve("capulet.net", [user], now=NOW)


def test_chain_depth(root: CA, inter: CA) -> None:
    deeper = make_ca("deeper", inter)
    _, leaf = make_leaf(deeper, xmpp=[utf8(JULIET)])
    chain = [leaf, deeper.cert, inter.cert]
    assert TrustStore().with_ca_bundle([root.cert]).resolve(JULIET, chain, now=NOW) == leaf
    # max_chain_depth counts intermediates (cryptography's meaning): 2 are needed here
    assert (
        TrustStore(max_chain_depth=2).with_ca_bundle([root.cert]).resolve(JULIET, chain, now=NOW)
        == leaf
    )
    shallow = TrustStore(max_chain_depth=1).with_ca_bundle([root.cert])
    with pytest.raises(UntrustedKey, match="chain"):
        shallow.resolve(JULIET, [leaf, deeper.cert], now=NOW)  # incomplete chain
    with pytest.raises(LimitExceeded):  # more than a leaf + 1 intermediate presented
        shallow.resolve(JULIET, chain, now=NOW)
    with pytest.raises(LimitExceeded):
        TrustStore().resolve(JULIET, [leaf] * 10, now=NOW)
    with pytest.raises(UsageError):
        TrustStore(max_chain_depth=0)


def test_caller_mistakes_are_usage_errors(root: CA) -> None:
    """Misuse of the API is a UsageError (a ValueError), never a peer-input error."""
    store = TrustStore().pin(JULIET, generate_identity(JULIET).certificate)
    with pytest.raises(UsageError, match="aware"):
        store.resolve(JULIET, now=NOW.replace(tzinfo=None))
    with pytest.raises(UsageError, match="x509.Certificate"):
        TrustStore().with_ca_bundle([b"not a certificate"])  # type: ignore[list-item]
    with pytest.raises(UsageError):
        TrustStore(max_chain_depth="3")  # type: ignore[arg-type]  # runtime check
    with pytest.raises(ValueError):  # UsageError is a ValueError: old handlers still work
        TrustStore(max_chain_depth=0)


# -- resolver --------------------------------------------------------------------------


def test_resolver_trusted() -> None:
    ident = generate_identity(JULIET)
    calls: list[str] = []

    def fetch(jid: str) -> list[x509.Certificate]:
        calls.append(jid)
        return [ident.certificate] if jid == JULIET else []

    store = TrustStore().with_resolver(fetch)
    assert store.resolve("Juliet@Capulet.net/x", now=NOW) == ident.certificate
    assert calls == [JULIET]  # called with the normalized bare JID
    with pytest.raises(UntrustedKey):
        store.resolve(ROMEO, now=NOW)
    # an untrusted presented cert falls back to the resolver
    attacker = generate_identity(JULIET)
    assert store.resolve(JULIET, [attacker.certificate], now=NOW) == ident.certificate
    with pytest.raises(UntrustedKey):
        store.with_resolver(None).resolve(JULIET, [ident.certificate], now=NOW)


def test_resolver_wrong_jid_and_failures() -> None:
    romeo = generate_identity(ROMEO).certificate
    with pytest.raises(SignerMismatch):
        TrustStore().with_resolver(lambda j: [romeo]).resolve(JULIET, now=NOW)

    def broken(jid: str) -> list[x509.Certificate]:
        raise ConnectionError("directory down")

    with pytest.raises(UntrustedKey, match="resolver failed"):
        TrustStore().with_resolver(broken).resolve(JULIET, now=NOW)
    expired = generate_identity(JULIET, now=NOW - 400 * DAY).certificate
    with pytest.raises(UntrustedKey, match="expired"):
        TrustStore().with_resolver(lambda j: [expired]).resolve(JULIET, now=NOW)


def test_nothing_known() -> None:
    with pytest.raises(UntrustedKey):
        TrustStore().resolve(JULIET, now=NOW)
    with pytest.raises(JIDError):
        TrustStore().resolve("", now=NOW)


def test_real_time_default(root: CA, ca_store: TrustStore) -> None:
    _, leaf = make_leaf(root, xmpp=[utf8(JULIET)])
    assert ca_store.resolve(JULIET, [leaf]) == leaf
