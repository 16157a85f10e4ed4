"""Building images with BuildKit: the steps as BuildKit reports them, a live display, the failing step shown.

Every build the course makes runs ``docker build`` (BuildKit, through the buildx plugin) with
``--progress=rawjson``: one JSON object per line, whose *vertexes* are the build's steps (name, started,
completed, cached, error) and whose *logs* are each step's output. Steps, timings and the cache verdict
come from there, not from reading text meant for people. The image is then inspected through the SDK.
"""
from __future__ import annotations

import base64
import contextlib
import dataclasses
import io
import json
import os
import queue
import re
import subprocess
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from docker.utils import build as docker_build_utils

from .dockerfile import logical_lines
from .engine import get_client
from .figures import record, short_name
from .progressbar import StepProgress
from .show import Table, cli, human_size
from .show import short as _short
from .errors import BuildFailed  # noqa: F401 (raised here; defined with the others)

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
    output: list[str] = dataclasses.field(default_factory=list, repr=False)  # what the step printed
    # Where the step sits in BuildKit's graph: its vertex digest, the digests of the vertices it reads (the step
    # before it, a stage it copies from), and whether one of them is the build context the client sent.
    digest: str = dataclasses.field(default="", repr=False)
    inputs: tuple[str, ...] = dataclasses.field(default=(), repr=False)
    reads_context: bool = dataclasses.field(default=False, repr=False)

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
    log: list[str]  # the build as --progress=plain prints it (each step's output under it)
    context_bytes: int | None = None
    warnings: list[dict] = dataclasses.field(default_factory=list)  # build checks (docker build --check rules)

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
            title=f"{self.tag}: {human_size(self.size)}, built in {self.seconds:.1f} s",
        )

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()

    def __str__(self) -> str:
        return str(self.table())

    def __repr__(self) -> str:
        return (f"<BuildResult {self.tag}: {len(self.steps)} steps, {len(self.cached())} cached, "
                f"{human_size(self.size)}, {self.seconds:.1f} s>")


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


# --- BuildKit's structured progress (docker build --progress=rawjson) ----------------------------------

CONTEXT_VERTEX = "[internal] load build context"  # the files the client sends (.dockerignore applied)
_STEP_NAME = re.compile(r"^\[(?:(?P<stage>[^\]]*?) )?(?P<n>\d+)/(?P<total>\d+)\] (?P<instr>.*)$", re.S)
_FROM_LINE = re.compile(r"^\s*FROM\s+(?:--\S+\s+)*\S+(?:\s+AS\s+(\S+))?", re.I | re.M)


def _ts(value: str | None) -> float | None:
    """RFC 3339 with nanoseconds (BuildKit's timestamps) -> seconds since the epoch."""
    if not value:
        return None
    m = re.match(r"^(.*?T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", value)
    if not m:
        return None
    base = datetime.fromisoformat(m.group(1) + ("+00:00" if m.group(3) == "Z" else m.group(3)))
    return base.timestamp() + (float("0." + m.group(2)) if m.group(2) else 0.0)


def stage_order(dockerfile_text: str) -> dict[str, int]:
    """Stage names in Dockerfile order, as BuildKit names them (``AS name``, else ``stage-N``)."""
    order = {}
    for i, m in enumerate(_FROM_LINE.finditer(dockerfile_text)):
        order[(m.group(1) or f"stage-{i}").lower()] = i
        order[f"stage-{i}"] = i
    return order


_VERTEX_KEYWORDS = ("FROM", "RUN", "COPY", "ADD", "WORKDIR")  # the instructions BuildKit numbers as steps


def _norm(instruction: str) -> str:
    return " ".join(instruction.replace("\\\n", " ").split())


def dockerfile_stages(dockerfile_text: str) -> list[tuple[str, list[str]]]:
    """Per stage, as BuildKit labels it ("" for a one-stage file), the instructions it numbers as steps.

    Continuation lines are joined and comments dropped; heredoc bodies are not parsed (rare in the course).
    """
    stages: list[tuple[str, list[str]]] = []
    logical = logical_lines(dockerfile_text)
    for line in logical:
        words = line.split()
        kw = words[0].upper()
        if kw == "FROM":
            m = re.search(r"\s+AS\s+(\S+)\s*$", line, re.I)
            base = next((w for w in words[1:] if not w.startswith("--")), "").lower()
            # BuildKit prints no step for FROM <an earlier stage> (or scratch): "[test 1/4] COPY …" after FROM base
            own_from = [] if base == "scratch" or base in {label.lower() for label, _ in stages} else [_norm(line)]
            stages.append((m.group(1) if m else f"stage-{len(stages)}", own_from))
        elif kw in _VERTEX_KEYWORDS and stages:
            stages[-1][1].append(_norm(line))
    if len(stages) == 1:
        stages = [("", stages[0][1])]
    return stages


def _same_base(printed: str, written: str) -> bool:
    """'FROM docker.io/library/python:3.13.5-slim' (as BuildKit prints it) vs 'FROM python:3.13.5-slim AS x'."""
    ref = printed.split()[-1]
    words = [w for w in written.split()[1:] if not w.startswith("--")]
    base = words[0] if words else ""
    return bool(base) and (ref == base or ref.endswith("/" + base) or ref.endswith("/library/" + base)
                           or ref.split("@")[0] == base.split("@")[0])


class RawProgress:
    """Folds BuildKit's rawjson stream (one SolveStatus object per line) into steps, logs, errors, warnings."""

    def __init__(self, stages: dict[str, int] | None = None, dockerfile_text: str = ""):
        self.own_stages = dockerfile_stages(dockerfile_text) if dockerfile_text else []
        self.vertices: dict[str, dict] = {}
        self.order: list[str] = []
        self.warnings: list[dict] = []
        self.context_bytes: int | None = None
        self.other: list[str] = []  # lines that are not JSON (the CLI's own error summary)
        self.stages = stages or {}

    def feed(self, line: str) -> list[str]:
        """Take one line; return the digests of steps that finished with it."""
        line = line.strip()
        if not line:
            return []
        try:
            status = json.loads(line)
        except ValueError:
            self.other.append(line)
            return []
        if not isinstance(status, dict):
            self.other.append(line)
            return []
        finished = []
        for v in status.get("vertexes") or []:
            d = v.get("digest", "")
            rec = self.vertices.get(d)
            if rec is None:
                rec = self.vertices[d] = {"name": v.get("name", ""), "started": None, "completed": None,
                                          "cached": False, "error": "", "log": [], "chunks": [], "inputs": []}
                self.order.append(d)
            for i in v.get("inputs") or []:
                if i not in rec["inputs"]:
                    rec["inputs"].append(i)
            was_done = rec["completed"] is not None and not rec["error"]
            if v.get("started") and rec["started"] is None:
                rec["started"] = _ts(v["started"])
            if v.get("completed"):
                rec["completed"] = _ts(v["completed"])
            if v.get("cached"):
                rec["cached"] = True
            if v.get("error"):
                rec["error"] = v["error"]
            if rec["completed"] is not None and not was_done and _STEP_NAME.match(rec["name"]):
                finished.append(d)
        for entry in status.get("logs") or []:
            rec = self.vertices.get(entry.get("vertex", ""))
            if rec is not None:
                text = base64.b64decode(entry.get("data") or b"").decode("utf-8", "replace")
                rec["chunks"].append((entry.get("timestamp", ""), text))
                rec["log"] = "".join(t for _, t in sorted(rec["chunks"], key=lambda c: c[0])).splitlines()
        for s in status.get("statuses") or []:
            if str(s.get("id", "")).startswith("transferring context") and s.get("current") is not None:
                self.context_bytes = int(s["current"])
        for w in status.get("warnings") or []:
            self.warnings.append(_warning(w))
        return finished

    def step(self, digest: str) -> Step | None:
        rec = self.vertices[digest]
        m = _STEP_NAME.match(rec["name"])
        if not m:
            return None
        seconds = 0.0
        if rec["started"] is not None and rec["completed"] is not None and not rec["cached"]:
            seconds = max(0.0, rec["completed"] - rec["started"])
        instr = " ".join(m.group("instr").split()) if "\n" in m.group("instr") else m.group("instr")
        context = any(self.vertices.get(i, {}).get("name", "") == CONTEXT_VERTEX for i in rec["inputs"])
        return Step(int(m.group("n")), int(m.group("total")), instr, _counts_as_cached(instr, rec["cached"]),
                    seconds, (m.group("stage") or "").strip(), list(rec["log"]), digest, tuple(rec["inputs"]), context)

    def steps(self) -> list[Step]:
        """Every step BuildKit ran or took from its cache, in Dockerfile order (skipped stages do not appear)."""
        out: list[Step] = []
        taken: set[tuple[str, int]] = set()
        for d in self.order:
            step = self.step(d)
            if step is not None:
                step = self.own(step, taken)
                if (step.stage, step.number) not in taken:
                    taken.add((step.stage, step.number))
                    out.append(step)
        return sorted(out, key=lambda s: (self.stages.get(s.stage.lower(), 0), s.number))

    def own(self, step: Step, taken: set | None = None) -> Step:
        """BuildKit runs one vertex for identical steps, also of builds that run at the same time on the engine,
        and names it after whichever build asked first ("[build 1/7] FROM …" in a one-stage Dockerfile, "[2/4]
        WORKDIR /app" in a five-step one). Name it after this Dockerfile: its stage, number and total."""
        if not self.own_stages:
            return step
        candidates = []
        for label, instrs in self.own_stages:
            for i, written in enumerate(instrs):
                same = (_same_base(step.instruction, written) if step.keyword == "FROM" and written.upper().startswith("FROM")
                        else _norm(step.instruction) == written)
                if same:
                    candidates.append((label, i + 1, len(instrs)))
        if not candidates:
            return step
        exact = [c for c in candidates if c[0] == step.stage and c[1] == step.number]
        same_stage = [c for c in candidates if c[0] == step.stage]  # "COPY app.py ." in both test and runtime
        free = [c for c in candidates if (c[0], c[1]) not in (taken or set())]
        label, number, total = (exact or same_stage or free or candidates)[0]
        return dataclasses.replace(step, stage=label, number=number, total=total)

    def readable(self) -> list[str]:
        """The build as ``--progress=plain`` would print it: each step, its output, CACHED / DONE / ERROR."""
        lines = []
        for i, d in enumerate(self.order, 1):
            rec = self.vertices[d]
            lines.append(f"#{i} {rec['name']}")
            lines.extend(f"#{i} {l}" for l in rec["log"])
            if rec["error"]:
                lines.append(f"#{i} ERROR: {rec['error']}")
            elif rec["cached"]:
                lines.append(f"#{i} CACHED")
            elif rec["completed"] is not None and rec["started"] is not None:
                lines.append(f"#{i} DONE {max(0.0, rec['completed'] - rec['started']):.1f}s")
        return lines + self.other

    def counts(self) -> tuple[int, int]:
        """(finished, announced) steps of this build, in one pass: BuildKit announces every step it will run (or
        take from the cache) when the build starts, and never one of a stage it skips."""
        recs = [r for r in self.vertices.values() if _STEP_NAME.match(r["name"])]
        return sum(r["completed"] is not None for r in recs), len(recs)

    def running(self) -> tuple[str, float] | None:
        """The step that started last and is still running: (name, its start time)."""
        best = None
        for d in self.order:
            rec = self.vertices[d]
            if rec["started"] is not None and rec["completed"] is None and _STEP_NAME.match(rec["name"]):
                if best is None or rec["started"] > best[1]:
                    best = (_STEP_NAME.match(rec["name"]).group("instr"), rec["started"])
        return best

    def failure(self) -> dict | None:
        """The step that failed: its instruction, BuildKit's error and the last lines of its output."""
        failed = [d for d in self.order if self.vertices[d]["error"]]
        if not failed:
            return None
        # prefer a Dockerfile step over internal vertices, and the one that has output
        failed.sort(key=lambda d: (not _STEP_NAME.match(self.vertices[d]["name"]), not self.vertices[d]["log"]))
        rec = self.vertices[failed[0]]
        m = _STEP_NAME.match(rec["name"])
        step = (f"[{m.group('stage')} {m.group('n')}/{m.group('total')}] " if m and m.group("stage") else "") + (
            m.group("instr") if m else rec["name"])
        return {"step": step, "message": rec["error"], "log": rec["log"]}


def _warning(w: dict) -> dict:
    def dec(x):
        try:
            return base64.b64decode(x).decode("utf-8", "replace")
        except (ValueError, TypeError):
            return str(x)
    short = dec(w.get("short", ""))
    rule = short.split(":", 1)[0] if ":" in short else ""
    lines = [r.get("start", {}).get("line") for r in w.get("range") or []]
    return {"rule": rule, "message": short.split(":", 1)[1].strip() if ":" in short else short,
            "line": lines[0] if lines else None, "url": w.get("url", "")}


def _missing_buildx(text: str) -> bool:
    return "buildx component is missing" in text or "unknown flag: --progress" in text


def build(path: str | os.PathLike, tag: str, *, dockerfile: str = "Dockerfile", buildargs: dict | None = None,
          target: str | None = None, labels: dict | None = None, secrets: dict | None = None,
          nocache: bool = False, pull: bool = False, network: str | None = None, platform: str | None = None,
          quiet: bool = False, log: bool = False, timeout: float = 1800, client=None) -> BuildResult:
    """Build ``path`` into ``tag`` with BuildKit (``docker build``) and return a :class:`BuildResult`.

    ``secrets`` maps a secret id to a file (``--secret id=ID,src=PATH``); ``network="none"`` builds
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
    if target:
        args += ["--target", target]
    if nocache:
        args.append("--no-cache")
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
        if not SNAPSHOT_RACE.search(exc.error or ""):
            raise
        # An engine bug, not the Dockerfile: see SNAPSHOT_RACE. The same build again finds its layers in the cache.
        note = (f"build {tag}: the engine lost a layer while unpacking the image (containerd image store, moby/buildkit"
                "#6521, fixed in newer engines by moby/buildkit#6558): building it once more")
        print(note, flush=True)
        record_retry(note + f" (first error: {_short(exc.error, 160)})")
        return _run_build(args + label_args, path, tag, dockerfile, quiet, log, timeout, client)


# BuildKit's image exporter on the containerd image store could lose a parent snapshot to containerd's garbage
# collector while another build or an image removal ran at the same time ("failed to prepare extraction snapshot …
# parent snapshot … does not exist: not found"; moby/buildkit#6521, fixed by moby/buildkit#6558, March 2026).
# Engines older than that fix (Debian's 28.5 among them) show it when builds run side by side, as in a classroom.
SNAPSHOT_RACE = re.compile(r"failed to prepare extraction snapshot.*parent snapshot \S+ does not exist", re.S)


def record_retry(note: str) -> None:
    """Append a retry the course made past an engine bug to $DOCKERLAB_RETRIES (the test suite names each one)."""
    path = os.environ.get("DOCKERLAB_RETRIES")
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
        env = dict(os.environ, DOCKER_BUILDKIT="1")  # never fall back to the deprecated classic builder
        env.pop("BUILDKIT_PROGRESS", None)
        try:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        except FileNotFoundError:
            raise BuildFailed(tag, "", "the docker command is not installed (it runs BuildKit builds)", [], []) from None
        q: queue.Queue = queue.Queue()

        def reader():
            for line in proc.stdout:  # type: ignore[union-attr]
                q.put(line)
            q.put(None)

        threading.Thread(target=reader, daemon=True).start()
        ok = False
        try:
            while True:
                try:
                    line = q.get(timeout=0.5)
                except queue.Empty:
                    line = ""
                if line is None:
                    break
                if time.monotonic() - t0 > timeout:
                    proc.kill()
                    raise BuildFailed(tag, (raw.running() or ("",))[0],
                                      f"the build did not finish within {timeout:.0f} s", _tail(lines), lines)
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
            if proc.poll() is None:
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


def _record(result: BuildResult) -> None:
    """The build's figures for the run-all report: seconds, steps from the cache, image and context size."""
    note = f"{len(result.cached())}/{len(result.steps)} steps cached, image {human_size(result.size)}"
    if result.context_bytes is not None:
        note += f", context sent {human_size(result.context_bytes)}"  # BuildKit sends only what changed
    slowest = max(result.rebuilt(), key=lambda s: s.seconds, default=None)
    if slowest is not None and slowest.seconds >= 0.1:
        note += f", slowest step {_short(slowest.instruction, 40)} {slowest.seconds:.1f} s"
    record(f"build {short_name(result.tag)}", result.seconds, "s", note)


def _print_step(progress: StepProgress, step: Step, log_lines: list[str], failed: bool = False) -> None:
    progress.clear_line()
    state = "FAILED" if failed else "cached" if step.cached else f"{step.seconds:.1f} s"
    stage = f"{step.stage} " if step.stage else ""
    print(f"  [{stage}{step.number}/{step.total}] {_short(step.instruction, 60)}  ... {state}", flush=True)
    for l in log_lines:
        print(f"      | {l}", flush=True)


def _tail(lines: list[str], n: int = LOG_TAIL) -> list[str]:
    return [l for l in lines if l.strip()][-n:]


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
    proc = subprocess.run(args + ["--call=check,format=json", "--progress=quiet", str(path)], capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, DOCKER_BUILDKIT="1"))
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
