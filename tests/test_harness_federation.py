"""The federation harness's own guarantees (tests/harness/federation.py), without servers:
the /etc/hosts lines it adds are removed exactly, whatever happens; N is picked where
nothing listens on 5269."""

from __future__ import annotations

import random
import socket
import threading
from pathlib import Path

import pytest

from tests.harness.federation import TAG, HostsLines, pick_subnet
from tests.harness.servers import S2S_PORT, ServerUnavailable

ENTRIES = {"127.0.9.2": ["pros-x.test", "muc.pros-x.test"], "127.0.9.3": ["ejab-x.test"]}


@pytest.mark.parametrize(
    "original",
    [b"127.0.0.1 localhost\n::1 localhost\n", b"127.0.0.1 localhost", b""],
    ids=["newline", "no-final-newline", "empty"],
)
def test_hosts_lines_are_added_then_the_file_restored_byte_for_byte(
    tmp_path: Path, original: bytes
) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_bytes(original)
    with HostsLines(ENTRIES, hosts) as added:
        text = hosts.read_text()
        assert text.startswith(original.decode())
        assert "127.0.9.2\tpros-x.test muc.pros-x.test\t" in text
        assert text.count(f"{TAG} {added.run_id}") == 2
        assert added.present()
    assert hosts.read_bytes() == original
    assert not added.present()


def test_lines_removed_when_the_block_fails(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_bytes(b"127.0.0.1 localhost\n")
    with pytest.raises(RuntimeError), HostsLines(ENTRIES, hosts):
        raise RuntimeError("a test failed")
    assert hosts.read_bytes() == b"127.0.0.1 localhost\n"


def test_only_its_own_lines_are_removed(tmp_path: Path) -> None:
    """A concurrent run's tagged lines and anyone's later edits stay."""
    hosts = tmp_path / "hosts"
    hosts.write_bytes(b"127.0.0.1 localhost\n")
    with HostsLines(ENTRIES, hosts) as first:
        with HostsLines({"127.0.10.2": ["pros-y.test"]}, hosts) as second:
            with hosts.open("a") as f:
                f.write("127.0.0.5 someone-else\n")
        assert not second.present() and first.present()
    assert hosts.read_bytes() == b"127.0.0.1 localhost\n127.0.0.5 someone-else\n"


def test_an_unwritable_hosts_file_makes_federation_unavailable(tmp_path: Path) -> None:
    # the fixture turns ServerUnavailable into a skip, or a failure under CI=true
    with pytest.raises(ServerUnavailable), HostsLines(ENTRIES, tmp_path / "missing" / "hosts"):
        pass


def test_pick_subnet_skips_addresses_where_5269_is_taken() -> None:
    seed = 1234
    first = random.Random(seed).randint(16, 254)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        try:
            taken.bind((f"127.0.{first}.3", S2S_PORT))
        except OSError:
            pytest.skip("127.0.N.3:5269 already in use by something else")
        taken.listen()
        assert pick_subnet(random.Random(seed)) != first


def test_concurrent_runs_lose_no_line(tmp_path: Path) -> None:
    """Runs adding and removing their lines at the same time (the flock serializes them)."""
    hosts = tmp_path / "hosts"
    hosts.write_bytes(b"127.0.0.1 localhost\n")
    errors: list[Exception] = []

    def run(k: int) -> None:
        try:
            for _ in range(20):
                with HostsLines({f"127.0.{k}.2": [f"pros-{k}.test"]}, hosts) as mine:
                    assert mine.present()
        except (AssertionError, OSError) as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(20, 28)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert hosts.read_bytes() == b"127.0.0.1 localhost\n"
