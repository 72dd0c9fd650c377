"""Hosts for the fleet tests, made on this machine: each host is a network namespace on a
bridge the test creates (its own address, reachable only over that bridge), with its own PID,
mount and UTS namespaces (its own process tree, /tmp and hostname), so nothing one machine
shares (files in /tmp, PIDs, a hostname, loopback) can hide a bug. The test process itself
stays outside, like a client on the network: it reaches every host by its address.

Killing a host SIGKILLs the first process of its PID namespace, and the kernel then kills
every other process in it, as a host losing power would. Cutting a host sets its link down;
blocking an address cuts it from that one host only.
Everything made here is removed when the fleet closes, also after a failure.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from ops import PROJECT_DIR
from ops.processes import Service, spawn

# The host's first process: it reaps what is re-parented to it (a host's init does), so a
# killed service's children do not linger as zombies the test would count as alive.
REAPER = (
    "import os, time\n"
    "while True:\n"
    "    try:\n"
    "        os.wait()\n"
    "    except ChildProcessError:\n"
    "        time.sleep(0.5)\n"
)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@dataclass
class Host:
    name: str
    address: str
    netns: str
    link: str  # the bridge side of its veth: down = cut off
    root: Path  # its own folder for logs, data and scratch (on the shared disk, for reading)
    init: subprocess.Popen[bytes] | None = None
    services: list[Service] = field(default_factory=list)

    @property
    def init_pid(self) -> int:
        """The PID (as seen from outside) of the host's first process."""
        assert self.init is not None
        children = Path(f"/proc/{self.init.pid}/task/{self.init.pid}/children").read_text()
        return int(children.split()[0])

    def boot(self) -> None:
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        # unshare forks the init into new PID, mount and UTS namespaces; the private /tmp
        # is a tmpfs of its own, the hostname the host's name.
        self.init = subprocess.Popen(
            ["ip", "netns", "exec", self.netns, "unshare", "--pid", "--fork", "--mount-proc",
             "--uts", "--kill-child", "sh", "-c",
             f"mount -t tmpfs tmpfs /tmp && hostname {self.name} && "
             f'exec python3 -c "$0"', REAPER],
            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while True:
            try:
                pid = self.init_pid
                if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"python3"):
                    return
            except (FileNotFoundError, IndexError):
                pass
            assert time.monotonic() < deadline, f"host {self.name} did not start"
            time.sleep(0.05)

    def enter(self, cwd: Path = PROJECT_DIR) -> list[str]:
        """The command prefix that runs a program on this host, in `cwd` (entering a mount
        namespace starts at its root otherwise)."""
        return ["nsenter", "-t", str(self.init_pid), "-n", "-p", "-m", "-u", f"--wd={cwd}", "--"]

    def start(self, name: str, args: list[str], env: dict[str, str], url: str = "") -> Service:
        """A long-running program on this host, output to its own log under the host."""
        env = {**env, "TMPDIR": "/tmp", "HOSTNAME": self.name}
        service = spawn(
            name, [*self.enter(), *args], url, self.root / "logs" / f"{name}.log", env,
            cwd=PROJECT_DIR,
        )  # fmt: skip
        self.services.append(service)
        return service

    def kill(self) -> None:
        """Power off: every process on the host dies at once, nothing is told."""
        if self.init is not None and self.init.poll() is None:
            os.kill(self.init_pid, signal.SIGKILL)
            self.init.wait(10)
        for service in self.services:
            service.proc.wait(10)  # the nsenter parents end with their children

    def cut(self) -> None:
        _ip("link", "set", self.link, "down")

    def block(self, address: str) -> None:
        """This host can no longer send to `address` (a blackhole route in its own table:
        connecting fails, what was in flight is lost); every other host and link stay up."""
        _ip("-n", self.netns, "route", "add", "blackhole", f"{address}/32")

    def unblock(self, address: str) -> None:
        _ip("-n", self.netns, "route", "del", "blackhole", f"{address}/32")

    def heal(self) -> None:
        _ip("link", "set", self.link, "up")


class Network:
    """A bridge and the hosts on it; `close` removes everything it made."""

    def __init__(self, root: Path) -> None:
        self.id = secrets.token_hex(2)
        self.bridge = f"dly{self.id}"
        # 10.231.x.0/24: one subnet per fleet, from its id (not routed anywhere else).
        self.prefix = f"10.231.{int(self.id, 16) % 250 + 1}"
        self.root = root
        self.hosts: dict[str, Host] = {}
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{self.prefix}.1/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")

    @property
    def gateway(self) -> str:
        """The test process's own address on the bridge."""
        return f"{self.prefix}.1"

    def add(self, name: str) -> Host:
        index = len(self.hosts) + 10
        netns = f"{self.bridge}-{name}"
        link, peer = f"{self.bridge}h{index}", f"{self.bridge}n{index}"
        _ip("netns", "add", netns)
        _ip("link", "add", link, "type", "veth", "peer", "name", peer)
        _ip("link", "set", peer, "netns", netns)
        _ip("-n", netns, "link", "set", peer, "name", "eth0")
        _ip("-n", netns, "addr", "add", f"{self.prefix}.{index}/24", "dev", "eth0")
        _ip("-n", netns, "link", "set", "eth0", "up")
        _ip("-n", netns, "link", "set", "lo", "up")
        _ip("link", "set", link, "master", self.bridge)
        _ip("link", "set", link, "up")
        host = Host(name, f"{self.prefix}.{index}", netns, link, self.root / name)
        self.hosts[name] = host
        host.boot()
        return host

    def close(self) -> None:
        for host in self.hosts.values():
            for service in reversed(host.services):
                service.stop(5)
            host.kill()
            subprocess.run(["ip", "link", "del", host.link], capture_output=True)
            subprocess.run(["ip", "netns", "del", host.netns], capture_output=True)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
