"""Lesson 01 exercise: start a container to spec with the Docker SDK (or ``docker run``); the check inspects it.

The learner writes the ``client.containers.run(...)`` call (``docker run``'s SDK twin) themselves; ``lab`` only
gives the name and the labels. The check reads the live container (``docker inspect``): what Docker made of the
call, whatever its spelling (``nano_cpus`` or ``cpu_quota``/``cpu_period``, ``"96m"`` or bytes, a dict or a list
of variables, an SDK call or a pasted ``docker run``), and asks the published port from outside.
"""
from __future__ import annotations

from docker.errors import NotFound

from dockerlab.grading.checker import Checker
from dockerlab.namespace import LABEL_NAMESPACE
from dockerlab.run import ContainerExited, WaitTimeout, http_get, logs_tail, remove
from dockerlab.show import Table, cli, human_size
from dockerlab.grading.probes import describe_listeners, listeners
from dockerlab.grading.serving import explain_exit

LESSON = "01_images_and_containers"
HINTS = (  # shown by dockerlab.hints(ex), one at a time; the solution notebook holds the answer
    "Each line of the requirements table is one setting of `docker run`, and its last column names the flag. "
    "`client.containers.run` has a keyword argument for each flag: the Docker SDK's reference lists them "
    "(`help(client.containers.run)` prints it here).",
    "A published port maps the container's port to a port of the host: a dict from `'PORT/tcp'` to the host port. "
    "Docker's memory units are binary; a CPU limit caps CPU time (a CPU share is only a weight). The container must "
    "still be running when the check looks.",
    "Lesson 01, sections \"Environment variables: `-e`\", \"A long-running container with a published port: `-d -p`\", "
    "\"Restart policies\" and \"Resource limits: `--memory`, `--cpus`\" show each setting as an SDK call next to its "
    "`docker run` twin.",
)

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


def check(lab, req: dict | None = None, timeout: float = 15) -> Checker:
    """Inspect the container ``lab.name(req['thing'])`` and check each requirement against it."""
    req = req or REQUIREMENTS
    c = Checker(LESSON, "run a container to spec")
    name = lab.name(req["thing"])
    cli("docker", "inspect", name)
    try:
        container = lab.client.containers.get(name)
    except NotFound:
        c.fail("container exists", f"no container named {name}",
               f"start it with client.containers.run(…, name=lab.name({req['thing']!r}), …) so it gets that name")
        return c.report()
    c.ok("container exists", f"{name} from image {container.attrs['Config'].get('Image')}")
    attrs = container.attrs
    state, host, config = attrs["State"], attrs["HostConfig"], attrs["Config"]

    labels = config.get("Labels") or {}
    if labels.get(LABEL_NAMESPACE) == lab.ns:
        c.ok("course labels", f"labelled for namespace {lab.ns}: lab.cleanup() removes it")
    else:
        remove(container, client=lab.client, quiet=True)
        c.fail("course labels", f"{name} has no course labels, so lab.cleanup() would never find it (the check removed it)",
               "keep labels=lab.labels in the call (docker run --label …)")
        c.skip("the rest", "the container was removed: start it again with its labels")
        return c.report()

    if state.get("Running"):
        c.ok("running", f"status running, PID 1 `{' '.join((config.get('Entrypoint') or []) + (config.get('Cmd') or []))}`")
    else:
        c.fail("running", f"status {state.get('Status')} (exit code {state.get('ExitCode')})",
               "it must keep running: start the long-lived server detached (-d, detach=True), and do not stop it")

    env = dict(e.split("=", 1) if "=" in e else (e, "") for e in (config.get("Env") or []))
    for key, want in req["env"].items():
        if key not in env:
            c.fail(f"env {key}", f"{key} is not among the container's variables",
                   f"set it: docker run -e {key}={want} (the SDK's keyword for -e takes a dict or a list)")
        elif env[key] != want:
            c.fail(f"env {key}", f"{key}={env[key]!r}, expected {want!r}", f"set {key} to exactly {want!r}")
        else:
            c.ok(f"env {key}", f"{key}={want}")

    key = f"{req['container_port']}/tcp"
    # What was asked for (HostConfig) survives a stop; NetworkSettings.Ports is only filled while running.
    asked = (host.get("PortBindings") or {}).get(key) or []
    bindings = (attrs["NetworkSettings"].get("Ports") or {}).get(key) or asked
    published = sorted((host.get("PortBindings") or {}))
    if not bindings:
        c.fail(f"port {key} published", f"{key} is not published to the host"
               + (f" (published: {', '.join(published)}, where nothing listens)" if published else ""),
               f"publish the container's port {req['container_port']}: docker run -p PORT:{req['container_port']}")
        c.skip("answers HTTP", f"{key} is not published")
    else:
        host_port = int(bindings[0].get("HostPort") or 0)
        c.ok(f"port {key} published", f"on host port {host_port}")
        if not state.get("Running"):
            c.skip("answers HTTP", "the container is not running")
        else:
            try:
                status, _ = http_get(host_port, "/", timeout=timeout, container=container, expect_status=None)
                c.ok("answers HTTP", f"GET / on host port {host_port} -> HTTP {status}")
            except ContainerExited:
                container.reload()
                _, cause = explain_exit(container.attrs["State"].get("ExitCode"), logs_tail(container))
                c.fail("answers HTTP", cause, f"run {' '.join(req['command'])} so it listens on the published port")
            except WaitTimeout:
                _, seen = describe_listeners(listeners(container, lab), req["container_port"])
                c.fail("answers HTTP", f"nothing answers on host port {host_port}: {seen}",
                       f"run {' '.join(req['command'])} so it listens on the published port")

    want = parse_memory(req["memory"])
    got = host.get("Memory") or 0
    if got == 0:
        c.fail("memory limit", "no memory limit (HostConfig.Memory is 0: unlimited)",
               f"docker run --memory {req['memory']} (the SDK's keyword takes the same string)")
    elif got != want:
        c.fail("memory limit", f"the limit is {got} bytes ({human_size(got)}), expected {want} ({req['memory']})",
               f"Docker's m means MiB (1024*1024 bytes): --memory {req['memory']}")
    else:
        c.ok("memory limit", f"HostConfig.Memory {got} bytes = {req['memory']}")

    cpus, seen = cpus_of(host)
    if cpus is None:
        c.fail("CPU limit", seen, f"cap it: docker run --cpus {req['cpus']:g}")
    elif abs(cpus - req["cpus"]) > 1e-6:
        c.fail("CPU limit", f"{cpus:g} CPU ({seen}), expected {req['cpus']:g}", f"docker run --cpus {req['cpus']:g}")
    else:
        c.ok("CPU limit", f"{cpus:g} CPU ({seen})")

    policy = (host.get("RestartPolicy") or {}).get("Name") or "no"
    c.expect(policy == req["restart"], "restart policy", f"restart policy {policy!r}, expected {req['restart']!r}"
             + (" (always also restarts a container you stopped, when the daemon restarts)" if policy == "always" else ""),
             fix=f"docker run --restart {req['restart']}", ok=f"HostConfig.RestartPolicy {policy}")
    return c.report()
