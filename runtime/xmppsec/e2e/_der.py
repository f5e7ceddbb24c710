"""Fail-fast structural pre-check of BER/DER input before asn1crypto sees it.

asn1crypto parses lazily and recursively: a 5,000-deep nesting or a length field claiming
4 GiB is only noticed deep inside, or as a RecursionError. This scanner walks the TLV
structure iteratively once (X.690 §8.1), bounded by size, depth and element count, and
rejects every length that runs past its enclosing value (or the buffer) at once.
"""

from __future__ import annotations

from xmppsec.errors import SMIMEFormatError, check_limit

MAX_DER_BYTES = 1 << 20  # a Message/CPIM object is small; certificates make up most of it
MAX_DER_DEPTH = 32  # SignedData with certificates nests ~14 levels deep
MAX_DER_ELEMENTS = 20000


def check_ber(
    data: bytes,
    *,
    max_bytes: int = MAX_DER_BYTES,
    max_depth: int = MAX_DER_DEPTH,
    max_elements: int = MAX_DER_ELEMENTS,
) -> None:
    """Raise SMIMEFormatError / LimitExceeded unless ``data`` is exactly one well-formed
    BER value (definite or indefinite lengths) within the limits."""
    n = len(data)
    if n == 0:
        raise SMIMEFormatError("empty CMS object")
    check_limit("max_bytes", n, max_bytes)
    # Stack of enclosing ends (-1 marks an indefinite-length constructed value) and, in
    # step, the effective limit for the children of each (the nearest definite end).
    ends: list[int] = []
    limits: list[int] = []
    pos = 0
    count = 0
    while True:
        # Close every definite value that ends here.
        while ends and ends[-1] == pos:
            ends.pop()
            limits.pop()
        if not ends and pos > 0:
            break
        limit = limits[-1] if limits else n
        if pos >= limit:
            raise SMIMEFormatError("truncated BER value")
        count += 1
        check_limit("max_elements", count, max_elements)
        tag = data[pos]
        pos += 1
        constructed = bool(tag & 0x20)
        if tag & 0x1F == 0x1F:  # high tag number form, X.690 §8.1.2.4
            for _ in range(4):
                if pos >= limit:
                    raise SMIMEFormatError("truncated BER tag")
                b = data[pos]
                pos += 1
                if not b & 0x80:
                    break
            else:
                raise SMIMEFormatError("BER tag number too large")
        if pos >= limit:
            raise SMIMEFormatError("truncated BER length")
        first = data[pos]
        pos += 1
        if first == 0x80:  # indefinite length, X.690 §8.1.3.6
            if not constructed:
                raise SMIMEFormatError("indefinite length on a primitive value")
            ends.append(-1)
            limits.append(limit)
            check_limit("max_depth", len(ends), max_depth)
            continue
        if first & 0x80:
            k = first & 0x7F
            if k == 0x7F or k > 4:
                raise SMIMEFormatError("BER length field too large")
            if pos + k > limit:
                raise SMIMEFormatError("truncated BER length")
            length = int.from_bytes(data[pos : pos + k], "big")
            pos += k
        else:
            length = first
        end = pos + length
        if end > limit:
            raise SMIMEFormatError("BER length runs past its container")
        if tag == 0x00 and length == 0 and ends and ends[-1] == -1:
            # end-of-contents octets close the innermost indefinite value
            ends.pop()
            limits.pop()
            if not ends:
                break
            continue
        if constructed:
            if length == 0:
                continue
            ends.append(end)
            limits.append(end)
            check_limit("max_depth", len(ends), max_depth)
        else:
            pos = end
        if not ends:
            break
    if ends:
        raise SMIMEFormatError("truncated BER value")
    if pos != n:
        raise SMIMEFormatError("trailing data after the CMS object")
