"""Building images with BuildKit: the steps as BuildKit reports them, a live display, the failing step shown.

Every build the course makes runs ``docker build`` (BuildKit, through the buildx plugin) with
``--progress=rawjson``: one JSON object per line, whose *vertexes* are the build's steps (name, started,
completed, cached, error) and whose *logs* are each step's output. Steps, timings and the cache verdict
come from there, not from reading text meant for people. The image is then inspected through the SDK.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import json
import os
import re
import tempfile
import time
from pathlib import Path

from docker.utils import build as docker_build_utils

from dockerlab import settings, tools
from dockerlab.buildprogress import RawProgress, Step  # noqa: F401 (Step: the build's steps, re-exported)
from dockerlab.dockerfile import stage_order
from dockerlab.engine import get_client
from dockerlab.figures import record, recording, short_name
from dockerlab.progressbar import StepProgress
from dockerlab.show import Table, cli, human_size
from dockerlab.show import short as _short
from dockerlab.errors import BuildFailed, ToolFailed, last_lines  # BuildFailed: raised here; defined with the others

LOG_TAIL = 25


@dataclasses.dataclass
class BuildResult:
    """What a build produced: the image, its tag, the steps (cached or not, seconds), the log."""

    image: object
    tag: str
    steps: list[Step]
    seconds: float
    log: list[str]  # the build as --progress=plain prints it (each step's output under it)
    context_bytes: int | None = None
    warnings: list[dict] = dataclasses.field(default_factory=list)  # build checks (docker build --check rules)

    @functools.cached_property
    def size(self) -> int:
        """The image's unpacked bytes (its layers' sum, what ``docker history`` lists and a container's filesystem
        holds): the same on either image store, and the measure of the checks' size budgets."""
        from dockerlab.imagelayers import unpacked_size

        return unpacked_size(self.image, getattr(self.image, "client", None))

    @property
    def inspect_size(self) -> int:
        """``docker image inspect``'s ``Size``: the unpacked bytes on the classic store, the packed (compressed) layers
        of this platform on the containerd store of Engine 28 and 29 (what a pull downloads)."""
        return self.image.attrs.get("Size", 0)

    def cached(self, keyword: str | None = None) -> list[Step]:
        return [s for s in self.steps if s.cached and (keyword is None or s.keyword == keyword.upper())]

    def rebuilt(self, keyword: str | None = None) -> list[Step]:
        return [s for s in self.steps if not s.cached and (keyword is None or s.keyword == keyword.upper())]

    def table(self) -> Table:
        return Table(
            [{"step": f"{s.stage + ' ' if s.stage else ''}{s.number}/{s.total}", "instruction": _short(s.instruction, 70),
              "cached": "yes" if s.cached else "no", "seconds": f"{s.seconds:.1f}"} for s in self.steps],
            title=f"{self.tag}: {human_size(self.size)} unpacked, built in {self.seconds:.1f} s",
        )

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()

    def __str__(self) -> str:
        return str(self.table())

    def __repr__(self) -> str:
        return (f"<BuildResult {self.tag}: {len(self.steps)} steps, {len(self.cached())} cached, "
                f"{human_size(self.size)}, {self.seconds:.1f} s>")


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


def _missing_buildx(text: str) -> bool:
    return "buildx component is missing" in text or "unknown flag: --progress" in text


def build(path: str | os.PathLike, tag: str, *, dockerfile: str = "Dockerfile", buildargs: dict | None = None,
          target: str | None = None, labels: dict | None = None, secrets: dict | None = None,
          ssh: dict | None = None, nocache: bool = False, nocache_filter: tuple[str, ...] = (), pull: bool = False,
          network: str | None = None, platform: str | None = None,
          quiet: bool = False, log: bool = False, timeout: float = 1800, client=None) -> BuildResult:
    """Build ``path`` into ``tag`` with BuildKit (``docker build``) and return a :class:`BuildResult`.

    ``secrets`` maps a secret id to a file (``--secret id=ID,src=PATH``); ``ssh`` an SSH id to an agent socket or a
    key file (``--ssh ID=PATH``, for ``RUN --mount=type=ssh``; the SDK has no such option); ``nocache_filter`` the
    stages to build without the cache (``--no-cache-filter STAGE``); ``network="none"`` builds
    without a network. ``quiet=True`` draws nothing; otherwise a live display and prints one line per finished step; ``log`` also
    prints each step's output. Raises :class:`BuildFailed` naming the failing instruction, with the last
    lines of its output. CLI twin: ``docker build -t TAG PATH`` (printed before the build starts).
    """
    client = client or get_client()
    path = Path(path)
    if not (path / dockerfile).exists():
        raise FileNotFoundError(f"no {dockerfile} in {path}")
    args = ["docker", "build"]
    for k, v in (buildargs or {}).items():
        args.append(f"--build-arg={k}={v}")
    for sid, src in (secrets or {}).items():
        args += ["--secret", f"id={sid},src={src}"]
    for sid, src in (ssh or {}).items():
        args += ["--ssh", f"{sid}={src}"]
    if target:
        args += ["--target", target]
    if nocache:
        args.append("--no-cache")
    for stage in nocache_filter:  # only these stages run again (their steps, not what they build on)
        args.append(f"--no-cache-filter={stage}")
    if pull:
        args.append("--pull")
    if network:
        args += ["--network", network]
    if platform:
        args += ["--platform", platform]
    if dockerfile != "Dockerfile":
        args += ["-f", str(path / dockerfile)]
    label_args = [a for k, v in (labels or {}).items() for a in ("--label", f"{k}={v}")]
    if not quiet:  # the course's labels are left out of the twin: every lesson says once that it labels what it makes
        cli(args + ["-t", tag, str(path)])
    try:
        return _run_build(args + label_args, path, tag, dockerfile, quiet, log, timeout, client)
    except BuildFailed as exc:
        if not engine_lost_a_layer(f"build {tag}", exc.error):
            raise
        return _run_build(args + label_args, path, tag, dockerfile, quiet, log, timeout, client)


# BuildKit's image exporter on the containerd image store could lose a parent snapshot to containerd's garbage
# collector while another build or an image removal ran at the same time ("failed to prepare extraction snapshot …
# parent snapshot … does not exist: not found"; moby/buildkit#6521, fixed by moby/buildkit#6558, March 2026).
# Engines older than that fix (Debian's 28.5 among them) show it when builds run side by side, as in a classroom.
SNAPSHOT_RACE = re.compile(r"failed to prepare extraction snapshot.*parent snapshot \S+ does not exist", re.S)


def engine_lost_a_layer(what: str, error: str | None) -> bool:
    """Whether ``error`` is the engine bug SNAPSHOT_RACE, not the Dockerfile: then it says so, names the retry in
    $DOCKERLAB_RETRIES, and the caller builds once more (the same build finds its layers in the cache). Used by every
    build the course runs: ``docker build`` here, ``docker compose build`` / ``up --build`` in :mod:`dockerlab.compose`."""
    if not SNAPSHOT_RACE.search(error or ""):
        return False
    note = (f"{what}: the engine lost a layer while unpacking the image (containerd image store, moby/buildkit#6521, "
            "fixed in newer engines by moby/buildkit#6558): building it once more")
    print(note, flush=True)
    record_retry(note + f" (first error: {_short(error, 160)})")
    return True


def record_retry(note: str) -> None:
    """Append a retry the course made past an engine bug to $DOCKERLAB_RETRIES (the test suite names each one)."""
    path = settings.RETRIES.get()
    if path:
        with contextlib.suppress(OSError), open(path, "a") as fh:
            fh.write(note.replace("\n", " ") + "\n")


def _run_build(args: list[str], path: Path, tag: str, dockerfile: str, quiet: bool, log: bool, timeout: float,
               client) -> BuildResult:
    """One ``docker build --progress=rawjson`` (``args``: the command up to its options), folded into a BuildResult."""
    text = (path / dockerfile).read_text(errors="replace")
    raw = RawProgress(stage_order(text), text)
    progress = StepProgress(f"build {tag}", enabled=False if quiet else None)
    lines: list[str] = []
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dockerlab-iid-") as tmp:
        iidfile = Path(tmp) / "iid"
        cmd = args + ["--progress=rawjson", "--iidfile", str(iidfile), "-t", tag, str(path)]
        # BuildKit always (never the deprecated classic builder), and the progress format asked for here
        env = {"DOCKER_BUILDKIT": "1", "BUILDKIT_PROGRESS": None}
        try:
            proc = tools.start(cmd, env=env)
        except ToolFailed as exc:  # docker is missing, or cannot be started
            why = exc.reason if "could not be started" in exc.reason else \
                "the docker command is not installed (it runs BuildKit builds)"
            raise BuildFailed(tag, "", why, [], []) from None
        ok = False
        try:
            for line in _lines(proc, tag, raw, lines, timeout):
                if line:
                    lines.append(line.rstrip("\n"))
                    for d in raw.feed(line):
                        step = raw.step(d)
                        if step is not None:
                            step = raw.own(step)
                        if step is not None and not quiet:
                            _print_step(progress, step, raw.vertices[d]["log"] if log else [],
                                        failed=bool(raw.vertices[d]["error"]))
                done, total = raw.counts()
                running = raw.running()
                progress.update(done=done, total=total, running=running[0] if running else "",
                                elapsed=(time.time() - running[1]) if running else None)
            rc = proc.wait()
            ok = rc == 0
        finally:
            proc.kill()
            failure = raw.failure()
            progress.finish(ok, "" if ok else f"build {tag} failed" + (f" at {_short(failure['step'], 50)}" if failure else ""))
        if rc != 0:
            if failure:
                tail = [l for l in failure["log"] if l.strip()][-LOG_TAIL:] or _tail(raw.other)
                raise BuildFailed(tag, failure["step"], failure["message"], tail, raw.readable())
            text = "\n".join(raw.other)
            if _missing_buildx(text):
                raise BuildFailed(tag, "", "BuildKit is not available: install the docker buildx plugin "
                                  "(Docker Desktop has it; Debian: docker-buildx, Docker's repo: docker-buildx-plugin)",
                                  _tail(raw.other), raw.readable())
            raise BuildFailed(tag, "", f"docker build exited with {rc}", _tail(raw.other), raw.readable())
        image = client.images.get(iidfile.read_text().strip())
    if not raw.vertices:  # built, but not one JSON progress line: an old docker CLI/Buildx printed another format
        raise BuildFailed(tag, "", "the build ran, but this docker CLI did not report its steps as JSON "
                          "(`--progress=rawjson` needs a current docker CLI and Buildx; the course is tested with 28.5 and 0.29): update "
                          "Docker Desktop, or the docker-cli and docker-buildx packages", _tail(raw.other), lines)
    result = BuildResult(image, tag, raw.steps(), time.monotonic() - t0, raw.readable(), raw.context_bytes, raw.warnings)
    _record(result)
    return result


def _lines(proc: tools.Process, tag: str, raw: RawProgress, lines: list[str], timeout: float):
    """The build's output lines ("" while none comes); a build that outlives ``timeout`` raises BuildFailed at the
    step that was running."""
    try:
        yield from proc.lines(timeout=timeout)
    except ToolFailed as exc:
        if not exc.timed_out:
            raise
        raise BuildFailed(tag, (raw.running() or ("",))[0], f"the build did not finish within {timeout:.0f} s",
                          _tail(lines), lines) from None


def _record(result: BuildResult) -> None:
    """The build's figures for the run-all report: seconds, steps from the cache, image and context size. Only while
    figures are recorded: the image's unpacked size costs two API calls a learner's build does not need."""
    if not recording():
        return
    facts = {"steps": len(result.steps), "cached": len(result.cached()), "image_bytes": result.size,
             "context_bytes": result.context_bytes}  # BuildKit sends only what changed of the context
    note = f"{facts['cached']}/{facts['steps']} steps cached, image {human_size(result.size)}"
    if result.context_bytes is not None:
        note += f", context sent {human_size(result.context_bytes)}"
    slowest = max(result.rebuilt(), key=lambda s: s.seconds, default=None)
    if slowest is not None and slowest.seconds >= 0.1:
        facts["slowest_step"] = {"instruction": slowest.instruction, "seconds": slowest.seconds}
        note += f", slowest step {_short(slowest.instruction, 40)} {slowest.seconds:.1f} s"
    record(f"build {short_name(result.tag)}", result.seconds, "s", note, **facts)


def _print_step(progress: StepProgress, step: Step, log_lines: list[str], failed: bool = False) -> None:
    progress.clear_line()
    state = "FAILED" if failed else "cached" if step.cached else f"{step.seconds:.1f} s"
    stage = f"{step.stage} " if step.stage else ""
    print(f"  [{stage}{step.number}/{step.total}] {_short(step.instruction, 60)}  ... {state}", flush=True)
    for l in log_lines:
        print(f"      | {l}", flush=True)


def _tail(lines: list[str], n: int = LOG_TAIL) -> list[str]:
    return last_lines(lines, n)


def cache_records(*, client=None) -> list[dict]:
    """BuildKit's build cache records (``client.df()["BuildCache"]``, CLI twin ``docker buildx du``), asked for alone
    (``GET /system/df?type=build-cache``): the full ``df`` also sizes every image, which fails on a busy engine with
    the containerd image store when an image is removed meanwhile (another learner's cleanup, say)."""
    client = client or get_client()
    api = client.api
    return api._result(api._get(api._url("/system/df"), params={"type": "build-cache"}), True).get("BuildCache") or []


def check(path: str | os.PathLike, *, dockerfile: str = "Dockerfile", quiet: bool = False) -> Table:
    """BuildKit's build checks (rules such as SecretsUsedInArgOrEnv) for a Dockerfile, as a table.

    Nothing is built. CLI twin: ``docker build --check PATH``; the helper asks for the same result as JSON
    (``--call=check,format=json``) so each row is a rule, the Dockerfile line it points at and its message.
    """
    path = Path(path)
    args = ["docker", "build"]
    if dockerfile != "Dockerfile":
        args += ["-f", str(path / dockerfile)]
    if not quiet:
        cli(args[:2] + ["--check"] + args[2:] + [str(path)])
    try:
        proc = tools.run(args + ["--call=check,format=json", "--progress=quiet", str(path)], timeout=300,
                         env={"DOCKER_BUILDKIT": "1"})
    except ToolFailed as exc:
        raise BuildFailed(str(path / dockerfile), "", f"docker build --check did not run: {exc.reason}", exc.tail,
                          exc.output.splitlines()) from None
    try:
        found = json.loads(proc.stdout or "{}").get("warnings") or []
    except ValueError:
        found = None
    if found is None or (proc.returncode != 0 and not found):
        raise BuildFailed(str(path / dockerfile), "", "docker build --check did not run", _tail(proc.stderr.splitlines()),
                          proc.stderr.splitlines())
    rows = [{"rule": w.get("ruleName", ""),
             "line": ((w.get("location") or {}).get("ranges") or [{}])[0].get("start", {}).get("line", ""),
             "message": w.get("detail") or w.get("description", "")} for w in found]
    return Table(rows, columns=["rule", "line", "message"],
                 title=f"docker build --check {dockerfile}: {len(rows)} warning(s)")
