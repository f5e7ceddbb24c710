"""Bulk verification of an archive of stanzas, streamed, on every core.

An archive is either an XML stream dump (``<stream:stream>`` followed by stanzas, RFC 6120
§4) or a message archive export (XEP-0313): ``<result>`` elements holding a XEP-0297
``<forwarded>`` with a XEP-0203 ``<delay/>`` and the archived ``<message>``, wherever they
sit (in ``<message>`` or ``<iq type='result'>`` wrappers, one per line, or in any outer
element). The file is read with lxml's ``iterparse`` and every top-level element is cleared
as soon as it is handled, so memory stays constant whatever the archive's length.

Each stanza is detached (a copy that keeps its own namespace declarations and those it uses
from the stream, never the stream's others: the bytes a sender signed), serialized, and
verified from bytes with :meth:`Verifier.check`, which runs the hardened parser
(:func:`xmppsec.parser.parse`) and the stanza limits on it. Worker processes each build their
own :class:`Verifier` from a picklable :class:`ArchiveConfig` (pins as DER certificates, the
policy, the profile) and receive stanza bytes in chunks; results come back in input order as
JSON lines.

Time: an archived message is judged against the archive's own ``<delay stamp>`` (the moment
the archive stored it: XEP-0313 §4.1.2, the recipient's server) when there is one, else
against ``now`` (fixed for the whole run, or the clock). No replay store is used: an archive
holds each stanza once by construction, and a stream dump is verified as recorded.
"""

from __future__ import annotations

import gc
import io
import json
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.pool import AsyncResult
from pathlib import Path
from typing import IO, Any, BinaryIO

from lxml import etree

from .dsig import PROFILES, Policy, VerificationResult, Verifier
from .errors import RestrictedXMLError, XmppSecError
from .keys import load_certificate
from .timestamps import parse_rfc3339
from .trust import TrustStore
from .xmpp import NS, STANZA_TAGS, is_stanza

__all__ = [
    "ArchiveConfig",
    "ArchiveStanza",
    "ArchiveSummary",
    "Progress",
    "iter_stanzas",
    "verify_archive",
]

_FORWARD = "{urn:xmpp:forward:0}forwarded"
_DELAY = "{" + NS.DELAY + "}delay"

_RESULTS = frozenset(f"{{urn:xmpp:mam:{v}}}result" for v in ("0", "1", "2", "tmp"))
_WATCHED = sorted(STANZA_TAGS.keys() | _RESULTS)


@dataclass(frozen=True, slots=True)
class ArchiveStanza:
    """One stanza found in the archive, detached and serialized."""

    index: int
    data: bytes
    source: str
    """``stream`` (a top-level stanza) or ``mam`` (the message of a forwarded result)."""
    archive_id: str | None = None
    """The XEP-0313 ``result/@id`` of an archived message."""
    stamp: str | None = None
    """The archive's XEP-0203 delay stamp (the time the archive stored it)."""


@dataclass(frozen=True, slots=True)
class ArchiveConfig:
    """Everything a worker needs to build its Verifier; picklable."""

    pins: tuple[tuple[str, bytes], ...] = ()
    """(JID or domain, DER certificate) pairs."""
    policy: Policy = field(default_factory=Policy)
    profile: str | None = None
    """``spec``, ``robust``, or ``None`` to detect each signature's profile."""
    now: datetime | None = None
    """Judge timestamps at this time (default: the clock, per stanza)."""
    use_archive_stamp: bool = True
    """Judge an archived message against the archive's delay stamp."""
    report: ReportLine | None = None
    """Shapes each line from (result, place in the archive, the time judged at); a
    module-level function (a worker receives it by reference). ``None``: the record below."""

    def verifier(self) -> Verifier:
        trust = TrustStore()
        for name, der in self.pins:
            trust = trust.pin(name, load_certificate(der))
        profile = PROFILES[self.profile] if self.profile is not None else None
        return Verifier(trust, policy=self.policy, profile=profile)


@dataclass(slots=True)
class ArchiveSummary:
    stanzas: int = 0
    valid: int = 0
    rejected: int = 0
    skipped: int = 0
    """Top-level stanzas that are archive plumbing (XEP-0313 query, fin), not content."""
    seconds: float = 0.0
    bytes_read: int = 0
    truncated: bool = False
    """The archive ended before its closing tags (a live capture): every complete stanza
    was verified; an incomplete last one was not."""


ReportLine = Callable[[VerificationResult, dict[str, Any], datetime | None], dict[str, Any]]
"""Shapes one archive line (the CLI's report, docs/cli.md)."""

Progress = Callable[[int, int, int], None]
"""Called as ``progress(stanzas_done, bytes_read, total_bytes)`` (total 0 if unknown)."""


# -- reading -------------------------------------------------------------------------------


class _CountingReader(io.RawIOBase):
    """A binary file wrapper that counts the bytes read (for progress)."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.count += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)


def _local(tag: object) -> tuple[str, str]:
    if not isinstance(tag, str):
        return "", ""
    if tag.startswith("{"):
        ns, _, name = tag[1:].partition("}")
        return ns, name
    return "", tag


def _is_mam(stanza: etree._Element) -> bool:
    # XEP-0313 protocol around the results (query, fin): archive plumbing, not content.
    return any(_local(c.tag)[0].startswith("urn:xmpp:mam:") for c in stanza)


def _detach(el: etree._Element) -> bytes:
    # A deep copy keeps the element's own namespace declarations and the inherited ones its
    # subtree uses, and drops the stream's others (xmlns:stream): the bytes the sender signed.
    # Where no prefix is in scope around the element (a MAM export of default namespaces),
    # lxml's serialization of the element in place writes the same bytes without the copy.
    parent = el.getparent()
    if parent is None or all(prefix is None for prefix in parent.nsmap):
        return etree.tostring(el, with_tail=False)
    # lxml's __copy__ copies the whole subtree (lxml-stubs do not declare it).
    dup: etree._Element = el.__copy__()  # type: ignore[attr-defined]
    return etree.tostring(dup, with_tail=False)


def _forwarded_stanzas(result: etree._Element) -> Iterator[tuple[etree._Element, str | None]]:
    """(message, delay stamp) of a XEP-0313 result: the stanza its XEP-0297 forwarded holds."""
    fwd = result.find(_FORWARD)
    if fwd is None:
        return
    delay = fwd.find(_DELAY)
    stamp = delay.get("stamp") if delay is not None else None
    for child in fwd:
        if is_stanza(child):
            yield child, stamp


def iter_stanzas(
    source: IO[bytes] | str,
    *,
    counter: list[int] | None = None,
    truncated: list[bool] | None = None,
) -> Iterator[ArchiveStanza]:
    """The stanzas of an archive, in order, with constant memory.

    Only the end events of stanzas and archive results reach Python (lxml's ``tag``
    filter): the rest of the tree is built in C. Each top-level element is cleared and
    removed, with any earlier siblings (stream features, unknown elements), once handled,
    so memory holds one top-level element at a time (libxml2 without ``huge_tree`` caps a
    text node at 10 MB and the depth at 256; the stanza limits apply when it is verified).
    A ``<!DOCTYPE`` is refused (RFC 6120 §11.1) with :class:`RestrictedXMLError`, and so is
    an archive that is not well-formed XML. ``counter[0]`` counts the top-level stanzas
    skipped as archive plumbing (XEP-0313 query and fin).

    An archive whose bytes are all well-formed but that ends before its closing tags (a
    live capture of a stream still open, or cut short) yields every complete stanza and
    sets ``truncated[0]``: the parser is fed the bytes chunk by chunk, so a syntax error
    raised while feeding is malformed XML, and one raised only at the end is a missing end.
    """
    parser = etree.XMLPullParser(
        events=("end",),
        tag=_WATCHED,
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=False,
        remove_comments=False,
        remove_pis=False,
    )
    stream: IO[bytes] = open(source, "rb") if isinstance(source, str) else source  # noqa: SIM115
    root: etree._Element | None = None
    seen_root = False
    index = 0
    wrapper: etree._Element | None = None  # the top-level element holding the last result

    try:
        while True:
            chunk = stream.read(1 << 16)
            final = not chunk
            try:
                if final:
                    parser.close()
                else:
                    parser.feed(chunk)
                events = parser.read_events()
                batch = [el for _, el in events if isinstance(el, etree._Element)]
            except etree.XMLSyntaxError as exc:
                if final and seen_root and truncated is not None:
                    truncated[0] = True  # every byte parsed; only the closing tags are missing
                    return
                raise RestrictedXMLError(f"the archive is not well-formed XML: {exc}") from None
            for el in batch:
                if root is None:
                    root = el.getroottree().getroot()
                    seen_root = True
                    if getattr(el.getroottree().docinfo, "doctype", ""):
                        raise RestrictedXMLError("DOCTYPE in the archive (RFC 6120 §11.1)")
                parent = el.getparent()
                top = parent is root
                if el.tag in _RESULTS:
                    for msg, stamp in _forwarded_stanzas(el):
                        yield ArchiveStanza(
                            index, _detach(msg), "mam", archive_id=el.get("id"), stamp=stamp
                        )
                        index += 1
                    if not top:
                        wrapper = el
                        while wrapper.getparent() is not root:
                            wrapper = wrapper.getparent()
                            assert wrapper is not None
                        el.clear()  # done with it; its top-level wrapper goes below
                        continue
                elif not top:
                    continue  # a forwarded message (its result handles it) or nested content
                elif el is wrapper:
                    wrapper = None  # a message or iq wrapping results: not content itself
                elif _is_mam(el):
                    if counter is not None:
                        counter[0] += 1
                else:
                    yield ArchiveStanza(index, _detach(el), "stream")
                    index += 1
                # Constant memory: clear this top-level element and drop it and every
                # earlier sibling (comments and elements nobody watches included).
                el.clear()
                assert parent is not None
                while el.getprevious() is not None:
                    del parent[0]
            if final:
                return
    finally:
        if isinstance(source, str):
            stream.close()


# -- verifying -----------------------------------------------------------------------------

_worker_state: dict[str, Any] = {}


def _init_worker(config: ArchiveConfig) -> None:
    _worker_state["verifier"] = config.verifier()
    _worker_state["config"] = config


def _init_pool_worker(config: ArchiveConfig) -> None:
    _init_worker(config)
    # A forked worker inherits the reader's heap: keep the collector from scanning (and
    # copying on write) those objects again and again.
    gc.freeze()


# What travels to a worker: (index, data, source, archive_id, stamp), a plain tuple (half
# the pickling cost of the dataclass).
_Item = tuple[int, bytes, str, str | None, str | None]


def _verify_one(verifier: Verifier, config: ArchiveConfig, item: _Item) -> tuple[bool, str]:
    index, data, source, archive_id, stamp = item
    record: dict[str, Any] = {"n": index, "source": source}
    if archive_id is not None:
        record["archive_id"] = archive_id
    now = config.now
    if config.use_archive_stamp and stamp is not None:
        try:
            now = parse_rfc3339(stamp)
        except XmppSecError:
            now = config.now
    result = verifier.check(data, now=now)
    if config.report is not None:
        place = {"n": index, "source": source, "archive_id": archive_id, "stamp": stamp}
        line = config.report(result, place, now)
        return result.valid, json.dumps(line, separators=(",", ":"))
    attrs = dict(result.stanza_attributes)
    record["stanza"] = result.stanza_name or None
    record["id"] = attrs.get("id")
    record["from"] = attrs.get("from")
    record["valid"] = result.valid
    record["error"] = (
        None if result.error is None else f"{type(result.error).__name__}: {result.error}"
    )
    record["signatures"] = [
        {
            "signer": s.signer,
            "valid": s.valid,
            "profile": s.profile,
            "timestamp": s.timestamp_text or None,
            "timestamp_status": s.timestamp_status.value,
            "error": None if s.error is None else type(s.error).__name__,
        }
        for s in result.signatures
    ]
    if result.unsigned_children:
        record["unsigned_children"] = list(result.unsigned_children)
    return result.valid, json.dumps(record, separators=(",", ":"))


def _work(chunk: list[_Item]) -> list[tuple[bool, str]]:
    verifier: Verifier = _worker_state["verifier"]
    config: ArchiveConfig = _worker_state["config"]
    return [_verify_one(verifier, config, item) for item in chunk]


def _chunks(items: Iterator[ArchiveStanza], size: int) -> Iterator[list[_Item]]:
    chunk: list[_Item] = []
    for item in items:
        chunk.append((item.index, item.data, item.source, item.archive_id, item.stamp))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def verify_archive(
    path: str | os.PathLike[str],
    config: ArchiveConfig,
    out: IO[str],
    *,
    jobs: int | None = None,
    chunk_size: int = 256,
    progress: Progress | None = None,
) -> ArchiveSummary:
    """Verify every stanza of the archive at ``path``; write one JSON line per stanza to
    ``out`` in input order; return the counts.

    ``jobs`` worker processes (default ``os.cpu_count()``); ``jobs=1`` verifies in this
    process. At most ``2 * jobs + 2`` chunks are in flight, so memory does not grow with
    the archive.
    """
    jobs = jobs or os.cpu_count() or 1
    total = Path(path).stat().st_size
    summary = ArchiveSummary()
    skipped = [0]
    truncated = [False]
    started = time.perf_counter()
    last_report = 0.0

    def emit(results: list[tuple[bool, str]], reader: _CountingReader) -> None:
        nonlocal last_report
        out.write("".join(line + "\n" for _, line in results))
        valid = sum(1 for ok, _ in results if ok)
        summary.stanzas += len(results)
        summary.valid += valid
        summary.rejected += len(results) - valid
        if progress is not None:
            now = time.perf_counter()
            if now - last_report >= 0.2:
                last_report = now
                progress(summary.stanzas, reader.count, total)

    with open(path, "rb") as raw:
        reader = _CountingReader(raw)
        buffered = io.BufferedReader(reader, buffer_size=1 << 16)
        items = iter_stanzas(buffered, counter=skipped, truncated=truncated)
        if jobs == 1:
            _init_worker(config)
            for chunk in _chunks(items, chunk_size):
                emit(_work(chunk), reader)
        else:
            # fork: workers start at once and never re-import the caller's __main__; the
            # pool is created before any thread of ours exists.
            methods = multiprocessing.get_all_start_methods()
            ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
            with ctx.Pool(jobs, initializer=_init_pool_worker, initargs=(config,)) as pool:
                pending: deque[AsyncResult[list[tuple[bool, str]]]] = deque()
                for chunk in _chunks(items, chunk_size):
                    pending.append(pool.apply_async(_work, (chunk,)))
                    while len(pending) > 2 * jobs + 2:
                        emit(pending.popleft().get(), reader)
                while pending:
                    emit(pending.popleft().get(), reader)
        summary.bytes_read = reader.count
    summary.skipped = skipped[0]
    summary.truncated = truncated[0]
    summary.seconds = time.perf_counter() - started
    if progress is not None:
        progress(summary.stanzas, summary.bytes_read, total)
    return summary

