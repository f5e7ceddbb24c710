"""Timestamps for XEP-0290 and RFC 3923: format, strict parse, clock, window.

* XEP-0290 v0.2 §5 (timestamp): exactly 24 characters ``YYYY-MM-DDThh:mm:ss.sssZ``
  (UTC, millisecond precision). :func:`parse_timestamp` accepts nothing else.
* XEP-0082 / XEP-0203 ``delay`` stamps and the RFC 3923 §6.9 / RFC 3862 CPIM
  ``DateTime`` header are RFC 3339 date-times with an optional fraction and an offset:
  :func:`parse_rfc3339`.
* The sender keeps timestamps strictly increasing per signer; when the wall clock
  repeats or goes backwards it adds 1 ms to the last value (XEP-0290 §5):
  :class:`TimestampClock`.
* The receiver accepts timestamps within 5 minutes of now, boundaries inclusive
  (``|ts - now| <= window``): :func:`check_window`.

Every malformed timestamp text raises ``TimestampError(kind="format")``; ``ValueError``
from ``datetime`` never escapes. The caller's own mistakes (a naive ``datetime``, a value
that is not a ``datetime``, a timestamp that is not a ``str``) raise
:class:`~xmppsec.errors.UsageError`. Leap seconds (``:60``) are rejected: ``datetime`` cannot
represent them and neither format needs them.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

from xmppsec.errors import TimestampError, UsageError
from xmppsec.jid import bare_jid
from xmppsec.xmpp import require_aware

__all__ = [
    "DEFAULT_WINDOW",
    "TimestampClock",
    "check_window",
    "format_timestamp",
    "parse_rfc3339",
    "parse_timestamp",
]

DEFAULT_WINDOW = timedelta(minutes=5)  # XEP-0290 §5, RFC 3923 §6.9
_ONE_MS = timedelta(milliseconds=1)

# [0-9] rather than \d: \d matches other Unicode digits.
_XEP0290 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\.([0-9]{3})Z"
)
# RFC 3339 §5.6 date-time (also XEP-0082 DateTime). "T" and "Z" may be lower case
# (RFC 3339 §5.6 NOTE); the fraction is 1..9 digits here (anything finer than 1 µs is
# truncated); the offset is Z or ±hh:mm.
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]{1,9}))?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))"
)


def _truncate_ms(dt: datetime) -> datetime:
    return dt.replace(microsecond=dt.microsecond - dt.microsecond % 1000)


def format_timestamp(dt: datetime) -> str:
    """Format an aware datetime as the XEP-0290 24-character UTC form (truncated to ms)."""
    utc = require_aware(dt, "timestamp")
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T"
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{utc.microsecond // 1000:03d}Z"
    )


def _build(parts: tuple[str | None, ...], micro: int, tz: timezone) -> datetime:
    year, month, day, hour, minute, second = (int(p or "0") for p in parts)
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    except (ValueError, OverflowError):
        raise TimestampError("timestamp is not a valid date and time", kind="format") from None


def parse_timestamp(s: str) -> datetime:
    """Parse a XEP-0290 timestamp strictly: exactly ``YYYY-MM-DDThh:mm:ss.sssZ``.

    Returns an aware UTC datetime. Raises ``TimestampError(kind="format")``
    (:class:`~xmppsec.errors.UsageError` if ``s`` is not a str).
    """
    if not isinstance(s, str):
        raise UsageError("a timestamp is parsed from a str")
    if len(s) != 24:
        raise TimestampError(
            "timestamp must be exactly 24 characters YYYY-MM-DDThh:mm:ss.sssZ", kind="format"
        )
    if _XEP0290.fullmatch(s) is None:
        raise TimestampError("timestamp is not YYYY-MM-DDThh:mm:ss.sssZ", kind="format")
    # The pattern fixed the exact form; that form is also ISO 8601 as datetime reads it (in
    # C): the same fields, milliseconds as a 3-digit fraction, "Z" as the UTC singleton
    # (tests/test_timestamps.py compares it with reading the fields one by one).
    try:
        return datetime.fromisoformat(s)
    except (ValueError, OverflowError):
        raise TimestampError("timestamp is not a valid date and time", kind="format") from None


def parse_rfc3339(s: str) -> datetime:
    """Parse an RFC 3339 date-time (XEP-0082 DateTime, XEP-0203 delay stamp, CPIM
    DateTime): optional fraction, ``Z`` or ``±hh:mm`` offset. Returns aware UTC.

    Raises ``TimestampError(kind="format")`` (:class:`~xmppsec.errors.UsageError` if ``s``
    is not a str).
    """
    if not isinstance(s, str):
        raise UsageError("a date-time is parsed from a str")
    if len(s) > 64:
        raise TimestampError("not an RFC 3339 date-time", kind="format")
    m = _RFC3339.fullmatch(s)
    if m is None:
        raise TimestampError("not an RFC 3339 date-time", kind="format")
    frac = m.group(7) or ""
    micro = int((frac + "000000")[:6])
    if m.group(8):
        tz = UTC
    else:
        oh, om = int(m.group(10)), int(m.group(11))
        if oh > 23 or om > 59:
            raise TimestampError("RFC 3339 offset out of range", kind="format")
        delta = timedelta(hours=oh, minutes=om)
        tz = timezone(-delta if m.group(9) == "-" else delta)
    local = _build(m.groups()[:6], micro, tz)
    try:
        return local.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00
        raise TimestampError("RFC 3339 date-time out of range", kind="format") from None


def check_window(ts: datetime, now: datetime, window: timedelta = DEFAULT_WINDOW) -> None:
    """Accept ``ts`` iff ``now - window <= ts <= now + window`` (boundaries inclusive:
    exactly 5:00.000 away is accepted, 5:00.001 is not).

    Raises ``TimestampError(kind="old")`` or ``TimestampError(kind="future")``;
    :class:`~xmppsec.errors.UsageError` for a naive ``ts`` or ``now``.
    """
    t = require_aware(ts, "timestamp")
    n = require_aware(now, "now")
    if t < n - window:
        raise TimestampError(f"timestamp is older than {window} (old)", kind="old")
    if t > n + window:
        raise TimestampError(f"timestamp is more than {window} ahead (future)", kind="future")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class TimestampClock:
    """Issues strictly increasing XEP-0290 timestamps per signer, across threads.

    ``next(signer)`` returns ``(datetime, text)``: the wall clock truncated to the
    millisecond, or the signer's previous value + 1 ms when the clock repeats or went
    backwards (XEP-0290 §5). Signers are keyed by normalized bare JID. ``time_source``
    (an aware-datetime callable) is injectable for tests. One lock guards the state;
    the critical section is a dict lookup and a comparison.
    """

    _PRUNE_AT = 10_000

    def __init__(self, time_source: Callable[[], datetime] = _utcnow) -> None:
        self._now = time_source
        self._lock = threading.Lock()
        self._last: dict[str, datetime] = {}

    def next(self, signer: str) -> tuple[datetime, str]:
        key = bare_jid(signer)
        with self._lock:
            now = _truncate_ms(require_aware(self._now(), "clock time"))
            last = self._last.get(key)
            ts = last + _ONE_MS if last is not None and now <= last else now
            if len(self._last) >= self._PRUNE_AT and key not in self._last:
                # An entry whose last value is in the past cannot affect the next value.
                self._last = {k: v for k, v in self._last.items() if v >= now}
            self._last[key] = ts
        return ts, format_timestamp(ts)
