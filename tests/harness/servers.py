"""Start and stop Debian's Prosody and ejabberd on 127.0.0.1 for one test session.

Every server runs from its own state directory with a config written from the templates in
``tests/harness/configs`` (free ports picked at start, loopback only). Every process started
here carries a unique ``XMPPSEC_HARNESS_ID`` in its environment; ``stop()`` ends the server
gracefully, then ends by PID whatever still carries that marker (Erlang port programs, a
stray ``epmd``), and ``leftovers()`` reports any marked process or listening port still there.

ejabberd is run with ``erl`` directly (what ``ejabberdctl foreground`` runs) in Erlang's
epmd-less mode (``-erl_epmd_port``, ``-start_epmd false``; OTP 23.1+), so no ``epmd``
daemon is started at all and ``ejabberdctl``'s switch to the ``ejabberd`` system user (which
cannot enter pytest's 0700 temporary directories) is avoided. Control commands (register,
stop) use ``ejabberd_ctl`` over the same distribution port, as ``ejabberdctl`` does.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "USERS",
    "Server",
    "ServerError",
    "ServerUnavailable",
    "ejabberd_server",
    "free_port",
    "prosody_server",
    "start_ejabberd",
    "start_prosody",
]

CONFIGS = Path(__file__).parent / "configs"
DOMAIN = "localhost"
MUC_DOMAIN = "muc.localhost"
ROOM = f"sigroom@{MUC_DOMAIN}"
RESOURCE = "xmppsec"
COMPONENT_DOMAIN = "rooms.localhost"
"""An XEP-0114 component subdomain both servers accept (``xmppsec component``)."""
USERS: Mapping[str, str] = {"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw"}
S2S_PORT = 5269
"""RFC 6120 §3.2.1: without an SRV record a peer connects to <domain>:5269 (federation only)."""
MARKER = "XMPPSEC_HARNESS_ID"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


class ServerUnavailable(Exception):
    """The server's programs are not installed (skip, or fail under CI=true)."""


class ServerError(Exception):
    """The server is installed but did not start, register users, or stop cleanly."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` (a loopback address) right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def _fill(template: str, values: Mapping[str, str]) -> str:
    text = template
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        raise ServerError(f"unfilled placeholders in config template: {left}")
    return text


def _marked_pids(marker: str) -> list[int]:
    """PIDs of live processes whose environment carries ``XMPPSEC_HARNESS_ID=marker``."""
    needle = f"{MARKER}={marker}".encode()
    pids: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            env = (entry / "environ").read_bytes()
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # zombies (state Z) are already dead; their parent reaps them
        if needle in env.split(b"\0") and stat.rsplit(")", 1)[-1].split()[0] != "Z":
            pids.append(int(entry.name))
    return pids


def _hex_ipv4(host: str) -> str:
    """``host`` as /proc/net/tcp writes a local address (little-endian hex)."""
    return socket.inet_aton(host)[::-1].hex().upper()


def _listening(port: int, host: str | None = None) -> bool:
    """Whether anything listens on TCP ``port`` (on ``host`` only, or any address), from
    /proc/net/tcp{,6}."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            address, _, hex_port = parts[1].rpartition(":")
            if parts[3] != "0A" or int(hex_port, 16) != port:
                continue
            if host is None or address in (_hex_ipv4(host), "00000000"):
                return True
    return False


def _tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"({path} not readable)"
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class Server:
    """A running server. JIDs for stanza templates: ``jid("bob")``, ``full_jid("bob")``, ..."""

    name: str
    port: int
    workdir: Path
    logs: tuple[Path, ...]
    marker: str
    ports: tuple[int, ...]
    host: str = "127.0.0.1"
    domain: str = DOMAIN
    muc_domain: str = MUC_DOMAIN
    muc_room: str = ROOM
    resource: str = RESOURCE
    users: Mapping[str, str] = field(default_factory=lambda: dict(USERS))
    component_port: int = 0
    s2s: bool = False
    component_domain: str = COMPONENT_DOMAIN
    component_secret: str = ""
    started_in: float = 0.0
    stopped_in: float = 0.0
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _stop_cmd: list[str] | None = field(default=None, repr=False)
    _env: dict[str, str] = field(default_factory=dict, repr=False)

    # -- addresses -------------------------------------------------------------------------
    def jid(self, user: str) -> str:
        return f"{user}@{self.domain}"

    def full_jid(self, user: str) -> str:
        return f"{user}@{self.domain}/{self.resource}"

    def occupant_jid(self, nick: str) -> str:
        return f"{self.muc_room}/{nick}"

    def password(self, user: str) -> str:
        return self.users[user]

    # -- diagnostics -----------------------------------------------------------------------
    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(f"--- {p} ---\n{_tail(p, lines)}" for p in self.logs)

    def pids(self) -> list[int]:
        return _marked_pids(self.marker)

    def leftovers(self) -> list[str]:
        """What is still there after stop(): marked processes and listening ports."""
        found = [f"pid {pid}" for pid in self.pids()]
        found += [f"port {p} listening" for p in self.ports if _listening(p)]
        if self.s2s and _listening(S2S_PORT, self.host):
            found.append(f"s2s port {self.host}:{S2S_PORT} listening")
        return found

    # -- stopping --------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop gracefully, then end by PID every process that carries this server's marker."""
        began = time.monotonic()
        proc = self._process
        if proc is not None and proc.poll() is None and self._stop_cmd is not None:
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                subprocess.run(
                    self._stop_cmd,
                    env=self._env,
                    cwd=self.workdir,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    timeout=STOP_TIMEOUT,
                    check=False,
                )
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(STOP_TIMEOUT if self._stop_cmd else 0.01)
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + 5
            while self.pids() and time.monotonic() < deadline:
                time.sleep(0.05)
        self._process = None
        self.stopped_in = time.monotonic() - began

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _base_env(marker: str, workdir: Path) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "HOME": str(workdir),
        "LANG": "C.UTF-8",
        MARKER: marker,
    }
    return env


def _run(cmd: list[str], env: dict[str, str], cwd: Path, what: str, timeout: float = 60) -> str:
    try:
        done = subprocess.run(
            cmd,
            env=env,
            cwd=cwd,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ServerError(f"{what}: timed out after {timeout}s: {cmd}") from exc
    out = (done.stdout + done.stderr).decode("utf-8", "replace")
    if done.returncode != 0:
        raise ServerError(f"{what}: exit {done.returncode}: {cmd}\n{out}")
    return out


def _wait_for_port(server: Server, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerError(
                f"{server.name} exited with {proc.returncode} during start-up\n" + server.log_tail()
            )
        try:
            with socket.create_connection((server.host, server.port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise ServerError(
        f"{server.name} did not listen on {server.host}:{server.port} within {timeout}s\n"
        + server.log_tail()
    )


def _require(*programs: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for program in programs:
        path = shutil.which(program, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
        if path is None:
            raise ServerUnavailable(
                f"{program} is not installed (run tests/harness/install-servers.sh as root)"
            )
        found[program] = path
    return found


# Federation on loopback (tests/harness/federation.py): server-to-server on <host>:5269 with
# dialback (XEP-0220) and no TLS; peers' names come from /etc/hosts lines the test adds.
# Prosody's resolver (libunbound) ignores /etc/hosts unless told; unbound's built-in `test.`
# zone answers the SRV query NXDOMAIN locally, so Prosody falls back to <domain>:5269.
_PROSODY_S2S_SETTINGS = """\
unbound = { hoststxt = "/etc/hosts"; resolvconf = false }
s2s_require_encryption = false
s2s_secure_auth = false
s2s_timeout = 10
"""


def start_prosody(
    workdir: Path, *, host: str = "127.0.0.1", domain: str = DOMAIN, s2s: bool = False
) -> Server:
    """Start Prosody in ``workdir`` (created if needed) with alice, bob and carol registered.

    ``host`` is the loopback address every listener binds, ``domain`` its VirtualHost (the
    MUC service is ``muc.<domain>``, the component ``rooms.<domain>`` unless the default
    ``localhost``); ``s2s=True`` adds a server-to-server listener on ``host:5269`` with
    dialback and no TLS (federation on loopback only).
    """
    progs = _require("prosody", "prosodyctl")
    began = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "data").mkdir(exist_ok=True)
    port = free_port(host)
    component_port = free_port(host)
    muc_domain, component_domain = _subdomains(domain)
    component_secret = secrets.token_hex(16)
    marker = f"prosody-{secrets.token_hex(8)}"
    config = workdir / "prosody.cfg.lua"
    config.write_text(
        _fill(
            (CONFIGS / "prosody.cfg.lua").read_text(),
            {
                "STATE_DIR": str(workdir),
                "RUN_AS_ROOT": "true" if os.geteuid() == 0 else "false",
                "HOST": host,
                "C2S_PORT": str(port),
                "S2S_PORTS": str(S2S_PORT) if s2s else "",
                "S2S_MODULES": '; "dialback"' if s2s else "",
                "MODULES_DISABLED": '"tls"' if s2s else '"s2s"; "tls"',
                "S2S_SETTINGS": _PROSODY_S2S_SETTINGS if s2s else "",
                "DOMAIN": domain,
                "MUC_DOMAIN": muc_domain,
                "COMPONENT_PORT": str(component_port),
                "COMPONENT_DOMAIN": component_domain,
                "COMPONENT_SECRET": component_secret,
            },
        )
    )
    env = _base_env(marker, workdir)
    console = workdir / "console.log"
    server = Server(
        name="prosody",
        port=port,
        workdir=workdir,
        logs=(workdir / "prosody.log", console),
        marker=marker,
        ports=(port, component_port),
        s2s=s2s,
        host=host,
        domain=domain,
        muc_domain=muc_domain,
        muc_room=f"sigroom@{muc_domain}",
        component_port=component_port,
        component_domain=component_domain,
        component_secret=component_secret,
        _env=env,
    )
    ctl = [progs["prosodyctl"], "--config", str(config)]
    for user, password in USERS.items():
        _run([*ctl, "register", user, domain, password], env, workdir, "prosodyctl register")
    with console.open("wb") as out:
        # `prosody --config` runs in the foreground (daemonize = false); stopped by PID.
        server._process = subprocess.Popen(
            [progs["prosody"], "--config", str(config)],
            env=env,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_for_port(server, server._process, START_TIMEOUT)
    except BaseException:
        server.stop()
        raise
    server.started_in = time.monotonic() - began
    return server


def _erlang_libs(ejabberdctl: str) -> str | None:
    """ERL_LIBS as Debian's ejabberdctl sets it (where the ejabberd OTP applications live)."""
    try:
        text = Path(ejabberdctl).read_text(errors="replace")
    except OSError:
        return None
    m = re.search(r"^\s*ERL_LIBS=['\"]?([^'\"\n]+)", text, re.MULTILINE)
    return m.group(1) if m else None


# ejabberd's SRV lookup uses Erlang's own DNS client, which never reads /etc/hosts; with an
# empty resolv.conf it fails at once and ejabberd falls back to getaddrinfo (which does).
_EJABBERD_S2S_LISTENER = """\
  -
    # federation on loopback: server-to-server, dialback (XEP-0220), no TLS
    port: {port}
    ip: "{host}"
    module: ejabberd_s2s_in
    max_stanza_size: 262144
    shaper: none
"""
_EJABBERD_S2S_OPTIONS = """\
s2s_use_starttls: false
s2s_access: all
s2s_dns_timeout: 3
s2s_dns_retries: 1
outgoing_s2s_families:
  - ipv4
"""


def _subdomains(domain: str) -> tuple[str, str]:
    """(MUC service, component) domains for ``domain``; the defaults for ``localhost``."""
    if domain == DOMAIN:
        return MUC_DOMAIN, COMPONENT_DOMAIN
    return f"muc.{domain}", f"rooms.{domain}"


def start_ejabberd(
    workdir: Path, *, host: str = "127.0.0.1", domain: str = DOMAIN, s2s: bool = False
) -> Server:
    """Start ejabberd in ``workdir`` (created if needed) with alice, bob and carol registered.

    ``host``, ``domain`` and ``s2s`` as for :func:`start_prosody`.
    """
    progs = _require("erl", "ejabberdctl")
    began = time.monotonic()
    spool = workdir / "spool"
    logdir = workdir / "logs"
    spool.mkdir(parents=True, exist_ok=True)
    logdir.mkdir(exist_ok=True)
    port = free_port(host)
    dist_port = free_port()
    component_port = free_port(host)
    muc_domain, component_domain = _subdomains(domain)
    component_secret = secrets.token_hex(16)
    marker = f"ejabberd-{secrets.token_hex(8)}"
    node = f"xmppsec{secrets.token_hex(4)}@localhost"
    cookie = secrets.token_hex(16)
    config = workdir / "ejabberd.yml"
    config.write_text(
        _fill(
            (CONFIGS / "ejabberd.yml").read_text(),
            {
                "HOST": host,
                "C2S_PORT": str(port),
                "S2S_LISTENER": _EJABBERD_S2S_LISTENER.format(port=S2S_PORT, host=host)
                if s2s
                else "",
                "S2S_OPTIONS": _EJABBERD_S2S_OPTIONS if s2s else "",
                "S2S_MODULES": "  mod_s2s_dialback: {}" if s2s else "",
                "DOMAIN": domain,
                "MUC_DOMAIN": muc_domain,
                "COMPONENT_PORT": str(component_port),
                "COMPONENT_DOMAIN": component_domain,
                "COMPONENT_SECRET": component_secret,
            },
        )
    )
    env = _base_env(marker, workdir)
    libs = _erlang_libs(progs["ejabberdctl"])
    if libs:
        env["ERL_LIBS"] = libs
    env.update(
        EJABBERD_CONFIG_PATH=str(config),
        EJABBERD_LOG_PATH=str(logdir / "ejabberd.log"),
        EJABBERD_PID_PATH=str(workdir / "ejabberd.pid"),
        ERL_CRASH_DUMP=str(logdir / "erl_crash.dump"),
        ERL_EPMD_ADDRESS="127.0.0.1",
    )
    if s2s:
        inetrc = workdir / "inetrc"
        inetrc.write_text('{resolv_conf, "/dev/null"}.\n')
        env["ERL_INETRC"] = str(inetrc)
    # epmd-less distribution on one fixed loopback port (OTP 23.1+); the node and the
    # ejabberd_ctl clients agree on it, so no epmd daemon is ever started.
    erl_common = [
        progs["erl"],
        "-setcookie",
        cookie,
        "-erl_epmd_port",
        str(dist_port),
        "-start_epmd",
        "false",
        "-env",
        "ERL_CRASH_DUMP_BYTES",
        "0",
    ]
    ctl = [
        *erl_common,
        "-sname",
        f"ctl{secrets.token_hex(4)}@localhost",
        "-dist_listen",
        "false",
        "-hidden",
        "-noinput",
        "-s",
        "ejabberd_ctl",
        "-extra",
        node,
    ]
    console = logdir / "console.log"
    server = Server(
        name="ejabberd",
        port=port,
        workdir=workdir,
        logs=(logdir / "ejabberd.log", console),
        marker=marker,
        ports=(port, dist_port, component_port),
        s2s=s2s,
        host=host,
        domain=domain,
        muc_domain=muc_domain,
        muc_room=f"sigroom@{muc_domain}",
        component_port=component_port,
        component_domain=component_domain,
        component_secret=component_secret,
        _stop_cmd=[*ctl, "stop"],
        _env=env,
    )
    with console.open("wb") as out:
        server._process = subprocess.Popen(
            [
                *erl_common,
                "-sname",
                node,
                "-kernel",
                "inet_dist_use_interface",
                "{127,0,0,1}",
                "-noinput",
                "-mnesia",
                "dir",
                f'"{spool}"',
                "-s",
                "ejabberd",
            ],
            env=env,
            cwd=spool,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_for_port(server, server._process, START_TIMEOUT)
        for user, password in USERS.items():
            _run([*ctl, "register", user, domain, password], env, spool, "ejabberd register")
    except BaseException:
        server.stop()
        raise
    server.started_in = time.monotonic() - began
    return server


@contextlib.contextmanager
def prosody_server(workdir: Path) -> Iterator[Server]:
    server = start_prosody(workdir)
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def ejabberd_server(workdir: Path) -> Iterator[Server]:
    server = start_ejabberd(workdir)
    try:
        yield server
    finally:
        server.stop()
