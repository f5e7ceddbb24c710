"""A real Redis Cluster on loopback: three masters, three replicas, started and stopped by
the tests (Debian's ``redis-server`` and ``redis-cli``).

Each node runs in cluster mode on a free 127.0.0.1 port (its cluster bus on port + 10000)
with its own directory, no persistence, and a short ``cluster-node-timeout`` so failures
are noticed quickly. ``redis-cli --cluster create ... --cluster-replicas 1 --cluster-yes``
joins them; :meth:`RedisClusterHarness.start` returns once every node reports
``cluster_state:ok`` and every master has a replica in sync. Fault injection: SIGKILL a
node and restart it on the same port and ``nodes.conf`` (it rejoins, as a replica once its
slots were taken over), SIGSTOP/SIGCONT, ``CLUSTER FAILOVER FORCE``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

__all__ = ["ClusterError", "Node", "RedisClusterHarness", "free_cluster_port"]

NODE_TIMEOUT_MS = 1000


class ClusterError(RuntimeError):
    """The cluster did not start or did not reach the expected state in time."""


def free_cluster_port() -> int:
    """A free loopback port p whose cluster bus port p + 10000 is free too."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port + 10000 > 65535:
            continue
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        return port
    raise ClusterError("no free port pair")


@dataclass
class Node:
    port: int
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None

    def client(self, timeout: float = 2.0) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1", port=self.port, socket_timeout=timeout, socket_connect_timeout=timeout
        )

    def info(self, section: str) -> dict[str, Any]:
        """``INFO section`` as redis-py parses it (numbers as int, ``slave0`` as a dict)."""
        with self.client() as c:
            return dict(c.info(section))


@dataclass
class RedisClusterHarness:
    """Six redis-server processes in cluster mode; use as a context manager."""

    server: str
    cli: str
    root: Path
    nodes: list[Node] = field(default_factory=list)

    # -- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> RedisClusterHarness:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 30.0) -> None:
        for i in range(6):
            workdir = self.root / f"node{i}"
            workdir.mkdir(parents=True, exist_ok=True)
            self.nodes.append(Node(free_cluster_port(), workdir))
        for node in self.nodes:
            self._spawn(node)
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            self._wait_ping(node, deadline)
        create = subprocess.run(
            [
                self.cli,
                "--cluster",
                "create",
                *(f"127.0.0.1:{n.port}" for n in self.nodes),
                "--cluster-replicas",
                "1",
                "--cluster-yes",
            ],
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        if create.returncode != 0:
            raise ClusterError(f"redis-cli --cluster create failed: {create.stdout!r}")
        self.wait_healthy(deadline - time.monotonic())

    def stop(self) -> None:
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                try:
                    node.proc.send_signal(signal.SIGCONT)
                except ProcessLookupError:
                    pass
                node.proc.terminate()
        for node in self.nodes:
            if node.proc is not None:
                try:
                    node.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    node.proc.kill()
                    node.proc.wait()
                node.proc = None

    def _spawn(self, node: Node) -> None:
        node.proc = subprocess.Popen(
            [
                self.server,
                "--bind",
                "127.0.0.1",
                "--port",
                str(node.port),
                "--dir",
                str(node.workdir),
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                str(NODE_TIMEOUT_MS),
                # a replica that lost its master may always be promoted (the tests decide)
                "--cluster-replica-validity-factor",
                "0",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
                "--logfile",
                str(node.workdir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def _wait_ping(self, node: Node, deadline: float) -> None:
        while True:
            try:
                with node.client(0.5) as c:
                    c.ping()
                return
            except redis.RedisError:
                if node.proc is None or node.proc.poll() is not None:
                    raise ClusterError(f"redis-server on {node.port} exited") from None
                if time.monotonic() > deadline:
                    raise ClusterError(f"redis-server on {node.port} did not start") from None
                time.sleep(0.05)

    # -- state ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port}"

    def live(self) -> list[Node]:
        return [n for n in self.nodes if n.proc is not None and n.proc.poll() is None]

    def role(self, node: Node) -> str:
        return str(node.info("replication").get("role", ""))

    def master_of_slot(self, slot: int) -> Node:
        """The live node that serves ``slot`` as a master (asked of the live nodes)."""
        for node in self.live():
            try:
                with node.client(1.0) as c:
                    for start, end, master, *_ in c.execute_command("CLUSTER SLOTS"):
                        if int(start) <= slot <= int(end):
                            port = int(master[1])
                            found = next(n for n in self.nodes if n.port == port)
                            if found in self.live() and self.role(found) == "master":
                                return found
            except redis.RedisError:
                continue
        raise ClusterError(f"no live master serves slot {slot}")

    def replica_of(self, master: Node) -> Node:
        with master.client() as c:
            my_id = c.execute_command("CLUSTER MYID")
        my_id = my_id.decode() if isinstance(my_id, bytes) else str(my_id)
        for node in self.live():
            if node is master:
                continue
            info = node.info("replication")
            if info.get("role") == "slave" and int(info.get("master_port", 0)) == master.port:
                return node
        raise ClusterError(f"no live replica of {master.port} ({my_id})")

    def wait_healthy(self, timeout: float = 30.0) -> None:
        """Every node up says cluster_state:ok, and every master has a replica in sync."""
        deadline = time.monotonic() + timeout
        problem = ""
        while time.monotonic() < deadline:
            try:
                problem = self._problem()
            except redis.RedisError as exc:
                problem = str(exc)
            if not problem:
                return
            time.sleep(0.1)
        raise ClusterError(f"the cluster did not become healthy: {problem}")

    def _problem(self) -> str:
        live = self.live()
        for node in live:
            with node.client(1.0) as c:
                info = c.execute_command("CLUSTER INFO")  # parsed into a dict
            if info.get("cluster_state") != "ok":
                return f"{node.port}: cluster_state not ok"
        masters = [n for n in live if self.role(n) == "master"]
        if len(masters) != 3:
            return f"{len(masters)} masters"
        for m in masters:
            info = m.info("replication")
            if int(info.get("connected_slaves", 0)) < 1:
                return f"{m.port}: no replica"
            if (info.get("slave0") or {}).get("state") != "online":
                return f"{m.port}: replica not online ({info.get('slave0')})"
        return ""

    # -- faults ---------------------------------------------------------------------------

    def kill(self, node: Node) -> None:
        assert node.proc is not None
        node.proc.send_signal(signal.SIGKILL)
        node.proc.wait()
        node.proc = None

    def restart(self, node: Node, timeout: float = 10.0) -> None:
        """Start a killed node again on its port and nodes.conf (it rejoins the cluster)."""
        assert node.proc is None
        self._spawn(node)
        self._wait_ping(node, time.monotonic() + timeout)

    def cut_replication(self, master: Node) -> None:
        """Close the master's links to its replicas (``CLIENT KILL TYPE replica``)."""
        with master.client() as c:
            c.execute_command("CLIENT KILL TYPE replica")

    def pause(self, node: Node) -> None:
        assert node.proc is not None
        os.kill(node.proc.pid, signal.SIGSTOP)

    def resume(self, node: Node) -> None:
        assert node.proc is not None
        os.kill(node.proc.pid, signal.SIGCONT)

    def failover_force(self, replica: Node, timeout: float = 10.0) -> None:
        """Promote ``replica`` (CLUSTER FAILOVER FORCE: no agreement with its master
        needed, the other masters' votes are) and wait until it is a master."""
        deadline = time.monotonic() + timeout
        try:
            with replica.client() as c:
                c.execute_command("CLUSTER FAILOVER FORCE")
        except redis.ResponseError:
            if self.role(replica) != "master":  # else: promoted on its own already
                raise
        while self.role(replica) != "master":
            if time.monotonic() > deadline:
                raise ClusterError(f"{replica.port} was not promoted")
            time.sleep(0.05)
