"""Lesson 01 exercise: start a container to spec with the Docker SDK (or ``docker run``); the check inspects it.

The learner writes the ``client.containers.run(...)`` call (``docker run``'s SDK twin) themselves; ``lab`` only
gives the name and the labels. The check reads the live container (``docker inspect``): what Docker made of the
call, whatever its spelling (``nano_cpus`` or ``cpu_quota``/``cpu_period``, ``"96m"`` or bytes, a dict or a list
of variables, an SDK call or a pasted ``docker run``), and asks the published port from outside.
"""
from __future__ import annotations

import dataclasses

from docker.errors import NotFound

from dockerlab.grading.checker import Checker, NotEvaluated, criterion, failed, passed
from dockerlab.namespace import LABEL_NAMESPACE
from dockerlab.run import remove
from dockerlab.show import Table, cli, human_size, short
from dockerlab.grading.asking import WAITING, cause_of, keep_asking, port_taken, taken_port
from dockerlab.grading.serving import Served
from dockerlab.grading.lessons import lesson_hints

LESSON = "01_images_and_containers"
HINTS = lesson_hints(LESSON)  # lessons/hints.toml: shown by dockerlab.hints(ex), one at a time

# What the learner's container must look like (the notebook shows this table).
REQUIREMENTS = {
    "thing": "api",                 # container name: lab.name("api")
    "command": ["python", "-m", "http.server", "8000"],
    "env": {"APP_GREETING": "hello-from-docker"},
    "container_port": 8000,         # published on a free host port
    "memory": "96m",                # --memory 96m
    "cpus": 0.5,                    # --cpus 0.5
    "restart": "unless-stopped",    # --restart unless-stopped
}


def parse_memory(text: str | int) -> int:
    """'96m' -> 100663296 (Docker's binary units: b, k, m, g)."""
    if isinstance(text, int):
        return text
    s = str(text).strip().lower()
    units = {"b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}
    if s and s[-1] in units:
        return int(float(s[:-1]) * units[s[-1]])
    return int(s)


def requirements_table(req: dict | None = None) -> Table:
    req = req or REQUIREMENTS
    env = " ".join(f"{k}={v}" for k, v in req["env"].items())
    return Table([
        {"requirement": "image and command", "value": f"the course's python image, `{' '.join(req['command'])}`",
         "docker run": "IMAGE COMMAND…"},
        {"requirement": "name and labels", "value": f"lab.name({req['thing']!r}), lab.labels (already in the starter)",
         "docker run": "--name, --label"},
        {"requirement": "in the background", "value": "detached (already in the starter)", "docker run": "-d"},
        {"requirement": "environment", "value": env, "docker run": f"-e {env}"},
        {"requirement": "published port", "value": f"container port {req['container_port']}/tcp on the free host port `port`",
         "docker run": f"-p PORT:{req['container_port']}"},
        {"requirement": "memory limit", "value": f"{req['memory']} (MiB)", "docker run": f"--memory {req['memory']}"},
        {"requirement": "CPU limit", "value": f"{req['cpus']:g} of one CPU", "docker run": f"--cpus {req['cpus']:g}"},
        {"requirement": "restart policy", "value": req["restart"], "docker run": f"--restart {req['restart']}"},
        {"requirement": "state", "value": "running when the check looks", "docker run": ""},
    ], title="Start a container that meets these requirements")


def cpus_of(host_config: dict) -> tuple[float | None, str]:
    """The CPU cap a container has, however it was asked: ``--cpus`` (NanoCpus) or ``--cpu-quota``/``--cpu-period``;
    (None, why) when there is none."""
    nano = host_config.get("NanoCpus") or 0
    quota, period = host_config.get("CpuQuota") or 0, host_config.get("CpuPeriod") or 0
    if nano:
        return nano / 1e9, f"NanoCpus {nano}"
    if quota > 0:
        period = period or 100_000  # the kernel's default CFS period
        return quota / period, f"CpuQuota {quota} / CpuPeriod {period}"
    shares = host_config.get("CpuShares") or 0
    if shares:
        return None, (f"no CPU limit: CpuShares {shares} is a relative weight that counts only when containers "
                      "compete for the CPU, not a cap")
    return None, "no CPU limit (HostConfig.NanoCpus and CpuQuota are 0: it may use every CPU)"


# --- what the criteria share: the learner's container, inspected once --------------------------------------

@dataclasses.dataclass
class Grading:
    lab: object
    req: dict
    timeout: float
    container: object = None
    removed: str = ""  # why the container is gone (the check removed it): the later lines are not evaluated

    @property
    def name(self) -> str:
        return self.lab.name(self.req["thing"])

    def attrs(self) -> dict:
        """What ``docker inspect`` said when line 1 found the container."""
        if self.container is None:
            raise NotEvaluated(f"there is no container {self.name} (line 1)")
        if self.removed:
            raise NotEvaluated(self.removed)
        return self.container.attrs

    def running(self) -> bool:
        return bool(self.attrs()["State"].get("Running"))

    def binding(self) -> int | None:
        """The host port the container's port is published on (None: not published)."""
        attrs, key = self.attrs(), f"{self.req['container_port']}/tcp"
        # What was asked for (HostConfig) survives a stop; NetworkSettings.Ports is only filled while running.
        asked = (attrs["HostConfig"].get("PortBindings") or {}).get(key) or []
        bindings = ((attrs.get("NetworkSettings") or {}).get("Ports") or {}).get(key) or asked
        return int(bindings[0].get("HostPort") or 0) if bindings else None


# --- the criteria ------------------------------------------------------------------------------------------------

@criterion("l01.exists", "container exists")
def exists(g: Grading):
    try:
        g.container = g.lab.client.containers.get(g.name)
    except NotFound:
        return failed("missing", f"no container named {g.name}", f"start it with client.containers.run(…, "
                      f"name=lab.name({g.req['thing']!r}), …) so it gets that name", name=g.name)
    image = g.container.attrs["Config"].get("Image")
    return passed(f"{g.name} from image {image}", name=g.name, image=image)


@criterion("l01.labels", "course labels")
def course_labels(g: Grading):
    labels = g.attrs()["Config"].get("Labels") or {}
    if labels.get(LABEL_NAMESPACE) == g.lab.ns:
        return passed(f"labelled for namespace {g.lab.ns}: lab.cleanup() removes it", namespace=g.lab.ns)
    remove(g.container, client=g.lab.client, quiet=True)
    g.removed = "the container was removed (no course labels, line 2): start it again with its labels"
    return failed("missing", f"{g.name} has no course labels, so lab.cleanup() would never find it (the check removed "
                  "it)", "keep labels=lab.labels in the call (docker run --label …)", label=LABEL_NAMESPACE,
                  namespace=labels.get(LABEL_NAMESPACE))


@criterion("l01.running", "running")
def running(g: Grading):
    attrs = g.attrs()
    state, config = attrs["State"], attrs["Config"]
    status, code, error = state.get("Status"), state.get("ExitCode"), state.get("Error") or ""
    if state.get("Running"):
        return passed(f"status running, PID 1 `{' '.join((config.get('Entrypoint') or []) + (config.get('Cmd') or []))}`",
                      status=status)
    if status == "created":  # docker run created it, then could not start it
        said = taken_port(error) or short(error, 200) or "no start was asked"
        return failed("exited", f"created but never started: {said}",
                      "another container or program holds that host port: run the cell again with port = "
                      "lab.free_port()" if port_taken(error) else "start it detached (detach=True, docker run -d)",
                      status=status, error=error)
    oom = bool(state.get("OOMKilled"))
    return failed("exited", f"status {status} (exit code {code}{', killed: out of memory' if oom else ''})",
                  "it must keep running: start the long-lived server detached (-d, detach=True), and do not stop it",
                  status=status, exit_code=code, oom_killed=oom)


@criterion("l01.env", "environment")
def environment(g: Grading):
    config = g.attrs()["Config"]
    env = dict(e.split("=", 1) if "=" in e else (e, "") for e in (config.get("Env") or []))
    seen = {k: env.get(k) for k in g.req["env"]}
    absent = [k for k in g.req["env"] if k not in env]
    if absent:
        k = absent[0]
        return failed("missing", f"{', '.join(absent)} {'is' if len(absent) == 1 else 'are'} not among the container's "
                      f"variables", f"set it: docker run -e {k}={g.req['env'][k]} (the SDK's keyword for -e takes a "
                      "dict or a list)", env=seen)
    wrong = {k: v for k, v in g.req["env"].items() if env[k] != v}
    if wrong:
        k = next(iter(wrong))
        return failed("wrong-value", f"{k}={env[k]!r}, expected {wrong[k]!r}", f"set {k} to exactly {wrong[k]!r}", env=seen)
    return passed(" ".join(f"{k}={v}" for k, v in seen.items()), env=seen)


@criterion("l01.port", "port published")
def published(g: Grading):
    host_port, key = g.binding(), f"{g.req['container_port']}/tcp"
    if host_port is None:
        bindings = g.attrs()["HostConfig"].get("PortBindings") or {}
        others, port = sorted(bindings), g.req["container_port"]
        swapped = [k for k, v in bindings.items() if any(str(b.get("HostPort")) == str(port) for b in v or [])]
        if swapped:  # ports={'PORT/tcp': 8000}: the host's and the container's ports the other way round
            return failed("wrong-value", f"{key} is not published: container port {swapped[0]} is, on host port {port} "
                          "(the mapping is reversed)", f"the dict maps the container's port to the host's: "
                          f"ports={{'{key}': port}} (docker run -p PORT:{port})", published=others, reversed=True)
        return failed("missing", f"{key} is not published to the host"
                      + (f" (published: {', '.join(others)}, where nothing listens)" if others else ""),
                      f"publish the container's port {port}: docker run -p PORT:{port}", published=others)
    return passed(f"on host port {host_port}", host_port=host_port)


@criterion("l01.answers", "answers HTTP")
def answers(g: Grading):
    host_port, port = g.binding(), g.req["container_port"]
    if host_port is None:
        raise NotEvaluated(f"{port}/tcp is not published (line 5)")
    if not g.running():
        raise NotEvaluated("the container is not running (line 3)")
    served = Served(g.container, host_port, port, "/", kind="listening")
    try:
        keep_asking(g.lab, served, g.timeout, want=None)  # any HTTP answer: the server serves
    except NotFound:  # removed while the check asked it
        return failed("exited", f"{g.name} was removed while the check asked it", "keep it until the check has "
                      "looked: not started with auto_remove=True (--rm), not removed", status="removed")
    if served.kind == "ok":
        return passed(f"GET / on host port {host_port} -> HTTP {served.status}", status=served.status)
    fix = {"loopback": "listen on every interface (0.0.0.0) inside the container: a server bound to 127.0.0.1 is out "
                       "of the published port's reach",
           "other_port": f"serve on port {port}, the one published (or publish the port it listens on)"}.get(
        served.kind, f"run {' '.join(g.req['command'])} so it listens on the published port")
    observed = dict(kind=served.kind, listening=[f"{a}:{p}" for a, p in served.listening])
    if served.kind not in WAITING + ("loopback",):  # it stopped
        observed["exit_code"] = g.container.attrs["State"].get("ExitCode")
    return failed(cause_of(served), served.cause, fix, **observed)


@criterion("l01.memory", "memory limit")
def memory(g: Grading):
    want, got = parse_memory(g.req["memory"]), g.attrs()["HostConfig"].get("Memory") or 0
    if got == 0:
        return failed("missing", "no memory limit (HostConfig.Memory is 0: unlimited)", f"docker run --memory "
                      f"{g.req['memory']} (the SDK's keyword takes the same string)", bytes=0, expected=want)
    if got != want:
        return failed("wrong-value", f"the limit is {got} bytes ({human_size(got)}), expected {want} ({g.req['memory']})",
                      f"Docker's m means MiB (1024*1024 bytes): --memory {g.req['memory']}", bytes=got, expected=want)
    return passed(f"HostConfig.Memory {got} bytes = {g.req['memory']}", bytes=got, expected=want)


@criterion("l01.cpus", "CPU limit")
def cpus(g: Grading):
    got, seen = cpus_of(g.attrs()["HostConfig"])
    want = g.req["cpus"]
    shares = g.attrs()["HostConfig"].get("CpuShares") or 0
    if got is None:
        return failed("missing", seen, f"cap it: docker run --cpus {want:g}", cpus=None, shares=shares)
    if abs(got - want) > 1e-6:
        return failed("wrong-value", f"{got:g} CPU ({seen}), expected {want:g}", f"docker run --cpus {want:g}", cpus=got)
    return passed(f"{got:g} CPU ({seen})", cpus=got)


@criterion("l01.restart", "restart policy")
def restart(g: Grading):
    policy = (g.attrs()["HostConfig"].get("RestartPolicy") or {}).get("Name") or "no"
    want = g.req["restart"]
    if policy != want:
        return failed("wrong-value", f"restart policy {policy!r}, expected {want!r}"
                      + (" (always also restarts a container you stopped, when the daemon restarts)" if policy == "always"
                         else ""), f"docker run --restart {want}", policy=policy)
    return passed(f"HostConfig.RestartPolicy {policy}", policy=policy)


CRITERIA = [exists, course_labels, running, environment, published, answers, memory, cpus, restart]


def grade(lab, req: dict | None = None, timeout: float = 15, *, only=None) -> Checker:
    """Inspect the container ``lab.name(req['thing'])`` and grade each requirement; return the filled table (never
    raises). ``only``: the ids to grade (the rest are "not evaluated")."""
    req = req or REQUIREMENTS
    cli("docker", "inspect", lab.name(req["thing"]))
    return Checker(LESSON, "run a container to spec").run(CRITERIA, Grading(lab, req, timeout), only=only)


def check(lab, req: dict | None = None, timeout: float = 15, **kwargs) -> Checker:
    """Grade the learner's container and raise CheckFailed unless every line passed."""
    return grade(lab, req, timeout, **kwargs).raise_unless_passed()
