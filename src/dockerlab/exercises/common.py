"""What several exercise checks judge the same way: one definition each.

* :data:`INSTALL` and :func:`install_steps`: which build steps install dependencies (pip, uv, poetry, pipenv),
  recognised in the steps BuildKit reports, whatever the spelling around the command.
* :func:`rebuild_after_code_change`: does a code-only change keep the dependency install in the cache?
* :func:`build_reusing`: build, or take the image already built from the same inputs (a re-run check).
"""
from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import hashlib
import re
import uuid
from pathlib import Path

from ..build import BuildFailed, BuildResult, Step, context_files
from ..show import short

INSTALL = re.compile(
    r"(?:^|[\s;&|(/])(?:uv\s+sync|uv\s+pip\s+(?:install|sync)|(?:python3?(?:\.\d+)?\s+-m\s+)?pip(?:3(?:\.\d+)?)?\s+install"
    r"|poetry\s+install|pipenv\s+(?:install|sync))\b")


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


@dataclasses.dataclass
class CodeChangeRebuild:
    """The outcome of :func:`rebuild_after_code_change`."""

    code_file: str
    result: BuildResult | None = None  # the rebuild that was judged
    dependency_step: Step | None = None  # the first step that installs dependencies
    rebuilt: list[Step] = dataclasses.field(default_factory=list)  # steps up to it that ran again
    attempts: int = 0
    error: str = ""  # the rebuild failed: why
    marker: str = ""  # the comment line the check appended to the code file (the judged rebuild contains it)

    @property
    def cached(self) -> bool:
        return self.result is not None and self.dependency_step is not None and not self.rebuilt

    def why(self) -> str:
        """Why the dependency step ran again: the first step before it that did (a rebuilt step invalidates the
        rest), named as the builder reported it."""
        if not self.rebuilt or self.dependency_step is None:
            return ""
        first = self.rebuilt[0]
        dep = short(self.dependency_step.instruction, 70)
        if first is self.dependency_step or first.instruction == self.dependency_step.instruction:
            return f"after editing {self.code_file}, `{dep}` ran again although every step before it came from the cache"
        return (f"after editing {self.code_file}, `{dep}` ran again because `{short(first.instruction, 60)}` comes before it and re-ran: "
                f"it copies {self.code_file}, which changed")


def rebuild_after_code_change(lab, app: Path, thing: str, *, code_file: str | None = None,
                              dockerfile: str = "Dockerfile", attempts: int = 2, **build_kwargs) -> CodeChangeRebuild:
    """Append a unique comment to the app's code, rebuild, and see whether the dependency install came from the cache.

    The first step that installs dependencies and every step before it must be cached; later installs (uv's second
    ``uv sync`` that installs the project itself) may re-run by design. A unique comment each time, so no earlier
    build has seen that code. When the install ran again, it tries once more with another change: BuildKit can
    re-run a cached step while another build on the same engine shares its base image (moby/buildkit#4674),
    and a correct Dockerfile passes on the second try, a wrong order fails both (no second try when the first step
    that re-ran copies the changed file: that is the order). The code file is restored.
    """
    app = Path(app)
    if code_file is None:
        code_file = "app.py" if (app / "app.py").exists() else next((p.name for p in sorted(app.glob("*.py"))), "app.py")
    code = app / code_file
    out = CodeChangeRebuild(code_file)
    if not code.exists():
        out.error = f"no {code_file} to change in {app}"
        return out
    original = code.read_bytes()
    try:
        for _ in range(max(1, attempts)):
            out.attempts += 1
            out.marker = f"# a code change made by the check: {uuid.uuid4().hex}"
            code.write_bytes(original + f"\n{out.marker}\n".encode())
            try:
                result = lab.build(app, thing, dockerfile=dockerfile, quiet=True, **build_kwargs)
            except BuildFailed as exc:
                out.error = f"the rebuild after changing {code_file} failed at `{short(exc.step, 60)}`: {short(exc.error, 160)}"
                return out
            deps = install_steps(result.steps)
            out.result = result
            if not deps:
                return out
            idx = result.steps.index(deps[0])
            out.dependency_step = deps[0]
            out.rebuilt = [s for s in result.steps[: idx + 1] if not s.cached]
            if not out.rebuilt or copies(out.rebuilt[0], code_file):
                return out  # cached, or a step that copies the changed file re-ran: the order, not a flake
    finally:
        code.write_bytes(original)
    return out


INPUTS_LABEL = "org.dockerlab.check.inputs"


def inputs_hash(app_dir, dockerfile: str = "Dockerfile") -> str:
    """A hash of what the build sees (Dockerfile + the context after .dockerignore): same hash, same image."""
    app, h = Path(app_dir), hashlib.sha256()
    for name, _ in context_files(app, dockerfile):
        if name != ".dockerlab.labels.yaml":
            h.update(name.encode() + b"\0" + (app / name).read_bytes() + b"\0")
    h.update((app / dockerfile).read_bytes())
    return h.hexdigest()[:24]


def build_reusing(lab, app_dir, thing: str, tag: str = "latest", reuse: bool = True):
    """The image of ``app_dir``: built with BuildKit, or, with ``reuse``, the one already built from the same
    inputs (labelled with their hash). Raises BuildFailed."""
    h = inputs_hash(app_dir)
    if reuse:
        with contextlib.suppress(Exception):  # not there (or built from other inputs): build it
            img = lab.client.images.get(lab.image(thing, tag))
            if (img.labels or {}).get(INPUTS_LABEL) == h:
                return img
    return lab.build(app_dir, thing, tag=tag, quiet=True, labels={INPUTS_LABEL: h}).image
