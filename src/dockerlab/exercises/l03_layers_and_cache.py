"""Lesson 03 exercise: order a Dockerfile so that a code-only change rebuilds with every dependency step cached.

The check builds the learner's Dockerfile, appends a comment line to the app's code, rebuilds, and reads
which steps the builder took from its cache: ``RUN pip install …`` and every step before it must be cached.
Then it starts the image and asks ``/health`` (a failure names the observed cause).
"""
from __future__ import annotations

from pathlib import Path

from ..build import BuildFailed, BuildResult
from ..checks import Checker
from ..show import short as _short
from .common import install_steps, rebuild_after_code_change
from .probes import serves_health

LESSON = "03_layers_and_cache"
HINTS = (  # shown by dockerlab.hints(ex), one at a time; the solution notebook holds the answer
    "A step is rebuilt when what it copies changed, and every step after a rebuilt one is rebuilt too. "
    "Which step changes when app.py changes?",
    "The install step needs only one file of the app. What if that file were in the image before the rest?",
    "Lesson 03, section \"Instruction order decides what a code change costs\", measures both orders on cache_demo.",
)
CONTAINER_PORT = 8000
FIXES = {
    "file": "the code is not in the image: `COPY . .` after installing the requirements",
    "module": "a dependency is missing: install requirements.txt with pip",
    "exited": "keep `CMD [\"python\", \"app.py\"]` and copy the code into WORKDIR",
}


def pip_step(result: BuildResult) -> int | None:
    """Index of the first step that installs dependencies (None if there is none)."""
    deps = install_steps(result.steps)
    return result.steps.index(deps[0]) if deps else None


def _build(lab, c: Checker, app: Path, thing: str, dockerfile: str, what: str) -> BuildResult | None:
    try:
        return lab.build(app, thing, dockerfile=dockerfile)
    except BuildFailed as exc:
        fix = "read the build log above"
        if "requirements" in exc.error.lower() or any("requirements" in l for l in exc.log_tail):
            fix = "RUN pip install -r requirements.txt needs the file in the image: put `COPY requirements.txt .` before it"
        c.fail(what, f"the build failed at `{_short(exc.step)}`: {_short(exc.error, 160)}", fix)
        return None


def check(lab, app: Path, dockerfile: str = "Dockerfile", code_file: str = "app.py", timeout: float = 30) -> Checker:
    """Build ``app``, change only ``code_file``, rebuild, and check the dependency steps came from the cache."""
    app = Path(app)
    c = Checker(LESSON, "order for the cache")
    thing = "exercise"
    first = _build(lab, c, app, thing, dockerfile, "the image builds")
    if first is None:
        return c.report()
    c.ok("the image builds", f"{len(first.steps)} steps")
    idx = pip_step(first)
    if idx is None:
        c.fail("dependencies are installed by a RUN step",
               "no `RUN pip install …` step in the Dockerfile",
               "add `RUN pip install --no-cache-dir -r requirements.txt` after copying requirements.txt")
        return c.report()

    print(f"the check appends a comment line to {code_file} and rebuilds:")
    change = rebuild_after_code_change(lab, app, thing, code_file=code_file, dockerfile=dockerfile)
    if change.error:
        c.fail("the image rebuilds after a code change", change.error, "read the build log: lab.build(app, 'x', log=True)")
        return c.report()
    second = change.result
    steps = second.steps
    if change.dependency_step is None:
        c.fail("dependencies are installed by a RUN step", "the rebuild has no step that installs dependencies",
               "keep `RUN pip install --no-cache-dir -r requirements.txt` after copying requirements.txt")
        return c.report()
    idx = steps.index(change.dependency_step)
    upto = steps[: idx + 1]
    if change.cached:
        retried = " (on the second try: the first rebuild shared the base with another build)" if change.attempts > 1 else ""
        c.ok("pip install and every step before it come from the cache",
             f"{len(upto)} of {len(upto)} steps up to `{_short(change.dependency_step.instruction, 50)}` cached{retried}")
    else:
        c.fail("pip install and every step before it come from the cache",
               f"{len(upto) - len(change.rebuilt)} of {len(upto)} steps up to the install cached; " + change.why(),
               "copy requirements.txt alone first (`COPY requirements.txt .`), then `RUN pip install -r requirements.txt`, "
               "and only then `COPY . .`")
    rebuilt = change.rebuilt
    after = [s for s in steps[idx + 1:] if not s.cached]
    c.expect(bool(after) or bool(rebuilt), "the code change reaches the image",
             f"no step was rebuilt after {code_file} changed, so the image does not contain the code",
             fix="copy the code (`COPY . .`) after the install",
             ok=f"rebuilt: {', '.join('`' + _short(s.instruction, 30) + '`' for s in (rebuilt or after))}")

    # The app still runs.
    serves_health(lab, c, second.tag, name="the app answers /health", thing="exercise-app", port=CONTAINER_PORT,
                  timeout=timeout, fixes=FIXES)
    return c.report()
