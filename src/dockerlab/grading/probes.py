"""What a running image does, observed rather than guessed: one definition each, for every exercise check.

* :func:`helper`: a throwaway container of an image; its exit code is an answer, never a traceback.
* :func:`measure`: a helper whose output the check needs (a size, a package list): asked again when the engine
  could not start or finish it, and an error, never an empty answer, when it still fails.
* :func:`proc_text`, :func:`listeners`, :func:`pid1`, :func:`pid1_info`: read ``/proc`` inside a container
  (``docker exec cat``, or a helper sharing its PID and network namespaces when the image has no ``cat``):
  which address and port the app listens on, what PID 1 is, whether it catches SIGTERM.
* serving an image, stopping it once ready, health checks that must be able to fail: :mod:`.serving`.
* :func:`is_root_user` and :func:`image_uid`: root by name, by number and by what the process really is.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import re
import time

from docker.errors import DockerException

from dockerlab.errors import WaitTimeout
from dockerlab.run import logs_tail, remove, wait_exit
from dockerlab.show import quiet_cli, short

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


class ProbeFailed(RuntimeError):
    """A measurement of the check's own (not the learner's program) failed twice: the line says so."""


def measure(lab, image: str, argv: list[str], *, thing: str, complete=None, tries: int = 2, **kwargs) -> Helper:
    """:func:`helper` for a measurement the check needs (exit code 0 expected, and ``complete(output)`` true when
    given): asked again when the engine could not start or finish the helper or its output came back cut short (a
    busy engine waits at most 2 s for a container's output to be copied once it exits: moby's daemon/monitor.go),
    :class:`ProbeFailed` when it still fails. An empty or partial answer taken as a measurement would move a budget
    silently (0 bytes for the base's site-packages passes an image the budget should fail)."""
    res = Helper(None, "not run")
    for attempt in range(tries):
        res = helper(lab, image, argv, thing=thing, **kwargs)
        if res.ok and (complete is None or complete(res.output)):
            return res
        if attempt + 1 < tries:
            time.sleep(1)
    what = f"exit code {res.exit_code}" if not res.ok else "its output was incomplete"
    raise ProbeFailed(f"measuring inside {short(image, 80)} failed twice ({what}): {short(res.output, 200)}")


def exec_argv(container, argv: list[str]) -> Helper:
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
        res = exec_argv(container, ["cat", path])
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


def proc_status(container, lab=None, pid: int = 1) -> dict[str, str]:
    """``/proc/PID/status`` of a running container as {field: value} (Uid, CapEff, CapBnd, NoNewPrivs …); {} when
    it could not be read."""
    text = proc_text(container, f"/proc/{pid}/status", lab) or ""
    return {k.strip(): v.strip() for k, sep, v in (line.partition(":") for line in text.splitlines()) if sep}


# Capability bit numbers (linux/capability.h): CapEff, CapBnd … of /proc/PID/status are masks of these bits.
CAPS = ["chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid", "setpcap",
        "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw", "ipc_lock", "ipc_owner",
        "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct", "sys_admin", "sys_boot", "sys_nice",
        "sys_resource", "sys_time", "sys_tty_config", "mknod", "lease", "audit_write", "audit_control", "setfcap",
        "mac_override", "mac_admin", "syslog", "wake_alarm", "block_suspend", "audit_read", "perfmon", "bpf",
        "checkpoint_restore"]


def cap_names(mask: str) -> list[str]:
    """The capabilities of a /proc/PID/status mask (``"00000000a80425fb"`` -> ``["chown", …]``)."""
    bits = int(mask or "0", 16)
    return [name for bit, name in enumerate(CAPS) if bits >> bit & 1]


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
