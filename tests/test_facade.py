"""The public façade: ``import xmppsec`` gives the names a user needs first, lazily."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import pytest

import xmppsec
import xmppsec.hazmat


def test_every_facade_name_resolves_to_its_home() -> None:
    from xmppsec import dsig, e2e, errors, keys, schema, trust

    homes = {
        "Signer": dsig.Signer,
        "Verifier": dsig.Verifier,
        "Policy": dsig.Policy,
        "TrustStore": trust.TrustStore,
        "generate_identity": keys.generate_identity,
        "seal_stanza": e2e.seal_stanza,
        "open_stanza": e2e.open_stanza,
        "validate": schema.validate,
        "XmppSecError": errors.XmppSecError,
    }
    assert set(xmppsec.__all__) == set(homes) | {"__version__"}
    for name, obj in homes.items():
        assert getattr(xmppsec, name) is obj
    assert sorted(dir(xmppsec)) == sorted(xmppsec.__all__)
    with pytest.raises(AttributeError):
        _ = xmppsec.sign_bytes  # raw primitives are in hazmat


def test_version_is_the_package_metadata() -> None:
    assert xmppsec.__version__ == importlib.metadata.version("xmppsec")


def test_importing_one_half_does_not_import_the_other() -> None:
    code = (
        "import sys, xmppsec.dsig; "
        "print(sorted(m for m in sys.modules if m.startswith('xmppsec.e2e')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_hazmat_is_apart_and_marked() -> None:
    assert "hazardous" in (xmppsec.hazmat.__doc__ or "")
    from xmppsec import algorithms

    # The algorithm vocabulary stays public; the raw operations are reached through hazmat.
    for raw in ("sign_bytes", "verify_bytes", "digest", "digest_constructor"):
        assert raw in xmppsec.hazmat.__all__
        assert raw not in algorithms.__all__
