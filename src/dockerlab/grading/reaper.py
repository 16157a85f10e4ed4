"""Remove what a lesson left once the kernel that ran it has ended, however it ended.

A failed check stops "Run All" before the notebook's last cell (``lab.cleanup()``): what the exercise started
stays for the learner to inspect, and must go when the kernel ends. An ``atexit`` handler in the kernel cannot
promise that. Jupyter (jupyter_client's ``KernelManager.shutdown_kernel``, behind JupyterLab's "Shut Down" and
"Restart", nbclient and papermill) asks the kernel to shut down, sends SIGTERM to its process group after half of
``shutdown_wait_time`` (5 s by default) and SIGKILL at the end of it: a cleanup that waits on a busy engine is cut
off, and a kernel that is killed, or dies, runs none.

So a failed check starts a small watcher, once per (lesson, namespace) in a kernel (:func:`watch`)::

    python -m dockerlab.grading.reaper --pid <kernel pid> --lesson 12_debugging --ns alice

It runs in a session of its own (the signals Jupyter sends to the kernel's process group, and ipykernel's
termination of the children in its group at shutdown, do not reach it), without a terminal (stdio to
/dev/null), and with the kernel's Docker settings (``DOCKER_HOST`` and TLS, :func:`dockerlab.engine.client_env`).
Every half second it looks whether the kernel is still there; once it is gone (shut down, restarted, SIGKILLed,
crashed) it removes the lesson's containers, networks and volumes in that namespace, quietly, and ends. The
kernel itself does no cleanup at exit, so its shutdown is not slowed. Images stay (labelled; the next
``Lesson(...)`` or ``dockerlab clean`` removes them). A watcher gives up after 24 hours; the next ``Lesson(...)``
of that lesson, or ``dockerlab clean``, removes what is left then.

``Lesson(...)`` first waits for the watchers of its lesson whose kernel has ended (:func:`settle`), so that a
restarted kernel's first containers are not removed by the watcher of the kernel before it.

Linux and macOS (and Windows, where the watcher is a detached process of its own group). CLI twin of what the
watcher removes: ``docker rm -f -v $(docker ps -aq --filter label=org.dockerlab.lesson=12 --filter
label=org.dockerlab.namespace=alice)``, and the same for ``docker network rm`` and ``docker volume rm``.
"""
from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import sys
import time
from pathlib import Path

import psutil

from dockerlab import tools
from dockerlab.engine import client_env
from dockerlab.errors import ToolFailed, WaitTimeout
from dockerlab.namespace import namespace
from dockerlab.waiting import wait_until

KINDS = ("containers", "networks", "volumes")  # images stay: they are labelled, and removing them is slow
POLL = 0.5  # seconds between two looks at the kernel
MAX_HOURS = 24.0  # a watcher whose kernel lives longer gives up (nothing removed)
MODULE = "dockerlab.grading.reaper"  # python -m MODULE (not __name__: that is "__main__" in the watcher)

_WATCHERS: dict[tuple[str, str], tools.Process] = {}  # this process's watchers, by (lesson, namespace)
_AT_EXIT: set[tuple[str, str]] = set()  # fallback when no watcher could be started


def watch(lesson: str, ns: str | None = None) -> None:
    """When this process (the kernel) ends, however it ends, remove the containers, networks and volumes ``lesson``
    created in namespace ``ns``: the cleanup its last cell did not get to run. Starts one watcher per (lesson,
    namespace); calling again while it runs does nothing. Should the system refuse a process, the cleanup runs
    at this process's normal exit instead (as before: not after a kill)."""
    key = (lesson, ns or namespace())
    running = _WATCHERS.get(key)
    if running is not None and running.poll() is None:
        return
    try:
        _WATCHERS[key] = _spawn(command(os.getpid(), *key), watcher_env())
    except (ToolFailed, OSError):
        if key not in _AT_EXIT:
            _AT_EXIT.add(key)
            atexit.register(clean, *key, attempts=1)


def command(pid: int, lesson: str, ns: str) -> list[str]:
    """The watcher's command line: this Python, ``-m dockerlab.grading.reaper --pid PID --lesson LESSON --ns NS``."""
    return [sys.executable, "-m", MODULE, "--pid", str(pid), "--lesson", lesson, "--ns", ns]


def watcher_env() -> dict[str, str]:
    """This process's environment, with the Docker settings of its client (the engine its objects are on, not a
    target engine of lesson 14)."""
    return tools.environment(client_env())


def _spawn(cmd: list[str], env: dict[str, str]) -> tools.Process:
    """Start ``cmd`` detached (:func:`dockerlab.tools.start`): a session (process group) of its own, no terminal,
    ``env`` its whole environment, started from the folder that holds the dockerlab package (``-m`` finds it there,
    and nothing in the notebook's folder can shadow a module)."""
    return tools.start(cmd, env=env, inherit=False, cwd=str(Path(__file__).resolve().parents[2]), detached=True)


def clean(lesson: str, ns: str, attempts: int = 3) -> bool:
    """Remove the lesson's containers, networks and volumes in ``ns``; errors are swallowed (a busy or restarting
    engine gets ``attempts`` tries, 2 s apart). True once a cleanup went through."""
    for attempt in range(attempts):
        try:
            from dockerlab.cleanup import cleanup

            cleanup(lesson, ns=ns, quiet=True, kinds=KINDS)
            return True
        except Exception:  # noqa: BLE001 - nobody to tell; the next Lesson(...) or dockerlab clean cleans anyway
            if attempt + 1 < attempts:
                time.sleep(2)
    return False


def _process(pid: int, born_before: float) -> psutil.Process | None:
    """The process ``pid`` if it is there and was started before ``born_before`` (a process started later that
    got the same number is not the kernel), else None."""
    try:
        proc = psutil.Process(pid)
        return proc if proc.create_time() <= born_before else None
    except psutil.NoSuchProcess:
        return None


def _alive(proc: psutil.Process) -> bool:
    """Still running: not ended, not a zombie (ended, its parent has not collected it yet)."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def wait_and_clean(pid: int, lesson: str, ns: str, *, poll: float = POLL, max_hours: float = MAX_HOURS) -> bool:
    """The watcher: wait until process ``pid`` is gone, then :func:`clean`. False if it outlived ``max_hours``
    (nothing removed)."""
    kernel = _process(pid, psutil.Process().create_time())
    try:
        wait_until(lambda: kernel is None or not _alive(kernel), timeout=max_hours * 3600, interval=poll)
    except WaitTimeout:
        return False
    return clean(lesson, ns)


def watchers(lesson: str | None = None, ns: str | None = None) -> list[dict]:
    """The watchers running on this machine (of ``lesson`` and ``ns`` if given): ``{"process", "pid" (the kernel's),
    "lesson", "ns", "kernel_alive"}`` each."""
    out = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info.get("cmdline") or []
        if MODULE not in cmd or "-m" not in cmd or cmd.index(MODULE) != cmd.index("-m") + 1:
            continue
        args = dict(zip(cmd[cmd.index(MODULE) + 1::2], cmd[cmd.index(MODULE) + 2::2]))
        try:
            entry = {"process": proc, "pid": int(args.get("--pid", "0")), "lesson": args.get("--lesson"),
                     "ns": args.get("--ns")}
            kernel = _process(entry["pid"], proc.create_time())
        except (ValueError, psutil.Error):
            continue
        if (lesson is None or entry["lesson"] == lesson) and (ns is None or entry["ns"] == ns):
            out.append(entry | {"kernel_alive": kernel is not None and _alive(kernel)})
    return out


def settle(lesson: str | None = None, ns: str | None = None, timeout: float = 60) -> list[str]:
    """Wait (at most ``timeout`` s) until no watcher of ``lesson`` and ``ns`` whose kernel has ended is still
    cleaning. Returns those still running at the deadline (``"12_debugging/alice (pid 123)"``), else []."""
    busy: list[dict] = []

    def idle() -> bool:
        nonlocal busy
        busy = [w for w in watchers(lesson, ns) if not w["kernel_alive"] and _alive(w["process"])]
        return not busy

    with contextlib.suppress(WaitTimeout):  # those still cleaning are the answer
        wait_until(idle, timeout=timeout, interval=0.25)
    return [f"{w['lesson']}/{w['ns']} (pid {w['process'].pid})" for w in busy]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.splitlines()[0])
    parser.add_argument("--pid", type=int, required=True, help="the kernel's process id")
    parser.add_argument("--lesson", required=True)
    parser.add_argument("--ns", required=True, help="the namespace")
    parser.add_argument("--max-hours", type=float, default=MAX_HOURS, help="give up after this long")
    args = parser.parse_args(argv)
    wait_and_clean(args.pid, args.lesson, args.ns, max_hours=args.max_hours)
    return 0


if __name__ == "__main__":
    sys.exit(main())
