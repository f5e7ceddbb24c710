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

Past one machine: :func:`plan_shards` cuts the archive into byte ranges at top-level element
boundaries, :func:`verify_shard` — a plain picklable function of (:class:`Shard`,
:class:`ArchiveConfig`) — verifies one of them (or a whole file) and returns its JSON lines,
and an :class:`Executor` runs it over the shards: :class:`LocalExecutor` (a fork pool) or
:class:`DaskExecutor` (a ``dask.distributed`` cluster). The report is the same, line for
line, whichever executor ran it.

Time: an archived message is judged against the archive's own ``<delay stamp>`` (the moment
the archive stored it: XEP-0313 §4.1.2, the recipient's server) when there is one, else
against ``now`` (fixed for the whole run, or the clock). No replay store is used: an archive
holds each stanza once by construction, and a stream dump is verified as recorded.
"""

from __future__ import annotations

import gc
import io
import itertools
import json
import mmap
import multiprocessing
import os
import re
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.pool import AsyncResult
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, Protocol

from lxml import etree

from .dsig import PROFILES, Policy, VerificationResult, Verifier
from .errors import RestrictedXMLError, UsageError, XmppSecError
from .keys import load_certificate
from .timestamps import parse_rfc3339
from .trust import TrustStore
from .xmpp import NS, STANZA_TAGS, is_stanza

if TYPE_CHECKING:  # dask.distributed is optional (the dask extra)
    from distributed import Client

__all__ = [
    "ArchiveConfig",
    "ArchiveStanza",
    "ArchiveSummary",
    "DaskExecutor",
    "Executor",
    "LocalExecutor",
    "Progress",
    "Shard",
    "ShardResult",
    "executor_from_spec",
    "iter_stanzas",
    "plan_shards",
    "verify_archive",
    "verify_shard",
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
        trust = TrustStore(allow_legacy_keys=self.policy.allow_legacy)
        for name, der in self.pins:
            trust = trust.pin(name, load_certificate(der))
        profile = PROFILES[self.profile] if self.profile is not None else None
        return Verifier(trust, policy=self.policy, profile=profile)


@dataclass(slots=True)
class ArchiveSummary:
    """The counts of an archive run: stanzas read, valid, rejected, skipped; time and bytes."""

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


# A report line from (result, place, time judged at); it must hold the place dict under
# "archive" (a sharded run shifts place["n"] to the index within the whole archive).
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
    A file whose root element is itself a XEP-0313 ``<result>`` or a stanza holds that one
    result or stanza. A ``<!DOCTYPE`` is refused (RFC 6120 §11.1) with
    :class:`RestrictedXMLError`, and so is an archive that is not well-formed XML.
    ``counter[0]`` counts the top-level stanzas skipped as archive plumbing (XEP-0313 query
    and fin).

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
    index = 0
    wrapper: etree._Element | None = None  # the top-level element holding the last result
    wrapped = False  # a result was seen: a stanza at the root only wrapped results

    def results(el: etree._Element) -> Iterator[ArchiveStanza]:
        nonlocal index
        for msg, stamp in _forwarded_stanzas(el):
            yield ArchiveStanza(index, _detach(msg), "mam", archive_id=el.get("id"), stamp=stamp)
            index += 1

    def content(el: etree._Element) -> Iterator[ArchiveStanza]:
        nonlocal index
        if _is_mam(el):
            if counter is not None:
                counter[0] += 1
            return
        yield ArchiveStanza(index, _detach(el), "stream")
        index += 1

    try:
        while True:
            chunk = stream.read(1 << 16)
            final = not chunk
            try:
                if final:
                    parser.close()
                else:
                    parser.feed(chunk)
                batch = [el for _, el in parser.read_events() if isinstance(el, etree._Element)]
            except etree.XMLSyntaxError as exc:
                if final and root is not None and truncated is not None:
                    truncated[0] = True  # every byte parsed; only the closing tags are missing
                    return
                raise RestrictedXMLError(f"the archive is not well-formed XML: {exc}") from None
            for el in batch:
                if root is None:
                    root = el.getroottree().getroot()
                    if getattr(el.getroottree().docinfo, "doctype", ""):
                        raise RestrictedXMLError("DOCTYPE in the archive (RFC 6120 §11.1)")
                parent = el.getparent()
                if parent is None:
                    # The root element itself: a lone XEP-0313 result or stanza is the whole
                    # archive (a root that wrapped results, or a stream's end, is not content).
                    if el.tag in _RESULTS:
                        yield from results(el)
                    elif not wrapped:
                        yield from content(el)
                    el.clear()
                    continue
                top = parent is root
                if el.tag in _RESULTS:
                    wrapped = True
                    yield from results(el)
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
                else:
                    yield from content(el)
                # Constant memory: clear this top-level element and drop it and every
                # earlier sibling (comments and elements nobody watches included).
                el.clear()
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


# -- shards and executors ------------------------------------------------------------------

# One token of the archive's markup, found by a C regex scan: a comment, a CDATA section, a
# processing instruction, a declaration (group 1: a DOCTYPE, refused), an end tag (group 2)
# or a start tag (quoted attribute values may hold '>'). Text between tokens is skipped.
_TOKEN = re.compile(
    rb"<(?:!--.*?-->|!\[CDATA\[.*?\]\]>|\?.*?\?>|(!)|(/)[^>]*>"
    rb"|[^>\"']*(?:(?:\"[^\"]*\"|'[^']*')[^>\"']*)*>)",
    re.S,
)
_NAME = re.compile(rb"<([^\s/>]+)")


@dataclass(frozen=True, slots=True)
class Shard:
    """A part of an archive that a worker verifies on its own: the whole file at ``path``
    (``end`` is ``None``), or the byte range ``[start, end)`` of it, which holds whole
    top-level elements; the worker parses ``[0, header_end)`` (the XML declaration and the
    root's start tag, with its namespace declarations), the range, and ``</root>``."""

    path: str
    start: int = 0
    end: int | None = None
    header_end: int = 0
    root: bytes = b""
    """The root element's qualified name (to close it after the range)."""


@dataclass(frozen=True, slots=True)
class ShardResult:
    """The JSON lines of a shard's stanzas in order (``n`` counts from 0 within the shard;
    :func:`verify_archive` renumbers them for the whole archive), and its counts."""

    lines: tuple[str, ...]
    valid: int
    skipped: int
    end: int
    """The byte offset the shard ends at (for progress)."""


def plan_shards(path: str | os.PathLike[str], *, shard_bytes: int = 4 << 20) -> list[Shard]:
    """Cut the archive at ``path`` into byte ranges of about ``shard_bytes``, each starting
    at a top-level element (a child of the root: a stanza, or a MAM result or its wrapper).

    The file is memory-mapped and only the cut points are kept. A DOCTYPE is refused
    (RFC 6120 §11.1) with :class:`RestrictedXMLError`; other malformed XML is found by the
    workers' parser. Every tag is walked with one regular expression (comments, CDATA
    sections, processing instructions and quoted attribute values are skipped as such); the
    work is in C but one Python step per tag remains: about 75 µs per 2 KB stanza here.
    """
    where = os.fspath(path)
    size = os.path.getsize(where)
    if size == 0:
        raise RestrictedXMLError("the archive is empty")
    with open(where, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        header_end, root, empty = _root_start(buf)
        if empty:
            return [Shard(where, header_end, header_end, header_end, root)]
        cuts, root_end = _cuts_walked(buf, header_end, size, shard_bytes)
    bounds = [header_end, *cuts, root_end]
    return [Shard(where, a, b, header_end, root) for a, b in itertools.pairwise(bounds)]


def _root_start(buf: mmap.mmap) -> tuple[int, bytes, bool]:
    """(end of the root's start tag, its name, whether it is an empty element)."""
    for m in _TOKEN.finditer(buf):
        if m.group(1) is not None:
            raise RestrictedXMLError("DOCTYPE in the archive (RFC 6120 §11.1)")
        if m.group(2) is not None or buf[m.start() + 1] in b"!?":
            continue
        name = _NAME.match(buf, m.start())
        return m.end(), name.group(1) if name else b"", buf[m.end() - 2] == 0x2F
    raise RestrictedXMLError("the archive holds no XML element")


def _cuts_walked(
    buf: mmap.mmap, header_end: int, size: int, shard_bytes: int
) -> tuple[list[int], int]:
    depth, last, cuts = 1, header_end, list[int]()
    for m in _TOKEN.finditer(buf, header_end):
        if m.group(2) is not None:  # an end tag
            depth -= 1
            if depth == 0:
                return cuts, m.start()
            continue
        if m.group(1) is not None:
            raise RestrictedXMLError("DOCTYPE in the archive (RFC 6120 §11.1)")
        if buf[m.start() + 1] in b"!?":  # a comment, CDATA section or PI
            continue
        if depth == 1 and m.start() - last >= shard_bytes:
            cuts.append(m.start())
            last = m.start()
        if buf[m.end() - 2] != 0x2F:  # not "/>"
            depth += 1
    return cuts, size


_verifiers: dict[ArchiveConfig, Verifier] = {}


def _verifier_for(config: ArchiveConfig) -> Verifier:
    # One Verifier per configuration in each worker process, reused across its shards.
    try:
        verifier = _verifiers.get(config)
    except TypeError:  # an unhashable configuration (a Policy holding a list)
        return config.verifier()
    if verifier is None:
        if len(_verifiers) >= 4:
            _verifiers.clear()
        verifier = _verifiers[config] = config.verifier()
    return verifier


def verify_shard(shard: Shard, config: ArchiveConfig) -> ShardResult:
    """Verify every stanza of ``shard`` with a Verifier built from ``config``: a plain
    picklable function (no state travels with it), for any executor."""
    if shard.end is None:
        source: IO[bytes] = open(shard.path, "rb")  # closed below
        end = os.path.getsize(shard.path)
    else:
        with open(shard.path, "rb") as f:
            header = f.read(shard.header_end)
            f.seek(shard.start)
            body = f.read(shard.end - shard.start)
        source = io.BytesIO(b"".join((header, body, b"</", shard.root, b">")))
        end = shard.end
    verifier = _verifier_for(config)
    skipped = [0]
    lines: list[str] = []
    valid = 0
    try:
        for item in iter_stanzas(source, counter=skipped):
            ok, line = _verify_one(
                verifier, config, (item.index, item.data, item.source, item.archive_id, item.stamp)
            )
            valid += ok
            lines.append(line)
    finally:
        source.close()
    return ShardResult(tuple(lines), valid, skipped[0], end)


ShardFunction = Callable[[Shard, ArchiveConfig], ShardResult]


class Executor(Protocol):
    """Runs a shard function over shards; yields the results in the shards' order."""

    def map_ordered(
        self, fn: ShardFunction, shards: Iterable[Shard], config: ArchiveConfig
    ) -> Iterator[ShardResult]: ...

    def close(self) -> None: ...


def _init_fork_worker() -> None:
    gc.freeze()


class LocalExecutor:
    """A fork pool of ``jobs`` processes on this machine (``jobs=1``: in this process)."""

    def __init__(self, jobs: int | None = None) -> None:
        self.jobs = jobs or os.cpu_count() or 1

    def map_ordered(
        self, fn: ShardFunction, shards: Iterable[Shard], config: ArchiveConfig
    ) -> Iterator[ShardResult]:
        if self.jobs == 1:
            for shard in shards:
                yield fn(shard, config)
            return
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        with ctx.Pool(self.jobs, initializer=_init_fork_worker) as pool:
            pending: deque[AsyncResult[ShardResult]] = deque()
            for shard in shards:
                pending.append(pool.apply_async(fn, (shard, config)))
                while len(pending) > self.jobs + 1:
                    yield pending.popleft().get()
            while pending:
                yield pending.popleft().get()

    def close(self) -> None:
        pass


class DaskExecutor:
    """Shards as tasks of a ``dask.distributed`` cluster: ``DaskExecutor("tcp://host:8786")``
    connects to a running scheduler, ``DaskExecutor(client)`` uses a client (for instance
    of a ``LocalCluster``), :meth:`local` starts a ``LocalCluster`` of worker processes.

    At most ``2 × threads + 2`` shards are in flight (memory does not grow with the
    archive); results are collected in submission order. A worker that dies mid-shard
    loses its task, which the scheduler runs again on another worker (up to
    ``distributed.scheduler.allowed-failures`` times); an exception inside a task is retried
    ``retries`` times. Since a shard's result is kept only once it is complete, and is taken
    once in order, no stanza is reported twice or lost.
    """

    def __init__(self, target: str | Client, *, retries: int = 2, timeout: float = 10.0) -> None:
        from distributed import Client

        self._owned: list[Any] = []
        if isinstance(target, str):
            self.client = Client(target, timeout=timeout)
            self._owned.append(self.client)
        else:
            self.client = target
        self._retries = retries

    @classmethod
    def local(cls, workers: int = 2, **options: object) -> DaskExecutor:
        """Start a ``LocalCluster`` of ``workers`` single-threaded worker processes; ``options``
        go to ``LocalCluster`` as they are."""
        from distributed import Client, LocalCluster

        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            **options,
        )
        executor = cls(Client(cluster))
        executor._owned = [executor.client, cluster]
        return executor

    def map_ordered(
        self, fn: ShardFunction, shards: Iterable[Shard], config: ArchiveConfig
    ) -> Iterator[ShardResult]:
        client = self.client
        threads = sum(client.nthreads().values()) or 1
        run = uuid.uuid4().hex[:12]
        pending: deque[Any] = deque()
        for i, shard in enumerate(shards):
            pending.append(
                client.submit(
                    fn, shard, config, key=f"xmppsec-shard-{run}-{i}", retries=self._retries
                )
            )
            while len(pending) > 2 * threads + 2:
                yield self._take(pending.popleft())
        while pending:
            yield self._take(pending.popleft())

    @staticmethod
    def _take(future: Any) -> ShardResult:
        result: ShardResult = future.result()
        future.release()
        return result

    def close(self) -> None:
        for owned in self._owned:
            owned.close()
        self._owned = []


def executor_from_spec(
    spec: str | None, jobs: int | None = None, *, timeout: float = 10.0
) -> Executor | None:
    """``--executor``: ``local`` or ``None`` (the fork pool reading the archive in one
    stream: ``None`` is returned), ``dask://HOST:PORT`` (a running Dask scheduler, reached
    within ``timeout`` seconds), ``dask://local`` (a ``LocalCluster`` of ``jobs`` worker
    processes, default 2)."""
    if spec in (None, "", "local"):
        return None
    assert spec is not None
    if spec.startswith("dask://"):
        where = spec.removeprefix("dask://")
        try:
            if where == "local":
                return DaskExecutor.local(workers=jobs or 2)
            return DaskExecutor(f"tcp://{where}", timeout=timeout)
        except ImportError:
            raise UsageError("--executor dask:// needs: pip install 'xmppsec[dask]'") from None
        except OSError as exc:
            raise UsageError(f"--executor {spec}: cannot reach the scheduler: {exc}") from None
    raise UsageError(f"--executor must be local or dask://HOST:PORT, not {spec!r}")


def _renumber(lines: Sequence[str], base: int, custom: bool) -> str:
    """Shift each line's index within its shard to the index within the archive."""
    out = []
    for line in lines:
        if custom:
            # A config.report line holds the place under "archive" (ReportLine): the same
            # dict re-serialized with the same separators gives the same bytes.
            record = json.loads(line)
            record["archive"]["n"] += base
            out.append(json.dumps(record, separators=(",", ":")) + "\n")
            continue
        # Each record line starts with '{"n":<index within the shard>,'.
        comma = line.index(",", 5)
        out.append(f'{{"n":{base + int(line[5:comma])}{line[comma:]}\n')
    return "".join(out)


def _verify_sharded(
    path: str | os.PathLike[str],
    config: ArchiveConfig,
    out: IO[str],
    executor: Executor,
    shard_bytes: int,
    progress: Progress | None,
) -> ArchiveSummary:
    total = Path(path).stat().st_size
    summary = ArchiveSummary()
    started = time.perf_counter()
    shards = plan_shards(path, shard_bytes=shard_bytes)
    for result in executor.map_ordered(verify_shard, shards, config):
        out.write(_renumber(result.lines, summary.stanzas, config.report is not None))
        summary.stanzas += len(result.lines)
        summary.valid += result.valid
        summary.rejected += len(result.lines) - result.valid
        summary.skipped += result.skipped
        summary.bytes_read = result.end
        if progress is not None:
            progress(summary.stanzas, result.end, total)
    summary.bytes_read = total
    summary.seconds = time.perf_counter() - started
    return summary


def verify_archive(
    path: str | os.PathLike[str],
    config: ArchiveConfig,
    out: IO[str],
    *,
    jobs: int | None = None,
    chunk_size: int = 256,
    progress: Progress | None = None,
    executor: Executor | None = None,
    shard_bytes: int = 4 << 20,
) -> ArchiveSummary:
    """Verify every stanza of the archive at ``path``; write one JSON line per stanza to
    ``out`` in input order; return the counts.

    Without ``executor``: this process reads the archive and ``jobs`` worker processes
    (default ``os.cpu_count()``) verify chunks of ``chunk_size`` stanzas; ``jobs=1``
    verifies in this process. At most ``2 * jobs + 2`` chunks are in flight, so memory does
    not grow with the archive. With an ``executor`` (:class:`DaskExecutor`,
    :class:`LocalExecutor`): the archive is cut into shards of about ``shard_bytes``
    (:func:`plan_shards`) which the executor's workers read and verify
    (:func:`verify_shard`); the report is the same.
    """
    if executor is not None:
        return _verify_sharded(path, config, out, executor, shard_bytes, progress)
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

