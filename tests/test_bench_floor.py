"""The benchmark's floor rows (tests/bench/floor.py) do the real work: what the floor signs
verifies under xmppsec, and the floor verifier refuses a changed child, stanza-desc or
signature value (a floor that checked nothing would flatter every ratio)."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidSignature
from lxml import etree

from tests.bench.floor import floor_signer, floor_verifier
from tests.bench.run import _signer, _verifier
from tests.bench.stanzas import ALGORITHMS, STANZAS, BenchIdentity, identities
from xmppsec.dsig import SPEC


@pytest.fixture(scope="module")
def ids() -> dict[str, BenchIdentity]:
    return dict(identities())


@pytest.mark.parametrize("alg", ALGORITHMS)
@pytest.mark.parametrize("stanza", sorted(STANZAS))
def test_floor_signs_what_xmppsec_verifies(
    ids: dict[str, BenchIdentity], alg: str, stanza: str
) -> None:
    signer = _signer(ids[alg], SPEC, stanza)
    signed = floor_signer(signer)(STANZAS[stanza])
    result = _verifier(ids[alg], SPEC, stanza).verify(signed)
    assert result.valid
    # Every child of the stanza is signed, as xmppsec signs them.
    assert len(result.signatures[0].references) == len(etree.fromstring(STANZAS[stanza]))


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_floor_verifier_accepts_and_refuses(ids: dict[str, BenchIdentity], alg: str) -> None:
    signed = _signer(ids[alg], SPEC, "small").sign(STANZAS["small"])
    verify = floor_verifier(ids[alg].identity.private_key.public_key())
    verify(signed)
    obj = signed.index(b"<Object>")
    changed = [
        signed.replace(b"Wherefore", b"Whereforf", 1),  # a child
        signed[:obj] + signed[obj:].replace(b"romeo@", b"romeu@", 1),  # the stanza-desc copy
    ]
    value_at = signed.index(b"<SignatureValue>") + len(b"<SignatureValue>")
    flipped = b"B" if signed[value_at : value_at + 1] == b"A" else b"A"
    changed.append(signed[:value_at] + flipped + signed[value_at + 1 :])
    for bad in changed:
        with pytest.raises((ValueError, InvalidSignature)):
            verify(bad)
