"""Lesson 03 exercise: the cache order for a packaged service (``sample_apps/word_stats``).

The lesson orders cache_demo (a requirements.txt and an app.py). word_stats is packaged as most services are: a
``pyproject.toml`` with ranges, a lock file ``requirements.lock`` with the exact versions, and the code in
``src/wordstats/``, installed as a package. The learner applies the same idea to it: what the dependency install
reads comes first, the code and the install of the project itself after. The check judges the built images:

1. the Dockerfile builds;
2. after a change to ``src/wordstats/text.py`` only, the dependency install and every step before it come from
   BuildKit's cache (the project's own install after it may run again);
3. the rebuilt image runs the changed code (the check's change is in the module Python imports);
4. every package is at the version ``requirements.lock`` pins (pip resolving ``pyproject.toml``'s ranges, or
   ``pip install flask``, gets newer ones);
5. gunicorn serves ``/health`` on port 8000.
"""
from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

from dockerlab.build import BuildFailed
from dockerlab.grading.checker import Checker, NotEvaluated, criterion, failed, passed
from dockerlab.run import remove
from dockerlab.show import quiet_cli, short
from dockerlab.grading.rebuild import CodeChangeRebuild, build_answer, rebuild_after_code_change
from dockerlab.grading.probes import helper
from dockerlab.grading.asking import cause_of, serve_watching, why_not_started
from dockerlab.grading.lessons import lesson_hints

LESSON = "03_layers_and_cache"
HINTS = lesson_hints(LESSON)  # lessons/hints.toml: shown by dockerlab.hints(ex), one at a time
APP = "word_stats"
PACKAGE = "wordstats"
CODE_FILE = "src/wordstats/text.py"
LOCK = "requirements.lock"
PORT = 8000
FIXES = {
    "module": (f"the package {PACKAGE} (or a dependency) is not installed: install the dependencies from {LOCK}, "
               "then copy pyproject.toml and src/ and install the project itself"),
    "file": "CMD names a program or module the image does not have: keep gunicorn wordstats.app:app",
    "exited": "read the log line: the image must start gunicorn wordstats.app:app on 0.0.0.0:8000",
}
_NORMALIZE = re.compile(r"[-_.]+")
VERSIONS = ("import importlib.metadata as m, json; "
            "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))")
MODULE_SOURCE = "import wordstats.text as t, pathlib; print(pathlib.Path(t.__file__).read_text()); print('## end')"


def normalize(name: str) -> str:
    """A distribution name as pip compares them (PEP 503): ``MarkupSafe`` == ``markupsafe``."""
    return _NORMALIZE.sub("-", name).lower()


def lock_pins(app) -> dict[str, str]:
    """``name==version`` lines of the app's lock file."""
    out = {}
    for line in (Path(app) / LOCK).read_text().splitlines():
        m = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;#]+)", line)
        if m:
            out[normalize(m.group(1))] = m.group(2)
    return out


def installed(lab, image: str) -> tuple[dict[str, str] | None, str]:
    """{distribution: version} installed in ``image`` (as Python in the image sees them), or None and why."""
    for attempt in range(2):  # asked again when the output came back cut short (see probes.measure)
        res = helper(lab, image, ["python", "-c", VERSIONS], thing="check-versions", user=None, timeout=60)
        try:
            return {normalize(k): v for k, v in json.loads(res.output.strip().splitlines()[-1]).items()}, ""
        except (ValueError, IndexError):
            if res.exit_code not in (0, None):
                break  # python ran and failed: the image's answer, not the engine's
    return None, short(res.output, 200)


# --- what the criteria share: the first build, and the rebuild after the code change ----------------------------

@dataclasses.dataclass
class Grading:
    lab: object
    app: Path
    timeout: float
    first: object = None  # the BuildResult of line 1
    change: CodeChangeRebuild | None = None  # the rebuild after the check's code change (line 2)

    def rebuilt(self) -> str:
        """The rebuilt image's id (the one with the code change)."""
        if self.first is None:
            raise NotEvaluated("the image did not build (line 1)")
        if self.change is None:
            print(f"the check appends a comment line to {CODE_FILE} and rebuilds:")
            self.change = rebuild_after_code_change(self.lab, self.app, "word-stats", code_file=CODE_FILE)
        if self.change.result is None:
            raise NotEvaluated(f"the rebuild after the code change did not build: {short(self.change.error, 120)} (line 2)")
        return self.change.result.image.id


# --- the criteria ------------------------------------------------------------------------------------------------

def _build_fix(exc: BuildFailed) -> tuple[str, dict]:
    if "No such file or directory" in exc.error or any("No such file" in l or "not found" in l for l in exc.log_tail):
        return "a step reads a file that is not in the image yet: COPY it before the step that needs it", {}
    return "read the build log above", {}


@criterion("l03.builds", "the image builds")
def builds(g: Grading):
    g.first, problem = build_answer(g.lab, g.app, "word-stats", "write the Dockerfile next to pyproject.toml",
                                    _build_fix, width=160)
    if problem:
        return problem
    return passed(f"{g.first.tag}: {len(g.first.steps)} steps", steps=len(g.first.steps))


@criterion("l03.deps-cached", "dependency install cached after a code change")
def deps_cached(g: Grading):
    try:
        g.rebuilt()
    except NotEvaluated:
        if g.change is None:  # line 1 did not build
            raise
        if not (g.app / CODE_FILE).exists():
            return failed("missing", g.change.error, f"keep the code in {CODE_FILE}", file=CODE_FILE)
        return failed("build-failed", g.change.error, "the code change must build too: read the build log",
                      step="code change")
    change = g.change
    upto = change.upto
    if change.dependency_step is None:
        return failed("missing", "no RUN step installs dependencies (pip install)", f"install the dependencies with pip "
                      f"from {LOCK}", step="install")
    if change.cached:
        return passed(f"{len(upto)} of {len(upto)} steps up to the dependency install kept: {change.kept()}",
                      install=change.dependency_step.instruction, rebuilt=[],
                      rescheduled=[s.instruction for s in change.rescheduled])
    return failed("cache-miss", f"{len(upto) - len(change.rebuilt)} of {len(upto)} steps up to the dependency install "
                  f"kept; {change.why()}", f"the dependency install reads only {LOCK}: copy that file alone before it, "
                  "and copy the code (pyproject.toml, src/) after it, to install the project itself",
                  install=change.dependency_step.instruction, rebuilt=[s.instruction for s in change.rebuilt])


@criterion("l03.code-runs", "the changed code runs")
def code_runs(g: Grading):
    image = g.rebuilt()
    src = helper(g.lab, image, ["python", "-c", MODULE_SOURCE], thing="check-code", user=None, timeout=60)
    if src.ok and "## end" not in src.output:  # exit 0 but the output cut short: ask again (see probes.measure)
        src = helper(g.lab, image, ["python", "-c", MODULE_SOURCE], thing="check-code", user=None, timeout=60)
    if src.exit_code is None:  # python never ran: the image or the engine, not the answer
        gone = re.search(r"No such image|is not on this engine|/sha256:", src.output)
        return failed("check-error", "could not run python in the rebuilt image: " + (
            "it is no longer on the engine (removed meanwhile)" if gone else short(src.output, 160)),
                      "run the check again", module=f"{PACKAGE}.text")
    if g.change.marker and g.change.marker in src.output:
        return passed(f"{PACKAGE}.text in the rebuilt image holds the check's change", module=f"{PACKAGE}.text")
    if src.ok:
        return failed("wrong-value", f"the rebuilt image imports {PACKAGE}.text without the check's change: an old copy "
                      "of the code is what runs", "install the project after copying the code, so a rebuild installs "
                      "the new code", module=f"{PACKAGE}.text", stale=True)
    said = next((line for line in reversed(src.output.strip().splitlines()) if line.strip()), "no output")
    return failed("missing", f"python in the rebuilt image cannot import {PACKAGE}.text: {short(said, 160)}",
                  FIXES["module"], module=f"{PACKAGE}.text", stale=False)


@criterion("l03.lock-versions", f"versions from {LOCK}")
def lock_versions(g: Grading):
    image = g.rebuilt()
    pins = lock_pins(g.app)
    got, why = installed(g.lab, image)
    if got is None:
        raise NotEvaluated(f"could not list the image's packages: {why}")
    wrong = {n: [got.get(n), v] for n, v in sorted(pins.items()) if got.get(n) != v}
    if wrong:
        shown = [f"{n} {have or 'missing'} (lock: {want})" for n, (have, want) in wrong.items()]
        return failed("wrong-value", f"{len(wrong)} of {len(pins)} packages differ from the lock: {', '.join(shown[:4])}",
                      f"install the dependencies from {LOCK} (pip install -r), not by name or from pyproject.toml's ranges",
                      differ=wrong, pins=len(pins))
    return passed(f"all {len(pins)} pins of {LOCK} installed (flask {got.get('flask')}, gunicorn {got.get('gunicorn')})",
                  differ={}, pins=len(pins))


@criterion("l03.serves", "serves /health")
def serves(g: Grading):
    image = g.rebuilt()
    served = serve_watching(g.lab, image, "check-serve", port=PORT, timeout=g.timeout)
    try:
        if served.ok:
            return passed(f"GET /health on port {PORT} -> HTTP {served.status}: {short(served.body, 60)}",
                          status=served.status)
        cause, detail, fix = cause_of(served), served.cause, FIXES.get(served.kind) or served.fix
        if cause == "check-error":
            detail = f"the check's container did not start: {why_not_started(served)}"
            fix = "run the check again (its host port was taken meanwhile, or its image removed)"
        return failed(cause, detail, fix, kind=served.kind, status=served.status,
                      listening=[f"{a}:{p}" for a, p in served.listening])
    finally:
        with quiet_cli():
            remove(g.lab.name("check-serve"), client=g.lab.client, quiet=True)


CRITERIA = [builds, deps_cached, code_runs, lock_versions, serves]


def grade(lab, app, timeout: float = 30, *, only=None) -> Checker:
    """Build ``app`` (word_stats), change src/wordstats/text.py, rebuild; grade the cache, the code, the versions and
    /health. Returns the filled table (never raises); ``only``: the ids to grade (the rest are "not evaluated")."""
    return Checker(LESSON, "cache order for a packaged service").run(CRITERIA, Grading(lab, Path(app), timeout), only=only)


def check(lab, app, timeout: float = 30, **kwargs) -> Checker:
    """Grade the learner's Dockerfile for word_stats; raise CheckFailed unless every line passed."""
    return grade(lab, app, timeout, **kwargs).raise_unless_passed()
