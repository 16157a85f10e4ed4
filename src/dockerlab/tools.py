"""The one gateway to the programs the package starts: ``docker`` (build, buildx, compose, save, load, import),
``cosign``, ``hadolint``, ``debootstrap``, ``uv``, ``python -m …``. Nothing else in the package starts a process.

* :func:`run`: run to the end and return a :class:`subprocess.CompletedProcess` (output captured as text, or bytes);
* :func:`start`: a :class:`Process` whose output is read while it runs (``docker build --progress=rawjson``,
  ``docker compose watch``), or a detached one (the reaper's watcher);
* :func:`pipe`: ``SOURCE | SINK`` (``docker save | docker load``).

One timeout policy: every call has a time limit, :data:`DEFAULT_TIMEOUT` unless the caller gives its own
(``timeout=None``: none, for a caller that keeps its own deadline). One error: a program that is missing, runs out
of time, or (``check=True``) exits non-zero raises :class:`dockerlab.errors.ToolFailed` with the command, the exit
code and the last lines of its output; callers turn it into their own error where that says more (BuildFailed,
ComposeError, EngineFailed, …). The child's environment is this process's, plus the variables of the target engine
(:func:`dockerlab.settings.target_engine`: lesson 14's helper engine), plus the call's ``env`` (None: removed).

This module prints nothing: the CLI twin a learner may paste is printed by the caller, as before.
"""
from __future__ import annotations

import os
import queue
import shutil
import subprocess
import threading
import time
from typing import IO, Iterator, Mapping, Sequence

from dockerlab import settings
from dockerlab.errors import ToolFailed

DEFAULT_TIMEOUT = 600.0  # seconds; longer jobs (a build, a bundle of images) say how long they may take
Completed = subprocess.CompletedProcess
DEVNULL = subprocess.DEVNULL


def environment(env: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """The environment of a program the package starts: this process's, the target engine's variables, then ``env``
    (a value of None removes that variable)."""
    out = dict(os.environ)
    out.update(settings.engine_env())
    for key, value in (env or {}).items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = str(value)
    return out


def _decode(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


def _not_started(cmd: list[str], exc: OSError) -> ToolFailed:
    if isinstance(exc, FileNotFoundError) and shutil.which(cmd[0]) is None:
        return ToolFailed(cmd, missing=True)
    return ToolFailed(cmd, why=str(exc))


def failure(proc: subprocess.CompletedProcess, why: str = "") -> ToolFailed:
    """The error for a finished run the caller judged failed (``raise tools.failure(proc)``)."""
    return ToolFailed(proc.args, exit_code=proc.returncode, stdout=_decode(proc.stdout), stderr=_decode(proc.stderr),
                      why=why)


def run(args: Sequence[str], *, timeout: float | None = DEFAULT_TIMEOUT, check: bool = False,
        env: Mapping[str, str | None] | None = None, cwd=None, input: str | bytes | None = None,
        stdin: IO | int | None = None, text: bool = True, merge: bool = False) -> subprocess.CompletedProcess:
    """Run ``args`` to the end; stdout and stderr are captured (``merge``: stderr into stdout), as text unless
    ``text=False``. Raises ToolFailed when the program is missing or outlives ``timeout``, and with ``check`` when
    it exits non-zero. ``input`` is written to its stdin; ``stdin`` is a file or pipe to read from instead."""
    cmd = [str(a) for a in args]
    options: dict = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT if merge else subprocess.PIPE,
                     "env": environment(env), "cwd": cwd, "timeout": timeout}
    if input is not None:
        options["input"] = input
    else:
        options["stdin"] = stdin if stdin is not None else DEVNULL
    if text:
        options.update(text=True, encoding="utf-8", errors="replace")
    try:
        proc = subprocess.run(cmd, **options)
    except subprocess.TimeoutExpired as exc:
        raise ToolFailed(cmd, stdout=_decode(exc.stdout), stderr=_decode(exc.stderr), timeout=timeout) from None
    except OSError as exc:
        raise _not_started(cmd, exc) from None
    if check and proc.returncode != 0:
        raise failure(proc)
    return proc


class Process:
    """A program running in the background (:func:`start`): read :attr:`stdout` while it runs, or iterate
    :meth:`lines`; :meth:`stop` ends it (SIGTERM, then SIGKILL)."""

    def __init__(self, popen: subprocess.Popen, command: list[str]):
        self.popen, self.command = popen, command
        self.stdout = popen.stdout

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        return self.popen.returncode

    def poll(self) -> int | None:
        return self.popen.poll()

    def wait(self, timeout: float | None = None) -> int:
        """Its exit code once it ended; ToolFailed when it is still running after ``timeout`` s."""
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ToolFailed(self.command, timeout=timeout) from None

    def lines(self, timeout: float | None = DEFAULT_TIMEOUT, tick: float = 0.5) -> Iterator[str]:
        """Its output line by line (with the newline), and ``""`` every ``tick`` s without one (time to redraw a
        display). Past ``timeout`` s the program is killed and ToolFailed raised with its last lines."""
        q: queue.Queue = queue.Queue()

        def reader():
            for line in self.stdout:  # type: ignore[union-attr]
                q.put(line)
            q.put(None)

        threading.Thread(target=reader, daemon=True).start()
        seen: list[str] = []
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                line = q.get(timeout=tick)
            except queue.Empty:
                line = ""
            if line is None:
                return
            if deadline is not None and time.monotonic() > deadline:
                self.kill()
                raise ToolFailed(self.command, stdout="".join(_decode(l) for l in seen[-200:]), timeout=timeout)
            if line:
                seen.append(line)
            yield line

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()

    def stop(self, grace: float = 15) -> None:
        """End it as Ctrl-C in a terminal would: SIGTERM, then SIGKILL after ``grace`` s."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> "Process":
        return self

    def __exit__(self, *exc) -> None:
        self.kill()


def start(args: Sequence[str], *, env: Mapping[str, str | None] | None = None, inherit: bool = True, cwd=None,
          text: bool = True, detached: bool = False) -> Process:
    """Start ``args`` in the background. Its stdout and stderr, merged, are a pipe to read, as text unless
    ``text=False``. ``detached``: no pipes (stdio to /dev/null) and a session of its own, so signals to this process's
    group do not reach it. ``inherit=False``: ``env`` is the child's whole environment. ToolFailed if it cannot
    start."""
    cmd = [str(a) for a in args]
    options: dict = {"env": environment(env) if inherit else dict(env or {}), "cwd": cwd, "stdin": DEVNULL}
    if detached:
        options.update(stdout=DEVNULL, stderr=DEVNULL, close_fds=True)
        if os.name == "nt":
            options["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.DETACHED_PROCESS
        else:
            options["start_new_session"] = True
    else:
        options.update(stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if text:
            options.update(text=True, encoding="utf-8", errors="replace")
    try:
        return Process(subprocess.Popen(cmd, **options), cmd)
    except OSError as exc:
        raise _not_started(cmd, exc) from None


def pipe(source: Sequence[str], sink: Sequence[str], *, source_env: Mapping[str, str | None] | None = None,
         sink_env: Mapping[str, str | None] | None = None, timeout: float | None = DEFAULT_TIMEOUT, text: bool = True,
         merge: bool = False) -> subprocess.CompletedProcess:
    """``SOURCE | SINK``, each with its own environment; returns the sink's run. ToolFailed when either cannot start,
    the sink outlives ``timeout``, or either exits non-zero (the source is judged first: its failure explains the
    sink's)."""
    src_cmd = [str(a) for a in source]
    try:
        src = subprocess.Popen(src_cmd, stdin=DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=environment(source_env))
    except OSError as exc:
        raise _not_started(src_cmd, exc) from None
    errors: list[bytes] = []  # read while it runs: a full stderr pipe would stop it
    reader = threading.Thread(target=lambda: errors.append(src.stderr.read()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        out = run(sink, stdin=src.stdout, env=sink_env, timeout=timeout, text=text, merge=merge)
    finally:
        src.stdout.close()  # type: ignore[union-attr]  # the source gets SIGPIPE if the sink stopped early
        try:
            src.wait(timeout=30)
        except subprocess.TimeoutExpired:
            src.kill()
            src.wait()
        reader.join(timeout=5)
        src_err = _decode(b"".join(errors))
    if src.returncode != 0:
        raise ToolFailed(src_cmd, exit_code=src.returncode, stderr=src_err)
    if out.returncode != 0:
        raise failure(out)
    return out
