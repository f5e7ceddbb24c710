"""MIME layer (multipart/signed, application/pkcs7-mime, CRLF) and the BER pre-check."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xmppsec.e2e._der import check_ber
from xmppsec.e2e._mime import (
    b64decode_strict,
    build_multipart_signed,
    build_pkcs7_mime,
    content_type_of,
    parse_content_type,
    parse_entity,
    parse_multipart_signed,
    pkcs7_mime_der,
    to_crlf,
)
from xmppsec.errors import LimitExceeded, SMIMEFormatError

PART = b"Content-Type: Message/CPIM\r\n\r\nFrom: <im:a@b.c>\r\n\r\nContent-Type: text/plain\r\n\r\nx\r\n"


def test_multipart_signed_round_trip_is_byte_exact() -> None:
    sig = bytes(range(256)) * 3
    entity = build_multipart_signed(PART, sig, digest="sha1", boundary="b-1")
    assert entity.startswith(
        b'Content-Type: multipart/signed; boundary="b-1"; micalg=sha1; '
        b'protocol="application/pkcs7-signature"\r\n\r\n--b-1\r\n'
    )
    assert b"Content-Disposition: attachment; handling=required; filename=smime.p7s" in entity
    ms = parse_multipart_signed(parse_entity(entity))
    assert ms.signed_part == PART
    assert ms.signature == sig
    assert ms.micalg == "sha1"


def test_lf_only_transport_is_recanonicalized() -> None:
    entity = build_multipart_signed(PART, b"sig", digest="sha256")
    lf = entity.replace(b"\r\n", b"\n")
    ms = parse_multipart_signed(parse_entity(to_crlf(lf)))
    assert ms.signed_part == PART
    with pytest.raises(SMIMEFormatError):
        parse_entity(lf)


def test_boundary_inside_part_is_refused() -> None:
    with pytest.raises(SMIMEFormatError):
        build_multipart_signed(PART + b"--b-1", b"s", digest="sha256", boundary="b-1")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: e.replace(b"--b-1--", b"--b-2--"),  # no closing delimiter
        lambda e: e.replace(b'protocol="application/pkcs7-signature"', b'protocol="x/y"'),
        lambda e: e.replace(b'boundary="b-1"; ', b""),
        lambda e: e.replace(b"application/pkcs7-signature; name", b"text/plain; name"),
        lambda e: e.replace(b"Transfer-Encoding: base64", b"Transfer-Encoding: quoted-printable"),
        lambda e: e.replace(b"--b-1--", b"--b-1\r\nContent-Type: text/plain\r\n\r\nx\r\n--b-1--"),
        lambda e: e.replace(b"--b-1\r\nContent-Type: application", b"--b-1\r\nContent-Type: a"),
        lambda e: e.replace(b"AAEC", b"A*EC"),  # bad base64
    ],
)
def test_multipart_signed_malformed(mutate: Callable[[bytes], bytes]) -> None:
    entity = build_multipart_signed(PART, bytes(range(64)), digest="sha256", boundary="b-1")
    bad = mutate(entity)
    assert bad != entity
    with pytest.raises(SMIMEFormatError):
        parse_multipart_signed(parse_entity(bad))


def test_pkcs7_mime_round_trip() -> None:
    e = build_pkcs7_mime(b"\x30\x00" * 100, smime_type="enveloped-data")
    kind, der = pkcs7_mime_der(parse_entity(e))
    assert kind == "enveloped-data" and der == b"\x30\x00" * 100


def test_content_type_parsing() -> None:
    assert parse_content_type('multipart/signed; Boundary="a b\\"c"; micalg=sha1') == (
        "multipart/signed",
        {"boundary": 'a b"c', "micalg": "sha1"},
    )
    for bad in ["text", "text/plain; a", "text/plain; a=1; a=2", "a/b; c=\"open"]:
        with pytest.raises(SMIMEFormatError):
            parse_content_type(bad)


def test_entity_header_rules() -> None:
    folded = parse_entity(b"Content-Type: text/plain;\r\n charset=utf-8\r\n\r\nx")
    assert content_type_of(folded) == ("text/plain", {"charset": "utf-8"})
    for bad in [
        b" leading: continuation\r\n\r\n",
        b"No colon here\r\n\r\n",
        b"Content-Type: a/b\r\nContent-Type: c/d\r\n\r\n",
        b"X: \xff\r\n\r\n",
        b"X: y\r\n",
    ]:
        with pytest.raises(SMIMEFormatError):
            content_type_of(parse_entity(bad))
    with pytest.raises(LimitExceeded):
        parse_entity(b"".join(b"X%d: y\r\n" % i for i in range(100)) + b"\r\n")


def test_b64_strict() -> None:
    assert b64decode_strict(b"AAEC\r\nAw==\r\n") == b"\x00\x01\x02\x03"
    with pytest.raises(SMIMEFormatError):
        b64decode_strict(b"AA!C")


# -- BER pre-check (security-cases.md #31) -----------------------------------------------


def test_ber_accepts_definite_and_indefinite() -> None:
    check_ber(bytes.fromhex("3006020101020102"))  # SEQUENCE { 1, 2 }
    check_ber(bytes.fromhex("30800201010000"))  # indefinite SEQUENCE { 1 } EOC
    check_ber(bytes.fromhex("3080308002010100000000"))  # nested indefinite


@pytest.mark.parametrize(
    "hexdata",
    [
        "",
        "30",
        "3006020101",  # truncated
        "300602010102010200",  # trailing byte
        "3084ffffffff",  # 4 GiB length field
        "3088000000000000000001",  # 8-byte length
        "30ff",  # reserved length form
        "3080020101",  # indefinite without EOC
        "0280",  # indefinite primitive
        "3003020201",  # child longer than parent
        "1f",  # truncated high tag
    ],
)
def test_ber_rejects(hexdata: str) -> None:
    with pytest.raises(SMIMEFormatError):
        check_ber(bytes.fromhex(hexdata))


def _deep(n: int, indefinite: bool) -> bytes:
    if indefinite:
        return b"\x30\x80" * n + b"\x00\x00" * n
    data = b"\x05\x00"
    for _ in range(n):
        data = b"\x30" + (
            bytes([len(data)]) if len(data) < 128
            else b"\x84" + len(data).to_bytes(4, "big")
        ) + data
    return data


@pytest.mark.parametrize("indefinite", [True, False])
def test_ber_5000_deep_fails_fast(indefinite: bool) -> None:
    data = _deep(5000, indefinite)
    t = time.perf_counter()
    with pytest.raises(LimitExceeded):
        check_ber(data)
    assert time.perf_counter() - t < 0.05


def test_ber_size_limit() -> None:
    with pytest.raises(LimitExceeded):
        check_ber(b"\x04\x84\x00\x20\x00\x00" + b"\x00" * (2 << 20))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_ber_fuzz_only_typed_errors(data: bytes) -> None:
    try:
        check_ber(data)
    except (SMIMEFormatError, LimitExceeded):
        pass
