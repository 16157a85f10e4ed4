"""Building images: stream the log with progress, return the parsed steps, fail with the failing step shown.

Two paths with one return shape (:class:`BuildResult`):

* :func:`build` uses the SDK (``client.api.build``: the engine's classic builder).
* :func:`buildkit_build` runs ``docker build`` (BuildKit through buildx) for what only BuildKit does:
  ``RUN --mount=type=secret``, ``--mount=type=cache``, ``--secret``.
"""
from __future__ import annotations

import dataclasses
import io
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterable

from docker.errors import APIError, DockerException
from docker.utils import build as docker_build_utils

from .engine import get_client
from .show import Table, cli, human_size
from .show import short as _short

LOG_TAIL = 25


@dataclasses.dataclass
class Step:
    """One Dockerfile instruction as the builder ran it."""

    number: int
    total: int
    instruction: str  # e.g. "RUN pip install -r requirements.txt"
    cached: bool
    seconds: float
    stage: str = ""

    @property
    def keyword(self) -> str:
        return self.instruction.split(None, 1)[0].upper() if self.instruction else ""


@dataclasses.dataclass
class BuildResult:
    """What a build produced: the image, its tag, the steps (cached or not, seconds), the log."""

    image: object
    tag: str
    steps: list[Step]
    seconds: float
    log: list[str]
    builder: str
    context_bytes: int | None = None

    @property
    def size(self) -> int:
        return self.image.attrs.get("Size", 0)

    def cached(self, keyword: str | None = None) -> list[Step]:
        return [s for s in self.steps if s.cached and (keyword is None or s.keyword == keyword.upper())]

    def rebuilt(self, keyword: str | None = None) -> list[Step]:
        return [s for s in self.steps if not s.cached and (keyword is None or s.keyword == keyword.upper())]

    def table(self) -> Table:
        return Table(
            [{"step": f"{s.stage + ' ' if s.stage else ''}{s.number}/{s.total}", "instruction": _short(s.instruction, 70),
              "cached": "yes" if s.cached else "no", "seconds": f"{s.seconds:.1f}"} for s in self.steps],
            title=f"{self.tag}: {human_size(self.size)}, built in {self.seconds:.1f} s ({self.builder})",
        )

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()

    def __str__(self) -> str:
        return str(self.table())

    def __repr__(self) -> str:
        return (f"<BuildResult {self.tag}: {len(self.steps)} steps, {len(self.cached())} cached, "
                f"{human_size(self.size)}, {self.seconds:.1f} s ({self.builder})>")


class BuildFailed(RuntimeError):
    """A build failed: says which step and shows the last lines of its log."""

    def __init__(self, tag: str, step: str, error: str, log_tail: list[str], log: list[str]):
        self.tag, self.step, self.error, self.log_tail, self.log = tag, step, error, log_tail, log
        lines = [f"building {tag} failed at step: {step or '(before the first step)'}", f"error: {error}"]
        if log_tail:
            lines.append("last lines of its log:")
            lines.extend("  | " + l for l in log_tail)
        super().__init__("\n".join(lines))

    def _render_traceback_(self):  # IPython: show the message, not a wall of traceback
        return [f"BuildFailed: {self}"]


def _interactive() -> bool:
    """A progress bar helps in Jupyter and in a terminal; in logs (CI, pipes) it only adds noise."""
    try:
        from IPython import get_ipython

        if get_ipython() is not None and type(get_ipython()).__name__ == "ZMQInteractiveShell":
            return True
    except ImportError:  # pragma: no cover
        pass
    return sys.stdout.isatty()


class _Progress:
    """A progress bar (a widget in Jupyter, text in a terminal) plus one printed line per finished step."""

    def __init__(self, tag: str, show: bool, echo_log: bool, hidden: set[str] | None = None):
        self.show, self.echo_log, self.bar = show, echo_log, None
        self.hidden = hidden or set()  # steps the learner did not write (labels the engine appends)
        if show and _interactive():
            try:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=1, desc=f"build {tag}", file=sys.stdout, leave=False)
            except ImportError:  # pragma: no cover
                self.bar = None

    def log(self, line: str) -> None:
        if self.echo_log:
            print(line, flush=True)

    def step_started(self, number: int, total: int, instruction: str) -> None:
        total -= len(self.hidden)
        if instruction in self.hidden:
            return
        if self.bar is not None:
            self.bar.total = total
            self.bar.n = number - 1
            self.bar.set_postfix_str(_short(instruction, 40))
            self.bar.refresh()

    def step_done(self, step: Step) -> None:
        if self.show and step.instruction not in self.hidden:
            state = "cached" if step.cached else f"{step.seconds:.1f} s"
            stage = f"{step.stage} " if step.stage else ""
            total = step.total - len(self.hidden)
            line = f"  [{stage}{step.number}/{total}] {_short(step.instruction, 60)}  ... {state}"
            if self.bar is not None and hasattr(self.bar, "write"):
                self.bar.write(line, file=sys.stdout)
            else:
                print(line, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _counts_as_cached(instruction: str, cached: bool) -> bool:
    """A FROM step runs nothing (the base image is used as it is): it counts as cached."""
    return cached or instruction.split(None, 1)[0].upper() == "FROM"


def _dockerignore_excludes(path: Path) -> list[str] | None:
    f = path / ".dockerignore"
    if not f.exists():
        return None
    return [l.strip() for l in f.read_text().splitlines() if l.strip() and not l.strip().startswith("#")]


def context_files(path: str | os.PathLike, dockerfile: str = "Dockerfile") -> list[tuple[str, int]]:
    """The files the build context sends (after .dockerignore), with their sizes."""
    path = Path(path)
    excludes = _dockerignore_excludes(path) or []
    names = docker_build_utils.exclude_paths(str(path), excludes, dockerfile=dockerfile)
    out = []
    for name in sorted(names):
        p = path / name
        if p.is_file() and not p.is_symlink():
            out.append((name, p.stat().st_size))
    return out


def _context_tar(path: Path, dockerfile: str):
    """The build context as the client sends it (.dockerignore applied): (open file at 0, its size in bytes)."""
    tar = docker_build_utils.tar(str(path), exclude=_dockerignore_excludes(path), dockerfile=(dockerfile, None), gzip=False)
    tar.seek(0, io.SEEK_END)
    size = tar.tell()
    tar.seek(0)
    return tar, size


def context_size(path: str | os.PathLike, dockerfile: str = "Dockerfile") -> int:
    """Bytes of the build context the engine receives (the tar the client sends), .dockerignore applied."""
    tar, size = _context_tar(Path(path), dockerfile)
    tar.close()
    return size


_CLASSIC_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)$")


def build(path: str | os.PathLike, tag: str, *, dockerfile: str = "Dockerfile", buildargs: dict | None = None,
          target: str | None = None, labels: dict | None = None, nocache: bool = False, pull: bool = False,
          network_mode: str | None = None, show: bool = True, log: bool = False, client=None) -> BuildResult:
    """Build ``path`` into ``tag`` with the SDK (classic builder) and return a :class:`BuildResult`.

    ``show`` prints a progress bar and one line per step; ``log`` also echoes every log line.
    Raises :class:`BuildFailed` with the failing step and the last lines of its log.
    CLI twin: ``DOCKER_BUILDKIT=0 docker build -t TAG PATH``.
    """
    client = client or get_client()
    path = Path(path)
    if not (path / dockerfile).exists():
        raise FileNotFoundError(f"no {dockerfile} in {path}")
    args = ["docker", "build"]
    for k, v in (buildargs or {}).items():
        args.append(f"--build-arg={k}={v}")
    if target:
        args += ["--target", target]
    if nocache:
        args.append("--no-cache")
    if network_mode:
        args += ["--network", network_mode]
    if dockerfile != "Dockerfile":
        args += ["-f", dockerfile]
    cli("DOCKER_BUILDKIT=0", *args, "-t", tag, str(path))

    context, context_bytes = _context_tar(path, dockerfile)

    progress = _Progress(tag, show, log, hidden={f"LABEL {k}={v}" for k, v in (labels or {}).items()})
    lines: list[str] = []
    steps: list[Step] = []
    current: dict | None = None
    t_start = time.monotonic()

    def finish_current(now: float) -> None:
        nonlocal current
        if current is not None:
            cached = _counts_as_cached(current["instruction"], current["cached"])
            step = Step(current["n"], current["total"], current["instruction"], cached, now - current["t0"])
            steps.append(step)
            progress.step_done(step)
            current = None

    try:
        stream = client.api.build(fileobj=context, custom_context=True, tag=tag, dockerfile=dockerfile,
                                  buildargs=buildargs or {}, target=target, labels=labels or {},
                                  nocache=nocache, pull=pull, rm=True, forcerm=True, decode=True,
                                  network_mode=network_mode)
        for chunk in stream:
            if "error" in chunk:
                finish_failed = current["instruction"] if current else ""
                raise BuildFailed(tag, finish_failed, chunk["error"].strip(), _tail(lines), lines)
            text = chunk.get("stream")
            if not text:
                continue
            for line in text.splitlines():
                lines.append(line)
                progress.log(line)
                m = _CLASSIC_STEP.match(line.strip())
                now = time.monotonic()
                if m:
                    finish_current(now)
                    current = {"n": int(m.group(1)), "total": int(m.group(2)), "instruction": m.group(3),
                               "cached": False, "t0": now}
                    progress.step_started(current["n"], current["total"], current["instruction"])
                elif current is not None and "Using cache" in line:
                    current["cached"] = True
        finish_current(time.monotonic())
    except BuildFailed:
        raise
    except (APIError, DockerException) as exc:
        raise BuildFailed(tag, current["instruction"] if current else "", str(exc), _tail(lines), lines) from None
    finally:
        progress.close()
        context.close()
    # The engine appends one LABEL step per label= entry: not part of the learner's Dockerfile.
    added = {f"LABEL {k}={v}" for k, v in (labels or {}).items()}
    steps = [s for s in steps if s.instruction not in added]
    for s in steps:
        s.total = len(steps)
    image = client.images.get(tag)
    return BuildResult(image, tag, steps, time.monotonic() - t_start, lines, "classic", context_bytes)


def _tail(lines: list[str], n: int = LOG_TAIL) -> list[str]:
    return [l for l in lines if l.strip()][-n:]


# --- BuildKit (docker build through buildx) -----------------------------------------------------------

_BK_VERTEX = re.compile(r"^#(\d+) (\[.*)$")
_BK_STEP = re.compile(r"^\[(?:(?P<stage>[^\]]*?) )?(?P<n>\d+)/(?P<total>\d+)\] (?P<instr>.*)$")
_BK_DONE = re.compile(r"^#(\d+) DONE (\d+(?:\.\d+)?)s$")
_BK_CACHED = re.compile(r"^#(\d+) CACHED$")
_BK_ERROR = re.compile(r"^#(\d+) ERROR: (.*)$")
_BK_CONTEXT = re.compile(r"^#\d+ transferring context: ([\d.]+)([kMG]?B)")


def parse_buildkit_log(lines: Iterable[str]) -> tuple[list[Step], dict | None, int | None]:
    """Parse ``docker build --progress=plain`` output into steps, the error (if any) and the context size."""
    vertices: dict[str, dict] = {}
    order: list[str] = []
    error = None
    context_bytes = None
    for raw in lines:
        line = raw.rstrip()
        m = _BK_VERTEX.match(line)
        if m:
            vid, name = m.group(1), m.group(2)
            sm = _BK_STEP.match(name)
            if sm and vid not in vertices:
                vertices[vid] = {"n": int(sm.group("n")), "total": int(sm.group("total")),
                                 "stage": (sm.group("stage") or "").strip(), "instr": sm.group("instr"),
                                 "cached": False, "seconds": 0.0, "log": []}
                order.append(vid)
            continue
        m = _BK_CACHED.match(line)
        if m and m.group(1) in vertices:
            vertices[m.group(1)]["cached"] = True
            continue
        m = _BK_DONE.match(line)
        if m and m.group(1) in vertices:
            vertices[m.group(1)]["seconds"] = float(m.group(2))
            continue
        m = _BK_ERROR.match(line)
        if m:
            v = vertices.get(m.group(1))
            if error is None:
                error = {"step": v["instr"] if v else "", "message": m.group(2), "log": list(v["log"]) if v else []}
            continue
        m = _BK_CONTEXT.match(line)
        if m:
            mult = {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}[m.group(2)]
            context_bytes = int(float(m.group(1)) * mult)
        lm = re.match(r"^#(\d+) \d+\.\d+ (.*)$", line)
        if lm and lm.group(1) in vertices:
            vertices[lm.group(1)]["log"].append(lm.group(2))
    steps = []
    for vid in order:
        v = vertices[vid]
        steps.append(Step(v["n"], v["total"], v["instr"], _counts_as_cached(v["instr"], v["cached"]), v["seconds"], v["stage"]))
    return steps, error, context_bytes


def buildkit_build(path: str | os.PathLike, tag: str, *, dockerfile: str = "Dockerfile",
                   buildargs: dict | None = None, target: str | None = None, labels: dict | None = None,
                   secrets: dict | None = None, nocache: bool = False, show: bool = True, log: bool = False,
                   timeout: float = 1800, client=None) -> BuildResult:
    """Build with BuildKit (``docker build``), for secret and cache mounts. Same return shape as :func:`build`.

    ``secrets`` maps a secret id to a file path (``--secret id=ID,src=PATH``).
    """
    client = client or get_client()
    path = Path(path)
    if not (path / dockerfile).exists():
        raise FileNotFoundError(f"no {dockerfile} in {path}")
    args = ["docker", "build", "--progress=plain"]
    for k, v in (buildargs or {}).items():
        args.append(f"--build-arg={k}={v}")
    for k, v in (labels or {}).items():
        args += ["--label", f"{k}={v}"]
    for sid, src in (secrets or {}).items():
        args += ["--secret", f"id={sid},src={src}"]
    if target:
        args += ["--target", target]
    if nocache:
        args.append("--no-cache")
    if dockerfile != "Dockerfile":
        args += ["-f", str(path / dockerfile)]
    cli(*args, "-t", tag, str(path))
    with tempfile.TemporaryDirectory(prefix="dockerlab-iid-") as tmp:
        iidfile = Path(tmp) / "iid"
        cmd = args + ["--iidfile", str(iidfile), "-t", tag, str(path)]
        env = dict(os.environ, DOCKER_BUILDKIT="1", BUILDKIT_PROGRESS="plain")
        progress = _Progress(tag, show, log)
        lines: list[str] = []
        t0 = time.monotonic()
        started: dict[str, tuple[int, int, str, str]] = {}  # vertex id -> (number, total, instruction, stage)
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                line = line.rstrip("\n")
                lines.append(line)
                progress.log(line)
                if time.monotonic() - t0 > timeout:
                    proc.kill()
                    raise BuildFailed(tag, "", f"build did not finish within {timeout:.0f} s", _tail(lines), lines)
                m = _BK_VERTEX.match(line)
                if m:
                    sm = _BK_STEP.match(m.group(2))
                    if sm and m.group(1) not in started:
                        started[m.group(1)] = (int(sm.group("n")), int(sm.group("total")), sm.group("instr"),
                                               (sm.group("stage") or "").strip())
                        progress.step_started(*started[m.group(1)][:3])
                    continue
                done, cached = _BK_DONE.match(line), _BK_CACHED.match(line)
                finished = done or cached
                if finished and finished.group(1) in started:
                    n, total, instr, stage = started.pop(finished.group(1))
                    progress.step_done(Step(n, total, instr, _counts_as_cached(instr, bool(cached)),
                                            float(done.group(2)) if done else 0.0, stage))
            rc = proc.wait()
        finally:
            progress.close()
            if proc.poll() is None:
                proc.kill()
        steps, error, context_bytes = parse_buildkit_log(lines)
        if rc != 0:
            if error:
                tail = error["log"][-LOG_TAIL:] or _tail(lines)
                raise BuildFailed(tag, error["step"], error["message"], tail, lines)
            raise BuildFailed(tag, "", f"docker build exited with {rc}", _tail(lines), lines)
        image = client.images.get(iidfile.read_text().strip())
    return BuildResult(image, tag, steps, time.monotonic() - t0, lines, "buildkit", context_bytes)
