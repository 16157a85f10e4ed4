"""BuildKit's structured progress (``docker build --progress=rawjson``), folded into the build's steps.

Each line of the stream is one SolveStatus object: its *vertexes* are the build's steps (name, digest, the digests
of the vertices they read, started, completed, cached, error), its *logs* each step's output, its *warnings* the build
checks. :class:`RawProgress` folds them into :class:`Step` objects, names each step after the learner's own
Dockerfile (BuildKit shares identical steps between builds that run at the same time), and says which step failed.
"""
from __future__ import annotations

import base64
import dataclasses
import json
import re
from datetime import datetime

from dockerlab.dockerfile import dockerfile_stages, same_base, step_text


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


def _counts_as_cached(instruction: str, cached: bool) -> bool:
    """A FROM step runs nothing (the base image is used as it is): it counts as cached."""
    return cached or instruction.split(None, 1)[0].upper() == "FROM"


CONTEXT_VERTEX = "[internal] load build context"  # the files the client sends (.dockerignore applied)
_STEP_NAME = re.compile(r"^\[(?:(?P<stage>[^\]]*?) )?(?P<n>\d+)/(?P<total>\d+)\] (?P<instr>.*)$", re.S)


def _ts(value: str | None) -> float | None:
    """RFC 3339 with nanoseconds (BuildKit's timestamps) -> seconds since the epoch."""
    if not value:
        return None
    m = re.match(r"^(.*?T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", value)
    if not m:
        return None
    base = datetime.fromisoformat(m.group(1) + ("+00:00" if m.group(3) == "Z" else m.group(3)))
    return base.timestamp() + (float("0." + m.group(2)) if m.group(2) else 0.0)


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
                same = (same_base(step.instruction, written) if step.keyword == "FROM" and written.upper().startswith("FROM")
                        else step_text(step.instruction) == written)
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
        """The step that failed: its instruction, BuildKit's error, the last lines of its output and, for a process
        that exited, its exit code."""
        failed = [d for d in self.order if self.vertices[d]["error"]]
        if not failed:
            return None
        # a step that failed by itself before one BuildKit cancelled because another failed ("context canceled": when
        # one step of a build fails, the steps running beside it in other stages are stopped, often with exit 137 and
        # with output of their own); then a Dockerfile step over internal vertices, and the one that has output
        failed.sort(key=lambda d: (_cancelled(self.vertices[d]["error"]), not _STEP_NAME.match(self.vertices[d]["name"]),
                                   not self.vertices[d]["log"]))
        rec = self.vertices[failed[0]]
        m = _STEP_NAME.match(rec["name"])
        step = (f"[{m.group('stage')} {m.group('n')}/{m.group('total')}] " if m and m.group("stage") else "") + (
            m.group("instr") if m else rec["name"])
        code = re.search(r"exit code: (\d+)", rec["error"] or "")  # a RUN step's process: BuildKit's words
        return {"step": step, "message": rec["error"], "log": rec["log"], "exit_code": int(code.group(1)) if code else None}


def _cancelled(error: str) -> bool:
    """BuildKit's error for a step it stopped because the build failed elsewhere (``…: context canceled``)."""
    return (error or "").rstrip().lower().endswith(("context canceled", "canceled", "cancelled"))


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
