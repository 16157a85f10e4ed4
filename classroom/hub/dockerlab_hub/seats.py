"""Seats: a learner's sandbox on the host, with a Docker engine of its own and no privileged container.

A seat is what a learner gets (classroom/README.md, "What is isolated"):

- a Unix user of its own (``dl-<ns>-NN``, no login) with 65,536 subordinate uids and gids (``useradd``: the
  ranges in /etc/subuid and /etc/subgid); everything of the seat runs as that user or its subordinate ids;
- a disk of its own: an ext4 file system in ``<data>/seats/<slot>/disk.img`` (sparse, ``disk_size``),
  loop-mounted at ``<data>/seats/<slot>/mnt``, holding the learner's home, the engine's data and /tmp: filling
  it stops this seat only;
- cgroups of its own (``dockerlab-<ns>/<slot>`` in every cgroup hierarchy): a memory limit, a CPU quota and a
  pids limit for everything in the seat, and an ``engine`` child delegated to the seat's user, so the seat's
  engine enforces ``--memory``/``--cpus``/``--pids-limit`` for the learner's containers inside those limits;
- a network of its own: a bridge network of the host's engine with a /28 from the classroom's pool (Docker's
  NAT to the internet, Docker's isolation from every other bridge) and no container on it, only a veth into
  the seat's network namespace;
- its processes (seat_root.py, then seat_init.py): a PID namespace, a mount namespace whose root is built from
  read-only pieces of the host plus the seat's disk (the host's tree is detached), and a user namespace where
  uid 0 is the seat's user: the seat's Docker engine (dockerd and its containerd, as root *of that namespace*),
  and, once a learner is given the seat, their Jupyter server as uid 1000 of it.

A warm seat is one whose engine runs and has the course images, before any learner signs in (the pool).
Everything here runs as root, in the hub's process (or ``classroom.py`` for ``down``/``status``).
"""
from __future__ import annotations

import fcntl
import hashlib
import ipaddress
import json
import os
import pwd
import shutil
import signal
import socket
import stat
import struct
import subprocess
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

SEAT_CODE = Path(__file__).resolve().parents[2] / "seat"  # classroom/seat: seat_root.py, seat_init.py
LEARNER_UID = 1000  # the learner inside the seat's user namespace (the course container's uid)
SERVER_PORT = 8888
CGROUP_ROOT = Path("/sys/fs/cgroup")
PIDS_RESERVE = 256           # tasks of the seat kept for its engine's daemons and the learner's server
MEM_RESERVE = 512 * 2**20    # memory of the seat kept for them (when the seat has more than twice that)
LABEL_SEAT = "org.dockerlab.classroom.seat"


class SeatError(RuntimeError):
    """A seat could not be made, started or stopped; the message says what and where its log is."""


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    for attempt in range(20):
        p = subprocess.run(cmd, capture_output=True, text=True, **kw)
        # useradd/userdel of two classrooms at once: /etc/passwd is locked for a moment (exit 10 or 'lock')
        if p.returncode != 0 and cmd[0] in ("useradd", "userdel") and (p.returncode == 10 or "lock" in p.stderr):
            time.sleep(0.2 + 0.1 * attempt)
            continue
        break
    if p.returncode != 0:
        raise SeatError(f"{' '.join(cmd)}: {(p.stderr or p.stdout).strip()[-400:]}")
    return p


def short_hash(*parts: str, n: int = 8) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:n]


def parse_size(text: str | int) -> int:
    if isinstance(text, int):
        return text
    t = str(text).strip().upper().removesuffix("B").removesuffix("I")
    mult = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    return int(float(t[:-1]) * mult[t[-1]]) if t and t[-1] in mult else int(t)


# ------------------------------------------------------------------------------------------------ settings
@dataclass
class Settings:
    ns: str
    data: Path
    venv: str                      # the learners' Python environment (relocatable), read-only at /opt/venv
    course_source: str             # the course folder the learners' copies come from
    course_paths: list[str] = field(default_factory=lambda: ["README.md", "pyproject.toml", "notebooks",
                                                             "exercises", "sample_apps", "src"])
    images_first: list[str] = field(default_factory=list)
    images_later: list[str] = field(default_factory=list)
    disk_size: str = "20G"
    mem: str = "3G"                # everything in a seat: server, kernels, engine, the learner's containers
    cpus: float = 2.0
    pids: int = 4096
    subnet_pool: str = "10.213.0.0/16"
    subnet_prefix: int = 28
    hub_api: tuple[str, int] = ("", 8081)
    containerd_store: bool = False
    engine_timeout: float = 120

    def to_json(self) -> dict:
        d = asdict(self)
        d["data"] = str(self.data)
        return d


# ------------------------------------------------------------------------------------------------ cgroups
def cgroup_mounts() -> list[tuple[Path, list[str]]]:
    """The cgroup hierarchies of this machine: [(mount point, controllers)], v1 ones; [(root, ["unified"])] on a
    cgroup v2-only machine."""
    out, seen = [], set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, post = line.split(" - ", 1)
            fstype, _src, opts = post.split()[:3]
            mnt = pre.split()[4]
            if fstype == "cgroup":
                real = os.path.realpath(mnt)
                if real not in seen:
                    seen.add(real)
                    out.append((Path(real), [o for o in opts.split(",") if o not in ("rw", "ro")]))
    if not out and (CGROUP_ROOT / "cgroup.controllers").exists():
        return [(CGROUP_ROOT, ["unified"])]
    return out


def _write(path: Path, value: str) -> bool:
    try:
        path.write_text(value)
        return True
    except OSError:
        return False


class Cgroups:
    """The seat's cgroups: ``dockerlab-<ns>/<slot>`` with the limits, ``…/engine`` delegated to the seat's user."""

    def __init__(self, ns: str, slot: str):
        self.rel = f"dockerlab-{ns}/{slot}"
        self.mounts = cgroup_mounts()
        self.v2 = bool(self.mounts) and self.mounts[0][1] == ["unified"]

    @property
    def engine_parent(self) -> str:
        return f"/{self.rel}/engine"

    def dirs(self) -> list[Path]:
        return [m / self.rel for m, _ in self.mounts]

    def create(self, uid: int, gid: int, mem: int, cpus: float, pids: int) -> None:
        for mount, ctls in self.mounts:
            base = mount / self.rel
            for d in (base.parent, base):
                d.mkdir(exist_ok=True)
                if "cpuset" in ctls:
                    for f in ("cpuset.cpus", "cpuset.mems"):
                        if not (d / f).read_text().strip():
                            (d / f).write_text((d.parent / f).read_text())
            if self.v2:
                for d in (mount, base.parent, base):
                    _write(d / "cgroup.subtree_control", "+memory +cpu +pids")
            if "memory" in ctls or self.v2:
                if self.v2:
                    _write(base / "memory.max", str(mem))
                    _write(base / "memory.swap.max", "0")
                else:
                    _write(base / "memory.limit_in_bytes", str(mem))
                    _write(base / "memory.memsw.limit_in_bytes", str(mem))  # no swap beyond it (when accounted)
            if "cpu" in ctls or self.v2:
                quota = int(cpus * 100_000) if cpus else -1
                if self.v2:
                    _write(base / "cpu.max", f"{quota if quota > 0 else 'max'} 100000")
                else:
                    _write(base / "cpu.cfs_period_us", "100000")
                    _write(base / "cpu.cfs_quota_us", str(quota))
                    _write(base / "cpu.shares", "1024")
            if "pids" in ctls or self.v2:
                _write(base / "pids.max", str(pids))
            engine = base / "engine"
            engine.mkdir(exist_ok=True)
            if "cpuset" in ctls:
                for f in ("cpuset.cpus", "cpuset.mems"):
                    if not (engine / f).read_text().strip():
                        (engine / f).write_text((base / f).read_text())
            # the learner's containers (and builds) all together get a little less than the seat: a fork bomb or
            # a memory hog in a container stops there, and the seat's engine and server keep room to answer
            kept = set()
            if "pids" in ctls or self.v2:
                kept |= {"pids.max"} if _write(engine / "pids.max", str(max(64, pids - PIDS_RESERVE))) else set()
            if ("memory" in ctls or self.v2) and mem > 2 * MEM_RESERVE:
                if self.v2:
                    kept |= {"memory.max"} if _write(engine / "memory.max", str(mem - MEM_RESERVE)) else set()
                else:
                    kept |= {"memory.limit_in_bytes"} if _write(engine / "memory.limit_in_bytes",
                                                                 str(mem - MEM_RESERVE)) else set()
            # the engine's subtree belongs to the seat's user: its dockerd makes a cgroup per container in it and
            # sets the container's limits there, under the seat's (which stay root's)
            if self.v2:
                seat = base / "seat"
                seat.mkdir(exist_ok=True)
                for d in (base, seat, engine):  # systemd's Delegate= model: the limits of base stay root's
                    for f in ("", "cgroup.procs", "cgroup.subtree_control", "cgroup.threads"):
                        os.chown(d / f if f else d, uid, gid)
            else:
                os.chown(engine, uid, gid)
                for f in engine.iterdir():
                    if f.name not in kept and not f.name.startswith(("memory.memsw.", "memory.kmem.")):
                        os.chown(f, uid, gid)  # (the engine's own limits stay root's)

    def procs_files(self) -> list[str]:
        """Where the seat's first process writes its PID (``echo $$ > …``) so everything in the seat is in them."""
        if self.v2:
            return [str(self.mounts[0][0] / self.rel / "seat" / "cgroup.procs")]
        return [str(d / "cgroup.procs") for d in self.dirs()]

    def pids(self) -> set[int]:
        out: set[int] = set()
        for d in self.dirs():
            if d.is_dir():
                for procs in d.rglob("cgroup.procs"):
                    try:
                        out.update(int(x) for x in procs.read_text().split())
                    except OSError:
                        pass
        return out

    def memory(self) -> dict:
        """MiB the seat uses now: everything minus the page cache the kernel may drop (inactive files)."""
        for mount, ctls in self.mounts:
            base = mount / self.rel
            try:
                if self.v2:
                    usage = int((base / "memory.current").read_text())
                    st = dict(l.split() for l in (base / "memory.stat").read_text().splitlines())
                    return {"used": (usage - int(st.get("inactive_file", 0))) / 2**20,
                            "limit": (base / "memory.max").read_text().strip()}
                if "memory" in ctls:
                    usage = int((base / "memory.usage_in_bytes").read_text())
                    st = dict(l.split() for l in (base / "memory.stat").read_text().splitlines())
                    return {"used": (usage - int(st.get("total_inactive_file", 0))) / 2**20,
                            "limit": int((base / "memory.limit_in_bytes").read_text()), "peak":
                            int((base / "memory.max_usage_in_bytes").read_text()) / 2**20}
            except (OSError, ValueError):
                return {"used": 0.0}
        return {"used": 0.0}

    def reclaim(self) -> None:
        """Give back the page cache the seat filled (a seat just warmed wrote gigabytes of images): what the
        kernel would drop anyway under pressure, dropped now so a warm seat's memory is what its processes use."""
        for mount, ctls in self.mounts:
            base = mount / self.rel
            if self.v2:
                _write(base / "memory.reclaim", str(4 * 2**30))
            elif "memory" in ctls:
                _write(base / "memory.force_empty", "0")

    def cpu_seconds(self) -> float:
        for mount, ctls in self.mounts:
            base = mount / self.rel
            try:
                if self.v2:
                    st = dict(l.split() for l in (base / "cpu.stat").read_text().splitlines())
                    return int(st["usage_usec"]) / 1e6
                if "cpuacct" in ctls:
                    return int((base / "cpuacct.usage").read_text()) / 1e9
            except (OSError, ValueError, KeyError):
                return 0.0
        return 0.0

    def kill(self) -> None:
        for _ in range(20):
            left = self.pids()
            if not left:
                return
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.1)

    def clean_engine(self) -> None:
        """Remove the per-container cgroups the seat's engine left (empty after a stop)."""
        for d in self.dirs():
            eng = d / "engine"
            if eng.is_dir():
                for sub in sorted((p for p in eng.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                    try:
                        sub.rmdir()
                    except OSError:
                        pass

    def remove(self) -> None:
        self.kill()
        for d in self.dirs():
            if d.is_dir():
                for sub in sorted((p for p in d.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)) + [d]:
                    try:
                        sub.rmdir()
                    except OSError:
                        pass
            try:
                d.parent.rmdir()  # dockerlab-<ns>, when it was the last seat
            except OSError:
                pass


# ------------------------------------------------------------------------------------------------ a seat
@dataclass
class Seat:
    slot: str
    user: str
    uid: int
    gid: int
    subuid: int
    subgid: int
    network: str
    bridge: str
    veth: str
    subnet: str
    gateway: str
    ip: str
    learner: str | None = None
    pid: int | None = None           # the seat's `unshare` (the seat's user, host's PID namespace)
    init_pid: int | None = None      # the seat's PID 1 (seat_init.py), host's numbering
    images: list[str] = field(default_factory=list)
    warm_seconds: float | None = None

    @property
    def learner_uid(self) -> int:
        """The learner (uid 1000 in the seat) as the host sees them: the seat's subordinate range."""
        return self.subuid + LEARNER_UID - 1

    @property
    def learner_gid(self) -> int:
        return self.subgid + LEARNER_UID - 1


class Seats:
    """Every seat of the classroom in namespace ``ns``; the registry is ``<data>/hub/seats.json``."""

    def __init__(self, settings: Settings, client=None, log=None):
        self.s = settings
        self.data = Path(settings.data)
        self.root = self.data / "seats"
        self.registry = self.data / "hub" / "seats.json"
        self._client = client
        self._lock = threading.RLock()
        self._procs: dict[str, subprocess.Popen] = {}
        self.log = log or (lambda msg: print(msg, flush=True))

    # registry
    @contextmanager
    def _locked(self):
        self.registry.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.registry.with_suffix(".lock"), "a") as lk:
            fcntl.flock(lk, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lk, fcntl.LOCK_UN)

    def all(self) -> dict[str, Seat]:
        try:
            raw = json.loads(self.registry.read_text())
        except (OSError, ValueError):
            return {}
        return {k: Seat(**v) for k, v in raw.items()}

    def save(self, seat: Seat) -> None:
        with self._locked():
            seats = self.all()
            seats[seat.slot] = seat
            self._write(seats)

    def _write(self, seats: dict[str, Seat]) -> None:
        tmp = self.registry.with_suffix(".tmp")
        tmp.write_text(json.dumps({k: asdict(v) for k, v in sorted(seats.items())}, indent=1))
        os.chmod(tmp, 0o600)
        tmp.replace(self.registry)

    def forget(self, slot: str) -> None:
        with self._locked():
            seats = self.all()
            seats.pop(slot, None)
            self._write(seats)

    def of(self, learner: str) -> Seat | None:
        return next((s for s in self.all().values() if s.learner == learner), None)

    @property
    def client(self):
        if self._client is None:
            import docker

            self._client = docker.from_env(timeout=300)
        return self._client

    # paths
    def dir(self, seat: Seat | str) -> Path:
        return self.root / (seat if isinstance(seat, str) else seat.slot)

    def mnt(self, seat: Seat) -> Path:
        return self.dir(seat) / "mnt"

    def home(self, seat: Seat) -> Path:
        return self.mnt(seat) / "home"

    def cgroups(self, seat: Seat | str) -> Cgroups:
        return Cgroups(self.s.ns, seat if isinstance(seat, str) else seat.slot)

    # ------------------------------------------------------------------------------------------------ making
    def new_slot(self) -> str:
        with self._locked():
            taken = set(self.all()) | {p.name for p in self.root.glob("s*")} if self.root.exists() else set(self.all())
            n = 1
            while f"s{n:02d}" in taken:
                n += 1
            slot = f"s{n:02d}"
            self.dir(slot).mkdir(parents=True, exist_ok=True)  # reserved
            return slot

    def unix_name(self, slot: str) -> str:
        ns = self.s.ns if len(self.s.ns) <= 18 else self.s.ns[:13] + short_hash(self.s.ns, n=5)
        return f"dl-{ns}-{slot}"

    def create(self, slot: str | None = None) -> Seat:
        """A new seat: Unix user and subordinate ids, disk, cgroups, network. Not started."""
        slot = slot or self.new_slot()
        name = self.unix_name(slot)
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            run(["useradd", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
                 "--user-group", "--comment", f"dockerlab classroom {self.s.ns} seat {slot}", name])
            pw = pwd.getpwnam(name)
        subuid, subgid = self._subids(name, "/etc/subuid"), self._subids(name, "/etc/subgid")
        if subuid is None or subgid is None:
            raise SeatError(f"{name} has no subordinate uids/gids in /etc/subuid, /etc/subgid (useradd makes them "
                            "when SUB_UID_COUNT in /etc/login.defs is not 0)")
        net = self._network(slot)
        seat = Seat(slot=slot, user=name, uid=pw.pw_uid, gid=pw.pw_gid, subuid=subuid, subgid=subgid, **net)
        self._disk(seat)
        self.cgroups(seat).create(seat.uid, seat.gid, parse_size(self.s.mem), self.s.cpus, self.s.pids)
        self.save(seat)
        return seat

    @staticmethod
    def _subids(name: str, path: str) -> int | None:
        try:
            for line in Path(path).read_text().splitlines():
                parts = line.split(":")
                if parts[0] == name and int(parts[2]) >= 65536:
                    return int(parts[1])
        except OSError:
            pass
        return None

    def _disk(self, seat: Seat) -> None:
        d = self.dir(seat)
        img, mnt = d / "disk.img", d / "mnt"
        d.mkdir(parents=True, exist_ok=True)
        os.chmod(d, 0o700)
        fresh = not img.exists()
        if fresh:
            with open(img, "wb") as f:
                f.truncate(parse_size(self.s.disk_size))
            run(["mkfs.ext4", "-q", "-F", "-m", "0", "-E", "lazy_itable_init=1,lazy_journal_init=1",
                 "-L", seat.slot, str(img)])
        self.mount(seat)
        if fresh:
            for sub, owner, mode in (("home", (seat.learner_uid, seat.learner_gid), 0o755),
                                     ("docker", (seat.uid, seat.gid), 0o710), ("tmp", (seat.uid, seat.gid), 0o1777),
                                     ("log", (seat.uid, seat.gid), 0o755), (".root", (0, 0), 0o755)):
                p = mnt / sub
                p.mkdir(exist_ok=True)
                os.chown(p, *owner)
                os.chmod(p, mode)
            (mnt / "lost+found").rmdir() if (mnt / "lost+found").exists() else None

    def mount(self, seat: Seat) -> None:
        mnt = self.mnt(seat)
        mnt.mkdir(exist_ok=True)
        if not os.path.ismount(mnt):
            run(["mount", "-o", "loop,nodev,nosuid", str(self.dir(seat) / "disk.img"), str(mnt)])

    def unmount(self, seat: Seat) -> None:
        mnt = self.mnt(seat)
        if os.path.ismount(mnt):
            for _ in range(20):
                if subprocess.run(["umount", str(mnt)], capture_output=True).returncode == 0:
                    break
                time.sleep(0.25)
            else:
                run(["umount", "--lazy", str(mnt)])

    def _network(self, slot: str) -> dict:
        """The seat's bridge network on the host's engine (no container on it): a /28 of the pool."""
        import docker
        from docker.errors import APIError, NotFound

        from dockerlab.namespace import labels as course_labels
        from dockerlab.namespace import resource_name

        name = resource_name("classroom", f"net-{slot}", self.s.ns)
        bridge = "dl" + short_hash(self.s.ns, slot, n=10)
        try:
            net = self.client.networks.get(name)
        except NotFound:
            net = None
            for subnet in free_subnets(self.client, self.s.subnet_pool, self.s.subnet_prefix):
                hosts = list(subnet.hosts())
                ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(
                    subnet=str(subnet), gateway=str(hosts[0]), aux_addresses={"seat": str(hosts[1])})])
                labels = {**course_labels("classroom", self.s.ns), "org.dockerlab.classroom.role": "network",
                          LABEL_SEAT: slot}
                try:
                    net = self.client.networks.create(name, driver="bridge", ipam=ipam, labels=labels,
                                                      options={"com.docker.network.bridge.name": bridge})
                    break
                except APIError as exc:
                    if "overlap" not in str(exc).lower():
                        raise
            if net is None:
                raise SeatError(f"no free /{self.s.subnet_prefix} subnet left in {self.s.subnet_pool}: "
                                "set a larger CLASSROOM_SUBNET_POOL")
        net.reload()
        cfg = net.attrs["IPAM"]["Config"][0]
        subnet = ipaddress.ip_network(cfg["Subnet"])
        hosts = list(subnet.hosts())
        return {"network": name, "bridge": net.attrs["Options"].get("com.docker.network.bridge.name", bridge),
                "veth": "dv" + short_hash(self.s.ns, slot, n=10), "subnet": str(subnet),
                "gateway": cfg.get("Gateway") or str(hosts[0]), "ip": str(hosts[1])}

    # ------------------------------------------------------------------------------------------------ running
    def _config(self, seat: Seat) -> Path:
        """The JSON seat_root.py reads (root-only, in the seat's folder on the host)."""
        d = self.dir(seat)
        run_dir = d / "run"
        run_dir.mkdir(exist_ok=True)
        os.chmod(run_dir, 0o755)
        control = d / "control"
        control.mkdir(exist_ok=True)
        os.chmod(control, 0o755)
        host_passwd = [l for l in Path("/etc/passwd").read_text().splitlines()
                       if l and l.split(":")[2].isdigit() and int(l.split(":")[2]) < 1000 and not l.startswith("root:")]
        host_group = [l for l in Path("/etc/group").read_text().splitlines()
                      if l and l.split(":")[2].isdigit() and int(l.split(":")[2]) < 1000
                      and not l.startswith(("root:", "docker:"))]
        etc = {
            "passwd": "\n".join(["root:x:0:0:root:/root:/bin/bash", *host_passwd,
                                 f"learner:x:{LEARNER_UID}:{LEARNER_UID}:learner:/home/learner:/bin/bash",
                                 f"{seat.user}:x:{seat.uid}:{seat.gid}:seat:/nonexistent:/usr/sbin/nologin"]) + "\n",
            "group": "\n".join(["root:x:0:", *host_group, f"learner:x:{LEARNER_UID}:",
                                f"docker:x:{LEARNER_UID + 1}:learner", f"{seat.user}:x:{seat.gid}:"]) + "\n",
            "hosts": "127.0.0.1\tlocalhost learner\n::1\tlocalhost ip6-localhost ip6-loopback\n",
            "hostname": "learner\n",
            "resolv.conf": resolv_conf(),
        }
        course = {rel: str(Path(self.s.course_source) / rel) for rel in self.s.course_paths
                  if (Path(self.s.course_source) / rel).exists()}
        daemon = {"features": {"containerd-snapshotter": bool(self.s.containerd_store)}}
        cfg = {"slot": seat.slot, "uid": seat.uid, "gid": seat.gid, "subuid": seat.subuid, "subgid": seat.subgid,
               "root_dir": str(self.mnt(seat) / ".root"), "run_dir": str(run_dir), "disk": str(self.mnt(seat)),
               "venv": self.s.venv, "seat_code": str(SEAT_CODE), "control": str(control), "course": course,
               "etc": etc,
               "init": {"slot": seat.slot, "cgroup_parent": self.cgroups(seat).engine_parent,
                        "engine_timeout": self.s.engine_timeout, "daemon": daemon}}
        path = d / "seat.json"
        path.write_text(json.dumps(cfg))
        os.chmod(path, 0o600)
        return path

    def alive(self, seat: Seat) -> bool:
        pid = seat.init_pid
        if not pid:
            return False
        try:
            with open(f"/proc/{pid}/status") as f:
                uid_line = next(l for l in f if l.startswith("Uid:"))
            return int(uid_line.split()[1]) == seat.uid
        except (OSError, StopIteration):
            return False

    def socket(self, seat: Seat) -> str:
        """The seat engine's socket, as root on the host reaches it (through the seat's root)."""
        return f"/proc/{seat.init_pid}/root/run/docker.sock"

    def engine(self, seat: Seat, timeout: int = 300):
        """A Docker SDK client of the seat's engine (for tests and tools; the hub itself uses :meth:`api`)."""
        import docker

        return docker.DockerClient(base_url="unix://" + self.socket(seat), timeout=timeout)

    def connect(self, seat: Seat, timeout: float = 10) -> socket.socket:
        """A connection to the seat's engine, refused unless the process at the other end is the seat's own
        (uid 0 of the seat = the seat's user): the seat owns its /run, and a symlink it puts at docker.sock would
        otherwise lead the hub, root, to the host's engine or another seat's."""
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(timeout)
        try:
            s.connect(self.socket(seat))
            _pid, uid, _gid = struct.unpack("3i", s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                               struct.calcsize("3i")))
        except OSError:
            s.close()
            raise
        if uid != seat.uid:
            s.close()
            raise SeatError(f"seat {seat.slot}: its engine's socket leads to a process of uid {uid}, not the "
                            f"seat's ({seat.uid}): refused")
        return s

    def api(self, seat: Seat, method: str, path: str, body=None, timeout: float = 30) -> tuple[int, bytes]:
        """One request to the seat's engine over :meth:`connect` (HTTP/1.1, the connection closed after it);
        ``body``: an iterable of bytes, sent chunked. Returns (status, body as sent: chunked or not)."""
        s = self.connect(seat, timeout)
        try:
            head = f"{method} {path} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n"
            if body is None:
                s.sendall((head + "\r\n").encode())
            else:
                s.sendall((head + "Content-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\n\r\n").encode())
                for chunk in body:
                    if chunk:
                        s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                s.sendall(b"0\r\n\r\n")
            raw = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                raw += b
        finally:
            s.close()
        status = int(raw.split(b" ", 2)[1]) if raw.startswith(b"HTTP/") else 0
        return status, raw.split(b"\r\n\r\n", 1)[-1]

    def start(self, seat: Seat) -> Seat:
        """Start the seat: its namespaces, its network, its engine; returns when the engine answers."""
        if self.alive(seat):
            return seat
        self.mount(seat)
        self.cgroups(seat).clean_engine()
        cfg = self._config(seat)
        log = open(self.dir(seat) / "seat.log", "ab")
        procs = " ".join(self.cgroups(seat).procs_files())
        t0 = time.monotonic()
        cmd = ["sh", "-c", 'for f in $SEAT_CGROUPS; do echo $$ > "$f" || exit 1; done; exec "$@"', "seat",
               "unshare", "--mount", "--propagation", "private", "/usr/bin/python3", "-I", str(SEAT_CODE / "seat_root.py"), str(cfg)]
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                             env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "SEAT_CGROUPS": procs, "LANG": "C.UTF-8"})
        self._procs[seat.slot] = p
        seat.pid, seat.init_pid = p.pid, None
        try:
            seat.init_pid = self._wait_userns(p, seat)
            self._veth(seat)
            self._wait_engine(seat, p, t0)
        except BaseException:
            self.stop(seat)
            raise
        self.save(seat)
        return seat

    def _log_tail(self, seat: Seat, n: int = 15) -> str:
        try:
            lines = (self.dir(seat) / "seat.log").read_text(errors="replace").splitlines()[-n:]
        except OSError:
            lines = []
        try:
            lines += ["dockerd:"] + (self.mnt(seat) / "log" / "dockerd.log").read_text(errors="replace").splitlines()[-n:]
        except OSError:
            pass
        return "\n".join("  | " + l for l in lines)

    def _wait_userns(self, p: subprocess.Popen, seat: Seat, timeout: float = 60) -> int:
        host_net = os.readlink("/proc/self/ns/net")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if p.poll() is not None:
                raise SeatError(f"seat {seat.slot} stopped while starting (exit {p.returncode}):\n{self._log_tail(seat)}")
            try:
                child = int(Path(f"/proc/{p.pid}/task/{p.pid}/children").read_text().split()[0])
                if os.readlink(f"/proc/{child}/ns/net") != host_net and \
                        Path(f"/proc/{child}/uid_map").read_text().split()[:2] == ["0", str(seat.uid)]:
                    return child
            except (OSError, IndexError, ValueError):
                pass
            time.sleep(0.05)
        raise SeatError(f"seat {seat.slot}: no user namespace after {timeout:.0f} s:\n{self._log_tail(seat)}")

    def _veth(self, seat: Seat) -> None:
        """A veth pair: one end on the seat's bridge, the other (eth0) in the seat's network namespace."""
        subprocess.run(["ip", "link", "del", seat.veth], capture_output=True)  # left by a seat that died
        ns = f"/proc/{seat.init_pid}/ns/net"
        run(["ip", "link", "add", seat.veth, "type", "veth", "peer", "name", "eth0", "netns", ns])
        run(["ip", "link", "set", seat.veth, "master", seat.bridge, "up"])
        prefix = ipaddress.ip_network(seat.subnet).prefixlen
        run(["nsenter", f"--net={ns}", "sh", "-c",
             f"ip addr add {seat.ip}/{prefix} dev eth0 && ip link set eth0 up && "
             f"ip route add default via {seat.gateway}"])

    def _wait_engine(self, seat: Seat, p: subprocess.Popen, t0: float) -> None:
        deadline = time.monotonic() + self.s.engine_timeout
        while time.monotonic() < deadline:
            if p.poll() is not None:
                raise SeatError(f"seat {seat.slot} stopped (exit {p.returncode}):\n{self._log_tail(seat)}")
            try:
                ok = self.api(seat, "GET", "/_ping", timeout=2)[0] == 200
            except (OSError, SeatError):
                ok = False
            if ok:
                seat.warm_seconds = round(time.monotonic() - t0, 2)
                return
            time.sleep(0.1)
        raise SeatError(f"seat {seat.slot}: its engine did not answer within {self.s.engine_timeout:.0f} s:\n"
                        f"{self._log_tail(seat)}")

    def missing_images(self, seat: Seat, wanted: list[str]) -> list[str]:
        from urllib.parse import quote

        from dockerlab import images

        refs = []
        for item in wanted:
            try:
                refs.append(images.ref(item))
            except KeyError:
                refs.append(item)
        return [r for r in refs if self.api(seat, "GET", f"/images/{quote(r, safe='')}/json")[0] != 200]

    def load_images(self, seat: Seat, wanted: list[str], timeout: float = 900) -> list[str]:
        """Copy the course images the seat's engine lacks from the host's engine: ``docker save`` here, streamed
        into the seat engine's ``POST /images/load`` (over :meth:`connect`)."""
        missing = self.missing_images(seat, wanted)
        if not missing:
            return []
        env_save = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
        save = subprocess.Popen(["docker", "save", *missing], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env_save)
        try:
            status, out = self.api(seat, "POST", "/images/load?quiet=1",
                                   body=iter(lambda: save.stdout.read(1 << 20), b""), timeout=timeout)
        finally:
            save.stdout.close()
            err = save.stderr.read().decode(errors="replace")
            save.wait()
        if save.returncode != 0 or status != 200 or b'"errorDetail"' in out:
            raise SeatError(f"copying {', '.join(missing)} into seat {seat.slot} failed: "
                            f"{(err or out.decode(errors='replace')).strip()[:400]}")
        seat.images = sorted(set(seat.images) | set(missing))
        self.save(seat)
        return missing

    def give(self, seat: Seat, learner: str, cmd: list[str], env: dict) -> None:
        """Hand a started seat to ``learner``: the seat's init copies the course into their home (once) and starts
        their server with ``cmd`` and ``env``. The spec goes into the seat's control folder (the host's, root's,
        read-only in the seat): nothing is written into the learner's files from the host."""
        seat.learner = learner
        self.save(seat)
        self.link_home(seat)
        control = self.dir(seat) / "control"
        spec = control / "notebook.json"
        done = control / "notebook.done"
        done.unlink(missing_ok=True)
        tmp = control / ".notebook.json"
        tmp.write_text(json.dumps({"cmd": cmd, "env": env, "learner": learner}))
        os.chown(tmp, seat.uid, seat.gid)
        os.chmod(tmp, 0o600)
        tmp.replace(spec)

    def link_home(self, seat: Seat) -> None:
        """``<data>/homes/NAME`` -> the seat's home: where the progress page finds the learner's records."""
        homes = self.data / "homes"
        homes.mkdir(parents=True, exist_ok=True)
        link = homes / seat.learner
        if link.is_symlink() or link.exists():
            if link.is_symlink() and os.readlink(link) == str(self.home(seat)):
                return
            if link.is_symlink():
                link.unlink()
            else:
                raise SeatError(f"{link} exists and is not the link to {seat.learner}'s seat")
        link.symlink_to(self.home(seat))

    def server_state(self, seat: Seat) -> str:
        """'running', 'exited' (the learner's server stopped on its own) or 'none'."""
        if not self.alive(seat):
            return "none"
        if (self.dir(seat) / "control" / "notebook.json").exists():
            status = seat_file(self, seat, "notebook-exit.json")
            return "exited" if status else "running"
        return "none"

    def stop(self, seat: Seat, timeout: float = 45) -> None:
        """Stop the seat: its init stops the learner's server and the engine (its containers stop), then the
        seat's PID namespace ends. The disk stays mounted; the seat's files and images stay."""
        (self.dir(seat) / "control" / "notebook.json").unlink(missing_ok=True)
        pid = seat.init_pid
        if pid and self.alive(seat):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.alive(seat):
                time.sleep(0.2)
        cg = self.cgroups(seat)
        cg.kill()  # what is left (a SIGKILL to the PID namespace's init ends every process in it)
        p = self._procs.pop(seat.slot, None)
        if p is not None:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        subprocess.run(["ip", "link", "del", seat.veth], capture_output=True)
        cg.clean_engine()
        seat.pid = seat.init_pid = None
        if seat.slot in self.all():
            self.save(seat)

    def destroy(self, seat: Seat) -> None:
        """Everything of the seat goes: processes, disk, cgroups, network, Unix user and subordinate ids."""
        from docker.errors import APIError, NotFound

        from dockerlab.cleanup import remove_network

        self.stop(seat)
        self.unmount(seat)
        self.cgroups(seat).remove()
        try:
            remove_network(self.client.networks.get(seat.network))
        except NotFound:
            pass
        except APIError as exc:
            self.log(f"seat {seat.slot}: removing its network failed: {exc}")
        if seat.learner:
            link = self.data / "homes" / seat.learner
            if link.is_symlink():
                link.unlink()
        try:
            pwd.getpwnam(seat.user)
            run(["userdel", seat.user])
        except KeyError:
            pass
        shutil.rmtree(self.dir(seat), ignore_errors=True)
        self.forget(seat.slot)


def seat_file(seats: Seats, seat: Seat, name: str) -> dict | None:
    """A state file the seat's init wrote in its /run/dockerlab, read as root without following the seat's
    symlinks (the seat owns that folder)."""
    try:
        dfd = os.open(f"/proc/{seat.init_pid}/root/run/dockerlab", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dfd)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            return json.loads(os.read(fd, 65536))
        finally:
            os.close(fd)
    except (OSError, ValueError):
        return None
    finally:
        os.close(dfd)


def resolv_conf() -> str:
    """The host's resolvers, without the ones on the host's loopback (unreachable from a seat)."""
    for path in ("/etc/resolv.conf", "/run/systemd/resolve/resolv.conf"):
        try:
            lines = Path(path).read_text().splitlines()
        except OSError:
            continue
        servers = [l for l in lines if l.startswith("nameserver") and not l.split()[1].startswith(("127.", "::1"))]
        if servers:
            return "\n".join([l for l in lines if not l.startswith("nameserver")] + servers) + "\n"
    return "nameserver 1.1.1.1\n"


def free_subnets(client, pool: str, prefix: int):
    """Subnets of ``pool`` (``/prefix`` each) that overlap no network of this engine, in order."""
    used = []
    for net in client.api.networks():
        for cfg in (net.get("IPAM") or {}).get("Config") or []:
            try:
                used.append(ipaddress.ip_network(cfg.get("Subnet", ""), strict=False))
            except ValueError:
                pass
    for candidate in ipaddress.ip_network(pool).subnets(new_prefix=prefix):
        if not any(candidate.overlaps(u) for u in used if u.version == candidate.version):
            yield candidate
