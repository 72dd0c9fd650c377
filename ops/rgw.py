"""A throw-away Ceph RADOS Gateway: a real S3 implementation beside moto, for the tests and
`dailies up --store rgw`.

One monitor, one OSD, no cephx, pools of size 1, the beast frontend on 127.0.0.1 or the
address given (an s3 host of a fleet, `dailies rgw --host`); everything under one directory,
every daemon in the foreground under `spawn` so it is ended by its PID. Debian's packages
(bookworm: 16.2.15) run it.

Only the gateway listens on that address. The monitor and the OSD stay on loopback whatever
it is: the cluster runs without cephx, so anyone who reached them could administer it; the
gateway is the one part other hosts need, and it checks every request's signature.

The OSD is memstore (objects in RAM, like moto: the tests' small objects, a quick start) or
bluestore on a sparse file under the run directory (`dailies up --store rgw`: masters of any
size, bounded by the disk rather than by RAM).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ops.errors import StackError
from ops.processes import Service, free_port, spawn, wait_http

PACKAGES = ("radosgw", "ceph-mon", "ceph-osd", "ceph-common")
# The binary each package brings that we run (monmaptool comes with ceph-mon's ceph-base).
BINARIES = {
    "radosgw": "radosgw",
    "ceph-mon": "ceph-mon",
    "monmaptool": "ceph-mon",
    "ceph-osd": "ceph-osd",
    "ceph": "ceph-common",
    "radosgw-admin": "ceph-common",
}
INSTALL_HINT = f"apt-get install -y {' '.join(PACKAGES)}"
GiB = 1024**3
USER = "dailies"
LOOPBACK = "127.0.0.1"


def missing_packages() -> list[str]:
    return sorted({pkg for binary, pkg in BINARIES.items() if not shutil.which(binary)})


def require_packages() -> None:
    missing = missing_packages()
    if missing:
        raise StackError(
            f"Ceph RGW needs {', '.join(missing)}; install with\n"
            f"    {INSTALL_HINT}    (Debian/Ubuntu; or `make system`)"
        )


OBJECTSTORES = ("memstore", "bluestore")
# `dailies up --store rgw` keeps objects on disk (bluestore on a sparse file in the stack's
# home): camera masters outgrow RAM. Up to this size, or most of the free disk, whichever is
# smaller (bluestore aborts on a disk that fills under it, so its file must not promise more).
BLUESTORE_MAX_BYTES = 256 * GiB
BLUESTORE_DISK_SHARE = 0.8
MEMSTORE_BYTES = 4 * GiB  # the tests' objects are small


def bluestore_bytes(free_bytes: int) -> int:
    """The sparse block file's size for a disk with `free_bytes` free."""
    return min(BLUESTORE_MAX_BYTES, int(free_bytes * BLUESTORE_DISK_SHARE))


def render_config(
    run_dir: Path,
    fsid: str,
    mon_port: int,
    rgw_port: int,
    store_bytes: int,
    objectstore: str = "memstore",
    address: str = LOOPBACK,
) -> str:
    """ceph.conf for a one-node, no-auth cluster serving S3 on address:rgw_port, its OSD in
    RAM (memstore) or on a sparse file of store_bytes (bluestore)."""
    if objectstore not in OBJECTSTORES:
        raise ValueError(f"objectstore must be one of {', '.join(OBJECTSTORES)}")
    d = run_dir.resolve()
    return f"""[global]
fsid = {fsid}
mon host = v2:{LOOPBACK}:{mon_port}
mon initial members = a
# The OSD binds where this says (else every address of the host): loopback, as the monitor.
public addr = {LOOPBACK}
cluster addr = {LOOPBACK}
auth cluster required = none
auth service required = none
auth client required = none
# Daemons default to "secure" mode towards the monitor, which needs cephx: plain crc here.
ms mon client mode = crc
ms client mode = crc
osd pool default size = 1
osd pool default min size = 1
# RGW makes a dozen pools; few placement groups each keep one OSD under its PG limit.
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon allow pool delete = true
run dir = {d}/run
admin socket = {d}/run/$name.asok
log file = {d}/log/$name.log
osd objectstore = {objectstore}
{_objectstore_options(d, objectstore, store_bytes)}
# A small temp disk must not stop a throw-away cluster.
mon data avail crit = 0

[mon.a]
mon data = {d}/mon/mon.a

[osd.0]
# --mkfs aborts in MemStore::set_fsid unless this is where the config says.
osd data = {d}/osd/osd.0

[client.rgw]
rgw frontends = beast endpoint={address}:{rgw_port}
rgw data = {d}/rgw
rgw enable usage log = false
"""


def _objectstore_options(d: Path, objectstore: str, store_bytes: int) -> str:
    if objectstore == "memstore":
        return f"memstore device bytes = {store_bytes}\nosd max object size = {5 * GiB}\n"
    return f"""bluestore block path = {d}/osd/osd.0.block
bluestore block create = true
# Sparse: the file takes the disk space its objects take, up to this size.
bluestore block size = {store_bytes}
bluestore fsck on mkfs = false
bluestore fsck on mount = false
# One OSD on a shared machine: the default (4 GiB of cache target) is for a storage host.
osd memory target = {1 * GiB}
"""


@dataclass
class RGW:
    """A running gateway and the daemons under it; `stop` ends them, gateway first."""

    url: str
    access_key: str
    secret_key: str
    run_dir: Path
    services: list[Service] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        """What boto3 (and so dailies) needs to use this gateway."""
        return {
            "AWS_ENDPOINT_URL_S3": self.url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
        }

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()
        self.services.clear()


def _ceph(conf: Path, *args: str, timeout_s: float = 30) -> str:
    done = subprocess.run(
        ["ceph", "-c", str(conf), "--connect-timeout", str(int(timeout_s)), *args],
        capture_output=True, text=True, timeout=timeout_s + 5,
    )  # fmt: skip
    if done.returncode != 0:
        raise StackError(f"ceph {' '.join(args)} failed: {done.stderr.strip()[-500:]}")
    return done.stdout


def _run(args: list[str], what: str, timeout_s: float = 60) -> None:
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0:
        raise StackError(f"{what} failed: {(done.stderr or done.stdout).strip()[-500:]}")


def start_rgw(
    run_dir: Path,
    port: int = 0,
    store_bytes: int = MEMSTORE_BYTES,
    timeout_s: float = 90,
    gateway_name: str = "rgw",
    access_key: str | None = None,
    secret_key: str | None = None,
    objectstore: str = "memstore",
    address: str = LOOPBACK,
) -> RGW:
    """Start monitor, OSD and gateway under run_dir (made fresh) and create the S3 user.
    Returns once the gateway answers S3 requests on address:port with the user's keys.
    `gateway_name` names the gateway's Service (`dailies up` calls it "s3", as it does moto)."""
    require_packages()
    shutil.rmtree(run_dir, ignore_errors=True)
    for sub in ("mon/mon.a", "osd/osd.0", "run", "log", "rgw"):
        (run_dir / sub).mkdir(parents=True)
    fsid, mon_port, rgw_port = str(uuid.uuid4()), free_port(), port or free_port(address)
    conf = run_dir / "ceph.conf"
    conf.write_text(
        render_config(run_dir, fsid, mon_port, rgw_port, store_bytes, objectstore, address)
    )
    logs = run_dir / "log"
    gateway = RGW(
        url=f"http://{address}:{rgw_port}",
        access_key=access_key or f"dailies-{secrets.token_hex(4)}",
        secret_key=secret_key or secrets.token_urlsafe(30),
        run_dir=run_dir,
    )
    c = ["-c", str(conf)]
    env = {"PATH": os.environ.get("PATH", os.defpath)}
    try:
        monmap = str(run_dir / "monmap")
        _run(["monmaptool", "--create", "--addv", "a", f"[v2:{LOOPBACK}:{mon_port}]",
              "--fsid", fsid, monmap], "monmaptool")  # fmt: skip
        _run(["ceph-mon", *c, "--mkfs", "-i", "a", "--monmap", monmap], "ceph-mon --mkfs")
        gateway.services.append(
            spawn("rgw-mon", ["ceph-mon", *c, "-i", "a", "-f"], "", logs / "mon.out", env)
        )
        # Blocks until the monitor answers: the first observable sign that it is up.
        osd_id = _ceph(conf, "osd", "create", timeout_s=timeout_s).strip()
        _run(["ceph-osd", *c, "-i", osd_id, "--mkfs"], "ceph-osd --mkfs")
        gateway.services.append(
            spawn("rgw-osd", ["ceph-osd", *c, "-i", osd_id, "-f"], "", logs / "osd.out", env)
        )
        args = ["radosgw", *c, "-n", "client.rgw", "-f"]
        rgw = spawn(gateway_name, args, gateway.url, logs / "radosgw.out", env)
        gateway.services.append(rgw)
        # It answers once its pools exist, which needs the OSD up: one wait covers both.
        _wait_alive(gateway, timeout_s)
        _run(["radosgw-admin", *c, "user", "create", "--uid", USER, "--display-name", USER,
              "--access-key", gateway.access_key, "--secret", gateway.secret_key],
             "radosgw-admin user create")  # fmt: skip
    except BaseException:
        gateway.stop()
        raise
    return gateway


def _wait_alive(gateway: RGW, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    for service in gateway.services:
        if service.proc.poll() is not None:
            raise StackError(f"{service.name} exited with {service.proc.returncode}; "
                             f"see {gateway.run_dir / 'log'}")  # fmt: skip
    try:
        wait_http(gateway.url, max(deadline - time.monotonic(), 1), gateway.services[-1].proc)
    except (TimeoutError, RuntimeError) as exc:
        raise StackError(
            f"the RGW gateway did not start: {exc}; see {gateway.run_dir}/log"
        ) from exc
