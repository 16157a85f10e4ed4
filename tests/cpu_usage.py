"""Where the CPU of a test run goes: a sampler thread for tests/run_suite.py (Linux; elsewhere it reports nothing).

Every 2 s it reads the CPU time of every process (psutil) and of every container (its cgroup's CPU accounting, read
from /sys/fs/cgroup: psutil has no cgroup reading, and the engine's stats API would cost a request per container
per reading and does not see BuildKit's RUN steps, which run in a "buildkit" cgroup of their own), and charges the
difference since the last reading to
- the namespace in DOCKERLAB_NAMESPACE of the process (pytest, its kernels, the docker CLIs they start),
- the namespace label of the container (org.dockerlab.namespace; BuildKit's RUN steps are one "buildkit" entry),
- the engine's daemons (dockerd, containerd, shims, runc), shared by every unit.
A process or container that lives less than one interval is charged from zero; one that ends loses its last
interval. Container processes are charged once (to the container, not to their process name).

The suite's wall time on a small machine is set by CPU: when the machine is busy all the run long, the sum of what
every unit needs divided by the cores is the floor of the wall time, whatever the number of lanes.
"""
from __future__ import annotations

import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import psutil

DAEMONS = {"dockerd", "containerd", "containerd-shim", "containerd-shim-runc-v2", "runc", "docker-proxy",
           "runc:[2:INIT]", "runc:[1:CHILD]", "runc:[0:PARENT]"}
CGROUP_DIRS = (Path("/sys/fs/cgroup/cpuacct/docker"), Path("/sys/fs/cgroup/cpu,cpuacct/docker"),
               Path("/sys/fs/cgroup/docker"), Path("/sys/fs/cgroup/system.slice"))


def _machine_busy() -> tuple[float, float]:
    """(busy, stolen) CPU seconds of the machine since boot (user, nice, system, irq, softirq; and the time a virtual
    machine's hypervisor gave to others, steal)."""
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + t.irq + t.softirq, t.steal


class CpuSampler:
    def __init__(self, interval: float = 2.0):
        self.interval = interval
        self.ok = sys.platform.startswith("linux")  # the fields below (steal, irq) and the cgroups are Linux's
        self.by_ns: dict[str, float] = defaultdict(float)       # processes with DOCKERLAB_NAMESPACE
        self.by_container_ns: dict[str, float] = defaultdict(float)
        self.daemons = 0.0
        self._pid_ns: dict[int, str] = {}
        self._pid_cpu: dict[int, float] = {}
        self._ctr_cpu: dict[str, float] = {}
        self._ctr_ns: dict[str, str] = {}
        self._container_pids: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._first = True
        self._client = None
        self.busy0 = self.busy = self.steal0 = self.steal = 0.0
        self.wall0 = self.wall = 0.0

    # life cycle
    def start(self) -> "CpuSampler":
        if self.ok:
            self.busy0, self.steal0 = _machine_busy()
            self.wall0 = time.monotonic()
            try:  # the first reading before start() returns: what starts after it is charged in full
                self._sample()
            except Exception:  # noqa: BLE001 - a sampler must never break the run it measures
                pass
            self._first = False
            self._thread.start()
        return self

    def stop(self) -> None:
        if self.ok:
            self._stop.set()
            self._thread.join(10)
            busy, steal = _machine_busy()
            self.busy, self.steal = busy - self.busy0, steal - self.steal0
            self.wall = time.monotonic() - self.wall0

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._sample()
            except Exception:  # noqa: BLE001 - a sampler must never break the run it measures
                pass
            self._first = False
            self._stop.wait(self.interval)
        try:
            self._sample()
        except Exception:  # noqa: BLE001
            pass

    # one reading
    def _sample(self) -> None:
        self._sample_containers()
        seen = set()
        for proc in psutil.process_iter(["name", "cpu_times"]):
            times = proc.info["cpu_times"]
            if times is None:  # gone, or not ours to read
                continue
            pid, cpu = proc.pid, times.user + times.system
            seen.add(pid)
            delta = self._delta(self._pid_cpu, pid, cpu)
            if delta <= 0:
                continue
            if proc.info["name"] in DAEMONS:
                self.daemons += delta
                continue
            if pid in self._container_pids:
                continue  # charged through its container's cgroup
            ns = self._ns_of(proc)
            if ns:
                self.by_ns[ns] += delta
        for gone in set(self._pid_cpu) - seen:
            self._pid_cpu.pop(gone, None)
            self._pid_ns.pop(gone, None)

    def _delta(self, last: dict, key, now: float) -> float:
        """CPU seconds of ``key`` since the last reading (``last`` keeps it). One first seen after the first reading
        started since: all its time counts; one there at the first reading counts from then on (0 now)."""
        prev = last.get(key)
        last[key] = now
        if prev is None:
            prev = now if self._first else 0.0
        return now - prev

    def _ns_of(self, proc: psutil.Process) -> str:
        if proc.pid not in self._pid_ns:
            try:
                self._pid_ns[proc.pid] = proc.environ().get("DOCKERLAB_NAMESPACE", "")
            except psutil.Error:
                self._pid_ns[proc.pid] = ""
        return self._pid_ns[proc.pid]

    def _sample_containers(self) -> None:
        pids: set[int] = set()
        for root in CGROUP_DIRS:
            if not root.is_dir():
                continue
            for d in root.iterdir():
                cid = d.name.removeprefix("docker-").removesuffix(".scope")
                if not d.is_dir() or not (len(cid) == 64 or cid == "buildkit"):
                    continue
                usage = _cgroup_cpu(d)
                if usage is None:
                    continue
                try:
                    pids.update(int(p) for p in (d / "cgroup.procs").read_text().split())
                except (OSError, ValueError):
                    pass
                delta = self._delta(self._ctr_cpu, cid, usage)
                if delta > 0:
                    self.by_container_ns[self._container_ns(cid)] += delta
            break  # the first layout found is this machine's
        self._container_pids = pids

    def _container_ns(self, cid: str) -> str:
        if cid == "buildkit":
            return "buildkit"
        if cid not in self._ctr_ns:
            ns = ""
            try:
                if self._client is None:
                    import docker
                    self._client = docker.from_env(timeout=10)
                from dockerlab.namespace import LABEL_NAMESPACE

                labels = self._client.api.inspect_container(cid)["Config"].get("Labels") or {}
                ns = labels.get(LABEL_NAMESPACE, "")
            except Exception:  # noqa: BLE001 - gone already, or not ours
                pass
            self._ctr_ns[cid] = ns
        return self._ctr_ns[cid]

    # what it found
    def unit_seconds(self, ns: str) -> float:
        """CPU seconds of a unit: its processes and its containers (namespace ``ns`` and ``ns-*``)."""
        total = 0.0
        for table in (self.by_ns, self.by_container_ns):
            total += sum(v for k, v in table.items() if k == ns or k.startswith(ns + "-"))
        return total

    def summary_lines(self, units, cores: int) -> list[str]:
        """Lines for the run's summary: the machine's use, the daemons, the groups and the largest units."""
        if not self.ok or self.wall < 10:  # nothing ran side by side
            return []
        offered = cores * self.wall
        charged = {u.key: self.unit_seconds(u.ns) for u in units if u.group not in ("unit", "sync", "leaks")}
        groups: dict[str, float] = defaultdict(float)
        for u in units:
            if u.key in charged:
                groups[u.group] += charged[u.key]
        out = [f"\n=== CPU: {self.busy:.0f} core-seconds used of {offered:.0f} offered ({cores} cores x {self.wall:.0f} s "
               f"wall, {100 * self.busy / offered:.0f} % busy); with every core busy this work needs at least "
               f"{self.busy / cores / 60:.1f} min" + (f" (the hypervisor took {self.steal:.0f} s more)" if self.steal >= 1 else ""),
               f"  engine daemons (dockerd, containerd, shims, runc; shared by all units) {self.daemons:7.0f} s",
               f"  BuildKit RUN steps (any unit)                                          "
               f"{self.by_container_ns.get('buildkit', 0.0):7.0f} s"]
        for g, s in sorted(groups.items(), key=lambda x: -x[1]):
            out.append(f"  {g + ' units (their processes and containers)':<72}{s:7.0f} s")
        rest = self.busy - self.daemons - self.by_container_ns.get("buildkit", 0.0) - sum(groups.values())
        out.append(f"  {'the rest (kernel threads, the runner, work no unit namespace marks)':<72}{rest:7.0f} s")
        out.append("  largest units:")
        for key, s in sorted(charged.items(), key=lambda x: -x[1])[:12]:
            out.append(f"    {key:<68}{s:7.0f} s")
        return out


def _cgroup_cpu(d: Path) -> float | None:
    """CPU seconds of a cgroup (v1 cpuacct.usage in ns, v2 cpu.stat usage_usec)."""
    try:
        if (d / "cpuacct.usage").exists():
            return int((d / "cpuacct.usage").read_text()) / 1e9
        for line in (d / "cpu.stat").read_text().splitlines():
            if line.startswith("usage_usec "):
                return int(line.split()[1]) / 1e6
    except (OSError, ValueError):
        return None
    return None
