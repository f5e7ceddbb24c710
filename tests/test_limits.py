"""Resource limits (xmppsec.parser.Limits; security case 9) at their boundaries.

Each limit is configurable and is tested at the boundary: an input whose measure equals the
limit is accepted, one more is refused with :class:`LimitExceeded` naming the limit. The
refusal comes before any expensive work: a trust-store resolver hook that records lookups
(the key lookup precedes every public-key operation) is never called.

tests/test_parser.py covers the parser's default limits on bare documents; here the same
limits are driven through the verifier with custom values, plus the limits only the
signature layers know (references, transforms, signatures, certificate chains).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from xmppsec.dsig import ROBUST, Policy, Verifier
from xmppsec.e2e import _cms
from xmppsec.errors import LimitExceeded, SignatureSchemaError, UnsupportedAlgorithm
from xmppsec.parser import DEFAULT_LIMITS, Limits, parse
from xmppsec.trust import TrustStore

if TYPE_CHECKING:
    from tests.conftest import (
        CA,
        DS,
        JULIET,
        NOW,
        assert_valid,
        identity,
        issue,
        make_signer,
        tree,
        utf8_addr,
    )
else:
    from conftest import (
        CA,
        DS,
        JULIET,
        NOW,
        assert_valid,
        identity,
        issue,
        make_signer,
        tree,
        utf8_addr,
    )

UNLIMITED = Limits(
    max_bytes=1 << 30,
    max_depth=10_000,
    max_children=1 << 30,
    max_elements=1 << 30,
    max_attributes=1 << 30,
)


@dataclass
class Recorder:
    """A trust resolver hook that records lookups and answers with Juliet's certificate."""

    calls: list[str] = field(default_factory=list)

    def __call__(self, jid: str) -> list[x509.Certificate]:
        self.calls.append(jid)
        return [identity(JULIET).certificate]


def recording(limits: Limits) -> tuple[Verifier, Recorder]:
    rec = Recorder()
    v = Verifier(TrustStore().with_resolver(rec), policy=Policy(limits=limits), clock=lambda: NOW)
    return v, rec


def assert_limit(limits: Limits, data: bytes, name: str) -> LimitExceeded:
    """``data`` is refused with LimitExceeded(limit=name), before any key lookup."""
    v, rec = recording(limits)
    result = v.check(data, now=NOW)
    assert isinstance(result.error, LimitExceeded), result.error
    assert result.error.limit == name, result.error.limit
    assert result.error.maximum == getattr(limits, name)
    assert rec.calls == []
    assert not result.valid and result.signed_children() == ()
    return result.error


def accepted(limits: Limits, data: bytes) -> None:
    v, rec = recording(limits)
    assert_valid(v, data)
    assert rec.calls  # the valid case does reach the key lookup


def measure(data: bytes) -> dict[str, int]:
    """The parser's measures of a document: what each structural limit compares."""
    root = parse(data, UNLIMITED)
    depth = max(len(list(el.iterancestors())) + 1 for el in root.iter())
    return {
        "max_bytes": len(data),
        "max_depth": depth,
        "max_children": max(len(el) for el in root.iter()),
        "max_elements": sum(1 for _ in root.iter()),
        "max_attributes": max(len(el.attrib) for el in root.iter()),
    }


WIDE = (
    b"<message xmlns='jabber:client' from='juliet@capulet.net/balcony' to='romeo@montague.net'"
    b" type='chat' id='w1'><body>hi</body><x xmlns='urn:x' a='1' b='2' c='3' d='4' e='5' f='6'"
    b" g='7' h='8' i='9' j='10' k='11' l='12'><y><z><w/><w/><w/><w/><w/><w/><w/><w/><w/><w/>"
    b"<w/><w/><w/><w/><w/><w/><w/><w/><w/><w/></z></y></x></message>"
)


# -- the parser's limits, through the verifier, at custom values ----------------------------


@pytest.mark.parametrize(
    "name", ["max_bytes", "max_depth", "max_children", "max_elements", "max_attributes"]
)
def test_parser_limits_at_the_boundary_through_the_verifier(name: str) -> None:
    signed = make_signer().sign(WIDE)
    n = measure(signed)[name]
    accepted(Limits(**{name: n}), signed)  # the stanza's own measure: accepted
    assert_limit(Limits(**{name: n - 1}), signed, name)  # the stanza has limit + 1: refused


@pytest.mark.parametrize(
    ("name", "limit", "ok", "too_much"),
    [
        ("max_bytes", 4, b"<a/>", b"<a />"),
        ("max_depth", 3, b"<a><b><c/></b></a>", b"<a><b><c><d/></c></b></a>"),
        ("max_children", 3, b"<a><b/><b/><b/></a>", b"<a><b/><b/><b/><b/></a>"),
        ("max_elements", 3, b"<a><b/><b/></a>", b"<a><b/><b/><b/></a>"),
        ("max_attributes", 3, b"<a x='1' y='2' z='3'/>", b"<a w='0' x='1' y='2' z='3'/>"),
    ],
)
def test_parser_limits_are_configurable(name: str, limit: int, ok: bytes, too_much: bytes) -> None:
    small = Limits(**{name: limit})
    parse(ok, small)
    with pytest.raises(LimitExceeded) as exc:
        parse(too_much, small)
    assert exc.value.limit == name and exc.value.maximum == limit


# -- references -------------------------------------------------------------------------


def _many_children(n: int) -> bytes:
    return (
        b"<message xmlns='jabber:client' from='juliet@capulet.net/balcony' to='romeo@montague.net'"
        b" type='chat' id='r1'>" + b"".join(b"<x xmlns='urn:x%d'/>" % i for i in range(n))
        + b"</message>"
    )


def test_max_references_default_boundary() -> None:
    n = DEFAULT_LIMITS.max_references
    accepted(DEFAULT_LIMITS, make_signer().sign(_many_children(n)))
    # a signer configured for more emits n + 1 references: the default verifier refuses
    wide = make_signer(limits=Limits(max_references=n + 1)).sign(_many_children(n + 1))
    err = assert_limit(DEFAULT_LIMITS, wide, "max_references")
    assert err.value == n + 1


@pytest.mark.parametrize("profile", ["spec", "robust"])
def test_max_references_configurable(profile: str) -> None:
    signer = make_signer(profile=ROBUST) if profile == "robust" else make_signer()
    signed = signer.sign(_many_children(4))
    accepted(Limits(max_references=4), signed)
    assert_limit(Limits(max_references=3), signed, "max_references")


# -- transforms -------------------------------------------------------------------------


def test_max_transforms_boundary_robust_profile() -> None:
    """The robust profile names 2 child transforms (enveloped-signature, robust c14n)."""
    signed = make_signer(profile=ROBUST).sign(_many_children(1))
    accepted(Limits(max_transforms=2), signed)
    assert_limit(Limits(max_transforms=1), signed, "max_transforms")


@pytest.mark.parametrize("where", ["stanza-desc", "SignedInfo"])
def test_max_transforms_counted_before_the_algorithms_are_judged(where: str) -> None:
    """N transforms: refused for what they are (UnsupportedAlgorithm); N + 1: refused for
    their number, before any of them is looked at."""
    n = DEFAULT_LIMITS.max_transforms

    def with_transforms(k: int) -> bytes:
        root = tree(make_signer().sign(_many_children(1)))
        sig = root.find(DS + "Signature")
        assert sig is not None
        path = (
            f"{DS}Object/{{urn:xmpp:dsig:0}}stanza-desc/{DS}Transforms"
            if where == "stanza-desc"
            else f"{DS}SignedInfo/{DS}Reference/{DS}Transforms"
        )
        transforms = sig.find(path)
        assert transforms is not None
        for _ in range(k - len(transforms)):
            etree.SubElement(transforms, DS + "Transform", Algorithm="urn:xmpp:dsig:transform:0")
        return etree.tostring(root)

    v, rec = recording(DEFAULT_LIMITS)
    result = v.check(with_transforms(n), now=NOW)
    assert isinstance(result.error, UnsupportedAlgorithm) and rec.calls == []
    assert_limit(DEFAULT_LIMITS, with_transforms(n + 1), "max_transforms")


# -- signatures per stanza --------------------------------------------------------------


def _signed_times(k: int) -> bytes:
    signer = make_signer()
    data = _many_children(1)
    for _ in range(k):
        data = signer.sign(data)  # each signature also covers the earlier ones
    return data


def test_max_signatures_default_boundary() -> None:
    n = DEFAULT_LIMITS.max_signatures
    accepted(DEFAULT_LIMITS, _signed_times(n))
    assert_limit(DEFAULT_LIMITS, _signed_times(n + 1), "max_signatures")


def test_max_signatures_configurable() -> None:
    two = _signed_times(2)
    accepted(Limits(max_signatures=2), two)
    assert_limit(Limits(max_signatures=1), two, "max_signatures")


# -- certificate chain length -------------------------------------------------------------


def _with_keyinfo_certificates(k: int) -> bytes:
    """Signed with KeyInfo holding Juliet's certificate k times (KeyInfo is not signed)."""
    root = tree(make_signer(include_certificate=True).sign(_many_children(1)))
    data = root.find(f"{DS}Signature/{DS}KeyInfo/{DS}X509Data")
    assert data is not None
    der = base64.b64encode(identity(JULIET).certificate.public_bytes(Encoding.DER)).decode()
    for _ in range(k - 1):
        etree.SubElement(data, DS + "X509Certificate").text = der
    return etree.tostring(root)


def test_max_chain_length_keyinfo_default_boundary() -> None:
    n = DEFAULT_LIMITS.max_chain_length
    accepted(DEFAULT_LIMITS, _with_keyinfo_certificates(n))
    assert_limit(DEFAULT_LIMITS, _with_keyinfo_certificates(n + 1), "max_chain_length")


def test_max_chain_length_keyinfo_configurable() -> None:
    accepted(Limits(max_chain_length=3), _with_keyinfo_certificates(3))
    assert_limit(Limits(max_chain_length=3), _with_keyinfo_certificates(4), "max_chain_length")


def test_max_chain_length_in_the_trust_store(dsig_ca: CA) -> None:
    """TrustStore(max_chain_depth=d) takes a leaf and d intermediates (d + 1 presented);
    one more is refused before any path building or resolver lookup."""
    leaf = issue(dsig_ca, identity(JULIET).private_key, xmpp=[utf8_addr(JULIET)])
    for d in (1, 3):
        rec = Recorder()
        store = TrustStore(max_chain_depth=d).with_ca_bundle([dsig_ca.cert]).with_resolver(rec)
        # d + 1 certificates (the leaf and copies of the CA as would-be intermediates)
        assert store.resolve(JULIET, [leaf] + [dsig_ca.cert] * d, now=NOW) == leaf
        with pytest.raises(LimitExceeded) as exc:
            store.resolve(JULIET, [leaf] + [dsig_ca.cert] * (d + 1), now=NOW)
        assert exc.value.limit == "max_chain_length" and exc.value.maximum == d + 1
        assert rec.calls == []


def test_max_chain_length_in_cms_signed_data() -> None:
    """SignedData certificates: at most Limits.max_chain_length (default
    _cms.MAX_CERTIFICATES = 8), checked while parsing, before any signature work."""
    ident = identity(JULIET)
    n = _cms.MAX_CERTIFICATES

    def with_certs(k: int) -> bytes:
        extra = [ident.certificate] * (k - 1)
        return _cms.sign(b"x", ident.private_key, ident.certificate, detached=False,
                         extra_certificates=extra, signing_time=NOW)

    assert len(_cms.parse(with_certs(n)).certificates) == n
    with pytest.raises(LimitExceeded) as exc:
        _cms.parse(with_certs(n + 1))
    assert exc.value.limit == "max_chain_length" and exc.value.maximum == n


def test_limits_hold_whatever_the_profile() -> None:
    """A limit error is not masked by a later structural error (order of checks)."""
    signed = make_signer(profile=ROBUST).sign(WIDE)
    n = measure(signed)["max_elements"]
    broken = signed.replace(b"<SignedInfo>", b"<SignedInfo><Bogus/>", 1)
    assert measure(broken)["max_elements"] == n + 1
    assert_limit(Limits(max_elements=n), broken, "max_elements")
    v, _ = recording(Limits(max_elements=n + 1))
    assert isinstance(v.check(broken, now=NOW).error, SignatureSchemaError)


def test_max_chain_length_in_open_stanza_is_configurable() -> None:
    """open_stanza(limits=...) caps the certificates a SignedData may carry (sign-only here:
    after decryption every failure is the one opaque DecryptionError)."""
    from xmppsec.e2e import open_stanza, seal_stanza
    from xmppsec.trust import TrustStore

    juliet, romeo = identity(JULIET), identity("romeo@montague.net")
    sealed = seal_stanza(
        b"<message xmlns='jabber:client' from='juliet@capulet.net/balcony' "
        b"to='romeo@montague.net' id='l1'><body>hi</body></message>",
        key=juliet.private_key,
        certificate=juliet.certificate,
        recipients=[romeo.certificate],
        encrypt=False,
        include_certificate=True,
        now=NOW,
    )
    trust = TrustStore().pin(JULIET, juliet.certificate)
    assert open_stanza(sealed, trust=trust, now=NOW).signer == JULIET
    with pytest.raises(LimitExceeded) as exc:
        open_stanza(sealed, trust=trust, now=NOW, limits=Limits(max_chain_length=0))
    assert exc.value.limit == "max_chain_length" and exc.value.maximum == 0
