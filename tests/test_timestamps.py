"""xmppsec.timestamps: strict XEP-0290 format, RFC 3339, window, clock."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xmppsec.errors import JIDError, TimestampError, UsageError
from xmppsec.timestamps import (
    DEFAULT_WINDOW,
    TimestampClock,
    check_window,
    format_timestamp,
    parse_rfc3339,
    parse_timestamp,
)


def test_parse_valid() -> None:
    assert parse_timestamp("2010-11-11T13:33:00.123Z") == datetime(
        2010, 11, 11, 13, 33, 0, 123000, tzinfo=UTC
    )
    assert parse_timestamp("0001-01-01T00:00:00.000Z").year == 1
    assert parse_timestamp("2012-02-29T23:59:59.999Z").microsecond == 999000


# security case 28 (timestamp_format), and more
@pytest.mark.parametrize(
    "bad",
    [
        "2010-11-11T13:33:00Z",  # no millis
        "2010-11-11T13:33:00.12Z",  # 2-digit fraction
        "2010-11-11T13:33:00.123456Z",  # 6-digit fraction
        "2010-11-11T13:33:00.123+00:00",
        "2010-11-11T13:33:00.123-05:00",
        "2010-11-11T13:33:00.123z",  # lowercase z
        "2010-11-11T13:33:00.123",  # missing Z
        "2010-11-11t13:33:00.123Z",
        "2010-11-11 13:33:00.123Z",
        "2010-02-30T25:61:60.000Z",
        "2010-02-30T12:00:00.000Z",  # 30 February
        "2010-01-01T24:00:00.000Z",
        "2010-01-01T23:60:00.000Z",
        "2016-12-31T23:59:60.000Z",  # leap second: rejected (documented)
        "2010-13-01T00:00:00.000Z",
        "0000-01-01T00:00:00.000Z",  # year 0000
        "2010-11-11T13:33:00.123Z ",
        " 2010-11-11T13:33:00.123Z",
        "2010-11-11T13:33:00.123Z\n",
        "\uff12010-11-11T13:33:00.123Z",  # full-width digit
        "\u0662010-11-11T13:33:00.123Z",  # Arabic-Indic digit (\d would match)
        "+2010-11-11T13:33:00.12Z",
        "",
        "x" * 10_000,
    ],
)
def test_parse_rejects(bad: str) -> None:
    with pytest.raises(TimestampError) as ei:
        parse_timestamp(bad)
    assert ei.value.kind == "format"


def test_parse_rejects_non_str() -> None:
    # text from the wire always is a str: anything else is the caller's mistake
    with pytest.raises(UsageError):
        parse_timestamp(b"2010-11-11T13:33:00.123Z")  # type: ignore[arg-type]  # runtime check
    with pytest.raises(UsageError):
        parse_rfc3339(None)  # type: ignore[arg-type]  # runtime check


def test_format() -> None:
    dt = datetime(2010, 11, 11, 13, 33, 0, 123999, tzinfo=UTC)
    assert format_timestamp(dt) == "2010-11-11T13:33:00.123Z"  # truncated, not rounded
    east = datetime(2010, 11, 11, 15, 33, 0, 5000, tzinfo=timezone(timedelta(hours=2)))
    assert format_timestamp(east) == "2010-11-11T13:33:00.005Z"
    assert format_timestamp(datetime(5, 1, 2, 3, 4, 5, tzinfo=UTC)) == "0005-01-02T03:04:05.000Z"
    for s in ["2010-11-11T13:33:00.123Z", "9999-12-31T23:59:59.999Z"]:
        assert format_timestamp(parse_timestamp(s)) == s
        assert len(format_timestamp(parse_timestamp(s))) == 24
    with pytest.raises(UsageError):
        format_timestamp(datetime(2010, 1, 1))  # naive


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2002-09-10T23:08:25Z", datetime(2002, 9, 10, 23, 8, 25, tzinfo=UTC)),
        ("2002-09-10T23:08:25.123Z", datetime(2002, 9, 10, 23, 8, 25, 123000, tzinfo=UTC)),
        ("2002-09-10T23:08:25.1234567Z", datetime(2002, 9, 10, 23, 8, 25, 123456, tzinfo=UTC)),
        ("2002-09-10T18:08:25-05:00", datetime(2002, 9, 10, 23, 8, 25, tzinfo=UTC)),
        ("2002-09-11T01:38:25+02:30", datetime(2002, 9, 10, 23, 8, 25, tzinfo=UTC)),
        ("2002-09-10t23:08:25z", datetime(2002, 9, 10, 23, 8, 25, tzinfo=UTC)),
        ("2002-09-10T23:08:25-00:00", datetime(2002, 9, 10, 23, 8, 25, tzinfo=UTC)),
    ],
)
def test_rfc3339_valid(raw: str, expected: datetime) -> None:
    got = parse_rfc3339(raw)
    assert got == expected
    assert got.tzinfo == UTC


@pytest.mark.parametrize(
    "bad",
    [
        "2002-09-10T23:08:25",  # no offset
        "2002-09-10 23:08:25Z",
        "2002-09-10T23:08:25+0200",
        "2002-09-10T23:08:25+24:00",
        "2002-09-10T23:08:25+02:60",
        "2002-09-10T23:08:25.Z",
        "2002-09-10T23:08:25.1234567890Z",
        "2002-02-30T23:08:25Z",
        "0001-01-01T00:00:00+01:00",  # before datetime.min once in UTC
        "9999-12-31T23:59:59-01:00",  # after datetime.max once in UTC
        "2002-09-10",
        "",
        "9" * 100,
    ],
)
def test_rfc3339_rejects(bad: str) -> None:
    with pytest.raises(TimestampError) as ei:
        parse_rfc3339(bad)
    assert ei.value.kind == "format"


NOW = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
MS = timedelta(milliseconds=1)


def test_window_boundaries() -> None:
    assert DEFAULT_WINDOW == timedelta(minutes=5)
    check_window(NOW, NOW)
    check_window(NOW - DEFAULT_WINDOW, NOW)  # exactly 5:00.000 old: inside
    check_window(NOW + DEFAULT_WINDOW, NOW)  # exactly 5:00.000 ahead: inside
    check_window(NOW - DEFAULT_WINDOW + MS, NOW)
    check_window(NOW + DEFAULT_WINDOW - MS, NOW)
    with pytest.raises(TimestampError) as ei:
        check_window(NOW - DEFAULT_WINDOW - MS, NOW)
    assert ei.value.kind == "old"
    with pytest.raises(TimestampError) as ei:
        check_window(NOW + DEFAULT_WINDOW + MS, NOW)
    assert ei.value.kind == "future"


def test_window_custom_and_parsed() -> None:
    ts = parse_timestamp("2026-11-22T11:59:00.000Z")
    check_window(ts, NOW, timedelta(minutes=1))
    with pytest.raises(TimestampError) as ei:
        check_window(ts, NOW, timedelta(seconds=59, microseconds=999_000))
    assert ei.value.kind == "old"
    # a naive datetime is the caller's mistake, not a bad timestamp from the peer
    with pytest.raises(UsageError):
        check_window(datetime(2026, 11, 22, 12, 0), NOW)  # naive
    with pytest.raises(UsageError):
        check_window(ts, datetime(2026, 11, 22, 12, 0))  # naive now


class FakeClock:
    """A wall clock under test control."""

    def __init__(self, start: datetime) -> None:
        self.t = start
        self.lock = threading.Lock()

    def __call__(self) -> datetime:
        with self.lock:
            return self.t


def test_clock_follows_wall_clock() -> None:
    fake = FakeClock(NOW + timedelta(microseconds=123_456))
    clock = TimestampClock(fake)
    dt, text = clock.next("juliet@capulet.net")
    assert text == "2026-11-22T12:00:00.123Z"
    assert dt == parse_timestamp(text)
    fake.t = NOW + timedelta(seconds=1)
    assert clock.next("juliet@capulet.net")[1] == "2026-11-22T12:00:01.000Z"


def test_clock_with_a_naive_time_source_is_a_usage_error() -> None:
    clock = TimestampClock(lambda: datetime(2026, 11, 22, 12, 0))  # naive: the caller's bug
    with pytest.raises(UsageError, match="naive"):
        clock.next("juliet@capulet.net")


def test_clock_repeat_and_backwards() -> None:
    fake = FakeClock(NOW)
    clock = TimestampClock(fake)
    texts = [clock.next("juliet@capulet.net")[1] for _ in range(3)]
    assert texts == [
        "2026-11-22T12:00:00.000Z",
        "2026-11-22T12:00:00.001Z",
        "2026-11-22T12:00:00.002Z",
    ]
    fake.t = NOW - timedelta(hours=1)  # wall clock jumps back
    assert clock.next("juliet@capulet.net")[1] == "2026-11-22T12:00:00.003Z"
    # per signer: another signer follows the (earlier) wall clock
    assert clock.next("romeo@montague.net")[1] == "2026-11-22T11:00:00.000Z"
    # signers are keyed by normalized bare JID
    assert clock.next("Juliet@Capulet.NET/balcony")[1] == "2026-11-22T12:00:00.004Z"
    with pytest.raises(JIDError):
        clock.next("@nobody")


def test_clock_threads_strictly_increasing() -> None:
    """8 threads x 2,000 next() on one signer with a frozen wall clock: no duplicates."""
    fake = FakeClock(NOW)
    clock = TimestampClock(fake)
    per_thread: list[list[datetime]] = [[] for _ in range(8)]
    barrier = threading.Barrier(8)

    def work(out: list[datetime]) -> Callable[[], None]:
        def run() -> None:
            barrier.wait()
            for i in range(2000):
                if i % 500 == 0:
                    with fake.lock:  # wall clock repeats and occasionally goes backwards
                        fake.t -= timedelta(milliseconds=3)
                out.append(clock.next("juliet@capulet.net")[0])

        return run

    threads = [threading.Thread(target=work(out)) for out in per_thread]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [dt for out in per_thread for dt in out]
    assert len(every) == 16_000
    assert len(set(every)) == 16_000
    for out in per_thread:  # each thread sees its own values strictly increasing
        assert all(a < b for a, b in zip(out, out[1:], strict=False))
    ordered = sorted(every)
    assert all(b - a == MS for a, b in zip(ordered, ordered[1:], strict=False))


def test_clock_real_time_source() -> None:
    clock = TimestampClock()
    a = clock.next("juliet@capulet.net")[0]
    b = clock.next("juliet@capulet.net")[0]
    assert a < b
    assert abs(datetime.now(UTC) - a) < timedelta(seconds=5)


def test_clock_prunes_old_signers() -> None:
    fake = FakeClock(NOW)
    clock = TimestampClock(fake)
    for i in range(TimestampClock._PRUNE_AT):
        clock.next(f"u{i}@example.com")
    fake.t = NOW + timedelta(seconds=1)
    clock.next("new@example.com")
    assert len(clock._last) == 1


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_property_parsers_only_raise_timestamperror(raw: str) -> None:
    for parse in (parse_timestamp, parse_rfc3339):
        try:
            got = parse(raw)
        except TimestampError as exc:
            assert exc.kind == "format"
        else:
            assert got.tzinfo == UTC


@settings(max_examples=300, deadline=None)
@given(st.datetimes(timezones=st.just(UTC)))
def test_property_roundtrip(d: datetime) -> None:
    text = format_timestamp(d)
    assert len(text) == 24
    back = parse_timestamp(text)
    assert back == d.replace(microsecond=d.microsecond // 1000 * 1000)
    assert parse_rfc3339(text) == back


def _by_fields(s: str) -> datetime:
    # The reading parse_timestamp replaced by datetime.fromisoformat: field by field.
    return datetime(
        int(s[0:4]), int(s[5:7]), int(s[8:10]), int(s[11:13]), int(s[14:16]),
        int(s[17:19]), int(s[20:23]) * 1000, tzinfo=UTC,
    )  # fmt: skip


_EDGES = {
    "year": ["0000", "0001", "1970", "2000", "2024", "2100", "9999"],
    "month": ["00", "01", "02", "12", "13", "99"],
    "day": ["00", "01", "28", "29", "30", "31", "32", "99"],
    "hour": ["00", "12", "23", "24", "99"],
    "minute": ["00", "59", "60", "99"],
    "second": ["00", "59", "60", "61", "99"],
    "milli": ["000", "001", "500", "999"],
}


def test_parse_equals_the_field_by_field_reading() -> None:
    # Every timestamp of the exact form, valid or not, reads as the fields say (the same
    # instant, the UTC singleton as tzinfo) or fails as TimestampError where they fail.
    import itertools

    e = _EDGES
    for y, mo, d, h, mi, s, ms in itertools.product(
        e["year"], e["month"], e["day"], e["hour"], e["minute"], e["second"], e["milli"]
    ):
        raw = f"{y}-{mo}-{d}T{h}:{mi}:{s}.{ms}Z"
        try:
            expected: datetime | None = _by_fields(raw)
        except ValueError:
            expected = None
        if expected is None:
            with pytest.raises(TimestampError):
                parse_timestamp(raw)
        else:
            got = parse_timestamp(raw)
            assert got == expected and got.tzinfo is UTC
            assert (got.year, got.month, got.day, got.hour, got.minute, got.second) == (
                expected.year, expected.month, expected.day,
                expected.hour, expected.minute, expected.second,
            )  # fmt: skip
            assert got.microsecond == expected.microsecond


@given(st.datetimes(timezones=st.just(UTC)))
@settings(max_examples=300)
def test_property_parse_equals_the_field_by_field_reading(d: datetime) -> None:
    raw = format_timestamp(d)
    assert parse_timestamp(raw) == _by_fields(raw)
    assert parse_timestamp(raw).tzinfo is UTC
