"""``xmppsec verify --archive FILE [--report FILE] [--jobs N] [--trust [JID=]CERT]...``.

Every stanza of a stream dump or MAM export, verified by :func:`xmppsec.archive.verify_archive`
on all cores, one JSON line each. Exit 0 when every stanza is valid, 1 when any is rejected
or when the archive holds no stanza at all (nothing verified), 2 on a usage problem
(unreadable file, bad certificate, an archive that is not XML).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from typing import IO

from cryptography.hazmat.primitives.serialization import Encoding

from ..archive import ArchiveConfig, executor_from_spec, verify_archive
from ..errors import UsageError, XmppSecError
from . import _common as c


class _ReportWriteError(Exception):
    """Writing the report failed (a full device, a closed pipe): named as such, not as a
    failure to read the archive."""

    def __init__(self, exc: OSError) -> None:
        super().__init__(exc.strerror or str(exc))


class _Report:
    """The report stream, with write failures told apart from read failures."""

    def __init__(self, out: IO[str]) -> None:
        self._out = out

    def write(self, text: str) -> int:
        try:
            return self._out.write(text)
        except OSError as exc:
            raise _ReportWriteError(exc) from None

    def flush(self) -> None:
        try:
            self._out.flush()
        except OSError as exc:
            raise _ReportWriteError(exc) from None


class _Bar:
    """A one-line progress bar on a terminal's stderr (hand-written: a dozen lines, no
    dependency; tqdm would do the same)."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._t0 = time.perf_counter()

    def __call__(self, done: int, read: int, total: int) -> None:
        elapsed = max(time.perf_counter() - self._t0, 1e-9)
        frac = read / total if total else 0.0
        width = 30
        filled = int(frac * width)
        bar = "#" * filled + "-" * (width - filled)
        self._stream.write(
            f"\r[{bar}] {frac * 100:5.1f}% {done:,} stanzas {done / elapsed:,.0f}/s "
        )
        self._stream.flush()

    def close(self) -> None:
        self._stream.write("\n")
        self._stream.flush()


def verify_archive_cli(args: argparse.Namespace) -> int:
    """The command on its own, with its exit code (the archive benchmark runs it this way).

    Reads ``args.archive``, and when present ``args.report`` (default stdout), ``args.jobs``,
    ``args.trust``, ``args.profile`` (``auto``/``spec``/``robust``), ``args.optimistic``,
    ``args.legacy``, ``args.own_server``, ``args.now`` and ``args.replay_db`` (refused).
    """
    return c.guarded(verify_archive_command, args)


def verify_archive_command(args: argparse.Namespace) -> int:
    if getattr(args, "replay_db", None):
        raise UsageError("--replay-db does not apply to --archive")
    jobs: int | None = getattr(args, "jobs", None)
    if jobs is not None and jobs < 1:
        raise UsageError("--jobs must be at least 1")
    policy = c.policy_from(args)
    # Checked here, once (weak keys, several names): a worker cannot report a usage error.
    pins = tuple(
        (name, cert.public_bytes(Encoding.DER))
        for name, cert in c.load_pins(
            getattr(args, "trust", None) or [], legacy=policy.allow_legacy
        )
    )
    profile = getattr(args, "profile", "auto")
    if profile not in (None, "auto"):
        c.profile(profile)  # an unknown name: a usage error here, not in every worker
    config = ArchiveConfig(
        pins=pins,
        policy=policy,
        profile=None if profile in (None, "auto") else profile,
        now=c.parse_now(getattr(args, "now", None)),
        report=c.archive_line,
    )
    report_path: str | None = getattr(args, "report", None)
    try:
        out: IO[str] = (
            sys.stdout
            if report_path in (None, "-")
            else open(report_path, "w", encoding="utf-8")  # noqa: SIM115 - closed below
        )
    except OSError as exc:
        raise UsageError(f"cannot write {report_path}: {exc.strerror}") from None
    executor = executor_from_spec(getattr(args, "executor", None), jobs)  # UsageError: exit 2
    bar = _Bar(sys.stderr) if sys.stderr.isatty() else None
    report_name = "stdout" if out is sys.stdout else report_path
    report = _Report(out)
    try:
        summary = verify_archive(
            args.archive, config, report, jobs=jobs, progress=bar,  # type: ignore[arg-type]
            executor=executor,
        )
        report.flush()
        if out is not sys.stdout:
            try:
                out.close()  # flushes: a full device shows here
            except OSError as exc:
                raise _ReportWriteError(exc) from None
    except _ReportWriteError as exc:
        raise UsageError(f"cannot write the report to {report_name}: {exc}") from None
    except OSError as exc:
        raise UsageError(f"cannot read {args.archive}: {exc.strerror or exc}") from None
    except XmppSecError as exc:  # not XML, or a DOCTYPE: the archive is unusable (exit 2)
        raise UsageError(f"{args.archive}: {exc}") from None
    finally:
        if executor is not None:
            executor.close()
        if bar is not None:
            bar.close()
        if out is not sys.stdout and not out.closed:
            with contextlib.suppress(OSError):
                out.close()
    if summary.truncated:
        print(
            f"{args.archive}: the stream ends without its closing tag (a live capture?): "
            "every complete stanza is reported, an incomplete last one is not",
            file=sys.stderr,
        )
    rate = summary.stanzas / summary.seconds if summary.seconds else 0.0
    print(
        f"{summary.stanzas} stanzas: {summary.valid} valid, {summary.rejected} rejected"
        f" ({summary.skipped} archive queries/fin skipped) in {summary.seconds:.1f} s,"
        f" {rate:,.0f}/s",
        file=sys.stderr,
    )
    if summary.stanzas == 0:
        # Nothing verified is not "everything valid": a wrong file must not pass silently.
        print(f"rejected: no stanza found in {args.archive}", file=sys.stderr)
        return c.EXIT_REJECTED
    return c.EXIT_OK if summary.rejected == 0 else c.EXIT_REJECTED
