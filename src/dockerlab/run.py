"""Running containers: start with course names and labels, stop and time it, wait for health or HTTP."""
from __future__ import annotations

import contextlib
import dataclasses
import re
import shlex
import socket
import time
import urllib.error
import urllib.request

from docker.errors import APIError, ImageNotFound, NotFound

from dockerlab import settings
from dockerlab.engine import get_client
from dockerlab.figures import record, short_name
from dockerlab.namespace import labels as course_labels
from dockerlab.namespace import resource_name
from dockerlab.show import cli, short
from dockerlab.errors import WaitTimeout, ContainerExited  # noqa: F401 (raised here; defined with the others)
from dockerlab.waiting import wait_until


def host_address() -> str:
    """Where published ports are reached from this kernel: 127.0.0.1, or $DOCKERLAB_HOST_ADDR (course container), or
    the address of the target engine (:func:`dockerlab.settings.target_engine`: lesson 14's helper engine)."""
    return settings.host_addr()


def free_port() -> int:
    """A TCP port free on this machine now (the OS picks it), for ``-p PORT:CONTAINER_PORT``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli_run_args(image: str, name: str, command, kwargs: dict) -> list[str]:
    """The ``docker run`` words for a ``containers.run`` call, to be shell-quoted by :func:`cli`. The course labels
    are left out (every lesson says once that the course labels what it creates): the command stays readable."""
    args = ["docker", "run"]
    if kwargs.get("detach", True):
        args.append("-d")
    if kwargs.get("remove"):
        args.append("--rm")
    args += ["--name", name]
    env = kwargs.get("environment") or {}
    if isinstance(env, dict):
        for k, v in env.items():
            args += ["-e", f"{k}={v}"]
    else:
        for e in env:
            args += ["-e", e]
    for cport, hport in (kwargs.get("ports") or {}).items():
        cport = str(cport).replace("/tcp", "")
        if isinstance(hport, tuple):
            hport = ":".join(str(h) for h in hport)
        args += ["-p", f"{hport}:{cport}" if hport is not None else cport]
    vols = kwargs.get("volumes") or {}
    if isinstance(vols, dict):
        for src, spec in vols.items():
            args += ["-v", f"{src}:{spec['bind']}" + (":" + spec["mode"] if spec.get("mode", "rw") != "rw" else "")]
    else:
        for v in vols:
            args += ["-v", v]
    if kwargs.get("mem_limit"):
        args += ["--memory", str(kwargs["mem_limit"])]
    if kwargs.get("nano_cpus"):
        args += ["--cpus", f"{kwargs['nano_cpus'] / 1e9:g}"]
    if kwargs.get("user"):
        args += ["--user", str(kwargs["user"])]
    if kwargs.get("working_dir"):
        args += ["-w", str(kwargs["working_dir"])]
    if kwargs.get("init"):
        args.append("--init")
    if kwargs.get("read_only"):
        args.append("--read-only")
    for path, opts in (kwargs.get("tmpfs") or {}).items():
        args += ["--tmpfs", f"{path}:{opts}" if opts else path]
    for k, v in (kwargs.get("sysctls") or {}).items():
        args += ["--sysctl", f"{k}={v}"]
    for c in kwargs.get("cap_add") or []:
        args += ["--cap-add", c]
    for c in kwargs.get("cap_drop") or []:
        args += ["--cap-drop", c]
    for o in kwargs.get("security_opt") or []:
        args += ["--security-opt", o]
    if kwargs.get("network"):
        args += ["--network", kwargs["network"]]
    rp = kwargs.get("restart_policy")
    if rp:
        args += ["--restart", rp["Name"] + (f":{rp['MaximumRetryCount']}" if rp.get("MaximumRetryCount") else "")]
    ep = kwargs.get("entrypoint")
    ep_words: list[str] = []
    if ep is not None:  # --entrypoint takes one program ("" resets it); the rest of a list goes before the command
        ep_words = shlex.split(ep) if isinstance(ep, str) else [str(e) for e in ep]
        args += ["--entrypoint", ep_words[0] if ep_words else ""]
    args.append(image)
    args += ep_words[1:]
    if command:  # the SDK splits a string command like a shell would
        args += shlex.split(command) if isinstance(command, str) else [str(c) for c in command]
    return args


def run(image: str, lesson: str, thing: str, command=None, *, replace: bool = True, client=None, **kwargs):
    """Start a container named ``dl-<ns>-<lesson>-<thing>`` with the course labels; return it.

    Keyword arguments go to ``client.containers.run`` (``ports``, ``environment``, ``mem_limit`` …);
    ``detach`` defaults to True. An earlier container of the same name is removed first (re-runnable cells).
    """
    client = client or get_client()
    name = resource_name(lesson, thing)
    lbls = dict(course_labels(lesson))
    lbls.update(kwargs.pop("labels", None) or {})
    kwargs.setdefault("detach", True)
    if replace:
        remove(name, client=client, quiet=True)
    cli(_cli_run_args(image, name, command, kwargs))
    try:
        return client.containers.run(image, command, name=name, labels=lbls, **kwargs)
    except ImageNotFound:
        raise ImageNotFound(f"image {image!r} is not on this engine: build it first, or run `dockerlab prepare`") from None
    except APIError as exc:
        msg = str(exc.explanation or exc)
        if "port is already allocated" in msg or "address already in use" in msg:
            raise RuntimeError(f"a host port asked for is taken ({msg}); pick another, e.g. lab.free_port()") from None
        raise


def remove(container_or_name, *, client=None, quiet: bool = False) -> bool:
    """Force-remove a container (and its anonymous volumes) if it exists. CLI: ``docker rm -f -v NAME``."""
    client = client or get_client()
    try:
        c = container_or_name if hasattr(container_or_name, "remove") else client.containers.get(container_or_name)
    except NotFound:
        return False
    if not quiet:
        cli("docker", "rm", "-f", "-v", c.name)
    try:
        c.remove(force=True, v=True)
    except NotFound:
        return False
    except APIError as exc:  # 409: the engine is removing it already (an auto-remove, the reaper, another cleanup)
        if exc.status_code != 409 or "already in progress" not in str(exc.explanation or ""):
            raise
        def gone() -> bool:  # once the engine's removal ends
            try:
                client.containers.get(c.id)
            except NotFound:
                return True
            return False

        with contextlib.suppress(WaitTimeout):
            wait_until(gone, timeout=30, interval=0.2, describe=f"{c.name} still being removed")
    return True


@dataclasses.dataclass
class StopResult:
    exit_code: int
    seconds: float
    oom_killed: bool

    @property
    def graceful(self) -> bool:
        """Stopped by its own SIGTERM handling (exit 0 or 143) rather than killed (137)."""
        return self.exit_code in (0, 143)


def stop(container, timeout: int = 10) -> StopResult:
    """``docker stop -t TIMEOUT``: SIGTERM, then SIGKILL after ``timeout`` s. Returns exit code and duration."""
    cli("docker", "stop", "-t", str(timeout), container.name)
    t0 = time.monotonic()
    container.stop(timeout=timeout)
    seconds = time.monotonic() - t0
    container.reload()
    st = container.attrs["State"]
    record(f"docker stop -t {timeout} {short_name(container.name)}", seconds, "s", f"exit code {st.get('ExitCode')}")
    return StopResult(st.get("ExitCode", -1), seconds, bool(st.get("OOMKilled")))


def wait_exit(container, timeout: float = 60) -> dict:
    """Wait until the container exits; return its State. Raises WaitTimeout."""
    cli("docker", "wait", container.name)
    def exited():
        container.reload()
        return container.attrs["State"] if container.status in ("exited", "dead") else None
    return wait_until(exited, timeout=timeout, interval=0.3, describe=f"{container.name} did not exit",
                      seen=lambda: f"status {container.status}")


def logs_tail(container, n: int = 20) -> str:
    try:
        return container.logs(tail=n).decode(errors="replace")
    except (APIError, NotFound):
        return "(no logs)"


def published_port(container, container_port: int | str) -> int:
    """The host port that ``container_port`` is published on."""
    container.reload()
    key = f"{container_port}/tcp" if "/" not in str(container_port) else str(container_port)
    bindings = (container.attrs["NetworkSettings"]["Ports"] or {}).get(key)
    if not bindings:
        raise RuntimeError(f"{container.name} does not publish {key}: add ports={{'{key}': free_port()}}")
    return int(bindings[0]["HostPort"])


def http_get(url_or_port, path: str = "/", timeout: float = 30, container=None, expect_status: int | None = 200) -> tuple[int, str]:
    """GET a URL (or ``http://HOST:PORT/path``), retrying until it answers or ``timeout`` s pass.

    With ``container``, stops early with ContainerExited if the container dies. Returns (status, body).
    """
    url = url_or_port if isinstance(url_or_port, str) else f"http://{host_address()}:{url_or_port}{path}"
    last = ""
    def answer() -> tuple[int, str] | None:
        nonlocal last
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.status, r.read().decode(errors="replace")
        except urllib.error.HTTPError as e:
            if expect_status is None or e.code == expect_status:
                return e.code, e.read().decode(errors="replace")
            last = f"HTTP {e.code}"
        except (urllib.error.URLError, ConnectionError, socket.timeout, OSError) as e:
            last = str(getattr(e, "reason", e))
        if container is not None:
            container.reload()
            if container.status in ("exited", "dead"):
                raise ContainerExited(f"{container.name} exited ({container.attrs['State'].get('ExitCode')}) while {url} was asked:\n{logs_tail(container)}")
        return None
    return wait_until(answer, timeout=timeout, interval=0.3, describe=f"no answer from {url}", seen=lambda: last)


def wait_for_answer(url_or_port, path: str = "/", *, until, what: str = "the expected answer", container=None,
                    timeout: float = 120, every: float = 15, evidence=None) -> tuple[float, str]:
    """GET ``path`` again and again until ``until(body)`` is true; return (the seconds it took, the body).

    For a change that takes a moment to show (a server that reloads, files that sync): every ``every`` s it prints
    what it still gets, so a slow machine shows progress; after ``timeout`` s it raises WaitTimeout with what it saw:
    the last answer, the container's last log lines and ``evidence()``, text the caller gathers (a file read in the
    container, a tool's output). No answer, an error status or ``until`` raising counts as "not yet" (a reloading
    server has short gaps); a container that exits raises ContainerExited.
    """
    url = url_or_port if isinstance(url_or_port, str) else f"http://{host_address()}:{url_or_port}{path}"
    t0, shown, last = time.monotonic(), 0.0, "no answer yet"
    def answered() -> tuple[float, str] | None:
        nonlocal last
        try:
            status, body = http_get(url, timeout=5, container=container, expect_status=None)
            last = f"HTTP {status} {short(body, 120)}"
            try:
                if status == 200 and until(body):
                    return time.monotonic() - t0, body
            except Exception as exc:  # an answer ``until`` cannot read (a debugger page): not yet
                last += f" ({type(exc).__name__}: {exc})"
        except WaitTimeout as exc:
            last = str(exc)
        return None
    def progress(waited: float) -> None:
        nonlocal shown
        if waited >= shown + every:
            shown += every
            print(f"{waited:.0f} s, still waiting for {what}: {last}", flush=True)
    try:
        return wait_until(answered, timeout=timeout, interval=0.3, on_wait=progress)
    except WaitTimeout:
        seen = [f"{what} not seen at {url} after {timeout:.0f} s", f"last answer: {last}"]
        if container is not None:
            logs = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", logs_tail(container, 10)).rstrip()
            seen.append(f"docker logs --tail 10 {container.name}:\n{logs}")
        if evidence is not None:
            seen.append(str(evidence()).rstrip())
        raise WaitTimeout("\n".join(seen)) from None
