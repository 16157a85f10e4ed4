"""Docker Compose from Python: the SDK has no Compose, so this drives ``docker compose`` and parses its JSON.

A :class:`Stack` is one Compose project named like every other course object (``lab.name("stack")``), with
an override file that adds the three course labels to every service, network and named volume (and names
the images Compose builds ``lab.image(service)``), so ``lab.cleanup()`` and the leak checks see them::

    from dockerlab.compose import Stack
    stack = Stack(lab, app_dir, env={"WEB_PORT": str(lab.free_port())})
    stack.up(build=True, wait=True)          # docker compose -p NAME -f compose.yaml -f … up -d --build --wait
    stack.ps()                                # a Table parsed from `docker compose ps --format json`
    with stack.watch() as watch: ...          # docker compose … watch --no-up, in the background (Compose Watch)
    stack.down()                              # down -v --remove-orphans

Every command is printed (its CLI twin) and runs with a timeout.
"""
from __future__ import annotations

import json
import os
import re
import threading
import time
from pathlib import Path
from typing import Any, Iterable

from dockerlab import settings, tools
from dockerlab.build import engine_lost_a_layer
from dockerlab.composefile import depends_on, healthcheck_test, labels_override, parse_ps_json  # noqa: F401
from dockerlab.figures import record, short_name
from dockerlab.show import Table, cli
from dockerlab.errors import ComposeError, ToolFailed, last_lines  # ComposeError: raised here; defined with the others

OVERRIDE_NAME = ".dockerlab.labels.yaml"
DEFAULT_TIMEOUT = 120
LOG_TAIL = 20


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# The 8-byte frame header of Docker's multiplexed exec stream (stream 0-2, three zero bytes, the frame's length):
# `docker compose watch` copies the output of the commands it runs in a container (its `rm -rf` for deleted files)
# with these headers left in.
_EXEC_FRAME = re.compile(rb"[\x00-\x02]\x00\x00\x00[\x00-\xff]{4}")


class Stack:
    """One Compose project of a lesson: named ``lab.name(project)``, labelled for the course, with timeouts."""

    def __init__(self, lab, directory, project: str = "stack", files: Iterable[str] = ("compose.yaml",),
                 env: dict[str, str] | None = None, timeout: float = DEFAULT_TIMEOUT,
                 secret_env: dict[str, str] | None = None):
        self.lab = lab
        self.lesson = lab.lesson
        self.dir = Path(directory).resolve()
        self.name = lab.name(project)
        self.files = [str(f) for f in files]
        self.env = {k: str(v) for k, v in (env or {}).items()}
        # variables Compose reads (build secrets, say) that the printed commands leave out, as a CI job's secrets are
        self.secret_env = {k: str(v) for k, v in (secret_env or {}).items()}
        self.timeout = timeout
        for f in self.files:
            if not (self.dir / f).exists():
                raise FileNotFoundError(f"no {f} in {self.dir}")

    # plumbing
    def _base(self, with_override: bool = True) -> list[str]:
        args = ["docker", "compose", "--project-name", self.name, "--project-directory", str(self.dir)]
        for f in self.files:
            args += ["-f", str(self.dir / f)]
        if with_override:
            args += ["-f", str(self.dir / OVERRIDE_NAME)]
        return args

    @property
    def child_env(self) -> dict[str, str]:
        """What the ``docker compose`` processes get on top of this process's environment."""
        return {**self.env, **self.secret_env}

    def _show(self, args: list[str]) -> str:
        """Print the command as one paste-able line: ``cd DIR && [VAR=value …] docker compose …``, file names
        relative to the project folder (``--project-directory`` is that folder, so it is left out)."""
        env = [f"{k}={v}" for k, v in self.env.items()]
        shown, skip = [], False
        for a in args:
            if skip:
                skip = False
                continue
            if a == "--project-directory":
                skip = True
                continue
            shown.append(a[len(str(self.dir)) + 1:] if a.startswith(str(self.dir) + "/") else a)
        return cli(["cd", str(self.dir)], "&&", [*env, *shown])

    def compose(self, *args: str, timeout: float | None = None, check: bool = True, quiet: bool = False,
                with_override: bool = True) -> tools.Completed:
        """Run ``docker compose -p NAME -f … ARGS`` with a timeout; raise ComposeError when it fails."""
        if with_override:
            self.write_override()
        cmd = self._base(with_override) + list(args)
        line = self._show(cmd) if not quiet else " ".join(cmd)
        run = lambda: tools.run(cmd, timeout=timeout or self.timeout, env=self.child_env, cwd=self.dir, check=check)  # noqa: E731
        try:
            try:
                return run()
            except ToolFailed as exc:  # a build of the stack met the engine bug build.build retries past: once more
                if not (exc.exit_code and ("build" in args or "--build" in args)
                        and engine_lost_a_layer(f"docker compose {args[0]} ({self.name})", exc.output)):
                    raise
                return run()
        except ToolFailed as exc:
            if exc.timed_out:
                raise ComposeError(f"docker compose did not finish within {exc.timeout:.0f} s",
                                   command=line, output=exc.output, logs=self._logs_quietly()) from None
            if exc.exit_code is None:  # not installed, or could not be started
                raise ComposeError(f"docker compose did not run: {exc.reason}", command=line) from None
            raise ComposeError(f"docker compose {args[0] if args else ''} exited with {exc.exit_code}",
                               command=line, output=exc.output) from None

    def config(self, with_override: bool = False) -> dict:
        """The resolved Compose file (``docker compose config --format json``), variables interpolated."""
        proc = self.compose("config", "--format", "json", quiet=True, with_override=with_override, timeout=30)
        return json.loads(proc.stdout)

    def write_override(self) -> Path:
        """Write the labels override next to the Compose file (from the resolved config) and return its path."""
        path = self.dir / OVERRIDE_NAME
        # every profile's services (`--profile "*"`), so one started with `--profile NAME` is labelled too
        proc = self.compose("--profile", "*", "config", "--format", "json", quiet=True, with_override=False, timeout=30)
        # JSON is YAML: Compose reads it as is.
        path.write_text(json.dumps(labels_override(json.loads(proc.stdout), self.lesson), indent=2) + "\n")
        return path

    def _logs_quietly(self, tail: int = LOG_TAIL) -> str:
        try:
            proc = tools.run(self._base(True) + ["logs", "--no-color", "--tail", str(tail)], timeout=30, env=self.child_env,
                             cwd=self.dir)
            return _ANSI.sub("", proc.stdout + proc.stderr)
        except ToolFailed:
            return "(no logs)"

    # porcelain
    def up(self, *services: str, build: bool = True, wait: bool = True, scale: dict[str, int] | None = None,
           wait_timeout: int = 90, timeout: float | None = None) -> Table:
        """``docker compose up -d [--build] [--wait] [--scale S=N]``; returns :meth:`ps`.

        With ``wait``, Compose waits until every service is running and healthy (``--wait-timeout``); when that
        fails, ComposeError shows Compose's message, each service's state and the stack's last log lines.
        """
        args = ["up", "--detach"]
        if build:
            args.append("--build")
        if wait:
            args += ["--wait", "--wait-timeout", str(wait_timeout)]
        for svc, n in (scale or {}).items():
            args += ["--scale", f"{svc}={n}"]
        args += list(services)
        t0 = time.monotonic()
        try:
            self.compose(*args, timeout=timeout or (wait_timeout + self.timeout))
        except ComposeError as exc:
            states = ""
            try:
                states = str(self.ps(quiet=True))
            except ComposeError:
                pass
            said = "\n".join(last_lines(exc.output, 3))
            raise ComposeError(f"the stack did not come up: {said or exc.args[0]}",
                               command=exc.command, output=states, logs=self._logs_quietly()) from None
        record(f"compose up {short_name(self.name)}", time.monotonic() - t0, "s",
               ("built, " if build else "") + ("running and healthy" if wait else "started"))
        return self.ps()

    def down(self, volumes: bool = True, timeout: float = 60, profiles: Iterable[str] = ()) -> None:
        """``docker compose [--profile P …] down [-v] --remove-orphans``: containers, networks (and named volumes)
        go; a service of a profile not named here is not part of the model, so its container stays."""
        args = [f for p in profiles for f in ("--profile", p)] + ["down", "--remove-orphans", "--timeout", "5"]
        if volumes:
            args.insert(args.index("down") + 1, "--volumes")
        self.compose(*args, timeout=timeout)

    def ps_rows(self, quiet: bool = False, all: bool = True) -> list[dict[str, Any]]:
        args = ["ps", "--format", "json"] + (["--all"] if all else [])
        return parse_ps_json(self.compose(*args, quiet=quiet, timeout=30).stdout)

    def ps(self, quiet: bool = False) -> Table:
        """``docker compose ps --all --format json`` as a table: service, container, state, health, ports."""
        rows = []
        for r in sorted(self.ps_rows(quiet), key=lambda r: (r.get("Service", ""), r.get("Name", ""))):
            ports = r.get("Publishers") or []
            pub = ", ".join(dict.fromkeys(f"{p.get('PublishedPort')}->{p.get('TargetPort')}" for p in ports
                                          if p.get("PublishedPort")))
            rows.append({"service": r.get("Service", ""), "container": r.get("Name", ""), "state": r.get("State", ""),
                         "health": r.get("Health", "") or "-", "ports": pub or "-"})
        return Table(rows, columns=["service", "container", "state", "health", "ports"], title=f"project {self.name}")

    def logs(self, *services: str, tail: int = 20, timeout: float = 30) -> str:
        """``docker compose logs --tail N [SERVICE…]`` (no colour): the text."""
        proc = self.compose("logs", "--no-color", "--tail", str(tail), *services, timeout=timeout)
        return _ANSI.sub("", proc.stdout + proc.stderr)

    def watch(self, *services: str, timeout: float = 60) -> "Watch":
        """``docker compose watch --no-up [SERVICE…]`` in the background (as a terminal kept open would run it),
        once Compose says "Watch enabled"; stop it with :meth:`Watch.stop` or a ``with`` block."""
        return Watch(self, services, timeout)

    def containers(self, service: str | None = None) -> list:
        """SDK Container objects of this project (of one service), by Compose's project label."""
        flt = [f"com.docker.compose.project={self.name}"]
        if service:
            flt.append(f"com.docker.compose.service={service}")
        return self.lab.client.containers.list(all=True, filters={"label": flt})

    def container(self, service: str):
        found = sorted(self.containers(service), key=lambda c: c.name)
        if not found:
            raise ComposeError(f"service {service!r} has no container in project {self.name}")
        return found[0]

    def cleanup(self) -> None:
        """``down -v --remove-orphans``, never raising (for ``finally`` blocks and the last cell)."""
        try:
            self.down(volumes=True)
        except (ComposeError, FileNotFoundError, OSError) as exc:
            print(f"(compose down: {str(exc).splitlines()[0]})")


def exec_frames_removed(raw: bytes) -> str:
    """Watch's output as text: without the exec stream's frame headers and the colours."""
    return _ANSI.sub("", _EXEC_FRAME.sub(b"", raw).decode(errors="replace"))


def watch_lock_files(project: str) -> list[Path]:
    """Where ``docker compose watch`` may keep the lock of ``project``: ``<project>.pid`` in its run folder
    (``$XDG_RUNTIME_DIR/docker-compose``, ``/run/user/<uid>/docker-compose`` or ``~/.docker/docker-compose``)."""
    dirs = [Path.home() / ".docker" / "docker-compose"]
    if hasattr(os, "getuid"):
        dirs.insert(0, Path("/run/user") / str(os.getuid()) / "docker-compose")
    if settings.XDG_RUNTIME_DIR.get():
        dirs.insert(0, Path(settings.XDG_RUNTIME_DIR.get()) / "docker-compose")
    return [d / f"{project}.pid" for d in dirs if (d / f"{project}.pid").is_file()]


def clear_stale_watch_lock(project: str) -> None:
    """Remove a lock an earlier ``docker compose watch`` of ``project`` left behind. Compose writes its PID to a
    file and never removes it (docker/compose#11066); once another process gets that PID, every later watch of the
    project fails with "cannot take exclusive lock … process with PID N is still running". A lock whose process
    is not a running Compose is stale; a running Compose's is kept."""
    for lock in watch_lock_files(project):
        if _stale(lock):
            lock.unlink(missing_ok=True)


def _stale(lock: Path) -> bool:
    try:
        pid = int(lock.read_text().strip() or 0)
    except (OSError, ValueError):
        return True
    if not pid:
        return True
    if Path("/proc").is_dir():  # Linux: is that PID a Compose watch now?
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            return True
        composes = any(a == "compose" or a.rsplit("/", 1)[-1] == "docker-compose" for a in argv)
        return not (composes and "watch" in argv)
    try:  # elsewhere: only whether such a process exists
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


class Watch:
    """Compose Watch running for a stack: ``docker compose … watch --no-up`` in the background, its output kept.

    Starting waits until Compose prints "Watch enabled" (it watches the files from then on); a watch that exits
    first, or says nothing of the kind within ``timeout`` s, raises ComposeError with what it printed.
    :attr:`output` is what it printed so far: a line per sync, rebuild and warning ("Error handling changed files").
    """

    def __init__(self, stack: Stack, services: Iterable[str] = (), timeout: float = 60):
        stack.write_override()
        self.stack = stack
        clear_stale_watch_lock(stack.name)
        cmd = stack._base() + ["watch", "--no-up", *services]
        self.command = stack._show(cmd)
        self._raw = bytearray()
        try:
            self.proc = tools.start(cmd, cwd=stack.dir, env=stack.child_env, text=False)
        except ToolFailed as exc:
            raise ComposeError(f"docker compose watch did not start: {exc.reason}", command=self.command) from None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        while "Watch enabled" not in self.output:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self._reader.join(timeout=2)
                why = (f"exited with {self.proc.returncode}" if self.proc.poll() is not None
                       else f'did not say "Watch enabled" within {timeout:.0f} s')
                self.stop()
                raise ComposeError(f"docker compose watch {why}", command=self.command, output=self.output,
                                   logs=stack._logs_quietly())
            time.sleep(0.1)

    def _read(self) -> None:
        for chunk in iter(lambda: self.proc.stdout.read1(4096), b""):
            self._raw += chunk

    @property
    def output(self) -> str:
        return exec_frames_removed(bytes(self._raw)).rstrip()

    def stop(self) -> None:
        """Stop watching (Ctrl-C in the terminal): SIGTERM, then SIGKILL after 15 s."""
        self.proc.stop(grace=15)
        self._reader.join(timeout=5)

    def __enter__(self) -> "Watch":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
