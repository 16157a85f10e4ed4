"""What several exercise checks judge the same way: one definition each.

* :data:`INSTALL` and :func:`install_steps`: which build steps install dependencies (pip, uv, poetry, pipenv),
  recognised in the steps BuildKit reports, whatever the spelling around the command.
* :func:`rebuild_after_code_change`: does a code-only change keep the dependency install in the cache?
* :func:`build_reusing`: build, or take the image already built from the same inputs (a re-run check).
* :func:`build_error`: what a failed build said, in one line; :func:`build_failed`: the check line that says it.
"""
from __future__ import annotations

import dataclasses
import fnmatch
import re
import uuid
from pathlib import Path

from dockerlab import recipes
from dockerlab.build import BuildFailed, BuildResult, Step, context_files
from dockerlab.grading.checker import Verdict, failed
from dockerlab.show import short

INSTALL = re.compile(
    r"(?:^|[\s;&|(/])(?:uv\s+sync|uv\s+pip\s+(?:install|sync)|(?:python3?(?:\.\d+)?\s+-m\s+)?pip(?:3(?:\.\d+)?)?\s+install"
    r"|poetry\s+install|pipenv\s+(?:install|sync))\b")


def build_error(exc: BuildFailed) -> str:
    """What a failed build said, in one line: BuildKit's own error (``the Dockerfile cannot be empty``) where the
    runner's is only ``docker build exited with 1``."""
    error = (exc.error.strip().splitlines() or [""])[0]
    if re.fullmatch(r"docker build exited with \d+", error):
        said = next((line for line in reversed(exc.log_tail) if line.startswith("ERROR")), "")
        error = re.sub(r"^ERROR:\s*(?:failed to build:\s*)?(?:failed to solve:\s*)?", "", said) or error
    return error


def missing_dockerfile(app: Path, fix: str) -> Verdict | None:
    """The failed line when the folder ``app`` has no Dockerfile; None when it has one."""
    if (Path(app) / "Dockerfile").exists():
        return None
    return failed("missing", f"no Dockerfile in {Path(app).name}/", fix, file="Dockerfile")


def build_answer(lab, app: Path, thing: str, missing_fix: str, fix, *, width: int = 200,
                 **build_kwargs) -> tuple[BuildResult | None, Verdict | None]:
    """The learner's Dockerfile in ``app`` built as ``lab.image(thing)``: ``(result, None)``, or ``(None, the failed
    line)`` when there is no Dockerfile (``missing_fix``) or the build failed: its step, BuildKit's own error and
    ``fix``, a text or ``fix(exc) -> (text, observed values)`` for a fix that depends on what the build said."""
    problem = missing_dockerfile(app, missing_fix)
    if problem is not None:
        return None, problem
    try:
        return lab.build(app, thing, **build_kwargs), None
    except BuildFailed as exc:
        said, observed = fix(exc) if callable(fix) else (fix, {})
        return None, build_failed(exc, said, width=width, **observed)


def build_failed(exc: BuildFailed, fix: str, width: int = 200, **observed) -> Verdict:
    """The failed line of an image that did not build: the step that failed, BuildKit's own error, the fix."""
    where = short(exc.step or "(before the first step)", 70)
    return failed("build-failed", f"the build failed at `{where}`: {short(build_error(exc), width)}", fix,
                  step=exc.step or "", **observed)


def install_steps(steps: list[Step]) -> list[Step]:
    """The RUN steps that install Python dependencies, in build order."""
    return [s for s in steps if s.keyword == "RUN" and INSTALL.search(s.instruction)]


def copies(step: Step, path: str) -> bool:
    """Does a COPY/ADD step copy ``path`` (relative to the context), by name, by a parent folder or by ``.``? (A
    ``--from=`` copy reads another stage or image, not the context.)"""
    if step.keyword not in ("COPY", "ADD"):
        return False
    words = [w for w in step.instruction.split()[1:] if not w.startswith("--")]
    if any(w.startswith("--from=") for w in step.instruction.split()[1:]) or len(words) < 2:
        return False
    parts = path.strip("/").split("/")
    for src in words[:-1]:
        src = src.strip("/").removeprefix("./")
        if src in ("", "."):
            return True
        pattern = src.split("/")  # a name, a folder or a wildcard: it copies the file, or a folder holding it
        if len(pattern) <= len(parts) and all(fnmatch.fnmatchcase(t, s) for t, s in zip(parts, pattern)):
            return True
    return False


def _mounts(instruction: str) -> list[dict[str, str]]:
    """The ``--mount=`` options of a RUN instruction, as dicts (``type`` defaults to bind, as in BuildKit)."""
    out = []
    for word in instruction.split()[1:]:
        if not word.startswith("--"):
            break
        if word.startswith("--mount="):
            opts = dict(kv.split("=", 1) if "=" in kv else (kv, "") for kv in word[len("--mount="):].split(","))
            opts.setdefault("type", "bind")
            out.append(opts)
    return out


def _covers(src: str, path: str) -> bool:
    """Does the context path ``src`` (a file, a folder or a wildcard) include ``path``?"""
    src = src.strip("/").removeprefix("./")
    if src in ("", "."):
        return True
    parts, pattern = path.strip("/").split("/"), src.split("/")
    return len(pattern) <= len(parts) and all(fnmatch.fnmatchcase(t, s) for t, s in zip(parts, pattern))


def reads(step: Step, path: str) -> bool:
    """Does the step read ``path`` of the build context: a COPY/ADD that copies it, or a RUN that bind-mounts
    it (``--mount=type=bind`` without ``from=``; no ``source`` means the whole context)?"""
    if step.keyword in ("COPY", "ADD"):
        return copies(step, path)
    if step.keyword != "RUN":
        return False
    binds = [m for m in _mounts(step.instruction) if m["type"] == "bind" and "from" not in m]
    if any(_covers(m.get("source", m.get("src", ".")), path) for m in binds):
        return True
    # BuildKit says the step reads the context, yet no bind mount here names the file: it may still (a form
    # this reading does not know), so it counts as reading it only when no mount says what it reads.
    return step.reads_context and not binds


@dataclasses.dataclass
class CodeChangeRebuild:
    """The outcome of :func:`rebuild_after_code_change`.

    Judged on BuildKit's build graph, not on its "cached" flags alone: a step counts as *invalidated* by the code
    change when it ran again and it reads the changed file, or reads the result of an invalidated step. A step
    that ran again although nothing it reads changed was scheduled again by the engine (a concurrent build that
    shares its base can make BuildKit run it once more, moby/buildkit#6954): it counts as kept.
    """

    code_file: str
    result: BuildResult | None = None  # the rebuild that was judged
    dependency_step: Step | None = None  # the first step that installs dependencies
    upto: list[Step] = dataclasses.field(default_factory=list)  # the dependency step and the steps it reads from
    rebuilt: list[Step] = dataclasses.field(default_factory=list)  # of those, the steps the code change invalidated
    rescheduled: list[Step] = dataclasses.field(default_factory=list)  # ran again, though nothing they read changed
    error: str = ""  # the rebuild failed: why
    marker: str = ""  # the comment line the check appended to the code file (the judged rebuild contains it)

    @property
    def cached(self) -> bool:
        return self.result is not None and self.dependency_step is not None and not self.rebuilt

    @property
    def blamed(self) -> Step | None:
        """The step :meth:`why` blames: the first invalidated step that reads the changed file (the dependency step
        itself when a bind mount of the context gives it the code); None when the dependency step was kept."""
        if not self.rebuilt or self.dependency_step is None:
            return None
        return next((s for s in self.rebuilt if reads(s, self.code_file)), self.rebuilt[0])

    @property
    def kept_by(self) -> str:
        """How the dependency step was kept: "cache", or "rescheduled" (it ran again, nothing it reads changed)."""
        if not self.cached:
            return ""
        return "rescheduled" if self.dependency_step in self.rescheduled else "cache"

    def why(self) -> str:
        """Why the dependency step ran again: the first step it depends on that reads the changed file."""
        reader = self.blamed
        if reader is None:
            return ""
        dep = short(self.dependency_step.instruction, 70)
        if reader is self.dependency_step:
            return (f"after editing {self.code_file}, `{dep}` ran again: it reads {self.code_file} itself "
                    "(a bind mount of the context that includes the code)")
        return (f"after editing {self.code_file}, `{dep}` ran again because `{short(reader.instruction, 60)}` comes "
                f"before it and copies {self.code_file}, which changed")

    def kept(self) -> str:
        """How the dependency step was kept: from the cache, or run again with nothing it reads changed."""
        dep = short(re.sub(r"^RUN\s+(?:--(?:mount|network|security)=\S+\s+)+", "RUN ", self.dependency_step.instruction), 60)
        if self.kept_by == "rescheduled":
            return (f"`{dep}` ran again, but nothing it reads changed: the engine scheduled it once more beside "
                    "another build (not your order)")
        return f"`{dep}` came from the cache{self.note()}"

    def note(self) -> str:
        """A word on steps the engine ran again for no reason of the Dockerfile's (empty when there were none)."""
        if not self.rescheduled:
            return ""
        names = ", ".join(f"`{short(s.instruction, 40)}`" for s in self.rescheduled[:2])
        return (f" ({names} ran again although nothing {'it' if len(self.rescheduled) == 1 else 'they'} read "
                "changed: the engine's scheduling, beside another build, not your order)")


def judge_code_change(result: BuildResult, code_file: str) -> CodeChangeRebuild:
    """Which steps up to the first dependency install did a change of ``code_file`` invalidate?"""
    out = CodeChangeRebuild(code_file, result)
    deps = install_steps(result.steps)
    if not deps:
        return out
    dep = out.dependency_step = deps[0]
    by_digest = {s.digest: s for s in result.steps if s.digest}
    if not dep.digest:  # no graph in the progress stream (an older BuildKit): every step before it, in build order
        out.upto = result.steps[: result.steps.index(dep) + 1]
        out.rebuilt = [s for s in out.upto if not s.cached]
        return out
    seen: dict[str, bool] = {}

    def invalidated(s: Step) -> bool:
        if s.digest not in seen:
            seen[s.digest] = False  # the graph has no cycles; this only guards against a malformed stream
            parents = [invalidated(by_digest[i]) for i in s.inputs if i in by_digest]  # every ancestor is visited
            seen[s.digest] = not s.cached and (reads(s, code_file) or any(parents))
        return seen[s.digest]

    invalidated(dep)
    out.upto = [s for s in result.steps if s.digest in seen]
    out.rebuilt = [s for s in out.upto if seen[s.digest]]
    out.rescheduled = [s for s in out.upto if not s.cached and not seen[s.digest]]
    return out


def rebuild_after_code_change(lab, app: Path, thing: str, *, code_file: str | None = None,
                              dockerfile: str = "Dockerfile", **build_kwargs) -> CodeChangeRebuild:
    """Append a unique comment to the app's code, rebuild, and judge whether the change invalidated the first
    dependency install (:func:`judge_code_change`): that step and every step it reads from must be kept; later
    installs (uv's second ``uv sync`` that installs the project itself) may re-run by design. A unique comment,
    so no earlier build has seen that code. The code file is restored.
    """
    app = Path(app)
    if code_file is None:
        code_file = "app.py" if (app / "app.py").exists() else next((p.name for p in sorted(app.glob("*.py"))), "app.py")
    code = app / code_file
    if not code.exists():
        return CodeChangeRebuild(code_file, error=f"no {code_file} to change in {app}")
    original = code.read_bytes()
    marker = f"# a code change made by the check: {uuid.uuid4().hex}"
    try:
        code.write_bytes(original + f"\n{marker}\n".encode())
        try:
            # A tag of its own: the image built under ``thing`` before stays (on the containerd image store an
            # image whose only tag moves to a new build is deleted, and a check may still read it).
            result = lab.build(app, f"{thing}-code-change", dockerfile=dockerfile, quiet=True, **build_kwargs)
        except BuildFailed as exc:
            return CodeChangeRebuild(code_file, marker=marker, error=(
                f"the rebuild after changing {code_file} failed at `{short(exc.step, 60)}`: {short(exc.error, 160)}"))
    finally:
        code.write_bytes(original)
    out = judge_code_change(result, code_file)
    out.marker = marker
    return out


INPUTS_LABEL = "org.dockerlab.check.inputs"


def inputs_hash(app_dir, dockerfile: str = "Dockerfile") -> str:
    """A hash of what the build sees (Dockerfile + the context after .dockerignore): same hash, same image."""
    app = Path(app_dir)
    files = [(name, app / name) for name, _ in context_files(app, dockerfile) if name != ".dockerlab.labels.yaml"]
    return recipes.digest([*files, (dockerfile, app / dockerfile)], length=24)


def build_reusing(lab, app_dir, thing: str, tag: str = "latest", reuse: bool = True):
    """The image of ``app_dir``: built with BuildKit, or, with ``reuse``, the one already built from the same
    inputs (labelled with their hash). Raises BuildFailed."""
    return recipes.build_if_changed(
        lab.image(thing, tag), INPUTS_LABEL, inputs_hash(app_dir),
        lambda labels: lab.build(app_dir, thing, tag=tag, quiet=True, labels=labels).image,
        client=lab.client, force=not reuse)
