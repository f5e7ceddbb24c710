"""Prosody and ejabberd federated on loopback: each on its own 127.0.N.x address, s2s on 5269.

Server-to-server (RFC 6120 §3.2.1) finds a peer at ``<domain>:5269`` when there is no SRV
record. The names are resolved through ``/etc/hosts`` lines this module adds for the run and
removes afterwards (tagged with a per-run marker, so lines another run added are never
touched); the domains use the reserved ``.test`` TLD (RFC 2606) with a random label, and N is
picked per run among addresses where nothing listens on 5269, so two runs never reach each
other's servers. Nothing leaves 127.0.0.0/8. Peers authenticate with dialback (XEP-0220), no
TLS: the link is loopback only. Needs write access to /etc/hosts (root).

What each server needed is in tests/harness/servers.py (``s2s=True``) and docs/servers.md.
"""

from __future__ import annotations

import contextlib
import fcntl
import random
import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .client import ClientError, connect
from .servers import (
    S2S_PORT,
    Server,
    ServerError,
    ServerUnavailable,
    start_ejabberd,
    start_prosody,
)

__all__ = ["HOSTS_FILE", "Federation", "HostsLines", "federation", "pick_subnet"]

HOSTS_FILE = Path("/etc/hosts")
TAG = "# xmppsec-federation"
LINK_TIMEOUT = 30.0


class HostsLines:
    """Add lines to a hosts file for the duration of a ``with`` block.

    Every line carries ``# xmppsec-federation <run id>``; on exit exactly these lines are
    removed (from the file as it is then, so a line another process added meanwhile stays).
    Written in place, not renamed over: /etc/hosts may be a bind mount. Each read-modify-write
    holds an exclusive ``flock`` on the file, so two runs editing it at once lose nothing.
    """

    def __init__(self, entries: dict[str, list[str]], path: Path = HOSTS_FILE) -> None:
        self.path = path
        self.run_id = secrets.token_hex(6)
        self.lines = [
            f"{address}\t{' '.join(names)}\t{TAG} {self.run_id}"
            for address, names in entries.items()
        ]
        self.original = b""

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self.path.open("rb") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def __enter__(self) -> HostsLines:
        try:
            with self._locked():
                self.original = self.path.read_bytes()
                text = self.original.decode("utf-8")
                if text and not text.endswith("\n"):
                    text += "\n"
                self._write((text + "".join(f"{line}\n" for line in self.lines)).encode())
        except OSError as exc:
            raise ServerUnavailable(f"cannot edit {self.path} for federation: {exc}") from exc
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def remove(self) -> None:
        with self._locked():
            self._remove()

    def _remove(self) -> None:
        current = self.path.read_bytes()
        mine = {line.encode() for line in self.lines}
        kept = [ln for ln in current.splitlines(keepends=True) if ln.rstrip(b"\n") not in mine]
        restored = b"".join(kept)
        # nothing else changed meanwhile: restore the original bytes exactly (a missing final
        # newline included)
        if restored == self.original or restored == self.original + b"\n":
            restored = self.original
        if restored != current:
            self._write(restored)

    def _write(self, data: bytes) -> None:
        """Overwrite in place, then cut the rest: a reader never sees an empty file (when
        lines are only added, every byte it could read before is still there)."""
        with self.path.open("r+b") as f:
            f.write(data)
            f.truncate(len(data))

    def present(self) -> bool:
        with self._locked():
            text = self.path.read_text()
        return any(line in text for line in self.lines)


def _free_on(address: str) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((address, S2S_PORT))
        except OSError:
            return False
    return True


def pick_subnet(rng: random.Random | None = None) -> int:
    """An N in 16..254 such that nothing listens on 127.0.N.2:5269 or 127.0.N.3:5269."""
    rng = rng or random.SystemRandom()
    for _ in range(50):
        n = rng.randint(16, 254)
        if _free_on(f"127.0.{n}.2") and _free_on(f"127.0.{n}.3"):
            return n
    raise ServerError("no free 127.0.N.2/127.0.N.3 pair for federation")


@dataclass(frozen=True)
class Federation:
    """Two federated servers: ``prosody`` (127.0.N.2) and ``ejabberd`` (127.0.N.3)."""

    prosody: Server
    ejabberd: Server
    hosts: HostsLines
    started_in: float

    def servers(self) -> tuple[Server, Server]:
        return self.prosody, self.ejabberd

    def peer(self, server: Server) -> Server:
        return self.ejabberd if server is self.prosody else self.prosody


def _names(domain: str) -> list[str]:
    # the server's own domain, its MUC service and its XEP-0114 component subdomain: each is
    # a separate s2s peer (dialback authenticates each domain on its own)
    return [domain, f"muc.{domain}", f"rooms.{domain}"]


def wait_for_link(a: Server, b: Server, timeout: float = LINK_TIMEOUT) -> float:
    """Ping ``b``'s domain from a client of ``a`` until s2s answers; returns the seconds
    it took (the first stanza opens the outgoing stream and runs dialback)."""
    began = time.monotonic()
    with connect(a, "carol") as client:
        attempt = 0
        while True:
            attempt += 1
            reply = client.request(
                f"<iq type='get' id='link{attempt}' to='{b.domain}'>"
                "<ping xmlns='urn:xmpp:ping'/></iq>",
                timeout=max(1.0, timeout - (time.monotonic() - began)),
            )
            if reply.attr("type") == "result":
                return time.monotonic() - began
            if time.monotonic() - began > timeout:
                raise ClientError(
                    f"s2s {a.domain} -> {b.domain} did not come up: "
                    f"{reply.raw.decode('utf-8', 'replace')}\n{a.log_tail()}\n{b.log_tail()}"
                )
            time.sleep(0.5)


@contextlib.contextmanager
def federation(workdir: Path) -> Iterator[Federation]:
    """Start both servers with s2s on their own loopback addresses and names in /etc/hosts.

    Everything started is stopped and the hosts lines removed on exit, also on failure.
    """
    began = time.monotonic()
    n = pick_subnet()
    label = secrets.token_hex(3)
    p_host, e_host = f"127.0.{n}.2", f"127.0.{n}.3"
    p_domain, e_domain = f"pros-{label}.test", f"ejab-{label}.test"
    with contextlib.ExitStack() as stack:
        hosts = stack.enter_context(
            HostsLines({p_host: _names(p_domain), e_host: _names(e_domain)})
        )
        prosody = start_prosody(workdir / "prosody", host=p_host, domain=p_domain, s2s=True)
        stack.callback(prosody.stop)
        ejabberd = start_ejabberd(workdir / "ejabberd", host=e_host, domain=e_domain, s2s=True)
        stack.callback(ejabberd.stop)
        wait_for_link(prosody, ejabberd)
        wait_for_link(ejabberd, prosody)
        yield Federation(prosody, ejabberd, hosts, time.monotonic() - began)
