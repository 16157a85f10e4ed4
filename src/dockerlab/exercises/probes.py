"""What a running image does, observed rather than guessed: one definition each, for every exercise check.

* :func:`helper`: a throwaway container of an image; its exit code is an answer, never a traceback.
* :func:`proc_text`, :func:`listeners`, :func:`pid1`, :func:`pid1_info`: read ``/proc`` inside a container
  (``docker exec cat``, or a helper sharing its PID and network namespaces when the image has no ``cat``):
  which address and port the app listens on, what PID 1 is, whether it catches SIGTERM.
* :func:`serve` and :func:`serves_health`: start an image with a published port and ask it; when it does not
  answer, say the observed cause (exit code and the log line, the file or module it missed, the address and
  port it really listens on).
* :func:`stop_when_ready`: time ``docker stop`` only once the app answers and has installed its handler.
* :func:`healthcheck_can_fail`: run an image's health check where the app is *not* running: it must fail.
* :func:`is_root_user` and :func:`image_uid`: root by name, by number and by what the process really is.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import re
import time

from docker.errors import DockerException

from ..errors import ContainerExited, WaitTimeout
from ..run import free_port, http_get, logs_tail, remove, wait_exit
from ..show import quiet_cli, short

SIGTERM_BIT = 1 << (15 - 1)  # SigCgt in /proc/PID/status: bit N-1 is set when signal N has a handler
SHELLS = {"sh", "bash", "dash", "ash", "zsh", "ksh", "busybox"}


# --- helper containers ------------------------------------------------------------------------------------

@dataclasses.dataclass
class Helper:
    """What a helper container did: its exit code (None: it could not start or did not finish) and output."""

    exit_code: int | None
    output: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def helper(lab, image: str, argv: list[str], *, thing: str = "check-probe", user: str | None = "0",
           system_path: bool = False, timeout: float = 60, **run_kwargs) -> Helper:
    """Run ``argv`` in a throwaway container of ``image`` (its entrypoint replaced), as ``user`` (root by default,
    so nothing is hidden by file permissions); return exit code and output. Never raises for what happens inside.
    ``system_path`` runs it with the standard PATH (for the system's tools: the image may have replaced PATH)."""
    if system_path:
        run_kwargs["environment"] = {**(run_kwargs.get("environment") or {}), "PATH": SYSTEM_PATH}
    with quiet_cli():  # a probe of the check, not a step of the learner's: its table is the output
        try:
            c = lab.run(image, thing, argv[1:], entrypoint=[argv[0]], user=user, **run_kwargs)
        except (DockerException, RuntimeError) as exc:
            return Helper(None, f"the container did not start: {short(getattr(exc, 'explanation', None) or exc, 300)}")
        try:
            state = wait_exit(c, timeout=timeout)
            return Helper(state.get("ExitCode"), c.logs().decode(errors="replace"))
        except WaitTimeout:
            return Helper(None, f"still running after {timeout:.0f} s: {logs_tail(c, 5)}")
        finally:
            remove(c, client=lab.client, quiet=True)


def _exec(container, argv: list[str]) -> Helper:
    try:
        res = container.exec_run(argv)
    except DockerException as exc:  # not running, or no such executable
        return Helper(None, str(exc))
    return Helper(res.exit_code, res.output.decode(errors="replace"))


def proc_text(container, path: str, lab=None) -> str | None:
    """The content of ``path`` (under /proc) as the container sees it: ``docker exec NAME cat PATH`` (asked up to
    three times while the container runs); without ``cat`` in the image, a helper that shares the container's PID
    and network namespaces reads it."""
    for attempt in range(3):  # a `docker exec` can fail on a busy engine: ask again while the container runs
        res = _exec(container, ["cat", path])
        if res.ok:
            return res.output
        if res.exit_code in (126, 127) or "executable file not found" in res.output or attempt == 2:
            break  # no cat in the image: the helper below reads it
        try:
            container.reload()
        except DockerException:
            break
        if container.status != "running":
            break
        time.sleep(0.3)
    if lab is None:
        return None
    res = helper(lab, lab.base("python"), ["cat", path], thing="check-proc", network_mode=f"container:{container.id}",
                 pid_mode=f"container:{container.id}", timeout=30)
    return res.output if res.ok else None


# --- what the process does ----------------------------------------------------------------------------------

def _address(hexaddr: str) -> str:
    raw = bytes.fromhex(hexaddr)
    # /proc/net/tcp{,6} print each 32-bit word of the address in host (little-endian) byte order
    raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(raw))


def parse_listeners(text: str) -> list[tuple[str, int]]:
    """(address, port) of every listening TCP socket in /proc/net/tcp and /proc/net/tcp6 text."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) > 3 and parts[3] == "0A" and ":" in parts[1]:  # 0A: TCP_LISTEN
            addr, port = parts[1].split(":")
            out.append((_address(addr), int(port, 16)))
    return sorted(set(out), key=lambda a: (a[1], a[0]))


def listeners(container, lab=None) -> list[tuple[str, int]]:
    """Where the container's processes listen: (address, port) pairs read from its /proc/net/tcp and tcp6."""
    text = "\n".join(t for t in (proc_text(container, p, lab) for p in ("/proc/net/tcp", "/proc/net/tcp6")) if t)
    return parse_listeners(text)


def describe_listeners(found: list[tuple[str, int]], port: int) -> tuple[str, str]:
    """(kind, sentence) for what the app listens on, compared with the ``port`` it should answer on."""
    def fmt(a, p):
        return f"[{a}]:{p}" if ":" in a else f"{a}:{p}"
    seen = ", ".join(fmt(a, p) for a, p in found)
    on_port = [a for a, p in found if p == port]
    if not found:
        return "not_listening", "nothing in the container listens on any TCP port"
    if on_port and all(ipaddress.ip_address(a).is_loopback for a in on_port):
        return "loopback", (f"the app listens on {seen}: on port {port} only the container's own loopback "
                            f"({on_port[0]}), which a published port cannot reach")
    if not on_port:
        return "other_port", f"the app listens on {seen}, not on port {port}"
    return "listening", f"the app listens on {seen}"


@dataclasses.dataclass
class Pid1:
    cmdline: str
    uid: int | None
    catches_term: bool | None  # None: could not read

    @property
    def is_shell(self) -> bool:
        words = self.cmdline.split()
        return bool(words) and words[0].rsplit("/", 1)[-1] in SHELLS


def pid1_info(container, lab=None) -> Pid1:
    """PID 1 of a running container: its command line, uid, and whether it has a SIGTERM handler (SigCgt)."""
    cmd = proc_text(container, "/proc/1/cmdline", lab) or ""
    status = proc_text(container, "/proc/1/status", lab) or ""
    uid = re.search(r"^Uid:\s+(\d+)", status, re.M)
    cgt = re.search(r"^SigCgt:\s+([0-9a-f]+)", status, re.M)
    return Pid1(cmd.replace("\x00", " ").strip(), int(uid.group(1)) if uid else None,
                bool(int(cgt.group(1), 16) & SIGTERM_BIT) if cgt else None)


def pid1(container) -> str:
    """The command line of PID 1 in a running container (``docker exec NAME cat /proc/1/cmdline``)."""
    return pid1_info(container).cmdline


def is_root_user(user: str | None) -> bool:
    """Config.User as the image sets it: '' / 'root' / '0' / '0:0' / 'root:root' / '0:1000' mean root; '10001',
    'app' or '10001:10001' do not (a name can still map to uid 0: :func:`image_uid` tells)."""
    name = (user or "").split(":", 1)[0].strip()
    return name in ("", "root", "0")


def image_uid(lab, image: str, thing: str = "check-uid") -> tuple[int | None, str]:
    """The uid a container of ``image`` runs as (as the image's own USER), and how it was seen."""
    res = helper(lab, image, ["cat", "/proc/self/status"], thing=thing, user=None, timeout=30)
    m = re.search(r"^Uid:\s+(\d+)", res.output, re.M)
    if m:
        return int(m.group(1)), f"a container of the image runs as uid {m.group(1)}"
    return None, f"could not read the uid in a container of the image ({short(res.output, 160)})"


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
    deadline = time.monotonic() + timeout
    try:
        while True:
            out.status, out.body = http_get(host_port, path, timeout=max(1.0, deadline - time.monotonic()),
                                            container=container, expect_status=None)
            if out.status == want or time.monotonic() > deadline:
                break
            time.sleep(0.5)
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
    code = ("import time, urllib.request as u\n"
            f"end = time.monotonic() + {float(wait)}\n"
            "while True:\n"
            "    try:\n"
            f"        r = u.urlopen('http://127.0.0.1:{port}{path}', timeout=3)\n"
            "        print(r.status, r.read(200).decode(errors='replace')); break\n"
            "    except Exception:\n"
            "        if time.monotonic() > end: raise\n"
            "        time.sleep(0.5)\n")
    res = helper(lab, lab.base("python"), ["python3", "-c", code], thing="check-inside",
                 network_mode=f"container:{container.id}", timeout=30 + wait)
    return res.ok, short(res.output.strip().splitlines()[-1] if res.output.strip() else f"exit {res.exit_code}", 120)


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
    info = pid1_info(container, lab)
    deadline = time.monotonic() + 2
    while ready and info.catches_term is not True and time.monotonic() < deadline:
        time.sleep(0.2)
        again = pid1_info(container, lab)
        # A `docker exec` can fail on a loaded engine: keep the last reading that saw PID 1's signal mask.
        if again.catches_term is not None or info.catches_term is None:
            info = again
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
        res = _exec(c, ["timeout", str(timeout), *argv])
        if res.exit_code in (126, 127) and "timeout" in res.output:  # no coreutils timeout in the image
            res = _exec(c, argv)
    finally:
        remove(c, client=lab.client, quiet=True)
    shown = short(" ".join(argv[2:] if argv[:2] == ["/bin/sh", "-c"] else argv), 100)
    if res.exit_code is None:
        return None, f"could not run the health check in an idle container: {short(res.output, 200)}"
    if res.exit_code == 0:
        return False, (f"the health check `{shown}` exits 0 in a container where the app is not running: it reports "
                       "healthy whatever the app does")
    return True, f"with the app not running, the health check `{shown}` exits {res.exit_code} (unhealthy), as it must"
