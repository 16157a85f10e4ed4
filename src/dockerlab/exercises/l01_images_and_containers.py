"""Lesson 01 exercise: start a container that meets given requirements; the check inspects the live container."""
from __future__ import annotations

from docker.errors import NotFound

from ..checks import Checker
from ..run import ContainerExited, WaitTimeout, http_get, logs_tail
from ..show import Table, cli, human_size
from .probes import describe_listeners, explain_exit, listeners

LESSON = "01_images_and_containers"
HINTS = (  # shown by dockerlab.hints(ex), one at a time; the solution notebook holds the answer
    "Each line of the requirements table is one setting of `docker run`, and its CLI column names the flag. "
    "Every flag has a keyword argument of the same meaning in the Docker SDK's `containers.run`.",
    "A published port maps the container's port to a port of the host, and the host port must be free "
    "(`lab.free_port()`). Docker's memory units are binary. The container must still be running when the check looks.",
    "Lesson 01, sections \"Environment variables: `-e`\", \"A long-running container with a published port: `-d -p`\" "
    "and \"Resource limits: `--memory`, `--cpus`\" show each setting as an SDK call next to its `docker run` twin.",
)

# What the learner's container must look like (the notebook shows this table).
REQUIREMENTS = {
    "thing": "api",                 # container name: lab.name("api")
    "env": {"APP_GREETING": "hello-from-docker"},
    "container_port": 8000,         # python -m http.server 8000, published on a free host port
    "memory": "96m",                # --memory 96m
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
    env = ", ".join(f"{k}={v}" for k, v in req["env"].items())
    return Table([
        {"requirement": "name", "value": f"lab.name({req['thing']!r})", "CLI": f"--name …-{req['thing']}"},
        {"requirement": "command", "value": f"python -m http.server {req['container_port']}", "CLI": "(after the image)"},
        {"requirement": "environment", "value": env, "CLI": f"-e {env}"},
        {"requirement": "port", "value": f"{req['container_port']}/tcp published on a free host port",
         "CLI": f"-p FREE_PORT:{req['container_port']}"},
        {"requirement": "memory limit", "value": req["memory"], "CLI": f"--memory {req['memory']}"},
        {"requirement": "state", "value": "running", "CLI": "-d"},
    ], title="Start a container that meets these requirements")


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
               f"start it with lab.run(lab.base('python'), {req['thing']!r}, ...) so it gets that name")
        return c.report()
    c.ok("container exists", name)
    attrs = container.attrs
    state = attrs["State"]

    # running
    if state.get("Running"):
        c.ok("running", "status running")
    else:
        c.fail("running", f"status {state.get('Status')} (exit code {state.get('ExitCode')})",
               "it must keep running: run a long-lived command (python -m http.server) detached, and do not stop it")

    # environment
    env = dict(e.split("=", 1) if "=" in e else (e, "") for e in (attrs["Config"].get("Env") or []))
    for key, want in req["env"].items():
        if key not in env:
            c.fail(f"env {key}", f"{key} is not set in the container",
                   f"pass environment={{{key!r}: {want!r}}} (CLI: -e {key}={want})")
        elif env[key] != want:
            c.fail(f"env {key}", f"{key}={env[key]!r}, expected {want!r}", f"set {key} to exactly {want!r}")
        else:
            c.ok(f"env {key}", f"{key}={want}")

    # port published and answering
    key = f"{req['container_port']}/tcp"
    # What was asked for (HostConfig) survives a stop; NetworkSettings.Ports is only filled while running.
    asked = (attrs["HostConfig"].get("PortBindings") or {}).get(key) or []
    bindings = (attrs["NetworkSettings"].get("Ports") or {}).get(key) or asked
    if not bindings:
        c.fail(f"port {key} published", f"{key} is not published to the host",
               f"add ports={{'{key}': lab.free_port()}} (CLI: -p FREE_PORT:{req['container_port']})")
    else:
        host_port = int(bindings[0].get("HostPort") or 0)
        c.ok(f"port {key} published", f"on host port {host_port}")
        if not state.get("Running"):
            c.fail("answers HTTP", f"nothing answers on host port {host_port}: the container is not running",
                   "start it again (and keep it running)")
        else:
            try:
                status, _ = http_get(host_port, "/", timeout=timeout, container=container, expect_status=None)
                c.ok("answers HTTP", f"GET / on host port {host_port} -> HTTP {status}")
            except ContainerExited:
                container.reload()
                _, cause = explain_exit(container.attrs["State"].get("ExitCode"), logs_tail(container))
                c.fail("answers HTTP", cause,
                       f"run python -m http.server {req['container_port']} so it listens on the published port")
            except WaitTimeout:
                _, seen = describe_listeners(listeners(container, lab), req["container_port"])
                c.fail("answers HTTP", f"nothing answers on host port {host_port}: {seen}",
                       f"run python -m http.server {req['container_port']} so it listens on the published port")

    # memory limit
    want = parse_memory(req["memory"])
    got = attrs["HostConfig"].get("Memory") or 0
    if got == 0:
        c.fail("memory limit", "no memory limit (HostConfig.Memory is 0: unlimited)",
               f"add mem_limit={req['memory']!r} (CLI: --memory {req['memory']})")
    elif got != want:
        c.fail("memory limit", f"limit is {got} bytes ({human_size(got)}), expected {want} ({req['memory']})",
               f"use mem_limit={req['memory']!r} (Docker's m means MiB: 1024*1024 bytes)")
    else:
        c.ok("memory limit", f"{got} bytes = {req['memory']}")
    return c.report()
