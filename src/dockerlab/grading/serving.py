"""Serving an image and asking it, as a user of the image would; stopping it once ready; health checks that can fail.

* :func:`serve` and :func:`serves_health`: start an image with a published port and ask it; when it does not
  answer, say the observed cause (exit code and the log line, the file or module it missed, the address and
  port it really listens on). Asking until it answers, failing fast: :mod:`.asking`.
* :func:`stop_when_ready`: time ``docker stop`` only once the app answers and has installed its handler.
* :func:`healthcheck_can_fail`: run an image's health check where the app is *not* running: it must fail.
"""
from __future__ import annotations

import contextlib
import dataclasses
import re
import time

from docker.errors import DockerException

from dockerlab.errors import ContainerExited, WaitTimeout
from dockerlab.grading.probes import (Pid1, describe_listeners, exec_argv, helper, listeners, pid1_info)
from dockerlab.run import free_port, http_get, logs_tail, remove
from dockerlab.show import quiet_cli, short
from dockerlab.waiting import wait_until


# --- serving -------------------------------------------------------------------------------------------------

FIXES = {
    "module": "install the dependencies in the image: COPY requirements.txt, then RUN pip install -r requirements.txt",
    "file": "CMD names a file or module that is not in the image: copy the code (COPY . .) and start the file it has",
    "env": "set the variable the app reads (docker run -e NAME=value, or ENV NAME=value in the Dockerfile)",
    "bind_denied": "ports below 1024 need a capability a non-root user does not have: listen on 8000",
    "read_only": "write only to /tmp (a tmpfs) or a mounted volume: the root filesystem is read-only",
    "exited": "read the log lines: the app must keep running and serve",
    "not_started": "the container could not start: CMD/ENTRYPOINT must name a program the image has",
    "loopback": "listen on every interface inside the container (0.0.0.0), not on 127.0.0.1",
    "other_port": "listen on the port the image is published on",
    "not_listening": "start the web server (CMD) so that it listens on 0.0.0.0",
    "listening": "the app listens but did not answer in time: look at its logs",
    "http": "answer 200 on the health endpoint",
}


def explain_exit(code, logs: str) -> tuple[str, str]:
    """(kind, cause) of a container that exited, from its exit code and the last log lines."""
    lines = [l.strip() for l in logs.strip().splitlines() if l.strip()]
    tail = short(lines[-1], 120) if lines else "no log output"
    m = re.search(r"can't open file '([^']+)'|Could not import '([^']+)'|No such file or directory: '([^']+)'"
                  r"|([\w./-]+): No such file or directory", logs)
    if m:
        what = next(g for g in m.groups() if g)
        return "file", f"the container exited with code {code}: `{what}` is not in the image ({tail})"
    m = re.search(r"No module named '?([\w.]+)'?", logs)
    if m:
        return "module", f"the container exited with code {code}: python cannot import `{m.group(1)}` ({tail})"
    m = re.search(r"KeyError: '?(\w+)'?", logs)
    if m:
        return "env", f"the container exited with code {code}: environment variable {m.group(1)} is not set ({tail})"
    if "Permission denied" in logs and re.search(r"bind|listen|socket|Errno 13", logs):
        return "bind_denied", f"the container exited with code {code}: binding its port was refused ({tail})"
    if "Read-only file system" in logs:
        return "read_only", f"the container exited with code {code}: it writes to the read-only filesystem ({tail})"
    return "exited", f"the container exited with code {code} ({short(lines[-1], 160) if lines else tail})"


@dataclasses.dataclass
class Served:
    """What :func:`serve` saw: an answer, or the observed cause why there was none."""

    container: object | None
    host_port: int
    port: int
    path: str
    status: int | None = None
    body: str = ""
    kind: str = "ok"  # ok, http, module, file, env, bind_denied, read_only, exited, not_started, loopback, …
    cause: str = ""
    logs: str = ""
    listening: list = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.kind == "ok"

    @property
    def fix(self) -> str:
        return FIXES.get(self.kind, "")

    @property
    def port_taken(self) -> bool:
        """The container did not start because the host port the check picked was taken meanwhile (not the answer's
        fault: the check's own failure)."""
        return self.kind == "not_started" and bool(re.search(r"port asked for is taken|already (allocated|in use)",
                                                             self.cause))


def serve(lab, image: str, thing: str, *, port: int = 8000, path: str = "/health", timeout: float = 30,
          want: int = 200, **run_kwargs) -> Served:
    """Start ``image`` with ``port`` published on a free host port, GET ``path`` until it answers ``want`` (or
    ``timeout`` s pass). Never raises for what the app does. The container is left running (remove it)."""
    host_port = free_port()
    try:
        container = lab.run(image, thing, ports={f"{port}/tcp": host_port}, **run_kwargs)
    except (DockerException, RuntimeError) as exc:
        return Served(None, host_port, port, path, kind="not_started",
                      cause=f"the container did not start: {short(getattr(exc, 'explanation', None) or exc, 240)}")
    out = Served(container, host_port, port, path)
    end, no_answer = time.monotonic() + timeout, []

    def answers_want() -> bool:
        try:
            out.status, out.body = http_get(host_port, path, timeout=max(1.0, end - time.monotonic()),
                                            container=container, expect_status=None)
        except WaitTimeout:  # no answer at all: judged below as such
            no_answer.append(True)
            raise
        return out.status == want

    try:
        try:
            wait_until(answers_want, timeout=timeout, interval=0.5, describe=f"GET {path} did not answer {want}")
        except WaitTimeout:
            if no_answer:
                raise
        if out.status != want:
            out.kind, out.cause = "http", f"GET {path} on port {port} answered HTTP {out.status}: {short(out.body, 100)}"
    except ContainerExited:
        container.reload()
        out.logs = logs_tail(container, 20)
        out.kind, out.cause = explain_exit(container.attrs["State"].get("ExitCode"), out.logs)
    except WaitTimeout:
        out.logs = logs_tail(container, 5)
        out.listening = listeners(container, lab)
        out.kind, out.cause = describe_listeners(out.listening, port)
        out.cause = f"no answer to GET {path} on port {port} within {timeout:.0f} s: {out.cause}"
    return out


def serves_health(lab, checker, image: str, *, name: str = "serves /health", thing: str = "check-serve",
                  port: int = 8000, path: str = "/health", timeout: float = 30, fixes: dict | None = None,
                  keep: bool = False, **run_kwargs) -> Served:
    """:func:`serve`, recorded on ``checker`` as one line: the answer, or the observed cause with its fix
    (``fixes`` maps a cause's kind to this lesson's own words). The container is removed unless ``keep``."""
    served = serve(lab, image, thing, port=port, path=path, timeout=timeout, **run_kwargs)
    try:
        if served.ok:
            checker.ok(name, f"GET {path} on port {port} -> HTTP {served.status}: {short(served.body, 60)}")
        else:
            checker.fail(name, served.cause, (fixes or {}).get(served.kind) or served.fix)
    finally:
        if not keep and served.container is not None:
            remove(served.container, client=lab.client, quiet=True)
    return served


def answers_inside(lab, container, port: int = 8000, path: str = "/health", wait: float = 0) -> tuple[bool, str]:
    """Does ``path`` answer 200 on 127.0.0.1:``port`` inside the container's own network namespace? (a helper
    that shares it asks, so the image needs no HTTP client and no published port). ``wait``: keep asking for
    that many seconds while the app is not answering yet (a container that runs is not yet an app that listens)."""
    return until_inside(lab, container, port, path, ok=True, wait=wait)


def until_inside(lab, container, port: int = 8000, path: str = "/health", *, ok: bool = True,
                 wait: float = 0) -> tuple[bool, str]:
    """Ask ``path`` on 127.0.0.1:``port`` inside the container's network namespace, every half second for at most
    ``wait`` seconds, until it answers 200 (``ok=True``) or anything but 200 (``ok=False``: a 503, no answer).
    Returns whether it did, and the last answer (``503 {"status": …}``, or the error), one helper container in all."""
    code = ("import time, urllib.error as e, urllib.request as u\n"
            f"end = time.monotonic() + {float(wait)}\n"
            "while True:\n"
            "    try:\n"
            f"        r = u.urlopen('http://127.0.0.1:{port}{path}', timeout=3)\n"
            "        status, said = r.status, r.read(200).decode(errors='replace')\n"
            "    except e.HTTPError as x:\n"
            "        status, said = x.code, x.read(200).decode(errors='replace')\n"
            "    except Exception as x:\n"
            "        status, said = None, f'no answer: {type(x).__name__}: {x}'\n"
            f"    if (status == 200) == {bool(ok)} or time.monotonic() > end:\n"
            "        print(status if status is not None else '', said.strip(), flush=True)\n"
            f"        raise SystemExit(0 if (status == 200) == {bool(ok)} else 1)\n"
            "    time.sleep(0.5)\n")
    res = helper(lab, lab.base("python"), ["python3", "-c", code], thing="check-inside",
                 network_mode=f"container:{container.id}", timeout=30 + wait)
    return res.ok, short(res.output.strip().splitlines()[-1].strip() if res.output.strip() else f"exit {res.exit_code}",
                         120)


# --- stopping ----------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Stopped:
    exit_code: int
    seconds: float
    ready: bool  # the app answered (and PID 1's handler was read) before the stop was sent
    pid1: Pid1

    @property
    def graceful(self) -> bool:
        return self.exit_code in (0, 143)

    def why_killed(self, timeout: int) -> str:
        """Why SIGTERM did not stop the container (exit 137), from what PID 1 was."""
        p = self.pid1
        if p.is_shell:
            return (f"PID 1 is `{short(p.cmdline, 80)}`, a shell (shell-form CMD): it does not pass SIGTERM on "
                    "to python")
        if p.catches_term is False:
            return (f"PID 1 is `{short(p.cmdline, 80)}` and nothing handled SIGTERM (it has no handler, and as "
                    "PID 1 a process without one ignores SIGTERM)")
        return f"PID 1 (`{short(p.cmdline, 80)}`) did not exit within the {timeout} s stop timeout"


def stop_when_ready(lab, container, *, host_port: int | None = None, path: str = "/health", timeout: int = 10,
                    ready_timeout: float = 30) -> Stopped:
    """``docker stop -t TIMEOUT``, timed only once the app is ready: it answers ``path`` on ``host_port`` (any
    HTTP status) and PID 1 has installed its SIGTERM handler (given 2 s to, after the first answer). A stop
    sent before would race the program, and judge its start-up instead of its shutdown. PID 1 is read again
    when a read fails, so a kill is explained by what PID 1 was, not by a busy engine."""
    ready = True
    if host_port is not None:
        try:
            http_get(host_port, path, timeout=ready_timeout, container=container, expect_status=None)
        except (WaitTimeout, ContainerExited):
            ready = False
    info: Pid1 | None = None

    def handler_installed() -> bool:  # read once when the app is not ready; else again for up to 2 s
        nonlocal info
        again = pid1_info(container, lab)
        # A `docker exec` can fail on a loaded engine: keep the last reading that saw PID 1's signal mask.
        if info is None or again.catches_term is not None or info.catches_term is None:
            info = again
        return not ready or info.catches_term is True

    with contextlib.suppress(WaitTimeout):  # no handler after 2 s: the stop shows what that means
        wait_until(handler_installed, timeout=2, interval=0.2)
    res = lab.stop(container, timeout=timeout)
    return Stopped(res.exit_code, res.seconds, ready, info)


# --- health checks ---------------------------------------------------------------------------------------------

def healthcheck_argv(test: list[str] | None) -> list[str]:
    """The command a HEALTHCHECK test runs (``CMD`` exec form, or ``CMD-SHELL`` through /bin/sh -c); [] for none."""
    if not test or test[0] == "NONE":
        return []
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])]
    return list(test[1:]) if test[0] == "CMD" else list(test)


def healthcheck_can_fail(lab, image: str, test: list[str] | None = None, *, thing: str = "check-idle",
                         timeout: int = 20, **run_kwargs) -> tuple[bool | None, str]:
    """Run the image's health check (or ``test``) in a container of it where the app is *not* running (its
    entrypoint replaced by ``sleep``): a check that still succeeds can never report unhealthy.

    Returns (True: it fails there as it must, False: it passes anyway, None: could not tell) and what was seen.
    """
    if test is None:
        img = lab.client.images.get(image)
        test = ((img.attrs.get("Config") or {}).get("Healthcheck") or {}).get("Test")
    argv = healthcheck_argv(test)
    if not argv:
        return None, "no health check to try"
    try:
        with quiet_cli():
            c = lab.run(image, thing, [str(timeout * 6)], entrypoint=["sleep"], **run_kwargs)
    except (DockerException, RuntimeError) as exc:
        return None, f"could not start an idle container of the image: {short(exc, 200)}"
    try:
        res = exec_argv(c, ["timeout", str(timeout), *argv])
        if res.exit_code in (126, 127) and "timeout" in res.output:  # no coreutils timeout in the image
            res = exec_argv(c, argv)
    finally:
        remove(c, client=lab.client, quiet=True)
    shown = short(" ".join(argv[2:] if argv[:2] == ["/bin/sh", "-c"] else argv), 100)
    if res.exit_code is None:
        return None, f"could not run the health check in an idle container: {short(res.output, 200)}"
    if res.exit_code == 0:
        return False, (f"the health check `{shown}` exits 0 in a container where the app is not running: it reports "
                       "healthy whatever the app does")
    return True, f"with the app not running, the health check `{shown}` exits {res.exit_code} (unhealthy), as it must"
