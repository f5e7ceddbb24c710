"""Attacks of issue 14 "Signatures under attack", items 3 and 5, as the attacker runs them:
a pinned certificate naming two JIDs (through the API and the CLI), trust files that used to
end in a traceback or the wrong exit code, archives that passed with nothing verified, and a
KeyInfo KeyValue naming another key than the one that verified."""

from __future__ import annotations

import base64
import datetime as dt
import io
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, rsa
from cryptography.x509.oid import ExtensionOID, NameOID
from lxml import etree

from xmppsec.algorithms import DigestMethod
from xmppsec.archive import iter_stanzas
from xmppsec.dsig import Policy, Signer, Verifier
from xmppsec.errors import InvalidSignature, SignatureSchemaError, UntrustedKey, UsageError
from xmppsec.keys import ID_ON_XMPPADDR, Algorithm, xmpp_addr_value
from xmppsec.trust import TrustStore
from xmppsec.xmpp import NS

if TYPE_CHECKING:
    from tests.conftest import (
        DS,
        JULIET,
        MALLORY,
        MESSAGE,
        NOW,
        assert_rejected,
        assert_valid,
        identity,
        new_clock,
        pins,
        sign,
        xml,
    )
else:
    from conftest import (
        DS,
        JULIET,
        MALLORY,
        MESSAGE,
        NOW,
        assert_rejected,
        assert_valid,
        identity,
        new_clock,
        pins,
        sign,
        xml,
    )

DS11 = "{" + NS.DS11 + "}"
STAMP = "2026-06-01T12:00:00Z"  # NOW, for --now


# -- helpers -----------------------------------------------------------------------------------


def _cert(
    key: object,
    *,
    jids: tuple[str, ...] = (JULIET,),
    raw_san: bytes | None = None,
    signing_key: object = None,
) -> x509.Certificate:
    """A self-signed certificate for ``key`` naming ``jids`` (id-on-xmppAddr), or carrying
    ``raw_san`` as its SAN extension's DER."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test")])
    b = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())  # type: ignore[attr-defined]
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=30))
    )
    if raw_san is not None:
        b = b.add_extension(
            x509.UnrecognizedExtension(ExtensionOID.SUBJECT_ALTERNATIVE_NAME, raw_san), False
        )
    elif jids:
        b = b.add_extension(
            x509.SubjectAlternativeName(
                [x509.OtherName(ID_ON_XMPPADDR, xmpp_addr_value(j)) for j in jids]
            ),
            False,
        )
    signer = signing_key or key
    algorithm = None if isinstance(signer, ed448.Ed448PrivateKey) else hashes.SHA256()
    return b.sign(signer, algorithm)  # type: ignore[arg-type]


def _pem(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def xmppsec(*args: str | Path, stdin: bytes = b"") -> tuple[int, str]:
    words = [str(a) for a in args]
    if words[:1] == ["verify"] and "--archive" not in words:
        # these tests verify one stanza under several trust settings: not a replay test
        args = ("verify", "--no-replay", *args[1:])
    elif words[:2] in (["e2e", "verify"], ["e2e", "decrypt"]):
        args = (*args[:2], "--no-replay", *args[2:])
    script = Path(sys.executable).parent / "xmppsec"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "xmppsec.cli"]
    proc = subprocess.run(
        [*cmd, *map(str, args)], input=stdin, capture_output=True, timeout=120, check=False
    )
    return proc.returncode, proc.stderr.decode("utf-8", "replace")


def _usage_error(code: int, err: str) -> None:
    """Exit 2 with one line ``xmppsec: error: ...`` and no traceback."""
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("xmppsec: error: "), err


# The attacker's certificate: Mallory's key, naming Mallory and Juliet (a self-signed one, or
# one a sloppy CA issued: both put two id-on-xmppAddr values in one SAN).
MALLORY_KEY = ec.generate_private_key(ec.SECP256R1())
BOTH = _cert(MALLORY_KEY, jids=(MALLORY, JULIET))


def _forged(include_certificate: bool = True) -> bytes:
    """Mallory signs Juliet's message as Juliet with her two-name certificate."""
    return Signer(
        MALLORY_KEY,
        signer=JULIET,
        certificate=BOTH,
        include_certificate=include_certificate,
        clock=new_clock(),
    ).sign(MESSAGE)


# -- 3. trust pins name one identity: the API ---------------------------------------------------


def test_a_pin_binds_the_certificate_to_the_jid_named_only() -> None:
    store = TrustStore().pin(MALLORY, BOTH)
    assert store.pinned(MALLORY) == (BOTH,)
    assert store.pinned(JULIET) == ()
    assert not store.is_pinned(JULIET, BOTH)
    with pytest.raises(UntrustedKey):
        store.resolve(JULIET, [BOTH], now=NOW)
    v = Verifier(store, clock=lambda: NOW)
    assert_rejected(v, _forged(), UntrustedKey)
    assert_rejected(v, _forged(include_certificate=False), UntrustedKey)
    # Juliet pinned with her own certificate: Mallory's, presented, is ignored and
    # Juliet's key does not verify Mallory's signature.
    v = Verifier(store.pin(JULIET, identity(JULIET).certificate), clock=lambda: NOW)
    assert_rejected(v, _forged(), InvalidSignature)
    # What the pin does allow: Mallory signing as Mallory.
    mine = Signer(MALLORY_KEY, signer=MALLORY, certificate=BOTH, clock=new_clock()).sign(
        MESSAGE.replace(b"juliet@capulet.net/balcony", b"mallory@evil.example/x")
    )
    assert_valid(Verifier(store, clock=lambda: NOW), mine)


def test_pinning_a_certificate_with_a_malformed_san_is_a_usage_error() -> None:
    # Before: UntrustedKey (a peer's fault) from the caller's own configuration.
    bad = _cert(ec.generate_private_key(ec.SECP256R1()), raw_san=b"\x30\x03\x01\x01")
    with pytest.raises(UsageError):
        TrustStore().pin(JULIET, bad)


# -- 3. trust pins name one identity: the CLI ---------------------------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("sig14")
    _pem(d / "both.pem", BOTH)
    _pem(d / "juliet.pem", identity(JULIET).certificate)
    (d / "forged.xml").write_bytes(_forged())
    (d / "good.xml").write_bytes(sign())
    return d


def test_cli_bare_trust_of_a_two_name_certificate_is_refused(files: Path) -> None:
    # Before: every xmppAddr of the file was pinned, and the forgery verified (exit 0).
    code, err = xmppsec("verify", "--trust", files / "both.pem", "--in", files / "forged.xml")
    _usage_error(code, err)
    assert "2 XMPP addresses" in err and "--trust JID=" in err
    for cmd in (
        ("verify", "--archive", files / "forged.xml", "--jobs", "1"),
        ("e2e", "verify", "--in", files / "forged.xml"),
    ):
        _usage_error(*xmppsec(*cmd, "--trust", files / "both.pem"))


def test_cli_jid_equals_cert_pins_for_that_jid_only(files: Path) -> None:
    code, err = xmppsec(
        "verify", "--trust", f"{MALLORY}={files / 'both.pem'}", "--in", files / "forged.xml"
    )
    assert code == 1 and err.startswith("rejected: UntrustedKey"), err
    good = files / "good.xml"
    code, err = xmppsec("verify", "--now", STAMP, "--trust", f"{JULIET}={files / 'juliet.pem'}", "--in", good)
    assert code == 0, err
    # The JID may carry a resource: the pin is for the bare JID.
    code, err = xmppsec(
        "verify", "--now", STAMP, "--trust", f"{JULIET}/x={files / 'juliet.pem'}", "--in", good
    )
    assert code == 0, err
    # A certificate naming exactly one xmppAddr keeps working bare.
    code, err = xmppsec("verify", "--now", STAMP, "--trust", files / "juliet.pem", "--in", good)
    assert code == 0, err
    # Archive: the same form.
    code, err = xmppsec(
        "verify", "--archive", good, "--jobs", "1", "--now", STAMP,
        "--trust", f"{JULIET}={files / 'juliet.pem'}", "--report", files / "report.jsonl",
    )
    assert code == 0, err
    # Pinned for a JID the certificate does not name, or not a JID at all: usage errors.
    _usage_error(*xmppsec("verify", "--trust", f"romeo@montague.net={files / 'juliet.pem'}",
                          "--in", good))
    _usage_error(*xmppsec("verify", "--trust", "@@=x.pem", "--in", good))


def test_cli_a_file_name_with_an_equals_sign_is_a_path(files: Path) -> None:
    odd = files / "a=b.pem"
    _pem(odd, identity(JULIET).certificate)
    code, err = xmppsec("verify", "--now", STAMP, "--trust", odd, "--in", files / "good.xml")
    assert code == 0, err


# -- 5. no tracebacks: unusable trust files ----------------------------------------------------

UNUSABLE = {
    "rsa-1024": lambda: _cert(rsa.generate_private_key(65537, 1024)),
    "secp256k1": lambda: _cert(ec.generate_private_key(ec.SECP256K1())),
    "p-192": lambda: _cert(ec.generate_private_key(ec.SECP192R1())),
    "ed448": lambda: _cert(ed448.Ed448PrivateKey.generate()),
    "dsa": lambda: _cert(dsa.generate_private_key(2048)),
    "malformed-san": lambda: _cert(
        ec.generate_private_key(ec.SECP256R1()), raw_san=b"\x30\x03\x01\x01"
    ),
}


@pytest.mark.parametrize("kind", list(UNUSABLE))
def test_cli_unusable_trust_certificate_is_a_usage_error(kind: str, files: Path) -> None:
    path = _pem(files / f"{kind}.pem", UNUSABLE[kind]())
    good = files / "good.xml"
    for form in (str(path), f"{JULIET}={path}"):
        _usage_error(*xmppsec("verify", "--trust", form, "--in", good))
        _usage_error(*xmppsec("verify", "--archive", good, "--jobs", "2", "--trust", form))
        _usage_error(*xmppsec("e2e", "verify", "--trust", form, "--in", good))


def test_cli_legacy_makes_a_dsa_certificate_usable(files: Path) -> None:
    key = dsa.generate_private_key(2048)
    path = _pem(files / "dsa-legacy.pem", _cert(key))
    data = Signer(
        key,
        signer=JULIET,
        certificate=_cert(key),
        digest_method=DigestMethod.SHA1,
        allow_legacy=True,
        clock=new_clock(),
    ).sign(MESSAGE)
    signed = files / "dsa.xml"
    signed.write_bytes(data)
    # Before: "cannot pin ...: DSA keys are accepted only with the legacy opt-in", exit 2.
    code, err = xmppsec("verify", "--legacy", "--now", STAMP, "--trust", path, "--in", signed)
    assert code == 0, err
    code, err = xmppsec(
        "verify", "--archive", signed, "--jobs", "1", "--legacy", "--now", STAMP,
        "--trust", path, "--report", files / "dsa.jsonl",
    )
    assert code == 0, err
    _usage_error(*xmppsec("verify", "--now", STAMP, "--trust", path, "--in", signed))


# -- 5. no silent passes: archives ---------------------------------------------------------------


def _result(stanza: bytes, stamp: str = "2026-06-01T12:00:01Z") -> bytes:
    return (
        b"<result xmlns='urn:xmpp:mam:2' id='r1' queryid='q'>"
        b"<forwarded xmlns='urn:xmpp:forward:0'>"
        b"<delay xmlns='urn:xmpp:delay' stamp='" + stamp.encode() + b"'/>"
        + stanza
        + b"</forwarded></result>"
    )


def _wrapped(stanza: bytes) -> bytes:
    return (
        b"<message xmlns='jabber:client' to='romeo@montague.net' id='w'>"
        + _result(stanza)
        + b"</message>"
    )


@pytest.mark.parametrize(
    ("name", "doc", "sources"),
    [
        ("result", _result(sign()), ["mam"]),
        ("message", sign(), ["stream"]),
        ("wrapper", _wrapped(sign()), ["mam"]),
        ("empty", b"<archive/>", []),
        ("fin", b"<iq xmlns='jabber:client' type='result' id='f'>"
         b"<fin xmlns='urn:xmpp:mam:2' complete='true'/></iq>", []),
    ],
)
def test_the_root_element_itself_is_read(name: str, doc: bytes, sources: list[str]) -> None:
    # Before: a root <result> raised AssertionError; a root <message> yielded nothing.
    assert [s.source for s in iter_stanzas(io.BytesIO(doc))] == sources, name


def test_cli_archive_root_result_or_message_is_verified(files: Path) -> None:
    juliet = files / "juliet.pem"
    for name, doc in (("root-result", _result(sign())), ("root-message", sign())):
        path = files / f"{name}.xml"
        path.write_bytes(doc)
        report = files / f"{name}.jsonl"
        code, err = xmppsec(
            "verify", "--archive", path, "--jobs", "1", "--now", STAMP,
            "--trust", juliet, "--report", report,
        )
        assert code == 0, err
        assert "1 stanzas: 1 valid" in err and "Traceback" not in err, err
        # tampered: rejected, exit 1
        path.write_bytes(doc.replace(b"Romeo?", b"Tybalt?"))
        code, err = xmppsec(
            "verify", "--archive", path, "--jobs", "1", "--now", STAMP,
            "--trust", juliet, "--report", report,
        )
        assert code == 1 and "1 rejected" in err, err


def test_cli_an_archive_with_nothing_verified_exits_1(files: Path) -> None:
    for name, doc in (
        ("nothing", b"<archive><unknown/></archive>"),
        ("plumbing", b"<iq xmlns='jabber:client' type='result' id='f'>"
                     b"<fin xmlns='urn:xmpp:mam:2' complete='true'/></iq>"),
    ):
        path = files / f"{name}.xml"
        path.write_bytes(doc)
        code, err = xmppsec("verify", "--archive", path, "--jobs", "1")
        assert code == 1, err
        assert "no stanza" in err


# -- 5. a KeyValue naming another key ----------------------------------------------------------


def _b64int(n: int) -> str:
    return base64.b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).decode()


def _with_key_value(data: bytes, key_value: etree._Element) -> bytes:
    """Add ``<KeyValue>`` to the first Signature's KeyInfo (made if missing). KeyInfo is
    outside SignedInfo: anyone on the path can add it without breaking the signature."""
    root = etree.fromstring(data)
    sig = root.find(DS + "Signature")
    assert sig is not None
    key_info = sig.find(DS + "KeyInfo")
    if key_info is None:
        key_info = etree.Element(DS + "KeyInfo")
        sig.insert(2, key_info)
    kv = etree.SubElement(key_info, DS + "KeyValue")
    kv.append(key_value)
    return xml(root)


def _rsa_kv(key: object) -> etree._Element:
    assert isinstance(key, rsa.RSAPublicKey)
    n = key.public_numbers()
    el = etree.Element(DS + "RSAKeyValue")
    etree.SubElement(el, DS + "Modulus").text = _b64int(n.n)
    etree.SubElement(el, DS + "Exponent").text = _b64int(n.e)
    return el


def _ec_kv(
    key: object, oid: str = "1.2.840.10045.3.1.7", *, compressed: bool = False
) -> etree._Element:
    assert isinstance(key, ec.EllipticCurvePublicKey)
    fmt = (
        serialization.PublicFormat.CompressedPoint
        if compressed
        else serialization.PublicFormat.UncompressedPoint
    )
    el = etree.Element(DS11 + "ECKeyValue")
    etree.SubElement(el, DS11 + "NamedCurve").set("URI", f"urn:oid:{oid}")
    point = key.public_bytes(serialization.Encoding.X962, fmt)
    etree.SubElement(el, DS11 + "PublicKey").text = base64.b64encode(point).decode()
    return el


def _dsa_kv(key: dsa.DSAPublicKey) -> etree._Element:
    n = key.public_numbers()
    el = etree.Element(DS + "DSAKeyValue")
    for name, value in (
        ("P", n.parameter_numbers.p),
        ("Q", n.parameter_numbers.q),
        ("G", n.parameter_numbers.g),
        ("Y", n.y),
    ):
        etree.SubElement(el, DS + name).text = _b64int(value)
    return el


def _juliet(alg: Algorithm) -> object:
    return identity(JULIET, alg).certificate.public_key()


def _other(alg: Algorithm) -> object:
    return identity(MALLORY, alg).certificate.public_key()


@pytest.mark.parametrize("include_certificate", [False, True])
@pytest.mark.parametrize("alg", ["rsa-2048", "ecdsa-p256"])
def test_a_key_value_naming_another_key_is_refused(alg: Algorithm, include_certificate: bool) -> None:
    data = sign(algorithm=alg, include_certificate=include_certificate)
    v = Verifier(pins((JULIET, alg)), clock=lambda: NOW)
    make = _rsa_kv if alg == "rsa-2048" else _ec_kv
    # Before: KeyValue was ignored, and Mallory's key in KeyInfo passed as "valid".
    assert_rejected(v, _with_key_value(data, make(_other(alg))), UntrustedKey)
    # Another key type altogether.
    kv = _ec_kv(_other("ecdsa-p256")) if alg == "rsa-2048" else _rsa_kv(_other("rsa-2048"))
    assert_rejected(v, _with_key_value(data, kv), UntrustedKey)
    # The signer's own key: consistent, valid.
    assert_valid(v, _with_key_value(data, make(_juliet(alg))))


def test_key_value_forms() -> None:
    ec_data = sign(algorithm="ecdsa-p256")
    v = Verifier(pins(JULIET), clock=lambda: NOW)
    own = _juliet("ecdsa-p256")
    assert_valid(v, _with_key_value(ec_data, _ec_kv(own, compressed=True)))
    # The right point on the wrong curve name: refused (P-384 OID, a P-256 point).
    wrong_curve = _with_key_value(ec_data, _ec_kv(own, "1.3.132.0.34"))
    assert_rejected(v, wrong_curve, SignatureSchemaError)
    # A DSA KeyValue next to an ECDSA certificate.
    dsa_key = dsa.generate_private_key(2048).public_key()
    assert_rejected(v, _with_key_value(ec_data, _dsa_kv(dsa_key)), UntrustedKey)
    # An Ed25519 signer: every KeyValue names another key.
    ed = sign(algorithm="ed25519")
    ved = Verifier(pins((JULIET, "ed25519")), clock=lambda: NOW)
    assert_rejected(ved, _with_key_value(ed, _ec_kv(own)), UntrustedKey)


def test_a_key_value_matching_a_legacy_dsa_certificate() -> None:
    key = dsa.generate_private_key(2048)
    cert = _cert(key)
    data = Signer(
        key, signer=JULIET, certificate=cert, digest_method=DigestMethod.SHA1,
        allow_legacy=True, clock=new_clock(),
    ).sign(MESSAGE)
    v = Verifier(
        TrustStore(allow_legacy_keys=True).pin(JULIET, cert),
        policy=Policy().legacy(),
        clock=lambda: NOW,
    )
    assert_valid(v, _with_key_value(data, _dsa_kv(key.public_key())))
    other = dsa.generate_private_key(2048).public_key()
    assert_rejected(v, _with_key_value(data, _dsa_kv(other)), UntrustedKey)


def _raw(xml_text: str) -> etree._Element:
    return etree.fromstring(xml_text)


@pytest.mark.parametrize(
    "bad",
    [
        f"<RSAKeyValue xmlns='{NS.DS}'><Modulus>!!</Modulus><Exponent>AQAB</Exponent></RSAKeyValue>",
        f"<RSAKeyValue xmlns='{NS.DS}'><Modulus>AQAB</Modulus></RSAKeyValue>",
        f"<DHKeyValue xmlns='{NS.DS11}'/>",
        f"<ECKeyValue xmlns='{NS.DS11}'><ECParameters/><PublicKey>BA==</PublicKey></ECKeyValue>",
        f"<ECKeyValue xmlns='{NS.DS11}'><NamedCurve URI='urn:oid:1.3.132.0.10'/>"
        "<PublicKey>BA==</PublicKey></ECKeyValue>",
        f"<ECKeyValue xmlns='{NS.DS11}'><NamedCurve URI='urn:oid:1.2.840.10045.3.1.7'/>"
        "<PublicKey>BAAA</PublicKey></ECKeyValue>",
        f"<DSAKeyValue xmlns='{NS.DS}'><P>AQ==</P><Y>AQ==</Y></DSAKeyValue>",
    ],
)
def test_an_unreadable_key_value_is_refused(bad: str) -> None:
    v = Verifier(pins(JULIET), clock=lambda: NOW)
    assert_rejected(v, _with_key_value(sign(), _raw(bad)), SignatureSchemaError)
