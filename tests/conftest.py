"""Shared fixtures and helpers for the XEP-0290 (dsig) tests.

Everything here drives the real parts: keys and certificates from ``cryptography``, trees
from the hardened parser (lxml), canonicalization from :mod:`xmppsec.dsig._c14n`. The attacker
helpers (:func:`resign`) re-sign a modified SignedInfo with a key the attacker holds, so a
test can present a *valid* SignatureValue over forged content.

Test modules import the helpers with ``from conftest import ...`` (pytest puts tests/ on
sys.path); mypy sees the same module as ``tests.conftest``.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import os
import shutil
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from lxml import etree

from xmppsec.algorithms import DigestMethod, PrivateKey, SignatureMethod, digest, sign_bytes
from xmppsec.dsig import SPEC, Policy, Signer, VerificationResult, Verifier, _c14n
from xmppsec.errors import XmppSecError
from xmppsec.keys import ID_ON_XMPPADDR, Algorithm, Identity, generate_identity, xmpp_addr_value
from xmppsec.parser import parse
from xmppsec.replay import ReplayStore
from xmppsec.timestamps import TimestampClock
from xmppsec.trust import TrustStore
from xmppsec.xmpp import NS

# The real-server fixtures (prosody, ejabberd, xmpp_server), registered once for the suite.
pytest_plugins = ["tests.harness.pytest_plugin"]

# A fixed instant: signing clocks start here and verification is judged at it, so the
# timestamp tests are exact and nothing depends on the wall clock.
NOW = dt.datetime(2026, 6, 1, 12, 0, 0, tzinfo=dt.UTC)
MS = dt.timedelta(milliseconds=1)

JULIET = "juliet@capulet.net"
ROMEO = "romeo@montague.net"
MALLORY = "mallory@evil.example"
CAPULET = "capulet.net"
MUC = "muc.example"

ALGORITHMS = ("ecdsa-p256", "ed25519", "rsa-2048", "rsa-3072")

# XEP-0290 §2 example 1 with the erratum-free namespace; type given so nothing is defaulted.
MESSAGE = (
    b"<message xmlns='jabber:client' from='juliet@capulet.net/balcony' id='183ef129' "
    b"to='romeo@montague.net' type='chat'>"
    b"<thread>8996aef0-061d-012d-347a-549a200771aa</thread>"
    b"<body>Wherefore art thou, Romeo?</body></message>"
)

DS = "{" + NS.DS + "}"
D = "{" + NS.XMPP_DSIG + "}"
DSIG_ID = D + "id"
JC = "{" + NS.JABBER_CLIENT + "}"
XML_LANG = "{" + NS.XML + "}lang"


@pytest.fixture(autouse=True)
def _state_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI keeps its replay store in $XDG_STATE_HOME: a fresh one per test, never the
    real home (subprocesses inherit it)."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))
    monkeypatch.delenv("XMPPSEC_PASSPHRASE", raising=False)


# -- identities ---------------------------------------------------------------------------


def identity(jid: str = JULIET, algorithm: Algorithm = "ecdsa-p256") -> Identity:
    """One key and self-signed certificate per (jid, algorithm) for the whole session."""
    return _identity(jid, algorithm)  # one cache key however the defaults are spelled


@functools.cache
def _identity(jid: str, algorithm: Algorithm) -> Identity:
    return generate_identity(jid, algorithm, now=NOW - dt.timedelta(days=1))


def new_clock(start: dt.datetime = NOW) -> TimestampClock:
    """A signing clock frozen at ``start``: timestamps are start, start+1 ms, ..."""
    return TimestampClock(lambda: start)


def make_signer(
    jid: str = JULIET,
    algorithm: Algorithm = "ecdsa-p256",
    *,
    clock: TimestampClock | None = None,
    **kwargs: Any,
) -> Signer:
    ident = identity(jid, algorithm)
    # The suite was written against the spec profile (the default before the robust profile
    # became it): a test that does not name a profile keeps testing the spec profile.
    kwargs.setdefault("profile", SPEC)
    return Signer(
        ident.private_key,
        signer=jid,
        certificate=ident.certificate,
        clock=clock or new_clock(),
        **kwargs,
    )


def sign(
    data: bytes = MESSAGE,
    jid: str = JULIET,
    algorithm: Algorithm = "ecdsa-p256",
    **kwargs: Any,
) -> bytes:
    return make_signer(jid, algorithm, **kwargs).sign(data)


def pins(*who: str | tuple[str, Algorithm]) -> TrustStore:
    """A trust store pinning ``identity(jid)`` or ``identity(jid, algorithm)``."""
    store = TrustStore()
    for w in who:
        pair: tuple[str, Algorithm] = (w, "ecdsa-p256") if isinstance(w, str) else w
        jid, alg = pair
        store = store.pin(jid, identity(jid, alg).certificate)
    return store


def verifier(
    *who: str | tuple[str, Algorithm],
    policy: Policy | None = None,
    replay: ReplayStore | None = None,
    trust: TrustStore | None = None,
) -> Verifier:
    return Verifier(
        trust if trust is not None else pins(*(who or (JULIET,))),
        policy=policy or Policy(),
        replay=replay,
        clock=lambda: NOW,
    )


# -- trees --------------------------------------------------------------------------------


def tree(data: bytes) -> etree._Element:
    return parse(data)


def xml(el: etree._Element) -> bytes:
    return etree.tostring(el)


def signature(root: etree._Element, n: int = 0) -> etree._Element:
    return root.findall(DS + "Signature")[n]


def signed_info(sig: etree._Element) -> etree._Element:
    el = sig.find(DS + "SignedInfo")
    assert el is not None
    return el


def stanza_desc(sig: etree._Element) -> etree._Element:
    el = sig.find(f"{DS}Object/{D}stanza-desc")
    assert el is not None
    return el


def desc_copy(sig: etree._Element) -> etree._Element:
    """The stanza copy (``<message/>`` etc. in urn:xmpp:dsig:0) inside stanza-desc."""
    return stanza_desc(sig)[3]


def child(root: etree._Element, local: str, ns: str = NS.JABBER_CLIENT) -> etree._Element:
    el = root.find("{" + ns + "}" + local)
    assert el is not None, local
    return el


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def resign(
    root: etree._Element,
    key: PrivateKey | None,
    *,
    n: int = 0,
    children: bool = True,
    desc: bool = True,
) -> None:
    """Attacker helper: after modifying the stanza, recompute (optionally) every per-child
    reference digest in stanza-desc, the stanza-desc DigestValue, and the SignatureValue
    over SignedInfo with ``key`` — exactly as a signer would, in the tree's final place.
    ``key=None`` leaves the SignatureValue as it was (an attacker without any key)."""
    sig = signature(root, n)
    d = stanza_desc(sig)
    if children:
        method = DigestMethod(d[2].get("Algorithm", ""))
        for ref in desc_copy(sig):
            frag = (ref.get("URI") or "").split("#", 1)[-1]
            targets = [el for el in root.iter() if el.get(DSIG_ID) == frag]
            if targets:
                ref.text = b64(digest(method, _c14n.c14n_child(targets[0])))
    si = signed_info(sig)
    if desc:
        ref_el = si.find(DS + "Reference")
        assert ref_el is not None
        transform = ref_el.find(f"{DS}Transforms/{DS}Transform")
        assert transform is not None
        dm = ref_el.find(DS + "DigestMethod")
        dv = ref_el.find(DS + "DigestValue")
        assert dm is not None and dv is not None
        dv.text = b64(
            digest(
                DigestMethod(dm.get("Algorithm", "")),
                _c14n.c14n(d, transform.get("Algorithm") or ""),
            )
        )
    if key is None:
        return
    sm = si.find(DS + "SignatureMethod")
    cm = si.find(DS + "CanonicalizationMethod")
    assert sm is not None and cm is not None
    value = sign_bytes(
        key, SignatureMethod(sm.get("Algorithm", "")), _c14n.c14n(si, cm.get("Algorithm") or "")
    )
    sv = sig.find(DS + "SignatureValue")
    assert sv is not None
    sv.text = b64(value)


# -- assertions ---------------------------------------------------------------------------


def assert_rejected(
    v: Verifier,
    data: bytes | etree._Element,
    expected: type[XmppSecError],
    *,
    now: dt.datetime = NOW,
) -> XmppSecError:
    """``verify`` raises exactly ``expected`` and ``check`` reports it with valid=False."""
    result = v.check(data, now=now)
    assert not result.valid
    assert type(result.error) is expected, (type(result.error), result.error)
    assert result.signed_children() == ()
    with pytest.raises(expected) as info:
        v.verify(data, now=now)
    assert type(info.value) is expected
    return info.value


def assert_valid(
    v: Verifier, data: bytes | etree._Element, *, now: dt.datetime = NOW
) -> VerificationResult:
    result = v.check(data, now=now)
    assert result.valid, (type(result.error), result.error)
    assert result.error is None
    return v.verify(data, now=now)


# -- a small PKI ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CA:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


def make_ca(name: str = "xmppsec dsig test CA") -> CA:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=10))
        .not_valid_after(NOW + dt.timedelta(days=100))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return CA(key, cert)


def issue(
    ca: CA,
    key: PrivateKey,
    *,
    xmpp: Sequence[bytes] = (),
    cn: str = JULIET,
) -> x509.Certificate:
    """A client certificate from ``ca``; ``xmpp`` are raw otherName values (DER), so a
    test can put an IA5String where a UTF8String belongs."""
    sans: list[x509.GeneralName] = [x509.OtherName(ID_ON_XMPPADDR, v) for v in xmpp]
    b = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), False
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
    )
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return b.sign(ca.key, hashes.SHA256())


def utf8_addr(jid: str) -> bytes:
    return xmpp_addr_value(jid)


@pytest.fixture(scope="session")
def dsig_ca() -> CA:
    return make_ca()


# -- external programs --------------------------------------------------------------------


def require_program(name: str) -> str:
    """Path of ``name``. Missing: a failure in CI (CI=true), a skip elsewhere."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is required in CI but not installed")
        pytest.skip(f"{name} is not installed")
    return path


_T = TypeVar("_T")


def run_threads(work: Callable[[int], _T], n: int = 8) -> list[_T]:
    """Run ``work(i)`` on n threads released together; re-raise the first exception."""
    barrier = threading.Barrier(n)
    results: list[_T | None] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as exc:  # noqa: BLE001 - reported to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return [r for r in results if r is not None]
