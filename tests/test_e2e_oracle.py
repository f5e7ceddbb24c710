"""Issue 13 §1: no padding oracle and no plaintext recovery from ``open_stanza``.

The attack: an adversary holding one genuine AES-CBC EnvelopedData appends two chosen
ciphertext blocks (X, Y). The plaintext then ends with the genuine MIME entity, its
padding, one garbage block and ``D(Y) xor X``: whether the forged padding is valid must not
change anything the adversary can see — the exception type, its message, the RFC 3923 §7
condition, the error stanza, or (within noise) the time taken. Vaudenay (2002) recovers the
plaintext byte by byte from any such difference.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from xmppsec.e2e import error_condition, error_stanza, gateway_unwrap, open_stanza, seal_stanza
from xmppsec.e2e._asn1 import cms
from xmppsec.e2e._element import make_e2e, new_stanza, serialize
from xmppsec.e2e._mime import build_pkcs7_mime, parse_entity, pkcs7_mime_der
from xmppsec.errors import DecryptionError, XmppSecError
from xmppsec.replay import MemoryReplayStore
from xmppsec.trust import TrustStore

if TYPE_CHECKING:
    from tests.test_e2e_support import make_ident
else:
    from test_e2e_support import make_ident

from datetime import UTC, datetime

NOW = datetime.now(UTC).replace(microsecond=0)
JULIET = "juliet@example.com"
ROMEO = "romeo@example.net"
MSG = (
    b"<message xmlns='jabber:client' from='juliet@example.com/balcony' "
    b"to='romeo@example.net/orchard' type='chat' id='m1'>"
    b"<body>Wherefore art thou, Romeo?</body></message>"
)
Outcome = tuple[str, str, str | None, bytes | None]


def _sealed_cbc() -> bytes:
    j, r = make_ident(JULIET), make_ident(ROMEO)
    return seal_stanza(MSG, key=j.key, certificate=j.cert, recipients=[r.cert],
                       cipher="aes128", now=NOW)


SEALED = _sealed_cbc()


_ARGS: dict[str, object] = {"trust": TrustStore().pin(JULIET, make_ident(JULIET).cert),
                            "key": make_ident(ROMEO).key,
                            "certificate": make_ident(ROMEO).cert, "now": NOW}


def _open(stanza: bytes, **kw: object) -> None:
    args = dict(_ARGS)
    args.update(kw)
    open_stanza(stanza, **args)  # type: ignore[arg-type]  # kwargs dict of mixed value types


def outcome(stanza: bytes, **kw: object) -> Outcome:
    """All an adversary sees of one attempt: error type, message, condition, reply."""
    try:
        _open(stanza, **kw)
    except XmppSecError as exc:
        cond = error_condition(exc)
        reply = error_stanza(stanza, cond) if cond else None
        return type(exc).__name__, str(exc), cond, reply
    return "opened", "", None, None


def _envelope() -> Any:
    _t, der = pkcs7_mime_der(parse_entity(gateway_unwrap(SEALED)))
    return cms.ContentInfo.load(der)


def with_ciphertext(ciphertext: bytes) -> bytes:
    """SEALED with its encryptedContent replaced (what any on-path adversary can do)."""
    ci = _envelope()
    ci["content"]["encrypted_content_info"]["encrypted_content"] = ciphertext
    entity = build_pkcs7_mime(ci.dump(force=True), smime_type="enveloped-data")
    root = new_stanza("message", {"from": JULIET + "/balcony", "to": ROMEO + "/orchard",
                                  "type": "chat", "id": "m1"})
    make_e2e(root, entity)
    return serialize(root)


def _genuine_ciphertext() -> bytes:
    value: bytes = _envelope()["content"]["encrypted_content_info"]["encrypted_content"].native
    return value


def _block_decryptor() -> Callable[[bytes], bytes]:
    """The test (not the adversary) knows Romeo's key: D_k for choosing X exactly."""
    ci = _envelope()
    ktri = ci["content"]["recipient_infos"][0].chosen
    key = make_ident(ROMEO).key
    assert isinstance(key, rsa.RSAPrivateKey)
    cek = key.decrypt(ktri["encrypted_key"].native, padding.PKCS1v15())

    def d(block: bytes) -> bytes:
        dec = Cipher(algorithms.AES(cek), modes.ECB()).decryptor()  # noqa: S305 - one block
        return dec.update(block) + dec.finalize()

    return d


def appended(x_last: int, y: bytes | None = None) -> bytes:
    """Genuine ciphertext + X + Y, X random except its last byte."""
    c = _genuine_ciphertext()
    y = y if y is not None else c[-16:]
    x = os.urandom(15) + bytes([x_last])
    return with_ciphertext(c + x + y)


def test_appended_blocks_same_outcome_for_every_padding() -> None:
    """The published attack: 256 guesses of X's last byte; today exactly the guesses that
    make the padding valid open (the extra plaintext lands after the closing boundary)."""
    c = _genuine_ciphertext()
    y = c[-16:]
    prefix = os.urandom(15)
    seen: dict[Outcome, int] = {}
    for guess in range(256):
        o = outcome(with_ciphertext(c + prefix + bytes([guess]) + y))
        seen[o] = seen.get(o, 0) + 1
    assert len(seen) == 1, seen
    (only,) = seen
    assert only[:3] == ("DecryptionError", DecryptionError.MESSAGE, "decryption-failed")


def test_valid_padding_forgery_is_indistinguishable_from_bad_padding() -> None:
    d = _block_decryptor()
    y = _genuine_ciphertext()[-16:]
    dy = d(y)
    good = appended(dy[-1] ^ 0x01, y)  # last plaintext byte 0x01: valid padding
    bad = appended(dy[-1] ^ 0x00, y)  # last plaintext byte 0x00: never valid
    assert outcome(good) == outcome(bad)
    assert outcome(good)[2] == "decryption-failed"


def test_bit_flips_in_every_block_same_outcome() -> None:
    """Flips in the last block break the padding; flips elsewhere keep it valid (and
    today surface as InvalidSignature or SMIMEFormatError)."""
    c = bytearray(_genuine_ciphertext())
    seen: set[Outcome] = set()
    for block in range(len(c) // 16):
        for bit in (0, 7):
            flipped = bytearray(c)
            flipped[block * 16 + 3] ^= 1 << bit
            seen.add(outcome(with_ciphertext(bytes(flipped))))
    truncated = outcome(with_ciphertext(bytes(c[:-16])))
    seen.add(truncated)
    assert len(seen) == 1, seen
    assert next(iter(seen))[2] == "decryption-failed"


def test_stale_or_replayed_encrypted_object_is_decryption_failed() -> None:
    """Today a stale or replayed object answers bad-timestamp only when the (forged)
    padding is valid: after the key unwrap everything is decryption-failed."""
    stale = outcome(SEALED, now=NOW + timedelta(minutes=6))
    store = MemoryReplayStore()
    _open(SEALED, replay=store)
    replayed = outcome(SEALED, replay=store)
    forged = outcome(appended(0x00))
    assert stale == replayed == forged
    assert stale[:3] == ("DecryptionError", DecryptionError.MESSAGE, "decryption-failed")


def test_timing_bad_padding_vs_valid_padding_forgery() -> None:
    """Median time of 10,000 opens of each, interleaved, differ by less than 5 %."""
    d = _block_decryptor()
    y = _genuine_ciphertext()[-16:]
    dy = d(y)
    good = appended(dy[-1] ^ 0x01, y)
    bad = appended(dy[-1] ^ 0x00, y)
    trials = 10_000
    times: dict[str, list[int]] = {"bad-padding": [], "valid-padding": []}
    for _ in range(200):  # warm up caches and the allocator
        outcome(good), outcome(bad)
    for i in range(trials):
        order = ((bad, "bad-padding"), (good, "valid-padding"))
        for stanza, label in order if i % 2 else order[::-1]:
            t0 = time.perf_counter_ns()
            try:
                _open(stanza)
            except XmppSecError:
                pass
            times[label].append(time.perf_counter_ns() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    diff = abs(med["bad-padding"] - med["valid-padding"]) / min(med.values())
    print(f"\nmedian open over {trials} trials each: bad padding {med['bad-padding'] / 1e3:.1f} µs,"
          f" valid padding (forged) {med['valid-padding'] / 1e3:.1f} µs, difference "
          f"{diff * 100:.2f} %")
    assert diff < 0.05
